/* lk_keycache.c — bounded concurrent byte-string → uint64 map.
 *
 * KC_SHARDS shards chosen by the top hash bits, each an open-addressing
 * table (linear probing, load ≤ 1/2) of {hash, value, key offset, key
 * length} with the keys packed in one growable buffer. A shard whose keys
 * and table would exceed max_bytes / KC_SHARDS is cleared before the insert:
 * no per-entry eviction bookkeeping on the hot path, and memory stays within
 * about twice the bound (the key buffer grows by doubling). Invariant:
 * every entry's key bytes live in its shard's buffer at [off, off + len).
 * Locks: one mutex per shard, never nested.
 */
#include "lib/lk_keycache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"

#define KC_SHARDS 64
#define KC_MIN_CAP 64

typedef struct kc_ent {
  uint64_t hash;
  uint64_t val;
  uint32_t off, len; /* len 0 = empty slot */
} kc_ent;

typedef struct kc_shard {
  pthread_mutex_t mu;
  kc_ent *tab;
  size_t cap, n;
  lk_buf keys;
} kc_shard;

struct lk_keycache {
  size_t shard_bytes;
  kc_shard shard[KC_SHARDS];
};

lk_keycache *lk_keycache_new(size_t max_bytes)
{
  lk_keycache *c = lk_xcalloc(1, sizeof *c);
  size_t per = max_bytes / KC_SHARDS;
  c->shard_bytes = per < 16384 ? 16384 : per;
  for (int i = 0; i < KC_SHARDS; i++)
    pthread_mutex_init(&c->shard[i].mu, NULL);
  return c;
}

void lk_keycache_free(lk_keycache *c)
{
  if (!c)
    return;
  for (int i = 0; i < KC_SHARDS; i++) {
    free(c->shard[i].tab);
    lk_buf_fini(&c->shard[i].keys);
    pthread_mutex_destroy(&c->shard[i].mu);
  }
  free(c);
}

static kc_shard *shard_of(lk_keycache *c, uint64_t hash)
{
  return &c->shard[hash >> 58]; /* 64 shards: the top 6 bits */
}

/* Slot holding key, or the empty slot where it would go. */
static kc_ent *slot(kc_shard *s, const void *key, size_t n, uint64_t hash)
{
  size_t mask = s->cap - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    kc_ent *e = &s->tab[i];
    if (!e->len || (e->hash == hash && e->len == n && !memcmp(s->keys.data + e->off, key, n)))
      return e;
  }
}

bool lk_keycache_get(lk_keycache *c, const void *key, size_t n, uint64_t hash, uint64_t *val)
{
  kc_shard *s = shard_of(c, hash);
  bool found = false;
  pthread_mutex_lock(&s->mu);
  if (s->n && n) {
    kc_ent *e = slot(s, key, n, hash);
    if (e->len) {
      *val = e->val;
      found = true;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return found;
}

size_t lk_keycache_get_many(lk_keycache *c, const lk_keycache_key *k, size_t n, uint64_t *vals,
                            bool *found)
{
  size_t start[KC_SHARDS + 1] = {0};
  for (size_t i = 0; i < n; i++)
    start[(k[i].hash >> 58) + 1]++;
  for (int j = 0; j < KC_SHARDS; j++)
    start[j + 1] += start[j];
  size_t *ord = lk_xmalloc((n ? n : 1) * sizeof *ord);
  for (size_t i = 0; i < n; i++)
    ord[start[k[i].hash >> 58]++] = i; /* afterwards start[j] = end of shard j */
  size_t hits = 0, i = 0;
  for (int j = 0; j < KC_SHARDS; j++) {
    if (i == start[j])
      continue;
    kc_shard *s = &c->shard[j];
    pthread_mutex_lock(&s->mu);
    for (; i < start[j]; i++) {
      const lk_keycache_key *q = &k[ord[i]];
      kc_ent *e = s->n && q->len ? slot(s, q->key, q->len, q->hash) : NULL;
      found[ord[i]] = e && e->len;
      if (found[ord[i]]) {
        vals[ord[i]] = e->val;
        hits++;
      }
    }
    pthread_mutex_unlock(&s->mu);
  }
  free(ord);
  return hits;
}

static void shard_clear(kc_shard *s)
{
  free(s->tab);
  s->tab = NULL;
  s->cap = s->n = 0;
  lk_buf_fini(&s->keys);
}

static void shard_grow(kc_shard *s)
{
  size_t ncap = s->cap ? s->cap * 2 : KC_MIN_CAP;
  kc_ent *old = s->tab;
  size_t ocap = s->cap;
  s->tab = lk_xcalloc(ncap, sizeof *s->tab);
  s->cap = ncap;
  for (size_t i = 0; i < ocap; i++) {
    if (!old[i].len)
      continue;
    size_t j = (size_t)old[i].hash & (ncap - 1);
    while (s->tab[j].len)
      j = (j + 1) & (ncap - 1);
    s->tab[j] = old[i];
  }
  free(old);
}

/* Would adding one n-byte key keep the shard within its bound? */
static bool fits(const lk_keycache *c, const kc_shard *s, size_t n)
{
  size_t cap = (s->n + 1) * 2 > s->cap ? (s->cap ? s->cap * 2 : KC_MIN_CAP) : s->cap;
  return s->keys.len + n + cap * sizeof(kc_ent) <= c->shard_bytes;
}

void lk_keycache_put(lk_keycache *c, const void *key, size_t n, uint64_t hash, uint64_t val)
{
  if (!n || n > c->shard_bytes / 4 || n > UINT32_MAX)
    return;
  kc_shard *s = shard_of(c, hash);
  pthread_mutex_lock(&s->mu);
  kc_ent *old = s->n ? slot(s, key, n, hash) : NULL;
  if (old && old->len) {
    old->val = val;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  if (!fits(c, s, n))
    shard_clear(s);
  if ((s->n + 1) * 2 > s->cap)
    shard_grow(s);
  kc_ent *e = slot(s, key, n, hash);
  *e = (kc_ent){hash, val, (uint32_t)s->keys.len, (uint32_t)n};
  lk_buf_append(&s->keys, key, n);
  s->n++;
  pthread_mutex_unlock(&s->mu);
}

size_t lk_keycache_count(lk_keycache *c)
{
  size_t n = 0;
  for (int i = 0; i < KC_SHARDS; i++) {
    pthread_mutex_lock(&c->shard[i].mu);
    n += c->shard[i].n;
    pthread_mutex_unlock(&c->shard[i].mu);
  }
  return n;
}
