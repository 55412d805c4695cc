/* funcs_label.c — functions that reorder or relabel series: sort,
 * sort_desc, sort_by_label(_desc), label_replace and label_join.
 *
 * Relabelling can make two series identical; they are merged afterwards
 * and an error is raised only if both have a point at the same step.
 * Writing __name__ explicitly cancels a pending delayed name removal.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_int.h"
#include "lib/lk_regex.h"

typedef struct sort_item {
  pq_series *s;
  const char **labels;
  size_t nlabels;
  bool desc;
} sort_item;

static int cmp_value(const void *x, const void *y)
{
  const sort_item *a = x, *b = y;
  double av = a->s->v[0], bv = b->s->v[0];
  /* NaN sorts first ascending, last descending */
  if (isnan(av) || isnan(bv)) {
    int r = isnan(av) && isnan(bv) ? 0 : isnan(av) ? -1 : 1;
    return a->desc ? -r : r;
  }
  int r = av < bv ? -1 : av > bv;
  return a->desc ? -r : r;
}

int promql__fn_sort(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  bool desc = !strcmp(call->u.call.f->name, "sort_desc");
  size_t n = 0;
  sort_item *it = lk_arena_alloc(c->a, (a[0].n ? a[0].n : 1) * sizeof *it);
  for (size_t k = 0; k < a[0].n; k++)
    if (c->nsteps == 1 && a[0].ser[k].ok[0])
      it[n++] = (sort_item){.s = &a[0].ser[k], .desc = desc};
  if (c->nsteps != 1) {
    *out = a[0];
    return 0;
  }
  qsort(it, n, sizeof *it, cmp_value);
  pq_series *o = promql__new_series(c, n);
  for (size_t k = 0; k < n; k++)
    o[k] = *it[k].s;
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return 0;
}

/* Natural order: digit runs compare by numeric value. */
static int natcmp(const char *a, const char *b)
{
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      while (*a == '0')
        a++;
      while (*b == '0')
        b++;
      size_t la = 0, lb = 0;
      while (isdigit((unsigned char)a[la]))
        la++;
      while (isdigit((unsigned char)b[lb]))
        lb++;
      if (la != lb)
        return la < lb ? -1 : 1;
      int r = strncmp(a, b, la);
      if (r)
        return r;
      a += la;
      b += lb;
      continue;
    }
    if (*a != *b)
      return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int cmp_labels(const void *x, const void *y)
{
  const sort_item *a = x, *b = y;
  for (size_t i = 0; i < a->nlabels; i++) {
    const char *av = lk_labels_get(a->s->ls, a->s->nls, a->labels[i]);
    const char *bv = lk_labels_get(b->s->ls, b->s->nls, b->labels[i]);
    int r = natcmp(av ? av : "", bv ? bv : "");
    if (r)
      return a->desc ? -r : r;
  }
  int r = lk_labels_cmp(a->s->ls, a->s->nls, b->s->ls, b->s->nls);
  return a->desc ? -r : r;
}

int promql__fn_sort_by_label(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  bool desc = strstr(call->u.call.f->name, "_desc") != NULL;
  size_t nl = call->u.call.nargs - 1;
  const char **labels = lk_arena_alloc(c->a, (nl ? nl : 1) * sizeof *labels);
  for (size_t i = 0; i < nl; i++)
    labels[i] = a[i + 1].str;
  if (c->nsteps != 1) {
    *out = a[0];
    return 0;
  }
  size_t n = 0;
  sort_item *it = lk_arena_alloc(c->a, (a[0].n ? a[0].n : 1) * sizeof *it);
  for (size_t k = 0; k < a[0].n; k++)
    if (a[0].ser[k].ok[0])
      it[n++] = (sort_item){&a[0].ser[k], labels, nl, desc};
  qsort(it, n, sizeof *it, cmp_labels);
  pq_series *o = promql__new_series(c, n);
  for (size_t k = 0; k < n; k++)
    o[k] = *it[k].s;
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return 0;
}

static bool name_byte(char c) { return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80; }

/* Group number of a $name (decimal, at most 9 digits, no leading zero), or the
 * group of that name; 0 (whole match) is valid, SIZE_MAX means none. */
static size_t template_group(const lk_regex *re, const char *name, size_t n)
{
  size_t g = 0;
  bool num = n <= 9 && (n == 1 || name[0] != '0');
  for (size_t i = 0; num && i < n; i++) {
    num = isdigit((unsigned char)name[i]) != 0;
    g = g * 10 + (size_t)(name[i] - '0');
  }
  if (num)
    return g;
  char buf[128];
  if (n >= sizeof buf)
    return SIZE_MAX;
  memcpy(buf, name, n);
  buf[n] = 0;
  g = lk_regex_group_index(re, buf);
  return g ? g : SIZE_MAX;
}

/* Go regexp.Expand: $$ is '$'; $name and ${name} take the longest run of
 * letters, digits and '_' as a group number or name (an unknown one expands
 * to ""); a '$' not followed by a name is kept. m has room for every group. */
static void expand(lk_buf *b, const char *tmpl, const char *src, const lk_regex *re,
                   const lk_regex_span *m)
{
  for (const char *p = tmpl; *p; p++) {
    if (*p != '$') {
      lk_buf_putc(b, (uint8_t)*p);
      continue;
    }
    if (p[1] == '$') {
      lk_buf_putc(b, '$');
      p++;
      continue;
    }
    const char *q = p + 1;
    bool brace = *q == '{';
    q += brace;
    const char *ns = q;
    while (name_byte(*q))
      q++;
    if (q == ns || (brace && *q != '}')) {
      lk_buf_putc(b, '$');
      continue;
    }
    size_t g = template_group(re, ns, (size_t)(q - ns));
    if (g <= lk_regex_groups(re) && m[g].start >= 0)
      lk_buf_append(b, src + m[g].start, (size_t)(m[g].end - m[g].start));
    p = brace ? q : q - 1;
  }
}

static bool dst_name_valid(const char *s) { return *s && lk_utf8_valid(s, strlen(s)); }

int promql__fn_label_replace(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  const char *dst = a[1].str, *repl = a[2].str, *src = a[3].str, *re = a[4].str;
  lk_regex *rx;
  if (lk_regex_compile(re, LK_REGEX_ANCHORED, &rx, NULL))
    return promql__exec_err(c, "invalid regular expression in label_replace(): %s", re);
  if (!dst_name_valid(dst)) {
    lk_regex_free(rx);
    return promql__exec_err(c, "invalid destination label name in label_replace(): %s", dst);
  }
  lk_buf b = {0};
  size_t nm = lk_regex_groups(rx) + 1;
  lk_regex_span *m = lk_arena_alloc(c->a, nm * sizeof *m);
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    const char *v = lk_labels_get(s->ls, s->nls, src);
    if (!v)
      v = "";
    if (!lk_regex_find(rx, v, strlen(v), m, nm))
      continue;
    lk_buf_clear(&b);
    lk_buf_reserve(&b, 1);
    b.data[0] = 0;
    expand(&b, repl, v, rx, m);
    const char *nv = lk_arena_strndup(c->a, (const char *)b.data, b.len);
    s->ls = promql__labels_set(c, s->ls, s->nls, dst, nv, &s->nls);
    if (!strcmp(dst, "__name__"))
      s->drop_name = false;
  }
  lk_buf_fini(&b);
  lk_regex_free(rx);
  *out = a[0];
  return promql__dedupe(c, out);
}

int promql__fn_label_join(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  const char *dst = a[1].str, *sep = a[2].str;
  size_t nsrc = call->u.call.nargs - 3;
  if (!dst_name_valid(dst))
    return promql__exec_err(c, "invalid destination label name in label_join(): %s", dst);
  lk_buf b = {0};
  for (size_t k = 0; k < a[0].n; k++) {
    pq_series *s = &a[0].ser[k];
    lk_buf_clear(&b);
    lk_buf_reserve(&b, 1);
    b.data[0] = 0;
    for (size_t i = 0; i < nsrc; i++) {
      const char *v = lk_labels_get(s->ls, s->nls, a[3 + i].str);
      if (i)
        lk_buf_puts(&b, sep);
      lk_buf_puts(&b, v ? v : "");
    }
    const char *nv = lk_arena_strndup(c->a, (const char *)b.data, b.len);
    s->ls = promql__labels_set(c, s->ls, s->nls, dst, nv, &s->nls);
    if (!strcmp(dst, "__name__"))
      s->drop_name = false;
  }
  lk_buf_fini(&b);
  *out = a[0];
  return promql__dedupe(c, out);
}
