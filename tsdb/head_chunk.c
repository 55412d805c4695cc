/* head_chunk.c — the open chunk of a head series: its in-order samples
 * encoded one at a time as they arrive, so an open chunk costs a few bytes
 * per sample instead of 16 (at 30,000 agent series, 58 MB of raw buffers
 * became a few MB).
 *
 * In-memory only (never written to disk; sealing decodes it and encodes
 * the samples with the chunk codec, chunk.h). An MSB-first bit stream:
 *   sample 0:  t (64 bits), value bits (64 bits);
 *   sample i:  zz = zigzag(delta-of-delta of t), the first delta taken
 *              against 0:  '0' (zz = 0) | '10' zz:7 | '110' zz:14 |
 *              '1110' zz:24 | '1111' zz:64;
 *              x = value bits XOR the previous sample's:  '0' (x = 0) |
 *              '10' x's bits in the previous window | '11' lead:6
 *              (len-1):6 x's len significant bits (a new window).
 * Timestamp arithmetic is modulo 2^64, so every int64 order and range
 * round-trips; every float64 bit pattern round-trips.
 *
 * The bytes after the last written bit are always zero and at least 8
 * bytes stay allocated past it, so writer and reader move 8 bytes at a
 * time. Callers hold the series' stripe lock (tsdb_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_endian.h"
#include "tsdb/tsdb_int.h"

/* Bytes kept allocated past the last written bit (8-byte windows). */
#define SLACK 8
/* One window write or read: sh (< 8) + n bits must fit in 64. */
#define WINDOW_BITS 56

/* Reallocate to room for `bytes` (>= the bytes in use + SLACK), rounded to
 * a size malloc serves without slack (its chunks are 16-byte multiples
 * with an 8-byte header); new bytes are zero. */
static void resize(tsdb__ochunk *o, size_t bytes)
{
  size_t cap = ((bytes + 8 + 15) & ~(size_t)15) - 8;
  o->data = lk_xrealloc(o->data, cap);
  if (cap > o->cap)
    memset(o->data + o->cap, 0, cap - o->cap);
  o->cap = (uint32_t)cap;
}

static size_t bytes_for(unsigned nbits)
{
  return ((size_t)nbits + 7) / 8 + SLACK;
}

/* Room for nbits more. Doubling: the series of a scrape grow in step, and
 * the blocks each one leaves behind are not reused by the others, so fewer
 * steps strand less memory (a quarter more each time doubled the cost). */
static void reserve(tsdb__ochunk *o, unsigned nbits)
{
  size_t need = bytes_for(o->nbits + nbits);
  if (need > o->cap)
    resize(o, need > 2u * o->cap ? need : 2u * o->cap);
}

/* Append the low n bits of v (1 <= n <= WINDOW_BITS; v < 2^n). Only the
 * first byte of the window holds bits already, and o->tail has a copy: the
 * stream is written, never read (reading it was a cache miss per sample,
 * 3/4 of the append's time under remote_write). */
static inline void put(tsdb__ochunk *o, uint64_t v, unsigned n)
{
  unsigned sh = o->nbits & 7;
  uint64_t w = (uint64_t)o->tail << 56 | v << (64 - sh - n);
  lk_be64_store(o->data + (o->nbits >> 3), w);
  o->tail = (uint8_t)(w >> (56 - 8 * ((sh + n) >> 3)));
  o->nbits += n;
}

/* Append the low n bits of v, 1 <= n <= 64. */
static void put_wide(tsdb__ochunk *o, uint64_t v, unsigned n)
{
  if (n > WINDOW_BITS) {
    put(o, v >> 32, n - 32);
    v &= 0xffffffffu;
    n = 32;
  }
  put(o, v, n);
}

static void put_dod(tsdb__ochunk *o, uint64_t dod)
{
  uint64_t zz = dod << 1 ^ (uint64_t)-(int64_t)(dod >> 63);
  if (zz == 0)
    put(o, 0, 1);
  else if (zz < (1u << 7))
    put(o, 2u << 7 | zz, 9);
  else if (zz < (1u << 14))
    put(o, 6u << 14 | zz, 17);
  else if (zz < (1u << 24))
    put(o, 14ull << 24 | zz, 28);
  else {
    put(o, 15, 4);
    put_wide(o, zz, 64);
  }
}

static void put_xor(tsdb__ochunk *o, uint64_t x)
{
  if (x == 0) {
    put(o, 0, 1);
    return;
  }
  unsigned lz = (unsigned)__builtin_clzll(x), tz = (unsigned)__builtin_ctzll(x);
  if (o->mlen && lz >= o->lead && tz >= 64u - o->lead - o->mlen) {
    put(o, 2, 2);
    put_wide(o, x >> (64 - o->lead - o->mlen), o->mlen);
    return;
  }
  unsigned m = 64 - lz - tz;
  put(o, 3u << 12 | lz << 6 | (m - 1), 14);
  put_wide(o, x >> tz, m);
  o->lead = (uint8_t)lz;
  o->mlen = (uint8_t)m;
}

void tsdb__ochunk_append(tsdb__ochunk *o, int64_t t, double v)
{
  uint64_t bits;
  memcpy(&bits, &v, 8);
  /* the widest sample: '1111' + 64 + '11' + 12 + 64 bits */
  reserve(o, 4 + 64 + 14 + 64);
  if (!o->n) {
    put_wide(o, (uint64_t)t, 64);
    put_wide(o, bits, 64);
    o->t0 = t;
    o->dn = 0;
  } else {
    uint64_t d = (uint64_t)t - (uint64_t)o->tn;
    put_dod(o, d - o->dn);
    put_xor(o, bits ^ o->vn);
    o->dn = d;
  }
  o->tn = t;
  o->vn = bits;
  o->n++;
}

/*---- Reading ----*/

typedef struct reader {
  const uint8_t *p;
  uint64_t pos;
} reader;

/* The next bits, MSB first: at least WINDOW_BITS + 1 of them valid. */
static inline uint64_t peek(const reader *r)
{
  return lk_be64_load(r->p + (r->pos >> 3)) << (r->pos & 7);
}

/* The next n bits, 1 <= n <= WINDOW_BITS. */
static inline uint64_t get(reader *r, unsigned n)
{
  uint64_t w = peek(r);
  r->pos += n;
  return w >> (64 - n);
}

static uint64_t get_wide(reader *r, unsigned n)
{
  if (n <= WINDOW_BITS)
    return get(r, n);
  uint64_t hi = get(r, n - 32);
  return hi << 32 | get(r, 32);
}

static uint64_t get_dod(reader *r)
{
  static const unsigned width[4] = {7, 14, 24, 64};
  uint64_t w = peek(r);
  unsigned k = w >> 60 == 15 ? 4 : (unsigned)__builtin_clzll(~w); /* leading 1s of the prefix */
  if (k == 0) {
    r->pos++;
    return 0;
  }
  uint64_t zz;
  if (k < 4) { /* prefix and payload are in w */
    r->pos += k + 1 + width[k - 1];
    zz = w << (k + 1) >> (64 - width[k - 1]);
  } else {
    r->pos += 4;
    zz = get_wide(r, 64);
  }
  return zz >> 1 ^ (uint64_t)-(int64_t)(zz & 1);
}

size_t tsdb__ochunk_decode(const tsdb__ochunk *o, int64_t *t, double *v)
{
  if (!o->n)
    return 0;
  reader r = {o->data, 0};
  uint64_t ts = get_wide(&r, 64), bits = get_wide(&r, 64), d = 0;
  unsigned lead = 0, mlen = 0;
  for (size_t i = 0;; i++) {
    t[i] = (int64_t)ts;
    memcpy(&v[i], &bits, 8);
    if (i + 1 == o->n)
      break;
    d += get_dod(&r);
    ts += d;
    uint64_t w = peek(&r);
    if (!(w >> 63)) {
      r.pos++;
      continue;
    }
    if (w >> 62 == 3) { /* '11' lead:6 (len-1):6 */
      lead = (unsigned)(w >> 56) & 63;
      mlen = ((unsigned)(w >> 50) & 63) + 1;
      r.pos += 14;
    } else {
      r.pos += 2;
    }
    bits ^= get_wide(&r, mlen) << (64 - lead - mlen);
  }
  return o->n;
}

void tsdb__ochunk_reset(tsdb__ochunk *o)
{
  /* the next chunk of a series is about the size of this one: keep room
   * for it plus an eighth, not what doubling left over */
  size_t fit = bytes_for(o->nbits + o->nbits / 8);
  if (o->n > 1 && o->cap > fit + fit / 4)
    resize(o, fit);
  if (o->data)
    memset(o->data, 0, ((size_t)o->nbits + 7) / 8);
  o->nbits = 0;
  o->n = 0;
  o->mlen = 0;
  o->tail = 0;
}

void tsdb__ochunk_fini(tsdb__ochunk *o)
{
  free(o->data);
  memset(o, 0, sizeof *o);
}
