/* funcs_range.c — functions over range vectors: rate/increase/delta and
 * their instant variants, deriv/predict_linear, resets/changes, every
 * *_over_time, absent_over_time and double_exponential_smoothing.
 *
 * One driver walks every series and step: the window (eff−range, eff] of
 * the series' point arrays (loaded once for the whole query) slides forward
 * with the steps (binary search only when a window moves back, as with @)
 * and is handed to a kernel with the step's scalar params. A kernel returns
 * false when the window yields no point. max/min_over_time keep a monotone
 * deque instead of rescanning each window. A call over many points runs its
 * series in two shares on two threads (eval_all).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "promql/promql_int.h"

typedef struct win {
  const int64_t *t;
  const double *v;
  size_t n;
  int64_t eff, range;  /* window end and length (ms) */
  int64_t ts;          /* the step's evaluation time */
  double p1, p2;       /* scalar params at this step */
  double *scratch;     /* room for n values */
  const uint32_t *drops; /* counters: drops[i] = value decreases up to point i, or NULL */
} win;

typedef bool (*rkernel)(const win *w, double *out);

static bool extrapolated(const win *w, bool counter, bool is_rate, double *out)
{
  if (w->n < 2)
    return false;
  double result = w->v[w->n - 1] - w->v[0];
  if (counter && (!w->drops || w->drops[w->n - 1] != w->drops[0])) {
    for (size_t i = 1; i < w->n; i++)
      if (w->v[i] < w->v[i - 1])
        result += w->v[i - 1];
  }
  double range_start = (double)(w->eff - w->range), range_end = (double)w->eff;
  double to_start = ((double)w->t[0] - range_start) / 1000;
  double to_end = (range_end - (double)w->t[w->n - 1]) / 1000;
  double sampled = (double)(w->t[w->n - 1] - w->t[0]) / 1000;
  double avg_step = sampled / (double)(w->n - 1);
  double threshold = avg_step * 1.1;
  if (to_start >= threshold)
    to_start = avg_step / 2;
  if (counter) {
    double to_zero = to_start;
    if (result > 0 && w->v[0] >= 0)
      to_zero = sampled * (w->v[0] / result);
    if (to_zero < to_start)
      to_start = to_zero;
  }
  if (to_end >= threshold)
    to_end = avg_step / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate)
    factor /= (double)w->range / 1000;
  *out = result * factor;
  return true;
}

static bool k_rate(const win *w, double *o) { return extrapolated(w, true, true, o); }
static bool k_increase(const win *w, double *o) { return extrapolated(w, true, false, o); }
static bool k_delta(const win *w, double *o) { return extrapolated(w, false, false, o); }

static bool instant_delta(const win *w, bool is_rate, double *out)
{
  if (w->n < 2)
    return false;
  double last = w->v[w->n - 1], prev = w->v[w->n - 2];
  double r = is_rate && last < prev ? last : last - prev;
  if (is_rate) {
    int64_t dt = w->t[w->n - 1] - w->t[w->n - 2];
    if (dt == 0)
      return false;
    r /= (double)dt / 1000;
  }
  *out = r;
  return true;
}

static bool k_irate(const win *w, double *o) { return instant_delta(w, true, o); }
static bool k_idelta(const win *w, double *o) { return instant_delta(w, false, o); }

static void linreg(const win *w, int64_t intercept_t, double *slope, double *intercept)
{
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  bool const_y = true;
  for (size_t i = 0; i < w->n; i++) {
    if (i > 0 && w->v[i] != w->v[i - 1])
      const_y = false;
    n++;
    double x = (double)(w->t[i] - intercept_t) / 1000;
    sx = promql__kahan_inc(x, sx, &cx);
    sy = promql__kahan_inc(w->v[i], sy, &cy);
    sxy = promql__kahan_inc(x * w->v[i], sxy, &cxy);
    sx2 = promql__kahan_inc(x * x, sx2, &cx2);
  }
  if (const_y) {
    if (isinf(w->v[0])) {
      *slope = *intercept = NAN;
      return;
    }
    *slope = 0;
    *intercept = w->v[0];
    return;
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
  *slope = cov / var;
  *intercept = sy / n - *slope * sx / n;
}

static bool k_deriv(const win *w, double *o)
{
  if (w->n < 2)
    return false;
  double icpt;
  linreg(w, w->t[0], o, &icpt);
  return true;
}

static bool k_predict_linear(const win *w, double *o)
{
  if (w->n < 2)
    return false;
  double slope, icpt;
  linreg(w, w->ts, &slope, &icpt);
  *o = slope * w->p1 + icpt;
  return true;
}

static bool k_resets(const win *w, double *o)
{
  double r = 0;
  for (size_t i = 1; i < w->n; i++)
    r += w->v[i] < w->v[i - 1];
  *o = r;
  return w->n > 0;
}

static bool k_changes(const win *w, double *o)
{
  double r = 0;
  for (size_t i = 1; i < w->n; i++)
    r += !(w->v[i] == w->v[i - 1] || (isnan(w->v[i]) && isnan(w->v[i - 1])));
  *o = r;
  return w->n > 0;
}

static bool k_sum(const win *w, double *o) { *o = pq_k_sum(w->v, w->n); return w->n > 0; }
static bool k_avg(const win *w, double *o) { *o = pq_k_avg(w->v, w->n); return w->n > 0; }
static bool k_min(const win *w, double *o) { *o = pq_k_min(w->v, w->n); return w->n > 0; }
static bool k_max(const win *w, double *o) { *o = pq_k_max(w->v, w->n); return w->n > 0; }
static bool k_count(const win *w, double *o) { *o = (double)w->n; return w->n > 0; }
static bool k_present(const win *w, double *o) { *o = 1; return w->n > 0; }
static bool k_last(const win *w, double *o) { if (!w->n) return false; *o = w->v[w->n - 1]; return true; }
static bool k_first(const win *w, double *o) { if (!w->n) return false; *o = w->v[0]; return true; }
static bool k_ts_last(const win *w, double *o) { if (!w->n) return false; *o = (double)w->t[w->n - 1] / 1000; return true; }
static bool k_ts_first(const win *w, double *o) { if (!w->n) return false; *o = (double)w->t[0] / 1000; return true; }

static bool k_stdvar(const win *w, double *o) { *o = pq_k_stdvar(w->v, w->n); return w->n > 0; }
static bool k_stddev(const win *w, double *o) { *o = sqrt(pq_k_stdvar(w->v, w->n)); return w->n > 0; }

static bool ts_of_extreme(const win *w, bool max, double *o)
{
  if (!w->n)
    return false;
  size_t best = 0;
  for (size_t i = 1; i < w->n; i++) {
    double b = w->v[best], v = w->v[i];
    if ((max ? v >= b : v <= b) || isnan(b))
      best = i;
  }
  *o = (double)w->t[best] / 1000;
  return true;
}

static bool k_ts_max(const win *w, double *o) { return ts_of_extreme(w, true, o); }
static bool k_ts_min(const win *w, double *o) { return ts_of_extreme(w, false, o); }

static bool k_quantile(const win *w, double *o)
{
  if (!w->n)
    return false;
  memcpy(w->scratch, w->v, w->n * sizeof *w->v);
  *o = promql__quantile(w->p1, w->scratch, w->n);
  return true;
}

static bool k_mad(const win *w, double *o)
{
  if (!w->n)
    return false;
  for (size_t i = 0; i < w->n; i++)
    if (isnan(w->v[i])) {
      *o = NAN;
      return true;
    }
  memcpy(w->scratch, w->v, w->n * sizeof *w->v);
  double med = promql__quantile(0.5, w->scratch, w->n);
  for (size_t i = 0; i < w->n; i++)
    w->scratch[i] = fabs(w->v[i] - med);
  *o = promql__quantile(0.5, w->scratch, w->n);
  return true;
}

static bool k_des(const win *w, double *o)
{
  if (w->n < 2)
    return false;
  double sf = w->p1, tf = w->p2, s0 = 0, s1 = w->v[0], b = w->v[1] - w->v[0];
  for (size_t i = 1; i < w->n; i++) {
    double x = sf * w->v[i];
    if (i > 1)
      b = tf * (s1 - s0) + (1 - tf) * b;
    s0 = s1;
    s1 = x + (1 - sf) * (s1 + b);
  }
  *o = s1;
  return true;
}

static const struct rfunc {
  const char *name;
  rkernel k;
  bool keep_name;
} rfuncs[] = {
  {"rate", k_rate, false}, {"increase", k_increase, false}, {"delta", k_delta, false},
  {"irate", k_irate, false}, {"idelta", k_idelta, false}, {"deriv", k_deriv, false},
  {"predict_linear", k_predict_linear, false}, {"resets", k_resets, false},
  {"changes", k_changes, false}, {"sum_over_time", k_sum, false},
  {"avg_over_time", k_avg, false}, {"min_over_time", k_min, false},
  {"max_over_time", k_max, false}, {"count_over_time", k_count, false},
  {"present_over_time", k_present, false}, {"last_over_time", k_last, true},
  {"first_over_time", k_first, true}, {"stddev_over_time", k_stddev, false},
  {"stdvar_over_time", k_stdvar, false}, {"quantile_over_time", k_quantile, false},
  {"mad_over_time", k_mad, false}, {"ts_of_last_over_time", k_ts_last, false},
  {"ts_of_first_over_time", k_ts_first, false}, {"ts_of_max_over_time", k_ts_max, false},
  {"ts_of_min_over_time", k_ts_min, false}, {"double_exponential_smoothing", k_des, false},
};

static const struct rfunc *rfunc_find(const char *name)
{
  for (size_t i = 0; i < sizeof rfuncs / sizeof rfuncs[0]; i++)
    if (!strcmp(rfuncs[i].name, name))
      return &rfuncs[i];
  return NULL;
}

static size_t ubound(const int64_t *t, size_t n, int64_t x)
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

/* Sliding max/min for max_over_time/min_over_time when windows only move
 * forward: a deque of point indices whose values decrease (max) or increase
 * (min) from the front, so each point is pushed and popped once instead of
 * every window rescanning ~range/interval points. NaNs never enter (the
 * kernels' rule: NaN only when the window holds nothing else), and equal
 * values keep the earlier point, as the kernels' strict comparison does. */
typedef struct mono {
  size_t *q;          /* room for the series' points */
  size_t head, tail;  /* live part q[head, tail) */
  size_t next;        /* first point not yet pushed */
  bool max;
} mono;

static void mono_reset(mono *d)
{
  d->head = d->tail = d->next = 0;
}

/* The window [lo, hi)'s extreme (hi > lo; lo and hi never decrease). */
static double mono_window(mono *d, const double *v, size_t lo, size_t hi)
{
  for (; d->next < hi; d->next++) {
    double x = v[d->next];
    if (isnan(x))
      continue;
    while (d->tail > d->head && (d->max ? v[d->q[d->tail - 1]] < x : v[d->q[d->tail - 1]] > x))
      d->tail--;
    d->q[d->tail++] = d->next;
  }
  while (d->head < d->tail && d->q[d->head] < lo)
    d->head++;
  return d->head < d->tail ? v[d->q[d->head]] : v[hi - 1];
}

static bool eff_ascending(const pq_val *m, size_t nsteps)
{
  for (size_t i = 1; i < nsteps; i++)
    if (m->eff[i] < m->eff[i - 1])
      return false;
  return true;
}

static int check_params(pq_ctx *c, const char *name, pq_val *args, size_t nargs)
{
  if (strcmp(name, "double_exponential_smoothing") || nargs < 3)
    return 0;
  for (size_t i = 0; i < c->nsteps; i++) {
    double sf = args[1].s[i], tf = args[2].s[i];
    if (!(sf > 0 && sf < 1))
      return promql__exec_err(c, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
    if (!(tf > 0 && tf < 1))
      return promql__exec_err(c, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
  }
  return 0;
}

/* What every series of one range-function call shares (read-only while
 * series are evaluated). */
typedef struct rjob {
  const pq_ctx *c;
  const struct rfunc *rf;
  const char *name;
  const pq_val *m;
  const double *p1, *p2;
  bool sliding;
  pq_series *o;        /* o[k] for m->rs[k], slots allocated */
  bool *any;           /* any[k]: o[k] has a point */
} rjob;

/* One share of the series [k0, k1) with its own scratch. */
typedef struct rshare {
  const rjob *j;
  size_t k0, k1;
  double *scratch;
  uint32_t *drops;     /* counters only */
  mono dq;             /* sliding only */
} rshare;

static bool eval_series(const rjob *j, rshare *w, const pq_rseries *r, pq_series *s)
{
  const pq_ctx *c = j->c;
  const pq_val *m = j->m;
  bool any = false;
  if (w->drops && r->n) {
    w->drops[0] = 0;
    for (size_t i = 1; i < r->n; i++)
      w->drops[i] = w->drops[i - 1] + (r->v[i] < r->v[i - 1]);
  }
  size_t lo = 0, hi = 0; /* window [lo, hi), slid forward as eff grows */
  mono_reset(&w->dq);
  for (size_t i = 0; i < c->nsteps; i++) {
    int64_t e = m->eff[i];
    if (i && e < m->eff[i - 1]) {
      lo = ubound(r->t, r->n, e - m->range);
      hi = ubound(r->t, r->n, e);
    } else {
      while (lo < r->n && r->t[lo] <= e - m->range)
        lo++;
      while (hi < r->n && r->t[hi] <= e)
        hi++;
    }
    if (m->ext) {
      if (!promql__ext_window(j->name, m->ext, r->t, r->v, r->n, m->eff[i], m->range, c->lookback,
                              &s->v[i]))
        continue;
    } else if (j->sliding) {
      if (hi == lo)
        continue;
      s->v[i] = mono_window(&w->dq, r->v, lo, hi);
    } else {
      win x = {r->t + lo, r->v + lo, hi - lo, m->eff[i], m->range, pq_ts(c, i),
               j->p1 ? j->p1[i] : 0, j->p2 ? j->p2[i] : 0, w->scratch, w->drops ? w->drops + lo : NULL};
      if (!x.n)
        continue;
      /* rate, the common case, as a direct (inlinable) call */
      if (!(j->rf->k == k_rate ? extrapolated(&x, true, true, &s->v[i]) : j->rf->k(&x, &s->v[i])))
        continue;
    }
    s->ok[i] = 1;
    any = true;
  }
  return any;
}

static void *eval_share(void *arg)
{
  rshare *w = arg;
  for (size_t k = w->k0; k < w->k1; k++)
    w->j->any[k] = eval_series(w->j, w, &w->j->m->rs[k], &w->j->o[k]);
  return NULL;
}

/* Calls over at least this many points are shared with a second thread. */
#define PARALLEL_MIN_POINTS 200000

/* Evaluate every series, in two shares of about equal points on two
 * threads when the call is large. The helper thread takes no locks and
 * allocates nothing: it writes its own series' slots and any[] entries,
 * and is joined before the results are read. */
static void eval_all(pq_ctx *c, const rjob *j, size_t maxn)
{
  const pq_val *m = j->m;
  uint64_t points = 0;
  for (size_t k = 0; k < m->nrs; k++)
    points += m->rs[k].n;
  size_t split = m->nrs;
  if (points >= PARALLEL_MIN_POINTS && m->nrs >= 2) {
    uint64_t half = 0;
    for (split = 0; split < m->nrs - 1 && half * 2 < points; split++)
      half += m->rs[split].n;
  }
  bool counter = j->rf->k == k_rate || j->rf->k == k_increase;
  rshare w[2];
  int shares = split < m->nrs ? 2 : 1;
  for (int i = 0; i < shares; i++) {
    w[i] = (rshare){j, i ? split : 0, i ? m->nrs : split, lk_arena_alloc(c->a, maxn * sizeof(double)),
                    counter ? lk_arena_alloc(c->a, maxn * sizeof(uint32_t)) : NULL,
                    {.q = j->sliding ? lk_arena_alloc(c->a, maxn * sizeof(size_t)) : NULL,
                     .max = j->rf->k == k_max}};
  }
  pthread_t th;
  bool threaded = shares == 2 && pthread_create(&th, NULL, eval_share, &w[1]) == 0;
  eval_share(&w[0]);
  if (threaded)
    pthread_join(th, NULL);
  else if (shares == 2)
    eval_share(&w[1]);
}

int promql__eval_range_func(pq_ctx *c, const pq_expr *call, pq_val *args, pq_val *out)
{
  const char *name = call->u.call.f->name;
  const struct rfunc *rf = rfunc_find(name);
  size_t nargs = call->u.call.nargs;
  /* the matrix argument is first, except quantile_over_time(q, m) */
  size_t mi = !strcmp(name, "quantile_over_time") ? 1 : 0;
  pq_val *m = &args[mi];
  const double *p1 = nargs > 1 ? args[mi ? 0 : 1].s : NULL;
  const double *p2 = nargs > 2 ? args[2].s : NULL;
  int rc = check_params(c, name, args, nargs);
  if (rc)
    return rc;
  size_t maxn = 1;
  for (size_t k = 0; k < m->nrs; k++)
    maxn = m->rs[k].n > maxn ? m->rs[k].n : maxn;
  if ((rc = promql__check_limits(c, (uint64_t)m->nrs * c->nsteps)))
    return rc;
  if (!strcmp(name, "quantile_over_time"))
    for (size_t i = 0; i < c->nsteps; i++)
      if (!(p1[i] >= 0 && p1[i] <= 1))
        promql__annotate(c, true, call->u.call.args[0], "PromQL warning: quantile value should be between 0 and 1, got %g", p1[i]);
  pq_series *o = promql__new_series(c, m->nrs);
  for (size_t k = 0; k < m->nrs; k++)
    promql__alloc_slots(c, &o[k]);
  /* rate/increase get a prefix count of counter drops (drops), so windows
   * without a reset skip the reset scan; max/min over forward-moving
   * windows slide (mono) */
  rjob j = {c, rf, name, m, p1, p2,
            (rf->k == k_max || rf->k == k_min) && !m->ext && eff_ascending(m, c->nsteps), o,
            lk_arena_zalloc(c->a, (m->nrs ? m->nrs : 1) * sizeof(bool))};
  eval_all(c, &j, maxn);
  size_t n = 0;
  for (size_t k = 0; k < m->nrs; k++) {
    if (!j.any[k])
      continue;
    pq_series *s = &o[k];
    s->ls = m->rs[k].ls;
    s->nls = m->rs[k].nls;
    s->drop_name = rf->keep_name ? m->rs[k].drop_name : true;
    o[n++] = *s;
  }
  *out = (pq_val){.type = V_VECTOR, .ser = o, .n = n};
  return promql__check_limits(c, 0);
}
