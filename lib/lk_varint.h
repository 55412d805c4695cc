/* lk_varint.h — varints, zigzag, a bounds-checked decode cursor with a sticky
 * error, and MSB-first bit streams (for the XOR / delta-of-delta codecs).
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

/*---- Bit streams (MSB first) ----*/

/* Writer over a growable buffer it owns; zero-initialise, free with lk_bitw_fini. */
typedef struct lk_bitw {
  uint8_t *data;
  size_t cap;
  uint64_t nbits; /* bits written */
} lk_bitw;

void lk_bitw_fini(lk_bitw *w);
void lk_bitw_write(lk_bitw *w, uint64_t v, unsigned nbits); /* nbits 0..64 */
static inline size_t lk_bitw_bytes(const lk_bitw *w) { return (size_t)((w->nbits + 7) / 8); }

/* Reader over borrowed bytes; reading past the end sets err and returns 0. */
typedef struct lk_bitr {
  const uint8_t *data;
  uint64_t nbits, pos;
  int err;
} lk_bitr;

static inline void lk_bitr_init(lk_bitr *r, const uint8_t *data, uint64_t nbits)
{
  r->data = data;
  r->nbits = nbits;
  r->pos = 0;
  r->err = 0;
}
uint64_t lk_bitr_read(lk_bitr *r, unsigned nbits); /* nbits 0..64 */
static inline int lk_bitr_bit(lk_bitr *r) { return (int)lk_bitr_read(r, 1); }

#endif
