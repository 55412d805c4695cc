/* lk_hash.h — a fast 64-bit hash for hash tables, CRC32 for on-disk
 * checksums (zlib's IEEE polynomial), and an append-only string interner. */
#ifndef LK_HASH_H
#define LK_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t lk_hash64(const void *p, size_t n, uint64_t seed);
static inline uint64_t lk_hash_mix(uint64_t h, uint64_t v)
{
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 31);
}
uint32_t lk_crc32(uint32_t crc, const void *p, size_t n); /* start with crc = 0 */

/* Interner: equal strings get the same pointer. Strings live until
 * lk_intern_free. Not thread-safe: the owner serialises access. */
typedef struct lk_intern lk_intern;
lk_intern *lk_intern_new(void);
void lk_intern_free(lk_intern *in); /* NULL is fine */
const char *lk_intern_str(lk_intern *in, const char *s, size_t n); /* copies */
size_t lk_intern_count(const lk_intern *in);
size_t lk_intern_bytes(const lk_intern *in);

#endif
