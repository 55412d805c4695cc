/* store_manifest.c — the config's orchestrator.manifests: YAML files
 * (globs, several documents each) applied at start, each object created or
 * replaced (its status kept) as `kubectl apply` would, after the same
 * validation as the API's. A file or object that is refused stops the
 * start with "<file>:<line>: why".
 */
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "lib/lk_log.h"
#include "lib/lk_yaml.h"
#include "orchestrator/orch_int.h"

static int apply_object(orch *o, const lk_yaml *y, const lk_ynode *n, lk_diag *d)
{
  json_t *doc = NULL;
  int rc = lk_ynode_to_json(y, n, &doc, d);
  if (rc)
    return rc;
  const char *version = NULL;
  const orch_resource *r = orch_resource_of(orch__str(doc, "apiVersion"), orch__str(doc, "kind"), &version);
  const char *name = orch__str(doc, "metadata.name");
  if (!r || !name) {
    rc = lk_yaml_err(y, n, d, LK_EINVAL, r ? "metadata.name is required"
                                           : "no matches for kind \"%s\" in version \"%s\"",
                     orch__str(doc, "kind") ? orch__str(doc, "kind") : "",
                     orch__str(doc, "apiVersion") ? orch__str(doc, "apiVersion") : "");
    json_decref(doc);
    return rc;
  }
  if (r->kind == ORCH_HPA && !strcmp(version, "v1")) {
    json_t *v2 = orch_hpa_v1_to_v2(doc);
    json_decref(doc);
    doc = v2;
  }
  const char *ns = orch__str(doc, "metadata.namespace");
  json_t *out = NULL, *have = NULL;
  orch_err e = {0};
  bool exists = !orch_get(o, r->kind, ns ? ns : "default", name, &have, &e);
  orch_err_fini(&e);
  memset(&e, 0, sizeof e);
  json_object_del(orch__obj(doc, "metadata"), "resourceVersion");
  rc = exists ? orch_update(o, r->kind, ns ? ns : "default", name, doc, ORCH_MAIN, &out, &e)
              : orch_create(o, r->kind, ns ? ns : "default", doc, ORCH_MAIN, &out, &e);
  if (rc)
    lk_yaml_err(y, n, d, rc, "%s", e.msg);
  else
    lk_info("orchestrator: %s %s/%s %s from %s", r->singular, ns ? ns : "default", name,
            exists ? "configured" : "created", lk_yaml_name(y));
  orch_err_fini(&e);
  json_decref(out);
  json_decref(have);
  json_decref(doc);
  return rc;
}

static int apply_file(orch *o, const char *path, lk_diag *d)
{
  lk_yaml *y = NULL;
  int rc = lk_yaml_load(path, &y, d);
  for (size_t i = 0; !rc && i < lk_yaml_ndocs(y); i++) {
    const lk_ynode *n = lk_yaml_doc(y, i);
    if (lk_ynode_kind(n) != LK_YNULL)
      rc = apply_object(o, y, n, d);
  }
  lk_yaml_free(y);
  return rc;
}

int orch_apply_manifests(orch *o, const char *const *globs, size_t nglobs, lk_diag *d)
{
  int rc = 0;
  for (size_t i = 0; i < nglobs && !rc; i++) {
    glob_t g;
    int grc = glob(globs[i], GLOB_NOCHECK, NULL, &g);
    for (size_t j = 0; !grc && j < g.gl_pathc && !rc; j++)
      rc = apply_file(o, g.gl_pathv[j], d);
    globfree(&g);
  }
  return rc;
}
