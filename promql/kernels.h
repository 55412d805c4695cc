/* kernels.h — float-array kernels shared by range functions and
 * aggregations (see kernels.c). n ≥ 1 for all but quantile. */
#ifndef PROMQL_KERNELS_H
#define PROMQL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

double promql__kahan_inc(double inc, double sum, double *comp);
double pq_k_sum(const double *v, size_t n);
double pq_k_avg(const double *v, size_t n);
double pq_k_min(const double *v, size_t n);
double pq_k_max(const double *v, size_t n);
double pq_k_stdvar(const double *v, size_t n);
/* Sorts v in place. */
double promql__quantile(double q, double *v, size_t n);

#endif
