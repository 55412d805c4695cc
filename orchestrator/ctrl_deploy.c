/* ctrl_deploy.c — the Deployment controller, after Kubernetes's: one
 * ReplicaSet per pod template (named <deployment>-<pod-template-hash>, the
 * hash also a label and a selector term), revisions in the
 * deployment.kubernetes.io/revision annotation, and the two strategies:
 *  - RollingUpdate: the new ReplicaSet grows while the total stays within
 *    replicas + maxSurge; old ones shrink (unhealthy pods first) while the
 *    available pods stay at least replicas - maxUnavailable. Availability
 *    is counted from the pods themselves, not from lagging statuses, so a
 *    rollout never dips below the bound;
 *  - Recreate: old ReplicaSets go to 0, and once their pods are gone the
 *    new one scales up.
 * Status carries what `kubectl rollout status` reads (observedGeneration,
 * replicas, updatedReplicas, readyReplicas, availableReplicas,
 * unavailableReplicas, Available/Progressing conditions with Kubernetes's
 * reasons). Old ReplicaSets beyond revisionHistoryLimit are deleted.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/orch_int.h"

#define REVISION "deployment.kubernetes.io/revision"
#define HASH_LABEL "pod-template-hash"

typedef struct rs_view {
  json_t *rs;          /* borrowed from the list */
  int64_t spec;        /* spec.replicas (as this pass decides it) */
  int64_t active, ready, available;
  int64_t revision;
} rs_view;

typedef struct deploy_pass {
  orch *o;
  const json_t *d;
  int64_t desired, now;
  rs_view *v;
  size_t n;
  rs_view *new_rs;
  bool created;
} deploy_pass;

static void template_hash(const json_t *tmpl, char out[11])
{
  char *text = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
  uint32_t h = 2166136261u;
  for (const char *p = text; p && *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  free(text);
  static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
  size_t i = 0;
  do {
    out[i++] = alnum[h % (sizeof alnum - 1)];
    h /= (uint32_t)(sizeof alnum - 1);
  } while (h && i < 10);
  out[i] = 0;
}

static int64_t revision_of(const json_t *obj)
{
  const char *r = json_string_value(json_object_get(orch__at(obj, "metadata.annotations"), REVISION));
  return r ? strtoll(r, NULL, 10) : 0;
}

/* The RS template equals the deployment's once the hash label is removed. */
static bool same_template(const json_t *rs, const json_t *d)
{
  json_t *t = json_deep_copy(orch__at(rs, "spec.template"));
  json_t *labels = orch__at(t, "metadata.labels");
  json_object_del(labels, HASH_LABEL);
  bool same = json_equal(t, orch__at(d, "spec.template"));
  json_decref(t);
  return same;
}

static void count_pods(rs_view *v, const json_t *pods, int64_t min_ready, int64_t now)
{
  const char *uid = orch__str(v->rs, "metadata.uid");
  size_t i;
  json_t *p;
  json_array_foreach(pods, i, p) {
    if (!orch__owned_by(p, uid) || !orch__pod_active(p))
      continue;
    v->active++;
    v->ready += orch__pod_ready(p);
    v->available += orch__pod_available(p, min_ready, now);
  }
}

static bool set_rs_replicas(deploy_pass *dp, rs_view *v, int64_t n)
{
  if (n == v->spec)
    return true;
  json_t *next = json_deep_copy(v->rs);
  orch__set_int(next, "spec.replicas", n);
  json_t *ann = orch__obj(next, "metadata.annotations");
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, dp->desired);
  json_object_set_new(ann, "deployment.kubernetes.io/desired-replicas", json_string(buf));
  orch_err e = {0};
  json_t *ignored = NULL;
  int rc = orch_update(dp->o, ORCH_REPLICASET, orch__str(next, "metadata.namespace"), orch__str(next, "metadata.name"),
                       next, ORCH_MAIN, &ignored, &e);
  json_decref(ignored);
  json_decref(next);
  orch_err_fini(&e);
  if (!rc)
    v->spec = n;
  return rc == 0;
}

static int64_t max_old_revision(const deploy_pass *dp)
{
  int64_t max = 0;
  for (size_t i = 0; i < dp->n; i++)
    if (&dp->v[i] != dp->new_rs && dp->v[i].revision > max)
      max = dp->v[i].revision;
  return max;
}

static json_t *new_rs_object(const deploy_pass *dp, int64_t replicas, int64_t revision)
{
  const json_t *d = dp->d;
  char hash[11], name[300], rev[32], want[32];
  template_hash(orch__at(d, "spec.template"), hash);
  snprintf(name, sizeof name, "%s-%s", orch__str(d, "metadata.name"), hash);
  snprintf(rev, sizeof rev, "%" PRId64, revision);
  snprintf(want, sizeof want, "%" PRId64, dp->desired);
  json_t *tmpl = json_deep_copy(orch__at(d, "spec.template"));
  orch__set_str(tmpl, "metadata.labels." HASH_LABEL, hash);
  json_t *sel = json_deep_copy(orch__at(d, "spec.selector"));
  orch__set_str(sel, "matchLabels." HASH_LABEL, hash);
  json_t *rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:{s:s, s:s, s:s}, s:o}, s:{s:I, s:I, s:o, s:o}}", "apiVersion",
                         "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "namespace",
                         orch__str(d, "metadata.namespace"), "labels", orch__at(tmpl, "metadata.labels"), "annotations",
                         REVISION, rev, "deployment.kubernetes.io/desired-replicas", want,
                         "deployment.kubernetes.io/max-replicas", want, "ownerReferences",
                         orch__owner_ref(d, "Deployment"), "spec", "replicas", (json_int_t)replicas, "minReadySeconds",
                         (json_int_t)orch__int(d, "spec.minReadySeconds", 0), "selector", sel, "template", tmpl);
  return rs;
}

static void create_new_rs(deploy_pass *dp, int64_t replicas)
{
  int64_t revision = max_old_revision(dp) + 1;
  json_t *rs = new_rs_object(dp, replicas, revision);
  orch_err e = {0};
  json_t *made = NULL;
  if (orch_create(dp->o, ORCH_REPLICASET, orch__str(dp->d, "metadata.namespace"), rs, ORCH_MAIN, &made, &e))
    lk_warn("orchestrator: deployment %s/%s cannot create its replica set: %s", orch__str(dp->d, "metadata.namespace"),
            orch__str(dp->d, "metadata.name"), e.msg);
  else
    lk_info("orchestrator: deployment %s/%s: created replica set %s (revision %" PRId64 ")",
            orch__str(dp->d, "metadata.namespace"), orch__str(dp->d, "metadata.name"), orch__str(made, "metadata.name"),
            revision);
  dp->created = made != NULL;
  json_decref(made);
  orch_err_fini(&e);
  json_decref(rs);
}

/* An old template brought back becomes the newest revision again. */
static void bump_revision(deploy_pass *dp)
{
  int64_t top = max_old_revision(dp);
  if (dp->new_rs->revision > top)
    return;
  json_t *next = json_deep_copy(dp->new_rs->rs);
  char rev[32];
  snprintf(rev, sizeof rev, "%" PRId64, top + 1);
  json_object_set_new(orch__obj(next, "metadata.annotations"), REVISION, json_string(rev));
  orch_err e = {0};
  json_t *ignored = NULL;
  if (!orch_update(dp->o, ORCH_REPLICASET, orch__str(next, "metadata.namespace"), orch__str(next, "metadata.name"),
                   next, ORCH_MAIN, &ignored, &e))
    dp->new_rs->revision = top + 1;
  json_decref(ignored);
  orch_err_fini(&e);
  json_decref(next);
}

static int64_t sum(const deploy_pass *dp, size_t field_offset, bool old_only)
{
  int64_t s = 0;
  for (size_t i = 0; i < dp->n; i++)
    if (!old_only || &dp->v[i] != dp->new_rs)
      s += *(const int64_t *)((const char *)&dp->v[i] + field_offset);
  return s;
}

#define SUM(dp, field, old_only) sum(dp, offsetof(rs_view, field), old_only)

static int by_revision(const void *a, const void *b)
{
  const rs_view *x = a, *y = b;
  return x->revision < y->revision ? -1 : x->revision > y->revision;
}

static void rolling_update(deploy_pass *dp, int64_t surge, int64_t unavail)
{
  int64_t desired = dp->desired;
  rs_view *nr = dp->new_rs;
  /* scale up the new replica set within replicas + maxSurge */
  if (nr->spec > desired) {
    set_rs_replicas(dp, nr, desired);
  } else if (nr->spec < desired) {
    int64_t room = desired + surge - SUM(dp, spec, false);
    if (room > 0)
      set_rs_replicas(dp, nr, nr->spec + room < desired ? nr->spec + room : desired);
  }
  if (!SUM(dp, spec, true))
    return;
  /* scale down old ones while replicas - maxUnavailable stay available */
  int64_t min_available = desired - unavail;
  int64_t new_unavailable = nr->spec - nr->available;
  int64_t max_down = SUM(dp, spec, false) - min_available - new_unavailable;
  if (max_down <= 0)
    return;
  int64_t done = 0;
  for (size_t i = 0; i < dp->n && done < max_down; i++) { /* unhealthy pods first, oldest set first */
    rs_view *v = &dp->v[i];
    if (v == nr || v->spec == 0)
      continue;
    int64_t unhealthy = v->spec - v->available;
    int64_t down = unhealthy < max_down - done ? unhealthy : max_down - done;
    if (down > 0 && set_rs_replicas(dp, v, v->spec - down))
      done += down;
  }
  int64_t can = SUM(dp, available, false) - min_available;
  int64_t taken = 0;
  for (size_t i = 0; i < dp->n && taken < can; i++) {
    rs_view *v = &dp->v[i];
    if (v == nr || v->spec == 0)
      continue;
    int64_t down = v->spec < can - taken ? v->spec : can - taken;
    if (set_rs_replicas(dp, v, v->spec - down))
      taken += down;
  }
}

static void recreate(deploy_pass *dp)
{
  for (size_t i = 0; i < dp->n; i++)
    if (&dp->v[i] != dp->new_rs)
      set_rs_replicas(dp, &dp->v[i], 0);
  if (SUM(dp, active, true) == 0)
    set_rs_replicas(dp, dp->new_rs, dp->desired);
}

static void cleanup_history(deploy_pass *dp)
{
  int64_t limit = orch__int(dp->d, "spec.revisionHistoryLimit", 10);
  int64_t old = 0;
  for (size_t i = 0; i < dp->n; i++)
    old += &dp->v[i] != dp->new_rs && dp->v[i].spec == 0 && dp->v[i].active == 0;
  for (size_t i = 0; i < dp->n && old > limit; i++) { /* oldest first */
    rs_view *v = &dp->v[i];
    if (v == dp->new_rs || v->spec || v->active)
      continue;
    orch_err e = {0};
    orch__delete_object(dp->o, ORCH_REPLICASET, v->rs, -1, NULL, &e);
    orch_err_fini(&e);
    old--;
  }
}

/* Progressing while the counts move; ProgressDeadlineExceeded once they
 * have not moved for progressDeadlineSeconds (what `kubectl rollout
 * status` reports as a failed rollout). */
static void progressing(deploy_pass *dp, json_t *next, const char *rs_name)
{
  static const char *const counts[] = {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"};
  const json_t *was = orch__condition(dp->d, "Progressing");
  const char *was_reason = json_string_value(json_object_get(was, "reason"));
  bool moved = !was_reason || !strcmp(was_reason, "NewReplicaSetAvailable") ||
               orch__int(dp->d, "status.observedGeneration", 0) != orch__int(dp->d, "metadata.generation", 0);
  for (size_t i = 0; i < 4; i++) /* an absent count is 0 */
    moved = moved || orch__int(json_object_get(dp->d, "status"), counts[i], 0) !=
                         orch__int(json_object_get(next, "status"), counts[i], 0);
  int64_t since = orch_parse_rfc3339(json_string_value(json_object_get(was, "lastUpdateTime")));
  int64_t deadline_ms = orch__int(dp->d, "spec.progressDeadlineSeconds", 600) * 1000;
  char msg[400];
  if (!moved && since >= 0 && (dp->now - since > deadline_ms || !strcmp(was_reason, "ProgressDeadlineExceeded"))) {
    snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.", rs_name);
    orch__set_condition(next, "Progressing", "False", "ProgressDeadlineExceeded", msg, true);
    return;
  }
  snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", rs_name);
  orch__set_condition(next, "Progressing", "True", "ReplicaSetUpdated", msg, true);
  if (moved) {
    char now[32];
    lk_time_rfc3339(dp->now, now, sizeof now);
    json_object_set_new(orch__condition(next, "Progressing"), "lastUpdateTime", json_string(now));
  }
}

static void write_status(deploy_pass *dp, int64_t unavail)
{
  const json_t *d = dp->d;
  json_t *next = json_deep_copy(d);
  int64_t replicas = SUM(dp, active, false), available = SUM(dp, available, false);
  int64_t updated = dp->new_rs ? dp->new_rs->active : 0;
  json_t *old = json_object_get(d, "status");
  json_t *st = json_object();
  if (json_object_get(old, "conditions"))
    json_object_set(st, "conditions", json_object_get(old, "conditions"));
  json_object_set_new(next, "status", st);
  json_object_set_new(st, "observedGeneration", json_integer(orch__int(d, "metadata.generation", 1)));
  static const char *const names[] = {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"};
  int64_t vals[] = {replicas, updated, SUM(dp, ready, false), available};
  for (size_t i = 0; i < 4; i++)
    if (vals[i])
      json_object_set_new(st, names[i], json_integer(vals[i]));
  if (dp->desired - available > 0)
    json_object_set_new(st, "unavailableReplicas", json_integer(dp->desired - available));
  if (available >= dp->desired - unavail)
    orch__set_condition(next, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                        true);
  else
    orch__set_condition(next, "Available", "False", "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.", true);
  char msg[400];
  const char *rs_name = dp->new_rs ? orch__str(dp->new_rs->rs, "metadata.name") : "";
  bool complete = dp->new_rs && updated == dp->desired && replicas == dp->desired && available == dp->desired;
  if (complete) {
    snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.", rs_name);
    orch__set_condition(next, "Progressing", "True", "NewReplicaSetAvailable", msg, true);
  } else if (dp->new_rs) {
    progressing(dp, next, rs_name);
  }
  orch_err e = {0};
  json_t *ignored = NULL;
  orch_update(dp->o, ORCH_DEPLOYMENT, orch__str(d, "metadata.namespace"), orch__str(d, "metadata.name"), next,
              ORCH_STATUS, &ignored, &e);
  json_decref(ignored);
  orch_err_fini(&e);
  json_decref(next);
}

/* The deployment carries its current revision as an annotation. */
static void annotate_revision(deploy_pass *dp)
{
  if (!dp->new_rs || revision_of(dp->d) == dp->new_rs->revision)
    return;
  json_t *next = json_deep_copy(dp->d);
  char rev[32];
  snprintf(rev, sizeof rev, "%" PRId64, dp->new_rs->revision);
  json_object_set_new(orch__obj(next, "metadata.annotations"), REVISION, json_string(rev));
  orch_err e = {0};
  json_t *ignored = NULL;
  orch_update(dp->o, ORCH_DEPLOYMENT, orch__str(next, "metadata.namespace"), orch__str(next, "metadata.name"), next,
              ORCH_MAIN, &ignored, &e);
  json_decref(ignored);
  orch_err_fini(&e);
  json_decref(next);
}

/* Owned replica sets, oldest revision first, with their pod counts. */
static void gather(deploy_pass *dp, json_t *rss, const json_t *pods)
{
  const char *uid = orch__str(dp->d, "metadata.uid");
  int64_t min_ready = orch__int(dp->d, "spec.minReadySeconds", 0);
  dp->v = calloc(json_array_size(rss) + 1, sizeof *dp->v);
  dp->n = 0;
  size_t i;
  json_t *rs;
  json_array_foreach(rss, i, rs) {
    if (!orch__owned_by(rs, uid))
      continue;
    rs_view *v = &dp->v[dp->n++];
    v->rs = rs;
    v->spec = orch__int(rs, "spec.replicas", 1);
    v->revision = revision_of(rs);
    count_pods(v, pods, min_ready, dp->now);
  }
  qsort(dp->v, dp->n, sizeof *dp->v, by_revision);
  dp->new_rs = NULL;
  for (size_t j = 0; j < dp->n; j++)
    if (same_template(dp->v[j].rs, dp->d))
      dp->new_rs = &dp->v[j];
}

static void sync_deployment(orch *o, const json_t *d, json_t *rss, const json_t *pods)
{
  deploy_pass dp = {.o = o, .d = d, .desired = orch__int(d, "spec.replicas", 1), .now = lk_now_ms()};
  gather(&dp, rss, pods);
  const char *type = orch__str(d, "spec.strategy.type");
  bool recreating = type && !strcmp(type, "Recreate");
  int64_t surge = 0, unavail = 0;
  if (!recreating) {
    surge = orch__intstr(orch__at(d, "spec.strategy.rollingUpdate.maxSurge"), dp.desired, true);
    unavail = orch__intstr(orch__at(d, "spec.strategy.rollingUpdate.maxUnavailable"), dp.desired, false);
    if (surge == 0 && unavail == 0)
      unavail = 1;
  }
  bool paused = json_is_true(orch__at(d, "spec.paused"));
  if (!dp.new_rs && !paused) {
    int64_t initial = recreating ? (SUM(&dp, active, false) ? 0 : dp.desired) : 0;
    if (!recreating && dp.n == 0)
      initial = dp.desired; /* first rollout: everything at once, as Kubernetes does */
    create_new_rs(&dp, initial);
  } else if (dp.new_rs && !paused) {
    bump_revision(&dp);
    if (recreating)
      recreate(&dp);
    else
      rolling_update(&dp, surge, unavail);
    cleanup_history(&dp);
  }
  annotate_revision(&dp);
  if (!dp.created)
    write_status(&dp, unavail);
  free(dp.v);
}

void orch__ctrl_deployments(orch *o)
{
  json_t *ds = orch__store_list(o->st, ORCH_DEPLOYMENT, NULL, NULL);
  json_t *rss = orch__store_list(o->st, ORCH_REPLICASET, NULL, NULL);
  json_t *pods = orch__store_list(o->st, ORCH_POD, NULL, NULL);
  size_t i;
  json_t *d;
  json_array_foreach(ds, i, d) sync_deployment(o, d, rss, pods);
  json_decref(pods);
  json_decref(rss);
  json_decref(ds);
}
