/* lk_hash.c — 64-bit hashing, CRC32, and an open-addressing string
 * interner.
 *
 * lk_hash64 folds 16 input bytes per round with one 64×64→128-bit multiply
 * (the high and low halves xored), so long keys such as the raw label bytes
 * of a remote_write series cost a few cycles per 16 bytes; a final fold of
 * the length mixes every input bit into both ends of the result (tables use
 * the low bits for slots and the high bits for shards). Values live only in
 * memory: nothing on disk depends on them. Not for adversarial hash flooding
 * (all tables compare keys exactly, so collisions cost time, not results).
 *
 * CRC32 is zlib's (the gzip polynomial, reflected: every checksum on disk
 * is one), computed by ISA-L's carry-less-multiply code: every block frame
 * a cold query reads is checked, and zlib's table-driven loop ran at about
 * 1.6 GB/s there, ISA-L's at 20-40 GB/s, with the same values.
 */
#include "lib/lk_hash.h"

#include <stdlib.h>
#include <string.h>
#include <isa-l/crc.h>

#include "lib/lk_alloc.h"

__extension__ typedef unsigned __int128 u128;

#define K0 0xa0761d6478bd642fULL
#define K1 0xe7037ed1a0b428dbULL
#define K2 0x8ebc6af09c88c6e3ULL
#define K3 0x589965cc75374cc3ULL

static inline uint64_t rd64(const uint8_t *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline uint64_t fold(uint64_t a, uint64_t b)
{
  u128 r = (u128)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t lk_hash64(const void *data, size_t n, uint64_t seed)
{
  const uint8_t *p = data;
  uint64_t h = fold(seed ^ K0, n ^ K1);
  size_t left = n;
  while (left > 16) {
    h = fold(rd64(p) ^ K1 ^ h, rd64(p + 8) ^ K2);
    p += 16;
    left -= 16;
  }
  uint8_t tail[16] = {0};
  memcpy(tail, p, left);
  h = fold(rd64(tail) ^ K1 ^ h, rd64(tail + 8) ^ K2);
  return fold(h ^ K3, (uint64_t)n ^ K0);
}

uint32_t lk_crc32(uint32_t crc, const void *p, size_t n)
{
  return crc32_gzip_refl(crc, p, n);
}

/*---- Interner ----*/

struct lk_intern {
  char **slots;
  uint64_t *hashes;
  size_t cap, count, bytes;
  lk_arena *strings;
};

lk_intern *lk_intern_new(void)
{
  lk_intern *in = lk_xcalloc(1, sizeof *in);
  in->cap = 1024;
  in->slots = lk_xcalloc(in->cap, sizeof *in->slots);
  in->hashes = lk_xcalloc(in->cap, sizeof *in->hashes);
  in->strings = lk_arena_new(64 * 1024);
  return in;
}

void lk_intern_free(lk_intern *in)
{
  if (!in)
    return;
  free(in->slots);
  free(in->hashes);
  lk_arena_free(in->strings);
  free(in);
}

static void intern_grow(lk_intern *in)
{
  size_t ncap = in->cap * 2;
  char **ns = lk_xcalloc(ncap, sizeof *ns);
  uint64_t *nh = lk_xcalloc(ncap, sizeof *nh);
  for (size_t i = 0; i < in->cap; i++) {
    if (!in->slots[i])
      continue;
    size_t j = in->hashes[i] & (ncap - 1);
    while (ns[j])
      j = (j + 1) & (ncap - 1);
    ns[j] = in->slots[i];
    nh[j] = in->hashes[i];
  }
  free(in->slots);
  free(in->hashes);
  in->slots = ns;
  in->hashes = nh;
  in->cap = ncap;
}

const char *lk_intern_str(lk_intern *in, const char *s, size_t n)
{
  if (in->count * 2 >= in->cap)
    intern_grow(in);
  uint64_t h = lk_hash64(s, n, 0);
  size_t j = h & (in->cap - 1);
  for (; in->slots[j]; j = (j + 1) & (in->cap - 1))
    if (in->hashes[j] == h && !strncmp(in->slots[j], s, n) && in->slots[j][n] == 0)
      return in->slots[j];
  in->slots[j] = lk_arena_strndup(in->strings, s, n);
  in->hashes[j] = h;
  in->count++;
  in->bytes += n + 1;
  return in->slots[j];
}

size_t lk_intern_count(const lk_intern *in) { return in->count; }
size_t lk_intern_bytes(const lk_intern *in) { return in->bytes; }
