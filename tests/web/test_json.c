/* test_json.c — lib/lk_json.c against the exact examples of
 * specs/prometheus-facts.md §1 (sample values, point timestamps, scalar
 * notation) and JSON string escaping; point timestamps against a printf
 * reference; the batched point writer against the per-part writers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#include "lib/lk_json.h"

static void check_value(double v, const char *want)
{
  lk_buf b = {0};
  lk_json_sample_value(&b, v);
  assert_string_equal((char *)b.data, want);
  lk_buf_fini(&b);
}

static void check_ts(int64_t ms, const char *want)
{
  lk_buf b = {0};
  lk_json_sample_ts(&b, ms);
  assert_string_equal((char *)b.data, want);
  lk_buf_fini(&b);
}

static void test_sample_values(void **state)
{
  check_value(0.1 + 0.2, "\"0.30000000000000004\"");
  check_value(1e-7, "\"1e-07\"");
  check_value(1.5e21, "\"1.5e+21\"");
  check_value(1e21, "\"1e+21\"");
  check_value(1e20, "\"100000000000000000000\"");
  check_value(1e-6, "\"0.000001\"");
  check_value(1.234e-6, "\"0.000001234\"");
  check_value(9.99e-7, "\"9.99e-07\"");
  check_value(1e-100, "\"1e-100\"");
  check_value(1, "\"1\"");
  check_value(100, "\"100\"");
  check_value(-2.5, "\"-2.5\"");
  check_value(0, "\"0\"");
  check_value(-0.0, "\"-0\"");
  check_value(123456789.125, "\"123456789.125\"");
  check_value(1.7976931348623157e308, "\"1.7976931348623157e+308\"");
  check_value(5e-324, "\"5e-324\"");
  check_value(NAN, "\"NaN\"");
  check_value(INFINITY, "\"+Inf\"");
  check_value(-INFINITY, "\"-Inf\"");
}

static void test_point_timestamps(void **state)
{
  check_ts(1435781451781, "1435781451.781");
  check_ts(1000050, "1000.050");
  check_ts(1435781451000, "1435781451");
  check_ts(5, "0.005");
  check_ts(0, "0");
  check_ts(-1500, "-1.500");
  lk_buf b = {0};
  lk_json_point(&b, 1000050, 1);
  assert_string_equal((char *)b.data, "[1000.050,\"1\"]");
  lk_buf_fini(&b);
}

static void test_scalar(void **state)
{
  lk_buf b = {0};
  lk_json_scalar_ts(&b, 1000050);
  assert_string_equal((char *)b.data, "1000.05");
  lk_buf_clear(&b);
  lk_json_scalar_ts(&b, 1435781451000);
  assert_string_equal((char *)b.data, "1435781451");
  lk_buf_clear(&b);
  lk_json_scalar_value(&b, 1e-7);
  assert_string_equal((char *)b.data, "\"0.0000001\"");
  lk_buf_clear(&b);
  lk_json_scalar_value(&b, 1.5e21);
  assert_string_equal((char *)b.data, "\"1500000000000000000000\"");
  lk_buf_clear(&b);
  lk_json_scalar_value(&b, 0.1 + 0.2);
  assert_string_equal((char *)b.data, "\"0.30000000000000004\"");
  lk_buf_fini(&b);
  char tmp[LK_FMT_FLOAT_MAX];
  /* the smallest denormal in plain notation fits the buffer */
  size_t n = lk_fmt_plain(tmp, 5e-324);
  assert_int_equal(n, strlen("0.") + 323 + 1);
  assert_string_equal(tmp + n - 2, "05");
}

static void test_strings(void **state)
{
  lk_buf b = {0};
  lk_json_str(&b, "a\"b\\c\n\x01\t/é");
  assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\\n\\u0001\\t/é\"");
  lk_buf_clear(&b);
  lk_json_strn(&b, "x\xffy\xc3", 4); /* invalid bytes → U+FFFD */
  assert_string_equal((char *)b.data, "\"x\xef\xbf\xbdy\xef\xbf\xbd\"");
  lk_buf_clear(&b);
  lk_label ls[2] = {{"__name__", "up"}, {"job", "a\"b"}};
  lk_json_labels(&b, ls, 2);
  assert_string_equal((char *)b.data, "{\"__name__\":\"up\",\"job\":\"a\\\"b\"}");
  lk_buf_fini(&b);
}

/* Significant digits of the shortest round-tripping %e form, by search. */
static int reference_digits(double v)
{
  char tmp[48];
  for (int prec = 0; prec <= 16; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    if (strtod(tmp, NULL) == v)
      return prec + 1;
  }
  return 17;
}

static int significant_digits(const char *s)
{
  int n = 0, seen = 0, zeros = 0;
  for (; *s && *s != 'e'; s++) {
    if (*s < '0' || *s > '9')
      continue;
    if (*s == '0' && !seen)
      continue;
    seen = 1;
    if (*s == '0') {
      zeros++;
    } else {
      n += zeros + 1;
      zeros = 0;
    }
  }
  return n ? n : 1;
}

/* Property: over random bit patterns and random short decimals, the
 * formatted value reads back bit-exactly and is as short as the search. */
static void test_shortest_property(void **state)
{
  (void)state;
  srand(11);
  for (int i = 0; i < 20000; i++) {
    double v;
    if (i & 1) {
      uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
      memcpy(&v, &bits, sizeof v);
      if (!isfinite(v))
        continue;
    } else {
      v = (double)(rand() % 100000) / pow(10, rand() % 12);
    }
    char out[LK_FMT_FLOAT_MAX];
    size_t n = lk_fmt_value(out, v);
    out[n] = 0;
    double back = strtod(out, NULL);
    assert_memory_equal(&back, &v, sizeof v);
    if (v != 0)
      assert_int_equal(significant_digits(out), reference_digits(fabs(v)));
  }
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint64_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Point timestamps: seconds, then ".mmm" only for non-zero milliseconds. */
static void ref_ts(char *out, size_t n, int64_t ms)
{
  uint64_t a = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
  const char *sign = ms < 0 ? "-" : "";
  if (a % 1000)
    snprintf(out, n, "%s%llu.%03u", sign, (unsigned long long)(a / 1000), (unsigned)(a % 1000));
  else
    snprintf(out, n, "%s%llu", sign, (unsigned long long)(a / 1000));
}

static void test_timestamps_reference(void **state)
{
  static const int64_t fixed[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, -1, 1, 999, 1000, 1001,
                                  -999, -1000, 9999999999999999, 10000000000000000, 99999999999,
                                  100000000000, 100000000000000000};
  char want[40];
  for (int i = 0; i < 200000; i++) {
    int64_t ms;
    if (i < (int)(sizeof fixed / sizeof fixed[0])) {
      ms = fixed[i];
    } else {
      uint64_t r = rnd();
      ms = (int64_t)(r >> (r % 64)); /* every length */
      if (i & 1)
        ms = -ms;
      if (i & 2)
        ms -= ms % 1000;
    }
    ref_ts(want, sizeof want, ms);
    check_ts(ms, want);
  }
}

/* One value of a varied mix: decimals of 1–17 digits at many decades,
 * integers, random bit patterns (denormals, exponent form), specials. */
static double mixed_value(void)
{
  static const double special[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 5e-324, 1e-6, 1e15, 1e21};
  uint64_t r = rnd();
  double v;
  switch (r % 5) {
  case 0:
    return special[(r >> 8) % (sizeof special / sizeof special[0])];
  case 1:
    return (double)(int64_t)(rnd() >> (r % 64)) * ((r & 256) ? -1 : 1);
  case 2: {
    uint64_t bits = rnd();
    memcpy(&v, &bits, sizeof v);
    return v;
  }
  default:
    return (double)(rnd() % 100000000000000000ULL >> ((r >> 8) % 50)) * pow(10, (int)((r >> 16) % 40) - 25);
  }
}

/* The batch equals '[' ts ',' "value" ']' per point joined by ',', built
 * from lk_json_sample_ts and lk_json_sample_value, appended to a buffer
 * that already holds text. The last run has the longest points (51 bytes)
 * and a length whose first reservation lands exactly on a power of two
 * (2^20), so it must grow again midway: skipping that would overflow. */
static void test_points_batch(void **state)
{
  static const size_t sizes[] = {0, 1, 7, 49, 343, 2401, 26202};
  enum { N = 26202 };
  int64_t *t = malloc(N * sizeof *t);
  double *v = malloc(N * sizeof *v);
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    bool longest = n == N;
    lk_buf got = {0}, want = {0};
    lk_buf_puts(&got, "prefix");
    lk_buf_puts(&want, "prefix");
    for (size_t i = 0; i < n; i++) {
      t[i] = longest ? INT64_MIN + 1 + (int64_t)i : (int64_t)(rnd() % 4000000000000ULL) - 100000000000;
      v[i] = longest ? -1.2345678901234567e-100 * (double)(i % 7 + 1) : mixed_value();
      if (i)
        lk_buf_putc(&want, ',');
      lk_buf_putc(&want, '[');
      lk_json_sample_ts(&want, t[i]);
      lk_buf_putc(&want, ',');
      lk_json_sample_value(&want, v[i]);
      lk_buf_putc(&want, ']');
    }
    lk_json_points(&got, t, v, n);
    assert_int_equal(got.len, want.len);
    assert_string_equal((char *)got.data, (char *)want.data);
    lk_buf_fini(&got);
    lk_buf_fini(&want);
  }
  lk_buf b = {0};
  lk_json_points(&b, t, v, 0);
  assert_int_equal(b.len, 0);
  int64_t ts[2] = {1435781451781, 5};
  double vs[2] = {0.1 + 0.2, -2.5};
  lk_json_points(&b, ts, vs, 2);
  assert_string_equal((char *)b.data, "[1435781451.781,\"0.30000000000000004\"],[0.005,\"-2.5\"]");
  lk_buf_fini(&b);
  free(t);
  free(v);
}

/* lk_fmt_exp: Go's strconv.FormatFloat(v, 'e', -1, 64) (what Prometheus
 * writes as an alert's value, and promtool's unit-test messages in 'E'). */
static void test_fmt_exp(void **state)
{
  (void)state;
  static const struct { double v; const char *go; } rows[] = {
    {0, "0e+00"}, {1, "1e+00"}, {1.5e6, "1.5e+06"}, {-2.5e-7, "-2.5e-07"}, {0.1, "1e-01"},
    {1e100, "1e+100"}, {123456789.125, "1.23456789125e+08"}, {5e-324, "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308"}, {NAN, "NaN"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char out[LK_FMT_FLOAT_MAX];
    size_t n = lk_fmt_exp(out, rows[i].v);
    assert_string_equal(out, rows[i].go);
    assert_int_equal(n, strlen(rows[i].go));
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sample_values),
    cmocka_unit_test(test_fmt_exp),
    cmocka_unit_test(test_shortest_property),
    cmocka_unit_test(test_point_timestamps),
    cmocka_unit_test(test_scalar),
    cmocka_unit_test(test_strings),
    cmocka_unit_test(test_timestamps_reference),
    cmocka_unit_test(test_points_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
