/* log_push.c — agent mode for logs: tailer batches to any Loki-compatible
 * POST /loki/api/v1/push, losslessly across outages.
 *
 * The sink (tailer thread) encodes each batch as one snappy-compressed
 * logproto.PushRequest (entries grouped into streams by label set;
 * lk_loki_push_encode in lib/lk_wire.h) and
 * appends it to the bounded on-disk queue; the tailer checkpoints once the
 * request is on disk. The shared sender (sender.h, as for remote_write) posts the
 * queued requests in order with retry and backoff.
 * Threads: tailer thread (sink) and the sender's thread; the pusher itself
 * holds no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/sender.h"
#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_wire.h"

struct collector_log_pusher {
  collector__sender *s;
};

static const char *const loki_headers[] = {"Content-Type: application/x-protobuf",
                                           "User-Agent: lookout-agent", NULL};

int collector_log_pusher_new(const collector_log_push_opts *o, collector_log_pusher **out,
                             lk_diag *d)
{
  if (!o || !o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) || !o->queue_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "log push: an http(s):// url and a queue directory are required");
  size_t n = strlen(o->url) + 32;
  char *url = lk_xmalloc(n);
  bool full = strstr(o->url, "/loki/api/v1/push") != NULL;
  snprintf(url, n, "%s%s", o->url, full ? "" : "/loki/api/v1/push");
  collector__sender_opts so = {.what = "log push", .url = url, .headers = loki_headers,
                               .bearer_token = o->bearer_token, .ca_file = o->ca_file, .queue_dir = o->queue_dir,
                               .queue_max_bytes = o->queue_max_bytes, .timeout_ms = o->timeout_ms};
  collector__sender *snd = NULL;
  int rc = collector__sender_new(&so, &snd, d);
  free(url);
  if (rc)
    return rc;
  collector_log_pusher *p = lk_xcalloc(1, sizeof *p);
  p->s = snd;
  *out = p;
  return 0;
}

/*---- encoding ----*/

/* The batch as streams: runs of entries sharing one label set, each label
 * set as the text Loki expects (lk_labels_format), in `a`. */
static size_t group_streams(const collector_log_entry *e, size_t n, lk_arena *a, lk_loki_stream *ss,
                            lk_loki_entry *es)
{
  size_t ns = 0;
  lk_buf text = {0};
  for (size_t i = 0; i < n;) {
    lk_buf_clear(&text);
    lk_labels_format(&text, e[i].labels, e[i].nlabels);
    size_t j = i;
    for (; j < n && e[j].labels == e[i].labels; j++)
      es[j] = (lk_loki_entry){e[j].ts, e[j].line, e[j].len};
    ss[ns++] = (lk_loki_stream){lk_arena_strndup(a, (const char *)text.data, text.len), es + i, j - i};
    i = j;
  }
  lk_buf_fini(&text);
  return ns;
}

static int log_sink(void *ctx, const collector_log_entry *e, size_t n)
{
  collector_log_pusher *p = ctx;
  lk_arena *a = lk_arena_new(1 << 12);
  lk_loki_stream *ss = lk_arena_alloc(a, (n ? n : 1) * sizeof *ss);
  lk_loki_entry *es = lk_arena_alloc(a, (n ? n : 1) * sizeof *es);
  size_t ns = group_streams(e, n, a, ss, es);
  lk_buf body = {0};
  int rc = lk_loki_push_encode(ss, ns, &body);
  if (!rc)
    rc = collector__sender_put(p->s, body.data, body.len, n);
  lk_buf_fini(&body);
  lk_arena_free(a);
  return rc;
}

collector_log_sink collector_log_pusher_sink(collector_log_pusher *p)
{
  return (collector_log_sink){log_sink, p};
}

/*---- the sender (sender.c) ----*/

int collector_log_pusher_start(collector_log_pusher *p)
{
  return collector__sender_start(p->s);
}

void collector_log_pusher_stats_get(collector_log_pusher *p, collector_log_push_stats *out)
{
  collector__sender_stats st;
  collector__sender_stats_get(p->s, &st);
  *out = (collector_log_push_stats){.sent_requests = st.sent_requests, .sent_entries = st.sent_items,
                                    .rejected_requests = st.rejected_requests,
                                    .failed_attempts = st.failed_attempts};
}

void collector_log_pusher_free(collector_log_pusher *p)
{
  if (!p)
    return;
  collector__sender_free(p->s);
  free(p);
}
