/* am_model.c — Alertmanager's data model: label sets and their fingerprint,
 * alerts and their merge rule, matchers in Alertmanager's syntax, and the
 * Go spellings (%q quoting, LabelSet.String, RFC 3339 times) that appear in
 * group keys and JSON, so what Lookout writes reads like Alertmanager's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"

void am__labels_free(am_labels *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free((char *)l->v[i].name);
    free((char *)l->v[i].value);
  }
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

void am__labels_add(am_labels *l, const char *name, const char *value)
{
  l->v = lk_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = (lk_label){lk_xstrdup(name), lk_xstrdup(value)};
}

void am__labels_copy(am_labels *dst, const am_labels *src)
{
  dst->v = NULL;
  dst->n = 0;
  for (size_t i = 0; i < src->n; i++)
    am__labels_add(dst, src->v[i].name, src->v[i].value);
}

const char *am__labels_get(const am_labels *l, const char *name)
{
  return lk_labels_get(l->v, l->n, name);
}

uint64_t am__fingerprint(const am_labels *l)
{
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < l->n; i++) {
    const char *parts[2] = {l->v[i].name, l->v[i].value};
    for (int k = 0; k < 2; k++) {
      for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
      h = (h ^ 0xffu) * 1099511628211ULL;
    }
  }
  return h;
}

void am__alert_copy(am_alert *dst, const am_alert *src)
{
  *dst = *src;
  am__labels_copy(&dst->labels, &src->labels);
  am__labels_copy(&dst->annotations, &src->annotations);
  dst->generator_url = lk_xstrdup(src->generator_url ? src->generator_url : "");
}

void am__alert_free(am_alert *a)
{
  am__labels_free(&a->labels);
  am__labels_free(&a->annotations);
  free(a->generator_url);
  a->generator_url = NULL;
}

bool am__alert_resolved(const am_alert *a, int64_t now)
{
  return a->ends_at != 0 && a->ends_at <= now;
}

void am__alert_merge(am_alert *a, const am_alert *o)
{
  const am_alert *older = a, *younger = o;
  if (o->updated_at < a->updated_at) {
    older = o;
    younger = a;
  }
  am_alert res;
  am__alert_copy(&res, younger);
  if (older->starts_at < younger->starts_at)
    res.starts_at = older->starts_at;
  int64_t now = younger->updated_at;
  if (am__alert_resolved(younger, now)) {
    if (am__alert_resolved(older, now) && older->ends_at > younger->ends_at)
      res.ends_at = older->ends_at;
  } else if (older->ends_at > younger->ends_at && !older->timeout) {
    res.ends_at = older->ends_at;
  }
  am__alert_free(a);
  *a = res;
}

/*---- matchers ----*/

const char *am__op_str(enum lk_sel_op op)
{
  static const char *const s[] = {"=", "!=", "=~", "!~"};
  return s[op];
}

static bool name_char(char c, bool first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

int am__matcher_add(am_matchers *ms, const char *name, enum lk_sel_op op, const char *value, lk_diag *d)
{
  lk_regex *re = NULL;
  if ((op == LK_SEL_RE || op == LK_SEL_NRE) && lk_regex_compile(value, LK_REGEX_ANCHORED, &re, d))
    return LK_EINVAL;
  ms->v = lk_xrealloc(ms->v, (ms->n + 1) * sizeof *ms->v);
  ms->v[ms->n++] = (am_matcher){lk_xstrdup(name), lk_xstrdup(value), op, re};
  return 0;
}

/* A quoted value with Go escapes (\" \\ \n \t); *p past the closing quote. */
static int quoted_value(const char **p, lk_buf *v)
{
  const char *s = *p + 1;
  for (; *s && *s != '"'; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      lk_buf_putc(v, *s == 'n' ? '\n' : *s == 't' ? '\t' : (uint8_t)*s);
    } else {
      lk_buf_putc(v, (uint8_t)*s);
    }
  }
  if (*s != '"')
    return -1;
  *p = s + 1;
  return 0;
}

/* One matcher at *p up to ',' or '}' or the end. */
static int parse_one(const char **p, am_matchers *out, const char *whole, lk_diag *d)
{
  const char *s = *p;
  while (*s == ' ' || *s == '\t')
    s++;
  const char *n0 = s;
  while (name_char(*s, s == n0))
    s++;
  size_t nlen = (size_t)(s - n0);
  while (*s == ' ' || *s == '\t')
    s++;
  enum lk_sel_op op;
  if (!strncmp(s, "=~", 2))
    op = LK_SEL_RE, s += 2;
  else if (!strncmp(s, "!~", 2))
    op = LK_SEL_NRE, s += 2;
  else if (!strncmp(s, "!=", 2))
    op = LK_SEL_NE, s += 2;
  else if (*s == '=')
    op = LK_SEL_EQ, s += 1;
  else
    return lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s", whole);
  if (!nlen)
    return lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s", whole);
  while (*s == ' ' || *s == '\t')
    s++;
  lk_buf v = {0};
  if (*s == '"') {
    if (quoted_value(&s, &v)) {
      lk_buf_fini(&v);
      return lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s", whole);
    }
  } else {
    const char *v0 = s;
    while (*s && *s != ',' && *s != '}')
      s++;
    const char *e = s;
    while (e > v0 && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    lk_buf_append(&v, v0, (size_t)(e - v0));
  }
  lk_buf_putc(&v, 0);
  char *name = lk_xstrndup(n0, nlen);
  int rc = am__matcher_add(out, name, op, (const char *)v.data, d);
  free(name);
  lk_buf_fini(&v);
  while (*s == ' ' || *s == '\t')
    s++;
  *p = s;
  return rc;
}

int am__matchers_parse(const char *s, am_matchers *out, lk_diag *d)
{
  am_matchers tmp = {0};
  const char *p = s;
  while (*p == ' ')
    p++;
  bool braces = *p == '{';
  if (braces)
    p++;
  int rc = 0;
  for (;;) {
    while (*p == ' ')
      p++;
    if (!*p || (braces && *p == '}'))
      break;
    if ((rc = parse_one(&p, &tmp, s, d)))
      break;
    if (*p == ',')
      p++;
    else if (*p && !(braces && *p == '}'))
      rc = lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s", s);
    if (rc)
      break;
  }
  if (!rc && braces && *p++ != '}')
    rc = lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s (missing closing \"}\")", s);
  while (!rc && *p == ' ')
    p++;
  if (!rc && *p)
    rc = lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s", s);
  if (!rc && !tmp.n)
    rc = lk_diag_set(d, LK_EINVAL, -1, "bad matcher format: %s (no matchers)", s);
  if (rc) {
    am__matchers_free(&tmp);
    return rc;
  }
  for (size_t i = 0; i < tmp.n; i++) {
    out->v = lk_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    out->v[out->n++] = tmp.v[i];
  }
  free(tmp.v);
  return 0;
}

static int matcher_cmp(const void *a, const void *b)
{
  const am_matcher *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (!c)
    c = strcmp(x->value, y->value);
  return c ? c : (int)x->op - (int)y->op;
}

void am__matchers_sort(am_matchers *ms)
{
  if (ms->n > 1)
    qsort(ms->v, ms->n, sizeof *ms->v, matcher_cmp);
}

void am__matchers_free(am_matchers *ms)
{
  for (size_t i = 0; i < ms->n; i++) {
    free(ms->v[i].name);
    free(ms->v[i].value);
    lk_regex_free(ms->v[i].re);
  }
  free(ms->v);
  ms->v = NULL;
  ms->n = 0;
}

bool am__matchers_match(const am_matchers *ms, const am_labels *l)
{
  for (size_t i = 0; i < ms->n; i++) {
    const am_matcher *m = &ms->v[i];
    const char *v = am__labels_get(l, m->name);
    if (!v)
      v = "";
    bool ok;
    switch (m->op) {
    case LK_SEL_EQ: ok = !strcmp(v, m->value); break;
    case LK_SEL_NE: ok = strcmp(v, m->value) != 0; break;
    case LK_SEL_RE: ok = lk_regex_match(m->re, v, strlen(v)); break;
    default: ok = !lk_regex_match(m->re, v, strlen(v)); break;
    }
    if (!ok)
      return false;
  }
  return true;
}

void am__quote(lk_buf *b, const char *s)
{
  lk_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      lk_buf_putc(b, '\\');
      lk_buf_putc(b, *p);
    } else if (*p == '\n') {
      lk_buf_puts(b, "\\n");
    } else if (*p == '\t') {
      lk_buf_puts(b, "\\t");
    } else if (*p == '\r') {
      lk_buf_puts(b, "\\r");
    } else if (*p < 0x20 || *p == 0x7f) {
      lk_buf_printf(b, "\\x%02x", *p);
    } else {
      lk_buf_putc(b, *p);
    }
  }
  lk_buf_putc(b, '"');
}

void am__matchers_format(lk_buf *b, const am_matchers *ms)
{
  lk_buf_putc(b, '{');
  for (size_t i = 0; i < ms->n; i++) {
    if (i)
      lk_buf_putc(b, ',');
    lk_buf_puts(b, ms->v[i].name);
    lk_buf_puts(b, am__op_str(ms->v[i].op));
    am__quote(b, ms->v[i].value);
  }
  lk_buf_putc(b, '}');
}

void am__labels_format(lk_buf *b, const am_labels *l)
{
  lk_buf_putc(b, '{');
  for (size_t i = 0; i < l->n; i++) {
    if (i)
      lk_buf_puts(b, ", ");
    lk_buf_puts(b, l->v[i].name);
    lk_buf_putc(b, '=');
    am__quote(b, l->v[i].value);
  }
  lk_buf_putc(b, '}');
}

void am__fmt_time(char out[40], int64_t ms)
{
  if (ms == 0) {
    strcpy(out, "0001-01-01T00:00:00Z");
    return;
  }
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = (int)(ms - (int64_t)secs * 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t o = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac) { /* .mmm without trailing zeros, as Go's RFC3339Nano */
    int digits = 3;
    while (frac % 10 == 0) {
      frac /= 10;
      digits--;
    }
    o += (size_t)snprintf(out + o, 40 - o, ".%0*d", digits, frac);
  }
  strcpy(out + o, "Z");
}

int am__labels_from_json(const json_t *o, const char *what, am_labels *out, lk_diag *d)
{
  am_labels l = {0};
  if (!json_is_object(o))
    return lk_diag_set(d, LK_EINVAL, -1, "%s: expected an object of strings", what);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    if (!json_is_string(v)) {
      am__labels_free(&l);
      return lk_diag_set(d, LK_EINVAL, -1, "%s: value of \"%s\" is not a string", what, k);
    }
    am__labels_add(&l, k, json_string_value(v));
  }
  lk_labels_sort(l.v, l.n);
  *out = l;
  return 0;
}

json_t *am__labels_json(const am_labels *l)
{
  json_t *o = json_object();
  for (size_t i = 0; i < l->n; i++)
    json_object_set_new(o, l->v[i].name, json_string(l->v[i].value));
  return o;
}
