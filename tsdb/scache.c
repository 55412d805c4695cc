/* scache.c — the sample cache: decoded chunks of immutable blocks, kept for
 * the next query.
 *
 * Decoding dominates a query over many samples (a chunk is a chain of Rice
 * codes: ~5 ns per value), and dashboards re-run the same queries every few
 * seconds over the same blocks. Blocks never change after they are written,
 * so a decoded chunk stays valid until its block is removed; the head is
 * always read fresh. An entry holds the chunks of one series in one block
 * (key: block seq, frame offset, first chunk offset), each slot filled the
 * first time a query needs that chunk, so a narrow query decodes only what
 * it reads. Memory is bounded: each shard evicts its least recently used
 * entries beyond its share of the budget.
 *
 * Locks: one mutex per shard (a leaf lock: nothing else is taken while
 * holding it). A reader pins the entry under the lock and copies the slots
 * it found outside it; a pinned entry is never evicted, and a filled slot is
 * never changed, so the copy needs no lock. Decoded chunks are installed
 * under the lock; if another reader filled the slot meanwhile, the later
 * copy is dropped.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_list.h"
#include "tsdb/chunk.h"
#include "tsdb/select_int.h"
#include "tsdb/tsdb_int.h"

#define NSHARD 16

typedef struct slot {
  int64_t *t;                /* n timestamps then n values in one allocation */
  uint32_t n;
} slot;

typedef struct entry {
  uint64_t seq, grp_off;
  uint32_t base;
  uint32_t nchunks;
  slot *slots;
  uint64_t bytes;
  uint32_t pins;
  struct entry *hnext;       /* hash chain */
  lk_lnode lru;              /* in shard.lru, most recent first */
} entry;

typedef struct shard {
  pthread_mutex_t mu;
  entry **buckets;
  size_t nbuckets, count;
  lk_list lru;
  uint64_t bytes;
} shard;

static entry *lru_entry(lk_lnode *n) { return lk_list_entry(n, entry, lru); }

struct tsdb__scache {
  uint64_t shard_budget;
  shard sh[NSHARD];
  _Atomic uint64_t hits, misses, bytes, evictions;
};

int tsdb__scache_new(uint64_t budget, tsdb__scache **out)
{
  tsdb__scache *c = lk_xcalloc(1, sizeof *c);
  c->shard_budget = budget / NSHARD;
  for (int i = 0; i < NSHARD; i++) {
    pthread_mutex_init(&c->sh[i].mu, NULL);
    c->sh[i].nbuckets = 64;
    c->sh[i].buckets = lk_xcalloc(c->sh[i].nbuckets, sizeof *c->sh[i].buckets);
  }
  *out = c;
  return 0;
}

static void entry_free(entry *e)
{
  for (uint32_t k = 0; k < e->nchunks; k++)
    free(e->slots[k].t);
  free(e->slots);
  free(e);
}

void tsdb__scache_free(tsdb__scache *c)
{
  if (!c)
    return;
  for (int i = 0; i < NSHARD; i++) {
    for (lk_lnode *n = c->sh[i].lru.head, *nx; n; n = nx) {
      nx = n->next;
      entry_free(lru_entry(n));
    }
    free(c->sh[i].buckets);
    pthread_mutex_destroy(&c->sh[i].mu);
  }
  free(c);
}

static uint64_t key_hash(uint64_t seq, uint64_t grp_off, uint32_t base)
{
  uint64_t k[3] = {seq, grp_off, base};
  return lk_hash64(k, sizeof k, 0);
}

static shard *shard_of(tsdb__scache *c, uint64_t h)
{
  return &c->sh[h % NSHARD];
}

static size_t bucket_of(const shard *s, uint64_t h)
{
  return (size_t)(h / NSHARD) & (s->nbuckets - 1);
}

/*---- Shard internals (shard lock held) ----*/

static void hash_unlink(shard *s, entry *e)
{
  entry **pp = &s->buckets[bucket_of(s, key_hash(e->seq, e->grp_off, e->base))];
  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
}

static void grow_buckets(shard *s)
{
  size_t nb = s->nbuckets * 2;
  entry **b = lk_xcalloc(nb, sizeof *b);
  size_t old = s->nbuckets;
  s->nbuckets = nb;
  for (size_t i = 0; i < old; i++)
    for (entry *e = s->buckets[i], *nx; e; e = nx) {
      nx = e->hnext;
      size_t j = bucket_of(s, key_hash(e->seq, e->grp_off, e->base));
      e->hnext = b[j];
      b[j] = e;
    }
  free(s->buckets);
  s->buckets = b;
}

static void remove_entry(tsdb__scache *c, shard *s, entry *e)
{
  hash_unlink(s, e);
  lk_list_unlink(&s->lru, &e->lru);
  s->count--;
  s->bytes -= e->bytes;
  atomic_fetch_sub(&c->bytes, e->bytes);
  entry_free(e);
}

/* Evict least recently used, unpinned entries while over the budget. */
static void evict(tsdb__scache *c, shard *s)
{
  lk_lnode *n = s->lru.tail;
  while (s->bytes > c->shard_budget && n) {
    lk_lnode *prev = n->prev;
    entry *e = lru_entry(n);
    if (!e->pins && e->bytes) {
      remove_entry(c, s, e);
      atomic_fetch_add(&c->evictions, 1);
    }
    n = prev;
  }
}

/* The entry of block series (seq, bs), created empty if absent; pinned and
 * moved to the front of the LRU list. */
static entry *entry_get(shard *s, uint64_t h, uint64_t seq, const tsdb__bseries *bs)
{
  for (entry *e = s->buckets[bucket_of(s, h)]; e; e = e->hnext)
    if (e->seq == seq && e->grp_off == bs->grp_off && e->base == bs->grp_base && e->nchunks == bs->nchunks) {
      lk_list_to_front(&s->lru, &e->lru);
      e->pins++;
      return e;
    }
  if (s->count + 1 > s->nbuckets)
    grow_buckets(s);
  entry *e = lk_xcalloc(1, sizeof *e);
  e->seq = seq;
  e->grp_off = bs->grp_off;
  e->base = bs->grp_base;
  e->nchunks = bs->nchunks;
  e->slots = lk_xcalloc(bs->nchunks ? bs->nchunks : 1, sizeof *e->slots);
  size_t j = bucket_of(s, h);
  e->hnext = s->buckets[j];
  s->buckets[j] = e;
  s->count++;
  lk_list_push_front(&s->lru, &e->lru);
  e->pins = 1;
  return e;
}

/*---- Reading ----*/

static bool chunk_overlaps(const tsdb__bchunk *ch, int64_t mint, int64_t maxt)
{
  return ch->maxt >= mint && ch->mint <= maxt;
}

/* Copy the samples of one decoded chunk in [mint, maxt] to t/v. */
static size_t copy_range(const slot *sl, const tsdb__bchunk *ch, int64_t mint, int64_t maxt, int64_t *t,
                         double *v)
{
  const int64_t *st = sl->t;
  const double *sv = (const double *)(const void *)(sl->t + sl->n);
  if (ch->mint >= mint && ch->maxt <= maxt) {
    memcpy(t, st, sl->n * sizeof *t);
    memcpy(v, sv, sl->n * sizeof *v);
    return sl->n;
  }
  size_t w = 0;
  for (uint32_t i = 0; i < sl->n; i++) {
    t[w] = st[i];
    v[w] = sv[i];
    w += st[i] >= mint && st[i] <= maxt;
  }
  return w;
}

/* Decode chunk k of s from its block into a new slot. */
static int decode_slot(const tsdb__block *b, const tsdb__bseries *s, uint32_t k, tsdb__fcache *fc, slot *out)
{
  const uint8_t *raw;
  int rc = tsdb__block_frame(b, s, fc, &raw);
  if (rc)
    return rc;
  const tsdb__bchunk *ch = &s->chunks[k];
  const uint8_t *p = raw + ch->raw_off;
  int64_t n = tsdb__chunk_count(p, ch->len);
  if (n < 1 || (uint64_t)n != ch->n)
    return LK_ECORRUPT;
  int64_t *t = lk_xmalloc((size_t)n * (sizeof(int64_t) + sizeof(double)));
  if (tsdb__chunk_decode_memo(p, ch->len, t, (double *)(void *)(t + n), &fc->memo) != n) {
    free(t);
    return LK_ECORRUPT;
  }
  *out = (slot){t, (uint32_t)n};
  return 0;
}

/* Install freshly decoded slots (NULL where none), unpin, evict. */
static void install(tsdb__scache *c, shard *s, entry *e, slot *fresh)
{
  pthread_mutex_lock(&s->mu);
  uint64_t added = 0;
  for (uint32_t k = 0; k < e->nchunks; k++) {
    if (!fresh[k].t)
      continue;
    if (e->slots[k].t) {
      free(fresh[k].t);
      continue;
    }
    e->slots[k] = fresh[k];
    added += (uint64_t)fresh[k].n * (sizeof(int64_t) + sizeof(double));
  }
  e->bytes += added;
  s->bytes += added;
  atomic_fetch_add(&c->bytes, added);
  e->pins--;
  evict(c, s);
  pthread_mutex_unlock(&s->mu);
}

int tsdb__scache_read(tsdb__scache *c, const tsdb__block *b, const tsdb__bseries *bs, int64_t mint,
                      int64_t maxt, tsdb__fcache *fc, int64_t *t, double *v, size_t cap, size_t *n)
{
  uint64_t h = key_hash(b->seq, bs->grp_off, bs->grp_base);
  shard *s = shard_of(c, h);
  pthread_mutex_lock(&s->mu);
  entry *e = entry_get(s, h, b->seq, bs);
  /* snapshot the filled slots: they stay while the entry is pinned */
  slot *have = lk_xcalloc(bs->nchunks ? bs->nchunks : 1, 2 * sizeof *have);
  slot *fresh = have + bs->nchunks;
  memcpy(have, e->slots, bs->nchunks * sizeof *have);
  pthread_mutex_unlock(&s->mu);
  size_t w = 0;
  uint64_t hit = 0, miss = 0;
  int rc = 0;
  for (uint32_t k = 0; k < bs->nchunks && !rc; k++) {
    const tsdb__bchunk *ch = &bs->chunks[k];
    if (!chunk_overlaps(ch, mint, maxt))
      continue;
    const slot *sl = &have[k];
    if (!sl->t) {
      rc = decode_slot(b, bs, k, fc, &fresh[k]);
      sl = &fresh[k];
      miss++;
    } else {
      hit++;
    }
    if (!rc && sl->n > cap - w)
      rc = LK_ECORRUPT;
    if (!rc)
      w += copy_range(sl, ch, mint, maxt, t + w, v + w);
  }
  install(c, s, e, fresh);
  free(have);
  atomic_fetch_add(&c->hits, hit);
  atomic_fetch_add(&c->misses, miss);
  if (!rc)
    *n = w;
  return rc;
}

void tsdb__scache_drop_block(tsdb__scache *c, uint64_t seq)
{
  if (!c)
    return;
  for (int i = 0; i < NSHARD; i++) {
    shard *s = &c->sh[i];
    pthread_mutex_lock(&s->mu);
    for (lk_lnode *n = s->lru.head, *nx; n; n = nx) {
      nx = n->next;
      entry *e = lru_entry(n);
      if (e->seq == seq && !e->pins)
        remove_entry(c, s, e);
    }
    pthread_mutex_unlock(&s->mu);
  }
}

void tsdb__scache_stats_get(tsdb__scache *c, tsdb__scache_stat *out)
{
  *out = (tsdb__scache_stat){0};
  if (!c)
    return;
  out->hits = atomic_load(&c->hits);
  out->misses = atomic_load(&c->misses);
  out->bytes = atomic_load(&c->bytes);
  out->evictions = atomic_load(&c->evictions);
}
