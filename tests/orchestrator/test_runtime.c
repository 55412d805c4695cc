/* test_runtime.c — the runtime (orchestrator/runtime*.c) on the real runc
 * with real containers running host binaries: start -> Running and ready,
 * the CRI log file, the cgroups at the DESIGN path with the limits applied,
 * the collector naming the container like a Kubernetes pod's, the log
 * tailer reading the logs with the pod's labels, log rotation, the read-only
 * root with a private /tmp, emptyDir volumes and a private network
 * namespace, removal leaving no container, cgroup or bundle, and refusals
 * of what cannot run. Exits 77 (SKIP) where containers cannot run (not root, no
 * runc, no cgroups). argv[1]: the lookout binary (for `lookout shim`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/tail.h"
#include "lib/lk_time.h"
#include "tests/collector/capture.h"
#include "tests/helpers/skip.h"
#include "tests/orchestrator/rt_fx.h"

#define UID1 "0b6c4f4e-1111-4a1a-9d7e-000000000001"

static bool exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

static long read_long(const char *path)
{
  char *s = rt_fx_read(path);
  long v = s ? atol(s) : -1;
  free(s);
  return v;
}

static void test_start_logs_cgroups_remove(void **state)
{
  rt_fx *f = *state;
  json_t *pod = rt_fx_pod("web", UID1,
                          "{\"containers\":[{\"name\":\"main\",\"image\":\"host\","
                          "\"command\":[\"/bin/sh\",\"-c\",\"echo hi; echo oops >&2; sleep 1000\"],"
                          "\"resources\":{\"requests\":{\"cpu\":\"250m\"},"
                          "\"limits\":{\"cpu\":\"500m\",\"memory\":\"64Mi\"}}}]}");
  lk_diag d = {0};
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, &d), 0);
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, &d), 0); /* idempotent */
  json_t *st = NULL;
  bool ok = rt_fx_wait(f, UID1, rt_fx_running_ready, NULL, 20000, &st);
  assert_true(ok);
  const json_t *cs = rt_fx_cs(st, 0);
  assert_string_equal(json_string_value(json_object_get(cs, "name")), "main");
  assert_non_null(json_object_get(json_object_get(cs, "state"), "running"));
  assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 0);
  assert_string_equal(json_string_value(json_object_get(cs, "containerID")),
                      "runc://" UID1 "-main");
  assert_non_null(json_object_get(st, "podIP"));
  assert_non_null(json_object_get(st, "startTime"));
  assert_int_equal(json_array_size(json_object_get(st, "conditions")), 4);
  json_decref(st);
  char **uids;
  assert_int_equal(orch__rt_pods(f->rt, &uids), 1);
  assert_string_equal(uids[0], UID1);
  free(uids[0]);
  free(uids);

  /* logs: CRI lines in <data>/pods/<ns>_<pod>_<uid>/<ctr>/0.log */
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_web_" UID1 "/main/0.log", f->data);
  char *log = NULL;
  for (int i = 0; i < 100; i++) {
    free(log);
    log = rt_fx_read(path);
    if (log && strstr(log, " stdout F hi\n") && strstr(log, " stderr F oops\n"))
      break;
    usleep(50000);
  }
  assert_non_null(log);
  assert_non_null(strstr(log, " stdout F hi\n"));
  assert_non_null(strstr(log, " stderr F oops\n"));
  /* 2026-12-06T08:41:03.123456789Z stdout F hi */
  assert_true(strlen(log) > 20 && log[4] == '-' && log[10] == 'T' && strchr(log, 'Z'));
  free(log);

  /* cgroups at /lookout/<ns>_<pod>_<uid>/<ctr> with the limits */
  const char *cg = "/sys/fs/cgroup/%s/lookout/default_web_" UID1 "/main/%s";
  snprintf(path, sizeof path, cg, "memory", "memory.limit_in_bytes");
  assert_int_equal(read_long(path), 64L << 20);
  snprintf(path, sizeof path, cg, "cpu", "cpu.cfs_quota_us");
  assert_int_equal(read_long(path), 50000);
  snprintf(path, sizeof path, cg, "cpu", "cpu.cfs_period_us");
  assert_int_equal(read_long(path), 100000);
  snprintf(path, sizeof path, cg, "cpu", "cpu.shares");
  assert_int_equal(read_long(path), 256);
  int pid = rt_fx_pid(f, UID1 "-main");
  assert_true(pid > 0);
  snprintf(path, sizeof path, cg, "memory", "cgroup.procs");
  char *procs = rt_fx_read(path);
  char want[32];
  snprintf(want, sizeof want, "%d\n", pid);
  assert_non_null(procs);
  assert_non_null(strstr(procs, want));
  free(procs);

  /* remove: no runc container, no cgroup dir, no bundle */
  assert_int_equal(orch__rt_remove_pod(f->rt, UID1, 0, &d), 0);
  assert_true(rt_fx_wait_gone(f, UID1, 15000));
  assert_int_equal(rt_fx_pid(f, UID1 "-main"), 0);
  snprintf(path, sizeof path, "/sys/fs/cgroup/memory/lookout/default_web_" UID1);
  assert_false(exists(path));
  snprintf(path, sizeof path, "/sys/fs/cgroup/cpu/lookout/default_web_" UID1);
  assert_false(exists(path));
  snprintf(path, sizeof path, "%s/orchestrator/pods/" UID1, f->data);
  assert_false(exists(path));
  assert_int_equal(orch__rt_pods(f->rt, &uids), 0);
  free(uids);
  json_decref(pod);
}

/* The collector finds the container's cgroup and names it like a
 * Kubernetes pod's: namespace, pod and container labels, the quota. */
static void test_collector_names_it(void **state)
{
  rt_fx *f = *state;
  json_t *pod = rt_fx_pod("named", UID1,
                          "{\"containers\":[{\"name\":\"app\",\"command\":[\"sleep\",\"1000\"],"
                          "\"resources\":{\"limits\":{\"cpu\":\"250m\"}}}]}");
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, NULL), 0);
  json_decref(pod);
  assert_true(rt_fx_wait(f, UID1, rt_fx_running_ready, NULL, 20000, NULL));
  capture cap = {0};
  collector_opts o = {.cgroup_root = "/sys/fs/cgroup", .node = "rt", .no_node = true,
                      .detail_interval_ms = 1};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, lk_now_ms()), 0);
  assert_float_equal(capture_val(&cap, "container_spec_cpu_quota", "id",
                                 "/lookout/default_named_" UID1 "/app", "namespace", "default",
                                 "pod", "named", "container", "app", NULL),
                     25000, 0);
  collector_free(c);
  capture_fini(&cap);
}


/* Read-only host root (also a writable host mount below it), private
 * writable /tmp, a writable emptyDir under the pod's state dir, env and
 * workingDir, a private network namespace when hostNetwork is false. */
static void test_filesystem_and_network(void **state)
{
  rt_fx *f = *state;
  snprintf(f->host_mount, sizeof f->host_mount, "/var/tmp/lk-rt-sub-%d", (int)getpid());
  assert_int_equal(mkdir(f->host_mount, 0755), 0);
  assert_int_equal(mount("tmpfs", f->host_mount, "tmpfs", 0, "size=1m"), 0);
  char spec[4096];
  snprintf(spec, sizeof spec,
      "{\"hostNetwork\":false,\"volumes\":[{\"name\":\"scratch\",\"emptyDir\":{}}],"
      "\"containers\":[{\"name\":\"c\",\"workingDir\":\"/tmp\","
      "\"env\":[{\"name\":\"GREETING\",\"value\":\"hello\"}],"
      "\"volumeMounts\":[{\"name\":\"scratch\",\"mountPath\":\"/tmp/scratch\"}],"
      "\"command\":[\"/bin/sh\",\"-c\",\"touch /etc/lk-rt-probe 2>/dev/null || echo root-ro; "
      "touch /tmp/x && echo tmp-rw; echo $GREETING > /tmp/scratch/f; pwd; "
      "touch %s/x 2>/dev/null || echo sub-ro; grep -E 'SigBlk|SigIgn' /proc/self/status; "
      "echo netns=$(readlink /proc/self/ns/net); sleep 1000\"]}]}", f->host_mount);
  json_t *pod = rt_fx_pod("fs", UID1, spec);
  lk_diag d = {0};
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, &d), 0);
  json_decref(pod);
  assert_true(rt_fx_wait(f, UID1, rt_fx_running_ready, NULL, 20000, NULL));
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_fs_" UID1 "/c/0.log", f->data);
  char *log = rt_fx_wait_log(path, "netns=");
  assert_non_null(log);
  assert_non_null(strstr(log, "stdout F root-ro\n"));
  assert_non_null(strstr(log, "stdout F tmp-rw\n"));
  assert_non_null(strstr(log, "stdout F /tmp\n"));
  assert_non_null(strstr(log, "stdout F sub-ro\n"));
  /* none of Lookout's blocked or ignored signals (see main) reach the container */
  assert_non_null(strstr(log, "stdout F SigBlk:\t0000000000000000\n"));
  assert_non_null(strstr(log, "stdout F SigIgn:\t0000000000000000\n"));
  char host_ns[128] = "", want[160];
  ssize_t n = readlink("/proc/self/ns/net", host_ns, sizeof host_ns - 1);
  assert_true(n > 0);
  host_ns[n] = 0;
  snprintf(want, sizeof want, "netns=%s\n", host_ns);
  assert_null(strstr(log, want)); /* not the host's network */
  free(log);
  assert_false(exists("/etc/lk-rt-probe"));
  snprintf(path, sizeof path, "%s/orchestrator/pods/" UID1 "/volumes/scratch/f", f->data);
  char *v = NULL;
  for (int i = 0; i < 40 && !v; i++) {
    usleep(50000);
    v = rt_fx_read(path);
  }
  assert_non_null(v);
  assert_string_equal(v, "hello\n");
  free(v);
}

static bool start_error(const json_t *st, void *arg)
{
  (void)arg;
  const json_t *t = json_object_get(json_object_get(rt_fx_cs(st, 1), "lastState"), "terminated");
  const char *r = json_string_value(json_object_get(t, "reason"));
  return r && !strcmp(r, "StartError");
}

/* image: a root filesystem directory (dash and its libraries copied into
 * a temporary dir): the container sees that tree, not the host's. A command
 * that does not exist ends as StartError with the runtime's message. */
static void test_rootfs_dir_and_start_error(void **state)
{
  rt_fx *f = *state;
  char rootfs[256], cmd[1024];
  snprintf(rootfs, sizeof rootfs, "%s/rootfs-image", f->data);
  snprintf(cmd, sizeof cmd,
           "set -e; r=%s; mkdir -p $r/bin $r/marker-dir; cp /bin/dash $r/bin/sh; "
           "for l in $(ldd /bin/dash | grep -o '/[^ ]*'); do mkdir -p $r$(dirname $l); "
           "cp $l $r$l; done",
           rootfs);
  assert_int_equal(system(cmd), 0);
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"containers\":[{\"name\":\"c\",\"image\":\"%s\",\"command\":[\"/bin/sh\","
           "\"-c\",\"echo top: /*; sleep 1000\"]},"
           "{\"name\":\"bad\",\"command\":[\"/no/such/binary\"]}]}",
           rootfs);
  json_t *pod = rt_fx_pod("img", UID1, spec);
  lk_diag d = {0};
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, &d), 0);
  json_decref(pod);
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_img_" UID1 "/c/0.log", f->data);
  char *log = rt_fx_wait_log(path, "top:");
  assert_non_null(log);
  assert_non_null(strstr(log, "/marker-dir"));
  assert_null(strstr(log, "/usr"));
  free(log);
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, UID1, start_error, NULL, 20000, &st));
  const json_t *bad = json_array_get(json_object_get(st, "containerStatuses"), 1);
  const json_t *t = json_object_get(json_object_get(bad, "lastState"), "terminated");
  assert_int_equal(json_integer_value(json_object_get(t, "exitCode")), 128);
  const char *msg = json_string_value(json_object_get(t, "message"));
  assert_non_null(msg);
  assert_non_null(strstr(msg, "/no/such/binary"));
  json_decref(st);
}

/* The "ns: net:[..] ipc:[..]" line a container of pod `pod` logged. */
static char *ns_line(rt_fx *f, const char *pod, const char *ctr)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_%s_" UID1 "/%s/0.log", f->data, pod, ctr);
  char *log = rt_fx_wait_log(path, "stdout F ns:");
  char *l = log ? strstr(log, "stdout F ns:") : NULL;
  assert_non_null(l);
  char *s = strndup(l, strcspn(l, "\n"));
  free(log);
  return s;
}

/* A pod's containers share one IPC namespace and, without host network,
 * one network namespace (not the host's): localhost between them works. */
static void test_pod_shares_namespaces(void **state)
{
  rt_fx *f = *state;
  const char *ctr =
      "{\"name\":\"%s\",\"command\":[\"/bin/sh\",\"-c\",\"echo ns: $(readlink /proc/self/ns/net) "
      "$(readlink /proc/self/ns/ipc); sleep 1000\"]}";
  char a[512], b[512], spec[2048];
  snprintf(a, sizeof a, ctr, "a");
  snprintf(b, sizeof b, ctr, "b");
  snprintf(spec, sizeof spec, "{\"hostNetwork\":false,\"containers\":[%s,%s]}", a, b);
  json_t *pod = rt_fx_pod("shared", UID1, spec);
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, NULL), 0);
  json_decref(pod);
  char *la = ns_line(f, "shared", "a"), *lb = ns_line(f, "shared", "b");
  char host_net[128] = "", host_ipc[128] = "";
  assert_true(readlink("/proc/self/ns/net", host_net, sizeof host_net - 1) > 0);
  assert_true(readlink("/proc/self/ns/ipc", host_ipc, sizeof host_ipc - 1) > 0);
  assert_string_equal(la, lb);
  assert_null(strstr(la, host_net));
  assert_null(strstr(la, host_ipc));
  free(la);
  free(lb);
  /* the bundles join the sandbox's namespaces by path */
  char path[1024];
  snprintf(path, sizeof path, "%s/orchestrator/pods/" UID1 "/ns-net", f->data);
  assert_true(exists(path));
}

typedef struct tail_seen {
  bool hi, long_line;
  size_t long_len;
} tail_seen;

static const char *label_of(const collector_log_entry *e, const char *name)
{
  for (size_t i = 0; i < e->nlabels; i++)
    if (!strcmp(e->labels[i].name, name))
      return e->labels[i].value;
  return "";
}

static int tail_sink(void *ctx, const collector_log_entry *e, size_t n)
{
  tail_seen *seen = ctx;
  for (size_t i = 0; i < n; i++) {
    bool ours = !strcmp(label_of(&e[i], "namespace"), "default") &&
                !strcmp(label_of(&e[i], "pod"), "talk") &&
                !strcmp(label_of(&e[i], "container"), "c") &&
                !strcmp(label_of(&e[i], "stream"), "stdout");
    if (ours && e[i].len == 2 && !memcmp(e[i].line, "hi", 2))
      seen->hi = true;
    if (ours && e[i].len > 1000) {
      seen->long_line = true;
      seen->long_len = e[i].len;
    }
  }
  return 0;
}

/* The log tailer, with the glob `lookout up` adds for Lookout's pods
 * (<data>/pods/STAR/STAR/STAR.log), reads the shim's CRI lines with the pod's
 * labels and joins a 40000-byte line the shim wrote as P pieces. */
static void test_tailer_reads_logs(void **state)
{
  rt_fx *f = *state;
  json_t *pod = rt_fx_pod("talk", UID1,
                          "{\"containers\":[{\"name\":\"c\",\"command\":[\"/bin/sh\",\"-c\","
                          "\"echo hi; head -c 40000 /dev/zero | tr '\\\\0' a; echo; sleep 1000\"]}]}");
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, NULL), 0);
  json_decref(pod);
  char glob[512], path[1024];
  snprintf(glob, sizeof glob, "%s/pods/%s", f->data, "*/*/*.log");
  snprintf(path, sizeof path, "%s/pods/default_talk_" UID1 "/c/0.log", f->data);
  char *log = rt_fx_wait_log(path, " stdout F aaaa");
  assert_non_null(log);
  assert_non_null(strstr(log, " stdout P aaaa"));
  free(log);
  const char *globs[] = {glob};
  collector_tail_opts o = {.globs = globs, .nglobs = 1};
  tail_seen seen = {0};
  collector_tail *t = NULL;
  assert_int_equal(collector_tail_new(&o, (collector_log_sink){tail_sink, &seen}, &t, NULL), 0);
  for (int i = 0; i < 50 && !(seen.hi && seen.long_line); i++) {
    assert_int_equal(collector_tail_poll(t), 0);
    if (!(seen.hi && seen.long_line))
      usleep(100000);
  }
  collector_tail_free(t);
  assert_true(seen.hi);
  assert_true(seen.long_line);
  assert_int_equal(seen.long_len, 40000);
}

/* Logs rotate as the kubelet's: past log_max_bytes the file is renamed
 * <n>.log.<timestamp> and a new one started; log_max_files - 1 rotated
 * files are kept, the newest lines survive. */
static void test_log_rotation(void **state)
{
  rt_fx *f = *state;
  f->log_max_bytes = 4096;
  f->log_max_files = 3;
  rt_fx_reopen(f);
  json_t *pod = rt_fx_pod("chatty", UID1,
                          "{\"containers\":[{\"name\":\"c\",\"command\":[\"/bin/sh\",\"-c\","
                          "\"i=0; while [ $i -lt 300 ]; do echo line-$i-"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; "
                          "echo done; sleep 1000\"]}]}");
  assert_int_equal(orch__rt_sync_pod(f->rt, pod, NULL), 0);
  json_decref(pod);
  char dir[1024], path[2048];
  snprintf(dir, sizeof dir, "%s/pods/default_chatty_" UID1 "/c", f->data);
  snprintf(path, sizeof path, "%s/0.log", dir);
  char *log = rt_fx_wait_log(path, "stdout F done\n");
  assert_non_null(log);
  assert_non_null(strstr(log, "stdout F done\n"));
  assert_true(strlen(log) < 4096);
  bool saw_last = strstr(log, "line-299-") != NULL;
  free(log);
  size_t rotated = 0;
  DIR *d = opendir(dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (strncmp(de->d_name, "0.log.", 6))
      continue;
    rotated++;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    char *r = rt_fx_read(path);
    assert_non_null(r);
    assert_true(strlen(r) < 4096 + 200);
    saw_last = saw_last || strstr(r, "line-299-") != NULL;
    free(r);
  }
  if (d)
    closedir(d);
  assert_int_equal(rotated, 2);
  assert_true(saw_last);
}

/* Empty pod cgroups a dead Lookout left behind are swept at open. */
static void test_sweeps_leaked_cgroups(void **state)
{
  rt_fx *f = *state;
  static const char *const hier[] = {"cpu", "memory"};
  char path[2][512];
  for (int i = 0; i < 2; i++) {
    snprintf(path[i], sizeof path[i], "/sys/fs/cgroup/%s/lookout/default_leak_%d", hier[i],
             (int)getpid());
    mkdir(path[i], 0755);
    assert_true(exists(path[i]));
  }
  rt_fx_reopen(f);
  for (int i = 0; i < 2; i++)
    assert_false(exists(path[i]));
}

/* One clear line when containers cannot run here. */
static void test_open_refusals(void **state)
{
  rt_fx *f = *state;
  orch__rt *rt = NULL;
  lk_diag d = {0};
  orch__rt_opts o = f->opts;
  o.runtime = "no-such-oci-runtime";
  assert_int_equal(orch__rt_open(&o, &rt, &d), LK_ENOTSUP);
  assert_non_null(strstr(d.msg, "OCI runtime \"no-such-oci-runtime\" not found"));
  assert_null(rt);
  /* a second runtime on the same data dir would start everything twice */
  memset(&d, 0, sizeof d);
  o = f->opts;
  assert_int_equal(orch__rt_open(&o, &rt, &d), LK_EAGAIN);
  assert_non_null(strstr(d.msg, "run by another Lookout process"));
  assert_null(rt);
  char crun[256], cmd[1024];
  snprintf(crun, sizeof crun, "%s/crun", f->data);
  snprintf(cmd, sizeof cmd, "printf '#!/bin/sh\\nexit 1\\n' > %s && chmod +x %s", crun, crun);
  assert_int_equal(system(cmd), 0);
  if (exists("/sys/fs/cgroup/unified/cgroup.controllers") && exists("/sys/fs/cgroup/memory/tasks")) {
    memset(&d, 0, sizeof d);
    o.runtime = crun;
    assert_int_equal(orch__rt_open(&o, &rt, &d), LK_ENOTSUP);
    assert_non_null(strstr(d.msg, "crun does not support hybrid cgroups"));
  }
}

/* What cannot run is refused, naming the field, and nothing is started. */
static void test_refusals(void **state)
{
  rt_fx *f = *state;
  static const struct {
    const char *spec, *msg;
  } cases[] = {
    {"{\"containers\":[{\"name\":\"a\",\"image\":\"/nonexistent/rootfs\",\"command\":[\"/bin/true\"]}]}",
     "image directory \"/nonexistent/rootfs\" does not exist"},
    {"{\"containers\":[{\"name\":\"a\",\"image\":\"nginx:1.25\",\"command\":[\"/bin/true\"]}]}",
     "registry images are not supported"},
    {"{\"containers\":[{\"name\":\"a\",\"command\":[\"/bin/true\"],"
     "\"resources\":{\"limits\":{\"memory\":\"lots\"}}}]}",
     "spec.containers[0].resources.limits.memory"},
    {"{\"containers\":[{\"name\":\"a\"}]}", "command or args is required"},
    {"{\"containers\":[{\"name\":\"a\",\"image\":\"/\",\"command\":[\"/bin/true\"]}]}",
     "use \"host\""},
    {"{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],\"containers\":[{\"name\":\"a\","
     "\"command\":[\"/bin/true\"],\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/no-such-dir\"}]}]}",
     "/no-such-dir does not exist in the read-only host root"},
    {"{\"containers\":[{\"name\":\"a\",\"command\":[\"/bin/true\"],"
     "\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/tmp/v\"}]}]}",
     "no volume \"v\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *pod = rt_fx_pod("bad", UID1, cases[i].spec);
    lk_diag d = {0};
    assert_int_equal(orch__rt_sync_pod(f->rt, pod, &d), LK_EINVAL);
    if (!strstr(d.msg, cases[i].msg))
      fail_msg("case %zu: diag \"%s\" lacks \"%s\"", i, d.msg, cases[i].msg);
    json_decref(pod);
  }
  char **uids;
  assert_int_equal(orch__rt_pods(f->rt, &uids), 0);
  free(uids);
  json_t *st = NULL;
  assert_int_equal(orch__rt_pod_status(f->rt, UID1, &st, NULL), LK_ENOENT);
}

int main(int argc, char **argv)
{
  rt_fx_begin(argc, argv, "test_runtime");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_refusals, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_open_refusals, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_sweeps_leaked_cgroups, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rootfs_dir_and_start_error, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_start_logs_cgroups_remove, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_collector_names_it, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_log_rotation, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_tailer_reads_logs, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_pod_shares_namespaces, rt_fx_setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_filesystem_and_network, rt_fx_setup, rt_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
