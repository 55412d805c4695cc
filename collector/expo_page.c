/* expo_page.c — a batch as a /metrics page (text exposition 0.0.4).
 *
 * Series are ordered by metric name (stable, so the collector's order within
 * a family is kept) because the format wants each family contiguous under
 * one # HELP / # TYPE. The type is inferred from the name for the
 * collector's own families (node_, container_, lookout_, and the scrape
 * synthetics): *_total is a counter, the rest gauges; cAdvisor's
 * container_memory_failcnt is a counter without the suffix and is written
 * untyped, and so are series relayed from scrape targets, whose types the
 * batch does not carry.
 */
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "lib/lk_alloc.h"
#include "lib/lk_expo.h"

typedef struct ent {
  const char *name;
  size_t idx;
} ent;

static int ent_cmp(const void *a, const void *b)
{
  const ent *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static bool has_prefix(const char *s, const char *p)
{
  return !strncmp(s, p, strlen(p));
}

static int type_of(const char *name)
{
  size_t n = strlen(name);
  bool ours = has_prefix(name, "container_") || has_prefix(name, "node_") ||
              has_prefix(name, "lookout_") || !strcmp(name, "up") ||
              has_prefix(name, "scrape_");
  if (!ours || !strcmp(name, "container_memory_failcnt"))
    return LK_EXPO_UNTYPED;
  return n > 6 && !strcmp(name + n - 6, "_total") ? LK_EXPO_COUNTER : LK_EXPO_GAUGE;
}

void collector_format_metrics(const lk_series *s, size_t n, lk_buf *out)
{
  ent *v = lk_xcalloc(n ? n : 1, sizeof *v);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const char *name = lk_labels_get(s[i].labels, s[i].nlabels, "__name__");
    if (name && s[i].nsamples)
      v[m++] = (ent){name, i};
  }
  qsort(v, m, sizeof *v, ent_cmp);
  for (size_t i = 0; i < m; i++) {
    const lk_series *x = &s[v[i].idx];
    if (i == 0 || strcmp(v[i - 1].name, v[i].name)) {
      int t = type_of(v[i].name);
      lk_expo_write_help(out, v[i].name,
                         t == LK_EXPO_UNTYPED ? "Relayed or cAdvisor-compatible series."
                                              : "Collected by the Lookout node collector.");
      lk_expo_write_type(out, v[i].name, t);
    }
    lk_expo_write_sample(out, v[i].name, x->labels, x->nlabels, x->samples[x->nsamples - 1].v, 0, 0);
  }
  free(v);
}
