/* kernels.h — float-array kernels shared by range functions and
 * aggregations (see kernels.c). n ≥ 1 for all but quantile. */
#ifndef PROMQL_KERNELS_H
#define PROMQL_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks a hot loop to be built twice on x86-64, for the baseline and for
 * AVX2, the one for the CPU picked at load time: four doubles per
 * instruction instead of two, and vector compares the compiler does not
 * emit for the baseline. Results stay bit-identical: C11 mode does not
 * contract into FMA, and AVX2 alone does not enable it. Not under
 * ThreadSanitizer: the clone's resolver runs while the dynamic loader
 * relocates, before the TSan runtime is set up, and its instrumented entry
 * crashes. gcc only: clang 14 neither exports the clones' dispatcher under
 * the function's name nor (with the attribute on the prototype) calls it
 * correctly from other files. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define PQ_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define PQ_AVX2_CLONE
#endif

/* One step of Prometheus's Kahan–Babuška summation: sum + inc, with the
 * lost low-order part added to *comp (reset when the sum is infinite).
 * Inline and written with selects, so loops over it vectorize. */
static inline double promql__kahan_inc(double inc, double sum, double *comp)
{
  double t = sum + inc;
  double lost = fabs(sum) >= fabs(inc) ? (sum - t) + inc : (inc - t) + sum;
  *comp = isinf(t) ? 0 : *comp + lost;
  return t;
}

/* sum[i], comp[i] += v[i] by promql__kahan_inc where ok[i], and
 * have[i] |= ok[i], for i < n: one member series added to a group's sums
 * at every step, without branches. */
void pq_k_kahan_steps(double *restrict sum, double *restrict comp, uint8_t *restrict have,
                      const double *restrict v, const uint8_t *restrict ok, size_t n);

double pq_k_sum(const double *v, size_t n);
double pq_k_avg(const double *v, size_t n);
double pq_k_min(const double *v, size_t n);
double pq_k_max(const double *v, size_t n);
double pq_k_stdvar(const double *v, size_t n);
/* Sorts v in place. */
double promql__quantile(double q, double *v, size_t n);

#endif
