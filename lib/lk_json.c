/* lk_json.c — JSON strings and Prometheus number formatting.
 *
 * Shortest round-trip digits: the 15-, then 16-, then 17-significant-digit
 * rounding of the value, the first that reads back as the same double (at
 * most 17 digits always round-trips); denormals search from one digit up.
 * The digits and decimal exponent are then laid out in the notation each API
 * shape needs; see lk_json.h. C's %g cannot be used: it does not pick the
 * shortest digits and its exponent rules differ from Go's.
 *
 * Query output formats millions of values, so the rounding and the read-back
 * check are done in registers where that is provably exact: 15 digits in
 * double arithmetic (digits15), 15–17 digits in exact 128-bit fixed point
 * for 1e-11 <= v < 1e17 (exact_digits), in x87 extended precision beyond
 * (fast_digits); everything else (denormals, far exponents, roundings too
 * close to call) takes the reference route, printf's %.Ne and strtod.
 * tests/promql/test_fmt.c checks the fast paths against that route on
 * millions of values. No libc call on the fast paths: exponents come from
 * the bits, and digits are made eight at a time as packed BCD in a 64-bit
 * word (bcd8), whose zero bytes also give the leading and trailing zero
 * counts. Timestamps are written the same way. Points are written straight
 * into the buffer after one room check each: integers and 15-digit values
 * (most sample values) go from the digit words to the output without the
 * general layout (put_value_fast); lk_json_points reserves room for a whole
 * series up front and makes only the last eight digits of each timestamp's
 * seconds (the rest is shared by the run).
 */
#include "lib/lk_json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the digit words (bcd8) are laid out for a little-endian machine"
#endif

__extension__ typedef unsigned __int128 u128;

/* Room a point can take: '[', sign, 20 timestamp digits, ".mmm", ',"', the
 * value, '"]' and a separating ','. */
#define POINT_MAX (LK_FMT_FLOAT_MAX + 40)

/* Digits are copied as fixed runs (a few vector moves instead of a call per
 * variable-length memcpy); outputs have LK_FMT_FLOAT_MAX bytes of room. */
#define DIGIT_RUN 24

typedef struct digits {
  char buf[48]; /* digits at buf[off, off + n): no leading or trailing zeros
                   (except "0"); the buffer has room for DIGIT_RUN-byte
                   copies from any digit */
  int off;
  int n;   /* count of significant digits */
  int exp; /* decimal exponent of the first digit: v = d[0].d[1..] × 10^exp */
} digits;

static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

#define ASCII_ZEROS 0x3030303030303030ULL

/* x < 10^8 as eight BCD bytes, the most significant digit in the lowest
 * byte (first in memory on a little-endian machine): split into 4-digit,
 * then 2-digit, then 1-digit lanes of one word, each split a multiply by a
 * reciprocal ((y × 10486) >> 20 = y / 100 for y < 10^4; (y × 103) >> 10 =
 * y / 10 for y < 100) that cannot carry into the next lane. */
static inline uint64_t bcd8(uint32_t x)
{
  uint64_t y = (x / 10000) | ((uint64_t)(x % 10000) << 32);
  uint64_t z = ((y * 10486) >> 20) & 0x0000007f0000007fULL;
  y = z | ((y - z * 100) << 16);
  z = ((y * 103) >> 10) & 0x000f000f000f000fULL;
  return z | ((y - z * 10) << 8);
}

static inline void put_word(char *p, uint64_t w) { memcpy(p, &w, 8); }
static inline void put_word16(char *p, u128 w) { memcpy(p, &w, 16); }

/* The lowest `bytes` bytes of w were leading zero digits: the rest of the
 * 16 digits hi.lo shifted to the front. Writes 16 bytes; returns 16 - bytes. */
static inline int put_from(char *o, uint64_t hi, uint64_t lo, int bytes)
{
  if (bytes >= 8) {
    int s = 8 * (bytes - 8);
    put_word(o, (lo + ASCII_ZEROS) >> s);
    put_word(o + 8, 0);
  } else if (bytes) {
    int s = 8 * bytes;
    uint64_t h = hi + ASCII_ZEROS, l = lo + ASCII_ZEROS;
    put_word(o, (h >> s) | (l << (64 - s)));
    put_word(o + 8, l >> s);
  } else {
    put_word(o, hi + ASCII_ZEROS);
    put_word(o + 8, lo + ASCII_ZEROS);
  }
  return 16 - bytes;
}

/* Leading zero digits of the 16-digit BCD hi.lo (15 for zero: "0"). */
static inline int bcd_leading_zeros(uint64_t hi, uint64_t lo)
{
  if (hi)
    return __builtin_ctzll(hi) / 8;
  return lo ? 8 + __builtin_ctzll(lo) / 8 : 15;
}

/* Trailing zero digits of the 16-digit BCD hi.lo (16 for zero). */
static inline int bcd_trailing_zeros(uint64_t hi, uint64_t lo)
{
  if (lo)
    return __builtin_clzll(lo) / 8;
  return hi ? 8 + __builtin_clzll(hi) / 8 : 16;
}

/* The digits of 0 < m < 10^17 without trailing zeros, first digit at 10^exp. */
static void m_digits(uint64_t m, int exp, digits *out)
{
  uint64_t top = m / 10000000000000000ULL, rest = m % 10000000000000000ULL;
  uint64_t hi = bcd8((uint32_t)(rest / 100000000)), lo = bcd8((uint32_t)(rest % 100000000));
  out->buf[0] = (char)('0' + top);
  put_word(out->buf + 1, hi + ASCII_ZEROS);
  put_word(out->buf + 9, lo + ASCII_ZEROS);
  memset(out->buf + 17, '0', sizeof out->buf - 17);
  out->off = top ? 0 : 1 + bcd_leading_zeros(hi, lo);
  out->n = 17 - bcd_trailing_zeros(hi, lo) - out->off;
  out->exp = exp;
}

/* Binary exponent e of a normal v = f × 2^e with f in [0.5, 1) (frexp's). */
static inline int exp2_of(double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return (int)((bits >> 52) & 0x7ff) - 1022;
}

/* Decimal exponent of v's first digit, or one less: floor((e2-1)·log10 2)
 * as (x·78913) >> 18, exact for |x| <= 1650 (78913 / 2^18 approximates
 * log10 2 closely enough); the offset keeps the shifted value positive. */
static inline int e10_estimate(double v)
{
  int64_t x = exp2_of(v) - 1;
  return (int)((x * 78913 + (400LL << 18)) >> 18) - 400;
}

/* Digits of an integral value below 1e15 (exact in a double), without
 * going through printf/strtod: the common case of counters and bytes.
 * v is finite and >= 0. */
static bool integer_digits(double v, digits *out)
{
  if (v >= 1e15)
    return false;
  uint64_t u = (uint64_t)v;
  if ((double)u != v)
    return false;
  m_digits(u, 0, out);
  out->exp = 16 - out->off;
  return true;
}

/* Powers of ten exact in a double (5^22 < 2^53). */
static const double exact_p10[23] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The 15-digit candidate in plain double arithmetic: s = v × 10^k is off by
 * under 0.125 (one rounding, s < 2^50), and a 15-digit decimal that reads
 * back as v lies within 0.11 of the exact s; so if v has such a decimal,
 * it is round(s), and round(s) reading back as v proves it (at most one
 * 15-digit decimal can). round(s) is taken with the 2^52 trick (no libc,
 * no integer round trip before the check); it rounds ties to even, where
 * floor(s + 0.5) would round up, but a tie in s is 0.375 or more from the
 * exact s, so neither choice reads back as v. v is normal and > 0. On
 * success *m is the 15-digit integer (10^14 <= m < 10^15) and *e10 the
 * exponent of its first digit; false: ask the longer paths. */
static inline bool round15(double v, uint64_t *m, int *e10)
{
  int e = e10_estimate(v);
  for (int tries = 0; tries < 2; tries++) {
    int k = 14 - e;
    if (k < 0 || k > 22)
      return false;
    double sc = v * exact_p10[k];
    if (sc >= 1e15) {
      e++;
      continue;
    }
    double r = (sc + 4503599627370496.0) - 4503599627370496.0;
    if (r < 1e14 || r >= 1e15 || r / exact_p10[k] != v)
      return false;
    *m = (uint64_t)r;
    *e10 = e;
    return true;
  }
  return false;
}

static bool digits15(double v, digits *out)
{
  uint64_t m;
  int e10;
  if (!round15(v, &m, &e10))
    return false;
  m_digits(m, e10, out);
  return true;
}

/* 5^k, exact in 64 bits for k <= 27. */
static const uint64_t pow5[28] = {
  1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL, 1953125ULL,
  9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL,
  152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL, 95367431640625ULL,
  476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL, 59604644775390625ULL,
  298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL,
};

#define E16 10000000000000000ULL
#define E17 100000000000000000ULL

/* v × 10^k in exact binary fixed point, for v = f × 2^e (f the 53-bit
 * significand) and 0 <= k <= 27: f × 5^k fits 116 bits, and multiplying by
 * 2^(e+k) is a shift. The point sits s bits from the right. */
typedef struct scaled {
  u128 x;        /* v × 10^k × 2^s */
  u128 ulp;      /* the gap to v's upper neighbour, in the same units */
  unsigned s;
  uint64_t top;  /* the integer part, 10^16 <= top < 10^17 */
  int e10;       /* the exponent of v's first digit */
} scaled;

static bool scale_exact(uint64_t f, int e, double v, scaled *sc)
{
  int e10 = e10_estimate(v);
  for (int tries = 0; tries < 3; tries++) {
    int k = 16 - e10, sh = e + k;
    if (k < 0 || k > 27 || sh > 8 || sh < -120)
      return false;
    u128 x = (u128)f * pow5[k], ulp = pow5[k];
    unsigned s = 0;
    if (sh >= 0) {
      x <<= sh;
      ulp <<= sh;
    } else {
      s = (unsigned)-sh;
    }
    u128 top = x >> s;
    if (top >= E17) {
      e10++;
    } else if (top < E16) {
      e10--;
    } else {
      *sc = (scaled){x, ulp, s, (uint64_t)top, e10};
      return true;
    }
  }
  return false;
}

/* The 15-, 16-, then 17-digit rounding of v, each made exactly from the
 * fixed-point scaling (ties to even, as printf rounds) and kept when it
 * lies inside v's rounding interval (the interval's ends belong to v when
 * f is even, as strtod rounds ties to even; at a power of two the lower
 * neighbour is half as far). Exactly the reference route's answer, for
 * normal v whose scale 10^k has 0 <= k <= 27 (about 1e-11 <= v < 1e17). */
static bool exact_digits(double v, digits *out)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  int be = (int)(bits >> 52);
  uint64_t f = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
  scaled sc;
  if (be == 0 || !scale_exact(f, be - 1075, v, &sc))
    return false;
  bool even = !(f & 1), lower_closer = f == (1ULL << 52) && be > 1;
  u128 frac = sc.x & ((((u128)1) << sc.s) - 1);
  for (uint64_t pw = 100; pw; pw /= 10) { /* 15, 16, 17 digits */
    uint64_t d = sc.top / pw;
    u128 rem2 = ((((u128)(sc.top % pw)) << sc.s) | frac) << 1, half2 = (u128)pw << sc.s;
    d += rem2 > half2 || (rem2 == half2 && (d & 1));
    u128 dx = ((u128)d * pw) << sc.s;
    u128 gap = dx >= sc.x ? (dx - sc.x) << 1 : (sc.x - dx) << (lower_closer ? 2 : 1);
    if (gap < sc.ulp || (gap == sc.ulp && even)) {
      int exp = sc.e10;
      if (d >= E17 / pw) { /* 99…9.5 rounded up to 10^digits */
        d /= 10;
        exp++;
      }
      m_digits(d, exp, out);
      return true;
    }
  }
  return false;
}

#if LDBL_MANT_DIG >= 64
/* 10^k as a long double, exact for 0 <= k <= 27 (5^27 < 2^64). */
static const long double ld_p10_tab[28] = {
  1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L,
  1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

static long double ld_p10(int k) { return ld_p10_tab[k]; }

/* v × 10^k in extended precision (|k| <= 27: one rounding, relative error
 * below 2^-64). */
static long double ld_scale(double v, int k)
{
  return k >= 0 ? (long double)v * ld_p10(k) : (long double)v / ld_p10(-k);
}

/* Does m × 10^-k read back as v? Exact when m and 10^|k| are exact doubles:
 * IEEE division and multiplication round the exact quotient/product once,
 * just as strtod rounds the decimal. Sets *known false otherwise. */
static bool fast_round_trips(double v, uint64_t m, int k, bool *known)
{
  *known = m <= (1ULL << 53) && k >= -22 && k <= 22;
  if (!*known)
    return false;
  double back = k >= 0 ? (double)m / exact_p10[k] : (double)m * exact_p10[-k];
  return back == v;
}

/* v (normal, > 0) scaled to 17 integer digits: s = v × 10^(16-e10) in
 * [1e16, 1e17), with e10 the exponent of v's first digit; false when the
 * scale is out of range or the boundaries cannot be told apart. */
static bool scale17(double v, long double *s, int *e10)
{
  int e = e10_estimate(v);
  for (int tries = 0; tries < 3; tries++) {
    int k = 16 - e;
    if (k < -27 || k > 27)
      return false;
    long double x = ld_scale(v, k);
    if (x >= 1e17L)
      e++;
    else if (x < 1e16L)
      e--;
    else {
      *s = x;
      *e10 = e;
      return true;
    }
  }
  return false;
}

/* The prec-digit rounding of v from its 17-digit scaling s as an integer m
 * (10^(prec-1) <= m < 10^prec) and the exponent of its first digit; false
 * when extended precision cannot prove the rounding (the scaled value lies
 * within 0.01 of a rounding boundary; its error is below 0.002). */
static bool round_to_digits(long double s, int e10, int prec, uint64_t *m, int *exp)
{
  long double x = prec == 17 ? s : s / ld_p10(17 - prec);
  uint64_t q = (uint64_t)x;
  long double frac = x - (long double)q;
  if (frac > 0.49L && frac < 0.51L)
    return false;
  q += frac > 0.5L;
  if ((long double)q >= ld_p10(prec)) { /* 99…9.5 rounded up to 10^prec */
    q /= 10;
    e10++;
  }
  *m = q;
  *exp = e10;
  return true;
}

/* The reference algorithm (15, 16, then 17 digits) without printf/strtod
 * when every step is provably exact; false means "ask the reference". */
static bool fast_digits(double v, digits *out)
{
  long double s;
  int e10;
  if (!scale17(v, &s, &e10))
    return false;
  for (int prec = 15; prec <= 17; prec++) {
    uint64_t m;
    int exp;
    bool known = true;
    if (!round_to_digits(s, e10, prec, &m, &exp))
      return false;
    if (prec == 17 || fast_round_trips(v, m, prec - 1 - exp, &known)) {
      m_digits(m, exp, out);
      return true;
    }
    if (!known)
      return false;
  }
  return false;
}
#else
static bool fast_digits(double v, digits *out) { return false; }
#endif

static bool round_trips(double v, int prec, char *tmp, size_t n)
{
  snprintf(tmp, n, "%.*e", prec, v);
  return strtod(tmp, NULL) == v;
}

/* The reference route: printf's correctly rounded %.Ne read back by strtod. */
static void printf_digits(double v, digits *out)
{
  char tmp[48];
  if (v < DBL_MIN) {
    for (int prec = 0; prec <= 16 && !round_trips(v, prec, tmp, sizeof tmp); prec++)
      ;
  } else if (!round_trips(v, 14, tmp, sizeof tmp) && !round_trips(v, 15, tmp, sizeof tmp)) {
    snprintf(tmp, sizeof tmp, "%.16e", v);
  }
  /* tmp is "D[.DDD]e±XX" */
  int n = 0;
  const char *p = tmp;
  memset(out->buf, '0', sizeof out->buf);
  for (; *p && *p != 'e'; p++)
    if (*p != '.')
      out->buf[n++] = *p;
  while (n > 1 && out->buf[n - 1] == '0')
    n--;
  out->off = 0;
  out->n = n;
  out->exp = atoi(p + 1);
}

/* Shortest decimal digits that read back as v (v >= 0, finite). A normal
 * value whose shortest form has at most 15 significant digits is exactly its
 * 15-digit rounding with trailing zeros removed, so the 15-digit candidate
 * usually settles it; 16 and then 17 digits cover the rest (17 always
 * round-trips). Denormals carry fewer bits, so they search from one digit up. */
static void shortest_digits(double v, digits *out)
{
  if (v == 0) {
    memset(out->buf, '0', sizeof out->buf);
    out->off = 0;
    out->n = 1;
    out->exp = 0;
    return;
  }
  if (integer_digits(v, out))
    return;
  if (v >= DBL_MIN && (digits15(v, out) || exact_digits(v, out) || fast_digits(v, out)))
    return;
  printf_digits(v, out);
}

static size_t put_special(char *out, double v)
{
  const char *s = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  size_t n = strlen(s);
  memcpy(out, s, n + 1);
  return n;
}

static size_t layout_plain(char *out, const digits *g, bool neg)
{
  const char *d = g->buf + g->off;
  char *o = out;
  if (neg)
    *o++ = '-';
  if (g->exp < 0) {
    *o++ = '0';
    *o++ = '.';
    memset(o, '0', (size_t)(-g->exp - 1));
    o += -g->exp - 1;
    memcpy(o, d, DIGIT_RUN);
    o += g->n;
  } else if (g->n <= g->exp + 1) {
    memcpy(o, d, DIGIT_RUN);
    o += g->n;
    memset(o, '0', (size_t)(g->exp + 1 - g->n));
    o += g->exp + 1 - g->n;
  } else { /* exp + 1 < n <= 17: both runs stay inside buf */
    memcpy(o, d, DIGIT_RUN);
    o += g->exp + 1;
    *o++ = '.';
    memcpy(o, d + g->exp + 1, DIGIT_RUN);
    o += g->n - g->exp - 1;
  }
  *o = 0;
  return (size_t)(o - out);
}

/* Go's 'e' layout: d[.ddd]e±XX with at least two exponent digits. */
static size_t layout_exp(char *out, const digits *g, bool neg)
{
  const char *d = g->buf + g->off;
  char *o = out;
  if (neg)
    *o++ = '-';
  *o++ = d[0];
  if (g->n > 1) {
    *o++ = '.';
    memcpy(o, d + 1, DIGIT_RUN);
    o += g->n - 1;
  }
  int e = g->exp;
  unsigned ae = (unsigned)(e < 0 ? -e : e);
  *o++ = 'e';
  *o++ = e < 0 ? '-' : '+';
  if (ae >= 100)
    *o++ = (char)('0' + ae / 100);
  memcpy(o, digit_pairs + 2 * (ae % 100), 2);
  o += 2;
  *o = 0;
  return (size_t)(o - out);
}

static inline size_t fmt_value(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g;
  double a = fabs(v);
  shortest_digits(a, &g);
  bool neg = signbit(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21))
    return layout_exp(out, &g, neg);
  return layout_plain(out, &g, neg);
}

size_t lk_fmt_value(char *out, double v) { return fmt_value(out, v); }

size_t lk_fmt_plain(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g;
  shortest_digits(fabs(v), &g);
  return layout_plain(out, &g, signbit(v));
}

size_t lk_fmt_exp(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g;
  shortest_digits(fabs(v), &g);
  return layout_exp(out, &g, signbit(v));
}

static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
  unsigned c = s[0];
  size_t n;
  unsigned min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (left < n)
    return 0;
  unsigned cp = c & (0x7f >> n);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

void lk_json_strn(lk_buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  lk_buf_reserve(b, n + 2);
  lk_buf_putc(b, '"');
  size_t run = 0; /* start of bytes copied verbatim */
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t sl = c >= 0x80 ? utf8_seq_len(p + i, n - i) : 0;
    if (sl) {
      i += sl;
      continue;
    }
    lk_buf_append(b, p + run, i - run);
    switch (c) {
    case '"': lk_buf_puts(b, "\\\""); break;
    case '\\': lk_buf_puts(b, "\\\\"); break;
    case '\n': lk_buf_puts(b, "\\n"); break;
    case '\r': lk_buf_puts(b, "\\r"); break;
    case '\t': lk_buf_puts(b, "\\t"); break;
    default:
      if (c < 0x20) {
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        lk_buf_puts(b, esc);
      } else {
        lk_buf_puts(b, "\xef\xbf\xbd"); /* invalid UTF-8 byte → U+FFFD */
      }
    }
    i++;
    run = i;
  }
  lk_buf_append(b, p + run, n - run);
  lk_buf_putc(b, '"');
}

void lk_json_str(lk_buf *b, const char *s) { lk_json_strn(b, s, strlen(s)); }

void lk_json_labels(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_buf_putc(b, '{');
  for (size_t i = 0; i < n; i++) {
    if (i)
      lk_buf_putc(b, ',');
    lk_json_str(b, ls[i].name);
    lk_buf_putc(b, ':');
    lk_json_str(b, ls[i].value);
  }
  lk_buf_putc(b, '}');
}


/* ".mmm" for milliseconds frac (1..999) at o, nothing for 0; the end. */
static inline char *put_ms_frac(char *o, unsigned frac)
{
  if (!frac)
    return o;
  o[0] = '.';
  o[1] = (char)('0' + frac / 100);
  memcpy(o + 2, digit_pairs + 2 * (frac % 100), 2);
  return o + 4;
}

/* Seconds with ".mmm" only when the milliseconds are non-zero; returns the
 * length written (at most 21 bytes; writes up to 21). */
static inline size_t put_sample_ts(char *out, int64_t ms)
{
  uint64_t a = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
  uint64_t s = a / 1000;
  unsigned frac = (unsigned)(a - s * 1000);
  char *o = out;
  if (ms < 0)
    *o++ = '-';
  /* s < 2^63 / 1000 < 10^16 */
  uint64_t hi = bcd8((uint32_t)(s / 100000000)), lo = bcd8((uint32_t)(s % 100000000));
  o += put_from(o, hi, lo, bcd_leading_zeros(hi, lo));
  o = put_ms_frac(o, frac);
  return (size_t)(o - out);
}

void lk_json_sample_ts(lk_buf *b, int64_t ms)
{
  char tmp[40];
  lk_buf_append(b, tmp, put_sample_ts(tmp, ms));
}

void lk_json_sample_value(lk_buf *b, double v)
{
  char tmp[LK_FMT_FLOAT_MAX + 2];
  size_t n = fmt_value(tmp + 1, v);
  tmp[0] = '"';
  tmp[n + 1] = '"';
  lk_buf_append(b, tmp, n + 2);
}

/* The plain notation of v when 10^-6 <= |v| < 10^15, byte for byte what
 * fmt_value writes for it: integers and 15-digit forms (the common shapes:
 * counters, gauges, values with a few decimals) straight from the digit
 * words, 16–17 digits (rates, ratios) through exact_digits. Returns the
 * end, or NULL to take the general route. Writes up to 42 bytes. */
static inline char *put_value_fast(char *o, double v)
{
  double a = fabs(v);
  if (!(a >= 1e-6 && a < 1e15)) /* also NaN */
    return NULL;
  if (signbit(v))
    *o++ = '-';
  uint64_t m = (uint64_t)a;
  if ((double)m == a) {
    uint64_t hi = bcd8((uint32_t)(m / 100000000)), lo = bcd8((uint32_t)(m % 100000000));
    return o + put_from(o, hi, lo, bcd_leading_zeros(hi, lo));
  }
  int e10;
  if (!round15(a, &m, &e10)) { /* a >= 1e-6 is normal */
    digits g;
    return exact_digits(a, &g) ? o + layout_plain(o, &g, false) : NULL;
  }
  uint64_t hi = bcd8((uint32_t)(m / 100000000)), lo = bcd8((uint32_t)(m % 100000000));
  int n = 15 - bcd_trailing_zeros(hi, lo);
  /* the 15 digits (hi's first byte is m's leading zero) in bytes 0..14 */
  u128 x = (((u128)(lo + ASCII_ZEROS) << 64) | (hi + ASCII_ZEROS)) >> 8;
  if (e10 < 0) { /* "0." then -e10-1 <= 5 zeros, then the digits */
    int z = -e10 - 1;
    put_word(o, 0x3030303030302e30ULL); /* "0.000000" */
    put_word16(o + 2 + z, x);
    return o + 2 + z + n;
  }
  /* q integer digits, '.', the rest: a is not an integer, so n > q (a
   * decimal integer below 2^50 reads back as itself, not as a) */
  int q = e10 + 1;
  u128 low = ((u128)1 << (8 * q)) - 1;
  put_word16(o, (x & low) | ((u128)'.' << (8 * q)) | ((x & ~low) << 8));
  return o + n + 1;
}

/* "value" (quoted) at o, which has LK_FMT_FLOAT_MAX + 2 bytes of room;
 * returns the end. */
static inline char *put_quoted_value(char *o, double v)
{
  *o++ = '"';
  char *end = put_value_fast(o, v);
  o = end ? end : o + fmt_value(o, v);
  *o = '"';
  return o + 1;
}

void lk_json_point(lk_buf *b, int64_t ms, double v)
{
  lk_buf_reserve(b, POINT_MAX);
  char *start = (char *)b->data + b->len, *o = start;
  *o++ = '[';
  o += put_sample_ts(o, ms);
  *o++ = ',';
  o = put_quoted_value(o, v);
  *o++ = ']';
  b->len += (size_t)(o - start);
  b->data[b->len] = 0;
}

/* The seconds of a run's timestamps above their last eight digits, kept as
 * text: consecutive points of a series share it, so a point makes only its
 * last eight digits. */
typedef struct secs_prefix {
  uint64_t high; /* seconds / 10^8 the text is for; 0 = none */
  uint64_t text; /* its digits in ASCII, the first in the lowest byte */
  int len;
} secs_prefix;

/* put_sample_ts through the prefix for timestamps from 10^8 s (1973) on. */
static inline char *put_run_ts(char *o, int64_t ms, secs_prefix *p)
{
  if (ms < 100000000000)
    return o + put_sample_ts(o, ms);
  uint64_t s = (uint64_t)ms / 1000, high = s / 100000000;
  unsigned frac = (unsigned)((uint64_t)ms - s * 1000);
  if (high != p->high) { /* 0 < high < 10^8: its text fits a word */
    uint64_t h = bcd8((uint32_t)high);
    int lz = __builtin_ctzll(h) / 8;
    p->high = high;
    p->text = (h + ASCII_ZEROS) >> (8 * lz);
    p->len = 8 - lz;
  }
  put_word(o, p->text);
  o += p->len;
  put_word(o, bcd8((uint32_t)(s - high * 100000000)) + ASCII_ZEROS);
  o += 8;
  o = put_ms_frac(o, frac);
  return o;
}

void lk_json_points(lk_buf *b, const int64_t *t, const double *v, size_t n)
{
  if (!n)
    return;
  /* typical points take under 40 bytes: one reservation for the run, then
   * a room check per point for the rare long value; the write position
   * stays in a register (stores through char * could alias b) */
  secs_prefix prefix = {0};
  lk_buf_reserve(b, n * 40 + POINT_MAX);
  char *o = (char *)b->data + b->len, *room_end = (char *)b->data + b->cap - (POINT_MAX + 2);
  for (size_t i = 0; i < n; i++) {
    if (o > room_end) {
      b->len = (size_t)(o - (char *)b->data);
      lk_buf_reserve(b, (n - i) * 40 + POINT_MAX);
      o = (char *)b->data + b->len;
      room_end = (char *)b->data + b->cap - (POINT_MAX + 2);
    }
    *o = ',';
    o += i != 0;
    *o++ = '[';
    o = put_run_ts(o, t[i], &prefix);
    *o++ = ',';
    o = put_quoted_value(o, v[i]);
    *o++ = ']';
  }
  b->len = (size_t)(o - (char *)b->data);
  b->data[b->len] = 0;
}

void lk_json_scalar_ts(lk_buf *b, int64_t ms)
{
  char tmp[LK_FMT_FLOAT_MAX];
  size_t n = lk_fmt_plain(tmp, (double)ms / 1000.0);
  lk_buf_append(b, tmp, n);
}

void lk_json_scalar_value(lk_buf *b, double v)
{
  char tmp[LK_FMT_FLOAT_MAX + 2];
  size_t n = lk_fmt_plain(tmp + 1, v);
  tmp[0] = '"';
  tmp[n + 1] = '"';
  lk_buf_append(b, tmp, n + 2);
}
