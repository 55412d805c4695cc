/* gorilla.c — the baseline the chunk codec is measured against: Prometheus's
 * XOR chunk (facts from /work/shared/specs/prometheus-facts.md §5): 2-byte
 * sample count, first timestamp as varint + 64 raw value bits, second
 * timestamp as uvarint delta + XOR value, then delta-of-delta timestamps with
 * prefix codes 0 / 10+14 / 110+17 / 1110+20 / 1111+64 bits and XOR values.
 * Written for the bench only (not a storage format of Lookout). */
#include "bench/codec/gorilla.h"

#include <string.h>

#include "tsdb/chunk_int.h"

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzz(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Varints written bit-wise (the stream is not byte-aligned after the first value). */
static void put_uvarint_bits(tsdb__bw *w, uint64_t v)
{
  while (v >= 0x80) {
    tsdb__bw_put(w, (v & 0x7f) | 0x80, 8);
    v >>= 7;
  }
  tsdb__bw_put(w, v, 8);
}

static uint64_t get_uvarint_bits(tsdb__br *r)
{
  uint64_t v = 0;
  for (unsigned s = 0; s < 64 && !r->err; s += 7) {
    uint64_t b = tsdb__br_get(r, 8);
    v |= (b & 0x7f) << s;
    if (!(b & 0x80))
      return v;
  }
  return 0;
}

static int in_bits(int64_t d, unsigned nb)
{
  int64_t lim = (int64_t)1 << (nb - 1);
  return d >= -lim + 1 && d <= lim;
}

static void put_dod(tsdb__bw *w, int64_t dod)
{
  static const struct { unsigned prefix, plen, nb; } b[] = {{2, 2, 14}, {6, 3, 17}, {14, 4, 20}};
  if (dod == 0) {
    tsdb__bw_put(w, 0, 1);
    return;
  }
  for (unsigned i = 0; i < 3; i++) {
    if (in_bits(dod, b[i].nb)) {
      tsdb__bw_put(w, b[i].prefix, b[i].plen);
      tsdb__bw_put(w, (uint64_t)dod & ((1ULL << b[i].nb) - 1), b[i].nb);
      return;
    }
  }
  tsdb__bw_put(w, 15, 4);
  tsdb__bw_put(w, (uint64_t)dod, 64);
}

static int64_t get_dod(tsdb__br *r)
{
  unsigned ones = 0;
  while (ones < 4 && tsdb__br_get(r, 1))
    ones++;
  static const unsigned nb[] = {0, 14, 17, 20, 64};
  if (!ones)
    return 0;
  uint64_t u = tsdb__br_get(r, nb[ones]);
  if (nb[ones] < 64 && (u >> (nb[ones] - 1)) & 1)
    u |= ~0ULL << nb[ones]; /* sign-extend */
  return (int64_t)u;
}

static void put_xor(tsdb__bw *w, uint64_t x, unsigned *lead, unsigned *trail)
{
  if (!x) {
    tsdb__bw_put(w, 0, 1);
    return;
  }
  unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
  if (l > 31)
    l = 31;
  if (*lead != 0xff && l >= *lead && t >= *trail) {
    tsdb__bw_put(w, 2, 2);
    tsdb__bw_put(w, x >> *trail, 64 - *lead - *trail);
    return;
  }
  *lead = l;
  *trail = t;
  tsdb__bw_put(w, 3, 2);
  tsdb__bw_put(w, l, 5);
  tsdb__bw_put(w, (64 - l - t) & 63, 6);
  tsdb__bw_put(w, x >> t, 64 - l - t);
}

static uint64_t get_xor(tsdb__br *r, uint64_t prev, unsigned *lead, unsigned *trail)
{
  if (!tsdb__br_get(r, 1))
    return prev;
  if (tsdb__br_get(r, 1)) {
    *lead = (unsigned)tsdb__br_get(r, 5);
    unsigned sig = (unsigned)tsdb__br_get(r, 6);
    *trail = 64 - *lead - (sig ? sig : 64);
  }
  return prev ^ (tsdb__br_get(r, 64 - *lead - *trail) << *trail);
}

size_t gorilla_encode(const int64_t *t, const double *v, size_t n, uint8_t *out)
{
  tsdb__bw w = {out, 0, 0};
  tsdb__bw_put(&w, n, 16);
  uint64_t prev, cur;
  memcpy(&prev, &v[0], 8);
  put_uvarint_bits(&w, zz(t[0]));
  tsdb__bw_put(&w, prev, 64);
  unsigned lead = 0xff, trail = 0;
  int64_t delta = 0;
  for (size_t i = 1; i < n; i++) {
    int64_t d = t[i] - t[i - 1];
    if (i == 1)
      put_uvarint_bits(&w, (uint64_t)d);
    else
      put_dod(&w, d - delta);
    delta = d;
    memcpy(&cur, &v[i], 8);
    put_xor(&w, cur ^ prev, &lead, &trail);
    prev = cur;
  }
  tsdb__bw_align(&w);
  return (size_t)(w.p - out);
}

size_t gorilla_decode(const uint8_t *p, size_t len, int64_t *t, double *v)
{
  tsdb__br r;
  tsdb__br_init(&r, p, len);
  size_t n = (size_t)tsdb__br_get(&r, 16);
  t[0] = unzz(get_uvarint_bits(&r));
  uint64_t prev = tsdb__br_get(&r, 64);
  memcpy(&v[0], &prev, 8);
  unsigned lead = 0xff, trail = 0;
  int64_t delta = 0;
  for (size_t i = 1; i < n && !r.err; i++) {
    if (i == 1)
      delta = (int64_t)get_uvarint_bits(&r);
    else
      delta += get_dod(&r);
    t[i] = t[i - 1] + delta;
    prev = get_xor(&r, prev, &lead, &trail);
    memcpy(&v[i], &prev, 8);
  }
  return r.err ? 0 : n;
}
