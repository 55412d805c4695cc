/* lk_selector.h — the label-matcher list `{name op "value", ...}` and the
 * quoted strings inside it, shared by the match[] selector parser
 * (web/selector.c, PromQL syntax) and the LogQL parser
 * (logstore/logql_parse.c). lib does not know tsdb or LogQL, so matchers come
 * out as name/op/value triples with this file's own operator enum and the
 * callers map them.
 *
 * Two dialects, differing exactly as the two query languages do:
 * - LK_SEL_PROMQL: whitespace is space, tab, CR and LF; strings in double or
 *   single quotes with Go escapes (lib/lk_strlit.h, LK_STRLIT_GO: no raw
 *   newline), UTF-8 checked; or back-quoted raw strings. Label names may be
 *   quoted (`{"utf8.name"="v"}`, and `{"metric.name"}` means
 *   __name__="metric.name"); a trailing comma is allowed.
 * - LK_SEL_LOGQL: whitespace is isspace(); double-quoted strings with
 *   LogQL's escapes (lib/lk_strlit.h, LK_STRLIT_LOGQL: unknown escapes kept
 *   verbatim, for regexes), or back-quoted raw strings; label names are bare
 *   identifiers; no trailing comma.
 * Errors are reported as a code plus the position they were found at; the
 * caller words them (the two languages word them differently).
 */
#ifndef LK_SELECTOR_H
#define LK_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_strlit.h"

enum lk_sel_dialect { LK_SEL_PROMQL, LK_SEL_LOGQL };
enum lk_sel_op { LK_SEL_EQ, LK_SEL_NE, LK_SEL_RE, LK_SEL_NRE };

enum lk_sel_errc {
  LK_SEL_E_STRING,       /* expected a quoted string */
  LK_SEL_E_UNTERMINATED, /* unterminated string (PromQL: at the end; LogQL: at the quote) */
  LK_SEL_E_ESCAPE,       /* unknown escape sequence (PromQL) */
  LK_SEL_E_ESCAPE_CHAR,  /* bad digit in an escape sequence */
  LK_SEL_E_CODEPOINT,    /* \u or \U beyond Unicode or a surrogate */
  LK_SEL_E_OCTAL,        /* octal escape above 255 (PromQL) */
  LK_SEL_E_UTF8,         /* string is not valid UTF-8 (PromQL) */
  LK_SEL_E_NAME,         /* expected a label name */
  LK_SEL_E_OP,           /* expected = != =~ !~ */
  LK_SEL_E_SEP,          /* expected ',' or '}' after a matcher */
  LK_SEL_E_TOO_MANY,     /* more matchers than the caller's maximum */
  LK_SEL_E_COUNT
};

typedef struct lk_sel_err {
  enum lk_sel_errc code;
  const char *at;        /* where in the input it was found; NULL: the callback failed */
} lk_sel_err;

typedef struct lk_sel_matcher {
  const char *name, *value; /* arena strings (name may be the literal "__name__") */
  enum lk_sel_op op;
  const char *value_at;     /* where the value's quote stands in the input */
} lk_sel_matcher;

/* Called once per parsed matcher, in order; a non-zero return stops the
 * parse and is returned as it is (the callback reports its own error). */
typedef int (*lk_sel_fn)(void *ctx, const lk_sel_matcher *m);

/* p moved past the dialect's whitespace. */
const char *lk_sel_skip_ws(enum lk_sel_dialect dl, const char *p);

/* A bare name at *p ([A-Za-z_][A-Za-z0-9_]*, with ':' too when metric):
 * copied into a, *p moved past it. NULL (and *p unmoved) when none. */
char *lk_sel_name(const char **p, bool metric, lk_arena *a);

/* One quoted string at *p (no whitespace skipped). OUT *out: the unescaped
 * arena string; OUT *len (optional): its length. *p moves past the closing
 * quote. LK_EPARSE with *err filled on failure (then *p is unspecified and
 * *out, *len untouched). */
int lk_sel_string(enum lk_sel_dialect dl, const char **p, lk_arena *a, const char **out, size_t *len,
                  lk_sel_err *err);

/* The matcher list at *p, which must point at '{'; at most max matchers.
 * Calls fn for each matcher; on success *p moves past the closing '}'.
 * Returns 0, LK_EPARSE with *err filled, or fn's non-zero result (with
 * err->at NULL). */
int lk_sel_braces(enum lk_sel_dialect dl, const char **p, size_t max, lk_arena *a, lk_sel_fn fn,
                  void *ctx, lk_sel_err *err);

#endif
