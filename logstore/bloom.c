/* bloom.c — the skip index: which tokens and substrings a block may contain.
 *
 * Sealing collects the distinct items of a block (short tokens whole, the
 * winnowed 8-grams of long tokens: the lean index of FORMAT.md) into a hash
 * set, then sizes a bloom filter at 6 bits per item (a line met before in
 * the block and a short token met just before are skipped before any
 * hashing: they add nothing new);
 * beside it, every byte trigram of every line sets one bit of a fixed
 * 32 Kibit map. Queries turn each literal they require into probes that are
 * sound for substring semantics: a token probe is only made for a piece of
 * the literal whose token boundaries the literal itself proves, a gram probe
 * for a window the literal holds whole, a trigram for each three bytes of
 * it; so the index never excludes a block holding a match, and a literal
 * that is no whole token (a bare id, `error` inside a word) still skips.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "lib/lk_regex.h"
#include "logstore/logstore_int.h"

#define BITS_PER_ITEM 6
#define BLOOM_K 4
#define SEED_FULL 0x11u
#define SEED_PRE 0x22u
#define SEED_SUF 0x33u
#define SEED_GRAM 0x44u
#define GRAM 8           /* winnowed grams: GRAM bytes, the least hash of every */
#define GRAM_WINDOW 6    /* GRAM_WINDOW consecutive ones: runs of >= 13 bytes */
#define GRAM_MIN_RUN (GRAM + GRAM_WINDOW - 1)

#define RECENT 1024 /* direct-mapped cache of recently added items */
#define RECENT_SHORT_LOG2 12 /* ... and of short tokens, by their bytes */
#define SEEN_LINES 4096 /* direct-mapped cache of lines already added whole */

/* A line added before, by its hash; its bytes are the caller's (borrowed
 * until the set is freed) and compared whole, so a hit is exact. */
typedef struct seen_line {
  uint64_t h;
  const char *p;
  size_t n;
} seen_line;

struct ls_tokset {
  uint64_t *h; /* open addressing; 0 = empty (a zero hash is stored as 1) */
  size_t n, cap;
  uint64_t recent[RECENT]; /* skips the set (a cache miss) for repeated words */
  uint64_t recent_short[1u << RECENT_SHORT_LOG2][2]; /* skips hashing a repeated short token */
  uint8_t tri[1u << LS_TRI_LOG2]; /* the block's trigram map, a byte per bit: plain stores */
  uint32_t *bnd;                  /* token boundaries of the line being added */
  size_t bcap;
  seen_line seen[SEEN_LINES];     /* a line seen again adds nothing: skipped */
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
  free(t->bnd);
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

static void set_insert(ls_tokset *t, uint64_t h)
{
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

/* Inline: most calls are a word seen just before, answered by `recent`. */
static inline void set_put(ls_tokset *t, uint64_t h)
{
  h |= !h;
  uint64_t *r = &t->recent[h & (RECENT - 1)];
  if (*r == h)
    return;
  *r = h;
  set_insert(t, h);
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

/* The least gram hash of each window of GRAM_WINDOW consecutive grams in
 * run [p, p+n), n >= GRAM_MIN_RUN, to fn. Indexing and probing use the same
 * windows, so a run of a literal lying inside a token of a line selects, in
 * each of its windows, a gram the line's token selected too. */
static void winnow(const char *p, size_t n, void (*fn)(void *ctx, uint64_t h), void *ctx)
{
  uint64_t g[GRAM_WINDOW];
  size_t ng = n - GRAM + 1;
  uint64_t last = 0;
  for (size_t j = 0; j < ng; j++) {
    g[j % GRAM_WINDOW] = item(p + j, GRAM, SEED_GRAM);
    if (j + 1 < GRAM_WINDOW)
      continue;
    uint64_t m = g[0];
    for (size_t k = 1; k < GRAM_WINDOW; k++)
      m = g[k] < m ? g[k] : m;
    if (j + 1 == GRAM_WINDOW || m != last)
      fn(ctx, m);
    last = m;
  }
}

static void put_item(void *ctx, uint64_t h) { set_put(ctx, h); }

/* A short token's item in a lean index (FORMAT.md): its bytes zero-padded
 * to two little-endian words a, b; mix((a ^ n * G) * K + b * K2). */
static inline uint64_t short_item(uint64_t a, uint64_t b, size_t n)
{
  return mix((a ^ n * 0x9e3779b97f4a7c15ULL) * 0x87c37b91114253d5ULL + b * 0xc2b2ae3d27d4eb4fULL);
}

/* The n < GRAM_MIN_RUN bytes at p zero-padded to two little-endian words,
 * where p has `room` bytes up to the end of its line: read as two words
 * when 16 fit, else copied. */
static inline void short_words(const char *p, size_t n, size_t room, uint64_t *a, uint64_t *b)
{
  if (room < 16) {
    uint8_t w[16] = {0};
    memcpy(w, p, n);
    *a = lk_le64_load(w);
    *b = lk_le64_load(w + 8);
    return;
  }
  *a = lk_le64_load(p) & (n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1);
  *b = lk_le64_load(p + 8) & (n >= 8 ? (1ULL << (8 * (n - 8))) - 1 : 0);
}

static inline uint64_t short_item_at(const char *p, size_t n, size_t room)
{
  uint64_t a, b;
  short_words(p, n, room, &a, &b);
  return short_item(a, b, n);
}

/* A lean index (FORMAT.md LS_IDX_LEAN): a short token is one item, a long
 * one its winnowed grams only (they stand for it whole, too). A short token
 * met just before (same padded words: a token holds no zero byte, so they
 * give its length too) is skipped before its item is hashed. */
static void add_token(ls_tokset *t, const char *p, size_t n, size_t room)
{
  if (n >= GRAM_MIN_RUN) {
    winnow(p, n, put_item, t);
    return;
  }
  uint64_t a, b;
  short_words(p, n, room, &a, &b);
  uint64_t *slot = t->recent_short[((a ^ b * 0xc2b2ae3d27d4eb4fULL) * 0x9e3779b97f4a7c15ULL) >> (64 - RECENT_SHORT_LOG2)];
  if (slot[0] == a && slot[1] == b)
    return;
  slot[0] = a;
  slot[1] = b;
  uint64_t h = short_item(a, b, n);
  set_insert(t, h | !h);
}

/* Trigram (a, b, c) to its bit in the map (FORMAT.md). */
static inline uint32_t tri_bit(unsigned char a, unsigned char b, unsigned char c)
{
  uint32_t v = (uint32_t)a | (uint32_t)b << 8 | (uint32_t)c << 16;
  return (v * 0x9e3779b1u) >> (32 - LS_TRI_LOG2);
}

void logstore__tokset_trigrams(const ls_tokset *t, uint64_t *out)
{
  memset(out, 0, LS_TRI_WORDS * sizeof *out);
  for (uint32_t i = 0; i < sizeof t->tri; i++)
    out[i / 64] |= (uint64_t)t->tri[i] << (i % 64);
}

/* True when the same bytes were added as a line before (they set every
 * item and trigram already); otherwise remembers them. Logs repeat whole
 * lines often (a third of the bench corpus' bytes, inside a block), and a
 * line hash costs a few cycles per 16 bytes against the index's ~10 per byte. */
static bool line_seen(ls_tokset *t, const char *p, size_t n)
{
  uint64_t h = lk_hash64(p, n, 0);
  seen_line *e = &t->seen[h & (SEEN_LINES - 1)];
  if (e->h == h && e->n == n && e->p && !memcmp(e->p, p, n))
    return true;
  *e = (seen_line){.h = h, .p = p, .n = n};
  return false;
}

/* Every 3 consecutive bytes of the line set their byte of the trigram map;
 * 8 bytes are loaded at once and give 6 trigrams, so no value is carried
 * from byte to byte. */
static void add_trigrams(ls_tokset *t, const unsigned char *u, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 6) {
    uint64_t w = lk_le64_load(u + i);
    for (unsigned k = 0; k < 6; k++)
      t->tri[((uint32_t)(w >> (8 * k) & 0xffffff) * 0x9e3779b1u) >> (32 - LS_TRI_LOG2)] = 1;
  }
  for (; i + 3 <= n; i++)
    t->tri[tri_bit(u[i], u[i + 1], u[i + 2])] = 1;
}

/* Bit i set when byte i of the 16 at u is a token byte ([A-Za-z0-9]):
 * unsigned range checks as signed compares after flipping the top bit. */
#ifdef __SSE2__
static inline uint32_t token_mask16(const unsigned char *u)
{
  __m128i x = _mm_loadu_si128((const __m128i *)u), top = _mm_set1_epi8((char)0x80);
  __m128i digit = _mm_xor_si128(_mm_sub_epi8(x, _mm_set1_epi8('0')), top);
  __m128i alpha = _mm_xor_si128(_mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')), top);
  __m128i m = _mm_or_si128(_mm_cmplt_epi8(digit, _mm_set1_epi8((char)(10 ^ 0x80))),
                           _mm_cmplt_epi8(alpha, _mm_set1_epi8((char)(26 ^ 0x80))));
  return (uint32_t)_mm_movemask_epi8(m);
}
#endif

/* The position of every change between token and other bytes of the line
 * into bnd (n + 1 at most), then n when the line ends inside a token; so
 * token k is [bnd[2k], bnd[2k + 1]). Returns the count. 16 bytes at a time
 * where SSE2 is there (every x86-64), then byte by byte without a branch:
 * the count moves on only at a change. */
static size_t token_bounds(const unsigned char *u, size_t n, uint32_t *bnd)
{
  size_t nb = 0, i = 0;
  unsigned prev = 0;
#ifdef __SSE2__
  for (; i + 16 <= n; i += 16) {
    uint32_t m = token_mask16(u + i);
    uint32_t change = (m ^ (m << 1 | prev)) & 0xffff;
    prev = m >> 15;
    for (; change; change &= change - 1)
      bnd[nb++] = (uint32_t)(i + (size_t)__builtin_ctz(change));
  }
#endif
  for (; i < n; i++) {
    unsigned c = tokch(u[i]);
    bnd[nb] = (uint32_t)i;
    nb += c ^ prev;
    prev = c;
  }
  bnd[nb] = (uint32_t)n;
  return nb + prev;
}

/* A line seen before adds nothing; otherwise its trigrams, then each of its
 * tokens. */
void logstore__tokset_add_line(ls_tokset *t, const char *p, size_t n)
{
  if (line_seen(t, p, n))
    return;
  const unsigned char *u = (const unsigned char *)p;
  add_trigrams(t, u, n);
  t->bnd = lk_xgrow(t->bnd, &t->bcap, n + 2, sizeof *t->bnd);
  size_t nb = token_bounds(u, n, t->bnd);
  uint32_t *bnd = t->bnd;
  for (size_t k = 0; k < nb; k += 2)
    add_token(t, p + bnd[k], bnd[k + 1] - bnd[k], n - bnd[k]);
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

static bool bloom_has_all(const ls_block *b, const uint64_t *h, size_t n)
{
  uint64_t nbits = (uint64_t)b->bloom_words * 64, idx[16];
  uint8_t k = b->bloom_k > 16 ? 16 : b->bloom_k;
  for (size_t i = 0; i < n; i++) {
    probe_bits(h[i] | !h[i], nbits, k, idx);
    for (uint8_t j = 0; j < k; j++)
      if (!(b->bloom[idx[j] / 64] >> (idx[j] % 64) & 1))
        return false;
  }
  return true;
}

bool logstore__bloom_may_contain(const ls_block *b, const ls_probes *p)
{
  if (b->lean ? !bloom_has_all(b, p->h, p->n) : !bloom_has_all(b, p->old, p->nold))
    return false;
  if (b->grams && !bloom_has_all(b, p->gram, p->ngram))
    return false;
  if (b->tri)
    for (size_t i = 0; i < p->ntri; i++)
      if (!(b->tri[p->tri[i] / 64] >> (p->tri[i] % 64) & 1))
        return false;
  return true;
}

static void probe_add(ls_probes *p, uint64_t h)
{
  p->h = lk_xgrow(p->h, &p->cap, p->n + 1, sizeof *p->h);
  p->h[p->n++] = h;
}

/* An item of blocks written before the lean index (`probe_add`: of lean ones). */
static void probe_old(ls_probes *p, uint64_t h)
{
  p->old = lk_xgrow(p->old, &p->ocap, p->nold + 1, sizeof *p->old);
  p->old[p->nold++] = h;
}

static void probe_gram(void *ctx, uint64_t h)
{
  ls_probes *p = ctx;
  p->gram = lk_xgrow(p->gram, &p->gcap, p->ngram + 1, sizeof *p->gram);
  p->gram[p->ngram++] = h;
}

static void probe_trigrams(ls_probes *p, const char *lit, size_t n)
{
  const unsigned char *u = (const unsigned char *)lit;
  for (size_t i = 2; i < n; i++) {
    p->tri = lk_xgrow(p->tri, &p->tcap, p->ntri + 1, sizeof *p->tri);
    p->tri[p->ntri++] = tri_bit(u[i - 2], u[i - 1], u[i]);
  }
}

/* One run [s, e) of token bytes inside a literal of length n. */
static void probe_run(ls_probes *p, const char *lit, size_t s, size_t e, size_t n)
{
  bool left = s > 0, right = e < n; /* bounded by a non-token byte in the literal */
  size_t len = e - s, k = len >= 8 ? 8 : len >= 4 ? 4 : 0;
  if (left && right && len < GRAM_MIN_RUN)
    probe_add(p, short_item_at(lit + s, len, n - s));
  if (left && right)
    probe_old(p, item(lit + s, len, SEED_FULL));
  else if (right && k) /* the run ends a token of the line */
    probe_old(p, item(lit + e - k, k, SEED_SUF));
  else if (left && k) /* the run starts a token of the line */
    probe_old(p, item(lit + s, k, SEED_PRE));
  if (len >= GRAM_MIN_RUN) /* wherever it lies in a token, each window of it is one of the token's */
    winnow(lit + s, len, probe_gram, p);
}

void logstore__probes_from_literal(ls_probes *p, const char *lit, size_t n)
{
  probe_trigrams(p, lit, n);
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

bool logstore__probes_any(const ls_probes *p)
{
  return p->n || p->nold || p->ngram || p->ntri;
}

void logstore__probes_fini(ls_probes *p)
{
  free(p->h);
  free(p->old);
  free(p->gram);
  free(p->tri);
  memset(p, 0, sizeof *p);
}
