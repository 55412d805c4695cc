/* test_rollup.c — range functions answered from rollups give what the raw
 * samples give, bit for bit. A real tsdb holds counters with resets, gaps
 * and stale markers, integer and float gauges (negative values, NaN), at
 * several scrape intervals, some exactly on bucket and block boundaries; it
 * is flushed so compaction writes blocks and rollups, then gets newer head
 * samples. Every supported function runs over ranges and steps that let
 * rollups serve it (5 m and 1 h buckets, with offsets) and over some that
 * do not, once through the queryable with rollups and once with them
 * forced off; the results must match in labels, timestamps and value bits.
 * A counting wrapper proves the rollup path really answered; a set of
 * hundreds of series is read and evaluated on two threads, bit for bit the
 * same. Also checked
 * at the storage API: unaligned ranges and ranges reaching the head are
 * refused (LK_ENOENT), and a rollup file with a flipped byte is refused at
 * open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"
#include "tests/helpers/disk_fx.h"
#include "tsdb/tsdb.h"

#define H_MS 3600000LL
#define BASE (1700006400000LL - 1700006400000LL % (18 * H_MS)) /* on a compaction window edge */
#define SPAN (60 * H_MS)
#define NSER 12
#define WIDE 160

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static double stale(void)
{
  uint64_t b = TSDB_STALE_NAN_BITS;
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* Series k: 0-5 counters, 6-8 integer gauges, 9-11 float gauges. */
static size_t gen(int k, int64_t from, int64_t to, lk_sample *out, size_t cap)
{
  int64_t step = 15000 * (1 + k % 4);
  double v = (double)(rnd() % 1000);
  size_t n = 0;
  for (int64_t t = from; t < to && n < cap; t += step) {
    int64_t ts = t + (k % 2 ? (int64_t)(rnd() % 9000) : 0);
    if (k == 2 && ts % (10 * H_MS) < 40 * 60000) /* gaps of 40 min */
      continue;
    double x;
    if (k < 6) {
      v += (double)(rnd() % 4000) / 1000.0;
      if (rnd() % 211 == 0 || (k == 0 && ts % (6 * H_MS) == 0)) /* also on block edges */
        v = (double)(rnd() % 50);
      x = v;
    } else if (k < 9) {
      v += (double)((int64_t)(rnd() % 2001) - 1000);
      x = k == 8 ? -v : v;
    } else {
      x = (double)(rnd() % 100000) / 7.0 - 5000;
      if (k == 10 && rnd() % 17 == 0)
        x = NAN;
    }
    if (rnd() % 97 == 0 || (k == 4 && ts % (7 * H_MS) < 60000))
      x = stale();
    out[n++] = (lk_sample){ts, x};
  }
  return n;
}

/* The tsdb queryable, counting raw selects and noting the rollup slots read. */
typedef struct counting {
  promql_queryable inner;
  int raw;
  unsigned slots; /* bit per slot a rollup series was read through */
} counting;

/* A rollup set with the slots its series were read through (gets run on
 * two threads, hence atomic); added to the counter when released. */
typedef struct cset {
  void *inner;
  counting *cnt;
  atomic_uint slots;
} cset;

static int c_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                    uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  counting *c = ctx;
  c->raw++;
  return c->inner.select(c->inner.ctx, m, nm, mint, maxt, max_series, max_samples, out, d);
}

static int c_rollup(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt, int64_t res,
                    uint64_t max_series, void **out, lk_diag *d)
{
  counting *c = ctx;
  void *set = NULL;
  int rc = c->inner.rollups->select(c->inner.ctx, m, nm, mint, maxt, res, max_series, &set, d);
  if (rc)
    return rc;
  cset *cs = calloc(1, sizeof *cs);
  assert_non_null(cs);
  cs->inner = set;
  cs->cnt = c;
  *out = cs;
  return 0;
}

static size_t c_count(void *set)
{
  cset *cs = set;
  return cs->cnt->inner.rollups->count(cs->inner);
}

static int c_get(void *set, size_t i, unsigned slot, tsdb_rollup_series *out, lk_diag *d)
{
  cset *cs = set;
  atomic_fetch_or(&cs->slots, 1u << slot);
  return cs->cnt->inner.rollups->get(cs->inner, i, slot, out, d);
}

static void c_release(void *set)
{
  cset *cs = set;
  cs->cnt->slots |= atomic_load(&cs->slots);
  cs->cnt->inner.rollups->release(cs->inner);
  free(cs);
}

typedef struct fixture {
  char dir[64];
  tsdb *db;
  counting cnt, cnt_off;
  promql_rollups ops;
  promql_queryable on, off;
} fixture;

static void add_series(tsdb *db, int k, int64_t from, int64_t to)
{
  static lk_sample s[200000];
  size_t n = gen(k, from, to, s, sizeof s / sizeof *s);
  char id[16], kind[8];
  snprintf(id, sizeof id, "%02d", k);
  snprintf(kind, sizeof kind, "%s", k < 6 ? "counter" : k < 9 ? "int" : "float");
  lk_label l[3] = {{"__name__", "m"}, {"id", id}, {"kind", kind}};
  tsdb_series_in in = {l, 3, s, n};
  tsdb_append_stats st;
  lk_diag d = {0};
  assert_int_equal(tsdb_append(db, &in, 1, &st, &d), 0);
}

/* WIDE counters "w" (labels i, and g of 7 groups) at a 2 min scrape with
 * a few drops (never past TSDB_ROLLUP_MAX_RESETS in an hour): enough series
 * × hourly steps that promql reads them on two threads. */
static void add_wide(tsdb *db)
{
  static lk_sample smp[SPAN / 120000];
  for (int i = 0; i < WIDE; i++) {
    double v = (double)(rnd() % 100000) / 1000;
    size_t n = 0;
    for (int64_t t = BASE + (int64_t)(rnd() % 120000); t < BASE + SPAN; t += 120000) {
      v = rnd() % 499 ? v + (double)(rnd() % 9000) / 1000 : (double)(rnd() % 10);
      smp[n++] = (lk_sample){t, v};
    }
    char id[16], g[8];
    snprintf(id, sizeof id, "%03d", i);
    snprintf(g, sizeof g, "%d", i % 7);
    lk_label l[3] = {{"__name__", "w"}, {"g", g}, {"i", id}};
    tsdb_series_in in = {l, 3, smp, n};
    tsdb_append_stats st;
    lk_diag d = {0};
    assert_int_equal(tsdb_append(db, &in, 1, &st, &d), 0);
    assert_int_equal(st.accepted, n);
  }
}

static int open_fixture(void **state, bool wide)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/lk-rollup-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir, .sample_cache_bytes = -1, .head_min_samples = 1};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  for (int k = 0; k < NSER; k++)
    add_series(f->db, k, BASE, BASE + SPAN);
  if (wide)
    add_wide(f->db);
  assert_int_equal(tsdb_flush(f->db, &d), 0);
  for (int k = 0; k < NSER; k += 3) /* newer data stays in the head */
    add_series(f->db, k, BASE + SPAN, BASE + SPAN + H_MS / 2);
  f->cnt.inner = promql_queryable_tsdb(f->db);
  f->ops = (promql_rollups){c_rollup, c_count, c_get, c_release};
  f->on = f->cnt.inner;
  f->on.ctx = &f->cnt;
  f->on.select = c_select;
  f->on.rollups = &f->ops;
  f->cnt_off.inner = f->cnt.inner;
  f->off = f->on;
  f->off.ctx = &f->cnt_off;
  f->off.rollups = NULL;
  *state = f;
  return 0;
}

static int setup(void **state) { return open_fixture(state, false); }
static int setup_wide(void **state) { return open_fixture(state, true); }

static int teardown(void **state)
{
  fixture *f = *state;
  tsdb_close(f->db);
  dfx_rmrf(f->dir);
  free(f);
  return 0;
}

static void same_result(const promql_result *a, const promql_result *b, const char *q)
{
  if (a->nseries != b->nseries)
    fail_msg("%s: %zu series with rollups, %zu without", q, a->nseries, b->nseries);
  for (size_t i = 0; i < a->nseries; i++) {
    const promql_series *x = &a->series[i], *y = &b->series[i];
    assert_int_equal(x->nlabels, y->nlabels);
    for (size_t j = 0; j < x->nlabels; j++) {
      assert_string_equal(x->labels[j].name, y->labels[j].name);
      assert_string_equal(x->labels[j].value, y->labels[j].value);
    }
    if (x->n != y->n)
      fail_msg("%s: series %zu has %zu points with rollups, %zu without", q, i, x->n, y->n);
    for (size_t j = 0; j < x->n; j++)
      if (x->t[j] != y->t[j] || memcmp(&x->v[j], &y->v[j], sizeof x->v[j]))
        fail_msg("%s: series %zu point %zu: %lld %.17g with rollups, %lld %.17g without", q, i, j,
                 (long long)x->t[j], x->v[j], (long long)y->t[j], y->v[j]);
  }
}

/* Evaluate q both ways over [start, end] at step; how many selectors the
 * rollups answered (raw selects saved). */
static int both_ways(fixture *f, const char *q, int64_t start, int64_t end, int64_t step)
{
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse(q, &e, &d), 0);
  promql_result *a, *b;
  f->cnt.raw = f->cnt_off.raw = 0;
  if (promql_eval_range(&f->on, NULL, e, start, end, step, &a, &d))
    fail_msg("%s: %s", q, d.msg);
  assert_int_equal(promql_eval_range(&f->off, NULL, e, start, end, step, &b, &d), 0);
  same_result(a, b, q);
  assert_true(a->nseries > 0);
  promql_result_free(a);
  promql_result_free(b);
  promql_expr_free(e);
  return f->cnt_off.raw - f->cnt.raw;
}

static const char *funcs[] = {"rate", "increase", "max_over_time", "min_over_time", "count_over_time",
                              "last_over_time", "sum_over_time", "avg_over_time"};

static void test_every_function_both_ways(void **state)
{
  fixture *f = *state;
  static const struct { const char *range, *offset; int64_t step; } shapes[] = {
    {"5m", "", 300000}, {"5m", "", H_MS}, {"10m", "", 600000}, {"1h", "", H_MS}, {"3h", "", H_MS},
    {"1h", " offset 2h", H_MS}, {"15m", " offset 5m", 900000},
  };
  for (size_t fi = 0; fi < sizeof funcs / sizeof *funcs; fi++) {
    int served = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
      char q[160];
      snprintf(q, sizeof q, "%s(m[%s]%s)", funcs[fi], shapes[si].range, shapes[si].offset);
      served += both_ways(f, q, BASE + 3 * H_MS, BASE + SPAN - H_MS, shapes[si].step);
      /* counters for rate/increase (a gauge drops too often to keep its
       * drops), integers for sum/avg (exact in any order) */
      for (int kind = 0; kind < 2; kind++) {
        snprintf(q, sizeof q, "%s(m{kind=\"%s\"}[%s]%s)", funcs[fi], kind ? "int" : "counter",
                 shapes[si].range, shapes[si].offset);
        served += both_ways(f, q, BASE + 3 * H_MS, BASE + SPAN - H_MS, shapes[si].step);
      }
    }
    if (!served)
      fail_msg("%s: never answered from rollups", funcs[fi]);
  }
}

/* A set of WIDE series over 57 hourly steps is split between two threads
 * (both rollup slots read) and still gives the raw result bit for bit. */
static void test_wide_set_on_two_threads(void **state)
{
  fixture *f = *state;
  static const char *qs[] = {"sum by (g) (rate(w[5m]))", "max_over_time(w[1h])", "increase(w[3h])"};
  for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
    f->cnt.slots = 0;
    assert_int_equal(both_ways(f, qs[i], BASE + 3 * H_MS, BASE + SPAN - H_MS, H_MS), 1);
    if (f->cnt.slots != 3)
      fail_msg("%s: rollup slots read 0x%x, want both (0x3)", qs[i], f->cnt.slots);
  }
}

static void test_unservable_shapes_read_raw(void **state)
{
  fixture *f = *state;
  /* unaligned start, a step finer than any bucket, a range that is not a
   * multiple, and a range reaching the head: all raw, same results */
  assert_int_equal(both_ways(f, "rate(m[5m])", BASE + 3 * H_MS + 1000, BASE + SPAN - H_MS, H_MS), 0);
  assert_int_equal(both_ways(f, "max_over_time(m[1h])", BASE + 3 * H_MS, BASE + 9 * H_MS, 60000), 0);
  assert_int_equal(both_ways(f, "rate(m[7m])", BASE + 3 * H_MS, BASE + 9 * H_MS, H_MS), 0);
  assert_int_equal(both_ways(f, "count_over_time(m[1h])", BASE + SPAN - 2 * H_MS, BASE + SPAN + H_MS, H_MS),
                   0);
  /* and a query with every shape in one expression */
  assert_true(both_ways(f, "sum by (kind) (rate(m[5m])) / on(kind) max by (kind) (max_over_time(m[1h]))",
                        BASE + 3 * H_MS, BASE + SPAN - H_MS, H_MS) > 0);
}

static void test_storage_refuses_inexact_ranges(void **state)
{
  fixture *f = *state;
  tsdb_matcher m = {TSDB_EQ, "__name__", "m"};
  tsdb_rollup_result *r = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select_rollup(f->db, &m, 1, BASE + 1, BASE + 10 * H_MS, TSDB_ROLLUP_1H, 0, &r, &d), 0);
  assert_int_equal(tsdb_rollup_count(r), NSER);
  tsdb_rollup_series s;
  assert_int_equal(tsdb_rollup_get(r, 0, 0, &s, &d), 0);
  uint64_t n = 0;
  for (size_t i = 0; i < s.n; i++)
    n += s.r[i].count;
  assert_true(n > 100);
  tsdb_rollup_free(r);
  assert_int_equal(tsdb_select_rollup(f->db, &m, 1, BASE, BASE + 10 * H_MS, TSDB_ROLLUP_1H, 0, &r, &d), LK_ENOENT);
  assert_int_equal(tsdb_select_rollup(f->db, &m, 1, BASE + 1, BASE + 10 * H_MS, 60000, 0, &r, &d), LK_ENOENT);
  assert_int_equal(tsdb_select_rollup(f->db, &m, 1, BASE + 1, BASE + SPAN + H_MS, TSDB_ROLLUP_1H, 0, &r, &d),
                   LK_ENOENT);
}

/* The result of q over [start, end] at step through f->on (rollups allowed). */
static promql_result *eval_on(fixture *f, const char *q, int64_t start, int64_t end, int64_t step)
{
  promql_expr *e;
  promql_result *r;
  lk_diag d = {0};
  assert_int_equal(promql_parse(q, &e, &d), 0);
  if (promql_eval_range(&f->on, NULL, e, start, end, step, &r, &d))
    fail_msg("%s: %s", q, d.msg);
  promql_expr_free(e);
  return r;
}

static void reopen(fixture *f, int64_t retention, int64_t rollup_retention)
{
  tsdb_close(f->db);
  tsdb_opts o = {.dir = f->dir, .retention_ms = retention, .rollup_retention_ms = rollup_retention};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  f->cnt.inner = promql_queryable_tsdb(f->db);
  f->cnt_off.inner = f->cnt.inner;
}

/* Past retention, rollup_retention keeps the rollups (and index) of the
 * expired blocks: raw selects see nothing there, the rollup-served
 * functions still give what they gave over the raw samples; without
 * rollup_retention the blocks go whole. */
static void test_rollup_retention(void **state)
{
  fixture *f = *state;
  const char *q = "max_over_time(m[1h])";
  int64_t start = BASE + 3 * H_MS, end = BASE + 30 * H_MS;
  promql_result *before = eval_on(f, q, start, end, H_MS);
  reopen(f, 12 * H_MS, 30 * 24 * H_MS);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "ls -d %s/b-* | wc -l; ls %s/b-*/chunks | wc -l", f->dir, f->dir);
  FILE *p = popen(cmd, "r");
  int blocks = 0, chunks = 0;
  assert_int_equal(fscanf(p, "%d %d", &blocks, &chunks), 2);
  pclose(p);
  assert_true(chunks < blocks); /* some blocks kept their rollups only */
  f->cnt.raw = 0;
  promql_result *after = eval_on(f, q, start, end, H_MS);
  assert_int_equal(f->cnt.raw, 0);
  same_result(after, before, q);
  promql_result_free(after);
  tsdb_matcher m = {TSDB_EQ, "__name__", "m"};
  tsdb_result *raw = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb_select(f->db, &m, 1, start, BASE + 20 * H_MS, NULL, &raw, &d), 0);
  assert_int_equal(tsdb_result_count(raw), 0);
  tsdb_result_free(raw);
  reopen(f, 12 * H_MS, 30 * 24 * H_MS); /* blocks with rollups only open again */
  after = eval_on(f, q, start, end, H_MS);
  same_result(after, before, q);
  promql_result_free(after);
  reopen(f, 12 * H_MS, 0);
  after = eval_on(f, q, start, BASE + 20 * H_MS, H_MS);
  assert_int_equal(after->nseries, 0);
  promql_result_free(after);
  promql_result_free(before);
}

/* A flipped byte in a block's rollup table: reopening the database
 * refuses the block, naming the file, and rewrites nothing. */
static void test_corrupt_rollup_refused(void **state)
{
  fixture *f = *state;
  tsdb_close(f->db);
  f->db = NULL;
  char cmd[200];
  snprintf(cmd, sizeof cmd, "ls %s/b-*/rollup | head -1", f->dir);
  FILE *p = popen(cmd, "r");
  char path[160] = "";
  assert_non_null(fgets(path, sizeof path, p));
  pclose(p);
  path[strcspn(path, "\n")] = 0;
  size_t len;
  uint8_t *bytes = dfx_read(path, &len);
  assert_non_null(bytes);
  bytes[len - 20] ^= 0x40; /* inside the table the TOC CRC covers */
  FILE *w = fopen(path, "wb");
  assert_int_equal(fwrite(bytes, 1, len, w), len);
  fclose(w);
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  tsdb *db = NULL;
  assert_int_equal(tsdb_open(&o, &db, &d), LK_ECORRUPT);
  assert_non_null(strstr(d.msg, "rollup"));
  size_t len2;
  uint8_t *after = dfx_read(path, &len2);
  assert_int_equal(len2, len);
  assert_memory_equal(after, bytes, len);
  free(after);
  free(bytes);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_every_function_both_ways, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unservable_shapes_read_raw, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wide_set_on_two_threads, setup_wide, teardown),
    cmocka_unit_test_setup_teardown(test_storage_refuses_inexact_ranges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_rollup_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rollup_retention, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
