/* binop.c — binary operators: scalar/scalar, vector/scalar, vector/vector
 * with on/ignoring, group_left/group_right, bool, and the set operators.
 *
 * Vector matching is planned once per query, not per step: every series
 * gets its match signature, the "one" side is grouped by signature, and
 * each (many, one) pair becomes at most one output series whose label set
 * is computed once. Per step only presence and values are checked, which is
 * also where Prometheus's per-timestamp matching errors are detected.
 */
#include <math.h>
#include <string.h>

#include "promql/promql_int.h"

static bool is_cmp(enum pq_tok op)
{
  return op == T_EQLC || op == T_NEQ || op == T_LTE || op == T_LSS || op == T_GTE || op == T_GTR;
}

/* Apply op; returns false when a comparison filters the element out. */
static bool apply(enum pq_tok op, double l, double r, double *out)
{
  switch (op) {
  case T_ADD: *out = l + r; return true;
  case T_SUB: *out = l - r; return true;
  case T_MUL: *out = l * r; return true;
  case T_DIV: *out = l / r; return true;
  case T_MOD: *out = fmod(l, r); return true;
  case T_POW: *out = pow(l, r); return true;
  case T_ATAN2: *out = atan2(l, r); return true;
  case T_EQLC: *out = l; return l == r;
  case T_NEQ: *out = l; return l != r;
  case T_LTE: *out = l; return l <= r;
  case T_LSS: *out = l; return l < r;
  case T_GTE: *out = l; return l >= r;
  case T_GTR: *out = l; return l > r;
  default: *out = NAN; return false;
  }
}

static int scalar_scalar(pq_ctx *c, const pq_expr *e, pq_val *l, pq_val *r, pq_val *out)
{
  double *s = promql__scalar_arr(c, 0);
  for (size_t i = 0; i < c->nsteps; i++) {
    double v;
    bool keep = apply(e->u.bin.op, l->s[i], r->s[i], &v);
    s[i] = is_cmp(e->u.bin.op) ? (keep ? 1 : 0) : v;
  }
  *out = (pq_val){.type = V_SCALAR, .s = s};
  return 0;
}

static int vector_scalar(pq_ctx *c, const pq_expr *e, pq_val *vec, pq_val *sc, bool swap,
                         pq_val *out)
{
  enum pq_tok op = e->u.bin.op;
  bool cmp = is_cmp(op), rb = e->u.bin.ret_bool;
  for (size_t k = 0; k < vec->n; k++) {
    pq_series *s = &vec->ser[k];
    for (size_t i = 0; i < c->nsteps; i++) {
      if (!s->ok[i])
        continue;
      double lv = swap ? sc->s[i] : s->v[i], rv = swap ? s->v[i] : sc->s[i], v;
      bool keep = apply(op, lv, rv, &v);
      if (cmp && swap)
        v = rv;
      if (rb) {
        v = keep ? 1 : 0;
        keep = true;
      }
      s->ok[i] = keep;
      s->v[i] = v;
    }
    if (!cmp || rb)
      s->drop_name = true;
  }
  *out = *vec;
  return 0;
}

typedef struct group {
  size_t *idx;      /* "one"-side series in this signature group */
  size_t n, cap;
  uint8_t *used;    /* one-to-one: steps already matched by a many-side series */
  uint8_t *lpres;   /* fill_left: steps where some many-side series matched */
} group;

static int set_op(pq_ctx *c, const pq_expr *e, pq_val *l, pq_val *r, pq_val *out)
{
  enum pq_tok op = e->u.bin.op;
  bool on = e->u.bin.matching && e->u.bin.on;
  lk_buf b = {0};
  pq_map m;
  promql__map_init(&m, c->a, r->n + l->n);
  /* present[g][i]: some series of signature g exists at step i */
  size_t ng = 0, gcap = 16;
  uint8_t **present = lk_arena_alloc(c->a, gcap * sizeof *present);
  size_t *lg = lk_arena_alloc(c->a, (l->n ? l->n : 1) * sizeof *lg);
  size_t *rg = lk_arena_alloc(c->a, (r->n ? r->n : 1) * sizeof *rg);
  for (size_t side = 0; side < 2; side++) {
    pq_val *v = side ? r : l;
    size_t *gi = side ? rg : lg;
    for (size_t k = 0; k < v->n; k++) {
      promql__sig(&b, v->ser[k].ls, v->ser[k].nls, e->u.bin.labels, e->u.bin.nlabels, on);
      size_t g = ng;
      if (!promql__map_get_or_put(&m, (const char *)b.data, b.len, &g)) {
        if (ng == gcap) {
          uint8_t **np = lk_arena_alloc(c->a, gcap * 2 * sizeof *np);
          memcpy(np, present, ng * sizeof *np);
          present = np;
          gcap *= 2;
        }
        present[ng++] = lk_arena_zalloc(c->a, 2 * (c->nsteps ? c->nsteps : 1));
      }
      gi[k] = g;
      /* layout: [0,nsteps) lhs presence, [nsteps,2nsteps) rhs presence */
      for (size_t i = 0; i < c->nsteps; i++)
        present[g][side * c->nsteps + i] |= v->ser[k].ok[i];
    }
  }
  lk_buf_fini(&b);
  pq_series *o = promql__new_series(c, l->n + (op == T_OR ? r->n : 0));
  size_t n = 0;
  for (size_t k = 0; k < l->n; k++) {
    pq_series *s = &l->ser[k];
    const uint8_t *rp = present[lg[k]] + c->nsteps;
    if (op != T_OR)
      for (size_t i = 0; i < c->nsteps; i++)
        s->ok[i] = s->ok[i] && (op == T_AND ? rp[i] : !rp[i]);
    o[n++] = *s;
  }
  if (op == T_OR)
    for (size_t k = 0; k < r->n; k++) {
      pq_series *s = &r->ser[k];
      const uint8_t *lp = present[rg[k]];
      for (size_t i = 0; i < c->nsteps; i++)
        s->ok[i] = s->ok[i] && !lp[i];
      o[n++] = *s;
    }
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return 0;
}

/* Result labels of a matched pair: many-side labels adjusted per matching. */
static lk_label *result_labels(pq_ctx *c, const pq_expr *e, const pq_series *many,
                               const pq_series *one, size_t *out_n)
{
  size_t n = many->nls;
  lk_label *ls = (lk_label *)many->ls;
  if (e->u.bin.card == CARD_ONE_ONE) {
    lk_label *o = lk_arena_alloc(c->a, (n ? n : 1) * sizeof *o);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      bool listed = promql__in_list(ls[i].name, e->u.bin.labels, e->u.bin.nlabels);
      if (e->u.bin.matching && (e->u.bin.on ? !listed : listed))
        continue;
      o[k++] = ls[i];
    }
    *out_n = k;
    return o;
  }
  for (size_t j = 0; j < e->u.bin.nincl; j++) {
    const char *v = lk_labels_get(one->ls, one->nls, e->u.bin.incl[j]);
    ls = promql__labels_set(c, ls, n, e->u.bin.incl[j], v ? v : "", &n);
  }
  *out_n = n;
  return ls;
}

/* The match group of s: its labels kept by on(...) / left by ignoring(...). */
static void fmt_group(lk_buf *b, const pq_expr *e, const pq_series *s)
{
  bool on = e->u.bin.matching && e->u.bin.on;
  lk_buf_putc(b, '{');
  bool first = true;
  for (size_t i = 0; i < s->nls; i++) {
    bool listed = promql__in_list(s->ls[i].name, e->u.bin.labels, e->u.bin.nlabels);
    if (on ? !listed : (listed || !strcmp(s->ls[i].name, "__name__")))
      continue;
    lk_buf_printf(b, "%s%s=\"%s\"", first ? "" : ", ", s->ls[i].name, s->ls[i].value);
    first = false;
  }
  lk_buf_putc(b, '}');
}

static int dup_err(pq_ctx *c, const pq_expr *e, const pq_series *s, const pq_series *s2,
                   bool one_side)
{
  int rc;
  if (one_side) {
    lk_buf b = {0};
    fmt_group(&b, e, s);
    lk_buf_puts(&b, " on the ");
    lk_buf_puts(&b, e->u.bin.card == CARD_ONE_MANY ? "left" : "right");
    lk_buf_puts(&b, " hand-side of the operation: [");
    lk_labels_format(&b, s->ls, s->nls);
    lk_buf_puts(&b, ", ");
    lk_labels_format(&b, s2->ls, s2->nls);
    rc = promql__exec_err(c, "found duplicate series for the match group %s];many-to-many matching not allowed: matching labels must be unique on one side",
                          (const char *)b.data);
    lk_buf_fini(&b);
  } else {
    rc = promql__exec_err(c, "multiple matches for labels: %s",
                          e->u.bin.card == CARD_ONE_ONE ? "many-to-one matching must be explicit (group_left/group_right)"
                                                        : "grouping labels must ensure unique matches");
  }
  return rc;
}

static group *group_one_side(pq_ctx *c, const pq_expr *e, pq_val *one, pq_map *m, size_t *ngroups)
{
  bool on = e->u.bin.matching && e->u.bin.on;
  lk_buf b = {0};
  size_t ng = 0, gcap = 16;
  group *g = lk_arena_zalloc(c->a, gcap * sizeof *g);
  for (size_t k = 0; k < one->n; k++) {
    promql__sig(&b, one->ser[k].ls, one->ser[k].nls, e->u.bin.labels, e->u.bin.nlabels, on);
    size_t gi = ng;
    if (!promql__map_get_or_put(m, (const char *)b.data, b.len, &gi)) {
      if (ng == gcap) {
        group *ngp = lk_arena_zalloc(c->a, gcap * 2 * sizeof *ngp);
        memcpy(ngp, g, ng * sizeof *g);
        g = ngp;
        gcap *= 2;
      }
      ng++;
    }
    group *gr = &g[gi];
    if (gr->n == gr->cap) {
      size_t nc = gr->cap ? gr->cap * 2 : 2;
      size_t *ni = lk_arena_alloc(c->a, nc * sizeof *ni);
      if (gr->n)
        memcpy(ni, gr->idx, gr->n * sizeof *ni);
      gr->idx = ni;
      gr->cap = nc;
    }
    gr->idx[gr->n++] = k;
  }
  lk_buf_fini(&b);
  *ngroups = ng;
  return g;
}

static int check_one_side_unique(pq_ctx *c, const pq_expr *e, pq_val *one, group *g, size_t ng)
{
  for (size_t gi = 0; gi < ng; gi++) {
    if (g[gi].n < 2)
      continue;
    for (size_t i = 0; i < c->nsteps; i++) {
      const pq_series *first = NULL;
      for (size_t j = 0; j < g[gi].n; j++) {
        const pq_series *s = &one->ser[g[gi].idx[j]];
        if (!s->ok[i])
          continue;
        if (first)
          return dup_err(c, e, first, s, true);
        first = s;
      }
    }
  }
  return 0;
}

/* Output series of a vector/vector operation, keyed by label set. */
typedef struct vv_out {
  pq_map m;
  pq_series *o;
  size_t n, cap;
  lk_buf b;
} vv_out;

static pq_series *out_series(pq_ctx *c, vv_out *vo, lk_label *ls, size_t nls, bool drop)
{
  promql__sig(&vo->b, ls, nls, NULL, 0, false);
  const char *nm = lk_labels_get(ls, nls, "__name__");
  if (nm) {
    lk_buf_puts(&vo->b, "\xfd");
    lk_buf_puts(&vo->b, nm);
  }
  size_t oi = vo->n;
  if (!promql__map_get_or_put(&vo->m, (const char *)vo->b.data, vo->b.len, &oi)) {
    if (vo->n == vo->cap) {
      pq_series *no = promql__new_series(c, vo->cap * 2);
      memcpy(no, vo->o, vo->n * sizeof *no);
      vo->o = no;
      vo->cap *= 2;
    }
    vo->o[vo->n] = (pq_series){.ls = ls, .nls = nls, .drop_name = drop};
    promql__alloc_slots(c, &vo->o[vo->n]);
    vo->n++;
  }
  return &vo->o[oi];
}

/* Apply op at step i with operands in the query's order; stores the point
 * unless a comparison filters it. A second point for one output series at
 * one step is a matching error. */
static int emit(pq_ctx *c, const pq_expr *e, pq_series *dst, size_t i, double lv, double rv,
                const pq_series *ms)
{
  double v;
  bool keep = apply(e->u.bin.op, lv, rv, &v);
  if (e->u.bin.ret_bool) {
    v = keep ? 1 : 0;
    keep = true;
  }
  if (!keep)
    return 0;
  if (dst->ok[i])
    return dup_err(c, e, ms, NULL, false);
  dst->ok[i] = 1;
  dst->v[i] = v;
  return 0;
}

/* Labels of the match group of s (what fill_left outputs for a missing side). */
static lk_label *group_labels(pq_ctx *c, const pq_expr *e, const pq_series *s, size_t *n)
{
  bool on = e->u.bin.matching && e->u.bin.on;
  lk_label *o = lk_arena_alloc(c->a, (s->nls ? s->nls : 1) * sizeof *o);
  size_t k = 0;
  for (size_t i = 0; i < s->nls; i++) {
    bool listed = promql__in_list(s->ls[i].name, e->u.bin.labels, e->u.bin.nlabels);
    if (on ? !listed : (listed || !strcmp(s->ls[i].name, "__name__")))
      continue;
    o[k++] = s->ls[i];
  }
  *n = k;
  return o;
}

/* Pair each many-side series with the one-side series of its group; with
 * fill_right, steps where the group has no one-side point use the fill. */
static int match_many(pq_ctx *c, const pq_expr *e, pq_val *many, pq_val *one, group *g,
                      size_t ng, pq_map *gm, vv_out *vo)
{
  bool swap = e->u.bin.card == CARD_ONE_MANY;
  bool on = e->u.bin.matching && e->u.bin.on;
  bool drop = !is_cmp(e->u.bin.op) || e->u.bin.ret_bool;
  int rc = 0;
  for (size_t k = 0; !rc && k < many->n; k++) {
    pq_series *ms = &many->ser[k];
    promql__sig(&vo->b, ms->ls, ms->nls, e->u.bin.labels, e->u.bin.nlabels, on);
    size_t gi = SIZE_MAX;
    if (!promql__map_get_or_put(gm, (const char *)vo->b.data, vo->b.len, &gi) || gi >= ng)
      gi = SIZE_MAX;
    group *gr = gi == SIZE_MAX ? NULL : &g[gi];
    if (gr && gr->lpres)
      for (size_t i = 0; i < c->nsteps; i++)
        gr->lpres[i] |= ms->ok[i];
    if (gr && e->u.bin.card == CARD_ONE_ONE && !gr->used)
      gr->used = lk_arena_zalloc(c->a, c->nsteps ? c->nsteps : 1);
    for (size_t j = 0; gr && !rc && j < gr->n; j++) {
      pq_series *os = &one->ser[gr->idx[j]];
      size_t nls;
      lk_label *ls = result_labels(c, e, ms, os, &nls);
      pq_series *dst = out_series(c, vo, ls, nls, drop || ms->drop_name);
      for (size_t i = 0; !rc && i < c->nsteps; i++) {
        if (!ms->ok[i] || !os->ok[i])
          continue;
        if (gr->used) { /* checked before filtering, as Prometheus 3 does */
          if (gr->used[i])
            return dup_err(c, e, ms, NULL, false);
          gr->used[i] = 1;
        }
        rc = emit(c, e, dst, i, swap ? os->v[i] : ms->v[i], swap ? ms->v[i] : os->v[i], ms);
      }
    }
    if (!e->u.bin.fill_r || rc)
      continue;
    size_t nls;
    lk_label *ls = result_labels(c, e, ms, &(pq_series){0}, &nls);
    pq_series *dst = NULL;
    for (size_t i = 0; !rc && i < c->nsteps; i++) {
      bool matched = false;
      for (size_t j = 0; gr && !matched && j < gr->n; j++)
        matched = one->ser[gr->idx[j]].ok[i];
      if (!ms->ok[i] || matched)
        continue;
      if (!dst)
        dst = out_series(c, vo, ls, nls, drop || ms->drop_name);
      double fv = e->u.bin.fill_rv;
      rc = emit(c, e, dst, i, swap ? fv : ms->v[i], swap ? ms->v[i] : fv, ms);
    }
  }
  return rc;
}

/* fill_left: one-side points whose group has no many-side point at that
 * step produce a series labelled with the match group. */
static int fill_missing_many(pq_ctx *c, const pq_expr *e, pq_val *one, group *g, size_t ng,
                             vv_out *vo)
{
  bool swap = e->u.bin.card == CARD_ONE_MANY;
  bool drop = !is_cmp(e->u.bin.op) || e->u.bin.ret_bool;
  double fv = e->u.bin.fill_lv;
  int rc = 0;
  for (size_t gi = 0; gi < ng && !rc; gi++)
    for (size_t j = 0; j < g[gi].n && !rc; j++) {
      pq_series *os = &one->ser[g[gi].idx[j]];
      pq_series *dst = NULL;
      for (size_t i = 0; i < c->nsteps && !rc; i++) {
        if (!os->ok[i] || g[gi].lpres[i])
          continue;
        if (!dst) {
          size_t nls;
          lk_label *ls = group_labels(c, e, os, &nls);
          dst = out_series(c, vo, ls, nls, drop || os->drop_name);
        }
        rc = emit(c, e, dst, i, swap ? os->v[i] : fv, swap ? fv : os->v[i], os);
      }
    }
  return rc;
}

static int vector_vector(pq_ctx *c, const pq_expr *e, pq_val *l, pq_val *r, pq_val *out)
{
  bool swap = e->u.bin.card == CARD_ONE_MANY;
  pq_val *many = swap ? r : l, *one = swap ? l : r;
  pq_map gm;
  promql__map_init(&gm, c->a, one->n);
  vv_out vo = {.cap = many->n + 1};
  promql__map_init(&vo.m, c->a, many->n);
  vo.o = promql__new_series(c, vo.cap);
  size_t ng;
  group *g = group_one_side(c, e, one, &gm, &ng);
  if (e->u.bin.fill_l)
    for (size_t gi = 0; gi < ng; gi++)
      g[gi].lpres = lk_arena_zalloc(c->a, c->nsteps ? c->nsteps : 1);
  int rc = check_one_side_unique(c, e, one, g, ng);
  if (!rc)
    rc = match_many(c, e, many, one, g, ng, &gm, &vo);
  if (!rc && e->u.bin.fill_l)
    rc = fill_missing_many(c, e, one, g, ng, &vo);
  lk_buf_fini(&vo.b);
  if (rc)
    return rc;
  *out = (pq_val){.type = V_VECTOR, .ser = vo.o, .n = vo.n};
  return 0;
}

int promql__eval_binop(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  pq_val l, r;
  int rc = promql__eval(c, e->u.bin.l, &l);
  if (rc || (rc = promql__eval(c, e->u.bin.r, &r)))
    return rc;
  if (l.type == V_SCALAR && r.type == V_SCALAR)
    return scalar_scalar(c, e, &l, &r, out);
  if (l.type == V_VECTOR && r.type == V_SCALAR)
    return vector_scalar(c, e, &l, &r, false, out);
  if (l.type == V_SCALAR && r.type == V_VECTOR)
    return vector_scalar(c, e, &r, &l, true, out);
  if (e->u.bin.op == T_AND || e->u.bin.op == T_OR || e->u.bin.op == T_UNLESS)
    return set_op(c, e, &l, &r, out);
  return vector_vector(c, e, &l, &r, out);
}
