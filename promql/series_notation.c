/* series_notation.c — the series notation of Prometheus's test files:
 * `name{label="value"}` label sets and value sequences in expanding
 * notation (`1+2x3` = 1 3 5 7, `1x2` = 1 1 1, `_` a missing sample, `_x3`
 * three of them, `stale` a stale marker, `{{…}}` histogram slots). One
 * parser for the PromQL conformance runner and `lookout test rules`. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "promql/promql.h"

/*---- Value sequences ----*/

static bool parse_num(const char **p, double *out)
{
  const char *s = *p;
  if (!strncasecmp(s, "stale", 5))
    return false;
  /* no hex in sequences: "0x5" is 0 repeated */
  const char *d = s + (*s == '+' || *s == '-');
  if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
    *out = *s == '-' ? -0.0 : 0;
    *p = d + 1;
    return true;
  }
  char *end;
  double v = strtod(s, &end);
  if (end == s)
    return false;
  *out = v;
  *p = end;
  return true;
}

static void push(double **v, uint8_t **ok, size_t *n, size_t *cap, double x, uint8_t state)
{
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *v = lk_xrealloc(*v, *cap * sizeof **v);
    *ok = lk_xrealloc(*ok, *cap);
  }
  (*v)[*n] = x;
  (*ok)[(*n)++] = state;
}

static double stale_nan(void)
{
  uint64_t bits = TSDB_STALE_NAN_BITS;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* `{{…}}`, `{{…}}xN`, `{{a}}+{{b}}xN`: PROMQL_SLOT_HIST slots. */
static int parse_hist_item(const char **ps, double **v, uint8_t **ok, size_t *n, size_t *cap)
{
  const char *s = *ps;
  const char *e = strstr(s, "}}");
  if (!e)
    return -1;
  s = e + 2;
  long times = 1;
  if (*s == '+' || *s == '-') {
    e = strstr(s, "}}");
    if (!e)
      return -1;
    s = e + 2;
  }
  if (*s == 'x')
    times = strtol(s + 1, (char **)&s, 10) + 1;
  for (long k = 0; k < times; k++)
    push(v, ok, n, cap, 0, PROMQL_SLOT_HIST);
  *ps = s;
  return 0;
}

/* Free what was expanded and say where the sequence went wrong. */
static int values_fail(double **v, uint8_t **ok, size_t *n, lk_diag *d, const char *start,
                       const char *at)
{
  free(*v);
  free(*ok);
  *v = NULL;
  *ok = NULL;
  *n = 0;
  return lk_diag_set(d, LK_EPARSE, at - start,
                     "bad value sequence at character %ld: \"%.40s\" (expected a number, a+bxN, "
                     "axN, _, _xN or stale, at most %d values)",
                     (long)(at - start) + 1, at, PROMQL_SERIES_MAX_VALUES);
}

int promql_parse_series_values(const char *s, double **v, uint8_t **ok, size_t *n, bool *hist,
                               lk_diag *d)
{
  const char *start = s;
  size_t cap = 0;
  long limit = PROMQL_SERIES_MAX_VALUES;
  *v = NULL;
  *ok = NULL;
  *n = 0;
  while (*s) {
    while (isspace((unsigned char)*s))
      s++;
    if (!*s)
      break;
    if (s[0] == '{' && s[1] == '{') {
      *hist = true;
      if (parse_hist_item(&s, v, ok, n, &cap))
        return values_fail(v, ok, n, d, start, s);
      continue;
    }
    if (*s == '_') {
      s++;
      long times = 1;
      if (*s == 'x')
        times = strtol(s + 1, (char **)&s, 10);
      if (times < 0 || times > limit - (long)*n)
        return values_fail(v, ok, n, d, start, s);
      for (long k = 0; k < times; k++)
        push(v, ok, n, &cap, 0, PROMQL_SLOT_EMPTY);
      continue;
    }
    if (!strncasecmp(s, "stale", 5)) {
      s += 5;
      push(v, ok, n, &cap, stale_nan(), PROMQL_SLOT_FLOAT);
      continue;
    }
    double a, b = 0;
    if (!parse_num(&s, &a))
      return values_fail(v, ok, n, d, start, s);
    if ((*s == '+' || *s == '-') && s[1] != 0) {
      bool neg = *s == '-';
      s++;
      if (!parse_num(&s, &b))
        return values_fail(v, ok, n, d, start, s);
      if (neg)
        b = -b;
    }
    if (*s == 'x') {
      char *end;
      long times = strtol(s + 1, &end, 10);
      if (end == s + 1 || times < 0 || times >= limit - (long)*n)
        return values_fail(v, ok, n, d, start, s);
      s = end;
      for (long k = 0; k <= times; k++)
        push(v, ok, n, &cap, a + (double)k * b, PROMQL_SLOT_FLOAT);
    } else {
      push(v, ok, n, &cap, a, PROMQL_SLOT_FLOAT);
    }
    if (*s && !isspace((unsigned char)*s))
      return values_fail(v, ok, n, d, start, s);
  }
  return 0;
}

/*---- Label sets ----*/

static const char *parse_quoted(const char **p, lk_arena *a)
{
  const char *s = *p;
  char q = *s++;
  lk_buf b = {0};
  lk_buf_reserve(&b, 1);
  b.data[0] = 0;
  while (*s && *s != q) {
    if (*s == '\\' && s[1]) {
      s++;
      char c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      lk_buf_putc(&b, (uint8_t)c);
    } else {
      lk_buf_putc(&b, (uint8_t)*s);
    }
    s++;
  }
  if (*s == q)
    s++;
  *p = s;
  const char *r = lk_arena_strndup(a, (const char *)b.data, b.len);
  lk_buf_fini(&b);
  return r;
}

const char *promql_parse_series_labels(const char *s, lk_arena *a, lk_label **out, size_t *out_n)
{
  lk_label *ls = lk_arena_alloc(a, 64 * sizeof *ls);
  size_t n = 0;
  const char *p = s;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
    p++;
  if (p > s)
    ls[n++] = (lk_label){"__name__", lk_arena_strndup(a, s, (size_t)(p - s))};
  if (*p == '{') {
    p++;
    while (*p && *p != '}' && n < 64) {
      while (isspace((unsigned char)*p) || *p == ',')
        p++;
      if (*p == '}')
        break;
      const char *name;
      if (*p == '"') {
        name = parse_quoted(&p, a);
      } else {
        const char *ns = p;
        while (isalnum((unsigned char)*p) || *p == '_')
          p++;
        name = lk_arena_strndup(a, ns, (size_t)(p - ns));
      }
      while (isspace((unsigned char)*p))
        p++;
      if (*p != '=') { /* a quoted metric name */
        ls[n++] = (lk_label){"__name__", name};
        continue;
      }
      p++;
      while (isspace((unsigned char)*p))
        p++;
      if (*p != '"' && *p != '\'' && *p != '`')
        return NULL;
      ls[n++] = (lk_label){name, parse_quoted(&p, a)};
    }
    if (*p != '}')
      return NULL;
    p++;
  } else if (p == s) {
    return NULL;
  }
  lk_labels_sort(ls, n);
  *out = ls;
  *out_n = n;
  return p;
}

