/* lk_selector.c — the shared `{name op "value", ...}` lexer and parser
 * (see lk_selector.h for the two dialects).
 *
 * Written as small cursor functions over `const char **p` so each caller
 * keeps its own notion of offsets and error wording: a failure only records
 * a code and the position. Strings are unescaped into a temporary lk_buf and
 * copied into the caller's arena once complete, so a failed parse leaves no
 * arena garbage that matters and needs no cleanup. Inputs are NUL-terminated;
 * no function reads past the terminator.
 */
#include "lib/lk_selector.h"

#include <ctype.h>
#include <string.h>

#include "lib/lk_err.h"
#include "lib/lk_labels.h"

static int fail(lk_sel_err *err, enum lk_sel_errc code, const char *at)
{
  err->code = code;
  err->at = at;
  return LK_EPARSE;
}

const char *lk_sel_skip_ws(enum lk_sel_dialect dl, const char *p)
{
  if (dl == LK_SEL_LOGQL) {
    while (isspace((unsigned char)*p))
      p++;
  } else {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
  }
  return p;
}

static bool name_start(char ch, bool metric)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (metric && ch == ':');
}

char *lk_sel_name(const char **p, bool metric, lk_arena *a)
{
  const char *s = *p, *e = s;
  if (!name_start(*e, metric))
    return NULL;
  while (name_start(*e, metric) || (*e >= '0' && *e <= '9'))
    e++;
  *p = e;
  return lk_arena_strndup(a, s, (size_t)(e - s));
}

/* The string body after its opening quote q, up to and past the closing
 * one (lib/lk_strlit.h), with lk_strlit's errors as this file's codes. */
static int string_body(enum lk_sel_dialect dl, const char **p, char q, lk_buf *b, lk_sel_err *err)
{
  static const enum lk_sel_errc codes[] = {
      [LK_STRLIT_E_UNTERMINATED] = LK_SEL_E_UNTERMINATED, [LK_STRLIT_E_ESCAPE] = LK_SEL_E_ESCAPE,
      [LK_STRLIT_E_DIGIT] = LK_SEL_E_ESCAPE_CHAR, [LK_STRLIT_E_CODEPOINT] = LK_SEL_E_CODEPOINT,
      [LK_STRLIT_E_OCTAL] = LK_SEL_E_OCTAL};
  const char *open = *p - 1, *at = NULL;
  int rc = lk_strlit_body(p, q, dl == LK_SEL_LOGQL ? LK_STRLIT_LOGQL : LK_STRLIT_GO, b, &at);
  if (!rc)
    return 0;
  if (rc == LK_STRLIT_E_UNTERMINATED && dl == LK_SEL_LOGQL)
    at = open; /* LogQL reports an unterminated string at its quote */
  return fail(err, codes[rc], at);
}

int lk_sel_string(enum lk_sel_dialect dl, const char **p, lk_arena *a, const char **out, size_t *len,
                  lk_sel_err *err)
{
  const char *quotes = dl == LK_SEL_LOGQL ? "\"`" : "\"'`";
  char q = **p;
  if (!q || !strchr(quotes, q))
    return fail(err, LK_SEL_E_STRING, *p);
  (*p)++;
  lk_buf b = {0};
  int rc = string_body(dl, p, q, &b, err);
  if (!rc && dl == LK_SEL_PROMQL && b.len && !lk_utf8_valid((const char *)b.data, b.len))
    rc = fail(err, LK_SEL_E_UTF8, *p);
  if (!rc) {
    *out = lk_arena_strndup(a, b.data ? (const char *)b.data : "", b.len);
    if (len)
      *len = b.len;
  }
  lk_buf_fini(&b);
  return rc;
}

static int sel_op(const char **p, enum lk_sel_op *op, lk_sel_err *err)
{
  static const struct { const char *tok; enum lk_sel_op op; } ops[] = {
      {"=~", LK_SEL_RE}, {"!~", LK_SEL_NRE}, {"!=", LK_SEL_NE}, {"=", LK_SEL_EQ}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    size_t n = strlen(ops[i].tok);
    if (!strncmp(*p, ops[i].tok, n)) {
      *op = ops[i].op;
      *p += n;
      return 0;
    }
  }
  return fail(err, LK_SEL_E_OP, *p);
}

/* One matcher at *p (whitespace already skipped); PromQL also takes a quoted
 * name and the bare quoted metric name. */
static int matcher(enum lk_sel_dialect dl, const char **p, lk_arena *a, lk_sel_matcher *m,
                   lk_sel_err *err)
{
  const char *name = NULL;
  int rc;
  if (dl == LK_SEL_PROMQL && (**p == '"' || **p == '\'' || **p == '`')) {
    if ((rc = lk_sel_string(dl, p, a, &name, NULL, err)))
      return rc;
    *p = lk_sel_skip_ws(dl, *p);
    if (**p == ',' || **p == '}') { /* {"metric.name"} */
      *m = (lk_sel_matcher){"__name__", name, LK_SEL_EQ, NULL};
      return 0;
    }
  } else if (!(name = lk_sel_name(p, false, a))) {
    return fail(err, LK_SEL_E_NAME, *p);
  }
  *p = lk_sel_skip_ws(dl, *p);
  if ((rc = sel_op(p, &m->op, err)))
    return rc;
  *p = lk_sel_skip_ws(dl, *p);
  m->value_at = *p;
  if ((rc = lk_sel_string(dl, p, a, &m->value, NULL, err)))
    return rc;
  m->name = name;
  return 0;
}

int lk_sel_braces(enum lk_sel_dialect dl, const char **p, size_t max, lk_arena *a, lk_sel_fn fn,
                  void *ctx, lk_sel_err *err)
{
  const char *s = *p + 1; /* past '{' */
  size_t n = 0;
  bool need = false;      /* LogQL: after a comma a matcher must follow */
  for (;;) {
    if (need && n == max)
      return fail(err, LK_SEL_E_TOO_MANY, s);
    s = lk_sel_skip_ws(dl, s);
    if (!need && *s == '}') {
      *p = s + 1;
      return 0;
    }
    if (n == max)
      return fail(err, LK_SEL_E_TOO_MANY, s);
    lk_sel_matcher m;
    int rc = matcher(dl, &s, a, &m, err);
    if (rc)
      return rc;
    if ((rc = fn(ctx, &m))) {
      err->at = NULL;
      return rc;
    }
    n++;
    need = false;
    s = lk_sel_skip_ws(dl, s);
    if (*s == ',') {
      s++;
      need = dl == LK_SEL_LOGQL;
    } else if (*s != '}') {
      return fail(err, LK_SEL_E_SEP, s);
    }
  }
}
