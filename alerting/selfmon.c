/* selfmon.c — the data the built-in health rules read: Lookout's own
 * /metrics page, scraped before each evaluation of the built-in group
 * (job="lookout", instance=<listen>), plus the collector's error counters
 * found in the tsdb, kept in an in-memory PromQL store of the last
 * SELFMON_WINDOW_MS.
 *
 * Why not the tsdb: its retention counts from the newest sample stored, so
 * writing wall-clock samples into a store that holds imported history
 * (older than the retention) would make that history expire. The built-in
 * rules' ALERTS / ALERTS_FOR_STATE series go to this store too (their
 * alerts are in the API and the alert history like any other).
 *
 * Owner: the manager's scheduler thread (the only caller), so no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "alerting/manager_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_expo.h"
#include "lib/lk_log.h"

#define SELFMON_WINDOW_MS (20 * 60 * 1000) /* covers [10m] ranges plus the 5 m lookback */
#define COLLECTOR_ERRORS "{__name__=~\"lookout_collector_(read|parse|sink|scrape)_errors_total\"}"

struct alerting__selfmon {
  tsdb *db;
  char *instance;
  promql_mem *mem;
  promql_queryable q;
  int64_t since;           /* oldest time the store may hold; 0 = empty */
  promql_expr *collector;  /* COLLECTOR_ERRORS */
};

alerting__selfmon *alerting__selfmon_new(tsdb *db, const char *instance)
{
  alerting__selfmon *s = lk_xcalloc(1, sizeof *s);
  s->db = db;
  s->instance = lk_xstrdup(instance);
  s->mem = promql_mem_new();
  s->q = promql_mem_queryable(s->mem);
  lk_diag d = {0};
  if (promql_parse(COLLECTOR_ERRORS, &s->collector, &d))
    lk_error("alerting: internal: %s", d.msg);
  return s;
}

void alerting__selfmon_free(alerting__selfmon *s)
{
  if (!s)
    return;
  promql_mem_free(s->mem);
  promql_expr_free(s->collector);
  free(s->instance);
  free(s);
}

void alerting__selfmon_env(alerting__selfmon *s, const alerting_env *base, alerting_env *out)
{
  *out = *base;
  out->q = &s->q;
  out->app = alerting_appender_mem(s->mem);
}

/* Start a new store with the samples of the last window (the old one only
 * grows). */
static void rotate(alerting__selfmon *s, int64_t t)
{
  promql_mem *fresh = promql_mem_new();
  tsdb_matcher all = {TSDB_RE, "__name__", ".+"};
  void *set = NULL;
  lk_diag d = {0};
  int64_t from = t - SELFMON_WINDOW_MS;
  if (!s->q.select(s->q.ctx, &all, 1, from, t, 0, 0, &set, &d)) {
    for (size_t i = 0; i < s->q.count(set); i++) {
      const promql_series_in *in = s->q.get(set, i);
      lk_sample *smp = lk_xcalloc(in->n ? in->n : 1, sizeof *smp);
      for (size_t k = 0; k < in->n; k++)
        smp[k] = (lk_sample){in->t[k], in->v[k]};
      promql_mem_add(fresh, in->labels, in->nlabels, smp, in->n, &d);
      free(smp);
    }
    s->q.release(set);
  }
  promql_mem_free(s->mem);
  s->mem = fresh;
  s->q = promql_mem_queryable(fresh);
  s->since = from;
}

typedef struct scrape_ctx {
  alerting__selfmon *s;
  int64_t t;
  lk_arena *arena;
  lk_diag *d;
} scrape_ctx;

/* One exposition sample → job="lookout", instance=<listen> at t. */
static int scraped(void *ctx, const lk_expo_sample *smp)
{
  scrape_ctx *c = ctx;
  lk_label *ls;
  size_t nl;
  if (lk_expo_parse_series(smp->series, smp->series_len, c->arena, &ls, &nl, c->d))
    return LK_EPARSE;
  lk_label *all = lk_arena_alloc(c->arena, (nl + 2) * sizeof *all);
  size_t k = 0;
  for (size_t i = 0; i < nl; i++)
    if (strcmp(ls[i].name, "job") && strcmp(ls[i].name, "instance"))
      all[k++] = ls[i];
  all[k++] = (lk_label){"instance", c->s->instance};
  all[k++] = (lk_label){"job", "lookout"};
  lk_sample one = {c->t, smp->value};
  return promql_mem_add(c->s->mem, all, k, &one, 1, c->d);
}

static int add_page(alerting__selfmon *s, const lk_buf *page, int64_t t, lk_diag *d)
{
  scrape_ctx c = {s, t, lk_arena_new(64 << 10), d};
  lk_expo *p = lk_expo_new(scraped, &c, 0);
  int rc = lk_expo_feed(p, (const uint8_t *)page->data, page->len, d);
  if (!rc)
    rc = lk_expo_finish(p, d);
  lk_expo_free(p);
  lk_arena_free(c.arena);
  return rc;
}

/* The collector's error counters as the tsdb has them at t (written by
 * `lookout up`'s own collector, or pushed by agents). */
static int add_collector(alerting__selfmon *s, int64_t t, lk_diag *d)
{
  if (!s->collector)
    return 0;
  promql_queryable q = promql_queryable_tsdb(s->db);
  promql_result *r = NULL;
  int rc = promql_eval_instant(&q, NULL, s->collector, t, &r, d);
  for (size_t i = 0; !rc && i < r->nseries; i++) {
    lk_sample one = {t, r->series[i].v[0]};
    rc = promql_mem_add(s->mem, r->series[i].labels, r->series[i].nlabels, &one, 1, d);
  }
  promql_result_free(r);
  return rc;
}

void alerting__selfmon_scrape(alerting__selfmon *s, const lk_buf *page, int64_t t)
{
  if (!s->since)
    s->since = t;
  if (t - s->since > 2 * SELFMON_WINDOW_MS)
    rotate(s, t);
  lk_diag d = {0};
  int rc = add_page(s, page, t, &d);
  if (!rc)
    rc = add_collector(s, t, &d);
  if (rc)
    lk_warn("alerting: self-scrape failed: %s", d.set ? d.msg : lk_strerror(rc));
}
