/* lk_varint.c — varint codec, decode cursor and bit streams. */
#include "lib/lk_varint.h"

#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_endian.h"
#include "lib/lk_err.h"

size_t lk_uvarint_put(uint8_t *p, uint64_t v)
{
  size_t i = 0;
  while (v >= 0x80) {
    p[i++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[i++] = (uint8_t)v;
  return i;
}

uint64_t lk_dec_uvarint(lk_dec *d)
{
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70 && !d->err; shift += 7) {
    if (d->p >= d->end)
      break;
    uint8_t b = *d->p++;
    if (shift == 63 && b > 1)
      break;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  d->err = LK_ECORRUPT;
  return 0;
}

int64_t lk_dec_varint(lk_dec *d) { return lk_unzigzag(lk_dec_uvarint(d)); }

const uint8_t *lk_dec_bytes(lk_dec *d, size_t n)
{
  if (d->err || lk_dec_left(d) < n) {
    d->err = LK_ECORRUPT;
    return NULL;
  }
  const uint8_t *p = d->p;
  d->p += n;
  return p;
}

uint8_t lk_dec_u8(lk_dec *d)
{
  const uint8_t *p = lk_dec_bytes(d, 1);
  return p ? p[0] : 0;
}

uint32_t lk_dec_u32le(lk_dec *d)
{
  const uint8_t *p = lk_dec_bytes(d, 4);
  return p ? lk_le32_load(p) : 0;
}

uint32_t lk_dec_u32be(lk_dec *d)
{
  const uint8_t *p = lk_dec_bytes(d, 4);
  return p ? (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24 : 0;
}

uint64_t lk_dec_u64le(lk_dec *d)
{
  const uint8_t *p = lk_dec_bytes(d, 8);
  return p ? lk_le64_load(p) : 0;
}

/*---- Bit streams ----*/

void lk_bitw_fini(lk_bitw *w)
{
  free(w->data);
  memset(w, 0, sizeof *w);
}

void lk_bitw_write(lk_bitw *w, uint64_t v, unsigned nbits)
{
  if (!nbits)
    return;
  size_t need = (size_t)((w->nbits + nbits + 7) / 8) + 8;
  if (need > w->cap) {
    size_t c = w->cap ? w->cap * 2 : 64;
    while (c < need)
      c *= 2;
    w->data = lk_xrealloc(w->data, c);
    memset(w->data + w->cap, 0, c - w->cap);
    w->cap = c;
  }
  if (nbits < 64)
    v &= ((uint64_t)1 << nbits) - 1;
  while (nbits) {
    size_t byte = (size_t)(w->nbits >> 3);
    unsigned used = (unsigned)(w->nbits & 7), room = 8 - used;
    unsigned take = nbits < room ? nbits : room;
    uint8_t bits = (uint8_t)((v >> (nbits - take)) & ((1u << take) - 1));
    w->data[byte] |= (uint8_t)(bits << (room - take));
    w->nbits += take;
    nbits -= take;
  }
}

uint64_t lk_bitr_read(lk_bitr *r, unsigned nbits)
{
  if (r->err || r->pos + nbits > r->nbits) {
    r->err = LK_ECORRUPT;
    return 0;
  }
  uint64_t v = 0;
  while (nbits) {
    size_t byte = (size_t)(r->pos >> 3);
    unsigned used = (unsigned)(r->pos & 7), room = 8 - used;
    unsigned take = nbits < room ? nbits : room;
    uint8_t bits = (uint8_t)((r->data[byte] >> (room - take)) & ((1u << take) - 1));
    v = (v << take) | bits;
    r->pos += take;
    nbits -= take;
  }
  return v;
}
