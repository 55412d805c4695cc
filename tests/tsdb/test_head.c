/* test_head.c — the head's open chunk (tsdb/head_chunk.c): samples
 * encoded as they arrive read back bit for bit at every fill level, through
 * the codec directly (extreme timestamps, every kind of float64, reuse
 * after reset) and through the engine (select over part and all of the
 * open chunk, out-of-order samples mixed in, duplicates and conflicts found
 * inside it, WAL replay, a checkpoint written by a head cut, a flush);
 * and a tsdb_append_refs batch, applied stripe by stripe, keeps every
 * series' samples in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bench/lib/bench_rng.h"
#include "tests/tsdb/tsdb_test_util.h"
#include "tsdb/tsdb_int.h"

#define T0 1700000000000LL
#define STEP 15000LL
/* Fill levels tried: every count up to a whole open chunk and past a seal. */
#define MAX_FILL (TSDB_HEAD_CHUNK_SAMPLES + 10)

/* Value i of a test series: the awkward float64s, counters, gauges, runs
 * of repeats and random bit patterns (NaN payloads included). */
static double value_at(bench_rng *r, size_t i, double prev)
{
  static const uint64_t special[] = {
      TSDB_STALE_NAN_BITS, 0x7ff8000000000001ULL, 0xfff0000000000000ULL, 0x7ff0000000000000ULL,
      0x8000000000000000ULL, 0x0000000000000001ULL, 0x000fffffffffffffULL, 0x3ff0000000000000ULL,
  };
  switch (bench_rnd(r) % 6) {
  case 0:
    return tu_from_bits(special[i % (sizeof special / sizeof *special)]);
  case 1:
    return prev; /* a repeat: XOR 0 */
  case 2:
    return (double)(bench_rnd(r) % 100000) / 1000.0;
  case 3:
    return tu_from_bits(bench_rnd(r));
  default:
    return prev + (double)(bench_rnd(r) % 5000);
  }
}

/* Strictly increasing timestamps: steady, jittered, and the odd jump. */
static int64_t next_t(bench_rng *r, int64_t t)
{
  switch (bench_rnd(r) % 8) {
  case 0:
    return t + 1;
  case 1:
    return t + STEP + (int64_t)(bench_rnd(r) % 400000);
  default:
    return t + STEP + (int64_t)(bench_rnd(r) % 7) - 3;
  }
}

static void check_decoded(const tsdb__ochunk *o, const int64_t *t, const double *v, size_t n)
{
  int64_t dt[MAX_FILL];
  double dv[MAX_FILL];
  assert_int_equal(tsdb__ochunk_decode(o, dt, dv), n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(dt[i], t[i]);
    assert_int_equal(tu_bits(dv[i]), tu_bits(v[i]));
  }
}

/* The codec alone: every fill level of random series, then extreme
 * timestamps (wrapping int64 differences) and delta-of-deltas at the edges
 * of every width, each read back after every append; a reset chunk reused for
 * different samples reads back only those. */
static void test_codec_every_fill(void **state)
{
  (void)state;
  bench_rng r = {0x1234567u};
  int64_t t[MAX_FILL];
  double v[MAX_FILL];
  tsdb__ochunk o = {0};
  for (size_t n = 1; n <= MAX_FILL; n++) {
    tsdb__ochunk_reset(&o);
    int64_t ts = (int64_t)(bench_rnd(&r) % 1000000) - 500000;
    double prev = 0;
    for (size_t i = 0; i < n; i++) {
      ts = i ? next_t(&r, ts) : ts;
      t[i] = ts;
      v[i] = prev = value_at(&r, i, prev);
      tsdb__ochunk_append(&o, t[i], v[i]);
      check_decoded(&o, t, v, i + 1);
    }
    assert_int_equal(o.t0, t[0]);
    assert_int_equal(o.tn, t[n - 1]);
  }
  static const int64_t extreme[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, 127, 128, 8319, 1LL << 40,
                                    INT64_MAX - 1, INT64_MAX};
  size_t ne = sizeof extreme / sizeof *extreme;
  tsdb__ochunk_reset(&o);
  for (size_t i = 0; i < ne; i++) {
    t[i] = extreme[i];
    v[i] = (double)i;
    tsdb__ochunk_append(&o, t[i], v[i]);
    check_decoded(&o, t, v, i + 1);
  }
  /* delta-of-deltas at both ends of every width (zigzag 0, 127/128,
   * 16383/16384, 2^24 - 1/2^24) */
  static const int64_t dods[] = {0, -64, 63, 64, -8192, 8191, 8192, -(1LL << 23), (1LL << 23) - 1, 1LL << 23, 0};
  size_t nd = sizeof dods / sizeof *dods;
  tsdb__ochunk_reset(&o);
  int64_t delta = 1LL << 40;
  t[0] = 0;
  for (size_t i = 0; i <= nd; i++) {
    if (i) {
      delta += dods[i - 1];
      t[i] = t[i - 1] + delta;
    }
    v[i] = (double)i;
    tsdb__ochunk_append(&o, t[i], v[i]);
    check_decoded(&o, t, v, i + 1);
  }
  tsdb__ochunk_fini(&o);
  assert_null(o.data);
}

static tsdb_result *select_fill(tsdb *db, size_t n, int64_t mint, int64_t maxt)
{
  char name[32];
  snprintf(name, sizeof name, "fill_%zu", n);
  return tu_select1(db, TSDB_EQ, "__name__", name, mint, maxt);
}

/* The samples of series fill_N, as appended. */
typedef struct fill {
  int64_t t[MAX_FILL];
  double v[MAX_FILL];
} fill;

static void make_fill(size_t n, fill *f)
{
  bench_rng r = {0x9e3779b9u + n};
  int64_t ts = T0;
  double prev = 0;
  for (size_t i = 0; i < n; i++) {
    ts = i ? next_t(&r, ts) : ts;
    f->t[i] = ts;
    f->v[i] = prev = value_at(&r, i, prev);
  }
}

/* Series fill_N reads back as samples [a, b) of make_fill(N). */
static void expect_range(tsdb *db, size_t n, const fill *f, size_t a, size_t b)
{
  tsdb_result *res = select_fill(db, n, f->t[a], f->t[b - 1]);
  assert_non_null(res);
  assert_int_equal(tsdb_result_count(res), 1);
  const tsdb_series *s = tsdb_result_get(res, 0);
  assert_int_equal(s->n, b - a);
  for (size_t i = a; i < b; i++) {
    assert_int_equal(s->t[i - a], f->t[i]);
    assert_int_equal(tu_bits(s->v[i - a]), tu_bits(f->v[i]));
  }
  tsdb_result_free(res);
}

static void expect_fills(tsdb *db)
{
  fill f;
  for (size_t n = 1; n <= MAX_FILL; n++) {
    make_fill(n, &f);
    expect_range(db, n, &f, 0, n);
    expect_range(db, n, &f, n / 3, n - n / 4);
    expect_range(db, n, &f, n - 1, n);
  }
}

/* Series holding 1..MAX_FILL samples (the last ones past a seal) read back
 * whole and in part from the open chunk, then after a WAL replay, then
 * from the block a flush wrote. */
static void test_engine_every_fill(void **state)
{
  tu_fx *fx = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1};
  tsdb *db = tu_open(&o, fx->dir);
  assert_non_null(db);
  fill f;
  for (size_t n = 1; n <= MAX_FILL; n++) {
    char name[32];
    snprintf(name, sizeof name, "fill_%zu", n);
    const char *kv[] = {"__name__", name, "job", "head", NULL};
    make_fill(n, &f);
    tsdb_append_stats st;
    for (size_t i = 0; i < n; i++) /* one sample per append, as a scraper sends them */
      assert_int_equal(tu_append(db, &f.t[i], &f.v[i], 1, &st, kv), 0);
  }
  expect_fills(db);
  tsdb_close(db);
  db = tu_open(&o, fx->dir);
  assert_non_null(db);
  expect_fills(db);
  assert_int_equal(tsdb_flush(db, NULL), 0);
  expect_fills(db);
  tsdb_close(db);
}

/* Out-of-order samples inside the open chunk's span: new ones are stored,
 * a resent sample is a duplicate and a different value at a stored
 * timestamp a conflict, whether the stored sample sits in the open chunk
 * or in a sealed one; everything reads back merged in order, also after
 * a WAL replay. */
static void test_ooo_mixed(void **state)
{
  tu_fx *fx = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1, .ooo_window_ms = 3600000};
  tsdb *db = tu_open(&o, fx->dir);
  assert_non_null(db);
  const char *kv[] = {"__name__", "ooo", NULL};
  size_t n_in = TSDB_HEAD_CHUNK_SAMPLES + 40; /* one sealed chunk, 40 open */
  int64_t t[TSDB_HEAD_CHUNK_SAMPLES + 40];
  double v[TSDB_HEAD_CHUNK_SAMPLES + 40];
  for (size_t i = 0; i < n_in; i++) {
    t[i] = T0 + (int64_t)i * 10;
    v[i] = (double)(i * 7 % 13);
  }
  tsdb_append_stats st;
  assert_int_equal(tu_append(db, t, v, n_in, &st, kv), 0);
  assert_int_equal(st.accepted, n_in);
  /* in the open chunk: a new sample, a duplicate, a conflict */
  int64_t ot[] = {t[n_in - 5] + 5, t[n_in - 10], t[n_in - 12], t[3] + 1, t[5], t[6]};
  double ov[] = {-1.5, v[n_in - 10], v[n_in - 12] + 1, -2.5, v[5], v[6] + 1};
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(tu_append(db, &ot[i], &ov[i], 1, &st, kv), 0);
    size_t kind = i % 3; /* 0 new, 1 duplicate, 2 conflict */
    assert_int_equal(st.accepted, kind == 0);
    assert_int_equal(st.duplicates, kind == 1);
    assert_int_equal(st.rejected[TSDB_REJECT_CONFLICT], kind == 2);
  }
  for (int pass = 0; pass < 2; pass++) {
    tsdb_result *res = tu_select1(db, TSDB_EQ, "__name__", "ooo", T0, T0 + 1000000);
    assert_non_null(res);
    const tsdb_series *s = tsdb_result_get(res, 0);
    assert_int_equal(s->n, n_in + 2);
    for (size_t i = 0, k = 0; i < s->n; i++) {
      if (s->t[i] == ot[0] || s->t[i] == ot[3]) {
        assert_true(s->v[i] == (s->t[i] == ot[0] ? ov[0] : ov[3]));
        continue;
      }
      assert_int_equal(s->t[i], t[k]);
      assert_true(s->v[i] == v[k]);
      k++;
    }
    tsdb_result_free(res);
    tsdb_close(db);
    db = tu_open(&o, fx->dir);
    assert_non_null(db);
  }
  tsdb_close(db);
}

/* A head cut persists the oldest range and checkpoints the rest: open
 * chunks (with the samples before the cut dropped from them) go into the
 * checkpoint and come back on replay. */
static void test_cut_checkpoint(void **state)
{
  tu_fx *fx = *state;
  const int64_t range = 3600000;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1, .block_range_ms = range,
                 .head_min_samples = 1};
  tsdb *db = tu_open(&o, fx->dir);
  assert_non_null(db);
  enum { NSER = 20, NSAMP = 400 };
  const int64_t step = 27000; /* 400 samples: 3 h; a cut once the head spans 1.5 h */
  for (size_t i = 0; i < NSAMP; i++)
    for (size_t k = 0; k < NSER; k++) {
      char id[16];
      snprintf(id, sizeof id, "%zu", k);
      const char *kv[] = {"__name__", "cut", "id", id, NULL};
      int64_t ts = T0 + (int64_t)i * step + (int64_t)k;
      double val = (double)(i * (k + 1)) + 0.25 * (double)k;
      assert_int_equal(tu_append(db, &ts, &val, 1, NULL, kv), 0);
    }
  for (int pass = 0; pass < 2; pass++) {
    tsdb_status *st;
    assert_int_equal(tsdb_status_get(db, 0, &st), 0);
    assert_true(st->blocks >= 1);
    tsdb_status_free(st);
    tsdb_result *res = tu_select1(db, TSDB_EQ, "__name__", "cut", T0, T0 + NSAMP * step + NSER);
    assert_non_null(res);
    assert_int_equal(tsdb_result_count(res), NSER);
    for (size_t k = 0; k < NSER; k++) {
      const tsdb_series *s = tsdb_result_get(res, k);
      size_t id = (size_t)atoi(lk_labels_get(s->labels, s->nlabels, "id"));
      assert_int_equal(s->n, NSAMP);
      for (size_t i = 0; i < NSAMP; i++) {
        assert_int_equal(s->t[i], T0 + (int64_t)i * step + (int64_t)id);
        assert_true(s->v[i] == (double)(i * (id + 1)) + 0.25 * (double)id);
      }
    }
    tsdb_result_free(res);
    tsdb_close(db);
    db = tu_open(&o, fx->dir);
    assert_non_null(db);
  }
  tsdb_close(db);
}

/* tsdb_append_refs applies a batch stripe by stripe: 600 series (ids that
 * share stripes), their samples interleaved round-robin in one batch, a
 * series' later samples after other series' in between, a duplicate and a
 * conflict among them. Every series keeps its samples in order (none is
 * refused as out of order) and the WAL replays the same. */
static void test_refs_interleaved(void **state)
{
  tu_fx *fx = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1};
  tsdb *db = tu_open(&o, fx->dir);
  assert_non_null(db);
  enum { NSER = 600, PER = 5 };
  lk_label(*ls)[2] = malloc(NSER * sizeof *ls);
  char(*ids)[16] = malloc(NSER * sizeof *ids);
  tsdb_series_in *in = malloc(NSER * sizeof *in);
  for (size_t k = 0; k < NSER; k++) {
    snprintf(ids[k], sizeof ids[k], "%zu", k);
    ls[k][0] = (lk_label){"__name__", "rr"};
    ls[k][1] = (lk_label){"id", ids[k]};
    in[k] = (tsdb_series_in){ls[k], 2, NULL, 0};
  }
  tsdb_ref *refs = malloc(NSER * sizeof *refs);
  assert_int_equal(tsdb_series_refs(db, in, NSER, refs, NULL), 0);
  size_t n = NSER * PER + 2;
  tsdb_ref_sample *smp = malloc(n * sizeof *smp);
  for (size_t i = 0; i < PER; i++)
    for (size_t k = 0; k < NSER; k++)
      smp[i * NSER + k] = (tsdb_ref_sample){refs[k], T0 + (int64_t)i * STEP, (double)(k * 10 + i)};
  int64_t last = T0 + (PER - 1) * STEP;
  smp[n - 2] = (tsdb_ref_sample){refs[7], last, 70.0 + PER - 1}; /* duplicate */
  smp[n - 1] = (tsdb_ref_sample){refs[8], last, -1.0};           /* conflict */
  tsdb_append_stats st;
  assert_int_equal(tsdb_append_refs(db, smp, n, &st, NULL), 0);
  assert_int_equal(st.accepted, NSER * PER);
  assert_int_equal(st.duplicates, 1);
  assert_int_equal(st.rejected[TSDB_REJECT_CONFLICT], 1);
  assert_int_equal(st.rejected[TSDB_REJECT_OUT_OF_ORDER], 0);
  for (int pass = 0; pass < 2; pass++) {
    tsdb_result *res = tu_select1(db, TSDB_EQ, "__name__", "rr", T0, T0 + PER * STEP);
    assert_non_null(res);
    assert_int_equal(tsdb_result_count(res), NSER);
    for (size_t j = 0; j < NSER; j++) {
      const tsdb_series *s = tsdb_result_get(res, j);
      size_t k = (size_t)atoi(lk_labels_get(s->labels, s->nlabels, "id"));
      assert_int_equal(s->n, PER);
      for (size_t i = 0; i < PER; i++) {
        assert_int_equal(s->t[i], T0 + (int64_t)i * STEP);
        assert_true(s->v[i] == (double)(k * 10 + i));
      }
    }
    tsdb_result_free(res);
    tsdb_close(db);
    db = tu_open(&o, fx->dir);
    assert_non_null(db);
  }
  tsdb_close(db);
  free(smp);
  free(refs);
  free(in);
  free(ids);
  free(ls);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_codec_every_fill),
    cmocka_unit_test_setup_teardown(test_engine_every_fill, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_ooo_mixed, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_cut_checkpoint, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_refs_interleaved, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
