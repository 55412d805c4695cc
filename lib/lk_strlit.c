/* lk_strlit.c — quoted string literal bodies with Go's escapes (or
 * Lookout's LogQL subset of them); see lk_strlit.h.
 *
 * Why one place: PromQL's lexer, the selector parser and the Loki push API
 * each had their own loop, and they had drifted (different escape sets,
 * error positions, code point checks).
 */
#include "lib/lk_strlit.h"

#include <stdbool.h>
#include <string.h>

void lk_utf8_put(lk_buf *b, uint32_t cp)
{
  if (cp < 0x80) {
    lk_buf_putc(b, (uint8_t)cp);
  } else if (cp < 0x800) {
    lk_buf_putc(b, (uint8_t)(0xc0 | cp >> 6));
    lk_buf_putc(b, (uint8_t)(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    lk_buf_putc(b, (uint8_t)(0xe0 | cp >> 12));
    lk_buf_putc(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
    lk_buf_putc(b, (uint8_t)(0x80 | (cp & 0x3f)));
  } else {
    lk_buf_putc(b, (uint8_t)(0xf0 | cp >> 18));
    lk_buf_putc(b, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
    lk_buf_putc(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
    lk_buf_putc(b, (uint8_t)(0x80 | (cp & 0x3f)));
  }
}

int lk_hex_digit(int ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* \x \u \U (base 16) or octal (base 8): ndig digits at *p. */
static int numeric_escape(const char **p, char e, lk_buf *b, const char **at)
{
  int octal = e >= '0' && e <= '7';
  int ndig = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 3;
  int base = octal ? 8 : 16;
  const char *s = *p - octal; /* an octal escape's letter is its first digit */
  uint32_t v = 0;
  for (int i = 0; i < ndig; i++, s++) {
    int h = lk_hex_digit((unsigned char)*s);
    if (h < 0 || h >= base) {
      *at = s;
      return LK_STRLIT_E_DIGIT;
    }
    v = v * (uint32_t)base + (uint32_t)h;
  }
  *p = *at = s;
  if (e == 'u' || e == 'U') {
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
      return LK_STRLIT_E_CODEPOINT;
    lk_utf8_put(b, v);
  } else {
    if (v > 255)
      return LK_STRLIT_E_OCTAL;
    lk_buf_putc(b, (uint8_t)v);
  }
  return 0;
}

/* One escape; *p at the letter after the backslash. */
static int escape(const char **p, char q, enum lk_strlit_set set, lk_buf *b, const char **at)
{
  static const char go_in[] = "abfnrtv\\", go_out[] = "\a\b\f\n\r\t\v\\";
  static const char lq_in[] = "ntr\\\"'", lq_out[] = "\n\t\r\\\"'";
  const char *in = set == LK_STRLIT_GO ? go_in : lq_in, *out = set == LK_STRLIT_GO ? go_out : lq_out;
  char e = **p;
  if (!e) {
    *at = *p;
    return LK_STRLIT_E_UNTERMINATED;
  }
  (*p)++;
  const char *k = strchr(in, e);
  if (k || e == q) {
    lk_buf_putc(b, (uint8_t)(k ? out[k - in] : e));
    return 0;
  }
  bool numeric = e == 'u' || (set == LK_STRLIT_GO && (e == 'x' || e == 'U' || (e >= '0' && e <= '7')));
  if (numeric)
    return numeric_escape(p, e, b, at);
  if (set == LK_STRLIT_LOGQL) {
    lk_buf_putc(b, '\\');
    lk_buf_putc(b, (uint8_t)e);
    return 0;
  }
  *at = *p - 1;
  return LK_STRLIT_E_ESCAPE;
}

int lk_strlit_body(const char **p, char q, enum lk_strlit_set set, lk_buf *b, const char **at)
{
  for (;;) {
    char ch = **p;
    if (!ch || (ch == '\n' && q != '`' && set == LK_STRLIT_GO)) {
      *at = *p;
      return LK_STRLIT_E_UNTERMINATED;
    }
    (*p)++;
    if (ch == q)
      return 0;
    if (ch == '\\' && q != '`') {
      int rc = escape(p, q, set, b, at);
      if (rc)
        return rc;
      continue;
    }
    lk_buf_putc(b, (uint8_t)ch);
  }
}
