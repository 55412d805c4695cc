/* api_k8s_discovery.c — what kubectl reads before anything else: /version,
 * /api (APIVersions), /api/v1 and /apis/<group>/<version>
 * (APIResourceList with verbs, shortNames, categories, singularName and
 * the subresources), /apis (APIGroupList) and /apis/<group> (APIGroup).
 * kubectl 1.32 first asks for the aggregated discovery document
 * (apidiscovery.k8s.io/v2); a plain application/json answer makes it fall
 * back to these legacy documents, which is what is served. OpenAPI v3 is
 * served only as far as kubectl's field validation needs it (see
 * openapi_group_version).
 */
#include <string.h>

#include "lk_version.h"
#include "web/api_k8s.h"

static json_t *verbs(bool sub_only)
{
  return sub_only ? json_pack("[s, s, s]", "get", "patch", "update")
                  : json_pack("[s, s, s, s, s, s, s]", "create", "delete", "get", "list", "patch", "update", "watch");
}

static json_t *resource_entry(const orch_resource *r)
{
  json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:o, s:[s]}", "name", r->plural, "singularName", r->singular,
                        "namespaced", r->namespaced, "kind", r->kind_name, "verbs", verbs(false), "shortNames",
                        r->short_name);
  if (r->kind != ORCH_NAMESPACE)
    json_object_set_new(e, "categories", json_pack("[s]", "all"));
  return e;
}

static json_t *sub_entry(const orch_resource *r, const char *sub, const char *kind, const char *group,
                         const char *version, bool get_only)
{
  json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", "", "singularName", "", "namespaced", r->namespaced,
                        "kind", kind, "verbs", get_only ? json_pack("[s]", "get") : verbs(true));
  char name[96];
  snprintf(name, sizeof name, "%s/%s", r->plural, sub);
  json_object_set_new(e, "name", json_string(name));
  if (group) {
    json_object_set_new(e, "group", json_string(group));
    json_object_set_new(e, "version", json_string(version));
  }
  return e;
}

static json_t *resource_list(const char *group, const char *version)
{
  json_t *list = json_array();
  size_t n;
  const orch_resource *rs = orch_resources(&n);
  for (size_t i = 0; i < n; i++) {
    const orch_resource *r = &rs[i];
    bool served = false;
    for (size_t v = 0; r->versions[v]; v++)
      served = served || !strcmp(r->versions[v], version);
    if (strcmp(r->group, group) || !served)
      continue;
    json_array_append_new(list, resource_entry(r));
    json_array_append_new(list, sub_entry(r, "status", r->kind_name, NULL, NULL, false));
    if (r->scale)
      json_array_append_new(list, sub_entry(r, "scale", "Scale", "autoscaling", "v1", false));
    if (r->kind == ORCH_POD)
      json_array_append_new(list, sub_entry(r, "log", "Pod", NULL, NULL, true));
  }
  if (!*group) /* this node, read-only (serve_node in api_k8s.c) */
    json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:s, s:[s, s], s:[s]}", "name", "nodes", "singularName",
                                          "node", "namespaced", 0, "kind", "Node", "verbs", "get", "list",
                                          "shortNames", "no"));
  char gv[64];
  snprintf(gv, sizeof gv, "%s%s%s", group, *group ? "/" : "", version);
  return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv,
                   "resources", list);
}

static json_t *group_entry(const char *group)
{
  json_t *versions = json_array();
  const char *preferred = NULL;
  size_t n;
  const orch_resource *rs = orch_resources(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(rs[i].group, group))
      continue;
    for (size_t v = 0; rs[i].versions[v]; v++) {
      char gv[64];
      snprintf(gv, sizeof gv, "%s/%s", group, rs[i].versions[v]);
      bool seen = false;
      size_t j;
      json_t *x;
      json_array_foreach(versions, j, x) seen = seen || !strcmp(json_string_value(json_object_get(x, "groupVersion")), gv);
      if (!seen)
        json_array_append_new(versions, json_pack("{s:s, s:s}", "groupVersion", gv, "version", rs[i].versions[v]));
      if (!preferred)
        preferred = rs[i].versions[v];
    }
  }
  char gv[64];
  snprintf(gv, sizeof gv, "%s/%s", group, preferred ? preferred : "v1");
  return json_pack("{s:s, s:o, s:{s:s, s:s}}", "name", group, "versions", versions, "preferredVersion", "groupVersion",
                   gv, "version", preferred ? preferred : "v1");
}

static const char *const groups[] = {"apps", "autoscaling", NULL};

static bool known_group(const char *g)
{
  for (size_t i = 0; groups[i]; i++)
    if (!strcmp(groups[i], g))
      return true;
  return false;
}

bool web__k8s_discovery(const char *path, lk_http_resp *resp)
{
  if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
    web__k8s_json(resp, 200, json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                                       "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", ""));
    return true;
  }
  if (!strcmp(path, "/api/v1")) {
    web__k8s_json(resp, 200, resource_list("", "v1"));
    return true;
  }
  if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
    json_t *list = json_array();
    for (size_t i = 0; groups[i]; i++)
      json_array_append_new(list, group_entry(groups[i]));
    /* served by api_k8s_metrics.c, listed here so `kubectl top` finds them */
    json_array_append_new(list, web__k8s_metrics_group("metrics.k8s.io"));
    json_array_append_new(list, web__k8s_metrics_group("external.metrics.k8s.io"));
    web__k8s_json(resp, 200, json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", list));
    return true;
  }
  if (strncmp(path, "/apis/", 6))
    return false;
  char group[64], version[16];
  const char *g = path + 6, *slash = strchr(g, '/');
  size_t gl = slash ? (size_t)(slash - g) : strlen(g);
  if (gl >= sizeof group)
    return false;
  memcpy(group, g, gl);
  group[gl] = 0;
  if (!known_group(group))
    return false;
  if (!slash || !slash[1]) {
    json_t *e = group_entry(group);
    json_object_set_new(e, "kind", json_string("APIGroup"));
    json_object_set_new(e, "apiVersion", json_string("v1"));
    web__k8s_json(resp, 200, e);
    return true;
  }
  const char *v = slash + 1;
  if (strchr(v, '/') || strlen(v) >= sizeof version)
    return false;
  strcpy(version, v);
  json_t *list = resource_list(group, version);
  if (!json_array_size(json_object_get(list, "resources"))) {
    json_decref(list);
    return false;
  }
  web__k8s_json(resp, 200, list);
  return true;
}

void web__k8s_version(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web__k8s_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
                                     "gitVersion", "v1.32.0-lookout-" LOOKOUT_VERSION, "gitCommit", "", "gitTreeState",
                                     "clean", "buildDate", "", "goVersion", "", "compiler", "lookout", "platform",
                                     "linux/amd64"));
}

/*---- OpenAPI v3: only what kubectl's field validation asks ----*/

/* The group-version paths of the served resources ("api/v1", "apis/apps/v1", ...). */
static json_t *openapi_index(void)
{
  json_t *paths = json_object();
  size_t n;
  const orch_resource *rs = orch_resources(&n);
  for (size_t i = 0; i < n; i++)
    for (size_t v = 0; rs[i].versions[v]; v++) {
      char gv[64], url[96];
      if (*rs[i].group)
        snprintf(gv, sizeof gv, "apis/%s/%s", rs[i].group, rs[i].versions[v]);
      else
        snprintf(gv, sizeof gv, "api/%s", rs[i].versions[v]);
      snprintf(url, sizeof url, "/openapi/v3/%s", gv);
      json_object_set_new(paths, gv, json_pack("{s:s}", "serverRelativeURL", url));
    }
  return json_pack("{s:o}", "paths", paths);
}

/* One group-version's document: for each resource, its PATCH operation
 * tagged with the kind and the fieldValidation parameter. That tells
 * kubectl the server validates fields itself (strictly: unknown fields are
 * a 422), so `kubectl apply` needs no schema and no --validate=false. The
 * schemas are not published. */
static json_t *openapi_group_version(const char *group, const char *version)
{
  json_t *paths = json_object();
  size_t n;
  const orch_resource *rs = orch_resources(&n);
  for (size_t i = 0; i < n; i++) {
    bool served = false;
    for (size_t v = 0; rs[i].versions[v]; v++)
      served = served || !strcmp(rs[i].versions[v], version);
    if (strcmp(rs[i].group, group) || !served)
      continue;
    char path[256];
    if (*group)
      snprintf(path, sizeof path, "/apis/%s/%s/%s%s/{name}", group, version,
               rs[i].namespaced ? "namespaces/{namespace}/" : "", rs[i].plural);
    else
      snprintf(path, sizeof path, "/api/%s/%s%s/{name}", version, rs[i].namespaced ? "namespaces/{namespace}/" : "",
               rs[i].plural);
    json_t *op = json_pack("{s:{s:s, s:s, s:s}, s:s, s:[{s:s, s:s, s:{s:s}}], s:{s:{s:s}}}",
                           "x-kubernetes-group-version-kind", "group", group, "version", version, "kind",
                           rs[i].kind_name, "x-kubernetes-action", "patch", "parameters", "name", "fieldValidation",
                           "in", "query", "schema", "type", "string", "responses", "200", "description", "OK");
    json_object_set_new(paths, path, json_pack("{s:o}", "patch", op));
  }
  return json_pack("{s:s, s:{s:s, s:s}, s:o}", "openapi", "3.0.0", "info", "title", "Kubernetes", "version",
                   "v1.32.0", "paths", paths);
}

void web__k8s_openapi(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const char *path = lk_http_path(req);
  if (!strcmp(path, "/openapi/v3") || !strcmp(path, "/openapi/v3/")) {
    web__k8s_json(resp, 200, openapi_index());
    return;
  }
  char group[64] = "", version[16] = "";
  if (sscanf(path, "/openapi/v3/apis/%63[^/]/%15[^/]", group, version) == 2 ||
      sscanf(path, "/openapi/v3/api/%15[^/]", version) == 1) {
    json_t *doc = openapi_group_version(group, version);
    if (json_object_size(json_object_get(doc, "paths"))) {
      web__k8s_json(resp, 200, doc);
      return;
    }
    json_decref(doc);
  }
  web__k8s_status(resp, 404, "NotFound", "the server could not find the requested resource (only the OpenAPI v3 "
                  "index and its group-version documents are served)");
}
