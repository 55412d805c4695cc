/* test_selector.c — web/selector.c: the match[] series-selector parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/selector.h"

static void test_forms(void **state)
{
  lk_arena *a = lk_arena_new(1024);
  tsdb_matcher *m;
  size_t n;
  lk_diag d = {0};
  assert_int_equal(web__selector_parse("up", a, &m, &n, &d), 0);
  assert_int_equal(n, 1);
  assert_int_equal(m[0].type, TSDB_EQ);
  assert_string_equal(m[0].name, "__name__");
  assert_string_equal(m[0].value, "up");

  assert_int_equal(web__selector_parse(" node:cpu_seconds:rate5m { job = \"a\\\"b\" , mode!='idle', x=~`a\\d+`, y!~\"z|w\", } ",
                                       a, &m, &n, &d), 0);
  assert_int_equal(n, 5);
  assert_string_equal(m[0].value, "node:cpu_seconds:rate5m");
  assert_int_equal(m[1].type, TSDB_EQ);
  assert_string_equal(m[1].name, "job");
  assert_string_equal(m[1].value, "a\"b");
  assert_int_equal(m[2].type, TSDB_NE);
  assert_string_equal(m[2].value, "idle");
  assert_int_equal(m[3].type, TSDB_RE);
  assert_string_equal(m[3].value, "a\\d+"); /* raw string keeps the backslash */
  assert_int_equal(m[4].type, TSDB_NRE);

  assert_int_equal(web__selector_parse("{__name__=~\"http_.*\",code=\"200\"}", a, &m, &n, &d), 0);
  assert_int_equal(n, 2);
  assert_string_equal(m[0].name, "__name__");

  /* quoted UTF-8 names (Prometheus 3) and escapes */
  assert_int_equal(web__selector_parse("{\"my.metric\", \"label.x\"=\"\\u00e9\\x41\\101\\n\"}", a, &m, &n, &d), 0);
  assert_int_equal(n, 2);
  assert_string_equal(m[0].name, "__name__");
  assert_string_equal(m[0].value, "my.metric");
  assert_string_equal(m[1].name, "label.x");
  assert_string_equal(m[1].value, "\xc3\xa9" "AA\n");
  lk_arena_free(a);
}

static void check_err(const char *sel, const char *want)
{
  lk_arena *a = lk_arena_new(1024);
  tsdb_matcher *m = NULL;
  size_t n = 99;
  lk_diag d = {0};
  assert_int_equal(web__selector_parse(sel, a, &m, &n, &d), LK_EPARSE);
  if (!strstr(d.msg, want))
    fprintf(stderr, "%s → %s\n", sel, d.msg);
  assert_non_null(strstr(d.msg, want));
  assert_int_equal(n, 99);
  assert_null(m);
  lk_arena_free(a);
}

static void test_errors(void **state)
{
  check_err("", "1:1: parse error: unexpected end of input");
  check_err("up{", "1:4: parse error: expected a label name");
  check_err("up{job}", "1:7: parse error: expected a label matching operator");
  check_err("up{job=a}", "1:8: parse error: expected a quoted string");
  check_err("up{job=\"a}", "parse error: unterminated quoted string");
  check_err("up{job=\"a\" x=\"b\"}", "1:12: parse error: expected ',' or '}'");
  check_err("up[5m]", "1:3: parse error: unexpected characters after the selector");
  check_err("{job=\"\"}", "vector selector must contain at least one non-empty matcher");
  check_err("{job=~\".*\"}", "vector selector must contain at least one non-empty matcher");
  /* matches-empty is RE2's answer, not a list of spellings; bad regexes name the problem */
  check_err("{job=~\"(a|b)*\",x!~\"y+\"}", "vector selector must contain at least one non-empty matcher");
  check_err("{job=~\"x|(\"}", "1:7: parse error: invalid regular expression \"x|(\": error parsing regexp: "
                               "missing closing ): `x|(`");
  check_err("{job=\"\\q\"}", "unknown escape sequence");
  check_err("{job=\"\\xZZ\"}", "invalid character in escape sequence");
  check_err("{job=\"\\xff\"}", "invalid UTF-8");
  check_err("rate(up[5m])", "1:5: parse error");
}

/* Random inputs over the selector alphabet: any answer is fine, crashes and
 * over-reads (ASan) are not; each input sits at the end of its allocation. */
static void test_random(void **state)
{
  static const char alpha[] = "ab_:{}=!~\"'`\\,xu0 \n\t.";
  unsigned seed = 12345;
  lk_arena *a = lk_arena_new(1024);
  int ok = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = (size_t)(rand_r(&seed) % 24);
    char *s = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
      s[i] = alpha[(size_t)rand_r(&seed) % (sizeof alpha - 1)];
    s[len] = 0;
    tsdb_matcher *m;
    size_t n;
    lk_diag d = {0};
    if (web__selector_parse(s, a, &m, &n, &d) == 0)
      ok++;
    else
      assert_true(d.set);
    free(s);
    lk_arena_reset(a);
  }
  assert_true(ok > 0); /* some random inputs are valid selectors */
  lk_arena_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_forms),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
