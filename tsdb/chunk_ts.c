/* chunk_ts.c — the timestamp section of a chunk.
 *
 * Two schemes, chosen per chunk by the magnitude of their residuals:
 *   DOD  — first timestamp, first delta, then Rice-coded delta-of-deltas
 *          (Gorilla's idea; best when the interval drifts or changes).
 *   GRID — an origin o and a step D, then each timestamp's Rice-coded
 *          distance from the grid point o + i*D. Scrapes run on a fixed
 *          schedule and only jitter around it, so the residual is the jitter
 *          itself: a slow scrape costs one outlier (not the two a delta or the
 *          three a delta-of-delta produce), and the residuals' spread is
 *          σ rather than √6·σ.
 * All arithmetic is modulo 2^64 (uint64_t), so any int64 sequence, ascending
 * or not, round-trips; only the size depends on the data.
 */
#include "tsdb/chunk_int.h"

/* Medians are taken over at most this many (evenly spaced) samples: the
 * step over more, since an error in it grows with i, the origin over fewer. */
#define STEP_SAMPLES 255
#define ORIGIN_SAMPLES 31

/* k-th smallest of a[0..n) as signed values (reorders a); Wirth's selection. */
static int64_t select_kth(int64_t *a, long n, long k)
{
  long l = 0, m = n - 1;
  while (l < m) {
    int64_t x = a[k];
    long i = l, j = m;
    do {
      while (a[i] < x)
        i++;
      while (x < a[j])
        j--;
      if (i <= j) {
        int64_t tmp = a[i];
        a[i++] = a[j];
        a[j--] = tmp;
      }
    } while (i <= j);
    if (j < k)
      l = i;
    if (k < i)
      m = j;
  }
  return a[k];
}

/* Stride so that at most max of n items are looked at. */
static size_t stride_for(size_t n, size_t max) { return n > max ? (n + max - 1) / max : 1; }

/* The mean step (t[n-1] - t[0]) / (n-1), rounded: exact for a jittered
 * schedule unless an end sample is an outlier. */
static uint64_t mean_step(const int64_t *t, size_t n)
{
  int64_t num = (int64_t)((uint64_t)t[n - 1] - (uint64_t)t[0]), den = (int64_t)n - 1;
  int64_t q = num / den, r = num % den;
  if (2 * (r < 0 ? -r : r) >= den)
    q += r < 0 ? -1 : 1;
  return (uint64_t)q;
}

/* The median step, over a strided sample of the deltas. */
static uint64_t median_step(const int64_t *t, size_t n, int64_t *tmp)
{
  size_t m = 0, stride = stride_for(n - 1, STEP_SAMPLES);
  for (size_t i = 0; i + 1 < n; i += stride)
    tmp[m++] = (int64_t)((uint64_t)t[i + 1] - (uint64_t)t[i]);
  return (uint64_t)select_kth(tmp, (long)m, (long)m / 2);
}

/* Grid residuals of t for step d into u; returns the origin o (the median of
 * t[i] - d*i over a strided sample). */
static uint64_t grid_plan(const int64_t *t, size_t n, uint64_t d, uint64_t *u, int64_t *tmp)
{
  size_t m = 0, stride = stride_for(n, ORIGIN_SAMPLES);
  for (size_t i = 0; i < n; i += stride)
    tmp[m++] = (int64_t)((uint64_t)t[i] - d * i);
  uint64_t o = (uint64_t)select_kth(tmp, (long)m, (long)m / 2);
  for (size_t i = 0; i < n; i++)
    u[i] = tsdb__zz((uint64_t)t[i] - o - d * i);
  return o;
}

static void dod_plan(const int64_t *t, size_t n, uint64_t *u)
{
  uint64_t prev = (uint64_t)t[1] - (uint64_t)t[0];
  for (size_t i = 2; i < n; i++) {
    uint64_t d = (uint64_t)t[i] - (uint64_t)t[i - 1];
    u[i - 2] = tsdb__zz(d - prev);
    prev = d;
  }
}

unsigned tsdb__ts_encode(tsdb__bw *w, const int64_t *t, size_t n, uint64_t *scratch)
{
  uint64_t d1 = n >= 2 ? (uint64_t)t[1] - (uint64_t)t[0] : 0;
  if (n < 3) {
    tsdb__bw_uvarint(w, tsdb__zz((uint64_t)t[0]));
    if (n == 2)
      tsdb__bw_uvarint(w, tsdb__zz(d1));
    return TSDB__TS_DOD;
  }
  uint64_t *dod = scratch, *grid = scratch + n;
  int64_t *tmp = (int64_t *)(scratch + 2 * n);
  dod_plan(t, n, dod);
  uint64_t cdod = tsdb__is_magnitude(dod, n - 2) +
                  8 * (tsdb__uvarint_len(tsdb__zz((uint64_t)t[0])) + tsdb__uvarint_len(tsdb__zz(d1)));
  /* The cheap mean step first; the median (robust to outliers at the ends)
   * only when that grid loses. */
  uint64_t step = mean_step(t, n), o = grid_plan(t, n, step, grid, tmp);
  uint64_t cgrid = tsdb__is_magnitude(grid, n) +
                   8 * (tsdb__uvarint_len(tsdb__zz(o)) + tsdb__uvarint_len(tsdb__zz(step)));
  if (cgrid >= cdod) {
    uint64_t med = median_step(t, n, tmp);
    if (med != step) {
      step = med;
      o = grid_plan(t, n, step, grid, tmp);
      cgrid = tsdb__is_magnitude(grid, n) +
              8 * (tsdb__uvarint_len(tsdb__zz(o)) + tsdb__uvarint_len(tsdb__zz(step)));
    }
  }
  if (cgrid < cdod) {
    tsdb__is_plan pg = tsdb__is_plan_for(grid, n);
    tsdb__bw_uvarint(w, tsdb__zz(o));
    tsdb__bw_uvarint(w, tsdb__zz(step));
    tsdb__is_write(w, grid, n, &pg);
    return TSDB__TS_GRID;
  }
  tsdb__is_plan pd = tsdb__is_plan_for(dod, n - 2);
  tsdb__bw_uvarint(w, tsdb__zz((uint64_t)t[0]));
  tsdb__bw_uvarint(w, tsdb__zz(d1));
  tsdb__is_write(w, dod, n - 2, &pd);
  return TSDB__TS_DOD;
}

void tsdb__ts_decode(tsdb__br *r, unsigned scheme, int64_t *t, size_t n)
{
  uint64_t a = tsdb__unzz(tsdb__br_uvarint(r)), b = n >= 2 ? tsdb__unzz(tsdb__br_uvarint(r)) : 0;
  /* int64_t and uint64_t may alias: decode the residuals in place. */
  uint64_t *u = (uint64_t *)t;
  if (scheme == TSDB__TS_GRID) {
    if (n < 3) {
      tsdb__br_fail(r);
      return;
    }
    tsdb__is_decode(r, u, n);
    for (size_t i = 0; i < n; i++)
      u[i] = a + b * i + tsdb__unzz(u[i]);
    return;
  }
  u[0] = a;
  if (n >= 2)
    u[1] = a + b;
  if (n < 3)
    return;
  tsdb__is_decode(r, u + 2, n - 2);
  uint64_t cur = a + b, d = b;
  for (size_t i = 2; i < n; i++) {
    d += tsdb__unzz(u[i]);
    cur += d;
    u[i] = cur;
  }
}
