/* lk_strlit.h — the bodies of Go-style quoted string literals: the one
 * unescaper behind PromQL strings (promql/lex.c), selector and LogQL strings
 * (lib/lk_selector.c) and the label sets of Loki pushes (web/api_loki.c).
 *
 * Two sets of escapes:
 * - LK_STRLIT_GO, Go's and PromQL's: \a \b \f \n \r \t \v \\ and the
 *   literal's own quote; \xHH and \NNN (octal, at most \377) give one byte;
 *   \uHHHH and \UHHHHHHHH a code point as UTF-8 (not a surrogate, at most
 *   U+10FFFF). Any other escape is an error, and so is a raw newline in a
 *   string that is not back-quoted.
 * - LK_STRLIT_LOGQL, Lookout's LogQL: \n \t \r \\ \" \' and \uHHHH as above;
 *   any other escape is kept as written, backslash included (so "\." reaches
 *   a regex unchanged); raw newlines are kept.
 * Back-quoted (raw) strings have no escapes in either set.
 * Inputs are NUL-terminated; nothing is read past the terminator.
 */
#ifndef LK_STRLIT_H
#define LK_STRLIT_H

#include <stdint.h>

#include "lib/lk_buf.h"

enum lk_strlit_set { LK_STRLIT_GO, LK_STRLIT_LOGQL };

enum lk_strlit_errc {
  LK_STRLIT_E_UNTERMINATED = 1, /* at: the NUL (or raw newline) where the string ran out */
  LK_STRLIT_E_ESCAPE,           /* unknown escape; at: its letter */
  LK_STRLIT_E_DIGIT,            /* bad digit in \x \u \U or octal; at: that digit */
  LK_STRLIT_E_CODEPOINT,        /* \u or \U beyond Unicode or a surrogate; at: past the digits */
  LK_STRLIT_E_OCTAL,            /* octal escape above \377; at: past the digits */
};

/* The literal body at *p, just past its opening quote q ('"', '\'' or '`'):
 * its value appended to b (escapes decoded), *p moved past the closing
 * quote. Returns 0, or an lk_strlit_errc with *at set (then *p and b hold
 * whatever was read). */
int lk_strlit_body(const char **p, char q, enum lk_strlit_set set, lk_buf *b, const char **at);

/* Append code point cp (at most 0x10ffff) to b as UTF-8. */
void lk_utf8_put(lk_buf *b, uint32_t cp);
/* The value of a hexadecimal digit (either case), or -1. */
int lk_hex_digit(int ch);

#endif
