/* api_k8s.c — the Kubernetes resource paths on the orchestrator:
 *   /api/v1/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]
 *   /apis/<group>/<version>/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]
 * with GET (get, list with labelSelector/fieldSelector/limit/continue,
 * ?watch), POST (create), PUT (update), PATCH (merge, strategic, JSON) and
 * DELETE (propagationPolicy, gracePeriodSeconds from the query or a
 * DeleteOptions body); subresources scale, status and pods' log.
 * autoscaling/v1 HPAs are converted on the way in and out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"
#include "web/api_k8s.h"

/*---- answers ----*/

void web__k8s_json(lk_http_resp *resp, int status, json_t *v)
{
  char *text = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  resp->status = status;
  resp->content_type = "application/json";
  lk_buf_clear(&resp->body);
  lk_buf_puts(&resp->body, text ? text : "{}");
  free(text);
}

void web__k8s_fail(lk_http_resp *resp, const orch_err *e, const web_k8s_req *k)
{
  web__k8s_json(resp, e->http ? e->http : 500, orch_err_status(e, k ? k->res : NULL, k ? k->name : NULL));
}

void web__k8s_status(lk_http_resp *resp, int code, const char *reason, const char *fmt, ...)
{
  orch_err e = {.http = code, .reason = reason};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.msg, sizeof e.msg, fmt, ap);
  va_end(ap);
  web__k8s_fail(resp, &e, NULL);
}

json_t *web__k8s_out(const web_k8s_req *k, const json_t *obj)
{
  return k->hpa_v1 ? orch_hpa_v2_to_v1(obj) : json_incref((json_t *)obj);
}

/*---- paths ----*/

static size_t split(char *path, char **seg, size_t max)
{
  size_t n = 0;
  for (char *tok = strtok(path, "/"); tok && n < max; tok = strtok(NULL, "/"))
    seg[n++] = tok;
  return n;
}

static bool copy_seg(char *dst, size_t n, const char *src)
{
  if (strlen(src) >= n)
    return false;
  memcpy(dst, src, strlen(src) + 1);
  return true;
}

/* Parse the segments after the group version; false → 404. */
static bool parse_resource(const char *group, char **seg, size_t n, web_k8s_req *k)
{
  size_t i = 0;
  if (n >= 3 && !strcmp(seg[0], "namespaces")) {
    const orch_resource *r = orch_resource_find(group, seg[2]);
    if (r && r->namespaced) {
      if (!copy_seg(k->ns, sizeof k->ns, seg[1]))
        return false;
      i = 2;
    }
  }
  if (i >= n)
    return false;
  k->res = orch_resource_find(group, seg[i]);
  if (!k->res || (k->ns[0] && !k->res->namespaced))
    return false;
  if (i + 1 < n && !copy_seg(k->name, sizeof k->name, seg[i + 1]))
    return false;
  if (i + 2 < n && !copy_seg(k->sub, sizeof k->sub, seg[i + 2]))
    return false;
  return i + 3 >= n;
}

static bool version_served(const orch_resource *r, const char *v)
{
  for (size_t i = 0; r->versions[i]; i++)
    if (!strcmp(r->versions[i], v))
      return true;
  return false;
}

/* Resource path → k; false when the path names nothing served. */
static bool parse_path(const char *path, web_k8s_req *k)
{
  char buf[1024];
  if (!copy_seg(buf, sizeof buf, path))
    return false;
  char *seg[16];
  size_t n = split(buf, seg, 16);
  memset(k, 0, sizeof *k);
  if (n >= 3 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1")) {
    k->version = "v1";
    return parse_resource("", seg + 2, n - 2, k);
  }
  if (n >= 4 && !strcmp(seg[0], "apis")) {
    static const char *const versions[] = {"v1", "v2"};
    for (size_t i = 0; i < 2; i++)
      if (!strcmp(seg[2], versions[i]))
        k->version = versions[i];
    if (!k->version || !parse_resource(seg[1], seg + 3, n - 3, k) || !version_served(k->res, k->version))
      return false;
    k->hpa_v1 = k->res->kind == ORCH_HPA && !strcmp(k->version, "v1");
    return true;
  }
  return false;
}

/*---- bodies ----*/

static json_t *body_json(const lk_http_req *req, lk_http_resp *resp)
{
  const char *ct = lk_http_header(req, "Content-Type");
  if (ct && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
    web__k8s_status(resp, 415, "UnsupportedMediaType", "protobuf bodies are not accepted here; send application/json");
    return NULL;
  }
  if (ct && strncmp(ct, "application/json", 16) && orch_patch_type_of(ct) < 0) {
    web__k8s_status(resp, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json (got %s)", ct);
    return NULL;
  }
  size_t len;
  const uint8_t *b = lk_http_body(req, &len);
  json_error_t je;
  json_t *v = json_loadb((const char *)b, len, 0, &je);
  if (!v)
    web__k8s_status(resp, 400, "BadRequest", "the request body is not JSON: %s (line %d, column %d)", je.text, je.line,
                    je.column);
  return v;
}

/* The body in the storage version (autoscaling/v1 HPAs converted). */
static json_t *body_object(const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  const char *ct = lk_http_header(req, "Content-Type");
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  json_t *v = ct && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35) ? web__k8s_proto_decode(k, body, len, resp)
                                                                            : body_json(req, resp);
  if (v && k->hpa_v1) {
    json_t *v2 = orch_hpa_v1_to_v2(v);
    json_decref(v);
    v = v2;
  }
  return v;
}

/* dryRun=All: checked, answered, not stored. */
static unsigned dry_run(const lk_http_req *req)
{
  const char *v = lk_http_arg(req, "dryRun");
  return v && !strcmp(v, "All") ? ORCH_DRY_RUN : ORCH_MAIN;
}

static unsigned part(const lk_http_req *req, const web_k8s_req *k)
{
  return dry_run(req) | (!strcmp(k->sub, "status") ? ORCH_STATUS : ORCH_MAIN);
}

/*---- collection ----*/

static void list_objects(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  orch_list_opts lo = {.ns = k->ns[0] ? k->ns : NULL, .label_selector = lk_http_arg(req, "labelSelector"),
                       .field_selector = lk_http_arg(req, "fieldSelector")};
  json_t *items = NULL;
  uint64_t rv = 0;
  orch_err e = {0};
  if (orch_list(w->orch, k->res->kind, &lo, &items, &rv, &e)) {
    web__k8s_fail(resp, &e, k);
    orch_err_fini(&e);
    return;
  }
  const char *limit_s = lk_http_arg(req, "limit"), *cont = lk_http_arg(req, "continue");
  size_t from = cont ? strtoul(cont, NULL, 10) : 0, limit = limit_s ? strtoul(limit_s, NULL, 10) : 0;
  json_t *page = json_array();
  size_t total = json_array_size(items);
  for (size_t i = from; i < total && (!limit || i < from + limit); i++)
    json_array_append_new(page, web__k8s_out(k, json_array_get(items, i)));
  json_decref(items);
  char rvs[32], next[32];
  snprintf(rvs, sizeof rvs, "%llu", (unsigned long long)rv);
  json_t *meta = json_pack("{s:s}", "resourceVersion", rvs);
  if (limit && from + limit < total) {
    snprintf(next, sizeof next, "%zu", from + limit);
    json_object_set_new(meta, "continue", json_string(next));
    json_object_set_new(meta, "remainingItemCount", json_integer((json_int_t)(total - from - limit)));
  }
  if (web__k8s_wants_table(req)) {
    json_t *t = web__k8s_table(k->res, page, rvs);
    if (json_object_get(meta, "continue"))
      json_object_set(json_object_get(t, "metadata"), "continue", json_object_get(meta, "continue"));
    json_decref(meta);
    json_decref(page);
    web__k8s_json(resp, 200, t);
    return;
  }
  char kind[64], av[64];
  snprintf(kind, sizeof kind, "%sList", k->res->kind_name);
  snprintf(av, sizeof av, "%s%s%s", k->res->group, *k->res->group ? "/" : "", k->version);
  web__k8s_json(resp, 200, json_pack("{s:s, s:s, s:o, s:o}", "kind", kind, "apiVersion", av, "metadata", meta, "items",
                                     page));
}

static void create_object(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  json_t *obj = body_object(req, k, resp);
  if (!obj)
    return;
  json_t *out = NULL;
  orch_err e = {0};
  if (orch_create(w->orch, k->res->kind, k->ns, obj, dry_run(req), &out, &e)) {
    web_k8s_req named = *k;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    snprintf(named.name, sizeof named.name, "%s", name ? name : "");
    web__k8s_fail(resp, &e, &named);
  }
  else {
    web__k8s_json(resp, 201, web__k8s_out(k, out));
  }
  json_decref(out);
  json_decref(obj);
  orch_err_fini(&e);
}

/*---- one object ----*/

static json_t *scale_of(const json_t *obj)
{
  lk_buf b = {0};
  web__k8s_match_labels(json_object_get(json_object_get(obj, "spec"), "selector"), &b);
  lk_buf_putc(&b, 0);
  const json_t *meta = json_object_get(obj, "metadata");
  json_t *s = json_pack("{s:s, s:s, s:{s:O*, s:O*, s:O*, s:O*, s:O*}, s:{s:O*}, s:{s:O*, s:s}}", "kind", "Scale",
                        "apiVersion", "autoscaling/v1", "metadata", "name", json_object_get(meta, "name"), "namespace",
                        json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"), "resourceVersion",
                        json_object_get(meta, "resourceVersion"), "creationTimestamp",
                        json_object_get(meta, "creationTimestamp"), "spec", "replicas",
                        json_object_get(json_object_get(obj, "spec"), "replicas"), "status", "replicas",
                        json_object_get(json_object_get(obj, "status"), "replicas"), "selector", (char *)b.data);
  if (!json_object_get(json_object_get(s, "status"), "replicas"))
    json_object_set_new(json_object_get(s, "status"), "replicas", json_integer(0));
  lk_buf_fini(&b);
  return s;
}

/* PUT or PATCH of a Scale: the new spec.replicas and the resourceVersion to check. */
static void write_scale(web_server *w, const lk_http_req *req, const web_k8s_req *k, const json_t *current,
                        lk_http_resp *resp)
{
  json_t *body = body_json(req, resp);
  if (!body)
    return;
  json_t *scale = NULL;
  orch_err e = {0};
  const char *method = lk_http_method(req);
  if (!strcmp(method, "PATCH")) {
    int t = orch_patch_type_of(lk_http_header(req, "Content-Type"));
    json_t *cur = scale_of(current);
    scale = t == ORCH_PATCH_MERGE || t == ORCH_PATCH_STRATEGIC ? json_pack("{s:O}", "spec", json_object_get(body, "spec"))
                                                                : NULL;
    if (scale) {
      json_t *merged = json_deep_copy(cur);
      json_t *spec = json_object_get(merged, "spec");
      json_object_update(spec, json_object_get(scale, "spec"));
      json_decref(scale);
      scale = merged;
    }
    json_decref(cur);
  } else {
    scale = json_incref(body);
  }
  json_t *replicas = json_object_get(json_object_get(scale, "spec"), "replicas");
  json_t *out = NULL;
  if (!json_is_integer(replicas)) {
    web__k8s_status(resp, scale ? 422 : 415, scale ? "Invalid" : "UnsupportedMediaType",
                    scale ? "Scale.autoscaling \"%s\" is invalid: spec.replicas: Required value"
                          : "the /scale subresource takes merge and strategic merge patches (%s)",
                    k->name);
  } else if (orch_scale(w->orch, k->res->kind, k->ns, k->name, json_integer_value(replicas),
                        json_string_value(json_object_get(json_object_get(scale, "metadata"), "resourceVersion")), &out,
                        &e)) {
    web__k8s_fail(resp, &e, k);
  } else {
    web__k8s_json(resp, 200, scale_of(out));
  }
  json_decref(out);
  json_decref(scale);
  json_decref(body);
  orch_err_fini(&e);
}

static void get_object(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  json_t *obj = NULL;
  orch_err e = {0};
  if (orch_get(w->orch, k->res->kind, k->ns, k->name, &obj, &e)) {
    web__k8s_fail(resp, &e, k);
  } else if (!strcmp(k->sub, "scale")) {
    web__k8s_json(resp, 200, scale_of(obj));
  } else if (web__k8s_wants_table(req)) {
    json_t *one = json_array();
    json_array_append_new(one, web__k8s_out(k, obj));
    const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    web__k8s_json(resp, 200, web__k8s_table(k->res, one, rv));
    json_decref(one);
  } else {
    web__k8s_json(resp, 200, web__k8s_out(k, obj));
  }
  json_decref(obj);
  orch_err_fini(&e);
}

static void update_object(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  json_t *obj = body_object(req, k, resp);
  if (!obj)
    return;
  json_t *out = NULL;
  orch_err e = {0};
  if (orch_update(w->orch, k->res->kind, k->ns, k->name, obj, part(req, k), &out, &e))
    web__k8s_fail(resp, &e, k);
  else
    web__k8s_json(resp, 200, web__k8s_out(k, out));
  json_decref(out);
  json_decref(obj);
  orch_err_fini(&e);
}

static void patch_object(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  const char *ct = lk_http_header(req, "Content-Type");
  int t = orch_patch_type_of(ct);
  if (t < 0) {
    web__k8s_status(resp, 415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, "
                    "application/strategic-merge-patch+json (got %s)", ct ? ct : "none");
    return;
  }
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  json_t *out = NULL;
  orch_err e = {0};
  if (orch_patch(w->orch, k->res->kind, k->ns, k->name, (enum orch_patch_type)t, (const char *)body, len,
                 part(req, k), k->hpa_v1, &out, &e))
    web__k8s_fail(resp, &e, k);
  else
    web__k8s_json(resp, 200, web__k8s_out(k, out));
  json_decref(out);
  orch_err_fini(&e);
}

static void delete_object(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  const char *policy = lk_http_arg(req, "propagationPolicy");
  const char *grace_s = lk_http_arg(req, "gracePeriodSeconds");
  int64_t grace = grace_s ? strtoll(grace_s, NULL, 10) : -1;
  size_t len;
  lk_http_body(req, &len);
  json_t *opts = len ? body_json(req, resp) : NULL;
  if (len && !opts)
    return;
  if (json_is_string(json_object_get(opts, "propagationPolicy")))
    policy = json_string_value(json_object_get(opts, "propagationPolicy"));
  if (json_is_integer(json_object_get(opts, "gracePeriodSeconds")))
    grace = json_integer_value(json_object_get(opts, "gracePeriodSeconds"));
  if (json_is_true(json_object_get(opts, "orphanDependents")))
    policy = "Orphan";
  json_t *out = NULL;
  orch_err e = {0};
  if (orch_delete(w->orch, k->res->kind, k->ns, k->name, policy, grace, &out, &e)) {
    web__k8s_fail(resp, &e, k);
  } else if (k->res->kind == ORCH_POD) {
    web__k8s_json(resp, 200, web__k8s_out(k, out));
  } else {
    json_t *details = json_pack("{s:s, s:s, s:O*}", "name", k->name, "kind", k->res->plural, "uid",
                                json_object_get(json_object_get(out, "metadata"), "uid"));
    if (*k->res->group)
      json_object_set_new(details, "group", json_string(k->res->group));
    web__k8s_json(resp, 200, json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1", "metadata",
                                       "status", "Success", "details", details));
  }
  json_decref(out);
  json_decref(opts);
  orch_err_fini(&e);
}

static bool is_watch(const lk_http_req *req)
{
  const char *w = lk_http_arg(req, "watch");
  return w && (!strcmp(w, "1") || !strcmp(w, "true"));
}

static void serve_named(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  const char *m = lk_http_method(req);
  bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
  bool scale = !strcmp(k->sub, "scale"), status = !strcmp(k->sub, "status"), log = !strcmp(k->sub, "log");
  if ((scale && !k->res->scale) || (log && k->res->kind != ORCH_POD) || (k->sub[0] && !scale && !status && !log)) {
    web__k8s_status(resp, 404, "NotFound", "the server could not find the requested resource");
    return;
  }
  if (log) {
    if (get)
      web__k8s_pod_log(w, req, k, resp);
    else
      web__k8s_status(resp, 405, "MethodNotAllowed", "pods/log only answers GET");
    return;
  }
  if (get) {
    get_object(w, req, k, resp);
  } else if (scale && (!strcmp(m, "PUT") || !strcmp(m, "PATCH"))) {
    json_t *cur = NULL;
    orch_err e = {0};
    if (orch_get(w->orch, k->res->kind, k->ns, k->name, &cur, &e))
      web__k8s_fail(resp, &e, k);
    else
      write_scale(w, req, k, cur, resp);
    json_decref(cur);
    orch_err_fini(&e);
  } else if (!strcmp(m, "PUT")) {
    update_object(w, req, k, resp);
  } else if (!strcmp(m, "PATCH")) {
    patch_object(w, req, k, resp);
  } else if (!strcmp(m, "DELETE") && !k->sub[0]) {
    delete_object(w, req, k, resp);
  } else {
    web__k8s_status(resp, 405, "MethodNotAllowed", "method %s is not allowed here", m);
  }
}

/* /api/v1/nodes[/<name>]: this node, read-only (for kubectl get/top nodes). */
static void serve_node(web_server *w, const lk_http_req *req, const char *rest, lk_http_resp *resp)
{
  json_t *node = orch_node(w->orch);
  const char *name = json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
  json_t *items = json_array();
  if (!*rest || (rest[1] && !strcmp(rest + 1, name)))
    json_array_append(items, node);
  if (*rest && !json_array_size(items)) {
    web__k8s_status(resp, 404, "NotFound", "nodes \"%s\" not found", rest + 1);
  } else if (web__k8s_wants_table(req)) {
    web__k8s_json(resp, 200, web__k8s_node_table(items));
  } else if (*rest) {
    web__k8s_json(resp, 200, json_incref(node));
  } else {
    web__k8s_json(resp, 200, json_pack("{s:s, s:s, s:{s:s}, s:O}", "kind", "NodeList", "apiVersion", "v1", "metadata",
                                       "resourceVersion", "1", "items", items));
  }
  json_decref(items);
  json_decref(node);
}

void web__k8s(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  const char *path = lk_http_path(req);
  if (web__k8s_discovery(path, resp))
    return;
  if (!w->orch) {
    web__k8s_status(resp, 503, "ServiceUnavailable", "the orchestrator is not running in this server");
    return;
  }
  if (!strncmp(path, "/api/v1/nodes", 13) && (!path[13] || path[13] == '/')) {
    serve_node(w, req, path + 13, resp);
    return;
  }
  web_k8s_req k;
  if (!parse_path(path, &k)) {
    web__k8s_status(resp, 404, "NotFound", "the server could not find the requested resource");
    return;
  }
  const char *m = lk_http_method(req);
  const char *dry = lk_http_arg(req, "dryRun");
  if (dry && (strcmp(dry, "All") || !strcmp(m, "DELETE") || !strcmp(k.sub, "scale"))) {
    web__k8s_status(resp, 400, "BadRequest", "dryRun=All is supported for create, update and patch only; nothing "
                    "was changed");
    return;
  }
  if (k.name[0]) {
    serve_named(w, req, &k, resp);
  } else if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
    if (is_watch(req))
      web__k8s_watch(w, req, &k, resp);
    else
      list_objects(w, req, &k, resp);
  } else if (!strcmp(m, "POST")) {
    if (k.res->namespaced && !k.ns[0])
      web__k8s_status(resp, 405, "MethodNotAllowed", "create %s in a namespace: POST .../namespaces/<ns>/%s",
                      k.res->plural, k.res->plural);
    else
      create_object(w, req, &k, resp);
  } else {
    web__k8s_status(resp, 405, "MethodNotAllowed", "method %s is not allowed on a collection", m);
  }
}
