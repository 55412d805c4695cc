/* lk_varint.c — varint codec and the decode cursor. */
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
