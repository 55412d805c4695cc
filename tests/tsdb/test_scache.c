/* test_scache.c — the sample cache (tsdb/scache.c) and result slabs
 * (tsdb/slab.c) through the public API, on real blocks in temporary
 * directories: cached reads give exactly what decoding gives (random
 * ranges, checked against the same data reopened with the cache off), the
 * budget holds with evictions, a removed block's chunks leave the cache,
 * concurrent readers under eviction pressure see correct samples, and
 * large (pooled) slabs are reused and may outlive the database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>

#include "tests/tsdb/tsdb_test_util.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)
#define START 1699963200000LL /* a multiple of 18 h */
#define STEP 15000LL
#define NSER 24

static double val(int i, int64_t t)
{
  return (double)i * 1e6 + (double)((t - START) / STEP) * 0.125 + (double)(t % 7);
}

static int64_t ts(int64_t k)
{
  return START + k * STEP + (k % 5); /* a little jitter */
}

/* NSER series "id"=<i> with a sample at ts(k) for k in [k0, k1). */
static void load(tsdb *db, int64_t k0, int64_t k1)
{
  tsdb_ref refs[NSER];
  for (int i = 0; i < NSER; i++) {
    char id[8];
    snprintf(id, sizeof id, "%02d", i);
    lk_label ls[] = {{"__name__", "m"}, {"id", id}};
    assert_int_equal(tsdb_series_ref(db, ls, 2, &refs[i], NULL), 0);
  }
  tsdb_ref_sample b[NSER];
  for (int64_t k = k0; k < k1; k++) {
    for (int i = 0; i < NSER; i++)
      b[i] = (tsdb_ref_sample){refs[i], ts(k), val(i, ts(k))};
    assert_int_equal(tsdb_append_refs(db, b, NSER, NULL, NULL), 0);
  }
}

static tsdb_status *status(tsdb *db)
{
  tsdb_status *st = NULL;
  assert_int_equal(tsdb_status_get(db, 0, &st), 0);
  return st;
}

/* Does the select of [lo, hi] hold exactly the generated samples? (no
 * cmocka asserts: readers run on threads) */
static bool range_ok(tsdb *db, int64_t lo, int64_t hi, int64_t kmax)
{
  tsdb_matcher m = {TSDB_EQ, "__name__", "m"};
  tsdb_result *r = NULL;
  if (tsdb_select(db, &m, 1, lo, hi, NULL, &r, NULL))
    return false;
  bool ok = tsdb_result_count(r) == NSER;
  for (size_t j = 0; ok && j < NSER; j++) {
    const tsdb_series *s = tsdb_result_get(r, j);
    int i = atoi(lk_labels_get(s->labels, s->nlabels, "id"));
    size_t n = 0;
    for (int64_t k = 0; ok && k < kmax; k++) {
      if (ts(k) < lo || ts(k) > hi)
        continue;
      ok = n < s->n && s->t[n] == ts(k) && s->v[n] == val(i, ts(k));
      n++;
    }
    ok = ok && s->n == n;
  }
  tsdb_result_free(r);
  return ok;
}

static void check_range(tsdb *db, int64_t lo, int64_t hi, int64_t kmax)
{
  assert_true(range_ok(db, lo, hi, kmax));
}

/* rounds random ranges, each exact; false at the first wrong one. */
static bool random_ranges(tsdb *db, unsigned seed, int rounds, int64_t kmax)
{
  for (int q = 0; q < rounds; q++) {
    int64_t a = (int64_t)(rand_r(&seed) % (unsigned)kmax), b = (int64_t)(rand_r(&seed) % (unsigned)kmax);
    int64_t lo = ts(a < b ? a : b) - (int64_t)(rand_r(&seed) % 3);
    int64_t hi = ts(a < b ? b : a) + (int64_t)(rand_r(&seed) % 3);
    if (!range_ok(db, lo, hi, kmax))
      return false;
  }
  return true;
}

/* 12 h in blocks: cold reads decode and fill the cache, warm reads hit it,
 * every answer equals the generated data; then the same with the cache
 * off. */
static void test_cached_reads_equal_decoded(void **state)
{
  tu_fx *f = *state;
  enum { K = 12 * 240 };
  tsdb *db = tu_open(NULL, f->dir);
  load(db, 0, K);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  tsdb_status *st = status(db);
  assert_true(st->blocks >= 1);
  assert_int_equal(st->sample_cache_hits_total + st->sample_cache_misses_total, 0);
  tsdb_status_free(st);
  check_range(db, START, START + 12 * HOUR, K);
  st = status(db);
  uint64_t misses = st->sample_cache_misses_total;
  assert_true(misses > 0);
  assert_int_equal(st->sample_cache_hits_total, 0);
  assert_true(st->sample_cache_bytes >= (uint64_t)K * NSER * 16);
  tsdb_status_free(st);
  check_range(db, START, START + 12 * HOUR, K);
  st = status(db);
  assert_int_equal(st->sample_cache_misses_total, misses); /* all warm */
  assert_int_equal(st->sample_cache_hits_total, misses);
  tsdb_status_free(st);
  assert_true(random_ranges(db, 7, 40, K));
  tsdb_close(db);
  tsdb_opts off = {.sample_cache_bytes = -1};
  db = tu_open(&off, f->dir);
  assert_true(random_ranges(db, 7, 40, K));
  st = status(db);
  assert_int_equal(st->sample_cache_hits_total + st->sample_cache_misses_total + st->sample_cache_bytes, 0);
  tsdb_status_free(st);
  tsdb_close(db);
}

/* A budget far below the data: bytes stay within it, entries are evicted,
 * answers stay exact. */
static void test_budget_and_eviction(void **state)
{
  tu_fx *f = *state;
  enum { K = 6 * 240 };
  tsdb_opts o = {.sample_cache_bytes = 64 << 10};
  tsdb *db = tu_open(&o, f->dir);
  load(db, 0, K);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  assert_true(random_ranges(db, 11, 30, K));
  tsdb_status *st = status(db);
  assert_true(st->sample_cache_bytes <= 64 << 10);
  assert_true(st->sample_cache_evictions_total > 0);
  tsdb_status_free(st);
  tsdb_close(db);
}

/* Blocks removed by retention take their cached chunks with them. */
static void test_removed_block_leaves_cache(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.retention_ms = 3 * HOUR, .head_min_samples = 1};
  tsdb *db = tu_open(&o, f->dir);
  load(db, 0, 2 * 240);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  check_range(db, START, START + 2 * HOUR, 2 * 240);
  tsdb_status *st = status(db);
  assert_true(st->sample_cache_bytes > 0);
  tsdb_status_free(st);
  load(db, 40 * 240, 41 * 240); /* 40 h later: the first block is past retention */
  assert_int_equal(tsdb_flush(db, NULL), 0);
  st = status(db);
  assert_int_equal(st->sample_cache_bytes, 0);
  assert_true(st->min_t >= ts(40 * 240) - 3 * HOUR);
  tsdb_status_free(st);
  tsdb_close(db);
}

typedef struct rd {
  tsdb *db;
  unsigned seed;
  bool ok;
} rd;

static void *reader(void *arg)
{
  rd *r = arg;
  r->ok = random_ranges(r->db, r->seed, 12, 6 * 240);
  return NULL;
}

/* Four readers at once over a tiny budget: pins, installs and evictions
 * interleave; every answer is exact. */
static void test_concurrent_readers(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.sample_cache_bytes = 96 << 10};
  tsdb *db = tu_open(&o, f->dir);
  load(db, 0, 6 * 240);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  pthread_t th[4];
  rd r[4];
  for (int i = 0; i < 4; i++) {
    r[i] = (rd){db, 100u + (unsigned)i, false};
    assert_int_equal(pthread_create(&th[i], NULL, reader, &r[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_true(r[i].ok);
  }
  tsdb_status *st = status(db);
  assert_true(st->sample_cache_hits_total > 0);
  assert_true(st->sample_cache_evictions_total > 0);
  tsdb_status_free(st);
  tsdb_close(db);
}

/* Results large enough for mapped, pooled slabs: reused across selects,
 * and a result freed after tsdb_close is still valid until then. */
static void test_large_slabs_reused(void **state)
{
  tu_fx *f = *state;
  enum { K = 48 * 240 }; /* 24 series × 11,520 samples × 16 B ≈ 4.4 MB */
  tsdb_opts o = {.retention_ms = 30 * 24 * HOUR};
  tsdb *db = tu_open(&o, f->dir);
  load(db, 0, K);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  for (int round = 0; round < 3; round++)
    check_range(db, START, START + 48 * HOUR, K);
  tsdb_result *keep = tu_select1(db, TSDB_EQ, "__name__", "m", START, START + 48 * HOUR);
  tsdb_close(db);
  assert_int_equal(tsdb_result_count(keep), NSER);
  const tsdb_series *s = tsdb_result_get(keep, NSER - 1);
  assert_int_equal(s->n, K);
  assert_true(s->v[K - 1] == val(NSER - 1, ts(K - 1)));
  tsdb_result_free(keep);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cached_reads_equal_decoded, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_budget_and_eviction, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_removed_block_leaves_cache, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_readers, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_large_slabs_reused, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
