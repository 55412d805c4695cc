/* test_store.c — the log store: push/query round trips, WAL replay after a
 * reopen, sealing into blocks, torn WAL tails, kill -9 of a writer process,
 * out-of-order window, retention, a full disk under sealing, the skip index
 * reading few blocks, a WAL restarted with just the heads, and
 * LogQL regexes (RE2): the Go-answer table through line filters and the
 * regexp parser, head and sealed blocks alike. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "logstore/logstore.h"
#include "tests/helpers/disk_fx.h"
#include "tests/lib/regex_cases.h"

#define SEC 1000000000LL

static char *tmpdir(void)
{
  char *dir = dfx_tmpdir("/tmp/lk-logstore-XXXXXX");
  assert_non_null(dir);
  return dir;
}

static void rmrf(const char *dir)
{
  assert_int_equal(dfx_rmrf(dir), 0);
}

static logstore *open_store(const char *dir, size_t block_bytes)
{
  logstore_opts o = {.dir = dir, .block_bytes = block_bytes};
  logstore *s = NULL;
  lk_diag d = {0};
  assert_int_equal(logstore_open(&o, &s, &d), 0);
  return s;
}

static void push_line(logstore *s, const char *app, int64_t ts, const char *line)
{
  lk_label ls[] = {{"app", app}, {"env", "prod"}};
  logstore_entry e = {ts, line, strlen(line)};
  lk_diag d = {0};
  assert_int_equal(logstore_push(s, ls, 2, &e, 1, &d), 0);
}

static size_t count_query(logstore *s, const char *q, size_t limit)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = limit};
  logstore_result *r = NULL;
  lk_diag d = {0};
  int rc = logstore_query(s, q, &o, &r, &d);
  if (rc)
    fprintf(stderr, "query %s: %s\n", q, d.msg);
  assert_int_equal(rc, 0);
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += r->streams[i].n;
  logstore_result_free(r);
  return n;
}

static void fill(logstore *s, int n)
{
  char line[128];
  for (int i = 0; i < n; i++) {
    snprintf(line, sizeof line, "req id=%d path=/api/v%d status=%d user=u%05d", i, i % 3,
             i % 10 ? 200 : 500, i);
    push_line(s, i % 2 ? "web" : "api", (int64_t)(1000 + i) * SEC, line);
  }
}

static void test_roundtrip_and_reopen(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 4096);
  fill(s, 2000);
  assert_int_equal(count_query(s, "{env=\"prod\"}", 5000), 2000);
  assert_int_equal(count_query(s, "{app=\"web\"}", 5000), 1000);
  assert_int_equal(count_query(s, "{app=~\"w.b|api\"} |= \"status=500\"", 5000), 200);
  assert_int_equal(count_query(s, "{app!=\"web\", env=\"prod\"} != \"status=200\"", 5000), 200);
  assert_int_equal(count_query(s, "{env=\"prod\"} |~ \"user=u0001[0-9]\"", 5000), 10);
  assert_int_equal(count_query(s, "{env=\"prod\"}", 7), 7);
  logstore_stats st;
  logstore_stats_get(s, &st);
  assert_true(st.blocks > 10); /* small blocks: many seals */
  logstore_close(s);
  s = open_store(dir, 4096); /* blocks from segments + head from the WAL */
  assert_int_equal(count_query(s, "{env=\"prod\"}", 5000), 2000);
  assert_int_equal(logstore_flush(s), 0);
  logstore_close(s);
  s = open_store(dir, 4096);
  assert_int_equal(count_query(s, "{env=\"prod\"} |= \"user=u01999\"", 5000), 1);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static void test_direction_and_order(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 1 << 20);
  push_line(s, "a", 30 * SEC, "third");
  push_line(s, "a", 10 * SEC, "first"); /* out of order, inside the window */
  push_line(s, "a", 20 * SEC, "second");
  /* zeroed direction: backward (newest first), Loki's default */
  logstore_query_opts o = {.start_ns = 0, .end_ns = 100 * SEC, .limit = 2};
  logstore_result *r;
  assert_int_equal(logstore_query(s, "{app=\"a\"}", &o, &r, NULL), 0);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->streams[0].n, 2);
  assert_memory_equal(r->streams[0].entries[0].line, "third", 5);
  assert_memory_equal(r->streams[0].entries[1].line, "second", 6);
  logstore_result_free(r);
  o.direction = LOGSTORE_FORWARD;
  assert_int_equal(logstore_flush(s), 0);
  assert_int_equal(logstore_query(s, "{app=\"a\"}", &o, &r, NULL), 0);
  assert_memory_equal(r->streams[0].entries[0].line, "first", 5);
  logstore_result_free(r);
  /* beyond the window: refused, nothing stored */
  lk_label ls[] = {{"app", "a"}, {"env", "prod"}};
  logstore_entry e = {30 * SEC - 2 * 3600 * SEC, "old", 3};
  lk_diag d = {0};
  assert_int_equal(logstore_push(s, ls, 2, &e, 1, &d), LK_EOOO);
  assert_non_null(strstr(d.msg, "too far behind"));
  assert_int_equal(count_query(s, "{app=\"a\"}", 100), 3);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static void test_bad_input(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore_opts o = {.dir = dir, .max_line = 100};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  char big[200];
  memset(big, 'x', sizeof big);
  lk_label ls[] = {{"app", "a"}};
  logstore_entry e = {SEC, big, sizeof big};
  lk_diag d = {0};
  assert_int_equal(logstore_push(s, ls, 1, &e, 1, &d), LK_ETOOBIG);
  lk_label bad[] = {{"1app", "a"}};
  e.len = 10;
  assert_int_equal(logstore_push(s, bad, 1, &e, 1, NULL), LK_EINVAL);
  static const char *queries[] = {"{app=\"a\"", "{app=\"a\"} |= ", "sum(", "{app=~\"(\"}",
                                  "{app=\"\"}", "count_over_time({app=\"a\"}[x])",
                                  "{app=\"a\"} | foo ==", "rate({app=\"a\"})",
                                  "sum(rate({app=\"a\"} |= \"x\" [11555777727s]))"};
  for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
    lk_diag pd = {0};
    assert_int_equal(logstore_logql_check(queries[i], &pd), LK_EPARSE);
    assert_true(pd.offset >= 0);
    assert_non_null(strstr(pd.msg, "position"));
  }
  lk_diag pd = {0};
  assert_int_equal(logstore_logql_check("{app=\"a\"} |= \"x\" | bogus ~ 3", &pd), LK_EPARSE);
  assert_int_equal(pd.offset, 25);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static void test_torn_wal(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 1 << 20);
  push_line(s, "a", 1 * SEC, "one");
  push_line(s, "a", 2 * SEC, "two");
  logstore_close(s);
  char path[512];
  snprintf(path, sizeof path, "%s/wal.log", dir);
  int fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "\x30\x00\x00\x00garbage", 11), 11); /* torn record */
  close(fd);
  s = open_store(dir, 1 << 20);
  assert_int_equal(count_query(s, "{app=\"a\"}", 100), 2);
  push_line(s, "a", 3 * SEC, "three"); /* appends after the cut */
  logstore_close(s);
  s = open_store(dir, 1 << 20);
  assert_int_equal(count_query(s, "{app=\"a\"}", 100), 3);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

/* A child pushes and reports each acknowledged entry over a pipe; the parent
 * kills it with SIGKILL mid-stream and checks every acknowledged entry. */
static void test_kill9(void **state)
{
  (void)state;
  char *dir = tmpdir();
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    logstore *s = open_store(dir, 8192);
    char line[64];
    for (int i = 0; i < 1000000; i++) {
      snprintf(line, sizeof line, "entry %d", i);
      push_line(s, "k", (int64_t)(i + 1) * 1000, line);
      if (write(p[1], &i, sizeof i) != sizeof i)
        _exit(1);
    }
    _exit(0);
  }
  close(p[1]);
  int last = -1, v;
  while (last < 3000 && read(p[0], &v, sizeof v) == sizeof v)
    last = v;
  kill(pid, SIGKILL);
  while (read(p[0], &v, sizeof v) == sizeof v)
    last = v; /* acknowledged before it died */
  close(p[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status));
  logstore *s = open_store(dir, 8192);
  size_t n = count_query(s, "{app=\"k\"}", 2000000);
  assert_true(n >= (size_t)last + 1);
  assert_true(n <= (size_t)last + 2); /* at most the one in flight */
  char q[64];
  snprintf(q, sizeof q, "{app=\"k\"} |= \"entry %d\"", last);
  assert_int_equal(count_query(s, q, 10), 1);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static void test_skip_index(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 16384);
  fill(s, 20000);
  assert_int_equal(logstore_flush(s), 0);
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 100};
  logstore_result *r;
  assert_int_equal(logstore_query(s, "{env=\"prod\"} |= \"user=u12345\"", &o, &r, NULL), 0);
  assert_int_equal(r->n, 1);
  assert_int_equal(r->streams[0].n, 1);
  assert_true(r->blocks_total > 50);
  assert_true(r->blocks_read * 10 < r->blocks_total);
  logstore_result_free(r);
  /* a regex with a literal run uses the index too */
  assert_int_equal(logstore_query(s, "{env=\"prod\"} |~ \"user=u1234[0-9] \"", &o, &r, NULL), 0);
  assert_true(r->blocks_read * 4 < r->blocks_total);
  logstore_result_free(r);
  /* substrings inside tokens must still match (no false exclusion) */
  assert_int_equal(count_query(s, "{env=\"prod\"} |= \"er=u1234\"", 100), 10);
  assert_int_equal(count_query(s, "{env=\"prod\"} |= \"2345 \"", 100), 2);
  assert_int_equal(count_query(s, "{env=\"prod\"} |= \"=u12345\"", 100), 1);
  assert_int_equal(count_query(s, "{env=\"prod\"} |~ \"u1234(5|6)\"", 100), 2);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static logstore_result *query_all(logstore *s, const char *q)
{
  logstore_query_opts o = {.start_ns = 0, .end_ns = INT64_MAX / 2, .limit = 1000};
  logstore_result *r = NULL;
  lk_diag d = {0};
  if (logstore_query(s, q, &o, &r, &d))
    fail_msg("query %s: %s", q, d.msg);
  return r;
}

/* Value of label name on the stream of the entry whose line is line; NULL
 * when the label is absent, "?" when no entry holds that line. */
static const char *label_of_line(const logstore_result *r, const char *line, const char *name)
{
  for (size_t i = 0; i < r->n; i++)
    for (size_t k = 0; k < r->streams[i].n; k++) {
      const logstore_entry *e = &r->streams[i].entries[k];
      if (e->len == strlen(line) && !memcmp(e->line, line, e->len))
        return lk_labels_get(r->streams[i].labels, r->streams[i].nlabels, name);
    }
  return "?";
}

/* `\d{3}` is a digit class repeated, and `(?P<n>\d+)` captures digits —
 * not the letter d (glibc's regcomp, which Lookout used before RE2, reads
 * \d as 'd'). */
static void test_regex_digits(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 16384);
  lk_label ls[] = {{"app", "x"}};
  logstore_entry e[] = {{1 * SEC, "code 123 ok", 11}, {2 * SEC, "dddd letters", 12}};
  assert_int_equal(logstore_push(s, ls, 1, e, 2, NULL), 0);
  for (int sealed = 0; sealed < 2; sealed++) {
    logstore_result *r = query_all(s, "{app=\"x\"} |~ \"\\\\d{3}\"");
    assert_int_equal(r->n, 1);
    assert_int_equal(r->streams[0].n, 1);
    assert_int_equal(r->streams[0].entries[0].len, 11);
    assert_memory_equal(r->streams[0].entries[0].line, "code 123 ok", 11);
    logstore_result_free(r);
    r = query_all(s, "{app=\"x\"} | regexp \"(?P<n>\\\\d+)\"");
    assert_string_equal(label_of_line(r, "code 123 ok", "n"), "123");
    assert_null(label_of_line(r, "dddd letters", "n"));
    logstore_result_free(r);
    assert_int_equal(logstore_flush(s), 0);
  }
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

/* The pattern with its first capturing group named g, or NULL if it has none. */
static char *name_first_group(const char *re)
{
  for (const char *p = re; *p; p++) {
    if (*p == '\\' && p[1]) {
      p++;
      continue;
    }
    if (*p == '(' && p[1] != '?') {
      size_t at = (size_t)(p - re);
      char *out = lk_xmalloc(strlen(re) + 8);
      snprintf(out, strlen(re) + 8, "%.*s(?P<g>%s", (int)at, re, p + 1);
      return out;
    }
    if (*p == '(' && (p[2] == 'P' || p[2] == '<') && p[2 + (p[2] == 'P')] == '<')
      return NULL; /* already named (the table names them "user") */
  }
  return NULL;
}

/* Every row of the table as a line of its own stream, whose label v holds
 * the same text: `|~` finds the rows Go finds a match in (unanchored), `!~`
 * the others, `| regexp` extracts Go's group 1, and the matcher v=~ and the
 * label filter v!~ follow Go's ^(?s:re)$. Run on the head, then on sealed
 * blocks (bloom + prefilter). */
static void test_regex_table(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 4096);
  for (size_t i = 0; i < RX_NCASES; i++) {
    char id[16];
    snprintf(id, sizeof id, "%zu", i);
    lk_label ls[] = {{"app", "rx"}, {"case", id}, {"v", rx_cases[i].in}};
    logstore_entry e = {(int64_t)(i + 1) * SEC, rx_cases[i].in, strlen(rx_cases[i].in)};
    assert_int_equal(logstore_push(s, ls, *rx_cases[i].in ? 3 : 2, &e, 1, NULL), 0);
  }
  char q[512];
  for (int sealed = 0; sealed < 2; sealed++) {
    for (size_t i = 0; i < RX_NCASES; i++) {
      const rx_case *c = &rx_cases[i];
      if (!*c->in)
        continue; /* no empty log lines */
      snprintf(q, sizeof q, "{case=\"%zu\"} |~ `%s`", i, c->re);
      if (count_query(s, q, 100) != (c->match != NULL))
        fail_msg("row %zu: %s on \"%s\": want %d", i, q, c->in, c->match != NULL);
      snprintf(q, sizeof q, "{case=\"%zu\"} !~ `%s`", i, c->re);
      assert_int_equal(count_query(s, q, 100), c->match == NULL);
      /* label matchers and label filters are anchored, as in Prometheus */
      snprintf(q, sizeof q, "{case=\"%zu\", v=~`%s`}", i, c->re);
      if (count_query(s, q, 100) != c->full)
        fail_msg("row %zu: %s on \"%s\": want %d", i, q, c->in, c->full);
      snprintf(q, sizeof q, "{case=\"%zu\"} | v!~`%s`", i, c->re);
      assert_int_equal(count_query(s, q, 100), !c->full);
      char *named = name_first_group(c->re);
      if (!named && !strstr(c->re, "<user>"))
        continue;
      snprintf(q, sizeof q, "{case=\"%zu\"} | regexp `%s`", i, named ? named : c->re);
      logstore_result *r = query_all(s, q);
      const char *got = label_of_line(r, c->in, named ? "g" : "user");
      bool ok = c->g1 && *c->g1 ? got && !strcmp(got, c->g1) : !got || !*got;
      if (!ok)
        fail_msg("row %zu: %s on \"%s\": got %s, want %s", i, q, c->in, got ? got : "(none)",
                 c->g1 ? c->g1 : "(none)");
      logstore_result_free(r);
      free(named);
    }
    assert_int_equal(logstore_flush(s), 0);
  }
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

static void test_retention(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore_opts o = {.dir = dir, .block_bytes = 2048, .segment_bytes = 4096,
                     .retention_ns = 500 * SEC};
  logstore *s;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  fill(s, 3000);
  assert_int_equal(logstore_flush(s), 0);
  size_t n = count_query(s, "{env=\"prod\"}", 10000);
  assert_true(n < 3000 && n >= 500);
  logstore_query_opts q = {.start_ns = 0, .end_ns = (1000 + 2400) * SEC, .limit = 10};
  logstore_result *r;
  assert_int_equal(logstore_query(s, "{env=\"prod\"}", &q, &r, NULL), 0);
  for (size_t i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->streams[i].n; j++)
      assert_true(r->streams[i].entries[j].ts >= (1000 + 2999 - 500 - 400) * SEC);
  logstore_result_free(r);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

/* The segment's descriptor is pointed at /dev/full: seals fail, but pushes
 * (in the WAL) are still acknowledged; once writes work the next seal
 * succeeds and every line is there exactly once, before and after a
 * reopen. Regression: the push that triggered a failing seal answered an
 * error after storing its lines, so the sender's retry stored them twice. */
static void test_seal_disk_full(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore *s = open_store(dir, 2048);
  fill(s, 400);
  logstore_stats before, after;
  logstore_stats_get(s, &before);
  int saved = -1;
  int fd = dfx_full_begin("/seg-00000001.lks", &saved);
  assert_true(fd >= 0);
  char line[64];
  for (int i = 0; i < 200; i++) { /* several seals fail meanwhile */
    snprintf(line, sizeof line, "while full %d", i);
    push_line(s, "web", (int64_t)(2000 + i) * SEC, line);
  }
  dfx_full_end(fd, saved);
  for (int i = 0; i < 200; i++) {
    snprintf(line, sizeof line, "space back %d", i);
    push_line(s, "web", (int64_t)(2200 + i) * SEC, line);
  }
  logstore_stats_get(s, &after);
  assert_true(after.blocks > before.blocks); /* sealing works again */
  assert_int_equal(count_query(s, "{env=\"prod\"}", 5000), 800);
  assert_int_equal(count_query(s, "{env=\"prod\"} |= \"while full 1\"", 5000), 111); /* 1, 10-19, 100-199 */
  logstore_close(s);
  s = open_store(dir, 2048);
  assert_int_equal(count_query(s, "{env=\"prod\"}", 5000), 800);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

/* Past wal_bytes the WAL starts again holding just the heads: no head is
 * cut into a short block (every block holds block_bytes or more), and a
 * reopen replays every line once; a wal.log.tmp left by a rewrite cut
 * short is removed. */
static void test_wal_restart_keeps_heads(void **state)
{
  (void)state;
  char *dir = tmpdir();
  logstore_opts o = {.dir = dir, .block_bytes = 32 << 10, .wal_bytes = 256 << 10};
  logstore *s = NULL;
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  enum { LINES = 12000 };
  static const char *apps[] = {"a", "b", "c"};
  char line[128];
  for (int i = 0; i < LINES; i++) {
    snprintf(line, sizeof line, "line %06d of stream %d, padded to about ninety bytes .................", i,
             i % 3);
    push_line(s, apps[i % 3], (int64_t)(1 + i) * SEC, line);
  }
  logstore_stats st;
  logstore_stats_get(s, &st);
  assert_true(st.blocks >= 20);
  assert_true(st.head_entries > 0);
  assert_true(st.raw_bytes >= st.blocks * (32u << 10));
  assert_true(st.disk_bytes < st.sealed_bytes + (256u << 10) + 4096);
  logstore_close(s);
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s/wal.log.tmp", dir);
  FILE *fp = fopen(tmp, "wb");
  assert_non_null(fp);
  assert_int_equal(fputs("half a rewrite", fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(logstore_open(&o, &s, NULL), 0);
  assert_int_equal(access(tmp, F_OK), -1);
  assert_int_equal(count_query(s, "{env=\"prod\"}", 2 * LINES), LINES);
  assert_int_equal(count_query(s, "{app=\"b\"} |= \"line 000004 \"", 10), 1);
  logstore_close(s);
  rmrf(dir);
  free(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_and_reopen), cmocka_unit_test(test_direction_and_order),
      cmocka_unit_test(test_bad_input),            cmocka_unit_test(test_torn_wal),
      cmocka_unit_test(test_kill9),                cmocka_unit_test(test_skip_index),
      cmocka_unit_test(test_retention),            cmocka_unit_test(test_regex_digits),
      cmocka_unit_test(test_seal_disk_full),
      cmocka_unit_test(test_wal_restart_keeps_heads),
      cmocka_unit_test(test_regex_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
