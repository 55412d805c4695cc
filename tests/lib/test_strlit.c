/* test_strlit.c — lib/lk_strlit.c, the one unescaper of quoted strings:
 * every escape of both sets with its value (bytes compared, NULs
 * included), raw strings, each error with its position, and every prefix
 * of escape-heavy literals NUL-terminated right before a guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "lib/lk_strlit.h"
#include "tests/lib/guard.h"

/* Unescape the literal in src (opening quote included); 0 or the error. */
static int unquote(const char *src, enum lk_strlit_set set, lk_buf *out, const char **end,
                   const char **at)
{
  const char *p = src + 1;
  lk_buf_clear(out);
  int rc = lk_strlit_body(&p, src[0], set, out, at);
  *end = p;
  return rc;
}

static void test_values(void **state)
{
  (void)state;
  static const struct {
    enum lk_strlit_set set;
    const char *src, *want;
    size_t want_len;
  } cases[] = {
      {LK_STRLIT_GO, "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"", "\a\b\f\n\r\t\v\\\"", 9},
      {LK_STRLIT_GO, "'\\''", "'", 1},
      {LK_STRLIT_GO, "\"\\x41\\x00\\xff\"", "A\0\xff", 3},
      {LK_STRLIT_GO, "\"\\101\\000\\377\"", "A\0\xff", 3},
      {LK_STRLIT_GO, "\"\\u00e9\\U0001F600\\uFFFF\"", "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbf", 9},
      {LK_STRLIT_GO, "\"\\U0010FFFF\"", "\xf4\x8f\xbf\xbf", 4},
      {LK_STRLIT_GO, "`raw\\n\\q\n\"`", "raw\\n\\q\n\"", 9},
      {LK_STRLIT_GO, "\"Zürich\"", "Zürich", 7},
      {LK_STRLIT_LOGQL, "\"\\n\\t\\r\\\\\\\"\\'\"", "\n\t\r\\\"'", 6},
      {LK_STRLIT_LOGQL, "\"\\u00e9\"", "\xc3\xa9", 2},
      {LK_STRLIT_LOGQL, "\"\\.\\d+\\x41\\101\\a\"", "\\.\\d+\\x41\\101\\a", 15}, /* kept as written */
      {LK_STRLIT_LOGQL, "\"a\nb\"", "a\nb", 3},
      {LK_STRLIT_LOGQL, "`\\.`", "\\.", 2},
  };
  lk_buf out = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *end, *at;
    int rc = unquote(cases[i].src, cases[i].set, &out, &end, &at);
    if (rc)
      fail_msg("case %zu (%s): error %d at %td", i, cases[i].src, rc, at - cases[i].src);
    assert_int_equal(out.len, cases[i].want_len);
    assert_memory_equal(out.data, cases[i].want, cases[i].want_len);
    assert_int_equal(*end, 0); /* past the closing quote, which ends each case */
  }
  /* the body ends at the first unescaped closing quote */
  const char *end, *at;
  assert_int_equal(unquote("\"a\\\"b\" rest", LK_STRLIT_GO, &out, &end, &at), 0);
  assert_string_equal(end, " rest");
  lk_buf_fini(&out);
}

static void test_errors(void **state)
{
  (void)state;
  static const struct {
    enum lk_strlit_set set;
    const char *src;
    int code;
    long at;
  } cases[] = {
      {LK_STRLIT_GO, "\"abc", LK_STRLIT_E_UNTERMINATED, 4},
      {LK_STRLIT_GO, "\"a\nb\"", LK_STRLIT_E_UNTERMINATED, 2},
      {LK_STRLIT_GO, "\"a\\", LK_STRLIT_E_UNTERMINATED, 3},
      {LK_STRLIT_LOGQL, "\"a\\", LK_STRLIT_E_UNTERMINATED, 3},
      {LK_STRLIT_GO, "`abc", LK_STRLIT_E_UNTERMINATED, 4},
      {LK_STRLIT_GO, "\"\\q\"", LK_STRLIT_E_ESCAPE, 2},
      {LK_STRLIT_GO, "\"\\'\"", LK_STRLIT_E_ESCAPE, 2},  /* the other quote: Go refuses */
      {LK_STRLIT_GO, "'\\\"'", LK_STRLIT_E_ESCAPE, 2},
      {LK_STRLIT_GO, "\"\\xZ1\"", LK_STRLIT_E_DIGIT, 3},
      {LK_STRLIT_GO, "\"\\x4\"", LK_STRLIT_E_DIGIT, 4},
      {LK_STRLIT_GO, "\"\\18\"", LK_STRLIT_E_DIGIT, 3},
      {LK_STRLIT_LOGQL, "\"\\uZZZZ\"", LK_STRLIT_E_DIGIT, 3},
      {LK_STRLIT_GO, "\"\\ud800\"", LK_STRLIT_E_CODEPOINT, 7},
      {LK_STRLIT_LOGQL, "\"\\udfff\"", LK_STRLIT_E_CODEPOINT, 7},
      {LK_STRLIT_GO, "\"\\U00110000\"", LK_STRLIT_E_CODEPOINT, 11},
      {LK_STRLIT_GO, "\"\\400\"", LK_STRLIT_E_OCTAL, 5},
  };
  lk_buf out = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *end, *at = NULL;
    int rc = unquote(cases[i].src, cases[i].set, &out, &end, &at);
    if (rc != cases[i].code || at - cases[i].src != cases[i].at)
      fail_msg("case %zu (%s): error %d at %td, want %d at %ld", i, cases[i].src, rc,
               at - cases[i].src, cases[i].code, cases[i].at);
  }
  lk_buf_fini(&out);
}

/* Every prefix, NUL-terminated right before a PROT_NONE page: no over-read;
 * a cut literal is unterminated (or a cut escape's bad digit). */
static void test_prefixes_guard_page(void **state)
{
  (void)state;
  static const char *const inputs[] = {
      "\"x\\u00e9\\U0001F600\\x41\\101\\n\\\"\"",
      "'\\'\\t\\377'",
      "`raw\\`",
  };
  lk_buf out = {0};
  for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    size_t len = strlen(inputs[k]);
    for (size_t cut = 1; cut <= len; cut++) {
      guard_buf g;
      char tmp[64];
      memcpy(tmp, inputs[k], cut);
      tmp[cut] = 0;
      assert_int_equal(guard_init(&g, tmp, cut + 1), 0);
      for (int set = LK_STRLIT_GO; set <= LK_STRLIT_LOGQL; set++) {
        const char *end, *at = NULL;
        int rc = unquote((const char *)g.data, (enum lk_strlit_set)set, &out, &end, &at);
        if (cut == len)
          assert_int_equal(rc, 0);
        else
          assert_true(rc == LK_STRLIT_E_UNTERMINATED || rc == LK_STRLIT_E_DIGIT);
        if (rc)
          assert_true(at >= (const char *)g.data && at <= (const char *)g.data + cut);
      }
      guard_fini(&g);
    }
  }
  lk_buf_fini(&out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_values),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_prefixes_guard_page),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
