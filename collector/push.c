/* push.c — remote_write 0.1.0 from the agent, losslessly across outages.
 *
 * The sink side (collector thread) encodes each cycle as snappy-compressed
 * WriteRequests of at most max_series_per_send series (labels sorted, as the
 * spec requires) and appends them to the shared sender's on-disk queue
 * (sender.h); it never waits for the network. The sender thread delivers
 * them in order with retry and backoff (sender.c).
 *
 * Threads: the collector thread calls the sink, the sender's thread sends;
 * the pusher itself holds no lock (max_series is immutable).
 */
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/sender.h"
#include "lib/lk_alloc.h"
#include "lib/lk_wire.h"

struct collector_pusher {
  collector__sender *s;
  size_t max_series;
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
  *out = p;
  return 0;
}

void collector_pusher_free(collector_pusher *p)
{
  if (!p)
    return;
  collector__sender_free(p->s);
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
    rc = collector__sender_put(p->s, body.data, body.len, nsamples);
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
}
