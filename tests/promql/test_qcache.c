/* test_qcache.c — the PromQL result cache (promql/qcache.c) over a real
 * tsdb: a repeated query is answered without reading storage and returns
 * bit-identical results; it keeps answering while samples are written after
 * the times it read (also from a thread writing meanwhile) and while data
 * only moves (a flush); a write inside those times — in order for a new
 * series, out of order, inside the lookback or an offset's window — or
 * retention removing them makes the next query evaluate again and see what
 * an uncached one sees; limits that shape a result and the budget are
 * respected. Storage reads are counted by a queryable that wraps the tsdb
 * one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/promql.h"
#include "tsdb/tsdb.h"
#include "lib/lk_time.h"
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
  int new_series;   /* series written by write_new_series so far */
  int64_t min_mint; /* earliest time selected since the test last reset it */
} fixture;

static int count_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                        uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  fixture *f = ctx;
  f->selects++;
  f->min_mint = mint < f->min_mint ? mint : f->min_mint;
  return f->inner.select(f->inner.ctx, m, nm, mint, maxt, max_series, max_samples, out, d);
}
static uint64_t version(void *ctx, uint64_t since, int64_t *lo, int64_t *hi)
{
  return tsdb_changed_since(((fixture *)ctx)->db, since, lo, hi);
}

static promql_queryable counting(fixture *f)
{
  return (promql_queryable){f, count_select, f->inner.count, f->inner.get, f->inner.release, NULL, version};
}

/* 1 when series k took the sample (no cmocka call: writer threads use it). */
static uint64_t try_append(fixture *f, int k, int64_t t, double v)
{
  char id[16];
  snprintf(id, sizeof id, "%d", k);
  lk_label ls[2] = {{"__name__", "m"}, {"id", id}};
  lk_sample s = {t, v};
  tsdb_series_in in = {ls, 2, &s, 1};
  tsdb_append_stats st = {0};
  lk_diag d = {0};
  return tsdb_append(f->db, &in, 1, &st, &d) == 0 ? st.accepted : 0;
}

static void append_one(fixture *f, int k, int64_t t, double v)
{
  assert_int_equal(try_append(f, k, t, v), 1);
}

static int setup_with(void **state, tsdb_opts o)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_qcache-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  o.dir = f->dir;
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  for (int i = 0; i < NSAMP; i++)
    for (int k = 0; k < NSER; k++)
      append_one(f, k, BASE + (int64_t)i * STEP_MS, (double)(i * (k + 1)) / 8);
  f->inner = promql_queryable_tsdb(f->db);
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_with(state, (tsdb_opts){0}); }
/* Out-of-order samples up to a day behind are accepted. */
static int setup_ooo(void **state) { return setup_with(state, (tsdb_opts){.ooo_window_ms = 86400000}); }
/* Samples a day behind the newest are dropped at the next retention run. */
static int setup_retention(void **state) { return setup_with(state, (tsdb_opts){.retention_ms = 86400000}); }

static int teardown(void **state)
{
  fixture *f = *state;
  tsdb_close(f->db);
  dfx_rmrf(f->dir);
  free(f);
  return 0;
}

static promql_result *eval_range(const promql_queryable *q, promql_cache *c, const char *query, int64_t start,
                                 int64_t end, uint64_t max_samples)
{
  promql_expr *e;
  lk_diag d = {0};
  assert_int_equal(promql_parse(query, &e, &d), 0);
  promql_opts o = {.cache = c, .max_samples = max_samples};
  promql_result *r = NULL;
  int rc = promql_eval_range(q, &o, e, start, end, STEP, &r, &d);
  promql_expr_free(e);
  if (rc)
    fail_msg("%s: %s", query, d.msg);
  return r;
}

static promql_result *eval(const promql_queryable *q, promql_cache *c, const char *query, uint64_t max_samples)
{
  return eval_range(q, c, query, START, END, max_samples);
}

static bool same(const promql_result *a, const promql_result *b)
{
  if (a->type != b->type || a->nseries != b->nseries || a->nwarnings != b->nwarnings || a->ninfos != b->ninfos)
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

/* An append inside the range makes the cached query read storage again
 * and see what an uncached one sees; a flush then only moves the data, so
 * the next run is a hit that still equals an uncached run. */
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
  promql_result *flushed = eval(&q, c, query, 0), *plain_flushed = eval(&f->inner, NULL, query, 0);
  assert_int_equal(f->selects, n + 1);
  assert_true(same(plain, flushed));
  assert_true(same(plain_flushed, flushed));
  promql_result_free(before);
  promql_result_free(after);
  promql_result_free(plain);
  promql_result_free(flushed);
  promql_result_free(plain_flushed);
  promql_cache_free(c);
}

/* Runs query through the cache after write(f, arg) and checks it against
 * an uncached run: a hit (no storage read) or a fresh evaluation as `hit`
 * says, and equal to the uncached result either way. */
static void check_after_write(fixture *f, promql_cache *c, const char *query, bool hit,
                              void (*write)(fixture *, int64_t), int64_t arg)
{
  promql_queryable q = counting(f);
  promql_result_free(eval(&q, c, query, 0)); /* cached now */
  write(f, arg);
  unsigned n = f->selects;
  promql_result *got = eval(&q, c, query, 0), *plain = eval(&f->inner, NULL, query, 0);
  if (hit)
    assert_int_equal(f->selects, n);
  else
    assert_int_not_equal(f->selects, n);
  assert_true(same(plain, got));
  promql_result_free(got);
  promql_result_free(plain);
}

static void write_new_series(fixture *f, int64_t t) { append_one(f, NSER + 1 + f->new_series++, t, 7); }
static void write_every_series(fixture *f, int64_t t)
{
  for (int k = 0; k < NSER; k++)
    append_one(f, k, t, 1e3 + k);
}

/* Writes after the times a query reads leave it cached; a write inside
 * them (up to the first window's start) does not. */
static void test_only_writes_in_the_read_span_invalidate(void **state)
{
  fixture *f = *state;
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  const int64_t MIN5 = 300000;
  check_after_write(f, c, "sum(rate(m[5m]))", true, write_every_series, END + STEP_MS);
  check_after_write(f, c, "sum(rate(m[5m]))", true, write_new_series, END + 1);
  check_after_write(f, c, "sum(rate(m[5m]))", false, write_new_series, START - MIN5 + 1);
  check_after_write(f, c, "count(m)", false, write_new_series, START - MIN5 + 2); /* lookback */
  check_after_write(f, c, "count(m)", true, write_new_series, START - MIN5);
  /* an offset moves the span: the range's last half hour is not read */
  check_after_write(f, c, "count(m offset 30m)", true, write_new_series, END - 30 * 60000 + 1);
  check_after_write(f, c, "count(m offset 30m)", false, write_new_series, END - 30 * 60000);
  check_after_write(f, c, "count(m @ 1700000900)", true, write_new_series, 1700000900000LL + 1);
  check_after_write(f, c, "count(m @ 1700000900)", false, write_new_series, 1700000900000LL - 1);
  check_after_write(f, c, "max_over_time(count(m)[10m:1m])", false, write_new_series, START - 10 * 60000 - MIN5 + 60000);
  promql_cache_free(c);
}

/* An out-of-order sample of an existing series inside the range. */
static void test_out_of_order_write_invalidates(void **state)
{
  fixture *f = *state;
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  check_after_write(f, c, "sum(m)", true, write_every_series, END + STEP_MS);
  check_after_write(f, c, "sum(m)", false, write_every_series, START + 7000);
  check_after_write(f, c, "sum(rate(m[5m]))", false, write_every_series, END - 7000);
  promql_cache_free(c);
}

/* Retention removing the blocks a query read. */
static void test_retention_invalidates(void **state)
{
  fixture *f = *state;
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  promql_queryable q = counting(f);
  promql_result *before = eval(&q, c, "sum(m)", 0);
  lk_diag d = {0};
  assert_int_equal(tsdb_flush(f->db, &d), 0);
  append_one(f, NSER, END + 2 * 86400000LL, 1); /* the whole range is now past retention */
  assert_int_equal(tsdb_flush(f->db, &d), 0);
  unsigned n = f->selects;
  promql_result *after = eval(&q, c, "sum(m)", 0), *plain = eval(&f->inner, NULL, "sum(m)", 0);
  assert_int_equal(f->selects, n + 1);
  assert_true(before->nseries > 0);
  assert_int_equal(plain->nseries, 0);
  assert_true(same(plain, after));
  promql_result_free(before);
  promql_result_free(after);
  promql_result_free(plain);
  promql_cache_free(c);
}

/* A gauge g{id} per series beside m: pseudo-random values with drops
 * (counter resets for rate), NaN, a stale marker and a gap. */
static void add_gauges(fixture *f)
{
  uint64_t x = 88172645463325252ULL;
  const uint64_t STALE = 0x7ff0000000000002ULL;
  for (int i = 0; i < NSAMP; i++)
    for (int k = 0; k < 3; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      if (k == 2 && i > 200 && i < 230)
        continue; /* a gap longer than the lookback */
      double v = (double)(x % 1000) / 10;
      if (k == 1 && i == 300)
        memcpy(&v, &STALE, 8);
      if (k == 0 && i == 120)
        v = NAN;
      char id[16];
      snprintf(id, sizeof id, "%d", k);
      lk_label ls[2] = {{"__name__", "g"}, {"id", id}};
      lk_sample smp = {BASE + (int64_t)i * STEP_MS, v};
      tsdb_series_in in = {ls, 2, &smp, 1};
      tsdb_append_stats st;
      lk_diag d = {0};
      assert_int_equal(tsdb_append(f->db, &in, 1, &st, &d), 0);
    }
}

/* Queries over a range reaching past the newest sample (a dashboard up to
 * now): new samples then land inside it. A query whose steps are
 * independent reuses its cached steps before the new samples and
 * evaluates only the later ones — also when the range moved on by a few
 * steps — and the result equals a whole uncached evaluation bit for bit.
 * The others (`@`, start()/end()) are reused whole or evaluated whole. */
static void test_splice_equals_whole_evaluation(void **state)
{
  static const char *const local[] = {
    "m", "rate(m[5m])", "sum by (id) (rate(m[5m]))", "g", "max_over_time(g[10m])", "avg_over_time(g[7m])",
    "sum_over_time(g[10m])", "stddev_over_time(g[10m])", "quantile_over_time(0.9, g[10m])",
    "resets(g[30m])", "changes(g[30m])", "deriv(g[10m])", "predict_linear(g[10m], 600)", "increase(g[5m])",
    "rate(g[3m])", "topk(2, g)", "count_values(\"v\", round(g / 10))", "g offset 10m", "g offset -5m",
    "max_over_time(rate(m[5m])[30m:1m])", "sum_over_time(g[20m:45s] offset -2m)", "g smoothed", "rate(m[5m] smoothed)", "rate(m[5m]) and g > 30",
    "absent(nope)", "timestamp(g)", "time() - timestamp(g)", "label_replace(g, \"x\", \"$1\", \"id\", \"(.*)\")",
    "double_exponential_smoothing(g[10m], 0.5, 0.5)", "last_over_time(g[5m])", "-g * 2 + on (id) m",
    "count(g) by (id)", "vector(1)", "scalar(sum(g)) * 2",
  };
  /* not step-local; of these only the second reads the new samples */
  static const char *const whole[] = {"g @ end()", "count(g) + end()", "g @ 1700003000", "g offset 1h @ start()"};
  fixture *f = *state;
  add_gauges(f);
  const int64_t NEWEST = BASE + (int64_t)(NSAMP - 1) * STEP_MS, END2 = END + 1800000;
  size_t nl = sizeof local / sizeof *local, nw = sizeof whole / sizeof *whole;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(64 << 20, &c), 0);
  /* the change log summarises older changes (a third of those since):
   * keep the setup's appends apart from the cached versions */
  for (int i = 0; i < 1000; i++)
    append_one(f, NSER + 100, END2 + 3600000 + i, i);
  for (size_t i = 0; i < nl + nw; i++) /* cached over [START, END2] */
    promql_result_free(eval_range(&q, c, i < nl ? local[i] : whole[i - nl], START, END2, 0));
  for (int i = 1; i <= 20; i++) { /* 5 min of new scrapes after a 2 min gap, inside the range */
    write_every_series(f, NEWEST + 105000 + i * STEP_MS);
    for (int k = 0; k < 3; k++) {
      char id[16];
      snprintf(id, sizeof id, "%d", k);
      lk_label ls[2] = {{"__name__", "g"}, {"id", id}};
      lk_sample smp = {NEWEST + 105000 + i * STEP_MS, 50 + i + k};
      tsdb_series_in in = {ls, 2, &smp, 1};
      tsdb_append_stats st;
      lk_diag d = {0};
      assert_int_equal(tsdb_append(f->db, &in, 1, &st, &d), 0);
    }
  }
  for (int moved = 0; moved <= 3; moved += 3) /* the same range, then 3 steps later */
    for (size_t i = 0; i < nl + nw; i++) {
      const char *query = i < nl ? local[i] : whole[i - nl];
      int64_t s = START + moved * STEP, e = END2 + moved * STEP;
      f->min_mint = INT64_MAX;
      promql_result *got = eval_range(&q, c, query, s, e, 0), *plain = eval_range(&f->inner, NULL, query, s, e, 0);
      if (!same(plain, got))
        fail_msg("%s over [%lld, %lld]: the cached result differs from a whole evaluation", query, (long long)s,
                 (long long)e);
      bool spliced = f->min_mint > START + 3600000; /* only the last part read */
      if (i < nl && !spliced && f->min_mint != INT64_MAX)
        fail_msg("%s: read from %lld, not only the steps after the change", query, (long long)f->min_mint);
      if (i == nl + 1 && moved == 0 && f->min_mint > s)
        fail_msg("%s: read from %lld, not evaluated whole", query, (long long)f->min_mint);
      promql_result_free(got);
      promql_result_free(plain);
    }
  f->min_mint = INT64_MAX;
  unsigned n = f->selects; /* a range inside the cached one, nothing new: a slice */
  promql_result *got = eval_range(&q, c, "rate(g[3m])", START + 5 * STEP, END2, 0);
  promql_result *plain = eval_range(&f->inner, NULL, "rate(g[3m])", START + 5 * STEP, END2, 0);
  assert_int_equal(f->selects, n);
  assert_true(same(plain, got));
  promql_result_free(got);
  promql_result_free(plain);
  promql_cache_free(c);
}

typedef struct writer {
  fixture *f;
  atomic_bool stop;
  atomic_uint written;
  unsigned failed;
} writer;

/* Appends a scrape of every series at recent times, ≤ 20,000 rounds. */
static void *write_recent(void *arg)
{
  writer *w = arg;
  int64_t t = END + STEP_MS + 7000;
  for (int i = 0; i < 20000 && !atomic_load(&w->stop); i++, t += 100) {
    for (int k = 0; k < NSER; k++)
      w->failed += try_append(w->f, k, t, i) != 1;
    atomic_fetch_add(&w->written, 1);
  }
  return NULL;
}

/* A thread keeps writing recent samples while an older range is queried
 * again and again: every repeat is a hit equal to an uncached run. */
static void test_hits_while_writing(void **state)
{
  fixture *f = *state;
  promql_queryable q = counting(f);
  promql_cache *c;
  assert_int_equal(promql_cache_new(1 << 20, &c), 0);
  const char *query = "sum by (id) (rate(m[5m]))";
  /* The change log summarises older changes: the one holding the cached
   * version may reach back by up to a third of the changes since. So the
   * setup's appends inside the range are pushed back by more than a third
   * of the writer's 20,000 rounds. */
  for (int i = 0; i < 7000; i++)
    append_one(f, NSER + 100, END + STEP_MS + i, i);
  promql_result *plain = eval(&f->inner, NULL, query, 0);
  promql_result_free(eval(&q, c, query, 0));
  unsigned n = f->selects;
  writer w = {.f = f};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, write_recent, &w), 0);
  int64_t give_up = lk_mono_ns() + 5000000000LL;
  while (atomic_load(&w.written) < 10 && lk_mono_ns() < give_up)
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  uint64_t v0 = tsdb_data_version(f->db);
  unsigned w0 = atomic_load(&w.written);
  int runs = 0, equal = 0; /* no cmocka assertion while the writer runs */
  give_up = lk_mono_ns() + 10000000000LL;
  while ((runs < 50 || atomic_load(&w.written) < w0 + 100) && runs < 20000 && lk_mono_ns() < give_up) {
    promql_result *r = eval(&q, c, query, 0);
    equal += same(plain, r);
    promql_result_free(r);
    runs++;
  }
  unsigned w1 = atomic_load(&w.written);
  uint64_t v1 = tsdb_data_version(f->db);
  atomic_store(&w.stop, true);
  pthread_join(th, NULL);
  assert_int_equal(w.failed, 0);
  assert_true(w1 >= w0 + 100 && v1 >= v0 + 100); /* ≥ 100 batches stored during the repeats */
  assert_int_equal(equal, runs);
  assert_int_equal(f->selects, n); /* every repeat answered from the cache */
  promql_result_free(plain);
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
    cmocka_unit_test_setup_teardown(test_only_writes_in_the_read_span_invalidate, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_order_write_invalidates, setup_ooo, teardown),
    cmocka_unit_test_setup_teardown(test_retention_invalidates, setup_retention, teardown),
    cmocka_unit_test_setup_teardown(test_hits_while_writing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_splice_equals_whole_evaluation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_limits_are_part_of_the_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
