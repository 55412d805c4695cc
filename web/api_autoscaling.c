/* api_autoscaling.c — GET /api/v1/autoscaling/events: the autoscaler's
 * decisions, each with its inputs (metric values, ratio, recommendation,
 * stabilized result, limiting policy, conditions).
 *
 * JSON: {"status":"success","data":[event, …]} with the events newer than
 * `after` (a sequence number; default 0 = every kept one), at most the newest
 * `limit` (default all kept). Live: `?stream=sse` or Accept: text/event-stream
 * answers text/event-stream, one `id: <seq>` + `data: <event>` per decision,
 * starting after `after` or Last-Event-ID, with a keep-alive comment every
 * 5 s, for `duration` (default and max 1 h). The stream state belongs to the
 * HTTP server from the handler's return until events_free. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_time.h"
#include "orchestrator/orchestrator.h"
#include "web/web_int.h"

#define PING_NS (5000LL * 1000000LL)
#define MAX_STREAM_MS (3600LL * 1000LL)

static void append_json(void *arg, uint64_t seq, const char *json) {
  lk_buf *b = arg;
  if (b->data[b->len - 1] != '[')
    lk_buf_putc(b, ',');
  lk_buf_puts(b, json);
}

static void append_sse(void *arg, uint64_t seq, const char *json) {
  lk_buf_printf(arg, "id: %llu\ndata: %s\n\n", (unsigned long long)seq, json);
}

typedef struct events_stream {
  orch_hpa_ctl *ctl;
  uint64_t last;              /* newest sequence number sent */
  int64_t deadline, next_ping; /* monotonic ns */
  lk_buf out;
  size_t out_pos;
} events_stream;

static ssize_t events_read(void *state, uint8_t *buf, size_t max) {
  events_stream *st = state;
  if (st->out_pos == st->out.len) {
    lk_buf_clear(&st->out);
    st->out_pos = 0;
    int64_t now = lk_mono_ns();
    if (now >= st->deadline)
      return -1;
    if (orch_hpa_events_wait(st->ctl, st->last, 100))
      st->last = orch_hpa_events_each(st->ctl, st->last, 0, append_sse, &st->out);
    else if (now >= st->next_ping)
      lk_buf_puts(&st->out, ": keep-alive\n\n"); /* lets the server notice a departed client */
    if (!st->out.len)
      return 0;
    st->next_ping = now + PING_NS;
  }
  return (ssize_t)lk_buf_read(&st->out, &st->out_pos, buf, max);
}

static void events_free(void *state) {
  events_stream *st = state;
  lk_buf_fini(&st->out);
  free(st);
}

static bool wants_sse(const lk_http_req *req) {
  const char *stream = lk_http_arg(req, "stream"), *accept = lk_http_header(req, "Accept");
  return (stream && !strcmp(stream, "sse")) || (accept && strstr(accept, "text/event-stream"));
}

/* A non-negative integer parameter; false (400 sent) when malformed. */
static bool uint_arg(const lk_http_req *req, lk_http_resp *resp, const char *name, const char *v,
                     uint64_t *out) {
  if (!v || !*v)
    return true;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  if (*end || v[0] == '-') {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": expected a non-negative integer, got \"%s\"",
                  name, v);
    return false;
  }
  *out = x;
  return true;
}

static void stream_events(orch_hpa_ctl *ctl, const lk_http_req *req, lk_http_resp *resp, uint64_t after) {
  const char *dur = lk_http_arg(req, "duration");
  int64_t dur_ms = MAX_STREAM_MS;
  if (dur && lk_parse_step(dur, &dur_ms, NULL)) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"duration\": \"%s\"", dur);
    return;
  }
  if (dur_ms > MAX_STREAM_MS || dur_ms <= 0)
    dur_ms = MAX_STREAM_MS;
  events_stream *st = lk_xcalloc(1, sizeof *st);
  int64_t mono = lk_mono_ns();
  *st = (events_stream){.ctl = ctl, .deadline = mono + dur_ms * 1000000LL, .next_ping = mono + PING_NS};
  st->last = orch_hpa_events_each(ctl, after, 0, append_sse, &st->out);
  resp->status = 200;
  resp->content_type = "text/event-stream";
  resp->stream = (lk_http_body_stream){events_read, events_free, st};
}

void web__autoscaling_events(void *ctx, const lk_http_req *req, lk_http_resp *resp) {
  web_server *w = ctx;
  if (!w->autoscaler) {
    lk_http_error(resp, 503, "unavailable", "the autoscaler is not running (no orchestrator)");
    return;
  }
  uint64_t after = 0, limit = 0;
  const char *leid = lk_http_header(req, "Last-Event-ID");
  if (!uint_arg(req, resp, "after", lk_http_arg(req, "after"), &after) ||
      !uint_arg(req, resp, "Last-Event-ID", leid, &after) || !uint_arg(req, resp, "limit", lk_http_arg(req, "limit"), &limit))
    return;
  if (wants_sse(req)) {
    stream_events(w->autoscaler, req, resp, after);
    return;
  }
  lk_buf data = {0};
  lk_buf_putc(&data, '[');
  orch_hpa_events_each(w->autoscaler, after, (size_t)limit, append_json, &data);
  lk_buf_putc(&data, ']');
  web__ok(resp, &data);
  lk_buf_fini(&data);
}
