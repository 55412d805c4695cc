/* ctrl_rs.c — the ReplicaSet controller: keeps spec.replicas active pods
 * (created from the template, named <rs>-<5 random chars>, owned by the
 * ReplicaSet), deletes extras preferring pods that are not ready, then the
 * newest, and writes status (replicas, fullyLabeledReplicas, readyReplicas,
 * availableReplicas honouring minReadySeconds, observedGeneration).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/orch_int.h"

bool orch__pod_active(const json_t *pod)
{
  const char *phase = orch__str(pod, "status.phase");
  return !orch__at(pod, "metadata.deletionTimestamp") &&
         !(phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")));
}

bool orch__pod_available(const json_t *pod, int64_t min_ready_s, int64_t now_ms)
{
  if (!orch__pod_ready(pod))
    return false;
  if (min_ready_s <= 0)
    return true;
  const json_t *c = orch__condition(pod, "Ready");
  int64_t since = orch_parse_rfc3339(json_string_value(json_object_get(c, "lastTransitionTime")));
  return since >= 0 && since + min_ready_s * 1000 <= now_ms;
}

/* The pods of all_pods owned by owner (a new array holding references). */
static json_t *owned_pods(const json_t *owner, const json_t *all_pods)
{
  json_t *out = json_array();
  const char *uid = orch__str(owner, "metadata.uid");
  size_t i;
  json_t *p;
  json_array_foreach(all_pods, i, p) if (orch__owned_by(p, uid)) json_array_append(out, p);
  return out;
}

static void create_pod(orch *o, const json_t *rs)
{
  const json_t *tmpl = orch__at(rs, "spec.template");
  json_t *pod = json_pack("{s:s, s:s, s:{}, s:O}", "apiVersion", "v1", "kind", "Pod", "metadata", "spec",
                          json_object_get(tmpl, "spec"));
  json_t *meta = json_object_get(pod, "metadata");
  char gen[300];
  snprintf(gen, sizeof gen, "%s-", orch__str(rs, "metadata.name"));
  json_object_set_new(meta, "generateName", json_string(gen));
  json_object_set_new(meta, "namespace", json_string(orch__str(rs, "metadata.namespace")));
  json_t *labels = orch__at(tmpl, "metadata.labels"), *ann = orch__at(tmpl, "metadata.annotations");
  if (labels)
    json_object_set_new(meta, "labels", json_deep_copy(labels));
  if (ann)
    json_object_set_new(meta, "annotations", json_deep_copy(ann));
  json_object_set_new(meta, "ownerReferences", orch__owner_ref(rs, "ReplicaSet"));
  orch__set_str(pod, "spec.nodeName", o->node_name);
  orch_err e = {0};
  json_t *made = NULL;
  if (orch_create(o, ORCH_POD, orch__str(rs, "metadata.namespace"), pod, ORCH_MAIN, &made, &e))
    lk_warn("orchestrator: replicaset %s/%s cannot create a pod: %s", orch__str(rs, "metadata.namespace"),
            orch__str(rs, "metadata.name"), e.msg);
  else
    lk_debug("orchestrator: created pod %s", orch__str(made, "metadata.name"));
  json_decref(made);
  orch_err_fini(&e);
  json_decref(pod);
}

/* Deletion order: not ready first, then the newest. */
static int delete_order(const void *a, const void *b)
{
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  bool rx = orch__pod_ready(x), ry = orch__pod_ready(y);
  if (rx != ry)
    return rx ? 1 : -1;
  const char *tx = orch__str(x, "metadata.creationTimestamp"), *ty = orch__str(y, "metadata.creationTimestamp");
  int c = strcmp(ty ? ty : "", tx ? tx : "");
  return c ? c : strcmp(orch__str(y, "metadata.name"), orch__str(x, "metadata.name"));
}

static void delete_extras(orch *o, json_t *active, size_t n)
{
  size_t total = json_array_size(active);
  json_t **v = calloc(total ? total : 1, sizeof *v);
  for (size_t i = 0; i < total; i++)
    v[i] = json_array_get(active, i);
  qsort(v, total, sizeof *v, delete_order);
  for (size_t i = 0; i < n && i < total; i++) {
    orch_err e = {0};
    orch__delete_object(o, ORCH_POD, v[i], -1, NULL, &e);
    orch_err_fini(&e);
  }
  free(v);
}

static void write_status(orch *o, const json_t *rs, const json_t *active)
{
  int64_t now = lk_now_ms(), min_ready = orch__int(rs, "spec.minReadySeconds", 0);
  int64_t ready = 0, available = 0;
  size_t i;
  json_t *p;
  json_array_foreach(active, i, p) {
    ready += orch__pod_ready(p);
    available += orch__pod_available(p, min_ready, now);
  }
  json_t *next = json_deep_copy(rs);
  json_t *st = json_object();
  json_object_set_new(st, "replicas", json_integer((json_int_t)json_array_size(active)));
  json_object_set_new(st, "fullyLabeledReplicas", json_integer((json_int_t)json_array_size(active)));
  if (ready)
    json_object_set_new(st, "readyReplicas", json_integer(ready));
  if (available)
    json_object_set_new(st, "availableReplicas", json_integer(available));
  json_object_set_new(st, "observedGeneration", json_integer(orch__int(rs, "metadata.generation", 1)));
  json_object_set_new(next, "status", st);
  orch_err e = {0};
  json_t *ignored = NULL;
  orch_update(o, ORCH_REPLICASET, orch__str(rs, "metadata.namespace"), orch__str(rs, "metadata.name"), next,
              ORCH_STATUS, &ignored, &e);
  json_decref(ignored);
  orch_err_fini(&e);
  json_decref(next);
}

void orch__ctrl_replicasets(orch *o)
{
  json_t *all_rs = orch__store_list(o->st, ORCH_REPLICASET, NULL, NULL);
  json_t *pods = orch__store_list(o->st, ORCH_POD, NULL, NULL);
  size_t i;
  json_t *rs;
  json_array_foreach(all_rs, i, rs) {
    json_t *owned = owned_pods(rs, pods);
    json_t *active = json_array();
    size_t j;
    json_t *p;
    json_array_foreach(owned, j, p) if (orch__pod_active(p)) json_array_append(active, p);
    int64_t want = orch__int(rs, "spec.replicas", 1);
    int64_t have = (int64_t)json_array_size(active);
    for (int64_t n = have; n < want; n++)
      create_pod(o, rs);
    if (have > want)
      delete_extras(o, active, (size_t)(have - want));
    write_status(o, rs, active);
    json_decref(active);
    json_decref(owned);
  }
  json_decref(pods);
  json_decref(all_rs);
}
