/* test_fmt.c — query-output number formatting (lib/lk_json.c) against a
 * reference computed here with printf and strtod: for millions of doubles
 * drawn like query results (rates, ratios, byte counts, sums of scaled
 * counters) and as raw bit patterns, the sample-value text must carry
 * exactly the reference's shortest round-trip digits and exponent, and read
 * back as the same double. The fast in-register path and the printf route
 * must never disagree: that covers the 15-digit double path, the exact
 * 128-bit path (15–17 digits, ties included) and the x87 path. The point
 * writers (lk_json_point, lk_json_points) have their own direct route for
 * plain-notation values; every value checked here also goes through them
 * and must come out as lk_fmt_value wrote it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"

/* Reference shortest digits of v > 0: 15, 16 then 17 significant digits,
 * the first that strtod reads back as v; digits without trailing zeros. */
static void ref_digits(double v, char *dig, int *exp)
{
  char tmp[64];
  int prec = v < DBL_MIN ? 0 : 14;
  for (; prec < 16; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  snprintf(tmp, sizeof tmp, "%.*e", prec, v);
  int n = 0;
  const char *p = tmp;
  for (; *p != 'e'; p++)
    if (*p != '.')
      dig[n++] = *p;
  while (n > 1 && dig[n - 1] == '0')
    n--;
  dig[n] = 0;
  *exp = atoi(p + 1);
}

/* Digits and exponent of a formatted value ("0.00123", "1.5e+21", "120"). */
static void parse_digits(const char *s, char *dig, int *exp)
{
  if (*s == '-')
    s++;
  const char *e = strchr(s, 'e');
  int n = 0, point = -1, lead = 0;
  bool seen = false;
  for (const char *p = s; *p && p != e; p++) {
    if (*p == '.') {
      point = n + lead;
      continue;
    }
    if (!seen && *p == '0') {
      lead++;
      continue;
    }
    seen = true;
    dig[n++] = *p;
  }
  if (!n) { /* zero */
    strcpy(dig, "0");
    *exp = 0;
    return;
  }
  int intlen = point >= 0 ? point : n + lead;
  while (n > 1 && dig[n - 1] == '0')
    n--;
  dig[n] = 0;
  *exp = intlen - lead - 1 + (e ? atoi(e + 1) : 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* The value the point writer puts between the quotes equals lk_fmt_value's. */
static lk_buf point_buf; /* reused: millions of checks; freed by the group teardown */

static int free_point_buf(void **state)
{
  lk_buf_fini(&point_buf);
  return 0;
}

static void check_point(double v, const char *want)
{
  lk_buf *b = &point_buf;
  lk_buf_clear(b);
  lk_json_point(b, 1700000000123, v);
  const char *q = strchr((const char *)b->data, '"');
  size_t n = strlen(want);
  if (!q || strncmp(q + 1, want, n) || strcmp(q + 1 + n, "\"]"))
    fail_msg("%.17g: point writes %s, lk_fmt_value %s", v, (const char *)b->data, want);
}

static void check_one(double v)
{
  char out[LK_FMT_FLOAT_MAX], got[32], want[32];
  int ge, we;
  if (!isfinite(v)) {
    lk_fmt_value(out, v);
    check_point(v, out);
    return;
  }
  lk_fmt_value(out, v);
  check_point(v, out);
  const char *dot = strchr(out, '.'), *e = strchr(out, 'e');
  size_t mant = e ? (size_t)(e - out) : strlen(out);
  if (dot && (out[mant - 1] == '0' || out[mant - 1] == '.'))
    fail_msg("%.17g formatted as %s: trailing zero or point", v, out);
  if (strtod(out, NULL) != v)
    fail_msg("%.17g formatted as %s does not read back", v, out);
  parse_digits(out, got, &ge);
  if (v == 0) {
    strcpy(want, "0");
    we = 0;
  } else {
    ref_digits(fabs(v), want, &we);
  }
  if (strcmp(got, want) || ge != we)
    fail_msg("%.17g: got %s (digits %s e%d), want digits %s e%d", v, out, got, ge, want, we);
}

static void test_query_like_values(void **state)
{
  for (int i = 0; i < 150000; i++) {
    double base = unit();
    check_one(base);                                  /* ratios */
    check_one(base * 1e9 / 300.0);                    /* byte rates */
    check_one(floor(base * 1e7) / 60.0);              /* counter increase / s */
    check_one(base * pow(10, (int)(rnd() % 40) - 20)); /* every decade in reach */
    check_one((double)(rnd() % 100000) / 1000.0 + 0.1 * (double)(rnd() % 7));
    check_one(-base * 12345.678);
  }
}

static void test_bit_patterns(void **state)
{
  for (int i = 0; i < 150000; i++) {
    double v;
    uint64_t bits = rnd();
    memcpy(&v, &bits, sizeof v);
    if (isfinite(v))
      check_one(v);
    /* exponents near 1: where the fast path works */
    bits = (bits & 0x800fffffffffffffULL) | ((uint64_t)(1023 - 60 + rnd() % 120) << 52);
    memcpy(&v, &bits, sizeof v);
    check_one(v);
  }
}

static void test_edges(void **state)
{
  static const double e[] = {
    0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, 1e-7, 9.999999999999999e-7, 1e15 + 0.5,
    1234567890123456.5, 4503599627370495.5, 9007199254740991.0, 9007199254740993.0,
    999999999999999.9, 99999999999999.99, 0.9999999999999999, 9.999999999999998,
    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e21, 1e22, 1e23, 123456789.125,
  };
  for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
    check_one(e[i]);
    check_one(nextafter(e[i], 0));
    check_one(nextafter(e[i], INFINITY));
  }
  for (int k = -30; k <= 30; k++) {
    double p = pow(10, k);
    check_one(p);
    check_one(nextafter(p, 0));
    check_one(nextafter(p, INFINITY));
  }
}

/* Decimals of 1 to 17 significant digits at every decade the plain
 * notation uses, both signs: the direct path's 15-digit form and the
 * integer shortcut, and their borders (1e-6, 1e15, 1e21). */
static void test_decimal_shapes(void **state)
{
  for (int i = 0; i < 120000; i++) {
    int nd = 1 + (int)(rnd() % 17);
    uint64_t m = rnd() % 100000000000000000ULL;
    while (m >= 10 && m >= (uint64_t)pow(10, nd))
      m /= 10;
    int e = (int)(rnd() % 34) - 12;
    double v = (double)m * pow(10, e - nd);
    check_one(v);
    check_one(-v);
    check_one(nextafter(v, INFINITY));
    check_one(nextafter(v, 0));
    check_one(floor(v));
  }
  static const double borders[] = {1e-6, 1e-5, 0.1, 1, 999999999999999.0, 999999999999999.9,
                                   1e15, 1e15 + 1, 1e16, 1e21, 9.99999e-7, 4503599627370496.0};
  for (size_t i = 0; i < sizeof borders / sizeof borders[0]; i++) {
    for (double v = borders[i], k = 0; k < 40; k++, v = nextafter(v, INFINITY)) {
      check_one(v);
      check_one(-v);
    }
    for (double v = borders[i], k = 0; k < 40; k++, v = nextafter(v, 0))
      check_one(v);
  }
  /* integers of every length, and powers of two */
  for (int i = 0; i < 20000; i++) {
    check_one((double)(rnd() >> (rnd() % 64)));
    check_one(ldexp(1, (int)(rnd() % 2098) - 1074));
  }
  static const double special[] = {0.0, -0.0, NAN, -NAN, INFINITY, -INFINITY, 5e-324, -5e-324,
                                    2.2250738585072009e-308, DBL_MAX, -DBL_MAX, DBL_MIN};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
    check_one(special[i]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_edges),
    cmocka_unit_test(test_query_like_values),
    cmocka_unit_test(test_bit_patterns),
    cmocka_unit_test(test_decimal_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, free_point_buf);
}
