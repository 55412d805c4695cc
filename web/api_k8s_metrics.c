/* api_k8s_metrics.c — the Kubernetes metrics APIs, answered from the tsdb:
 *
 * metrics.k8s.io/v1beta1 (what `kubectl top` and the HPA's resource metrics
 * read, metrics-server's shapes): PodMetrics / PodMetricsList at
 * /namespaces/<ns>/pods[/<name>] and /pods, NodeMetrics / NodeMetricsList at
 * /nodes[/<name>]; cpu in nanocores ("123456789n"), memory working set in
 * "Ki", a 1m window (the cpu rate window).
 *
 * external.metrics.k8s.io/v1beta1 (what an HPA's External metrics read
 * through an APIService): /namespaces/<ns>/<metric>?labelSelector=… runs the
 * configured query named <metric> (config external_metrics) and answers an
 * ExternalMetricValueList of the series the selector keeps. The queries are
 * cluster-wide: the namespace in the path does not filter them.
 *
 * Both groups answer their APIGroup and APIResourceList discovery documents;
 * errors are Kubernetes Status objects (404 NotFound, 400 BadRequest,
 * 500 InternalError). A labelSelector on pods/nodes matches the series'
 * labels (namespace, pod, container / node). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/lk_time.h"
#include "orchestrator/autoscaling.h"
#include "web/web_int.h"

#define WINDOW_MS 60000
#define WINDOW_TEXT "1m0s"

static const char metrics_gv[] = "metrics.k8s.io/v1beta1";
static const char external_gv[] = "external.metrics.k8s.io/v1beta1";

/* ---- answers ---- */

static void send_json(lk_http_resp *resp, int status, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  resp->status = status;
  resp->content_type = "application/json";
  lk_buf_puts(&resp->body, text);
  free(text);
  json_decref(j);
}

static void send_status(lk_http_resp *resp, int code, const char *reason, const char *msg) {
  send_json(resp, code, json_pack("{sssss{}sssssssi}", "kind", "Status", "apiVersion", "v1", "metadata", "status",
                                  "Failure", "message", msg, "reason", reason, "code", code));
}

/* 404 with the message fmt… + " not found". */
static void not_found(lk_http_resp *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void not_found(lk_http_resp *resp, const char *fmt, ...) {
  lk_buf msg = {0};
  va_list ap;
  va_start(ap, fmt);
  lk_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  lk_buf_puts(&msg, " not found");
  send_status(resp, 404, "NotFound", (char *)msg.data);
  lk_buf_fini(&msg);
}

static json_t *group_json(const char *group, const char *gv) {
  return json_pack("{sssssss[{ssss}]s{ssss}}", "kind", "APIGroup", "apiVersion", "v1", "name", group, "versions",
                   "groupVersion", gv, "version", "v1beta1", "preferredVersion", "groupVersion", gv, "version",
                   "v1beta1");
}

static json_t *resource(const char *name, bool namespaced, const char *kind, bool list) {
  return json_pack("{sssssbsss[s*s*]}", "name", name, "singularName", "", "namespaced", namespaced, "kind", kind,
                   "verbs", "get", list ? "list" : NULL);
}

static json_t *resource_list(const char *gv, json_t *resources) {
  return json_pack("{ssssssso}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv, "resources",
                   resources);
}

/* ---- selectors ---- */

/* The labelSelector parameter; false (400 sent) when it does not parse. */
static bool selector_arg(const lk_http_req *req, lk_http_resp *resp, orch_selector **out) {
  lk_diag d = {0};
  if (orch_selector_parse(lk_http_arg(req, "labelSelector"), out, &d) == 0)
    return true;
  send_status(resp, 400, "BadRequest", d.msg);
  return false;
}

/* ---- metrics.k8s.io ---- */

static json_t *usage_json(const orch_usage *u) {
  char cpu[32], mem[32];
  snprintf(cpu, sizeof cpu, "%lldn", u->has_cpu ? (long long)llround(u->cpu_cores * 1e9) : 0LL);
  snprintf(mem, sizeof mem, "%lldKi", u->has_memory ? (long long)llround(u->memory_bytes / 1024.0) : 0LL);
  return json_pack("{ssss}", "cpu", cpu, "memory", mem);
}

static const char *label(const orch_usage *u, const char *name) {
  const char *v = lk_labels_get(u->labels, u->nlabels, name);
  return v ? v : "";
}

/* One PodMetrics from the rows [i, j) of the same pod. */
static json_t *pod_metrics(const orch_usage_set *s, size_t i, size_t j) {
  char ts[40];
  lk_time_rfc3339(s->v[i].ts_ms, ts, sizeof ts);
  json_t *cts = json_array();
  for (size_t k = i; k < j; k++)
    json_array_append_new(cts, json_pack("{ssso}", "name", label(&s->v[k], "container"), "usage", usage_json(&s->v[k])));
  return json_pack("{sssss{ssssss}ssssso}", "kind", "PodMetrics", "apiVersion", metrics_gv, "metadata", "name",
                   label(&s->v[i], "pod"), "namespace", label(&s->v[i], "namespace"), "creationTimestamp", ts,
                   "timestamp", ts, "window", WINDOW_TEXT, "containers", cts);
}

static bool same_pod(const orch_usage *a, const orch_usage *b) {
  return !strcmp(label(a, "namespace"), label(b, "namespace")) && !strcmp(label(a, "pod"), label(b, "pod"));
}

/* PodMetrics of every pod with a row the selector keeps (all its rows). */
static json_t *pod_items(const orch_usage_set *s, const orch_selector *sel) {
  json_t *items = json_array();
  for (size_t i = 0; i < s->n;) {
    size_t j = i;
    bool keep = false;
    for (; j < s->n && same_pod(&s->v[i], &s->v[j]); j++)
      keep |= orch_selector_matches(sel, s->v[j].labels, s->v[j].nlabels);
    if (keep)
      json_array_append_new(items, pod_metrics(s, i, j));
    i = j;
  }
  return items;
}

static json_t *node_metrics(const orch_usage *u) {
  char ts[40];
  lk_time_rfc3339(u->ts_ms, ts, sizeof ts);
  return json_pack("{sssss{ssss}ssssso}", "kind", "NodeMetrics", "apiVersion", metrics_gv, "metadata", "name",
                   label(u, "node"), "creationTimestamp", ts, "timestamp", ts, "window", WINDOW_TEXT, "usage",
                   usage_json(u));
}

static json_t *list_json(const char *kind, json_t *items) {
  return json_pack("{sssss{}so}", "kind", kind, "apiVersion", metrics_gv, "metadata", "items", items);
}

/* /pods, /namespaces/<ns>/pods, /namespaces/<ns>/pods/<name> */
static void pods(web_server *w, const lk_http_req *req, lk_http_resp *resp, const char *ns, const char *name) {
  orch_selector *sel;
  if (!selector_arg(req, resp, &sel))
    return;
  orch_usage_set s;
  lk_diag d = {0};
  if (orch_container_usage(w->db, ns, name, lk_now_ms(), WINDOW_MS, &s, &d)) {
    orch_selector_free(sel);
    send_status(resp, 500, "InternalError", d.msg);
    return;
  }
  json_t *items = pod_items(&s, sel);
  if (!name) {
    send_json(resp, 200, list_json("PodMetricsList", items));
  } else if (json_array_size(items) == 1) {
    send_json(resp, 200, json_incref(json_array_get(items, 0)));
    json_decref(items);
  } else {
    not_found(resp, "podmetrics.metrics.k8s.io \"%s/%s\"", ns, name);
    json_decref(items);
  }
  orch_usage_set_free(&s);
  orch_selector_free(sel);
}

static void nodes(web_server *w, const lk_http_req *req, lk_http_resp *resp, const char *name) {
  orch_selector *sel;
  if (!selector_arg(req, resp, &sel))
    return;
  orch_usage_set s;
  lk_diag d = {0};
  if (orch_node_usage(w->db, name, lk_now_ms(), WINDOW_MS, &s, &d)) {
    orch_selector_free(sel);
    send_status(resp, 500, "InternalError", d.msg);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; i < s.n; i++)
    if (orch_selector_matches(sel, s.v[i].labels, s.v[i].nlabels))
      json_array_append_new(items, node_metrics(&s.v[i]));
  if (!name) {
    send_json(resp, 200, list_json("NodeMetricsList", items));
  } else if (json_array_size(items) == 1) {
    send_json(resp, 200, json_incref(json_array_get(items, 0)));
    json_decref(items);
  } else {
    not_found(resp, "nodemetrics.metrics.k8s.io \"%s\"", name);
    json_decref(items);
  }
  orch_usage_set_free(&s);
  orch_selector_free(sel);
}

/* Splits "a/b/c" into at most max parts (in place; a trailing '/' ignored). */
static size_t split(char *s, char **parts, size_t max) {
  size_t n = 0;
  for (char *p = s; *p && n < max;) {
    parts[n++] = p;
    char *slash = strchr(p, '/');
    if (!slash)
      break;
    *slash = '\0';
    p = slash + 1;
  }
  if (n && !*parts[n - 1])
    n--;
  return n;
}

void web__k8s_metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp) {
  web_server *w = ctx;
  char path[512], *p[6];
  snprintf(path, sizeof path, "%s", lk_http_path_param(req));
  size_t n = split(path, p, 6);
  if (n == 0) {
    send_json(resp, 200, group_json("metrics.k8s.io", metrics_gv));
  } else if (strcmp(p[0], "v1beta1")) {
    not_found(resp, "version \"%s\"", p[0]);
  } else if (n == 1) {
    send_json(resp, 200, resource_list(metrics_gv, json_pack("[oo]", resource("nodes", false, "NodeMetrics", true),
                                                              resource("pods", true, "PodMetrics", true))));
  } else if (!strcmp(p[1], "pods") && n == 2) {
    pods(w, req, resp, NULL, NULL);
  } else if (!strcmp(p[1], "nodes") && n <= 3) {
    nodes(w, req, resp, n == 3 ? p[2] : NULL);
  } else if (!strcmp(p[1], "namespaces") && n >= 4 && n <= 5 && !strcmp(p[3], "pods")) {
    pods(w, req, resp, p[2], n == 5 ? p[4] : NULL);
  } else {
    not_found(resp, "resource \"%s\"", lk_http_path(req));
  }
}

/* ---- external.metrics.k8s.io ---- */

static json_t *external_item(const char *metric, const orch_value *v) {
  char ts[40], q[48];
  lk_time_rfc3339(v->ts_ms, ts, sizeof ts);
  orch_quantity_string(v->value, q, sizeof q);
  json_t *labels = json_object();
  for (size_t i = 0; i < v->nlabels; i++)
    if (strcmp(v->labels[i].name, "__name__"))
      json_object_set_new(labels, v->labels[i].name, json_string(v->labels[i].value));
  return json_pack("{sssosssiss}", "metricName", metric, "metricLabels", labels, "timestamp", ts, "window",
                   WINDOW_MS / 1000, "value", q);
}

static void external_values(web_server *w, const lk_http_req *req, lk_http_resp *resp, const char *metric) {
  const orch_external_metric *m = orch_external_find(w->external, w->nexternal, metric);
  if (!m) {
    not_found(resp, "external metric \"%s\" (not in the config's external_metrics)", metric);
    return;
  }
  orch_selector *sel;
  if (!selector_arg(req, resp, &sel))
    return;
  orch_value_set vs;
  lk_diag d = {0};
  if (orch_query_values(w->db, m->query, sel, lk_now_ms(), &vs, &d)) {
    orch_selector_free(sel);
    send_status(resp, 500, "InternalError", d.msg);
    return;
  }
  json_t *items = json_array();
  for (size_t i = 0; i < vs.n; i++)
    if (!isnan(vs.v[i].value))
      json_array_append_new(items, external_item(metric, &vs.v[i]));
  send_json(resp, 200, json_pack("{sssss{}so}", "kind", "ExternalMetricValueList", "apiVersion", external_gv,
                                 "metadata", "items", items));
  orch_value_set_free(&vs);
  orch_selector_free(sel);
}

void web__k8s_external_metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp) {
  web_server *w = ctx;
  char path[512], *p[5];
  snprintf(path, sizeof path, "%s", lk_http_path_param(req));
  size_t n = split(path, p, 5);
  if (n == 0) {
    send_json(resp, 200, group_json("external.metrics.k8s.io", external_gv));
  } else if (strcmp(p[0], "v1beta1")) {
    not_found(resp, "version \"%s\"", p[0]);
  } else if (n == 1) {
    json_t *rs = json_array();
    for (size_t i = 0; i < w->nexternal; i++)
      json_array_append_new(rs, resource(w->external[i].name, true, "ExternalMetricValueList", false));
    send_json(resp, 200, resource_list(external_gv, rs));
  } else if (n == 4 && !strcmp(p[1], "namespaces")) {
    external_values(w, req, resp, p[3]);
  } else {
    not_found(resp, "resource \"%s\"", lk_http_path(req));
  }
}
