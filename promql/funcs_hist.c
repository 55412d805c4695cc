/* funcs_hist.c — functions over classic histograms (`le` bucket series):
 * histogram_quantile, histogram_quantiles and histogram_fraction.
 *
 * Bucket series are grouped once per query by their labels without `le`
 * (the group keeps __name__, marked for delayed removal); per step the
 * present buckets of a group are sorted, equal bounds merged and counts
 * made monotonic, then the estimate is computed. The lowest bucket spans
 * from 0 when its bound is positive, else from −Inf; infinite-width buckets
 * are never interpolated.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_json.h"
#include "promql/promql_int.h"

typedef struct bucket {
  double ub, count;
} bucket;

typedef struct hgroups {
  size_t *grp;         /* group per input series, SIZE_MAX when not a bucket */
  double *ub;          /* bucket bound per input series */
  pq_series *out;      /* one prototype output series per group */
  size_t ng;
  size_t *st, *idx;    /* members per group (CSR) */
  bucket *scratch;
} hgroups;

static void group_buckets(pq_ctx *c, const pq_expr *arg, pq_val *in, hgroups *h)
{
  pq_map m;
  promql__map_init(&m, c->a, in->n);
  size_t n = in->n ? in->n : 1;
  h->grp = lk_arena_alloc(c->a, n * sizeof *h->grp);
  h->ub = lk_arena_alloc(c->a, n * sizeof *h->ub);
  h->out = promql__new_series(c, n);
  h->scratch = lk_arena_alloc(c->a, n * sizeof *h->scratch);
  h->ng = 0;
  lk_buf b = {0};
  for (size_t k = 0; k < in->n; k++) {
    pq_series *s = &in->ser[k];
    const char *le = lk_labels_get(s->ls, s->nls, "le");
    char *end = NULL;
    h->grp[k] = SIZE_MAX;
    if (le)
      h->ub[k] = strtod(le, &end);
    if (!le || end == le || *end) {
      const char *nm = lk_labels_get(s->ls, s->nls, "__name__");
      promql__annotate(c, true, arg, "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"%s\" for metric name \"%s\"",
                       le ? le : "", nm ? nm : "");
      continue;
    }
    size_t nls;
    lk_label *ls = promql__labels_drop(c, s->ls, s->nls, "le", &nls);
    promql__sig(&b, ls, nls, NULL, 0, false);
    const char *nm = lk_labels_get(ls, nls, "__name__");
    if (nm) {
      lk_buf_puts(&b, "\xfd");
      lk_buf_puts(&b, nm);
    }
    size_t g = h->ng;
    if (!promql__map_get_or_put(&m, (const char *)b.data, b.len, &g))
      h->out[h->ng++] = (pq_series){.ls = ls, .nls = nls, .drop_name = true};
    h->grp[k] = g;
  }
  lk_buf_fini(&b);
  h->st = lk_arena_zalloc(c->a, (h->ng + 1) * sizeof *h->st);
  h->idx = lk_arena_alloc(c->a, n * sizeof *h->idx);
  for (size_t k = 0; k < in->n; k++)
    if (h->grp[k] != SIZE_MAX)
      h->st[h->grp[k] + 1]++;
  for (size_t g = 0; g < h->ng; g++)
    h->st[g + 1] += h->st[g];
  size_t *fill = lk_arena_alloc(c->a, (h->ng ? h->ng : 1) * sizeof *fill);
  memcpy(fill, h->st, h->ng * sizeof *fill);
  for (size_t k = 0; k < in->n; k++)
    if (h->grp[k] != SIZE_MAX)
      h->idx[fill[h->grp[k]]++] = k;
}

static int cmp_bucket(const void *x, const void *y)
{
  const bucket *a = x, *b = y;
  return a->ub < b->ub ? -1 : a->ub > b->ub;
}

static bool almost_equal(double a, double b, double eps)
{
  if (a == b)
    return true;
  double abs_sum = fabs(a) + fabs(b), diff = fabs(a - b);
  const double min_normal = 2.2250738585072014e-308;
  if (a == 0 || b == 0 || abs_sum < min_normal)
    return diff < eps * min_normal;
  return diff / fmin(abs_sum, 1.7976931348623157e308) < eps;
}

/* Present buckets of group g at step i, sorted, coalesced and made
 * monotonic. Returns the count (0 = none, or no +Inf bucket: *bad). */
static size_t gather(pq_val *in, hgroups *h, size_t g, size_t i, bool *bad, bool *forced)
{
  bucket *b = h->scratch;
  size_t n = 0;
  for (size_t j = h->st[g]; j < h->st[g + 1]; j++) {
    pq_series *s = &in->ser[h->idx[j]];
    if (s->ok[i])
      b[n++] = (bucket){h->ub[h->idx[j]], s->v[i]};
  }
  if (!n)
    return 0;
  qsort(b, n, sizeof *b, cmp_bucket);
  *bad = !isinf(b[n - 1].ub) || b[n - 1].ub < 0;
  size_t k = 0;
  for (size_t j = 0; j < n; j++) {
    if (k && b[k - 1].ub == b[j].ub)
      b[k - 1].count += b[j].count;
    else
      b[k++] = b[j];
  }
  double prev = b[0].count;
  for (size_t j = 1; j < k; j++) {
    double cur = b[j].count;
    if (cur == prev)
      continue;
    if (almost_equal(prev, cur, 1e-12)) {
      b[j].count = prev;
    } else if (cur < prev) {
      b[j].count = prev;
      *forced = true;
    } else {
      prev = cur;
    }
  }
  return k;
}

static double bucket_quantile(double q, const bucket *b, size_t n)
{
  if (isnan(q))
    return NAN;
  if (q < 0)
    return -INFINITY;
  if (q > 1)
    return INFINITY;
  if (n < 2)
    return NAN;
  double obs = b[n - 1].count;
  if (obs == 0)
    return NAN;
  double rank = q * obs;
  size_t i = 0;
  while (i < n - 1 && !(b[i].count >= rank))
    i++;
  if (i == n - 1)
    return b[n - 2].ub;
  if (i == 0 && b[0].ub <= 0)
    return b[0].ub;
  double start = 0, end = b[i].ub, count = b[i].count;
  if (i > 0) {
    start = b[i - 1].ub;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

/* Estimated observations ≤ x. Inside an infinite-width bucket nothing is
 * interpolated and the bucket contributes nothing to a finite range: in
 * the +Inf bucket x sits at its lower end; in a −Inf bucket a lower bound
 * sits at its upper end and an upper bound at its lower end. */
static double rank_at(double x, const bucket *b, size_t n, bool upper)
{
  if (x == -INFINITY)
    return 0;
  if (x == INFINITY)
    return b[n - 1].count;
  for (size_t i = 0; i < n; i++) {
    double lo = i ? b[i - 1].ub : b[0].ub > 0 ? 0 : -INFINITY, hi = b[i].ub;
    double clo = i ? b[i - 1].count : 0, chi = b[i].count;
    if (x <= lo)
      return clo;
    if (x == hi)
      return chi;
    if (x < hi) {
      if (isinf(hi))
        return clo;
      if (isinf(lo))
        return upper ? clo : chi;
      return clo + (chi - clo) * (x - lo) / (hi - lo);
    }
  }
  return b[n - 1].count;
}

static double bucket_fraction(double lower, double upper, const bucket *b, size_t n)
{
  double total = b[n - 1].count;
  if (total == 0 || isnan(lower) || isnan(upper))
    return NAN;
  if (lower >= upper)
    return 0;
  return (rank_at(upper, b, n, true) - rank_at(lower, b, n, false)) / total;
}

static void forced_info(pq_ctx *c, const pq_expr *arg, const pq_series *o)
{
  const char *nm = lk_labels_get(o->ls, o->nls, "__name__");
  promql__annotate(c, false, arg, "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"%s\"", nm ? nm : "");
}

/* Fill out[g] at every step with f over the group's buckets. */
static void per_group(pq_ctx *c, const pq_expr *call, pq_val *in, hgroups *h, pq_series *o,
                      const double *p1, const double *p2, int which)
{
  for (size_t g = 0; g < h->ng; g++) {
    o[g] = h->out[g];
    promql__alloc_slots(c, &o[g]);
    for (size_t i = 0; i < c->nsteps; i++) {
      bool bad = false, forced = false;
      size_t n = gather(in, h, g, i, &bad, &forced);
      if (!n)
        continue;
      o[g].ok[i] = 1;
      if (bad)
        o[g].v[i] = NAN;
      else if (which == 0)
        o[g].v[i] = bucket_quantile(p1[i], h->scratch, n);
      else
        o[g].v[i] = bucket_fraction(p1[i], p2[i], h->scratch, n);
      if (forced && which == 0)
        forced_info(c, call->u.call.args[call->u.call.nargs - 1], &o[g]);
    }
  }
}

int promql__fn_histogram_quantile(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  hgroups h;
  group_buckets(c, call->u.call.args[1], &a[1], &h);
  pq_series *o = promql__new_series(c, h.ng);
  per_group(c, call, &a[1], &h, o, a[0].s, NULL, 0);
  promql__warn_quantile(c, call->u.call.args[0], a[0].s);
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = h.ng};
  return 0;
}

int promql__fn_histogram_fraction(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  hgroups h;
  group_buckets(c, call->u.call.args[2], &a[2], &h);
  pq_series *o = promql__new_series(c, h.ng);
  per_group(c, call, &a[2], &h, o, a[0].s, a[1].s, 1);
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = h.ng};
  return 0;
}

/* histogram_quantiles(v, "label", q1, q2, ...): one series per quantile,
 * tagged label="<q>". */
int promql__fn_histogram_quantiles(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out)
{
  const char *label = a[1].str;
  size_t nq = call->u.call.nargs - 2;
  hgroups h;
  group_buckets(c, call->u.call.args[0], &a[0], &h);
  pq_series *o = promql__new_series(c, h.ng * nq);
  pq_series *tmp = promql__new_series(c, h.ng);
  for (size_t j = 0; j < nq; j++) {
    per_group(c, call, &a[0], &h, tmp, a[2 + j].s, NULL, 0);
    promql__warn_quantile(c, call->u.call.args[2 + j], a[2 + j].s);
    char qs[LK_FMT_FLOAT_MAX + 2];
    lk_fmt_plain(qs, a[2 + j].s[0]);
    if (!strpbrk(qs, ".eIN"))
      strcat(qs, ".0");
    const char *qv = lk_arena_strndup(c->a, qs, strlen(qs));
    for (size_t g = 0; g < h.ng; g++) {
      o[j * h.ng + g] = tmp[g];
      o[j * h.ng + g].ls = promql__labels_set(c, tmp[g].ls, tmp[g].nls, label, qv, &o[j * h.ng + g].nls);
    }
  }
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = h.ng * nq};
  return promql__dedupe(c, out);
}
