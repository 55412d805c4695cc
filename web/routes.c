/* routes.c — the one route table of the Lookout HTTP API.
 *
 * One line per endpoint: methods, path (exact, or a prefix ending in '*'),
 * auth, body limit, handler (or streaming body callbacks) and the route name
 * used in self-metrics. Earlier lines win when paths overlap. Body limits are
 * bytes or a WEB_BODY_* class resolved from the configured limits at start.
 * Auth (lk_http.h): writes need a token with the write scope once the server
 * listens beyond loopback (LK_AUTH_REMOTE), admin actions (flush, reload)
 * the admin scope (LK_AUTH_ADMIN), orchestrator writes the admin scope even
 * on loopback (LK_AUTH_ALWAYS); reads (LK_AUTH_NONE) need the read scope
 * only with auth.require_read_token; health probes are open (LK_AUTH_OPEN).
 */
#include "web/api_k8s.h"
#include "web/api_loki.h"
#include "web/api_query.h"
#include "web/api_ui.h"
#include "web/web_int.h"

#define FORM WEB_BODY_FORM
#define K8S WEB_K8S_BODY

const lk_http_route web__route_table[] = {
  /* methods     path                          auth            body limit        handler            stream  name */
  {"GET",        "/-/healthy",                 LK_AUTH_OPEN,   0,                web__healthy,      NULL,   "/-/healthy"},
  {"GET",        "/-/ready",                   LK_AUTH_OPEN,   0,                web__ready,        NULL,   "/-/ready"},
  {"GET",        "/metrics",                   LK_AUTH_NONE,   0,                web__metrics,      NULL,   "/metrics"},
  {"POST",       "/api/v1/write",              LK_AUTH_REMOTE, WEB_BODY_WRITE,   web__write,        NULL,   "/api/v1/write"},
  {"POST",       "/api/v1/import/prometheus",  LK_AUTH_REMOTE, WEB_BODY_IMPORT,  NULL, &web__import_stream, "/api/v1/import/prometheus"},
  {"GET|POST",   "/api/v1/query",              LK_AUTH_NONE,   FORM,             web__query,        NULL,   "/api/v1/query"},
  {"GET|POST",   "/api/v1/query_range",        LK_AUTH_NONE,   FORM,             web__query_range,  NULL,   "/api/v1/query_range"},
  {"GET",        "/api/v1/render",             LK_AUTH_NONE,   0,                web__render,       NULL,   "/api/v1/render"},
  {"GET|POST",   "/api/v1/series",             LK_AUTH_NONE,   FORM,             web__series,       NULL,   "/api/v1/series"},
  {"GET|POST",   "/api/v1/labels",             LK_AUTH_NONE,   FORM,             web__labels,       NULL,   "/api/v1/labels"},
  {"GET",        "/api/v1/label/*",            LK_AUTH_NONE,   0,                web__label_values, NULL,   "/api/v1/label/:name/values"},
  {"GET",        "/api/v1/status/tsdb",        LK_AUTH_NONE,   0,                web__status_tsdb,  NULL,   "/api/v1/status/tsdb"},
  {"GET",        "/api/v1/status/buildinfo",   LK_AUTH_NONE,   0,                web__buildinfo,    NULL,   "/api/v1/status/buildinfo"},
  {"GET",        "/api/v1/status/config",      LK_AUTH_NONE,   0,                web__status_config, NULL,  "/api/v1/status/config"},
  {"GET",        "/api/v1/targets",            LK_AUTH_NONE,   0,                web__targets,      NULL,   "/api/v1/targets"},
  {"GET",        "/api/v1/metadata",           LK_AUTH_NONE,   0,                web__metadata,     NULL,   "/api/v1/metadata"},
  {"GET|POST",   "/api/v1/query_exemplars",    LK_AUTH_NONE,   FORM,             web__query_exemplars, NULL, "/api/v1/query_exemplars"},
  {"POST|PUT",   "/api/v1/admin/flush",        LK_AUTH_ADMIN,  FORM,             web__flush,        NULL,   "/api/v1/admin/flush"},
  {"POST|PUT",   "/api/v1/admin/logs/flush",   LK_AUTH_ADMIN,  FORM,             web__loki_flush,   NULL,   "/api/v1/admin/logs/flush"},
  {"POST",       "/loki/api/v1/push",          LK_AUTH_REMOTE, WEB_BODY_WRITE,   web__loki_push,    NULL,   "/loki/api/v1/push"},
  {"GET|POST",   "/loki/api/v1/query_range",   LK_AUTH_NONE,   FORM,             web__loki_query_range, NULL, "/loki/api/v1/query_range"},
  {"GET|POST",   "/loki/api/v1/query",         LK_AUTH_NONE,   FORM,             web__loki_query,   NULL,   "/loki/api/v1/query"},
  {"GET|POST",   "/loki/api/v1/labels",        LK_AUTH_NONE,   FORM,             web__loki_labels,  NULL,   "/loki/api/v1/labels"},
  {"GET",        "/loki/api/v1/label/*",       LK_AUTH_NONE,   0,                web__loki_label_values, NULL, "/loki/api/v1/label/:name/values"},
  {"GET|POST",   "/loki/api/v1/series",        LK_AUTH_NONE,   FORM,             web__loki_series,  NULL,   "/loki/api/v1/series"},
  {"GET",        "/loki/api/v1/tail",          LK_AUTH_NONE,   0,                web__loki_tail,    NULL,   "/loki/api/v1/tail"},
  {"GET",        "/api/v1/flows/graph",        LK_AUTH_NONE,   0,                web__flows_graph,  NULL,   "/api/v1/flows/graph"},
  {"GET",        "/api/v1/autoscaling/events", LK_AUTH_NONE,   0,                web__autoscaling_events, NULL, "/api/v1/autoscaling/events"},
  /* metrics APIs (h-hpa): these lines stay before any broad /apis prefix route */
  {"GET",        "/apis/metrics.k8s.io",       LK_AUTH_NONE,   0,                web__k8s_metrics,  NULL,   "/apis/metrics.k8s.io"},
  {"GET",        "/apis/metrics.k8s.io/*",     LK_AUTH_NONE,   0,                web__k8s_metrics,  NULL,   "/apis/metrics.k8s.io/..."},
  {"GET",        "/apis/external.metrics.k8s.io", LK_AUTH_NONE, 0,               web__k8s_external_metrics, NULL, "/apis/external.metrics.k8s.io"},
  {"GET",        "/apis/external.metrics.k8s.io/*", LK_AUTH_NONE, 0,             web__k8s_external_metrics, NULL, "/apis/external.metrics.k8s.io/..."},
  /* Alertmanager API (h-notify): alerts in and silences act, so they need the token beyond loopback */
  {"GET",        "/api/v2/alerts",             LK_AUTH_NONE,   0,                web__am_alerts,    NULL,   "/api/v2/alerts"},
  {"POST",       "/api/v2/alerts",             LK_AUTH_REMOTE, WEB_BODY_WRITE,   web__am_alerts,    NULL,   "/api/v2/alerts"},
  {"GET",        "/api/v2/alerts/groups",      LK_AUTH_NONE,   0,                web__am_groups,    NULL,   "/api/v2/alerts/groups"},
  {"GET",        "/api/v2/silences",           LK_AUTH_NONE,   0,                web__am_silences,  NULL,   "/api/v2/silences"},
  {"POST",       "/api/v2/silences",           LK_AUTH_REMOTE, FORM,             web__am_silences,  NULL,   "/api/v2/silences"},
  {"GET",        "/api/v2/silence/*",          LK_AUTH_NONE,   0,                web__am_silence,   NULL,   "/api/v2/silence/:id"},
  {"DELETE",     "/api/v2/silence/*",          LK_AUTH_REMOTE, 0,                web__am_silence,   NULL,   "/api/v2/silence/:id"},
  {"GET",        "/api/v2/status",             LK_AUTH_NONE,   0,                web__am_status,    NULL,   "/api/v2/status"},
  {"GET",        "/api/v2/receivers",          LK_AUTH_NONE,   0,                web__am_receivers, NULL,   "/api/v2/receivers"},
  /* rules (h-rulesrv) */
  {"GET",        "/api/v1/rules",              LK_AUTH_NONE,   FORM,             web__rules,        NULL,   "/api/v1/rules"},
  {"GET",        "/api/v1/alerts",             LK_AUTH_NONE,   0,                web__alerts,       NULL,   "/api/v1/alerts"},
  {"POST|PUT",   "/-/reload",                  LK_AUTH_ADMIN,  FORM,             web__reload,       NULL,   "/-/reload"},
  /* Kubernetes API subset (h-kapi): after every Prometheus /api/v1 line and the
   * metrics.k8s.io lines, which the broad /apis prefix would otherwise swallow.
   * Reads are open; every write needs the token (LK_AUTH_ALWAYS). */
  {"GET",        "/version",                   LK_AUTH_NONE,   0,                web__k8s_version,  NULL,   "/version"},
  {"GET",        "/openapi/*",                 LK_AUTH_NONE,   0,                web__k8s_openapi,  NULL,   "/openapi"},
  {"GET",        "/api",                       LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/api"},
  {"GET",        "/api/v1",                    LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/api/v1"},
  {"GET",        "/api/v1/namespaces*",        LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/api/v1/namespaces"},
  {"POST|PUT|PATCH|DELETE", "/api/v1/namespaces*", LK_AUTH_ALWAYS, K8S,        web__k8s,          NULL,   "/api/v1/namespaces"},
  {"GET",        "/api/v1/pods",               LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/api/v1/pods"},
  {"GET",        "/api/v1/nodes*",             LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/api/v1/nodes"},
  {"GET",        "/apis*",                     LK_AUTH_NONE,   0,                web__k8s,          NULL,   "/apis"},
  {"POST|PUT|PATCH|DELETE", "/apis/*",         LK_AUTH_ALWAYS, K8S,              web__k8s,          NULL,   "/apis"},
  /* dashboard (h-ui): last, so its /ui/ prefix can never shadow an API path */
  {"GET",        "/",                          LK_AUTH_NONE,   0,                web__ui_index,     NULL,   "/"},
  {"GET",        "/ui/*",                      LK_AUTH_NONE,   0,                web__ui_file,      NULL,   "/ui/"},
};
const size_t web__nroutes = sizeof web__route_table / sizeof web__route_table[0];
