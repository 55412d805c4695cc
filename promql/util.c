/* util.c — evaluator plumbing shared by every operator: value allocation,
 * label-set edits, match signatures, a string hash map, limits, errors and
 * annotations, and the final delayed __name__ removal.
 *
 * Everything allocates from the query's arena; nothing here frees.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "lib/lk_time.h"
#include "promql/promql_int.h"

pq_series *promql__new_series(pq_ctx *c, size_t n)
{
  return lk_arena_zalloc(c->a, (n ? n : 1) * sizeof(pq_series));
}

void promql__alloc_slots(pq_ctx *c, pq_series *s)
{
  s->v = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *s->v);
  s->ok = lk_arena_zalloc(c->a, c->nsteps ? c->nsteps : 1);
}

double *promql__scalar_arr(pq_ctx *c, double fill)
{
  double *s = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *s);
  for (size_t i = 0; i < c->nsteps; i++)
    s[i] = fill;
  return s;
}

int promql__exec_err(pq_ctx *c, const char *fmt, ...)
{
  char msg[480];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lk_diag_set(c->d, LK_EEXEC, -1, "%s", msg);
}

void promql__annotate(pq_ctx *c, bool warning, const pq_expr *e, const char *fmt, ...)
{
  lk_buf *b = warning ? c->warn : c->info;
  if (!b)
    return;
  char msg[400], lc[48];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  promql__linecol(c->src, e ? e->pos : 0, lc, sizeof lc);
  char line[460];
  snprintf(line, sizeof line, "%s (%s)\n", msg, lc);
  /* one copy of each annotation */
  if (b->data && strstr((const char *)b->data, line))
    return;
  lk_buf_puts(b, line);
}

void promql__fmt_g(char out[32], double v)
{
  if (isnan(v) || isinf(v)) {
    snprintf(out, 32, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
    return;
  }
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(out, 32, "%.*e", prec - 1, v);
    if (strtod(out, NULL) == v)
      break;
  }
  snprintf(out, 32, "%.*e", prec - 1, v);
  int exp = atoi(strchr(out, 'e') + 1);
  if (exp >= -4 && exp < 6)
    snprintf(out, 32, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

void promql__warn_quantile(pq_ctx *c, const pq_expr *arg, const double *q)
{
  char g[32];
  for (size_t i = 0; i < c->nsteps; i++)
    if (!(q[i] >= 0 && q[i] <= 1)) {
      promql__fmt_g(g, q[i]);
      promql__annotate(c, true, arg, "PromQL warning: quantile value should be between 0 and 1, got %s", g);
    }
}

int promql__check_limits(pq_ctx *c, uint64_t more)
{
  c->samples += more;
  if (c->max_samples && c->samples > c->max_samples)
    return promql__too_many_samples(c);
  if (c->deadline_ns && lk_mono_ns() > c->deadline_ns)
    return lk_diag_set(c->d, LK_ETIMEOUT, -1, "query timed out in query execution");
  return 0;
}

int promql__too_many_samples(pq_ctx *c)
{
  return lk_diag_set(c->d, LK_ELIMIT, -1,
                     "query processing would load too many samples into memory in query execution (limit %llu)",
                     (unsigned long long)c->max_samples);
}

bool promql__in_list(const char *s, const char **l, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, l[i]))
      return true;
  return false;
}

lk_label *promql__labels_drop(pq_ctx *c, const lk_label *ls, size_t n, const char *name,
                              size_t *out_n)
{
  lk_label *o = lk_arena_alloc(c->a, (n ? n : 1) * sizeof *o);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(ls[i].name, name))
      o[k++] = ls[i];
  *out_n = k;
  return o;
}

lk_label *promql__labels_set(pq_ctx *c, const lk_label *ls, size_t n, const char *name,
                             const char *value, size_t *out_n)
{
  lk_label *o = lk_arena_alloc(c->a, (n + 1) * sizeof *o);
  size_t k = 0;
  bool placed = !*value;
  for (size_t i = 0; i < n; i++) {
    int cmp = strcmp(ls[i].name, name);
    if (cmp > 0 && !placed) {
      o[k++] = (lk_label){name, value};
      placed = true;
    }
    if (cmp)
      o[k++] = ls[i];
  }
  if (!placed)
    o[k++] = (lk_label){name, value};
  *out_n = k;
  return o;
}

void promql__sig(lk_buf *b, const lk_label *ls, size_t n, const char **names, size_t nn, bool on)
{
  lk_buf_clear(b);
  lk_buf_reserve(b, 1);
  b->data[0] = 0;
  for (size_t i = 0; i < n; i++) {
    bool listed = promql__in_list(ls[i].name, names, nn);
    if (on ? !listed : (listed || !strcmp(ls[i].name, "__name__")))
      continue;
    lk_buf_puts(b, ls[i].name);
    lk_buf_putc(b, 0xff);
    lk_buf_puts(b, ls[i].value);
    lk_buf_putc(b, 0xfe);
  }
}

void promql__map_init(pq_map *m, lk_arena *a, size_t hint)
{
  m->cap = 16;
  while (m->cap < hint * 2)
    m->cap *= 2;
  m->n = 0;
  m->a = a;
  m->e = lk_arena_zalloc(a, m->cap * sizeof *m->e);
}

static void map_grow(pq_map *m)
{
  pq_map old = *m;
  m->cap *= 2;
  m->e = lk_arena_zalloc(m->a, m->cap * sizeof *m->e);
  for (size_t i = 0; i < old.cap; i++) {
    if (!old.e[i].k)
      continue;
    size_t j = old.e[i].h & (m->cap - 1);
    while (m->e[j].k)
      j = (j + 1) & (m->cap - 1);
    m->e[j] = old.e[i];
  }
}

bool promql__map_get_or_put(pq_map *m, const char *k, size_t klen, size_t *v)
{
  if ((m->n + 1) * 2 > m->cap)
    map_grow(m);
  uint64_t h = lk_hash64(k, klen, 0x5eed);
  size_t j = h & (m->cap - 1);
  while (m->e[j].k) {
    if (m->e[j].h == h && m->e[j].klen == klen && !memcmp(m->e[j].k, k, klen)) {
      *v = m->e[j].v;
      return true;
    }
    j = (j + 1) & (m->cap - 1);
  }
  char *kc = lk_arena_alloc(m->a, klen + 1);
  memcpy(kc, k, klen);
  kc[klen] = 0;
  m->e[j] = (struct pq_map_ent){kc, klen, h, *v};
  m->n++;
  return false;
}

/* Merge series with equal label sets (they must not share a step). */
static int merge_same(pq_ctx *c, pq_val *v)
{
  pq_map m;
  promql__map_init(&m, c->a, v->n);
  lk_buf b = {0};
  size_t k = 0;
  int rc = 0;
  for (size_t i = 0; i < v->n && !rc; i++) {
    pq_series *s = &v->ser[i];
    promql__sig(&b, s->ls, s->nls, NULL, 0, false);
    /* include __name__ too: identity is the full label set */
    const char *nm = lk_labels_get(s->ls, s->nls, "__name__");
    if (nm) {
      lk_buf_puts(&b, "\xfd");
      lk_buf_puts(&b, nm);
    }
    size_t idx = k;
    if (!promql__map_get_or_put(&m, (const char *)b.data, b.len, &idx)) {
      v->ser[k++] = *s;
      continue;
    }
    pq_series *t = &v->ser[idx];
    for (size_t j = 0; j < c->nsteps; j++) {
      if (!s->ok[j])
        continue;
      if (t->ok[j]) {
        rc = promql__exec_err(c, "vector cannot contain metrics with the same labelset");
        break;
      }
      t->ok[j] = 1;
      t->v[j] = s->v[j];
    }
  }
  lk_buf_fini(&b);
  v->n = k;
  return rc;
}

int promql__dedupe(pq_ctx *c, pq_val *v) { return merge_same(c, v); }

int promql__finish_names(pq_ctx *c, pq_val *v)
{
  if (v->type == V_VECTOR) {
    bool any = false;
    for (size_t i = 0; i < v->n; i++) {
      pq_series *s = &v->ser[i];
      if (s->drop_name && lk_labels_get(s->ls, s->nls, "__name__")) {
        s->ls = promql__labels_drop(c, s->ls, s->nls, "__name__", &s->nls);
        any = true;
      }
      s->drop_name = false;
    }
    return any ? merge_same(c, v) : 0;
  }
  if (v->type == V_MATRIX) {
    for (size_t i = 0; i < v->nrs; i++) {
      pq_rseries *s = &v->rs[i];
      if (s->drop_name)
        s->ls = promql__labels_drop(c, s->ls, s->nls, "__name__", &s->nls);
      s->drop_name = false;
    }
  }
  return 0;
}
