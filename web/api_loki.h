/* api_loki.h — the Loki-compatible HTTP API over the log store:
 * POST /loki/api/v1/push (JSON, or protobuf+snappy), GET query_range, query,
 * labels, label/<name>/values, series, and tail (Server-Sent Events); and
 * POST /api/v1/admin/logs/flush, which seals the store's heads.
 * Handlers take the web_server as ctx and use its `logs` store; when no log
 * store is configured they answer 503. */
#ifndef WEB_API_LOKI_H
#define WEB_API_LOKI_H

#include "lib/lk_http.h"

void web__loki_push(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_query(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_query_range(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_labels(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_label_values(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_series(void *ctx, const lk_http_req *req, lk_http_resp *resp);
/* POST /api/v1/admin/logs/flush: seal every head (api_loki_push.c). */
void web__loki_flush(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__loki_tail(void *ctx, const lk_http_req *req, lk_http_resp *resp);

#endif
