/* web_server.c — web_start/web_stop, the health endpoints and the shared
 * response helpers (success envelope, LK_E* → Prometheus error mapping).
 *
 * web_start copies the static route table and resolves its WEB_BODY_*
 * classes against the configured limits, so the table itself stays a plain
 * constant list that other modules add lines to.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/lk_alloc.h"
#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "orchestrator/orchestrator.h"
#include "promql/promql.h"
#include "web/web_int.h"

static void fill_default_limits(web_limits *l)
{
  if (!l->max_write_body)
    l->max_write_body = (size_t)16 << 20;
  if (!l->max_decoded_body)
    l->max_decoded_body = (size_t)256 << 20;
  if (!l->max_import_body)
    l->max_import_body = (size_t)64 << 30;
  if (!l->max_form_body)
    l->max_form_body = (size_t)1 << 20;
  if (!l->max_line)
    l->max_line = (size_t)1 << 20;
  if (!l->max_match)
    l->max_match = 64;
  if (!l->max_series)
    l->max_series = 1000000;
  if (!l->max_query_samples)
    l->max_query_samples = 50000000;
  if (l->query_timeout_ms <= 0)
    l->query_timeout_ms = 120000;
  if (!l->max_render_series)
    l->max_render_series = 20;
}

static size_t resolve_limit(const web_limits *l, size_t v)
{
  if (v == WEB_BODY_WRITE)
    return l->max_write_body;
  if (v == WEB_BODY_IMPORT)
    return l->max_import_body;
  if (v == WEB_BODY_FORM)
    return l->max_form_body;
  return v;
}

static void free_server(web_server *w)
{
  pthread_mutex_destroy(&w->stats.lock);
  pthread_mutex_destroy(&w->arena_mu);
  pthread_mutex_destroy(&w->render_mu);
  for (size_t i = 0; i < w->narenas; i++)
    lk_arena_free(w->arenas[i]);
  lk_keycache_free(w->rw_cache);
  web__rw_memo_fini(w);
  free(w->ui_dir);
  free(w->routes);
  free(w);
}

/* Every configured external metric's query must parse. */
static int check_external(const web_opts *o, lk_diag *d)
{
  for (size_t i = 0; i < o->nexternal_metrics; i++) {
    promql_expr *e;
    lk_diag pd = {0};
    if (promql_parse(o->external_metrics[i].query, &e, &pd))
      return lk_diag_set(d, LK_EINVAL, -1, "external_metrics: %s: %s", o->external_metrics[i].name, pd.msg);
    promql_expr_free(e);
  }
  return 0;
}

int web_start(const web_opts *o, web_server **out, lk_diag *d)
{
  if (!o->db)
    return lk_diag_set(d, LK_EINVAL, -1, "web_start: no storage");
  int rc = check_external(o, d);
  if (rc)
    return rc;
  struct stat st;
  if (o->ui_dir && (stat(o->ui_dir, &st) || !S_ISDIR(st.st_mode)))
    return lk_diag_set(d, LK_EINVAL, -1, "dashboard directory %s: not a directory", o->ui_dir);
  web_server *w = lk_xcalloc(1, sizeof *w);
  w->db = o->db;
  w->query_cache = o->query_cache;
  w->logs = o->logs;
  w->rules = o->rules;
  w->autoscaler = o->autoscaler;
  w->external = o->external_metrics;
  w->nexternal = o->nexternal_metrics;
  w->am = o->am;
  w->ui_dir = o->ui_dir ? lk_xstrdup(o->ui_dir) : NULL;
  w->orch = o->orch;
  w->config = o->config;
  w->limits = o->limits;
  fill_default_limits(&w->limits);
  w->start_ms = lk_now_ms();
  pthread_mutex_init(&w->stats.lock, NULL);
  pthread_mutex_init(&w->arena_mu, NULL);
  pthread_mutex_init(&w->memo_mu, NULL);
  pthread_mutex_init(&w->render_mu, NULL);
  w->rw_cache = lk_keycache_new(WEB_RW_CACHE_BYTES);
  w->nroutes = web__nroutes;
  w->routes = lk_xmalloc(w->nroutes * sizeof *w->routes);
  for (size_t i = 0; i < w->nroutes; i++) {
    w->routes[i] = web__route_table[i];
    w->routes[i].body_limit = resolve_limit(&w->limits, w->routes[i].body_limit);
  }
  lk_http_opts ho = {.listen = o->listen, .token = o->token, .token_file = o->token_file,
                     .threads = o->threads, .require_token = o->require_token,
                     .require_read_token = o->require_read_token, .tls_cert = o->tls_cert,
                     .tls_key = o->tls_key, .max_connections = w->limits.max_connections,
                     .max_connections_per_ip = w->limits.max_connections_per_ip,
                     .timeout_s = w->limits.idle_timeout_s, .request_timeout_s = w->limits.request_timeout_s};
  rc = lk_http_start(&ho, w->routes, w->nroutes, w, web__observe, &w->http, d);
  if (rc) {
    free_server(w);
    return rc;
  }
  *out = w;
  return 0;
}

int web_port(const web_server *w) { return lk_http_port(w->http); }

void web_stop(web_server *w)
{
  if (!w)
    return;
  lk_http_stop(w->http);
  free_server(w);
}

void web__healthy(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain; charset=utf-8";
  lk_buf_puts(&resp->body, "Lookout is Healthy.\n");
}

/* The server only starts listening once storage is open and replayed, so
 * a server that answers is ready. */
void web__ready(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  resp->content_type = "text/plain; charset=utf-8";
  lk_buf_puts(&resp->body, "Lookout is Ready.\n");
}

void web__ok(lk_http_resp *resp, const lk_buf *data)
{
  resp->status = 200;
  resp->content_type = "application/json";
  lk_buf_puts(&resp->body, "{\"status\":\"success\",\"data\":");
  lk_buf_append(&resp->body, data->data, data->len);
  lk_buf_putc(&resp->body, '}');
}

int web__status_of(int code, enum web_origin from, const char **type)
{
  bool body = from == WEB_ORIGIN_BODY;
  switch (code) {
  case LK_EINVAL: case LK_EPARSE: case LK_EOOO: *type = "bad_data"; return 400;
  case LK_ECORRUPT: *type = body ? "bad_data" : "internal"; return body ? 400 : 500;
  case LK_ETOOBIG: *type = "bad_data"; return 413;
  case LK_ELIMIT: *type = body ? "bad_data" : "execution"; return body ? 400 : 422;
  case LK_EEXEC: *type = "execution"; return 422;
  case LK_ETIMEOUT: *type = "timeout"; return 503;
  case LK_ECANCELED: *type = "canceled"; return 499;
  case LK_ENOENT: *type = "not_found"; return 404;
  case LK_EUNAVAIL: *type = "unavailable"; return 503;
  case LK_ENOSPC: case -EDQUOT: *type = "unavailable"; return 507; /* disk full: retry later */
  default: *type = "internal"; return 500;
  }
}

static void fail_from(lk_http_resp *resp, int code, enum web_origin from, const lk_diag *d, const char *what)
{
  const char *type;
  int status = web__status_of(code, from, &type);
  const char *msg = d && d->set ? d->msg : lk_strerror(code);
  if (what)
    lk_http_error(resp, status, type, "%s: %s", what, msg);
  else
    lk_http_error(resp, status, type, "%s", msg);
}

void web__fail(lk_http_resp *resp, int code, const lk_diag *d, const char *what)
{
  fail_from(resp, code, WEB_ORIGIN_SERVER, d, what);
}

void web__fail_body(lk_http_resp *resp, int code, const lk_diag *d, const char *what)
{
  fail_from(resp, code, WEB_ORIGIN_BODY, d, what);
}
