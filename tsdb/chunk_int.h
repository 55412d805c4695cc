/* chunk_int.h — private to tsdb/chunk*.c: the chunk codec's bit streams,
 * integer streams (Rice coding) and the XOR value fallback.
 *
 * Bit order is MSB first. The writer appends into memory the caller reserved
 * (the TSDB__*_MAX_BYTES bounds below), so it has no capacity checks; byte
 * writes (uvarint) need it byte-aligned. The reader never reads outside
 * [p, end): a short input sets a sticky err and reads then return 0, so
 * decoders check err once per loop. Formats: tsdb/chunk_format.md.
 */
#ifndef TSDB_CHUNK_INT_H
#define TSDB_CHUNK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/lk_endian.h"
#include "lib/lk_err.h"
#include "lib/lk_varint.h"

/*---- Small shared helpers ----*/

/* Zigzag on the two's-complement bits, without signed overflow. */
static inline uint64_t tsdb__zz(uint64_t x) { return (x << 1) ^ (0 - (x >> 63)); }
static inline uint64_t tsdb__unzz(uint64_t u) { return (u >> 1) ^ (0 - (u & 1)); }

/* A double's bits and back. */
static inline uint64_t tsdb__dbits(double d)
{
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

static inline double tsdb__bitsd(uint64_t u)
{
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* Bytes a uvarint of v takes. */
static inline size_t tsdb__uvarint_len(uint64_t v)
{
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/*---- Bit writer over caller-reserved memory ----*/

typedef struct tsdb__bw {
  uint8_t *p;    /* next byte to write */
  uint64_t acc;  /* pending bits in the low `n` bits */
  unsigned n;    /* 0..7 between calls */
} tsdb__bw;

/* Append the low nb bits of v (nb 0..64; bits above nb must be zero). */
static inline void tsdb__bw_put(tsdb__bw *w, uint64_t v, unsigned nb)
{
  if (nb > 32) {
    tsdb__bw_put(w, v >> 32, nb - 32);
    v &= 0xffffffffu;
    nb = 32;
  }
  w->acc = (w->acc << nb) | v;
  w->n += nb;
  while (w->n >= 8) {
    w->n -= 8;
    *w->p++ = (uint8_t)(w->acc >> w->n);
  }
}

/* Pad with zero bits to the next byte boundary. */
static inline void tsdb__bw_align(tsdb__bw *w)
{
  if (w->n) {
    *w->p++ = (uint8_t)(w->acc << (8 - w->n));
    w->n = 0;
  }
}

/* Byte-aligned uvarint (the writer must be aligned). */
static inline void tsdb__bw_uvarint(tsdb__bw *w, uint64_t v)
{
  while (v >= 0x80) {
    *w->p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *w->p++ = (uint8_t)v;
}

/*---- Bit reader over borrowed bytes ----*/

typedef struct tsdb__br {
  const uint8_t *p, *end;
  uint64_t acc;  /* valid bits MSB-aligned */
  unsigned cnt;  /* number of valid bits in acc */
  int err;       /* 0 or LK_ECORRUPT, sticky */
} tsdb__br;

static inline void tsdb__br_init(tsdb__br *r, const uint8_t *p, size_t n)
{
  r->p = p;
  r->end = p + n;
  r->acc = 0;
  r->cnt = 0;
  r->err = 0;
}

/* Top up acc to ≥ 57 bits, or to what is left of the input. */
static inline void tsdb__br_refill(tsdb__br *r)
{
  if (r->end - r->p >= 8) {
    r->acc |= lk_be64_load(r->p) >> r->cnt;
    r->p += (63 - r->cnt) >> 3;
    r->cnt |= 56;
    return;
  }
  while (r->cnt <= 56 && r->p < r->end) {
    r->acc |= (uint64_t)*r->p++ << (56 - r->cnt);
    r->cnt += 8;
  }
}

/* Mark the input corrupt; every later read gives 0 (nothing to refill from). */
static inline void tsdb__br_fail(tsdb__br *r)
{
  r->err = LK_ECORRUPT;
  r->cnt = 0;
  r->acc = 0;
  r->p = r->end;
}

/* Read nb bits (0..56) after a refill; short input fails the reader. */
static inline uint64_t tsdb__br_take(tsdb__br *r, unsigned nb)
{
  if (nb > r->cnt) {
    tsdb__br_fail(r);
    return 0;
  }
  if (!nb)
    return 0;
  uint64_t v = r->acc >> (64 - nb);
  r->acc <<= nb;
  r->cnt -= nb;
  return v;
}

/* Read nb bits (0..64). */
static inline uint64_t tsdb__br_get(tsdb__br *r, unsigned nb)
{
  uint64_t hi = 0;
  if (nb > 32) {
    tsdb__br_refill(r);
    hi = tsdb__br_take(r, nb - 32) << 32;
    nb = 32;
  }
  tsdb__br_refill(r);
  return hi | tsdb__br_take(r, nb);
}

/* Skip to the next byte boundary. */
static inline void tsdb__br_align(tsdb__br *r) { (void)tsdb__br_take(r, r->cnt & 7); }

/* Byte-aligned uvarint; over-long or short input sets err. */
static inline uint64_t tsdb__br_uvarint(tsdb__br *r)
{
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    uint64_t b = tsdb__br_get(r, 8);
    if (shift == 63 && b > 1)
      break;
    v |= (b & 0x7f) << shift;
    if (!(b & 0x80))
      return r->err ? 0 : v;
  }
  tsdb__br_fail(r);
  return 0;
}

/*---- Integer streams: m unsigned values, Rice coded (chunk_bits.c) ----*/

/* Worst-case bytes for an integer stream of m values. */
#define TSDB__IS_MAX_BYTES(m) (2 + (size_t)(m) * 24 + 16)

/* How a stream will be written: the cheapest mode for its values. */
typedef struct tsdb__is_plan {
  unsigned kind, k, k2; /* k2: Rice parameter of zero-run lengths */
  uint64_t bits;        /* exact size including mode bytes and padding */
} tsdb__is_plan;

tsdb__is_plan tsdb__is_plan_for(const uint64_t *u, size_t m);
/* Σ bit lengths of u: a cheap proxy for the coded size, to choose between
 * residual sequences before planning one of them. */
uint64_t tsdb__is_magnitude(const uint64_t *u, size_t m);
/* Append the stream as planned (the writer must be byte-aligned; it is
 * again afterwards). */
void tsdb__is_write(tsdb__bw *w, const uint64_t *u, size_t m, const tsdb__is_plan *p);
/* Read m values into u; leaves the reader byte-aligned. Errors in r->err. */
void tsdb__is_decode(tsdb__br *r, uint64_t *u, size_t m);

/*---- Timestamp section (chunk_ts.c) ----*/

enum { TSDB__TS_DOD = 0, TSDB__TS_GRID = 1 };

#define TSDB__TS_MAX_BYTES(n) (20 + TSDB__IS_MAX_BYTES(n))

/* Append the timestamp section of n ≥ 1 samples (scratch: 3n slots); returns
 * the scheme, which the caller records in the chunk header. */
unsigned tsdb__ts_encode(tsdb__bw *w, const int64_t *t, size_t n, uint64_t *scratch);
void tsdb__ts_decode(tsdb__br *r, unsigned scheme, int64_t *t, size_t n);

/*---- XOR value stream (chunk_xor.c), Gorilla / Prometheus style ----*/

#define TSDB__XOR_MAX_BYTES(n) (8 + (size_t)(n) * 10 + 8)

/* Append n ≥ 1 values as XOR bits, padded to a byte boundary. */
void tsdb__xor_encode(tsdb__bw *w, const double *v, size_t n);
void tsdb__xor_decode(tsdb__br *r, double *v, size_t n);

#endif
