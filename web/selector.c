/* selector.c — the match[] selector parser (see selector.h).
 *
 * The optional metric name is read here; the `{...}` matcher list and its
 * strings are lib/lk_selector.c's PromQL dialect (shared with LogQL), whose
 * error codes are worded here as Prometheus words them. Everything lands in
 * the caller's arena, so a failed parse needs no cleanup. Matchers are
 * collected in a fixed array and copied into the arena at the end.
 */
#include "web/selector.h"

#include <stdbool.h>
#include <string.h>

#include "lib/lk_regex.h"
#include "lib/lk_selector.h"

#define MAX_MATCHERS 256

/* Prometheus's wording for each lk_selector error. */
static const char *const sel_msgs[LK_SEL_E_COUNT] = {
    [LK_SEL_E_STRING] = "expected a quoted string",
    [LK_SEL_E_UNTERMINATED] = "unterminated quoted string",
    [LK_SEL_E_ESCAPE] = "unknown escape sequence",
    [LK_SEL_E_ESCAPE_CHAR] = "invalid character in escape sequence",
    [LK_SEL_E_CODEPOINT] = "escape sequence is an invalid Unicode code point",
    [LK_SEL_E_OCTAL] = "octal escape value > 255",
    [LK_SEL_E_UTF8] = "invalid UTF-8 in string",
    [LK_SEL_E_NAME] = "expected a label name",
    [LK_SEL_E_OP] = "expected a label matching operator (=, !=, =~ or !~)",
    [LK_SEL_E_SEP] = "expected ',' or '}' after a label matcher",
    [LK_SEL_E_TOO_MANY] = "too many label matchers",
};

static int perr(const char *s, const char *at, const char *what, lk_diag *d)
{
  return lk_diag_set(d, LK_EPARSE, (long)(at - s), "1:%ld: parse error: %s", (long)(at - s) + 1, what);
}

typedef struct collect {
  const char *src;
  tsdb_matcher *ms;
  size_t n;
  bool any_nonempty; /* some matcher fails on a series lacking its label */
  lk_diag *d;
} collect;

/* Keep the matcher; regexes are validated (lib/lk_regex) and judged on
 * whether they match the empty string, i.e. series lacking the label. */
static int add_matcher(void *ctx, const lk_sel_matcher *m)
{
  static const enum tsdb_match types[] = {
      [LK_SEL_EQ] = TSDB_EQ, [LK_SEL_NE] = TSDB_NE, [LK_SEL_RE] = TSDB_RE, [LK_SEL_NRE] = TSDB_NRE};
  collect *c = ctx;
  bool empty = !m->value[0];
  if (m->op == LK_SEL_RE || m->op == LK_SEL_NRE) {
    lk_diag rd = {0};
    if (lk_regex_check(m->value, &empty, &rd))
      return perr(c->src, m->value_at, rd.msg, c->d);
  }
  c->any_nonempty |= m->op == LK_SEL_EQ || m->op == LK_SEL_RE ? !empty : empty;
  c->ms[c->n++] = (tsdb_matcher){types[m->op], m->name, m->value};
  return 0;
}

int web__selector_parse(const char *s, lk_arena *a, tsdb_matcher **out, size_t *n, lk_diag *d)
{
  tsdb_matcher ms[MAX_MATCHERS];
  collect c = {s, ms, 0, false, d};
  const char *p = lk_sel_skip_ws(LK_SEL_PROMQL, s);
  char *name = lk_sel_name(&p, true, a);
  if (name) {
    ms[c.n++] = (tsdb_matcher){TSDB_EQ, "__name__", name};
    c.any_nonempty = true;
  }
  p = lk_sel_skip_ws(LK_SEL_PROMQL, p);
  if (*p == '{') {
    lk_sel_err e;
    int rc = lk_sel_braces(LK_SEL_PROMQL, &p, MAX_MATCHERS - c.n, a, add_matcher, &c, &e);
    if (rc)
      return e.at ? perr(s, e.at, sel_msgs[e.code], d) : rc;
    p = lk_sel_skip_ws(LK_SEL_PROMQL, p);
  } else if (!name) {
    return perr(s, p, *p ? "expected a metric name or '{'" : "unexpected end of input", d);
  }
  if (*p)
    return perr(s, p, "unexpected characters after the selector", d);
  size_t nm = c.n;
  if (!c.any_nonempty)
    return lk_diag_set(d, LK_EPARSE, 0,
                       "1:1: parse error: vector selector must contain at least one non-empty matcher");
  tsdb_matcher *res = lk_arena_alloc(a, nm * sizeof *res);
  memcpy(res, ms, nm * sizeof *res);
  *out = res;
  *n = nm;
  return 0;
}
