/* test_loki_api.c — the Loki HTTP API on a real server (127.0.0.1, port 0):
 * JSON and protobuf+snappy pushes, query_range/query shapes, labels, series,
 * the SSE tail, and bad input: malformed JSON, lines over the limit and bad
 * LogQL answer 4xx with a message naming the problem (and the position). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_buf.h"
#include <zlib.h>
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"
#include "collector/tail.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "logstore/logstore.h"
#include "tests/helpers/web_fx.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

typedef web_fx fx;

static int setup(void **state)
{
  logstore_opts lo = {.max_line = 1000};
  *state = web_fx_start("/tmp/lk-lokiapi-XXXXXX", (web_opts){0}, &lo);
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  return web_fx_stop(*state);
}

static int post(fx *f, const char *ct, const void *body, size_t len, lk_httpc_resp *r)
{
  char url[128], hdr[128];
  snprintf(url, sizeof url, "%s/loki/api/v1/push", f->base);
  snprintf(hdr, sizeof hdr, "Content-Type: %s", ct);
  const char *hdrs[] = {hdr, NULL};
  lk_httpc_req req = {.method = "POST", .url = url, .headers = hdrs, .body = body, .body_len = len};
  memset(r, 0, sizeof *r);
  assert_int_equal(lk_httpc_do(&req, r, NULL), 0);
  return r->status;
}

static int get(fx *f, const char *path_query, lk_httpc_resp *r)
{
  char url[2048];
  snprintf(url, sizeof url, "%s%s", f->base, path_query);
  memset(r, 0, sizeof *r);
  assert_int_equal(lk_httpc_get(url, 10000, r, NULL), 0);
  return r->status;
}

/* logproto.PushRequest{streams: [{labels, entries: [{timestamp, line}]}]} */
static void proto_push(lk_buf *out, const char *labels, int64_t ts, const char *line)
{
  lk_loki_entry e = {ts, line, strlen(line)};
  lk_loki_stream st = {labels, &e, 1};
  assert_int_equal(lk_loki_push_encode(&st, 1, out), 0);
}

static void test_push_and_query(void **state)
{
  fx *f = *state;
  int64_t now = lk_now_ms() * 1000000LL;
  char body[512];
  snprintf(body, sizeof body,
           "{\"streams\":[{\"stream\":{\"app\":\"shop\",\"env\":\"prod\"},\"values\":"
           "[[\"%lld\",\"order 1 failed\"],[\"%lld\",\"order 2 ok\"]]}]}",
           (long long)(now - 2000000), (long long)(now - 1000000));
  lk_httpc_resp r;
  assert_int_equal(post(f, "application/json", body, strlen(body), &r), 204);
  lk_httpc_resp_fini(&r);
  lk_buf pb = {0};
  proto_push(&pb, "{app=\"shop\", env=\"dev\"}", now, "order 3 failed in \"dev\"");
  assert_int_equal(post(f, "application/x-protobuf", pb.data, pb.len, &r), 204);
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&pb);
  /* gzip-encoded JSON (Content-Encoding: gzip) */
  snprintf(body, sizeof body, "{\"streams\":[{\"stream\":{\"app\":\"shop\",\"env\":\"gz\"},\"values\":"
           "[[\"%lld\",\"order 4 failed gzipped\"]]}]}", (long long)(now - 500000));
  uint8_t gz[600];
  z_stream zs = {0};
  assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = (Bytef *)body;
  zs.avail_in = (uInt)strlen(body);
  zs.next_out = gz;
  zs.avail_out = sizeof gz;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t gzlen = sizeof gz - zs.avail_out;
  deflateEnd(&zs);
  char url[128];
  snprintf(url, sizeof url, "%s/loki/api/v1/push", f->base);
  const char *gzh[] = {"Content-Type: application/json", "Content-Encoding: gzip", NULL};
  lk_httpc_req greq = {.method = "POST", .url = url, .headers = gzh, .body = gz, .body_len = gzlen};
  assert_int_equal(lk_httpc_do(&greq, &r, NULL), 0);
  assert_int_equal(r.status, 204);
  lk_httpc_resp_fini(&r);

  assert_int_equal(get(f, "/loki/api/v1/query_range?query=%7Bapp%3D%22shop%22%7D%20%7C%3D%20%22failed%22"
                          "&limit=10&direction=forward", &r), 200);
  const char *b = (const char *)r.body.data;
  assert_non_null(strstr(b, "\"resultType\":\"streams\""));
  assert_non_null(strstr(b, "order 1 failed"));
  assert_non_null(strstr(b, "order 3 failed in \\\"dev\\\""));
  assert_non_null(strstr(b, "order 4 failed gzipped"));
  assert_null(strstr(b, "order 2 ok"));
  lk_httpc_resp_fini(&r);

  assert_int_equal(get(f, "/loki/api/v1/query?query=sum%20by%20(env)%20(count_over_time(%7Bapp%3D%22shop%22%7D%5B1h%5D))", &r), 200);
  b = (const char *)r.body.data;
  assert_non_null(strstr(b, "\"resultType\":\"vector\""));
  assert_non_null(strstr(b, "{\"env\":\"prod\"},\"value\":["));
  lk_httpc_resp_fini(&r);

  assert_int_equal(get(f, "/loki/api/v1/query_range?query=rate(%7Bapp%3D%22shop%22%7D%5B1m%5D)&step=10", &r), 200);
  assert_non_null(strstr((const char *)r.body.data, "\"resultType\":\"matrix\""));
  lk_httpc_resp_fini(&r);

  assert_int_equal(get(f, "/loki/api/v1/labels", &r), 200);
  assert_string_equal((const char *)r.body.data, "{\"status\":\"success\",\"data\":[\"app\",\"env\"]}");
  lk_httpc_resp_fini(&r);
  assert_int_equal(get(f, "/loki/api/v1/label/env/values", &r), 200);
  assert_string_equal((const char *)r.body.data, "{\"status\":\"success\",\"data\":[\"dev\",\"gz\",\"prod\"]}");
  lk_httpc_resp_fini(&r);
  assert_int_equal(get(f, "/loki/api/v1/series?match[]=%7Benv%3D%22dev%22%7D", &r), 200);
  assert_string_equal((const char *)r.body.data,
                      "{\"status\":\"success\",\"data\":[{\"app\":\"shop\",\"env\":\"dev\"}]}");
  lk_httpc_resp_fini(&r);

  assert_int_equal(get(f, "/loki/api/v1/tail?query=%7Bapp%3D%22shop%22%7D&duration=300ms", &r), 200);
  b = (const char *)r.body.data;
  char id[64];
  snprintf(id, sizeof id, "id: %lld\n", (long long)now);
  assert_non_null(strstr(b, id));
  assert_non_null(strstr(b, "data: {\"streams\":[{\"stream\":{\"app\":\"shop\",\"env\":\"dev\"}"));
  lk_httpc_resp_fini(&r);
}

static void test_bad_input(void **state)
{
  fx *f = *state;
  lk_httpc_resp r;
  assert_int_equal(post(f, "application/json", "{\"streams\":[{", 13, &r), 400);
  assert_non_null(strstr((const char *)r.body.data, "invalid JSON"));
  lk_httpc_resp_fini(&r);
  const char *bad_ts = "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"x\",\"y\"]]}]}";
  assert_int_equal(post(f, "application/json", bad_ts, strlen(bad_ts), &r), 400);
  lk_httpc_resp_fini(&r);
  char big[1400];
  int n = snprintf(big, sizeof big, "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",\"");
  memset(big + n, 'x', 1100);
  strcpy(big + n + 1100, "\"]]}]}");
  assert_int_equal(post(f, "application/json", big, strlen(big), &r), 413);
  lk_httpc_resp_fini(&r);
  assert_int_equal(post(f, "application/x-protobuf", "\x05junk", 5, &r), 400);
  lk_httpc_resp_fini(&r);
  /* a protobuf push's label set takes Go escapes, as Loki reads it; others are refused */
  lk_buf pb = {0};
  proto_push(&pb, "{app=\"esc\", note=\"caf\\u00e9 \\x41\\tz\"}", lk_now_ms() * 1000000LL, "escaped");
  assert_int_equal(post(f, "application/x-protobuf", pb.data, pb.len, &r), 204);
  lk_httpc_resp_fini(&r);
  assert_int_equal(get(f, "/loki/api/v1/label/note/values", &r), 200);
  assert_string_equal((const char *)r.body.data, "{\"status\":\"success\",\"data\":[\"caf\xc3\xa9 A\\tz\"]}");
  lk_httpc_resp_fini(&r);
  lk_buf_clear(&pb);
  proto_push(&pb, "{app=\"esc\", note=\"\\q\"}", lk_now_ms() * 1000000LL, "refused");
  assert_int_equal(post(f, "application/x-protobuf", pb.data, pb.len, &r), 400);
  assert_non_null(strstr((const char *)r.body.data, "stream 0: bad labels"));
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&pb);
  assert_int_equal(get(f, "/loki/api/v1/query_range?query=%7Bapp%3D%22x%22%7D%20%7C%3D", &r), 400);
  assert_non_null(strstr((const char *)r.body.data, "parse error at position 13"));
  lk_httpc_resp_fini(&r);
  assert_int_equal(get(f, "/loki/api/v1/query_range?query=%7Bapp%3D%22x%22%7D&limit=0", &r), 400);
  lk_httpc_resp_fini(&r);
}

/* A bad regex anywhere in LogQL is a 400 naming the query position, the
 * pattern, Go's problem text and the offending part with its offset. */
static void test_bad_regex(void **state)
{
  fx *f = *state;
  static const struct { const char *q, *want; } rows[] = {
      /* {app="x"} |~ "(" */
      {"%7Bapp%3D%22x%22%7D%20%7C~%20%22(%22",
       "parse error at position 14: invalid regular expression \\\"(\\\": error parsing regexp: "
       "missing closing ): `(` (at offset 0)"},
      /* {app=~"a**"} */
      {"%7Bapp%3D~%22a**%22%7D", "invalid nested repetition operator: `**` (at offset 1)"},
      /* {app="x"} | regexp "(?P<a-b>x)" */
      {"%7Bapp%3D%22x%22%7D%20%7C%20regexp%20%22(%3FP%3Ca-b%3Ex)%22", "invalid named capture: `(?P<a-b>`"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char pq[512];
    snprintf(pq, sizeof pq, "/loki/api/v1/query_range?query=%s", rows[i].q);
    lk_httpc_resp r;
    assert_int_equal(get(f, pq, &r), 400);
    if (!strstr((const char *)r.body.data, rows[i].want))
      fail_msg("%s: %s lacks %s", rows[i].q, (const char *)r.body.data, rows[i].want);
    lk_httpc_resp_fini(&r);
  }
}

/* POST /api/v1/admin/logs/flush seals every head: before it the pushed lines
 * sit in the head and the WAL, after it in segment blocks with the WAL
 * empty; queries answer the same lines either way. */
static void test_logs_flush(void **state)
{
  fx *f = *state;
  int64_t now = lk_now_ms() * 1000000LL;
  char body[512];
  snprintf(body, sizeof body,
           "{\"streams\":[{\"stream\":{\"app\":\"fl\"},\"values\":"
           "[[\"%lld\",\"flush me 1\"],[\"%lld\",\"flush me 2\"]]}]}",
           (long long)(now - 2000000), (long long)(now - 1000000));
  logstore_stats before, st;
  logstore_stats_get(f->logs, &before); /* earlier tests' lines may sit in heads too */
  lk_httpc_resp r;
  assert_int_equal(post(f, "application/json", body, strlen(body), &r), 204);
  lk_httpc_resp_fini(&r);
  logstore_stats_get(f->logs, &st);
  assert_int_equal(st.head_entries, before.head_entries + 2);
  assert_int_equal(st.blocks, before.blocks);

  char url[128];
  snprintf(url, sizeof url, "%s/api/v1/admin/logs/flush", f->base);
  lk_httpc_req req = {.method = "POST", .url = url};
  memset(&r, 0, sizeof r);
  assert_int_equal(lk_httpc_do(&req, &r, NULL), 0);
  assert_int_equal(r.status, 204);
  lk_httpc_resp_fini(&r);
  logstore_stats_get(f->logs, &st);
  assert_int_equal(st.head_entries, 0);
  assert_true(st.blocks > before.blocks);
  assert_true(st.raw_bytes >= before.raw_bytes + 20);
  char wal[128];
  snprintf(wal, sizeof wal, "%s/logs/wal.log", f->dir);
  FILE *fp = fopen(wal, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  assert_int_equal(ftell(fp), 8); /* the header only */
  fclose(fp);

  assert_int_equal(get(f, "/loki/api/v1/query?query=sum(count_over_time(%7Bapp%3D%22fl%22%7D%5B1h%5D))", &r), 200);
  assert_non_null(strstr((const char *)r.body.data, "\"2\"]"));
  lk_httpc_resp_fini(&r);
  /* GET is not a flush */
  assert_int_equal(get(f, "/api/v1/admin/logs/flush", &r), 405);
  lk_httpc_resp_fini(&r);
}

/* Agent mode: tailer → disk queue → POST /loki/api/v1/push of this server. */
static void test_agent_push(void **state)
{
  fx *f = *state;
  char cmd[256], glob[160], qdir[160], path[200];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/pods/web_api-7_u9/api", f->dir);
  assert_int_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/pods/web_api-7_u9/api/0.log", f->dir);
  FILE *fp = fopen(path, "w");
  fprintf(fp, "2024-05-01T12:00:00Z stdout F agent line one\n"
              "2024-05-01T12:00:01Z stderr F agent line \"two\"\n");
  fclose(fp);
  snprintf(glob, sizeof glob, "%s/pods/*/*/*.log", f->dir);
  snprintf(qdir, sizeof qdir, "%s/queue", f->dir);
  collector_log_push_opts po = {.url = f->base, .queue_dir = qdir};
  collector_log_pusher *p;
  assert_int_equal(collector_log_pusher_new(&po, &p, NULL), 0);
  const char *globs[] = {glob};
  collector_tail_opts to = {.globs = globs, .nglobs = 1};
  collector_tail *t;
  assert_int_equal(collector_tail_new(&to, collector_log_pusher_sink(p), &t, NULL), 0);
  assert_int_equal(collector_tail_poll(t), 0); /* queued on disk before the sender runs */
  assert_int_equal(collector_log_pusher_start(p), 0);
  collector_log_push_stats st = {0};
  for (int i = 0; i < 500 && st.sent_entries < 2; i++) {
    usleep(10000);
    collector_log_pusher_stats_get(p, &st);
  }
  assert_int_equal(st.sent_entries, 2);
  lk_httpc_resp r;
  assert_int_equal(get(f, "/loki/api/v1/query_range?query=%7Bnamespace%3D%22web%22%7D"
                          "&start=1714564700000000000&end=1714564900000000000", &r), 200);
  const char *b = (const char *)r.body.data;
  assert_non_null(strstr(b, "agent line one"));
  assert_non_null(strstr(b, "agent line \\\"two\\\""));
  assert_non_null(strstr(b, "\"container\":\"api\""));
  assert_non_null(strstr(b, "\"pod\":\"api-7\""));
  assert_non_null(strstr(b, "\"stream\":\"stderr\""));
  lk_httpc_resp_fini(&r);
  collector_tail_free(t);
  collector_log_pusher_free(p);
}

/* Raw loopback client for the live /tail stream: lk_httpc reads whole bodies. */
static int tail_open(fx *f, const char *path_query)
{
  int port = atoi(strrchr(f->base, ':') + 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char rq[512];
  int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path_query);
  assert_int_equal(write(fd, rq, (size_t)n), n);
  return fd;
}

/* Read from the stream into acc until it holds want (or ms pass). */
static bool tail_wait_for(int fd, lk_buf *acc, const char *want, int ms)
{
  int64_t end = lk_mono_ns() + ms * 1000000LL;
  while (lk_mono_ns() < end) {
    lk_buf_putc(acc, 0);
    acc->len--;
    if (strstr((const char *)acc->data, want))
      return true;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) == 1) {
      char buf[4096];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0)
        return false;
      lk_buf_append(acc, buf, (size_t)n);
    }
  }
  return false;
}

static void push_line(fx *f, int64_t ts, const char *line)
{
  char body[512];
  snprintf(body, sizeof body,
           "{\"streams\":[{\"stream\":{\"app\":\"live\"},\"values\":[[\"%lld\",\"%s\"]]}]}",
           (long long)ts, line);
  lk_httpc_resp r;
  assert_int_equal(post(f, "application/json", body, strlen(body), &r), 204);
  lk_httpc_resp_fini(&r);
}

/* /tail stays open: lines pushed after it opened arrive within a bounded
 * time, in Loki's tail shape; closing the client leaves the server fine. */
static void test_tail_live(void **state)
{
  fx *f = *state;
  int fd = tail_open(f, "/loki/api/v1/tail?query=%7Bapp%3D%22live%22%7D%20%7C%3D%20%22keep%22");
  lk_buf acc = {0};
  assert_true(tail_wait_for(fd, &acc, "text/event-stream", 5000));
  int64_t now = lk_now_ms() * 1000000LL;
  push_line(f, now, "keep first");
  assert_true(tail_wait_for(fd, &acc, "keep first", 5000));
  assert_non_null(strstr((const char *)acc.data, "data: {\"streams\":[{\"stream\":{\"app\":\"live\"},"
                                                 "\"values\":[[\""));
  usleep(300000); /* several polls in between: the stream is still open */
  push_line(f, now + 1000, "drop this one");
  push_line(f, now + 2000, "keep second");
  assert_true(tail_wait_for(fd, &acc, "keep second", 5000));
  assert_null(strstr((const char *)acc.data, "drop this one"));
  assert_null(strstr(strstr((const char *)acc.data, "keep first") + 1, "keep first"));
  close(fd);
  lk_buf_fini(&acc);
  usleep(300000); /* the server notices the departed client on its next write */
  lk_httpc_resp r;
  assert_int_equal(get(f, "/loki/api/v1/query?query=%7Bapp%3D%22live%22%7D", &r), 200);
  assert_non_null(strstr((const char *)r.body.data, "keep second"));
  lk_httpc_resp_fini(&r);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_and_query),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_bad_regex),
      cmocka_unit_test(test_logs_flush),
      cmocka_unit_test(test_agent_push),
      cmocka_unit_test(test_tail_live),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
