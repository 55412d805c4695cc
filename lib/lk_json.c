/* lk_json.c — JSON strings and Prometheus number formatting.
 *
 * Shortest round-trip digits: printf's %.Ne with increasing precision until
 * strtod gives the same double back (at most 17 significant digits always
 * round-trips). The digits and decimal exponent are then laid out in the
 * notation each API shape needs; see lk_json.h. C's %g cannot be used: it
 * does not pick the shortest digits and its exponent rules differ from Go's.
 */
#include "lib/lk_json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct digits {
  char d[24]; /* significant digits, no leading/trailing zeros (except "0") */
  int n;      /* count of digits */
  int exp;    /* decimal exponent of the first digit: v = d[0].d[1..] × 10^exp */
} digits;

/* v must be finite and >= 0. */
/* Digits of an integral value below 1e15 (exact in a double), without
 * going through printf/strtod: the common case of counters and bytes. */
static bool integer_digits(double v, digits *out)
{
  if (v >= 1e15 || v != floor(v))
    return false;
  char rev[20];
  int n = 0;
  for (uint64_t u = (uint64_t)v; u; u /= 10)
    rev[n++] = (char)('0' + u % 10);
  out->exp = n - 1;
  int first = 0;
  while (first < n - 1 && rev[first] == '0')
    first++;
  out->n = 0;
  for (int i = n - 1; i >= first; i--)
    out->d[out->n++] = rev[i];
  return true;
}

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
    memcpy(o, g->d, (size_t)g->n);
    o += g->n;
  } else if (g->n <= g->exp + 1) {
    memcpy(o, g->d, (size_t)g->n);
    o += g->n;
    for (int i = 0; i < g->exp + 1 - g->n; i++)
      *o++ = '0';
  } else {
    memcpy(o, g->d, (size_t)g->exp + 1);
    o += g->exp + 1;
    *o++ = '.';
    memcpy(o, g->d + g->exp + 1, (size_t)(g->n - g->exp - 1));
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
    memcpy(o, g->d + 1, (size_t)g->n - 1);
    o += g->n - 1;
  }
  int e = g->exp;
  o += sprintf(o, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
  return (size_t)(o - out);
}

size_t lk_fmt_value(char *out, double v)
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

size_t lk_fmt_plain(char *out, double v)
{
  if (!isfinite(v))
    return put_special(out, v);
  digits g;
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

void lk_json_sample_ts(lk_buf *b, int64_t ms)
{
  uint64_t a = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
  if (ms < 0)
    lk_buf_putc(b, '-');
  lk_buf_printf(b, "%llu", (unsigned long long)(a / 1000));
  if (a % 1000)
    lk_buf_printf(b, ".%03u", (unsigned)(a % 1000));
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
  lk_buf_putc(b, '[');
  lk_json_sample_ts(b, ms);
  lk_buf_putc(b, ',');
  lk_json_sample_value(b, v);
  lk_buf_putc(b, ']');
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
