/* web_int.h — the web server context shared by the handler files.
 *
 * Every handler gets the web_server as its ctx. Add backends (log store, …)
 * as fields here and in web_opts; add handlers to routes.c.
 *
 * Lock order: stats.lock is a leaf (held only to bump or copy counters);
 * so are arena_mu, memo_mu, render_mu and the rw_cache shard locks.
 */
#ifndef WEB_INT_H
#define WEB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_http.h"
#include "lib/lk_keycache.h"
#include "lib/lk_wire.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

/* body_limit classes in the route table, resolved from web_limits at start. */
#define WEB_BODY_WRITE ((size_t)-1)
#define WEB_BODY_IMPORT ((size_t)-2)
#define WEB_BODY_FORM ((size_t)-3)

/* Ingest paths, for self-metrics (rejections count by enum tsdb_reject_reason). */
enum web_ingest_path { WEB_IN_WRITE, WEB_IN_IMPORT, WEB_IN_NPATHS };

#define WEB_MAX_CODES 512   /* (route, status) pairs kept */
#define WEB_MAX_ROUTES 128  /* routes with a latency histogram */
#define WEB_NBUCKETS 11     /* latency buckets, see selfmetrics.c */
#define WEB_ARENA_POOL 8    /* request arenas kept for reuse */
#define WEB_RW_CACHE_BYTES ((size_t)64 << 20) /* remote_write series cache bound */
#define WEB_RW_MEMOS 16                        /* remote_write senders remembered (rw_memo.c) */
#define WEB_RW_MEMO_BYTES ((size_t)4 << 20)    /* key bytes of one memo at most */

typedef struct web__rw_memo web__rw_memo;

typedef struct web_code_count {
  const char *route;
  int code;
  uint64_t n;
} web_code_count;

typedef struct web_latency {
  const char *route;
  uint64_t bucket[WEB_NBUCKETS]; /* non-cumulative; last is +Inf */
  double sum_s;
  uint64_t count;
} web_latency;

typedef struct web_stats {
  pthread_mutex_t lock; /* guards codes, ncodes, lat, nlat */
  web_code_count codes[WEB_MAX_CODES];
  size_t ncodes;
  web_latency lat[WEB_MAX_ROUTES];
  size_t nlat;
  _Atomic uint64_t ingested[WEB_IN_NPATHS];
  _Atomic uint64_t duplicates;
  _Atomic uint64_t rejected[TSDB_REJECT__COUNT];
  _Atomic uint64_t bad_requests[WEB_IN_NPATHS]; /* whole request refused (4xx) */
} web_stats;

struct web_server {
  tsdb *db;
  struct promql_cache *query_cache; /* borrowed; NULL = no result cache */
  struct logstore *logs; /* borrowed; NULL = no Loki API */
  struct alerting_manager *rules; /* borrowed; NULL = no rule engine */
  struct orch_hpa_ctl *autoscaler; /* borrowed; NULL = no autoscaler events */
  const struct orch_external_metric *external; /* borrowed */
  size_t nexternal;
  struct alerting_am *am; /* borrowed; NULL = no Alertmanager API */
  char *ui_dir;          /* owned; NULL = the dashboard embedded at build time */
  struct orch *orch;     /* borrowed; NULL = no Kubernetes API */
  const struct lk_config *config; /* borrowed; NULL = no config to show */
  web_limits limits;   /* defaults filled in */
  lk_http_route *routes; /* the table with body classes resolved */
  size_t nroutes;
  lk_http_server *http;
  int64_t start_ms;
  web_stats stats;
  /* remote_write: raw label bytes → tsdb_ref (refs stay valid until
   * tsdb_close, which comes after web_stop), and request arenas kept for
   * reuse (arena_mu guards arenas/narenas) */
  lk_keycache *rw_cache;
  pthread_mutex_t arena_mu;
  lk_arena *arenas[WEB_ARENA_POOL];
  size_t narenas;
  /* remote_write: the previous request of each recent sender (rw_memo.c;
   * memo_mu guards memos/nmemos, oldest first) */
  pthread_mutex_t memo_mu;
  web__rw_memo *memos[WEB_RW_MEMOS];
  size_t nmemos;
  /* api_render.c: held around every librrd call (librrd keeps process-wide
   * state); owned by the render handler, a leaf */
  pthread_mutex_t render_mu;
};

/* routes.c */
extern const lk_http_route web__route_table[];
extern const size_t web__nroutes;

/* Handlers (one file per API group). */
void web__healthy(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__ready(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__write(void *ctx, const lk_http_req *req, lk_http_resp *resp);
extern const lk_http_stream web__import_stream;
void web__series(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__labels(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__label_values(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__status_tsdb(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__buildinfo(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__metadata(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__query_exemplars(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__flush(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_rules.c */
void web__rules(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__alerts(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__reload(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_autoscaling.c: GET /api/v1/autoscaling/events (JSON or SSE). */
void web__autoscaling_events(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_status.c */
void web__status_config(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__targets(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_k8s_metrics.c: metrics.k8s.io/v1beta1 (PodMetrics, NodeMetrics) and
 * external.metrics.k8s.io/v1beta1, with their group and resource discovery. */
void web__k8s_metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__k8s_external_metrics(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_flows.c: GET /api/v1/flows/graph (the network flows' service map). */
void web__flows_graph(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* api_am.c: Alertmanager API v2 */
void web__am_alerts(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__am_groups(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__am_silences(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__am_silence(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__am_status(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__am_receivers(void *ctx, const lk_http_req *req, lk_http_resp *resp);

/* api_render.c: GET /api/v1/render, a range query drawn as a PNG by librrd. */
void web__render(void *ctx, const lk_http_req *req, lk_http_resp *resp);

/* selfmetrics.c: the lk_http observer. */
void web__observe(void *ctx, const char *route, int status, int64_t micros);
void web__count_append(web_server *w, enum web_ingest_path path, const tsdb_append_stats *st);

/* api_write.c: "accepted N samples, rejected M: 2 out of order, 1 too old
 * (outside retention)" — the reasons counted in st (those other than native
 * histograms, which the remote_write answer states before this). */
void web__rejections_msg(lk_buf *out, const tsdb_append_stats *st);

/* rw_memo.c: a sender's previous remote_write series (see the file comment).
 * take: the memo whose first key is key0, out of the table (NULL: none);
 * put: into the table (ownership passes; the oldest may be freed); build:
 * from a stored request's series and their refs (NULL if too large). */
web__rw_memo *web__rw_memo_take(web_server *w, const uint8_t *key0, size_t len0);
void web__rw_memo_put(web_server *w, web__rw_memo *m);
web__rw_memo *web__rw_memo_build(const lk_rw_series *rs, size_t n, const tsdb_ref *refs);
const lk_rw_expected *web__rw_memo_expected(const web__rw_memo *m);
tsdb_ref web__rw_memo_ref(const web__rw_memo *m, size_t i);
void web__rw_memo_free(web__rw_memo *m);
void web__rw_memo_fini(web_server *w); /* frees the table and memo_mu */

/* Prometheus-shaped success envelope around data already in `data`. */
void web__ok(lk_http_resp *resp, const lk_buf *data);
/* Whose input a failing step was working on; it decides who is at fault. */
enum web_origin {
  WEB_ORIGIN_SERVER, /* parameters, evaluation, stored data: LK_ECORRUPT is a damaged
                        file of ours (500 internal, the store logged which) */
  WEB_ORIGIN_BODY,   /* decoding or storing a request body: corrupt input and
                        limits are the client's (400 bad_data) */
};
/* The one LK_E* → HTTP mapping: the status for code, *type its Prometheus
 * errorType. Every error answer built from an LK_E* code goes through it. */
int web__status_of(int code, enum web_origin from, const char **type);
/* The JSON error for code + diag ("what: msg" when what is non-NULL):
 * web__fail for WEB_ORIGIN_SERVER, web__fail_body for WEB_ORIGIN_BODY. */
void web__fail(lk_http_resp *resp, int code, const lk_diag *d, const char *what);
void web__fail_body(lk_http_resp *resp, int code, const lk_diag *d, const char *what);

#endif
