/* tmpl_parse.c — parser for the alerting template subset (see alerting.h).
 *
 * One pass over the source: text runs, then {{ actions }} read token by
 * token into pipelines of commands. Every name is checked here (functions,
 * their argument counts, variables in scope, block keywords) so that a
 * template outside the subset is refused before any alert uses it.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/tmpl_int.h"
#include "lib/lk_expo.h"
#include "lib/lk_strlit.h"

#define MAX_VARS 64
#define MAX_DEPTH 64

enum term { TERM_EOF, TERM_END, TERM_ELSE, TERM_ELSE_IF };

typedef struct parser {
  const char *src, *p;
  lk_arena *a;
  lk_diag *d;
  const char *vars[MAX_VARS];
  int nvars;
  int trim_next; /* the last action ended with " -}}" */
  int depth;     /* parentheses */
  int blocks;    /* open if/range blocks */
} parser;

int alerting__diag(lk_diag *d, int code, const char *src, long off, const char *fmt, ...)
{
  int line = 1;
  long col = 1;
  for (long i = 0; i < off && src[i]; i++) {
    if (src[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lk_diag_set(d, code, off, "template: %d:%ld: %s", line, col, msg);
}

#define ERR(ps, at, ...) alerting__diag((ps)->d, LK_EPARSE, (ps)->src, (long)((at) - (ps)->src), __VA_ARGS__)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

static void skip_space(parser *ps)
{
  while (is_space(*ps->p))
    ps->p++;
}

/* At the close of an action: "}}" or " -}}" (the blank is already skipped). */
static int at_close(parser *ps)
{
  const char *p = ps->p;
  if (p[0] == '}' && p[1] == '}')
    return 1;
  return p[0] == '-' && p[1] == '}' && p[2] == '}' && p > ps->src && is_space(p[-1]);
}

static int close_action(parser *ps)
{
  skip_space(ps);
  if (!at_close(ps))
    return ERR(ps, ps->p, *ps->p ? "unexpected \"%c\" in action" : "unclosed action", *ps->p);
  ps->trim_next = *ps->p == '-';
  ps->p += ps->trim_next ? 3 : 2;
  return 0;
}

static int var_known(const parser *ps, const char *name)
{
  static const char *const builtin[] = {"", "labels", "value", "externalURL", "externalLabels"};
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    if (!strcmp(builtin[i], name))
      return 1;
  for (int i = 0; i < ps->nvars; i++)
    if (!strcmp(ps->vars[i], name))
      return 1;
  return 0;
}

static int declare(parser *ps, const char *name, const char *at)
{
  if (ps->nvars == MAX_VARS)
    return ERR(ps, at, "too many variables");
  ps->vars[ps->nvars++] = name;
  return 0;
}

static const char *read_ident(parser *ps)
{
  const char *s = ps->p;
  while (is_ident(*ps->p))
    ps->p++;
  return lk_arena_strndup(ps->a, s, (size_t)(ps->p - s));
}

static int read_fields(parser *ps, alerting__field **out)
{
  alerting__field **tail = out;
  while (*ps->p == '.' && is_ident(ps->p[1])) {
    ps->p++;
    alerting__field *f = lk_arena_zalloc(ps->a, sizeof *f);
    f->name = read_ident(ps);
    *tail = f;
    tail = &f->next;
  }
  if (*ps->p == '.')
    return ERR(ps, ps->p, "bad field name");
  return 0;
}

static int parse_pipe(parser *ps, int in_paren, alerting__pipe **out);

static int parse_string(parser *ps, alerting__arg *arg)
{
  const char *open = ps->p;
  char q = *ps->p++;
  lk_buf b = {0};
  const char *at = NULL;
  int rc = lk_strlit_body(&ps->p, q, LK_STRLIT_GO, &b, &at);
  if (rc) {
    lk_buf_fini(&b);
    if (rc == LK_STRLIT_E_UNTERMINATED)
      return ERR(ps, open, "unterminated quoted string");
    return ERR(ps, at, "bad escape in string");
  }
  arg->kind = ALERTING__A_STR;
  arg->slen = b.len;
  arg->str = lk_arena_strndup(ps->a, b.data ? (const char *)b.data : "", b.len);
  lk_buf_fini(&b);
  return 0;
}

static int parse_number(parser *ps, alerting__arg *arg)
{
  const char *s = ps->p;
  if (*ps->p == '-' || *ps->p == '+')
    ps->p++;
  int hex = ps->p[0] == '0' && (ps->p[1] == 'x' || ps->p[1] == 'X');
  int is_float = 0;
  while (isalnum((unsigned char)*ps->p) || *ps->p == '.' || *ps->p == '_' ||
         ((*ps->p == '-' || *ps->p == '+') && strchr(hex ? "pP" : "eE", ps->p[-1]))) {
    if (*ps->p == '.' || (!hex && (*ps->p == 'e' || *ps->p == 'E')) || *ps->p == 'p' || *ps->p == 'P')
      is_float = 1;
    ps->p++;
  }
  size_t n = (size_t)(ps->p - s);
  char tmp[64];
  if (n >= sizeof tmp)
    return ERR(ps, s, "bad number syntax: %.*s", (int)n, s);
  memcpy(tmp, s, n);
  tmp[n] = 0;
  if (!is_float) {
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 0);
    if (*end || errno)
      return ERR(ps, s, "bad number syntax: %s", tmp);
    arg->kind = ALERTING__A_INT;
    arg->i = v;
    return 0;
  }
  if (lk_parse_go_float(tmp, n, &arg->f))
    return ERR(ps, s, "bad number syntax: %s", tmp);
  arg->kind = ALERTING__A_FLOAT;
  return 0;
}

static int parse_word(parser *ps, alerting__arg *arg)
{
  const char *at = ps->p;
  const char *w = read_ident(ps);
  if (!strcmp(w, "true") || !strcmp(w, "false")) {
    arg->kind = ALERTING__A_BOOL;
    arg->i = w[0] == 't';
    return 0;
  }
  if (!strcmp(w, "nil")) {
    arg->kind = ALERTING__A_NIL;
    return 0;
  }
  static const char *const keywords[] = {"if", "else", "end", "range", "with", "define", "template",
                                         "block", "break", "continue"};
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (!strcmp(keywords[i], w))
      return ERR(ps, at, "unexpected keyword \"%s\" in command", w);
  int f = alerting__func_lookup(w, strlen(w));
  if (f < 0)
    return ERR(ps, at, "function \"%s\" not defined", w);
  arg->kind = ALERTING__A_FUNC;
  arg->name = w;
  arg->func = f;
  return 0;
}

static int parse_operand(parser *ps, alerting__arg *arg)
{
  const char *at = ps->p;
  char c = *ps->p;
  arg->off = (long)(at - ps->src);
  if (c == '"' || c == '`')
    return parse_string(ps, arg);
  if (isdigit((unsigned char)c) || ((c == '-' || c == '+' || c == '.') && isdigit((unsigned char)ps->p[1])))
    return parse_number(ps, arg);
  if (c == '$') {
    ps->p++;
    arg->kind = ALERTING__A_VAR;
    arg->name = read_ident(ps);
    if (!var_known(ps, arg->name))
      return ERR(ps, at, "undefined variable \"$%s\"", arg->name);
    return read_fields(ps, &arg->fields);
  }
  if (c == '.') {
    arg->kind = ALERTING__A_DOT;
    if (!is_ident(ps->p[1]))
      ps->p++;
    return read_fields(ps, &arg->fields);
  }
  if (c == '(') {
    ps->p++;
    arg->kind = ALERTING__A_PIPE;
    int rc = parse_pipe(ps, 1, &arg->pipe);
    return rc ? rc : read_fields(ps, &arg->fields);
  }
  if (isalpha((unsigned char)c) || c == '_')
    return parse_word(ps, arg);
  if (c == '\'')
    return ERR(ps, at, "character constants are not supported");
  return ERR(ps, at, c ? "unexpected \"%c\" in operand" : "unclosed action", c);
}

/* Arity as Go checks it, with the piped value counted as the last argument. */
static int check_cmd(parser *ps, const alerting__cmd *c, int piped)
{
  const alerting__arg *first = c->args;
  const char *at = ps->src + c->off;
  if (first->kind != ALERTING__A_FUNC) {
    if (c->nargs > 1 || piped)
      return ERR(ps, at, "can't give argument to non-function");
    return 0;
  }
  const alerting__func_info *fi = alerting__func_get(first->func);
  int got = (int)c->nargs - 1 + piped;
  if (fi->nargs >= 0 && got != fi->nargs)
    return ERR(ps, at, "wrong number of args for %s: want %d got %d", fi->name, fi->nargs, got);
  if (fi->nargs < 0 && got < fi->min)
    return ERR(ps, at, "wrong number of args for %s: want at least %d got %d", fi->name, fi->min, got);
  return 0;
}

static int at_pipe_end(parser *ps, int in_paren)
{
  return in_paren ? *ps->p == ')' : at_close(ps);
}

static int parse_cmd(parser *ps, int in_paren, int piped, alerting__cmd **out)
{
  alerting__cmd *c = lk_arena_zalloc(ps->a, sizeof *c);
  skip_space(ps);
  c->off = (long)(ps->p - ps->src);
  alerting__arg **tail = &c->args;
  for (;;) {
    skip_space(ps);
    if (!*ps->p || at_pipe_end(ps, in_paren) || *ps->p == '|')
      break;
    if (in_paren && at_close(ps))
      return ERR(ps, ps->p, "unclosed left paren");
    if (c->nargs && !is_space(ps->p[-1]) && ps->p[-1] != ')' && *ps->p != '(')
      return ERR(ps, ps->p, "unexpected \"%c\" in operand", *ps->p);
    alerting__arg *a = lk_arena_zalloc(ps->a, sizeof *a);
    int rc = parse_operand(ps, a);
    if (rc)
      return rc;
    if (c->nargs && a->kind == ALERTING__A_FUNC) /* every function takes arguments */
      return ERR(ps, ps->src + a->off, "wrong number of args for %s: want %d got 0", a->name,
                 alerting__func_get(a->func)->min);
    *tail = a;
    tail = &a->next;
    c->nargs++;
  }
  if (!*ps->p)
    return ERR(ps, ps->p, in_paren ? "unclosed left paren" : "unclosed action");
  if (!c->nargs)
    return ERR(ps, ps->p, "missing value for command");
  *out = c;
  return check_cmd(ps, c, piped);
}

/* "$a, $b :=" or "$a :=" or "$a =" at the start of a pipeline. */
static int parse_decl(parser *ps, alerting__pipe *pp)
{
  const char *save = ps->p;
  const char *names[2];
  int n = 0;
  while (n < 2 && *ps->p == '$') {
    ps->p++;
    names[n++] = read_ident(ps);
    skip_space(ps);
    if (*ps->p != ',')
      break;
    ps->p++;
    skip_space(ps);
  }
  int assign = ps->p[0] == '=' && ps->p[1] != '=';
  if (!n || !(assign || (ps->p[0] == ':' && ps->p[1] == '='))) {
    ps->p = save;
    return 0;
  }
  ps->p += assign ? 1 : 2;
  pp->ndecl = n;
  pp->assign = assign;
  for (int i = 0; i < n; i++) {
    pp->decl[i] = names[i];
    if (assign && !var_known(ps, names[i]))
      return ERR(ps, save, "undefined variable \"$%s\"", names[i]);
  }
  return 0;
}

static int parse_pipe(parser *ps, int in_paren, alerting__pipe **out)
{
  if (++ps->depth > MAX_DEPTH)
    return ERR(ps, ps->p, "nesting too deep");
  alerting__pipe *pp = lk_arena_zalloc(ps->a, sizeof *pp);
  skip_space(ps);
  pp->off = (long)(ps->p - ps->src);
  int rc = in_paren ? 0 : parse_decl(ps, pp);
  alerting__cmd **tail = &pp->cmds;
  for (int piped = 0; !rc; piped = 1) {
    alerting__cmd *c = NULL;
    rc = parse_cmd(ps, in_paren, piped, &c);
    if (rc)
      break;
    *tail = c;
    tail = &c->next;
    if (*ps->p != '|')
      break;
    ps->p++;
  }
  if (!rc && in_paren)
    ps->p++; /* ')' */
  ps->depth--;
  *out = pp;
  return rc;
}

/* Declarations of a pipeline enter scope after it is parsed, as in Go. */
static int declare_pipe(parser *ps, const alerting__pipe *pp, int is_range)
{
  if (pp->ndecl == 2 && !is_range)
    return ERR(ps, ps->src + pp->off, "too many declarations in command");
  for (int i = 0; i < pp->ndecl && !pp->assign; i++) {
    int rc = declare(ps, pp->decl[i], ps->src + pp->off);
    if (rc)
      return rc;
  }
  return 0;
}

static int parse_list(parser *ps, alerting__node **out, enum term *term);

/* An if or range block; at is its keyword. */
static int parse_block(parser *ps, int kind, const char *at, alerting__node **out)
{
  alerting__node *n = lk_arena_zalloc(ps->a, sizeof *n);
  n->kind = kind;
  n->off = (long)(at - ps->src);
  int saved = ps->nvars;
  int rc = parse_pipe(ps, 0, &n->pipe);
  if (!rc)
    rc = declare_pipe(ps, n->pipe, kind == ALERTING__N_RANGE);
  if (!rc)
    rc = close_action(ps);
  enum term t = TERM_EOF;
  if (!rc)
    rc = parse_list(ps, &n->body, &t);
  ps->nvars = saved;
  if (!rc && t == TERM_ELSE_IF) {
    if (kind != ALERTING__N_IF)
      return ERR(ps, ps->p, "else if is only allowed after if");
    rc = parse_block(ps, ALERTING__N_IF, ps->p - 2, &n->els);
    t = TERM_END;
  } else if (!rc && t == TERM_ELSE) {
    rc = parse_list(ps, &n->els, &t);
    if (!rc && t != TERM_END)
      return ERR(ps, ps->p, t == TERM_EOF ? "unexpected EOF" : "expected end; found else");
  }
  if (!rc && t == TERM_EOF)
    return ERR(ps, ps->src + n->off, "unexpected EOF: %s has no end", kind == ALERTING__N_IF ? "if" : "range");
  *out = n;
  return rc;
}

static int keyword(parser *ps, const char *kw)
{
  size_t n = strlen(kw);
  if (strncmp(ps->p, kw, n) || is_ident(ps->p[n]))
    return 0;
  ps->p += n;
  return 1;
}

/* An action, just past "{{" and its optional "- ". *term is set on end/else. */
static int parse_action(parser *ps, alerting__node **out, enum term *term)
{
  skip_space(ps);
  const char *at = ps->p;
  if (keyword(ps, "end")) {
    *term = TERM_END;
    return ps->blocks ? close_action(ps) : ERR(ps, at, "unexpected {{end}}");
  }
  if (keyword(ps, "else")) {
    skip_space(ps);
    if (!ps->blocks)
      return ERR(ps, at, "unexpected {{else}}");
    if (keyword(ps, "if")) {
      *term = TERM_ELSE_IF;
      return 0;
    }
    *term = TERM_ELSE;
    return close_action(ps);
  }
  int kind = keyword(ps, "if") ? ALERTING__N_IF : keyword(ps, "range") ? ALERTING__N_RANGE : -1;
  if (kind >= 0) {
    ps->blocks++;
    int rc = parse_block(ps, kind, at, out);
    ps->blocks--;
    return rc;
  }
  alerting__node *n = lk_arena_zalloc(ps->a, sizeof *n);
  n->kind = ALERTING__N_ACTION;
  n->off = (long)(at - ps->src);
  int rc = parse_pipe(ps, 0, &n->pipe);
  if (!rc)
    rc = declare_pipe(ps, n->pipe, 0);
  if (!rc)
    rc = close_action(ps);
  *out = n;
  return rc;
}

static void trim_right(const char *s, size_t *len)
{
  while (*len && is_space(s[*len - 1]))
    (*len)--;
}

static int parse_list(parser *ps, alerting__node **out, enum term *term)
{
  alerting__node **tail = out;
  *term = TERM_EOF;
  while (*ps->p) {
    const char *open = strstr(ps->p, "{{");
    const char *text = ps->p;
    if (ps->trim_next)
      while (is_space(*text))
        text++;
    ps->trim_next = 0;
    size_t len = open ? (size_t)(open - text) : strlen(text);
    int trim_left = open && open[2] == '-' && is_space(open[3]);
    if (trim_left)
      trim_right(text, &len);
    if (len) {
      alerting__node *t = lk_arena_zalloc(ps->a, sizeof *t);
      t->kind = ALERTING__N_TEXT;
      t->text = text;
      t->tlen = len;
      *tail = t;
      tail = &t->next;
    }
    if (!open) {
      ps->p = text + len;
      break;
    }
    ps->p = open + (trim_left ? 3 : 2);
    alerting__node *n = NULL;
    int rc = parse_action(ps, &n, term);
    if (rc)
      return rc;
    if (*term != TERM_EOF)
      return 0;
    *tail = n;
    tail = &n->next;
  }
  return 0;
}

int alerting_template_parse(const char *src, alerting_template **out, lk_diag *d)
{
  *out = NULL;
  alerting_template *t = lk_xcalloc(1, sizeof *t);
  t->arena = lk_arena_new(4096);
  t->src = lk_arena_strndup(t->arena, src, strlen(src));
  parser ps = {.src = t->src, .p = t->src, .a = t->arena, .d = d};
  enum term term;
  int rc = parse_list(&ps, &t->root, &term);
  if (rc) {
    alerting_template_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void alerting_template_free(alerting_template *t)
{
  if (!t)
    return;
  lk_arena_free(t->arena);
  free(t);
}
