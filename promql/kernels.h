/* kernels.h — float-array kernels shared by range functions and
 * aggregations (see kernels.c). n ≥ 1 for all but quantile. */
#ifndef PROMQL_KERNELS_H
#define PROMQL_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

/* One step of Prometheus's Kahan–Babuška summation: sum + inc, with the
 * lost low-order part added to *comp. Inline: sums run it per value. */
static inline double promql__kahan_inc(double inc, double sum, double *comp)
{
  double t = sum + inc;
  if (isinf(t))
    *comp = 0;
  else if (fabs(sum) >= fabs(inc))
    *comp += (sum - t) + inc;
  else
    *comp += (inc - t) + sum;
  return t;
}

double pq_k_sum(const double *v, size_t n);
double pq_k_avg(const double *v, size_t n);
double pq_k_min(const double *v, size_t n);
double pq_k_max(const double *v, size_t n);
double pq_k_stdvar(const double *v, size_t n);
/* Sorts v in place. */
double promql__quantile(double q, double *v, size_t n);

#endif
