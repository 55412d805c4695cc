/* test_http.c — lib/lk_http.c and lib/lk_httpc.c against each other: a real
 * server on 127.0.0.1 port 0 with a test route table, driven by the client
 * (routing, 404/405, query and form arguments, body limits with and without
 * Content-Length, bearer auth, streamed bodies, streamed responses, the
 * observer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_http.h"
#include "lib/lk_httpc.h"

typedef struct tctx {
  atomic_int observed;
  atomic_int last_status;
  atomic_int streams_ended;
  _Atomic(const char *) last_route;
  atomic_int events_status; /* status observed for /events, 0 until seen */
} tctx;

static void h_echo(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const char *vals[8];
  size_t n = lk_http_args(req, "match[]", vals, 8);
  const char *q = lk_http_arg(req, "q");
  lk_buf_printf(&resp->body, "%s %s param=%s q=[%s] n=%zu", lk_http_method(req), lk_http_path(req),
                lk_http_path_param(req), q ? q : "-", n);
  for (size_t i = 0; i < n && i < 8; i++)
    lk_buf_printf(&resp->body, " m=[%s]", vals[i]);
  size_t bl;
  lk_http_body(req, &bl);
  lk_buf_printf(&resp->body, " body=%zu", bl);
  resp->content_type = "text/plain";
}

typedef struct sstate {
  tctx *t;
  size_t bytes;
  unsigned sum;
} sstate;

static void *s_begin(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const char *h = lk_http_header(req, "X-Reject");
  if (h) {
    lk_http_error(resp, 415, "bad_data", "rejected early: %s", h);
    return NULL;
  }
  sstate *s = calloc(1, sizeof *s);
  s->t = ctx;
  return s;
}

static int s_chunk(void *state, const uint8_t *p, size_t n)
{
  sstate *s = state;
  s->bytes += n;
  for (size_t i = 0; i < n; i++)
    s->sum += p[i];
  return 0;
}

static void s_end(void *state, const lk_http_req *req, lk_http_resp *resp)
{
  sstate *s = state;
  if (!resp->status) {
    resp->content_type = "text/plain";
    lk_buf_printf(&resp->body, "bytes=%zu sum=%u", s->bytes, s->sum);
  }
  atomic_fetch_add(&s->t->streams_ended, 1);
  free(s);
}

static const lk_http_stream stream_cb = {s_begin, s_chunk, s_end};

typedef struct events {
  int left;
} events;

static ssize_t ev_read(void *state, uint8_t *buf, size_t max)
{
  events *e = state;
  if (e->left == 0)
    return -1;
  int n = snprintf((char *)buf, max, "data: event %d\n\n", e->left--);
  return n;
}

static void ev_free(void *state) { free(state); }

static void h_events(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  events *e = calloc(1, sizeof *e);
  e->left = 3;
  resp->content_type = "text/event-stream";
  resp->stream = (lk_http_body_stream){ev_read, ev_free, e};
}

static const lk_http_route routes[] = {
  {"GET|POST", "/echo", LK_AUTH_NONE, 1000, h_echo, NULL, "/echo"},
  {"GET", "/pre/*", LK_AUTH_NONE, 0, h_echo, NULL, "/pre/*"},
  {"POST", "/remote", LK_AUTH_REMOTE, 100, h_echo, NULL, "/remote"},
  {"POST", "/always", LK_AUTH_ALWAYS, 100, h_echo, NULL, "/always"},
  {"POST", "/stream", LK_AUTH_NONE, 1 << 20, NULL, &stream_cb, "/stream"},
  {"GET", "/events", LK_AUTH_NONE, 0, h_events, NULL, "/events"},
};

static void observe(void *ctx, const char *route, int status, int64_t micros)
{
  tctx *t = ctx;
  atomic_store(&t->last_status, status);
  atomic_store(&t->last_route, route);
  if (!strcmp(route, "/events"))
    atomic_store(&t->events_status, status);
  atomic_fetch_add(&t->observed, 1);
}

typedef struct fixture {
  tctx t;
  lk_http_server *srv;
  char base[64];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  lk_http_opts o = {.listen = "127.0.0.1:0", .token = "s3cret"};
  lk_diag d = {0};
  if (lk_http_start(&o, routes, sizeof routes / sizeof routes[0], &f->t, observe, &f->srv, &d)) {
    fprintf(stderr, "start: %s\n", d.msg);
    free(f);
    return -1;
  }
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", lk_http_port(f->srv));
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  lk_http_stop(f->srv);
  free(f);
  return 0;
}

static int do_req(fixture *f, const char *method, const char *path, const char *const *hdrs,
                  const char *body, lk_httpc_resp *r)
{
  char url[512];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_req q = {.method = method, .url = url, .headers = hdrs, .body = body,
                    .body_len = body ? strlen(body) : 0, .timeout_ms = 5000};
  lk_diag d = {0};
  int rc = lk_httpc_do(&q, r, &d);
  if (rc)
    fprintf(stderr, "request failed: %s\n", d.msg);
  return rc;
}

static void test_routing(void **state)
{
  fixture *f = *state;
  lk_httpc_resp r = {0};
  assert_int_equal(do_req(f, "GET", "/echo?q=a+b%21&match[]=up&match%5B%5D=x%7Bjob%3D%22a%22%7D", NULL, NULL, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal((char *)r.body.data, "GET /echo param= q=[a b!] n=2 m=[up] m=[x{job=\"a\"}] body=0");
  char ct[64];
  assert_string_equal(lk_httpc_header(&r, "content-type", ct, sizeof ct), "text/plain");
  lk_httpc_resp_fini(&r);

  assert_int_equal(do_req(f, "GET", "/pre/foo/values", NULL, NULL, &r), 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr((char *)r.body.data, "param=foo/values"));
  lk_httpc_resp_fini(&r);

  assert_int_equal(do_req(f, "GET", "/nope", NULL, NULL, &r), 0);
  assert_int_equal(r.status, 404);
  assert_string_equal((char *)r.body.data,
                      "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no such endpoint: /nope\"}");
  lk_httpc_resp_fini(&r);

  assert_int_equal(do_req(f, "DELETE", "/echo", NULL, NULL, &r), 0);
  assert_int_equal(r.status, 405);
  assert_string_equal(lk_httpc_header(&r, "Allow", ct, sizeof ct), "GET|POST");
  assert_non_null(strstr((char *)r.body.data, "\"errorType\":\"bad_data\""));
  lk_httpc_resp_fini(&r);
}

static void test_form_post(void **state)
{
  fixture *f = *state;
  const char *hdr[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  lk_httpc_resp r = {0};
  assert_int_equal(do_req(f, "POST", "/echo?match[]=q1", hdr, "q=rate(x%5B5m%5D)&match[]=b+c", &r), 0);
  assert_int_equal(r.status, 200);
  /* query-string arguments come first, then the form's */
  assert_string_equal((char *)r.body.data, "POST /echo param= q=[rate(x[5m])] n=2 m=[q1] m=[b c] body=29");
  lk_httpc_resp_fini(&r);
}

static void test_body_limit(void **state)
{
  fixture *f = *state;
  char big[2001];
  memset(big, 'x', 2000);
  big[2000] = 0;
  lk_httpc_resp r = {0};
  assert_int_equal(do_req(f, "POST", "/echo", NULL, big, &r), 0);
  assert_int_equal(r.status, 413);
  assert_non_null(strstr((char *)r.body.data, "exceeds the limit of 1000 bytes"));
  lk_httpc_resp_fini(&r);
  /* a route without a body allowance */
  assert_int_equal(do_req(f, "GET", "/pre/x", NULL, "abc", &r), 0);
  assert_int_equal(r.status, 413);
  lk_httpc_resp_fini(&r);
}

typedef struct src {
  size_t left;
} src;

static ssize_t src_read(void *ctx, uint8_t *buf, size_t max)
{
  src *s = ctx;
  size_t n = s->left < max ? s->left : max;
  if (n > 1000)
    n = 1000;
  memset(buf, 1, n);
  s->left -= n;
  return (ssize_t)n;
}

static void test_chunked_limit_and_stream(void **state)
{
  fixture *f = *state;
  char url[128];
  lk_diag d = {0};
  lk_httpc_resp r = {0};
  /* chunked body (no Content-Length) counted as it streams: 413 */
  src s = {5000};
  snprintf(url, sizeof url, "%s/echo", f->base);
  lk_httpc_req q = {.url = url, .body_fn = src_read, .body_ctx = &s, .body_fn_len = -1, .timeout_ms = 5000};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 413);
  lk_httpc_resp_fini(&r);
  /* streamed route: chunk sees every byte, end answers */
  s.left = 300000;
  snprintf(url, sizeof url, "%s/stream", f->base);
  q.url = url;
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal((char *)r.body.data, "bytes=300000 sum=300000");
  lk_httpc_resp_fini(&r);
  /* begin may reject before the body is read */
  const char *hdr[] = {"X-Reject: nope", NULL};
  assert_int_equal(do_req(f, "POST", "/stream", hdr, "data", &r), 0);
  assert_int_equal(r.status, 415);
  assert_non_null(strstr((char *)r.body.data, "rejected early: nope"));
  lk_httpc_resp_fini(&r);
  assert_int_equal(atomic_load(&f->t.streams_ended), 1);
}

static void test_auth(void **state)
{
  fixture *f = *state;
  lk_httpc_resp r = {0};
  /* loopback: REMOTE routes are open */
  assert_int_equal(do_req(f, "POST", "/remote", NULL, "x", &r), 0);
  assert_int_equal(r.status, 200);
  lk_httpc_resp_fini(&r);
  /* ALWAYS needs the token */
  assert_int_equal(do_req(f, "POST", "/always", NULL, "x", &r), 0);
  assert_int_equal(r.status, 401);
  assert_non_null(strstr((char *)r.body.data, "missing bearer token"));
  char v[32];
  assert_string_equal(lk_httpc_header(&r, "WWW-Authenticate", v, sizeof v), "Bearer");
  lk_httpc_resp_fini(&r);
  const char *bad[] = {"Authorization: Bearer wrong", NULL};
  assert_int_equal(do_req(f, "POST", "/always", bad, "x", &r), 0);
  assert_int_equal(r.status, 401);
  lk_httpc_resp_fini(&r);
  const char *good[] = {"Authorization: Bearer s3cret", NULL};
  assert_int_equal(do_req(f, "POST", "/always", good, "x", &r), 0);
  assert_int_equal(r.status, 200);
  lk_httpc_resp_fini(&r);
}

static void test_events_and_observer(void **state)
{
  fixture *f = *state;
  lk_httpc_resp r = {0};
  int before = atomic_load(&f->t.observed);
  assert_int_equal(do_req(f, "GET", "/events", NULL, NULL, &r), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal((char *)r.body.data, "data: event 3\n\ndata: event 2\n\ndata: event 1\n\n");
  char v[64];
  assert_non_null(lk_httpc_header(&r, "Transfer-Encoding", v, sizeof v));
  lk_httpc_resp_fini(&r);
  /* the completion callback runs after the client has the response, and
   * the previous request's callback may land after this one's: wait until
   * /events itself has been observed */
  for (int i = 0; i < 400 && !atomic_load(&f->t.events_status); i++) {
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(atomic_load(&f->t.events_status), 200);
  assert_true(atomic_load(&f->t.observed) > before);
}

static void test_remote_auth(void **state)
{
  /* require_token: REMOTE routes need the token even on loopback (as beyond
   * it), and without a configured token they say how to fix it */
  tctx t = {0};
  lk_http_server *srv = NULL;
  lk_http_opts o = {.listen = "127.0.0.1:0", .require_token = true};
  lk_diag d = {0};
  assert_int_equal(lk_http_start(&o, routes, sizeof routes / sizeof routes[0], &t, NULL, &srv, &d), 0);
  assert_true(lk_http_is_loopback(srv));
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/remote", lk_http_port(srv));
  lk_httpc_req q = {.url = url, .body = "x", .body_len = 1, .timeout_ms = 5000};
  lk_httpc_resp r = {0};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 401);
  assert_non_null(strstr((char *)r.body.data, "configure auth.token_file"));
  lk_httpc_resp_fini(&r);
  lk_http_stop(srv);
  o.token = "tok";
  assert_int_equal(lk_http_start(&o, routes, sizeof routes / sizeof routes[0], &t, NULL, &srv, &d), 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/remote", lk_http_port(srv));
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 401);
  lk_httpc_resp_fini(&r);
  const char *h[] = {"Authorization: Bearer tok", NULL};
  q.headers = h;
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 200);
  lk_httpc_resp_fini(&r);
  lk_http_stop(srv);
}

static void test_bad_listen(void **state)
{
  lk_http_server *srv = NULL;
  lk_diag d = {0};
  lk_http_opts o = {.listen = "127.0.0.1"};
  assert_int_equal(lk_http_start(&o, routes, 1, NULL, NULL, &srv, &d), LK_EINVAL);
  assert_null(srv);
  fixture *f = *state;
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", lk_http_port(f->srv));
  lk_diag d2 = {0};
  o.listen = addr;
  assert_int_equal(lk_http_start(&o, routes, 1, NULL, NULL, &srv, &d2), LK_EIO);
  assert_non_null(strstr(d2.msg, "cannot listen"));
}

static void test_client_errors(void **state)
{
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_get("ftp://x/", 1000, &r, &d), LK_EINVAL);
  lk_diag d2 = {0};
  /* port 1 on loopback: nothing listens */
  assert_int_equal(lk_httpc_get("http://127.0.0.1:1/", 1000, &r, &d2), LK_EIO);
  assert_non_null(strstr(d2.msg, "cannot connect"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_routing),
    cmocka_unit_test(test_form_post),
    cmocka_unit_test(test_body_limit),
    cmocka_unit_test(test_chunked_limit_and_stream),
    cmocka_unit_test(test_auth),
    cmocka_unit_test(test_events_and_observer),
    cmocka_unit_test(test_remote_auth),
    cmocka_unit_test(test_bad_listen),
    cmocka_unit_test(test_client_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
