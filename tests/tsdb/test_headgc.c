/* test_headgc.c — head GC: idle series leave memory at head cuts, stale
 * refs are an error (not a crash), the WAL checkpoint does not bring
 * dropped series back, max_series counts live series, and a churning
 * workload (2,000 new series per simulated minute for 6 simulated hours)
 * keeps the head's memory and the process RSS flat while every sample
 * reads back through the query path; series with one sample each, and
 * series with an open chunk of 100 samples, hold little memory. */
#include <malloc.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/lk_time.h"
#include "tests/tsdb/tsdb_test_util.h"
#include "tests/helpers/mem_fx.h"

#define MIN_MS 60000LL
#define T0 1700000000000LL

static uint64_t head_series(tsdb *db)
{
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 0, &st), 0);
  uint64_t n = st->head_series;
  tsdb_status_free(st);
  return n;
}

static void append1(tsdb *db, const char *name, const char *id, int64_t t, double v)
{
  lk_label ls[] = {{"__name__", name}, {"id", id}};
  lk_sample s = {t, v};
  tsdb_series_in in = {ls, 2, &s, 1};
  tsdb_append_stats st;
  assert_int_equal(tsdb_append(db, &in, 1, &st, NULL), 0);
  assert_int_equal(st.accepted, 1);
}

static size_t count_samples(tsdb *db, const char *name, const char *id, int64_t mint, int64_t maxt)
{
  tsdb_matcher m[] = {{TSDB_EQ, "__name__", name}, {TSDB_EQ, "id", id}};
  tsdb_result *r;
  assert_int_equal(tsdb_select(db, m, 2, mint, maxt, NULL, &r, NULL), 0);
  size_t n = tsdb_result_count(r) ? tsdb_result_get(r, 0)->n : 0;
  tsdb_result_free(r);
  return n;
}

/* A series idle for more than a block range is dropped at the next cut;
 * its ref then answers LK_ENOENT; its labels resolve to a new ref; its old
 * samples still read back from blocks, and a resent old sample is still
 * recognised as a duplicate. */
static void test_stale_ref(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = 60 * MIN_MS, .head_min_samples = 1};
  tsdb *db = tu_open(&o, f->dir);
  lk_label a[] = {{"__name__", "gc"}, {"id", "a"}};
  tsdb_ref ra;
  assert_int_equal(tsdb_series_ref(db, a, 2, &ra, NULL), 0);
  tsdb_ref_sample s = {ra, T0, 1};
  assert_int_equal(tsdb_append_refs(db, &s, 1, NULL, NULL), 0);
  append1(db, "gc", "b", T0 + 10 * MIN_MS, 2);
  assert_int_equal(head_series(db), 2);
  append1(db, "gc", "b", T0 + 200 * MIN_MS, 3); /* head cut: a is idle and persisted */
  assert_int_equal(head_series(db), 1);

  lk_diag d = {0};
  s = (tsdb_ref_sample){ra, T0 + 201 * MIN_MS, 4};
  assert_int_equal(tsdb_append_refs(db, &s, 1, NULL, &d), LK_ENOENT);
  assert_non_null(strstr(d.msg, "stale"));
  tsdb_ref_sample never = {ra + 12345, T0 + 201 * MIN_MS, 4};
  assert_int_equal(tsdb_append_refs(db, &never, 1, NULL, NULL), LK_EINVAL);
  assert_int_equal(count_samples(db, "gc", "a", T0, T0 + 300 * MIN_MS), 1);

  tsdb_ref ra2;
  assert_int_equal(tsdb_series_ref(db, a, 2, &ra2, NULL), 0);
  assert_true(ra2 != ra);
  s.ref = ra2;
  tsdb_append_stats st;
  assert_int_equal(tsdb_append_refs(db, &s, 1, &st, NULL), 0);
  assert_int_equal(st.accepted, 1);
  tsdb_ref_sample old = {ra2, T0, 1};
  assert_int_equal(tsdb_append_refs(db, &old, 1, &st, NULL), 0);
  assert_int_equal(st.duplicates + st.rejected[TSDB_REJECT_OUT_OF_ORDER], 1);
  assert_int_equal(st.accepted, 0);
  assert_int_equal(count_samples(db, "gc", "a", T0, T0 + 300 * MIN_MS), 2);
  tsdb_close(db);
}

/* Dropped series do not come back from the WAL after a restart, and their
 * data stays readable. */
static void test_checkpoint_no_resurrect(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = 60 * MIN_MS, .head_min_samples = 1};
  tsdb *db = tu_open(&o, f->dir);
  char id[16];
  for (int i = 0; i < 50; i++) {
    snprintf(id, sizeof id, "old%d", i);
    append1(db, "gc", id, T0 + i * 1000, i);
  }
  append1(db, "gc", "live", T0 + 200 * MIN_MS, 1);
  assert_int_equal(head_series(db), 1);
  append1(db, "gc", "live", T0 + 201 * MIN_MS, 2);
  tsdb_close(db);
  db = tu_open(&o, f->dir);
  assert_int_equal(head_series(db), 1);
  for (int i = 0; i < 50; i += 7) {
    snprintf(id, sizeof id, "old%d", i);
    assert_int_equal(count_samples(db, "gc", id, T0, T0 + 300 * MIN_MS), 1);
  }
  assert_int_equal(count_samples(db, "gc", "live", T0, T0 + 300 * MIN_MS), 2);
  tsdb_close(db);
}

/* max_series counts live series: refused past it with an error naming the
 * limit, an existing series keeps ingesting, and once idle series are
 * dropped new ones can be created again. */
static void test_limit_counts_live(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.block_range_ms = 60 * MIN_MS, .head_min_samples = 1, .max_series = 100};
  tsdb *db = tu_open(&o, f->dir);
  char id[16];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "s%d", i);
    append1(db, "lim", id, T0 + i, 1);
  }
  lk_label extra[] = {{"__name__", "lim"}, {"id", "extra"}};
  lk_sample smp = {T0 + 1000, 1};
  tsdb_series_in in = {extra, 2, &smp, 1};
  lk_diag d = {0};
  assert_int_equal(tsdb_append(db, &in, 1, NULL, &d), LK_ELIMIT);
  assert_non_null(strstr(d.msg, "series limit reached (limits.max_series=100"));
  append1(db, "lim", "s0", T0 + 2000, 2); /* existing series: fine */
  /* s1..s99 go idle; s0 keeps being written and passes a head cut */
  for (int k = 1; k <= 4; k++)
    append1(db, "lim", "s0", T0 + k * 60 * MIN_MS, 3);
  assert_int_equal(head_series(db), 1);
  smp.t = T0 + 4 * 60 * MIN_MS + 1;
  assert_int_equal(tsdb_append(db, &in, 1, NULL, NULL), 0);
  assert_int_equal(head_series(db), 2);
  tsdb_close(db);
}

/*---- churn ----*/

enum { CHURN_MINUTES = 6 * 60, CHURN_SCRAPES = 4, CHECK_LAG = 30 };
#define CHURN_T0 1699999200000LL /* aligned to the 15-minute blocks */

/* New series per simulated minute: 2,000 (the figure) with
 * LK_CHURN_PER_MIN=2000; the default keeps the suite's run time short. */
static int churn_per_min(void)
{
  const char *e = getenv("LK_CHURN_PER_MIN");
  int n = e ? atoi(e) : 500;
  return n > 0 && n <= 100000 ? n : 500;
}

static double churn_value(int m, int i, int k) { return m * 1e5 + i + k * 0.25; }

/* One scrape of minute m's n series at offset k (15 s apart). */
static void churn_scrape(tsdb *db, int n, int m, int k)
{
  char minute[12];
  snprintf(minute, sizeof minute, "%d", m);
  char (*ids)[16] = malloc((size_t)n * sizeof *ids);
  lk_label *ls = malloc((size_t)n * 4 * sizeof *ls);
  lk_sample *smp = malloc((size_t)n * sizeof *smp);
  tsdb_series_in *in = malloc((size_t)n * sizeof *in);
  for (int i = 0; i < n; i++) {
    snprintf(ids[i], sizeof ids[i], "c%d-%d", m, i);
    lk_label *l = &ls[i * 4];
    l[0] = (lk_label){"__name__", "churn"};
    l[1] = (lk_label){"job", "gen"};
    l[2] = (lk_label){"minute", minute};
    l[3] = (lk_label){"pod", ids[i]};
    smp[i] = (lk_sample){CHURN_T0 + m * MIN_MS + k * 15000, churn_value(m, i, k)};
    in[i] = (tsdb_series_in){l, 4, &smp[i], 1};
  }
  tsdb_append_stats st;
  assert_int_equal(tsdb_append(db, in, (size_t)n, &st, NULL), 0);
  assert_int_equal(st.accepted, n);
  free(ids);
  free(ls);
  free(smp);
  free(in);
}

static void churn_check_minute(tsdb *db, int n, int m)
{
  char minute[12];
  snprintf(minute, sizeof minute, "%d", m);
  tsdb_matcher mt[] = {{TSDB_EQ, "__name__", "churn"}, {TSDB_EQ, "minute", minute}};
  tsdb_result *r;
  assert_int_equal(tsdb_select(db, mt, 2, CHURN_T0, CHURN_T0 + (CHURN_MINUTES + 1) * MIN_MS, NULL, &r, NULL), 0);
  assert_int_equal(tsdb_result_count(r), n);
  for (size_t j = 0; j < (size_t)n; j++) {
    const tsdb_series *s = tsdb_result_get(r, j);
    int i = atoi(strchr(lk_labels_get(s->labels, s->nlabels, "pod"), '-') + 1);
    assert_int_equal(s->n, CHURN_SCRAPES);
    for (int k = 0; k < CHURN_SCRAPES; k++) {
      assert_int_equal(s->t[k], CHURN_T0 + m * MIN_MS + k * 15000);
      assert_true(s->v[k] == churn_value(m, i, k));
    }
  }
  tsdb_result_free(r);
}

/* Head series and anonymous RSS right after each head cut. */
typedef struct churn_fig {
  int cuts;
  uint64_t base_series, base_rss, max_series, max_rss;
} churn_fig;

static void churn_note_cut(churn_fig *fg, tsdb *db, int m)
{
  tsdb_status *st;
  assert_int_equal(tsdb_status_get(db, 0, &st), 0);
  uint64_t rss = mfx_anon_rss_bytes(), series = st->head_series;
  if (!fg->cuts++) {
    fg->base_rss = rss;
    fg->base_series = series;
  }
  fg->max_rss = rss > fg->max_rss ? rss : fg->max_rss;
  fg->max_series = series > fg->max_series ? series : fg->max_series;
  fprintf(stderr, "churn: cut %d at minute %d: head_series=%llu blocks=%llu anon_rss_mib=%.1f\n", fg->cuts, m,
          (unsigned long long)series, (unsigned long long)st->blocks, rss / 1048576.0);
  tsdb_status_free(st);
}

/* High cardinality: series that received one sample each hold little
 * memory (the open sample buffer starts small instead of holding room for
 * a whole chunk). 100,000 series with one sample, anonymous RSS measured
 * before and after: at most 1,000 bytes per series (a whole-chunk buffer
 * alone is 1,920). */
#define FEW_SAMPLE_SERIES 100000
static void test_few_sample_series_memory(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1};
  tsdb *db = tu_open(&o, f->dir);
  assert_non_null(db);
  append1(db, "warmup", "0", T0, 1);
  uint64_t before = mfx_anon_rss_bytes();
  char id[32];
  for (int i = 0; i < FEW_SAMPLE_SERIES; i++) {
    snprintf(id, sizeof id, "pod-%d", i);
    append1(db, "container_cpu", id, T0 + i, i);
  }
  uint64_t after = mfx_anon_rss_bytes();
  double per_series = (double)(after - before) / FEW_SAMPLE_SERIES;
  fprintf(stderr, "few-sample series: %.0f bytes of anonymous RSS per series\n", per_series);
  assert_true(per_series <= 1000);
  assert_int_equal(head_series(db), FEW_SAMPLE_SERIES + 1);
  assert_int_equal(count_samples(db, "container_cpu", "pod-99999", T0, T0 + FEW_SAMPLE_SERIES), 1);
  tsdb_close(db);
}

/* A node agent's series between seals: 20,000 series scraped every second
 * (1 ms jitter) for 100 cycles, counters and a few constant gauges, each
 * cycle one batch. The open chunks hold the samples encoded, so the head
 * costs at most 2,200 bytes of anonymous RSS per series, series and labels
 * included (measured 1,100-1,400 in a release build, 1,500-1,900 under
 * ASan; with the raw buffer of 16 bytes per sample it was 2,520 in a
 * release build and 3,380 under ASan). */
#define AGENT_SERIES 20000
#define AGENT_CYCLES 100
static void test_open_chunk_memory(void **state)
{
  tu_fx *f = *state;
  tsdb_opts o = {.fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1};
  tsdb *db = tu_open(&o, f->dir);
  assert_non_null(db);
  append1(db, "warmup", "0", T0, 1);
  malloc_trim(0); /* memory the tests before freed is not what this one uses */
  uint64_t before = mfx_anon_rss_bytes();
  char (*ids)[16] = malloc(AGENT_SERIES * sizeof *ids);
  lk_label(*ls)[2] = malloc(AGENT_SERIES * sizeof *ls);
  lk_sample *smp = malloc(AGENT_SERIES * sizeof *smp);
  tsdb_series_in *in = malloc(AGENT_SERIES * sizeof *in);
  for (int i = 0; i < AGENT_SERIES; i++) {
    snprintf(ids[i], sizeof ids[i], "c-%d", i);
    ls[i][0] = (lk_label){"__name__", i % 8 ? "cgroup_counter" : "cgroup_limit"};
    ls[i][1] = (lk_label){"id", ids[i]};
    in[i] = (tsdb_series_in){ls[i], 2, &smp[i], 1};
  }
  for (int c = 0; c < AGENT_CYCLES; c++) {
    for (int i = 0; i < AGENT_SERIES; i++) {
      double grow = (double)((uint64_t)(c + 1) * (uint64_t)(i * 2654435761u % 100000));
      smp[i] = (lk_sample){T0 + c * 1000LL + (c * 7 + i) % 2, i % 8 ? grow : 1073741824.0};
    }
    tsdb_append_stats st;
    assert_int_equal(tsdb_append(db, in, AGENT_SERIES, &st, NULL), 0);
    assert_int_equal(st.accepted, AGENT_SERIES);
  }
  uint64_t after = mfx_anon_rss_bytes();
  double per_series = (double)(after - before) / AGENT_SERIES;
  fprintf(stderr, "agent series, %d samples each: %.0f bytes of anonymous RSS per series\n", AGENT_CYCLES,
          per_series);
  assert_true(per_series <= 2200);
  assert_int_equal(count_samples(db, "cgroup_counter", "c-19999", T0, T0 + AGENT_CYCLES * 1000LL), AGENT_CYCLES);
  free(in);
  free(smp);
  free(ls);
  free(ids);
  tsdb_close(db);
}

/* New series every simulated minute, each scraped 4 times in its minute
 * and never again, for 6 simulated hours with 15-minute blocks and 2 h
 * retention (cuts, compactions and retention as the engine schedules
 * them; retention bounds what the blocks' indexes hold, so what is
 * measured is the head). From the first head cut on, the head's series and
 * the anonymous RSS measured right after each cut stay within 20 % of
 * their value at the first cut. Every sample reads back through
 * tsdb_select: each minute's series are checked 30 minutes later (their
 * series dropped from the head by then, data in blocks), the last 30
 * minutes at the end (head and blocks). */
static void test_churn(void **state)
{
  tu_fx *f = *state;
  int n = churn_per_min();
  tsdb_opts o = {.block_range_ms = 15 * MIN_MS, .retention_ms = 120 * MIN_MS, .head_min_samples = 1,
                 .fsync = TSDB_FSYNC_NEVER, .sample_cache_bytes = -1};
  tsdb *db = tu_open(&o, f->dir);
  churn_fig fg = {0};
  int64_t start = lk_mono_ns(), head_min = 0;
  for (int m = 0; m < CHURN_MINUTES; m++) {
    for (int k = 0; k < CHURN_SCRAPES; k++)
      churn_scrape(db, n, m, k);
    tsdb_status *st;
    assert_int_equal(tsdb_status_get(db, 0, &st), 0);
    bool cut = head_min && st->head_min_t != head_min;
    head_min = st->head_min_t;
    tsdb_status_free(st);
    if (cut)
      churn_note_cut(&fg, db, m);
    if (m >= CHECK_LAG)
      churn_check_minute(db, n, m - CHECK_LAG);
  }
  fprintf(stderr,
          "churn: %d series (%d per simulated minute, %d min) in %.1f s; %d cuts; after the first: "
          "head_series %llu -> max %llu, anon_rss %.1f MiB -> max %.1f MiB\n",
          n * CHURN_MINUTES, n, CHURN_MINUTES, (lk_mono_ns() - start) / 1e9, fg.cuts,
          (unsigned long long)fg.base_series, (unsigned long long)fg.max_series, fg.base_rss / 1048576.0,
          fg.max_rss / 1048576.0);
  assert_true(fg.cuts >= 20);
  assert_true(fg.max_series <= fg.base_series * 1.2);
  assert_true(fg.max_rss <= fg.base_rss * 1.2);
  for (int m = CHURN_MINUTES - CHECK_LAG; m < CHURN_MINUTES; m++)
    churn_check_minute(db, n, m);
  tsdb_close(db);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_stale_ref, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_checkpoint_no_resurrect, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_limit_counts_live, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_few_sample_series_memory, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_open_chunk_memory, tu_setup, tu_teardown),
    cmocka_unit_test_setup_teardown(test_churn, tu_setup, tu_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
