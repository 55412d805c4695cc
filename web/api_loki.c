/* api_loki.c — Loki-compatible read API: query_range, query, labels,
 * label values, series and tail, in Loki's response shapes.
 *
 * Times: `start`/`end`/`time` accept Unix nanoseconds (Loki's unit), float
 * seconds or RFC 3339; defaults are the last hour up to now. `step` is a
 * duration or float seconds (default: range/250, at least 1 s), `direction`
 * forward|backward (default backward), `limit` (default 100, max 5000).
 * /tail answers a live text/event-stream: it sends the entries since
 * `start` (default one hour ago, at most `limit`), then keeps the connection
 * open, polls the store for newer entries every 150 ms and sends each as an
 * SSE event `data: {"streams":[...]}` (Loki's tail shape) with the entry time
 * as `id`, so an EventSource reconnects (Last-Event-ID) where it stopped. A
 * comment line every 5 s idle lets the server notice a departed client; the
 * stream ends after `duration` (default and max 1 h). The stream state is
 * owned by the HTTP server (freed once, when the response ends). Parse
 * errors are 400 naming the position.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_json.h"
#include "lib/lk_strlit.h"
#include "lib/lk_time.h"
#include "web/api_loki.h"
#include "web/api_loki_int.h"

#define DEF_LIMIT 100
#define MAX_LIMIT 5000
#define HOUR_NS (3600LL * 1000000000LL)

logstore *web__loki_store(void *ctx, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!w->logs)
    lk_http_error(resp, 503, "unavailable", "no log store configured");
  return w->logs;
}

long web__loki_parse_labels(const char *s, lk_arena *a, lk_label *ls, size_t max, lk_diag *d)
{
  const char *p = s;
  size_t n = 0;
  while (*p == ' ')
    p++;
  if (*p++ != '{')
    return -1;
  for (;;) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '}')
      return (long)n;
    const char *k = p;
    while (*p && *p != '=' && *p != ' ')
      p++;
    if (n == max || p == k || *p != '=' || p[1] != '"')
      return -1;
    ls[n].name = lk_arena_strndup(a, k, (size_t)(p - k));
    p += 2;
    lk_buf v = {0};
    const char *at;
    int rc = lk_strlit_body(&p, '"', LK_STRLIT_GO, &v, &at); /* Go escapes, as Loki reads them */
    ls[n++].value = lk_arena_strndup(a, v.data ? (char *)v.data : "", v.len);
    lk_buf_fini(&v);
    if (rc)
      return -1;
  }
}

static int64_t now_ns(void) { return lk_now_ms() * 1000000LL; }

/* ns integer (16+ digits), float seconds or RFC 3339. */
static int parse_ns(const lk_http_req *req, const char *name, int64_t def, int64_t *out, lk_diag *d)
{
  const char *s = lk_http_arg(req, name);
  if (!s || !*s) {
    *out = def;
    return 0;
  }
  size_t digits = strspn(s, "0123456789");
  if (digits >= 16 && !s[digits]) {
    *out = strtoll(s, NULL, 10);
    return 0;
  }
  int64_t ms;
  if (lk_parse_time(s, &ms, NULL))
    return lk_diag_set(d, LK_EPARSE, -1, "invalid %s \"%s\"", name, s);
  *out = ms * 1000000LL;
  return 0;
}

typedef struct qparams {
  const char *query;
  logstore_query_opts o;
} qparams;

static int parse_common(const lk_http_req *req, qparams *q, lk_diag *d)
{
  q->query = lk_http_arg(req, "query");
  if (!q->query || !*q->query)
    return lk_diag_set(d, LK_EPARSE, -1, "missing query parameter");
  const char *lim = lk_http_arg(req, "limit"), *dir = lk_http_arg(req, "direction");
  long l = lim ? strtol(lim, NULL, 10) : DEF_LIMIT;
  if (l <= 0 || l > MAX_LIMIT)
    return lk_diag_set(d, LK_EINVAL, -1, "limit must be between 1 and %d", MAX_LIMIT);
  q->o.limit = (size_t)l;
  if (dir && strcasecmp(dir, "forward") && strcasecmp(dir, "backward"))
    return lk_diag_set(d, LK_EINVAL, -1, "direction must be forward or backward");
  q->o.direction = dir && !strcasecmp(dir, "forward") ? LOGSTORE_FORWARD : LOGSTORE_BACKWARD;
  return 0;
}

static void put_ns(lk_buf *b, int64_t ns) { lk_buf_printf(b, "\"%lld\"", (long long)ns); }

static void write_streams(lk_buf *b, const logstore_result *r)
{
  for (size_t i = 0; i < r->n; i++) {
    const logstore_rstream *s = &r->streams[i];
    lk_buf_puts(b, i ? ",{\"stream\":" : "{\"stream\":");
    lk_json_labels(b, s->labels, s->nlabels);
    lk_buf_puts(b, ",\"values\":[");
    for (size_t j = 0; j < s->n; j++) {
      lk_buf_puts(b, j ? ",[" : "[");
      put_ns(b, s->entries[j].ts);
      lk_buf_putc(b, ',');
      lk_json_strn(b, s->entries[j].line, s->entries[j].len);
      lk_buf_putc(b, ']');
    }
    lk_buf_puts(b, "]}");
  }
}

static void write_series(lk_buf *b, const logstore_result *r)
{
  for (size_t i = 0; i < r->n; i++) {
    const logstore_rseries *s = &r->series[i];
    lk_buf_puts(b, i ? ",{\"metric\":" : "{\"metric\":");
    lk_json_labels(b, s->labels, s->nlabels);
    if (r->kind == LOGSTORE_VECTOR) {
      lk_buf_puts(b, ",\"value\":");
      lk_json_point(b, s->t_ns[0] / 1000000, s->v[0]);
    } else {
      lk_buf_puts(b, ",\"values\":[");
      for (size_t j = 0; j < s->n; j++) {
        if (j)
          lk_buf_putc(b, ',');
        lk_json_point(b, s->t_ns[j] / 1000000, s->v[j]);
      }
      lk_buf_putc(b, ']');
    }
    lk_buf_putc(b, '}');
  }
}

static void write_result(lk_http_resp *resp, const logstore_result *r)
{
  static const char *types[] = {"streams", "matrix", "vector"};
  lk_buf b = {0};
  lk_buf_printf(&b, "{\"resultType\":\"%s\",\"result\":[", types[r->kind]);
  if (r->kind == LOGSTORE_STREAMS)
    write_streams(&b, r);
  else
    write_series(&b, r);
  lk_buf_printf(&b, "],\"stats\":{\"summary\":{\"blocksTotal\":%zu,\"blocksRead\":%zu,"
                "\"bytesRead\":%llu,\"linesScanned\":%llu}}}", r->blocks_total, r->blocks_read,
                (unsigned long long)r->bytes_read, (unsigned long long)r->lines_scanned);
  web__ok(resp, &b);
  lk_buf_fini(&b);
}

static void run_query(lk_http_resp *resp, logstore *s, qparams *q)
{
  lk_diag d = {0};
  logstore_result *r;
  int rc = logstore_query(s, q->query, &q->o, &r, &d);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    return;
  }
  write_result(resp, r);
  logstore_result_free(r);
}

void web__loki_query_range(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  qparams q = {0};
  lk_diag d = {0};
  int64_t now = now_ns();
  int rc = parse_common(req, &q, &d);
  if (!rc)
    rc = parse_ns(req, "end", now, &q.o.end_ns, &d);
  if (!rc)
    rc = parse_ns(req, "start", q.o.end_ns - HOUR_NS, &q.o.start_ns, &d);
  const char *step = lk_http_arg(req, "step");
  int64_t step_ms = 0;
  if (!rc && step && *step && lk_parse_step(step, &step_ms, NULL))
    rc = lk_diag_set(&d, LK_EPARSE, -1, "invalid step \"%s\"", step);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    return;
  }
  q.o.step_ns = step_ms * 1000000LL;
  if (!q.o.step_ns) {
    q.o.step_ns = (q.o.end_ns - q.o.start_ns) / 250;
    if (q.o.step_ns < 1000000000LL)
      q.o.step_ns = 1000000000LL;
  }
  run_query(resp, s, &q);
}

void web__loki_query(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  qparams q = {0};
  lk_diag d = {0};
  int rc = parse_common(req, &q, &d);
  if (!rc)
    rc = parse_ns(req, "time", now_ns(), &q.o.end_ns, &d);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    return;
  }
  q.o.start_ns = q.o.end_ns - HOUR_NS; /* log queries at an instant look back one hour */
  run_query(resp, s, &q);
}

/* Answers the strings as a JSON array, then frees their arena. */
static void write_strings(lk_http_resp *resp, const char **v, size_t n, lk_arena *a)
{
  lk_buf b = {0};
  lk_buf_putc(&b, '[');
  for (size_t i = 0; i < n; i++) {
    if (i)
      lk_buf_putc(&b, ',');
    lk_json_str(&b, v[i]);
  }
  lk_buf_putc(&b, ']');
  web__ok(resp, &b);
  lk_buf_fini(&b);
  lk_arena_free(a);
}

/* start and end (default: the 6 hours up to now); false after answering
 * the parse error. */
static bool parse_range(const lk_http_req *req, lk_http_resp *resp, int64_t *start, int64_t *end)
{
  lk_diag d = {0};
  int rc = parse_ns(req, "end", now_ns(), end, &d);
  if (!rc)
    rc = parse_ns(req, "start", *end - 6 * HOUR_NS, start, &d);
  if (rc)
    web__fail(resp, LK_EPARSE, &d, NULL);
  return !rc;
}

void web__loki_labels(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  int64_t start, end;
  if (!s || !parse_range(req, resp, &start, &end))
    return;
  const char **v;
  size_t n;
  lk_arena *a;
  logstore_labels(s, start, end, &v, &n, &a);
  write_strings(resp, v, n, a);
}

/* /loki/api/v1/label/<name>/values */
void web__loki_label_values(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  const char *p = lk_http_path_param(req), *slash = strchr(p, '/');
  if (!slash || strcmp(slash, "/values") || slash == p) {
    lk_http_error(resp, 404, "not_found", "expected /loki/api/v1/label/<name>/values");
    return;
  }
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(slash - p), p);
  int64_t start, end;
  if (!parse_range(req, resp, &start, &end))
    return;
  const char **v;
  size_t n;
  lk_arena *a;
  logstore_label_values(s, name, start, end, &v, &n, &a);
  write_strings(resp, v, n, a);
}

void web__loki_series(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  const char *match[64];
  size_t nm = lk_http_args(req, "match[]", match, 64);
  if (!nm)
    nm = lk_http_args(req, "match", match, 64);
  int64_t start, end;
  if (!parse_range(req, resp, &start, &end))
    return;
  lk_diag d = {0};
  lk_buf b = {0};
  lk_buf_putc(&b, '[');
  size_t written = 0;
  for (size_t m = 0; m < (nm ? nm : 1); m++) {
    logstore_rstream *ss;
    size_t n;
    lk_arena *a;
    int rc = logstore_series(s, nm ? match[m] : NULL, start, end, &ss, &n, &a, &d);
    if (rc) {
      lk_buf_fini(&b);
      web__fail(resp, rc, &d, NULL);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      if (written++)
        lk_buf_putc(&b, ',');
      lk_json_labels(&b, ss[i].labels, ss[i].nlabels);
    }
    lk_arena_free(a);
  }
  lk_buf_putc(&b, ']');
  web__ok(resp, &b);
  lk_buf_fini(&b);
}

/*---- tail ----*/

static void sse_events(lk_buf *out, const logstore_result *r, int64_t *last)
{
  /* forward results: per stream in time order; send each entry newer than *last */
  int64_t newest = *last;
  for (size_t i = 0; i < r->n; i++) {
    const logstore_rstream *s = &r->streams[i];
    for (size_t j = 0; j < s->n; j++) {
      if (s->entries[j].ts <= *last)
        continue;
      lk_buf_printf(out, "id: %lld\ndata: {\"streams\":[{\"stream\":", (long long)s->entries[j].ts);
      lk_json_labels(out, s->labels, s->nlabels);
      lk_buf_puts(out, ",\"values\":[[");
      put_ns(out, s->entries[j].ts);
      lk_buf_putc(out, ',');
      lk_json_strn(out, s->entries[j].line, s->entries[j].len);
      lk_buf_puts(out, "]]}]}\n\n");
      if (s->entries[j].ts > newest)
        newest = s->entries[j].ts;
    }
  }
  *last = newest;
}

/* One open /tail stream: owned by the HTTP server from the handler's return
 * until tail_free. `out` holds encoded events not yet handed to the server. */
typedef struct tail_state {
  logstore *s;
  char *query;
  logstore_query_opts o;
  int64_t last;                /* newest entry time sent */
  int64_t deadline, next_poll, next_ping; /* monotonic ns */
  lk_buf out;
  size_t out_pos;
} tail_state;

#define TAIL_POLL_NS (150LL * 1000000LL)
#define TAIL_PING_NS (5000LL * 1000000LL)
#define TAIL_MAX_MS (3600LL * 1000LL)

/* Query entries newer than st->last and append them as events; 0, or -1
 * when the store fails (the stream then ends). */
static int tail_poll(tail_state *st)
{
  logstore_result *r;
  st->o.start_ns = st->last + 1;
  st->o.end_ns = INT64_MAX / 2;
  if (logstore_query(st->s, st->query, &st->o, &r, NULL))
    return -1;
  if (r->kind == LOGSTORE_STREAMS)
    sse_events(&st->out, r, &st->last);
  logstore_result_free(r);
  return 0;
}

static ssize_t tail_read(void *state, uint8_t *buf, size_t max)
{
  tail_state *st = state;
  int64_t now = lk_mono_ns();
  if (st->out_pos == st->out.len) {
    lk_buf_clear(&st->out);
    st->out_pos = 0;
    if (now >= st->deadline)
      return -1;
    if (now >= st->next_poll) {
      if (tail_poll(st))
        return -1;
      st->next_poll = now + TAIL_POLL_NS;
    }
    if (!st->out.len && now >= st->next_ping)
      lk_buf_puts(&st->out, ": keep-alive\n\n"); /* lets the server notice a departed client */
    if (!st->out.len) {
      usleep(100000);
      return 0;
    }
    st->next_ping = now + TAIL_PING_NS;
  }
  return (ssize_t)lk_buf_read(&st->out, &st->out_pos, buf, max);
}

static void tail_free(void *state)
{
  tail_state *st = state;
  lk_buf_fini(&st->out);
  free(st->query);
  free(st);
}

void web__loki_tail(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  qparams q = {0};
  lk_diag d = {0};
  int64_t now = now_ns(), start = 0;
  int rc = parse_common(req, &q, &d);
  if (!rc)
    rc = logstore_logql_check(q.query, &d);
  const char *leid = lk_http_header(req, "Last-Event-ID");
  if (!rc)
    rc = parse_ns(req, "start", now - HOUR_NS, &start, &d);
  if (!rc && leid && *leid)
    start = strtoll(leid, NULL, 10) + 1;
  const char *dur = lk_http_arg(req, "duration");
  int64_t dur_ms = TAIL_MAX_MS;
  if (!rc && dur && lk_parse_step(dur, &dur_ms, NULL))
    rc = lk_diag_set(&d, LK_EPARSE, -1, "invalid duration \"%s\"", dur);
  logstore_result *r = NULL;
  q.o.direction = LOGSTORE_FORWARD;
  q.o.start_ns = start;
  q.o.end_ns = INT64_MAX / 2;
  if (!rc)
    rc = logstore_query(s, q.query, &q.o, &r, &d);
  if (rc) {
    web__fail(resp, rc, &d, NULL);
    return;
  }
  if (r->kind != LOGSTORE_STREAMS) {
    logstore_result_free(r);
    lk_http_error(resp, 400, "bad_data", "tail needs a log query, not a metric query");
    return;
  }
  if (dur_ms > TAIL_MAX_MS)
    dur_ms = TAIL_MAX_MS;
  tail_state *st = lk_xcalloc(1, sizeof *st);
  int64_t mono = lk_mono_ns();
  *st = (tail_state){.s = s, .query = lk_xstrdup(q.query), .o = q.o, .last = start - 1,
                     .deadline = mono + dur_ms * 1000000LL, .next_poll = mono + TAIL_POLL_NS,
                     .next_ping = mono + TAIL_PING_NS};
  sse_events(&st->out, r, &st->last);
  logstore_result_free(r);
  resp->status = 200;
  resp->content_type = "text/event-stream";
  resp->stream = (lk_http_body_stream){tail_read, tail_free, st};
}
