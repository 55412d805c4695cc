/* lk_endian.h — little-endian loads and stores of fixed-width integers
 * (and the big-endian load and store of the MSB-first bit streams).
 *
 * Every integer of every on-disk format (tsdb, log store, the agent's
 * queue) goes through these, so files are the same bytes on any host and
 * no host integer or struct is ever copied to or from disk as-is. The byte
 * shifts compile to one plain load/store on little-endian hosts. Pointers
 * need no alignment. Varints stay in lk_varint.h.
 */
#ifndef LK_ENDIAN_H
#define LK_ENDIAN_H

#include <stdint.h>

static inline uint16_t lk_le16_load(const void *p)
{
  const uint8_t *b = p;
  return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t lk_le32_load(const void *p)
{
  const uint8_t *b = p;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t lk_le64_load(const void *p)
{
  const uint8_t *b = p;
  return (uint64_t)lk_le32_load(b) | (uint64_t)lk_le32_load(b + 4) << 32;
}

/* Big-endian: MSB-first bit streams (tsdb chunks) refill 8 bytes at a time. */
static inline uint64_t lk_be64_load(const void *p)
{
  const uint8_t *b = p;
  return (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
         (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 | (uint64_t)b[6] << 8 | (uint64_t)b[7];
}

static inline void lk_le16_store(void *p, uint16_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
}

static inline void lk_le32_store(void *p, uint32_t v)
{
  uint8_t *b = p;
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
  b[2] = (uint8_t)(v >> 16);
  b[3] = (uint8_t)(v >> 24);
}

static inline void lk_le64_store(void *p, uint64_t v)
{
  uint8_t *b = p;
  lk_le32_store(b, (uint32_t)v);
  lk_le32_store(b + 4, (uint32_t)(v >> 32));
}

/* The MSB-first writer of the tsdb head's open chunks stores 8 bytes at a time. */
static inline void lk_be64_store(void *p, uint64_t v)
{
  uint8_t *b = p;
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(v >> (56 - 8 * i));
}

#endif
