/* api_status.c — the read-only status answers the dashboard's Status page
 * shows, in Prometheus's shapes:
 *  - GET /api/v1/status/config: {"yaml": the config file's text}, with
 *    the values of secret keys shown as <secret> (lk_config_mask_secrets,
 *    as the Alertmanager API shows the same file). Without a config file
 *    the yaml is empty.
 *  - GET /api/v1/targets: the scrape_configs' static targets. Health and
 *    the last scrape's time and duration come from the target's own `up`
 *    and `scrape_duration_seconds` series (the scraper writes them every
 *    scrape): their latest samples within three scrape intervals, else
 *    "unknown" — so a server that does not scrape (only `lookout up` does)
 *    says so honestly.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_config.h"
#include "lib/lk_fs.h"
#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "web/web_int.h"

#define CONFIG_MAX ((size_t)4 << 20)

/*---- /api/v1/status/config ----*/

void web__status_config(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  (void)req;
  char *text = NULL;
  size_t len = 0;
  lk_diag d = {0};
  if (w->config && w->config->path) {
    int rc = lk_read_file(w->config->path, CONFIG_MAX, &text, &len, &d);
    if (rc) {
      web__fail(resp, rc, &d, "config");
      return;
    }
  }
  char *yaml = lk_config_mask_secrets(text ? text : "");
  lk_buf data = {0};
  lk_buf_puts(&data, "{\"yaml\":");
  lk_json_str(&data, yaml);
  lk_buf_putc(&data, '}');
  web__ok(resp, &data);
  lk_buf_fini(&data);
  free(yaml);
  free(text);
}

/*---- /api/v1/targets ----*/

/* The latest sample of the scraper's series `name` for job/instance within
 * [since, now]: 1 when found. */
static int last_sample(web_server *w, const char *name, const char *job, const char *instance, int64_t since,
                       int64_t *t, double *v)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", name}, {TSDB_EQ, "job", job}, {TSDB_EQ, "instance", instance}};
  tsdb_result *r = NULL;
  lk_diag d = {0};
  int found = 0;
  if (!tsdb_select(w->db, m, 3, since, lk_now_ms(), NULL, &r, &d)) {
    for (size_t i = 0; i < tsdb_result_count(r); i++) {
      const tsdb_series *s = tsdb_result_get(r, i);
      if (s->n && (!found || s->t[s->n - 1] > *t)) {
        *t = s->t[s->n - 1];
        *v = s->v[s->n - 1];
        found = 1;
      }
    }
  }
  tsdb_result_free(r);
  return found;
}

static void target_json(web_server *w, lk_buf *b, const lk_scrape_config *sc, const lk_static_config *st,
                        const char *target)
{
  lk_buf_puts(b, "{\"discoveredLabels\":{},\"labels\":{");
  for (size_t i = 0; i < st->nlabels; i++) {
    lk_json_str(b, st->labels[i].name);
    lk_buf_putc(b, ':');
    lk_json_str(b, st->labels[i].value);
    lk_buf_putc(b, ',');
  }
  lk_buf_puts(b, "\"instance\":");
  lk_json_str(b, target);
  lk_buf_puts(b, ",\"job\":");
  lk_json_str(b, sc->job_name);
  lk_buf_puts(b, "},\"scrapePool\":");
  lk_json_str(b, sc->job_name);
  lk_buf url = {0};
  lk_buf_printf(&url, "%s://%s%s", sc->scheme ? sc->scheme : "http", target,
                sc->metrics_path ? sc->metrics_path : "/metrics");
  lk_buf_puts(b, ",\"scrapeUrl\":");
  lk_json_strn(b, (const char *)url.data, url.len);
  lk_buf_fini(&url);
  lk_buf_puts(b, ",\"globalUrl\":\"\",\"lastError\":\"\"");
  int64_t t = 0, since = lk_now_ms() - 3 * sc->scrape_interval_ms;
  double up = 0, took = 0;
  char when[64] = "0001-01-01T00:00:00Z";
  const char *health = "unknown";
  if (last_sample(w, "up", sc->job_name, target, since, &t, &up)) {
    lk_time_rfc3339(t, when, sizeof when);
    health = up == 1 ? "up" : "down";
    last_sample(w, "scrape_duration_seconds", sc->job_name, target, since, &t, &took);
  }
  lk_buf_printf(b, ",\"lastScrape\":\"%s\",\"lastScrapeDuration\":%.6f,\"health\":\"%s\"", when, took, health);
  lk_buf_printf(b, ",\"scrapeInterval\":\"%llds\",\"scrapeTimeout\":\"%llds\"}",
                (long long)(sc->scrape_interval_ms / 1000), (long long)(sc->scrape_timeout_ms / 1000));
}

void web__targets(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  (void)req;
  lk_buf data = {0};
  lk_buf_puts(&data, "{\"activeTargets\":[");
  bool first = true;
  for (size_t i = 0; w->config && i < w->config->nscrape_configs; i++) {
    const lk_scrape_config *sc = &w->config->scrape_configs[i];
    for (size_t j = 0; j < sc->nstatic; j++)
      for (size_t k = 0; k < sc->static_configs[j].targets.n; k++) {
        if (!first)
          lk_buf_putc(&data, ',');
        first = false;
        target_json(w, &data, sc, &sc->static_configs[j], sc->static_configs[j].targets.v[k]);
      }
  }
  lk_buf_puts(&data, "],\"droppedTargets\":[]}");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}
