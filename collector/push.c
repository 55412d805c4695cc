/* push.c — remote_write 0.1.0 from the agent, losslessly across outages.
 *
 * The sink side (collector thread) encodes each cycle as snappy-compressed
 * WriteRequests of at most max_series_per_send series (labels sorted, as the
 * spec requires) and appends them to the on-disk queue; it never waits for
 * the network. The sender thread sends the oldest queued request, removes it
 * on 2xx, drops it on a 4xx other than 429 (the receiver will never take it;
 * counted as rejected), and otherwise retries the same request with
 * exponential backoff, so requests arrive in order and each once a 2xx was
 * seen. A server outage only grows the queue; its bound drops the oldest.
 *
 * Threads: the collector thread calls the sink, the sender thread sends.
 * Lock order: p->lock, then the queue's own lock (inside queue calls).
 * p->lock guards the counters, `stop` and `running`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "collector/queue.h"
#include "lib/lk_alloc.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"

struct collector_pusher {
  char *url;
  char *auth_header;
  size_t max_series;
  int timeout_ms;
  int64_t backoff_min_ms, backoff_max_ms;
  collector__queue *q;

  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool running, stop;
  collector_push_stats st;
};

int collector_pusher_new(const collector_push_opts *o, collector_pusher **out, lk_diag *d)
{
  if (!o || !o->url || strncmp(o->url, "http://", 7) || !o->queue_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "push: an http:// url and a queue directory are required");
  collector__queue *q = NULL;
  int rc = collector__queue_open(o->queue_dir, o->queue_max_bytes, &q, d);
  if (rc)
    return rc;
  collector_pusher *p = lk_xcalloc(1, sizeof *p);
  p->url = lk_xstrdup(o->url);
  if (o->bearer_token) {
    size_t n = strlen(o->bearer_token) + 32;
    p->auth_header = lk_xmalloc(n);
    snprintf(p->auth_header, n, "Authorization: Bearer %s", o->bearer_token);
  }
  p->max_series = o->max_series_per_send ? o->max_series_per_send : 2000;
  p->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
  p->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
  p->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 5000;
  p->q = q;
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->wake, &ca);
  pthread_condattr_destroy(&ca);
  *out = p;
  return 0;
}

void collector_pusher_free(collector_pusher *p)
{
  if (!p)
    return;
  collector_pusher_stop(p);
  collector__queue_close(p->q);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p->url);
  free(p->auth_header);
  free(p);
}

/*---- the sink: encode and queue ----*/

static int label_cmp(const void *a, const void *b)
{
  return strcmp(((const lk_label *)a)->name, ((const lk_label *)b)->name);
}

static int queue_chunk(collector_pusher *p, const lk_series *s, size_t n, lk_label *scratch)
{
  lk_series *sorted = lk_xmalloc(n * sizeof *sorted);
  size_t nsamples = 0;
  lk_label *next = scratch;
  for (size_t i = 0; i < n; i++) {
    memcpy(next, s[i].labels, s[i].nlabels * sizeof *next);
    qsort(next, s[i].nlabels, sizeof *next, label_cmp);
    sorted[i] = s[i];
    sorted[i].labels = next;
    next += s[i].nlabels;
    nsamples += s[i].nsamples;
  }
  lk_buf body = {0};
  int rc = lk_rw_encode(sorted, n, &body);
  if (!rc)
    rc = collector__queue_put(p->q, body.data, body.len, nsamples);
  lk_buf_fini(&body);
  free(sorted);
  return rc;
}

static int push_sink(void *ctx, const lk_series *s, size_t n)
{
  collector_pusher *p = ctx;
  int rc = 0;
  for (size_t off = 0; off < n; off += p->max_series) {
    size_t m = n - off < p->max_series ? n - off : p->max_series, nl = 0;
    for (size_t i = 0; i < m; i++)
      nl += s[off + i].nlabels;
    lk_label *scratch = lk_xmalloc((nl ? nl : 1) * sizeof *scratch);
    int r = queue_chunk(p, s + off, m, scratch);
    free(scratch);
    if (r && !rc)
      rc = r;
  }
  pthread_mutex_lock(&p->lock);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

collector_sink collector_pusher_sink(collector_pusher *p)
{
  return (collector_sink){push_sink, p};
}

/*---- the sender ----*/

enum outcome { SENT, REJECTED, RETRY };

static enum outcome send_one(collector_pusher *p, const lk_buf *body, int *status)
{
  const char *hdrs[6] = {"Content-Type: application/x-protobuf", "Content-Encoding: snappy",
                         "X-Prometheus-Remote-Write-Version: 0.1.0",
                         "User-Agent: lookout-agent", NULL, NULL};
  if (p->auth_header)
    hdrs[4] = p->auth_header;
  lk_httpc_req req = {.method = "POST", .url = p->url, .headers = hdrs, .body = body->data,
                      .body_len = body->len, .timeout_ms = p->timeout_ms, .max_body = 1 << 20};
  lk_httpc_resp resp = {0};
  lk_diag d = {0};
  int rc = lk_httpc_do(&req, &resp, &d);
  *status = rc ? 0 : resp.status;
  enum outcome o = RETRY;
  if (!rc && resp.status / 100 == 2)
    o = SENT;
  else if (!rc && resp.status / 100 == 4 && resp.status != 429) {
    o = REJECTED;
    lk_warn("remote_write to %s rejected with %d: %.200s", p->url, resp.status,
            resp.body.data ? (const char *)resp.body.data : "");
  }
  lk_httpc_resp_fini(&resp);
  return o;
}

/* Sleep up to ms or until stopped/woken; true when stopping. */
static bool wait_ms(collector_pusher *p, int64_t ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&p->lock);
  if (!p->stop)
    pthread_cond_timedwait(&p->wake, &p->lock, &ts);
  bool stop = p->stop;
  pthread_mutex_unlock(&p->lock);
  return stop;
}

static void *sender(void *arg)
{
  collector_pusher *p = arg;
  lk_buf body = {0};
  int64_t backoff = p->backoff_min_ms;
  uint64_t fails_logged = 0;
  for (;;) {
    uint64_t seq, ns;
    if (collector__queue_peek(p->q, &body, &seq, &ns)) {
      if (wait_ms(p, 1000))
        break;
      continue;
    }
    int status;
    enum outcome o = send_one(p, &body, &status);
    pthread_mutex_lock(&p->lock);
    if (o == SENT) {
      p->st.sent_requests++;
      p->st.sent_samples += ns;
    } else if (o == REJECTED) {
      p->st.rejected_requests++;
      p->st.rejected_samples += ns;
    } else
      p->st.failed_attempts++;
    uint64_t fails = p->st.failed_attempts;
    bool stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    if (o != RETRY) {
      collector__queue_pop(p->q, seq);
      backoff = p->backoff_min_ms;
      continue;
    }
    if (fails - fails_logged >= 1 && (fails <= 3 || (fails & (fails - 1)) == 0)) {
      lk_warn("remote_write to %s failed (status %d), retrying in %lld ms (%llu failures)",
              p->url, status, (long long)backoff, (unsigned long long)fails);
      fails_logged = fails;
    }
    if (stop || wait_ms(p, backoff))
      break;
    backoff = backoff * 2 > p->backoff_max_ms ? p->backoff_max_ms : backoff * 2;
  }
  lk_buf_fini(&body);
  return NULL;
}

int collector_pusher_start(collector_pusher *p)
{
  pthread_mutex_lock(&p->lock);
  if (p->running) {
    pthread_mutex_unlock(&p->lock);
    return LK_EEXIST;
  }
  p->stop = false;
  p->running = true;
  pthread_mutex_unlock(&p->lock);
  if (pthread_create(&p->thread, NULL, sender, p)) {
    pthread_mutex_lock(&p->lock);
    p->running = false;
    pthread_mutex_unlock(&p->lock);
    return LK_EAGAIN;
  }
  return 0;
}

void collector_pusher_stop(collector_pusher *p)
{
  pthread_mutex_lock(&p->lock);
  bool running = p->running;
  p->stop = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  if (running)
    pthread_join(p->thread, NULL);
  pthread_mutex_lock(&p->lock);
  p->running = false;
  pthread_mutex_unlock(&p->lock);
}

int collector_pusher_flush(collector_pusher *p, int timeout_ms)
{
  int64_t end = lk_mono_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    uint64_t n, bytes, dr, ds;
    collector__queue_stats(p->q, &n, &bytes, &dr, &ds);
    if (!n)
      return 0;
    if (lk_mono_ns() >= end)
      return LK_ETIMEOUT;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
}

void collector_pusher_get_stats(collector_pusher *p, collector_push_stats *out)
{
  pthread_mutex_lock(&p->lock);
  *out = p->st;
  pthread_mutex_unlock(&p->lock);
  collector__queue_stats(p->q, &out->queued_requests, &out->queued_bytes, &out->dropped_requests,
                         &out->dropped_samples);
}
