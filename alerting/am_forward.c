/* am_forward.c — forwarding to real Alertmanagers, as Prometheus's notifier
 * does (notifier/manager.go): alerts handed over by the rule engine are
 * queued (capacity 10,000; when full the oldest are dropped and counted),
 * and a sender thread POSTs them in batches of up to 256 as the API v2
 * postable-alert array ({labels, annotations, startsAt, endsAt,
 * generatorURL}) to every configured Alertmanager, each with its timeout.
 * A failed batch counts as an error per Alertmanager and is not retried
 * (the rule engine re-sends firing alerts every resend delay).
 *
 * Locks: f->mu guards the queue and counters (a leaf lock, never held
 * during a request).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define QUEUE_CAPACITY 10000
#define BATCH 256
#define STOP_DRAIN_MS 5000

struct am_forward {
  const am_target *targets; /* borrowed from the config */
  size_t ntargets;
  pthread_mutex_t mu;       /* guards everything below but th */
  pthread_cond_t cv;
  bool stop;
  json_t **q;               /* ring of postable alerts */
  size_t head, n;
  am_forward_stats st;
  pthread_t th;
};

static json_t *postable(const alerting_alert *a)
{
  json_t *l = json_object(), *an = json_object();
  for (size_t i = 0; i < a->nlabels; i++)
    json_object_set_new(l, a->labels[i].name, json_string(a->labels[i].value));
  for (size_t i = 0; i < a->nannotations; i++)
    json_object_set_new(an, a->annotations[i].name, json_string(a->annotations[i].value));
  char st[40], en[40];
  am__fmt_time(st, a->starts_at_ms);
  am__fmt_time(en, a->ends_at_ms);
  json_t *j = json_pack("{s:o,s:o,s:s}", "labels", l, "annotations", an, "startsAt", st);
  if (a->ends_at_ms)
    json_object_set_new(j, "endsAt", json_string(en));
  json_object_set_new(j, "generatorURL", json_string(a->generator_url ? a->generator_url : ""));
  return j;
}

void am__forward_push(am_forward *f, const alerting_alert *alerts, size_t n)
{
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < n; i++) {
    if (f->n == QUEUE_CAPACITY) {
      json_decref(f->q[f->head]);
      f->head = (f->head + 1) % QUEUE_CAPACITY;
      f->n--;
      f->st.dropped++;
    }
    f->q[(f->head + f->n) % QUEUE_CAPACITY] = postable(&alerts[i]);
    f->n++;
  }
  f->st.queued = f->n;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static void send_batch(am_forward *f, json_t *batch)
{
  char *body = json_dumps(batch, JSON_COMPACT);
  const char *headers[] = {"Content-Type: application/json", "User-Agent: Lookout", NULL};
  for (size_t i = 0; i < f->ntargets; i++) {
    lk_httpc_req req = {.method = "POST", .url = f->targets[i].url, .headers = headers, .body = body,
                        .body_len = strlen(body), .timeout_ms = (int)f->targets[i].timeout_ms, .max_body = 1 << 20};
    lk_httpc_resp resp = {0};
    lk_diag d = {0};
    int rc = lk_httpc_do(&req, &resp, &d);
    bool ok = !rc && resp.status / 100 == 2;
    if (!ok)
      lk_warn("alerting: sending %zu alerts to Alertmanager %s failed: %s", json_array_size(batch),
              f->targets[i].url, rc ? d.msg : "bad status");
    lk_httpc_resp_fini(&resp);
    pthread_mutex_lock(&f->mu);
    if (ok)
      f->st.sent += json_array_size(batch);
    else
      f->st.errors += json_array_size(batch);
    pthread_mutex_unlock(&f->mu);
  }
  free(body);
}

/* Up to BATCH alerts off the queue as a JSON array (NULL when empty). */
static json_t *take(am_forward *f)
{
  if (!f->n)
    return NULL;
  json_t *batch = json_array();
  while (f->n && json_array_size(batch) < BATCH) {
    json_array_append_new(batch, f->q[f->head]);
    f->head = (f->head + 1) % QUEUE_CAPACITY;
    f->n--;
  }
  f->st.queued = f->n;
  return batch;
}

static void *sender(void *arg)
{
  am_forward *f = arg;
  int64_t drain_until = 0;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    if (f->stop && !drain_until)
      drain_until = lk_now_ms() + STOP_DRAIN_MS;
    json_t *batch = take(f);
    if (!batch) {
      if (f->stop)
        break;
      pthread_cond_wait(&f->cv, &f->mu);
      continue;
    }
    if (drain_until && lk_now_ms() > drain_until) {
      json_decref(batch);
      break;
    }
    pthread_mutex_unlock(&f->mu);
    send_batch(f, batch);
    json_decref(batch);
    pthread_mutex_lock(&f->mu);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

am_forward *am__forward_start(const am_target *t, size_t n)
{
  am_forward *f = lk_xcalloc(1, sizeof *f);
  f->targets = t;
  f->ntargets = n;
  f->q = lk_xcalloc(QUEUE_CAPACITY, sizeof *f->q);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  pthread_create(&f->th, NULL, sender, f);
  return f;
}

void am__forward_stats(am_forward *f, am_forward_stats *st)
{
  pthread_mutex_lock(&f->mu);
  *st = f->st;
  pthread_mutex_unlock(&f->mu);
}

void am__forward_stop(am_forward *f)
{
  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->th, NULL);
  while (f->n) {
    json_decref(f->q[f->head]);
    f->head = (f->head + 1) % QUEUE_CAPACITY;
    f->n--;
  }
  free(f->q);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
}
