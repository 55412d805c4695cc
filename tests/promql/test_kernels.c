/* test_kernels.c — the branch-free, vectorized loop pq_k_kahan_steps (the
 * sum aggregation's inner loop, built for AVX2 too) against
 * promql__kahan_inc applied one step at a time where a member has a point:
 * bit-identical sums and compensations over members with infinities, NaNs,
 * signed zeros, denormals and magnitudes far apart, with steps missing at
 * random. (The step itself is Prometheus's; the conformance scripts check
 * it.) A NaN may differ in sign (the order of operands decides which NaN
 * an x86 operation passes on); a NaN sum is answered as NaN whatever its
 * bits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "promql/kernels.h"
#include "tests/lib/rand.h"

#define NSTEPS 1031 /* not a multiple of the vector width */
#define NMEMBERS 40

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static double value(void)
{
  switch (test_rand(&rng) % 16) {
  case 0: return INFINITY;
  case 1: return -INFINITY;
  case 2: return NAN;
  case 3: return -0.0;
  case 4: return DBL_MIN / 8; /* denormal */
  case 5: return 1e300;
  case 6: return -1e300;
  case 7: return 1e-300;
  default: return ((double)(test_rand(&rng) % 2000000) - 1e6) / 1e3 * pow(10, (double)(test_rand(&rng) % 24) - 12);
  }
}

/* The same double, bit for bit; any two NaNs count as the same. */
static bool same(double a, double b)
{
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  return !memcmp(&a, &b, sizeof a);
}

static void test_kahan_steps_match_scalar(void **state)
{
  (void)state;
  static double sum[NSTEPS], comp[NSTEPS], rsum[NSTEPS], rcomp[NSTEPS], v[NSTEPS];
  static uint8_t have[NSTEPS], rhave[NSTEPS], ok[NSTEPS];
  for (int round = 0; round < 20; round++) {
    memset(sum, 0, sizeof sum);
    memset(comp, 0, sizeof comp);
    memset(rsum, 0, sizeof rsum);
    memset(rcomp, 0, sizeof rcomp);
    memset(have, 0, sizeof have);
    memset(rhave, 0, sizeof rhave);
    /* some rounds without specials, so sums stay finite and compensate */
    bool specials = round % 2;
    for (int m = 0; m < NMEMBERS; m++) {
      for (size_t i = 0; i < NSTEPS; i++) {
        double x = value();
        v[i] = specials || isfinite(x) ? x : 1.5;
        ok[i] = test_rand(&rng) % 5 != 0;
      }
      pq_k_kahan_steps(sum, comp, have, v, ok, NSTEPS);
      for (size_t i = 0; i < NSTEPS; i++)
        if (ok[i]) {
          rsum[i] = promql__kahan_inc(v[i], rsum[i], &rcomp[i]);
          rhave[i] = 1;
        }
    }
    for (size_t i = 0; i < NSTEPS; i++) {
      if (!same(sum[i], rsum[i]) || !same(comp[i], rcomp[i]) || have[i] != rhave[i])
        fail_msg("round %d step %zu: sum %a comp %a have %d, want %a %a %d", round, i, sum[i], comp[i],
                 have[i], rsum[i], rcomp[i], rhave[i]);
    }
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kahan_steps_match_scalar),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
