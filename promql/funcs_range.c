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
#include <stdint.h>
#include <string.h>

#include "lib/lk_pair.h"
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

/* Prometheus's extrapolatedRate, split in two: the part that depends only
 * on the window's timestamps (xtime) and the part that needs its values
 * (xvalue). Series scraped together share their timestamps, so a call
 * computes the first part once per distinct timestamp column (tcol) and
 * only the second per series. Every floating-point operation is
 * Prometheus's, in its order (intermediates are stored as doubles, which
 * changes no bit), so results are bit-identical; choices are selects, so
 * loops over windows have no branches and vectorize (the divisions
 * dominate, and packed IEEE division rounds as the scalar one does). */

/* Window of n ≥ 2 points from t0 to t1 ending at eff, range ms long, as
 * doubles computed as Prometheus does: ms from its start to t0 and from
 * t1 to its end, ms sampled, n − 1. */
static inline __attribute__((always_inline)) void
xtime_raw(int64_t t0, int64_t t1, size_t n, int64_t eff, int64_t range, double *xs, double *xe, double *xm,
          double *xn)
{
  double range_start = (double)(eff - range), range_end = (double)eff;
  *xs = (double)t0 - range_start;
  *xe = range_end - (double)t1;
  *xm = (double)(t1 - t0);
  *xn = (double)(n - 1);
}

/* xtime_raw's values in place → seconds to the window's start and end,
 * each replaced by half the average step past 1.1 average steps, and the
 * seconds it samples. */
static inline __attribute__((always_inline)) void
xtime(double *to_start, double *to_end, double *sampled, double nm1)
{
  double ts = *to_start / 1000, te = *to_end / 1000, sm = *sampled / 1000;
  double avg_step = sm / nm1;
  double threshold = avg_step * 1.1;
  double half = avg_step / 2;
  *to_start = ts >= threshold ? half : ts;
  *to_end = te >= threshold ? half : te;
  *sampled = sm;
}

/* The extrapolated result from xtime's part and the window's first value
 * and result (last − first, plus for counters the value before each
 * drop). Counters: durationToZero = sampled·(first/result) when result > 0
 * and first ≥ 0, and to_start = min(to_start, durationToZero), computed
 * unconditionally and selected. */
static inline __attribute__((always_inline)) double
xvalue(double to_start, double to_end, double sampled, double first, double result, double range_s,
       bool counter, bool is_rate)
{
  if (counter) {
    double zero_at = sampled * (first / result);
    bool use = (result > 0) & (first >= 0) & (zero_at < to_start);
    to_start = use ? zero_at : to_start;
  }
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate)
    factor /= range_s;
  return result * factor;
}

static double extrapolate_one(int64_t t0, int64_t t1, size_t n, double first, double result, int64_t eff,
                              int64_t range, bool counter, bool is_rate)
{
  double ts, te, sm, nm1;
  xtime_raw(t0, t1, n, eff, range, &ts, &te, &sm, &nm1);
  xtime(&ts, &te, &sm, nm1);
  return xvalue(ts, te, sm, first, result, (double)range / 1000, counter, is_rate);
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
  *out = extrapolate_one(w->t[0], w->t[w->n - 1], w->n, w->v[0], result, w->eff, w->range, counter, is_rate);
  return true;
}

double promql__counter_rate(int64_t t0, int64_t t1, size_t n, double first, double result, int64_t eff,
                            int64_t range, bool is_rate)
{
  return extrapolate_one(t0, t1, n, first, result, eff, range, true, is_rate);
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
  struct tcol *cols;   /* rate/increase/delta: TCOLS timestamp columns' windows ... */
  size_t ncols, next;  /* ... ncols in use, the next to replace when all are */
  struct tcol *own;    /* ... and one for a column seen once (stale markers dropped) */
  double *first, *result; /* per step, of the series being evaluated */
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

/* Every step's window over one timestamp column, and xtime's part of the
 * extrapolation for each; series scraped together share the column, so a
 * call computes this once per distinct column. */
typedef struct tcol {
  const int64_t *t;    /* the column; NULL: slot unused */
  size_t n;
  size_t *lo, *hi;     /* the window [lo, hi) at each step */
  uint8_t *ok;         /* it holds ≥ 2 points */
  double *to_start, *to_end, *sampled, *nm1; /* xtime's */
  bool any;            /* some window holds ≥ 2 points */
} tcol;

/* Distinct timestamp columns (scrape targets) a share keeps windows of. */
#define TCOLS 32

static void tcol_alloc(lk_arena *a, tcol *c, size_t nsteps)
{
  size_t ns = nsteps ? nsteps : 1;
  *c = (tcol){NULL, 0, lk_arena_alloc(a, ns * sizeof(size_t)), lk_arena_alloc(a, ns * sizeof(size_t)),
              lk_arena_alloc(a, ns), lk_arena_alloc(a, ns * sizeof(double)), lk_arena_alloc(a, ns * sizeof(double)),
              lk_arena_alloc(a, ns * sizeof(double)), lk_arena_alloc(a, ns * sizeof(double)), false};
}

static PQ_AVX2_CLONE void xtime_steps(tcol *c, size_t nsteps)
{
  double *restrict ts = c->to_start, *restrict te = c->to_end, *restrict sm = c->sampled;
  const double *restrict nm1 = c->nm1;
  for (size_t i = 0; i < nsteps; i++)
    xtime(&ts[i], &te[i], &sm[i], nm1[i]);
}

/* Fill c with the windows of column t (n points) at every step. */
static void tcol_fill(tcol *c, const int64_t *t, size_t n, const int64_t *eff, size_t nsteps, int64_t range)
{
  size_t lo = 0, hi = 0;   /* window [lo, hi) */
  size_t dlo = 0, dhi = 0; /* the last moves of lo and hi */
  c->t = t;
  c->n = n;
  c->any = false;
  for (size_t i = 0; i < nsteps; i++) {
    int64_t e = eff[i];
    size_t h = upper_from(t, n, hi, dhi, e), l = upper_from(t, n, lo, dlo, e - range);
    dhi = h - hi;
    dlo = l - lo;
    hi = h;
    lo = l;
    c->lo[i] = lo;
    c->hi[i] = hi;
    c->ok[i] = hi - lo >= 2;
    c->any |= c->ok[i];
    if (c->ok[i])
      xtime_raw(t[lo], t[hi - 1], hi - lo, e, range, &c->to_start[i], &c->to_end[i], &c->sampled[i], &c->nm1[i]);
    else /* no point; harmless values for the arithmetic */
      xtime_raw(0, 1000, 2, 1000, 1000, &c->to_start[i], &c->to_end[i], &c->sampled[i], &c->nm1[i]);
  }
  xtime_steps(c, nsteps);
}

/* The windows of column t: a kept column with the same points, else
 * computed into a slot (own: one that is not kept). */
static const tcol *tcol_of(rshare *w, const int64_t *t, size_t n, bool keep)
{
  const rjob *j = w->j;
  if (!keep || !n) {
    tcol_fill(w->own, t, n, j->m->eff, j->c->nsteps, j->m->range);
    return w->own;
  }
  for (size_t i = 0; i < w->ncols; i++) {
    const tcol *c = &w->cols[i];
    if (c->n == n && c->t[0] == t[0] && c->t[n - 1] == t[n - 1] &&
        (c->t == t || !memcmp(c->t, t, n * sizeof *t)))
      return c;
  }
  tcol *c = &w->cols[w->ncols < TCOLS ? w->ncols++ : w->next++ % TCOLS];
  tcol_fill(c, t, n, j->m->eff, j->c->nsteps, j->m->range);
  return c;
}

/* Each step's first value and result (last − first, plus for counters the
 * value before each of the nr resets rs inside the window). */
static void window_values(const tcol *c, const double *v, size_t nsteps, bool counter, const size_t *rs,
                          size_t nr, double *first, double *result)
{
  size_t ri = 0; /* rs[ri] the first reset after the window's start */
  for (size_t i = 0; i < nsteps; i++) {
    if (!c->ok[i]) {
      first[i] = result[i] = 0;
      continue;
    }
    size_t lo = c->lo[i], hi = c->hi[i];
    double res = v[hi - 1] - v[lo];
    if (counter && nr) {
      while (ri < nr && rs[ri] <= lo)
        ri++;
      for (size_t k = ri; k < nr && rs[k] < hi; k++)
        res += v[rs[k] - 1];
    }
    first[i] = v[lo];
    result[i] = res;
  }
}

static inline __attribute__((always_inline)) void
xvalue_loop(const tcol *c, const double *restrict first, const double *restrict result, size_t nsteps,
            double range_s, bool counter, bool is_rate, double *restrict out)
{
  const double *restrict ts = c->to_start, *restrict te = c->to_end, *restrict sm = c->sampled;
  for (size_t i = 0; i < nsteps; i++)
    out[i] = xvalue(ts[i], te[i], sm[i], first[i], result[i], range_s, counter, is_rate);
}

/* xvalue over all steps of one series, for each combination of
 * counter/is_rate as its own loop (with an AVX2 build, see kernels.h). */
static PQ_AVX2_CLONE void xvalue_steps(const tcol *c, const double *first, const double *result, size_t nsteps,
                                       double range_s, bool counter, bool is_rate, double *out)
{
  if (counter && is_rate)
    xvalue_loop(c, first, result, nsteps, range_s, true, true, out);
  else if (counter)
    xvalue_loop(c, first, result, nsteps, range_s, true, false, out);
  else if (is_rate)
    xvalue_loop(c, first, result, nsteps, range_s, false, true, out);
  else
    xvalue_loop(c, first, result, nsteps, range_s, false, false, out);
}

/* rate/increase/delta over windows that only move forward: one vectorized
 * pass tells the usual series (no NaN; for counters, no reset either, so
 * windows add nothing for resets); the windows and their time part come
 * from the series' timestamp column (tcol_of), then each window's values
 * are read and the extrapolation finished over all steps. A series with a
 * NaN in a raw matrix first drops its stale markers (its column is then
 * its own); a counter that decreases somewhere lists its resets. */
static inline __attribute__((always_inline)) bool
extrapolated_series(const rjob *j, rshare *w, const pq_rseries *r, pq_series *s, bool counter,
                    bool is_rate)
{
  const int64_t *t = r->t;
  const double *v = r->v;
  size_t n = r->n, nsteps = j->c->nsteps, nr;
  /* the usual series: a counter without resets, a gauge without NaN */
  bool plain = counter ? ascending(v, n) : !has_nan(v, n), kept = true;
  if (!plain && j->m->raw && has_nan(v, n)) {
    n = promql__drop_stale(t, v, n, w->tbuf, w->vbuf);
    t = w->tbuf;
    v = w->vbuf;
    kept = false;
  }
  nr = counter && !plain ? find_resets(v, n, w->resets) : 0;
  const tcol *c = tcol_of(w, t, n, kept);
  if (!c->any)
    return false;
  window_values(c, v, nsteps, counter, w->resets, nr, w->first, w->result);
  xvalue_steps(c, w->first, w->result, nsteps, (double)j->m->range / 1000, counter, is_rate, s->v);
  for (size_t i = 0; i < nsteps; i++)
    s->ok[i] |= c->ok[i];
  return true;
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

/* A share's tcol slots and per-step value arrays (rate/increase/delta). */
static void extrap_alloc(pq_ctx *c, rshare *w)
{
  size_t ns = c->nsteps ? c->nsteps : 1;
  w->cols = lk_arena_alloc(c->a, TCOLS * sizeof *w->cols);
  for (size_t k = 0; k < TCOLS; k++)
    tcol_alloc(c->a, &w->cols[k], c->nsteps);
  w->own = lk_arena_alloc(c->a, sizeof *w->own);
  tcol_alloc(c->a, w->own, c->nsteps);
  w->first = lk_arena_alloc(c->a, ns * sizeof(double));
  w->result = lk_arena_alloc(c->a, ns * sizeof(double));
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
                    NULL, 0, 0, NULL, NULL, NULL,
                    m->raw ? lk_arena_alloc(c->a, maxn * sizeof(int64_t)) : NULL,
                    m->raw ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                    {.px = j->sliding ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                     .sx = j->sliding ? lk_arena_alloc(c->a, maxn * sizeof(double)) : NULL,
                     .bm = j->sliding ? lk_arena_alloc(c->a, nb * sizeof(double)) : NULL,
                     .max = j->rf->k == k_max}};
    if (j->extrap)
      extrap_alloc(c, &w[i]);
  }
  if (shares == 2)
    lk_run_pair(eval_share, &w[0], &w[1]);
  else
    eval_share(&w[0]);
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
