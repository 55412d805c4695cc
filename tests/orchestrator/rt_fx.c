/* rt_fx.c — see rt_fx.h. */
#include "tests/orchestrator/rt_fx.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "lib/lk_time.h"
#include "tests/helpers/skip.h"

const char *rt_fx_lookout;

static void open_rt(rt_fx *f)
{
  f->opts = (orch__rt_opts){.data_dir = f->data, .runtime = "runc",
                            .cgroup_root = "/sys/fs/cgroup", .self_exe = rt_fx_lookout,
                            .backoff_base_ms = 400, .backoff_max_ms = 3200,
                            .log_max_bytes = f->log_max_bytes, .log_max_files = f->log_max_files,
                            .pod_cidr = f->pod_cidr, .on_net = f->on_net, .on_net_ctx = f->on_net_ctx};
  lk_diag d = {0};
  int rc = orch__rt_open(&f->opts, &f->rt, &d);
  if (rc)
    fprintf(stderr, "orch__rt_open: %s\n", d.msg);
  assert_int_equal(rc, 0);
}

void rt_fx_open(rt_fx *f)
{
  memset(f, 0, sizeof *f);
  snprintf(f->data, sizeof f->data, "/tmp/lk-rt-XXXXXX");
  assert_non_null(mkdtemp(f->data));
  open_rt(f);
}

void rt_fx_reopen(rt_fx *f)
{
  orch__rt_close(f->rt);
  f->rt = NULL;
  open_rt(f);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

void rt_fx_close(rt_fx *f)
{
  if (f->rt) {
    char **uids;
    size_t n = orch__rt_pods(f->rt, &uids);
    for (size_t i = 0; i < n; i++) {
      orch__rt_remove_pod(f->rt, uids[i], 0, NULL);
      rt_fx_wait_gone(f, uids[i], 15000);
      free(uids[i]);
    }
    free(uids);
    orch__rt_close(f->rt);
    f->rt = NULL;
  }
  /* whatever is left (a failed test): kill and delete */
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "for id in $(runc --root %s/orchestrator/runc list -q 2>/dev/null); do "
           "runc --root %s/orchestrator/runc delete --force $id; done >/dev/null 2>&1",
           f->data, f->data);
  if (system(cmd)) {
    /* best effort */
  }
  nftw(f->data, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  if (f->host_mount[0]) {
    umount2(f->host_mount, MNT_DETACH);
    rmdir(f->host_mount);
  }
}

int rt_fx_setup(void **state)
{
  rt_fx *f = calloc(1, sizeof *f);
  rt_fx_open(f);
  *state = f;
  return 0;
}

int rt_fx_teardown(void **state)
{
  rt_fx_close(*state);
  free(*state);
  return 0;
}

json_t *rt_fx_pod(const char *name, const char *uid, const char *spec_json)
{
  json_error_t err;
  json_t *spec = json_loads(spec_json, 0, &err);
  if (!spec)
    fprintf(stderr, "bad spec json: %s\n", err.text);
  assert_non_null(spec);
  return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion", "v1", "kind", "Pod",
                   "metadata", "name", name, "namespace", "default", "uid", uid, "spec", spec);
}

bool rt_fx_wait(rt_fx *f, const char *uid, rt_fx_pred pred, void *arg, int timeout_ms,
                json_t **last)
{
  int64_t end = lk_mono_ns() + (int64_t)timeout_ms * 1000000;
  json_t *st = NULL;
  bool ok = false;
  for (int i = 0; i < 100000 && !ok; i++) {
    json_decref(st);
    st = NULL;
    if (orch__rt_pod_status(f->rt, uid, &st, NULL) == 0 && pred(st, arg))
      ok = true;
    else if (lk_mono_ns() > end)
      break;
    else
      usleep(50000);
  }
  if (!ok && st) {
    char *s = json_dumps(st, JSON_INDENT(1));
    fprintf(stderr, "wait timed out; last status:\n%s\n", s);
    free(s);
  }
  if (last)
    *last = st;
  else
    json_decref(st);
  return ok;
}

const json_t *rt_fx_cs(const json_t *st, size_t i)
{
  return json_array_get(json_object_get(st, "containerStatuses"), i);
}

bool rt_fx_running_ready(const json_t *st, void *arg)
{
  (void)arg;
  const char *phase = json_string_value(json_object_get(st, "phase"));
  if (!phase || strcmp(phase, "Running"))
    return false;
  size_t i;
  const json_t *cs;
  json_array_foreach(json_object_get(st, "containerStatuses"), i, cs)
    if (!json_is_true(json_object_get(cs, "ready")))
      return false;
  return true;
}

bool rt_fx_wait_gone(rt_fx *f, const char *uid, int timeout_ms)
{
  int64_t end = lk_mono_ns() + (int64_t)timeout_ms * 1000000;
  for (int i = 0; i < 100000; i++) {
    json_t *st = NULL;
    int rc = orch__rt_pod_status(f->rt, uid, &st, NULL);
    json_decref(st);
    if (rc == LK_ENOENT)
      return true;
    if (lk_mono_ns() > end)
      return false;
    usleep(50000);
  }
  return false;
}

int rt_fx_pid(rt_fx *f, const char *id)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "runc --root %s/orchestrator/runc state %s 2>/dev/null", f->data, id);
  FILE *p = popen(cmd, "r");
  char buf[8192];
  size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
  if (p)
    pclose(p);
  buf[n] = 0;
  json_t *j = json_loads(buf, 0, NULL);
  int pid = j ? (int)json_integer_value(json_object_get(j, "pid")) : 0;
  json_decref(j);
  return pid;
}

void rt_fx_signals_as_server(void)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

char *rt_fx_read(const char *path)
{
  FILE *fp = fopen(path, "r");
  if (!fp)
    return NULL;
  char *s = malloc(1 << 20);
  size_t n = fread(s, 1, (1 << 20) - 1, fp);
  fclose(fp);
  s[n] = 0;
  return s;
}

void rt_fx_begin(int argc, char **argv, const char *test_name)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s LOOKOUT_BINARY\n", test_name);
    exit(2);
  }
  rt_fx_lookout = argv[1];
  lk_test_require(geteuid() == 0, "containers need root");
  lk_test_require(lk_test_have("/usr/sbin/runc") || lk_test_have("/usr/bin/runc"), "runc is not installed");
  rt_fx_signals_as_server();
}

char *rt_fx_wait_log(const char *path, const char *want)
{
  char *log = NULL;
  for (int i = 0; i < 100 && !(log && strstr(log, want)); i++) {
    free(log);
    usleep(50000);
    log = rt_fx_read(path);
  }
  return log;
}
