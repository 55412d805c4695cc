/* lk_wire.c — snappy helpers, the protobuf writer helpers of the encoders
 * and the remote_write WriteRequest encoder (decoding is in lk_rw_decode.c,
 * messages in lib/remote.proto; Loki push is lk_wire_loki.c).
 *
 * Encoding is written by hand: the wire format of these few messages is fixed
 * and tiny, and the agent needs no protobuf message structs to build a body.
 * tests/lib/test_wire.c decodes its output with protobuf-c (generated from
 * lib/remote.proto) to cross-check both sides.
 */
#include "lib/lk_wire.h"

#include <snappy-c.h>
#include <stdbool.h>
#include <string.h>

#include "lib/lk_wire_int.h"

/* Protobuf wire tags: (field << 3) | wire type (1 = fixed64, 0 = varint). */
#define TAG_FIX1 0x09   /* field 1, fixed64 (Sample.value) */
#define TAG_VAR2 0x10   /* field 2, varint (Sample.timestamp) */

/*---- snappy ----*/

int lk_snappy_compress(const uint8_t *in, size_t n, lk_buf *out)
{
  size_t cap = snappy_max_compressed_length(n);
  lk_buf_reserve(out, cap);
  size_t got = cap;
  snappy_status st = snappy_compress(n ? (const char *)in : "", n, (char *)out->data + out->len, &got);
  if (st != SNAPPY_OK) /* only on a too-small buffer, which max_compressed_length rules out */
    return LK_EINVAL;
  out->len += got;
  out->data[out->len] = 0;
  return 0;
}

/* Stated decoded size of a snappy block, checked against max_out. */
static int snappy_size(const uint8_t *in, size_t n, size_t max_out, size_t *size, lk_diag *d)
{
  size_t ulen;
  if (snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
    return lk_diag_set(d, LK_ECORRUPT, -1, "snappy: corrupt input");
  if (ulen > max_out)
    return lk_diag_set(d, LK_ETOOBIG, -1, "snappy: decoded size %zu exceeds limit %zu", ulen,
                       max_out);
  *size = ulen;
  return 0;
}

/* Decompress into dst, which has room for exactly `size` bytes. */
static int snappy_into(const uint8_t *in, size_t n, uint8_t *dst, size_t size, lk_diag *d)
{
  size_t got = size;
  if (snappy_uncompress((const char *)in, n, (char *)dst, &got) != SNAPPY_OK || got != size)
    return lk_diag_set(d, LK_ECORRUPT, -1, "snappy: corrupt input");
  return 0;
}

int lk__snappy_arena(const uint8_t *in, size_t n, size_t max_out, lk_arena *a, uint8_t **out,
                     size_t *size, lk_diag *d)
{
  size_t sz = 0;
  int rc = snappy_size(in, n, max_out, &sz, d);
  if (rc)
    return rc;
  uint8_t *b = lk_arena_alloc(a, sz ? sz : 1);
  if ((rc = snappy_into(in, n, b, sz, d)))
    return rc;
  *out = b;
  *size = sz;
  return 0;
}

int lk_snappy_uncompress(const uint8_t *in, size_t n, size_t max_out, lk_buf *out, lk_diag *d)
{
  size_t size = 0;
  int rc = snappy_size(in, n, max_out, &size, d);
  if (rc)
    return rc;
  lk_buf_reserve(out, size);
  rc = snappy_into(in, n, out->data + out->len, size, d);
  if (rc) {
    out->data[out->len] = 0;
    return rc;
  }
  out->len += size;
  out->data[out->len] = 0;
  return 0;
}

/*---- protobuf writing, shared by the encoders ----*/

size_t lk__pb_uvarint_len(uint64_t v)
{
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

size_t lk__pb_field_len(size_t len) { return 1 + lk__pb_uvarint_len(len) + len; }

void lk__pb_put_head(lk_buf *b, unsigned num, size_t len)
{
  lk_buf_putc(b, (uint8_t)(num << 3 | LK__WT_LEN));
  lk_buf_put_uvarint(b, len);
}

void lk__pb_put_bytes(lk_buf *b, unsigned num, const void *p, size_t n)
{
  lk__pb_put_head(b, num, n);
  lk_buf_append(b, p, n);
}

/*---- remote_write encode ----*/

static size_t label_msg_len(const lk_label *l)
{
  return lk__pb_field_len(strlen(l->name)) + lk__pb_field_len(strlen(l->value));
}

static size_t labels_len(const lk_label *ls, size_t n)
{
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += lk__pb_field_len(label_msg_len(&ls[i]));
  return len;
}

static size_t sample_msg_len(const lk_sample *s)
{
  return 1 + 8 + 1 + lk__pb_uvarint_len((uint64_t)s->t);
}

static size_t samples_len(const lk_sample *s, size_t n)
{
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += lk__pb_field_len(sample_msg_len(&s[i]));
  return len;
}

static void put_labels(lk_buf *b, const lk_label *ls, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const lk_label *l = &ls[i];
    lk__pb_put_head(b, 1, label_msg_len(l));
    lk__pb_put_bytes(b, 1, l->name, strlen(l->name));
    lk__pb_put_bytes(b, 2, l->value, strlen(l->value));
  }
}

static void put_samples(lk_buf *b, const lk_sample *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const lk_sample *sm = &s[i];
    uint64_t bits;
    memcpy(&bits, &sm->v, 8);
    lk__pb_put_head(b, 2, sample_msg_len(sm));
    lk_buf_putc(b, TAG_FIX1);
    lk_buf_put_u64le(b, bits);
    lk_buf_putc(b, TAG_VAR2);
    lk_buf_put_uvarint(b, (uint64_t)sm->t); /* plain int64: negatives take 10 bytes */
  }
}

static void put_series(lk_buf *b, const lk_series *s)
{
  lk__pb_put_head(b, 1, labels_len(s->labels, s->nlabels) + samples_len(s->samples, s->nsamples));
  put_labels(b, s->labels, s->nlabels);
  put_samples(b, s->samples, s->nsamples);
}

static bool labels_ok(const lk_label *ls, size_t n)
{
  for (size_t j = 0; j < n; j++)
    if (!ls[j].name || !ls[j].value)
      return false;
  return true;
}

int lk_rw_encode_labels(const lk_label *ls, size_t n, lk_buf *out)
{
  if (!labels_ok(ls, n))
    return LK_EINVAL;
  put_labels(out, ls, n);
  return 0;
}

int lk_rw_encode_keyed(const lk_rw_keyed *s, size_t n, lk_buf *raw, lk_buf *out)
{
  lk_buf_clear(raw);
  for (size_t i = 0; i < n; i++) {
    lk__pb_put_head(raw, 1, s[i].labels_len + samples_len(s[i].samples, s[i].nsamples));
    lk_buf_append(raw, s[i].labels, s[i].labels_len);
    put_samples(raw, s[i].samples, s[i].nsamples);
  }
  return lk_snappy_compress(raw->data, raw->len, out);
}

int lk_rw_encode(const lk_series *s, size_t n, lk_buf *out)
{
  for (size_t i = 0; i < n; i++)
    if (!labels_ok(s[i].labels, s[i].nlabels))
      return LK_EINVAL;
  lk_buf raw = {0};
  for (size_t i = 0; i < n; i++)
    put_series(&raw, &s[i]);
  int rc = lk_snappy_compress(raw.data, raw.len, out);
  lk_buf_fini(&raw);
  return rc;
}
