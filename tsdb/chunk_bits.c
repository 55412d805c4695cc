/* chunk_bits.c — integer streams of the chunk codec: Rice codes with escape.
 *
 * A stream holds m unsigned integers (zigzagged deltas or delta-of-deltas).
 * The encoder sees all of them, computes the exact size of each candidate
 * mode and writes the smallest, so there is no adaptive state to get wrong in
 * the decoder. Rice with a per-stream parameter k is within a few percent of
 * the entropy for the near-Laplacian residuals of metrics, needs no tables,
 * and decodes with one count-leading-zeros per value. An escape keeps rare
 * outliers (counter resets, slow scrapes) at ~30 bits + their length instead
 * of a long unary run. Layout: tsdb/chunk_format.md "Integer stream".
 *
 * Invariants: mode byte = kind | k << 2; kind ZERO writes no bits; the stream
 * always ends byte-aligned.
 */
#include "tsdb/chunk_int.h"

enum { IS_ZERO = 0, IS_RICE = 1, IS_ZRICE = 2, IS_RUNS = 3 };

#define QMAX 16u /* unary quotients ≥ QMAX take the escape */

/* The Rice loop is one chain of dependent shifts and leading-zero counts
 * per code: a second build for CPUs with LZCNT and BMI2 (x86-64-v3: a
 * one-cycle shift by a register, a count that is defined at zero) is
 * picked at load time. As PQ_AVX2_CLONE (promql/kernels.h): gcc only, not
 * under ThreadSanitizer. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define TSDB__BMI_CLONE __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TSDB__BMI_CLONE
#endif
#define K_TRIES 3

static inline unsigned bitlen(uint64_t u) { return u ? 64u - (unsigned)__builtin_clzll(u) : 0u; }

static inline uint64_t rice_bits(uint64_t u, unsigned k)
{
  uint64_t q = u >> k;
  return q < QMAX ? q + 1 + k : QMAX + 1 + 6 + bitlen(u) - 1;
}

static inline void rice_put(tsdb__bw *w, uint64_t u, unsigned k)
{
  uint64_t q = u >> k;
  if (q < QMAX) {
    uint64_t low = k ? u & (~0ULL >> (64 - k)) : 0;
    if (k <= 40) /* q zeros, a one, k low bits: one put */
      tsdb__bw_put(w, (1ULL << k) | low, (unsigned)q + 1 + k);
    else {
      tsdb__bw_put(w, 1, (unsigned)q + 1);
      tsdb__bw_put(w, low, k);
    }
    return;
  }
  unsigned l1 = bitlen(u) - 1;
  tsdb__bw_put(w, 1, QMAX + 1);
  tsdb__bw_put(w, l1, 6);
  tsdb__bw_put(w, l1 ? u & (~0ULL >> (64 - l1)) : 0, l1);
}

static inline __attribute__((always_inline)) uint64_t rice_get(tsdb__br *r, unsigned k)
{
  tsdb__br_refill(r);
  unsigned z = r->acc ? (unsigned)__builtin_clzll(r->acc) : 64u;
  unsigned nb = z + 1 + k;
  if (z < QMAX && nb <= r->cnt) { /* fast path: the whole code is in acc */
    uint64_t code = r->acc >> (64 - nb); /* the one bit, then the k low bits */
    r->acc <<= nb & 63;
    r->acc = nb == 64 ? 0 : r->acc;
    r->cnt -= nb;
    return ((uint64_t)z << k) + code - ((uint64_t)1 << k);
  }
  if (z < QMAX) {
    (void)tsdb__br_take(r, z + 1);
    return ((uint64_t)z << k) | tsdb__br_get(r, k);
  }
  if (tsdb__br_take(r, QMAX + 1) != 1) {
    tsdb__br_fail(r);
    return 0;
  }
  unsigned l1 = (unsigned)tsdb__br_take(r, 6);
  return ((uint64_t)1 << l1) | tsdb__br_get(r, l1);
}

/* Candidate Rice parameters around the median bit length of the values
 * (the median ignores outliers that would drag a mean up), from a histogram
 * of bit lengths; from = 1 leaves the zeros out. */
static unsigned k_candidates(const uint32_t hist[65], unsigned from, unsigned ks[K_TRIES])
{
  size_t live = 0, seen = 0;
  for (unsigned l = from; l < 65; l++)
    live += hist[l];
  unsigned med = from;
  while (med < 64 && (seen += hist[med]) * 2 < live)
    med++;
  int lo = (int)med - 2 < 0 ? 0 : (int)med - 2;
  unsigned n = 0;
  for (int k = lo; k < lo + K_TRIES && k < 64; k++)
    ks[n++] = (unsigned)k;
  return n;
}

/* Best k among the candidates for plain Rice (sub = 0) or for the non-zero
 * values minus one (sub = 1); returns the payload bits, sets *k. */
static uint64_t best_rice(const uint64_t *u, size_t m, uint64_t sub, const uint32_t hist[65], unsigned *k)
{
  unsigned ks[K_TRIES];
  unsigned nk = k_candidates(hist, (unsigned)sub, ks);
  uint64_t cost[K_TRIES] = {0};
  for (size_t i = 0; i < m; i++) {
    if (u[i] < sub)
      continue;
    for (unsigned j = 0; j < nk; j++)
      cost[j] += rice_bits(u[i] - sub, ks[j]);
  }
  unsigned best = 0;
  for (unsigned j = 1; j < nk; j++)
    if (cost[j] < cost[best])
      best = j;
  *k = ks[best];
  return cost[best];
}

/* Best k for the zero-run lengths (one before each non-zero value, plus the
 * trailing run when the stream ends in zeros). */
static uint64_t best_runs(const uint64_t *u, size_t m, size_t zeros, unsigned *k)
{
  size_t runs = m - zeros + 1;
  unsigned c = bitlen(zeros / runs), lo = c > 2 ? c - 2 : 0;
  uint64_t cost[K_TRIES] = {0};
  size_t run = 0;
  for (size_t i = 0; i < m; i++) {
    if (!u[i]) {
      run++;
      continue;
    }
    for (unsigned j = 0; j < K_TRIES; j++)
      cost[j] += rice_bits(run, lo + j);
    run = 0;
  }
  if (run)
    for (unsigned j = 0; j < K_TRIES; j++)
      cost[j] += rice_bits(run, lo + j);
  unsigned best = 0;
  for (unsigned j = 1; j < K_TRIES; j++)
    if (cost[j] < cost[best])
      best = j;
  *k = lo + best;
  return cost[best];
}

uint64_t tsdb__is_magnitude(const uint64_t *u, size_t m)
{
  uint64_t sum = 0;
  for (size_t i = 0; i < m; i++)
    sum += bitlen(u[i]);
  return sum;
}

tsdb__is_plan tsdb__is_plan_for(const uint64_t *u, size_t m)
{
  uint32_t hist[65] = {0}; /* m ≤ 2^32: chunks hold ≤ 65535 samples */
  for (size_t i = 0; i < m; i++)
    hist[bitlen(u[i])]++;
  size_t zeros = hist[0];
  tsdb__is_plan p = {IS_ZERO, 0, 0, 8};
  if (zeros == m)
    return p;
  p.kind = IS_RICE;
  p.bits = 8 + best_rice(u, m, 0, hist, &p.k);
  if (zeros * 8 >= m) {
    unsigned k, kr;
    uint64_t vbits = best_rice(u, m, 1, hist, &k);
    if (8 + m + vbits < p.bits)
      p = (tsdb__is_plan){IS_ZRICE, k, 0, 8 + m + vbits};
    uint64_t rbits = 16 + vbits + best_runs(u, m, zeros, &kr);
    if (rbits < p.bits)
      p = (tsdb__is_plan){IS_RUNS, k, kr, rbits};
  }
  p.bits = (p.bits + 7) / 8 * 8;
  return p;
}

static void write_runs(tsdb__bw *w, const uint64_t *u, size_t m, const tsdb__is_plan *p)
{
  size_t i = 0;
  while (i < m) {
    size_t run = 0;
    while (i < m && !u[i])
      run++, i++;
    rice_put(w, run, p->k2);
    if (i == m)
      break;
    rice_put(w, u[i++] - 1, p->k);
  }
}

void tsdb__is_write(tsdb__bw *w, const uint64_t *u, size_t m, const tsdb__is_plan *p)
{
  tsdb__bw_put(w, p->kind | p->k << 2, 8);
  if (p->kind == IS_RICE) {
    for (size_t i = 0; i < m; i++)
      rice_put(w, u[i], p->k);
  } else if (p->kind == IS_ZRICE) {
    for (size_t i = 0; i < m; i++) {
      tsdb__bw_put(w, u[i] != 0, 1);
      if (u[i])
        rice_put(w, u[i] - 1, p->k);
    }
  } else if (p->kind == IS_RUNS) {
    tsdb__bw_put(w, p->k2, 8);
    write_runs(w, u, m, p);
  }
  tsdb__bw_align(w);
}

/* m plain Rice codes: while 8 input bytes remain, one refill serves every
 * code that fits in the ≥ 56 bits it loads (short timestamp residuals: five
 * or more), with the reader state in locals; escapes and the input's tail
 * go through rice_get. */
TSDB__BMI_CLONE static void read_rice(tsdb__br *r, uint64_t *u, size_t m, unsigned k)
{
  size_t i = 0;
  const uint64_t one_k = (uint64_t)1 << k;
  while (i < m && !r->err) {
    uint64_t acc = r->acc;
    unsigned cnt = r->cnt;
    const uint8_t *p = r->p;
    while (i < m && r->end - p >= 8) {
      acc |= lk_be64_load(p) >> cnt;
      p += (63 - cnt) >> 3;
      cnt |= 56;
      unsigned z = acc ? (unsigned)__builtin_clzll(acc) : 64u, nb = z + 1 + k;
      if (z >= QMAX || nb > 56)
        break;
      do { /* nb <= cnt < 64 */
        u[i++] = ((uint64_t)z << k) + (acc >> (64 - nb)) - one_k;
        acc <<= nb;
        cnt -= nb;
        z = acc ? (unsigned)__builtin_clzll(acc) : 64u;
        nb = z + 1 + k;
      } while (i < m && z < QMAX && nb <= cnt);
    }
    r->acc = acc;
    r->cnt = cnt;
    r->p = p;
    if (i < m)
      u[i++] = rice_get(r, k);
  }
}

static void read_runs(tsdb__br *r, uint64_t *u, size_t m, unsigned kv, unsigned kr)
{
  size_t i = 0;
  while (i < m && !r->err) {
    uint64_t run = rice_get(r, kr);
    if (run > m - i) {
      tsdb__br_fail(r);
      return;
    }
    memset(u + i, 0, run * sizeof *u);
    i += run;
    if (i == m)
      break;
    u[i++] = rice_get(r, kv) + 1;
  }
}

void tsdb__is_decode(tsdb__br *r, uint64_t *u, size_t m)
{
  unsigned mode = (unsigned)tsdb__br_get(r, 8);
  unsigned kind = mode & 3, k = mode >> 2;
  if (kind == IS_ZERO) {
    if (k)
      tsdb__br_fail(r);
    memset(u, 0, m * sizeof *u);
  } else if (kind == IS_RICE) {
    read_rice(r, u, m, k);
  } else if (kind == IS_ZRICE) {
    for (size_t i = 0; i < m && !r->err; i++)
      u[i] = tsdb__br_get(r, 1) ? rice_get(r, k) + 1 : 0;
  } else { /* IS_RUNS */
    unsigned kr = (unsigned)tsdb__br_get(r, 8);
    if (kr > 63)
      tsdb__br_fail(r);
    else
      read_runs(r, u, m, k, kr);
  }
  tsdb__br_align(r);
}
