/* bench_rng.h — the xorshift64 generator the C benches draw their data
 * from. Deterministic for a seed, so a generated dataset (and a result hash
 * over it) is the same run after run; not for anything that needs quality. */
#ifndef BENCH_RNG_H
#define BENCH_RNG_H

#include <stdint.h>

typedef struct bench_rng {
  uint64_t s; /* never 0 */
} bench_rng;

static inline uint64_t bench_rnd(bench_rng *r)
{
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}

/* Uniform in [0, 1), from the top 53 bits. */
static inline double bench_unit(bench_rng *r) { return (double)(bench_rnd(r) >> 11) / 9007199254740992.0; }

#endif
