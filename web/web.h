/* web.h — Lookout's HTTP API: every route of the server, on lib/lk_http.
 *
 * web_start binds the listen address and serves the route table in
 * web/routes.c against the backends named in web_opts; web_stop ends it.
 * The backends are borrowed and must outlive the server. Every backend is a
 * web_opts field (the tsdb, the log store; alerting and the orchestrator will
 * join them), so callers that do not set a later one keep compiling.
 *
 * Threads: handlers run concurrently on the HTTP threads; the server's own
 * state (self-metrics) is internally locked.
 */
#ifndef WEB_H
#define WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "tsdb/tsdb.h"

typedef struct web_server web_server;

/* Request limits; zero-initialise: every 0 means the default shown. */
typedef struct web_limits {
  size_t max_write_body;    /* compressed remote_write body; 16 MiB */
  size_t max_decoded_body;  /* remote_write body after snappy; 256 MiB */
  size_t max_import_body;   /* streamed import body as sent; 64 GiB */
  size_t max_form_body;     /* query/metadata POST forms; 1 MiB */
  size_t max_line;          /* exposition line length; 1 MiB */
  size_t max_match;         /* match[] selectors per request; 64 */
  uint64_t max_series;      /* series per /series answer; 1,000,000 */
  uint64_t max_query_samples; /* samples a PromQL query may load and hold; 50,000,000 (422) */
  int64_t query_timeout_ms; /* PromQL evaluation time; a request's `timeout` only lowers it; 2 min (503) */
  size_t max_render_series; /* lines in one /api/v1/render graph; 20 (422 beyond) */
  /* Connections (lk_http_opts; 0 = lk_http's default shown): refused at
   * accept past these, closed when idle or slow. */
  unsigned max_connections;        /* open connections in total; 1024 */
  unsigned max_connections_per_ip; /* open connections from one address; 256 */
  unsigned idle_timeout_s;         /* a connection sending nothing is closed; 120 s */
  unsigned request_timeout_s;      /* request headers must arrive within it, a body still
                                      arriving after it average 64 KiB/s; 300 s */
} web_limits;

typedef struct web_opts {
  const char *listen;     /* host:port; default 127.0.0.1:9470 */
  const char *token;      /* one admin bearer token for protected routes, or NULL */
  const char *token_file; /* the scoped token file (lib/lk_token.h; wins over token), or NULL */
  bool require_token;     /* write and admin routes need a token on loopback too */
  bool require_read_token; /* reads need a token with the read scope */
  unsigned threads;       /* 0 = one thread per connection (see lk_http.h) */
  const char *tls_cert;   /* PEM text: serve HTTPS; NULL = plain HTTP */
  const char *tls_key;    /* PEM text of the private key */
  web_limits limits;
  /* The stores (borrowed; they must outlive the server). */
  tsdb *db;               /* metrics; required */
  struct promql_cache *query_cache; /* results of repeated PromQL queries, or NULL = none */
  struct logstore *logs;  /* log store for the Loki API, or NULL (those routes answer 503) */
  struct alerting_manager *rules; /* rule engine for /api/v1/rules, /api/v1/alerts, /-/reload,
                                     or NULL (those routes answer 503) */
  struct orch_hpa_ctl *autoscaler; /* the HPA controller: decision events and lookout_hpa_*
                                      metrics, or NULL (/api/v1/autoscaling/events answers 503) */
  /* Named PromQL queries served by external.metrics.k8s.io (borrowed; each
   * query must parse, or web_start fails naming it). */
  const struct orch_external_metric *external_metrics;
  size_t nexternal_metrics;
  struct alerting_am *am; /* the in-process Alertmanager for /api/v2/…, or NULL (503) */
  const char *ui_dir;     /* serve the dashboard from this directory (copied), or NULL = the embedded one */
  struct orch *orch;      /* orchestrator for the Kubernetes API, or NULL (those routes answer 503) */
  const struct lk_config *config; /* the server's configuration (borrowed), for /api/v1/status/config
                                     and /api/v1/targets; NULL: both answer empty */
} web_opts;

/* Start serving the stores in o. On failure (no tsdb, bad address, port in
 * use) the diag names the cause and *out is untouched. */
int web_start(const web_opts *o, web_server **out, lk_diag *d);
/* The port actually bound (for listen addresses with port 0). */
int web_port(const web_server *w);
/* Lookout's /metrics page (the self-scrape of the rule engine reads it). */
void web_metrics_page(web_server *w, lk_buf *out);
/* Stop serving and free. NULL is fine. */
void web_stop(web_server *w);

#endif
