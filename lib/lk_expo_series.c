/* lk_expo_series.c — parse and fully validate the series text of a sample line
 * (`name{a="b",...}`, `name`, `name {…}`, or `{"utf8.name",a="b"}`).
 *
 * Called once per distinct series text (the import path caches by the raw
 * bytes), so it favours clear checks over speed. The text must be exactly one
 * series: no leading or trailing blanks, nothing after the closing '}'; this
 * strictness is what makes the exposition parser's split-from-the-end exact
 * (see lk_expo.c). Grammar, blanks = ' ' / '\t':
 *   series := name [blanks] ['{' labels '}'] | '{' labels '}'
 *   labels := [blanks] [item [blanks] (',' [blanks] item [blanks])* [','] [blanks]]
 *   item   := lname [blanks] '=' [blanks] quoted | quoted ['=' [blanks] quoted]
 * A bare quoted item is the metric name (only without a name before '{').
 * Upper bound on labels: every label value is quoted, so the number of '"'
 * bytes / 2 + 1 (the outside name) bounds the array allocated up front.
 */
#include <string.h>

#include "lib/lk_expo.h"

typedef struct pstate {
  const char *t;
  size_t n, i;
  lk_arena *a;
  lk_diag *d;
  lk_label *ls;
  size_t nls;
  const char *metric; /* set once, from outside the braces or a bare quoted item */
} pstate;

static int is_blank(char c) { return c == ' ' || c == '\t'; }
static int is_lname(char c, int first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}
static int is_mname(char c, int first) { return is_lname(c, first) || c == ':'; }

static void skip_blanks(pstate *s)
{
  while (s->i < s->n && is_blank(s->t[s->i]))
    s->i++;
}

static int err(pstate *s, const char *what)
{
  return lk_diag_set(s->d, LK_EPARSE, (long)s->i, "%s at byte %zu of series \"%.*s\"", what,
                     s->i, s->n > 200 ? 200 : (int)s->n, s->t);
}

/* Unescape \\ \" \n; keep other backslash pairs verbatim. Shrinks in place. */
static size_t unescape(char *v, size_t n)
{
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '\\' && i + 1 < n) {
      char c = v[i + 1];
      if (c == '\\' || c == '"' || c == 'n') {
        v[o++] = c == 'n' ? '\n' : c;
        i++;
        continue;
      }
    }
    v[o++] = v[i];
  }
  v[o] = 0;
  return o;
}

/* Quoted string at s->i (on '"'): OUT *out = arena copy, unescaped, UTF-8 checked. */
static int quoted(pstate *s, const char **out, size_t *outlen)
{
  size_t start = ++s->i;
  while (s->i < s->n && s->t[s->i] != '"')
    s->i += s->t[s->i] == '\\' ? 2 : 1;
  if (s->i >= s->n) {
    s->i = start - 1;
    return err(s, "unterminated quoted string");
  }
  char *v = lk_arena_strndup(s->a, s->t + start, s->i - start);
  size_t vn = unescape(v, s->i - start);
  if (!lk_utf8_valid(v, vn)) {
    s->i = start - 1;
    return err(s, "invalid UTF-8 in quoted string");
  }
  s->i++;
  *out = v;
  *outlen = vn;
  return 0;
}

static int set_metric(pstate *s, const char *name)
{
  if (s->metric)
    return err(s, "metric name given twice");
  s->metric = name;
  return 0;
}

/* Unquoted label name at s->i. */
static int plain_name(pstate *s, const char **out)
{
  size_t start = s->i;
  if (s->i >= s->n || !is_lname(s->t[s->i], 1))
    return err(s, "invalid label name");
  while (s->i < s->n && is_lname(s->t[s->i], 0))
    s->i++;
  *out = lk_arena_strndup(s->a, s->t + start, s->i - start);
  return 0;
}

/* One `name="value"` or bare `"metric"` item. */
static int item(pstate *s)
{
  const char *name, *value;
  size_t len;
  int rc, was_quoted = s->t[s->i] == '"';
  rc = was_quoted ? quoted(s, &name, &len) : plain_name(s, &name);
  if (rc)
    return rc;
  if (was_quoted && len == 0)
    return err(s, "empty quoted name");
  skip_blanks(s);
  if (s->i < s->n && s->t[s->i] == '=') {
    s->i++;
    skip_blanks(s);
    if (s->i >= s->n || s->t[s->i] != '"')
      return err(s, "expected a quoted label value");
    if ((rc = quoted(s, &value, &len)))
      return rc;
    s->ls[s->nls++] = (lk_label){name, value};
    return 0;
  }
  if (!was_quoted)
    return err(s, "expected '=' after label name");
  return set_metric(s, name);
}

static int label_set(pstate *s)
{
  s->i++; /* '{' */
  for (;;) {
    skip_blanks(s);
    if (s->i >= s->n)
      return err(s, "unterminated label set");
    if (s->t[s->i] == '}')
      break;
    int rc = item(s);
    if (rc)
      return rc;
    skip_blanks(s);
    if (s->i >= s->n)
      return err(s, "unterminated label set");
    if (s->t[s->i] == ',')
      s->i++;
    else if (s->t[s->i] != '}')
      return err(s, "expected ',' or '}'");
  }
  s->i++; /* '}' */
  if (s->i != s->n)
    return err(s, "unexpected text after '}'");
  return 0;
}

static int outside_name(pstate *s)
{
  size_t start = s->i;
  if (!is_mname(s->t[0], 1))
    return err(s, "invalid metric name");
  while (s->i < s->n && is_mname(s->t[s->i], 0))
    s->i++;
  int rc = set_metric(s, lk_arena_strndup(s->a, s->t + start, s->i - start));
  if (rc || s->i == s->n)
    return rc;
  skip_blanks(s);
  if (s->i >= s->n || s->t[s->i] != '{')
    return err(s, "invalid metric name");
  return 0;
}

/* Sort, reject duplicates, drop empty values, add __name__. */
static int finish(pstate *s, lk_label **out, size_t *n)
{
  for (size_t i = 0; i < s->nls; i++)
    if (!strcmp(s->ls[i].name, "__name__") && set_metric(s, s->ls[i].value))
      return err(s, "metric name given twice");
  if (!s->metric || !*s->metric)
    return err(s, "missing metric name");
  lk_labels_sort(s->ls, s->nls);
  for (size_t i = 1; i < s->nls; i++)
    if (!strcmp(s->ls[i - 1].name, s->ls[i].name))
      return lk_diag_set(s->d, LK_EPARSE, -1, "duplicate label \"%s\" in series \"%.*s\"",
                         s->ls[i].name, s->n > 200 ? 200 : (int)s->n, s->t);
  size_t k = 0;
  int have_name = 0;
  for (size_t i = 0; i < s->nls; i++) {
    if (!*s->ls[i].value)
      continue;
    have_name |= !strcmp(s->ls[i].name, "__name__");
    s->ls[k++] = s->ls[i];
  }
  if (!have_name) {
    s->ls[k++] = (lk_label){"__name__", s->metric};
    lk_labels_sort(s->ls, k);
  }
  *out = s->ls;
  *n = k;
  return 0;
}

int lk_expo_parse_series(const char *text, size_t len, lk_arena *arena, lk_label **out,
                         size_t *n, lk_diag *d)
{
  pstate s = {.t = text, .n = len, .a = arena, .d = d};
  if (len == 0)
    return err(&s, "missing metric name");
  size_t quotes = 0;
  for (const char *q = text; (q = memchr(q, '"', (size_t)(text + len - q))); q++)
    quotes++;
  s.ls = lk_arena_alloc(arena, (quotes / 2 + 1) * sizeof *s.ls);
  int rc = 0;
  if (text[0] != '{')
    rc = outside_name(&s);
  if (!rc && s.i < s.n)
    rc = label_set(&s);
  return rc ? rc : finish(&s, out, n);
}
