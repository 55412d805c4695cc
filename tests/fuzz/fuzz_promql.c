/* fuzz_promql.c — libFuzzer target for the PromQL parser and evaluator.
 *
 * The input is a query. Whatever parses is evaluated as an instant query
 * and as a short range query over a tiny in-memory store (a counter, a
 * gauge with a stale marker, histogram buckets), and pinned with @; the
 * limits keep any one evaluation small and short. Seeds: tests/fuzz/
 * corpus_promql (queries from the PromQL tests).
 */
#include "promql/promql.h"
#include "tests/fuzz/harness.h"

#define STEP_MS 15000
#define NPOINTS 40
#define T0 1700000000000LL

static promql_mem *store;

static void add_series(const lk_label *ls, size_t n, double start, double slope, bool stale)
{
  lk_sample s[NPOINTS];
  for (size_t i = 0; i < NPOINTS; i++) {
    s[i].t = T0 + (int64_t)i * STEP_MS;
    s[i].v = start + slope * (double)i;
  }
  if (stale) {
    uint64_t bits = TSDB_STALE_NAN_BITS;
    memcpy(&s[NPOINTS / 2].v, &bits, sizeof bits);
  }
  lk_diag d = {0};
  if (promql_mem_add(store, ls, n, s, NPOINTS, &d))
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  store = promql_mem_new();
  add_series((lk_label[]){{"__name__", "http_requests_total"}, {"code", "200"}, {"job", "api"}}, 3, 0, 10,
             false);
  add_series((lk_label[]){{"__name__", "http_requests_total"}, {"code", "500"}, {"job", "api"}}, 3, 5, 1,
             false);
  add_series((lk_label[]){{"__name__", "temp"}, {"instance", "a:9100"}}, 2, 20, -0.5, true);
  const char *le[] = {"0.1", "1", "+Inf"};
  for (size_t i = 0; i < 3; i++)
    add_series((lk_label[]){{"__name__", "lat_bucket"}, {"job", "api"}, {"le", le[i]}}, 3, 0,
               (double)(i + 1), false);
  return 0;
}

static void eval(const promql_expr *e)
{
  promql_queryable q = promql_mem_queryable(store);
  promql_opts o = {.timeout_ms = 2000, .max_samples = 200000, .max_series = 1000, .max_points = 50};
  promql_result *r = NULL;
  lk_diag d = {0};
  int64_t mid = T0 + NPOINTS / 2 * STEP_MS;
  if (!promql_eval_instant(&q, &o, e, mid, &r, &d))
    promql_result_free(r);
  r = NULL;
  d = (lk_diag){0};
  if (!promql_eval_range(&q, &o, e, T0, T0 + NPOINTS * STEP_MS, 4 * STEP_MS, &r, &d))
    promql_result_free(r);
  promql_expr *pinned = NULL;
  d = (lk_diag){0};
  if (!promql_expr_pin_at(e, mid, &pinned, &d))
    promql_expr_free(pinned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *q = fuzz_cstr(data, size);
  promql_expr *e = NULL;
  lk_diag d = {0};
  if (!promql_parse(q, &e, &d)) {
    eval(e);
    promql_expr_free(e);
  }
  free(q);
  return 0;
}
