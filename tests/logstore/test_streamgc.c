/* test_streamgc.c — log stream GC under container churn: new streams
 * every simulated minute, each writing a few lines in its minute and never
 * again, for 6 simulated hours. Idle heads are sealed and freed, retention
 * removes old segments, and streams left with nothing are dropped, so the
 * live stream count and the anonymous RSS stay flat while every line reads
 * back through LogQL; a dropped stream's labels pushed again make a fresh
 * stream, and a reopen does not bring dropped streams back. A sealed head
 * hands its pages back, so a stream's largest head does not stay resident. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_time.h"
#include "logstore/logstore.h"
#include "tests/helpers/disk_fx.h"
#include "tests/helpers/mem_fx.h"

#define SEC 1000000000LL
#define MIN_NS (60 * SEC)
#define T0 (1700000000LL * SEC)

enum { MINUTES = 6 * 60, LINES = 4, CHECK_LAG = 10, BASE_MINUTE = 120 };

/* New streams per simulated minute: 2,000 (the figure) with
 * LK_CHURN_PER_MIN=2000; the default keeps the suite's run time short. */
static int per_min(void)
{
  const char *e = getenv("LK_CHURN_PER_MIN");
  int n = e ? atoi(e) : 500;
  return n > 0 && n <= 100000 ? n : 500;
}

/* 5-minute out-of-order window (idle heads sealed after it), 1 h retention. */
static logstore *open_churn_store(const char *dir, size_t file_bytes)
{
  logstore_opts o = {.dir = dir, .ooo_window_ns = 5 * MIN_NS, .retention_ns = 60 * MIN_NS,
                     .segment_bytes = file_bytes, .wal_bytes = file_bytes};
  logstore *s = NULL;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  return s;
}

/* Minute m's streams, LINES lines each at 15 s steps. */
static void push_minute(logstore *s, int n, int m)
{
  char minute[16], pod[32], text[LINES][64];
  snprintf(minute, sizeof minute, "%d", m);
  for (int i = 0; i < n; i++) {
    snprintf(pod, sizeof pod, "p%d-%d", m, i);
    lk_label ls[] = {{"app", "churn"}, {"minute", minute}, {"pod", pod}};
    logstore_entry e[LINES];
    for (int k = 0; k < LINES; k++) {
      snprintf(text[k], sizeof text[k], "pod %s line %d level=info", pod, k);
      e[k] = (logstore_entry){T0 + m * MIN_NS + k * 15 * SEC, text[k], strlen(text[k])};
    }
    lk_diag d = {0};
    int rc = logstore_push(s, ls, 3, e, LINES, &d);
    if (rc)
      fprintf(stderr, "push: %s\n", d.msg);
    assert_int_equal(rc, 0);
  }
}

/* Every line of minute m reads back. */
static void check_minute(logstore *s, int n, int m)
{
  char q[64];
  snprintf(q, sizeof q, "{app=\"churn\", minute=\"%d\"}", m);
  logstore_query_opts o = {.start_ns = T0 + m * MIN_NS, .end_ns = T0 + (m + 1) * MIN_NS,
                           .limit = (size_t)n * LINES + 1, .direction = LOGSTORE_FORWARD};
  logstore_result *r = NULL;
  assert_int_equal(logstore_query(s, q, &o, &r, NULL), 0);
  assert_int_equal(r->n, n);
  for (size_t i = 0; i < r->n; i++) {
    const logstore_rstream *rs = &r->streams[i];
    assert_int_equal(rs->n, LINES);
    for (int k = 0; k < LINES; k++) {
      assert_int_equal(rs->entries[k].ts, T0 + m * MIN_NS + k * 15 * SEC);
      char want[16];
      snprintf(want, sizeof want, "line %d ", k);
      assert_non_null(memmem(rs->entries[k].line, rs->entries[k].len, want, strlen(want)));
    }
  }
  logstore_result_free(r);
}

static void test_stream_churn(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-streamgc-XXXXXX");
  assert_non_null(dir);
  int n = per_min();
  logstore *s = open_churn_store(dir, (size_t)n << 11); /* a WAL reset every ~10 minutes */
  uint64_t base_rss = 0, max_rss = 0;
  size_t base_streams = 0, max_streams = 0;
  int64_t start = lk_mono_ns();
  for (int m = 0; m < MINUTES; m++) {
    push_minute(s, n, m);
    if (m >= CHECK_LAG)
      check_minute(s, n, m - CHECK_LAG);
    if (m < BASE_MINUTE || m % 15)
      continue;
    logstore_stats st;
    logstore_stats_get(s, &st);
    uint64_t rss = mfx_anon_rss_bytes();
    if (!base_rss) {
      base_rss = rss;
      base_streams = st.streams;
    }
    max_rss = rss > max_rss ? rss : max_rss;
    max_streams = st.streams > max_streams ? st.streams : max_streams;
    fprintf(stderr, "stream churn: minute=%d streams=%zu blocks=%zu anon_rss_mib=%.1f\n", m, st.streams,
            st.blocks, rss / 1048576.0);
  }
  for (int m = MINUTES - CHECK_LAG; m < MINUTES; m++)
    check_minute(s, n, m);
  fprintf(stderr,
          "stream churn: %d streams (%d per simulated minute, %d min) in %.1f s; from minute %d: "
          "streams %zu -> max %zu, anon_rss %.1f MiB -> max %.1f MiB\n",
          n * MINUTES, n, MINUTES, (lk_mono_ns() - start) / 1e9, BASE_MINUTE, base_streams, max_streams,
          base_rss / 1048576.0, max_rss / 1048576.0);
  /* the stream count saws with WAL resets and whole-segment retention */
  assert_true(max_streams <= base_streams * 1.3);
  assert_true(max_rss <= base_rss * 1.2);
  assert_true(max_streams < (size_t)n * 120); /* two hours of streams, not all six */
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* A dropped stream stays dropped across a reopen; pushing its labels again
 * makes a fresh stream whose lines read back. */
static void test_dropped_stream_reopen(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-streamgc-XXXXXX");
  assert_non_null(dir);
  logstore *s = open_churn_store(dir, 8 << 10);
  push_minute(s, 20, 0);
  for (int m = 1; m <= 150; m++)
    push_minute(s, 1, m); /* one stream a minute keeps time moving */
  logstore_stats st;
  logstore_stats_get(s, &st);
  size_t live = st.streams;
  assert_true(live < 100);
  logstore_close(s);
  s = open_churn_store(dir, 8 << 10);
  logstore_stats_get(s, &st);
  assert_true(st.streams <= live);
  char q[] = "{app=\"churn\", minute=\"0\"}";
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 1000};
  logstore_result *r = NULL;
  assert_int_equal(logstore_query(s, q, &o, &r, NULL), 0);
  assert_int_equal(r->n, 0); /* beyond retention */
  logstore_result_free(r);
  lk_label ls[] = {{"app", "churn"}, {"minute", "0"}, {"pod", "p0-3"}};
  logstore_entry e = {T0 + 151 * MIN_NS, "again", 5};
  assert_int_equal(logstore_push(s, ls, 3, &e, 1, NULL), 0);
  assert_int_equal(logstore_query(s, q, &o, &r, NULL), 0);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->streams[0].n, 1);
  logstore_result_free(r);
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* About 6 MiB of lines in one stream's head (kept under block_bytes), then
 * a flush: the sealed head's buffer stays allocated for the next head but
 * its pages go back, so anonymous RSS falls by most of the head. */
static void test_sealed_head_pages_released(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-streamgc-XXXXXX");
  assert_non_null(dir);
  logstore_opts o = {.dir = dir, .block_bytes = 7u << 20};
  logstore *s = NULL;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  lk_label ls[] = {{"app", "big"}};
  enum { BATCH = 256, LINE = 96, BATCHES = 6 * 1024 * 1024 / (BATCH * LINE) };
  static char text[BATCH][LINE + 1];
  logstore_entry e[BATCH];
  for (int b = 0; b < BATCHES; b++) {
    for (int i = 0; i < BATCH; i++) {
      snprintf(text[i], sizeof text[i], "%0*d", LINE, b * BATCH + i);
      e[i] = (logstore_entry){T0 + (int64_t)(b * BATCH + i) * SEC, text[i], LINE};
    }
    assert_int_equal(logstore_push(s, ls, 1, e, BATCH, NULL), 0);
  }
  uint64_t before = mfx_anon_rss_bytes();
  assert_int_equal(logstore_flush(s), 0);
  uint64_t after = mfx_anon_rss_bytes();
  fprintf(stderr, "sealed head: anon_rss_mib %.1f -> %.1f\n", before / 1048576.0, after / 1048576.0);
  assert_true(before >= after + (4u << 20));
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sealed_head_pages_released),
    cmocka_unit_test(test_dropped_stream_reopen),
    cmocka_unit_test(test_stream_churn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
