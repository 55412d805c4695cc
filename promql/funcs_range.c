/* funcs_range.c — functions over range vectors: rate/increase/delta and
 * their instant variants, deriv/predict_linear, resets/changes, every
 * *_over_time, absent_over_time and double_exponential_smoothing.
 *
 * One driver walks every series and step: the window (eff−range, eff] of
 * the series' point arrays (loaded once for the whole query) slides forward
 * with the steps (binary search only when a window moves back, as with @)
 * and is handed to a kernel with the step's scalar params. A kernel returns
 * false when the window yields no point. A call over many points runs its
 * series in two shares on two threads (eval_all).
 *
 * The hot functions over forward-moving windows (every range query without
 * @) take their own loops instead of the per-window kernel call:
 * rate/increase/delta first check a series in one vectorized pass (a
 * counter without resets, a gauge without NaN: the usual case; otherwise
 * stale markers are dropped here — a range selector's matrix arrives raw,
 * see eval.c — and resets listed), gather every step's window in one walk,
 * and run Prometheus's extrapolation over all steps as one branch-free
 * loop — the same floating-point operations in the same order, so results
 * stay bit-identical. The vector loops have an AVX2 build (PQ_AVX2_CLONE,
 * kernels.h). max/min_over_time fold blocks of points (blockfold) instead
 * of rescanning each window.
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
} win;

typedef bool (*rkernel)(const win *w, double *out);

/* What extrapolatedRate needs of one window of n ≥ 2 points, every
 * integer-derived quantity already a double (computed by the same
 * operations as Prometheus's). */
typedef struct xwin {
  double *to_start;    /* t[0] − window start (ms) */
  double *to_end;      /* window end − t[n−1] (ms) */
  double *sampled;     /* t[n−1] − t[0] (ms) */
  double *nm1;         /* n − 1 */
  double *first;       /* v[0] */
  double *result;      /* v[n−1] − v[0], plus for counters the value before
                          each drop, added in point order */
} xwin;

/* Window i of n points from (t0, first) to t1. */
static inline void xwin_set(const xwin *x, size_t i, int64_t t0, int64_t t1, size_t n, double first,
                            int64_t eff, int64_t range, double result)
{
  double range_start = (double)(eff - range), range_end = (double)eff;
  x->to_start[i] = (double)t0 - range_start;
  x->to_end[i] = range_end - (double)t1;
  x->sampled[i] = (double)(t1 - t0);
  x->nm1[i] = (double)(n - 1);
  x->first[i] = first;
  x->result[i] = result;
}

static inline void xwin_put(const xwin *x, size_t i, const int64_t *t, const double *v, size_t n,
                            int64_t eff, int64_t range, double result)
{
  xwin_set(x, i, t[0], t[n - 1], n, v[0], eff, range, result);
}

/* Prometheus's extrapolatedRate for windows [0, nw) of x into out. Every
 * floating-point operation is Prometheus's, in its order, so results are
 * bit-identical; the choices are selects, so the loop has no branches and
 * the compiler can run several windows per instruction (the divisions
 * dominate, and packed IEEE division rounds as the scalar one does). */
static inline __attribute__((always_inline)) void
extrapolate(const xwin *x, size_t nw, double range_s, bool counter,
                               bool is_rate, double *restrict out)
{
  const double *restrict xs = x->to_start, *restrict xe = x->to_end, *restrict xm = x->sampled;
  const double *restrict xn = x->nm1, *restrict xf = x->first, *restrict xr = x->result;
  for (size_t i = 0; i < nw; i++) {
    double result = xr[i];
    double to_start = xs[i] / 1000, to_end = xe[i] / 1000, sampled = xm[i] / 1000;
    double avg_step = sampled / xn[i];
    double threshold = avg_step * 1.1;
    double half = avg_step / 2;
    to_start = to_start >= threshold ? half : to_start;
    if (counter) {
      /* Prometheus: durationToZero = sampled·(first/result) when result > 0
       * and first ≥ 0, and to_start = min(to_start, durationToZero).
       * Computed unconditionally and selected, so the loop has no branch */
      double zero_at = sampled * (xf[i] / result);
      bool use = (result > 0) & (xf[i] >= 0) & (zero_at < to_start);
      to_start = use ? zero_at : to_start;
    }
    to_end = to_end >= threshold ? half : to_end;
    double factor = (sampled + to_start + to_end) / sampled;
    if (is_rate)
      factor /= range_s;
    out[i] = result * factor;
  }
}

/* extrapolate over all steps of one series, for each combination of
 * counter/is_rate as its own loop (with an AVX2 build, see kernels.h). */
static PQ_AVX2_CLONE void extrapolate_steps(const xwin *x, size_t nw, double range_s, bool counter,
                                            bool is_rate, double *restrict out)
{
  if (counter && is_rate)
    extrapolate(x, nw, range_s, true, true, out);
  else if (counter)
    extrapolate(x, nw, range_s, true, false, out);
  else if (is_rate)
    extrapolate(x, nw, range_s, false, true, out);
  else
    extrapolate(x, nw, range_s, false, false, out);
}

/* The window-kernel form (windows that move back, as with @). */
static bool extrapolated(const win *w, bool counter, bool is_rate, double *out)
{
  if (w->n < 2)
    return false;
  double result = w->v[w->n - 1] - w->v[0];
  if (counter)
    for (size_t i = 1; i < w->n; i++)
      if (w->v[i] < w->v[i - 1])
        result += w->v[i - 1];
  double f[6];
  xwin x = {&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]};
  xwin_put(&x, 0, w->t, w->v, w->n, w->eff, w->range, result);
  extrapolate(&x, 1, (double)w->range / 1000, counter, is_rate, out);
  return true;
}

double promql__counter_rate(int64_t t0, int64_t t1, size_t n, double first, double result, int64_t eff,
                            int64_t range, bool is_rate)
{
  double f[6], out;
  xwin x = {&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]};
  xwin_set(&x, 0, t0, t1, n, first, eff, range, result);
  extrapolate(&x, 1, (double)range / 1000, true, is_rate, &out);
  return out;
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

/* max_over_time/min_over_time by blocks of BLK points: each point's fold
 * from its block's start (px) and to its block's end (sx), and each
 * block's fold (bm), made once per series; a window spanning blocks is
 * sx[lo], the whole blocks between and px[hi−1] — a few folds per step
 * whatever the window's length (a monotone deque instead spends most of
 * its time on mispredicted pops). The fold is the
 * kernels' (pq_k_max/pq_k_min: NaN only when the window holds nothing
 * else, ties keep the earlier point); it is associative, so any grouping
 * in point order gives the kernel's result, bit for bit. */
#define BLK 32

typedef struct blockfold {
  double *px, *sx;     /* room for the series' points */
  double *bm;          /* room for its blocks */
  bool max;
} blockfold;

static inline double fold(bool max, double acc, double v)
{
  return (max ? v > acc : v < acc) || isnan(acc) ? v : acc;
}

static inline __attribute__((always_inline)) void
bf_build(const blockfold *b, const double *v, size_t n, bool max)
{
  for (size_t s = 0; s < n; s += BLK) {
    size_t e = s + BLK < n ? s + BLK : n;
    b->px[s] = v[s];
    for (size_t i = s + 1; i < e; i++)
      b->px[i] = fold(max, b->px[i - 1], v[i]);
    b->sx[e - 1] = v[e - 1];
    for (size_t i = e - 1; i-- > s;)
      b->sx[i] = fold(max, v[i], b->sx[i + 1]);
    b->bm[s / BLK] = b->px[e - 1];
  }
}

/* The fold of the window [lo, hi), hi > lo. */
static inline __attribute__((always_inline)) double
bf_window(const blockfold *b, const double *v, size_t lo, size_t hi, bool max)
{
  size_t bl = lo / BLK, bh = (hi - 1) / BLK;
  if (bl == bh) {
    double r = v[lo];
    for (size_t i = lo + 1; i < hi; i++)
      r = fold(max, r, v[i]);
    return r;
  }
  double r = b->sx[lo];
  for (size_t k = bl + 1; k < bh; k++)
    r = fold(max, r, b->bm[k]);
  return fold(max, r, b->px[hi - 1]);
}

/* max/min_over_time of one series over windows that move forward. */
static inline __attribute__((always_inline)) bool
fold_series(const pq_val *m, size_t nsteps, const blockfold *b, const pq_rseries *r,
            pq_series *s, bool max)
{
  const int64_t *t = r->t, *eff = m->eff;
  size_t n = r->n, lo = 0, hi = 0;
  bool any = false;
  bf_build(b, r->v, n, max);
  for (size_t i = 0; i < nsteps; i++) {
    while (hi < n && t[hi] <= eff[i])
      hi++;
    while (lo < hi && t[lo] <= eff[i] - m->range)
      lo++;
    if (hi == lo)
      continue;
    s->v[i] = bf_window(b, r->v, lo, hi, max);
    s->ok[i] = 1;
    any = true;
  }
  return any;
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
  bool extrap;         /* rate/increase/delta over forward plain windows */
  bool sliding;        /* max/min_over_time over forward windows (blockfold) */
  pq_series *o;        /* o[k] for m->rs[k], slots allocated */
  bool *any;           /* any[k]: o[k] has a point */
} rjob;

/* One share of the series [k0, k1) with its own scratch. */
typedef struct rshare {
  const rjob *j;
  size_t k0, k1;
  double *scratch;
  size_t *resets;      /* rate/increase: room for the series' reset indices */
  double *xw;          /* rate/increase/delta: 6 × nsteps gathered window values */
  int64_t *tbuf;       /* raw fast path: room for a series without its stale markers */
  double *vbuf;
  blockfold bf;        /* sliding only */
} rshare;

/* Indices i ≥ 1 with v[i] < v[i−1] (counter resets), ascending; how many. */
static size_t find_resets(const double *v, size_t n, size_t *out)
{
  size_t nr = 0;
  for (size_t i = 1; i < n; i++)
    if (v[i] < v[i - 1])
      out[nr++] = i;
  return nr;
}

/* Whether v holds a NaN (a stale marker, or a NaN sample); and whether
 * it never decreases (no counter resets, no NaN). Loops without branches,
 * vectorized in the AVX2 build (the compiler leaves the baseline's
 * floating-point compares scalar). */
static PQ_AVX2_CLONE bool has_nan(const double *v, size_t n)
{
  unsigned bad = 0;
  for (size_t i = 0; i < n; i++)
    bad |= v[i] != v[i];
  return bad;
}

static PQ_AVX2_CLONE bool ascending(const double *v, size_t n)
{
  unsigned bad = n && v[0] != v[0];
  for (size_t i = 1; i < n; i++)
    bad |= !(v[i] >= v[i - 1]);
  return !bad;
}

/* The first index ≥ from whose t exceeds e (t ascending, t[from−1] ≤ e).
 * Regular scrapes move every step's window by the same count of points,
 * so from + d (the last move) is tried first. */
static inline size_t upper_from(const int64_t *t, size_t n, size_t from, size_t d, int64_t e)
{
  size_t g = from + d;
  if (g <= n && (g == from || t[g - 1] <= e) && (g == n || t[g] > e))
    return g;
  while (from < n && t[from] <= e)
    from++;
  return from;
}

/* Every step's window of t, v into x, ok[i] = 1 where it holds ≥ 2
 * points; true when any does. rs lists the series' nr counter resets. */
static inline __attribute__((always_inline)) bool
gather_windows(const int64_t *t, const double *v, size_t n, const int64_t *eff, size_t nsteps,
               int64_t range, bool counter, const size_t *rs, size_t nr, const xwin *x,
               uint8_t *ok)
{
  size_t lo = 0, hi = 0, ri = 0; /* window [lo, hi); rs[ri] the first reset after lo */
  size_t dlo = 0, dhi = 0;       /* the last moves of lo and hi */
  bool any = false;
  for (size_t i = 0; i < nsteps; i++) {
    int64_t e = eff[i];
    size_t h = upper_from(t, n, hi, dhi, e), l = upper_from(t, n, lo, dlo, e - range);
    dhi = h - hi;
    dlo = l - lo;
    hi = h;
    lo = l;
    if (hi - lo < 2) {
      /* no point; harmless values for the arithmetic pass */
      static const int64_t dt[2] = {0, 1000};
      static const double dv[2] = {0, 0};
      xwin_put(x, i, dt, dv, 2, 1000, 1000, 0);
      continue;
    }
    double result = v[hi - 1] - v[lo];
    if (counter && nr) {
      while (ri < nr && rs[ri] <= lo)
        ri++;
      for (size_t k = ri; k < nr && rs[k] < hi; k++)
        result += v[rs[k] - 1];
    }
    xwin_put(x, i, t + lo, v + lo, hi - lo, e, range, result);
    ok[i] = 1;
    any = true;
  }
  return any;
}

/* rate/increase/delta over windows that only move forward: one vectorized
 * pass tells the usual series (no NaN; for counters, no reset either, so
 * windows add nothing for resets), the windows are gathered in one walk,
 * and extrapolate runs over all of them. A series with a NaN in a raw
 * matrix first drops its stale markers; a counter that decreases somewhere
 * lists its resets. */
static inline __attribute__((always_inline)) bool
extrapolated_series(const rjob *j, rshare *w, const pq_rseries *r, pq_series *s, bool counter,
                    bool is_rate)
{
  const int64_t *t = r->t;
  const double *v = r->v;
  size_t n = r->n, nsteps = j->c->nsteps, nr;
  xwin x = {w->xw, w->xw + nsteps, w->xw + 2 * nsteps, w->xw + 3 * nsteps, w->xw + 4 * nsteps,
            w->xw + 5 * nsteps};
  /* the usual series: a counter without resets, a gauge without NaN */
  bool plain = counter ? ascending(v, n) : !has_nan(v, n);
  if (!plain && j->m->raw && has_nan(v, n)) {
    n = promql__drop_stale(t, v, n, w->tbuf, w->vbuf);
    t = w->tbuf;
    v = w->vbuf;
  }
  nr = counter && !plain ? find_resets(v, n, w->resets) : 0;
  bool any = gather_windows(t, v, n, j->m->eff, nsteps, j->m->range, counter, w->resets, nr, &x,
                            s->ok);
  if (any)
    extrapolate_steps(&x, nsteps, (double)j->m->range / 1000, counter, is_rate, s->v);
  return any;
}

static bool eval_series(const rjob *j, rshare *w, const pq_rseries *r, pq_series *s)
{
  const pq_ctx *c = j->c;
  const pq_val *m = j->m;
  if (j->extrap) {
    if (j->rf->k == k_rate)
      return extrapolated_series(j, w, r, s, true, true);
    if (j->rf->k == k_increase)
      return extrapolated_series(j, w, r, s, true, false);
    if (j->rf->k == k_delta)
      return extrapolated_series(j, w, r, s, false, false);
  }
  if (j->sliding)
    return w->bf.max ? fold_series(m, c->nsteps, &w->bf, r, s, true)
                     : fold_series(m, c->nsteps, &w->bf, r, s, false);
  bool any = false;
  size_t lo = 0, hi = 0; /* window [lo, hi), slid forward as eff grows */
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
    } else {
      win x = {r->t + lo, r->v + lo, hi - lo, m->eff[i], m->range, pq_ts(c, i),
               j->p1 ? j->p1[i] : 0, j->p2 ? j->p2[i] : 0, w->scratch};
      if (!x.n || !j->rf->k(&x, &s->v[i]))
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
    size_t nb = maxn / BLK + 1;
    w[i] = (rshare){j, i ? split : 0, i ? m->nrs : split, lk_arena_alloc(c->a, maxn * sizeof(double)),
                    counter ? lk_arena_alloc(c->a, maxn * sizeof(size_t)) : NULL,
                    j->extrap ? lk_arena_alloc(c->a, 6 * (c->nsteps ? c->nsteps : 1) * sizeof(double)) : NULL,
                    m->raw ? lk_arena_alloc(c->a, maxn * sizeof(int64_t)) : NULL,
                    m->raw ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                    {.px = j->sliding ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                     .sx = j->sliding ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                     .bm = j->sliding ? lk_arena_alloc(c->a, nb * sizeof(double)) : NULL,
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
  /* rate/increase/delta over forward-moving plain windows take their own
   * loop (extrapolated_series), which also drops stale markers itself;
   * max/min over forward windows fold blocks (blockfold) */
  bool forward = eff_ascending(m, c->nsteps);
  bool extrap = (rf->k == k_rate || rf->k == k_increase || rf->k == k_delta) && !m->ext && forward;
  if (!extrap)
    promql__matrix_clean(c, m);
  size_t maxn = 1;
  for (size_t k = 0; k < m->nrs; k++)
    maxn = m->rs[k].n > maxn ? m->rs[k].n : maxn;
  if ((rc = promql__check_limits(c, (uint64_t)m->nrs * c->nsteps)))
    return rc;
  if (!strcmp(name, "quantile_over_time"))
    promql__warn_quantile(c, call->u.call.args[0], p1);
  pq_series *o = promql__new_series(c, m->nrs);
  for (size_t k = 0; k < m->nrs; k++)
    promql__alloc_slots(c, &o[k]);
  rjob j = {c, rf, name, m, p1, p2, extrap, (rf->k == k_max || rf->k == k_min) && !m->ext && forward, o,
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
