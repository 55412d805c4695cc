/* log_push.c — agent mode for logs: tailer batches to any Loki-compatible
 * POST /loki/api/v1/push, losslessly across outages.
 *
 * The sink (tailer thread) encodes each batch as one snappy-compressed
 * logproto.PushRequest (entries grouped into streams by label set) and
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
#include "lib/lk_varint.h"
#include "lib/lk_wire.h"

struct collector_log_pusher {
  collector__sender *s;
};

static const char *const loki_headers[] = {"Content-Type: application/x-protobuf",
                                           "User-Agent: lookout-agent", NULL};

int collector_log_pusher_new(const collector_log_push_opts *o, collector_log_pusher **out,
                             lk_diag *d)
{
  if (!o || !o->url || strncmp(o->url, "http://", 7) || !o->queue_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "log push: an http:// url and a queue directory are required");
  size_t n = strlen(o->url) + 32;
  char *url = lk_xmalloc(n);
  bool full = strstr(o->url, "/loki/api/v1/push") != NULL;
  snprintf(url, n, "%s%s", o->url, full ? "" : "/loki/api/v1/push");
  collector__sender_opts so = {.what = "log push", .url = url, .headers = loki_headers,
                               .bearer_token = o->bearer_token, .queue_dir = o->queue_dir,
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
  int rc = collector__sender_put(p->s, body.data, body.len, n);
  lk_buf_fini(&req), lk_buf_fini(&st), lk_buf_fini(&lt), lk_buf_fini(&body);
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
