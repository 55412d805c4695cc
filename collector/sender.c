/* sender.c — the push paths' sender thread (see sender.h).
 *
 * Writers (a collector or tailer thread) only append to the on-disk queue
 * and signal; they never wait for the network. The sender thread sends the
 * oldest queued request, removes it on 2xx, drops it on a 4xx other than 429
 * (the receiver will never take it; counted as rejected), and otherwise
 * retries the same request with exponential backoff, so requests arrive in
 * order and each once a 2xx was seen. An outage only grows the queue; its
 * bound drops the oldest.
 *
 * Threads: writers call collector__sender_put, the sender thread sends.
 * Lock order: s->lock, then the queue's own lock (inside queue calls).
 * s->lock guards the counters, `stop` and `running`.
 */
#include "collector/sender.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/queue.h"
#include "lib/lk_alloc.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

struct collector__sender {
  char *what, *url, *auth_header, *ca_file;
  const char *const *headers;
  int timeout_ms;
  int64_t backoff_min_ms, backoff_max_ms;
  bool warn_retries;
  collector__queue *q;

  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool running, stop;
  collector__sender_stats st;
};

int collector__sender_new(const collector__sender_opts *o, collector__sender **out, lk_diag *d)
{
  collector__queue *q = NULL;
  int rc = collector__queue_open(o->queue_dir, o->queue_max_bytes, &q, d);
  if (rc)
    return rc;
  collector__sender *s = lk_xcalloc(1, sizeof *s);
  s->what = lk_xstrdup(o->what);
  s->url = lk_xstrdup(o->url);
  s->ca_file = o->ca_file ? lk_xstrdup(o->ca_file) : NULL;
  s->headers = o->headers;
  if (o->bearer_token) {
    size_t n = strlen(o->bearer_token) + 32;
    s->auth_header = lk_xmalloc(n);
    snprintf(s->auth_header, n, "Authorization: Bearer %s", o->bearer_token);
  }
  s->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
  s->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
  s->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 5000;
  s->warn_retries = o->warn_retries;
  s->q = q;
  pthread_mutex_init(&s->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->wake, &ca);
  pthread_condattr_destroy(&ca);
  *out = s;
  return 0;
}

void collector__sender_free(collector__sender *s)
{
  if (!s)
    return;
  collector__sender_stop(s);
  collector__queue_close(s->q);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  free(s->what);
  free(s->url);
  free(s->auth_header);
  free(s->ca_file);
  free(s);
}

int collector__sender_put(collector__sender *s, const uint8_t *body, size_t len, uint64_t nitems)
{
  int rc = collector__queue_put(s->q, body, len, nitems);
  pthread_mutex_lock(&s->lock);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

enum outcome { SENT, REJECTED, RETRY };

static enum outcome send_one(collector__sender *s, const lk_buf *body, int *status)
{
  const char *hdrs[COLLECTOR__SENDER_MAX_HEADERS + 2] = {0};
  size_t n = 0;
  for (; n < COLLECTOR__SENDER_MAX_HEADERS && s->headers[n]; n++)
    hdrs[n] = s->headers[n];
  hdrs[n] = s->auth_header;
  lk_httpc_req req = {.method = "POST", .url = s->url, .ca_file = s->ca_file, .headers = hdrs, .body = body->data,
                      .body_len = body->len, .timeout_ms = s->timeout_ms, .max_body = 1 << 20};
  lk_httpc_resp resp = {0};
  int rc = lk_httpc_do(&req, &resp, NULL);
  *status = rc ? 0 : resp.status;
  enum outcome o = RETRY;
  if (!rc && resp.status / 100 == 2) {
    o = SENT;
  } else if (!rc && resp.status / 100 == 4 && resp.status != 429) {
    o = REJECTED;
    lk_warn("%s to %s rejected with %d: %.200s", s->what, s->url, resp.status,
            resp.body.data ? (const char *)resp.body.data : "");
  }
  lk_httpc_resp_fini(&resp);
  return o;
}

/* Sleep up to ms or until stopped/woken; true when stopping. */
static bool wait_ms(collector__sender *s, int64_t ms)
{
  struct timespec ts = lk_deadline(CLOCK_MONOTONIC, ms);
  pthread_mutex_lock(&s->lock);
  if (!s->stop)
    pthread_cond_timedwait(&s->wake, &s->lock, &ts);
  bool stop = s->stop;
  pthread_mutex_unlock(&s->lock);
  return stop;
}

/* Counts one attempt's outcome; returns the failure count so far and
 * whether a stop was asked for. */
static uint64_t count(collector__sender *s, enum outcome o, uint64_t nitems, bool *stop)
{
  pthread_mutex_lock(&s->lock);
  if (o == SENT) {
    s->st.sent_requests++;
    s->st.sent_items += nitems;
  } else if (o == REJECTED) {
    s->st.rejected_requests++;
    s->st.rejected_items += nitems;
  } else {
    s->st.failed_attempts++;
  }
  uint64_t fails = s->st.failed_attempts;
  *stop = s->stop;
  pthread_mutex_unlock(&s->lock);
  return fails;
}

static void *sender(void *arg)
{
  collector__sender *s = arg;
  lk_buf body = {0};
  int64_t backoff = s->backoff_min_ms;
  uint64_t fails_logged = 0;
  for (;;) {
    uint64_t seq, nitems;
    if (collector__queue_peek(s->q, &body, &seq, &nitems)) {
      if (wait_ms(s, 1000))
        break;
      continue;
    }
    int status;
    bool stop;
    enum outcome o = send_one(s, &body, &status);
    uint64_t fails = count(s, o, nitems, &stop);
    if (o != RETRY) {
      collector__queue_pop(s->q, seq);
      backoff = s->backoff_min_ms;
      continue;
    }
    if (s->warn_retries && fails - fails_logged >= 1 && (fails <= 3 || (fails & (fails - 1)) == 0)) {
      lk_warn("%s to %s failed (status %d), retrying in %lld ms (%llu failures)", s->what, s->url,
              status, (long long)backoff, (unsigned long long)fails);
      fails_logged = fails;
    }
    if (stop || wait_ms(s, backoff))
      break;
    backoff = backoff * 2 > s->backoff_max_ms ? s->backoff_max_ms : backoff * 2;
  }
  lk_buf_fini(&body);
  return NULL;
}

int collector__sender_start(collector__sender *s)
{
  pthread_mutex_lock(&s->lock);
  if (s->running) {
    pthread_mutex_unlock(&s->lock);
    return LK_EEXIST;
  }
  s->stop = false;
  s->running = true;
  pthread_mutex_unlock(&s->lock);
  int terr = pthread_create(&s->thread, NULL, sender, s);
  if (terr) {
    pthread_mutex_lock(&s->lock);
    s->running = false;
    pthread_mutex_unlock(&s->lock);
    return -terr;
  }
  return 0;
}

void collector__sender_stop(collector__sender *s)
{
  pthread_mutex_lock(&s->lock);
  bool running = s->running;
  s->stop = true;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  if (running)
    pthread_join(s->thread, NULL);
  pthread_mutex_lock(&s->lock);
  s->running = false;
  pthread_mutex_unlock(&s->lock);
}

int collector__sender_flush(collector__sender *s, int timeout_ms)
{
  int64_t end = lk_mono_ns() + (int64_t)timeout_ms * 1000000;
  for (;;) {
    uint64_t n, bytes, dr, ds;
    collector__queue_stats_get(s->q, &n, &bytes, &dr, &ds);
    if (!n)
      return 0;
    if (lk_mono_ns() >= end)
      return LK_ETIMEOUT;
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
}

void collector__sender_stats_get(collector__sender *s, collector__sender_stats *out)
{
  pthread_mutex_lock(&s->lock);
  *out = s->st;
  pthread_mutex_unlock(&s->lock);
  collector__queue_stats_get(s->q, &out->queued_requests, &out->queued_bytes, &out->dropped_requests,
                         &out->dropped_items);
}
