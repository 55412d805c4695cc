/* store_api.c — the public object calls of orchestrator.h: what the API
 * server does around storage for create, update, patch, scale and delete
 * (metadata it owns, defaults, validation, generation bumped on spec
 * changes only, status kept apart from the main resource, no-op writes
 * that do not bump resourceVersion, cascading deletes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_time.h"
#include "orchestrator/orch_int.h"

#define PATCH_RETRIES 5

static const orch_resource *res_of(enum orch_kind k)
{
  size_t n;
  return &orch_resources(&n)[k];
}

/* "apps/v1" → group "apps"; "v1" → core. */
static bool group_matches(const char *api_version, const orch_resource *r)
{
  if (!api_version)
    return false;
  const char *slash = strchr(api_version, '/');
  if (!slash)
    return !*r->group;
  return strlen(r->group) == (size_t)(slash - api_version) && !strncmp(api_version, r->group, strlen(r->group));
}

static int check_type(const json_t *obj, const orch_resource *r, orch_err *e)
{
  if (!json_is_object(obj))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest", "the request body is not a JSON object");
  const char *kind = orch__str(obj, "kind"), *av = orch__str(obj, "apiVersion");
  if (kind && strcmp(kind, r->kind_name))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest", "the body is a %s, not a %s (%s)", kind, r->kind_name,
                      r->plural);
  if (av && !group_matches(av, r))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest", "apiVersion %s does not serve %s", av, r->plural);
  return 0;
}

static int check_namespace(orch *o, const orch_resource *r, json_t *obj, const char *ns, orch_err *e)
{
  if (!r->namespaced) {
    json_object_del(json_object_get(obj, "metadata"), "namespace");
    return 0;
  }
  const char *have = orch__str(obj, "metadata.namespace");
  if (have && *have && ns && strcmp(have, ns))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent on the request");
  const char *use = ns && *ns ? ns : have && *have ? have : "default";
  json_t *nsobj = orch__store_get(o->st, ORCH_NAMESPACE, NULL, use);
  bool terminating = nsobj && orch__at(nsobj, "metadata.deletionTimestamp");
  json_decref(nsobj);
  if (!nsobj)
    return orch__fail(e, LK_ENOENT, 404, "NotFound", "namespaces \"%s\" not found", use);
  if (terminating)
    return orch__fail(e, LK_EINVAL, 403, "Forbidden",
                      "unable to create new content in namespace %s because it is being terminated", use);
  orch__set_str(obj, "metadata.namespace", use);
  return 0;
}

static const char *qos_class(const json_t *spec)
{
  bool any = false, guaranteed = true;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(spec, "containers"), i, c) {
    const json_t *req = orch__at(c, "resources.requests"), *lim = orch__at(c, "resources.limits");
    any = any || json_object_size(req) || json_object_size(lim);
    const char *res[] = {"cpu", "memory"};
    for (size_t j = 0; j < 2; j++) {
      const json_t *l = json_object_get(lim, res[j]), *r = json_object_get(req, res[j]);
      if (!l || (r && !json_equal((json_t *)l, (json_t *)r)))
        guaranteed = false;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static void random_suffix(char *out, size_t n)
{
  static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789"; /* Kubernetes's alphabet */
  char uid[37];
  orch__new_uid(uid);
  for (size_t i = 0; i + 1 < n; i++)
    out[i] = alnum[(unsigned char)uid[i * 2 % 36] % (sizeof alnum - 1)];
  out[n - 1] = 0;
}

static void fill_new_metadata(json_t *obj, enum orch_kind k)
{
  json_t *meta = json_object_get(obj, "metadata");
  const char *gen = json_string_value(json_object_get(meta, "generateName"));
  if (!json_string_value(json_object_get(meta, "name")) && gen) {
    char sfx[6], name[300];
    random_suffix(sfx, sizeof sfx);
    snprintf(name, sizeof name, "%s%s", gen, sfx);
    json_object_set_new(meta, "name", json_string(name));
  }
  char uid[37], ts[32];
  orch__new_uid(uid);
  lk_time_rfc3339(lk_now_ms(), ts, sizeof ts);
  json_object_set_new(meta, "uid", json_string(uid));
  json_object_set_new(meta, "creationTimestamp", json_string(ts));
  json_object_del(meta, "resourceVersion");
  json_object_del(meta, "managedFields");
  json_object_del(meta, "selfLink");
  json_object_del(meta, "deletionTimestamp");
  json_object_del(meta, "deletionGracePeriodSeconds");
  if (k == ORCH_DEPLOYMENT || k == ORCH_REPLICASET || k == ORCH_HPA)
    json_object_set_new(meta, "generation", json_integer(1));
  else
    json_object_del(meta, "generation");
}

static void initial_status(json_t *obj, enum orch_kind k)
{
  if (k == ORCH_NAMESPACE)
    return;
  json_object_del(obj, "status");
  if (k == ORCH_POD)
    json_object_set_new(obj, "status", json_pack("{s:s, s:s}", "phase", "Pending", "qosClass",
                                                 qos_class(json_object_get(obj, "spec"))));
  else if (k == ORCH_HPA)
    json_object_set_new(obj, "status", json_pack("{s:i, s:i}", "currentReplicas", 0, "desiredReplicas", 0));
  else
    json_object_set_new(obj, "status", json_object());
}

/* Finish an Invalid error: the message names the object and its causes. */
static int invalid(orch_err *e, const orch_resource *r, const char *name)
{
  char msg[sizeof e->msg];
  int n = snprintf(msg, sizeof msg, "%s%s%s \"%s\" is invalid: ", r->kind_name, *r->group ? "." : "", r->group,
                   name ? name : "");
  size_t i, nc = json_array_size(e->causes);
  json_t *c;
  if (nc > 1)
    n += snprintf(msg + n, sizeof msg - (size_t)n, "[");
  json_array_foreach(e->causes, i, c) {
    if (n >= (int)sizeof msg)
      break;
    n += snprintf(msg + n, sizeof msg - (size_t)n, "%s%s: %s", i ? ", " : "", orch__str(c, "field"),
                  orch__str(c, "message"));
  }
  if (nc > 1 && n < (int)sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, "]");
  memcpy(e->msg, msg, sizeof msg);
  return LK_EINVAL;
}

static int check(orch *o, enum orch_kind k, json_t *obj, orch_err *e)
{
  int rc = orch__validate(k, obj, &o->node, e);
  if (rc == LK_EINVAL && e->causes)
    invalid(e, res_of(k), orch__str(obj, "metadata.name"));
  return rc;
}

int orch_create(orch *o, enum orch_kind k, const char *ns, const json_t *obj, unsigned how, json_t **out,
                orch_err *e)
{
  const orch_resource *r = res_of(k);
  int rc = check_type(obj, r, e);
  if (rc)
    return rc;
  json_t *copy = json_deep_copy(obj);
  json_object_set_new(copy, "apiVersion", json_string(orch__api_version(k)));
  json_object_set_new(copy, "kind", json_string(r->kind_name));
  orch__obj(copy, "metadata");
  fill_new_metadata(copy, k);
  initial_status(copy, k);
  orch__defaults(k, copy);
  rc = check(o, k, copy, e);
  if (!rc)
    rc = check_namespace(o, r, copy, ns, e);
  if (!rc)
    rc = orch__store_put(o->st, k, copy, true, NULL, how & ORCH_DRY_RUN, out, e);
  json_decref(copy);
  return rc;
}

int orch_get(orch *o, enum orch_kind k, const char *ns, const char *name, json_t **out, orch_err *e)
{
  const orch_resource *r = res_of(k);
  json_t *obj = orch__store_get(o->st, k, r->namespaced ? ns : NULL, name);
  if (!obj)
    return orch__fail(e, LK_ENOENT, 404, "NotFound", "%s%s%s \"%s\" not found", r->plural, *r->group ? "." : "",
                      r->group, name);
  *out = obj;
  return 0;
}

int orch_list(orch *o, enum orch_kind k, const orch_list_opts *lo, json_t **items, uint64_t *rv, orch_err *e)
{
  const orch_resource *r = res_of(k);
  json_t *all = orch__store_list(o->st, k, r->namespaced && lo ? lo->ns : NULL, rv);
  json_t *keep = json_array();
  size_t i;
  json_t *obj;
  json_array_foreach(all, i, obj) {
    if (lo && lo->label_selector && *lo->label_selector &&
        !orch__labels_match(orch__at(obj, "metadata.labels"), lo->label_selector, e))
      continue;
    if (lo && lo->field_selector && *lo->field_selector && !orch__fields_match(obj, lo->field_selector, e))
      continue;
    json_array_append(keep, obj);
  }
  json_decref(all);
  if (e->reason) {
    json_decref(keep);
    return LK_EINVAL;
  }
  *items = keep;
  return 0;
}

/* The new version of old from the client's obj (main part) or only its
 * status (status part), with the fields the server owns carried over. */
static json_t *next_version(enum orch_kind k, const json_t *old, const json_t *obj, unsigned how)
{
  json_t *next;
  if (how & ORCH_STATUS) {
    next = json_deep_copy(old);
    json_t *st = json_object_get(obj, "status");
    json_object_set_new(next, "status", st ? json_deep_copy(st) : json_object());
    return next;
  }
  next = json_deep_copy(obj);
  json_object_set_new(next, "apiVersion", json_string(orch__api_version(k)));
  json_object_set_new(next, "kind", json_string(orch__str(old, "kind")));
  json_t *meta = orch__obj(next, "metadata");
  const json_t *om = json_object_get(old, "metadata");
  static const char *const owned[] = {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                                      "generation", "namespace", "name"};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
    json_t *v = json_object_get(om, owned[i]);
    if (v)
      json_object_set(meta, owned[i], v);
    else
      json_object_del(meta, owned[i]);
  }
  json_object_del(meta, "managedFields");
  json_t *st = json_object_get(old, "status");
  if (k != ORCH_NAMESPACE || !json_object_get(next, "status")) {
    if (st)
      json_object_set(next, "status", st);
    else
      json_object_del(next, "status");
  }
  return next;
}

static int check_immutable(enum orch_kind k, const json_t *old, const json_t *next, orch_err *e)
{
  if ((k == ORCH_DEPLOYMENT || k == ORCH_REPLICASET) &&
      !json_equal(orch__at(old, "spec.selector"), orch__at(next, "spec.selector")))
    orch__cause(e, "spec.selector", "FieldValueInvalid", "Invalid value: field is immutable");
  if (k == ORCH_POD) {
    json_t *a = json_deep_copy(orch__at(old, "spec")), *b = json_deep_copy(orch__at(next, "spec"));
    size_t i;
    json_t *c;
    json_array_foreach(a, i, c) json_object_del(c, "image");
    json_array_foreach(json_object_get(a, "containers"), i, c) json_object_del(c, "image");
    json_array_foreach(json_object_get(b, "containers"), i, c) json_object_del(c, "image");
    if (!json_equal(a, b))
      orch__cause(e, "spec", "FieldValueForbidden",
                  "Forbidden: pod updates may not change fields other than `spec.containers[*].image`");
    json_decref(a);
    json_decref(b);
  }
  if (!e->causes)
    return 0;
  e->http = 422;
  e->reason = "Invalid";
  return LK_EINVAL;
}

/* Whether two versions differ in anything but resourceVersion. */
static bool same_content(const json_t *a, const json_t *b)
{
  json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
  json_object_del(json_object_get(x, "metadata"), "resourceVersion");
  json_object_del(json_object_get(y, "metadata"), "resourceVersion");
  bool same = json_equal(x, y);
  json_decref(x);
  json_decref(y);
  return same;
}

/* Update from a client object against a known old version. */
static int update_from(orch *o, enum orch_kind k, const json_t *old, const json_t *obj, unsigned how,
                       const char *expect_rv, json_t **out, orch_err *e)
{
  bool main_part = !(how & ORCH_STATUS), dry = how & ORCH_DRY_RUN;
  json_t *next = next_version(k, old, obj, how);
  orch__defaults(k, next);
  int rc = main_part ? check_immutable(k, old, next, e) : 0;
  if (!rc && main_part)
    rc = check(o, k, next, e);
  if (rc == LK_EINVAL && e->causes && !e->msg[0])
    invalid(e, res_of(k), orch__str(old, "metadata.name"));
  if (!rc && main_part && json_object_get(json_object_get(old, "metadata"), "generation") &&
      !json_equal(json_object_get(old, "spec"), json_object_get(next, "spec")))
    orch__set_int(next, "metadata.generation", orch__int(old, "metadata.generation", 0) + 1);
  if (!rc && same_content(old, next)) {
    if (expect_rv && *expect_rv && strcmp(expect_rv, orch__str(old, "metadata.resourceVersion")))
      rc = orch__store_put(o->st, k, old, false, expect_rv, true, NULL, e); /* reports the Conflict */
    else if (out)
      *out = json_deep_copy(old);
  } else if (!rc) {
    rc = orch__store_put(o->st, k, next, false, expect_rv, dry, out, e);
  }
  json_decref(next);
  return rc;
}

static int check_name_matches(const json_t *obj, const char *name, orch_err *e)
{
  const char *have = orch__str(obj, "metadata.name");
  if (have && strcmp(have, name))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest",
                      "the name of the object (%s) does not match the name on the URL (%s)", have, name);
  return 0;
}

int orch_update(orch *o, enum orch_kind k, const char *ns, const char *name, const json_t *obj, unsigned how,
                json_t **out, orch_err *e)
{
  int rc = check_type(obj, res_of(k), e);
  if (!rc)
    rc = check_name_matches(obj, name, e);
  json_t *old = NULL;
  if (!rc)
    rc = orch_get(o, k, ns, name, &old, e);
  if (rc)
    return rc;
  const char *rv = orch__str(obj, "metadata.resourceVersion");
  rc = update_from(o, k, old, obj, how, rv ? rv : "", out, e);
  json_decref(old);
  return rc;
}

int orch_patch_type_of(const char *ct)
{
  if (!ct)
    return -1;
  if (!strncmp(ct, "application/merge-patch+json", 28))
    return ORCH_PATCH_MERGE;
  if (!strncmp(ct, "application/strategic-merge-patch+json", 38))
    return ORCH_PATCH_STRATEGIC;
  if (!strncmp(ct, "application/json-patch+json", 27))
    return ORCH_PATCH_JSON;
  return -1;
}

static json_t *apply_patch(enum orch_patch_type t, const json_t *target, const json_t *patch, orch_err *e)
{
  switch (t) {
  case ORCH_PATCH_MERGE:
    if (!json_is_object(patch)) {
      orch__fail(e, LK_EINVAL, 400, "BadRequest", "a merge patch must be a JSON object");
      return NULL;
    }
    return orch__merge_patch(target, patch);
  case ORCH_PATCH_STRATEGIC:
    return orch__strategic_patch(target, patch, e);
  case ORCH_PATCH_JSON:
    return orch__json_patch(target, patch, e);
  }
  return NULL;
}

int orch_patch(orch *o, enum orch_kind k, const char *ns, const char *name, enum orch_patch_type t,
               const char *body, size_t len, unsigned how, bool hpa_v1, json_t **out, orch_err *e)
{
  json_error_t je;
  json_t *patch = json_loadb(body, len, 0, &je);
  if (!patch)
    return orch__fail(e, LK_EINVAL, 400, "BadRequest", "error decoding patch: %s (line %d)", je.text, je.line);
  int rc = 0;
  for (int attempt = 0; attempt < PATCH_RETRIES; attempt++) {
    json_t *old = NULL;
    rc = orch_get(o, k, ns, name, &old, e);
    if (rc)
      break;
    json_t *base = hpa_v1 ? orch_hpa_v2_to_v1(old) : json_incref(old);
    json_t *patched = apply_patch(t, base, patch, e);
    json_decref(base);
    json_t *v2 = patched && hpa_v1 ? orch_hpa_v1_to_v2(patched) : json_incref(patched);
    json_decref(patched);
    if (!v2) {
      json_decref(old);
      rc = LK_EINVAL;
      break;
    }
    const char *old_rv = orch__str(old, "metadata.resourceVersion");
    const char *new_rv = orch__str(v2, "metadata.resourceVersion");
    bool explicit_rv = new_rv && strcmp(new_rv, old_rv);
    rc = check_type(v2, res_of(k), e);
    if (!rc)
      rc = check_name_matches(v2, name, e);
    if (!rc)
      rc = update_from(o, k, old, v2, how, new_rv ? new_rv : old_rv, out, e);
    json_decref(old);
    json_decref(v2);
    if (rc != LK_EAGAIN || explicit_rv)
      break;
    orch_err_fini(e);
    memset(e, 0, sizeof *e);
  }
  json_decref(patch);
  return rc;
}

int orch_scale(orch *o, enum orch_kind k, const char *ns, const char *name, int64_t replicas, const char *rv,
               json_t **out, orch_err *e)
{
  if (replicas < 0) {
    orch__cause(e, "spec.replicas", "FieldValueInvalid", "Invalid value: %" PRId64 ": must be greater than or equal to 0",
                replicas);
    e->http = 422;
    e->reason = "Invalid";
    snprintf(e->msg, sizeof e->msg, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: %" PRId64
             ": must be greater than or equal to 0", name, replicas);
    return LK_EINVAL;
  }
  /* Without the caller's resourceVersion the update is unconditional, as
   * Kubernetes's: a controller's write in between is retried over, not a 409. */
  bool explicit_rv = rv && *rv;
  int rc = 0;
  for (int attempt = 0; attempt < PATCH_RETRIES; attempt++) {
    json_t *old = NULL;
    if ((rc = orch_get(o, k, ns, name, &old, e)))
      return rc;
    json_t *next = json_deep_copy(old);
    orch__set_int(next, "spec.replicas", replicas);
    rc = update_from(o, k, old, next, ORCH_MAIN, explicit_rv ? rv : orch__str(old, "metadata.resourceVersion"), out, e);
    json_decref(old);
    json_decref(next);
    if (rc != LK_EAGAIN || explicit_rv)
      break;
    orch_err_fini(e);
    memset(e, 0, sizeof *e);
  }
  return rc;
}

/*---- delete ----*/

static int mark_pod_deleted(orch *o, json_t *pod, int64_t grace_s, json_t **out, orch_err *e)
{
  if (orch__at(pod, "metadata.deletionTimestamp")) {
    if (out)
      *out = json_incref(pod);
    return 0;
  }
  if (grace_s < 0)
    grace_s = orch__int(pod, "spec.terminationGracePeriodSeconds", 30);
  char ts[32];
  lk_time_rfc3339(lk_now_ms() + grace_s * 1000, ts, sizeof ts);
  json_t *next = json_deep_copy(pod);
  orch__set_str(next, "metadata.deletionTimestamp", ts);
  orch__set_int(next, "metadata.deletionGracePeriodSeconds", grace_s);
  int rc = orch__store_put(o->st, ORCH_POD, next, false, orch__str(pod, "metadata.resourceVersion"), false, out, e);
  json_decref(next);
  return rc;
}

/* Remove the ownerReference to uid from every dependent (Orphan). */
static void orphan_dependents(orch *o, const char *uid)
{
  for (int k = 0; k < ORCH_NKINDS; k++) {
    json_t *all = orch__store_list(o->st, (enum orch_kind)k, NULL, NULL);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
      if (!orch__owned_by(obj, uid))
        continue;
      json_t *refs = orch__at(obj, "metadata.ownerReferences");
      for (size_t j = json_array_size(refs); j-- > 0;) {
        const char *ref_uid = orch__str(json_array_get(refs, j), "uid");
        if (ref_uid && !strcmp(ref_uid, uid))
          json_array_remove(refs, j);
      }
      if (!json_array_size(refs))
        json_object_del(json_object_get(obj, "metadata"), "ownerReferences");
      orch_err e = {0};
      orch__store_put(o->st, (enum orch_kind)k, obj, false, orch__str(obj, "metadata.resourceVersion"), false, NULL,
                      &e);
      orch_err_fini(&e);
    }
    json_decref(all);
  }
}

int orch__delete_object(orch *o, enum orch_kind k, const json_t *obj, int64_t grace_s, json_t **out, orch_err *e)
{
  if (k == ORCH_POD)
    return mark_pod_deleted(o, (json_t *)obj, grace_s, out, e);
  return orch__store_remove(o->st, k, orch__str(obj, "metadata.namespace"), orch__str(obj, "metadata.name"), out, e);
}

static int delete_namespace_content(orch *o, const char *ns)
{
  for (int k = ORCH_POD; k < ORCH_NKINDS; k++) {
    json_t *all = orch__store_list(o->st, (enum orch_kind)k, ns, NULL);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj) {
      orch_err e = {0};
      orch__delete_object(o, (enum orch_kind)k, obj, -1, NULL, &e);
      orch_err_fini(&e);
    }
    json_decref(all);
  }
  return 0;
}

int orch_delete(orch *o, enum orch_kind k, const char *ns, const char *name, const char *propagation,
                int64_t grace_s, json_t **out, orch_err *e)
{
  if (propagation && strcmp(propagation, "Background") && strcmp(propagation, "Foreground") &&
      strcmp(propagation, "Orphan"))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest",
                      "propagationPolicy must be Orphan, Background or Foreground, not \"%s\"", propagation);
  if (k == ORCH_NAMESPACE && (!strcmp(name, "default") || !strcmp(name, "kube-system")))
    return orch__fail(e, LK_EINVAL, 403, "Forbidden", "namespaces \"%s\" is forbidden: this namespace may not be deleted",
                      name);
  json_t *obj = NULL;
  int rc = orch_get(o, k, ns, name, &obj, e);
  if (rc)
    return rc;
  if (propagation && !strcmp(propagation, "Orphan"))
    orphan_dependents(o, orch__str(obj, "metadata.uid"));
  if (k == ORCH_NAMESPACE)
    delete_namespace_content(o, name);
  rc = orch__delete_object(o, k, obj, grace_s, out, e);
  json_decref(obj);
  return rc;
}
