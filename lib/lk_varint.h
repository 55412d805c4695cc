/* lk_varint.h — varints, zigzag, a bounds-checked decode cursor with a sticky
 * error.
 *
 * lk_dec never reads past its end: a short read sets `err` (LK_ECORRUPT) and
 * returns 0 from then on, so callers read many fields and check once.
 */
#ifndef LK_VARINT_H
#define LK_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define LK_UVARINT_MAX 10

static inline uint64_t lk_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t lk_unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Writes v into p (room for LK_UVARINT_MAX); returns bytes written. */
size_t lk_uvarint_put(uint8_t *p, uint64_t v);

typedef struct lk_dec {
  const uint8_t *p, *end;
  int err; /* 0 or LK_ECORRUPT; sticky */
} lk_dec;

static inline void lk_dec_init(lk_dec *d, const void *p, size_t n)
{
  d->p = p;
  d->end = (const uint8_t *)p + n;
  d->err = 0;
}
static inline size_t lk_dec_left(const lk_dec *d) { return (size_t)(d->end - d->p); }
uint64_t lk_dec_uvarint(lk_dec *d);
int64_t lk_dec_varint(lk_dec *d);
uint8_t lk_dec_u8(lk_dec *d);
uint32_t lk_dec_u32le(lk_dec *d);
uint32_t lk_dec_u32be(lk_dec *d);
uint64_t lk_dec_u64le(lk_dec *d);
/* Borrow n bytes from the input (NULL on short read). */
const uint8_t *lk_dec_bytes(lk_dec *d, size_t n);

#endif
