/* series_cache.c — a sink's memory of the series it saw last cycle (see
 * collector.h, "series cache"), as Prometheus's scrape cache: label set →
 * the sink's value (a tsdb ref) and bytes (remote_write label fields).
 *
 * Keys are the label strings back to back ("name\0value\0" per label, in
 * the order given), compared byte for byte, so a hit is exact. The
 * collector emits the same series in the same order every cycle, so each
 * entry remembers the entry that followed it last call (`next`): series i
 * is first compared with the successor of series i-1's entry, and only a
 * series that is not where it was (a new container, a vanished one) is
 * hashed and looked up in the table.
 *
 * Memory follows the live series: when the entries outgrow twice the
 * series of the last calls (or the pool holds more dropped bytes than
 * live ones), everything not seen in the last KEEP_CALLS calls is dropped
 * and the pool compacted. The pool is a list of POOL_BLOCK blocks, never
 * reallocated: growing it copies nothing and leaves no freed halves behind
 * (a doubling buffer's peak is three times its contents).
 */
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "lib/lk_alloc.h"
#include "lib/lk_hash.h"

#define NONE UINT32_MAX
#define KEEP_CALLS 8u
#define SLACK 1024u
#define POOL_BLOCK (64u << 10)

/* A place in the pool: block and offset. */
typedef struct pref {
  uint32_t blk, off;
} pref;

typedef struct pool {
  uint8_t **blk;
  size_t n, cap;
  size_t used;                 /* bytes used in the last block */
  size_t total, live;          /* bytes stored; of which still referenced */
  size_t alloc;                /* bytes of the blocks */
} pool;

typedef struct ent {
  uint64_t hash;
  uint64_t value;
  pref key, bytes;               /* in the pool */
  uint32_t key_len, bytes_len;   /* bytes_len 0: none */
  uint32_t next;                 /* entry after this one last call, or NONE */
  uint32_t last_call;
  uint32_t nlabels;
  bool has_value;
} ent;

struct collector_series_cache {
  ent *e;
  size_t n, cap;
  uint32_t *slot;                /* open addressing: entry index + 1, 0 empty */
  size_t nslots;                 /* power of two, >= 2 * n */
  pool pool;
  uint32_t first;                /* entry of the first series last call */
  uint32_t call;
  size_t rebuild_at;             /* entries that trigger the next rebuild */
  lk_buf scratch;                /* a key being built */
  collector_series_cache_stats st;
};

static void pool_fini(pool *p)
{
  for (size_t i = 0; i < p->n; i++)
    free(p->blk[i]);
  free(p->blk);
  memset(p, 0, sizeof *p);
}

/* Copy n bytes in; a record never spans blocks (a bigger one gets its own). */
static pref pool_put(pool *p, const void *data, size_t n)
{
  if (!p->n || p->used + n > POOL_BLOCK) {
    p->blk = lk_xgrow(p->blk, &p->cap, p->n + 1, sizeof *p->blk);
    p->blk[p->n++] = lk_xmalloc(n > POOL_BLOCK ? n : POOL_BLOCK);
    p->alloc += n > POOL_BLOCK ? n : POOL_BLOCK;
    p->used = 0;
  }
  pref r = {(uint32_t)(p->n - 1), (uint32_t)p->used};
  memcpy(p->blk[r.blk] + r.off, data, n);
  p->used = n > POOL_BLOCK ? POOL_BLOCK : p->used + n; /* an own block is full */
  p->total += n;
  p->live += n;
  return r;
}

static const uint8_t *pool_at(const pool *p, pref r)
{
  return p->blk[r.blk] + r.off;
}

collector_series_cache *collector_series_cache_new(void)
{
  collector_series_cache *c = lk_xcalloc(1, sizeof *c);
  c->first = NONE;
  c->rebuild_at = SLACK;
  return c;
}

void collector_series_cache_free(collector_series_cache *c)
{
  if (!c)
    return;
  free(c->e);
  free(c->slot);
  pool_fini(&c->pool);
  lk_buf_fini(&c->scratch);
  free(c);
}

static void build_key(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_buf_clear(b);
  for (size_t j = 0; j < n; j++) {
    lk_buf_append(b, ls[j].name, strlen(ls[j].name) + 1);
    lk_buf_append(b, ls[j].value, strlen(ls[j].value) + 1);
  }
}

/* s (NUL-terminated) equals the NUL-terminated string at *p within end:
 * *p moves past it. */
static bool str_at(const uint8_t **p, const uint8_t *end, const char *s)
{
  size_t n = strlen(s) + 1;
  if ((size_t)(end - *p) < n || memcmp(*p, s, n))
    return false;
  *p += n;
  return true;
}

static bool ent_matches(const collector_series_cache *c, const ent *e, const lk_series *s)
{
  if (e->nlabels != s->nlabels)
    return false;
  const uint8_t *p = pool_at(&c->pool, e->key), *end = p + e->key_len;
  for (size_t j = 0; j < s->nlabels; j++)
    if (!str_at(&p, end, s->labels[j].name) || !str_at(&p, end, s->labels[j].value))
      return false;
  return p == end;
}

static void table_insert(collector_series_cache *c, uint32_t idx)
{
  size_t mask = c->nslots - 1, i = c->e[idx].hash & mask;
  while (c->slot[i])
    i = (i + 1) & mask;
  c->slot[i] = idx + 1;
}

static void table_rebuild(collector_series_cache *c)
{
  size_t want = 64;
  while (want < 2 * c->n + 2)
    want *= 2;
  free(c->slot);
  c->slot = lk_xcalloc(want, sizeof *c->slot);
  c->nslots = want;
  for (size_t i = 0; i < c->n; i++)
    table_insert(c, (uint32_t)i);
}

static uint32_t table_find(const collector_series_cache *c, uint64_t h, const lk_buf *key)
{
  if (!c->nslots)
    return NONE;
  size_t mask = c->nslots - 1;
  for (size_t i = h & mask; c->slot[i]; i = (i + 1) & mask) {
    const ent *e = &c->e[c->slot[i] - 1];
    if (e->hash == h && e->key_len == key->len && !memcmp(pool_at(&c->pool, e->key), key->data, key->len))
      return c->slot[i] - 1;
  }
  return NONE;
}

static uint32_t add(collector_series_cache *c, uint64_t h, const lk_series *s)
{
  c->e = lk_xgrow(c->e, &c->cap, c->n + 1, sizeof *c->e);
  uint32_t idx = (uint32_t)c->n++;
  c->e[idx] = (ent){.hash = h, .key = pool_put(&c->pool, c->scratch.data, c->scratch.len),
                    .key_len = (uint32_t)c->scratch.len, .next = NONE,
                    .nlabels = (uint32_t)s->nlabels};
  if (2 * c->n > c->nslots)
    table_rebuild(c);
  else
    table_insert(c, idx);
  c->st.added++;
  return idx;
}

/* Drop entries not seen in the last KEEP_CALLS calls and compact the pool. */
static void rebuild(collector_series_cache *c)
{
  uint32_t *map = lk_xmalloc((c->n ? c->n : 1) * sizeof *map);
  pool np = {0};
  size_t kept = 0;
  for (size_t i = 0; i < c->n; i++) {
    ent e = c->e[i];
    map[i] = NONE;
    if (c->call - e.last_call > KEEP_CALLS)
      continue;
    e.key = pool_put(&np, pool_at(&c->pool, e.key), e.key_len);
    if (e.bytes_len)
      e.bytes = pool_put(&np, pool_at(&c->pool, e.bytes), e.bytes_len);
    map[i] = (uint32_t)kept;
    c->e[kept++] = e;
  }
  for (size_t i = 0; i < kept; i++)
    c->e[i].next = c->e[i].next == NONE ? NONE : map[c->e[i].next];
  c->first = c->first == NONE ? NONE : map[c->first];
  c->st.dropped += c->n - kept;
  c->n = kept;
  pool_fini(&c->pool);
  c->pool = np;
  free(map);
  table_rebuild(c);
  c->rebuild_at = 2 * kept + SLACK;
}

void collector_series_cache_map(collector_series_cache *c, const lk_series *s, size_t n, uint32_t *out)
{
  if (c->n > c->rebuild_at || c->pool.total > 2 * c->pool.live + SLACK * 256)
    rebuild(c);
  c->call++;
  uint32_t prev = NONE;
  for (size_t i = 0; i < n; i++) {
    uint32_t hint = i ? c->e[prev].next : c->first;
    uint32_t idx;
    if (hint != NONE && ent_matches(c, &c->e[hint], &s[i])) {
      idx = hint;
      c->st.hits++;
    } else {
      build_key(&c->scratch, s[i].labels, s[i].nlabels);
      uint64_t h = lk_hash64(c->scratch.data, c->scratch.len, 0);
      idx = table_find(c, h, &c->scratch);
      if (idx == NONE)
        idx = add(c, h, &s[i]);
      else
        c->st.lookups++;
    }
    if (i)
      c->e[prev].next = idx;
    else
      c->first = idx;
    c->e[idx].last_call = c->call;
    out[i] = prev = idx;
  }
  if (n)
    c->e[prev].next = NONE;
  c->st.entries = c->n;
  c->st.pool_bytes = c->pool.alloc;
}

bool collector_series_cache_value(const collector_series_cache *c, uint32_t e, uint64_t *v)
{
  *v = c->e[e].value;
  return c->e[e].has_value;
}

void collector_series_cache_set_value(collector_series_cache *c, uint32_t e, uint64_t v)
{
  c->e[e].value = v;
  c->e[e].has_value = true;
}

const uint8_t *collector_series_cache_bytes(const collector_series_cache *c, uint32_t e, size_t *len)
{
  *len = c->e[e].bytes_len;
  return *len ? pool_at(&c->pool, c->e[e].bytes) : NULL;
}

void collector_series_cache_set_bytes(collector_series_cache *c, uint32_t e, const void *p, size_t n)
{
  c->pool.live -= c->e[e].bytes_len;
  c->e[e].bytes = pool_put(&c->pool, p, n);
  c->e[e].bytes_len = (uint32_t)n;
}

void collector_series_cache_stats_get(const collector_series_cache *c, collector_series_cache_stats *out)
{
  *out = c->st;
}
