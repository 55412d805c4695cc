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

/* The times of a range query, in ms. */
typedef struct web_range {
  int64_t start, end, step;
} web_range;
/* /api/v1/query_range's parameters and evaluation, for every handler that
 * draws on a range query (w is the web_server): start, end, step, query and
 * the optional timeout and lookback_delta, with the same checks, limits and
 * errors. On success fills *rng and *out (free with promql_result_free) and
 * returns 0; otherwise resp holds the JSON error and it returns -1. */
struct web_server;
int web__eval_range(const struct web_server *w, const lk_http_req *req, lk_http_resp *resp,
                    web_range *rng, promql_result **out);

#endif
