/* rollup.c — per-series summaries of 1 h buckets (and their last 5 m),
 * written by compaction beside a block and read by rollup_select.c, so a
 * query over a long range reads one record per bucket instead of every
 * sample.
 *
 * A bucket (end − res, end] matches PromQL's left-open windows: a window
 * (t − W, t] with t and W multiples of res is exactly a run of buckets. A
 * record keeps what lets the supported functions give, bit for bit, what
 * they give over the raw samples: count, first and last sample (time and
 * value: rate's extrapolation), min and max folded with PromQL's rules,
 * the value before every counter drop in time order (so a window's counter
 * increase is re-added in Prometheus's order; a single pre-summed increase
 * would round differently), and a sum only where every order of summation
 * gives the same result (integers, bounded). Stale markers are left out, as
 * range functions drop them.
 *
 * File (tsdb/FORMAT.md): frames of series' record streams, compressed with
 * tsdb__pack, then a fixed-width table per resolution locating each
 * series (by block series id) in its frame. Values are coded as
 * differences of decimals where they are decimals (version 2; version 1
 * files, values as XORs only, are still read). The writer writes frames as
 * it goes, so a block's rollups never sit whole in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "lib/lk_varint.h"
#include "tsdb/chunk.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

#define EXACT_LIMIT 9007199254740992.0 /* 2^53: integers up to here add exactly */

enum {
  F_MIN_FIRST = 1, F_MIN_LAST = 2, F_MAX_FIRST = 4, F_MAX_LAST = 8, F_INTEGRAL = 16, F_RESETS = 32,
  F_TAIL = 64,      /* some samples in the tail, not all: tail fields follow */
  F_TAIL_ALL = 128, /* every sample in the tail */
  F_XOR = 256,      /* version 2: this record's values as XORs, not decimals */
};

int64_t tsdb__rollup_res(size_t i)
{
  (void)i;
  return TSDB_ROLLUP_1H;
}

/*---- Records ----*/

static uint64_t bits_of(double v)
{
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

static double from_bits(uint64_t b)
{
  double v;
  memcpy(&v, &b, sizeof v);
  return v;
}

static double fold_min(double acc, double v) { return v < acc || acc != acc ? v : acc; }
static double fold_max(double acc, double v) { return v > acc || acc != acc ? v : acc; }
static double mag(double v) { return v < 0 ? -v : v; }

/* -0.0 is not: a sum is coded as an integer (put_sum), which has no sign of zero. */
static bool is_integer(double v)
{
  return v >= -EXACT_LIMIT && v <= EXACT_LIMIT && v == (double)(int64_t)v && !(v == 0 && signbit(v));
}

/* Every partial sum of the bucket's integers stays within 2^53. */
static bool sum_bounded(const tsdb_rollup_rec *r)
{
  double m = mag(r->min) > mag(r->max) ? mag(r->min) : mag(r->max);
  return m * (double)r->count <= EXACT_LIMIT;
}

void tsdb__rvec_fini(tsdb__rvec *v)
{
  free(v->r);
  free(v->resets);
  memset(v, 0, sizeof *v);
}

static void push_reset(tsdb__rvec *v, double before)
{
  v->resets = lk_xgrow(v->resets, &v->capresets, v->nresets + 1, sizeof *v->resets);
  v->resets[v->nresets++] = before;
}

/* One more drop in r (v's last record), its value before the drop. */
static void add_reset(tsdb__rvec *v, tsdb_rollup_rec *r, double before)
{
  if (r->nresets == TSDB_ROLLUP_MANY_RESETS)
    return;
  if (r->nresets == TSDB_ROLLUP_MAX_RESETS) {
    v->nresets = r->reset_off;
    r->nresets = TSDB_ROLLUP_MANY_RESETS;
    return;
  }
  push_reset(v, before);
  r->nresets++;
}

/* b's samples follow a's (same bucket): the tail of both. */
static void fold_tail(tsdb_rollup_rec *a, const tsdb_rollup_rec *b)
{
  if (!b->tail_count)
    return;
  if (!a->tail_count) {
    a->tail_first_t = b->tail_first_t;
    a->tail_first_v = b->tail_first_v;
    a->tail_nresets = b->tail_nresets;
  } else if (a->tail_nresets == TSDB_ROLLUP_MANY_RESETS || b->tail_nresets == TSDB_ROLLUP_MANY_RESETS) {
    a->tail_nresets = TSDB_ROLLUP_MANY_RESETS;
  } else { /* a's last sample is in the tail, so all of b is */
    a->tail_nresets += (b->first_v < a->last_v) + b->tail_nresets;
  }
  a->tail_count += b->tail_count;
}

/* b's samples follow a's (same bucket); a is v's last record. */
static void fold_into(tsdb__rvec *v, tsdb_rollup_rec *a, const tsdb_rollup_rec *b, const double *resets)
{
  fold_tail(a, b);
  if (b->first_v < a->last_v)
    add_reset(v, a, a->last_v);
  if (b->nresets == TSDB_ROLLUP_MANY_RESETS && a->nresets != TSDB_ROLLUP_MANY_RESETS) {
    v->nresets = a->reset_off;
    a->nresets = TSDB_ROLLUP_MANY_RESETS;
  }
  for (uint32_t i = 0; b->nresets != TSDB_ROLLUP_MANY_RESETS && i < b->nresets; i++)
    add_reset(v, a, resets[i]);
  a->count += b->count;
  a->last_t = b->last_t;
  a->last_v = b->last_v;
  a->min = fold_min(a->min, b->min);
  a->max = fold_max(a->max, b->max);
  a->integral = a->integral && b->integral && sum_bounded(a);
  a->sum = a->integral ? a->sum + b->sum : 0;
}

void tsdb__rvec_push(tsdb__rvec *v, const tsdb_rollup_rec *rec, const double *resets)
{
  if (v->n && v->r[v->n - 1].end == rec->end) {
    fold_into(v, &v->r[v->n - 1], rec, resets);
    return;
  }
  v->r = lk_xgrow(v->r, &v->cap, v->n + 1, sizeof *v->r);
  tsdb_rollup_rec *r = &v->r[v->n++];
  *r = *rec;
  r->reset_off = (uint32_t)v->nresets;
  for (uint32_t i = 0; rec->nresets != TSDB_ROLLUP_MANY_RESETS && i < rec->nresets; i++)
    push_reset(v, resets[i]);
}

static bool in_tail(const tsdb_rollup_rec *r, int64_t t) { return t > r->end - TSDB_ROLLUP_TAIL; }

static void open_bucket(tsdb__rvec *out, int64_t end, int64_t t, double v)
{
  bool integral = is_integer(v);
  tsdb_rollup_rec r = {.end = end, .first_t = t, .last_t = t, .first_v = v, .last_v = v, .min = v, .max = v,
                       .sum = integral ? v : 0, .count = 1, .reset_off = (uint32_t)out->nresets,
                       .tail_first_t = t, .tail_first_v = v, .integral = integral};
  r.tail_count = in_tail(&r, t);
  out->r = lk_xgrow(out->r, &out->cap, out->n + 1, sizeof *out->r);
  out->r[out->n++] = r;
}

static void close_bucket(tsdb_rollup_rec *r)
{
  r->integral = r->integral && sum_bounded(r);
  if (!r->integral)
    r->sum = 0;
}

void tsdb__rollup_compute(const int64_t *t, const double *v, size_t n, int64_t res, tsdb__rvec *out)
{
  tsdb_rollup_rec *cur = NULL;
  for (size_t i = 0; i < n; i++) {
    if (bits_of(v[i]) == TSDB_STALE_NAN_BITS)
      continue;
    int64_t end = (tsdb__floor_div(t[i] - 1, res) + 1) * res;
    if (!cur || cur->end != end) {
      if (cur)
        close_bucket(cur);
      open_bucket(out, end, t[i], v[i]);
      cur = &out->r[out->n - 1];
      continue;
    }
    if (v[i] < cur->last_v)
      add_reset(out, cur, cur->last_v);
    if (in_tail(cur, t[i]) && cur->tail_count)
      cur->tail_nresets += v[i] < cur->last_v;
    else if (in_tail(cur, t[i]))
      cur->tail_first_t = t[i], cur->tail_first_v = v[i];
    cur->tail_count += in_tail(cur, t[i]);
    cur->count++;
    cur->last_t = t[i];
    cur->last_v = v[i];
    cur->min = fold_min(cur->min, v[i]);
    cur->max = fold_max(cur->max, v[i]);
    cur->integral = cur->integral && is_integer(v[i]);
    cur->sum = cur->integral ? cur->sum + v[i] : 0;
  }
  if (cur)
    close_bucket(cur);
}

/*---- Record stream of one series ----*/

/* Version 2 codes values as differences of decimals: integers x / 10^scale
 * (tsdb__dec_at proves each bit for bit), one scale per series, so integer
 * and short-decimal series (bytes, counts, CPU seconds printed with 9
 * decimals) cost the varint of a change instead of 8 bytes. A record with a
 * value that is no decimal at that scale (NaN, ±Inf, -0.0, a binary
 * fraction, an integer past 2^53) is flagged F_XOR and codes its values as
 * version 1 does: bits XORed with a related value's. Times are differences
 * from the previous record's, which repeat at a steady scrape. */

#define NO_SCALE 0xffu /* a series without decimals: every record as XORs */

typedef struct rctx {          /* the coding state along one series' stream */
  unsigned ver, scale;         /* version 1: always NO_SCALE */
  int64_t res;
  int64_t end, to_last, span;  /* the previous record's */
  int64_t back;                /* end − first tail sample, of the last record with F_TAIL */
  uint64_t bits;               /* the previous record's last value bits */
  int64_t x;                   /* that value's decimal at scale (0 when it is none) */
  double div;                  /* reading: 10^scale (exact up to 10^22), so x / div is
                                  tsdb__dec_value(x, scale) without a call per value */
} rctx;

/* Raise *k until v is a decimal at it; false (*k kept) when it is none. */
static bool fit_scale(double v, unsigned *k)
{
  int64_t x;
  unsigned j = *k;
  while (j <= TSDB__DEC_KMAX && !tsdb__dec_at(v, j, &x))
    j++;
  if (j > TSDB__DEC_KMAX)
    return false;
  *k = j;
  return true;
}

/* The smallest scale at which every decimal value of the series is one. */
static unsigned series_scale(const tsdb__rvec *rv)
{
  unsigned k = 0;
  bool any = false;
  for (size_t i = 0; i < rv->n; i++) {
    const tsdb_rollup_rec *r = &rv->r[i];
    const double v[] = {r->first_v, r->last_v, r->min, r->max, r->tail_first_v};
    for (size_t j = 0; j < sizeof v / sizeof *v; j++)
      any |= fit_scale(v[j], &k);
  }
  for (size_t i = 0; i < rv->nresets; i++)
    any |= fit_scale(rv->resets[i], &k);
  return any ? k : NO_SCALE;
}

static bool dec(const rctx *c, double v, int64_t *x)
{
  return c->scale != NO_SCALE && tsdb__dec_at(v, c->scale, x);
}

/* The decimal of the record's last value, what the next record codes
 * against (a decimal record has it at hand: dec_at finds the same x). */
static int64_t next_x(const rctx *c, double last)
{
  int64_t x;
  return dec(c, last, &x) ? x : 0;
}

/* Every value record r codes (flags f) is a decimal at the series' scale. */
static bool rec_decimal(const rctx *c, const tsdb__rvec *rv, const tsdb_rollup_rec *r, unsigned f)
{
  int64_t x;
  bool ok = dec(c, r->first_v, &x) && dec(c, r->last_v, &x);
  ok = ok && (f & (F_MIN_FIRST | F_MIN_LAST) || dec(c, r->min, &x));
  ok = ok && (f & (F_MAX_FIRST | F_MAX_LAST) || dec(c, r->max, &x));
  ok = ok && (!(f & F_TAIL) || dec(c, r->tail_first_v, &x));
  for (uint32_t k = 0; ok && f & F_RESETS && r->nresets != TSDB_ROLLUP_MANY_RESETS && k < r->nresets; k++)
    ok = dec(c, rv->resets[r->reset_off + k], &x);
  return ok;
}

/* lk_dec_uvarint, its common case inline (records are read by the
 * hundred thousand): a varint of at most 9 bytes with 10 bytes left;
 * anything else (a 10-byte varint, the input's end) goes to it. */
static inline uint64_t uvarint(lk_dec *d)
{
  const uint8_t *p = d->p;
  if (d->end - p >= LK_UVARINT_MAX) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 63; shift += 7) {
      uint8_t b = *p++;
      v |= (uint64_t)(b & 0x7f) << shift;
      if (b < 0x80) {
        d->p = p;
        return v;
      }
    }
  }
  return lk_dec_uvarint(d);
}

static inline int64_t varint(lk_dec *d) { return lk_unzigzag(uvarint(d)); }

/* v against a reference: the difference of decimals (*x: v's), or bits XOR. */
static void put_value(lk_buf *b, const rctx *c, bool decimal, double v, int64_t xref, uint64_t bref, int64_t *x)
{
  if (decimal && dec(c, v, x))
    lk_buf_put_varint(b, *x - xref);
  else
    lk_buf_put_u64le(b, bits_of(v) ^ bref);
}

/* put_value's inverse: the value's bits. */
static uint64_t get_value(lk_dec *d, const rctx *c, bool decimal, int64_t xref, uint64_t bref, int64_t *x)
{
  if (!decimal)
    return lk_dec_u64le(d) ^ bref;
  *x = (int64_t)((uint64_t)xref + (uint64_t)varint(d));
  return bits_of((double)*x / c->div);
}

static void put_time(lk_buf *b, int64_t v, int64_t *prev)
{
  lk_buf_put_varint(b, v - *prev);
  *prev = v;
}

static uint64_t get_time(lk_dec *d, const rctx *c, int64_t *prev)
{
  if (c->ver == 1)
    return uvarint(d);
  uint64_t v = (uint64_t)*prev + (uint64_t)varint(d);
  *prev = (int64_t)v;
  return v;
}

/* An integral record's sum, exact in int64 (every |value| · count ≤ 2^53):
 * its difference from count · (first + last) / 2, doubled. */
static void put_sum(lk_buf *b, const tsdb_rollup_rec *r)
{
  int64_t ends = (int64_t)r->first_v + (int64_t)r->last_v;
  lk_buf_put_varint(b, 2 * (int64_t)r->sum - (int64_t)r->count * ends);
}

static int get_sum(lk_dec *d, const rctx *c, tsdb_rollup_rec *r)
{
  if (c->ver == 1) {
    r->sum = from_bits(lk_dec_u64le(d) ^ bits_of(r->last_v));
    return 0;
  }
  int64_t diff = varint(d), ends, twice;
  if (!is_integer(r->first_v) || !is_integer(r->last_v) ||
      __builtin_mul_overflow((int64_t)r->count, (int64_t)r->first_v + (int64_t)r->last_v, &ends) ||
      __builtin_add_overflow(ends, diff, &twice) || twice % 2 || !is_integer((double)(twice / 2)))
    return LK_ECORRUPT;
  r->sum = (double)(twice / 2);
  return 0;
}

static unsigned rec_flags(const tsdb_rollup_rec *r)
{
  uint64_t fb = bits_of(r->first_v), lb = bits_of(r->last_v), mn = bits_of(r->min), mx = bits_of(r->max);
  return (mn == fb ? F_MIN_FIRST : mn == lb ? F_MIN_LAST : 0) | (mx == fb ? F_MAX_FIRST : mx == lb ? F_MAX_LAST : 0) |
         (r->integral ? F_INTEGRAL : 0) | (r->nresets ? F_RESETS : 0) |
         (r->tail_count == r->count ? F_TAIL_ALL : r->tail_count ? F_TAIL : 0);
}

static void encode_rec(lk_buf *b, rctx *c, const tsdb__rvec *rv, const tsdb_rollup_rec *r)
{
  unsigned f = rec_flags(r);
  bool decimal = rec_decimal(c, rv, r, f);
  f |= c->scale != NO_SCALE && !decimal ? F_XOR : 0;
  uint64_t fb = bits_of(r->first_v), lb = bits_of(r->last_v);
  lk_buf_put_varint(b, (r->end - c->end) / c->res);
  lk_buf_put_uvarint(b, r->count);
  put_time(b, r->end - r->last_t, &c->to_last);
  put_time(b, r->last_t - r->first_t, &c->span);
  lk_buf_put_uvarint(b, f);
  int64_t xf = c->x, xl, xo;
  if (r->count > 1)
    put_value(b, c, decimal, r->first_v, c->x, c->bits, &xf);
  put_value(b, c, decimal, r->last_v, xf, r->count > 1 ? fb : c->bits, &xl);
  if (!(f & (F_MIN_FIRST | F_MIN_LAST)))
    put_value(b, c, decimal, r->min, xl, lb, &xo);
  if (!(f & (F_MAX_FIRST | F_MAX_LAST)))
    put_value(b, c, decimal, r->max, xl, lb, &xo);
  if (f & F_INTEGRAL)
    put_sum(b, r);
  if (f & F_RESETS)
    lk_buf_put_uvarint(b, r->nresets == TSDB_ROLLUP_MANY_RESETS ? TSDB_ROLLUP_MAX_RESETS + 1 : r->nresets);
  for (uint32_t k = 0; r->nresets != TSDB_ROLLUP_MANY_RESETS && k < r->nresets; k++)
    put_value(b, c, decimal, rv->resets[r->reset_off + k], xf, 0, &xf);
  if (f & F_TAIL) {
    lk_buf_put_uvarint(b, r->tail_count);
    put_time(b, r->end - r->tail_first_t, &c->back);
    put_value(b, c, decimal, r->tail_first_v, xl, lb, &xo);
    lk_buf_put_uvarint(b, r->tail_nresets);
  }
  c->end = r->end;
  c->bits = lb;
  c->x = decimal ? xl : next_x(c, r->last_v);
}

static void encode_series(lk_buf *b, const tsdb__rvec *rv, int64_t res)
{
  rctx c = {.ver = TSDB_ROLLUP_VERSION, .res = res, .scale = series_scale(rv)};
  lk_buf_put_uvarint(b, rv->n);
  if (rv->n)
    lk_buf_putc(b, (uint8_t)c.scale);
  for (size_t i = 0; i < rv->n; i++)
    encode_rec(b, &c, rv, &rv->r[i]);
}

/* The stream's header after nrec: version 2's scale. */
static int decode_scale(lk_dec *d, rctx *c, uint64_t n)
{
  c->scale = c->ver >= 2 && n ? lk_dec_u8(d) : NO_SCALE;
  c->div = 1;
  for (unsigned k = 0; c->scale <= TSDB__DEC_KMAX && k < c->scale; k++)
    c->div *= 10;
  return c->scale <= TSDB__DEC_KMAX || c->scale == NO_SCALE ? d->err : LK_ECORRUPT;
}

static int decode_values(lk_dec *d, rctx *c, unsigned f, tsdb_rollup_rec *r, double resets[TSDB_ROLLUP_MAX_RESETS])
{
  bool decimal = c->scale != NO_SCALE && !(f & F_XOR);
  int64_t xf = c->x, xl = 0, xo;
  uint64_t fb = r->count > 1 ? get_value(d, c, decimal, c->x, c->bits, &xf) : 0;
  uint64_t lb = get_value(d, c, decimal, xf, r->count > 1 ? fb : c->bits, &xl);
  fb = r->count > 1 ? fb : lb;
  xf = r->count > 1 ? xf : xl;
  r->first_v = from_bits(fb);
  r->last_v = from_bits(lb);
  r->min = from_bits(f & F_MIN_FIRST ? fb : f & F_MIN_LAST ? lb : get_value(d, c, decimal, xl, lb, &xo));
  r->max = from_bits(f & F_MAX_FIRST ? fb : f & F_MAX_LAST ? lb : get_value(d, c, decimal, xl, lb, &xo));
  r->integral = f & F_INTEGRAL;
  r->sum = 0;
  if (r->integral && get_sum(d, c, r))
    return LK_ECORRUPT;
  uint64_t nr = f & F_RESETS ? uvarint(d) : 0;
  if (d->err || (f & F_RESETS && !nr) || nr > TSDB_ROLLUP_MAX_RESETS + 1)
    return LK_ECORRUPT;
  r->nresets = nr > TSDB_ROLLUP_MAX_RESETS ? TSDB_ROLLUP_MANY_RESETS : (uint32_t)nr;
  for (uint64_t k = 0; nr <= TSDB_ROLLUP_MAX_RESETS && k < nr; k++)
    resets[k] = from_bits(get_value(d, c, decimal, xf, 0, &xf));
  r->tail_count = f & F_TAIL_ALL ? r->count : 0;
  r->tail_first_t = r->first_t;
  r->tail_first_v = r->first_v;
  r->tail_nresets = f & F_TAIL_ALL ? r->nresets : 0;
  if (f & F_TAIL) {
    uint64_t tc = uvarint(d), back = get_time(d, c, &c->back);
    r->tail_first_v = from_bits(get_value(d, c, decimal, xl, lb, &xo));
    uint64_t tr = uvarint(d);
    if (!tc || tc >= r->count || back >= TSDB_ROLLUP_TAIL || tr >= tc)
      return LK_ECORRUPT;
    r->tail_count = (uint32_t)tc;
    r->tail_first_t = r->end - (int64_t)back;
    r->tail_nresets = (uint32_t)tr;
  }
  c->bits = lb;
  c->x = decimal ? xl : next_x(c, r->last_v);
  return d->err;
}

/* Decode one record, after the previous one (c). */
static int decode_rec(lk_dec *d, rctx *c, tsdb_rollup_rec *r, double resets[TSDB_ROLLUP_MAX_RESETS])
{
  uint64_t res = (uint64_t)c->res;
  r->end = (int64_t)((uint64_t)c->end + (uint64_t)varint(d) * res);
  uint64_t count = uvarint(d), to_last = get_time(d, c, &c->to_last), span = get_time(d, c, &c->span);
  unsigned f = c->ver == 1 ? lk_dec_u8(d) : (unsigned)uvarint(d);
  if (d->err || !count || count > UINT32_MAX || to_last >= res || span > res - 1 - to_last || f >= 2 * F_XOR)
    return LK_ECORRUPT;
  r->count = (uint32_t)count;
  r->last_t = r->end - (int64_t)to_last;
  r->first_t = r->last_t - (int64_t)span;
  c->end = r->end;
  return decode_values(d, c, f, r, resets);
}

/*---- Writer ----*/

typedef struct wres {
  lk_buf cur;            /* the open frame: record streams of consecutive series */
  lk_buf frames;         /* per frame: u64 offset, u32 length (pack bytes) */
  lk_buf series;         /* per series: u32 frame, u32 offset in the unpacked frame */
  uint32_t nframes, nseries;
} wres;

struct tsdb__rwriter {
  wres r[TSDB__NRES];
  char *dir, *path;
  int fd;                /* -1 until the first write */
  lk_buf out;            /* the file's bytes not yet written */
  uint64_t written;      /* bytes written before them */
  tsdb__rvec rv;
  int err;
};

tsdb__rwriter *tsdb__rwriter_new(const char *dir)
{
  tsdb__rwriter *w = lk_xcalloc(1, sizeof *w);
  w->dir = lk_xstrdup(dir);
  w->path = tsdb__path(dir, "/", TSDB_FILE_ROLLUP);
  w->fd = -1;
  lk_buf_put_u32le(&w->out, TSDB_ROLLUP_MAGIC);
  lk_buf_putc(&w->out, TSDB_ROLLUP_VERSION);
  lk_buf_append(&w->out, "\0\0\0", 3);
  return w;
}

static void fail(tsdb__rwriter *w, int rc) /* keeps the first error */
{
  w->err = w->err ? w->err : rc;
}

/* Write out what is buffered (the file is created by the first call). */
static void flush_out(tsdb__rwriter *w)
{
  if (w->err)
    return;
  if (w->fd < 0)
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int rc = w->fd < 0 ? -errno : tsdb__write_buf(w->fd, w->out.data, w->out.len);
  fail(w, rc);
  w->written += w->out.len;
  lk_buf_clear(&w->out);
}

static void close_frame(tsdb__rwriter *w, wres *r)
{
  if (!r->cur.len)
    return;
  size_t off = w->out.len;
  int rc = tsdb__pack(r->cur.data, r->cur.len, &w->out);
  if (rc) {
    fail(w, rc);
    return;
  }
  size_t len = w->out.len - off;
  lk_buf_put_u32le(&w->out, lk_crc32(0, w->out.data + off, len));
  lk_buf_put_u64le(&r->frames, w->written + off);
  lk_buf_put_u32le(&r->frames, (uint32_t)len);
  r->nframes++;
  lk_buf_clear(&r->cur);
  if (w->out.len >= TSDB_ROLLUP_FLUSH_BYTES)
    flush_out(w);
}

void tsdb__rwriter_add(tsdb__rwriter *w, const int64_t *t, const double *v, size_t n)
{
  for (size_t i = 0; i < TSDB__NRES; i++) {
    wres *r = &w->r[i];
    int64_t res = tsdb__rollup_res(i);
    w->rv.n = w->rv.nresets = 0;
    tsdb__rollup_compute(t, v, n, res, &w->rv);
    if (r->cur.len >= TSDB_ROLLUP_FRAME_BYTES)
      close_frame(w, r);
    lk_buf_put_u32le(&r->series, r->nframes);
    lk_buf_put_u32le(&r->series, (uint32_t)r->cur.len);
    r->nseries++;
    encode_series(&r->cur, &w->rv, res);
  }
}

/* The TOC (with its crc) and the trailer, after the frames. */
static void put_toc(tsdb__rwriter *w)
{
  size_t start = w->out.len;
  uint64_t toc = w->written + start;
  lk_buf_put_u32le(&w->out, TSDB__NRES);
  for (size_t i = 0; i < TSDB__NRES; i++) {
    lk_buf_put_u64le(&w->out, (uint64_t)tsdb__rollup_res(i));
    lk_buf_put_u32le(&w->out, w->r[i].nframes);
    lk_buf_put_u32le(&w->out, w->r[i].nseries);
  }
  for (size_t i = 0; i < TSDB__NRES; i++) {
    lk_buf_append(&w->out, w->r[i].frames.data, w->r[i].frames.len);
    lk_buf_append(&w->out, w->r[i].series.data, w->r[i].series.len);
  }
  lk_buf_put_u32le(&w->out, lk_crc32(0, w->out.data + start, w->out.len - start));
  lk_buf_put_u64le(&w->out, toc);
  lk_buf_put_u32le(&w->out, TSDB_ROLLUP_MAGIC);
}

int tsdb__rwriter_finish(tsdb__rwriter *w)
{
  for (size_t i = 0; i < TSDB__NRES; i++)
    close_frame(w, &w->r[i]);
  put_toc(w);
  flush_out(w);
  if (!w->err && fsync(w->fd) < 0)
    fail(w, -errno);
  if (w->fd >= 0 && close(w->fd) < 0)
    fail(w, -errno);
  w->fd = -1;
  if (!w->err)
    fail(w, tsdb__fsync_dir(w->dir));
  if (w->err)
    unlink(w->path);
  int rc = w->err;
  tsdb__rwriter_free(w);
  return rc;
}

void tsdb__rwriter_free(tsdb__rwriter *w)
{
  if (!w)
    return;
  if (w->fd >= 0) { /* unfinished */
    close(w->fd);
    unlink(w->path);
  }
  for (size_t i = 0; i < TSDB__NRES; i++) {
    lk_buf_fini(&w->r[i].cur);
    lk_buf_fini(&w->r[i].frames);
    lk_buf_fini(&w->r[i].series);
  }
  lk_buf_fini(&w->out);
  tsdb__rvec_fini(&w->rv);
  free(w->dir);
  free(w->path);
  free(w);
}

/*---- Reader ----*/

typedef struct rres {
  int64_t res;
  uint32_t nframes;
  const uint8_t *frames, *series;
} rres;

struct tsdb__rollup {
  const uint8_t *p;
  size_t len;
  unsigned ver;          /* 1 or TSDB_ROLLUP_VERSION */
  size_t toc;            /* frames end here */
  uint32_t nres;
  rres r[TSDB__NRES];
};

static int map_rollup(const char *path, const uint8_t **p, size_t *len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  int rc = fstat(fd, &st) < 0 ? -errno : 0;
  if (!rc && (size_t)st.st_size < TSDB_ROLLUP_HDR + TSDB_ROLLUP_TRAILER + 8)
    rc = LK_ECORRUPT;
  if (!rc) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    rc = m == MAP_FAILED ? -errno : 0;
    *p = m;
    *len = (size_t)st.st_size;
  }
  close(fd);
  return rc;
}

/* Check the header, trailer and TOC; fill the per-resolution tables. */
static int parse_rollup(tsdb__rollup *r, uint64_t nseries)
{
  const uint8_t *p = r->p, *tr = p + r->len - TSDB_ROLLUP_TRAILER;
  if (lk_le32_load(p) != TSDB_ROLLUP_MAGIC || p[4] < 1 || p[4] > TSDB_ROLLUP_VERSION ||
      lk_le32_load(tr + 8) != TSDB_ROLLUP_MAGIC)
    return LK_ECORRUPT;
  r->ver = p[4];
  uint64_t toc = lk_le64_load(tr);
  if (toc < TSDB_ROLLUP_HDR || toc > r->len - TSDB_ROLLUP_TRAILER - 8)
    return LK_ECORRUPT;
  size_t toc_len = r->len - TSDB_ROLLUP_TRAILER - 4 - toc;
  if (lk_crc32(0, p + toc, toc_len) != lk_le32_load(tr - 4))
    return LK_ECORRUPT;
  r->toc = toc;
  r->nres = lk_le32_load(p + toc);
  if (r->nres > TSDB__NRES || 4 + (uint64_t)r->nres * 16 > toc_len)
    return LK_ECORRUPT;
  uint64_t at = toc + 4 + (uint64_t)r->nres * 16;
  for (uint32_t i = 0; i < r->nres; i++) {
    const uint8_t *h = p + toc + 4 + i * 16;
    rres *x = &r->r[i];
    x->res = (int64_t)lk_le64_load(h);
    x->nframes = lk_le32_load(h + 8);
    if (lk_le32_load(h + 12) != nseries || x->res <= 0)
      return LK_ECORRUPT;
    x->frames = p + at;
    at += (uint64_t)x->nframes * 12;
    x->series = p + at;
    at += nseries * 8;
    if (at > toc + toc_len)
      return LK_ECORRUPT;
  }
  return 0;
}

int tsdb__rollup_open(const char *dir, uint64_t nseries, tsdb__rollup **out, lk_diag *d)
{
  *out = NULL;
  char *path = tsdb__path(dir, "/", TSDB_FILE_ROLLUP);
  tsdb__rollup *r = lk_xcalloc(1, sizeof *r);
  int rc = map_rollup(path, &r->p, &r->len);
  if (rc == -ENOENT) {
    free(path);
    free(r);
    return 0;
  }
  if (!rc)
    rc = parse_rollup(r, nseries);
  if (rc) {
    lk_diag_set(d, rc, -1, "%s: %s", path, rc == LK_ECORRUPT ? "corrupt (bad length or CRC32)" : lk_strerror(rc));
    tsdb__rollup_close(r);
  } else {
    *out = r;
  }
  free(path);
  return rc;
}

void tsdb__rollup_close(tsdb__rollup *r)
{
  if (!r)
    return;
  if (r->p)
    munmap((void *)r->p, r->len);
  free(r);
}

static const rres *find_res(const tsdb__rollup *r, int64_t res)
{
  for (uint32_t i = 0; r && i < r->nres; i++)
    if (r->r[i].res == res)
      return &r->r[i];
  return NULL;
}

bool tsdb__rollup_has(const tsdb__rollup *r, int64_t res) { return find_res(r, res) != NULL; }
uint64_t tsdb__rollup_bytes(const tsdb__rollup *r) { return r ? r->len : 0; }

void tsdb__rcache_fini(tsdb__rcache *c)
{
  for (size_t i = 0; i < c->n; i++)
    lk_buf_fini(&c->bufs[i]);
  free(c->bufs);
  memset(c, 0, sizeof *c);
}

/* The unpacked frame, c's last buffer (a new one unless it is already there). */
static int load_frame(const tsdb__rollup *r, const rres *x, uint32_t frame, tsdb__rcache *c)
{
  if (c->n && c->ru == r && c->res == x->res && c->frame == frame)
    return 0;
  if (frame >= x->nframes)
    return LK_ECORRUPT;
  uint64_t off = lk_le64_load(x->frames + frame * 12);
  uint32_t len = lk_le32_load(x->frames + frame * 12 + 8);
  if (off < TSDB_ROLLUP_HDR || off > r->toc || len > r->toc - off || r->toc - off - len < 4 ||
      lk_crc32(0, r->p + off, len) != lk_le32_load(r->p + off + len))
    return LK_ECORRUPT;
  c->ru = NULL;
  c->bufs = lk_xgrow(c->bufs, &c->cap, c->n + 1, sizeof *c->bufs);
  lk_buf *raw = &c->bufs[c->n];
  *raw = (lk_buf){0};
  int rc = tsdb__unpack(r->p + off, len, raw);
  if (rc) {
    lk_buf_fini(raw);
    return rc;
  }
  c->n++;
  c->ru = r;
  c->res = x->res;
  c->frame = frame;
  return 0;
}

int tsdb__rollup_stream(const tsdb__rollup *r, int64_t res, uint32_t id, tsdb__rcache *c, tsdb__rstream *out)
{
  const rres *x = find_res(r, res);
  if (!x)
    return LK_ENOENT;
  uint32_t frame = lk_le32_load(x->series + (size_t)id * 8), off = lk_le32_load(x->series + (size_t)id * 8 + 4);
  int rc = load_frame(r, x, frame, c);
  if (rc)
    return rc;
  const lk_buf *raw = &c->bufs[c->n - 1];
  if (off > raw->len)
    return LK_ECORRUPT;
  *out = (tsdb__rstream){raw->data + off, raw->len - off, r->ver, res};
  return 0;
}

int tsdb__rollup_decode(const tsdb__rstream *s, int64_t lo, int64_t hi, size_t max, tsdb__rvec *out)
{
  lk_dec d;
  lk_dec_init(&d, s->p, s->len);
  uint64_t n = lk_dec_uvarint(&d);
  rctx cx = {.ver = s->ver, .res = s->res};
  int rc = decode_scale(&d, &cx, n);
  double resets[TSDB_ROLLUP_MAX_RESETS];
  size_t pushed = 0;
  for (uint64_t i = 0; i < n && pushed < max && !rc; i++) {
    tsdb_rollup_rec rec;
    rc = decode_rec(&d, &cx, &rec, resets);
    if (rc || rec.end > hi)
      break;
    if (rec.end >= lo) {
      tsdb__rvec_push(out, &rec, resets);
      pushed++;
    }
  }
  return rc ? rc : d.err;
}

int tsdb__rollup_read(const tsdb__rollup *r, int64_t res, uint32_t id, int64_t lo, int64_t hi,
                      tsdb__rcache *c, tsdb__rvec *out)
{
  tsdb__rstream s;
  int rc = tsdb__rollup_stream(r, res, id, c, &s);
  return rc ? rc : tsdb__rollup_decode(&s, lo, hi, SIZE_MAX, out);
}
