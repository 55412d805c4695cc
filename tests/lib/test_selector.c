/* test_selector.c — lib/lk_selector: the shared `{name op "value", ...}`
 * parser in its PromQL and LogQL dialects: matcher triples, string escapes,
 * where each dialect differs (trailing comma, quoted names, unknown escapes,
 * raw newlines), error codes with their positions, the matcher cap, a
 * callback that stops the parse, and no read past the terminator of any
 * truncated input (guard page). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "lib/lk_err.h"
#include "lib/lk_selector.h"
#include "tests/lib/guard.h"

typedef struct got {
  lk_sel_matcher m[8];
  size_t n;
  size_t stop_at; /* the callback fails on this matcher (1-based); 0: never */
} got;

static int keep(void *ctx, const lk_sel_matcher *m)
{
  got *g = ctx;
  if (g->stop_at && g->n + 1 == g->stop_at)
    return -77;
  g->m[g->n++] = *m;
  return 0;
}

/* Parses s (which must start with '{'); returns the result, fills g and e. */
static int parse(enum lk_sel_dialect dl, const char *s, size_t max, lk_arena *a, got *g, lk_sel_err *e,
                 const char **end)
{
  const char *p = s;
  int rc = lk_sel_braces(dl, &p, max, a, keep, g, e);
  if (end)
    *end = p;
  return rc;
}

static void test_matchers_both_dialects(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(1024);
  for (int dl = LK_SEL_PROMQL; dl <= LK_SEL_LOGQL; dl++) {
    got g = {0};
    lk_sel_err e;
    const char *s = "{ job = \"api\",env!=`pr\\od` , path=~\"/a.*\",code!~\"5..\"} rest", *end;
    assert_int_equal(parse((enum lk_sel_dialect)dl, s, 8, a, &g, &e, &end), 0);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.m[0].name, "job");
    assert_string_equal(g.m[0].value, "api");
    assert_int_equal(g.m[0].op, LK_SEL_EQ);
    assert_ptr_equal(g.m[0].value_at, strchr(s, '"'));
    assert_string_equal(g.m[1].value, "pr\\od"); /* raw: no escapes */
    assert_int_equal(g.m[1].op, LK_SEL_NE);
    assert_int_equal(g.m[2].op, LK_SEL_RE);
    assert_int_equal(g.m[3].op, LK_SEL_NRE);
    assert_string_equal(end, " rest");
  }
  lk_arena_free(a);
}

static void test_dialect_differences(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(1024);
  got g = {0};
  lk_sel_err e;
  /* trailing comma: PromQL yes, LogQL wants another matcher */
  assert_int_equal(parse(LK_SEL_PROMQL, "{a=\"1\",}", 8, a, &g, &e, NULL), 0);
  const char *s = "{a=\"1\", }";
  g.n = 0;
  assert_int_equal(parse(LK_SEL_LOGQL, s, 8, a, &g, &e, NULL), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_NAME);
  assert_ptr_equal(e.at, s + 8);
  /* quoted names and the bare quoted metric name: PromQL only */
  g.n = 0;
  assert_int_equal(parse(LK_SEL_PROMQL, "{\"my.metric\", \"a.b\"='v'}", 8, a, &g, &e, NULL), 0);
  assert_string_equal(g.m[0].name, "__name__");
  assert_string_equal(g.m[0].value, "my.metric");
  assert_string_equal(g.m[1].name, "a.b");
  assert_string_equal(g.m[1].value, "v");
  g.n = 0;
  assert_int_equal(parse(LK_SEL_LOGQL, "{\"a\"=\"v\"}", 8, a, &g, &e, NULL), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_NAME);
  /* escapes: Go set (PromQL) versus LogQL's, which keeps unknown ones */
  const char *out;
  const char *p = "\"\\x41\\101\\u00e9\\U0001F600\\a\"";
  assert_int_equal(lk_sel_string(LK_SEL_PROMQL, &p, a, &out, NULL, &e), 0);
  assert_string_equal(out, "AA\xc3\xa9\xf0\x9f\x98\x80\a");
  p = "\"\\.\\u00e9\\n\"";
  size_t len;
  assert_int_equal(lk_sel_string(LK_SEL_LOGQL, &p, a, &out, &len, &e), 0);
  assert_string_equal(out, "\\.\xc3\xa9\n");
  assert_int_equal(len, 5);
  p = "\"\\.\"";
  assert_int_equal(lk_sel_string(LK_SEL_PROMQL, &p, a, &out, NULL, &e), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_ESCAPE);
  /* raw newline: LogQL keeps it, PromQL calls the string unterminated */
  s = "\"a\nb\"";
  p = s;
  assert_int_equal(lk_sel_string(LK_SEL_LOGQL, &p, a, &out, NULL, &e), 0);
  assert_string_equal(out, "a\nb");
  p = s;
  assert_int_equal(lk_sel_string(LK_SEL_PROMQL, &p, a, &out, NULL, &e), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_UNTERMINATED);
  assert_ptr_equal(e.at, s + 2);
  /* single quotes: PromQL only */
  p = "'x'";
  assert_int_equal(lk_sel_string(LK_SEL_LOGQL, &p, a, &out, NULL, &e), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_STRING);
  lk_arena_free(a);
}

static void test_errors_and_positions(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(1024);
  static const struct {
    int dl;
    const char *s;
    enum lk_sel_errc code;
    long at;
  } cases[] = {
      {LK_SEL_PROMQL, "{a=\"x", LK_SEL_E_UNTERMINATED, 5}, /* PromQL: where it ran out */
      {LK_SEL_LOGQL, "{a=\"x", LK_SEL_E_UNTERMINATED, 3},  /* LogQL: at the quote */
      {LK_SEL_PROMQL, "{a=\"\\xZ1\"}", LK_SEL_E_ESCAPE_CHAR, 6},
      {LK_SEL_LOGQL, "{a=\"\\uZZZZ\"}", LK_SEL_E_ESCAPE_CHAR, 6},
      {LK_SEL_PROMQL, "{a=\"\\ud800\"}", LK_SEL_E_CODEPOINT, 10},
      {LK_SEL_PROMQL, "{a=\"\\400\"}", LK_SEL_E_OCTAL, 8},
      {LK_SEL_PROMQL, "{a=\"\xff\"}", LK_SEL_E_UTF8, 6},
      {LK_SEL_PROMQL, "{a ~ \"x\"}", LK_SEL_E_OP, 3},
      {LK_SEL_LOGQL, "{a=\"x\" b=\"y\"}", LK_SEL_E_SEP, 7},
      {LK_SEL_PROMQL, "{a=x}", LK_SEL_E_STRING, 3},
      {LK_SEL_PROMQL, "{9=\"x\"}", LK_SEL_E_NAME, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    got g = {0};
    lk_sel_err e = {0};
    assert_int_equal(parse((enum lk_sel_dialect)cases[i].dl, cases[i].s, 8, a, &g, &e, NULL), LK_EPARSE);
    assert_int_equal(e.code, cases[i].code);
    assert_int_equal(e.at - cases[i].s, cases[i].at);
  }
  lk_arena_free(a);
}

static void test_cap_and_callback_stop(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(1024);
  lk_sel_err e;
  /* PromQL skips blanks before reporting the cap; LogQL reports right after the comma */
  const char *s = "{a=\"1\", b=\"2\"}";
  got g = {0};
  assert_int_equal(parse(LK_SEL_PROMQL, s, 1, a, &g, &e, NULL), LK_EPARSE);
  assert_int_equal(e.code, LK_SEL_E_TOO_MANY);
  assert_int_equal(e.at - s, 8);
  g.n = 0;
  assert_int_equal(parse(LK_SEL_LOGQL, s, 1, a, &g, &e, NULL), LK_EPARSE);
  assert_int_equal(e.at - s, 7);
  g.n = 0;
  assert_int_equal(parse(LK_SEL_LOGQL, "{a=\"1\"}", 1, a, &g, &e, NULL), 0);
  /* a callback failure comes back unchanged, with no position */
  got h = {.stop_at = 2};
  assert_int_equal(parse(LK_SEL_LOGQL, s, 8, a, &h, &e, NULL), -77);
  assert_null(e.at);
  assert_int_equal(h.n, 1);
  lk_arena_free(a);
}

/* Every prefix of inputs that end inside escapes, strings and operators,
 * NUL-terminated right before a guard page, in both dialects. */
static void test_truncated_inputs_guard_page(void **state)
{
  (void)state;
  static const char *const inputs[] = {
      "{a=\"x\\u00e9\\U0001F600\\x41\\101\", b!~'y\\'z', \"q.n\"=~`r`, c!=\"\\t\"}",
      "{ job = \"\\uZZ\", x=\"\\",
  };
  lk_arena *a = lk_arena_new(1024);
  size_t parsed = 0;
  for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    size_t len = strlen(inputs[k]);
    for (size_t cut = 1; cut <= len; cut++) {
      char tmp[128];
      memcpy(tmp, inputs[k], cut);
      tmp[cut] = 0;
      guard_buf g;
      assert_int_equal(guard_init(&g, tmp, cut + 1), 0);
      for (int dl = LK_SEL_PROMQL; dl <= LK_SEL_LOGQL; dl++) {
        got r = {0};
        lk_sel_err e;
        const char *p = (const char *)g.data;
        int rc = lk_sel_braces((enum lk_sel_dialect)dl, &p, 8, a, keep, &r, &e);
        parsed += rc == 0;
        if (rc)
          assert_true(e.at >= (const char *)g.data && e.at <= (const char *)g.data + cut + 1);
      }
      guard_fini(&g);
    }
  }
  assert_int_equal(parsed, 1); /* only the whole first input, in PromQL */
  lk_arena_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matchers_both_dialects),
      cmocka_unit_test(test_dialect_differences),
      cmocka_unit_test(test_errors_and_positions),
      cmocka_unit_test(test_cap_and_callback_stop),
      cmocka_unit_test(test_truncated_inputs_guard_page),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
