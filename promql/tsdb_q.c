/* tsdb_q.c — the queryable adapter over tsdb_select: one storage call per
 * selector per query; the result set is released when the query ends. Its
 * rollups are tsdb_select_rollup's. */
#include "promql/promql_int.h"

static int q_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                    uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  tsdb_select_opts o = {.max_series = max_series, .max_samples = max_samples};
  tsdb_result *r = NULL;
  int rc = tsdb_select(ctx, m, nm, mint, maxt, &o, &r, d);
  if (rc)
    return rc;
  *out = r;
  return 0;
}

static size_t q_count(void *set) { return tsdb_result_count(set); }
static const promql_series_in *q_get(void *set, size_t i) { return tsdb_result_get(set, i); }
static void q_release(void *set) { tsdb_result_free(set); }
static uint64_t q_version(void *ctx, uint64_t since, int64_t *lo, int64_t *hi)
{
  return tsdb_changed_since(ctx, since, lo, hi);
}

static int r_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt, int64_t res,
                    uint64_t max_series, void **out, lk_diag *d)
{
  tsdb_rollup_result *r = NULL;
  int rc = tsdb_select_rollup(ctx, m, nm, mint, maxt, res, max_series, &r, d);
  *out = r;
  return rc;
}

static size_t r_count(void *set) { return tsdb_rollup_count(set); }
static int r_get(void *set, size_t i, unsigned slot, tsdb_rollup_series *out, lk_diag *d)
{
  return tsdb_rollup_get(set, i, slot, out, d);
}
static void r_release(void *set) { tsdb_rollup_free(set); }

static const promql_rollups tsdb_rollups = {r_select, r_count, r_get, r_release};

promql_queryable promql_queryable_tsdb(tsdb *db)
{
  return (promql_queryable){db, q_select, q_count, q_get, q_release, &tsdb_rollups, q_version};
}
