/* test_qcache.c — the PromQL result cache (promql/qcache.c) over a real
 * tsdb: a repeated query is answered without reading storage and returns
 * bit-identical results; any append or block change makes the next query
 * evaluate again and see the new data; limits that shape a result and the
 * budget are respected. Storage reads are counted by a queryable that wraps
 * the tsdb one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"
#include "tsdb/tsdb.h"
#include "tests/helpers/disk_fx.h"

#define NSER 6
#define NSAMP 480
#define BASE 1700000000000LL
#define STEP_MS 15000

static const int64_t START = BASE + 600000, END = BASE + (int64_t)NSAMP * STEP_MS, STEP = 60000;

typedef struct fixture {
  char dir[64];
  tsdb *db;
  promql_queryable inner;
  unsigned selects; /* storage reads through the counting queryable */
} fixture;

static int count_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                        uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  fixture *f = ctx;
  f->selects++;
  return f->inner.select(f->inner.ctx, m, nm, mint, maxt, max_series, max_samples, out, d);
}
static uint64_t version(void *ctx) { return tsdb_data_version(((fixture *)ctx)->db); }

static promql_queryable counting(fixture *f)
{
  return (promql_queryable){f, count_select, f->inner.count, f->inner.get, f->inner.release, NULL, version};
}

static void append_one(fixture *f, int k, int64_t t, double v)
{
  char id[16];
  snprintf(id, sizeof id, "%d", k);
  lk_label ls[2] = {{"__name__", "m"}, {"id", id}};
  lk_sample s = {t, v};
  tsdb_series_in in = {ls, 2, &s, 1};
  tsdb_append_stats st;
  lk_diag d = {0};
  assert_int_equal(tsdb_append(f->db, &in, 1, &st, &d), 0);
  assert_int_equal(st.accepted, 1);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_qcache-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  for (int i = 0; i < NSAMP; i++)
    for (int k = 0; k < NSER; k++)
      append_one(f, k, BASE + (int64_t)i * STEP_MS, (double)(i * (k + 1)) / 8);
  f->inner = promql_queryable_tsdb(f->db);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  tsdb_close(f->db);
  dfx_rmrf(f->dir);
  free(f);
  return 0;
}

static promql_result *eval(const promql_queryable *q, promql_cache *c, const char *query, uint64_t max_samples)
{
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse(query, &e, &d), 0);
  promql_opts o = {.cache = c, .max_samples = max_samples};
  promql_result *r = NULL;
  int rc = promql_eval_range(q, &o, e, START, END, STEP, &r, &d);
  promql_expr_free(e);
  if (rc)
    fail_msg("%s: %s", query, d.msg);
  return r;
}

static bool same(const promql_result *a, const promql_result *b)
{
  if (a->nseries != b->nseries)
    return false;
  for (size_t k = 0; k < a->nseries; k++) {
    const promql_series *x = &a->series[k], *y = &b->series[k];
    if (x->n != y->n || lk_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels) ||
        memcmp(x->t, y->t, x->n * sizeof *x->t) || memcmp(x->v, y->v, x->n * sizeof *x->v))
      return false;
  }
  return true;
}

/* The second run is a hit (no storage read) and equals an uncached run. */
static void test_repeat_is_a_bit_identical_hit(void **state)
{
  fixture *f = *state;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  const char *qs[] = {"sum by (id) (rate(m[5m]))", "m", "topk(2, max_over_time(m[1h]))"};
  for (size_t i = 0; i < 3; i++) {
    promql_result *plain = eval(&f->inner, NULL, qs[i], 0);
    promql_result *first = eval(&q, c, qs[i], 0);
    unsigned n = f->selects;
    promql_result *again = eval(&q, c, qs[i], 0);
    assert_int_equal(f->selects, n); /* answered from the cache */
    assert_true(plain->nseries > 0);
    assert_true(same(plain, first));
    assert_true(same(plain, again));
    promql_result_free(plain);
    promql_result_free(first);
    promql_result_free(again);
  }
  promql_cache_free(c);
}

/* An append inside the range, then a flush (block list change): each time
 * the cached query reads storage again and sees what an uncached one sees. */
static void test_new_data_is_seen(void **state)
{
  fixture *f = *state;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  const char *query = "sum(m)";
  promql_result *before = eval(&q, c, query, 0);
  append_one(f, NSER, START + 1000, 1e6); /* a new series, inside the range */
  unsigned n = f->selects;
  promql_result *after = eval(&q, c, query, 0), *plain = eval(&f->inner, NULL, query, 0);
  assert_int_equal(f->selects, n + 1);
  assert_false(same(before, after));
  assert_true(same(plain, after));
  lk_diag d = {0};
  assert_int_equal(tsdb_flush(f->db, &d), 0);
  promql_result *flushed = eval(&q, c, query, 0);
  assert_int_equal(f->selects, n + 2);
  assert_true(same(plain, flushed));
  promql_result_free(before);
  promql_result_free(after);
  promql_result_free(plain);
  promql_result_free(flushed);
  promql_cache_free(c);
}

/* A different sample limit is a different key: the tighter limit still
 * fails, though the same query is cached under the default one. */
static void test_limits_are_part_of_the_key(void **state)
{
  fixture *f = *state;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  promql_result *r = eval(&q, c, "m", 0);
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse("m", &e, &d), 0);
  promql_opts o = {.cache = c, .max_samples = 100};
  promql_result *r2 = NULL;
  assert_int_equal(promql_eval_range(&q, &o, e, START, END, STEP, &r2, &d), LK_ELIMIT);
  promql_expr_free(e);
  promql_result_free(r);
  promql_cache_free(c);
}

/* A result over a quarter of the budget is not kept: each run reads storage. */
static void test_budget(void **state)
{
  fixture *f = *state;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(4096, &c), 0);
  unsigned n = f->selects;
  for (int i = 0; i < 3; i++)
    promql_result_free(eval(&q, c, "m", 0));
  assert_int_equal(f->selects, n + 3);
  promql_cache_free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_repeat_is_a_bit_identical_hit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_new_data_is_seen, setup, teardown),
    cmocka_unit_test_setup_teardown(test_limits_are_part_of_the_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
