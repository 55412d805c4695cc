/* test_scan.c — how queries visit sealed blocks: log queries take the
 * newest (or oldest) blocks of all streams first and stop once nothing left
 * can make the limit; a bare selector's counts read timestamps only and
 * still refuse a corrupt block; a counted repeat in a regex (`{3,5}`) is not
 * taken as a literal the skip index must find; the skip index excludes
 * blocks for literals that are no whole token (a bare id inside a longer
 * token, a word inside another) and never a block that holds a match;
 * blocks written before the lean index (a segment kept in data/) still
 * answer and skip through the items they hold, and the lean index costs
 * long ids a fraction of the bits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"
#include "tests/helpers/disk_fx.h"

#define SEC 1000000000LL

typedef struct fx {
  char *dir;
  logstore *s;
} fx;

static void push(logstore *s, const char *stream, int64_t t_s, const char *line)
{
  lk_label ls[] = {{"app", stream}};
  logstore_entry e = {t_s * SEC, line, strlen(line)};
  assert_int_equal(logstore_push(s, ls, 1, &e, 1, NULL), 0);
}

/* "old": 400 lines at 1..400 s without the word; "new": 400 lines at
 * 1000..1399 s with it; small blocks, all sealed; then 5 unsealed lines. */
static int setup(void **state)
{
  fx *f = lk_xcalloc(1, sizeof *f);
  f->dir = dfx_tmpdir("/tmp/lk-scan-XXXXXX");
  if (!f->dir)
    return -1;
  logstore_opts o = {.dir = f->dir, .block_bytes = 1024};
  if (logstore_open(&o, &f->s, NULL))
    return -1;
  char line[64];
  for (int i = 0; i < 400; i++) {
    snprintf(line, sizeof line, "miss %04d took %d ms", i, 100 + i);
    push(f->s, "old", 1 + i, line);
    snprintf(line, sizeof line, "hit %04d took %d ms", i, i % 50);
    push(f->s, "new", 1000 + i, line);
  }
  if (logstore_flush(f->s))
    return -1;
  for (int i = 0; i < 5; i++) {
    snprintf(line, sizeof line, "hit head %d", i);
    push(f->s, "new", 1400 + i, line);
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  logstore_close(f->s);
  int rc = dfx_rmrf(f->dir);
  free(f->dir);
  free(f);
  return rc;
}

static logstore_result *query(fx *f, const char *q, size_t limit, enum logstore_dir dir, int64_t step)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = 2000 * SEC, .limit = limit, .direction = dir,
                           .step_ns = step};
  logstore_result *r = NULL;
  lk_diag d = {0};
  int rc = logstore_query(f->s, q, &o, &r, &d);
  if (rc)
    fail_msg("%s: %s", q, d.msg);
  return r;
}

static size_t total_entries(const logstore_result *r)
{
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += r->streams[i].n;
  return n;
}

/* The newest 10 lines holding "hit" are 1395..1404 s (five in the head);
 * "old" has none, and every block of it ends before the 10th newest hit, so
 * none of its blocks is read (a bare substring has no skip-index probe). */
static void test_newest_first_across_streams(void **state)
{
  fx *f = *state;
  logstore_stats st;
  logstore_stats_get(f->s, &st);
  logstore_result *r = query(f, "{app=~\".+\"} |= \"hit\"", 10, LOGSTORE_BACKWARD, 0);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->streams[0].n, 10);
  for (size_t i = 0; i < 10; i++)
    assert_true(r->streams[0].entries[i].ts == (1404 - (int64_t)i) * SEC);
  assert_true(r->blocks_read <= 2);
  assert_true(r->blocks_total < st.blocks);
  logstore_result_free(r);

  r = query(f, "{app=~\".+\"} |= \"hit\"", 3, LOGSTORE_FORWARD, 0);
  assert_int_equal(total_entries(r), 3);
  assert_true(r->streams[0].entries[0].ts == 1000 * SEC);
  assert_true(r->streams[0].entries[2].ts == 1002 * SEC);
  logstore_result_free(r);

  /* without a limit that bites, every line of both streams counts */
  r = query(f, "{app=~\".+\"} |= \"took\"", 1000, LOGSTORE_BACKWARD, 0);
  assert_int_equal(total_entries(r), 800);
  logstore_result_free(r);
}

static double point_sum(const logstore_result *r)
{
  double s = 0;
  for (size_t i = 0; i < r->n; i++)
    for (size_t k = 0; k < r->series[i].n; k++)
      s += r->series[i].v[k];
  return s;
}

/* count_over_time of a bare selector (timestamps only) gives exactly the
 * points of the same count through a line filter that keeps every line. */
static void test_counts_from_timestamps(void **state)
{
  fx *f = *state;
  logstore_result *a = query(f, "sum by (app) (count_over_time({app=~\".+\"}[100s]))", 0,
                             LOGSTORE_BACKWARD, 30 * SEC);
  logstore_result *b = query(f, "sum by (app) (count_over_time({app=~\".+\"} |~ \".\" [100s]))", 0,
                             LOGSTORE_BACKWARD, 30 * SEC);
  assert_int_equal(a->n, 2);
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_string_equal(a->series[i].labels[0].value, b->series[i].labels[0].value);
    assert_int_equal(a->series[i].n, b->series[i].n);
    for (size_t k = 0; k < a->series[i].n; k++) {
      assert_true(a->series[i].t_ns[k] == b->series[i].t_ns[k]);
      assert_true(a->series[i].v[k] == b->series[i].v[k]);
    }
  }
  assert_true(point_sum(a) > 0);
  logstore_result_free(a);
  logstore_result_free(b);
}

/* A flipped byte in the newest block's data: the timestamp-only read checks
 * the CRC too and fails the query instead of counting garbage. */
static void test_counts_refuse_corrupt_block(void **state)
{
  fx *f = *state;
  char path[128];
  snprintf(path, sizeof path, "%s/seg-00000001.lks", f->dir);
  size_t len;
  free(dfx_read(path, &len));
  assert_true(len > 0);
  assert_int_equal(dfx_flip(path, (off_t)len - 1), 0);
  logstore_query_opts o = {.start_ns = 0, .end_ns = 2000 * SEC};
  logstore_result *r = NULL;
  assert_int_equal(logstore_query(f->s, "count_over_time({app=\"new\"}[2000s])", &o, &r, NULL), LK_ECORRUPT);
  assert_null(r);
}

/* `[0-9]{3,5} ms`: the repeat bound is no literal; the sealed lines with a
 * 3-5 digit number before " ms" are all found (the skip index once required
 * "3,5" and found none). */
static void test_counted_repeat_regex(void **state)
{
  fx *f = *state;
  logstore_result *r = query(f, "{app=\"old\"} |~ \"[0-9]{3,5} ms\"", 1000, LOGSTORE_BACKWARD, 0);
  assert_int_equal(total_entries(r), 400);
  logstore_result_free(r);
  r = query(f, "{app=\"new\"} |~ \"took [0-9]{3,5} ms\"", 1000, LOGSTORE_BACKWARD, 0);
  assert_int_equal(total_entries(r), 0);
  logstore_result_free(r);
}

/* Lines of a store built for the skip-index tests: block i (24 lines of
 * its own stream) holds ids 10000000000000 + i*100 + j and words made of
 * a per-block syllable. Line 7 of block 5 buries its id inside a longer
 * token and carries "xyzerrorq". */
static void skip_line(char *out, size_t cap, int blk, int j)
{
  long long id = 10000000000000LL + blk * 100 + j;
  if (blk == 5 && j == 7)
    snprintf(out, cap, "req=ab%lldcd state xyzerrorq blk%c%c", id, 'a' + blk % 26, 'a' + j % 26);
  else
    snprintf(out, cap, "req %lld state ok blk%c%c t=%d", id, 'a' + blk % 26, 'a' + j % 26, j * 7);
}

static logstore *skip_store(const char *dir, int nblk)
{
  logstore_opts o = {.dir = dir, .block_bytes = 1u << 20};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  char line[128], name[16];
  for (int b = 0; b < nblk; b++) {
    snprintf(name, sizeof name, "s%02d", b);
    for (int j = 0; j < 24; j++) {
      skip_line(line, sizeof line, b, j);
      push(s, name, 1 + b * 24 + j, line);
    }
  }
  assert_int_equal(logstore_flush(s), 0);
  return s;
}

static size_t count_query(logstore *s, const char *q, size_t *blocks_read)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = 2000 * SEC, .limit = 5000};
  logstore_result *r = NULL;
  lk_diag d = {0};
  if (logstore_query(s, q, &o, &r, &d))
    fail_msg("%s: %s", q, d.msg);
  size_t n = total_entries(r);
  if (blocks_read)
    *blocks_read = r->blocks_read;
  logstore_result_free(r);
  return n;
}

/* A bare 14-digit id (no token bounds in the literal) and a word inside a
 * longer word are found where they are, and only their block is read. */
static void test_skip_substrings(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  logstore *s = skip_store(dir, 20);
  size_t br;
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"10000000000507\"", &br), 1); /* inside ab…cd */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"10000000001203\"", &br), 1); /* a whole token */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"000000001203\"", &br), 1);  /* its tail */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"error\"", &br), 1);
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |~ \"ab[0-9]+cd state\"", &br), 1);
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"10000000009999\"", &br), 0);
  assert_int_equal(br, 0);
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* Soundness: every substring of every stored line, from 1 to 20 bytes at
 * positions spread over the line, counts exactly the lines that hold it
 * (checked with strstr over the same lines), through the skip index. */
static void test_skip_never_hides_a_match(void **state)
{
  (void)state;
  enum { NBLK = 12 };
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  logstore *s = skip_store(dir, NBLK);
  char lines[NBLK * 24][128];
  for (int b = 0; b < NBLK; b++)
    for (int j = 0; j < 24; j++)
      skip_line(lines[b * 24 + j], sizeof lines[0], b, j);
  size_t checked = 0;
  for (int li = 0; li < NBLK * 24; li += 5) {
    size_t len = strlen(lines[li]);
    for (size_t off = 0; off < len; off += 3)
      for (size_t n = 1; n <= 20 && off + n <= len; n += 4) {
        char sub[32], q[96];
        memcpy(sub, lines[li] + off, n);
        sub[n] = 0;
        if (strchr(sub, '"') || strchr(sub, '\\'))
          continue;
        size_t want = 0;
        for (int k = 0; k < NBLK * 24; k++)
          want += strstr(lines[k], sub) != NULL;
        snprintf(q, sizeof q, "{app=~\".+\"} |= \"%s\"", sub);
        size_t got = count_query(s, q, NULL);
        if (got != want)
          fail_msg("%s: %zu lines, want %zu", q, got, want);
        checked++;
      }
  }
  assert_true(checked > 500);
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* data/seg-grams-trigrams.lks: skip_store(dir, 8) as written before the
 * lean index (index flags grams | trigrams: prefix/suffix items, long tokens
 * whole). Its blocks are read, and excluded, through those items. */
static void test_skip_in_older_blocks(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  size_t len;
  uint8_t *seg = dfx_read(LOGSTORE_DATA "/seg-grams-trigrams.lks", &len);
  assert_non_null(seg);
  char path[512];
  snprintf(path, sizeof path, "%s/seg-00000001.lks", dir);
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(seg, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
  free(seg);
  logstore_opts o = {.dir = dir};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  size_t br;
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"10000000000507\"", &br), 1); /* grams */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"req 10000000000203 state\"", &br), 1); /* whole */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"state ok blkc\"", &br), 24); /* short tokens */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"q 10000000000703\"", &br), 1); /* a prefix */
  assert_int_equal(br, 1);
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"ok\"", &br), 8 * 24 - 1);
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* 2,000 lines of one 14-digit id and a few words each, sealed in one
 * block: the lean index holds each id as its winnowed grams (one or two
 * items) where the older one held it whole plus four prefixes and
 * suffixes, at 8 bits an item instead of 10. */
static void test_lean_index_size(void **state)
{
  (void)state;
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  logstore_opts o = {.dir = dir, .block_bytes = 1u << 20};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  char line[96];
  for (int i = 0; i < 2000; i++) {
    snprintf(line, sizeof line, "req %lld state ok", 20000000000000LL + i * 7919LL);
    push(s, "ids", 1 + i, line);
  }
  assert_int_equal(logstore_flush(s), 0);
  logstore_stats st;
  logstore_stats_get(s, &st);
  assert_int_equal(st.blocks, 1);
  uint64_t bloom_bits = (st.bloom_bytes - 4096) * 8; /* less the trigram map */
  fprintf(stderr, "lean index: %.1f bloom bits per id\n", bloom_bits / 2000.0);
  assert_true(bloom_bits <= 2000 * 20); /* the older index: ~45 */
  assert_int_equal(count_query(s, "{app=~\".+\"} |= \"20000000007919\"", NULL), 1);
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* Lines built to meet the index's shortcuts: each block's lines repeat
 * whole (a line met again is skipped when indexing), differ from a repeat
 * in one byte at the same length, and put tokens across the 16-byte steps
 * of the token scan, beside UTF-8 bytes and `_`/`@`/`[`/`{` next to letters.
 * Every token, asked as a whole word, is found in its block and only there. */
static void edge_line(char *out, size_t cap, int blk, int j)
{
  static const char *const shapes[] = {
      "%02d°C_abcdefghijklmnopq@tok%dz{x}",  /* a 17-byte token across byte 16 */
      "é=wordfifteenxx%d [k%dz] über_alles", /* tokens after 2-byte UTF-8 */
      "0123456789abcdef%dtail%dq",            /* a token ending at byte 16 and going on */
  };
  snprintf(out, cap, shapes[j % 3], blk, j / 3 + blk * 10);
}

static void test_skip_index_repeats_and_scan_steps(void **state)
{
  (void)state;
  enum { NBLK = 6, PER = 9, REPEAT = 4 };
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  logstore_opts o = {.dir = dir, .block_bytes = 1u << 20};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  char line[128], name[16];
  int64_t t = 1;
  for (int b = 0; b < NBLK; b++) {
    snprintf(name, sizeof name, "e%02d", b);
    for (int r = 0; r < REPEAT; r++)
      for (int j = 0; j < PER; j++) {
        edge_line(line, sizeof line, b, j);
        push(s, name, t++, line);
        line[strlen(line) - 1] ^= 1; /* the same length, one byte off */
        push(s, name, t++, line);
      }
  }
  assert_int_equal(logstore_flush(s), 0);
  struct { const char *lit; int blk; } want[] = {
      {"03°C_abcdefghijklmnopq@tok32z{", 3}, {"@tok0z{", 0}, {"{x}", -1},
      {"=wordfifteenxx4 ", 4}, {"[k51z]", 5}, {" über_", -1},
      {"0123456789abcdef2tail21q", 2}, {"0123456789abcdef2tail21p", 2},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    char q[96];
    snprintf(q, sizeof q, "{app=~\".+\"} |= \"%s\"", want[i].lit);
    size_t br, n = count_query(s, q, &br);
    if (!n)
      fail_msg("%s: not found", q);
    if (want[i].blk >= 0 && br != 1)
      fail_msg("%s: %zu blocks read, want only block %d's", q, br, want[i].blk);
  }
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

/* More distinct lines of one length than the index's cache of lines seen
 * holds, each with its own short token sharing its first 8 bytes with all
 * the others' (as many as the cache of short tokens holds): a line or token
 * is skipped only when it was really met before, so each is found. */
static void test_skip_index_cache_collisions(void **state)
{
  (void)state;
  enum { LINES = 6000 };
  char *dir = dfx_tmpdir("/tmp/lk-skip-XXXXXX");
  assert_non_null(dir);
  logstore_opts o = {.dir = dir, .block_bytes = 1u << 20};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  char line[64], q[96];
  for (int i = 0; i < LINES; i++) {
    snprintf(line, sizeof line, "k=commonpf%04d v=%05d", i, (i * 7919) % 100000);
    push(s, "same", 1 + i / 4, line); /* within count_query's range */
  }
  assert_int_equal(logstore_flush(s), 0);
  for (int i = 0; i < LINES; i += 7) {
    snprintf(q, sizeof q, "{app=~\".+\"} |= \"=commonpf%04d \"", i);
    if (count_query(s, q, NULL) != 1)
      fail_msg("%s: not found", q);
  }
  logstore_close(s);
  assert_int_equal(dfx_rmrf(dir), 0);
  free(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_newest_first_across_streams, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counts_from_timestamps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counts_refuse_corrupt_block, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counted_repeat_regex, setup, teardown),
      cmocka_unit_test(test_skip_substrings),
      cmocka_unit_test(test_skip_in_older_blocks),
      cmocka_unit_test(test_lean_index_size),
      cmocka_unit_test(test_skip_never_hides_a_match),
      cmocka_unit_test(test_skip_index_repeats_and_scan_steps),
      cmocka_unit_test(test_skip_index_cache_collisions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
