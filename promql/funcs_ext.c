/* funcs_ext.c — rate/increase/delta/changes/resets over the experimental
 * `anchored` and `smoothed` range selectors.
 *
 * anchored: the window (start, end] must hold a sample; the newest sample
 * in (start−lookback, start] is prepended as the anchor, and the result is
 * taken over those points without extrapolation.
 * smoothed: the values at start and end are interpolated linearly between
 * their neighbouring samples (a sample on the bound is used as is; at the
 * end the last value is carried forward when nothing follows; at the start
 * the first value is used when nothing precedes). Counters are interpolated
 * on reset-adjusted values, so a reset between two samples is modelled as a
 * restart from zero. Data only before or only after the window gives no
 * point.
 */
#include <math.h>
#include <string.h>

#include "promql/promql_int.h"

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

enum ext_fn { F_RATE, F_INCREASE, F_DELTA, F_CHANGES, F_RESETS };

static int fn_of(const char *name)
{
  static const char *const names[] = {"rate", "increase", "delta", "changes", "resets"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(names[i], name))
      return i;
  return -1;
}

static bool anchored(int fn, const int64_t *t, const double *v, size_t n, int64_t eff,
                     int64_t range, int64_t lookback, double *out)
{
  int64_t start = eff - range;
  size_t lo = ubound(t, n, start), hi = ubound(t, n, eff);
  if (lo >= hi)
    return false;
  if (lo > 0 && t[lo - 1] > start - lookback)
    lo--;
  double r = 0;
  switch (fn) {
  case F_CHANGES:
    for (size_t i = lo + 1; i < hi; i++)
      r += !(v[i] == v[i - 1] || (isnan(v[i]) && isnan(v[i - 1])));
    break;
  case F_RESETS:
    for (size_t i = lo + 1; i < hi; i++)
      r += v[i] < v[i - 1];
    break;
  default:
    r = v[hi - 1] - v[lo];
    if (fn != F_DELTA)
      for (size_t i = lo + 1; i < hi; i++)
        if (v[i] < v[i - 1])
          r += v[i - 1];
    if (fn == F_RATE)
      r /= (double)range / 1000;
  }
  *out = r;
  return true;
}

/* Value at x between samples a and b (a < x < b). For counters a drop from
 * a to b is a reset, so b's value counts from zero. */
static double interp(const int64_t *t, const double *v, size_t a, size_t b, int64_t x, bool counter)
{
  double f = (double)(x - t[a]) / (double)(t[b] - t[a]);
  if (counter && v[b] < v[a])
    return v[b] * f;
  return v[a] + (v[b] - v[a]) * f;
}

static bool smoothed(int fn, const int64_t *t, const double *v, size_t n, int64_t eff,
                     int64_t range, int64_t lookback, double *out)
{
  int64_t start = eff - range;
  size_t q = ubound(t, n, start);  /* first sample after start */
  size_t e = ubound(t, n, eff);    /* one past the last sample at or before end */
  if (q >= n || e == 0)
    return false;                  /* data only before, or only after, the window */
  bool counter = fn != F_DELTA;
  bool has_p = q > 0 && t[q - 1] > start - lookback;
  double vs = !has_p ? v[q] : t[q - 1] == start ? v[q - 1] : interp(t, v, q - 1, q, start, counter);
  size_t last = e - 1;
  bool has_f = e < n && t[e] <= eff + lookback;
  double ve = t[last] == eff || !has_f ? v[last] : interp(t, v, last, e, eff, counter);
  double r = ve - vs;
  if (counter && q <= last) {
    /* pairs (start, first inner), inner samples, (last inner, end): a drop
     * is a reset that restarted from zero */
    if (v[q] < vs)
      r += vs;
    for (size_t i = q + 1; i <= last; i++)
      if (v[i] < v[i - 1])
        r += v[i - 1];
    if (ve < v[last])
      r += v[last];
  }
  if (fn == F_RATE)
    r /= (double)range / 1000;
  *out = r;
  return true;
}

bool promql__ext_window(const char *name, enum pq_ext ext, const int64_t *t, const double *v,
                        size_t n, int64_t eff, int64_t range, int64_t lookback, double *out)
{
  int fn = fn_of(name);
  if (fn < 0)
    return false;
  return ext == EXT_ANCHORED ? anchored(fn, t, v, n, eff, range, lookback, out)
                             : smoothed(fn, t, v, n, eff, range, lookback, out);
}
