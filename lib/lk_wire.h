/* lk_wire.h — Prometheus remote_write 1.0 bodies (snappy block format around a
 * protobuf WriteRequest), Loki push bodies (the same around a PushRequest)
 * and raw snappy helpers.
 *
 * Decoding allocates everything from a caller-owned arena (one per request):
 * the result borrows nothing from `body`, and lives until the arena is reset.
 * Arena use ≈ decoded size + 16 B per label + 16 B per sample + 32 B per
 * series. Metadata (WriteRequest field 3), exemplars and native histograms
 * are checked for well-formedness and not decoded; lk_rw_scan counts each
 * series' native histogram samples so the caller can refuse them out loud.
 * Thread-safe: no shared state.
 */
#ifndef LK_WIRE_H
#define LK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

/* Decode a snappy-compressed (block format) remote_write WriteRequest.
 * OUT *out, *n: series array, labels, strings and samples, all in `arena`;
 * set only on success (*n may be 0 for an empty request).
 * Every series comes back with its labels sorted by name, names unique
 * (sorting costs nothing for senders that sort, as the spec asks).
 * Checked here: decoded size ≤ max_decoded (LK_ETOOBIG, "snappy: decoded size
 * N exceeds limit M"), snappy and protobuf well-formedness (LK_ECORRUPT,
 * "snappy: corrupt input" / "protobuf: cannot decode WriteRequest"; the
 * same bodies protobuf-c rejects), then a series without labels, with a
 * repeated label name, or with a NUL byte in a label name or value (LK_EINVAL,
 * "series N: no labels" / "duplicate label name \"x\"" / "label value
 * contains a NUL byte"; N is the 0-based index in the request).
 * NOT checked here (storage does): label name/value syntax and lengths, empty
 * values, __name__ presence, UTF-8, labels per series, sample order/duplicates.
 * On failure the arena may hold garbage from the attempt (reset it). */
int lk_rw_decode(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                 lk_series **out, size_t *n, lk_diag *d);

/* Remote_write with a series cache (the ingest fast path): lk_rw_scan
 * decodes and checks a body exactly as lk_rw_decode does except the label
 * messages, and gives each TimeSeries' label fields as raw bytes (`key`):
 * equal keys mean equal label sets, so a caller that already resolved a key
 * needs no label decoding. lk_rw_scan_labels decodes (and checks, as
 * lk_rw_decode would) the labels of one series on a cache miss. */
typedef struct lk_rw_series {
  const uint8_t *key;        /* label fields (tags included), as sent; NULL if */
  size_t key_len;            /* other fields sit between them */
  const lk_sample *samples;  /* in the arena */
  size_t nsamples;
  const uint8_t *msg;        /* the TimeSeries message, in the arena */
  size_t msg_len;
  size_t nhistograms;        /* native histogram samples (TimeSeries field 4), not decoded */
  int expected;              /* 1: key equals the expected key of its index (see below) */
} lk_rw_series;

/* Same arguments, limits and errors as lk_rw_decode, minus the label
 * checks. The keys and messages point into the arena (left unmodified). */
int lk_rw_scan(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
               lk_rw_series **out, size_t *n, lk_diag *d);

/* The keys a caller expects, by series index (a sender repeats its series
 * in the same order request after request). Each key must be one an earlier
 * lk_rw_scan gave out (a run of whole label fields); len 0 expects nothing. */
typedef struct lk_rw_expected {
  const uint8_t *const *keys;
  const size_t *lens;
  size_t n;
} lk_rw_expected;

/* Picks what to expect once the first series' key is known; NULL: nothing. */
typedef const lk_rw_expected *(*lk_rw_expect_fn)(void *ctx, const uint8_t *key0, size_t len0);

/* lk_rw_scan, with a series whose message starts with its expected key
 * compared once (memcmp) instead of walked field by field; the results are
 * the same as lk_rw_scan's, plus `expected` set on the series whose key
 * equals the expected one. expect may be NULL. */
int lk_rw_scan_expect(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                      lk_rw_expect_fn expect, void *ctx, lk_rw_series **out, size_t *n, lk_diag *d);
/* Labels of s (the `index`-th series, for messages): sorted by name, copied
 * into the arena; the label errors of lk_rw_decode (LK_ECORRUPT, LK_EINVAL). */
int lk_rw_scan_labels(const lk_rw_series *s, size_t index, lk_arena *arena, lk_label **out,
                      size_t *n, lk_diag *d);

/* Append `n` series as one snappy-compressed WriteRequest body to `out`
 * (labels written in the given order, samples as given). Returns 0; LK_EINVAL
 * if a label has a NULL name or value. */
int lk_rw_encode(const lk_series *s, size_t n, lk_buf *out);

/* The same bodies from label bytes kept between requests (a sender's series
 * cache): lk_rw_encode_labels appends the label fields of one TimeSeries
 * (labels in the given order; LK_EINVAL on a NULL name or value) exactly as
 * lk_rw_encode writes them, and lk_rw_encode_keyed appends a body
 * byte-identical to lk_rw_encode's for the same series, building the
 * uncompressed message in `raw` (cleared first; the caller keeps it to reuse
 * its memory). Returns 0. */
typedef struct lk_rw_keyed {
  const uint8_t *labels;     /* lk_rw_encode_labels output */
  size_t labels_len;
  const lk_sample *samples;
  size_t nsamples;
} lk_rw_keyed;
int lk_rw_encode_labels(const lk_label *ls, size_t n, lk_buf *out);
int lk_rw_encode_keyed(const lk_rw_keyed *s, size_t n, lk_buf *raw, lk_buf *out);

/*---- Loki push: a snappy block around logproto.PushRequest ----*/

/* Messages and field numbers: lib/loki_push.proto. One entry's time is sent
 * as a Timestamp {seconds, nanos} with nanos in [0, 1e9). */
typedef struct lk_loki_entry {
  int64_t ts;          /* ns since the epoch */
  const char *line;    /* len bytes, not NUL-terminated */
  size_t len;
} lk_loki_entry;

typedef struct lk_loki_stream {
  const char *labels;  /* the label set as text, `{a="b", c="d"}` (not parsed here) */
  const lk_loki_entry *entries;
  size_t n;
} lk_loki_stream;

/* Append `n` streams as one snappy-compressed PushRequest body to `out`.
 * Returns 0; LK_EINVAL if a stream has NULL labels. */
int lk_loki_push_encode(const lk_loki_stream *s, size_t n, lk_buf *out);

/* Decode a snappy-compressed PushRequest. OUT *out, *n: the streams, their
 * label strings (NUL-terminated; "" when absent) and entries, all in `arena`
 * (lines point into the decoded body there); set only on success.
 * Errors: LK_ETOOBIG (decoded size over max_decoded, checked first),
 * LK_ECORRUPT for bad snappy ("snappy: corrupt input") or protobuf
 * ("protobuf: cannot decode PushRequest" / "... PushRequest stream N"; the
 * bodies protobuf-c rejects, known fields with another wire type included),
 * LK_EINVAL "stream N: entry M: timestamp out of range" (beyond int64 ns).
 * Nothing is decoded unless the whole body is. */
int lk_loki_push_decode(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                        lk_loki_stream **out, size_t *n, lk_diag *d);

/*---- snappy ----*/

/* Append the snappy block-format compression of in[0..n) to `out`. Returns 0. */
int lk_snappy_compress(const uint8_t *in, size_t n, lk_buf *out);

/* Append the decompression of a snappy block to `out`. LK_ETOOBIG when the
 * stated decoded size exceeds max_out (checked before allocating),
 * LK_ECORRUPT on malformed input ("snappy: corrupt input"). On failure `out`
 * keeps its previous length. */
int lk_snappy_uncompress(const uint8_t *in, size_t n, size_t max_out, lk_buf *out, lk_diag *d);

#endif
