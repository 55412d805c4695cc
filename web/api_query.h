/* api_query.h — the Prometheus query API handlers (/api/v1/query and
 * /api/v1/query_range) over the PromQL engine. */
#ifndef WEB_API_QUERY_H
#define WEB_API_QUERY_H

#include "lib/lk_http.h"
#include "promql/promql.h"

/* Handlers; ctx is the web_server. GET or POST (form) parameters:
 * query, time | start, end, step, and optional timeout, lookback_delta,
 * limit (at most that many series, with Prometheus 3's truncation warning). */
void web__query(void *ctx, const lk_http_req *req, lk_http_resp *resp);
void web__query_range(void *ctx, const lk_http_req *req, lk_http_resp *resp);

#endif
