/* eval.c — the evaluator's core: selectors, subqueries, dispatch, and the
 * public instant/range entry points.
 *
 * Every node evaluates over all steps of the (sub)query at once. A selector
 * asks storage once for the whole span its steps need ([first window start,
 * last step]) and then walks the arrays per step, so a range query never
 * re-reads storage per step. Windows are left-open, right-closed:
 * an instant selector at t takes the newest sample in (t−lookback, t] unless
 * it is a stale marker; a range selector takes (t−range, t] minus stale
 * markers — handed over raw (storage's arrays, stale markers included) and
 * cleaned by promql__matrix_clean before any reader but the range-function
 * driver, which drops them while it walks each series anyway, so the
 * common rate() path reads every sample once instead of twice. Subqueries
 * evaluate their inner expression once over aligned inner steps and expose
 * the points like a range selector.
 *
 * Storage result sets stay alive until the query ends (labels are borrowed
 * from them); the result copies what it returns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_time.h"
#include "promql/promql_int.h"

static int64_t at_base(const pq_ctx *c, enum pq_at at, int64_t at_ms, size_t i)
{
  switch (at) {
  case AT_TIME: return at_ms;
  case AT_START: return c->qstart;
  case AT_END: return c->qend;
  default: return pq_ts(c, i);
  }
}

/* A modifier duration: the constant, or its expression resolved for this query. */
static int64_t dur(const pq_ctx *c, int64_t v, const pq_dexpr *x)
{
  return x ? llround(promql__dexpr_eval(x, c->qstep, c->qend - c->qstart)) : v;
}

static size_t upper_bound(const int64_t *t, size_t n, int64_t x)
{
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (t[mid] <= x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int do_select(pq_ctx *c, const pq_expr *e, int64_t mint, int64_t maxt, void **set)
{
  int rc = promql__check_limits(c, 0);
  if (rc)
    return rc;
  uint64_t left = c->max_samples > c->samples ? c->max_samples - c->samples : 1;
  lk_diag sd = {0}; /* the queryable's own wording; the samples limit reads as Prometheus' */
  rc = c->q->select(c->q->ctx, e->u.sel.m, e->u.sel.nm, mint, maxt, c->max_series,
                    c->max_samples ? left : 0, set, &sd);
  if (rc == LK_ELIMIT && strstr(sd.msg, "samples"))
    return promql__too_many_samples(c);
  if (rc) {
    if (sd.set)
      lk_diag_set(c->d, rc, sd.offset, "%s", sd.msg);
    return rc;
  }
  c->sets->v = lk_xgrow(c->sets->v, &c->sets->cap, c->sets->n + 1, sizeof *c->sets->v);
  c->sets->v[c->sets->n++] = *set;
  return 0;
}

/* Instant selector: newest non-stale sample in (t−lookback, t] per step.
 * With want_ts the value is the sample's timestamp in seconds. */
static int eval_vsel(pq_ctx *c, const pq_expr *e, bool want_ts, pq_val *out)
{
  int64_t lo = INT64_MAX, hi = INT64_MIN, offset = dur(c, e->u.sel.offset, e->u.sel.offset_x);
  int64_t *eff = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *eff);
  for (size_t i = 0; i < c->nsteps; i++) {
    eff[i] = at_base(c, e->u.sel.at, e->u.sel.at_ms, i) - offset;
    lo = eff[i] < lo ? eff[i] : lo;
    hi = eff[i] > hi ? eff[i] : hi;
  }
  out->type = V_VECTOR;
  out->n = 0;
  if (!c->nsteps)
    return 0;
  void *set;
  bool smooth = e->u.sel.ext == EXT_SMOOTHED;
  int rc = do_select(c, e, lo - c->lookback + 1, hi + (smooth ? c->lookback : 0), &set);
  if (rc)
    return rc;
  size_t n = c->q->count(set);
  /* the dense per-step slots are charged before they are allocated */
  if ((rc = promql__check_limits(c, (uint64_t)n * c->nsteps)))
    return rc;
  out->ser = promql__new_series(c, n);
  uint64_t loaded = 0;
  for (size_t k = 0; k < n; k++) {
    const promql_series_in *in = c->q->get(set, k);
    pq_series *s = &out->ser[out->n];
    promql__alloc_slots(c, s);
    bool any = false;
    loaded += in->n;
    size_t j = 0; /* points at or before eff[i]: walks forward while eff grows */
    for (size_t i = 0; i < c->nsteps; i++) {
      if (i && eff[i] >= eff[i - 1]) {
        while (j < in->n && in->t[j] <= eff[i])
          j++;
      } else {
        j = upper_bound(in->t, in->n, eff[i]);
      }
      if (!j || in->t[j - 1] <= eff[i] - c->lookback || promql__is_stale(in->v[j - 1]))
        continue;
      s->ok[i] = 1;
      s->v[i] = want_ts ? (double)in->t[j - 1] / 1000 : in->v[j - 1];
      if (smooth && in->t[j - 1] < eff[i] && j < in->n && in->t[j] <= eff[i] + c->lookback &&
          !promql__is_stale(in->v[j])) {
        double f = (double)(eff[i] - in->t[j - 1]) / (double)(in->t[j] - in->t[j - 1]);
        s->v[i] = in->v[j - 1] + (in->v[j] - in->v[j - 1]) * f;
      }
      any = true;
    }
    if (!any)
      continue;
    s->ls = (lk_label *)in->labels;
    s->nls = in->nlabels;
    out->n++;
  }
  return promql__check_limits(c, loaded);
}

/* Range selector: all samples covering every step's window, as storage
 * returned them (stale markers included: promql__matrix_clean, or the
 * range-function driver while it reads each series anyway, removes them,
 * so the selector itself does not read every sample). */
static int eval_msel(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  int64_t lo = INT64_MAX, hi = INT64_MIN, range = dur(c, e->u.sel.range, e->u.sel.range_x);
  int64_t offset = dur(c, e->u.sel.offset, e->u.sel.offset_x);
  if (range <= 0)
    return promql__exec_err(c, "range duration must be greater than 0, got %lldms", (long long)range);
  int64_t *eff = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *eff);
  for (size_t i = 0; i < c->nsteps; i++) {
    eff[i] = at_base(c, e->u.sel.at, e->u.sel.at_ms, i) - offset;
    lo = eff[i] < lo ? eff[i] : lo;
    hi = eff[i] > hi ? eff[i] : hi;
  }
  *out = (pq_val){.type = V_MATRIX, .range = range, .eff = eff, .ext = e->u.sel.ext};
  if (!c->nsteps)
    return 0;
  void *set;
  int64_t before = e->u.sel.ext ? c->lookback : 0;
  int64_t after = e->u.sel.ext == EXT_SMOOTHED ? c->lookback : 0;
  int rc = do_select(c, e, lo - range - before + 1, hi + after, &set);
  if (rc)
    return rc;
  size_t n = c->q->count(set);
  out->rs = lk_arena_zalloc(c->a, (n ? n : 1) * sizeof *out->rs);
  out->raw = true;
  uint64_t loaded = 0;
  for (size_t k = 0; k < n; k++) {
    const promql_series_in *in = c->q->get(set, k);
    loaded += in->n;
    out->rs[out->nrs++] = (pq_rseries){(lk_label *)in->labels, in->nlabels, (int64_t *)in->t,
                                       (double *)in->v, in->n, false};
  }
  return promql__check_limits(c, loaded);
}

/* How many of v are stale markers. */
static size_t count_stale(const double *v, size_t n)
{
  size_t stale = 0;
  for (size_t j = 0; j < n; j++)
    stale += promql__is_stale(v[j]);
  return stale;
}

size_t promql__drop_stale(const int64_t *t, const double *v, size_t n, int64_t *ot, double *ov)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!promql__is_stale(v[i])) {
      ot[k] = t[i];
      ov[k++] = v[i];
    }
  return k;
}

void promql__matrix_clean(pq_ctx *c, pq_val *v)
{
  if (v->type != V_MATRIX || !v->raw)
    return;
  size_t n = 0;
  for (size_t k = 0; k < v->nrs; k++) {
    pq_rseries *r = &v->rs[n], in = v->rs[k];
    size_t stale = count_stale(in.v, in.n);
    if (stale == in.n)
      continue;
    *r = in;
    if (stale) {
      r->t = lk_arena_alloc(c->a, (in.n - stale) * sizeof *r->t);
      r->v = lk_arena_alloc(c->a, (in.n - stale) * sizeof *r->v);
      r->n = promql__drop_stale(in.t, in.v, in.n, r->t, r->v);
    }
    n++;
  }
  v->nrs = n;
  v->raw = false;
}

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int eval_subq(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  int64_t lo = INT64_MAX, hi = INT64_MIN, range = dur(c, e->u.subq.range, e->u.subq.range_x);
  int64_t step = dur(c, e->u.subq.step, e->u.subq.step_x);
  int64_t offset = dur(c, e->u.subq.offset, e->u.subq.offset_x);
  if (!step)
    step = 60000;
  if (range <= 0 || step < 0)
    return promql__exec_err(c, "subquery range and step must be greater than 0");
  int64_t *eff = lk_arena_alloc(c->a, (c->nsteps ? c->nsteps : 1) * sizeof *eff);
  for (size_t i = 0; i < c->nsteps; i++) {
    eff[i] = at_base(c, e->u.subq.at, e->u.subq.at_ms, i) - offset;
    lo = eff[i] < lo ? eff[i] : lo;
    hi = eff[i] > hi ? eff[i] : hi;
  }
  *out = (pq_val){.type = V_MATRIX, .range = range, .eff = eff};
  if (!c->nsteps)
    return 0;
  pq_ctx sub = *c;
  sub.step = step;
  sub.start = (floor_div(lo - range, step) + 1) * step;
  sub.end = hi;
  sub.nsteps = sub.end >= sub.start ? (size_t)((sub.end - sub.start) / step) + 1 : 0;
  int rc = promql__check_limits(c, sub.nsteps);
  if (rc)
    return rc;
  pq_val in;
  sub.samples = c->samples;
  rc = promql__eval(&sub, e->u.subq.e, &in);
  c->samples = sub.samples;
  if (rc)
    return rc;
  out->rs = lk_arena_zalloc(c->a, (in.n ? in.n : 1) * sizeof *out->rs);
  for (size_t k = 0; k < in.n; k++) {
    pq_series *s = &in.ser[k];
    pq_rseries *r = &out->rs[out->nrs];
    size_t cnt = 0;
    for (size_t i = 0; i < sub.nsteps; i++)
      cnt += s->ok[i];
    if (!cnt)
      continue;
    r->t = lk_arena_alloc(c->a, cnt * sizeof *r->t);
    r->v = lk_arena_alloc(c->a, cnt * sizeof *r->v);
    for (size_t i = 0; i < sub.nsteps; i++)
      if (s->ok[i]) {
        r->t[r->n] = pq_ts(&sub, i);
        r->v[r->n++] = s->v[i];
      }
    r->ls = s->ls;
    r->nls = s->nls;
    r->drop_name = s->drop_name;
    out->nrs++;
  }
  return 0;
}

static int eval_neg(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  int rc = promql__eval(c, e->u.inner, out);
  if (rc)
    return rc;
  if (out->type == V_SCALAR) {
    for (size_t i = 0; i < c->nsteps; i++)
      out->s[i] = -out->s[i];
    return 0;
  }
  for (size_t k = 0; k < out->n; k++) {
    pq_series *s = &out->ser[k];
    for (size_t i = 0; i < c->nsteps; i++)
      s->v[i] = -s->v[i];
    s->drop_name = true;
  }
  return 0;
}

int promql__eval(pq_ctx *c, const pq_expr *e, pq_val *out)
{
  int rc = promql__check_limits(c, 0);
  if (rc)
    return rc;
  switch (e->kind) {
  case N_NUM:
    *out = (pq_val){.type = V_SCALAR, .s = promql__scalar_arr(c, e->u.num)};
    return 0;
  case N_STR:
    *out = (pq_val){.type = V_STRING, .str = e->u.str};
    return 0;
  case N_PAREN:
    return promql__eval(c, e->u.inner, out);
  case N_NEG:
    return eval_neg(c, e, out);
  case N_SEL:
    return e->type == PROMQL_MATRIX ? eval_msel(c, e, out) : eval_vsel(c, e, false, out);
  case N_SUBQ:
    return eval_subq(c, e, out);
  case N_CALL:
    return promql__eval_call(c, e, out);
  case N_AGG:
    return promql__eval_agg(c, e, out);
  case N_BIN:
    return promql__eval_binop(c, e, out);
  default:
    return promql__exec_err(c, "unsupported expression");
  }
}

int promql__eval_timestamp_sel(pq_ctx *c, const pq_expr *sel, pq_val *out)
{
  return eval_vsel(c, sel, true, out);
}

/*---- Results ----*/

static void copy_labels(promql_series *o, const lk_label *ls, size_t n)
{
  o->labels = lk_xmalloc((n ? n : 1) * sizeof *o->labels);
  for (size_t i = 0; i < n; i++)
    o->labels[i] = (lk_label){lk_xstrdup(ls[i].name), lk_xstrdup(ls[i].value)};
  o->nlabels = n;
}

static char **split_lines(lk_buf *b, size_t *n)
{
  *n = 0;
  if (!b->len)
    return NULL;
  size_t cnt = 0;
  for (size_t i = 0; i < b->len; i++)
    cnt += b->data[i] == '\n';
  char **o = lk_xcalloc(cnt, sizeof *o);
  char *p = (char *)b->data;
  for (size_t i = 0; i < cnt; i++) {
    char *nl = strchr(p, '\n');
    o[i] = lk_xstrndup(p, (size_t)(nl - p));
    p = nl + 1;
  }
  *n = cnt;
  return o;
}

static int cmp_series(const void *a, const void *b)
{
  const promql_series *x = a, *y = b;
  return lk_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

static void result_vector(pq_ctx *c, pq_val *v, promql_result *r)
{
  r->type = PROMQL_VECTOR;
  r->series = lk_xcalloc(v->n ? v->n : 1, sizeof *r->series);
  for (size_t k = 0; k < v->n; k++) {
    pq_series *s = &v->ser[k];
    if (!s->ok[0])
      continue;
    promql_series *o = &r->series[r->nseries++];
    copy_labels(o, s->ls, s->nls);
    o->t = lk_xmalloc(sizeof *o->t);
    o->v = lk_xmalloc(sizeof *o->v);
    o->t[0] = c->start;
    o->v[0] = s->v[0];
    o->n = 1;
  }
}

static void result_matrix_window(pq_ctx *c, pq_val *v, promql_result *r)
{
  r->type = PROMQL_MATRIX;
  r->series = lk_xcalloc(v->nrs ? v->nrs : 1, sizeof *r->series);
  for (size_t k = 0; k < v->nrs; k++) {
    pq_rseries *s = &v->rs[k];
    size_t lo = upper_bound(s->t, s->n, v->eff[0] - v->range), hi = upper_bound(s->t, s->n, v->eff[0]);
    if (lo >= hi)
      continue;
    promql_series *o = &r->series[r->nseries++];
    copy_labels(o, s->ls, s->nls);
    o->n = hi - lo;
    o->t = lk_xmalloc(o->n * sizeof *o->t);
    o->v = lk_xmalloc(o->n * sizeof *o->v);
    memcpy(o->t, s->t + lo, o->n * sizeof *o->t);
    memcpy(o->v, s->v + lo, o->n * sizeof *o->v);
  }
  qsort(r->series, r->nseries, sizeof *r->series, cmp_series);
}

static void result_range(pq_ctx *c, pq_val *v, promql_result *r)
{
  r->type = PROMQL_MATRIX;
  if (v->type == V_SCALAR) {
    r->series = lk_xcalloc(1, sizeof *r->series);
    promql_series *o = &r->series[r->nseries++];
    copy_labels(o, NULL, 0);
    o->t = lk_xmalloc((c->nsteps ? c->nsteps : 1) * sizeof *o->t);
    o->v = lk_xmalloc((c->nsteps ? c->nsteps : 1) * sizeof *o->v);
    for (size_t i = 0; i < c->nsteps; i++) {
      o->t[i] = pq_ts(c, i);
      o->v[i] = v->s[i];
    }
    o->n = c->nsteps;
    return;
  }
  r->series = lk_xcalloc(v->n ? v->n : 1, sizeof *r->series);
  for (size_t k = 0; k < v->n; k++) {
    pq_series *s = &v->ser[k];
    size_t cnt = 0;
    for (size_t i = 0; i < c->nsteps; i++)
      cnt += s->ok[i];
    if (!cnt)
      continue;
    promql_series *o = &r->series[r->nseries++];
    copy_labels(o, s->ls, s->nls);
    o->t = lk_xmalloc(cnt * sizeof *o->t);
    o->v = lk_xmalloc(cnt * sizeof *o->v);
    for (size_t i = 0; i < c->nsteps; i++)
      if (s->ok[i]) {
        o->t[o->n] = pq_ts(c, i);
        o->v[o->n++] = s->v[i];
      }
  }
  qsort(r->series, r->nseries, sizeof *r->series, cmp_series);
}

void promql_result_free(promql_result *r)
{
  if (!r)
    return;
  for (size_t k = 0; k < r->nseries; k++) {
    promql_series *s = &r->series[k];
    for (size_t i = 0; i < s->nlabels; i++) {
      free((char *)s->labels[i].name);
      free((char *)s->labels[i].value);
    }
    free(s->labels);
    free(s->t);
    free(s->v);
  }
  free(r->series);
  free(r->string);
  for (size_t i = 0; i < r->nwarnings; i++)
    free(r->warnings[i]);
  free(r->warnings);
  for (size_t i = 0; i < r->ninfos; i++)
    free(r->infos[i]);
  free(r->infos);
  free(r);
}

static void apply_defaults(const promql_opts *o, promql_opts *x)
{
  *x = o ? *o : (promql_opts){0};
  if (!x->lookback_ms)
    x->lookback_ms = 5 * 60000;
  if (!x->timeout_ms)
    x->timeout_ms = 120000;
  if (!x->max_samples)
    x->max_samples = 50000000;
  if (!x->max_series)
    x->max_series = 1000000;
  if (!x->max_points)
    x->max_points = 11000;
}

static int run(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
               int64_t start, int64_t end, int64_t step, bool range, promql_result **out,
               lk_diag *d)
{
  promql_opts opt;
  apply_defaults(o, &opt);
  if (range && e->root->type != PROMQL_SCALAR && e->root->type != PROMQL_VECTOR)
    return lk_diag_set(d, LK_EINVAL, -1,
                       "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                       e->root->type == PROMQL_STRING ? "string" : "range vector");
  lk_buf warn = {0}, info = {0};
  pq_sets sets = {0};
  lk_arena *a = lk_arena_new(1 << 16);
  pq_ctx c = {
    .a = a, .q = q, .start = start, .end = end, .step = step,
    .nsteps = (size_t)((end - start) / step) + 1, .qstart = start, .qend = end,
    .qstep = range ? step : 0,
    .lookback = opt.lookback_ms, .max_samples = opt.max_samples, .max_series = opt.max_series,
    .deadline_ns = lk_mono_ns() + opt.timeout_ms * 1000000, .sets = &sets,
    .warn = &warn, .info = &info, .d = d,
  };
  c.src = e->src;
  pq_val v;
  int rc = promql__eval(&c, e->root, &v);
  if (!rc) {
    promql__matrix_clean(&c, &v);
    rc = promql__finish_names(&c, &v);
  }
  promql_result *r = NULL;
  if (!rc) {
    r = lk_xcalloc(1, sizeof *r);
    r->t = start;
    if (v.type == V_SCALAR && !range) {
      r->type = PROMQL_SCALAR;
      r->scalar = v.s[0];
    } else if (v.type == V_STRING) {
      r->type = PROMQL_STRING;
      r->string = lk_xstrdup(v.str);
    } else if (range) {
      result_range(&c, &v, r);
    } else if (v.type == V_VECTOR) {
      result_vector(&c, &v, r);
    } else {
      result_matrix_window(&c, &v, r);
    }
    r->warnings = split_lines(&warn, &r->nwarnings);
    r->infos = split_lines(&info, &r->ninfos);
    *out = r;
  }
  for (size_t i = 0; i < sets.n; i++)
    q->release(sets.v[i]);
  free(sets.v);
  lk_buf_fini(&warn);
  lk_buf_fini(&info);
  lk_arena_free(a);
  return rc;
}

/* The steps from hit->tail to end evaluated and spliced after the cached
 * ones into *out (stored in turn), or false: then evaluate everything. */
static bool run_tail(const promql_queryable *q, const promql_opts *o, const promql_opts *opt,
                     const promql_expr *e, int64_t start, int64_t end, int64_t step, pq_hit *hit,
                     promql_result **out)
{
  pq_spy spy;
  promql__spy_init(&spy, q);
  promql_result *tail = NULL;
  lk_diag d = {0};
  if (run(&spy.q, o, e, hit->tail, end, step, true, &tail, &d) || tail->nwarnings || tail->ninfos) {
    promql_result_free(tail); /* annotations speak of the whole range: evaluate it whole */
    promql_result_free(hit->r);
    return false;
  }
  *out = promql__splice(hit->r, tail);
  spy.version = hit->version; /* the older of the two parts' versions */
  spy.lo = hit->read_lo < spy.lo ? hit->read_lo : spy.lo;
  spy.hi = hit->read_hi > spy.hi ? hit->read_hi : spy.hi;
  promql__cache_put(o->cache, e, opt, start, end, step, true, &spy, *out);
  return true;
}

/* run() through the result cache when the caller gave one and the data has a
 * version. A stored result is kept with the version read before it was
 * evaluated and the span of times it read: data written meanwhile is
 * either in it or logged after that version, so a later lookup that finds
 * a change in the span evaluates again — only the steps after the change
 * when the query's steps are independent (qcache.c). */
static int run_cached(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
                      int64_t start, int64_t end, int64_t step, bool range, promql_result **out,
                      lk_diag *d)
{
  if (!o || !o->cache || !q->version)
    return run(q, o, e, start, end, step, range, out, d);
  promql_opts opt;
  apply_defaults(o, &opt);
  pq_hit hit;
  if (promql__cache_get(o->cache, q, e, &opt, start, end, step, range, &hit)) {
    if (hit.tail == INT64_MAX) {
      *out = hit.r;
      return 0;
    }
    if (run_tail(q, o, &opt, e, start, end, step, &hit, out))
      return 0;
  }
  pq_spy spy;
  promql__spy_init(&spy, q);
  int rc = run(&spy.q, o, e, start, end, step, range, out, d);
  if (!rc)
    promql__cache_put(o->cache, e, &opt, start, end, step, range, &spy, *out);
  return rc;
}

int promql_eval_instant(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
                        int64_t t, promql_result **out, lk_diag *d)
{
  return run_cached(q, o, e, t, t, 1, false, out, d);
}

int promql_eval_range(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
                      int64_t start, int64_t end, int64_t step, promql_result **out, lk_diag *d)
{
  promql_opts opt;
  apply_defaults(o, &opt);
  if (step <= 0)
    return lk_diag_set(d, LK_EINVAL, -1, "zero or negative query resolution step widths are not accepted. Try a positive integer");
  if (end < start)
    return lk_diag_set(d, LK_EINVAL, -1, "end timestamp must not be before start time");
  if ((end - start) / step + 1 > opt.max_points)
    return lk_diag_set(d, LK_EINVAL, -1, "exceeded maximum resolution of %lld points per timeseries. Try decreasing the query resolution (?step=XX)",
                       (long long)opt.max_points);
  return run_cached(q, o, e, start, end, step, true, out, d);
}
