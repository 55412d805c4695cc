/* ctrl_common.c — what the controllers share: conditions as Kubernetes
 * writes them, owner references, pod readiness, the garbage collector
 * (dependents whose owner is gone are deleted, as Background propagation
 * does) and the autoscaler's call site.
 */
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/hpa_live.h"
#include "orchestrator/orch_int.h"

json_t *orch__condition(const json_t *obj, const char *type)
{
  size_t i;
  json_t *c;
  json_array_foreach(orch__at(obj, "status.conditions"), i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    if (t && !strcmp(t, type))
      return c;
  }
  return NULL;
}

void orch__set_condition(json_t *obj, const char *type, const char *status, const char *reason, const char *msg,
                         bool with_update_time)
{
  json_t *st = orch__obj(obj, "status");
  json_t *conds = json_object_get(st, "conditions");
  if (!json_is_array(conds)) {
    conds = json_array();
    json_object_set_new(st, "conditions", conds);
  }
  char now[32];
  lk_time_rfc3339(lk_now_ms(), now, sizeof now);
  json_t *c = orch__condition(obj, type);
  if (!c) {
    c = json_object();
    json_object_set_new(c, "type", json_string(type));
    json_array_append_new(conds, c);
  }
  const char *was = json_string_value(json_object_get(c, "status"));
  const char *was_reason = json_string_value(json_object_get(c, "reason"));
  const char *was_msg = json_string_value(json_object_get(c, "message"));
  bool changed = !was || strcmp(was, status);
  bool same = !changed && was_reason && !strcmp(was_reason, reason) && was_msg && !strcmp(was_msg, msg);
  if (changed || !json_object_get(c, "lastTransitionTime"))
    json_object_set_new(c, "lastTransitionTime", json_string(now));
  if (with_update_time && !same)
    json_object_set_new(c, "lastUpdateTime", json_string(now));
  json_object_set_new(c, "status", json_string(status));
  json_object_set_new(c, "reason", json_string(reason));
  json_object_set_new(c, "message", json_string(msg));
}

bool orch__pod_ready(const json_t *pod)
{
  const char *s = json_string_value(json_object_get(orch__condition(pod, "Ready"), "status"));
  return !orch__at(pod, "metadata.deletionTimestamp") && s && !strcmp(s, "True");
}

bool orch__owned_by(const json_t *obj, const char *uid)
{
  size_t i;
  json_t *r;
  json_array_foreach(orch__at(obj, "metadata.ownerReferences"), i, r) {
    const char *u = json_string_value(json_object_get(r, "uid"));
    if (u && uid && !strcmp(u, uid))
      return true;
  }
  return false;
}

json_t *orch__owner_ref(const json_t *owner, const char *kind)
{
  return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", json_string_value(json_object_get(owner, "apiVersion")),
                   "kind", kind, "name", orch__str(owner, "metadata.name"), "uid", orch__str(owner, "metadata.uid"),
                   "controller", 1, "blockOwnerDeletion", 1);
}

/*---- garbage collection ----*/

/* Every uid present in the store (as a JSON object used as a set). */
static json_t *all_uids(orch *o)
{
  json_t *set = json_object();
  for (int k = 0; k < ORCH_NKINDS; k++) {
    json_t *all = orch__store_list(o->st, (enum orch_kind)k, NULL, NULL);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
      const char *uid = orch__str(obj, "metadata.uid");
      if (uid)
        json_object_set_new(set, uid, json_true());
    }
    json_decref(all);
  }
  return set;
}

void orch__ctrl_gc(orch *o)
{
  json_t *uids = NULL;
  for (int k = ORCH_POD; k < ORCH_NKINDS; k++) {
    json_t *all = orch__store_list(o->st, (enum orch_kind)k, NULL, NULL);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
      json_t *refs = orch__at(obj, "metadata.ownerReferences");
      if (!json_array_size(refs) || orch__at(obj, "metadata.deletionTimestamp"))
        continue;
      if (!uids)
        uids = all_uids(o);
      bool alive = false;
      size_t j;
      json_t *r;
      json_array_foreach(refs, j, r) {
        const char *u = json_string_value(json_object_get(r, "uid"));
        alive = alive || (u && json_object_get(uids, u));
      }
      if (alive)
        continue;
      orch_err e = {0};
      if (!orch__delete_object(o, (enum orch_kind)k, obj, -1, NULL, &e))
        lk_info("orchestrator: deleted %s %s/%s (its owner is gone)", orch__str(obj, "kind"),
                orch__str(obj, "metadata.namespace"), orch__str(obj, "metadata.name"));
      orch_err_fini(&e);
    }
    json_decref(all);
  }
  json_decref(uids);
}

/*---- autoscaler ----*/

static void write_hpa_status(orch *o, const json_t *hpa, json_t *next)
{
  orch_err e = {0};
  json_t *ignored = NULL;
  if (orch_update(o, ORCH_HPA, orch__str(hpa, "metadata.namespace"), orch__str(hpa, "metadata.name"), next,
                  ORCH_STATUS, &ignored, &e))
    lk_warn("orchestrator: hpa %s/%s: status not written: %s", orch__str(hpa, "metadata.namespace"),
            orch__str(hpa, "metadata.name"), e.msg);
  json_decref(ignored);
  orch_err_fini(&e);
}

/* An HPA the autoscaler cannot act on (no target, no autoscaler, objects it
 * refuses): conditions as Kubernetes words them, replicas left alone. */
static void hpa_cannot_scale(orch *o, const json_t *hpa, const json_t *target, const char *why)
{
  json_t *next = json_deep_copy(hpa);
  if (target) {
    orch__set_int(next, "status.currentReplicas", orch__int(target, "status.replicas", 0));
    orch__set_int(next, "status.desiredReplicas", orch__int(target, "spec.replicas", 0));
    orch__set_condition(next, "AbleToScale", "True", "SucceededGetScale",
                        "the HPA controller was able to get the target's current scale", false);
    orch__set_condition(next, "ScalingActive", "False", "FailedComputeMetricsReplicas", why, false);
  } else {
    orch__set_condition(next, "AbleToScale", "False", "FailedGetScale",
                        "the HPA controller was unable to get the target's current scale: not found", false);
  }
  write_hpa_status(o, hpa, next);
  json_decref(next);
}

/* One HPA sync: orch__hpa_sync reads the metrics and decides; the target is
 * scaled to the decision (orch_scale) and the decision's status written. */
static void hpa_decide(orch *o, const json_t *hpa, const json_t *target, const json_t *pods)
{
  if (!target || !o->autoscaler) {
    hpa_cannot_scale(o, hpa, target, "no metrics source: this orchestrator runs without the tsdb");
    return;
  }
  size_t n = json_array_size(pods);
  const json_t **pv = lk_xcalloc(n ? n : 1, sizeof *pv);
  for (size_t i = 0; i < n; i++)
    pv[i] = json_array_get(pods, i);
  orch__hpa_decision dec = {0};
  lk_diag d = {0};
  int rc = orch__hpa_sync(o->autoscaler, hpa, target, pv, n, lk_now_ms(), &dec, &d);
  free(pv);
  if (rc) {
    hpa_cannot_scale(o, hpa, target, d.msg);
    return;
  }
  const char *ns = orch__str(hpa, "metadata.namespace");
  if (dec.rescale) {
    orch_err e = {0};
    json_t *scaled = NULL;
    enum orch_kind tk = !strcmp(orch__str(target, "kind") ? orch__str(target, "kind") : "", "ReplicaSet")
                            ? ORCH_REPLICASET : ORCH_DEPLOYMENT;
    if (orch_scale(o, tk, ns, orch__str(target, "metadata.name"), dec.desired, NULL, &scaled, &e))
      lk_warn("orchestrator: hpa %s/%s: cannot scale to %d: %s", ns, orch__str(hpa, "metadata.name"),
              (int)dec.desired, e.msg);
    else
      lk_info("orchestrator: hpa %s/%s scaled %s from %d to %d replicas", ns, orch__str(hpa, "metadata.name"),
              orch__str(target, "metadata.name"), (int)dec.current, (int)dec.desired);
    json_decref(scaled);
    orch_err_fini(&e);
  }
  json_t *next = json_deep_copy(hpa);
  json_object_set(next, "status", dec.status);
  json_decref(dec.status);
  write_hpa_status(o, hpa, next);
  json_decref(next);
}

/* Drop the autoscaler's memory of HPAs that are gone since the last pass. */
static void hpa_forget_gone(orch *o, const json_t *all)
{
  json_t *now = json_array();
  size_t i, j;
  json_t *h, *uid;
  json_array_foreach(all, i, h)
    json_array_append_new(now, json_string(orch__str(h, "metadata.uid") ? orch__str(h, "metadata.uid") : ""));
  json_array_foreach(o->hpa_uids, i, uid) {
    bool kept = false;
    json_array_foreach(now, j, h)
      kept = kept || json_equal(h, uid);
    if (!kept && o->autoscaler)
      orch__hpa_forget(o->autoscaler, json_string_value(uid));
  }
  json_decref(o->hpa_uids);
  o->hpa_uids = now;
}

/* Active pods of all_pods matching the target's selector. */
static json_t *target_pods(const json_t *target, const json_t *all_pods)
{
  json_t *out = json_array();
  const json_t *sel = orch__at(target, "spec.selector");
  size_t i;
  json_t *p;
  json_array_foreach(all_pods, i, p)
    if (orch__pod_active(p) && orch__selector_match(sel, orch__at(p, "metadata.labels")))
      json_array_append(out, p);
  return out;
}

/* Every hpa period, each HPA goes to hpa_decide with its target and pods. */
void orch__ctrl_hpa(orch *o)
{
  int64_t now = lk_now_ms();
  if (now - o->last_hpa_ms < o->hpa_ms)
    return;
  o->last_hpa_ms = now;
  json_t *all = orch__store_list(o->st, ORCH_HPA, NULL, NULL);
  json_t *all_pods = orch__store_list(o->st, ORCH_POD, NULL, NULL);
  size_t i;
  json_t *hpa;
  json_array_foreach(all, i, hpa) {
    const char *kind = orch__str(hpa, "spec.scaleTargetRef.kind");
    const char *name = orch__str(hpa, "spec.scaleTargetRef.name");
    enum orch_kind tk = kind && !strcmp(kind, "ReplicaSet") ? ORCH_REPLICASET : ORCH_DEPLOYMENT;
    json_t *target = name ? orch__store_get(o->st, tk, orch__str(hpa, "metadata.namespace"), name) : NULL;
    json_t *pods = target ? target_pods(target, all_pods) : json_array();
    hpa_decide(o, hpa, target, pods);
    json_decref(pods);
    json_decref(target);
  }
  hpa_forget_gone(o, all);
  json_decref(all_pods);
  json_decref(all);
}
