/* push.c — remote_write 0.1.0 from the agent, losslessly across outages.
 *
 * The sink side (collector thread) encodes each cycle as snappy-compressed
 * WriteRequests of at most max_series_per_send series (labels sorted, as the
 * spec requires) and appends them to the shared sender's on-disk queue
 * (sender.h); it never waits for the network. The sender thread delivers
 * them in order with retry and backoff (sender.c). Each series' labels are
 * sorted and encoded once, when first seen: a collector_series_cache keeps
 * the encoded label fields between cycles, so a cycle encodes samples only
 * (the bodies are byte-identical to lk_rw_encode's).
 *
 * Threads: the collector thread and the flow meter's emit thread call the
 * sink, the sender's thread sends. enc_lock (a leaf lock) guards the cache
 * and the encoding buffers; max_series is immutable.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/sender.h"
#include "lib/lk_alloc.h"
#include "lib/lk_wire.h"

struct collector_pusher {
  collector__sender *s;
  size_t max_series;
  pthread_mutex_t enc_lock;
  collector_series_cache *cache;
  uint32_t *ent;                /* cache entry of each series of the batch */
  size_t ent_cap;
  lk_rw_keyed *keyed;           /* one request's series */
  size_t keyed_cap;
  lk_label *sorted;             /* one series' labels, sorted */
  size_t sorted_cap;
  lk_buf labels, raw, body;     /* one series' label fields; one request */
  uint64_t label_encodings;
};

static const char *const rw_headers[] = {
    "Content-Type: application/x-protobuf", "Content-Encoding: snappy",
    "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: lookout-agent", NULL};

int collector_pusher_new(const collector_push_opts *o, collector_pusher **out, lk_diag *d)
{
  if (!o || !o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) || !o->queue_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "push: an http(s):// url and a queue directory are required");
  collector__sender_opts so = {.what = "remote_write", .url = o->url, .headers = rw_headers,
                               .bearer_token = o->bearer_token, .ca_file = o->ca_file, .queue_dir = o->queue_dir,
                               .queue_max_bytes = o->queue_max_bytes, .timeout_ms = o->timeout_ms,
                               .backoff_min_ms = o->backoff_min_ms, .backoff_max_ms = o->backoff_max_ms,
                               .warn_retries = true};
  collector__sender *snd = NULL;
  int rc = collector__sender_new(&so, &snd, d);
  if (rc)
    return rc;
  collector_pusher *p = lk_xcalloc(1, sizeof *p);
  p->s = snd;
  p->max_series = o->max_series_per_send ? o->max_series_per_send : 2000;
  pthread_mutex_init(&p->enc_lock, NULL);
  p->cache = collector_series_cache_new();
  *out = p;
  return 0;
}

void collector_pusher_free(collector_pusher *p)
{
  if (!p)
    return;
  collector__sender_free(p->s);
  pthread_mutex_destroy(&p->enc_lock);
  collector_series_cache_free(p->cache);
  free(p->ent);
  free(p->keyed);
  free(p->sorted);
  lk_buf_fini(&p->labels);
  lk_buf_fini(&p->raw);
  lk_buf_fini(&p->body);
  free(p);
}

/*---- the sink: encode and queue ----*/

static int label_cmp(const void *a, const void *b)
{
  return strcmp(((const lk_label *)a)->name, ((const lk_label *)b)->name);
}

/* Entry e's label fields: encoded (labels sorted) when first seen. */
static int encode_labels(collector_pusher *p, uint32_t e, const lk_series *s)
{
  size_t len;
  if (collector_series_cache_bytes(p->cache, e, &len))
    return 0;
  p->sorted = lk_xgrow(p->sorted, &p->sorted_cap, s->nlabels ? s->nlabels : 1, sizeof *p->sorted);
  memcpy(p->sorted, s->labels, s->nlabels * sizeof *p->sorted);
  qsort(p->sorted, s->nlabels, sizeof *p->sorted, label_cmp);
  lk_buf_clear(&p->labels);
  int rc = lk_rw_encode_labels(p->sorted, s->nlabels, &p->labels);
  if (rc)
    return rc;
  collector_series_cache_set_bytes(p->cache, e, p->labels.data, p->labels.len);
  p->label_encodings++;
  return 0;
}

static int queue_chunk(collector_pusher *p, const lk_series *s, const uint32_t *ent, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int rc = encode_labels(p, ent[i], &s[i]);
    if (rc)
      return rc;
  }
  /* only now: setting bytes may move the cache's pool */
  p->keyed = lk_xgrow(p->keyed, &p->keyed_cap, n, sizeof *p->keyed);
  size_t nsamples = 0;
  for (size_t i = 0; i < n; i++) {
    lk_rw_keyed *k = &p->keyed[i];
    k->labels = collector_series_cache_bytes(p->cache, ent[i], &k->labels_len);
    k->samples = s[i].samples;
    k->nsamples = s[i].nsamples;
    nsamples += s[i].nsamples;
  }
  lk_buf_clear(&p->body);
  int rc = lk_rw_encode_keyed(p->keyed, n, &p->raw, &p->body);
  return rc ? rc : collector__sender_put(p->s, p->body.data, p->body.len, nsamples);
}

static int push_sink(void *ctx, const lk_series *s, size_t n)
{
  collector_pusher *p = ctx;
  int rc = 0;
  pthread_mutex_lock(&p->enc_lock);
  p->ent = lk_xgrow(p->ent, &p->ent_cap, n ? n : 1, sizeof *p->ent);
  collector_series_cache_map(p->cache, s, n, p->ent);
  for (size_t off = 0; off < n; off += p->max_series) {
    size_t m = n - off < p->max_series ? n - off : p->max_series;
    int r = queue_chunk(p, s + off, p->ent + off, m);
    if (r && !rc)
      rc = r;
  }
  pthread_mutex_unlock(&p->enc_lock);
  return rc;
}

collector_sink collector_pusher_sink(collector_pusher *p)
{
  return (collector_sink){push_sink, p};
}

/*---- the sender (sender.c) ----*/

int collector_pusher_start(collector_pusher *p)
{
  return collector__sender_start(p->s);
}

void collector_pusher_stop(collector_pusher *p)
{
  collector__sender_stop(p->s);
}

int collector_pusher_flush(collector_pusher *p, int timeout_ms)
{
  return collector__sender_flush(p->s, timeout_ms);
}

void collector_pusher_stats_get(collector_pusher *p, collector_push_stats *out)
{
  collector__sender_stats st;
  collector__sender_stats_get(p->s, &st);
  *out = (collector_push_stats){
      .sent_requests = st.sent_requests, .sent_samples = st.sent_items,
      .failed_attempts = st.failed_attempts,
      .rejected_requests = st.rejected_requests, .rejected_samples = st.rejected_items,
      .dropped_requests = st.dropped_requests, .dropped_samples = st.dropped_items,
      .queued_requests = st.queued_requests, .queued_bytes = st.queued_bytes};
  pthread_mutex_lock(&p->enc_lock);
  out->label_encodings = p->label_encodings;
  pthread_mutex_unlock(&p->enc_lock);
}
