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

/* A time parameter as the query API reads it (RFC 3339 or float seconds, in
 * ms); absent → dflt unless required. On a bad value the 400 bad_data answer
 * is written to resp and -1 returned. */
int web__time_param(const lk_http_req *req, lk_http_resp *resp, const char *name, bool required,
                    int64_t dflt, int64_t *out);
/* The options every query of the server w runs with (its limits); a
 * timeout_ms > 0 can only shorten the server's timeout. */
promql_opts web__query_opts(const struct web_server *w, int64_t timeout_ms);
/* Parses and evaluates query at t (ms) on w's tsdb with web__query_opts:
 * the code path of /api/v1/query for server-side callers. *out: caller
 * frees (promql_result_free). Errors as promql_parse/promql_eval_instant. */
int web__eval_instant(const struct web_server *w, const char *query, int64_t t,
                      promql_result **out, lk_diag *d);

#endif
