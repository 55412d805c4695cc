/* test_api_metrics.c — the autoscaling feed over HTTP: a real tsdb with real
 * samples in a temporary directory, the real web server on a loopback port
 * with the HPA controller attached, requests through lib/lk_httpc.
 * Checks the exact JSON of metrics.k8s.io (kubectl top's PodMetrics and
 * NodeMetrics), external.metrics.k8s.io (ExternalMetricValueList from a
 * configured query), their discovery documents and Status errors,
 * /api/v1/autoscaling/events as JSON and as a live SSE stream, the
 * lookout_hpa_* metrics, and the request KEDA's Prometheus scaler sends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "orchestrator/hpa_live.h"
#include "tests/orchestrator/tsdb_fx.h"
#include "web/web.h"

typedef struct fixture {
  char dir[64];
  tsdb *db;
  orch_hpa_ctl *ctl;
  web_server *w;
  char base[64];
  int64_t now;
} fixture;

static const orch_external_metric externals[] = {
  {"queue_depth", "sum by (queue) (queue_messages)"},
};

static void add(fixture *f, const lk_label *ls, size_t n, double v0, double step) {
  tsdb_fx_add(f->db, f->now, ls, n, v0, step);
}

static void add_container(fixture *f, const char *ns, const char *pod, const char *ctr, double cores, double bytes) {
  lk_label cpu[] = {{"__name__", "container_cpu_usage_seconds_total"}, {"container", ctr}, {"cpu", "total"},
                    {"namespace", ns}, {"pod", pod}};
  lk_label mem[] = {{"__name__", "container_memory_working_set_bytes"}, {"container", ctr}, {"namespace", ns},
                    {"pod", pod}};
  add(f, cpu, 5, 500, cores * 15);
  add(f, mem, 4, bytes, 0);
}

static void add_samples(fixture *f) {
  add_container(f, "default", "web-0", "app", 0.2, 64 << 20);
  add_container(f, "default", "web-0", "sidecar", 0.05, 16 << 20);
  add_container(f, "default", "web-1", "app", 0.25, 32 << 20);
  add_container(f, "other", "db-0", "db", 1.0, 1 << 30);
  lk_label user[] = {{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "user"}, {"node", "n1"}};
  lk_label idle[] = {{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}, {"node", "n1"}};
  lk_label total[] = {{"__name__", "node_memory_mem_total_bytes"}, {"node", "n1"}};
  lk_label avail[] = {{"__name__", "node_memory_mem_available_bytes"}, {"node", "n1"}};
  add(f, user, 4, 100, 0.75 * 15);
  add(f, idle, 4, 100, 0.25 * 15);
  add(f, total, 2, 8.0 * (1 << 30), 0);
  add(f, avail, 2, 6.0 * (1 << 30), 0);
  lk_label orders[] = {{"__name__", "queue_messages"}, {"queue", "orders"}, {"vhost", "a"}};
  lk_label orders2[] = {{"__name__", "queue_messages"}, {"queue", "orders"}, {"vhost", "b"}};
  lk_label mails[] = {{"__name__", "queue_messages"}, {"queue", "mails"}, {"vhost", "a"}};
  add(f, orders, 3, 20, 0);
  add(f, orders2, 3, 10.5, 0);
  add(f, mails, 3, 7, 0);
  lk_label rps[] = {{"__name__", "http_requests_total"}, {"deployment", "web"}};
  add(f, rps, 2, 1000, 15 * 40);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_api_metrics-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  f->now = lk_now_ms() / 1000 * 1000; /* as KEDA's time= (RFC 3339, whole seconds) */
  add_samples(f);
  orch_hpa_ctl_opts co = {.db = f->db, .external = externals, .nexternal = 1};
  assert_int_equal(orch_hpa_ctl_new(&co, &f->ctl, &d), 0);
  web_opts wo = {.listen = "127.0.0.1:0", .db = f->db, .autoscaler = f->ctl, .external_metrics = externals,
                 .nexternal_metrics = 1};
  assert_int_equal(web_start(&wo, &f->w, &d), 0);
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", web_port(f->w));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  web_stop(f->w);
  orch_hpa_ctl_free(f->ctl);
  tsdb_close(f->db);
  tsdb_fx_remove_dir(f->dir);
  free(f);
  return 0;
}

/* GET path; checks the status; returns the parsed JSON body. */
static json_t *get_json(fixture *f, const char *path, int want_status) {
  char url[1024];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_get(url, 10000, &r, &d), 0);
  if (r.status != want_status)
    fail_msg("%s: status %d, body %s", path, r.status, (char *)r.body.data);
  json_error_t e;
  json_t *j = json_loads((char *)r.body.data, 0, &e);
  if (!j)
    fail_msg("%s: not JSON: %s", path, (char *)r.body.data);
  lk_httpc_resp_fini(&r);
  return j;
}

static void assert_json(json_t *got, const char *want_text) {
  json_error_t e;
  json_t *want = json_loads(want_text, 0, &e);
  if (!want)
    fail_msg("bad expected JSON: %s", want_text);
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    fail_msg("got  %s\nwant %s", g, w);
  }
  json_decref(want);
}

/* Timestamps are the request's time: each must parse and lie within the
 * test's run; they are removed so the rest compares exactly. */
static void strip_times(fixture *f, json_t *j) {
  static const char *const keys[] = {"timestamp", "creationTimestamp"};
  if (json_is_array(j)) {
    for (size_t i = 0; i < json_array_size(j); i++)
      strip_times(f, json_array_get(j, i));
    return;
  }
  if (!json_is_object(j))
    return;
  for (int k = 0; k < 2; k++) {
    const char *ts = json_string_value(json_object_get(j, keys[k]));
    if (!ts)
      continue;
    int64_t t;
    assert_int_equal(lk_parse_time(ts, &t, NULL), 0);
    assert_true(t >= f->now - 1000 && t <= lk_now_ms());
    json_object_del(j, keys[k]);
  }
  const char *key;
  json_t *v;
  json_object_foreach(j, key, v)
    strip_times(f, v);
}

static void test_pod_metrics(void **state) {
  fixture *f = *state;
  json_t *j = get_json(f, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", 200);
  strip_times(f, j);
  assert_json(j,
      "{\"kind\":\"PodMetricsList\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{},\"items\":["
      "{\"kind\":\"PodMetrics\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{\"name\":\"web-0\",\"namespace\":\"default\"},"
      "\"window\":\"1m0s\",\"containers\":[{\"name\":\"app\",\"usage\":{\"cpu\":\"200000000n\",\"memory\":\"65536Ki\"}},"
      "{\"name\":\"sidecar\",\"usage\":{\"cpu\":\"50000000n\",\"memory\":\"16384Ki\"}}]},"
      "{\"kind\":\"PodMetrics\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},"
      "\"window\":\"1m0s\",\"containers\":[{\"name\":\"app\",\"usage\":{\"cpu\":\"250000000n\",\"memory\":\"32768Ki\"}}]}]}");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/pods", 200);
  assert_int_equal(json_array_size(json_object_get(j, "items")), 3);
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/namespaces/other/pods/db-0", 200);
  strip_times(f, j);
  assert_json(j, "{\"kind\":\"PodMetrics\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{\"name\":\"db-0\","
                 "\"namespace\":\"other\"},\"window\":\"1m0s\",\"containers\":[{\"name\":\"db\",\"usage\":"
                 "{\"cpu\":\"1000000000n\",\"memory\":\"1048576Ki\"}}]}");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=container%3Dsidecar", 200);
  assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope", 404);
  assert_json(j, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
                 "\"podmetrics.metrics.k8s.io \\\"default/nope\\\" not found\",\"reason\":\"NotFound\",\"code\":404}");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=a%20in%20(b", 400);
  assert_string_equal(json_string_value(json_object_get(j, "reason")), "BadRequest");
  json_decref(j);
}

static void test_node_metrics(void **state) {
  fixture *f = *state;
  json_t *j = get_json(f, "/apis/metrics.k8s.io/v1beta1/nodes", 200);
  strip_times(f, j);
  assert_json(j, "{\"kind\":\"NodeMetricsList\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{},\"items\":["
                 "{\"kind\":\"NodeMetrics\",\"apiVersion\":\"metrics.k8s.io/v1beta1\",\"metadata\":{\"name\":\"n1\"},"
                 "\"window\":\"1m0s\",\"usage\":{\"cpu\":\"750000000n\",\"memory\":\"2097152Ki\"}}]}");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/nodes/n1", 200);
  assert_string_equal(json_string_value(json_object_get(j, "kind")), "NodeMetrics");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v1beta1/nodes/n2", 404);
  assert_string_equal(json_string_value(json_object_get(j, "message")), "nodemetrics.metrics.k8s.io \"n2\" not found");
  json_decref(j);
}

static void test_discovery(void **state) {
  fixture *f = *state;
  json_t *j = get_json(f, "/apis/metrics.k8s.io/v1beta1", 200);
  assert_json(j, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"metrics.k8s.io/v1beta1\","
                 "\"resources\":[{\"name\":\"nodes\",\"singularName\":\"\",\"namespaced\":false,\"kind\":\"NodeMetrics\","
                 "\"verbs\":[\"get\",\"list\"]},{\"name\":\"pods\",\"singularName\":\"\",\"namespaced\":true,"
                 "\"kind\":\"PodMetrics\",\"verbs\":[\"get\",\"list\"]}]}");
  json_decref(j);
  j = get_json(f, "/apis/external.metrics.k8s.io/v1beta1", 200);
  assert_json(j, "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"external.metrics.k8s.io/v1beta1\","
                 "\"resources\":[{\"name\":\"queue_depth\",\"singularName\":\"\",\"namespaced\":true,"
                 "\"kind\":\"ExternalMetricValueList\",\"verbs\":[\"get\"]}]}");
  json_decref(j);
  j = get_json(f, "/apis/external.metrics.k8s.io", 200);
  assert_json(j, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"external.metrics.k8s.io\",\"versions\":"
                 "[{\"groupVersion\":\"external.metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}],\"preferredVersion\":"
                 "{\"groupVersion\":\"external.metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}}");
  json_decref(j);
  j = get_json(f, "/apis/metrics.k8s.io/v2", 404);
  json_decref(j);
}

static void test_external_metrics(void **state) {
  fixture *f = *state;
  json_t *j = get_json(f, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth", 200);
  strip_times(f, j);
  assert_json(j, "{\"kind\":\"ExternalMetricValueList\",\"apiVersion\":\"external.metrics.k8s.io/v1beta1\","
                 "\"metadata\":{},\"items\":[{\"metricName\":\"queue_depth\",\"metricLabels\":{\"queue\":\"mails\"},"
                 "\"window\":60,\"value\":\"7\"},{\"metricName\":\"queue_depth\",\"metricLabels\":{\"queue\":\"orders\"},"
                 "\"window\":60,\"value\":\"30500m\"}]}");
  json_decref(j);
  j = get_json(f, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth?labelSelector=queue%3Dorders", 200);
  assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "value")),
                      "30500m");
  json_decref(j);
  j = get_json(f, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth?labelSelector=queue%3Dnone", 200);
  assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
  json_decref(j);
  j = get_json(f, "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/nope", 404);
  assert_string_equal(json_string_value(json_object_get(j, "reason")), "NotFound");
  json_decref(j);
}

/* KEDA's Prometheus scaler: GET /api/v1/query?query=<QueryEscape>&time=<RFC
 * 3339 UTC>&namespace=…; it needs a 2xx, exactly one result and value[1] a
 * string that parses as a finite float. */
static void test_keda_query(void **state) {
  fixture *f = *state;
  char ts[40], path[512];
  lk_time_rfc3339(lk_now_ms(), ts, sizeof ts);
  snprintf(path, sizeof path,
           "/api/v1/query?query=sum%%28rate%%28http_requests_total%%7Bdeployment%%3D%%22web%%22%%7D%%5B2m%%5D%%29%%29+%%2A+2"
           "&time=%s&namespace=default", ts);
  json_t *j = get_json(f, path, 200);
  assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
  json_t *result = json_object_get(json_object_get(j, "data"), "result");
  assert_int_equal(json_array_size(result), 1);
  json_t *value = json_object_get(json_array_get(result, 0), "value");
  assert_true(json_array_size(value) >= 2);
  const char *v = json_string_value(json_array_get(value, 1));
  assert_non_null(v);
  char *end;
  double x = strtod(v, &end);
  assert_true(*end == '\0' && isfinite(x));
  if (fabs(x - 80.0) > 1e-9) /* 40 requests/s × 2 */
    fail_msg("value %s", v);
  json_decref(j);
}

static json_t *text_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (!j)
    fail_msg("bad test JSON: %s", text);
  return j;
}

/* One sync of an HPA on the queue (External, AverageValue 10 per pod):
 * 30.5 of "orders" → ceil(3.05) = 4 replicas from 1. */
static void sync_queue_hpa(fixture *f, int64_t at) {
  json_t *hpa = text_json("{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"worker\",\"namespace\":\"default\","
                          "\"uid\":\"u-w\"},\"spec\":{\"maxReplicas\":10,\"metrics\":[{\"type\":\"External\",\"external\":"
                          "{\"metric\":{\"name\":\"queue_depth\",\"selector\":{\"matchLabels\":{\"queue\":\"orders\"}}},"
                          "\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"10\"}}}]}}");
  json_t *dep = text_json("{\"spec\":{\"replicas\":1},\"status\":{\"replicas\":1}}");
  orch__hpa_decision dec;
  lk_diag d = {0};
  assert_int_equal(orch__hpa_sync(f->ctl, hpa, dep, NULL, 0, at, &dec, &d), 0);
  assert_int_equal(dec.desired, 4);
  json_decref(dec.status);
  json_decref(hpa);
  json_decref(dep);
}

static void test_events_json(void **state) {
  fixture *f = *state;
  json_t *j = get_json(f, "/api/v1/autoscaling/events", 200);
  assert_json(j, "{\"status\":\"success\",\"data\":[]}");
  json_decref(j);
  sync_queue_hpa(f, f->now);
  sync_queue_hpa(f, f->now + 1000);
  j = get_json(f, "/api/v1/autoscaling/events?after=1", 200);
  json_t *data = json_object_get(j, "data"), *e = json_array_get(data, 0);
  assert_int_equal(json_array_size(data), 1);
  assert_int_equal(json_integer_value(json_object_get(e, "seq")), 2);
  assert_string_equal(json_string_value(json_object_get(e, "hpa")), "worker");
  assert_json(json_object_get(e, "metrics"),
              "[{\"type\":\"External\",\"name\":\"queue_depth\",\"target\":{\"averageValue\":10.0},"
              "\"averageValue\":30.5,\"ratio\":3.05,\"replicas\":4}]");
  assert_int_equal(json_integer_value(json_object_get(e, "recommendation")), 4);
  assert_string_equal(json_string_value(json_object_get(e, "limitReason")), "DesiredWithinRange");
  json_decref(j);
  j = get_json(f, "/api/v1/autoscaling/events?limit=1", 200);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "seq")), 2);
  json_decref(j);
  j = get_json(f, "/api/v1/autoscaling/events?after=x", 400);
  json_decref(j);

  char url[128];
  snprintf(url, sizeof url, "%s/metrics", f->base);
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_get(url, 10000, &r, &d), 0);
  assert_non_null(strstr((char *)r.body.data, "lookout_hpa_desired_replicas{namespace=\"default\", hpa=\"worker\"} 4\n"));
  assert_non_null(strstr((char *)r.body.data, "# TYPE lookout_hpa_current_replicas gauge\n"));
  lk_httpc_resp_fini(&r);
}

typedef struct sse_get {
  fixture *f;
  lk_httpc_resp r;
  int rc;
} sse_get;

static void *sse_thread(void *arg) {
  sse_get *g = arg;
  char url[160];
  snprintf(url, sizeof url, "%s/api/v1/autoscaling/events?stream=sse&duration=1500ms", g->f->base);
  lk_diag d = {0};
  g->rc = lk_httpc_get(url, 10000, &g->r, &d);
  return NULL;
}

/* The live stream sends what happened before it (after Last-Event-ID or
 * `after`) and each decision made while it is open. */
static void test_events_sse(void **state) {
  fixture *f = *state;
  sync_queue_hpa(f, f->now);
  sse_get g = {.f = f};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, sse_thread, &g), 0);
  usleep(300000);
  sync_queue_hpa(f, f->now + 1000);
  pthread_join(t, NULL);
  assert_int_equal(g.rc, 0);
  assert_int_equal(g.r.status, 200);
  char ct[64];
  assert_non_null(lk_httpc_header(&g.r, "Content-Type", ct, sizeof ct));
  assert_string_equal(ct, "text/event-stream");
  const char *body = (char *)g.r.body.data;
  assert_true(strncmp(body, "id: 1\ndata: {\"seq\":1,", 21) == 0);
  assert_non_null(strstr(body, "\n\nid: 2\ndata: {\"seq\":2,"));
  lk_httpc_resp_fini(&g.r);

  char url[160];
  snprintf(url, sizeof url, "%s/api/v1/autoscaling/events?duration=200ms", f->base);
  const char *headers[] = {"Accept: text/event-stream", "Last-Event-ID: 1", NULL};
  lk_httpc_req req = {.url = url, .headers = headers};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&req, &r, &d), 0);
  assert_true(strncmp((char *)r.body.data, "id: 2\ndata: ", 12) == 0);
  assert_null(strstr((char *)r.body.data, "id: 1\n"));
  lk_httpc_resp_fini(&r);
}

/* Without an autoscaler the events answer 503; a configured query that
 * does not parse stops web_start naming it. */
static void test_no_autoscaler(void **state) {
  fixture *f = *state;
  web_server *w;
  lk_diag d = {0};
  static const orch_external_metric bad[] = {{"broken", "sum(x"}};
  web_opts wo = {.listen = "127.0.0.1:0", .db = f->db, .external_metrics = bad, .nexternal_metrics = 1};
  assert_int_equal(web_start(&wo, &w, &d), LK_EINVAL);
  assert_non_null(strstr(d.msg, "external_metrics: broken: "));
  wo.external_metrics = NULL, wo.nexternal_metrics = 0;
  assert_int_equal(web_start(&wo, &w, &d), 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/autoscaling/events", web_port(w));
  lk_httpc_resp r = {0};
  assert_int_equal(lk_httpc_get(url, 10000, &r, &d), 0);
  assert_int_equal(r.status, 503);
  lk_httpc_resp_fini(&r);
  web_stop(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_pod_metrics, setup, teardown),
    cmocka_unit_test_setup_teardown(test_node_metrics, setup, teardown),
    cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
    cmocka_unit_test_setup_teardown(test_external_metrics, setup, teardown),
    cmocka_unit_test_setup_teardown(test_keda_query, setup, teardown),
    cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
    cmocka_unit_test_setup_teardown(test_events_sse, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_autoscaler, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
