/* test_rollup_codec.c — the block rollup file (tsdb/rollup.c) codes every
 * record bit for bit, compactly, and is written as it goes.
 *
 * - Lossless: series built to hit each path of the value coding (integer
 *   and 9-decimal counters with few and many drops, page-step gauges,
 *   NaN, ±Inf, -0.0, denormals, integers past 2^53, binary fractions mixed
 *   into integer series, scale-22 decimals, sums at the exact-integer
 *   limit, sparse samples, an empty series) are written, read back and
 *   compared with tsdb__rollup_compute field by field, value bits included.
 * - Version 1 files (values as XORs, written before decimals) still read:
 *   a file written by that build is embedded below.
 * - Compact: through the public API, integer and short-decimal series at a
 *   60 s scrape cost under 15 bytes per series and hour (version 1: 17.8).
 * - Streaming: a writer past TSDB_ROLLUP_FLUSH_BYTES has written to its file
 *   before it finishes; freeing an unfinished writer leaves no file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/helpers/disk_fx.h"
#include "tests/tsdb/tsdb_test_util.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

#define H_MS 3600000LL
#define T0 1700006400000LL /* a whole hour */
#define NKINDS 12
#define MAXN 20000

static uint64_t rng_state;
static uint64_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static double from_bits(uint64_t b)
{
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* A value that no decimal scale holds, or that breaks the integer paths. */
static double odd_value(void)
{
  static const uint64_t bits[] = {0x7ff8000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
                                  0x8000000000000000ULL, 0x0000000000000001ULL, 0x7fefffffffffffffULL,
                                  0x43b0000000000001ULL, TSDB_STALE_NAN_BITS, 0x7ff8dead0000beefULL};
  switch (rnd() % 12) {
  case 0: return 1.0 / 3;
  case 1: return -2.0 / 7;
  case 2: return 0.1 + 0.2;
  default: return from_bits(bits[rnd() % (sizeof bits / sizeof *bits)]);
  }
}

/* Series kind k over hours [h0, h0 + nh) (one sample per step, some gaps). */
static size_t gen(int k, int64_t h0, int nh, int64_t *t, double *v)
{
  int64_t step = k == 5 ? 50 * 60000 : k == 11 ? 15000 : 60000, off = (int64_t)(rnd() % 60000);
  int64_t x = (int64_t)(rnd() % 100000), rate = 1 + (int64_t)(rnd() % 2000);
  size_t n = 0;
  for (int64_t ts = T0 + h0 * H_MS + off; ts < T0 + (h0 + nh) * H_MS && n < MAXN; ts += step) {
    double y;
    switch (k) {
    case 0: /* integer counter: a few drops in hour 2, many in hour 4 */
      x += (int64_t)(rnd() % (uint64_t)(2 * rate));
      if ((ts / H_MS % 24 == 2 && rnd() % 20 == 0) || (ts / H_MS % 24 == 4 && rnd() % 3 == 0))
        x = (int64_t)(rnd() % 1000);
      y = (double)x;
      break;
    case 1: /* CPU seconds: nanoseconds printed with 9 decimals */
      x += (int64_t)(rnd() % (uint64_t)(2000 * rate));
      y = (double)x / 1e9;
      break;
    case 2: /* page-step gauge near 2^40 */
      x += n ? (rnd() % 2 ? ((int64_t)(rnd() % 33) - 16) * 4096 : 0) : (1LL << 40);
      y = (double)x;
      break;
    case 3: /* integers with odd values mixed in */
      y = rnd() % 9 ? (double)(x += (int64_t)(rnd() % 50) - 20) : odd_value();
      break;
    case 4: /* zeros of both signs; every third hour only -0.0 (its sum is -0.0) */
      y = rnd() % 2 && ts / H_MS % 3 ? 0.0 : -0.0;
      break;
    case 5: /* sparse: one sample per 50 min, gauge decimals */
      y = (double)(int64_t)(rnd() % 100000) / 100;
      break;
    case 6: /* scale-22 decimals */
      y = (double)(int64_t)(rnd() % 1000) / 1e22;
      break;
    case 7: /* integers too large to sum exactly, and past 2^53 */
      y = rnd() % 2 ? 4503599627370496.0 + (double)(rnd() % 1000) : 18014398509481984.0 * (1 + (double)(rnd() % 8));
      break;
    case 8: /* integers whose sum reaches the exact limit (60 · 2^47 < 2^53) */
      y = (rnd() % 2 ? -1 : 1) * (140737488355328.0 - (double)(rnd() % 1000));
      break;
    case 9: /* binary fractions only */
      y = (double)rnd() / 3.0e15;
      break;
    case 10: /* negative integer gauge */
      y = -(double)(x += (int64_t)(rnd() % 7) - 3);
      break;
    default: /* 15 s counter of decimals with one fraction digit, occasional stale marker */
      x += (int64_t)(rnd() % 30);
      y = rnd() % 50 ? (double)x / 10 : from_bits(TSDB_STALE_NAN_BITS);
      break;
    }
    if (k == 0 && ts / H_MS % 24 == 7) /* a gap */
      continue;
    t[n] = ts;
    v[n++] = y;
  }
  return n;
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void same_records(const tsdb__rvec *a, const tsdb__rvec *b, int k)
{
  if (a->n != b->n)
    fail_msg("kind %d: %zu records written, %zu read", k, a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    const tsdb_rollup_rec *x = &a->r[i], *y = &b->r[i];
    bool ok = x->end == y->end && x->first_t == y->first_t && x->last_t == y->last_t && x->count == y->count &&
              same_bits(x->first_v, y->first_v) && same_bits(x->last_v, y->last_v) && same_bits(x->min, y->min) &&
              same_bits(x->max, y->max) && same_bits(x->sum, y->sum) && x->integral == y->integral &&
              x->nresets == y->nresets && x->tail_first_t == y->tail_first_t &&
              same_bits(x->tail_first_v, y->tail_first_v) && x->tail_count == y->tail_count &&
              x->tail_nresets == y->tail_nresets;
    for (uint32_t j = 0; ok && x->nresets != TSDB_ROLLUP_MANY_RESETS && j < x->nresets; j++)
      ok = same_bits(a->resets[x->reset_off + j], b->resets[y->reset_off + j]);
    if (!ok)
      fail_msg("kind %d, record %zu (end %lld): first %a last %a min %a max %a sum %a read as %a %a %a %a %a", k, i,
               (long long)x->end, x->first_v, x->last_v, x->min, x->max, x->sum, y->first_v, y->last_v, y->min,
               y->max, y->sum);
  }
}

/* Read series id of the rollup file in dir against the samples it came from. */
static void check_series(const tsdb__rollup *ru, uint32_t id, int k, const int64_t *t, const double *v, size_t n)
{
  tsdb__rvec want = {0}, got = {0};
  tsdb__rcache c = {0};
  tsdb__rollup_compute(t, v, n, TSDB_ROLLUP_1H, &want);
  assert_int_equal(tsdb__rollup_read(ru, TSDB_ROLLUP_1H, id, INT64_MIN, INT64_MAX, &c, &got), 0);
  same_records(&want, &got, k);
  tsdb__rvec_fini(&want);
  tsdb__rvec_fini(&got);
  tsdb__rcache_fini(&c);
}

/* Every kind, twice (different random draws), plus an empty series: the
 * file gives back exactly what was computed. */
static void test_every_value_round_trips(void **state)
{
  (void)state;
  char *dir = tu_tmpdir();
  static int64_t t[2 * NKINDS + 1][MAXN];
  static double v[2 * NKINDS + 1][MAXN];
  size_t n[2 * NKINDS + 1];
  rng_state = 0x9E3779B97F4A7C15ULL;
  tsdb__rwriter *w = tsdb__rwriter_new(dir);
  for (int s = 0; s < 2 * NKINDS + 1; s++) {
    n[s] = s == 2 * NKINDS ? 0 : gen(s % NKINDS, s / NKINDS * 3, 30, t[s], v[s]);
    tsdb__rwriter_add(w, t[s], v[s], n[s]);
  }
  assert_int_equal(tsdb__rwriter_finish(w), 0);
  tsdb__rollup *ru = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb__rollup_open(dir, 2 * NKINDS + 1, &ru, &d), 0);
  assert_non_null(ru);
  for (int s = 0; s < 2 * NKINDS + 1; s++)
    check_series(ru, (uint32_t)s, s % NKINDS, t[s], v[s], n[s]);
  tsdb__rollup_close(ru);
  tu_rmdir(dir);
}

/* Written by the version 1 writer (tsdb/rollup.c before decimals) from
 * gen() of kinds 0, 1, 3, 5, 9 and 11 over hours [0, 6), rng seeded as below. */
static const uint8_t v1_file[] = {
#include "tests/tsdb/rollup_v1.inc"
};
static const int v1_kinds[] = {0, 1, 3, 5, 9, 11};

static void test_version1_file_reads(void **state)
{
  (void)state;
  char *dir = tu_tmpdir();
  char *path = tsdb__path(dir, "/", TSDB_FILE_ROLLUP);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(v1_file, 1, sizeof v1_file, f), sizeof v1_file);
  fclose(f);
  assert_int_equal(v1_file[4], 1);
  size_t nk = sizeof v1_kinds / sizeof *v1_kinds;
  tsdb__rollup *ru = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb__rollup_open(dir, nk, &ru, &d), 0);
  assert_non_null(ru);
  static int64_t t[MAXN];
  static double v[MAXN];
  rng_state = 0x2545F4914F6CDD1DULL;
  for (size_t i = 0; i < nk; i++) {
    size_t n = gen(v1_kinds[i], 0, 6, t, v);
    check_series(ru, (uint32_t)i, v1_kinds[i], t, v, n);
  }
  tsdb__rollup_close(ru);
  free(path);
  tu_rmdir(dir);
}

static uint64_t rollup_bytes(const char *dir, int *files)
{
  DIR *dp = opendir(dir);
  assert_non_null(dp);
  uint64_t total = 0;
  for (struct dirent *e; (e = readdir(dp));) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s/%s", dir, e->d_name, TSDB_FILE_ROLLUP);
    if (!strncmp(e->d_name, "b-", 2) && !stat(p, &st)) {
      total += (uint64_t)st.st_size;
      (*files)++;
    }
  }
  closedir(dp);
  return total;
}

/* Through the public API: counters of integers and of 9-decimal CPU
 * seconds and page-step gauges, 60 s apart for 3 days, flushed (which
 * writes rollups): under 15 bytes per series and hour (12.5 measured;
 * version 1, values as XORs: 17.8). */
static void test_integer_series_compact(void **state)
{
  (void)state;
  char *dir = tu_tmpdir();
  tsdb_opts o = {.dir = dir, .retention_ms = 3650LL * 24 * H_MS};
  tsdb *db;
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &db, &d), 0);
  enum { NSER = 30, HOURS = 72 };
  static int64_t t[MAXN];
  static double v[MAXN];
  static lk_sample s[MAXN];
  rng_state = 0xD1B54A32D192ED03ULL;
  for (int i = 0; i < NSER; i++) {
    size_t n = gen(i % 3, 0, HOURS, t, v);
    for (size_t j = 0; j < n; j++)
      s[j] = (lk_sample){t[j], v[j]};
    char id[8];
    snprintf(id, sizeof id, "%d", i);
    lk_label l[2] = {{"__name__", "m"}, {"id", id}};
    tsdb_series_in in = {l, 2, s, n};
    tsdb_append_stats st;
    assert_int_equal(tsdb_append(db, &in, 1, &st, &d), 0);
  }
  assert_int_equal(tsdb_flush(db, &d), 0);
  tsdb_close(db);
  int files = 0;
  uint64_t bytes = rollup_bytes(dir, &files);
  assert_true(files > 0);
  double per_record = (double)bytes / (NSER * HOURS);
  if (per_record >= 15)
    fail_msg("%.2f bytes per series and hour (%llu bytes in %d files)", per_record, (unsigned long long)bytes,
             files);
  tu_rmdir(dir);
}

/* Binary floats (XOR-coded, barely compressible) enough to pass
 * TSDB_ROLLUP_FLUSH_BYTES: the file is there before finish; an unfinished
 * writer's file goes with the writer. */
static void test_writer_streams(void **state)
{
  (void)state;
  char *dir = tu_tmpdir();
  char *path = tsdb__path(dir, "/", TSDB_FILE_ROLLUP);
  enum { HOURS = 700, PER_HOUR = 4 };
  static int64_t t[HOURS * PER_HOUR];
  static double v[HOURS * PER_HOUR];
  rng_state = 0x94D049BB133111EBULL;
  struct stat st;
  for (int round = 0; round < 2; round++) {
    tsdb__rwriter *w = tsdb__rwriter_new(dir);
    for (int s = 0; s < 60; s++) {
      for (size_t i = 0; i < HOURS * PER_HOUR; i++) {
        t[i] = T0 + (int64_t)i * (H_MS / PER_HOUR) + 1;
        v[i] = (double)rnd() / 3.0e15;
      }
      tsdb__rwriter_add(w, t, v, HOURS * PER_HOUR);
    }
    assert_int_equal(stat(path, &st), 0);
    assert_true((uint64_t)st.st_size >= TSDB_ROLLUP_FLUSH_BYTES);
    if (round == 0) {
      tsdb__rwriter_free(w);
      assert_int_equal(stat(path, &st), -1);
    } else {
      assert_int_equal(tsdb__rwriter_finish(w), 0);
    }
  }
  tsdb__rollup *ru = NULL;
  lk_diag d = {0};
  assert_int_equal(tsdb__rollup_open(dir, 60, &ru, &d), 0);
  assert_non_null(ru);
  check_series(ru, 59, 9, t, v, HOURS * PER_HOUR);
  tsdb__rollup_close(ru);
  free(path);
  tu_rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_value_round_trips),
    cmocka_unit_test(test_version1_file_reads),
    cmocka_unit_test(test_integer_series_compact),
    cmocka_unit_test(test_writer_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
