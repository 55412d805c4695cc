/* parse.c — PromQL parser: precedence climbing over the token stream.
 *
 * Precedence, lowest first: or; and unless; comparisons; + -; * / % atan2;
 * ^ (right-associative). Unary minus binds like `*` but looser than `^`
 * (`-2^2` = −4) and folds into number literals. Postfix `[range]`,
 * `[range:step]`, `offset d` and `@ t` apply to selectors and subqueries.
 * Types are checked while building the tree, so evaluation can trust them.
 * Errors name line:column and what was expected, in Prometheus's wording.
 *
 * Nesting is bounded (MAX_DEPTH): the parser and the evaluator recurse over
 * the tree, so 10,000 parentheses or a 10,000-term `1+1+…` chain would
 * overflow a connection thread's stack. `depth` counts the open parse_expr
 * calls plus the operators folded into each left-leaning chain, an upper
 * bound of the depth of the tree being built.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql/promql_int.h"
#include "lib/lk_regex.h"

typedef struct parser {
  pq_lexer lx;
  pq_token tok;     /* current (lookahead) token */
  lk_arena *a;
  lk_diag *d;
  int depth;
} parser;

#define MAX_DEPTH 256
#define MAX_DEPTH_STR "256"

static int parse_expr(parser *p, int min_prec, pq_expr **out);
static int parse_unary(parser *p, pq_expr **out);

static int advance(parser *p)
{
  p->tok = promql__lex(&p->lx);
  return p->tok.type == T_ERR ? LK_EPARSE : 0;
}

static int perr(parser *p, size_t pos, const char *fmt, const char *a1, const char *a2)
{
  return promql__perr(p->d, p->lx.src, pos, fmt, a1, a2);
}

/* One level deeper; a parse error past MAX_DEPTH. */
static int deeper(parser *p)
{
  if (++p->depth <= MAX_DEPTH)
    return 0;
  return perr(p, p->tok.pos, "query too deeply nested: more than %s levels of parentheses, calls "
              "and operators%s", MAX_DEPTH_STR, "");
}

static const char *tok_desc(parser *p)
{
  static const char *const kinds[] = {[T_IDENT] = "identifier", [T_NUM] = "number",
                                      [T_DUR] = "duration", [T_STR] = "string"};
  if (p->tok.type <= T_STR && p->tok.type >= T_IDENT) {
    size_t n = p->tok.len > 40 ? 40 : p->tok.len;
    char *s = lk_arena_alloc(p->a, n + 64);
    snprintf(s, n + 64, "%s \"%.*s\"", kinds[p->tok.type], (int)n, p->lx.src + p->tok.pos);
    return s;
  }
  return promql__tok_name(p->tok.type);
}

static int unexpected(parser *p, const char *expected)
{
  if (p->tok.type == T_EOF && !expected)
    return perr(p, p->tok.pos, "unexpected %s%s", "end of input", "");
  return promql__perr(p->d, p->lx.src, p->tok.pos, "unexpected %s%s%s", tok_desc(p),
                      expected ? ", expected " : "", expected ? expected : "");
}

static int expect(parser *p, enum pq_tok t, const char *what)
{
  if (p->tok.type != t)
    return unexpected(p, what);
  return advance(p);
}

static pq_expr *node(parser *p, enum pq_node k, enum promql_type type, size_t pos)
{
  pq_expr *e = lk_arena_zalloc(p->a, sizeof *e);
  e->kind = k;
  e->type = type;
  e->pos = pos;
  return e;
}

static bool is_kw(const pq_token *t, const char *kw)
{
  return t->type == T_IDENT && !strcasecmp(t->str, kw);
}

static const char *type_name(enum promql_type t)
{
  static const char *const n[] = {"scalar", "string", "instant vector", "range vector"};
  return n[t];
}

static int type_err(parser *p, size_t pos, const char *fmt, enum promql_type got)
{
  return promql__perr(p->d, p->lx.src, pos, fmt, type_name(got));
}

/*---- Durations and times ----*/

/* A duration is `5m`, a number of seconds, or (experimental duration
 * expressions) arithmetic over those plus step(), range(), min_of() and
 * max_of(). Constant trees are folded here; others are kept as a pq_dexpr
 * and resolved per query. Values are milliseconds. */

static pq_dexpr *dnode(parser *p, char op, double ms, const pq_dexpr *l, const pq_dexpr *r)
{
  pq_dexpr *d = lk_arena_zalloc(p->a, sizeof *d);
  *d = (pq_dexpr){op, ms, l, r};
  return d;
}

static bool dconst(const pq_dexpr *d)
{
  return !d || (d->op != 's' && d->op != 'r' && dconst(d->l) && dconst(d->r));
}

static int parse_dur_expr(parser *p, int min_prec, pq_dexpr **out);

static int dur_call(parser *p, pq_dexpr **out)
{
  const char *name = p->tok.str;
  size_t pos = p->tok.pos;
  int rc = advance(p);
  if (rc || (rc = expect(p, T_LPAREN, "\"(\"")))
    return rc;
  if (!strcasecmp(name, "step") || !strcasecmp(name, "range")) {
    *out = dnode(p, tolower((unsigned char)name[0]) == 's' ? 's' : 'r', 0, NULL, NULL);
    return expect(p, T_RPAREN, "\")\"");
  }
  if (strcasecmp(name, "min_of") && strcasecmp(name, "max_of"))
    return perr(p, pos, "unexpected function \"%s\" in duration expression%s", name, "");
  pq_dexpr *a, *b;
  if ((rc = parse_dur_expr(p, 1, &a)) || (rc = expect(p, T_COMMA, "\",\"")) ||
      (rc = parse_dur_expr(p, 1, &b)) || (rc = expect(p, T_RPAREN, "\")\"")))
    return rc;
  *out = dnode(p, tolower((unsigned char)name[1]) == 'i' ? 'm' : 'M', 0, a, b);
  return 0;
}

/* An atom: literal, call, parenthesised expression, or a signed atom. */
static int parse_dur_atom(parser *p, pq_dexpr **out)
{
  int rc;
  switch (p->tok.type) {
  case T_DUR:
    *out = dnode(p, 'c', (double)p->tok.dur_ms, NULL, NULL);
    return advance(p);
  case T_NUM:
    *out = dnode(p, 'c', p->tok.num * 1000, NULL, NULL);
    return advance(p);
  case T_IDENT:
    return dur_call(p, out);
  case T_SUB:
  case T_ADD: {
    bool neg = p->tok.type == T_SUB;
    pq_dexpr *in;
    if ((rc = advance(p)) || (rc = parse_dur_atom(p, &in)))
      return rc;
    *out = neg ? dnode(p, 'n', 0, in, NULL) : in;
    return 0;
  }
  case T_LPAREN:
    if ((rc = advance(p)) || (rc = parse_dur_expr(p, 1, out)))
      return rc;
    return expect(p, T_RPAREN, "\")\"");
  default:
    return unexpected(p, "duration");
  }
}

static int dur_prec(enum pq_tok op)
{
  return op == T_ADD || op == T_SUB ? 1 : op == T_MUL || op == T_DIV || op == T_MOD ? 2
         : op == T_POW ? 3 : 0;
}

static int parse_dur_expr(parser *p, int min_prec, pq_dexpr **out)
{
  pq_dexpr *l;
  int entry = p->depth, rc = deeper(p);
  if (rc)
    return rc;
  if (p->tok.type == T_SUB || p->tok.type == T_ADD) { /* unary: looser than ^ */
    bool neg = p->tok.type == T_SUB;
    if ((rc = advance(p)) || (rc = parse_dur_expr(p, 3, &l)))
      return rc;
    if (neg)
      l = dnode(p, 'n', 0, l, NULL);
  } else if ((rc = parse_dur_atom(p, &l))) {
    return rc;
  }
  for (;;) {
    enum pq_tok op = p->tok.type;
    int prec = dur_prec(op);
    if (!prec || prec < min_prec)
      break;
    pq_dexpr *r;
    if ((rc = advance(p)) || (rc = parse_dur_expr(p, op == T_POW ? prec : prec + 1, &r)))
      return rc;
    static const char ops[] = {[T_ADD] = '+', [T_SUB] = '-', [T_MUL] = '*', [T_DIV] = '/',
                               [T_MOD] = '%', [T_POW] = '^'};
    l = dnode(p, ops[op], 0, l, r);
    if ((rc = deeper(p)))
      return rc;
  }
  p->depth = entry;
  *out = l;
  return 0;
}

double promql__dexpr_eval(const pq_dexpr *d, int64_t step_ms, int64_t range_ms)
{
  double l = d->l ? promql__dexpr_eval(d->l, step_ms, range_ms) : 0;
  double r = d->r ? promql__dexpr_eval(d->r, step_ms, range_ms) : 0;
  switch (d->op) {
  case 'c': return d->ms;
  case 's': return (double)step_ms;
  case 'r': return (double)range_ms;
  case 'n': return -l;
  case '+': return l + r;
  case '-': return l - r;
  case '*': return l * r / 1000;
  case '/': return l / r * 1000;
  case '%': return fmod(l, r);
  case '^': return pow(l / 1000, r / 1000) * 1000;
  case 'm': return isnan(l) || isnan(r) ? NAN : fmin(l, r);
  default: return isnan(l) || isnan(r) ? NAN : fmax(l, r);
  }
}

/* A duration into *out, or into *dyn when it depends on step()/range().
 * atom_only: `offset` without parentheses takes a single signed atom. */
static int parse_duration(parser *p, bool allow_neg, bool atom_only, int64_t *out,
                          const pq_dexpr **dyn)
{
  size_t pos = p->tok.pos;
  pq_dexpr *d;
  int rc = atom_only ? parse_dur_atom(p, &d) : parse_dur_expr(p, 1, &d);
  if (rc)
    return rc;
  *out = 0;
  *dyn = NULL;
  if (!dconst(d)) {
    *dyn = d;
    return 0;
  }
  double ms = promql__dexpr_eval(d, 0, 0);
  if (!isfinite(ms) || fabs(ms) > 9.2e18)
    return perr(p, pos, "duration out of range%s%s", "", "");
  if (!allow_neg && ms < 0)
    return perr(p, pos, "duration must be greater than 0%s%s", "", "");
  *out = (int64_t)llround(ms);
  return 0;
}

/*---- Selectors ----*/

static const char *label_name_tok(parser *p)
{
  switch (p->tok.type) {
  case T_IDENT: case T_AND: case T_OR: case T_UNLESS: case T_ATAN2: case T_STR:
    return p->tok.str;
  default:
    return NULL;
  }
}

static int add_matcher(parser *p, pq_expr *e, size_t *cap, enum tsdb_match t, const char *n,
                       const char *v)
{
  if (e->u.sel.nm == *cap) {
    size_t nc = *cap ? *cap * 2 : 4;
    tsdb_matcher *m = lk_arena_alloc(p->a, nc * sizeof *m);
    if (e->u.sel.nm)
      memcpy(m, e->u.sel.m, e->u.sel.nm * sizeof *m);
    e->u.sel.m = m;
    *cap = nc;
  }
  e->u.sel.m[e->u.sel.nm++] = (tsdb_matcher){t, n, v};
  return 0;
}

static int parse_matchers(parser *p, pq_expr *e, size_t *cap)
{
  int rc = advance(p); /* '{' */
  while (!rc && p->tok.type != T_RBRACE) {
    const char *name = label_name_tok(p);
    size_t npos = p->tok.pos;
    if (!name)
      return p->tok.type == T_EOF ? perr(p, p->tok.pos, "unexpected end of input inside braces%s%s", "", "")
                                  : unexpected(p, "label matching");
    bool quoted = p->tok.type == T_STR;
    if ((rc = advance(p)))
      return rc;
    enum tsdb_match mt;
    switch (p->tok.type) {
    case T_ASSIGN: mt = TSDB_EQ; break;
    case T_NEQ: mt = TSDB_NE; break;
    case T_EQ_REGEX: mt = TSDB_RE; break;
    case T_NEQ_REGEX: mt = TSDB_NRE; break;
    default:
      if (quoted && (p->tok.type == T_COMMA || p->tok.type == T_RBRACE)) {
        if (e->u.sel.name)
          return perr(p, npos, "metric name must not be set twice: %s or %s", e->u.sel.name, name);
        e->u.sel.name = name;
        add_matcher(p, e, cap, TSDB_EQ, "__name__", name);
        if (p->tok.type == T_COMMA && (rc = advance(p)))
          return rc;
        continue;
      }
      return unexpected(p, "label matching operator");
    }
    if ((rc = advance(p)))
      return rc;
    if (p->tok.type != T_STR)
      return unexpected(p, "string");
    const char *val = p->tok.str;
    if (mt == TSDB_RE || mt == TSDB_NRE) {
      lk_diag rd = {0};
      if (lk_regex_check(val, NULL, &rd))
        return perr(p, p->tok.pos, "%s%s", rd.msg, "");
    }
    add_matcher(p, e, cap, mt, name, val);
    if ((rc = advance(p)))
      return rc;
    if (p->tok.type == T_COMMA)
      rc = advance(p);
    else if (p->tok.type != T_RBRACE)
      return p->tok.type == T_EOF ? perr(p, p->tok.pos, "unexpected end of input inside braces%s%s", "", "")
                                  : unexpected(p, "\",\" or \"}\"");
  }
  return rc ? rc : advance(p);
}

/* Regex matchers were checked at parse time, so they compile here. */
static bool regex_matches_empty(const char *pattern)
{
  bool empty = false;
  return !lk_regex_check(pattern, &empty, NULL) && empty;
}

static bool matcher_matches_empty(const tsdb_matcher *m)
{
  switch (m->type) {
  case TSDB_EQ: return !*m->value;
  case TSDB_NE: return *m->value != 0;
  case TSDB_RE: return regex_matches_empty(m->value);
  default: return !regex_matches_empty(m->value);
  }
}

static int parse_selector(parser *p, const char *name, size_t pos, pq_expr **out)
{
  pq_expr *e = node(p, N_SEL, PROMQL_VECTOR, pos);
  size_t cap = 0;
  int rc;
  if (name) {
    e->u.sel.name = name;
    add_matcher(p, e, &cap, TSDB_EQ, "__name__", name);
  }
  if (p->tok.type == T_LBRACE && (rc = parse_matchers(p, e, &cap)))
    return rc;
  bool nonempty = false;
  for (size_t i = 0; i < e->u.sel.nm; i++) {
    if (!matcher_matches_empty(&e->u.sel.m[i]))
      nonempty = true;
    if (name && i > 0 && !strcmp(e->u.sel.m[i].name, "__name__"))
      return perr(p, pos, "metric name must not be set twice: \"%s\" or \"%s\"", name,
                  e->u.sel.m[i].value);
  }
  if (!nonempty)
    return perr(p, pos, "vector selector must contain at least one non-empty matcher%s%s", "", "");
  *out = e;
  return 0;
}

/*---- Calls and aggregations ----*/

static int parse_label_list(parser *p, const char ***out, size_t *out_n)
{
  int rc = expect(p, T_LPAREN, "\"(\"");
  size_t cap = 4, n = 0;
  const char **l = lk_arena_alloc(p->a, cap * sizeof *l);
  while (!rc && p->tok.type != T_RPAREN) {
    const char *name = label_name_tok(p);
    if (!name)
      return p->tok.type == T_EOF ? perr(p, p->tok.pos, "unclosed left parenthesis%s%s", "", "")
                                  : unexpected(p, "label");
    if (n == cap) {
      const char **nl = lk_arena_alloc(p->a, cap * 2 * sizeof *nl);
      memcpy(nl, l, n * sizeof *nl);
      l = nl;
      cap *= 2;
    }
    l[n++] = name;
    if ((rc = advance(p)))
      return rc;
    if (p->tok.type == T_COMMA)
      rc = advance(p);
    else if (p->tok.type != T_RPAREN)
      return unexpected(p, "\",\" or \")\"");
  }
  if (rc)
    return rc;
  *out = l;
  *out_n = n;
  return advance(p);
}

static int parse_args(parser *p, pq_expr ***out, size_t *out_n)
{
  int rc = advance(p); /* '(' */
  size_t cap = 4, n = 0;
  pq_expr **args = lk_arena_alloc(p->a, cap * sizeof *args);
  while (!rc && p->tok.type != T_RPAREN) {
    if (p->tok.type == T_EOF)
      return perr(p, p->tok.pos, "unclosed left parenthesis%s%s", "", "");
    pq_expr *arg;
    if ((rc = parse_expr(p, 0, &arg)))
      return rc;
    if (n == cap) {
      pq_expr **na = lk_arena_alloc(p->a, cap * 2 * sizeof *na);
      memcpy(na, args, n * sizeof *na);
      args = na;
      cap *= 2;
    }
    args[n++] = arg;
    if (p->tok.type == T_COMMA)
      rc = advance(p);
    else if (p->tok.type == T_EOF)
      return perr(p, p->tok.pos, "unclosed left parenthesis%s%s", "", "");
    else if (p->tok.type != T_RPAREN)
      return unexpected(p, "\",\" or \")\"");
  }
  if (rc)
    return rc;
  *out = args;
  *out_n = n;
  return advance(p);
}

static const enum promql_type argt_type[] = {
  [ARG_SCALAR] = PROMQL_SCALAR, [ARG_VECTOR] = PROMQL_VECTOR,
  [ARG_MATRIX] = PROMQL_MATRIX, [ARG_STRING] = PROMQL_STRING};


static int parse_call(parser *p, const pq_func *f, size_t pos, pq_expr **out)
{
  pq_expr *e = node(p, N_CALL, f->ret, pos);
  e->u.call.f = f;
  int rc = parse_args(p, &e->u.call.args, &e->u.call.nargs);
  if (rc)
    return rc;
  size_t n = e->u.call.nargs, min = (size_t)f->nargs;
  bool ok = n == min || (n > min && (f->variadic < 0 || n <= min + (size_t)f->variadic));
  if (!ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "expected %s%zu argument(s) in call to \"%s\", got %zu",
             f->variadic ? "at least " : "", min, f->name, n);
    if (f->variadic > 0 && n > min)
      snprintf(msg, sizeof msg, "expected at most %zu argument(s) in call to \"%s\", got %zu",
               min + (size_t)f->variadic, f->name, n);
    return perr(p, pos, "%s%s", msg, "");
  }
  for (size_t i = 0; i < n; i++) {
    size_t ai = i < 6 ? i : 5;
    enum promql_type want = argt_type[f->args[ai]];
    enum promql_type got = e->u.call.args[i]->type;
    if (got != want) {
      char msg[200];
      snprintf(msg, sizeof msg, "expected type %s in call to function \"%s\", got %s",
               type_name(want), f->name, type_name(got));
      return perr(p, e->u.call.args[i]->pos, "%s%s", msg, "");
    }
  }
  *out = e;
  return 0;
}

static const struct { const char *name; enum pq_aggop op; bool param; } aggs[] = {
  {"sum", A_SUM, false}, {"avg", A_AVG, false}, {"min", A_MIN, false}, {"max", A_MAX, false},
  {"count", A_COUNT, false}, {"group", A_GROUP, false}, {"stddev", A_STDDEV, false},
  {"stdvar", A_STDVAR, false}, {"topk", A_TOPK, true}, {"bottomk", A_BOTTOMK, true},
  {"quantile", A_QUANTILE, true}, {"count_values", A_COUNT_VALUES, true},
  {"limitk", A_LIMITK, true}, {"limit_ratio", A_LIMIT_RATIO, true},
};

static int parse_grouping(parser *p, pq_expr *e)
{
  e->u.agg.without = is_kw(&p->tok, "without");
  e->u.agg.grouped = true;
  int rc = advance(p);
  return rc ? rc : parse_label_list(p, &e->u.agg.labels, &e->u.agg.nlabels);
}

static int parse_agg(parser *p, size_t k, size_t pos, pq_expr **out)
{
  pq_expr *e = node(p, N_AGG, PROMQL_VECTOR, pos);
  e->u.agg.op = aggs[k].op;
  int rc;
  if ((is_kw(&p->tok, "by") || is_kw(&p->tok, "without")) && (rc = parse_grouping(p, e)))
    return rc;
  if (p->tok.type != T_LPAREN)
    return unexpected(p, "\"(\"");
  pq_expr **args;
  size_t n;
  if ((rc = parse_args(p, &args, &n)))
    return rc;
  size_t want = aggs[k].param ? 2 : 1;
  if (n != want)
    return promql__perr(p->d, p->lx.src, pos, "wrong number of arguments for aggregate expression provided, expected %zu, got %zu", want, n);
  e->u.agg.e = args[want - 1];
  e->u.agg.param = want == 2 ? args[0] : NULL;
  if (!e->u.agg.grouped && (is_kw(&p->tok, "by") || is_kw(&p->tok, "without")) &&
      (rc = parse_grouping(p, e)))
    return rc;
  if (e->u.agg.e->type != PROMQL_VECTOR)
    return type_err(p, e->u.agg.e->pos, "expected type instant vector in aggregation expression, got %s",
                    e->u.agg.e->type);
  if (e->u.agg.param) {
    enum promql_type want_t = e->u.agg.op == A_COUNT_VALUES ? PROMQL_STRING : PROMQL_SCALAR;
    if (e->u.agg.param->type != want_t)
      return promql__perr(p->d, p->lx.src, e->u.agg.param->pos,
                          "expected type %s in aggregation parameter, got %s",
                          type_name(want_t), type_name(e->u.agg.param->type));
  }
  *out = e;
  return 0;
}

/*---- Primary expressions and postfix modifiers ----*/

static int parse_ident_expr(parser *p, pq_expr **out)
{
  size_t pos = p->tok.pos;
  const char *name = p->tok.str;
  if (!strcasecmp(name, "inf") || !strcasecmp(name, "nan")) {
    pq_expr *e = node(p, N_NUM, PROMQL_SCALAR, pos);
    e->u.num = tolower((unsigned char)name[0]) == 'i' ? INFINITY : NAN;
    *out = e;
    return advance(p);
  }
  int rc = advance(p);
  if (rc)
    return rc;
  for (size_t k = 0; k < sizeof aggs / sizeof aggs[0]; k++)
    if (!strcasecmp(name, aggs[k].name) &&
        (p->tok.type == T_LPAREN || is_kw(&p->tok, "by") || is_kw(&p->tok, "without")))
      return parse_agg(p, k, pos, out);
  if (p->tok.type == T_LPAREN) {
    const pq_func *f = promql__func_lookup(name);
    if (!f) { /* bracket errors in the arguments are reported first */
      pq_expr **args;
      size_t n;
      rc = parse_args(p, &args, &n);
      return rc ? rc : perr(p, pos, "unknown function with name \"%s\"%s", name, "");
    }
    return parse_call(p, f, pos, out);
  }
  return parse_selector(p, name, pos, out);
}

static int parse_at(parser *p, enum pq_at *at, int64_t *at_ms)
{
  size_t pos = p->tok.pos;
  if (*at != AT_NONE)
    return perr(p, pos, "@ <timestamp> may not be set multiple times%s%s", "", "");
  int rc = advance(p);
  if (rc)
    return rc;
  if (is_kw(&p->tok, "start") || is_kw(&p->tok, "end")) {
    *at = is_kw(&p->tok, "start") ? AT_START : AT_END;
    if ((rc = advance(p)) || (rc = expect(p, T_LPAREN, "\"(\"")))
      return rc;
    return expect(p, T_RPAREN, "\")\"");
  }
  bool neg = p->tok.type == T_SUB;
  if ((neg || p->tok.type == T_ADD) && (rc = advance(p)))
    return rc;
  if (p->tok.type != T_NUM && p->tok.type != T_DUR)
    return unexpected(p, "timestamp");
  double sec = p->tok.type == T_NUM ? p->tok.num : (double)p->tok.dur_ms / 1000;
  if (neg)
    sec = -sec;
  if (!isfinite(sec) || fabs(sec) > 9.2e15)
    return perr(p, pos, "timestamp out of bounds for @ modifier%s%s", "", "");
  *at = AT_TIME;
  *at_ms = llround(sec * 1000);
  return advance(p);
}

static int parse_modifiers(parser *p, pq_expr *e)
{
  int rc = 0;
  for (;;) {
    bool is_sel = e->kind == N_SEL;
    if (is_kw(&p->tok, "offset")) {
      int64_t *off = is_sel ? &e->u.sel.offset : &e->u.subq.offset;
      const pq_dexpr **offx = is_sel ? &e->u.sel.offset_x : &e->u.subq.offset_x;
      if (*off || *offx)
        return perr(p, p->tok.pos, "offset may not be set multiple times%s%s", "", "");
      if ((rc = advance(p)) || (rc = parse_duration(p, true, true, off, offx)))
        return rc;
    } else if (p->tok.type == T_AT) {
      if ((rc = parse_at(p, is_sel ? &e->u.sel.at : &e->u.subq.at,
                         is_sel ? &e->u.sel.at_ms : &e->u.subq.at_ms)))
        return rc;
    } else {
      return 0;
    }
  }
}

/* `[range]` after a selector, or `[range:step]` after anything. */
static int parse_bracket(parser *p, pq_expr **e)
{
  size_t pos = p->tok.pos;
  int64_t range, step = 0;
  const pq_dexpr *range_x, *step_x = NULL;
  int rc = advance(p);
  if (rc || (rc = parse_duration(p, false, false, &range, &range_x)))
    return rc;
  if (p->tok.type == T_COLON) {
    if ((rc = advance(p)))
      return rc;
    if (p->tok.type != T_RBRACK && (rc = parse_duration(p, false, false, &step, &step_x)))
      return rc;
    if (p->tok.type != T_RBRACK)
      return p->tok.type == T_EOF ? perr(p, p->tok.pos, "unclosed left bracket%s%s", "", "") : unexpected(p, "\"]\"");
    if ((*e)->type != PROMQL_VECTOR)
      return type_err(p, (*e)->pos, "subquery is only allowed on instant vector, got %s instead", (*e)->type);
    pq_expr *s = node(p, N_SUBQ, PROMQL_MATRIX, (*e)->pos);
    s->u.subq.e = *e;
    s->u.subq.range = range;
    s->u.subq.step = step;
    s->u.subq.range_x = range_x;
    s->u.subq.step_x = step_x;
    *e = s;
    return advance(p);
  }
  if (p->tok.type != T_RBRACK)
    return p->tok.type == T_EOF ? perr(p, p->tok.pos, "unclosed left bracket%s%s", "", "") : unexpected(p, "\"]\" or \":\"");
  if ((*e)->kind != N_SEL || (*e)->u.sel.range)
    return perr(p, pos, "ranges only allowed for vector selectors%s%s", "", "");
  if ((*e)->u.sel.offset || (*e)->u.sel.at != AT_NONE)
    return perr(p, pos, "unexpected \"[\" after modifiers%s%s", "", "");
  if (range == 0 && !range_x)
    return perr(p, pos, "duration must be greater than 0%s%s", "", "");
  (*e)->u.sel.range = range;
  (*e)->u.sel.range_x = range_x;
  (*e)->type = PROMQL_MATRIX;
  return advance(p);
}

static int parse_primary(parser *p, pq_expr **out)
{
  size_t pos = p->tok.pos;
  int rc;
  switch (p->tok.type) {
  case T_NUM:
  case T_DUR: {
    pq_expr *e = node(p, N_NUM, PROMQL_SCALAR, pos);
    e->u.num = p->tok.type == T_NUM ? p->tok.num : (double)p->tok.dur_ms / 1000;
    *out = e;
    return advance(p);
  }
  case T_STR: {
    pq_expr *e = node(p, N_STR, PROMQL_STRING, pos);
    e->u.str = p->tok.str;
    *out = e;
    return advance(p);
  }
  case T_LPAREN: {
    pq_expr *e = node(p, N_PAREN, PROMQL_SCALAR, pos);
    if ((rc = advance(p)) || (rc = parse_expr(p, 0, &e->u.inner)))
      return rc;
    if (p->tok.type == T_EOF)
      return perr(p, p->tok.pos, "unclosed left parenthesis%s%s", "", "");
    if (p->tok.type != T_RPAREN)
      return unexpected(p, "\")\"");
    e->type = e->u.inner->type;
    *out = e;
    return advance(p);
  }
  case T_LBRACE:
    return parse_selector(p, NULL, pos, out);
  case T_IDENT:
    return parse_ident_expr(p, out);
  case T_EOF:
    return perr(p, pos, "unexpected end of input%s%s", "", "");
  case T_RPAREN:
    return perr(p, pos, "unexpected right parenthesis ')'%s%s", "", "");
  default:
    return unexpected(p, "expression");
  }
}

static int parse_postfix(parser *p, pq_expr **out)
{
  int rc = parse_primary(p, out);
  while (!rc) {
    if (p->tok.type == T_LBRACK) {
      rc = parse_bracket(p, out);
    } else if ((*out)->kind == N_SEL && !(*out)->u.sel.ext &&
               (is_kw(&p->tok, "anchored") || is_kw(&p->tok, "smoothed"))) {
      (*out)->u.sel.ext = is_kw(&p->tok, "anchored") ? EXT_ANCHORED : EXT_SMOOTHED;
      if ((*out)->u.sel.ext == EXT_ANCHORED && (*out)->type != PROMQL_MATRIX)
        return perr(p, p->tok.pos, "anchored modifier can only be used with range vectors%s%s", "", "");
      rc = advance(p);
    } else if (is_kw(&p->tok, "offset") || p->tok.type == T_AT) {
      if ((*out)->kind != N_SEL && (*out)->kind != N_SUBQ)
        return perr(p, p->tok.pos, "%s modifier must be preceded by an instant vector selector or range vector selector or a subquery%s",
                    p->tok.type == T_AT ? "@" : "offset", "");
      rc = parse_modifiers(p, *out);
    } else {
      break;
    }
  }
  return rc;
}

static int parse_unary(parser *p, pq_expr **out)
{
  if (p->tok.type != T_SUB && p->tok.type != T_ADD)
    return parse_postfix(p, out);
  bool neg = p->tok.type == T_SUB;
  size_t pos = p->tok.pos;
  int rc = advance(p);
  pq_expr *inner;
  if (rc || (rc = parse_expr(p, 6 /* only ^ binds tighter */, &inner)))
    return rc;
  if (inner->type != PROMQL_SCALAR && inner->type != PROMQL_VECTOR)
    return type_err(p, pos, "unary expression only allowed on expressions of type scalar or instant vector, got %s", inner->type);
  if (!neg) {
    *out = inner;
    return 0;
  }
  if (inner->kind == N_NUM) {
    inner->u.num = -inner->u.num;
    inner->pos = pos;
    *out = inner;
    return 0;
  }
  pq_expr *e = node(p, N_NEG, inner->type, pos);
  e->u.inner = inner;
  *out = e;
  return 0;
}

/*---- Binary operators ----*/

static int prec_of(enum pq_tok t)
{
  switch (t) {
  case T_OR: return 1;
  case T_AND: case T_UNLESS: return 2;
  case T_EQLC: case T_NEQ: case T_LTE: case T_LSS: case T_GTE: case T_GTR: return 3;
  case T_ADD: case T_SUB: return 4;
  case T_MUL: case T_DIV: case T_MOD: case T_ATAN2: return 5;
  case T_POW: return 6;
  default: return 0;
  }
}

static bool is_cmp(enum pq_tok t) { return prec_of(t) == 3; }
static bool is_set(enum pq_tok t) { return t == T_AND || t == T_OR || t == T_UNLESS; }

/* `fill(v)`, `fill_left(v)`, `fill_right(v)` after the matching modifiers;
 * an identifier not followed by "(" is a metric name, not a modifier. */
static int parse_fill(parser *p, pq_expr *e)
{
  for (;;) {
    if (p->tok.type != T_IDENT)
      return 0;
    const char *kw = p->tok.str;
    int which = !strcasecmp(kw, "fill") ? 3 : !strcasecmp(kw, "fill_left") ? 1
              : !strcasecmp(kw, "fill_right") ? 2 : 0;
    if (!which)
      return 0;
    pq_lexer save = p->lx;
    pq_token saved = p->tok;
    int rc = advance(p);
    if (rc)
      return rc;
    if (p->tok.type != T_LPAREN) {
      p->lx = save;
      p->tok = saved;
      return 0;
    }
    if (is_set(e->u.bin.op))
      return perr(p, saved.pos, "fill modifiers are not allowed for set operators%s%s", "", "");
    pq_expr *v;
    if ((rc = advance(p)) || (rc = parse_unary(p, &v)))
      return rc;
    if (v->kind != N_NUM)
      return perr(p, v->pos, "fill value must be a number literal%s%s", "", "");
    if ((rc = expect(p, T_RPAREN, "\")\"")))
      return rc;
    if (which & 1) {
      e->u.bin.fill_l = true;
      e->u.bin.fill_lv = v->u.num;
    }
    if (which & 2) {
      e->u.bin.fill_r = true;
      e->u.bin.fill_rv = v->u.num;
    }
  }
}

static int parse_bin_modifiers(parser *p, pq_expr *e)
{
  int rc = 0;
  if (is_kw(&p->tok, "bool")) {
    if (!is_cmp(e->u.bin.op))
      return perr(p, p->tok.pos, "bool modifier can only be used on comparison operators%s%s", "", "");
    e->u.bin.ret_bool = true;
    if ((rc = advance(p)))
      return rc;
  }
  if (is_kw(&p->tok, "on") || is_kw(&p->tok, "ignoring")) {
    e->u.bin.matching = true;
    e->u.bin.on = is_kw(&p->tok, "on");
    if ((rc = advance(p)) || (rc = parse_label_list(p, &e->u.bin.labels, &e->u.bin.nlabels)))
      return rc;
    if (is_kw(&p->tok, "group_left") || is_kw(&p->tok, "group_right")) {
      size_t gpos = p->tok.pos;
      if (is_set(e->u.bin.op))
        return perr(p, gpos, "no grouping allowed for \"%s\" operation%s", promql__tok_name(e->u.bin.op), "");
      e->u.bin.card = is_kw(&p->tok, "group_left") ? CARD_MANY_ONE : CARD_ONE_MANY;
      if ((rc = advance(p)))
        return rc;
      if (p->tok.type == T_LPAREN && (rc = parse_label_list(p, &e->u.bin.incl, &e->u.bin.nincl)))
        return rc;
    }
  }
  return parse_fill(p, e);
}

static int check_binop(parser *p, pq_expr *e, size_t oppos)
{
  enum promql_type lt = e->u.bin.l->type, rt = e->u.bin.r->type;
  enum pq_tok op = e->u.bin.op;
  const char *opn = promql__tok_name(op);
  if ((lt != PROMQL_SCALAR && lt != PROMQL_VECTOR) || (rt != PROMQL_SCALAR && rt != PROMQL_VECTOR))
    return promql__perr(p->d, p->lx.src, oppos,
                        "binary expression must contain only scalar and instant vector types");
  bool both_vec = lt == PROMQL_VECTOR && rt == PROMQL_VECTOR;
  if (is_set(op) && !both_vec)
    return perr(p, oppos, "set operator %s not allowed in binary scalar expression%s", opn, "");
  if (is_cmp(op) && lt == PROMQL_SCALAR && rt == PROMQL_SCALAR && !e->u.bin.ret_bool)
    return perr(p, oppos, "comparisons between scalars must use BOOL modifier%s%s", "", "");
  if (e->u.bin.matching && !both_vec)
    return perr(p, oppos, "vector matching only allowed between instant vectors%s%s", "", "");
  if (is_set(op))
    e->u.bin.card = CARD_MANY_MANY;
  for (size_t i = 0; i < e->u.bin.nincl; i++)
    if (e->u.bin.on && promql__in_list(e->u.bin.incl[i], e->u.bin.labels, e->u.bin.nlabels))
      return perr(p, oppos, "label \"%s\" must not occur in ON and GROUP clause at once%s",
                  e->u.bin.incl[i], "");
  e->type = both_vec || lt == PROMQL_VECTOR || rt == PROMQL_VECTOR ? PROMQL_VECTOR : PROMQL_SCALAR;
  return 0;
}

static int parse_expr(parser *p, int min_prec, pq_expr **out)
{
  pq_expr *l = NULL;
  int entry = p->depth, rc = deeper(p);
  if (!rc)
    rc = parse_unary(p, &l);
  while (!rc) {
    enum pq_tok op = p->tok.type;
    int prec = prec_of(op);
    if (!prec || prec < min_prec)
      break;
    size_t oppos = p->tok.pos;
    pq_expr *e = node(p, N_BIN, PROMQL_VECTOR, l->pos);
    e->u.bin.op = op;
    e->u.bin.l = l;
    if ((rc = advance(p)) || (rc = parse_bin_modifiers(p, e)))
      return rc;
    /* ^ is right-associative; everything else left-associative. */
    if ((rc = parse_expr(p, op == T_POW ? prec : prec + 1, &e->u.bin.r)))
      return rc;
    if ((rc = check_binop(p, e, oppos)) || (rc = deeper(p)))
      return rc;
    l = e;
  }
  p->depth = entry;
  *out = l;
  return rc;
}

int promql_parse(const char *query, promql_expr **out, lk_diag *d)
{
  lk_arena *a = lk_arena_new(4096);
  parser p = {.lx = {.src = query, .a = a, .d = d}, .a = a, .d = d};
  pq_expr *root = NULL;
  int rc = advance(&p);
  if (!rc && p.tok.type == T_EOF)
    rc = perr(&p, 0, "no expression found in input%s%s", "", "");
  if (!rc)
    rc = parse_expr(&p, 0, &root);
  if (!rc && p.tok.type != T_EOF)
    rc = p.tok.type == T_RPAREN ? perr(&p, p.tok.pos, "unexpected right parenthesis ')'%s%s", "", "")
                                : unexpected(&p, NULL);
  if (rc) {
    lk_arena_free(a);
    return rc;
  }
  promql_expr *e = lk_xmalloc(sizeof *e);
  e->a = a;
  e->src = lk_arena_strndup(a, query, strlen(query));
  e->root = root;
  *out = e;
  return 0;
}

void promql_expr_free(promql_expr *e)
{
  if (!e)
    return;
  lk_arena_free(e->a);
  free(e);
}
