/* api_k8s_table.c — server-side printing: the meta.k8s.io/v1 Table kubectl
 * asks for (Accept: application/json;as=Table;v=v1;g=meta.k8s.io) with the
 * columns Kubernetes's own printers use (priority 1 columns are what
 * `-o wide` adds), each row carrying its full object (for -A, -L and
 * --show-labels).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_time.h"
#include "web/api_k8s.h"

bool web__k8s_wants_table(const lk_http_req *req)
{
  const char *accept = lk_http_header(req, "Accept");
  return accept && strstr(accept, "as=Table");
}

static const json_t *at(const json_t *o, const char *a, const char *b)
{
  const json_t *v = json_object_get(o, a);
  return b ? json_object_get(v, b) : v;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
  const char *s = json_string_value(at(o, a, b));
  return s ? s : "";
}

static json_int_t int_at(const json_t *o, const char *a, const char *b)
{
  return json_integer_value(at(o, a, b));
}

static json_t *age_of(const json_t *obj)
{
  char buf[16];
  int64_t t = orch_parse_rfc3339(str_at(obj, "metadata", "creationTimestamp"));
  if (t < 0)
    return json_string("<unknown>");
  orch_age(lk_now_ms() - t, buf);
  return json_string(buf);
}

void web__k8s_match_labels(const json_t *selector, lk_buf *out)
{
  const char *k;
  json_t *v;
  size_t start = out->len;
  json_object_foreach(json_object_get((json_t *)selector, "matchLabels"), k, v)
    lk_buf_printf(out, "%s%s=%s", out->len > start ? "," : "", k, json_string_value(v) ? json_string_value(v) : "");
}

static json_t *selector_text(const json_t *sel)
{
  lk_buf b = {0};
  web__k8s_match_labels(sel, &b);
  json_t *s = b.len ? json_stringn((const char *)b.data, b.len) : json_string("<none>");
  lk_buf_fini(&b);
  return s;
}

/* Comma-joined field of the template's containers (name or image). */
static json_t *containers_text(const json_t *pod_spec, const char *field)
{
  char buf[1024] = "";
  size_t n = 0, i;
  json_t *c;
  json_array_foreach(json_object_get((json_t *)pod_spec, "containers"), i, c)
    n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s%s", i ? "," : "",
                          json_string_value(json_object_get(c, field)) ? json_string_value(json_object_get(c, field)) : "");
  return json_string(buf);
}

/*---- pods ----*/

static const char *pod_reason(const json_t *pod, char *buf, size_t n)
{
  const char *reason = str_at(pod, "status", "reason");
  if (!*reason)
    reason = str_at(pod, "status", "phase");
  size_t i;
  json_t *c;
  json_array_foreach(at(pod, "status", "containerStatuses"), i, c) {
    const json_t *st = json_object_get(c, "state");
    const char *w = json_string_value(at(st, "waiting", "reason"));
    const json_t *term = json_object_get(st, "terminated");
    if (w && *w) {
      reason = w;
    } else if (term) {
      const char *tr = json_string_value(json_object_get(term, "reason"));
      if (tr && *tr) {
        reason = tr;
      } else {
        snprintf(buf, n, "ExitCode:%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(term, "exitCode")));
        reason = buf;
      }
    }
  }
  if (json_object_get(json_object_get((json_t *)pod, "metadata"), "deletionTimestamp"))
    reason = "Terminating";
  return *reason ? reason : "Pending";
}

static json_t *pod_restarts(const json_t *pod)
{
  json_int_t restarts = 0;
  int64_t last = -1;
  size_t i;
  json_t *c;
  json_array_foreach(at(pod, "status", "containerStatuses"), i, c) {
    restarts += json_integer_value(json_object_get(c, "restartCount"));
    int64_t t = orch_parse_rfc3339(json_string_value(at(json_object_get(c, "lastState"), "terminated", "finishedAt")));
    if (t > last)
      last = t;
  }
  char buf[64], age[16];
  if (restarts && last >= 0) {
    orch_age(lk_now_ms() - last, age);
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT " (%s ago)", restarts, age);
  } else {
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, restarts);
  }
  return json_string(buf);
}

static json_t *pod_cells(const json_t *pod)
{
  size_t total = json_array_size(at(pod, "spec", "containers")), ready = 0, i;
  json_t *c;
  json_array_foreach(at(pod, "status", "containerStatuses"), i, c) ready += json_is_true(json_object_get(c, "ready"));
  char rd[32], reason[64];
  snprintf(rd, sizeof rd, "%zu/%zu", ready, total);
  const char *ip = str_at(pod, "status", "podIP"), *node = str_at(pod, "spec", "nodeName");
  return json_pack("[s, s, s, o, o, s, s, s, s]", str_at(pod, "metadata", "name"), rd, pod_reason(pod, reason, sizeof reason),
                   pod_restarts(pod), age_of(pod), *ip ? ip : "<none>", *node ? node : "<none>", "<none>", "<none>");
}

/*---- workloads ----*/

static json_t *deployment_cells(const json_t *d)
{
  char rd[48];
  snprintf(rd, sizeof rd, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT, int_at(d, "status", "readyReplicas"),
           int_at(d, "spec", "replicas"));
  const json_t *pspec = at(at(d, "spec", "template"), "spec", NULL);
  return json_pack("[s, s, I, I, o, o, o, o]", str_at(d, "metadata", "name"), rd, int_at(d, "status", "updatedReplicas"),
                   int_at(d, "status", "availableReplicas"), age_of(d), containers_text(pspec, "name"),
                   containers_text(pspec, "image"), selector_text(at(d, "spec", "selector")));
}

static json_t *replicaset_cells(const json_t *rs)
{
  const json_t *pspec = at(at(rs, "spec", "template"), "spec", NULL);
  return json_pack("[s, I, I, I, o, o, o, o]", str_at(rs, "metadata", "name"), int_at(rs, "spec", "replicas"),
                   int_at(rs, "status", "replicas"), int_at(rs, "status", "readyReplicas"), age_of(rs),
                   containers_text(pspec, "name"), containers_text(pspec, "image"),
                   selector_text(at(rs, "spec", "selector")));
}

/* One "cpu: 20%/50%" term per metric (v2), or the v1 CPU target. */
static json_t *hpa_targets(const json_t *h)
{
  char buf[512] = "";
  size_t n = 0;
  const json_t *v1 = at(h, "spec", "targetCPUUtilizationPercentage");
  if (json_is_integer(v1)) {
    const json_t *cur = at(h, "status", "currentCPUUtilizationPercentage");
    char c[32] = "<unknown>";
    if (json_is_integer(cur))
      snprintf(c, sizeof c, "%" JSON_INTEGER_FORMAT "%%", json_integer_value(cur));
    snprintf(buf, sizeof buf, "cpu: %s/%" JSON_INTEGER_FORMAT "%%", c, json_integer_value(v1));
    return json_string(buf);
  }
  size_t i;
  json_t *m;
  json_array_foreach(at(h, "spec", "metrics"), i, m) {
    const char *type = str_at(m, "type", NULL);
    char lower[32];
    snprintf(lower, sizeof lower, "%s", type);
    if (lower[0] >= 'A' && lower[0] <= 'Z')
      lower[0] = (char)(lower[0] - 'A' + 'a');
    const json_t *src = json_object_get(m, lower);
    const char *name = json_string_value(json_object_get(src, "name"));
    if (!name)
      name = json_string_value(at(json_object_get(src, "metric"), "name", NULL));
    const json_t *target = json_object_get(src, "target");
    const char *tt = str_at(target, "type", NULL);
    char want[64], have[64] = "<unknown>";
    if (!strcmp(tt, "Utilization"))
      snprintf(want, sizeof want, "%" JSON_INTEGER_FORMAT "%%", json_integer_value(json_object_get(target, "averageUtilization")));
    else
      snprintf(want, sizeof want, "%s", json_string_value(json_object_get(target, !strcmp(tt, "Value") ? "value" : "averageValue"))
                                            ? json_string_value(json_object_get(target, !strcmp(tt, "Value") ? "value" : "averageValue"))
                                            : "?");
    const json_t *cm = json_array_get(at(h, "status", "currentMetrics"), i);
    const json_t *cur = json_object_get(json_object_get(cm, lower), "current");
    if (json_is_integer(json_object_get(cur, "averageUtilization")) && !strcmp(tt, "Utilization"))
      snprintf(have, sizeof have, "%" JSON_INTEGER_FORMAT "%%", json_integer_value(json_object_get(cur, "averageUtilization")));
    else if (json_string_value(json_object_get(cur, "averageValue")))
      snprintf(have, sizeof have, "%s", json_string_value(json_object_get(cur, "averageValue")));
    else if (json_string_value(json_object_get(cur, "value")))
      snprintf(have, sizeof have, "%s", json_string_value(json_object_get(cur, "value")));
    n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s%s: %s/%s", n ? ", " : "", name ? name : lower,
                          have, want);
  }
  return json_string(n ? buf : "<none>");
}

static json_t *hpa_cells(const json_t *h)
{
  char ref[300];
  const json_t *target = at(h, "spec", "scaleTargetRef");
  snprintf(ref, sizeof ref, "%s/%s", str_at(target, "kind", NULL), str_at(target, "name", NULL));
  const json_t *min = at(h, "spec", "minReplicas");
  return json_pack("[s, s, o, o, I, I, o]", str_at(h, "metadata", "name"), ref, hpa_targets(h),
                   json_is_integer(min) ? json_incref((json_t *)min) : json_string("<unset>"), int_at(h, "spec", "maxReplicas"),
                   int_at(h, "status", "currentReplicas"), age_of(h));
}

static json_t *namespace_cells(const json_t *ns)
{
  return json_pack("[s, s, o]", str_at(ns, "metadata", "name"), str_at(ns, "status", "phase"), age_of(ns));
}

static json_t *node_cells(const json_t *n)
{
  const json_t *info = at(n, "status", "nodeInfo");
  const char *ready = "NotReady";
  size_t i;
  json_t *c;
  json_array_foreach(at(n, "status", "conditions"), i, c)
    if (!strcmp(str_at(c, "type", NULL), "Ready") && !strcmp(str_at(c, "status", NULL), "True"))
      ready = "Ready";
  return json_pack("[s, s, s, o, s, s, s, s, s, s]", str_at(n, "metadata", "name"), ready, "control-plane", age_of(n),
                   str_at(info, "kubeletVersion", NULL), "<none>", "<none>", "Linux", str_at(info, "kernelVersion", NULL),
                   str_at(info, "containerRuntimeVersion", NULL));
}

/*---- columns ----*/

typedef struct column {
  const char *name, *type;
  int priority;
} column;

static const column pod_cols[] = {{"Name", "string", 0}, {"Ready", "string", 0}, {"Status", "string", 0},
                                  {"Restarts", "string", 0}, {"Age", "string", 0}, {"IP", "string", 1},
                                  {"Node", "string", 1}, {"Nominated Node", "string", 1},
                                  {"Readiness Gates", "string", 1}, {NULL, NULL, 0}};
static const column deploy_cols[] = {{"Name", "string", 0}, {"Ready", "string", 0}, {"Up-to-date", "integer", 0},
                                     {"Available", "integer", 0}, {"Age", "string", 0}, {"Containers", "string", 1},
                                     {"Images", "string", 1}, {"Selector", "string", 1}, {NULL, NULL, 0}};
static const column rs_cols[] = {{"Name", "string", 0}, {"Desired", "integer", 0}, {"Current", "integer", 0},
                                 {"Ready", "integer", 0}, {"Age", "string", 0}, {"Containers", "string", 1},
                                 {"Images", "string", 1}, {"Selector", "string", 1}, {NULL, NULL, 0}};
static const column hpa_cols[] = {{"Name", "string", 0}, {"Reference", "string", 0}, {"Targets", "string", 0},
                                  {"MinPods", "string", 0}, {"MaxPods", "integer", 0}, {"Replicas", "integer", 0},
                                  {"Age", "string", 0}, {NULL, NULL, 0}};
static const column ns_cols[] = {{"Name", "string", 0}, {"Status", "string", 0}, {"Age", "string", 0},
                                 {NULL, NULL, 0}};
static const column node_cols[] = {{"Name", "string", 0}, {"Status", "string", 0}, {"Roles", "string", 0},
                                   {"Age", "string", 0}, {"Version", "string", 0}, {"Internal-IP", "string", 1},
                                   {"External-IP", "string", 1}, {"OS-Image", "string", 1},
                                   {"Kernel-Version", "string", 1}, {"Container-Runtime", "string", 1},
                                   {NULL, NULL, 0}};

static json_t *table_of(const column *cols, json_t *(*cells)(const json_t *), const json_t *items, const char *rv)
{
  json_t *defs = json_array();
  for (const column *c = cols; c->name; c++)
    json_array_append_new(defs, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name, "type", c->type, "format",
                                          c == cols ? "name" : "", "description", c->name, "priority",
                                          c->priority));
  json_t *rows = json_array();
  size_t i;
  json_t *obj;
  json_array_foreach(items, i, obj)
    json_array_append_new(rows, json_pack("{s:o, s:O}", "cells", cells(obj), "object", obj));
  return json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata",
                   "resourceVersion", rv ? rv : "", "columnDefinitions", defs, "rows", rows);
}

json_t *web__k8s_table(const orch_resource *r, const json_t *items, const char *rv)
{
  static const column *const cols[ORCH_NKINDS] = {ns_cols, pod_cols, rs_cols, deploy_cols, hpa_cols};
  static json_t *(*const cells[ORCH_NKINDS])(const json_t *) = {namespace_cells, pod_cells, replicaset_cells,
                                                                 deployment_cells, hpa_cells};
  return table_of(cols[r->kind], cells[r->kind], items, rv);
}

json_t *web__k8s_node_table(const json_t *items)
{
  return table_of(node_cols, node_cells, items, "1");
}
