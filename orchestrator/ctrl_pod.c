/* ctrl_pod.c — Pods to containers: every active pod is handed to the
 * runtime (orchestrator/runtime.h, idempotent) and its PodStatus written
 * back; a pod marked for deletion is stopped gracefully (its
 * deletionGracePeriodSeconds) and leaves the store once the runtime no
 * longer runs it; containers the runtime runs for pods the store does not
 * have (deleted while Lookout was down) are removed. After a restart the
 * runtime has adopted the running containers, so syncing the stored pods
 * starts nothing twice.
 *
 * Without a runtime (not root, no runc, no cgroups) pods stay Pending with
 * a Ready=False condition and a waiting reason saying why.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_log.h"
#include "orchestrator/orch_int.h"
#include "orchestrator/runtime.h"

void orch__runtime_start(orch *o, const orch_opts *opts)
{
  if (!opts->run_pods) {
    snprintf(o->rt_why, sizeof o->rt_why, "running pods is turned off in this server's configuration");
    return;
  }
  orch__rt_opts ro = {
    .data_dir = opts->data_dir,
    .runtime = opts->runtime,
    .cgroup_root = opts->cgroup_root,
    .self_exe = opts->self_exe,
    .on_start = opts->on_container_start,
    .on_start_ctx = opts->on_container_start_ctx,
    .pod_cidr = opts->pod_cidr,
    .on_net = opts->on_pod_network,
    .on_net_ctx = opts->on_pod_network_ctx,
  };
  lk_diag d = {0};
  if (orch__rt_open(&ro, &o->rt, &d)) {
    o->rt = NULL;
    const char *why = d.set ? d.msg : "the container runtime cannot run";
    size_t n = strlen(why) < sizeof o->rt_why ? strlen(why) : sizeof o->rt_why - 1;
    memcpy(o->rt_why, why, n);
    o->rt_why[n] = 0;
    lk_warn("orchestrator: pods cannot run on this node: %s", o->rt_why);
  }
}

void orch__runtime_stop(orch *o)
{
  orch__rt_close(o->rt);
  o->rt = NULL;
}

static void write_status(orch *o, const json_t *pod, json_t *status)
{
  json_t *next = json_deep_copy(pod);
  const char *qos = orch__str(pod, "status.qosClass");
  if (qos && !json_object_get(status, "qosClass"))
    json_object_set_new(status, "qosClass", json_string(qos));
  json_object_set(next, "status", status);
  orch_err e = {0};
  json_t *ignored = NULL;
  orch_update(o, ORCH_POD, orch__str(pod, "metadata.namespace"), orch__str(pod, "metadata.name"), next, ORCH_STATUS,
              &ignored, &e);
  json_decref(ignored);
  orch_err_fini(&e);
  json_decref(next);
}

/* Pending with every container waiting for `reason`. */
static json_t *waiting_status(const json_t *pod, const char *reason, const char *why)
{
  json_t *st = json_deep_copy(json_object_get(pod, "status"));
  if (!json_is_object(st))
    st = json_object();
  json_object_set_new(st, "phase", json_string("Pending"));
  json_t *holder = json_pack("{s:o}", "status", st);
  orch__set_condition(holder, "PodScheduled", "True", "", "", false);
  orch__set_condition(holder, "Ready", "False", reason, why, false);
  json_t *cs = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(orch__at(pod, "spec.containers"), i, c)
    json_array_append_new(cs, json_pack("{s:s, s:s, s:s, s:b, s:b, s:i, s:{s:{s:s, s:s}}}", "name",
                                        orch__str(c, "name"), "image", orch__str(c, "image") ? orch__str(c, "image") : "",
                                        "imageID", "", "ready", 0, "started", 0, "restartCount", 0, "state", "waiting",
                                        "reason", reason, "message", why));
  json_object_set_new(st, "containerStatuses", cs);
  json_incref(st);
  json_decref(holder);
  return st;
}

static void run_pod(orch *o, const json_t *pod)
{
  const char *uid = orch__str(pod, "metadata.uid");
  if (!o->rt) {
    json_t *st = waiting_status(pod, "RuntimeUnavailable", o->rt_why);
    write_status(o, pod, st);
    json_decref(st);
    return;
  }
  lk_diag d = {0};
  if (orch__rt_sync_pod(o->rt, pod, &d)) {
    json_t *st = waiting_status(pod, "CreateContainerError", d.msg);
    write_status(o, pod, st);
    json_decref(st);
    return;
  }
  json_t *st = NULL;
  if (!orch__rt_pod_status(o->rt, uid, &st, &d)) {
    write_status(o, pod, st);
    json_decref(st);
  }
}

static bool runs(char **uids, size_t n, const char *uid)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(uids[i], uid))
      return true;
  return false;
}

static void finish_deletion(orch *o, const json_t *pod, char **uids, size_t n)
{
  const char *uid = orch__str(pod, "metadata.uid");
  if (o->rt && runs(uids, n, uid)) {
    lk_diag d = {0};
    orch__rt_remove_pod(o->rt, uid, orch__int(pod, "metadata.deletionGracePeriodSeconds", -1) * 1000, &d);
    return;
  }
  orch_err e = {0};
  if (!orch__store_remove(o->st, ORCH_POD, orch__str(pod, "metadata.namespace"), orch__str(pod, "metadata.name"), NULL,
                          &e))
    lk_info("orchestrator: pod %s/%s deleted", orch__str(pod, "metadata.namespace"), orch__str(pod, "metadata.name"));
  orch_err_fini(&e);
}

/* Containers of pods the store no longer has. */
static void remove_strays(orch *o, const json_t *pods, char **uids, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    bool known = false;
    size_t j;
    json_t *p;
    json_array_foreach(pods, j, p) {
      const char *uid = orch__str(p, "metadata.uid");
      known = known || (uid && !strcmp(uid, uids[i]));
    }
    if (known)
      continue;
    lk_diag d = {0};
    if (!orch__rt_remove_pod(o->rt, uids[i], -1, &d))
      lk_debug("orchestrator: stopping containers of pod uid %s (no such pod in the store)", uids[i]);
  }
}

void orch__ctrl_pods(orch *o)
{
  json_t *pods = orch__store_list(o->st, ORCH_POD, NULL, NULL);
  char **uids = NULL;
  size_t n = o->rt ? orch__rt_pods(o->rt, &uids) : 0;
  size_t i;
  json_t *pod;
  json_array_foreach(pods, i, pod) {
    if (orch__at(pod, "metadata.deletionTimestamp"))
      finish_deletion(o, pod, uids, n);
    else
      run_pod(o, pod);
  }
  if (o->rt)
    remove_strays(o, pods, uids, n);
  for (size_t j = 0; j < n; j++)
    free(uids[j]);
  free(uids);
  json_decref(pods);
}
