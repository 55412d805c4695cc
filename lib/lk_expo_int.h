/* lk_expo_int.h — shared between the lk_expo*.c files (and lk_float.c) only. */
#ifndef LK_EXPO_INT_H
#define LK_EXPO_INT_H

#include <stdint.h>
#include <string.h>

/* Exposition keyword of an LK_EXPO_* type ("untyped" for unknown codes). */
const char *lk__expo_type_name(int type);

/* The 8 bytes at p as a decimal number, if all are ASCII digits (1, *out
 * set; p[0] the most significant); 0 otherwise. The caller guarantees the
 * 8 bytes are readable. One load and a few multiplies instead of a chain
 * of 8 dependent multiply-adds (timestamps have 13 digits, values ~10). */
static inline int lk__eight_digits(const char *p, uint64_t *out)
{
  uint64_t w;
  memcpy(&w, p, 8);
  if (((w & 0xf0f0f0f0f0f0f0f0ull) | (((w + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) >> 4)) !=
      0x3333333333333333ull)
    return 0; /* a byte outside '0'..'9' (only such bytes can carry into the next one) */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t d = w - 0x3030303030303030ull;               /* byte i = digit i */
  d = d * 10 + (d >> 8);                                 /* byte 2k = 2-digit pair k */
  d = ((d & 0x000000ff000000ffull) * (100 + (1000000ull << 32)) +
       ((d >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32))) >> 32;
  *out = d;
#else
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v * 10 + (uint64_t)(p[i] - '0');
  *out = v;
#endif
  return 1;
}

#endif
