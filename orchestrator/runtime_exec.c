/* runtime_exec.c — child processes of the runtime: bounded runs of the OCI
 * runtime (runc state/kill/delete/exec) with their output captured, and the
 * detached start of one `lookout shim` per container run.
 *
 * Why a detached shim: the container must outlive Lookout (restarts adopt
 * it), so its parent is the shim, in its own session and reparented to init
 * by a double fork; Lookout never has to reap it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/runtime_int.h"

#define RUNC_TIMEOUT_MS 10000
#define MAX_ARGS 64

void orch__child_exec(char *const argv[], int out_fd, int err_fd)
{
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(out_fd >= 0 ? out_fd : null, 1);
  dup2(err_fd >= 0 ? err_fd : (out_fd >= 0 ? out_fd : null), 2);
  close_range(3, ~0U, 0);
  execvp(argv[0], argv);
  _exit(127);
}

static int exit_status(int ws)
{
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Reads both pipes into the buffers until EOF or the deadline. */
static bool drain(int fds[2], lk_buf *bufs[2], int64_t deadline_ns)
{
  int open_n = (fds[0] >= 0) + (fds[1] >= 0);
  while (open_n > 0) {
    int64_t left = (deadline_ns - lk_mono_ns()) / 1000000;
    if (left <= 0)
      return false;
    struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
      return false;
    for (int i = 0; i < 2; i++) {
      if (fds[i] < 0 || !pf[i].revents)
        continue;
      char tmp[4096];
      ssize_t n = read(fds[i], tmp, sizeof tmp);
      if (n > 0 && bufs[i])
        lk_buf_append(bufs[i], tmp, (size_t)n);
      else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        close(fds[i]);
        fds[i] = -1;
        open_n--;
      }
    }
  }
  return true;
}

int orch__run(char *const argv[], int timeout_ms, lk_buf *out, lk_buf *err, int *status)
{
  int po[2], pe[2] = {-1, -1};
  if (pipe2(po, O_CLOEXEC))
    return LK_EIO;
  if (err && pipe2(pe, O_CLOEXEC)) {
    close(po[0]);
    close(po[1]);
    return LK_EIO;
  }
  pid_t pid = fork();
  if (pid == 0)
    orch__child_exec(argv, po[1], pe[1]);
  close(po[1]);
  if (pe[1] >= 0)
    close(pe[1]);
  if (pid < 0) {
    close(po[0]);
    if (pe[0] >= 0)
      close(pe[0]);
    return LK_EIO;
  }
  int fds[2] = {po[0], pe[0]};
  lk_buf *bufs[2] = {out, err};
  bool in_time = drain(fds, bufs, lk_mono_ns() + (int64_t)timeout_ms * 1000000);
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  if (!in_time)
    kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
    ;
  *status = exit_status(ws);
  if (!in_time)
    return LK_ETIMEOUT;
  return *status == 127 ? LK_EIO : 0;
}

int orch__runc(orch__rt *rt, lk_buf *out, lk_diag *d, ...)
{
  char *argv[MAX_ARGS] = {rt->runtime, "--root", rt->state_root};
  size_t n = 3;
  va_list ap;
  va_start(ap, d);
  for (char *a; n < MAX_ARGS - 1 && (a = va_arg(ap, char *));)
    argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  lk_buf err = {0};
  int status = 0;
  int rc = orch__run(argv, RUNC_TIMEOUT_MS, out, &err, &status);
  if (!rc && status)
    rc = LK_EEXEC;
  if (rc) {
    size_t l = err.len;
    while (l && (err.data[l - 1] == '\n' || err.data[l - 1] == ' '))
      l--;
    lk_diag_set(d, rc, -1, "%s %s %s: %s%.*s", rt->runtime, argv[3], argv[4] ? argv[4] : "",
                rc == LK_EEXEC ? "" : lk_strerror(rc), (int)l, err.data ? (char *)err.data : "");
  }
  lk_buf_fini(&err);
  return rc;
}

int orch__runc_state(orch__rt *rt, const char *id, pid_t *pid, char *status, size_t cap)
{
  lk_buf out = {0};
  int rc = orch__runc(rt, &out, NULL, "state", id, (char *)NULL);
  json_t *j = rc ? NULL : json_loadb((const char *)out.data, out.len, 0, NULL);
  lk_buf_fini(&out);
  if (!j)
    return LK_ENOENT;
  *pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
  const char *st = json_string_value(json_object_get(j, "status"));
  snprintf(status, cap, "%s", st ? st : "");
  json_decref(j);
  return 0;
}

bool orch__shim_alive(pid_t pid)
{
  if (pid <= 0 || kill(pid, 0))
    return false;
  char p[64], cmd[256];
  snprintf(p, sizeof p, "/proc/%d/cmdline", (int)pid);
  FILE *f = fopen(p, "r");
  size_t n = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
  if (f)
    fclose(f);
  cmd[n] = 0;
  /* argv[0]\0shim\0... */
  size_t l0 = strlen(cmd);
  return l0 + 5 <= n && !strcmp(cmd + l0 + 1, "shim");
}

int orch__spawn_shim(orch__rt *rt, orch__ctr *c, int restart, lk_diag *d)
{
  char log[4096], shim_log[4096];
  snprintf(log, sizeof log, "%s/%d.log", c->log_dir, restart);
  snprintf(shim_log, sizeof shim_log, "%s/shim.log", c->dir);
  static const char *const stale[] = {"exit.json", "container.pid", "shim.pid"};
  for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", c->dir, stale[i]);
    unlink(path);
  }
  char *argv[] = {rt->self_exe, "shim", "--runtime", rt->runtime, "--root", rt->state_root,
                  "--id", c->id, "--bundle", c->dir, "--log", log, "--cgroup-root",
                  rt->cgroup_root, "--log-max-bytes", rt->log_max_bytes, "--log-max-files",
                  rt->log_max_files, NULL};
  pid_t mid = fork();
  if (mid == 0) {
    setsid();
    if (fork() != 0)
      _exit(0);
    int fd = open(shim_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    orch__child_exec(argv, fd, fd);
  }
  if (mid < 0)
    return lk_diag_set(d, LK_EIO, -1, "cannot fork the shim: %s", strerror(errno));
  int ws;
  while (waitpid(mid, &ws, 0) < 0 && errno == EINTR)
    ;
  return 0;
}
