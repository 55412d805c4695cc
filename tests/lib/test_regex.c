/* test_regex.c — lib/lk_regex (RE2): the Go-answer table (regex_cases.h) in
 * both modes, capture spans and named groups (both spellings), subjects
 * without a NUL, matches-empty, the literal-alternation fast path, compile
 * errors naming the offending part and its offset, the required-literal
 * walker, and linear time on inputs that make backtracking engines explode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_alloc.h"
#include "lib/lk_regex.h"
#include "tests/lib/regex_cases.h"

static lk_regex *must_compile(const char *re, enum lk_regex_mode mode)
{
  lk_regex *r = NULL;
  lk_diag d = {0};
  if (lk_regex_compile(re, mode, &r, &d))
    fail_msg("compile /%s/: %s", re, d.msg);
  return r;
}

static bool span_is(const char *in, lk_regex_span s, const char *want)
{
  if (!want)
    return s.start < 0;
  return s.start >= 0 && (size_t)(s.end - s.start) == strlen(want) &&
         !memcmp(in + s.start, want, strlen(want));
}

static void test_table(void **state)
{
  assert_true(RX_NCASES >= 100);
  for (size_t i = 0; i < RX_NCASES; i++) {
    const rx_case *c = &rx_cases[i];
    size_t n = strlen(c->in);
    lk_regex *a = must_compile(c->re, LK_REGEX_ANCHORED);
    if (lk_regex_match(a, c->in, n) != c->full)
      fail_msg("row %zu: anchored /%s/ on \"%s\": want %d", i, c->re, c->in, c->full);
    lk_regex_free(a);
    lk_regex *u = must_compile(c->re, LK_REGEX_UNANCHORED);
    lk_regex_span m[2];
    bool hit = lk_regex_find(u, c->in, n, m, 2);
    if (hit != (c->match != NULL) || lk_regex_match(u, c->in, n) != hit)
      fail_msg("row %zu: /%s/ on \"%s\": match %d", i, c->re, c->in, hit);
    if (hit && (!span_is(c->in, m[0], c->match) || !span_is(c->in, m[1], c->g1)))
      fail_msg("row %zu: /%s/ on \"%s\": [%ld,%ld) group 1 [%ld,%ld)", i, c->re, c->in, m[0].start,
               m[0].end, m[1].start, m[1].end);
    lk_regex_free(u);
  }
}

static void test_groups(void **state)
{
  lk_regex *r = must_compile("(?P<user>\\w+)@(\\w+)\\.(?<tld>[a-z]+)", LK_REGEX_UNANCHORED);
  assert_int_equal(lk_regex_groups(r), 3);
  assert_string_equal(lk_regex_group_name(r, 1), "user");
  assert_null(lk_regex_group_name(r, 2));
  assert_string_equal(lk_regex_group_name(r, 3), "tld");
  assert_null(lk_regex_group_name(r, 0));
  assert_null(lk_regex_group_name(r, 4));
  assert_int_equal(lk_regex_group_index(r, "tld"), 3);
  assert_int_equal(lk_regex_group_index(r, "nope"), 0);
  lk_regex_free(r);
  r = must_compile("(?P<n>a)(?<n>b)", LK_REGEX_UNANCHORED); /* Go allows a name twice: leftmost wins */
  assert_int_equal(lk_regex_group_index(r, "n"), 1);
  assert_string_equal(lk_regex_group_name(r, 2), "n");
  lk_regex_free(r);
  r = must_compile("(?P<user>\\w+)@(\\w+)\\.(?<tld>[a-z]+)", LK_REGEX_UNANCHORED);
  /* the subject is not NUL-terminated: the match must stop at n */
  const char buf[] = "to bob@example.orgXXXX";
  lk_regex_span m[5];
  assert_true(lk_regex_find(r, buf, sizeof buf - 5, m, 5));
  assert_int_equal(m[0].start, 3);
  assert_int_equal(m[3].end, (long)sizeof buf - 5);
  assert_int_equal(m[4].start, -1); /* beyond the groups */
  assert_false(lk_regex_match(r, buf, 6));
  lk_regex_free(r);
  /* (?<n> inside a class or escaped is not a named group */
  r = must_compile("[(?<x>]\\(?<y>", LK_REGEX_UNANCHORED);
  assert_int_equal(lk_regex_groups(r), 0);
  assert_true(lk_regex_match(r, "<(<y>", 5));
  lk_regex_free(r);
  /* more groups than the shim keeps on its stack */
  r = must_compile("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)(p)(q)(r)(s)(t)", LK_REGEX_ANCHORED);
  lk_regex_span big[21];
  assert_true(lk_regex_find(r, "abcdefghijklmnopqrst", 20, big, 21));
  assert_int_equal(big[20].start, 19);
  lk_regex_free(r);
}

static void test_empty_and_alternatives(void **state)
{
  static const struct { const char *re; bool empty; size_t nalts; } rows[] = {
      {".*", true, 0}, {"a+", false, 0}, {"a|b|c", false, 3}, {"api|", true, 2},
      {"", true, 1},   {"x?", true, 0},  {"foo.bar|x", false, 0}, {"\xc3\xa9|e", false, 2},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    lk_regex *r = must_compile(rows[i].re, LK_REGEX_ANCHORED);
    assert_int_equal(lk_regex_matches_empty(r), rows[i].empty);
    size_t n;
    const char *const *alts = lk_regex_alternatives(r, &n);
    assert_int_equal(n, rows[i].nalts);
    assert_true((alts != NULL) == (rows[i].nalts > 0));
    lk_regex_free(r);
  }
  lk_regex *r = must_compile("a|b", LK_REGEX_UNANCHORED); /* alternatives are anchored-only */
  size_t n;
  assert_null(lk_regex_alternatives(r, &n));
  lk_regex_free(r);
}

/* Anchored matching checks a literal prefix before RE2; lk_regex_find always
 * runs RE2, so the two must agree — on quantified, escaped and multibyte
 * prefix atoms especially. */
static void test_prefix_check(void **state)
{
  static const struct { const char *re, *in; bool full; } rows[] = {
      {"ab+c", "abbbc", true},    {"ab+c", "ac", false},      {"ab?c", "ac", true},
      {"ab{0}c", "ac", true},     {"a{2}", "aa", true},       {"\xc3\xa9+x", "\xc3\xa9\xc3\xa9x", true},
      {"a\\.b.*", "a.bc", true}, {"a\\.b.*", "axbc", false}, {"a\\bc", "abc", false},
      {"^abc", "abc", true},      {"a(?i)bc", "aBC", true},   {"ab(c|d)", "abd", true},
      {"\\Qa.\\E", "a.", true}, {"host-0[0-4].*", "host-03:9100", true},
      {"host-0[0-4].*", "host", false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    lk_regex *r = must_compile(rows[i].re, LK_REGEX_ANCHORED);
    size_t n = strlen(rows[i].in);
    lk_regex_span m[1];
    if (lk_regex_match(r, rows[i].in, n) != rows[i].full || lk_regex_find(r, rows[i].in, n, m, 1) != rows[i].full)
      fail_msg("/%s/ on \"%s\": want %d", rows[i].re, rows[i].in, rows[i].full);
    lk_regex_free(r);
  }
}

static void expect_error(const char *re, int code, const char *want)
{
  lk_regex *r = (lk_regex *)1;
  lk_diag d = {0};
  assert_int_equal(lk_regex_compile(re, LK_REGEX_ANCHORED, &r, &d), code);
  assert_null(r);
  if (!strstr(d.msg, want))
    fail_msg("/%s/: \"%s\" lacks \"%s\"", re, d.msg, want);
}

static void test_errors(void **state)
{
  expect_error("(", LK_EPARSE, "error parsing regexp: missing closing ): `(` (at offset 0)");
  expect_error("ab(c", LK_EPARSE, "missing closing )");
  expect_error("a)", LK_EPARSE, "unexpected )");
  expect_error("x[a", LK_EPARSE, "missing closing ]: `[a` (at offset 1)");
  expect_error("ok\\8", LK_EPARSE, "invalid escape sequence: `\\8` (at offset 2)");
  expect_error("a**", LK_EPARSE, "invalid nested repetition operator: `**` (at offset 1)");
  expect_error("*a", LK_EPARSE, "missing argument to repetition operator: `*`");
  expect_error("x{1001}", LK_EPARSE, "invalid repeat count: `{1001}` (at offset 1)");
  expect_error("[z-a]", LK_EPARSE, "invalid character class range: `z-a`");
  expect_error("(?<a-b>x)", LK_EPARSE, "invalid named capture: `(?<a-b>`");
  expect_error("(?=x)", LK_EPARSE, "invalid or unsupported Perl syntax: `(?=`");
  expect_error("\\p{Klingon}", LK_EPARSE, "invalid character class range: `\\p{Klingon}`");
  expect_error("a\\", LK_EPARSE, "trailing backslash at end of expression");
  expect_error("\xff", LK_EPARSE, "invalid UTF-8");
  expect_error("((a{100}){100}){100}", LK_EPARSE, "invalid repeat count: `{100}`");
  expect_error("\\pL{1000}", LK_ELIMIT, "expression too large");
  lk_diag d = {0};
  lk_regex *r;
  assert_int_equal(lk_regex_compile("a(b", LK_REGEX_UNANCHORED, &r, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, "invalid regular expression \"a(b\""));
}

typedef struct lits {
  char s[8][64];
  size_t n;
} lits;

static void keep_literal(void *ctx, const char *p, size_t n)
{
  lits *l = ctx;
  assert_true(l->n < 8 && n < 64);
  memcpy(l->s[l->n], p, n);
  l->s[l->n++][n] = 0;
}

static void test_literals(void **state)
{
  static const struct { const char *re; const char *want; } rows[] = {
      {"error: (\\d+) ms", "error: | ms"},
      {"\\d{3}", ""},                      /* the quantifier of \d is no literal */
      {"foo|bar", ""},                     /* top-level alternation */
      {"(?i)foo", ""},                     /* case folding */
      {"ab(?i:cd)ef", ""},
      {"a\\.b\\pLcd", "a.b|cd"},
      {"\\p{Greek}xy", "xy"},
      {"x\\x41y", "x|y"},
      {"caf\xc3\xa9?s", "caf|s"},          /* a quantifier takes the whole rune */
      {"ab+c", "ab|c"},
      {"[(|]xyz", "xyz"},                  /* '|' in a class is no alternation */
      {"\\Qa|b\\Ecd", "cd"},
      {"(x|y)zz", "zz"},
      {"a{2}bc", "bc"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    lits l = {.n = 0};
    lk_regex_literals(rows[i].re, keep_literal, &l);
    char got[256] = "";
    for (size_t k = 0; k < l.n; k++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? "|" : "", l.s[k]);
    if (strcmp(got, rows[i].want))
      fail_msg("/%s/: literals \"%s\", want \"%s\"", rows[i].re, got, rows[i].want);
  }
}

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* (a+)+$ and (a|aa)*b over 1 MB of 'a' with a trailing 'c': exponential for
 * a backtracking engine, one linear pass for RE2. */
static void test_linear_time(void **state)
{
  size_t n = 1 << 20;
  char *s = lk_xmalloc(n);
  memset(s, 'a', n - 1);
  s[n - 1] = 'c';
  static const char *res[] = {"(a+)+$", "(a|aa)*b"};
  for (size_t i = 0; i < 2; i++) {
    lk_regex *r = must_compile(res[i], LK_REGEX_UNANCHORED);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(lk_regex_match(r, s, n));
    lk_regex_span m[2];
    assert_false(lk_regex_find(r, s, n, m, 2));
    double ms = ms_since(&t0);
    if (ms > 100)
      fail_msg("/%s/ over 1 MB took %.1f ms", res[i], ms);
    lk_regex_free(r);
  }
  free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),       cmocka_unit_test(test_groups),
      cmocka_unit_test(test_empty_and_alternatives), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_literals),    cmocka_unit_test(test_linear_time),
      cmocka_unit_test(test_prefix_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
