/* test_runtime_probe.c — liveness and readiness probes on real containers
 * (host network, 127.0.0.1): an httpGet readiness probe keeps the container
 * unready until `python3 -m http.server` in it answers; a tcpSocket
 * liveness probe against it keeps it running; an httpGet liveness probe on
 * a path that answers 404 stops it (SIGTERM, which python as pid 1 without a
 * handler ignores, then SIGKILL after the 1 s grace: 137) and it is
 * restarted; an exec liveness probe (`runc exec`) stops it once the file it
 * tests disappears, and an exec readiness probe follows the same file; in a
 * pod with its own network namespace httpGet/tcpSocket probe its loopback. Exits 77 (SKIP) where containers cannot run.
 * argv[1]: the lookout binary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lk_time.h"
#include "tests/helpers/skip.h"
#include "tests/orchestrator/rt_fx.h"

#define UID3 "0b6c4f4e-3333-4a1a-9d7e-000000000003"

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static const json_t *cs0(const json_t *st)
{
  return rt_fx_cs(st, 0);
}

static bool running(const json_t *st, void *arg)
{
  (void)arg;
  return json_object_get(json_object_get(cs0(st), "state"), "running") != NULL;
}

static bool restarted(const json_t *st, void *arg)
{
  return json_integer_value(json_object_get(cs0(st), "restartCount")) >= *(int *)arg;
}

static void sync_spec(rt_fx *f, const char *spec)
{
  json_t *pod = rt_fx_pod("probed", UID3, spec);
  lk_diag d = {0};
  if (orch__rt_sync_pod(f->rt, pod, &d))
    fail_msg("sync: %s", d.msg);
  json_decref(pod);
}

static void test_http_readiness_tcp_liveness(void **state)
{
  rt_fx *f = *state;
  int port = free_port();
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"containers\":[{\"name\":\"web\",\"command\":[\"/bin/sh\",\"-c\","
           "\"sleep 2; exec python3 -m http.server %d --bind 127.0.0.1 --directory /\"],"
           "\"readinessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":%d},\"periodSeconds\":1},"
           "\"livenessProbe\":{\"tcpSocket\":{\"port\":%d},\"initialDelaySeconds\":4,"
           "\"periodSeconds\":1,\"failureThreshold\":2}}]}",
           port, port, port);
  sync_spec(f, spec);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID3, running, NULL, 20000, &st));
  assert_false(json_is_true(json_object_get(cs0(st), "ready"))); /* server not up yet */
  json_decref(st);
  assert_true(rt_fx_wait(f, UID3, rt_fx_running_ready, NULL, 10000, &st));
  json_decref(st);
  /* the tcp liveness probe passes: no restart over several periods */
  sleep(4);
  assert_int_equal(orch__rt_pod_status(f->rt, UID3, &st, NULL), 0);
  assert_int_equal(json_integer_value(json_object_get(cs0(st), "restartCount")), 0);
  assert_true(json_is_true(json_object_get(cs0(st), "ready")));
  json_decref(st);
}

static void test_http_liveness_404_restarts(void **state)
{
  rt_fx *f = *state;
  int port = free_port();
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"terminationGracePeriodSeconds\":1,"
           "\"containers\":[{\"name\":\"web\",\"command\":[\"python3\",\"-m\",\"http.server\","
           "\"%d\",\"--bind\",\"127.0.0.1\",\"--directory\",\"/\"],"
           "\"livenessProbe\":{\"httpGet\":{\"path\":\"/no-such-file-here\",\"port\":%d},"
           "\"initialDelaySeconds\":1,\"periodSeconds\":1,\"failureThreshold\":2}}]}",
           port, port);
  sync_spec(f, spec);
  int one = 1;
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID3, restarted, &one, 15000, &st));
  const json_t *t = json_object_get(json_object_get(cs0(st), "lastState"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(t, "exitCode")), 137);
  json_decref(st);
}

static bool host_port_open(int port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bool open_ = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return open_;
}

/* A pod with its own network namespace: httpGet and tcpSocket probes reach
 * its loopback (the probe thread enters the namespace), the host's does not
 * have the port. */
static void test_probes_in_private_netns(void **state)
{
  rt_fx *f = *state;
  int port = free_port();
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"hostNetwork\":false,\"containers\":[{\"name\":\"web\",\"command\":[\"python3\","
           "\"-m\",\"http.server\",\"%d\",\"--bind\",\"127.0.0.1\",\"--directory\",\"/\"],"
           "\"readinessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":%d},\"periodSeconds\":1},"
           "\"livenessProbe\":{\"tcpSocket\":{\"port\":%d},\"periodSeconds\":1,"
           "\"failureThreshold\":1}}]}",
           port, port, port);
  sync_spec(f, spec);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID3, rt_fx_running_ready, NULL, 20000, &st));
  json_decref(st);
  assert_false(host_port_open(port));
  sleep(3); /* several liveness periods */
  assert_int_equal(orch__rt_pod_status(f->rt, UID3, &st, NULL), 0);
  assert_int_equal(json_integer_value(json_object_get(cs0(st), "restartCount")), 0);
  assert_true(json_is_true(json_object_get(cs0(st), "ready")));
  json_decref(st);
}

static bool unready_running(const json_t *st, void *arg)
{
  (void)arg;
  return running(st, NULL) && !json_is_true(json_object_get(cs0(st), "ready"));
}

static void test_exec_probes(void **state)
{
  rt_fx *f = *state;
  sync_spec(f, "{\"terminationGracePeriodSeconds\":1,"
               "\"containers\":[{\"name\":\"c\",\"command\":[\"/bin/sh\",\"-c\","
               "\"touch /tmp/alive; sleep 3; rm /tmp/alive; sleep 1000\"],"
               "\"readinessProbe\":{\"exec\":{\"command\":[\"cat\",\"/tmp/alive\"]},"
               "\"periodSeconds\":1},"
               "\"livenessProbe\":{\"exec\":{\"command\":[\"test\",\"-f\",\"/tmp/alive\"]},"
               "\"initialDelaySeconds\":1,\"periodSeconds\":1,\"failureThreshold\":2}}]}");
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID3, rt_fx_running_ready, NULL, 20000, &st));
  json_decref(st);
  assert_true(rt_fx_wait(f, UID3, unready_running, NULL, 20000, &st)); /* file gone (exec probes are slow on a loaded machine) */
  json_decref(st);
  int one = 1;
  assert_true(rt_fx_wait(f, UID3, restarted, &one, 20000, &st));
  const json_t *t = json_object_get(json_object_get(cs0(st), "lastState"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(t, "exitCode")), 137);
  json_decref(st);
  /* the new run has the file again: ready again */
  assert_true(rt_fx_wait(f, UID3, rt_fx_running_ready, NULL, 10000, &st));
  json_decref(st);
}

int main(int argc, char **argv)
{
  rt_fx_begin(argc, argv, "test_runtime_probe");
  lk_test_require(lk_test_have("/usr/bin/python3"), "python3 is not installed");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_http_readiness_tcp_liveness, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_http_liveness_404_restarts, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_exec_probes, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_probes_in_private_netns, rt_fx_setup, rt_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
