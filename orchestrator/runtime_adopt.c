/* runtime_adopt.c — adoption at orch__rt_open: the pods a previous Lookout
 * started are reloaded from <data>/orchestrator/pods/<uid>/ (pod.json, each
 * container's status.json) and matched with what is really there: a live
 * shim and a running container are taken over as they are (same pid, no new
 * start); an exit.json the shim wrote meanwhile is handled as an exit on the
 * first tick; a container whose shim is gone is killed and restarted per
 * policy. Runtime containers no pod claims are killed and deleted, so
 * nothing is ever duplicated or orphaned; so are the addresses and veth
 * links of pods that are gone (runtime_net.c), and each adopted pod keeps
 * its address.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/runtime_int.h"

static void load_ctr_status(orch__ctr *c)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/status.json", c->dir);
  json_t *j = json_load_file(path, 0, NULL);
  if (!j)
    return;
  c->state = (enum orch__ctr_state)json_integer_value(json_object_get(j, "state"));
  c->restarts = (int)json_integer_value(json_object_get(j, "restarts"));
  c->backoff_n = (int)json_integer_value(json_object_get(j, "backoffN"));
  c->backoff_until_ms = json_integer_value(json_object_get(j, "backoffUntil"));
  c->started_ms = json_integer_value(json_object_get(j, "startedMs"));
  const char *r = json_string_value(json_object_get(j, "reason"));
  const char *m = json_string_value(json_object_get(j, "message"));
  snprintf(c->reason, sizeof c->reason, "%s", r ? r : "");
  snprintf(c->message, sizeof c->message, "%s", m ? m : "");
  json_t *ls = json_object_get(j, "lastState"), *t = json_object_get(j, "terminated");
  c->last_state = ls ? json_incref(ls) : NULL;
  c->terminated = t ? json_incref(t) : NULL;
  json_decref(j);
}

static bool file_exists(const char *dir, const char *name)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

/* Matches a container's saved state with its shim and the runtime. */
static void adopt_ctr(orch__rt *rt, orch__ctr *c, int64_t now)
{
  load_ctr_status(c);
  if (c->state == ORCH__CS_DONE || c->state == ORCH__CS_WAITING)
    return;
  c->spawn_ms = c->started_ms ? c->started_ms : now;
  if (file_exists(c->dir, "exit.json")) {
    c->state = ORCH__CS_CREATING; /* the first tick handles the exit */
    return;
  }
  pid_t shim = orch__read_pid(c, "shim.pid"), pid = 0;
  char status[32] = "";
  bool running = !orch__runc_state(rt, c->id, &pid, status, sizeof status) &&
                 !strcmp(status, "running");
  if (orch__shim_alive(shim)) {
    c->shim_pid = shim;
    c->state = running ? ORCH__CS_RUNNING : ORCH__CS_CREATING;
    c->pid = running ? pid : 0;
    if (running && !c->started_ms)
      c->started_ms = now;
    c->ready = running && c->readiness.kind == ORCH__PROBE_NONE;
  } else {
    c->state = ORCH__CS_RUNNING; /* shim gone: the first tick kills and restarts it */
    c->shim_pid = 0;
  }
}

static orch__pod *adopt_pod(orch__rt *rt, const char *uid, int64_t now)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/pod.json", rt->pods_dir, uid);
  json_t *pod = json_load_file(path, 0, NULL);
  lk_diag d = {0};
  if (!pod || orch__bundle_check(pod, &d)) {
    lk_warn("orchestrator: %s unusable, not adopted: %s", path, pod ? d.msg : "unreadable");
    json_decref(pod);
    return NULL;
  }
  orch__pod *p = orch__pod_new(rt, pod);
  json_decref(pod);
  struct stat st;
  if (!stat(path, &st))
    p->created_ms = p->scheduled_ms = p->init_ms = p->ready_change_ms =
        (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  snprintf(path, sizeof path, "%s/terminating", p->dir);
  FILE *f = fopen(path, "r");
  long long start, grace;
  if (f && fscanf(f, "%lld %lld", &start, &grace) == 2) {
    p->terminating = true;
    p->term_start_ms = start;
    p->term_grace_ms = grace;
  }
  if (f)
    fclose(f);
  for (size_t i = 0; i < p->nctrs; i++)
    adopt_ctr(rt, &p->ctrs[i], now);
  return p;
}

static bool claimed(const orch__rt *rt, const char *id)
{
  for (size_t i = 0; i < rt->npods; i++)
    for (size_t k = 0; k < rt->pods[i]->nctrs; k++)
      if (!strcmp(rt->pods[i]->ctrs[k].id, id))
        return true;
  return false;
}

/* Kills and deletes the runtime's containers that no pod claims. */
static void sweep_orphans(orch__rt *rt)
{
  lk_buf out = {0};
  if (orch__runc(rt, &out, NULL, "list", "-q", (char *)NULL)) {
    lk_buf_fini(&out);
    return;
  }
  char *save = NULL;
  for (char *id = out.data ? strtok_r((char *)out.data, "\n", &save) : NULL; id;
       id = strtok_r(NULL, "\n", &save)) {
    if (claimed(rt, id))
      continue;
    lk_warn("orchestrator: container %s belongs to no pod; killing and deleting it", id);
    orch__runc(rt, NULL, NULL, "kill", id, "KILL", (char *)NULL);
    orch__runc(rt, NULL, NULL, "delete", "--force", id, (char *)NULL);
  }
  lk_buf_fini(&out);
}

void orch__adopt(orch__rt *rt)
{
  int64_t now = lk_now_ms();
  DIR *d = opendir(rt->pods_dir);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    orch__pod *p = adopt_pod(rt, de->d_name, now);
    if (!p)
      continue;
    rt->pods = lk_xgrow(rt->pods, &rt->cap, rt->npods + 1, sizeof *rt->pods);
    rt->pods[rt->npods++] = p;
    lk_info("orchestrator: pod %s/%s (%s) adopted", p->ns, p->name, p->uid);
  }
  if (d)
    closedir(d);
  sweep_orphans(rt);
  orch__cgroups_sweep(rt);
  orch__net_adopt(rt);
}
