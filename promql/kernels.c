/* kernels.c — numeric kernels over an array of floats, shared by the
 * *_over_time functions and the aggregation operators: Kahan-compensated
 * sum, overflow-safe mean, Welford variance with compensation, min/max with
 * Prometheus's NaN rules, and the interpolating quantile. */
#include <math.h>
#include <stdlib.h>

#include "promql/kernels.h"

PQ_AVX2_CLONE void pq_k_kahan_steps(double *restrict sum, double *restrict comp,
                                   uint8_t *restrict have, const double *restrict v,
                                   const uint8_t *restrict ok, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    double c = comp[i], t = promql__kahan_inc(v[i], sum[i], &c);
    sum[i] = ok[i] ? t : sum[i];
    comp[i] = ok[i] ? c : comp[i];
    have[i] |= ok[i];
  }
}

double pq_k_sum(const double *v, size_t n)
{
  double s = 0, c = 0;
  for (size_t i = 0; i < n; i++)
    s = promql__kahan_inc(v[i], s, &c);
  return s + c;
}

double pq_k_avg(const double *v, size_t n)
{
  double sum = 0, mean = 0, c = 0, count = 0;
  bool incremental = false;
  for (size_t i = 0; i < n; i++) {
    count++;
    if (!incremental) {
      double nc = c, ns = promql__kahan_inc(v[i], sum, &nc);
      if (count == 1 || !isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    double q = (count - 1) / count, qc = q * c;
    mean = promql__kahan_inc(v[i] / count, q * mean, &qc);
    c = qc;
  }
  if (incremental)
    return mean + c;
  return sum / count + c / count;
}

double pq_k_min(const double *v, size_t n)
{
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    if (v[i] < m || isnan(m))
      m = v[i];
  return m;
}

double pq_k_max(const double *v, size_t n)
{
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    if (v[i] > m || isnan(m))
      m = v[i];
  return m;
}

double pq_k_stdvar(const double *v, size_t n)
{
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (size_t i = 0; i < n; i++) {
    count++;
    double delta = v[i] - (mean + cmean);
    mean = promql__kahan_inc(delta / count, mean, &cmean);
    aux = promql__kahan_inc(delta * (v[i] - (mean + cmean)), aux, &caux);
  }
  return (aux + caux) / count;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x))
    return isnan(y) ? 0 : -1;
  if (isnan(y))
    return 1;
  return x < y ? -1 : x > y;
}

double promql__quantile(double q, double *v, size_t n)
{
  if (!n || isnan(q))
    return NAN;
  if (q < 0)
    return -INFINITY;
  if (q > 1)
    return INFINITY;
  qsort(v, n, sizeof *v, cmp_double);
  double rank = q * (double)(n - 1);
  double lo = floor(rank);
  size_t li = lo < 0 ? 0 : (size_t)lo;
  size_t ui = li + 1 < n ? li + 1 : n - 1;
  double w = rank - lo;
  return v[li] * (1 - w) + v[ui] * w;
}
