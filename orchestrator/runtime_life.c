/* runtime_life.c — supervision: each container's state machine, driven by
 * the supervision thread every tick with rt->mu held (dropped around calls
 * to the OCI runtime and file writes).
 *
 *   WAITING --(back-off over)--> CREATING --(runc state: running)--> RUNNING
 *   CREATING/RUNNING --(exit.json from the shim)--> WAITING (restart) | DONE
 *
 * Restarts follow restartPolicy (Always, OnFailure, Never) with the
 * kubelet's CrashLoopBackOff: the first restart is immediate, then the
 * delay is base, 2*base, ... up to max; a run longer than reset_ms clears
 * it. A liveness failure (runtime_probe.c) gets SIGKILL here once its grace
 * period is over. Termination (orch__rt_remove_pod) sends SIGTERM through the runtime,
 * SIGKILL once the grace period is over (again every second until the
 * container is gone), then removes the runtime's leftovers, the cgroups and
 * the bundle. Each transition is saved to status.json for adoption.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_log.h"
#include "orchestrator/runtime_int.h"

#define CREATE_TIMEOUT_MS 60000
#define KILL_REPEAT_MS 1000

/*---- files the shim writes ----*/

/* exit.json of the current run: true with the code, finish time and OOM
 * kill if present. */
static bool read_exit(const orch__ctr *c, int *code, int64_t *fin_ns, bool *oom)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/exit.json", c->dir);
  json_t *j = json_load_file(path, 0, NULL);
  if (!j)
    return false;
  *code = (int)json_integer_value(json_object_get(j, "exitCode"));
  *fin_ns = json_integer_value(json_object_get(j, "finishedAt"));
  *oom = json_is_true(json_object_get(j, "oomKilled"));
  json_decref(j);
  return true;
}

pid_t orch__read_pid(const orch__ctr *c, const char *name)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", c->dir, name);
  FILE *f = fopen(path, "r");
  int pid = 0;
  if (f) {
    if (fscanf(f, "%d", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return (pid_t)pid;
}

void orch__ctr_save(const orch__ctr *c)
{
  json_t *j = json_pack("{s:i, s:i, s:I, s:I, s:I, s:s, s:s, s:s}", "state", (int)c->state,
                        "restarts", c->restarts, "backoffN", (json_int_t)c->backoff_n,
                        "backoffUntil", (json_int_t)c->backoff_until_ms, "startedMs",
                        (json_int_t)c->started_ms, "reason", c->reason, "message", c->message,
                        "id", c->id);
  if (c->last_state)
    json_object_set(j, "lastState", c->last_state);
  if (c->terminated)
    json_object_set(j, "terminated", c->terminated);
  char path[4096], tmp[4096];
  snprintf(path, sizeof path, "%s/status.json", c->dir);
  snprintf(tmp, sizeof tmp, "%s/.status.json.tmp", c->dir);
  if (json_dump_file(j, tmp, JSON_COMPACT) || rename(tmp, path))
    lk_warn("orchestrator: cannot save %s", path);
  json_decref(j);
}

/* The runtime's own error when the run ended before the process started
 * (`runc run failed: ...` on the run's stderr, so in its log). */
static bool start_failure(const orch__ctr *c, char *msg, size_t cap)
{
  char path[4096], line[2048];
  snprintf(path, sizeof path, "%s/%d.log", c->log_dir, c->restarts);
  FILE *f = fopen(path, "r");
  bool found = false;
  while (f && fgets(line, sizeof line, f)) {
    const char *m = strstr(line, "runc run failed: ");
    if (!m)
      continue;
    m += strlen("runc run failed: ");
    size_t o = 0;
    for (; *m && *m != '\n' && o + 1 < cap; m++)
      if (*m != '\\')
        msg[o++] = *m;
    while (o && msg[o - 1] == '"')
      o--;
    msg[o] = 0;
    found = true;
  }
  if (f)
    fclose(f);
  return found;
}

/*---- transitions ----*/

static json_t *terminated_json(const orch__ctr *c, int code, const char *reason, const char *msg,
                               int64_t fin_ns)
{
  char started[64], finished[64], cid[512];
  int64_t st = c->started_ms ? c->started_ms : c->spawn_ms;
  orch__fmt_ns(started, sizeof started, st * 1000000, true);
  orch__fmt_ns(finished, sizeof finished, fin_ns, true);
  snprintf(cid, sizeof cid, "runc://%s", c->id);
  json_t *t = json_pack("{s:i, s:s, s:s, s:s, s:s}", "exitCode", code, "reason", reason,
                         "startedAt", started, "finishedAt", finished, "containerID", cid);
  if (msg && *msg)
    json_object_set_new(t, "message", json_string(msg));
  return json_pack("{s:o}", "terminated", t);
}

static int64_t backoff_delay(const orch__rt *rt, int n)
{
  if (n <= 0)
    return 0;
  int64_t d = rt->backoff_base_ms;
  for (int i = 1; i < n && d < rt->backoff_max_ms; i++)
    d *= 2;
  return d < rt->backoff_max_ms ? d : rt->backoff_max_ms;
}

static void handle_exit(orch__rt *rt, orch__pod *p, orch__ctr *c, int code, int64_t fin_ns,
                        int64_t now, const char *why, const char *msg)
{
  const char *reason = why ? why : code == 0 ? "Completed" : "Error";
  json_t *term = terminated_json(c, code, reason, msg, fin_ns);
  int64_t ran_ms = fin_ns / 1000000 - (c->started_ms ? c->started_ms : c->spawn_ms);
  bool restart = !p->terminating &&
                 (p->policy == ORCH__ALWAYS || (p->policy == ORCH__ONFAILURE && code != 0));
  lk_info("orchestrator: container %s of pod %s/%s exited code=%d reason=%s restart=%s", c->name,
          p->ns, p->name, code, reason, restart ? "yes" : "no");
  c->ready = false;
  c->pid = 0;
  c->shim_pid = 0;
  c->kill_requested = false;
  c->last_kill_ms = 0;
  c->liveness.successes = c->liveness.failures = 0;
  c->readiness.successes = c->readiness.failures = 0;
  if (!restart) {
    json_decref(c->terminated);
    c->terminated = term;
    c->state = ORCH__CS_DONE;
    snprintf(c->reason, sizeof c->reason, "%s", reason);
  } else {
    json_decref(c->last_state);
    c->last_state = term;
    c->restarts++;
    if (ran_ms >= rt->backoff_reset_ms)
      c->backoff_n = 0;
    int64_t delay = backoff_delay(rt, c->backoff_n);
    c->backoff_n++;
    c->backoff_until_ms = now + delay;
    c->state = ORCH__CS_WAITING;
    c->started_ms = 0;
    snprintf(c->reason, sizeof c->reason, "%s", delay > 0 ? "CrashLoopBackOff" : "ContainerCreating");
    if (delay > 0)
      snprintf(c->message, sizeof c->message,
               "back-off %llds restarting failed container=%s pod=%s_%s(%s)",
               (long long)(delay + 999) / 1000, c->name, p->name, p->ns, p->uid);
    else
      c->message[0] = 0;
  }
  orch__ctr_save(c);
}

static void start_ctr(orch__rt *rt, orch__pod *p, size_t i, int64_t now)
{
  orch__ctr *c = &p->ctrs[i];
  int restart = c->restarts;
  c->state = ORCH__CS_CREATING;
  c->spawn_ms = now;
  c->shim_pid = 0;
  snprintf(c->reason, sizeof c->reason, "ContainerCreating");
  c->message[0] = 0;
  const json_t *cs = json_array_get(json_object_get(json_object_get(p->pod, "spec"), "containers"), i);
  pthread_mutex_unlock(&rt->mu);
  lk_diag d = {0};
  char ip[INET_ADDRSTRLEN] = "";
  int rc = orch__sandbox_create(p, &d);
  if (!rc && !p->host_network)
    rc = orch__net_up(rt, p, ip, sizeof ip, &d);
  if (!rc)
    rc = orch__bundle_write(p, c, cs, &d);
  if (!rc)
    rc = orch__spawn_shim(rt, c, restart, &d);
  pthread_mutex_lock(&rt->mu);
  if (ip[0])
    snprintf(p->ip, sizeof p->ip, "%s", ip);
  if (rc) {
    lk_warn("orchestrator: container %s of pod %s/%s cannot start: %s", c->name, p->ns, p->name,
            d.msg);
    handle_exit(rt, p, c, 128, now * 1000000, now, "StartError", d.msg);
  } else
    orch__ctr_save(c);
}

static void shim_lost(orch__rt *rt, orch__pod *p, orch__ctr *c, int64_t now);

/* CREATING: running yet? The runtime writes container.pid (--pid-file)
 * once the container's process exists. */
static void check_created(orch__rt *rt, orch__pod *p, orch__ctr *c, int64_t now)
{
  pid_t pid = orch__read_pid(c, "container.pid");
  pid_t shim = orch__read_pid(c, "shim.pid");
  c->shim_pid = shim;
  if (pid > 0 && shim > 0 && kill(pid, 0) == 0) {
    c->state = ORCH__CS_RUNNING;
    c->pid = pid;
    c->started_ms = now;
    c->ready = c->readiness.kind == ORCH__PROBE_NONE;
    c->reason[0] = c->message[0] = 0;
    c->liveness.next_ms = c->readiness.next_ms = 0;
    lk_info("orchestrator: container %s of pod %s/%s running pid=%d", c->name, p->ns, p->name,
            (int)pid);
    orch__ctr_save(c);
    if (rt->on_start)
      rt->on_start(rt->on_start_ctx);
  } else if (shim > 0 && !orch__shim_alive(shim)) {
    int code;
    int64_t fin_ns;
    bool oom;
    if (!read_exit(c, &code, &fin_ns, &oom)) /* else the next tick handles the exit */
      shim_lost(rt, p, c, now);
  } else if (now - c->spawn_ms > CREATE_TIMEOUT_MS) {
    lk_warn("orchestrator: container %s of pod %s/%s did not start within %d s", c->name, p->ns,
            p->name, CREATE_TIMEOUT_MS / 1000);
    if (shim > 0 && orch__shim_alive(shim))
      kill(shim, SIGKILL);
    handle_exit(rt, p, c, 128, now * 1000000, now, "StartError", "did not start in time");
  }
}

/* The shim died without exit.json: stop what is left and count it as a crash. */
static void shim_lost(orch__rt *rt, orch__pod *p, orch__ctr *c, int64_t now)
{
  lk_warn("orchestrator: shim of container %s of pod %s/%s is gone; killing the container",
          c->name, p->ns, p->name);
  pthread_mutex_unlock(&rt->mu);
  orch__runc(rt, NULL, NULL, "kill", c->id, "KILL", (char *)NULL);
  orch__runc(rt, NULL, NULL, "delete", "--force", c->id, (char *)NULL);
  pthread_mutex_lock(&rt->mu);
  handle_exit(rt, p, c, 137, now * 1000000, now, "Error", "the shim was gone");
}

static void send_signal(orch__rt *rt, orch__ctr *c, const char *sig)
{
  pthread_mutex_unlock(&rt->mu);
  orch__runc(rt, NULL, NULL, "kill", c->id, sig, (char *)NULL);
  pthread_mutex_lock(&rt->mu);
}

static void step_terminating(orch__rt *rt, orch__pod *p, orch__ctr *c, int64_t now)
{
  if (c->state == ORCH__CS_WAITING) {
    c->state = ORCH__CS_DONE;
    orch__ctr_save(c);
    return;
  }
  if (c->state == ORCH__CS_CREATING)
    check_created(rt, p, c, now); /* once it runs it gets its SIGTERM */
  if (c->state != ORCH__CS_RUNNING)
    return;
  int code;
  int64_t fin_ns;
  bool oom;
  if (!orch__shim_alive(c->shim_pid) && !read_exit(c, &code, &fin_ns, &oom))
    shim_lost(rt, p, c, now);
  else if (!c->term_sent) {
    c->term_sent = true;
    send_signal(rt, c, "TERM");
  } else if (now >= p->term_start_ms + p->term_grace_ms && now - c->last_kill_ms >= KILL_REPEAT_MS) {
    c->last_kill_ms = now;
    send_signal(rt, c, "KILL");
  }
}

static void step_ctr(orch__rt *rt, orch__pod *p, size_t i, int64_t now)
{
  orch__ctr *c = &p->ctrs[i];
  int code;
  int64_t fin_ns;
  bool oom;
  if ((c->state == ORCH__CS_CREATING || c->state == ORCH__CS_RUNNING) &&
      read_exit(c, &code, &fin_ns, &oom)) {
    char msg[256];
    if (c->state == ORCH__CS_CREATING && start_failure(c, msg, sizeof msg))
      handle_exit(rt, p, c, 128, fin_ns, now, "StartError", msg);
    else
      handle_exit(rt, p, c, code, fin_ns, now, oom ? "OOMKilled" : NULL, NULL);
    return;
  }
  if (p->terminating) {
    step_terminating(rt, p, c, now);
    return;
  }
  if (c->state == ORCH__CS_WAITING && now >= c->backoff_until_ms)
    start_ctr(rt, p, i, now);
  else if (c->state == ORCH__CS_CREATING)
    check_created(rt, p, c, now);
  else if (c->state == ORCH__CS_RUNNING && !orch__shim_alive(c->shim_pid) &&
           !read_exit(c, &code, &fin_ns, &oom))
    shim_lost(rt, p, c, now);
  else if (c->state == ORCH__CS_RUNNING && c->kill_requested && now >= c->kill_at_ms &&
           now - c->last_kill_ms >= KILL_REPEAT_MS) {
    c->last_kill_ms = now;
    send_signal(rt, c, "KILL");
  }
}

void orch__life_step(orch__rt *rt, orch__pod *p, int64_t now)
{
  for (size_t i = 0; i < p->nctrs; i++)
    step_ctr(rt, p, i, now);
  bool ready = p->nctrs > 0;
  for (size_t i = 0; i < p->nctrs; i++)
    ready = ready && p->ctrs[i].ready;
  if (ready != p->was_ready) {
    p->was_ready = ready;
    p->ready_change_ms = now;
  }
}

/*---- removal ----*/

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  if (remove(path))
    lk_warn("orchestrator: cannot remove %s: %s", path, strerror(errno));
  return 0;
}

bool orch__life_gone(orch__rt *rt, orch__pod *p)
{
  for (size_t i = 0; i < p->nctrs; i++)
    if (p->ctrs[i].state != ORCH__CS_DONE)
      return false;
  pthread_mutex_unlock(&rt->mu);
  for (size_t i = 0; i < p->nctrs; i++) {
    pid_t pid;
    char status[32];
    if (!orch__runc_state(rt, p->ctrs[i].id, &pid, status, sizeof status))
      orch__runc(rt, NULL, NULL, "delete", "--force", p->ctrs[i].id, (char *)NULL);
  }
  orch__cgroups_remove(rt, p);
  orch__net_down(rt, p, p->ip);
  orch__sandbox_remove(p);
  nftw(p->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  pthread_mutex_lock(&rt->mu);
  return true;
}
