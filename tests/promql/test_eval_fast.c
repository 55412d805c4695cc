/* test_eval_fast.c — the evaluator's fast paths against references written
 * here the plain way, over data with the awkward cases mixed in:
 *
 * - rate/increase/delta over forward-moving windows (one loop per series,
 *   resets from a list, stale markers dropped while the series is read):
 *   every step bit-identical to Prometheus's extrapolatedRate computed per
 *   window over the series without its stale markers; counters with resets
 *   and stale markers in the middle, at the end, and a series of nothing
 *   but stale markers.
 * - consumers of a range selector other than those functions see it
 *   without stale markers (count_over_time, absent_over_time, an instant
 *   query returning the matrix).
 * - topk/bottomk read series-major for small k and step-major for large k:
 *   at every step the kept series are the reference's (value order, NaN
 *   last, ties to the earlier series), with many ties and NaNs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"
#include "tests/lib/rand.h"

#define NPTS 400
#define STEP_MS 60000
#define NSTEPS 90

static double stale_nan(void)
{
  uint64_t bits = TSDB_STALE_NAN_BITS;
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

static bool is_stale(double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits == TSDB_STALE_NAN_BITS;
}

static uint64_t rng = 0x853c49e6748fea9bULL;

typedef struct ser {
  char name[16];
  lk_sample s[NPTS];
  size_t n;
} ser;

/* Counters scraped every ~15 s with jitter and gaps: series 0 plain, 1
 * resets often, 2 has stale markers in the middle (then restarts), 3 ends
 * with a stale marker, 4 is stale markers only, 5 has a sparse tail. */
static void make_counters(ser *s, size_t ns)
{
  for (size_t k = 0; k < ns; k++) {
    snprintf(s[k].name, sizeof s[k].name, "c%zu", k);
    double c = (double)(test_rand(&rng) % 100);
    int64_t t = (int64_t)(test_rand(&rng) % 15000);
    s[k].n = 0;
    for (size_t i = 0; i < NPTS; i++) {
      t += 15000 + (int64_t)(test_rand(&rng) % 7) - 3 + (k == 5 && i > 300 ? 200000 : 0);
      c += (double)(test_rand(&rng) % 1000) / 64;
      if (k == 1 && test_rand(&rng) % 23 == 0)
        c = (double)(test_rand(&rng) % 5);
      double v = c;
      if ((k == 2 && i % 97 == 50) || (k == 3 && i == NPTS - 1) || k == 4)
        v = stale_nan();
      if (k == 2 && i % 97 == 51)
        c = 0;
      s[k].s[s[k].n++] = (lk_sample){t, v};
    }
  }
}

static promql_mem *store_of(const ser *s, size_t ns, const char *metric)
{
  promql_mem *m = promql_mem_new();
  for (size_t k = 0; k < ns; k++) {
    lk_label ls[] = {{"__name__", metric}, {"id", s[k].name}};
    assert_int_equal(promql_mem_add(m, ls, 2, s[k].s, s[k].n, NULL), 0);
  }
  return m;
}

static promql_result *eval_range(promql_mem *m, const char *q, int64_t start)
{
  promql_queryable qq = promql_mem_queryable(m);
  promql_expr *e = NULL;
  lk_diag d = {0};
  if (promql_parse(q, &e, &d))
    fail_msg("parse %s: %s", q, d.msg);
  promql_result *r = NULL;
  if (promql_eval_range(&qq, NULL, e, start, start + (NSTEPS - 1) * STEP_MS, STEP_MS, &r, &d))
    fail_msg("eval %s: %s", q, d.msg);
  promql_expr_free(e);
  return r;
}

/* Prometheus's extrapolatedRate over the window (end−range, end] of the
 * points t, v (no stale markers), written out per window. */
static bool ref_extrapolated(const int64_t *t, const double *v, size_t n, int64_t end,
                             int64_t range, bool counter, bool is_rate, double *out)
{
  size_t lo = 0;
  while (lo < n && t[lo] <= end - range)
    lo++;
  size_t hi = lo;
  while (hi < n && t[hi] <= end)
    hi++;
  if (hi - lo < 2)
    return false;
  double result = v[hi - 1] - v[lo];
  if (counter)
    for (size_t i = lo + 1; i < hi; i++)
      if (v[i] < v[i - 1])
        result += v[i - 1];
  double range_start = (double)(end - range), range_end = (double)end;
  double to_start = ((double)t[lo] - range_start) / 1000;
  double to_end = (range_end - (double)t[hi - 1]) / 1000;
  double sampled = (double)(t[hi - 1] - t[lo]) / 1000;
  double avg = sampled / (double)(hi - lo - 1);
  if (to_start >= avg * 1.1)
    to_start = avg / 2;
  if (counter) {
    double to_zero = to_start;
    if (result > 0 && v[lo] >= 0)
      to_zero = sampled * (v[lo] / result);
    if (to_zero < to_start)
      to_start = to_zero;
  }
  if (to_end >= avg * 1.1)
    to_end = avg / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate)
    factor /= (double)range / 1000;
  *out = result * factor;
  return true;
}

static const promql_series *find_series(const promql_result *r, const char *id)
{
  for (size_t k = 0; k < r->nseries; k++)
    for (size_t j = 0; j < r->series[k].nlabels; j++)
      if (!strcmp(r->series[k].labels[j].name, "id") && !strcmp(r->series[k].labels[j].value, id))
        return &r->series[k];
  return NULL;
}

/* ns counters of nt targets (series k is scraped by target k % nt, at its
 * timestamps): their own values, resets in every 7th series, stale markers
 * (a restart) in every 11th, which then has its own timestamps. */
static void make_shared_counters(ser *s, size_t ns, size_t nt)
{
  static int64_t ts[64][NPTS];
  assert_true(nt <= 64);
  for (size_t g = 0; g < nt; g++) {
    int64_t t = (int64_t)(test_rand(&rng) % 15000);
    for (size_t i = 0; i < NPTS; i++)
      ts[g][i] = t += 15000 + (int64_t)(test_rand(&rng) % 7) - 3 + (g % 9 == 4 && i % 50 == 7 ? 40000 : 0);
  }
  for (size_t k = 0; k < ns; k++) {
    snprintf(s[k].name, sizeof s[k].name, "s%03zu", k);
    double c = (double)(test_rand(&rng) % 100);
    for (size_t i = 0; i < NPTS; i++) {
      c += (double)(test_rand(&rng) % 1000) / 64;
      if (k % 7 == 3 && test_rand(&rng) % 29 == 0)
        c = (double)(test_rand(&rng) % 5);
      double v = c;
      if (k % 11 == 5 && i % 83 == 40) {
        v = stale_nan();
        c = 0;
      }
      s[k].s[i] = (lk_sample){ts[k % nt][i], v};
    }
    s[k].n = NPTS;
  }
}


/* Every step of fn(ctr[range]) over the series s bit-identical to
 * ref_extrapolated; series empty_k (if ≥ 0) returns nothing, every other
 * has a point at most steps. */
static void check_extrapolated_on(const ser *s, size_t ns, int empty_k, const char *fn, bool counter,
                                  bool is_rate, int64_t range)
{
  promql_mem *m = store_of(s, ns, "ctr");
  char q[64];
  snprintf(q, sizeof q, "%s(ctr[%llds])", fn, (long long)(range / 1000));
  int64_t start = 600000;
  promql_result *r = eval_range(m, q, start);
  for (size_t k = 0; k < ns; k++) {
    int64_t t[NPTS];
    double v[NPTS];
    size_t n = 0;
    for (size_t i = 0; i < s[k].n; i++)
      if (!is_stale(s[k].s[i].v)) {
        t[n] = s[k].s[i].t;
        v[n++] = s[k].s[i].v;
      }
    const promql_series *o = find_series(r, s[k].name);
    size_t j = 0, want = 0;
    for (size_t i = 0; i < NSTEPS; i++) {
      int64_t ts = start + (int64_t)i * STEP_MS;
      double x;
      if (!ref_extrapolated(t, v, n, ts, range, counter, is_rate, &x))
        continue;
      want++;
      if (!o || j >= o->n || o->t[j] != ts)
        fail_msg("%s: series %s has no point at step %zu", q, s[k].name, i);
      if (memcmp(&o->v[j], &x, sizeof x))
        fail_msg("%s: series %s step %zu: %.17g, want %.17g", q, s[k].name, i, o->v[j], x);
      j++;
    }
    if (o && o->n != want)
      fail_msg("%s: series %s has %zu points, want %zu", q, s[k].name, o->n, want);
    if ((int)k == empty_k)
      assert_null(o);
    else
      assert_true(want > NSTEPS / 2);
  }
  promql_result_free(r);
  promql_mem_free(m);
}

static void check_extrapolated(const char *fn, bool counter, bool is_rate, int64_t range)
{
  enum { NS = 6 };
  static ser s[NS];
  make_counters(s, NS);
  check_extrapolated_on(s, NS, 4, fn, counter, is_rate, range); /* series 4: stale markers only */
}

static void test_rate_family(void **state)
{
  check_extrapolated("rate", true, true, 300000);
  check_extrapolated("increase", true, false, 600000);
  check_extrapolated("delta", false, false, 120000);
  check_extrapolated("rate", true, true, 45000);
}

/* 120 series of 40 targets, interleaved (neighbours have other
 * timestamps): more distinct timestamp columns than the evaluator keeps
 * windows of, so kept columns are found again, replaced and recomputed. */
static void test_rate_shared_timestamps(void **state)
{
  enum { NS = 120, NT = 40 };
  static ser s[NS];
  make_shared_counters(s, NS, NT);
  check_extrapolated_on(s, NS, -1, "rate", true, true, 300000);
  check_extrapolated_on(s, NS, -1, "increase", true, false, 120000);
  make_shared_counters(s, NS, 3);
  check_extrapolated_on(s, NS, -1, "delta", false, false, 600000);
  check_extrapolated_on(s, NS, -1, "rate", true, true, 45000);
}

/* Other readers of a range selector never see stale markers. */
static void test_stale_markers_removed(void **state)
{
  enum { NS = 6 };
  static ser s[NS];
  make_counters(s, NS);
  promql_mem *m = store_of(s, NS, "ctr");
  promql_result *r = eval_range(m, "count_over_time(ctr[1h])", 3600000);
  const promql_series *c2 = find_series(r, "c2");
  assert_non_null(c2);
  for (size_t i = 0; i < c2->n; i++) {
    double want = 0;
    for (size_t j = 0; j < s[2].n; j++)
      want += s[2].s[j].t > c2->t[i] - 3600000 && s[2].s[j].t <= c2->t[i] && !is_stale(s[2].s[j].v);
    assert_true(c2->v[i] == want);
  }
  assert_null(find_series(r, "c4"));
  promql_result_free(r);
  /* c4 holds only stale markers: absent for it at every step */
  r = eval_range(m, "absent_over_time(ctr{id=\"c4\"}[10m])", 600000);
  assert_int_equal(r->nseries, 1);
  assert_int_equal(r->series[0].n, NSTEPS);
  promql_result_free(r);
  promql_queryable qq = promql_mem_queryable(m);
  promql_expr *e = NULL;
  lk_diag d = {0};
  assert_int_equal(promql_parse("ctr[1h]", &e, &d), 0);
  int64_t at = s[2].s[50].t + 1000; /* just after c2's first stale marker */
  assert_int_equal(promql_eval_instant(&qq, NULL, e, at, &r, &d), 0);
  assert_int_equal(r->type, PROMQL_MATRIX);
  assert_null(find_series(r, "c4"));
  for (size_t k = 0; k < r->nseries; k++)
    for (size_t i = 0; i < r->series[k].n; i++)
      assert_false(is_stale(r->series[k].v[i]));
  size_t want = 0, stale = 0;
  for (size_t j = 0; j < s[2].n; j++)
    if (s[2].s[j].t > at - 3600000 && s[2].s[j].t <= at) {
      want += !is_stale(s[2].s[j].v);
      stale += is_stale(s[2].s[j].v);
    }
  assert_int_equal(stale, 1);
  assert_non_null(find_series(r, "c2"));
  assert_int_equal(find_series(r, "c2")->n, want);
  promql_result_free(r);
  promql_expr_free(e);
  promql_mem_free(m);
}

/* Does (a, ia) go before (b, ib) in topk (top) / bottomk order? */
static bool ref_before(bool top, double a, size_t ia, double b, size_t ib)
{
  if (isnan(a) != isnan(b))
    return isnan(b);
  if (!isnan(a) && a != b)
    return top ? a > b : a < b;
  return ia < ib;
}

/* Gauges with few distinct values (many ties), NaNs, gaps; series sorted
 * by id as the store orders them ("g000".."g119"). */
static void check_topk(const char *op, bool top, size_t k, size_t ns)
{
  ser *s = calloc(ns, sizeof *s);
  for (size_t j = 0; j < ns; j++) {
    snprintf(s[j].name, sizeof s[j].name, "g%03zu", j);
    for (size_t i = 0; i < NSTEPS; i++) {
      if (test_rand(&rng) % 10 == 0)
        continue; /* absent at this step */
      double v = (double)(test_rand(&rng) % 7);
      if (test_rand(&rng) % 15 == 0)
        v = NAN;
      s[j].s[s[j].n++] = (lk_sample){600000 + (int64_t)i * STEP_MS, v};
    }
  }
  promql_mem *m = store_of(s, ns, "g");
  char q[64];
  snprintf(q, sizeof q, "%s(%zu, g)", op, k);
  promql_result *r = eval_range(m, q, 600000);
  size_t *cand = calloc(ns, sizeof *cand);
  for (size_t i = 0; i < NSTEPS; i++) {
    int64_t ts = 600000 + (int64_t)i * STEP_MS;
    double *val = calloc(ns, sizeof *val);
    bool *present = calloc(ns, sizeof *present);
    size_t n = 0;
    for (size_t j = 0; j < ns; j++) /* the step's value: lookback picks the newest ≤ ts */
      for (size_t x = 0; x < s[j].n; x++)
        if (s[j].s[x].t <= ts && s[j].s[x].t > ts - 300000) {
          val[j] = s[j].s[x].v;
          present[j] = true;
        }
    for (size_t j = 0; j < ns; j++) {
      if (!present[j])
        continue;
      size_t p = n++;
      for (; p > 0 && ref_before(top, val[j], j, val[cand[p - 1]], cand[p - 1]); p--)
        cand[p] = cand[p - 1];
      cand[p] = j;
    }
    size_t want = n < k ? n : k, got = 0;
    for (size_t x = 0; x < want; x++) {
      const promql_series *o = find_series(r, s[cand[x]].name);
      bool has = false;
      for (size_t y = 0; o && y < o->n; y++)
        has |= o->t[y] == ts;
      if (!has)
        fail_msg("%s: step %zu: series %s missing", q, i, s[cand[x]].name);
    }
    for (size_t y = 0; y < r->nseries; y++)
      for (size_t z = 0; z < r->series[y].n; z++)
        got += r->series[y].t[z] == ts;
    if (got != want)
      fail_msg("%s: step %zu: %zu series kept, want %zu", q, i, got, want);
    free(val);
    free(present);
  }
  free(cand);
  promql_result_free(r);
  promql_mem_free(m);
  free(s);
}

static void test_topk_bottomk(void **state)
{
  check_topk("topk", true, 3, 40);
  check_topk("bottomk", false, 5, 40);
  check_topk("topk", true, 1, 120);
  check_topk("topk", true, 100, 120);   /* large k: step-major */
  check_topk("bottomk", false, 200, 30); /* k above the series count */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rate_family),
    cmocka_unit_test(test_rate_shared_timestamps),
    cmocka_unit_test(test_stale_markers_removed),
    cmocka_unit_test(test_topk_bottomk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
