/* logql_parse.c — LogQL text to syntax tree (logql_int.h).
 *
 * A hand-written lexer and recursive-descent parser; stream selectors and
 * quoted strings come from lib/lk_selector.c (LogQL dialect, shared with the
 * match[] parser). Supported: stream
 * selectors with = != =~ !~; line filters |= != |~ !~; | json, | logfmt,
 * | regexp "re", | line_format "tmpl", label filters (= != =~ !~ and
 * numeric > >= < <= == !=); count_over_time, rate, bytes_over_time,
 * bytes_rate over [range]; sum/avg/min/max/count/topk/bottomk with by or
 * without. Regexes are RE2/Go syntax (lib/lk_regex): label matchers and
 * label filters anchored, line filters and `regexp` unanchored, as in Loki.
 * Every error names the byte offset where it was found.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_selector.h"
#include "lib/lk_time.h"
#include "logstore/logql_int.h"

#define MAX_MATCHERS 32
#define MAX_STAGES 32
#define MAX_DEPTH 8

typedef struct parser {
  const char *src, *p;
  lq_query *q;
  lk_diag *d;
  int depth;
} parser;

static int perr(parser *ps, const char *fmt, const char *what)
{
  long off = (long)(ps->p - ps->src);
  char msg[sizeof ps->d->msg + 64];
  snprintf(msg, sizeof msg, fmt, what);
  return lk_diag_set(ps->d, LK_EPARSE, off, "parse error at position %ld: %s", off + 1, msg);
}

static void ws(parser *ps)
{
  while (isspace((unsigned char)*ps->p))
    ps->p++;
}

static bool eat(parser *ps, const char *tok)
{
  ws(ps);
  size_t n = strlen(tok);
  if (strncmp(ps->p, tok, n))
    return false;
  ps->p += n;
  return true;
}

static bool peek(parser *ps, const char *tok)
{
  ws(ps);
  return !strncmp(ps->p, tok, strlen(tok));
}

static int ident(parser *ps, const char **out)
{
  ws(ps);
  const char *name = lk_sel_name(&ps->p, false, ps->q->arena);
  if (!name)
    return perr(ps, "expected %s", "an identifier");
  *out = name;
  return 0;
}

/* True when the next word is `w` (not a prefix of a longer identifier). */
static bool keyword(parser *ps, const char *w)
{
  ws(ps);
  size_t n = strlen(w);
  if (strncmp(ps->p, w, n) || isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_')
    return false;
  ps->p += n;
  return true;
}

/* LogQL's wording for each lk_selector error (the LogQL dialect raises only
 * these). */
static const char *const sel_msgs[LK_SEL_E_COUNT] = {
    [LK_SEL_E_STRING] = "expected a string",
    [LK_SEL_E_UNTERMINATED] = "unterminated string",
    [LK_SEL_E_ESCAPE_CHAR] = "bad \\u escape",
    [LK_SEL_E_NAME] = "expected an identifier",
    [LK_SEL_E_OP] = "expected one of = != =~ !~",
    [LK_SEL_E_SEP] = "expected ',' or '}'",
    [LK_SEL_E_TOO_MANY] = "too many matchers",
};

static int sel_err(parser *ps, const lk_sel_err *e)
{
  ps->p = e->at;
  return perr(ps, "%s", sel_msgs[e->code] ? sel_msgs[e->code] : "invalid string");
}

/* "double quoted" with escapes, or `raw` (lib/lk_selector.h, LogQL dialect). */
static int string(parser *ps, const char **out, size_t *out_len)
{
  ws(ps);
  lk_sel_err e;
  return lk_sel_string(LK_SEL_LOGQL, &ps->p, ps->q->arena, out, out_len, &e) ? sel_err(ps, &e) : 0;
}

/* Compile a regex (lib/lk_regex: RE2) into the query's list; a bad one is a
 * parse error at the string's position, naming the offending part. */
static int compile(parser *ps, const char *re, enum lk_regex_mode mode, lk_regex **out, const char *at)
{
  lk_diag rd = {0};
  if (lk_regex_compile(re, mode, out, &rd)) {
    ps->p = at;
    return perr(ps, "%s", rd.msg);
  }
  lq_query *q = ps->q;
  q->res = lk_xgrow(q->res, &q->capres, q->nres + 1, sizeof *q->res);
  q->res[q->nres++] = *out;
  return 0;
}

typedef struct sel_ctx {
  parser *ps;
  lq_log *lg;
  bool any_positive;
} sel_ctx;

/* lk_sel_braces callback: keep the matcher, compiling regexes as they come. */
static int add_matcher(void *ctx, const lk_sel_matcher *sm)
{
  static const enum lq_op ops[] = {
      [LK_SEL_EQ] = LQ_EQ, [LK_SEL_NE] = LQ_NE, [LK_SEL_RE] = LQ_RE, [LK_SEL_NRE] = LQ_NRE};
  sel_ctx *c = ctx;
  lq_matcher *m = &c->lg->m[c->lg->nm];
  m->name = sm->name;
  m->value = sm->value;
  m->op = ops[sm->op];
  if (m->op == LQ_RE || m->op == LQ_NRE) {
    int rc = compile(c->ps, m->value, LK_REGEX_ANCHORED, &m->re, sm->value_at);
    if (rc)
      return rc;
  }
  c->lg->nm++;
  c->any_positive |= (m->op == LQ_EQ && *m->value) ||
                     (m->op == LQ_RE && !lk_regex_matches_empty(m->re));
  return 0;
}

static int selector(parser *ps, lq_log *lg)
{
  ws(ps);
  if (*ps->p != '{')
    return perr(ps, "expected %s", "'{' to start a stream selector");
  lg->m = lk_arena_zalloc(ps->q->arena, MAX_MATCHERS * sizeof *lg->m);
  sel_ctx c = {ps, lg, false};
  lk_sel_err e;
  int rc = lk_sel_braces(LK_SEL_LOGQL, &ps->p, MAX_MATCHERS, ps->q->arena, add_matcher, &c, &e);
  if (rc)
    return e.at ? sel_err(ps, &e) : rc;
  if (!c.any_positive)
    return perr(ps, "%s", "queries require at least one matcher that does not match the empty string, "
                          "e.g. {job=\"x\"}");
  return 0;
}

static int label_filter(parser *ps, lq_stage *s)
{
  int rc = ident(ps, &s->name);
  if (rc)
    return rc;
  static const struct { const char *tok; enum lq_op op; } ops[] = {
      {"=~", LQ_RE}, {"!~", LQ_NRE}, {"!=", LQ_NE}, {"==", LQ_EQEQ}, {">=", LQ_GE},
      {"<=", LQ_LE}, {">", LQ_GT}, {"<", LQ_LT}, {"=", LQ_EQ}};
  size_t i = 0;
  while (i < sizeof ops / sizeof ops[0] && !eat(ps, ops[i].tok))
    i++;
  if (i == sizeof ops / sizeof ops[0])
    return perr(ps, "expected %s", "a label filter operator");
  s->kind = LQ_LABEL_FILTER;
  s->op = ops[i].op;
  ws(ps);
  const char *at = ps->p;
  if (*ps->p == '"' || *ps->p == '`') {
    if ((rc = string(ps, &s->value, &s->value_len)))
      return rc;
    if (s->op == LQ_RE || s->op == LQ_NRE)
      return compile(ps, s->value, LK_REGEX_ANCHORED, &s->re, at);
    if (s->op != LQ_EQ && s->op != LQ_NE)
      return perr(ps, "%s", "numeric comparison needs a number");
    return 0;
  }
  char *end;
  s->num = strtod(ps->p, &end);
  if (end == ps->p)
    return perr(ps, "expected %s", "a string or a number");
  ps->p = end;
  s->numeric = true;
  if (s->op == LQ_RE || s->op == LQ_NRE)
    return perr(ps, "%s", "regex label filter needs a string");
  return 0;
}

typedef struct lit_ctx {
  lq_stage *s;
  lk_arena *a;
} lit_ctx;

/* Keep the longest literal run (the walker's buffer is its own: copy). */
static void longest_literal(void *ctx, const char *p, size_t n)
{
  lit_ctx *c = ctx;
  if (n > c->s->pre_len) {
    c->s->pre = lk_arena_strndup(c->a, p, n);
    c->s->pre_len = n;
  }
}

static int stage(parser *ps, lq_stage *s)
{
  static const struct { const char *tok; enum lq_op op; } lf[] = {
      {"|=", LQ_EQ}, {"!=", LQ_NE}, {"|~", LQ_RE}, {"!~", LQ_NRE}};
  for (size_t i = 0; i < 4; i++) {
    if (!eat(ps, lf[i].tok))
      continue;
    s->kind = LQ_LINE_FILTER;
    s->op = lf[i].op;
    ws(ps);
    const char *at = ps->p;
    int rc = string(ps, &s->value, &s->value_len);
    if (!rc && (s->op == LQ_RE || s->op == LQ_NRE)) {
      rc = compile(ps, s->value, LK_REGEX_UNANCHORED, &s->re, at);
      lit_ctx lc = {s, ps->q->arena};
      lk_regex_literals(s->value, longest_literal, &lc);
    }
    return rc;
  }
  if (!eat(ps, "|"))
    return perr(ps, "%s", "expected a pipeline stage");
  if (keyword(ps, "json")) {
    s->kind = LQ_JSON;
  } else if (keyword(ps, "logfmt")) {
    s->kind = LQ_LOGFMT;
  } else if (keyword(ps, "line_format")) {
    s->kind = LQ_LINE_FORMAT;
    return string(ps, &s->value, &s->value_len);
  } else if (keyword(ps, "regexp")) {
    s->kind = LQ_REGEXP;
    ws(ps);
    const char *at = ps->p;
    int rc = string(ps, &s->value, &s->value_len);
    if (rc)
      return rc;
    return compile(ps, s->value, LK_REGEX_UNANCHORED, &s->re, at);
  } else {
    return label_filter(ps, s);
  }
  return 0;
}

static int log_expr(parser *ps, lq_log *lg)
{
  int rc = selector(ps, lg);
  if (rc)
    return rc;
  lg->st = lk_arena_zalloc(ps->q->arena, MAX_STAGES * sizeof *lg->st);
  while (peek(ps, "|") || peek(ps, "!=") || peek(ps, "!~")) {
    if (lg->nst == MAX_STAGES)
      return perr(ps, "%s", "too many pipeline stages");
    if ((rc = stage(ps, &lg->st[lg->nst++])))
      return rc;
  }
  return 0;
}

static int expr(parser *ps, lq_expr **out);

static int range_expr(parser *ps, lq_expr *e)
{
  if (!eat(ps, "("))
    return perr(ps, "expected %s", "'('");
  int rc = log_expr(ps, &e->log);
  if (rc)
    return rc;
  if (!eat(ps, "["))
    return perr(ps, "expected %s", "a range like [5m]");
  ws(ps);
  const char *s = ps->p, *close = strchr(s, ']');
  if (!close)
    return perr(ps, "expected %s", "']'");
  char dur[64];
  size_t n = (size_t)(close - s);
  if (n >= sizeof dur)
    return perr(ps, "%s", "range too long");
  memcpy(dur, s, n);
  dur[n] = 0;
  int64_t ms;
  if (lk_parse_duration(dur, &ms, NULL) || ms <= 0)
    return perr(ps, "invalid range duration \"%s\"", dur);
  if (ms > INT64_MAX / 1000000)
    return perr(ps, "range duration \"%s\" is too long", dur);
  e->range_ns = ms * 1000000;
  ps->p = close + 1;
  if (!eat(ps, ")"))
    return perr(ps, "expected %s", "')'");
  return 0;
}

static int grouping(parser *ps, lq_expr *e)
{
  if (keyword(ps, "by"))
    e->without = false;
  else if (keyword(ps, "without"))
    e->without = true;
  else
    return 1;
  if (!eat(ps, "("))
    return perr(ps, "expected %s", "'(' after by/without");
  e->grouping = lk_arena_zalloc(ps->q->arena, 32 * sizeof *e->grouping);
  e->ngrouping = 0;
  while (!eat(ps, ")")) {
    if (e->ngrouping && !eat(ps, ","))
      return perr(ps, "expected %s", "',' or ')'");
    if (e->ngrouping == 32)
      return perr(ps, "%s", "too many grouping labels");
    int rc = ident(ps, &e->grouping[e->ngrouping++]);
    if (rc)
      return rc;
  }
  return 0;
}

static int agg_expr(parser *ps, lq_expr *e)
{
  int rc = grouping(ps, e);
  if (rc < 0)
    return rc;
  if (!eat(ps, "("))
    return perr(ps, "expected %s", "'('");
  if (e->agg == LQ_TOPK || e->agg == LQ_BOTTOMK) {
    ws(ps);
    char *end;
    e->k = strtol(ps->p, &end, 10);
    if (end == ps->p || e->k <= 0)
      return perr(ps, "expected %s", "a positive integer k");
    ps->p = end;
    if (!eat(ps, ","))
      return perr(ps, "expected %s", "','");
  }
  if ((rc = expr(ps, &e->inner)))
    return rc;
  if (e->inner->kind == LQ_LOGS)
    return perr(ps, "%s", "aggregations need a metric expression like count_over_time(...)");
  if (!eat(ps, ")"))
    return perr(ps, "expected %s", "')'");
  if (!e->grouping && (rc = grouping(ps, e)) < 0)
    return rc;
  return 0;
}

static int expr(parser *ps, lq_expr **out)
{
  if (++ps->depth > MAX_DEPTH)
    return perr(ps, "%s", "expression nested too deeply");
  lq_expr *e = lk_arena_zalloc(ps->q->arena, sizeof *e);
  *out = e;
  static const char *rfn[] = {"count_over_time", "rate", "bytes_over_time", "bytes_rate"};
  static const char *aggs[] = {"sum", "avg", "min", "max", "count", "topk", "bottomk"};
  ws(ps);
  if (*ps->p == '{') {
    e->kind = LQ_LOGS;
    return log_expr(ps, &e->log);
  }
  for (int i = 0; i < 4; i++)
    if (keyword(ps, rfn[i])) {
      e->kind = LQ_RANGE;
      e->fn = (enum lq_range_fn)i;
      return range_expr(ps, e);
    }
  for (int i = 0; i < 7; i++)
    if (keyword(ps, aggs[i])) {
      e->kind = LQ_AGG;
      e->agg = (enum lq_agg_op)i;
      return agg_expr(ps, e);
    }
  return perr(ps, "expected %s", "a stream selector, a range function or an aggregation");
}

static lq_query *query_new(void)
{
  lq_query *q = lk_xcalloc(1, sizeof *q);
  q->arena = lk_arena_new(4096);
  return q;
}

static int finish(parser *ps, int rc, lq_query **out)
{
  ws(ps);
  if (!rc && *ps->p)
    rc = perr(ps, "unexpected \"%.20s\"", ps->p);
  if (rc) {
    logstore__lq_free(ps->q);
    return rc;
  }
  *out = ps->q;
  return 0;
}

int logstore__lq_parse(const char *src, lq_query **out, lk_diag *d)
{
  parser ps = {.src = src, .p = src, .q = query_new(), .d = d};
  int rc = expr(&ps, &ps.q->root);
  return finish(&ps, rc, out);
}

int logstore__lq_parse_selector(const char *src, lq_query **out, lk_diag *d)
{
  parser ps = {.src = src, .p = src, .q = query_new(), .d = d};
  ps.q->root = lk_arena_zalloc(ps.q->arena, sizeof *ps.q->root);
  int rc = selector(&ps, &ps.q->root->log);
  return finish(&ps, rc, out);
}

void logstore__lq_free(lq_query *q)
{
  if (!q)
    return;
  for (size_t i = 0; i < q->nres; i++)
    lk_regex_free(q->res[i]);
  free(q->res);
  lk_arena_free(q->arena);
  free(q);
}

int logstore_logql_check(const char *logql, lk_diag *d)
{
  lq_query *q = NULL;
  int rc = logstore__lq_parse(logql, &q, d);
  if (!rc)
    logstore__lq_free(q);
  return rc;
}
