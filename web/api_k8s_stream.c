/* api_k8s_stream.c — the two long answers of the Kubernetes API:
 *  - ?watch=1: a chunked stream of {"type","object"} JSON lines (ADDED,
 *    MODIFIED, DELETED) from the store's event log after the given
 *    resourceVersion (none or "0": the current objects first, as ADDED),
 *    in the asked version or as one-row Tables, ending at timeoutSeconds;
 *  - pods/<name>/log: the container's lines from the log store (the tailer
 *    collects the runtime's CRI log files with namespace/pod/container
 *    labels), with container, tailLines, sinceSeconds, sinceTime,
 *    timestamps and follow (polled every 500 ms until the pod is gone).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_alloc.h"
#include "lib/lk_time.h"
#include "logstore/logstore.h"
#include "web/api_k8s.h"

#define WATCH_WAIT_MS 90
#define HEARTBEAT_MS 5000
#define LOG_POLL_MS 500
#define LOG_LIMIT 100000

/*---- watch ----*/

typedef struct watch_state {
  orch_watch *w;
  web_k8s_req k;
  bool table;
  json_t *initial; /* ADDED events still to send */
  size_t next_initial;
  lk_buf out;
  size_t off;
  int64_t deadline_ms, last_ms;
} watch_state;

static void queue_event(watch_state *s, const char *type, const json_t *obj)
{
  json_t *o = web__k8s_out(&s->k, obj);
  if (s->table) {
    json_t *one = json_array();
    json_array_append_new(one, o);
    o = web__k8s_table(s->k.res, one,
                       json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")));
    json_decref(one);
  }
  json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", o);
  char *text = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  lk_buf_puts(&s->out, text);
  lk_buf_putc(&s->out, '\n');
  free(text);
}

static ssize_t watch_read(void *state, uint8_t *buf, size_t max)
{
  watch_state *s = state;
  if (s->off >= s->out.len) {
    lk_buf_clear(&s->out);
    s->off = 0;
    int64_t now = lk_now_ms();
    if (s->initial && s->next_initial < json_array_size(s->initial)) {
      queue_event(s, "ADDED", json_array_get(s->initial, s->next_initial++));
    } else if (s->deadline_ms && now >= s->deadline_ms) {
      return -1;
    } else {
      json_t *ev = NULL;
      int rc = orch_watch_next(s->w, WATCH_WAIT_MS, &ev);
      if (rc == LK_ECANCELED)
        return -1;
      if (!rc) {
        queue_event(s, json_string_value(json_object_get(ev, "type")), json_object_get(ev, "object"));
        json_decref(ev);
      } else if (now - s->last_ms >= HEARTBEAT_MS) {
        lk_buf_putc(&s->out, '\n'); /* white space between JSON values: notices a departed client */
      }
    }
    if (!s->out.len)
      return 0;
    s->last_ms = now;
  }
  return (ssize_t)lk_buf_read(&s->out, &s->off, buf, max);
}

static void watch_free(void *state)
{
  watch_state *s = state;
  orch_watch_close(s->w);
  json_decref(s->initial);
  lk_buf_fini(&s->out);
  free(s);
}

void web__k8s_watch(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  orch_list_opts lo = {.ns = k->ns[0] ? k->ns : NULL, .label_selector = lk_http_arg(req, "labelSelector"),
                       .field_selector = lk_http_arg(req, "fieldSelector")};
  const char *rv_s = lk_http_arg(req, "resourceVersion");
  uint64_t since = rv_s ? strtoull(rv_s, NULL, 10) : 0;
  orch_err e = {0};
  json_t *initial = NULL;
  uint64_t now_rv = 0;
  if (!since && orch_list(w->orch, k->res->kind, &lo, &initial, &now_rv, &e)) {
    web__k8s_fail(resp, &e, k);
    orch_err_fini(&e);
    return;
  }
  orch_watch *ow = NULL;
  if (orch_watch_open(w->orch, k->res->kind, &lo, since ? since : now_rv, &ow, &e)) {
    web__k8s_fail(resp, &e, k);
    orch_err_fini(&e);
    json_decref(initial);
    return;
  }
  watch_state *s = lk_xcalloc(1, sizeof *s);
  s->w = ow;
  s->k = *k;
  s->table = web__k8s_wants_table(req);
  s->initial = initial;
  s->last_ms = lk_now_ms();
  const char *timeout = lk_http_arg(req, "timeoutSeconds");
  if (timeout)
    s->deadline_ms = s->last_ms + strtoll(timeout, NULL, 10) * 1000;
  resp->status = 200;
  resp->content_type = "application/json";
  resp->stream = (lk_http_body_stream){watch_read, watch_free, s};
}

/*---- pod logs ----*/

typedef struct log_line {
  int64_t ts;
  char *text;
  size_t len;
} log_line;

static int by_ts(const void *a, const void *b)
{
  const log_line *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Lines of the container in [start_ns, now], oldest first, the last
 * `tail` (all when tail < 0). */
static int read_lines(logstore *ls, const char *ns, const char *pod, const char *container, int64_t start_ns,
                      long tail, log_line **out, size_t *n, lk_diag *d)
{
  char q[1024];
  snprintf(q, sizeof q, "{namespace=\"%s\", pod=\"%s\", container=\"%s\"}", ns, pod, container);
  logstore_query_opts qo = {.start_ns = start_ns, .end_ns = lk_now_ms() * 1000000 + 1000000000,
                            .limit = tail >= 0 ? (size_t)tail : LOG_LIMIT,
                            .direction = tail >= 0 ? LOGSTORE_BACKWARD : LOGSTORE_FORWARD};
  *out = NULL;
  *n = 0;
  if (tail == 0)
    return 0;
  logstore_result *r = NULL;
  int rc = logstore_query(ls, q, &qo, &r, d);
  if (rc)
    return rc;
  size_t total = 0, cap = 0;
  for (size_t i = 0; i < r->n; i++)
    total += r->streams[i].n;
  log_line *v = lk_xgrow(NULL, &cap, total ? total : 1, sizeof *v);
  for (size_t i = 0; i < r->n; i++)
    for (size_t j = 0; j < r->streams[i].n; j++) {
      const logstore_entry *en = &r->streams[i].entries[j];
      log_line *l = &v[(*n)++];
      l->ts = en->ts;
      l->len = en->len;
      l->text = lk_xmalloc(en->len + 1);
      memcpy(l->text, en->line, en->len);
      l->text[en->len] = 0;
    }
  logstore_result_free(r);
  qsort(v, *n, sizeof *v, by_ts);
  if (tail >= 0 && *n > (size_t)tail) {
    size_t drop = *n - (size_t)tail;
    for (size_t i = 0; i < drop; i++)
      free(v[i].text);
    memmove(v, v + drop, (size_t)tail * sizeof *v);
    *n = (size_t)tail;
  }
  *out = v;
  return 0;
}

static void put_line(lk_buf *b, const log_line *l, bool timestamps)
{
  if (timestamps) {
    time_t t = (time_t)(l->ts / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[48];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    lk_buf_printf(b, "%s.%09lldZ ", ts, (long long)(l->ts % 1000000000));
  }
  lk_buf_append(b, l->text, l->len);
  if (!l->len || l->text[l->len - 1] != '\n')
    lk_buf_putc(b, '\n');
}

static void free_lines(log_line *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(v[i].text);
  free(v);
}

typedef struct follow_state {
  web_server *w;
  char ns[254], pod[254], container[254];
  bool timestamps;
  int64_t next_ns; /* only entries at or after this */
  lk_buf out;
  size_t off;
} follow_state;

static ssize_t follow_read(void *state, uint8_t *buf, size_t max)
{
  follow_state *s = state;
  if (s->off >= s->out.len) {
    lk_buf_clear(&s->out);
    s->off = 0;
    struct timespec pause = {0, LOG_POLL_MS * 1000000L};
    nanosleep(&pause, NULL);
    json_t *pod = NULL;
    orch_err e = {0};
    int gone = orch_get(s->w->orch, ORCH_POD, s->ns, s->pod, &pod, &e);
    json_decref(pod);
    orch_err_fini(&e);
    if (gone)
      return -1;
    log_line *v;
    size_t n;
    lk_diag d = {0};
    if (!read_lines(s->w->logs, s->ns, s->pod, s->container, s->next_ns, -1, &v, &n, &d)) {
      for (size_t i = 0; i < n; i++)
        put_line(&s->out, &v[i], s->timestamps);
      if (n)
        s->next_ns = v[n - 1].ts + 1;
      free_lines(v, n);
    }
    if (!s->out.len)
      return 0;
  }
  return (ssize_t)lk_buf_read(&s->out, &s->off, buf, max);
}

static void follow_free(void *state)
{
  follow_state *s = state;
  lk_buf_fini(&s->out);
  free(s);
}

/* The container asked for, or the only one; NULL + a 400 answer otherwise. */
static const char *pick_container(const json_t *pod, const char *want, const char *name, lk_http_resp *resp)
{
  const json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
  char names[512] = "";
  size_t n = 0, i;
  json_t *c;
  json_array_foreach(cs, i, c) {
    const char *cn = json_string_value(json_object_get(c, "name"));
    if (want && cn && !strcmp(want, cn))
      return cn;
    n += (size_t)snprintf(names + n, n < sizeof names ? sizeof names - n : 0, "%s%s", i ? " " : "", cn ? cn : "");
  }
  if (!want && json_array_size(cs) == 1)
    return json_string_value(json_object_get(json_array_get(cs, 0), "name"));
  if (want)
    web__k8s_status(resp, 400, "BadRequest", "container %s is not valid for pod %s", want, name);
  else
    web__k8s_status(resp, 400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]", name,
                    names);
  return NULL;
}

static int64_t since_ns(const lk_http_req *req)
{
  const char *s = lk_http_arg(req, "sinceSeconds"), *t = lk_http_arg(req, "sinceTime");
  int64_t now_ms = lk_now_ms(), ms = -1;
  if (s) {
    long long secs = strtoll(s, NULL, 10);
    ms = secs < now_ms / 1000 ? now_ms - (secs > 0 ? secs : 0) * 1000 : 0;
  } else if (t) {
    ms = orch_parse_rfc3339(t);
  }
  return ms > 0 && ms <= INT64_MAX / 1000000 ? ms * 1000000 : 0;
}

void web__k8s_pod_log(web_server *w, const lk_http_req *req, const web_k8s_req *k, lk_http_resp *resp)
{
  if (!w->logs) {
    web__k8s_status(resp, 503, "ServiceUnavailable", "this server has no log store");
    return;
  }
  json_t *pod = NULL;
  orch_err e = {0};
  if (orch_get(w->orch, ORCH_POD, k->ns, k->name, &pod, &e)) {
    web__k8s_fail(resp, &e, k);
    orch_err_fini(&e);
    return;
  }
  const char *container = pick_container(pod, lk_http_arg(req, "container"), k->name, resp);
  const char *tail_s = lk_http_arg(req, "tailLines"), *ts = lk_http_arg(req, "timestamps");
  const char *follow = lk_http_arg(req, "follow");
  bool timestamps = ts && (!strcmp(ts, "true") || !strcmp(ts, "1"));
  log_line *v = NULL;
  size_t n = 0;
  lk_diag d = {0};
  if (container && read_lines(w->logs, k->ns, k->name, container, since_ns(req), tail_s ? strtol(tail_s, NULL, 10) : -1,
                              &v, &n, &d)) {
    web__k8s_status(resp, 500, "InternalError", "reading the log store: %s", d.msg);
    container = NULL;
  }
  if (container) {
    resp->status = 200;
    resp->content_type = "text/plain";
    lk_buf_clear(&resp->body);
    for (size_t i = 0; i < n; i++)
      put_line(&resp->body, &v[i], timestamps);
  }
  if (container && follow && (!strcmp(follow, "true") || !strcmp(follow, "1"))) {
    follow_state *s = lk_xcalloc(1, sizeof *s);
    s->w = w;
    snprintf(s->ns, sizeof s->ns, "%s", k->ns);
    snprintf(s->pod, sizeof s->pod, "%s", k->name);
    snprintf(s->container, sizeof s->container, "%s", container);
    s->timestamps = timestamps;
    s->next_ns = n ? v[n - 1].ts + 1 : lk_now_ms() * 1000000;
    lk_buf_append(&s->out, resp->body.data, resp->body.len); /* the lines so far go first */
    lk_buf_clear(&resp->body);
    resp->stream = (lk_http_body_stream){follow_read, follow_free, s};
  }
  free_lines(v, n);
  json_decref(pod);
}
