/* test_large.c — the large-query paths of the engine and storage: enough
 * samples that tsdb_select decodes blocks on two threads into one slab and
 * range functions run their series on two threads, with sliding max/min
 * windows. The same data goes into a real tsdb (flushed to blocks, plus
 * newer head samples for some series) and into the in-memory store; every
 * query must give bit-identical results through both, per-series queries
 * (small: one thread) must match the all-series ones, and max/min_over_time
 * must match a naive window scan done here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"
#include "tsdb/tsdb.h"

#define NSER 48
#define NSAMP 5000     /* 240,000 samples: above both two-thread thresholds */
#define NHEAD 40       /* head samples after the flush, for every 4th series */
#define BASE 1700000000000LL
#define STEP_MS 15000

typedef struct fixture {
  char dir[64];
  tsdb *db;
  promql_mem *mem;
  lk_sample *s[NSER];
  size_t n[NSER];
  char id[NSER][8];
} fixture;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(p);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Counters with jittered timestamps, occasional resets; series 5 carries
 * NaNs and series 7 negative values, for the max/min NaN rules. */
static void gen(fixture *f, int k)
{
  size_t total = NSAMP + (k % 4 == 0 ? NHEAD : 0);
  f->s[k] = calloc(total, sizeof *f->s[k]);
  double v = (double)(rnd() % 1000);
  for (size_t i = 0; i < total; i++) {
    v += (double)(rnd() % 5000) / 1000.0;
    if (rnd() % 997 == 0)
      v = 0;
    double x = v;
    if (k == 5 && rnd() % 13 == 0)
      x = NAN;
    if (k == 7)
      x = -v;
    f->s[k][i] = (lk_sample){BASE + (int64_t)i * STEP_MS + (int64_t)(rnd() % 700), x};
  }
  f->n[k] = total;
}

static lk_label *labels_of(fixture *f, int k, lk_label *l)
{
  snprintf(f->id[k], sizeof f->id[k], "%02d", k);
  static const char *grp[] = {"a", "b", "c"};
  l[0] = (lk_label){"__name__", "m"};
  l[1] = (lk_label){"grp", grp[k % 3]};
  l[2] = (lk_label){"id", f->id[k]};
  return l;
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_large-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  f->mem = promql_mem_new();
  lk_label ls[NSER][3];
  tsdb_series_in in[NSER];
  for (int k = 0; k < NSER; k++) {
    gen(f, k);
    in[k] = (tsdb_series_in){labels_of(f, k, ls[k]), 3, f->s[k], NSAMP};
    assert_int_equal(promql_mem_add(f->mem, ls[k], 3, f->s[k], f->n[k], &d), 0);
  }
  tsdb_append_stats st;
  assert_int_equal(tsdb_append(f->db, in, NSER, &st, &d), 0);
  assert_int_equal(st.accepted, (uint64_t)NSER * NSAMP);
  assert_int_equal(tsdb_flush(f->db, &d), 0);
  size_t nh = 0;
  for (int k = 0; k < NSER; k += 4)
    in[nh++] = (tsdb_series_in){ls[k], 3, f->s[k] + NSAMP, NHEAD};
  assert_int_equal(tsdb_append(f->db, in, nh, &st, &d), 0);
  assert_int_equal(st.accepted, (uint64_t)nh * NHEAD);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  tsdb_close(f->db);
  promql_mem_free(f->mem);
  for (int k = 0; k < NSER; k++)
    free(f->s[k]);
  nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static const int64_t START = BASE + 3600000, END = BASE + (int64_t)(NSAMP + NHEAD) * STEP_MS, STEP = 60000;

static promql_result *range(const promql_queryable *q, const char *query)
{
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse(query, &e, &d), 0);
  promql_result *r = NULL;
  int rc = promql_eval_range(q, NULL, e, START, END, STEP, &r, &d);
  if (rc)
    fail_msg("%s: %s", query, d.msg);
  promql_expr_free(e);
  return r;
}

static void same_series(const promql_series *a, const promql_series *b, const char *what)
{
  if (lk_labels_cmp(a->labels, a->nlabels, b->labels, b->nlabels))
    fail_msg("%s: label sets differ", what);
  if (a->n != b->n)
    fail_msg("%s: %zu points vs %zu", what, a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    if (a->t[i] != b->t[i] || memcmp(&a->v[i], &b->v[i], sizeof(double)))
      fail_msg("%s: point %zu differs: %lld %.17g vs %lld %.17g", what, i, (long long)a->t[i],
               a->v[i], (long long)b->t[i], b->v[i]);
}

static void same_result(const promql_result *a, const promql_result *b, const char *what)
{
  assert_int_equal(a->nseries, b->nseries);
  assert_true(a->nseries > 0);
  for (size_t k = 0; k < a->nseries; k++)
    same_series(&a->series[k], &b->series[k], what);
}

/* Every query through the tsdb (two-thread block reads, head merged) and
 * through the in-memory store. */
static void test_tsdb_matches_memory(void **state)
{
  fixture *f = *state;
  promql_queryable qt = promql_queryable_tsdb(f->db), qm = promql_mem_queryable(f->mem);
  static const char *qs[] = {
    "m", "rate(m[5m])", "max_over_time(m[1h])", "min_over_time(m[1h])",
    "sum by (grp) (rate(m[5m]))", "topk(3, rate(m[5m]))", "max_over_time(m[10m] offset 7m)",
  };
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    promql_result *a = range(&qt, qs[i]), *b = range(&qm, qs[i]);
    same_result(a, b, qs[i]);
    promql_result_free(a);
    promql_result_free(b);
  }
}

static const char *series_id(const promql_series *s)
{
  for (size_t i = 0; i < s->nlabels; i++)
    if (!strcmp(s->labels[i].name, "id"))
      return s->labels[i].value;
  fail_msg("a series without id");
  return NULL;
}

/* The result series of generated series k (results are sorted by grp, id). */
static const promql_series *series_of(const promql_result *r, int k)
{
  for (size_t i = 0; i < r->nseries; i++)
    if (atoi(series_id(&r->series[i])) == k)
      return &r->series[i];
  fail_msg("no series %d", k);
  return NULL;
}

/* The all-series call (two threads) against one small call per series. */
static void test_shares_match_single_series(void **state)
{
  fixture *f = *state;
  promql_queryable qt = promql_queryable_tsdb(f->db);
  static const char *fns[] = {"rate(m%s[5m])", "max_over_time(m%s[1h])", "deriv(m%s[15m])"};
  for (size_t j = 0; j < sizeof fns / sizeof fns[0]; j++) {
    char q[128];
    snprintf(q, sizeof q, fns[j], "");
    promql_result *all = range(&qt, q);
    assert_int_equal(all->nseries, NSER);
    for (size_t k = 0; k < all->nseries; k++) {
      char sel[64];
      snprintf(sel, sizeof sel, "{id=\"%s\"}", series_id(&all->series[k]));
      snprintf(q, sizeof q, fns[j], sel);
      promql_result *one = range(&qt, q);
      assert_int_equal(one->nseries, 1);
      same_series(&all->series[k], &one->series[0], q);
      promql_result_free(one);
    }
    promql_result_free(all);
  }
}

/* max/min_over_time against a scan of each window (NaN only when the
 * window holds nothing else; the first of equal values). */
static void naive_extreme(const fixture *f, int k, int64_t t, bool max, bool *ok, double *out)
{
  *ok = false;
  bool have = false;
  double m = NAN;
  for (size_t i = 0; i < f->n[k]; i++) {
    if (f->s[k][i].t <= t - 3600000 || f->s[k][i].t > t)
      continue;
    *ok = true;
    double x = f->s[k][i].v;
    if (isnan(x)) {
      if (!have)
        m = x;
      continue;
    }
    if (!have || (max ? x > m : x < m))
      m = x;
    have = true;
  }
  *out = m;
}

static void test_sliding_extremes(void **state)
{
  fixture *f = *state;
  promql_queryable qt = promql_queryable_tsdb(f->db);
  for (int pass = 0; pass < 2; pass++) {
    bool max = pass == 0;
    promql_result *r = range(&qt, max ? "max_over_time(m[1h])" : "min_over_time(m[1h])");
    assert_int_equal(r->nseries, NSER);
    for (int k = 0; k < NSER; k += 1 + (k > 8) * 4) { /* the NaN and negative series, then a sample */
      const promql_series *s = series_of(r, k);
      size_t j = 0, nan_points = 0;
      for (int64_t t = START; t <= END; t += STEP) {
        bool ok;
        double want;
        naive_extreme(f, k, t, max, &ok, &want);
        if (!ok)
          continue;
        assert_true(j < s->n);
        assert_int_equal(s->t[j], t);
        if (isnan(want)) {
          assert_true(isnan(s->v[j]));
          nan_points++;
        } else if (s->v[j] != want) {
          fail_msg("series %d at %lld: %.17g, want %.17g", k, (long long)t, s->v[j], want);
        }
        j++;
      }
      assert_int_equal(j, s->n);
      assert_int_equal(nan_points, 0); /* 1 h windows always hold a number */
    }
    promql_result_free(r);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tsdb_matches_memory),
    cmocka_unit_test(test_shares_match_single_series),
    cmocka_unit_test(test_sliding_extremes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
