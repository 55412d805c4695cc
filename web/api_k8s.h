/* api_k8s.h — the Kubernetes REST API subset kubectl uses, split over
 * api_k8s.c (paths, objects, subresources), api_k8s_discovery.c (/api,
 * /apis, /version, openapi), api_k8s_table.c (server-side printing) and
 * api_k8s_stream.c (watch and pod logs). Every answer is JSON in
 * Kubernetes's shapes; every error a Status object.
 */
#ifndef WEB_API_K8S_H
#define WEB_API_K8S_H

#include <jansson.h>

#include "lib/lk_http.h"
#include "orchestrator/orchestrator.h"
#include "web/web_int.h"

#define WEB_K8S_BODY ((size_t)3 << 20) /* the API server's request limit */

/* Route handlers (routes.c). */
void web__k8s(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__k8s_version(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__k8s_openapi(void *ctx, const lk_http_req *req, lk_http_resp *resp);

/* A parsed resource request. */
typedef struct web_k8s_req {
  const orch_resource *res;
  const char *version;   /* as asked ("v1", "v2") */
  char ns[254], name[254], sub[32]; /* "" when absent */
  bool hpa_v1;           /* autoscaling/v1 form on the wire */
} web_k8s_req;

/* Answer with a JSON value (stolen) and a status. */
void web__k8s_json(lk_http_resp *resp, int status, json_t *v);
/* Answer with a Status for e. */
void web__k8s_fail(lk_http_resp *resp, const orch_err *e, const web_k8s_req *k);
/* Answer with a simple Status (no orch_err). */
void web__k8s_status(lk_http_resp *resp, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The object as the client asked for it (HPA v1 conversion; new reference). */
json_t *web__k8s_out(const web_k8s_req *k, const json_t *obj);

/* api_k8s_proto.c: an application/vnd.kubernetes.protobuf body (what
 * `kubectl autoscale` sends) as JSON; NULL + an answer when refused. */
json_t *web__k8s_proto_decode(const web_k8s_req *k, const uint8_t *body, size_t len, lk_http_resp *resp);

/* api_k8s_discovery.c: discovery paths; true when path was one. */
bool web__k8s_discovery(const char *path, lk_http_resp *resp);

/* api_k8s_table.c */
/* "a=b,c=d" from a LabelSelector's matchLabels, appended to out. */
void web__k8s_match_labels(const json_t *selector, lk_buf *out);
bool web__k8s_wants_table(const lk_http_req *req);
/* A meta.k8s.io/v1 Table of items (borrowed) for resource r. */
json_t *web__k8s_table(const orch_resource *r, const json_t *items, const char *rv);
json_t *web__k8s_node_table(const json_t *items);

/* api_k8s_stream.c */
void web__k8s_watch(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp);
void web__k8s_pod_log(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp);

/* api_k8s_metrics.c: the APIGroup entry of "metrics.k8s.io" or
 * "external.metrics.k8s.io" (new reference), for the /apis group list. */
json_t *web__k8s_metrics_group(const char *group);

#endif
