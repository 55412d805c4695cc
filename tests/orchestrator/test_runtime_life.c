/* test_runtime_life.c — supervision on the real runc: a container killed
 * with SIGKILL is restarted (restartCount 1, lastState terminated 137); a
 * crash loop shows CrashLoopBackOff with growing delays (base 400 ms here);
 * restartPolicy OnFailure/Never end in Succeeded/Failed; a container over
 * its memory limit ends as OOMKilled; graceful removal
 * honours the grace period (a container ignoring SIGTERM is killed after
 * it, one that exits on SIGTERM is gone at once); close + reopen adopts the
 * running containers (same pid, one shim, nothing duplicated); a killed
 * shim takes its container with it and a new run starts.
 * Exits 77 (SKIP) where containers cannot run. argv[1]: the lookout binary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_time.h"
#include "tests/helpers/skip.h"
#include "tests/orchestrator/rt_fx.h"

#define UID2 "0b6c4f4e-2222-4a1a-9d7e-000000000002"

static int64_t restart_count(const json_t *st)
{
  return json_integer_value(json_object_get(rt_fx_cs(st, 0), "restartCount"));
}

static bool restarted_once_running(const json_t *st, void *arg)
{
  (void)arg;
  return restart_count(st) == 1 && rt_fx_running_ready(st, NULL);
}

static void start_sh(rt_fx *f, const char *name, const char *script, const char *extra)
{
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{%s\"containers\":[{\"name\":\"main\",\"command\":[\"/bin/sh\",\"-c\",\"%s\"]}]}",
           extra, script);
  json_t *pod = rt_fx_pod(name, UID2, spec);
  lk_diag d = {0};
  int rc = orch__rt_sync_pod(f->rt, pod, &d);
  if (rc)
    fail_msg("sync: %s", d.msg);
  json_decref(pod);
}

static void test_kill9_restarts(void **state)
{
  rt_fx *f = *state;
  start_sh(f, "k9", "echo up; sleep 1000", "");
  assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 20000, NULL));
  int pid = rt_fx_pid(f, UID2 "-main");
  assert_true(pid > 0);
  assert_int_equal(kill(pid, SIGKILL), 0);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, restarted_once_running, NULL, 5000, &st));
  const json_t *term = json_object_get(json_object_get(rt_fx_cs(st, 0), "lastState"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 137);
  assert_string_equal(json_string_value(json_object_get(term, "reason")), "Error");
  assert_non_null(json_object_get(term, "finishedAt"));
  int pid2 = rt_fx_pid(f, UID2 "-main");
  assert_true(pid2 > 0 && pid2 != pid);
  json_decref(st);
  /* the second run logs to 1.log */
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_k9_" UID2 "/main/1.log", f->data);
  char *log = NULL;
  for (int i = 0; i < 60 && !(log && strstr(log, "stdout F up")); i++) {
    free(log);
    usleep(50000);
    log = rt_fx_read(path);
  }
  assert_non_null(log);
  assert_non_null(strstr(log, "stdout F up"));
  free(log);
}

static bool waiting_backoff(const json_t *st, void *arg)
{
  int64_t min_restarts = *(int64_t *)arg;
  const json_t *w = json_object_get(json_object_get(rt_fx_cs(st, 0), "state"), "waiting");
  const char *reason = json_string_value(json_object_get(w, "reason"));
  return reason && !strcmp(reason, "CrashLoopBackOff") && restart_count(st) >= min_restarts;
}

static void test_crash_loop_backoff(void **state)
{
  rt_fx *f = *state;
  start_sh(f, "crash", "echo crashing; exit 3", "");
  /* restartCount k appears at the k-th exit; before the runs that follow,
   * the back-off waits 0, 400, 800, 1600 ms: record when each count appears */
  int64_t seen[6] = {0};
  int64_t t0 = lk_mono_ns();
  for (int i = 0; i < 600 && !seen[5]; i++) {
    json_t *st = NULL;
    assert_int_equal(orch__rt_pod_status(f->rt, UID2, &st, NULL), 0);
    int64_t n = restart_count(st);
    for (int64_t k = 1; k <= n && k <= 5; k++)
      if (!seen[k])
        seen[k] = (lk_mono_ns() - t0) / 1000000;
    json_decref(st);
    usleep(20000);
  }
  assert_true(seen[5] > 0);
  int64_t gap3 = seen[3] - seen[2], gap4 = seen[4] - seen[3], gap5 = seen[5] - seen[4];
  print_message("restart times (ms): %lld %lld %lld %lld %lld\n", (long long)seen[1],
                (long long)seen[2], (long long)seen[3], (long long)seen[4], (long long)seen[5]);
  /* each gap is the delay plus one run (~0.1-1 s on a loaded machine) */
  assert_true(gap3 >= 400 && gap4 >= 800 && gap5 >= 1600);
  assert_true(gap3 < 400 + 2500 && gap4 < 800 + 2500 && gap5 < 1600 + 2500);
  int64_t min = 5;
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, waiting_backoff, &min, 5000, &st));
  const json_t *cs = rt_fx_cs(st, 0);
  const char *msg = json_string_value(json_object_get(json_object_get(json_object_get(cs, "state"),
                                                                      "waiting"), "message"));
  assert_non_null(msg);
  assert_non_null(strstr(msg, "back-off"));
  const json_t *term = json_object_get(json_object_get(cs, "lastState"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 3);
  assert_string_equal(json_string_value(json_object_get(st, "phase")), "Running");
  assert_false(json_is_true(json_object_get(cs, "ready")));
  json_decref(st);
}

static bool phase_is(const json_t *st, void *arg)
{
  const char *p = json_string_value(json_object_get(st, "phase"));
  return p && !strcmp(p, arg);
}

static void test_policies(void **state)
{
  rt_fx *f = *state;
  start_sh(f, "once", "exit 3", "\"restartPolicy\":\"Never\",");
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, phase_is, "Failed", 10000, &st));
  const json_t *term = json_object_get(json_object_get(rt_fx_cs(st, 0), "state"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 3);
  assert_int_equal(restart_count(st), 0);
  json_decref(st);
  assert_int_equal(orch__rt_remove_pod(f->rt, UID2, 0, NULL), 0);
  assert_true(rt_fx_wait_gone(f, UID2, 10000));

  start_sh(f, "job", "exit 0", "\"restartPolicy\":\"OnFailure\",");
  assert_true(rt_fx_wait(f, UID2, phase_is, "Succeeded", 10000, &st));
  term = json_object_get(json_object_get(rt_fx_cs(st, 0), "state"), "terminated");
  assert_string_equal(json_string_value(json_object_get(term, "reason")), "Completed");
  assert_int_equal(restart_count(st), 0);
  json_decref(st);
}

/* Over its memory limit: killed by the kernel, reported as OOMKilled. */
static void test_oom_killed(void **state)
{
  rt_fx *f = *state;
  json_t *pod = rt_fx_pod("hog", UID2,
                          "{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"main\","
                          "\"command\":[\"python3\",\"-c\",\"b = bytearray(256 << 20)\"],"
                          "\"resources\":{\"limits\":{\"memory\":\"32Mi\"}}}]}");
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, NULL), 0);
  json_decref(pod);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, phase_is, "Failed", 20000, &st));
  const json_t *term = json_object_get(json_object_get(rt_fx_cs(st, 0), "state"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 137);
  assert_string_equal(json_string_value(json_object_get(term, "reason")), "OOMKilled");
  json_decref(st);
}

static double remove_secs(rt_fx *f, int64_t grace_ms)
{
  int64_t t0 = lk_mono_ns();
  assert_int_equal(orch__rt_remove_pod(f->rt, UID2, grace_ms, NULL), 0);
  assert_true(rt_fx_wait_gone(f, UID2, 20000));
  return (double)(lk_mono_ns() - t0) / 1e9;
}

static void test_graceful_termination(void **state)
{
  rt_fx *f = *state;
  /* pid 1 without a TERM handler ignores SIGTERM: killed after the grace */
  start_sh(f, "stubborn", "sleep 1000", "\"terminationGracePeriodSeconds\":2,");
  assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 20000, NULL));
  double s = remove_secs(f, -1);
  print_message("ignoring SIGTERM: removed after %.2f s (grace 2 s)\n", s);
  assert_true(s >= 1.9 && s < 6);

  start_sh(f, "polite", "trap 'exit 0' TERM; while :; do sleep 0.1; done",
           "\"terminationGracePeriodSeconds\":30,");
  assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 20000, NULL));
  s = remove_secs(f, -1);
  print_message("exiting on SIGTERM: removed after %.2f s (grace 30 s)\n", s);
  assert_true(s < 3);
}

/* Processes whose command line is `... shim ... --id ID ...`. */
static int count_shims(const char *id)
{
  DIR *d = opendir("/proc");
  struct dirent *de;
  int n = 0;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    char p[300], cmd[4096];
    snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
    FILE *fp = fopen(p, "r");
    size_t len = fp ? fread(cmd, 1, sizeof cmd - 1, fp) : 0;
    if (fp)
      fclose(fp);
    for (size_t i = 0; i < len; i++)
      if (!cmd[i])
        cmd[i] = ' ';
    cmd[len] = 0;
    if (strstr(cmd, " shim ") && strstr(cmd, id))
      n++;
  }
  if (d)
    closedir(d);
  return n;
}

static void test_adoption(void **state)
{
  rt_fx *f = *state;
  start_sh(f, "keep", "sleep 1000", "");
  assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 20000, NULL));
  int pid = rt_fx_pid(f, UID2 "-main");
  assert_true(pid > 0);
  assert_int_equal(count_shims(UID2 "-main"), 1);
  for (int round = 0; round < 2; round++) {
    rt_fx_reopen(f);
    /* syncing the same pod again (as a controller would) starts nothing */
    start_sh(f, "keep", "sleep 1000", "");
    usleep(600000);
    json_t *st = NULL;
    assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 5000, &st));
    assert_int_equal(restart_count(st), 0);
    json_decref(st);
    assert_int_equal(rt_fx_pid(f, UID2 "-main"), pid);
    assert_int_equal(count_shims(UID2 "-main"), 1);
    char **uids;
    assert_int_equal(orch__rt_pods(f->rt, &uids), 1);
    free(uids[0]);
    free(uids);
  }
  /* killed while Lookout was away: the reopened runtime restarts it once */
  orch__rt_close(f->rt);
  f->rt = NULL;
  kill(pid, SIGKILL);
  usleep(300000);
  rt_fx_reopen(f);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, restarted_once_running, NULL, 5000, &st));
  json_decref(st);
  assert_int_equal(count_shims(UID2 "-main"), 1);
}

/* The shim killed: the container it ran is killed too (no orphan) and a new
 * run starts under a new shim. */
static void test_shim_killed(void **state)
{
  rt_fx *f = *state;
  start_sh(f, "orphan", "sleep 1000", "");
  assert_true(rt_fx_wait(f, UID2, rt_fx_running_ready, NULL, 20000, NULL));
  int pid = rt_fx_pid(f, UID2 "-main");
  char path[1024];
  snprintf(path, sizeof path, "%s/orchestrator/pods/" UID2 "/main/shim.pid", f->data);
  char *txt = rt_fx_read(path);
  assert_non_null(txt);
  int shim = atoi(txt);
  free(txt);
  assert_true(shim > 0 && pid > 0);
  assert_int_equal(kill(shim, SIGKILL), 0);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID2, restarted_once_running, NULL, 10000, &st));
  json_decref(st);
  int pid2 = rt_fx_pid(f, UID2 "-main");
  assert_true(pid2 > 0 && pid2 != pid);
  for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
    usleep(100000);
  assert_int_not_equal(kill(pid, 0), 0); /* the old container's process is gone */
  assert_int_equal(count_shims(UID2 "-main"), 1);
}

int main(int argc, char **argv)
{
  rt_fx_begin(argc, argv, "test_runtime_life");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_kill9_restarts, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_crash_loop_backoff, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_policies, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_oom_killed, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_graceful_termination, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_adoption, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_shim_killed, rt_fx_setup, rt_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
