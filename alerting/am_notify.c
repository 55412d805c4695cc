/* am_notify.c — webhook notifications: Alertmanager's webhook body
 * (notify/webhook, version "4") and the durable queue that delivers it.
 *
 * A notification is one file <data>/alerting/queue/<seq>.json holding the
 * URL, the Authorization header, the timeout and the body, written with
 * lk_write_file_atomic (fsync'd) before it counts as sent. One sender
 * thread POSTs the files in order of their next attempt: 2xx deletes the
 * file; 5xx, timeouts and transport errors are retried with exponential
 * backoff (500 ms × 1.5ⁿ, capped at 30 s) for as long as it takes; other
 * statuses (4xx) are logged and the file deleted. Files left by a previous
 * run are picked up at open, so a kill -9 loses nothing.
 *
 * Locks: q->mu guards the item list and counters (a leaf lock); it is never
 * held during a request.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 30000
#define DEFAULT_TIMEOUT_MS 10000

/*---- the body ----*/

/* Labels (or annotations) with the same value in every alert. */
static json_t *common(const am_alert *al, size_t n, bool annotations)
{
  json_t *o = json_object();
  const am_labels *first = annotations ? &al[0].annotations : &al[0].labels;
  for (size_t i = 0; i < first->n; i++) {
    bool same = true;
    for (size_t k = 1; k < n && same; k++) {
      const char *v = am__labels_get(annotations ? &al[k].annotations : &al[k].labels, first->v[i].name);
      same = v && !strcmp(v, first->v[i].value);
    }
    if (same)
      json_object_set_new(o, first->v[i].name, json_string(first->v[i].value));
  }
  return o;
}

/* Go's regexp.QuoteMeta, which Alertmanager applies to the receiver name. */
static json_t *quote_meta(const char *s)
{
  lk_buf b = {0};
  for (; *s; s++) {
    if (strchr("\\.+*?()|[]{}^$", *s))
      lk_buf_putc(&b, '\\');
    lk_buf_putc(&b, (uint8_t)*s);
  }
  lk_buf_putc(&b, 0);
  json_t *j = json_string((const char *)b.data);
  lk_buf_fini(&b);
  return j;
}

void am__webhook_body(lk_buf *out, const char *receiver, const char *group_key, const am_labels *group_labels,
                      const am_alert *alerts, size_t n, uint64_t max_alerts, const char *external_url)
{
  int64_t now = lk_now_ms();
  /* max_alerts truncates first; status and common labels describe what is sent */
  size_t shown = max_alerts && n > max_alerts ? (size_t)max_alerts : n;
  bool firing = false;
  for (size_t i = 0; i < shown; i++)
    firing |= !am__alert_resolved(&alerts[i], now);
  json_t *arr = json_array();
  for (size_t i = 0; i < shown; i++) {
    const am_alert *a = &alerts[i];
    char st[40], en[40], fp[17];
    am__fmt_time(st, a->starts_at);
    am__fmt_time(en, a->ends_at);
    snprintf(fp, sizeof fp, "%016" PRIx64, a->fp);
    json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s}", "status",
                                         am__alert_resolved(a, now) ? "resolved" : "firing", "labels",
                                         am__labels_json(&a->labels), "annotations",
                                         am__labels_json(&a->annotations), "startsAt", st, "endsAt", en,
                                         "generatorURL", a->generator_url ? a->generator_url : "", "fingerprint", fp));
  }
  json_t *msg = json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:s,s:I}", "receiver", quote_meta(receiver), "status",
                          firing ? "firing" : "resolved", "alerts", arr, "groupLabels",
                          am__labels_json(group_labels), "commonLabels", common(alerts, shown, false),
                          "commonAnnotations", common(alerts, shown, true), "externalURL", external_url, "version", "4",
                          "groupKey", group_key, "truncatedAlerts", (json_int_t)(n - shown));
  char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
  lk_buf_puts(out, text);
  free(text);
  json_decref(msg);
}

/*---- the queue ----*/

typedef struct qitem {
  char *file, *url, *auth, *body;
  json_t *nflog; /* the log entry it stands for, or NULL */
  int timeout_ms;
  int64_t next_try;
  unsigned attempts;
} qitem;

struct am_queue {
  char *dir;
  pthread_mutex_t mu; /* guards everything below but th */
  pthread_cond_t cv;
  bool stop;
  qitem *v;
  size_t n;
  uint64_t seq;
  am_queue_stats st;
  pthread_t th;
  bool started;
};

static void item_free(qitem *it)
{
  free(it->file);
  free(it->url);
  free(it->auth);
  free(it->body);
  json_decref(it->nflog);
}

static int load_item(am_queue *q, const char *name, qitem *it)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", q->dir, name);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  const char *url = NULL, *auth = NULL, *body = NULL;
  int timeout = 0;
  int bad = !j || json_unpack(j, "{s:s,s?s,s:i,s:s}", "url", &url, "authorization", &auth, "timeout_ms", &timeout,
                              "body", &body);
  if (!bad)
    *it = (qitem){lk_xstrdup(path), lk_xstrdup(url), auth ? lk_xstrdup(auth) : NULL, lk_xstrdup(body),
                  json_incref(json_object_get(j, "nflog")), timeout, 0, 0};
  else
    lk_warn("alerting: dropping unreadable queued notification %s", path);
  json_decref(j);
  return bad ? -1 : 0;
}

static int name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(am_queue *q)
{
  DIR *dir = opendir(q->dir);
  char **names = NULL;
  size_t n = 0;
  for (struct dirent *e; dir && (e = readdir(dir));) {
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
      names = lk_xrealloc(names, (n + 1) * sizeof *names);
      names[n++] = lk_xstrdup(e->d_name);
    }
  }
  if (dir)
    closedir(dir);
  if (n)
    qsort(names, n, sizeof *names, name_cmp);
  for (size_t i = 0; i < n; i++) {
    unsigned long long seq = strtoull(names[i], NULL, 10);
    if (seq >= q->seq)
      q->seq = seq + 1;
    q->v = lk_xrealloc(q->v, (q->n + 1) * sizeof *q->v);
    if (!load_item(q, names[i], &q->v[q->n]))
      q->n++;
    free(names[i]);
  }
  free(names);
}

int am__queue_push(am_queue *q, const am_webhook *h, const char *body, size_t len, const json_t *nflog,
                   lk_diag *d)
{
  int timeout = (int)(h->timeout_ms ? h->timeout_ms : DEFAULT_TIMEOUT_MS);
  json_t *j = json_pack("{s:s,s:i,s:s%,s:O}", "url", h->url, "timeout_ms", timeout, "body", body, len, "nflog",
                        (json_t *)nflog);
  if (h->authorization)
    json_object_set_new(j, "authorization", json_string(h->authorization));
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  pthread_mutex_lock(&q->mu);
  char path[4096];
  snprintf(path, sizeof path, "%s/%020" PRIu64 ".json", q->dir, q->seq++);
  int rc = lk_write_file_atomic(path, text, strlen(text), d);
  if (!rc) {
    q->v = lk_xrealloc(q->v, (q->n + 1) * sizeof *q->v);
    q->v[q->n++] = (qitem){lk_xstrdup(path), lk_xstrdup(h->url), h->authorization ? lk_xstrdup(h->authorization) : NULL,
                           lk_xstrndup(body, len), NULL, timeout, 0, 0};
    pthread_cond_signal(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
  free(text);
  return rc ? LK_EIO : 0;
}

enum outcome { SENT, DROPPED, RETRY };

static enum outcome post(const qitem *it)
{
  char auth[1024];
  const char *headers[4] = {"Content-Type: application/json", "User-Agent: Lookout-Alertmanager", NULL, NULL};
  if (it->auth) {
    snprintf(auth, sizeof auth, "Authorization: %s", it->auth);
    headers[2] = auth;
  }
  lk_httpc_req req = {.method = "POST", .url = it->url, .headers = headers, .body = it->body,
                      .body_len = strlen(it->body), .timeout_ms = it->timeout_ms, .max_body = 1 << 20};
  lk_httpc_resp resp = {0};
  lk_diag d = {0};
  int rc = lk_httpc_do(&req, &resp, &d);
  enum outcome o;
  if (rc) {
    lk_warn("alerting: webhook %s failed (attempt %u, will retry): %s", it->url, it->attempts + 1, d.msg);
    o = RETRY;
  } else if (resp.status / 100 == 2) {
    o = SENT;
  } else if (resp.status / 100 == 5) {
    lk_warn("alerting: webhook %s answered %d (attempt %u, will retry)", it->url, resp.status, it->attempts + 1);
    o = RETRY;
  } else {
    lk_error("alerting: webhook %s answered %d, notification dropped: %.200s", it->url, resp.status,
             resp.body.data ? (const char *)resp.body.data : "");
    o = DROPPED;
  }
  lk_httpc_resp_fini(&resp);
  return o;
}

static int64_t backoff(unsigned attempts)
{
  double ms = BACKOFF_FIRST_MS;
  for (unsigned i = 1; i < attempts && ms < BACKOFF_MAX_MS; i++)
    ms *= 1.5;
  return ms < BACKOFF_MAX_MS ? (int64_t)ms : BACKOFF_MAX_MS;
}

/* Index of the item due first, or -1; *due gets its time. */
static long next_item(am_queue *q, int64_t *due)
{
  long best = -1;
  for (size_t i = 0; i < q->n; i++)
    if (best < 0 || q->v[i].next_try < q->v[best].next_try)
      best = (long)i;
  *due = best >= 0 ? q->v[best].next_try : INT64_MAX;
  return best;
}

static void *sender(void *arg)
{
  am_queue *q = arg;
  pthread_mutex_lock(&q->mu);
  while (!q->stop) {
    int64_t due, now = lk_now_ms();
    long i = next_item(q, &due);
    if (i < 0 || due > now) {
      int64_t until = i < 0 ? now + 1000 : due;
      struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
      pthread_cond_timedwait(&q->cv, &q->mu, &ts);
      continue;
    }
    qitem it = q->v[i]; /* its strings stay put: only this thread removes items */
    pthread_mutex_unlock(&q->mu);
    enum outcome o = post(&it);
    if (o != RETRY && unlink(it.file))
      lk_error("alerting: cannot remove delivered notification %s", it.file);
    pthread_mutex_lock(&q->mu);
    qitem *cur = &q->v[i];
    if (o == RETRY) {
      cur->attempts++;
      cur->next_try = lk_now_ms() + backoff(cur->attempts);
      q->st.failed++;
      continue;
    }
    if (o == SENT)
      q->st.sent++;
    else
      q->st.dropped++;
    item_free(cur);
    memmove(cur, cur + 1, (q->n - (size_t)i - 1) * sizeof *cur);
    q->n--;
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

int am__queue_open(const char *dir, am_queue **out, lk_diag *d)
{
  am_queue *q = lk_xcalloc(1, sizeof *q);
  q->dir = lk_xstrdup(dir);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  load_dir(q);
  *out = q;
  return 0;
}

int am__queue_start(am_queue *q, lk_diag *d)
{
  if (pthread_create(&q->th, NULL, sender, q))
    return lk_diag_set(d, LK_EIO, -1, "cannot start the notification sender");
  q->started = true;
  return 0;
}

void am__queue_nflog(am_queue *q, void (*fn)(void *ctx, const json_t *entry), void *ctx)
{
  pthread_mutex_lock(&q->mu);
  for (size_t i = 0; i < q->n; i++)
    if (q->v[i].nflog)
      fn(ctx, q->v[i].nflog);
  pthread_mutex_unlock(&q->mu);
}

size_t am__queue_len(am_queue *q)
{
  pthread_mutex_lock(&q->mu);
  size_t n = q->n;
  pthread_mutex_unlock(&q->mu);
  return n;
}

void am__queue_stats(am_queue *q, am_queue_stats *st)
{
  pthread_mutex_lock(&q->mu);
  *st = q->st;
  pthread_mutex_unlock(&q->mu);
}

void am__queue_close(am_queue *q)
{
  if (!q)
    return;
  pthread_mutex_lock(&q->mu);
  q->stop = true;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  if (q->started)
    pthread_join(q->th, NULL);
  for (size_t i = 0; i < q->n; i++)
    item_free(&q->v[i]);
  free(q->v);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q->dir);
  free(q);
}
