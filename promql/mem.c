/* mem.c — an in-memory queryable: series kept sorted by label set, each with
 * its samples in time order. Used by unit tests and as a reference store;
 * select scans every series (fine for test-sized data). Selected series
 * borrow the store's arrays, so the store must not change while a result
 * set is alive. Not thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "promql/promql_int.h"
#include "lib/lk_regex.h"

typedef struct mem_series {
  lk_label *ls;       /* owned copies, sorted */
  size_t nls;
  int64_t *t;
  double *v;
  size_t n, cap;
} mem_series;

struct promql_mem {
  mem_series *s;
  size_t n, cap;
};

typedef struct mem_set {
  promql_series_in *s;
  size_t n;
} mem_set;

promql_mem *promql_mem_new(void) { return lk_xcalloc(1, sizeof(promql_mem)); }

void promql_mem_free(promql_mem *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->n; i++) {
    for (size_t j = 0; j < m->s[i].nls; j++) {
      free((char *)m->s[i].ls[j].name);
      free((char *)m->s[i].ls[j].value);
    }
    free(m->s[i].ls);
    free(m->s[i].t);
    free(m->s[i].v);
  }
  free(m->s);
  free(m);
}

static mem_series *find_or_add(promql_mem *m, const lk_label *ls, size_t n)
{
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = lk_labels_cmp(m->s[mid].ls, m->s[mid].nls, ls, n);
    if (c == 0)
      return &m->s[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  m->s = lk_xgrow(m->s, &m->cap, m->n + 1, sizeof *m->s);
  memmove(&m->s[lo + 1], &m->s[lo], (m->n - lo) * sizeof *m->s);
  m->n++;
  mem_series *s = &m->s[lo];
  memset(s, 0, sizeof *s);
  s->ls = lk_xmalloc((n ? n : 1) * sizeof *s->ls);
  for (size_t i = 0; i < n; i++)
    s->ls[i] = (lk_label){lk_xstrdup(ls[i].name), lk_xstrdup(ls[i].value)};
  s->nls = n;
  return s;
}

static void put_sample(mem_series *s, int64_t t, double v)
{
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (s->t[mid] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < s->n && s->t[lo] == t) {
    s->v[lo] = v;
    return;
  }
  size_t cap = s->cap;
  s->t = lk_xgrow(s->t, &cap, s->n + 1, sizeof *s->t);
  s->v = lk_xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
  memmove(&s->t[lo + 1], &s->t[lo], (s->n - lo) * sizeof *s->t);
  memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
  s->t[lo] = t;
  s->v[lo] = v;
  s->n++;
}

int promql_mem_add(promql_mem *m, const lk_label *ls, size_t n, const lk_sample *s, size_t ns,
                   lk_diag *d)
{
  lk_label *sorted = lk_xmalloc((n ? n : 1) * sizeof *sorted);
  memcpy(sorted, ls, n * sizeof *sorted);
  lk_labels_sort(sorted, n);
  for (size_t i = 1; i < n; i++)
    if (!strcmp(sorted[i].name, sorted[i - 1].name)) {
      int rc = lk_diag_set(d, LK_EINVAL, -1, "duplicate label name %s", sorted[i].name);
      free(sorted);
      return rc;
    }
  mem_series *ms = find_or_add(m, sorted, n);
  free(sorted);
  for (size_t i = 0; i < ns; i++)
    put_sample(ms, s[i].t, s[i].v);
  return 0;
}

static bool matches(const mem_series *s, const tsdb_matcher *m, const lk_regex *re)
{
  const char *v = lk_labels_get(s->ls, s->nls, m->name);
  if (!v)
    v = "";
  switch (m->type) {
  case TSDB_EQ: return !strcmp(v, m->value);
  case TSDB_NE: return strcmp(v, m->value) != 0;
  case TSDB_RE: return lk_regex_match(re, v, strlen(v));
  default: return !lk_regex_match(re, v, strlen(v));
  }
}

static size_t lower_bound(const int64_t *t, size_t n, int64_t x)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int mem_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                      uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  promql_mem *mem = ctx;
  lk_regex **re = lk_xcalloc(nm ? nm : 1, sizeof *re);
  int rc = 0;
  for (size_t j = 0; !rc && j < nm; j++)
    if (m[j].type == TSDB_RE || m[j].type == TSDB_NRE)
      rc = lk_regex_compile(m[j].value, LK_REGEX_ANCHORED, &re[j], d);
  mem_set *set = lk_xcalloc(1, sizeof *set);
  size_t cap = 0;
  uint64_t samples = 0;
  for (size_t i = 0; !rc && i < mem->n; i++) {
    mem_series *s = &mem->s[i];
    bool ok = true;
    for (size_t j = 0; ok && j < nm; j++)
      ok = matches(s, &m[j], re[j]);
    if (!ok)
      continue;
    size_t lo = lower_bound(s->t, s->n, mint), hi = lower_bound(s->t, s->n, maxt + 1);
    if (lo >= hi)
      continue;
    samples += hi - lo;
    if ((max_series && set->n + 1 > max_series) || (max_samples && samples > max_samples)) {
      rc = lk_diag_set(d, LK_ELIMIT, -1, "query loads too many %s",
                       max_samples && samples > max_samples ? "samples" : "series");
      break;
    }
    set->s = lk_xgrow(set->s, &cap, set->n + 1, sizeof *set->s);
    set->s[set->n++] = (promql_series_in){s->ls, s->nls, s->t + lo, s->v + lo, hi - lo};
  }
  for (size_t j = 0; j < nm; j++)
    lk_regex_free(re[j]);
  free(re);
  if (rc) {
    free(set->s);
    free(set);
    return rc;
  }
  *out = set;
  return 0;
}

static size_t mem_count(void *set) { return ((mem_set *)set)->n; }
static const promql_series_in *mem_get(void *set, size_t i) { return &((mem_set *)set)->s[i]; }

static void mem_release(void *set)
{
  if (!set)
    return;
  free(((mem_set *)set)->s);
  free(set);
}

promql_queryable promql_mem_queryable(promql_mem *m)
{
  return (promql_queryable){m, mem_select, mem_count, mem_get, mem_release, NULL, NULL};
}
