/* lex.c — PromQL tokenizer.
 *
 * One token at a time from a NUL-terminated query; the parser pulls tokens
 * on demand (with one token of lookahead it keeps itself). Numbers cover
 * decimal, exponent and hex forms; a number directly followed by duration
 * units (`5m`, `1h30m`) is a duration token; `Inf`/`NaN` are identifiers the
 * parser turns into numbers. Strings support Go escapes and raw backticks.
 * `#` starts a comment to the end of the line. Identifier text and string
 * values are copied into the expression's arena.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_strlit.h"
#include "promql/promql_int.h"

void promql__linecol(const char *src, size_t pos, char *buf, size_t n)
{
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && src[i]; i++) {
    if (src[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(buf, n, "%zu:%zu", line, col);
}

int promql__perr(lk_diag *d, const char *src, size_t pos, const char *fmt, ...)
{
  char lc[48], msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  promql__linecol(src, pos, lc, sizeof lc);
  return lk_diag_set(d, LK_EPARSE, (long)pos, "%s: parse error: %s", lc, msg);
}

const char *promql__tok_name(enum pq_tok t)
{
  static const char *names[] = {
    [T_EOF] = "end of input", [T_ERR] = "error", [T_IDENT] = "identifier",
    [T_NUM] = "number", [T_DUR] = "duration", [T_STR] = "string",
    [T_LPAREN] = "\"(\"", [T_RPAREN] = "\")\"", [T_LBRACE] = "\"{\"", [T_RBRACE] = "\"}\"",
    [T_LBRACK] = "\"[\"", [T_RBRACK] = "\"]\"", [T_COMMA] = "\",\"", [T_COLON] = "\":\"",
    [T_AT] = "\"@\"", [T_ADD] = "\"+\"", [T_SUB] = "\"-\"", [T_MUL] = "\"*\"",
    [T_DIV] = "\"/\"", [T_MOD] = "\"%\"", [T_POW] = "\"^\"", [T_ATAN2] = "\"atan2\"",
    [T_EQLC] = "\"==\"", [T_NEQ] = "\"!=\"", [T_LTE] = "\"<=\"", [T_LSS] = "\"<\"",
    [T_GTE] = "\">=\"", [T_GTR] = "\">\"", [T_AND] = "\"and\"", [T_OR] = "\"or\"",
    [T_UNLESS] = "\"unless\"", [T_ASSIGN] = "\"=\"", [T_EQ_REGEX] = "\"=~\"",
    [T_NEQ_REGEX] = "\"!~\"",
  };
  return names[t];
}

static bool is_ident_start(int c) { return isalpha(c) || c == '_' || c == ':'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_' || c == ':'; }

static int unit_len(const char *p, int64_t *ms)
{
  if (p[0] == 'm' && p[1] == 's') {
    *ms = 1;
    return 2;
  }
  switch (p[0]) {
  case 's': *ms = 1000; return 1;
  case 'm': *ms = 60000; return 1;
  case 'h': *ms = 3600000; return 1;
  case 'd': *ms = 86400000; return 1;
  case 'w': *ms = 604800000; return 1;
  case 'y': *ms = 31536000000; return 1;
  default: return 0;
  }
}

/* A duration `(\d+unit)+` at p, not followed by an identifier character.
 * Returns its length (0 if p does not start a duration). */
static size_t scan_duration(const char *p, int64_t *out)
{
  size_t i = 0;
  int64_t total = 0;
  int parts = 0;
  while (isdigit((unsigned char)p[i])) {
    int64_t n = 0, ms;
    while (isdigit((unsigned char)p[i])) {
      if (n > INT64_MAX / 10 - 10)
        return 0;
      n = n * 10 + (p[i++] - '0');
    }
    int ul = unit_len(p + i, &ms);
    if (!ul)
      return 0;
    i += (size_t)ul;
    if (n > INT64_MAX / ms || total > INT64_MAX - n * ms)
      return 0;
    total += n * ms;
    parts++;
  }
  if (!parts || isalnum((unsigned char)p[i]) || p[i] == '_')
    return 0;
  *out = total;
  return i;
}

/* A quoted string at lx->pos: its body through lk_strlit (Go's escapes),
 * errors worded as PromQL words them. */
static pq_token lex_string(pq_lexer *lx, pq_token t)
{
  const char *s = lx->src, *p = s + lx->pos + 1, *at = NULL;
  char quote = s[lx->pos];
  lk_buf b = {0};
  lk_buf_reserve(&b, 16);
  int rc = lk_strlit_body(&p, quote, LK_STRLIT_GO, &b, &at);
  if (rc) {
    size_t where = (size_t)(at - s);
    if (rc == LK_STRLIT_E_UNTERMINATED)
      promql__perr(lx->d, s, lx->pos, "unterminated quoted string %c", quote);
    else if (rc == LK_STRLIT_E_ESCAPE)
      promql__perr(lx->d, s, where, "unknown escape sequence %c", *at);
    else if (rc == LK_STRLIT_E_DIGIT)
      promql__perr(lx->d, s, where, "invalid escape sequence in string");
    else if (rc == LK_STRLIT_E_CODEPOINT)
      promql__perr(lx->d, s, where, "invalid Unicode code point in escape sequence");
    else
      promql__perr(lx->d, s, where, "octal escape value > 255");
    t.type = T_ERR;
    lk_buf_fini(&b);
    return t;
  }
  size_t i = (size_t)(p - s);
  t.type = T_STR;
  t.str = lk_arena_strndup(lx->a, (const char *)b.data, b.len);
  lk_buf_fini(&b);
  t.len = i - lx->pos;
  lx->pos = i;
  return t;
}

static pq_token lex_number(pq_lexer *lx, pq_token t)
{
  const char *p = lx->src + lx->pos;
  int64_t ms;
  size_t dl = scan_duration(p, &ms);
  if (dl) {
    t.type = T_DUR;
    t.dur_ms = ms;
    t.len = dl;
    lx->pos += dl;
    return t;
  }
  char *end;
  double v = strtod(p, &end);
  /* strtod accepts "inf"/"nan" and hex floats; numbers start with a digit
   * or '.', so only the hex forms matter here. */
  if (end == p || isalnum((unsigned char)*end) || *end == '_' || *end == '.') {
    size_t bad = (size_t)(end - p);
    while (is_ident_char((unsigned char)p[bad]) || p[bad] == '.')
      bad++;
    promql__perr(lx->d, lx->src, lx->pos, "bad number or duration syntax: \"%.*s\"", (int)bad, p);
    t.type = T_ERR;
    return t;
  }
  t.type = T_NUM;
  t.num = v;
  t.len = (size_t)(end - p);
  lx->pos += t.len;
  return t;
}

static const struct { const char *s; enum pq_tok t; } ops2[] = {
  {"==", T_EQLC}, {"!=", T_NEQ}, {"<=", T_LTE}, {">=", T_GTE}, {"=~", T_EQ_REGEX}, {"!~", T_NEQ_REGEX},
};

static enum pq_tok op1(char c)
{
  switch (c) {
  case '(': return T_LPAREN;
  case ')': return T_RPAREN;
  case '{': return T_LBRACE;
  case '}': return T_RBRACE;
  case '[': return T_LBRACK;
  case ']': return T_RBRACK;
  case ',': return T_COMMA;
  case ':': return T_COLON;
  case '@': return T_AT;
  case '+': return T_ADD;
  case '-': return T_SUB;
  case '*': return T_MUL;
  case '/': return T_DIV;
  case '%': return T_MOD;
  case '^': return T_POW;
  case '<': return T_LSS;
  case '>': return T_GTR;
  case '=': return T_ASSIGN;
  default: return T_ERR;
  }
}

static pq_token lex_ident(pq_lexer *lx, pq_token t)
{
  const char *p = lx->src + lx->pos;
  size_t n = 0;
  while (is_ident_char((unsigned char)p[n]))
    n++;
  t.len = n;
  t.str = lk_arena_strndup(lx->a, p, n);
  lx->pos += n;
  static const struct { const char *s; enum pq_tok t; } kw[] = {
    {"and", T_AND}, {"or", T_OR}, {"unless", T_UNLESS}, {"atan2", T_ATAN2}};
  t.type = T_IDENT;
  for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
    if (!strcasecmp(t.str, kw[i].s))
      t.type = kw[i].t;
  return t;
}

pq_token promql__lex(pq_lexer *lx)
{
  const char *s = lx->src;
  for (;;) {
    while (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' || s[lx->pos] == '\r')
      lx->pos++;
    if (s[lx->pos] != '#')
      break;
    while (s[lx->pos] && s[lx->pos] != '\n')
      lx->pos++;
  }
  pq_token t = {.type = T_EOF, .pos = lx->pos};
  unsigned char c = (unsigned char)s[lx->pos];
  if (!c)
    return t;
  if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[lx->pos + 1])))
    return lex_number(lx, t);
  if (c == '"' || c == '\'' || c == '`')
    return lex_string(lx, t);
  if (is_ident_start(c) && c != ':')
    return lex_ident(lx, t);
  for (size_t i = 0; i < sizeof ops2 / sizeof ops2[0]; i++)
    if (!strncmp(s + lx->pos, ops2[i].s, 2)) {
      t.type = ops2[i].t;
      t.len = 2;
      lx->pos += 2;
      return t;
    }
  t.type = op1((char)c);
  if (t.type == T_ERR) {
    promql__perr(lx->d, s, lx->pos, "unexpected character: '%c'", isprint(c) ? c : '?');
    return t;
  }
  t.len = 1;
  lx->pos++;
  return t;
}
