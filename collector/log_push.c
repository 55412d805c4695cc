/* log_push.c — agent mode for logs: tailer batches to any Loki-compatible
 * POST /loki/api/v1/push, losslessly across outages.
 *
 * The sink (tailer thread) encodes each batch as one snappy-compressed
 * logproto.PushRequest (entries grouped into streams by label set) and
 * appends it to the bounded on-disk queue (collector/queue.h, the same one
 * the metrics push path uses); the tailer checkpoints once the request is
 * on disk. The sender thread posts the oldest queued request, removes it on
 * 2xx, drops it on a 4xx other than 429 (counted as rejected) and otherwise
 * retries it with exponential backoff, so requests arrive in order.
 * Threads: tailer thread (sink) and sender thread. Lock order: p->lock, then
 * the queue's own lock. p->lock guards stats, stop, running.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/queue.h"
#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "lib/lk_varint.h"
#include "lib/lk_wire.h"

struct collector_log_pusher {
  char *url, *auth_header;
  int timeout_ms;
  collector__queue *q;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool running, stop;
  collector_log_push_stats st;
};

int collector_log_pusher_new(const collector_log_push_opts *o, collector_log_pusher **out,
                             lk_diag *d)
{
  if (!o || !o->url || strncmp(o->url, "http://", 7) || !o->queue_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "log push: an http:// url and a queue directory are required");
  collector__queue *q = NULL;
  int rc = collector__queue_open(o->queue_dir, o->queue_max_bytes ? o->queue_max_bytes : 256u << 20,
                                 &q, d);
  if (rc)
    return rc;
  collector_log_pusher *p = lk_xcalloc(1, sizeof *p);
  size_t n = strlen(o->url) + 32;
  p->url = lk_xmalloc(n);
  bool full = strstr(o->url, "/loki/api/v1/push") != NULL;
  snprintf(p->url, n, "%s%s", o->url, full ? "" : "/loki/api/v1/push");
  if (o->bearer_token) {
    n = strlen(o->bearer_token) + 32;
    p->auth_header = lk_xmalloc(n);
    snprintf(p->auth_header, n, "Authorization: Bearer %s", o->bearer_token);
  }
  p->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
  p->q = q;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  *out = p;
  return 0;
}

/*---- encoding ----*/

static void pb_len(lk_buf *b, unsigned field, size_t n)
{
  lk_buf_put_uvarint(b, field << 3 | 2);
  lk_buf_put_uvarint(b, n);
}

static void labels_text(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_buf_putc(b, '{');
  for (size_t i = 0; i < n; i++) {
    lk_buf_printf(b, "%s%s=\"", i ? ", " : "", ls[i].name);
    for (const char *v = ls[i].value; *v; v++) {
      if (*v == '"' || *v == '\\')
        lk_buf_putc(b, '\\');
      if (*v == '\n')
        lk_buf_puts(b, "\\n");
      else
        lk_buf_putc(b, (uint8_t)*v);
    }
    lk_buf_putc(b, '"');
  }
  lk_buf_putc(b, '}');
}

static void encode_entry(lk_buf *st, const collector_log_entry *e)
{
  uint8_t ts[24];
  size_t tn = 0;
  ts[tn++] = 1 << 3;
  tn += lk_uvarint_put(ts + tn, (uint64_t)(e->ts / 1000000000));
  ts[tn++] = 2 << 3;
  tn += lk_uvarint_put(ts + tn, (uint64_t)(e->ts % 1000000000));
  lk_buf ent = {0};
  pb_len(&ent, 1, tn);
  lk_buf_append(&ent, ts, tn);
  pb_len(&ent, 2, e->len);
  lk_buf_append(&ent, e->line, e->len);
  pb_len(st, 2, ent.len);
  lk_buf_append(st, ent.data, ent.len);
  lk_buf_fini(&ent);
}

static int log_sink(void *ctx, const collector_log_entry *e, size_t n)
{
  collector_log_pusher *p = ctx;
  lk_buf req = {0}, st = {0}, lt = {0}, body = {0};
  for (size_t i = 0; i < n;) {
    lk_buf_clear(&st);
    lk_buf_clear(&lt);
    labels_text(&lt, e[i].labels, e[i].nlabels);
    pb_len(&st, 1, lt.len);
    lk_buf_append(&st, lt.data, lt.len);
    size_t j = i;
    for (; j < n && e[j].labels == e[i].labels; j++)
      encode_entry(&st, &e[j]);
    pb_len(&req, 1, st.len);
    lk_buf_append(&req, st.data, st.len);
    i = j;
  }
  lk_snappy_compress(req.data, req.len, &body);
  int rc = collector__queue_put(p->q, body.data, body.len, n);
  lk_buf_fini(&req), lk_buf_fini(&st), lk_buf_fini(&lt), lk_buf_fini(&body);
  pthread_mutex_lock(&p->lock);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

collector_log_sink collector_log_pusher_sink(collector_log_pusher *p)
{
  return (collector_log_sink){log_sink, p};
}

/*---- the sender ----*/

enum outcome { SENT, REJECTED, RETRY };

static enum outcome send_one(collector_log_pusher *p, const lk_buf *body)
{
  const char *hdrs[4] = {"Content-Type: application/x-protobuf", "User-Agent: lookout-agent",
                         p->auth_header, NULL};
  lk_httpc_req req = {.method = "POST", .url = p->url, .headers = hdrs, .body = body->data,
                      .body_len = body->len, .timeout_ms = p->timeout_ms, .max_body = 1 << 20};
  lk_httpc_resp resp = {0};
  int rc = lk_httpc_do(&req, &resp, NULL);
  enum outcome o = RETRY;
  if (!rc && resp.status / 100 == 2) {
    o = SENT;
  } else if (!rc && resp.status / 100 == 4 && resp.status != 429) {
    o = REJECTED;
    lk_warn("log push to %s rejected with %d: %.200s", p->url, resp.status,
            resp.body.data ? (const char *)resp.body.data : "");
  }
  lk_httpc_resp_fini(&resp);
  return o;
}

static bool wait_ms(collector_log_pusher *p, int64_t ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
  ts.tv_sec += ms / 1000 + ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  pthread_mutex_lock(&p->lock);
  if (!p->stop)
    pthread_cond_timedwait(&p->wake, &p->lock, &ts);
  bool stop = p->stop;
  pthread_mutex_unlock(&p->lock);
  return stop;
}

static void *sender(void *arg)
{
  collector_log_pusher *p = arg;
  lk_buf body = {0};
  int64_t backoff = 100;
  for (;;) {
    uint64_t seq, entries;
    if (collector__queue_peek(p->q, &body, &seq, &entries)) {
      if (wait_ms(p, 1000))
        break;
      continue;
    }
    enum outcome o = send_one(p, &body);
    pthread_mutex_lock(&p->lock);
    if (o == SENT)
      p->st.sent_requests++, p->st.sent_entries += entries;
    else if (o == REJECTED)
      p->st.rejected_requests++;
    else
      p->st.failed_attempts++;
    bool stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    if (o != RETRY) {
      collector__queue_pop(p->q, seq);
      backoff = 100;
      continue;
    }
    if (stop || wait_ms(p, backoff))
      break;
    backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
  }
  lk_buf_fini(&body);
  return NULL;
}

int collector_log_pusher_start(collector_log_pusher *p)
{
  pthread_mutex_lock(&p->lock);
  bool was = p->running;
  p->stop = false;
  p->running = true;
  pthread_mutex_unlock(&p->lock);
  if (was)
    return LK_EEXIST;
  if (pthread_create(&p->thread, NULL, sender, p)) {
    p->running = false;
    return LK_EAGAIN;
  }
  return 0;
}

void collector_log_pusher_stats(collector_log_pusher *p, collector_log_push_stats *out)
{
  pthread_mutex_lock(&p->lock);
  *out = p->st;
  pthread_mutex_unlock(&p->lock);
}

void collector_log_pusher_free(collector_log_pusher *p)
{
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  bool running = p->running;
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  if (running)
    pthread_join(p->thread, NULL);
  collector__queue_close(p->q);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p->url);
  free(p->auth_header);
  free(p);
}
