/* bloom.c — the token skip index: which tokens a block may contain.
 *
 * Sealing collects the distinct items of a block (whole tokens plus 4- and
 * 8-byte prefixes and suffixes, see FORMAT.md) into a hash set, then sizes a
 * bloom filter at 10 bits per item. Queries turn each literal they require
 * into probes that are sound for substring semantics: a probe is only made
 * for a piece of the literal whose token boundaries the literal itself
 * proves, so the filter never excludes a block holding a match.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "lib/lk_regex.h"
#include "logstore/logstore_int.h"

#define BITS_PER_ITEM 10
#define BLOOM_K 7
#define SEED_FULL 0x11u
#define SEED_PRE 0x22u
#define SEED_SUF 0x33u

#define RECENT 1024 /* direct-mapped cache of recently added items */

struct ls_tokset {
  uint64_t *h; /* open addressing; 0 = empty (a zero hash is stored as 1) */
  size_t n, cap;
  uint64_t recent[RECENT]; /* skips the set (a cache miss) for repeated words */
};

#define T1(c) ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
#define T4(c) T1(c), T1(c + 1), T1(c + 2), T1(c + 3)
#define T16(c) T4(c), T4(c + 4), T4(c + 8), T4(c + 12)
static const bool tok_table[256] = {T16(0), T16(16), T16(32), T16(48), T16(64), T16(80),
                                    T16(96), T16(112)}; /* bytes >= 128: false */

static inline bool tokch(unsigned char c) { return tok_table[c]; }

ls_tokset *logstore__tokset_new(void)
{
  ls_tokset *t = lk_xcalloc(1, sizeof *t);
  t->cap = 1024;
  t->h = lk_xcalloc(t->cap, sizeof *t->h);
  return t;
}

void logstore__tokset_free(ls_tokset *t)
{
  if (!t)
    return;
  free(t->h);
  free(t);
}


static void set_grow(ls_tokset *t)
{
  uint64_t *old = t->h;
  size_t oc = t->cap, mask = oc * 2 - 1;
  t->cap *= 2;
  t->h = lk_xcalloc(t->cap, sizeof *t->h);
  for (size_t i = 0; i < oc; i++) {
    if (!old[i])
      continue;
    size_t j = old[i] & mask;
    while (t->h[j])
      j = (j + 1) & mask;
    t->h[j] = old[i];
  }
  free(old);
}

static void set_put(ls_tokset *t, uint64_t h)
{
  h |= !h;
  uint64_t *r = &t->recent[h & (RECENT - 1)];
  if (*r == h)
    return;
  *r = h;
  size_t mask = t->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (t->h[i] == h)
      return;
    if (!t->h[i]) {
      t->h[i] = h;
      if (++t->n * 2 > t->cap)
        set_grow(t);
      return;
    }
  }
}

static inline uint64_t mix(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

/* The item hash (FORMAT.md): 8-byte little-endian words, the last one
 * zero-padded, folded as h = mix(h ^ word) * K from h = seed ^ n * G. Inline:
 * it runs for every token of every sealed line. */
static inline uint64_t item(const char *p, size_t n, uint64_t seed)
{
  uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
  for (; n >= 8; p += 8, n -= 8)
    h = mix(h ^ lk_le64_load(p)) * 0x87c37b91114253d5ULL;
  uint8_t last[8] = {0};
  memcpy(last, p, n);
  return mix(h ^ lk_le64_load(last));
}

static void add_token(ls_tokset *t, const char *p, size_t n)
{
  set_put(t, item(p, n, SEED_FULL));
  if (n >= 4) {
    set_put(t, item(p, 4, SEED_PRE));
    set_put(t, item(p + n - 4, 4, SEED_SUF));
  }
  if (n >= 8) {
    set_put(t, item(p, 8, SEED_PRE));
    set_put(t, item(p + n - 8, 8, SEED_SUF));
  }
}

void logstore__tokset_add_line(ls_tokset *t, const char *p, size_t n)
{
  size_t i = 0;
  while (i < n) {
    while (i < n && !tokch((unsigned char)p[i]))
      i++;
    size_t s = i;
    while (i < n && tokch((unsigned char)p[i]))
      i++;
    if (i > s)
      add_token(t, p + s, i - s);
  }
}

static inline void probe_bits(uint64_t h, uint64_t nbits, uint8_t k, uint64_t *idx)
{
  uint64_t h1 = h, h2 = lk_hash_mix(h, 0x9e37) | 1;
  for (uint8_t i = 0; i < k; i++)
    idx[i] = (h1 + i * h2) % nbits;
}

uint64_t *logstore__bloom_build(const ls_tokset *t, uint32_t *out_words, uint8_t *out_k)
{
  uint64_t nbits = (uint64_t)t->n * BITS_PER_ITEM;
  uint32_t words = (uint32_t)((nbits + 63) / 64);
  if (words < 1)
    words = 1;
  nbits = (uint64_t)words * 64;
  uint64_t *bloom = lk_xcalloc(words, 8);
  uint64_t idx[BLOOM_K];
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->h[i])
      continue;
    probe_bits(t->h[i], nbits, BLOOM_K, idx);
    for (int j = 0; j < BLOOM_K; j++)
      bloom[idx[j] / 64] |= 1ull << (idx[j] % 64);
  }
  *out_words = words;
  *out_k = BLOOM_K;
  return bloom;
}

bool logstore__bloom_may_contain(const ls_block *b, const ls_probes *p)
{
  uint64_t nbits = (uint64_t)b->bloom_words * 64, idx[16];
  uint8_t k = b->bloom_k > 16 ? 16 : b->bloom_k;
  for (size_t i = 0; i < p->n; i++) {
    uint64_t h = p->h[i] | !p->h[i];
    probe_bits(h, nbits, k, idx);
    for (uint8_t j = 0; j < k; j++)
      if (!(b->bloom[idx[j] / 64] >> (idx[j] % 64) & 1))
        return false;
  }
  return true;
}

static void probe_add(ls_probes *p, uint64_t h)
{
  p->h = lk_xgrow(p->h, &p->cap, p->n + 1, sizeof *p->h);
  p->h[p->n++] = h;
}

/* One run [s, e) of token bytes inside a literal of length n. */
static void probe_run(ls_probes *p, const char *lit, size_t s, size_t e, size_t n)
{
  bool left = s > 0, right = e < n; /* bounded by a non-token byte in the literal */
  size_t len = e - s, k = len >= 8 ? 8 : len >= 4 ? 4 : 0;
  if (left && right)
    probe_add(p, item(lit + s, len, SEED_FULL));
  else if (right && k) /* the run ends a token of the line */
    probe_add(p, item(lit + e - k, k, SEED_SUF));
  else if (left && k) /* the run starts a token of the line */
    probe_add(p, item(lit + s, k, SEED_PRE));
}

void logstore__probes_from_literal(ls_probes *p, const char *lit, size_t n)
{
  size_t i = 0;
  while (i < n) {
    while (i < n && !tokch((unsigned char)lit[i]))
      i++;
    size_t s = i;
    while (i < n && tokch((unsigned char)lit[i]))
      i++;
    if (i > s)
      probe_run(p, lit, s, i, n);
  }
}

static void probe_literal(void *ctx, const char *p, size_t n)
{
  logstore__probes_from_literal(ctx, p, n);
}

void logstore__probes_from_regex(ls_probes *p, const char *re)
{
  lk_regex_literals(re, probe_literal, p);
}
