/* test_rules_log.c — log rules over a real logstore with real lines: a
 * LogQL metric expr with a comparison fires per pod, the alert carries the
 * matching lines of its own stream newest first (N configurable, the
 * default 5, none when negative), lines selected through extracted labels
 * (logfmt) too, a log recording rule written and read back through PromQL,
 * and a log rule without a log store fails with an error on the rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/alerting/rules_fx.h"

static const char *rules = "groups:\n"
                           "- name: shop\n"
                           "  type: logql\n"
                           "  rules:\n"
                           "  - alert: Errors\n"
                           "    expr: sum by (pod) (count_over_time({ns=\"shop\"} |= \"error\" [5m])) > 2\n"
                           "    annotations: {summary: '{{ $labels.pod }}: {{ $value }}'}\n"
                           "  - alert: SlowRoute\n"
                           "    expr: sum by (route) (count_over_time({ns=\"shop\"} | logfmt | ms > 500 [5m])) >= 2\n"
                           "  - record: ns:lines:count5m\n"
                           "    expr: sum by (ns) (count_over_time({ns=\"shop\"} [5m]))\n";

static logstore *open_logs(const char *dir)
{
  char path[128];
  snprintf(path, sizeof path, "%s/logs", dir);
  logstore_opts o = {.dir = path};
  logstore *s = NULL;
  lk_diag d = {0};
  if (logstore_open(&o, &s, &d)) {
    fprintf(stderr, "logstore: %s\n", d.msg);
    abort();
  }
  return s;
}

static void push(logstore *s, const char *pod, int64_t sec, const char *line)
{
  lk_label l[] = {{"ns", "shop"}, {"pod", pod}};
  logstore_entry e = {sec * 1000000000LL, line, strlen(line)};
  lk_diag d = {0};
  if (logstore_push(s, l, 2, &e, 1, &d)) {
    fprintf(stderr, "push: %s\n", d.msg);
    abort();
  }
}

/* web-1: 4 errors + noise; web-2: 1 error (below the threshold). */
static void fill(logstore *s)
{
  push(s, "web-1", 10, "level=error msg=a route=/pay ms=900");
  push(s, "web-1", 20, "level=info msg=ok route=/pay ms=20");
  push(s, "web-1", 30, "level=error msg=b route=/pay ms=700");
  push(s, "web-2", 35, "level=error msg=x route=/cart ms=100");
  push(s, "web-1", 40, "level=error msg=c route=/cart ms=30");
  push(s, "web-1", 50, "level=error msg=d route=/cart ms=40");
  push(s, "web-2", 55, "level=info msg=y route=/cart ms=600");
}

static const char *annotation(const fx *f, size_t i, const char *name, char *out, size_t cap)
{
  const char *a = strstr(f->sent[i].annotations, name);
  if (!a)
    return NULL;
  snprintf(out, cap, "%s", a);
  return out;
}

static void test_log_rule_fires_with_lines(void **state)
{
  (void)state;
  fx *f = fx_new(rules, NULL);
  logstore *s = open_logs(f->dir);
  fill(s);
  f->env.logs = s;
  alerting_group *g = fx_group(f, 0);
  assert_int_equal(alerting_group_eval(g, &f->env, 60000), 0);
  alerting_rule_info r = fx_rule(g, 0);
  assert_int_equal(r.health, ALERTING_HEALTH_OK);
  assert_int_equal(r.nalerts, 1);
  /* alert + SlowRoute (route=/pay: 900 and 700 ms) */
  assert_int_equal(f->nsent, 2);
  assert_string_equal(f->sent[0].labels, "{alertname=\"Errors\", pod=\"web-1\"}");
  char buf[1024];
  assert_non_null(annotation(f, 0, "log_lines=", buf, sizeof buf));
  assert_string_equal(buf, "log_lines=\"level=error msg=d route=/cart ms=40\\n"
                           "level=error msg=c route=/cart ms=30\\n"
                           "level=error msg=b route=/pay ms=700\\n"
                           "level=error msg=a route=/pay ms=900\", summary=\"web-1: 4\"}");
  assert_string_equal(f->sent[1].labels, "{alertname=\"SlowRoute\", route=\"/pay\"}");
  assert_non_null(annotation(f, 1, "log_lines=", buf, sizeof buf));
  assert_string_equal(buf, "log_lines=\"level=error msg=b route=/pay ms=700\\n"
                           "level=error msg=a route=/pay ms=900\"}");
  double v;
  assert_int_equal(fx_query(&f->q, "ns:lines:count5m", 60000, &v, NULL, 0), 1);
  assert_true(v == 7);
  logstore_close(s);
  fx_free(f);
}

static void test_log_lines_limit(void **state)
{
  (void)state;
  fx *f = fx_new(rules, NULL);
  logstore *s = open_logs(f->dir);
  fill(s);
  f->env.logs = s;
  f->env.max_log_lines = 2;
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 60000);
  char buf[1024];
  assert_non_null(annotation(f, 0, "log_lines=", buf, sizeof buf));
  assert_string_equal(buf, "log_lines=\"level=error msg=d route=/cart ms=40\\n"
                           "level=error msg=c route=/cart ms=30\", summary=\"web-1: 4\"}");
  logstore_close(s);
  fx_free(f);

  f = fx_new(rules, NULL);
  s = open_logs(f->dir);
  fill(s);
  f->env.logs = s;
  f->env.max_log_lines = -1;
  alerting_group_eval(fx_group(f, 0), &f->env, 60000);
  assert_int_equal(f->nsent, 2);
  assert_null(strstr(f->sent[0].annotations, "log_lines"));
  logstore_close(s);
  fx_free(f);
}

/* While the alert keeps firing and is not due for a resend, its lines stay
 * those it was sent with; the resend picks up the newer lines. */
static void test_log_lines_refresh(void **state)
{
  (void)state;
  fx *f = fx_new(rules, NULL);
  logstore *s = open_logs(f->dir);
  fill(s);
  f->env.logs = s;
  f->env.max_log_lines = 1;
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 60000);
  push(s, "web-1", 70, "level=error msg=e route=/pay ms=1");
  alerting_group_eval(g, &f->env, 90000); /* not sent again: the lines are kept */
  alerting_alert_info a = fx_alert(g, 0, 0);
  assert_string_equal(lk_labels_get(a.annotations, a.nannotations, "log_lines"),
                      "level=error msg=d route=/cart ms=40");
  alerting_group_eval(g, &f->env, 121000); /* resend delay passed */
  a = fx_alert(g, 0, 0);
  assert_string_equal(lk_labels_get(a.annotations, a.nannotations, "log_lines"),
                      "level=error msg=e route=/pay ms=1");
  logstore_close(s);
  fx_free(f);
}

static void test_log_rule_without_store(void **state)
{
  (void)state;
  fx *f = fx_new(rules, NULL);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 60000);
  alerting_rule_info r = fx_rule(g, 0);
  assert_int_equal(r.health, ALERTING_HEALTH_ERR);
  assert_string_equal(r.last_error, "log rule: no log store to query");
  assert_int_equal(f->nsent, 0);
  fx_free(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_log_rule_fires_with_lines),
    cmocka_unit_test(test_log_lines_limit),
    cmocka_unit_test(test_log_lines_refresh),
    cmocka_unit_test(test_log_rule_without_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
