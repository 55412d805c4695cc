/* selector.c — the match[] selector parser (see selector.h).
 *
 * Recursive descent over a cursor with the byte offset kept for messages;
 * everything lands in the caller's arena, so a failed parse needs no
 * cleanup. Matchers are collected in a small growable array and copied into
 * the arena at the end.
 */
#include "web/selector.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/lk_buf.h"
#include "lib/lk_labels.h"

#define MAX_MATCHERS 256

typedef struct cur {
  const char *s, *p;
  lk_arena *a;
  lk_diag *d;
} cur;

static int perr(cur *c, const char *what)
{
  return lk_diag_set(c->d, LK_EPARSE, (long)(c->p - c->s), "1:%ld: parse error: %s",
                     (long)(c->p - c->s) + 1, what);
}

static void skip_ws(cur *c)
{
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
    c->p++;
}

static bool ident_start(char ch, bool metric)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (metric && ch == ':');
}

static bool ident_char(char ch, bool metric)
{
  return ident_start(ch, metric) || (ch >= '0' && ch <= '9');
}

static char *ident(cur *c, bool metric)
{
  const char *st = c->p;
  if (!ident_start(*c->p, metric))
    return NULL;
  while (ident_char(*c->p, metric))
    c->p++;
  return lk_arena_strndup(c->a, st, (size_t)(c->p - st));
}

static void put_utf8(lk_buf *b, uint32_t cp)
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

static int hexdig(char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* One escape after the backslash; c->p at the escape letter. */
static int escape(cur *c, char quote, lk_buf *b)
{
  static const char simple_in[] = "abfnrtv\\";
  static const char simple_out[] = "\a\b\f\n\r\t\v\\";
  char e = *c->p++;
  const char *k = strchr(simple_in, e);
  if (e && k) {
    lk_buf_putc(b, (uint8_t)simple_out[k - simple_in]);
    return 0;
  }
  if (e == quote) {
    lk_buf_putc(b, (uint8_t)e);
    return 0;
  }
  int ndig = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : (e >= '0' && e <= '7') ? 3 : 0;
  if (!ndig)
    return perr(c, "unknown escape sequence");
  uint32_t v = 0;
  int base = (e >= '0' && e <= '7') ? 8 : 16;
  if (base == 8)
    c->p--;
  for (int i = 0; i < ndig; i++, c->p++) {
    int h = hexdig(*c->p);
    if (h < 0 || h >= base)
      return perr(c, "invalid character in escape sequence");
    v = v * (uint32_t)base + (uint32_t)h;
  }
  if (e == 'u' || e == 'U') {
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
      return perr(c, "escape sequence is an invalid Unicode code point");
    put_utf8(b, v);
  } else {
    if (v > 255)
      return perr(c, "octal escape value > 255");
    lk_buf_putc(b, (uint8_t)v);
  }
  return 0;
}

static int string_lit(cur *c, char **out)
{
  char q = *c->p;
  if (q != '"' && q != '\'' && q != '`')
    return perr(c, "expected a quoted string");
  c->p++;
  lk_buf b = {0};
  int rc = 0;
  for (;;) {
    char ch = *c->p;
    if (!ch || (ch == '\n' && q != '`')) {
      rc = perr(c, "unterminated quoted string");
      break;
    }
    c->p++;
    if (ch == q)
      break;
    if (ch == '\\' && q != '`') {
      if ((rc = escape(c, q, &b)))
        break;
      continue;
    }
    lk_buf_putc(&b, (uint8_t)ch);
  }
  if (!rc && b.len && !lk_utf8_valid((const char *)b.data, b.len))
    rc = perr(c, "invalid UTF-8 in string");
  if (!rc)
    *out = lk_arena_strndup(c->a, b.data ? (const char *)b.data : "", b.len);
  lk_buf_fini(&b);
  return rc;
}

static int op(cur *c, enum tsdb_match *t)
{
  if (c->p[0] == '=' && c->p[1] == '~') {
    *t = TSDB_RE;
    c->p += 2;
  } else if (c->p[0] == '!' && c->p[1] == '~') {
    *t = TSDB_NRE;
    c->p += 2;
  } else if (c->p[0] == '!' && c->p[1] == '=') {
    *t = TSDB_NE;
    c->p += 2;
  } else if (c->p[0] == '=') {
    *t = TSDB_EQ;
    c->p += 1;
  } else {
    return perr(c, "expected a label matching operator (=, !=, =~ or !~)");
  }
  return 0;
}

/* One item inside braces: `name op "v"` or a bare quoted metric name. */
static int matcher(cur *c, tsdb_matcher *m)
{
  char *name = NULL;
  int rc;
  if (*c->p == '"' || *c->p == '\'' || *c->p == '`') {
    if ((rc = string_lit(c, &name)))
      return rc;
    skip_ws(c);
    if (*c->p == ',' || *c->p == '}') { /* {"metric.name"} */
      *m = (tsdb_matcher){TSDB_EQ, "__name__", name};
      return 0;
    }
  } else if (!(name = ident(c, false))) {
    return perr(c, "expected a label name");
  }
  skip_ws(c);
  if ((rc = op(c, &m->type)))
    return rc;
  skip_ws(c);
  char *v;
  if ((rc = string_lit(c, &v)))
    return rc;
  m->name = name;
  m->value = v;
  return 0;
}

static int braces(cur *c, tsdb_matcher *ms, size_t *n)
{
  c->p++; /* '{' */
  for (;;) {
    skip_ws(c);
    if (*c->p == '}') {
      c->p++;
      return 0;
    }
    if (*n == MAX_MATCHERS)
      return perr(c, "too many label matchers");
    int rc = matcher(c, &ms[*n]);
    if (rc)
      return rc;
    (*n)++;
    skip_ws(c);
    if (*c->p == ',')
      c->p++;
    else if (*c->p != '}')
      return perr(c, "expected ',' or '}' after a label matcher");
  }
}

/* Whether m can match a series lacking the label (value ""). Regexes are
 * judged by the common empty-matching forms only; storage rejects the rest. */
static bool matches_empty(const tsdb_matcher *m)
{
  switch (m->type) {
  case TSDB_EQ: return !m->value[0];
  case TSDB_NE: return m->value[0] != 0;
  case TSDB_RE:
    return !m->value[0] || !strcmp(m->value, ".*") || !strcmp(m->value, ".*?");
  case TSDB_NRE:
    return strcmp(m->value, "") && strcmp(m->value, ".*");
  }
  return false;
}

int web__selector_parse(const char *s, lk_arena *a, tsdb_matcher **out, size_t *n, lk_diag *d)
{
  cur c = {s, s, a, d};
  tsdb_matcher ms[MAX_MATCHERS];
  size_t nm = 0;
  int rc;
  skip_ws(&c);
  char *name = ident(&c, true);
  if (name)
    ms[nm++] = (tsdb_matcher){TSDB_EQ, "__name__", name};
  skip_ws(&c);
  if (*c.p == '{') {
    if ((rc = braces(&c, ms, &nm)))
      return rc;
    skip_ws(&c);
  } else if (!name) {
    return perr(&c, *c.p ? "expected a metric name or '{'" : "unexpected end of input");
  }
  if (*c.p)
    return perr(&c, "unexpected characters after the selector");
  bool any_nonempty = false;
  for (size_t i = 0; i < nm; i++)
    any_nonempty |= !matches_empty(&ms[i]);
  if (!any_nonempty)
    return lk_diag_set(d, LK_EPARSE, 0,
                       "1:1: parse error: vector selector must contain at least one non-empty matcher");
  tsdb_matcher *res = lk_arena_alloc(a, nm * sizeof *res);
  memcpy(res, ms, nm * sizeof *res);
  *out = res;
  *n = nm;
  return 0;
}
