/* lk_json.c — JSON strings and Prometheus number formatting.
 *
 * Shortest round-trip digits: the 15-, then 16-, then 17-significant-digit
 * rounding of the value, the first that reads back as the same double (at
 * most 17 digits always round-trips). The digits and decimal exponent are
 * then laid out in the notation each API shape needs; see lk_json.h. C's %g
 * cannot be used: it does not pick the shortest digits and its exponent rules
 * differ from Go's.
 *
 * Query output formats millions of values, so the rounding and the read-back
 * check are done in registers where that is provably exact: 15 digits in
 * double arithmetic (digits15), 15–17 digits in x87 extended precision
 * (fast_digits); everything else (denormals, far exponents, roundings too
 * close to call) takes the reference route, printf's %.Ne and strtod.
 * tests/promql/test_fmt.c checks the fast paths against that route on
 * millions of values. Digits and timestamps are written without printf.
 */
#include "lib/lk_json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct digits {
  char d[40]; /* significant digits, no leading/trailing zeros (except "0");
                 room past the 17 used so layouts copy fixed 24-byte runs */
  int n;      /* count of digits */
  int exp;    /* decimal exponent of the first digit: v = d[0].d[1..] × 10^exp */
} digits;

static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Decimal digits of m (no leading zeros; "0" for 0) ending at end; returns
 * the first. Two digits per division. */
static char *u64_text(uint64_t m, char *end)
{
  char *p = end;
  while (m >= 100) {
    unsigned r = (unsigned)(m % 100);
    m /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * r, 2);
  }
  if (m >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * m, 2);
  } else {
    *--p = (char)('0' + m);
  }
  return p;
}

/* Number of decimal digits of m. */
static int u64_len(uint64_t m)
{
  int n = 1;
  for (; m >= 100; m /= 100)
    n += 2;
  return n + (m >= 10);
}

/* m's digits without trailing zeros, first digit at 10^exp. */
static void u64_digits(uint64_t m, int exp, digits *out)
{
  int n = u64_len(m);
  u64_text(m, out->d + n);
  while (n > 1 && out->d[n - 1] == '0')
    n--;
  out->n = n;
  out->exp = exp;
}

/* v must be finite and >= 0. */
/* Digits of an integral value below 1e15 (exact in a double), without
 * going through printf/strtod: the common case of counters and bytes. */
static bool integer_digits(double v, digits *out)
{
  if (v >= 1e15 || v != floor(v))
    return false;
  uint64_t u = (uint64_t)v;
  u64_digits(u, u64_len(u) - 1, out);
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
 * 15-digit decimal can). False: ask the longer paths. */
static bool digits15(double v, digits *out)
{
  int e2;
  frexp(v, &e2);
  int e10 = (int)floor((e2 - 1) * 0.30102999566398120); /* log10(2): e10 or one less */
  for (int tries = 0; tries < 2; tries++) {
    int k = 14 - e10;
    if (k < 0 || k > 22)
      return false;
    double sc = v * exact_p10[k];
    if (sc >= 1e15) {
      e10++;
      continue;
    }
    double r = floor(sc + 0.5);
    if (r < 1e14 || r >= 1e15)
      return false;
    uint64_t m = (uint64_t)r;
    if ((double)m / exact_p10[k] != v)
      return false;
    u64_digits(m, e10, out);
    return true;
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
  int e2;
  frexp(v, &e2);
  int e = (int)floor((e2 - 1) * 0.30102999566398120); /* log10(2) */
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
      u64_digits(m, exp, out);
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

/* Shortest decimal digits that read back as v (v > 0, finite). A normal
 * value whose shortest form has at most 15 significant digits is exactly its
 * 15-digit rounding with trailing zeros removed, so one printf usually
 * settles it; 16 and then 17 digits cover the rest (17 always round-trips).
 * Denormals carry fewer bits, so they search from one digit up. */
static void shortest_digits(double v, digits *out)
{
  char tmp[48];
  if (v == 0) {
    out->d[0] = '0';
    out->n = 1;
    out->exp = 0;
    return;
  }
  if (integer_digits(v, out))
    return;
  if (v >= DBL_MIN && (digits15(v, out) || fast_digits(v, out)))
    return;
  if (v < DBL_MIN) {
    for (int prec = 0; prec <= 16 && !round_trips(v, prec, tmp, sizeof tmp); prec++)
      ;
  } else if (!round_trips(v, 14, tmp, sizeof tmp) && !round_trips(v, 15, tmp, sizeof tmp)) {
    snprintf(tmp, sizeof tmp, "%.16e", v);
  }
  /* tmp is "D[.DDD]e±XX" */
  int n = 0;
  const char *p = tmp;
  for (; *p && *p != 'e'; p++)
    if (*p != '.')
      out->d[n++] = *p;
  while (n > 1 && out->d[n - 1] == '0')
    n--;
  out->n = n;
  out->exp = atoi(p + 1);
}

static size_t put_special(char *out, double v)
{
  if (isnan(v))
    return (size_t)sprintf(out, "NaN");
  return (size_t)sprintf(out, v > 0 ? "+Inf" : "-Inf");
}

/* Digits are copied as fixed runs (a few vector moves instead of a call per
 * variable-length memcpy); outputs have LK_FMT_FLOAT_MAX bytes of room. */
#define DIGIT_RUN 24

static size_t layout_plain(char *out, const digits *g, bool neg)
{
  char *o = out;
  if (neg)
    *o++ = '-';
  if (g->exp < 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -g->exp - 1; i++)
      *o++ = '0';
    memcpy(o, g->d, DIGIT_RUN);
    o += g->n;
  } else if (g->n <= g->exp + 1) {
    memcpy(o, g->d, DIGIT_RUN);
    o += g->n;
    for (int i = 0; i < g->exp + 1 - g->n; i++)
      *o++ = '0';
  } else { /* exp + 1 < n <= 17: both runs stay inside d */
    memcpy(o, g->d, DIGIT_RUN);
    o += g->exp + 1;
    *o++ = '.';
    memcpy(o, g->d + g->exp + 1, DIGIT_RUN);
    o += g->n - g->exp - 1;
  }
  *o = 0;
  return (size_t)(o - out);
}

/* Go's 'e' layout: d[.ddd]e±XX with at least two exponent digits. */
static size_t layout_exp(char *out, const digits *g, bool neg)
{
  char *o = out;
  if (neg)
    *o++ = '-';
  *o++ = g->d[0];
  if (g->n > 1) {
    *o++ = '.';
    memcpy(o, g->d + 1, DIGIT_RUN);
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

size_t lk_fmt_value(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g = {0};
  double a = fabs(v);
  shortest_digits(a, &g);
  bool neg = signbit(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21))
    return layout_exp(out, &g, neg);
  return layout_plain(out, &g, neg);
}

size_t lk_fmt_plain(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g = {0};
  shortest_digits(fabs(v), &g);
  return layout_plain(out, &g, signbit(v));
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

/* Seconds with ".mmm" only when the milliseconds are non-zero; returns the
 * length written (at most 25 bytes). */
static size_t put_sample_ts(char *out, int64_t ms)
{
  uint64_t a = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
  unsigned frac = (unsigned)(a % 1000);
  char *o = out;
  if (ms < 0)
    *o++ = '-';
  int n = u64_len(a / 1000);
  u64_text(a / 1000, o + n);
  o += n;
  if (frac) {
    o[0] = '.';
    o[1] = (char)('0' + frac / 100);
    memcpy(o + 2, digit_pairs + 2 * (frac % 100), 2);
    o += 4;
  }
  return (size_t)(o - out);
}

void lk_json_sample_ts(lk_buf *b, int64_t ms)
{
  char tmp[32];
  lk_buf_append(b, tmp, put_sample_ts(tmp, ms));
}

void lk_json_sample_value(lk_buf *b, double v)
{
  char tmp[LK_FMT_FLOAT_MAX + 2];
  size_t n = lk_fmt_value(tmp + 1, v);
  tmp[0] = '"';
  tmp[n + 1] = '"';
  lk_buf_append(b, tmp, n + 2);
}

void lk_json_point(lk_buf *b, int64_t ms, double v)
{
  /* written in place: [ ts , " value " ] within the reserved room */
  lk_buf_reserve(b, LK_FMT_FLOAT_MAX + 40);
  char *o = (char *)b->data + b->len, *start = o;
  *o++ = '[';
  o += put_sample_ts(o, ms);
  *o++ = ',';
  *o++ = '"';
  o += lk_fmt_value(o, v);
  *o++ = '"';
  *o++ = ']';
  b->len += (size_t)(o - start);
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
