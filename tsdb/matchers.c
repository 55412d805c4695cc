/* matchers.c — compiled label matchers and sorted-id set operations, the
 * building blocks of postings-based series selection.
 *
 * Regexes are Prometheus-style fully anchored, compiled once per call by
 * lib/lk_regex (RE2). A regex made only of literal alternatives (`a|b|c`)
 * is matched by string comparison there and resolved here by direct postings
 * lookups. A matcher that matches the empty string also matches series
 * lacking the label, so selection treats it as a subtraction (see select.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb_int.h"
#include "tsdb/select_int.h"

int tsdb__matcher_compile(const tsdb_matcher *m, tsdb__cmatcher *c, lk_diag *d)
{
  memset(c, 0, sizeof *c);
  if (!m->name || !m->value || m->type < TSDB_EQ || m->type > TSDB_NRE)
    return lk_diag_set(d, LK_EINVAL, -1, "invalid matcher");
  c->type = m->type;
  c->name = m->name;
  c->value = m->value;
  if (m->type == TSDB_RE || m->type == TSDB_NRE) {
    int rc = lk_regex_compile(m->value, LK_REGEX_ANCHORED, &c->re, d);
    if (rc)
      return rc;
    c->alts = lk_regex_alternatives(c->re, &c->nalts);
  }
  c->matches_empty = tsdb__matcher_match(c, "");
  return 0;
}

void tsdb__matcher_fini(tsdb__cmatcher *c)
{
  lk_regex_free(c->re);
  memset(c, 0, sizeof *c);
}

bool tsdb__matcher_match(const tsdb__cmatcher *c, const char *v)
{
  switch (c->type) {
  case TSDB_EQ: return !strcmp(c->value, v);
  case TSDB_NE: return strcmp(c->value, v) != 0;
  case TSDB_RE: return lk_regex_match(c->re, v, strlen(v));
  case TSDB_NRE: return !lk_regex_match(c->re, v, strlen(v));
  }
  return false;
}

/*---- Sorted id sets ----*/

void tsdb__ids_fini(tsdb__ids *s)
{
  free(s->v);
  memset(s, 0, sizeof *s);
}

void tsdb__ids_append(tsdb__ids *s, const uint32_t *ids, size_t n)
{
  s->v = lk_xgrow(s->v, &s->cap, s->n + n, sizeof *s->v);
  memcpy(s->v + s->n, ids, n * sizeof *ids);
  s->n += n;
}

static int u32_cmp(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

void tsdb__ids_sort_unique(tsdb__ids *s)
{
  bool sorted = true;
  for (size_t i = 1; i < s->n && sorted; i++)
    sorted = s->v[i - 1] < s->v[i];
  if (sorted)
    return;
  qsort(s->v, s->n, sizeof *s->v, u32_cmp);
  size_t w = 0;
  for (size_t i = 0; i < s->n; i++)
    if (!w || s->v[w - 1] != s->v[i])
      s->v[w++] = s->v[i];
  s->n = w;
}

void tsdb__ids_intersect(tsdb__ids *a, const tsdb__ids *b)
{
  size_t i = 0, j = 0, w = 0;
  while (i < a->n && j < b->n) {
    if (a->v[i] < b->v[j])
      i++;
    else if (a->v[i] > b->v[j])
      j++;
    else {
      a->v[w++] = a->v[i++];
      j++;
    }
  }
  a->n = w;
}

void tsdb__ids_subtract(tsdb__ids *a, const tsdb__ids *b)
{
  size_t i = 0, j = 0, w = 0;
  while (i < a->n) {
    while (j < b->n && b->v[j] < a->v[i])
      j++;
    if (j < b->n && b->v[j] == a->v[i])
      i++;
    else
      a->v[w++] = a->v[i++];
  }
  a->n = w;
}
