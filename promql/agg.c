/* agg.c — aggregation operators (sum avg min max count group stddev stdvar
 * topk bottomk quantile count_values limitk limit_ratio) with by/without.
 *
 * Groups are formed once per query from each series' labels (labels never
 * change across steps); per step the present member values are gathered
 * into a scratch array and reduced by a shared kernel (sum instead runs its
 * Kahan sums for all steps at once, member by member, in the same order).
 * topk/bottomk with a small k read each member once, inserting into
 * per-step lists of the best so far (a larger k, limitk and limit_ratio
 * gather per step). topk-style operators keep their input series and only
 * filter steps; for an instant query the series are reordered as
 * Prometheus returns them (per group, by value).
 * An output series drops __name__ later if any member was marked to.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "lib/lk_json.h"
#include "promql/promql_int.h"

typedef struct agg_plan {
  size_t *grp;          /* group index per input series */
  size_t ng;
  pq_series *out;       /* one output series per group (non-k ops) */
} agg_plan;

static lk_label *group_labels(pq_ctx *c, const pq_expr *e, const pq_series *s, size_t *n)
{
  lk_label *o = lk_arena_alloc(c->a, (s->nls ? s->nls : 1) * sizeof *o);
  size_t k = 0;
  for (size_t i = 0; i < s->nls; i++) {
    bool listed = promql__in_list(s->ls[i].name, e->u.agg.labels, e->u.agg.nlabels);
    if (e->u.agg.without ? (listed || !strcmp(s->ls[i].name, "__name__")) : !listed)
      continue;
    o[k++] = s->ls[i];
  }
  *n = k;
  return o;
}

static void plan_groups(pq_ctx *c, const pq_expr *e, pq_val *in, agg_plan *p)
{
  pq_map m;
  promql__map_init(&m, c->a, in->n);
  lk_buf b = {0};
  p->grp = lk_arena_alloc(c->a, (in->n ? in->n : 1) * sizeof *p->grp);
  p->out = promql__new_series(c, in->n);
  p->ng = 0;
  for (size_t k = 0; k < in->n; k++) {
    size_t nls;
    lk_label *ls = group_labels(c, e, &in->ser[k], &nls);
    promql__sig(&b, ls, nls, NULL, 0, false);
    const char *nm = lk_labels_get(ls, nls, "__name__");
    if (nm) {
      lk_buf_puts(&b, "\xfd");
      lk_buf_puts(&b, nm);
    }
    size_t g = p->ng;
    if (!promql__map_get_or_put(&m, (const char *)b.data, b.len, &g)) {
      p->out[g] = (pq_series){.ls = ls, .nls = nls};
      p->ng++;
    }
    p->grp[k] = g;
    if (in->ser[k].drop_name)
      p->out[g].drop_name = true;
  }
  lk_buf_fini(&b);
}

static double reduce(enum pq_aggop op, double *v, size_t n, double param)
{
  switch (op) {
  case A_SUM: return pq_k_sum(v, n);
  case A_AVG: return pq_k_avg(v, n);
  case A_MIN: return pq_k_min(v, n);
  case A_MAX: return pq_k_max(v, n);
  case A_COUNT: return (double)n;
  case A_GROUP: return 1;
  case A_STDDEV: return sqrt(pq_k_stdvar(v, n));
  case A_STDVAR: return pq_k_stdvar(v, n);
  case A_QUANTILE: return promql__quantile(param, v, n);
  default: return NAN;
  }
}

/* Members of each group, as index lists (CSR layout). */
static void members(pq_ctx *c, agg_plan *p, size_t n, size_t **start, size_t **idx)
{
  *start = lk_arena_zalloc(c->a, (p->ng + 1) * sizeof **start);
  *idx = lk_arena_alloc(c->a, (n ? n : 1) * sizeof **idx);
  for (size_t k = 0; k < n; k++)
    (*start)[p->grp[k] + 1]++;
  for (size_t g = 0; g < p->ng; g++)
    (*start)[g + 1] += (*start)[g];
  size_t *fill = lk_arena_alloc(c->a, (p->ng ? p->ng : 1) * sizeof *fill);
  memcpy(fill, *start, p->ng * sizeof *fill);
  for (size_t k = 0; k < n; k++)
    (*idx)[fill[p->grp[k]]++] = k;
}

/* sum: the members' Kahan sums kept per step while reading each member's
 * array once, in member order, so every step sees exactly pq_k_sum's
 * sequence of operations without gathering values across series. */
static void sum_members(pq_ctx *c, const pq_val *in, const size_t *idx, size_t n, pq_series *o,
                        double *comp)
{
  for (size_t i = 0; i < c->nsteps; i++)
    o->v[i] = comp[i] = 0;
  for (size_t j = 0; j < n; j++)
    pq_k_kahan_steps(o->v, comp, o->ok, in->ser[idx[j]].v, in->ser[idx[j]].ok, c->nsteps);
  for (size_t i = 0; i < c->nsteps; i++)
    if (o->ok[i])
      o->v[i] += comp[i];
}

static int agg_simple(pq_ctx *c, const pq_expr *e, pq_val *in, const double *param, pq_val *out)
{
  agg_plan p;
  plan_groups(c, e, in, &p);
  size_t *st, *idx;
  members(c, &p, in->n, &st, &idx);
  double *scratch = lk_arena_alloc(c->a, (in->n ? in->n : 1) * sizeof *scratch);
  double *comp = e->u.agg.op == A_SUM ? lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *comp) : NULL;
  for (size_t g = 0; g < p.ng; g++) {
    pq_series *o = &p.out[g];
    promql__alloc_slots(c, o);
    if (comp) {
      sum_members(c, in, idx + st[g], st[g + 1] - st[g], o, comp);
      continue;
    }
    for (size_t i = 0; i < c->nsteps; i++) {
      size_t n = 0;
      for (size_t j = st[g]; j < st[g + 1]; j++)
        if (in->ser[idx[j]].ok[i])
          scratch[n++] = in->ser[idx[j]].v[i];
      if (!n)
        continue;
      o->ok[i] = 1;
      o->v[i] = reduce(e->u.agg.op, scratch, n, param ? param[i] : 0);
    }
  }
  *out = (pq_val){.type = V_VECTOR, .ser = p.out, .n = p.ng};
  return 0;
}

typedef struct kcand {
  size_t k;      /* input series index */
  double v;
} kcand;

static bool k_better(bool top, double a, double b)
{
  if (isnan(a))
    return false;
  if (isnan(b))
    return true;
  return top ? a > b : a < b;
}

static int cmp_top(const void *x, const void *y)
{
  const kcand *a = x, *b = y;
  if (k_better(true, a->v, b->v)) return -1;
  if (k_better(true, b->v, a->v)) return 1;
  return a->k < b->k ? -1 : a->k > b->k;
}

static int cmp_bottom(const void *x, const void *y)
{
  const kcand *a = x, *b = y;
  if (k_better(false, a->v, b->v)) return -1;
  if (k_better(false, b->v, a->v)) return 1;
  return a->k < b->k ? -1 : a->k > b->k;
}

/* Does a go before b in topk (top) or bottomk order? The order of
 * cmp_top/cmp_bottom, inlined. */
static inline bool goes_before(bool top, const kcand *a, const kcand *b)
{
  if (k_better(top, a->v, b->v))
    return true;
  return !k_better(top, b->v, a->v) && a->k < b->k;
}

/* Put the lim best candidates (a total order: ties go to the lower series
 * index) first, in order. A few out of many are picked by insertion into a
 * sorted prefix: one comparison for most candidates instead of a full sort. */
static void best_first(kcand *cand, size_t n, size_t lim, bool top)
{
  if (!lim)
    return;
  if (lim * 8 >= n || lim > 64) {
    qsort(cand, n, sizeof *cand, top ? cmp_top : cmp_bottom);
    return;
  }
  size_t have = 0;
  for (size_t i = 0; i < n; i++) {
    kcand x = cand[i];
    if (have == lim && !goes_before(top, &x, &cand[lim - 1]))
      continue;
    size_t j = have < lim ? have++ : lim - 1;
    for (; j > 0 && goes_before(top, &x, &cand[j - 1]); j--)
      cand[j] = cand[j - 1];
    cand[j] = x;
  }
}

/* Fraction in [0,1) from a label set's hash, for limit_ratio. */
static double ratio_offset(const pq_series *s)
{
  uint64_t h = lk_labels_hash(s->ls, s->nls);
  return (double)(h % 4294967296ULL) / 4294967296.0;
}

/* The parameter at one step, checked as Prometheus does (limit_ratio's is
 * capped to [-1, 1]). */
static int k_param(pq_ctx *c, const pq_expr *e, double pv, double *out)
{
  enum pq_aggop op = e->u.agg.op;
  if (isnan(pv))
    return promql__exec_err(c, op == A_LIMIT_RATIO ? "Ratio value is NaN" : "Parameter value is NaN");
  if (op == A_LIMIT_RATIO && (pv < -1 || pv > 1)) {
    char g[32];
    promql__fmt_g(g, pv);
    promql__annotate(c, true, e->u.agg.param, "PromQL warning: ratio value should be between -1 and 1, got %s, capping to %d", g, pv < 0 ? -1 : 1);
    pv = pv < 0 ? -1 : 1;
  }
  if (op != A_LIMIT_RATIO && fabs(pv) >= 9.2e18)
    return promql__exec_err(c, "Scalar value %g overflows int64", pv);
  *out = pv;
  return 0;
}

/* How many of n candidates a k of pv keeps (k < 1 keeps none). */
static size_t k_limit(double pv, size_t n)
{
  return pv < 1 ? 0 : (double)n < pv ? n : (size_t)pv;
}

/* Each step's members in a candidate array, then picked (per step, per
 * group): limitk, limit_ratio, and topk/bottomk with a large k. */
static void pick_by_step(pq_ctx *c, enum pq_aggop op, const pq_val *in, const agg_plan *p,
                         const size_t *st, const size_t *idx, const double *pvs, uint8_t **keep,
                         size_t *order, size_t *norder)
{
  kcand *cand = lk_arena_alloc(c->a, (in->n ? in->n : 1) * sizeof *cand);
  for (size_t i = 0; i < c->nsteps; i++) {
    double pv = pvs[i];
    for (size_t g = 0; g < p->ng; g++) {
      size_t n = 0;
      for (size_t j = st[g]; j < st[g + 1]; j++)
        if (in->ser[idx[j]].ok[i])
          cand[n++] = (kcand){idx[j], in->ser[idx[j]].v[i]};
      size_t lim = op == A_LIMIT_RATIO ? n : k_limit(pv, n);
      if (op == A_TOPK || op == A_BOTTOMK)
        best_first(cand, n, lim, op == A_TOPK);
      for (size_t j = 0; j < lim; j++) {
        if (op == A_LIMIT_RATIO) {
          double off = ratio_offset(&in->ser[cand[j].k]);
          if (!(pv >= 0 ? off < pv : off >= 1 + pv))
            continue;
        }
        keep[cand[j].k][i] = 1;
        if (c->nsteps == 1)
          order[(*norder)++] = cand[j].k;
      }
    }
  }
}

/* topk/bottomk with k ≤ kmax (small) at every step: each member series is
 * read once, in member (= series index) order, inserting its points into
 * per-step sorted lists of the best so far. The reads are sequential
 * instead of gathering every step's values across all members, and a point
 * that does not beat a full list's last costs one comparison with that
 * step's cut (kept in a dense array). The lists hold best_first's total
 * order, so the same points are kept in the same order: a later series
 * never wins a tie, so against a full list whose last is a number, only a
 * strictly better value enters. The members' presence maps are rewritten
 * to the kept points. */
static void pick_by_series(pq_ctx *c, bool top, pq_val *in, const agg_plan *p,
                           const size_t *st, const size_t *idx, const size_t *lims, size_t kmax,
                           size_t *order, size_t *norder)
{
  size_t nsteps = c->nsteps, ns = nsteps ? nsteps : 1;
  kcand *best = lk_arena_alloc(c->a, ns * kmax * sizeof *best);
  size_t *have = lk_arena_alloc(c->a, ns * sizeof *have);
  double *cut = lk_arena_alloc(c->a, ns * sizeof *cut); /* the full list's last value */
  uint8_t *full = lk_arena_alloc(c->a, ns);             /* 1: full, and its last is a number */
  for (size_t g = 0; g < p->ng; g++) {
    memset(have, 0, nsteps * sizeof *have);
    for (size_t i = 0; i < nsteps; i++) {
      full[i] = !lims[i];
      cut[i] = top ? INFINITY : -INFINITY; /* k = 0: nothing beats it */
    }
    for (size_t j = st[g]; j < st[g + 1]; j++) {
      size_t k = idx[j];
      const uint8_t *ok = in->ser[k].ok;
      const double *v = in->ser[k].v;
      for (size_t i = 0; i < nsteps; i++) {
        if (!ok[i] || (full[i] && !(top ? v[i] > cut[i] : v[i] < cut[i])))
          continue;
        size_t lim = lims[i];
        kcand x = {k, v[i]}, *b = best + i * kmax;
        if (have[i] == lim && !goes_before(top, &x, &b[lim - 1]))
          continue;
        size_t q = have[i] < lim ? have[i]++ : lim - 1;
        for (; q > 0 && goes_before(top, &x, &b[q - 1]); q--)
          b[q] = b[q - 1];
        b[q] = x;
        if (have[i] == lim) {
          cut[i] = b[lim - 1].v;
          full[i] = !isnan(cut[i]);
        }
      }
    }
    /* the members' presence becomes "kept" */
    for (size_t j = st[g]; j < st[g + 1]; j++)
      memset(in->ser[idx[j]].ok, 0, nsteps);
    for (size_t i = 0; i < nsteps; i++)
      for (size_t q = 0; q < have[i]; q++) {
        in->ser[best[i * kmax + q].k].ok[i] = 1;
        if (nsteps == 1)
          order[(*norder)++] = best[i * kmax + q].k;
      }
  }
}

/* Series-major topk/bottomk when every step's k is at most this. */
#define BY_SERIES_MAX_K 64

static int agg_k(pq_ctx *c, const pq_expr *e, pq_val *in, const double *param, pq_val *out)
{
  enum pq_aggop op = e->u.agg.op;
  double *pvs = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *pvs);
  size_t *lims = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *lims), kmax = 0;
  for (size_t i = 0; i < c->nsteps; i++) {
    int rc = k_param(c, e, param[i], &pvs[i]);
    if (rc)
      return rc;
    lims[i] = k_limit(pvs[i], in->n); /* no group has more than in->n members */
    kmax = lims[i] > kmax ? lims[i] : kmax;
  }
  agg_plan p;
  plan_groups(c, e, in, &p);
  size_t *st, *idx;
  members(c, &p, in->n, &st, &idx);
  size_t *order = lk_arena_alloc(c->a, (in->n ? in->n : 1) * sizeof *order), norder = 0;
  if ((op == A_TOPK || op == A_BOTTOMK) && kmax <= BY_SERIES_MAX_K) {
    pick_by_series(c, op == A_TOPK, in, &p, st, idx, lims, kmax ? kmax : 1, order, &norder);
  } else {
    uint8_t **keep = lk_arena_alloc(c->a, (in->n ? in->n : 1) * sizeof *keep);
    for (size_t k = 0; k < in->n; k++)
      keep[k] = lk_arena_zalloc(c->a, c->nsteps ? c->nsteps : 1);
    pick_by_step(c, op, in, &p, st, idx, pvs, keep, order, &norder);
    for (size_t k = 0; k < in->n; k++) {
      uint8_t *restrict ok = in->ser[k].ok;
      const uint8_t *restrict kk = keep[k];
      for (size_t i = 0; i < c->nsteps; i++)
        ok[i] &= kk[i];
    }
  }
  pq_series *o = promql__new_series(c, in->n);
  size_t n = 0;
  if (c->nsteps == 1) {
    for (size_t j = 0; j < norder; j++)
      o[n++] = in->ser[order[j]];
  } else {
    for (size_t k = 0; k < in->n; k++)
      o[n++] = in->ser[k];
  }
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return 0;
}

static int agg_count_values(pq_ctx *c, const pq_expr *e, pq_val *in, const char *label,
                            pq_val *out)
{
  if (!lk_label_name_valid(label))
    return promql__exec_err(c, "invalid label name %s", label);
  agg_plan p;
  plan_groups(c, e, in, &p);
  pq_map m;
  promql__map_init(&m, c->a, in->n);
  size_t cap = 16, n = 0;
  pq_series *o = promql__new_series(c, cap);
  lk_buf b = {0};
  for (size_t k = 0; k < in->n; k++) {
    pq_series *s = &in->ser[k];
    pq_series *g = &p.out[p.grp[k]];
    for (size_t i = 0; i < c->nsteps; i++) {
      if (!s->ok[i])
        continue;
      char val[LK_FMT_FLOAT_MAX];
      lk_fmt_plain(val, s->v[i]);
      lk_buf_clear(&b);
      lk_buf_printf(&b, "%zu\xff%s", p.grp[k], val);
      size_t oi = n;
      if (!promql__map_get_or_put(&m, (const char *)b.data, b.len, &oi)) {
        if (n == cap) {
          pq_series *no = promql__new_series(c, cap * 2);
          memcpy(no, o, n * sizeof *o);
          o = no;
          cap *= 2;
        }
        size_t nls;
        lk_label *ls = promql__labels_set(c, g->ls, g->nls, label,
                                          lk_arena_strndup(c->a, val, strlen(val)), &nls);
        o[n] = (pq_series){.ls = ls, .nls = nls, .drop_name = g->drop_name};
        promql__alloc_slots(c, &o[n]);
        for (size_t j = 0; j < c->nsteps; j++)
          o[n].v[j] = 0;
        n++;
      }
      o[oi].ok[i] = 1;
      o[oi].v[i] += 1;
    }
  }
  lk_buf_fini(&b);
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return 0;
}

int promql__eval_agg(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  pq_val in, par = {0};
  int rc = 0;
  if (e->u.agg.param && (rc = promql__eval(c, e->u.agg.param, &par)))
    return rc;
  if ((rc = promql__eval(c, e->u.agg.e, &in)))
    return rc;
  switch (e->u.agg.op) {
  case A_TOPK: case A_BOTTOMK: case A_LIMITK: case A_LIMIT_RATIO:
    return agg_k(c, e, &in, par.s, out);
  case A_COUNT_VALUES:
    return agg_count_values(c, e, &in, par.str, out);
  case A_QUANTILE:
    promql__warn_quantile(c, e->u.agg.param, par.s);
    return agg_simple(c, e, &in, par.s, out);
  default:
    return agg_simple(c, e, &in, par.s, out);
  }
}
