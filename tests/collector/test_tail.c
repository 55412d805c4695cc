/* test_tail.c — the log tailer: every fixture of shared/data/container-logs
 * decodes to its expected JSON lines; a real writer process rotating (rename +
 * create, and copytruncate) under a polling tailer loses and duplicates
 * nothing; a restart with the positions file resumes exactly; a failing sink
 * rewinds; truncation, huge lines and bad records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"

#ifndef CONTAINER_LOGS
#define CONTAINER_LOGS "../shared/data/container-logs"
#endif

/*---- fixtures ----*/

typedef struct got {
  json_t *arr;
} got;

static void collect(void *ctx, const char *file, int64_t ts, const char *stream, const char *line,
                    size_t len)
{
  got *g = ctx;
  json_t *o = json_object();
  json_object_set_new(o, "file", json_string(file));
  json_object_set_new(o, "time", json_integer(ts));
  json_object_set_new(o, "stream", json_string(stream));
  json_object_set_new(o, "line", json_stringn(line, len));
  json_array_append_new(g->arr, o);
}

/* Read a file (gunzipped when .gz) and feed its complete records. */
static void feed_file(collector_log_joiner *j, const char *rel)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", CONTAINER_LOGS, rel);
  gzFile gz = gzopen(path, "rb");
  assert_non_null(gz);
  size_t cap = 1 << 16, n = 0;
  char *buf = lk_xmalloc(cap);
  int r;
  while ((r = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
    n += (size_t)r;
    if (n == cap)
      buf = lk_xrealloc(buf, cap *= 2);
  }
  gzclose(gz);
  size_t s = 0;
  for (size_t i = 0; i < n; i++)
    if (buf[i] == '\n') {
      collector_joiner_feed(j, rel, buf + s, i - s, 0);
      s = i + 1;
    }
  free(buf); /* bytes after the last \n: a record still being written */
}

static void compare_expected(const char *expected, got *g)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/expected/%s", CONTAINER_LOGS, expected);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char *line = NULL;
  size_t cap = 0, i = 0;
  while (getline(&line, &cap, fp) > 0) {
    json_error_t err;
    json_t *want = json_loads(line, 0, &err);
    assert_non_null(want);
    assert_true(i < json_array_size(g->arr));
    json_t *have = json_array_get(g->arr, i++);
    const char *wt = json_string_value(json_object_get(want, "time"));
    int64_t ts;
    assert_int_equal(collector_parse_rfc3339_ns(wt, strlen(wt), &ts), 0);
    assert_string_equal(json_string_value(json_object_get(have, "file")),
                        json_string_value(json_object_get(want, "file")));
    assert_true(json_integer_value(json_object_get(have, "time")) == ts);
    assert_string_equal(json_string_value(json_object_get(have, "stream")),
                        json_string_value(json_object_get(want, "stream")));
    json_t *wl = json_object_get(want, "line"), *hl = json_object_get(have, "line");
    assert_int_equal(json_string_length(hl), json_string_length(wl));
    assert_memory_equal(json_string_value(hl), json_string_value(wl), json_string_length(wl));
    json_decref(want);
  }
  assert_int_equal(i, json_array_size(g->arr));
  free(line);
  fclose(fp);
}

#define CHK "kubernetes/var/log/pods/shop_checkout-7d9f8b6c5d-x2k4p_5b2f3c1e-8a47-4d2b-9c61-0e7f4a9d2b13/checkout/"
#define DNS "kubernetes/var/log/pods/kube-system_coredns-5d78c9869d-qm7vz_e0c4d2a9-3b1f-4c8e-a6d7-91b2c3d4e5f6/coredns/"
#define D0 "docker/var/lib/docker/containers/d0ffcf54a5558b750fe26cc6b848fdd5c1f8daa709a55e07d6b4e60c32f7c2c5/d0ffcf54a5558b750fe26cc6b848fdd5c1f8daa709a55e07d6b4e60c32f7c2c5-json.log"
#define D2 "docker/var/lib/docker/containers/02fa8d82ab828b6a7b1f8d583111ed7c805384b8258a9d6ec0a85d6593875f10/02fa8d82ab828b6a7b1f8d583111ed7c805384b8258a9d6ec0a85d6593875f10-json.log"

static void test_fixtures(void **state)
{
  (void)state;
  static const struct {
    const char *expected;
    const char *files[5]; /* NULL ends; "" = the container restarted: flush */
  } groups[] = {
      {"cri-checkout.jsonl",
       {CHK "0.log.20240501-115500.gz", CHK "0.log.20240501-120000", CHK "0.log", "", CHK "1.log"}},
      {"crio-coredns.jsonl", {DNS "0.log"}},
      {"docker-api.jsonl", {D0 ".1", D0}},
      {"docker-worker.jsonl", {D2}},
      {"edge-cri-midwrite.jsonl", {"edge/cri-midwrite.log"}},
      {"edge-docker-midwrite.jsonl", {"edge/docker-midwrite.log"}},
  };
  for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
    got g = {json_array()};
    collector_log_joiner *j = collector_joiner_new(COLLECTOR_LOG_AUTO, 0, collect, &g);
    for (size_t i = 0; i < 5 && groups[k].files[i]; i++) {
      if (!*groups[k].files[i])
        collector_joiner_flush(j);
      else
        feed_file(j, groups[k].files[i]);
    }
    collector_joiner_flush(j);
    compare_expected(groups[k].expected, &g);
    collector_joiner_free(j);
    json_decref(g.arr);
  }
}

static void test_timestamps(void **state)
{
  (void)state;
  int64_t t;
  assert_int_equal(collector_parse_rfc3339_ns("2024-05-01T14:00:00.120000000+02:00", 35, &t), 0);
  assert_true(t == 1714564800120000000LL);
  assert_int_equal(collector_parse_rfc3339_ns("2024-05-01T12:00:00Z", 20, &t), 0);
  assert_true(t == 1714564800000000000LL);
  assert_int_equal(collector_parse_rfc3339_ns("2024-05-01T12:00:00.5Z", 22, &t), 0);
  assert_true(t == 1714564800500000000LL);
  assert_int_equal(collector_parse_rfc3339_ns("2024-05-01 12:00:00Z", 20, &t), LK_EPARSE);
  assert_int_equal(collector_parse_rfc3339_ns("2024-05-01T12:00:00.Z", 21, &t), LK_EPARSE);
  /* The int64 ns range ends on 2262-04-11T23:47:16.854775807Z and starts on
   * 1677-09-21T00:12:43.145224192Z; beyond it is a parse error (found by
   * tests/fuzz/fuzz_tail, which hit signed overflow). */
  assert_int_equal(collector_parse_rfc3339_ns("2262-04-11T23:47:16.854775807Z", 30, &t), 0);
  assert_true(t == INT64_MAX);
  assert_int_equal(collector_parse_rfc3339_ns("2262-04-11T23:47:16.854775808Z", 30, &t), LK_EPARSE);
  assert_int_equal(collector_parse_rfc3339_ns("1677-09-21T00:12:43.145224192Z", 30, &t), 0);
  assert_true(t == INT64_MIN);
  assert_int_equal(collector_parse_rfc3339_ns("1677-09-21T00:12:43.145224191Z", 30, &t), LK_EPARSE);
  assert_int_equal(collector_parse_rfc3339_ns("9999-12-31T23:59:59-23:59", 25, &t), LK_EPARSE);
  assert_int_equal(collector_parse_rfc3339_ns("0000-01-01T00:00:00Z", 20, &t), LK_EPARSE);
}

/*---- the live tailer ----*/

typedef struct sink_state {
  char **lines;
  size_t n, cap;
  int fail_next;
  size_t partial_seen;
} sink_state;

static int sink(void *ctx, const collector_log_entry *e, size_t n)
{
  sink_state *s = ctx;
  if (s->fail_next > 0) {
    s->fail_next--;
    return LK_EUNAVAIL;
  }
  for (size_t i = 0; i < n; i++) {
    s->lines = lk_xgrow(s->lines, &s->cap, s->n + 1, sizeof *s->lines);
    s->lines[s->n++] = lk_xstrndup(e[i].line, e[i].len);
    assert_true(e[i].nlabels >= 2);
  }
  return 0;
}

static void sink_free(sink_state *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->lines[i]);
  free(s->lines);
  memset(s, 0, sizeof *s);
}

static char *mkpods(void)
{
  char tmpl[] = "/tmp/lk-tail-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/pods/shop_web-1_u1/web", tmpl);
  assert_int_equal(system(cmd), 0);
  return lk_xstrdup(tmpl);
}

static void rmrf(const char *dir)
{
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static collector_tail *new_tail(const char *dir, sink_state *ss, bool positions)
{
  char glob[512], pos[512];
  snprintf(glob, sizeof glob, "%s/pods/*/*/*.log", dir);
  snprintf(pos, sizeof pos, "%s/positions", dir);
  const char *globs[] = {glob};
  collector_tail_opts o = {.globs = globs, .nglobs = 1, .positions = positions ? pos : NULL,
                           .batch_entries = 7, .partial_flush_ns = 60000000000LL};
  collector_tail *t;
  assert_int_equal(collector_tail_new(&o, (collector_log_sink){sink, ss}, &t, NULL), 0);
  return t;
}

static void append(const char *path, const char *text)
{
  FILE *fp = fopen(path, "a");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

/* The child writes CRI lines "msg <i>", rotating every 97 lines by rename
 * (kubelet style) or by copytruncate (every third rotation). Copytruncate
 * loses whatever was written but not yet read when the truncate happens
 * (inherent in that scheme), and a tailer more than one rename behind finds
 * the data only in older rotated files, which it does not follow. So before
 * each rotation the child asks the parent (pipe `req`) to wait until the
 * tailer has read the first line of the current file (so it holds it open
 * and will drain it after the rename; the whole file for a truncate), and
 * waits for `go`. Everything else runs concurrently. */
static void writer(const char *path, int total, int req, int go)
{
  char rot[600];
  snprintf(rot, sizeof rot, "%s.rotated", path);
  FILE *fp = fopen(path, "a");
  int prev = 0;
  for (int i = 0; i < total; i++) {
    fprintf(fp, "2024-05-01T12:00:00.%09dZ stdout F msg %d\n", i, i);
    fflush(fp);
    if (i % 97 == 96) {
      fclose(fp);
      bool do_trunc = (i / 97) % 3 == 2;
      int upto = do_trunc ? i + 1 : prev + 1; /* +1: the tailer has this file open */
      char c;
      prev = i + 1;
      if (write(req, &upto, sizeof upto) != sizeof upto || read(go, &c, 1) != 1)
        _exit(1);
      if (do_trunc) {
        FILE *t = fopen(path, "w"); /* the copy is elided; only the truncate matters */
        fclose(t);
      } else {
        rename(path, rot); /* rename + create */
        usleep(2000);
      }
      fp = fopen(path, "a");
    }
    if (i % 13 == 0)
      usleep(1000);
  }
  fclose(fp);
  _exit(0);
}

static void test_rotation_with_writer(void **state)
{
  (void)state;
  char *dir = mkpods();
  char path[512];
  snprintf(path, sizeof path, "%s/pods/shop_web-1_u1/web/0.log", dir);
  append(path, "");
  sink_state ss = {0};
  collector_tail *t = new_tail(dir, &ss, true);
  const int total = 2000;
  int req[2], go[2];
  assert_int_equal(pipe2(req, O_NONBLOCK), 0);
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    writer(path, total, req[1], go[0]);
  int status = 0, want = -1;
  bool done = false;
  int64_t deadline = lk_mono_ns() + 60LL * 1000000000LL;
  while (lk_mono_ns() < deadline) {
    collector_tail_poll(t);
    if (want < 0 && read(req[0], &want, sizeof want) != sizeof want)
      want = -1;
    if (want >= 0 && ss.n >= (size_t)want) {
      assert_int_equal(write(go[1], "g", 1), 1);
      want = -1;
    }
    if (!done && waitpid(pid, &status, WNOHANG) == pid)
      done = true;
    if (done && ss.n >= (size_t)total)
      break;
    usleep(done ? 1000 : 3000);
  }
  collector_tail_poll(t);
  close(req[0]), close(req[1]), close(go[0]), close(go[1]);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (!done || !WIFEXITED(status) || WEXITSTATUS(status))
    fprintf(stderr, "writer: done=%d status=%d n=%zu\n", done, status, ss.n);
  if (!done || ss.n != (size_t)total) {
    collector_tail_stats ds;
    collector_tail_stats_get(t, &ds);
    fprintf(stderr, "tailer: files=%llu rotations=%llu truncations=%llu want=%d\n",
            (unsigned long long)ds.files, (unsigned long long)ds.rotations,
            (unsigned long long)ds.truncations, want);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -li %s/pods/*/*/ >&2; wc -l %s/pods/*/*/* >&2", dir, dir);
    if (system(cmd))
      fprintf(stderr, "ls failed\n");
  }
  assert_true(done && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(ss.n, total); /* each line exactly once, in order */
  for (int i = 0; i < total; i++) {
    char line[32];
    snprintf(line, sizeof line, "msg %d", i);
    assert_string_equal(ss.lines[i], line);
  }
  collector_tail_stats st;
  collector_tail_stats_get(t, &st);
  assert_true(st.rotations + st.files >= 10);
  assert_true(st.truncations >= 2);
  collector_tail_free(t);
  sink_free(&ss);
  rmrf(dir);
  free(dir);
}

static void test_restart_and_rewind(void **state)
{
  (void)state;
  char *dir = mkpods();
  char path[512];
  snprintf(path, sizeof path, "%s/pods/shop_web-1_u1/web/0.log", dir);
  append(path, "2024-05-01T12:00:00Z stdout F one\n"
               "2024-05-01T12:00:01Z stdout P two-a \n"
               "2024-05-01T12:00:02Z stderr F three\n");
  sink_state ss = {0};
  collector_tail *t = new_tail(dir, &ss, true);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 2); /* "two" waits for its F */
  collector_tail_free(t);   /* the agent restarts */
  append(path, "2024-05-01T12:00:03Z stdout F two-b\n2024-05-01T12:00:04Z stdout F four\n");
  t = new_tail(dir, &ss, true);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 4);
  assert_string_equal(ss.lines[0], "one");
  assert_string_equal(ss.lines[1], "three");
  assert_string_equal(ss.lines[2], "two-a two-b");
  assert_string_equal(ss.lines[3], "four");
  /* the sink fails once: nothing is lost or repeated */
  append(path, "2024-05-01T12:00:05Z stdout F five\n2024-05-01T12:00:06Z stdout F six\n");
  ss.fail_next = 1;
  assert_int_equal(collector_tail_poll(t), LK_EUNAVAIL);
  assert_int_equal(ss.n, 4);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 6);
  assert_string_equal(ss.lines[5], "six");
  /* truncate -s 0, then new content */
  assert_int_equal(truncate(path, 0), 0);
  append(path, "2024-05-01T12:00:07Z stdout F seven\n");
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 7);
  assert_string_equal(ss.lines[6], "seven");
  collector_tail_free(t);
  sink_free(&ss);
  rmrf(dir);
  free(dir);
}

/* Rotate by rename + gzip (kubelet's 0.log.<time>.gz, logrotate compress)
 * with lines the tailer has not read yet, and start a new file. */
static void rotate_gzip(const char *path)
{
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mv '%s' '%s.20240501-120000' && gzip '%s.20240501-120000'", path,
           path, path);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s.20240501-120000", path);
  assert_int_equal(access(cmd, F_OK), -1); /* gzip removed the uncompressed file */
  append(path, "2024-05-01T12:00:05Z stdout F new-1\n2024-05-01T12:00:06Z stdout F new-2\n");
}

static void expect_exactly_once(const sink_state *ss)
{
  static const char *want[] = {"one", "two", "three", "four", "five", "new-1", "new-2"};
  assert_int_equal(ss->n, 7);
  for (size_t i = 0; i < 7; i++)
    assert_string_equal(ss->lines[i], want[i]);
}

/* The unread tail of a file rotated and compressed while the tailer runs
 * (read from its open fd) or while it was stopped (read from the .gz from
 * the checkpoint): every line arrives exactly once. */
static void test_rotation_gzip(void **state)
{
  (void)state;
  for (int restart = 0; restart < 2; restart++) {
    char *dir = mkpods();
    char path[512];
    snprintf(path, sizeof path, "%s/pods/shop_web-1_u1/web/0.log", dir);
    append(path, "2024-05-01T12:00:00Z stdout F one\n2024-05-01T12:00:01Z stdout F two\n"
                 "2024-05-01T12:00:02Z stdout F three\n");
    sink_state ss = {0};
    collector_tail *t = new_tail(dir, &ss, true);
    assert_int_equal(collector_tail_poll(t), 0);
    assert_int_equal(ss.n, 3);
    if (restart)
      collector_tail_free(t); /* the agent is down across the rotation */
    append(path, "2024-05-01T12:00:03Z stdout F four\n2024-05-01T12:00:04Z stdout F five\n");
    rotate_gzip(path);
    if (restart)
      t = new_tail(dir, &ss, true);
    for (int i = 0; i < 3; i++)
      assert_int_equal(collector_tail_poll(t), 0);
    expect_exactly_once(&ss);
    collector_tail_free(t);
    if (restart) { /* and once more: the checkpoint now names the new file */
      t = new_tail(dir, &ss, true);
      assert_int_equal(collector_tail_poll(t), 0);
      assert_int_equal(ss.n, 7);
      collector_tail_free(t);
    }
    sink_free(&ss);
    rmrf(dir);
    free(dir);
  }
}

/* Same inode, other content while the agent was down (a reused inode, or a
 * file rewritten in place): the fingerprint no longer matches, so the whole
 * file is read instead of resuming at the stale offset. */
static void test_stale_position(void **state)
{
  (void)state;
  char *dir = mkpods();
  char path[512];
  snprintf(path, sizeof path, "%s/pods/shop_web-1_u1/web/0.log", dir);
  append(path, "2024-05-01T12:00:00Z stdout F old one\n2024-05-01T12:00:01Z stdout F old two\n");
  sink_state ss = {0};
  collector_tail *t = new_tail(dir, &ss, true);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 2);
  collector_tail_free(t);
  FILE *fp = fopen(path, "r+"); /* rewrite in place: the inode stays */
  assert_non_null(fp);
  fputs("2024-05-01T13:00:00Z stdout F new one, longer than before\n"
        "2024-05-01T13:00:01Z stdout F new two\n2024-05-01T13:00:02Z stdout F new three\n", fp);
  fclose(fp);
  t = new_tail(dir, &ss, true);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 5);
  assert_string_equal(ss.lines[2], "new one, longer than before");
  assert_string_equal(ss.lines[4], "new three");
  collector_tail_free(t);
  sink_free(&ss);
  rmrf(dir);
  free(dir);
}

static void test_restart_file_and_bad_input(void **state)
{
  (void)state;
  char *dir = mkpods();
  char p0[512], p1[512];
  snprintf(p0, sizeof p0, "%s/pods/shop_web-1_u1/web/0.log", dir);
  snprintf(p1, sizeof p1, "%s/pods/shop_web-1_u1/web/1.log", dir);
  append(p0, "2024-05-01T12:00:00Z stdout F ok\n"
             "garbage that is not CRI but is taken as plain text\n"
             "2024-05-01T12:00:01Z stdout X bad tag\n"
             "2024-05-01T12:00:02Z stdout P dangling");
  sink_state ss = {0};
  collector_tail *t = new_tail(dir, &ss, false);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 2); /* the bad-tag record is skipped; the last one is unfinished */
  append(p0, "\n");
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 2); /* P waits */
  append(p1, "2024-05-01T12:01:00Z stdout F restarted\n");
  assert_int_equal(collector_tail_poll(t), 0); /* 1.log appeared: 0.log's P is flushed */
  assert_int_equal(ss.n, 4);
  assert_string_equal(ss.lines[2], "dangling");
  assert_string_equal(ss.lines[3], "restarted");
  /* a huge line (1 MiB) is split at max_line */
  FILE *fp = fopen(p1, "a");
  fputs("2024-05-01T12:01:01Z stdout F ", fp);
  for (int i = 0; i < (1 << 20); i++)
    fputc('a' + i % 26, fp);
  fputs("\n", fp);
  fclose(fp);
  assert_int_equal(collector_tail_poll(t), 0);
  assert_int_equal(ss.n, 8);
  assert_int_equal(strlen(ss.lines[4]), 256 << 10);
  collector_tail_free(t);
  sink_free(&ss);
  rmrf(dir);
  free(dir);
}

/* 1,000 containers' logs (the collector bench's farm), one line each. */
static char *mkpods_many(int n)
{
  char *dir = mkpods();
  for (int i = 0; i < n; i++) {
    char path[600];
    snprintf(path, sizeof path, "%s/pods/ns_pod-%d_u%d", dir, i, i);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/pods/ns_pod-%d_u%d/c", dir, i, i);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/pods/ns_pod-%d_u%d/c/0.log", dir, i, i);
    char line[100];
    snprintf(line, sizeof line, "2024-05-01T12:00:00.000000000Z stdout F line %d\n", i);
    append(path, line);
  }
  return dir;
}

/* Lines read in one poll of a fresh tailer (max_open 0: the default) and
 * how many files it left unfollowed. */
static size_t poll_once(const char *dir, size_t max_open, uint64_t *unfollowed)
{
  char glob[512];
  snprintf(glob, sizeof glob, "%s/pods/*/*/*.log", dir);
  const char *globs[] = {glob};
  collector_tail_opts o = {.globs = globs, .nglobs = 1, .max_open = max_open};
  sink_state ss = {0};
  collector_tail *t;
  assert_int_equal(collector_tail_new(&o, (collector_log_sink){sink, &ss}, &t, NULL), 0);
  assert_int_equal(collector_tail_poll(t), 0);
  collector_tail_stats st;
  collector_tail_stats_get(t, &st);
  *unfollowed = st.unfollowed;
  collector_tail_free(t);
  size_t n = ss.n;
  sink_free(&ss);
  return n;
}

/* The default bound on open files follows the open-file limit, so the
 * bench's 1,000 containers are all followed once main has raised it (it
 * was a fixed 512); a low limit keeps the 512 floor, max_open still
 * bounds, and what is left out is counted. */
static void test_open_bound_follows_fd_limit(void **state)
{
  (void)state;
  struct rlimit was;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
  if (was.rlim_max != RLIM_INFINITY && was.rlim_max < 8192)
    skip(); /* cannot raise the soft limit far enough here */
  char *dir = mkpods_many(1000);
  uint64_t unfollowed;
  struct rlimit rl = {8192, was.rlim_max};
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  assert_int_equal(poll_once(dir, 0, &unfollowed), 1000);
  assert_int_equal(unfollowed, 0);
  assert_int_equal(poll_once(dir, 300, &unfollowed), 300);
  assert_int_equal(unfollowed, 700);
  rl.rlim_cur = 1024;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  assert_int_equal(poll_once(dir, 0, &unfollowed), 512);
  assert_int_equal(unfollowed, 488);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
  rmrf(dir);
  free(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures),
      cmocka_unit_test(test_timestamps),
      cmocka_unit_test(test_restart_and_rewind),
      cmocka_unit_test(test_restart_file_and_bad_input),
      cmocka_unit_test(test_stale_position),
      cmocka_unit_test(test_rotation_with_writer),
      cmocka_unit_test(test_rotation_gzip),
      cmocka_unit_test(test_open_bound_follows_fd_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
