/* rand.h — the deterministic PRNG tests share (xorshift64*): the same
 * sequence on every run and machine, from a caller-held non-zero state. */
#ifndef LK_TEST_RAND_H
#define LK_TEST_RAND_H

#include <stdint.h>

static inline uint64_t test_rand(uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545f4914f6cdd1dull;
}

#endif
