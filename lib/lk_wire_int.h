/* lk_wire_int.h — shared by the lk_wire files only (lk_wire.c,
 * lk_rw_decode.c, lk_wire_loki.c): snappy steps, one protobuf field reader
 * (read as protobuf-c reads) and the few writer helpers the encoders need. */
#ifndef LK_WIRE_INT_H
#define LK_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_err.h"

/* The decompression of the snappy block in[0..n) into the arena (*out,
 * *size set on success); LK_ETOOBIG (decoded size over max_out, checked
 * first) or LK_ECORRUPT, as lk_snappy_uncompress. */
int lk__snappy_arena(const uint8_t *in, size_t n, size_t max_out, lk_arena *a, uint8_t **out,
                     size_t *size, lk_diag *d);

/*---- protobuf reading ----*/

enum { LK__WT_VARINT = 0, LK__WT_I64 = 1, LK__WT_LEN = 2, LK__WT_I32 = 5 };

typedef struct lk__pbuf {
  uint8_t *p, *e;
} lk__pbuf;

typedef struct lk__pbfield {
  uint32_t num;
  int wt;
  uint64_t v;     /* LK__WT_VARINT, LK__WT_I64, LK__WT_I32 */
  uint8_t *data;  /* LK__WT_LEN */
  size_t len;
} lk__pbfield;

/* A varint of at most `max` bytes (10 for values, 5 for tags and lengths,
 * as protobuf-c reads them). */
static inline int lk__pb_varint(lk__pbuf *b, uint64_t *out, unsigned max)
{
  if (b->p < b->e && *b->p < 0x80) {
    *out = *b->p++;
    return 0;
  }
  uint64_t v = 0;
  for (unsigned i = 0; i < max; i++) {
    if (b->p >= b->e)
      return -1;
    uint8_t c = *b->p++;
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static inline uint64_t lk__pb_le(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Next field of the message in b; -1 on malformed input (groups, a one-byte
 * tag of field 0, over-long varints, lengths past the end). Like protobuf-c,
 * a longer tag spelling field 0 (0x80 0x00) is read as an unknown field. */
static inline int lk__pb_next(lk__pbuf *b, lk__pbfield *f)
{
  uint64_t tag;
  if (b->p < b->e && (*b->p & 0xf8) == 0)
    return -1;
  if (lk__pb_varint(b, &tag, 5) || (tag >> 3) > 0x1fffffff)
    return -1;
  f->num = (uint32_t)(tag >> 3);
  f->wt = (int)(tag & 7);
  size_t left;
  switch (f->wt) {
  case LK__WT_VARINT:
    return lk__pb_varint(b, &f->v, 10);
  case LK__WT_I64:
  case LK__WT_I32:
    left = (size_t)(b->e - b->p);
    if (left < (f->wt == LK__WT_I64 ? 8u : 4u))
      return -1;
    f->v = lk__pb_le(b->p, f->wt == LK__WT_I64 ? 8 : 4);
    b->p += f->wt == LK__WT_I64 ? 8 : 4;
    return 0;
  case LK__WT_LEN:
    if (lk__pb_varint(b, &f->v, 5) || f->v > (uint64_t)(b->e - b->p))
      return -1;
    f->data = b->p;
    f->len = (size_t)f->v;
    b->p += f->len;
    return 0;
  default:
    return -1;
  }
}

/*---- protobuf writing (lk_wire.c) ----*/

/* Bytes of v as a varint. */
size_t lk__pb_uvarint_len(uint64_t v);
/* Bytes of a length-delimited field (number < 16) with a `len`-byte body. */
size_t lk__pb_field_len(size_t len);
/* Tag (field number < 16, length-delimited) and length of a field. */
void lk__pb_put_head(lk_buf *b, unsigned num, size_t len);
/* A whole length-delimited field: head, then p[0..n). */
void lk__pb_put_bytes(lk_buf *b, unsigned num, const void *p, size_t n);

#endif
