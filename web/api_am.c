/* api_am.c — the Alertmanager API v2 routes (/api/v2/…), so amtool and
 * Prometheus's notifier talk to Lookout as to an Alertmanager. Parameters
 * are read here; the answers come from alerting/ (alerting_am_api_*).
 * Errors follow Alertmanager: the message as a JSON string with 400 for bad
 * input, 404 for an unknown silence; 503 when the notifier is not running.
 */
#include <string.h>

#include "alerting/alerting.h"
#include "lib/lk_json.h"
#include "web/web_int.h"

#define MAX_FILTERS 64

static bool am_ready(web_server *w, lk_http_resp *resp)
{
  if (w->am)
    return true;
  lk_http_error(resp, 503, "unavailable", "the alert notifier is not running");
  return false;
}

/* Alertmanager's error body: the message as a JSON string. */
static void am_fail(lk_http_resp *resp, int code, const lk_diag *d)
{
  resp->status = code == LK_ENOENT ? 404 : code == LK_EINVAL || code == LK_EPARSE ? 400 : 500;
  lk_buf_clear(&resp->body);
  lk_json_str(&resp->body, d->set ? d->msg : lk_strerror(code));
}

/* A boolean query parameter (default true); false on a bad value, with resp set. */
static bool flag(const lk_http_req *req, const char *name, bool *out, lk_http_resp *resp)
{
  const char *v = lk_http_arg(req, name);
  *out = true;
  if (!v || !strcmp(v, "true"))
    return true;
  if (!strcmp(v, "false")) {
    *out = false;
    return true;
  }
  lk_diag d = {0};
  lk_diag_set(&d, LK_EINVAL, -1, "%s in query must be of type boolean: \"%s\"", name, v);
  am_fail(resp, LK_EINVAL, &d);
  return false;
}

static bool read_query(const lk_http_req *req, alerting_am_query *q, const char **filters, lk_http_resp *resp)
{
  memset(q, 0, sizeof *q);
  q->nfilter = lk_http_args(req, "filter", filters, MAX_FILTERS);
  if (q->nfilter > MAX_FILTERS) {
    lk_diag d = {0};
    lk_diag_set(&d, LK_EINVAL, -1, "at most %d filter parameters", MAX_FILTERS);
    am_fail(resp, LK_EINVAL, &d);
    return false;
  }
  q->filter = filters;
  q->receiver = lk_http_arg(req, "receiver");
  return flag(req, "active", &q->active, resp) && flag(req, "silenced", &q->silenced, resp) &&
         flag(req, "inhibited", &q->inhibited, resp) && flag(req, "unprocessed", &q->unprocessed, resp);
}

void web__am_alerts(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!am_ready(w, resp))
    return;
  lk_diag d = {0};
  int rc;
  if (!strcmp(lk_http_method(req), "POST")) {
    size_t len;
    const uint8_t *body = lk_http_body(req, &len);
    rc = alerting_am_api_post_alerts(w->am, body, len, &d);
  } else {
    const char *filters[MAX_FILTERS];
    alerting_am_query q;
    if (!read_query(req, &q, filters, resp))
      return;
    rc = alerting_am_api_alerts(w->am, &q, &resp->body, &d);
  }
  if (rc)
    am_fail(resp, rc, &d);
}

void web__am_groups(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  const char *filters[MAX_FILTERS];
  alerting_am_query q;
  if (!am_ready(w, resp) || !read_query(req, &q, filters, resp))
    return;
  lk_diag d = {0};
  int rc = alerting_am_api_groups(w->am, &q, &resp->body, &d);
  if (rc)
    am_fail(resp, rc, &d);
}

void web__am_silences(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!am_ready(w, resp))
    return;
  lk_diag d = {0};
  int rc;
  if (!strcmp(lk_http_method(req), "POST")) {
    size_t len;
    const uint8_t *body = lk_http_body(req, &len);
    rc = alerting_am_api_post_silence(w->am, body, len, &resp->body, &d);
  } else {
    const char *filters[MAX_FILTERS];
    size_t n = lk_http_args(req, "filter", filters, MAX_FILTERS);
    rc = alerting_am_api_silences(w->am, filters, n < MAX_FILTERS ? n : MAX_FILTERS, &resp->body, &d);
  }
  if (rc)
    am_fail(resp, rc, &d);
}

void web__am_silence(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!am_ready(w, resp))
    return;
  lk_diag d = {0};
  const char *id = lk_http_path_param(req);
  int rc = !strcmp(lk_http_method(req), "DELETE") ? alerting_am_api_expire_silence(w->am, id, &d)
                                                  : alerting_am_api_silence(w->am, id, &resp->body, &d);
  if (rc)
    am_fail(resp, rc, &d);
}

void web__am_status(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (am_ready(w, resp))
    alerting_am_api_status(w->am, &resp->body);
}

void web__am_receivers(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (am_ready(w, resp))
    alerting_am_api_receivers(w->am, &resp->body);
}
