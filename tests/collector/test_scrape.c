/* test_scrape.c — HTTP sources over real HTTP on 127.0.0.1: the kubelet pod
 * list (names and images), and scraping Prometheus targets:
 * a good target's samples arrive with job/instance (clashing labels become
 * exported_*), explicit timestamps kept, `up` = 1 and the scrape series;
 * a target returning garbage and a dead target give up = 0, no partial
 * samples, counted errors, and the collector keeps going. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector.h"
#include "lib/lk_http.h"
#include "tests/collector/capture.h"

static void good(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain; version=0.0.4";
  lk_buf_puts(&resp->body,
              "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
              "http_requests_total{code=\"200\",job=\"inner\"} 1027\n"
              "http_requests_total{code=\"500\"} 3 1700000000123\n"
              "temperature_celsius 21.5\n");
}

static void garbage(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain";
  lk_buf_puts(&resp->body, "ok_metric 1\nthis is { not exposition\n");
}

/* A kubelet /pods answer (v1.PodList, trimmed to the fields used) for the
 * v1 fixture's pod: the app container with its image, a container that has
 * not started (no containerID), and an init container. */
static void pods(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  lk_buf_puts(&resp->body,
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{\"name\":\"api-5d8f7\","
    "\"namespace\":\"prod\",\"uid\":\"1c178021-5860-4495-a1ab-f9ac17877672\"},\"status\":{"
    "\"containerStatuses\":[{\"name\":\"api\",\"image\":\"registry.example/api:1.4.2\","
    "\"containerID\":\"containerd://3f1c9e2d7b6a5948372615a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4\"},"
    "{\"name\":\"waiting\",\"image\":\"x:1\"}],"
    "\"initContainerStatuses\":[{\"name\":\"init\",\"image\":\"busybox:1.36\",\"containerID\":"
    "\"containerd://9e8d7c6b5a4938271605f4e3d2c1b0a99e8d7c6b5a4938271605f4e3d2c1b0a9\"}]}}]}");
}

static const lk_http_route routes[] = {
  {"GET", "/metrics", LK_AUTH_NONE, 0, good, NULL, "good"},
  {"GET", "/garbage", LK_AUTH_NONE, 0, garbage, NULL, "garbage"},
  {"GET", "/pods", LK_AUTH_NONE, 0, pods, NULL, "pods"},
};

static void test_scrape_targets(void **state)
{
  (void)state;
  lk_http_opts ho = {.listen = "127.0.0.1:0"};
  lk_http_server *srv = NULL;
  assert_int_equal(lk_http_start(&ho, routes, 2, NULL, NULL, &srv, NULL), 0);
  int port = lk_http_port(srv);
  char u1[128], u2[128], u3[128], inst[64];
  lk_http_server *gone = NULL; /* a port nothing listens on any more */
  assert_int_equal(lk_http_start(&ho, routes, 2, NULL, NULL, &gone, NULL), 0);
  snprintf(u3, sizeof u3, "http://127.0.0.1:%d/metrics", lk_http_port(gone));
  lk_http_stop(gone);
  snprintf(u1, sizeof u1, "http://127.0.0.1:%d/metrics", port);
  snprintf(u2, sizeof u2, "http://127.0.0.1:%d/garbage", port);
  snprintf(inst, sizeof inst, "127.0.0.1:%d", port);
  collector_target t[] = {
    {.job = "app", .url = u1},
    {.job = "bad", .url = u2},
    {.job = "dead", .url = u3, .timeout_ms = 1000},
  };
  capture cap = {0};
  collector_opts o = {.no_containers = true, .no_node = true, .node = "n", .targets = t,
                      .ntargets = 3};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, 1700000005000), 0);
  assert_float_equal(capture_val(&cap, "http_requests_total", "code", "200", "job", "app",
                                 "instance", inst, "exported_job", "inner", NULL), 1027, 0);
  assert_float_equal(capture_val(&cap, "temperature_celsius", "job", "app", NULL), 21.5, 0);
  for (size_t i = 0; i < cap.n; i++)
    if (strstr(cap.text[i], "code=\"500\""))
      assert_true(cap.t[i] == 1700000000123);
  assert_float_equal(capture_val(&cap, "up", "job", "app", NULL), 1, 0);
  assert_float_equal(capture_val(&cap, "scrape_samples_scraped", "job", "app", NULL), 3, 0);
  assert_int_equal(capture_count(&cap, NULL, "scrape_duration_seconds", "job", "app", NULL), 1);
  assert_float_equal(capture_val(&cap, "up", "job", "bad", NULL), 0, 0);
  assert_int_equal(capture_count(&cap, NULL, "ok_metric", NULL), 0); /* no partial scrape */
  assert_float_equal(capture_val(&cap, "up", "job", "dead", NULL), 0, 0);
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.scrape_errors, 2);
  /* not due again within the interval: no new scrape series */
  assert_int_equal(collector_collect(c, 1700000006000), 0);
  assert_int_equal(capture_count(&cap, NULL, "up", NULL), 0);
  assert_int_equal(collector_collect(c, 1700000010000), 0);
  assert_int_equal(capture_count(&cap, NULL, "up", NULL), 3);
  collector_stats_get(c, &st);
  assert_int_equal(st.scrape_errors, 4);
  /* slots stay on the 5 s grid: a cycle 10 ms before its slot, or 400 ms
   * after it, scrapes (a scrape time drifting with each late cycle skipped
   * every few intervals) */
  const int64_t cycles[] = {1700000014990, 1700000020003, 1700000025400, 1700000029990};
  for (size_t i = 0; i < sizeof cycles / sizeof cycles[0]; i++) {
    assert_int_equal(collector_collect(c, cycles[i]), 0);
    assert_int_equal(capture_count(&cap, NULL, "up", NULL), 3);
  }
  collector_free(c);
  capture_fini(&cap);
  lk_http_stop(srv);
}

#define FIX FIXTURES_DIR "/cgroup"
#define ID1 "/kubepods/burstable/pod1c178021-5860-4495-a1ab-f9ac17877672/" \
            "3f1c9e2d7b6a5948372615a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4"
#define SB1 "/kubepods/burstable/pod1c178021-5860-4495-a1ab-f9ac17877672/" \
            "9e8d7c6b5a4938271605f4e3d2c1b0a99e8d7c6b5a4938271605f4e3d2c1b0a9"

/* Names and images from the kubelet's pod list; without a kubelet the
 * names still come from the log layout, and the failure is counted. */
static void test_kubelet_pods(void **state)
{
  (void)state;
  lk_http_opts ho = {.listen = "127.0.0.1:0"};
  lk_http_server *srv = NULL;
  assert_int_equal(lk_http_start(&ho, routes, 3, NULL, NULL, &srv, NULL), 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/pods", lk_http_port(srv));
  capture cap = {0};
  collector_opts o = {.cgroup_root = FIX "/v1", .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "n", .no_node = true, .kubelet_url = url};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, 0), 0);
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", ID1, "namespace",
                                 "prod", "pod", "api-5d8f7", "container", "api", "image",
                                 "registry.example/api:1.4.2", NULL), 0.929843110, 1e-9);
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", SB1, "container",
                                 "init", "image", "busybox:1.36", NULL), 0.012, 1e-9);
  collector_free(c);
  lk_http_stop(srv);
  /* the kubelet is gone: logs still name the container, no image */
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, 0), 0);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", "id", ID1,
                                 "container", "api", NULL), 1);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", "image",
                                 "registry.example/api:1.4.2", NULL), 0);
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.read_errors, 1);
  collector_free(c);
  capture_fini(&cap);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scrape_targets),
    cmocka_unit_test(test_kubelet_pods),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
