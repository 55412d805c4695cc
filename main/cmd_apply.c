/* cmd_apply.c — `lookout apply -f FILE.yaml`: create or update every
 * document of a (multi-document) manifest through the server's Kubernetes
 * API, as `kubectl apply` would: GET; absent → POST; present → a strategic
 * merge patch with the document. Prints "<kind>.<group>/<name>
 * created|configured|unchanged" per object; the first refusal is printed
 * with the server's message and the exit status is 1. Every document is
 * checked for apiVersion/kind/name before anything is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_fs.h"
#include "lib/lk_yaml.h"
#include "main/cmd.h"
#include "main/kube.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: lookout apply -f FILE.yaml [--server URL] [--token-file FILE] [-n NS]\n\n"
             "Creates or updates the objects of a Kubernetes manifest (Deployment,\n"
             "ReplicaSet, Pod, Namespace, HorizontalPodAutoscaler; several documents\n"
             "separated by ---).\n\n%s", kube_flags_help);
}

/* The resource of a document from apiVersion and kind; NULL + message. */
static const orch_resource *doc_resource(const json_t *doc, const char **version, char *err, size_t n)
{
  const char *av = json_string_value(json_object_get(doc, "apiVersion"));
  const char *kind = json_string_value(json_object_get(doc, "kind"));
  const orch_resource *r = orch_resource_of(av, kind, version);
  if (!av || !kind)
    snprintf(err, n, "apiVersion and kind are required");
  else if (!r)
    snprintf(err, n, "no matches for kind \"%s\" in version \"%s\"", kind, av);
  return r;
}

static const char *object_ref(const orch_resource *r, const char *name, char *out, size_t n)
{
  snprintf(out, n, "%s%s%s/%s", r->singular, *r->group ? "." : "", r->group, name);
  return out;
}

static int apply_doc(const kube *k, const json_t *doc, const orch_resource *r, const char *version)
{
  const char *name = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
  const char *ns = json_string_value(json_object_get(json_object_get(doc, "metadata"), "namespace"));
  char coll[512], item[1024], ref[512];
  kube_path(r, version, ns ? ns : k->ns, coll, sizeof coll);
  snprintf(item, sizeof item, "%s/%s", coll, name);
  char *body = json_dumps(doc, JSON_COMPACT);
  json_t *cur = NULL, *ans = NULL;
  int st = 0, rc = kube_call(k, "GET", item, NULL, NULL, NULL, &cur, &st);
  const char *what = NULL;
  if (!rc && st == 404) {
    rc = kube_call(k, "POST", coll, "application/json", body, NULL, &ans, &st);
    what = "created";
  } else if (!rc && st == 200) {
    rc = kube_call(k, "PATCH", item, "application/strategic-merge-patch+json", body, NULL, &ans, &st);
    const char *before = json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    const char *after = json_string_value(json_object_get(json_object_get(ans, "metadata"), "resourceVersion"));
    what = before && after && !strcmp(before, after) ? "unchanged" : "configured";
  }
  free(body);
  if (!rc && (st == 200 || st == 201))
    printf("%s %s\n", object_ref(r, name, ref, sizeof ref), what);
  else if (!rc)
    fprintf(stderr, "lookout apply: %s: %s\n", object_ref(r, name, ref, sizeof ref), kube_message(ans ? ans : cur));
  bool ok = !rc && (st == 200 || st == 201);
  json_decref(cur);
  json_decref(ans);
  return ok ? 0 : 1;
}

int kube_apply_text(const kube *k, const char *text, size_t len, const char *name)
{
  lk_yaml *y = NULL;
  lk_diag d = {0};
  if (lk_yaml_parse(text, len, name, &y, &d)) {
    fprintf(stderr, "lookout apply: %s\n", d.msg);
    return 1;
  }
  size_t ndocs = lk_yaml_ndocs(y);
  json_t *docs = json_array();
  const orch_resource **res = calloc(ndocs + 1, sizeof *res);
  const char **versions = calloc(ndocs + 1, sizeof *versions);
  int rc = 0;
  for (size_t i = 0; i < ndocs && !rc; i++) { /* check everything before sending anything */
    const lk_ynode *n = lk_yaml_doc(y, i);
    json_t *doc = NULL;
    char err[256];
    if (lk_ynode_kind(n) == LK_YNULL)
      continue;
    if (lk_ynode_to_json(y, n, &doc, &d)) {
      fprintf(stderr, "lookout apply: %s\n", d.msg);
      rc = 1;
    } else if (!json_is_object(doc) || !(res[json_array_size(docs)] = doc_resource(doc, &versions[json_array_size(docs)], err, sizeof err))) {
      lk_yaml_err(y, n, &d, LK_EINVAL, "%s", json_is_object(doc) ? err : "a document must be a mapping");
      fprintf(stderr, "lookout apply: %s\n", d.msg);
      rc = 1;
    } else if (!json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"))) {
      lk_yaml_err(y, n, &d, LK_EINVAL, "metadata.name is required");
      fprintf(stderr, "lookout apply: %s\n", d.msg);
      rc = 1;
    }
    if (!rc)
      json_array_append(docs, doc);
    json_decref(doc);
  }
  size_t i;
  json_t *doc;
  json_array_foreach(docs, i, doc) if (!rc) rc = apply_doc(k, doc, res[i], versions[i]);
  json_decref(docs);
  free(res);
  free(versions);
  lk_yaml_free(y);
  return rc;
}

int cmd_apply(int argc, char **argv)
{
  kube k = {0};
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    int taken = kube_flag(&k, argc, argv, &i);
    if (taken < 0 || (!taken && (strcmp(argv[i], "-f") && strcmp(argv[i], "--filename") && strcmp(argv[i], "--help") &&
                                 strcmp(argv[i], "-h")))) {
      usage(stderr);
      return 2;
    }
    if (!taken && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
      usage(stdout);
      return 0;
    }
    if (!taken && i + 1 < argc)
      file = argv[++i];
  }
  if (!file) {
    usage(stderr);
    return 2;
  }
  kube_init(&k);
  char *text;
  size_t len;
  lk_diag d = {0};
  if (lk_read_file(file, 64u << 20, &text, &len, &d)) {
    fprintf(stderr, "lookout apply: %s\n", d.msg);
    return 1;
  }
  int rc = kube_apply_text(&k, text, len, file);
  free(text);
  return rc;
}
