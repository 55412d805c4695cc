/* lk_wire_loki.c — Loki push bodies: logproto.PushRequest in a snappy block,
 * encoded (the agent's log pusher) and decoded (the server's push API) by
 * one pair of functions over one field-number description.
 *
 * Written by hand, as remote_write is: four tiny messages, and neither side
 * needs message structs. Reading follows protobuf-c (lk__pb_next): unknown
 * fields of wire types 0, 1, 2, 5 are skipped, known fields with another
 * wire type are errors, a repeated scalar keeps its last value.
 * tests/lib/test_wire.c checks both directions against protobuf-c code
 * generated from lib/loki_push.proto.
 */
#include <string.h>

#include "lib/lk_wire.h"
#include "lib/lk_wire_int.h"

/* The messages (lib/loki_push.proto): field numbers and wire types. */
enum {
  PUSH_STREAMS = 1,    /* PushRequest.streams: StreamAdapter, repeated */
  STREAM_LABELS = 1,   /* StreamAdapter.labels: string */
  STREAM_ENTRIES = 2,  /* StreamAdapter.entries: EntryAdapter, repeated */
  ENTRY_TS = 1,        /* EntryAdapter.timestamp: Timestamp */
  ENTRY_LINE = 2,      /* EntryAdapter.line: string */
  TS_SECONDS = 1,      /* Timestamp.seconds: int64 (varint) */
  TS_NANOS = 2,        /* Timestamp.nanos: int32 (varint) */
};

#define NS 1000000000LL

/*---- encode ----*/

/* ns → {seconds, nanos} with nanos in [0, NS), as Timestamp requires. */
static void split_ts(int64_t ts, int64_t *sec, int64_t *nanos)
{
  *sec = ts / NS;
  *nanos = ts % NS;
  if (*nanos < 0) {
    *sec -= 1;
    *nanos += NS;
  }
}

static size_t ts_msg_len(int64_t sec, int64_t nanos)
{
  return 2 + lk__pb_uvarint_len((uint64_t)sec) + lk__pb_uvarint_len((uint64_t)nanos);
}

static size_t entry_msg_len(const lk_loki_entry *e)
{
  int64_t sec, nanos;
  split_ts(e->ts, &sec, &nanos);
  return lk__pb_field_len(ts_msg_len(sec, nanos)) + lk__pb_field_len(e->len);
}

static size_t stream_msg_len(const lk_loki_stream *s)
{
  size_t n = lk__pb_field_len(strlen(s->labels));
  for (size_t i = 0; i < s->n; i++)
    n += lk__pb_field_len(entry_msg_len(&s->entries[i]));
  return n;
}

static void put_entry(lk_buf *b, const lk_loki_entry *e)
{
  int64_t sec, nanos;
  split_ts(e->ts, &sec, &nanos);
  lk__pb_put_head(b, STREAM_ENTRIES, entry_msg_len(e));
  lk__pb_put_head(b, ENTRY_TS, ts_msg_len(sec, nanos));
  lk_buf_putc(b, TS_SECONDS << 3 | LK__WT_VARINT);
  lk_buf_put_uvarint(b, (uint64_t)sec); /* plain int64: negatives take 10 bytes */
  lk_buf_putc(b, TS_NANOS << 3 | LK__WT_VARINT);
  lk_buf_put_uvarint(b, (uint64_t)nanos);
  lk__pb_put_bytes(b, ENTRY_LINE, e->line, e->len);
}

int lk_loki_push_encode(const lk_loki_stream *s, size_t n, lk_buf *out)
{
  for (size_t i = 0; i < n; i++)
    if (!s[i].labels)
      return LK_EINVAL;
  lk_buf raw = {0};
  for (size_t i = 0; i < n; i++) {
    lk__pb_put_head(&raw, PUSH_STREAMS, stream_msg_len(&s[i]));
    lk__pb_put_bytes(&raw, STREAM_LABELS, s[i].labels, strlen(s[i].labels));
    for (size_t j = 0; j < s[i].n; j++)
      put_entry(&raw, &s[i].entries[j]);
  }
  int rc = lk_snappy_compress(raw.data, raw.len, out);
  lk_buf_fini(&raw);
  return rc;
}

/*---- decode ----*/

typedef struct ctx {
  lk_arena *a;
  lk_diag *d;
  size_t stream, entry; /* indexes, for messages */
} ctx;

static int bad_stream(ctx *c)
{
  return lk_diag_set(c->d, LK_ECORRUPT, -1, "protobuf: cannot decode PushRequest stream %zu",
                     c->stream);
}

/* Timestamp fields into *sec, *nanos (a repeated Timestamp replaces the
 * earlier one, as protobuf-c reads it); int32 nanos are the low 32 bits of
 * the varint, as protobuf-c reads them. */
static int parse_ts(ctx *c, uint8_t *data, size_t len, int64_t *sec, int64_t *nanos)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  *sec = *nanos = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return bad_stream(c);
    if (f.num != TS_SECONDS && f.num != TS_NANOS)
      continue;
    if (f.wt != LK__WT_VARINT)
      return bad_stream(c);
    if (f.num == TS_SECONDS)
      *sec = (int64_t)f.v;
    else
      *nanos = (int32_t)(uint32_t)f.v;
  }
  return 0;
}

static int parse_entry(ctx *c, uint8_t *data, size_t len, lk_loki_entry *out)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  int64_t sec = 0, nanos = 0;
  *out = (lk_loki_entry){0, "", 0};
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return bad_stream(c);
    if (f.num != ENTRY_TS && f.num != ENTRY_LINE)
      continue;
    if (f.wt != LK__WT_LEN)
      return bad_stream(c);
    if (f.num == ENTRY_LINE)
      out->line = (const char *)f.data, out->len = f.len;
    else if (parse_ts(c, f.data, f.len, &sec, &nanos))
      return LK_ECORRUPT;
  }
  if (sec < 0 && nanos > 0) /* same instant, no overflow near INT64_MIN */
    sec++, nanos -= NS;
  else if (sec > 0 && nanos < 0)
    sec--, nanos += NS;
  if (__builtin_mul_overflow(sec, NS, &out->ts) || __builtin_add_overflow(out->ts, nanos, &out->ts))
    return lk_diag_set(c->d, LK_EINVAL, -1, "stream %zu: entry %zu: timestamp out of range",
                       c->stream, c->entry);
  return 0;
}

/* Counting pass over a StreamAdapter: framing and wire types. */
static int count_entries(ctx *c, uint8_t *data, size_t len, size_t *n)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  *n = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return bad_stream(c);
    if ((f.num == STREAM_LABELS || f.num == STREAM_ENTRIES) && f.wt != LK__WT_LEN)
      return bad_stream(c);
    *n += f.num == STREAM_ENTRIES;
  }
  return 0;
}

static int parse_stream(ctx *c, uint8_t *data, size_t len, lk_loki_stream *out)
{
  size_t n;
  int rc = count_entries(c, data, len, &n);
  if (rc)
    return rc;
  lk_loki_entry *es = lk_arena_alloc(c->a, (n ? n : 1) * sizeof *es);
  const char *labels = "";
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  c->entry = 0;
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: count_entries accepted these bytes */
    if (f.num == STREAM_LABELS)
      labels = lk_arena_strndup(c->a, (const char *)f.data, f.len);
    else if (f.num == STREAM_ENTRIES && (rc = parse_entry(c, f.data, f.len, &es[c->entry])))
      return rc;
    c->entry += f.num == STREAM_ENTRIES;
  }
  *out = (lk_loki_stream){labels, es, n};
  return 0;
}

static int count_streams(ctx *c, uint8_t *data, size_t len, size_t *n)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  *n = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f) || (f.num == PUSH_STREAMS && f.wt != LK__WT_LEN))
      return lk_diag_set(c->d, LK_ECORRUPT, -1, "protobuf: cannot decode PushRequest");
    *n += f.num == PUSH_STREAMS;
  }
  return 0;
}

int lk_loki_push_decode(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                        lk_loki_stream **out, size_t *n, lk_diag *d)
{
  ctx c = {.a = arena, .d = d};
  uint8_t *buf = NULL;
  size_t size = 0, ns = 0;
  int rc = lk__snappy_arena(body, len, max_decoded, arena, &buf, &size, d);
  if (rc || (rc = count_streams(&c, buf, size, &ns)))
    return rc;
  lk_loki_stream *ss = lk_arena_alloc(arena, (ns ? ns : 1) * sizeof *ss);
  lk__pbuf b = {buf, buf + size};
  lk__pbfield f = {0};
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: count_streams accepted these bytes */
    if (f.num != PUSH_STREAMS)
      continue;
    if ((rc = parse_stream(&c, f.data, f.len, &ss[c.stream])))
      return rc;
    c.stream++;
  }
  *out = ss;
  *n = ns;
  return 0;
}
