/* lk_float.c — Go strconv.ParseFloat syntax, parsed exactly and fast.
 *
 * The exposition parser reads one float per line, so the common case must not
 * go through strtod (locale handling, arbitrary precision setup). We validate
 * the syntax ourselves, then:
 *   - plain decimals (digits[.digits][e±digits], ≤ 19 digits, the forms
 *     exporters print) take a tighter loop of their own, then the same
 *     fast path;
 *   - fast path (Clinger): a decimal mantissa of at most 19 significant digits
 *     whose value is ≤ 2^53, scaled by 10^e with |e| ≤ 22: both operands are
 *     exact doubles, so one IEEE multiply or divide is correctly rounded;
 *   - otherwise strtod on a NUL-terminated copy (glibc's strtod is correctly
 *     rounded; hex floats are exact). strtod assumes the "C" LC_NUMERIC locale
 *     (Lookout never calls setlocale); under another locale a decimal point
 *     would stop strtod early and the token would be rejected, never misread.
 * Like Go: NaN/Inf/Infinity in any case (sign only on the infinities), hex
 * mantissas need a 'p' exponent, no underscores, and a finite literal that
 * rounds to ±Inf is an error. NaN has Go's bit pattern (0x7ff8000000000001),
 * so values round-trip with Prometheus byte for byte.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_err.h"
#include "lib/lk_expo.h"
#include "lib/lk_expo_int.h"

#define GO_NAN_BITS 0x7ff8000000000001ull

static const double pow10_exact[23] = {
  1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_xdigit(char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* NaN, [+-]Inf, [+-]Infinity, any case; 1 if s[0..n) is one of them. */
static int parse_special(const char *s, size_t n, double *out)
{
  if (n == 3 && !strncasecmp(s, "nan", 3)) {
    uint64_t bits = GO_NAN_BITS;
    memcpy(out, &bits, 8);
    return 1;
  }
  double sign = 1;
  if (n && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s++;
    n--;
  }
  if ((n == 3 && !strncasecmp(s, "inf", 3)) || (n == 8 && !strncasecmp(s, "infinity", 8))) {
    *out = sign * INFINITY;
    return 1;
  }
  return 0;
}

/* Optional exponent: [eEpP][+-]?digits from *i; 0 on bad syntax. */
static int skip_exponent(const char *s, size_t n, size_t *i, int64_t *exp10)
{
  size_t j = *i + 1;
  int neg = 0;
  if (j < n && (s[j] == '+' || s[j] == '-'))
    neg = s[j++] == '-';
  if (j >= n || !is_digit(s[j]))
    return 0;
  int64_t e = 0;
  for (; j < n && is_digit(s[j]); j++)
    if (e < 100000)
      e = e * 10 + (s[j] - '0');
  *exp10 = neg ? -e : e;
  *i = j;
  return 1;
}

/* Hex float syntax after "0x": hexdigits[.hexdigits] p exponent (mandatory). */
static int hex_syntax_ok(const char *s, size_t n, size_t i)
{
  size_t digits = 0;
  for (; i < n && is_xdigit(s[i]); i++)
    digits++;
  if (i < n && s[i] == '.')
    for (i++; i < n && is_xdigit(s[i]); i++)
      digits++;
  int64_t e;
  if (!digits || i >= n || (s[i] != 'p' && s[i] != 'P') || !skip_exponent(s, n, &i, &e))
    return 0;
  return i == n;
}

static int slow_parse(const char *s, size_t n, double *out)
{
  char small[128];
  char *buf = n < sizeof small ? small : lk_xmalloc(n + 1);
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  double v = strtod(buf, &end);
  int ok = end == buf + n && !isinf(v);
  if (buf != small)
    free(buf);
  if (!ok)
    return LK_EPARSE;
  *out = v;
  return 0;
}

/* The common forms — digits[.digits][e[+-]digits], 1 to 19 digits before
 * the exponent, whose value is mantissa × 10^k with |k| ≤ 22 and mantissa
 * ≤ 2^53 (Clinger's fast path, exact): 1 and *out (unsigned) set. 0
 * (nothing set) for anything else, which the general path then parses or
 * rejects. */
static int plain_decimal(const char *s, size_t n, double *out)
{
  uint64_t mant = 0; /* wraps past 19 digits: then unused */
  size_t i = 0;
  for (; i < n && is_digit(s[i]); i++)
    mant = mant * 10 + (uint64_t)(s[i] - '0');
  size_t digits = i;
  int64_t exp10 = 0;
  if (i < n && s[i] == '.') {
    size_t f = ++i;
    for (uint64_t eight; n - i >= 8 && lk__eight_digits(s + i, &eight); i += 8)
      mant = mant * 100000000 + eight;
    for (; i < n && is_digit(s[i]); i++)
      mant = mant * 10 + (uint64_t)(s[i] - '0');
    digits += i - f;
    exp10 = -(int64_t)(i - f);
  }
  if (!digits || digits > 19 || mant > (1ull << 53))
    return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int64_t e;
    if (n - i > 6 || !skip_exponent(s, n, &i, &e)) /* more than 4 exponent digits: the general path */
      return 0;
    exp10 += e;
  }
  if (i != n || exp10 < -22 || exp10 > 22)
    return 0;
  double v = (double)mant;
  *out = exp10 >= 0 ? v * pow10_exact[exp10] : v / pow10_exact[-exp10];
  return 1;
}

int lk_parse_go_float(const char *s, size_t n, double *out)
{
  if (n == 0)
    return LK_EPARSE;
  size_t i = 0;
  int neg = s[0] == '-';
  if (s[0] == '+' || s[0] == '-')
    i++;
  if (i < n && (s[i] == 'n' || s[i] == 'N' || s[i] == 'i' || s[i] == 'I'))
    return parse_special(s, n, out) ? 0 : LK_EPARSE;
  if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
    return hex_syntax_ok(s, n, i + 2) ? slow_parse(s, n, out) : LK_EPARSE;

  if (plain_decimal(s + i, n - i, out)) {
    if (neg)
      *out = -*out;
    return 0;
  }
  uint64_t mant = 0;
  int sig = 0, dropped = 0; /* significant digits kept; digits beyond 19 */
  int64_t exp10 = 0;
  size_t digits = 0;
  for (; i < n && is_digit(s[i]); i++, digits++) {
    if (sig < 19) {
      mant = mant * 10 + (uint64_t)(s[i] - '0');
      sig += mant != 0;
    } else {
      dropped = 1;
      exp10++;
    }
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && is_digit(s[i]); i++, digits++) {
      if (sig < 19) {
        mant = mant * 10 + (uint64_t)(s[i] - '0');
        sig += mant != 0;
        exp10--;
      } else {
        dropped = 1;
      }
    }
  }
  if (!digits)
    return LK_EPARSE;
  int64_t e = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E') && !skip_exponent(s, n, &i, &e))
    return LK_EPARSE;
  if (i != n)
    return LK_EPARSE;
  exp10 += e;
  if (dropped || mant > (1ull << 53) || exp10 < -22 || exp10 > 22)
    return slow_parse(s, n, out);
  double v = (double)mant;
  v = exp10 >= 0 ? v * pow10_exact[exp10] : v / pow10_exact[-exp10];
  *out = neg ? -v : v;
  return 0;
}
