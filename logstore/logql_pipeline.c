/* logql_pipeline.c — applying a LogQL pipeline to one log line.
 *
 * Stages run in order over an lq_line: line filters test the current line
 * (memmem / lib/lk_regex on (ptr, len), so lines need no NUL), parsers add
 * extracted labels (later values override earlier ones and stream labels),
 * label filters test the merged view, line_format replaces the line.
 * Extracted labels and formatted lines live in the caller's scratch arena,
 * reset per entry by the caller. Stateless; no locks.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logstore/logql_int.h"

bool logstore__lq_matchers_ok(const lq_matcher *m, size_t nm, const lk_label *ls, size_t n)
{
  for (size_t i = 0; i < nm; i++) {
    const char *v = lk_labels_get(ls, n, m[i].name);
    v = v ? v : "";
    bool ok;
    switch (m[i].op) {
    case LQ_EQ: ok = !strcmp(v, m[i].value); break;
    case LQ_NE: ok = strcmp(v, m[i].value) != 0; break;
    case LQ_RE: ok = lk_regex_match(m[i].re, v, strlen(v)); break;
    default: ok = !lk_regex_match(m[i].re, v, strlen(v)); break;
    }
    if (!ok)
      return false;
  }
  return true;
}

bool logstore__lq_has_parsers(const lq_log *lg)
{
  for (size_t i = 0; i < lg->nst; i++)
    if (lg->st[i].kind != LQ_LINE_FILTER)
      return true;
  return false;
}

static bool line_filter(const lq_stage *s, lq_line *ln)
{
  const char *p = ln->line;
  size_t n = ln->len;
  switch (s->op) {
  case LQ_EQ: return !s->value_len || memmem(p, n, s->value, s->value_len);
  case LQ_NE: return s->value_len && !memmem(p, n, s->value, s->value_len);
  case LQ_RE: return (!s->pre || memmem(p, n, s->pre, s->pre_len)) && lk_regex_match(s->re, p, n);
  default: return (s->pre && !memmem(p, n, s->pre, s->pre_len)) || !lk_regex_match(s->re, p, n);
  }
}

/* Replace characters invalid in a label name with '_'. */
static char *sanitize(lk_arena *a, const char *p, size_t n)
{
  char *s = lk_arena_strndup(a, p, n);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i && c >= '0' && c <= '9');
    if (!ok)
      s[i] = '_';
  }
  return s;
}

static void ext_set(lq_line *ln, const char *name, const char *value)
{
  for (size_t i = 0; i < ln->next; i++)
    if (!strcmp(ln->ext[i].name, name)) {
      ln->ext[i].value = value;
      return;
    }
  if (ln->next == ln->capext) {
    size_t cap = ln->capext ? ln->capext * 2 : 16;
    lk_label *n = lk_arena_alloc(ln->scratch, cap * sizeof *n);
    if (ln->next)
      memcpy(n, ln->ext, ln->next * sizeof *n);
    ln->ext = n;
    ln->capext = cap;
  }
  ln->ext[ln->next++] = (lk_label){name, value};
}

static void json_flatten(lq_line *ln, const char *prefix, json_t *obj)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    char name[256];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "_" : "", key);
    char *nm = sanitize(ln->scratch, name, strlen(name));
    char buf[64];
    const char *val = NULL;
    if (json_is_object(v)) {
      json_flatten(ln, nm, v);
      continue;
    } else if (json_is_string(v)) {
      val = json_string_value(v);
    } else if (json_is_integer(v)) {
      snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
      val = buf;
    } else if (json_is_real(v)) {
      snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
      val = buf;
    } else if (json_is_boolean(v)) {
      val = json_is_true(v) ? "true" : "false";
    } else {
      continue; /* arrays and null are not extracted */
    }
    ext_set(ln, nm, lk_arena_strndup(ln->scratch, val, strlen(val)));
  }
}

static void stage_json(lq_line *ln)
{
  json_t *root = json_loadb(ln->line, ln->len, JSON_DECODE_ANY, NULL);
  if (!json_is_object(root))
    ext_set(ln, "__error__", "JSONParserErr");
  else
    json_flatten(ln, "", root);
  json_decref(root);
}

static void stage_logfmt(lq_line *ln)
{
  const char *p = ln->line, *end = p + ln->len;
  while (p < end) {
    while (p < end && *p == ' ')
      p++;
    const char *k = p;
    while (p < end && *p != '=' && *p != ' ')
      p++;
    if (p == k) {
      p++;
      continue;
    }
    const char *kend = p, *v = p, *vend = p;
    if (p < end && *p == '=') {
      p++;
      if (p < end && *p == '"') {
        lk_buf b = {0};
        for (p++; p < end && *p != '"'; p++) {
          if (*p == '\\' && p + 1 < end)
            p++;
          lk_buf_putc(&b, (uint8_t)*p);
        }
        p += p < end;
        char *val = lk_arena_strndup(ln->scratch, b.data ? (char *)b.data : "", b.len);
        lk_buf_fini(&b);
        ext_set(ln, sanitize(ln->scratch, k, (size_t)(kend - k)), val);
        continue;
      }
      v = p;
      while (p < end && *p != ' ')
        p++;
      vend = p;
    }
    ext_set(ln, sanitize(ln->scratch, k, (size_t)(kend - k)),
            lk_arena_strndup(ln->scratch, v, (size_t)(vend - v)));
  }
}

/* Named groups of the first (leftmost-first) match become labels; no match
 * or a group that took no part extracts nothing, as in Loki. */
static void stage_regexp(const lq_stage *s, lq_line *ln)
{
  size_t nm = lk_regex_groups(s->re) + 1;
  lk_regex_span *m = lk_arena_alloc(ln->scratch, nm * sizeof *m);
  if (!lk_regex_find(s->re, ln->line, ln->len, m, nm))
    return;
  for (size_t g = 1; g < nm; g++) {
    const char *name = lk_regex_group_name(s->re, g);
    if (name && m[g].start >= 0)
      ext_set(ln, name, lk_arena_strndup(ln->scratch, ln->line + m[g].start,
                                         (size_t)(m[g].end - m[g].start)));
  }
}

static const char *label_value(const lq_line *ln, const lk_label *sl, size_t nsl, const char *name)
{
  for (size_t i = ln->next; i-- > 0;)
    if (!strcmp(ln->ext[i].name, name))
      return ln->ext[i].value;
  const char *v = lk_labels_get(sl, nsl, name);
  return v ? v : "";
}

static bool label_filter(const lq_stage *s, const char *v)
{
  if (s->numeric) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end)
      return false;
    switch (s->op) {
    case LQ_GT: return x > s->num;
    case LQ_GE: return x >= s->num;
    case LQ_LT: return x < s->num;
    case LQ_LE: return x <= s->num;
    case LQ_NE: return x != s->num;
    default: return x == s->num;
    }
  }
  switch (s->op) {
  case LQ_EQ: return !strcmp(v, s->value);
  case LQ_NE: return strcmp(v, s->value) != 0;
  case LQ_RE: return lk_regex_match(s->re, v, strlen(v));
  default: return !lk_regex_match(s->re, v, strlen(v));
  }
}

/* {{.name}} or {{ .name }} substitutions; other text is copied. */
static void line_format(const lq_stage *s, const lk_label *sl, size_t nsl, lq_line *ln)
{
  lk_buf_clear(&ln->fmt);
  const char *p = s->value;
  while (*p) {
    const char *o = strstr(p, "{{");
    if (!o) {
      lk_buf_puts(&ln->fmt, p);
      break;
    }
    lk_buf_append(&ln->fmt, p, (size_t)(o - p));
    const char *c = strstr(o, "}}");
    if (!c) {
      lk_buf_puts(&ln->fmt, o);
      break;
    }
    const char *n = o + 2;
    while (n < c && *n == ' ')
      n++;
    if (n < c && *n == '.')
      n++;
    const char *ne = n;
    while (ne < c && *ne != ' ')
      ne++;
    char name[128];
    size_t nl = (size_t)(ne - n) < sizeof name - 1 ? (size_t)(ne - n) : sizeof name - 1;
    memcpy(name, n, nl);
    name[nl] = 0;
    lk_buf_puts(&ln->fmt, label_value(ln, sl, nsl, name));
    p = c + 2;
  }
  char *copy = lk_arena_strndup(ln->scratch, ln->fmt.data ? (char *)ln->fmt.data : "", ln->fmt.len);
  ln->line = copy;
  ln->len = ln->fmt.len;
}

bool logstore__lq_pipeline(const lq_log *lg, const lk_label *sl, size_t nsl, lq_line *ln)
{
  for (size_t i = 0; i < lg->nst; i++) {
    const lq_stage *s = &lg->st[i];
    switch (s->kind) {
    case LQ_LINE_FILTER:
      if (!line_filter(s, ln))
        return false;
      break;
    case LQ_JSON: stage_json(ln); break;
    case LQ_LOGFMT: stage_logfmt(ln); break;
    case LQ_REGEXP: stage_regexp(s, ln); break;
    case LQ_LABEL_FILTER:
      if (!label_filter(s, label_value(ln, sl, nsl, s->name)))
        return false;
      break;
    case LQ_LINE_FORMAT: line_format(s, sl, nsl, ln); break;
    }
  }
  return true;
}
