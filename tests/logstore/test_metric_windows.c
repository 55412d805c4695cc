/* test_metric_windows.c — metric LogQL range functions against a brute-force
 * reference: entries with random timestamps placed on, just before and just
 * after every step's window edges (t - range, t], spread over sealed blocks
 * and heads, and in pairs of one-entry streams (one on an edge, one just
 * after it, so the evaluator also meets edges out of order), for
 * count_over_time, rate, bytes_over_time and bytes_rate, with and without a
 * line filter, at steps shorter, equal and longer than the range, and as an
 * instant query. Every value must be equal, not close. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"
#include "tests/helpers/disk_fx.h"

#define SEC 1000000000LL
#define NSTREAMS 403 /* three long streams, then pairs of one-entry streams */
#define NENTRIES 600
#define S0 (10000 * SEC)

typedef struct ent {
  int64_t ts;
  size_t len;
  bool err; /* the line holds "err" */
} ent;

typedef struct fx {
  char dir[64];
  logstore *s;
  ent e[NSTREAMS][NENTRIES];
  size_t n[NSTREAMS];
} fx;

typedef struct grid {
  int64_t start, end, step, range; /* step 0: instant query at end */
} grid;

static uint64_t next_rand(uint64_t *x)
{
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 33;
}

/* A timestamp on or one ns beside a window edge of a step (5 s grid, ranges
 * up to 10 s), or anywhere near the grid. */
static int64_t edge_ts(uint64_t *x)
{
  static const int64_t ranges[] = {3 * SEC, 7 * SEC, 10 * SEC};
  int64_t k = (int64_t)(next_rand(x) % 30) - 3;
  int64_t t = S0 + k * 5 * SEC;
  switch (next_rand(x) % 3) {
  case 0: break;
  case 1: t -= ranges[next_rand(x) % 3]; break;
  default: return S0 - 20 * SEC + (int64_t)(next_rand(x) % (170 * (uint64_t)SEC));
  }
  return t + (int64_t)(next_rand(x) % 3) - 1;
}

static int cmp_ent(const void *a, const void *b)
{
  const ent *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int push_stream(fx *f, size_t s)
{
  char app[8], lines[NENTRIES][48];
  snprintf(app, sizeof app, "a%03zu", s);
  size_t n = f->n[s], half = n / 2;
  lk_label ls[] = {{"app", app}, {"job", "w"}};
  logstore_entry le[NENTRIES];
  for (size_t i = 0; i < n; i++) {
    const ent *e = &f->e[s][i];
    memset(lines[i], 'x', e->len);
    if (e->err)
      memcpy(lines[i], "err", 3);
    le[i] = (logstore_entry){e->ts, lines[i], e->len};
  }
  /* the first half sealed into blocks, the rest left in the head */
  if ((half && logstore_push(f->s, ls, 2, le, half, NULL)) || logstore_flush(f->s))
    return -1;
  return logstore_push(f->s, ls, 2, le + half, n - half, NULL);
}

static int setup(void **state)
{
  fx *f = lk_xcalloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/lk-lqwin-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  logstore_opts o = {.dir = f->dir, .block_bytes = 512};
  if (logstore_open(&o, &f->s, NULL))
    return -1;
  /* the first pairs' edges: first and last steps of the grids below, and
   * their window starts */
  static const int64_t firsts[] = {0, -7, -10, -3, 120, 113, 110, -15, -20, 100, 93, 25,
                                   40, 33, 25, 35, 30};
  uint64_t x = 42;
  int64_t edge = 0;
  for (size_t s = 0; s < NSTREAMS; s++) {
    f->n[s] = s < 3 ? NENTRIES : 1;
    for (size_t i = 0; i < f->n[s]; i++)
      f->e[s][i] = (ent){edge_ts(&x), 3 + next_rand(&x) % 40, next_rand(&x) % 3 == 0};
    if (s >= 3 && s % 2 == 1) { /* this stream just after an edge, the next one on it */
      size_t p = (s - 3) / 2;
      edge = p < sizeof firsts / sizeof *firsts ? S0 + firsts[p] * SEC : edge_ts(&x);
      f->e[s][0].ts = edge + 1 + (int64_t)(next_rand(&x) % 2);
    }
    if (s >= 3 && s % 2 == 0)
      f->e[s][0].ts = edge;
    qsort(f->e[s], f->n[s], sizeof(ent), cmp_ent);
    if (push_stream(f, s))
      return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  logstore_close(f->s);
  int rc = dfx_rmrf(f->dir);
  free(f);
  return rc;
}

/* The reference: every entry of stream s checked against (t - range, t]. */
static bool expected(const fx *f, size_t s, const char *fn, bool filtered, int64_t t,
                     int64_t range, double *out)
{
  uint64_t cnt = 0, bytes = 0;
  for (size_t i = 0; i < f->n[s]; i++) {
    const ent *e = &f->e[s][i];
    if (e->ts > t - range && e->ts <= t && (!filtered || e->err)) {
      cnt++;
      bytes += e->len;
    }
  }
  double secs = (double)range / 1e9;
  if (!strcmp(fn, "count_over_time"))
    *out = (double)cnt;
  else if (!strcmp(fn, "rate"))
    *out = (double)cnt / secs;
  else if (!strcmp(fn, "bytes_over_time"))
    *out = (double)bytes;
  else
    *out = (double)bytes / secs;
  return cnt > 0;
}

static size_t stream_of(const logstore_rseries *rs)
{
  for (size_t j = 0; j < rs->nlabels; j++)
    if (!strcmp(rs->labels[j].name, "app"))
      return (size_t)atoi(rs->labels[j].value + 1);
  fail_msg("series without app");
  return 0;
}

static void check(const fx *f, const char *fn, bool filtered, const grid *g)
{
  char q[128];
  snprintf(q, sizeof q, "%s({job=\"w\"}%s[%llds])", fn, filtered ? " |= \"err\" " : "",
           (long long)(g->range / SEC));
  logstore_query_opts o = {.start_ns = g->start, .end_ns = g->end, .step_ns = g->step};
  logstore_result *r = NULL;
  lk_diag d = {0};
  assert_int_equal(logstore_query(f->s, q, &o, &r, &d), 0);
  size_t nsteps = g->step ? (size_t)((g->end - g->start) / g->step) + 1 : 1;
  size_t want_series = 0;
  for (size_t s = 0; s < NSTREAMS; s++) {
    const logstore_rseries *rs = NULL;
    for (size_t i = 0; i < r->n; i++)
      if (stream_of(&r->series[i]) == s)
        rs = &r->series[i];
    size_t p = 0;
    for (size_t k = 0; k < nsteps; k++) {
      int64_t t = g->step ? g->start + (int64_t)k * g->step : g->end;
      double want;
      if (!expected(f, s, fn, filtered, t, g->range, &want))
        continue;
      if (!rs || p >= rs->n || rs->t_ns[p] != t || rs->v[p] != want)
        fail_msg("%s step %lld stream %zu: want %g", q, (long long)t, s, want);
      p++;
    }
    assert_int_equal(rs ? rs->n : 0, p);
    want_series += p > 0;
  }
  assert_int_equal(r->n, want_series);
  logstore_result_free(r);
}

static void test_windows(void **state)
{
  const fx *f = *state;
  static const char *fns[] = {"count_over_time", "rate", "bytes_over_time", "bytes_rate"};
  const grid grids[] = {
      {S0, S0 + 120 * SEC, 5 * SEC, 7 * SEC},   /* windows overlap */
      {S0, S0 + 120 * SEC, 5 * SEC, 10 * SEC},  /* range a multiple of the step */
      {S0, S0 + 120 * SEC, 10 * SEC, 3 * SEC},  /* gaps between windows */
      {S0 - 15 * SEC, S0 + 100 * SEC, 5 * SEC, 5 * SEC},
      {S0, S0 + 40 * SEC, 0, 7 * SEC},          /* instant */
      {S0, S0 + 35 * SEC, 0, 10 * SEC},
  };
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
    for (size_t j = 0; j < sizeof grids / sizeof *grids; j++) {
      check(f, fns[i], false, &grids[j]);
      check(f, fns[i], true, &grids[j]);
    }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_windows, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
