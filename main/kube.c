/* kube.c — the shared client part of `lookout apply|get|scale` (kube.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_httpc.h"
#include "lib/lk_token.h"
#include "main/kube.h"

const char kube_flags_help[] =
    "  --server URL        server base URL (default http://127.0.0.1:9470)\n"
    "  --token-file FILE   bearer token (default ./data/token, the server's auth.token_file)\n"
    "  -n, --namespace NS  namespace (default \"default\")\n";

int kube_flag(kube *k, int argc, char **argv, int *i)
{
  const char *f = argv[*i];
  const char **dst = !strcmp(f, "--server") ? &k->server
                   : !strcmp(f, "--token-file") ? &k->token_file
                   : !strcmp(f, "-n") || !strcmp(f, "--namespace") ? &k->ns : NULL;
  if (!dst)
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *dst = argv[++*i];
  return 1;
}

void kube_init(kube *k)
{
  if (!k->server)
    k->server = "http://127.0.0.1:9470";
  if (!k->ns)
    k->ns = "default";
  if (!k->token_file)
    k->token_file = "./data/token";
  lk_diag d = {0};
  if (lk_token_read_first(k->token_file, k->token, sizeof k->token, &d)) /* no file: no token */
    k->token[0] = 0;
}

int kube_call(const kube *k, const char *method, const char *path, const char *ctype, const char *body,
              const char *accept, json_t **out, int *status)
{
  char url[2048], auth[320], ct[128], acc[160];
  snprintf(url, sizeof url, "%s%s", k->server, path);
  const char *headers[4] = {NULL, NULL, NULL, NULL};
  size_t nh = 0;
  if (k->token[0]) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", k->token);
    headers[nh++] = auth;
  }
  if (ctype) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    headers[nh++] = ct;
  }
  snprintf(acc, sizeof acc, "Accept: %s", accept ? accept : "application/json");
  headers[nh++] = acc;
  lk_httpc_req req = {.method = method, .url = url, .headers = headers, .body = body,
                      .body_len = body ? strlen(body) : 0};
  lk_httpc_resp resp = {0};
  lk_diag d = {0};
  int rc = lk_httpc_do(&req, &resp, &d);
  if (rc) {
    fprintf(stderr, "%s %s: %s\n", method, url, d.msg);
    return rc;
  }
  *status = resp.status;
  *out = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
  if (!*out && resp.status >= 400)
    fprintf(stderr, "%s %s: HTTP %d: %.*s\n", method, url, resp.status, (int)resp.body.len, (const char *)resp.body.data);
  lk_httpc_resp_fini(&resp);
  return 0;
}

const char *kube_message(const json_t *s)
{
  const char *m = json_string_value(json_object_get(s, "message"));
  if (!m)
    m = json_string_value(json_object_get(s, "error")); /* lk_http's own answers (401, 413) */
  return m ? m : "unexpected answer from the server";
}

void kube_path(const orch_resource *r, const char *version, const char *ns, char *out, size_t n)
{
  char base[64];
  if (*r->group)
    snprintf(base, sizeof base, "/apis/%s/%s", r->group, version ? version : r->versions[0]);
  else
    snprintf(base, sizeof base, "/api/v1");
  if (r->namespaced && ns)
    snprintf(out, n, "%s/namespaces/%s/%s", base, ns, r->plural);
  else
    snprintf(out, n, "%s/%s", base, r->plural);
}

const orch_resource *kube_resource(const char *word)
{
  size_t n;
  const orch_resource *rs = orch_resources(&n);
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(word, rs[i].plural) || !strcasecmp(word, rs[i].singular) ||
        !strcasecmp(word, rs[i].short_name) || !strcasecmp(word, rs[i].kind_name))
      return &rs[i];
  if (!strcasecmp(word, "autoscalers") || !strcasecmp(word, "autoscaler"))
    return &rs[ORCH_HPA];
  return NULL;
}
