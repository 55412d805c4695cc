/* test_hpa_sync.c — orch__hpa_sync end to end on a real tsdb: real samples
 * of the collector's series (and of application metrics) in a temporary
 * directory, real Kubernetes JSON objects (HorizontalPodAutoscaler v1/v2,
 * Deployment, Pods); checks the decision, the status JSON as Kubernetes
 * writes it, the decision event and the lookout_hpa_* metrics. Also pins
 * the window edges of the algorithm that the peer cases do not reach. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_time.h"
#include "orchestrator/hpa_live.h"
#include "tests/orchestrator/tsdb_fx.h"

typedef struct fixture {
  char dir[64];
  tsdb *db;
  orch_hpa_ctl *ctl;
  int64_t now;
} fixture;

static const orch_external_metric externals[] = {
  {"orders_queue", "sum by (queue) (queue_depth)"},
};

static void add(fixture *f, const lk_label *ls, size_t n, double v0, double step) {
  tsdb_fx_add(f->db, f->now, ls, n, v0, step);
}

static void add_at(fixture *f, const lk_label *ls, size_t n, int64_t t, double v) {
  lk_sample s = {t, v};
  tsdb_series_in in = {ls, n, &s, 1};
  tsdb_append_stats st;
  lk_diag d = {0};
  assert_int_equal(tsdb_append(f->db, &in, 1, &st, &d), 0);
  assert_int_equal(st.accepted, 1);
}

/* cpu: `cores` per second for one container of a pod; memory: bytes. */
static void add_container(fixture *f, const char *pod, double cores, double bytes) {
  lk_label cpu[] = {{"__name__", "container_cpu_usage_seconds_total"}, {"container", "app"}, {"cpu", "total"},
                    {"namespace", "default"}, {"pod", pod}};
  lk_label mem[] = {{"__name__", "container_memory_working_set_bytes"}, {"container", "app"},
                    {"namespace", "default"}, {"pod", pod}};
  add(f, cpu, 5, 1000, cores * 15);
  add(f, mem, 4, bytes, 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/test_hpa_sync-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  tsdb_opts o = {.dir = f->dir};
  lk_diag d = {0};
  assert_int_equal(tsdb_open(&o, &f->db, &d), 0);
  f->now = lk_now_ms() / 1000 * 1000;
  add_container(f, "web-0", 0.2, 64 << 20);
  add_container(f, "web-1", 0.2, 64 << 20);
  orch_hpa_ctl_opts co = {.db = f->db, .external = externals, .nexternal = 1};
  assert_int_equal(orch_hpa_ctl_new(&co, &f->ctl, &d), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  orch_hpa_ctl_free(f->ctl);
  tsdb_close(f->db);
  tsdb_fx_remove_dir(f->dir);
  free(f);
  return 0;
}

static json_t *parse(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (!j)
    fail_msg("bad test JSON: %s: %s", e.text, text);
  return j;
}

/* A running, ready pod started an hour ago with cpu request 100m. */
static json_t *pod(fixture *f, const char *name) {
  char started[40], buf[1024];
  lk_time_rfc3339(f->now - 3600000, started, sizeof started);
  snprintf(buf, sizeof buf,
           "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},"
           "\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}}]},"
           "\"status\":{\"phase\":\"Running\",\"startTime\":\"%s\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
           "\"lastTransitionTime\":\"%s\"}]}}",
           name, started, started);
  return parse(buf);
}

static json_t *deployment(int replicas) {
  char buf[256];
  snprintf(buf, sizeof buf, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
                            "\"namespace\":\"default\"},\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":%d}}",
           replicas, replicas);
  return parse(buf);
}

/* Runs one sync with the two pods; returns the decision. */
static orch__hpa_decision sync2(fixture *f, const char *hpa_text, int replicas) {
  json_t *hpa = parse(hpa_text), *dep = deployment(replicas);
  json_t *pods[2] = {pod(f, "web-0"), pod(f, "web-1")};
  orch__hpa_decision dec;
  lk_diag d = {0};
  if (orch__hpa_sync(f->ctl, hpa, dep, (const json_t *const *)pods, 2, f->now, &dec, &d))
    fail_msg("sync failed: %s", d.msg);
  json_decref(hpa);
  json_decref(dep);
  json_decref(pods[0]);
  json_decref(pods[1]);
  return dec;
}

static void assert_json(json_t *got, const char *want_text) {
  json_t *want = parse(want_text);
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    fail_msg("got  %s\nwant %s", g, w);
  }
  json_decref(want);
}

/* The conditions as [type, status, reason] triples. */
static void assert_conditions(json_t *status, const char *want) {
  json_t *a = json_array(), *c;
  size_t i;
  json_array_foreach(json_object_get(status, "conditions"), i, c) {
    json_array_append_new(a, json_pack("[OOO]", json_object_get(c, "type"), json_object_get(c, "status"),
                                       json_object_get(c, "reason")));
    assert_non_null(json_string_value(json_object_get(c, "lastTransitionTime")));
    assert_true(strlen(json_string_value(json_object_get(c, "message"))) > 10);
  }
  assert_json(a, want);
  json_decref(a);
}

static void append_event(void *arg, uint64_t seq, const char *json) {
  lk_buf *b = arg;
  lk_buf_puts(b, b->len > 1 ? "," : "");
  lk_buf_puts(b, json);
}

/* The kept events after `after` (newest `limit`) as a JSON array text. */
static char *events(fixture *f, uint64_t after, size_t limit, uint64_t *last) {
  lk_buf b = {0};
  lk_buf_putc(&b, '[');
  *last = orch_hpa_events_each(f->ctl, after, limit, append_event, &b);
  lk_buf_puts(&b, "]");
  lk_buf_putc(&b, '\0');
  return (char *)b.data;
}

static const char hpa_cpu[] =
    "{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":\"web\","
    "\"namespace\":\"default\",\"uid\":\"u-1\",\"generation\":3},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\","
    "\"kind\":\"Deployment\",\"name\":\"web\"},\"minReplicas\":1,\"maxReplicas\":10,\"metrics\":[{\"type\":\"Resource\","
    "\"resource\":{\"name\":\"cpu\",\"target\":{\"type\":\"Utilization\",\"averageUtilization\":50}}}]}}";

/* 200m used of 100m requested on both pods: 200 % against 50 % → ×4 → 8
 * wanted, the legacy rate limit allows max(2×2, 4) = 4. */
static void test_cpu_scale_up(void **state) {
  fixture *f = *state;
  orch__hpa_decision dec = sync2(f, hpa_cpu, 2);
  assert_true(dec.rescale);
  assert_int_equal(dec.current, 2);
  assert_int_equal(dec.desired, 4);
  char ts[40];
  lk_time_rfc3339(f->now, ts, sizeof ts);
  json_t *st = dec.status;
  assert_int_equal(json_integer_value(json_object_get(st, "currentReplicas")), 2);
  assert_int_equal(json_integer_value(json_object_get(st, "desiredReplicas")), 4);
  assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 3);
  assert_string_equal(json_string_value(json_object_get(st, "lastScaleTime")), ts);
  assert_json(json_object_get(st, "currentMetrics"),
              "[{\"type\":\"Resource\",\"resource\":{\"name\":\"cpu\",\"current\":"
              "{\"averageUtilization\":200,\"averageValue\":\"200m\"}}}]");
  assert_conditions(st, "[[\"AbleToScale\",\"True\",\"SucceededRescale\"],[\"ScalingActive\",\"True\",\"ValidMetricFound\"],"
                        "[\"ScalingLimited\",\"True\",\"ScaleUpLimit\"]]");
  json_decref(dec.status);

  uint64_t last;
  char *text = events(f, 0, 0, &last);
  assert_int_equal(last, 1);
  json_t *ev = parse(text), *e = json_array_get(ev, 0);
  free(text);
  assert_int_equal(json_array_size(ev), 1);
  assert_json(json_object_get(e, "metrics"),
              "[{\"type\":\"Resource\",\"name\":\"cpu\",\"target\":{\"averageUtilization\":50},"
              "\"averageValue\":0.2,\"utilization\":200,\"ratio\":4.0,\"replicas\":8}]");
  assert_int_equal(json_integer_value(json_object_get(e, "recommendation")), 8);
  assert_int_equal(json_integer_value(json_object_get(e, "stabilized")), 8);
  assert_string_equal(json_string_value(json_object_get(e, "limitReason")), "ScaleUpLimit");
  assert_int_equal(json_integer_value(json_object_get(e, "desiredReplicas")), 4);
  assert_string_equal(json_string_value(json_object_get(e, "reason")),
                      "cpu resource utilization (percentage of request) above target");
  json_decref(ev);

  lk_buf b = {0};
  orch_hpa_metrics_text(f->ctl, &b);
  lk_buf_putc(&b, '\0');
  assert_non_null(strstr((char *)b.data, "lookout_hpa_desired_replicas{namespace=\"default\", hpa=\"web\"} 4\n"));
  assert_non_null(strstr((char *)b.data, "lookout_hpa_current_replicas{namespace=\"default\", hpa=\"web\"} 2\n"));
  assert_non_null(strstr((char *)b.data, "lookout_hpa_decisions_total{result=\"rescale\"} 1\n"));
  /* a deleted HPA leaves the metrics; its memory is gone */
  orch__hpa_forget(f->ctl, "u-1");
  lk_buf_clear(&b);
  orch_hpa_metrics_text(f->ctl, &b);
  assert_null(strstr((char *)b.data, "hpa=\"web\""));
  lk_buf_fini(&b);
}

/* With behavior: one pod per minute at most; the event names the policy. */
static void test_behavior_policy_limits(void **state) {
  fixture *f = *state;
  orch__hpa_decision dec = sync2(f,
      "{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u-b\"},"
      "\"spec\":{\"maxReplicas\":10,\"behavior\":{\"scaleUp\":{\"policies\":[{\"type\":\"Pods\",\"value\":1,"
      "\"periodSeconds\":60},{\"type\":\"Percent\",\"value\":10,\"periodSeconds\":60}]}},\"metrics\":[{\"type\":\"Resource\","
      "\"resource\":{\"name\":\"cpu\",\"target\":{\"type\":\"Utilization\",\"averageUtilization\":50}}}]}}", 2);
  assert_int_equal(dec.desired, 3); /* max(2 + 1, ceil(2 × 1.1)) */
  assert_conditions(dec.status, "[[\"AbleToScale\",\"True\",\"SucceededRescale\"],[\"ScalingActive\",\"True\",\"ValidMetricFound\"],"
                                "[\"ScalingLimited\",\"True\",\"ScaleUpLimit\"]]");
  json_decref(dec.status);
  uint64_t last;
  char *text = events(f, 0, 0, &last);
  json_t *ev = parse(text);
  free(text);
  assert_json(json_object_get(json_array_get(ev, 0), "limitingPolicy"),
              "{\"type\":\"Pods\",\"value\":1,\"periodSeconds\":60}");
  json_decref(ev);
}

/* autoscaling/v1 (kubectl autoscale --cpu-percent=80): 200 % → 5 wanted
 * (ceil(2.5×2)), capped at maxReplicas 3; the status in v1's shape. */
static void test_v1_form(void **state) {
  fixture *f = *state;
  orch__hpa_decision dec = sync2(f,
      "{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":\"web\","
      "\"namespace\":\"default\",\"uid\":\"u-v1\"},\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"web\"},"
      "\"minReplicas\":1,\"maxReplicas\":3,\"targetCPUUtilizationPercentage\":80}}", 2);
  assert_int_equal(dec.desired, 3);
  char ts[40];
  lk_time_rfc3339(f->now, ts, sizeof ts);
  char want[256];
  snprintf(want, sizeof want, "{\"currentReplicas\":2,\"desiredReplicas\":3,\"currentCPUUtilizationPercentage\":200,"
                              "\"lastScaleTime\":\"%s\"}", ts);
  assert_json(dec.status, want);
  json_decref(dec.status);
}

/* Memory at 64 MiB of 128 MiB requested is 50 %: on a 50 % target the
 * ratio is 1, nothing changes and no scale time is written. */
static void test_memory_within_tolerance(void **state) {
  fixture *f = *state;
  orch__hpa_decision dec = sync2(f,
      "{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u-m\"},"
      "\"spec\":{\"maxReplicas\":5,\"metrics\":[{\"type\":\"Resource\",\"resource\":{\"name\":\"memory\",\"target\":"
      "{\"type\":\"Utilization\",\"averageUtilization\":50}}}]}}", 2);
  assert_false(dec.rescale);
  assert_int_equal(dec.desired, 2);
  assert_null(json_object_get(dec.status, "lastScaleTime"));
  assert_json(json_object_get(dec.status, "currentMetrics"),
              "[{\"type\":\"Resource\",\"resource\":{\"name\":\"memory\",\"current\":"
              "{\"averageUtilization\":50,\"averageValue\":\"67108864\"}}}]");
  assert_conditions(dec.status, "[[\"AbleToScale\",\"True\",\"ReadyForNewScale\"],"
                                "[\"ScalingActive\",\"True\",\"ValidMetricFound\"],"
                                "[\"ScalingLimited\",\"False\",\"DesiredWithinRange\"]]");
  json_decref(dec.status);
}

static const char hpa_queue_fmt[] =
    "{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"worker\",\"namespace\":\"default\",\"uid\":\"u-q\"},"
    "\"spec\":{\"minReplicas\":0,\"maxReplicas\":10,\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":0}},"
    "\"metrics\":[{\"type\":\"External\",\"external\":{\"metric\":{\"name\":\"orders_queue\",\"selector\":"
    "{\"matchLabels\":{\"queue\":\"orders\"}}},\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"%s\"}}}]}}";

/* An External metric from a configured query, filtered by the metric's
 * selector: from 0 replicas to ceil(30 / 10) = 3; a target of 1k per pod
 * brings it to ceil(30 / 1000) = 1; with the queue empty back to 0
 * (minReplicas 0, no scale-down window). */
static void test_external_scale_from_and_to_zero(void **state) {
  fixture *f = *state;
  lk_label orders[] = {{"__name__", "queue_depth"}, {"queue", "orders"}};
  lk_label other[] = {{"__name__", "queue_depth"}, {"queue", "other"}};
  add(f, orders, 2, 30, 0);
  add(f, other, 2, 100, 0);
  char hpa[1024];
  snprintf(hpa, sizeof hpa, hpa_queue_fmt, "10");
  json_t *h = parse(hpa), *dep = deployment(0);
  orch__hpa_decision dec;
  lk_diag d = {0};
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, NULL, 0, f->now, &dec, &d), 0);
  assert_true(dec.rescale);
  assert_int_equal(dec.desired, 3);
  assert_json(json_object_get(dec.status, "currentMetrics"),
              "[{\"type\":\"External\",\"external\":{\"metric\":{\"name\":\"orders_queue\",\"selector\":"
              "{\"matchLabels\":{\"queue\":\"orders\"}}},\"current\":{\"averageValue\":\"30\"}}}]");
  json_decref(dec.status);
  json_decref(dep);
  /* 30 per 3 pods against a target of 1000: everything below target */
  json_decref(h);
  snprintf(hpa, sizeof hpa, hpa_queue_fmt, "1k");
  h = parse(hpa);
  dep = deployment(3);
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, NULL, 0, f->now + 15000, &dec, &d), 0);
  assert_int_equal(dec.desired, 1); /* ceil(30 / 1000) */
  json_decref(dec.status);
  json_decref(dep);
  add_at(f, orders, 2, f->now + 30000, 0);
  dep = deployment(1);
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, NULL, 0, f->now + 30000, &dec, &d), 0);
  assert_true(dec.rescale);
  assert_int_equal(dec.desired, 0);
  assert_json(json_object_get(json_object_get(json_array_get(json_object_get(dec.status, "currentMetrics"), 0),
                                              "external"), "current"), "{\"averageValue\":\"0\"}");
  json_decref(dec.status);
  json_decref(dep);
  json_decref(h);
}

/* A Pods metric nobody writes: the metric fails, nothing changes,
 * desiredReplicas stays as the status had it, and the event says why. */
static void test_missing_pods_metric(void **state) {
  fixture *f = *state;
  orch__hpa_decision dec = sync2(f,
      "{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u-p\"},"
      "\"spec\":{\"maxReplicas\":5,\"metrics\":[{\"type\":\"Pods\",\"pods\":{\"metric\":{\"name\":\"http_rps\"},"
      "\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"10\"}}}]},\"status\":{\"desiredReplicas\":2}}", 2);
  assert_false(dec.rescale);
  assert_int_equal(dec.desired, 2);
  assert_json(json_object_get(dec.status, "currentMetrics"), "[{\"type\":\"\"}]");
  assert_conditions(dec.status, "[[\"AbleToScale\",\"True\",\"SucceededGetScale\"],"
                                "[\"ScalingActive\",\"False\",\"FailedGetPodsMetric\"]]");
  json_decref(dec.status);
  uint64_t last;
  char *text = events(f, 0, 1, &last);
  assert_non_null(strstr(text, "no metrics returned from custom metrics API"));
  free(text);
}

/* A Pods metric written per pod (with the pod label) scales on its mean. */
static void test_pods_metric(void **state) {
  fixture *f = *state;
  lk_label a[] = {{"__name__", "http_rps"}, {"namespace", "default"}, {"pod", "web-0"}};
  lk_label b[] = {{"__name__", "http_rps"}, {"namespace", "default"}, {"pod", "web-1"}};
  lk_label other[] = {{"__name__", "http_rps"}, {"namespace", "other"}, {"pod", "web-0"}};
  add(f, a, 3, 30, 0);
  add(f, b, 3, 10, 0);
  add(f, other, 3, 1000, 0);
  orch__hpa_decision dec = sync2(f,
      "{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u-p2\"},"
      "\"spec\":{\"maxReplicas\":5,\"metrics\":[{\"type\":\"Pods\",\"pods\":{\"metric\":{\"name\":\"http_rps\"},"
      "\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"10\"}}}]}}", 2);
  assert_int_equal(dec.desired, 4); /* mean 20 / 10 × 2 pods */
  assert_json(json_object_get(dec.status, "currentMetrics"),
              "[{\"type\":\"Pods\",\"pods\":{\"metric\":{\"name\":\"http_rps\"},\"current\":{\"averageValue\":\"20\"}}}]");
  json_decref(dec.status);
}

/* Objects that cannot be used are refused and record nothing. */
static void test_bad_hpa(void **state) {
  fixture *f = *state;
  json_t *h = parse("{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"x\",\"uid\":\"u-x\"},\"spec\":{}}");
  json_t *dep = deployment(1);
  orch__hpa_decision dec;
  lk_diag d = {0};
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, NULL, 0, f->now, &dec, &d), LK_EINVAL);
  assert_string_equal(d.msg, "spec.maxReplicas: required");
  json_decref(h);
  h = parse("{\"apiVersion\":\"autoscaling/v2\",\"metadata\":{\"name\":\"x\",\"uid\":\"u-x\"},\"spec\":{\"maxReplicas\":2,"
            "\"metrics\":[{\"type\":\"Pods\",\"pods\":{\"metric\":{\"name\":\"m\"},\"target\":{\"type\":\"AverageValue\","
            "\"averageValue\":\"ten\"}}}]}}");
  d = (lk_diag){0};
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, NULL, 0, f->now, &dec, &d), LK_EINVAL);
  assert_string_equal(d.msg, "spec.metrics[0].pods.target.averageValue: not a quantity");
  json_decref(h);
  h = parse(hpa_cpu);
  json_t *p = parse("{\"metadata\":{\"name\":\"web-0\"},\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":"
                    "{\"requests\":{\"cpu\":\"lots\"}}}]},\"status\":{\"phase\":\"Running\"}}");
  d = (lk_diag){0};
  assert_int_equal(orch__hpa_sync(f->ctl, h, dep, (const json_t *const *)&p, 1, f->now, &dec, &d), LK_EINVAL);
  assert_string_equal(d.msg, "pod web-0: spec.containers[0].resources.requests.cpu: not a quantity");
  json_decref(p);
  uint64_t last;
  free(events(f, 0, 0, &last));
  assert_int_equal(last, 0);
  json_decref(h);
  json_decref(dep);
}

/* Quantities as Quantity.MilliValue() reads them and as DecimalSI prints. */
static void test_quantities(void **state) {
  static const struct { const char *in; int64_t milli; const char *out; } rows[] = {
    {"100m", 100, "100m"}, {"0.5", 500, "500m"}, {"1", 1000, "1"}, {"1.5k", 1500000, "1500"},
    {"128Mi", 134217728000LL, "134217728"}, {"20k", 20000000, "20k"}, {"1e3", 1000000, "1k"},
    {"0.0001", 1, "1m"}, {"2Gi", 2147483648000LL, "2147483648"}, {"-3", -3000, "-3"}, {"0", 0, "0"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t v;
    char buf[32];
    assert_int_equal(orch__quantity_milli(rows[i].in, &v), 0);
    assert_int_equal(v, rows[i].milli);
    orch__quantity_format(v, buf, sizeof buf);
    assert_string_equal(buf, rows[i].out);
  }
  int64_t v;
  assert_int_equal(orch__quantity_milli("ten", &v), LK_EPARSE);
  assert_int_equal(orch__quantity_milli("1Qi", &v), LK_EPARSE);
  assert_int_equal(orch__quantity_milli("", &v), LK_EPARSE);
}

/* Edges the peer cases do not reach: a ratio exactly on the tolerance
 * bound is within it; an event exactly one period old no longer counts. */
static void test_window_edges(void **state) {
  orch__hpa_settings s;
  orch__hpa_settings_default(&s);
  orch__hpa_pod p = {.name = "p", .phase = ORCH__PHASE_RUNNING, .ready = ORCH__CS_TRUE};
  int64_t val = 9000;
  orch__hpa_metric m = {.type = ORCH__M_EXTERNAL, .name = "q", .values = &val, .nvalues = 1,
                        .target = {.type = ORCH__T_VALUE, .has_value = true, .value_milli = 10000}};
  orch__hpa_metric_out out;
  assert_int_equal(orch__hpa_metric_replicas(&m, &p, 1, 1, 1, (orch__hpa_tolerance){0.1, 0.1}, &s, 0, &out), 0);
  assert_int_equal(out.replicas, 1); /* ratio 0.9 == 1 - 0.1 */
  orch__hpa_event ev[] = {{3, 1000000 - 60000, false}, {2, 1000000 - 59999, false}};
  assert_int_equal(orch__hpa_change_in_period(ev, 2, 60, 1000000), 2);
}

/* Label selectors in the API's string form. */
static void test_selectors(void **state) {
  orch_selector *s;
  lk_diag d = {0};
  assert_int_equal(orch_selector_parse("a=b, c!=d,e in (x, y),f notin (z),g,!h", &s, &d), 0);
  lk_label ok[] = {{"a", "b"}, {"e", "y"}, {"g", ""}};
  lk_label ok2[] = {{"a", "b"}, {"c", "e"}, {"e", "x"}, {"f", "w"}, {"g", "1"}};
  lk_label bad[][4] = {{{"a", "c"}, {"e", "y"}, {"g", ""}}, {{"a", "b"}, {"c", "d"}, {"e", "y"}, {"g", ""}},
                       {{"a", "b"}, {"e", "z"}, {"g", ""}}, {{"a", "b"}, {"e", "y"}, {"f", "z"}, {"g", ""}},
                       {{"a", "b"}, {"e", "y"}}, {{"a", "b"}, {"e", "y"}, {"g", ""}, {"h", "1"}}};
  static const size_t nbad[] = {3, 4, 3, 4, 2, 4};
  assert_true(orch_selector_matches(s, ok, 3));
  assert_true(orch_selector_matches(s, ok2, 5));
  for (size_t i = 0; i < 6; i++)
    assert_false(orch_selector_matches(s, bad[i], nbad[i]));
  orch_selector_free(s);
  assert_int_equal(orch_selector_parse("", &s, &d), 0);
  assert_true(orch_selector_matches(s, NULL, 0));
  orch_selector_free(s);
  static const char *const errors[] = {"a in b", "a in (b", "=b", "a=b c", "a ~ b"};
  for (size_t i = 0; i < 5; i++) {
    d = (lk_diag){0};
    assert_int_equal(orch_selector_parse(errors[i], &s, &d), LK_EPARSE);
    assert_non_null(strstr(d.msg, "label selector: "));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cpu_scale_up, setup, teardown),
    cmocka_unit_test_setup_teardown(test_v1_form, setup, teardown),
    cmocka_unit_test_setup_teardown(test_behavior_policy_limits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_memory_within_tolerance, setup, teardown),
    cmocka_unit_test_setup_teardown(test_external_scale_from_and_to_zero, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_pods_metric, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pods_metric, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_hpa, setup, teardown),
    cmocka_unit_test(test_quantities),
    cmocka_unit_test(test_window_edges),
    cmocka_unit_test(test_selectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
