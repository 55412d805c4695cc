/* fuzz_tmpl.c — libFuzzer target for the Go text/template subset of
 * alerting (alerting/tmpl_*.c). The input is a template; whatever parses is
 * executed against an alert's labels and value, external labels and URL,
 * and a query function that answers every expression with two samples
 * (except "fail", which fails). Seeds: tests/fuzz/corpus_tmpl.
 */
#include "alerting/alerting.h"
#include "tests/fuzz/harness.h"

static const lk_label alert_labels[] = {
  {"__name__", "up"}, {"alertname", "InstanceDown"}, {"instance", "web-1:9090"}, {"job", "node"}};
static const lk_label ext_labels[] = {{"cluster", "eu-west"}};
static const lk_label up1[] = {{"__name__", "up"}, {"instance", "a:1"}};
static const lk_label up2[] = {{"instance", "b:2"}, {"job", "x"}};

static int query(void *ctx, const char *expr, alerting_sample **res, size_t *n, lk_diag *d)
{
  (void)ctx;
  *res = NULL;
  *n = 0;
  if (!strcmp(expr, "fail"))
    return lk_diag_set(d, LK_EEXEC, -1, "query failed");
  *res = lk_xmalloc(2 * sizeof **res);
  (*res)[0] = (alerting_sample){up1, 2, 1};
  (*res)[1] = (alerting_sample){up2, 2, 0.25};
  *n = 2;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *src = fuzz_cstr(data, size);
  alerting_template *t = NULL;
  lk_diag d = {0};
  if (!alerting_template_parse(src, &t, &d)) {
    alerting_template_data td = {
      .labels = alert_labels, .nlabels = 4, .value = 12.5,
      .external_url = "http://lookout:9090", .external_labels = ext_labels, .nexternal_labels = 1,
      .query = query,
    };
    lk_buf out = {0};
    (void)alerting_template_exec(t, &td, &out, &d);
    lk_buf_fini(&out);
    alerting_template_free(t);
  }
  free(src);
  return 0;
}
