/* chunk.c — the sample chunk codec: one series, one sealed chunk.
 *
 * Layout (tsdb/chunk_format.md): header byte (version and the two schemes),
 * uvarint count, the timestamp section (chunk_ts.c: grid or delta-of-delta,
 * Rice-coded), then the value section in one of two schemes:
 *   DECIMAL — every value is an integer x scaled by 10^-k, proven per value by
 *             (double)x / 10^k reproducing the exact bits (division, as
 *             decimal parsing rounds); the integers' deltas (or
 *             delta-of-deltas), divided by their common factor, go into a Rice
 *             stream. Values that do not fit (NaN, ±Inf, -0.0, long binary
 *             mantissas) are stored raw as exceptions.
 *   XOR     — Gorilla XOR (chunk_xor.c), for chunks of binary floats.
 * Why: exporters print floats as short decimals, so most metrics are integers
 * in disguise (bytes, page counts, ticks, ns); integer residuals are an order
 * of magnitude smaller than XOR of their binary expansions.
 *
 * Invariants: lossless for every int64 timestamp (arithmetic mod 2^64, so any
 * order or range round-trips) and every float64 bit pattern; sections are
 * byte-aligned, so identical timestamp columns of different series give
 * identical bytes (which tsdb__pack's zstd then removes); the decoder reads
 * only inside [p, p+len) and rejects any malformed field with LK_ECORRUPT.
 */
#include "tsdb/chunk.h"

#include <stdbool.h>
#include <stdlib.h>

#include "lib/lk_alloc.h"
#include "lib/lk_err.h"
#include "tsdb/chunk_int.h"

#define CHUNK_VERSION 1
#define KMAX TSDB__DEC_KMAX /* 10^22 is the largest power of ten that is an exact double */
#define SCRATCH_STACK 256
#define DECODE_STACK 2048 /* compacted blocks hold chunks of ~1,440 samples */

enum { V_XOR = 0, V_DECIMAL = 1 };

static const double p10[KMAX + 1] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*---- Decimal detection ----*/

/* Is v exactly x / 10^k for an integer |x| < 2^53? */
static inline bool dec_at(double v, unsigned k, int64_t *x)
{
  double s = v * p10[k];
  if (!(s > -9007199254740992.0 && s < 9007199254740992.0))
    return false;
  int64_t i = (s >= 4503599627370496.0 || s <= -4503599627370496.0)
                  ? (int64_t)s : (int64_t)(s + (s < 0 ? -0.5 : 0.5));
  double back = k ? (double)i / p10[k] : (double)i;
  if (tsdb__dbits(back) != tsdb__dbits(v))
    return false;
  *x = i;
  return true;
}

bool tsdb__dec_at(double v, unsigned k, int64_t *x) { return k <= KMAX && dec_at(v, k, x); }
double tsdb__dec_value(int64_t x, unsigned k) { return k ? (double)x / p10[k] : (double)x; }

typedef struct dec_plan {
  unsigned k, order; /* order 1: deltas, 2: delta-of-deltas */
  size_t nexc;
  uint64_t g;        /* common factor of the deltas, ≥ 1 */
  int64_t *x;        /* n integers (exceptions filled with a neighbour) */
  uint8_t *exc;      /* n flags (a character type: may live in uint64_t scratch) */
  uint64_t *u;       /* residuals of the chosen order */
  size_t nu;
  tsdb__is_plan plan; /* how u is written */
} dec_plan;

/* Smallest common k, marking values that fit no k as exceptions. Returns
 * false when more than a quarter of the values (or the first four) are
 * exceptions. */
static bool dec_scale(const double *v, size_t n, dec_plan *p)
{
  unsigned kmax = 0;
  size_t nexc = 0, limit = n / 4;
  for (size_t i = 0; i < n; i++) {
    int64_t x;
    unsigned k = kmax;
    while (k <= KMAX && !dec_at(v[i], k, &x))
      k++;
    p->exc[i] = k > KMAX;
    if (p->exc[i] && (++nexc > limit || (i == 3 && nexc == 4)))
      return false; /* mostly binary floats (or a NaN-led chunk): XOR */
    if (!p->exc[i])
      kmax = k;
  }
  /* Values proven at a smaller k stay exact at kmax unless they overflow. */
  for (size_t i = 0; i < n; i++) {
    if (!p->exc[i] && !dec_at(v[i], kmax, &p->x[i])) {
      p->exc[i] = 1;
      if (++nexc > limit)
        return false;
    }
  }
  if (nexc == n)
    return false;
  p->k = kmax;
  p->nexc = nexc;
  return true;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Fill exception slots with a neighbour (delta 0), find the common factor of
 * the deltas and pick delta or delta-of-delta residuals by magnitude. */
static void dec_residuals(dec_plan *p, size_t n, uint64_t *tmp)
{
  int64_t *x = p->x;
  size_t first = 0;
  while (p->exc[first])
    first++;
  for (size_t i = 0; i < n; i++)
    if (p->exc[i])
      x[i] = i < first ? x[first] : x[i - 1];
  uint64_t g = 0;
  for (size_t i = 1; i < n && g != 1; i++) {
    int64_t d = x[i] - x[i - 1];
    uint64_t a = (uint64_t)(d < 0 ? -d : d);
    if (!g || a % g)
      g = gcd(g, a);
  }
  p->g = g ? g : 1;
  for (size_t i = 1; i < n; i++)
    p->u[i - 1] = tsdb__zz((uint64_t)(g > 1 ? (x[i] - x[i - 1]) / (int64_t)g : x[i] - x[i - 1]));
  p->order = 1;
  p->nu = n - 1;
  if (n >= 3) {
    for (size_t i = 1; i < n - 1; i++)
      tmp[i - 1] = tsdb__zz(tsdb__unzz(p->u[i]) - tsdb__unzz(p->u[i - 1]));
    if (tsdb__is_magnitude(tmp, n - 2) + 8 * tsdb__uvarint_len(p->u[0]) <
        tsdb__is_magnitude(p->u, n - 1)) {
      p->order = 2;
      p->nu = n - 2;
      memmove(p->u + 1, tmp, (n - 2) * sizeof *tmp);
    }
  }
  p->plan = tsdb__is_plan_for(p->order == 2 ? p->u + 1 : p->u, p->nu);
}

static void dec_write(tsdb__bw *w, const double *v, size_t n, const dec_plan *p)
{
  tsdb__bw_put(w, p->k | (p->order - 1) << 5 | (p->nexc > 0) << 6, 8);
  if (p->nexc)
    tsdb__bw_uvarint(w, p->nexc);
  size_t next = 0;
  for (size_t i = 0; i < n; i++) {
    if (p->exc[i]) {
      tsdb__bw_uvarint(w, i - next);
      tsdb__bw_put(w, tsdb__dbits(v[i]), 64);
      next = i + 1;
    }
  }
  tsdb__bw_uvarint(w, tsdb__zz((uint64_t)p->x[0]));
  if (n < 2)
    return;
  tsdb__bw_uvarint(w, p->g);
  if (p->order == 2)
    tsdb__bw_uvarint(w, p->u[0]);
  tsdb__is_write(w, p->order == 2 ? p->u + 1 : p->u, p->nu, &p->plan);
}

static inline double to_double(uint64_t x, unsigned k, double scale)
{
  return k ? (double)(int64_t)x / scale : (double)(int64_t)x;
}

static void dec_read(tsdb__br *r, double *v, size_t n, uint64_t *u)
{
  unsigned kb = (unsigned)tsdb__br_get(r, 8), k = kb & 31, order = (kb >> 5 & 1) + 1;
  uint64_t nexc = kb & 0x40 ? tsdb__br_uvarint(r) : 0;
  if (k > KMAX || (kb & 0x80) || ((kb & 0x40) && !nexc) || nexc >= n) {
    tsdb__br_fail(r);
    return;
  }
  /* Validate the exceptions now, apply them after the integers (from a
   * copy of the reader positioned at the first one). */
  tsdb__br mark = *r;
  for (uint64_t e = 0, next = 0; e < nexc && !r->err; e++) {
    uint64_t gap = tsdb__br_uvarint(r);
    (void)tsdb__br_get(r, 64);
    if (gap >= n - next)
      tsdb__br_fail(r);
    next += gap + 1;
  }
  uint64_t x = tsdb__unzz(tsdb__br_uvarint(r)), g = 1, d = 0;
  size_t start = order;
  if (order == 2 && n < 3)
    tsdb__br_fail(r);
  if (n >= 2)
    g = tsdb__br_uvarint(r);
  if (order == 2)
    d = tsdb__unzz(tsdb__br_uvarint(r));
  if (!g)
    tsdb__br_fail(r);
  if (r->err)
    return;
  if (n > start)
    tsdb__is_decode(r, u, n - start);
  if (r->err)
    return;
  double scale = p10[k];
  v[0] = to_double(x, k, scale);
  if (order == 2) {
    x += d * g;
    v[1] = to_double(x, k, scale);
    for (size_t i = 2; i < n; i++) {
      d += tsdb__unzz(u[i - 2]);
      x += d * g;
      v[i] = to_double(x, k, scale);
    }
  } else {
    for (size_t i = 1; i < n; i++) {
      x += tsdb__unzz(u[i - 1]) * g;
      v[i] = to_double(x, k, scale);
    }
  }
  for (uint64_t e = 0, next = 0; e < nexc; e++) {
    next += tsdb__br_uvarint(&mark);
    v[next++] = tsdb__bitsd(tsdb__br_get(&mark, 64));
  }
}

/*---- Chunk ----*/

/* Header byte: version << 4 | value scheme << 1 | timestamp scheme. */
#define HDR(vs, ts) (CHUNK_VERSION << 4 | (vs) << 1 | (ts))

/* Worst-case encoded size: header + timestamps + both value schemes (the
 * encoder may write both and keep the smaller). */
static size_t chunk_max_bytes(size_t n)
{
  size_t dec = 64 + n * 18 + TSDB__IS_MAX_BYTES(n);
  return 1 + LK_UVARINT_MAX + TSDB__TS_MAX_BYTES(n) + TSDB__XOR_MAX_BYTES(n) + dec;
}

/* Append the value section; returns its scheme. */
static unsigned values_encode(tsdb__bw *w, const double *v, size_t n, uint64_t *scratch)
{
  dec_plan p = {0};
  p.x = (int64_t *)scratch;
  p.u = scratch + n;
  p.exc = (uint8_t *)(scratch + 3 * n);
  if (!dec_scale(v, n, &p)) {
    tsdb__xor_encode(w, v, n);
    return V_XOR;
  }
  dec_residuals(&p, n, scratch + 2 * n);
  uint8_t *start = w->p;
  dec_write(w, v, n, &p);
  if (!p.nexc && p.k <= 9)
    return V_DECIMAL;
  /* Exceptions or long decimals: keep XOR if it is smaller. */
  tsdb__bw x = {w->p, 0, 0};
  tsdb__xor_encode(&x, v, n);
  size_t dec_len = (size_t)(w->p - start), xor_len = (size_t)(x.p - w->p);
  if (xor_len >= dec_len)
    return V_DECIMAL;
  memmove(start, w->p, xor_len);
  w->p = start + xor_len;
  return V_XOR;
}

void tsdb__chunk_encode(const int64_t *t, const double *v, size_t n, lk_buf *out)
{
  if (n < 1 || n > TSDB__CHUNK_MAX_SAMPLES)
    abort(); /* caller contract (chunk.h) */
  uint64_t stack[SCRATCH_STACK * 4];
  uint64_t *scratch = n <= SCRATCH_STACK ? stack : lk_xmalloc(n * 4 * sizeof *scratch);
  lk_buf_reserve(out, chunk_max_bytes(n));
  uint8_t *hdr = out->data + out->len;
  tsdb__bw w = {hdr + 1, 0, 0};
  tsdb__bw_uvarint(&w, n);
  unsigned ts = tsdb__ts_encode(&w, t, n, scratch);
  unsigned vs = values_encode(&w, v, n, scratch);
  *hdr = (uint8_t)HDR(vs, ts);
  out->len = (size_t)(w.p - out->data);
  out->data[out->len] = 0;
  if (scratch != stack)
    free(scratch);
}

/* Header byte and count; the reader is left after them. */
static int64_t header_read(tsdb__br *r, unsigned *hdr)
{
  *hdr = (unsigned)tsdb__br_get(r, 8);
  if (*hdr >> 4 != CHUNK_VERSION || (*hdr & 0xc))
    return LK_ECORRUPT;
  uint64_t n = tsdb__br_uvarint(r);
  if (r->err || n < 1 || n > TSDB__CHUNK_MAX_SAMPLES)
    return LK_ECORRUPT;
  return (int64_t)n;
}

int64_t tsdb__chunk_count(const uint8_t *p, size_t len)
{
  tsdb__br r;
  unsigned hdr;
  tsdb__br_init(&r, p, len);
  return header_read(&r, &hdr);
}

/*---- Timestamp section memo ----*/

/* Direct-mapped by a hash of the section's first bytes: a block holds a few
 * distinct sections per scrape target and chunk window, each shared by every
 * series of that target. What the slots hold stays under MEMO_BUDGET bytes
 * (a section that would exceed it is not kept). */
#define MEMO_SLOTS 1024
#define MEMO_BUDGET ((size_t)4 << 20)

typedef struct memo_slot {
  uint32_t n, len;          /* len 0: empty */
  unsigned scheme;
  uint8_t *bytes;           /* len bytes, then n int64 timestamps (one allocation) */
  size_t cap;
} memo_slot;

struct tsdb__tsmemo {
  size_t bytes;             /* Σ slot cap */
  memo_slot slot[MEMO_SLOTS];
};

void tsdb__tsmemo_free(tsdb__tsmemo *m)
{
  if (!m)
    return;
  for (unsigned i = 0; i < MEMO_SLOTS; i++)
    free(m->slot[i].bytes);
  free(m);
}

static memo_slot *memo_slot_of(tsdb__tsmemo *m, const uint8_t *s, size_t avail, size_t n, unsigned scheme)
{
  uint64_t h = n << 1 | scheme;
  for (size_t i = 0; i < avail && i < 8; i++)
    h = h << 8 ^ s[i] ^ h >> 56;
  return &m->slot[(h * 0x9e3779b97f4a7c15ULL) >> 54]; /* 10 bits: MEMO_SLOTS */
}

/* The slot holds a section that is a prefix of s[0..avail): the decoder,
 * reading the same n values of the same scheme from the same bits, would
 * consume exactly those bytes and produce exactly those timestamps. */
static bool memo_match(const memo_slot *e, const uint8_t *s, size_t avail, size_t n, unsigned scheme)
{
  return e->len && e->n == n && e->scheme == scheme && e->len <= avail && !memcmp(e->bytes, s, e->len);
}

static void memo_store(tsdb__tsmemo *m, memo_slot *e, const uint8_t *s, size_t len, const int64_t *t,
                       size_t n, unsigned scheme)
{
  size_t need = len + n * sizeof *t;
  if (need > e->cap) {
    if (m->bytes - e->cap + need > MEMO_BUDGET)
      return;
    m->bytes += need - e->cap;
    free(e->bytes);
    e->bytes = lk_xmalloc(need);
    e->cap = need;
  }
  e->n = (uint32_t)n;
  e->len = (uint32_t)len;
  e->scheme = scheme;
  memcpy(e->bytes, s, len);
  memcpy(e->bytes + len, t, n * sizeof *t);
}

/* Byte offset of an aligned reader from p (bits refilled but not consumed
 * are counted back). */
static size_t br_offset(const tsdb__br *r, const uint8_t *p) { return (size_t)(r->p - p) - r->cnt / 8; }

/* The timestamp section, from the memo when it holds the same bytes; the
 * reader is left at the value section. */
static void ts_decode_memo(tsdb__br *r, const uint8_t *p, size_t len, unsigned scheme, int64_t *t,
                           size_t n, tsdb__tsmemo *m)
{
  size_t off = br_offset(r, p);
  memo_slot *e = memo_slot_of(m, p + off, len - off, n, scheme);
  if (memo_match(e, p + off, len - off, n, scheme)) {
    memcpy(t, e->bytes + e->len, n * sizeof *t);
    tsdb__br_init(r, p + off + e->len, len - off - e->len);
    return;
  }
  tsdb__ts_decode(r, scheme, t, n);
  if (!r->err)
    memo_store(m, e, p + off, br_offset(r, p) - off, t, n, scheme);
}

int64_t tsdb__chunk_decode_memo(const uint8_t *p, size_t len, int64_t *t, double *v, tsdb__tsmemo **m)
{
  return tsdb__chunk_decode_at(p, len, t, v, m, NULL);
}

int64_t tsdb__chunk_decode_at(const uint8_t *p, size_t len, int64_t *t, double *v, tsdb__tsmemo **m,
                              size_t *vsec)
{
  tsdb__br r;
  unsigned hdr;
  tsdb__br_init(&r, p, len);
  int64_t n = header_read(&r, &hdr);
  if (n < 0)
    return n;
  if (m && n >= 3) {
    if (!*m)
      *m = lk_xcalloc(1, sizeof **m);
    ts_decode_memo(&r, p, len, hdr & 1, t, (size_t)n, *m);
  } else {
    tsdb__ts_decode(&r, hdr & 1, t, (size_t)n);
  }
  if (r.err)
    return LK_ECORRUPT;
  if (vsec)
    *vsec = br_offset(&r, p);
  if ((hdr >> 1 & 1) == V_XOR) {
    tsdb__xor_decode(&r, v, (size_t)n);
  } else {
    uint64_t stack[DECODE_STACK];
    uint64_t *u = n <= DECODE_STACK ? stack : lk_xmalloc((size_t)n * sizeof *u);
    dec_read(&r, v, (size_t)n, u);
    if (u != stack)
      free(u);
  }
  return r.err ? LK_ECORRUPT : n;
}

int64_t tsdb__chunk_decode(const uint8_t *p, size_t len, int64_t *t, double *v)
{
  return tsdb__chunk_decode_memo(p, len, t, v, NULL);
}
