/* api_query.c — GET|POST /api/v1/query and /api/v1/query_range.
 *
 * Parameters are read as Prometheus reads them (time/start/end as RFC 3339
 * or float seconds, step/timeout as a duration or float seconds), the query
 * runs on the tsdb through promql_queryable_tsdb, and the answer uses the
 * exact Prometheus shapes: vector/matrix points as [<ts number>, "<value>"]
 * and scalar/string results with their own number format (lib/lk_json.h).
 * Prometheus 3.x options: `limit` (at most that many series in a vector or
 * matrix answer, 0 = off; a cut answer carries Prometheus' warning) and
 * `lookback_delta` (this query's lookback instead of 5 m; 0 or negative =
 * the default, as in Prometheus). Parameters are checked in Prometheus'
 * order, so a request wrong in two ways is told of the same one.
 * Error mapping: parameter and parse errors → 400 bad_data, evaluation
 * errors and limits → 422 execution, timeout → 503 timeout, storage → 500.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "web/api_query.h"
#include "web/web_int.h"

#define MAX_POINTS 11000

static void json_series(lk_buf *b, const promql_series *s, bool matrix)
{
  lk_buf_puts(b, "{\"metric\":");
  lk_json_labels(b, s->labels, s->nlabels);
  if (matrix) {
    lk_buf_puts(b, ",\"values\":[");
    lk_json_points(b, s->t, s->v, s->n);
    lk_buf_puts(b, "]}");
  } else {
    lk_buf_puts(b, ",\"value\":");
    lk_json_point(b, s->t[0], s->v[0]);
    lk_buf_putc(b, '}');
  }
}

/* ,"key":[v..., extra] when there is anything to list (extra may be NULL). */
static void json_strings(lk_buf *b, const char *key, char **v, size_t n, const char *extra)
{
  if (!n && !extra)
    return;
  lk_buf_printf(b, ",\"%s\":[", key);
  for (size_t i = 0; i < n; i++) {
    if (i)
      lk_buf_putc(b, ',');
    lk_json_str(b, v[i]);
  }
  if (extra) {
    if (n)
      lk_buf_putc(b, ',');
    lk_json_str(b, extra);
  }
  lk_buf_putc(b, ']');
}

/* The data object, with at most `limit` series of a vector or matrix. */
static void data_json(lk_buf *b, const promql_result *r, size_t limit)
{
  static const char *const types[] = {"scalar", "string", "vector", "matrix"};
  lk_buf_printf(b, "{\"resultType\":\"%s\",\"result\":", types[r->type]);
  switch (r->type) {
  case PROMQL_SCALAR:
    lk_buf_putc(b, '[');
    lk_json_scalar_ts(b, r->t);
    lk_buf_putc(b, ',');
    lk_json_scalar_value(b, r->scalar);
    lk_buf_putc(b, ']');
    break;
  case PROMQL_STRING:
    lk_buf_putc(b, '[');
    lk_json_scalar_ts(b, r->t);
    lk_buf_putc(b, ',');
    lk_json_str(b, r->string);
    lk_buf_putc(b, ']');
    break;
  default:
    lk_buf_putc(b, '[');
    for (size_t k = 0; k < r->nseries && k < limit; k++) {
      if (k)
        lk_buf_putc(b, ',');
      json_series(b, &r->series[k], r->type == PROMQL_MATRIX);
    }
    lk_buf_putc(b, ']');
    break;
  }
  lk_buf_putc(b, '}');
}

static const char truncated_warning[] = "results truncated due to limit";

/* The success envelope; a vector or matrix over `limit` series is cut to it
 * and warned about after the engine's own warnings. */
static void respond(lk_http_resp *resp, const promql_result *r, size_t limit)
{
  bool cut = (r->type == PROMQL_VECTOR || r->type == PROMQL_MATRIX) && r->nseries > limit;
  resp->status = 200;
  resp->content_type = "application/json";
  lk_buf_puts(&resp->body, "{\"status\":\"success\",\"data\":");
  data_json(&resp->body, r, limit);
  json_strings(&resp->body, "warnings", r->warnings, r->nwarnings, cut ? truncated_warning : NULL);
  json_strings(&resp->body, "infos", r->infos, r->ninfos, NULL);
  lk_buf_putc(&resp->body, '}');
}

static int bad_param(lk_http_resp *resp, const char *name, const char *fmt, const char *val)
{
  char msg[300];
  snprintf(msg, sizeof msg, fmt, val ? val : "");
  lk_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s", name, msg);
  return -1;
}

int web__time_param(const lk_http_req *req, lk_http_resp *resp, const char *name, bool required,
                     int64_t dflt, int64_t *out)
{
  const char *v = lk_http_arg(req, name);
  if (!v || !*v) {
    if (required)
      return bad_param(resp, name, "cannot parse \"%s\" to a valid timestamp", "");
    *out = dflt;
    return 0;
  }
  lk_diag d = {0};
  if (lk_parse_time(v, out, &d))
    return bad_param(resp, name, "cannot parse \"%s\" to a valid timestamp", v);
  return 0;
}

static int dur_param(const lk_http_req *req, lk_http_resp *resp, const char *name, bool required,
                     int64_t *out)
{
  const char *v = lk_http_arg(req, name);
  if (!v || !*v) {
    if (required)
      return bad_param(resp, name, "cannot parse \"%s\" to a valid duration", "");
    *out = 0;
    return 0;
  }
  lk_diag d = {0};
  if (lk_parse_step(v, out, &d))
    return bad_param(resp, name, "cannot parse \"%s\" to a valid duration", v);
  return 0;
}

/* `limit` as Go's strconv.Atoi reads it, with Prometheus' messages; 0 or
 * absent = no limit (SIZE_MAX). */
static int limit_param(const lk_http_req *req, lk_http_resp *resp, size_t *out)
{
  const char *v = lk_http_arg(req, "limit");
  if (!v || !*v) {
    *out = SIZE_MAX;
    return 0;
  }
  const char *p = v + (*v == '+' || *v == '-');
  if (!*p || strspn(p, "0123456789") != strlen(p))
    return bad_param(resp, "limit", "strconv.Atoi: parsing \"%s\": invalid syntax", v);
  errno = 0;
  long long n = strtoll(v, NULL, 10);
  if (errno == ERANGE)
    return bad_param(resp, "limit", "strconv.Atoi: parsing \"%s\": value out of range", v);
  if (n < 0)
    return bad_param(resp, "limit", "limit must be non-negative%s", "");
  *out = n ? (size_t)n : SIZE_MAX;
  return 0;
}

/* `lookback_delta`: a duration or float seconds; 0 (the engine's default of
 * 5 m) when absent, zero or negative, as Prometheus' engine treats those. */
static int lookback_param(const lk_http_req *req, lk_http_resp *resp, int64_t *out)
{
  const char *v = lk_http_arg(req, "lookback_delta");
  int64_t ms = 0;
  lk_diag d = {0};
  if (v && *v && lk_parse_step(v, &ms, &d)) {
    lk_http_error(resp, 400, "bad_data",
                  "error parsing lookback delta duration: cannot parse \"%s\" to a valid duration", v);
    return -1;
  }
  *out = ms > 0 ? ms : 0;
  return 0;
}

promql_opts web__query_opts(const web_server *w, int64_t timeout_ms)
{
  int64_t cap = w->limits.query_timeout_ms;
  return (promql_opts){.timeout_ms = timeout_ms > 0 && timeout_ms < cap ? timeout_ms : cap,
                       .max_samples = w->limits.max_query_samples,
                       .max_points = MAX_POINTS,
                       .cache = w->query_cache};
}

int web__eval_instant(const web_server *w, const char *query, int64_t t, promql_result **out,
                      lk_diag *d)
{
  *out = NULL;
  promql_expr *e = NULL;
  int rc = promql_parse(query, &e, d);
  if (rc)
    return rc;
  promql_opts o = web__query_opts(w, 0);
  promql_queryable q = promql_queryable_tsdb(w->db);
  rc = promql_eval_instant(&q, &o, e, t, out, d);
  promql_expr_free(e);
  return rc;
}

/* Parse query + common options; fills *e (caller frees). The server's
 * limits (config limits.max_query_samples, limits.query_timeout) bound every
 * query; a request's `timeout` can only shorten it, as in Prometheus. */
static int common(const web_server *w, const lk_http_req *req, lk_http_resp *resp, promql_opts *o,
                  promql_expr **e)
{
  int64_t timeout, lookback;
  if (dur_param(req, resp, "timeout", false, &timeout) || lookback_param(req, resp, &lookback))
    return -1;
  *o = web__query_opts(w, timeout);
  o->lookback_ms = lookback;
  const char *q = lk_http_arg(req, "query");
  lk_diag d = {0};
  if (promql_parse(q ? q : "", e, &d)) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"query\": %s", d.msg);
    return -1;
  }
  return 0;
}

static void finish(lk_http_resp *resp, int rc, promql_result *r, const lk_diag *d, size_t limit)
{
  if (rc)
    web__fail(resp, rc, d, NULL);
  else
    respond(resp, r, limit);
  promql_result_free(r);
}

void web__query(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  promql_opts o;
  promql_expr *e = NULL;
  int64_t t;
  size_t limit;
  if (limit_param(req, resp, &limit) || web__time_param(req, resp, "time", false, lk_now_ms(), &t) ||
      common(w, req, resp, &o, &e))
    return;
  promql_queryable q = promql_queryable_tsdb(w->db);
  promql_result *r = NULL;
  lk_diag d = {0};
  int rc = promql_eval_instant(&q, &o, e, t, &r, &d);
  promql_expr_free(e);
  finish(resp, rc, r, &d, limit);
}

int web__eval_range(const web_server *w, const lk_http_req *req, lk_http_resp *resp, web_range *rng,
                    promql_result **out)
{
  int64_t start, end, step;
  if (web__time_param(req, resp, "start", true, 0, &start) ||
      web__time_param(req, resp, "end", true, 0, &end) ||
      dur_param(req, resp, "step", true, &step))
    return -1;
  if (end < start)
    return bad_param(resp, "end", "end timestamp must not be before start time%s", "");
  if (step <= 0)
    return bad_param(resp, "step", "zero or negative query resolution step widths are not accepted. Try a positive integer%s", "");
  if ((end - start) / step > MAX_POINTS) {
    lk_http_error(resp, 400, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)");
    return -1;
  }
  promql_opts o;
  promql_expr *e = NULL;
  if (common(w, req, resp, &o, &e))
    return -1;
  o.max_points = MAX_POINTS + 1;
  promql_queryable q = promql_queryable_tsdb(w->db);
  promql_result *r = NULL;
  lk_diag d = {0};
  int rc = promql_eval_range(&q, &o, e, start, end, step, &r, &d);
  promql_expr_free(e);
  if (rc == LK_EINVAL) /* expression type not allowed in a range query */
    lk_http_error(resp, 400, "bad_data", "%s", d.msg);
  else if (rc)
    web__fail(resp, rc, &d, NULL);
  if (rc) {
    promql_result_free(r);
    return -1;
  }
  *rng = (web_range){start, end, step};
  *out = r;
  return 0;
}

void web__query_range(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  size_t limit;
  web_range rng;
  promql_result *r = NULL;
  if (limit_param(req, resp, &limit) || web__eval_range(ctx, req, resp, &rng, &r))
    return;
  respond(resp, r, limit);
  promql_result_free(r);
}
