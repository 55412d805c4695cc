/* test_flows_api.c — GET /api/v1/flows/graph end to end: known
 * lookout_flow_* and lookout_tcp_* series pushed by remote_write into a real
 * server (tsdb in a temp dir, 127.0.0.1 port 0), then the graph read back:
 * nodes (pods and world), edges summed over nodes, byte/packet/TCP rates as
 * increase over the window, RTT quantiles from the histogram, TCP-only edges,
 * series outside the window left out, and 400 on bad start/end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"
#include "tests/helpers/web_fx.h"

#define STEP_MS 15000
#define NPOINTS 21 /* 0 .. 300 s */

static int64_t t0; /* window start (ms); samples at t0, t0+15 s, ..., t0+300 s */

static int setup(void **state)
{
  web_opts wo = {.limits = {.max_write_body = 1 << 20}};
  *state = web_fx_start("/tmp/lk_flows_XXXXXX", wo, NULL);
  t0 = (lk_now_ms() / 1000 - 900) * 1000;
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  return web_fx_stop(*state);
}

static int http_get(web_fx *f, const char *path, lk_httpc_resp *r)
{
  char url[1024];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_req q = {.method = "GET", .url = url, .timeout_ms = 10000};
  lk_diag d = {0};
  return lk_httpc_do(&q, r, &d);
}

/* One counter series of `metric` with the edge labels (and extra label
 * pairs, NULL-terminated), growing by per_step every step from base;
 * first_ms: its first sample. */
static void push(web_fx *f, const char *metric, const char *node, const char *src_pod,
                 const char *dst_ns, const char *dst_pod, const char *port, const char *proto,
                 const char *le, double base, double per_step, int64_t first_ms, int npoints)
{
  lk_label ls[10];
  size_t n = 0;
  ls[n++] = (lk_label){"__name__", metric};
  if (*dst_ns) /* an empty value is no label (the unknown side's namespace) */
    ls[n++] = (lk_label){"dst_namespace", dst_ns};
  ls[n++] = (lk_label){"dst_pod", dst_pod};
  ls[n++] = (lk_label){"dst_port", port};
  if (le)
    ls[n++] = (lk_label){"le", le};
  ls[n++] = (lk_label){"node", node};
  if (proto)
    ls[n++] = (lk_label){"proto", proto};
  ls[n++] = (lk_label){"src_namespace", "default"};
  ls[n++] = (lk_label){"src_pod", src_pod};
  lk_sample s[NPOINTS];
  for (int i = 0; i < npoints; i++)
    s[i] = (lk_sample){first_ms + (int64_t)i * STEP_MS, base + per_step * i};
  lk_series in = {ls, n, s, (size_t)npoints};
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(&in, 1, &body), 0);
  char url[256];
  snprintf(url, sizeof url, "%s/api/v1/write", f->base);
  static const char *const hdrs[] = {"Content-Encoding: snappy",
                                     "Content-Type: application/x-protobuf",
                                     "X-Prometheus-Remote-Write-Version: 0.1.0", NULL};
  lk_httpc_req q = {.method = "POST", .url = url, .headers = hdrs, .body = body.data,
                    .body_len = body.len, .timeout_ms = 10000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  if (r.status != 204)
    fprintf(stderr, "remote_write %s: %d %s\n", metric, r.status, (char *)r.body.data);
  assert_int_equal(r.status, 204);
  lk_httpc_resp_fini(&r);
  lk_buf_fini(&body);
}

static void load(web_fx *f)
{
  /* a → b:80/tcp seen on two nodes: 100 + 50 B/s, 1 + 0.5 packets/s */
  push(f, "lookout_flow_bytes_total", "n1", "a", "default", "b", "80", "tcp", NULL, 1e6, 1500, t0, NPOINTS);
  push(f, "lookout_flow_bytes_total", "n2", "a", "default", "b", "80", "tcp", NULL, 1e6, 750, t0, NPOINTS);
  push(f, "lookout_flow_packets_total", "n1", "a", "default", "b", "80", "tcp", NULL, 1e3, 15, t0, NPOINTS);
  push(f, "lookout_flow_packets_total", "n2", "a", "default", "b", "80", "tcp", NULL, 1e3, 7.5, t0, NPOINTS);
  /* a → world:53/udp, 10 B/s */
  push(f, "lookout_flow_bytes_total", "n1", "a", "", "world", "53", "udp", NULL, 1e6, 150, t0, NPOINTS);
  /* TCP health of a → b:80: 1 connection/s, 0.2 resets/s, no retransmits */
  push(f, "lookout_tcp_connections_total", "n1", "a", "default", "b", "80", NULL, NULL, 1e3, 15, t0, NPOINTS);
  push(f, "lookout_tcp_resets_total", "n1", "a", "default", "b", "80", NULL, NULL, 10, 3, t0, NPOINTS);
  push(f, "lookout_tcp_retransmits_total", "n1", "a", "default", "b", "80", NULL, NULL, 5, 0, t0, NPOINTS);
  /* RTT: half the handshakes ≤ 10 ms, all ≤ 100 ms */
  push(f, "lookout_tcp_rtt_seconds_bucket", "n1", "a", "default", "b", "80", NULL, "0.001", 0, 0, t0, NPOINTS);
  push(f, "lookout_tcp_rtt_seconds_bucket", "n1", "a", "default", "b", "80", NULL, "0.01", 100, 10, t0, NPOINTS);
  push(f, "lookout_tcp_rtt_seconds_bucket", "n1", "a", "default", "b", "80", NULL, "0.1", 200, 20, t0, NPOINTS);
  push(f, "lookout_tcp_rtt_seconds_bucket", "n1", "a", "default", "b", "80", NULL, "+Inf", 200, 20, t0, NPOINTS);
  /* b → a:9000: TCP series only (no byte series): still an edge */
  push(f, "lookout_tcp_connections_total", "n1", "b", "default", "a", "9000", NULL, NULL, 0, 3, t0, NPOINTS);
  /* c → b before the window only: not in the graph */
  push(f, "lookout_flow_bytes_total", "n1", "c", "default", "b", "80", "tcp", NULL, 0, 100,
       t0 - 11 * STEP_MS, 10);
}

static json_t *graph(web_fx *f, const char *query, int want_status)
{
  char path[256];
  snprintf(path, sizeof path, "/api/v1/flows/graph%s", query);
  lk_httpc_resp r = {0};
  assert_int_equal(http_get(f, path, &r), 0);
  if (r.status != want_status)
    fprintf(stderr, "GET %s → %d %s\n", path, r.status, (char *)r.body.data);
  assert_int_equal(r.status, want_status);
  json_error_t err;
  json_t *j = json_loads((char *)r.body.data, 0, &err);
  assert_non_null(j);
  lk_httpc_resp_fini(&r);
  return j;
}

static json_t *find_edge(json_t *edges, const char *src, const char *dst, const char *port)
{
  size_t i;
  json_t *e;
  json_array_foreach(edges, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "source")), src) &&
        !strcmp(json_string_value(json_object_get(e, "target")), dst) &&
        !strcmp(json_string_value(json_object_get(e, "dst_port")), port))
      return e;
  }
  fail_msg("no edge %s → %s:%s", src, dst, port);
  return NULL;
}

static void assert_near(json_t *o, const char *key, double want)
{
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v) || fabs(json_number_value(v) - want) > 1e-6 * fmax(1, fabs(want)))
    fail_msg("%s: want %g, got %s", key, want, v ? json_dumps(v, JSON_ENCODE_ANY) : "nothing");
}

static void test_graph(void **state)
{
  web_fx *f = *state;
  load(f);
  char q[128];
  snprintf(q, sizeof q, "?start=%lld&end=%lld", (long long)(t0 / 1000),
           (long long)(t0 / 1000 + 300));
  json_t *j = graph(f, q, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
  json_t *data = json_object_get(j, "data");
  char *nodes = json_dumps(json_object_get(data, "nodes"), JSON_COMPACT);
  assert_string_equal(nodes, "[{\"id\":\"world\",\"namespace\":\"\",\"pod\":\"world\"},"
                             "{\"id\":\"default/a\",\"namespace\":\"default\",\"pod\":\"a\"},"
                             "{\"id\":\"default/b\",\"namespace\":\"default\",\"pod\":\"b\"}]");
  free(nodes);
  json_t *edges = json_object_get(data, "edges");
  assert_int_equal(json_array_size(edges), 3);

  json_t *ab = find_edge(edges, "default/a", "default/b", "80");
  assert_string_equal(json_string_value(json_object_get(ab, "proto")), "tcp");
  assert_near(ab, "bytes_per_second", 150);
  assert_near(ab, "packets_per_second", 1.5);
  json_t *tcp = json_object_get(ab, "tcp");
  assert_near(tcp, "connections_per_second", 1);
  assert_near(tcp, "resets_per_second", 0.2);
  assert_near(tcp, "retransmits_per_second", 0);
  assert_near(tcp, "rtt_p50_seconds", 0.01);
  assert_near(tcp, "rtt_p99_seconds", 0.01 + 0.09 * (0.99 * 400 - 200) / 200);

  json_t *aw = find_edge(edges, "default/a", "world", "53");
  assert_string_equal(json_string_value(json_object_get(aw, "proto")), "udp");
  assert_near(aw, "bytes_per_second", 10);
  assert_near(aw, "packets_per_second", 0);
  assert_true(json_is_null(json_object_get(aw, "tcp")));

  json_t *ba = find_edge(edges, "default/b", "default/a", "9000");
  assert_string_equal(json_string_value(json_object_get(ba, "proto")), "tcp");
  assert_near(ba, "bytes_per_second", 0);
  tcp = json_object_get(ba, "tcp");
  assert_near(tcp, "connections_per_second", 0.2);
  assert_true(json_is_null(json_object_get(tcp, "rtt_p50_seconds")));
  assert_true(json_is_null(json_object_get(tcp, "rtt_p99_seconds")));
  json_decref(j);

  /* the window before any sample: empty */
  snprintf(q, sizeof q, "?start=%lld&end=%lld", (long long)(t0 / 1000 - 3000),
           (long long)(t0 / 1000 - 2000));
  j = graph(f, q, 200);
  char *s = json_dumps(json_object_get(j, "data"), JSON_COMPACT);
  assert_string_equal(s, "{\"nodes\":[],\"edges\":[]}");
  free(s);
  json_decref(j);
  /* defaults (end = now, start = end - 5 m): a valid answer */
  json_decref(graph(f, "", 200));
}

static void test_bad_params(void **state)
{
  web_fx *f = *state;
  static const char *const bad[] = {"?start=abc", "?end=yesterday", "?start=200&end=100",
                                    "?start=100&end=100"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *j = graph(f, bad[i], 400);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "bad_data");
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "invalid parameter"));
    json_decref(j);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_graph, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
