/* qcache.c — the query result cache: whole results of repeated queries.
 *
 * Dashboards re-run the same queries over the same range; the data they read
 * mostly has not changed since. An entry holds a deep copy of one result,
 * keyed by the query text, the evaluation times, the options that shape a
 * result and the queryable's data version (promql_queryable.version, read
 * before the evaluation): any append or block change gives a new version, so
 * an older entry is never returned for newer data — it just ages out of the
 * LRU. A hit hands back a fresh copy, bit-identical to the stored result.
 *
 * Thread safety: one mutex guards the table and the LRU list; it is held for
 * a lookup or an insert and its copy, never during an evaluation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "promql/promql_int.h"

#define NBUCKETS 1024

typedef struct qkey {
  int64_t start, end, step, lookback_ms;
  uint64_t max_samples, max_series, version;
  uint64_t range; /* 1 = range query, 0 = instant */
} qkey;

typedef struct qentry {
  struct qentry *next_hash, *prev_lru, *next_lru;
  uint64_t hash, bytes;
  qkey key;
  char *src;
  promql_result *r;
} qentry;

struct promql_cache {
  pthread_mutex_t mu;
  uint64_t budget, bytes;
  qentry *bucket[NBUCKETS];
  qentry *lru_head, *lru_tail; /* head = most recently used */
};

int promql_cache_new(uint64_t budget_bytes, promql_cache **out)
{
  promql_cache *c = lk_xcalloc(1, sizeof *c);
  c->budget = budget_bytes;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

static void entry_free(qentry *e)
{
  promql_result_free(e->r);
  free(e->src);
  free(e);
}

void promql_cache_free(promql_cache *c)
{
  if (!c)
    return;
  for (qentry *e = c->lru_head, *next; e; e = next) {
    next = e->next_lru;
    entry_free(e);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static char *dup_str(const char *s) { return s ? lk_xstrdup(s) : NULL; }

static char **dup_strs(char *const *v, size_t n)
{
  if (!n)
    return NULL;
  char **o = lk_xmalloc(n * sizeof *o);
  for (size_t i = 0; i < n; i++)
    o[i] = lk_xstrdup(v[i]);
  return o;
}

static void *dup_mem(const void *p, size_t n)
{
  void *o = lk_xmalloc(n ? n : 1);
  if (n)
    memcpy(o, p, n);
  return o;
}

/* A deep copy that promql_result_free frees; *bytes gets its rough size. */
static promql_result *result_copy(const promql_result *r, uint64_t *bytes)
{
  promql_result *o = dup_mem(r, sizeof *r);
  uint64_t b = sizeof *r + r->nseries * sizeof *r->series;
  o->string = dup_str(r->string);
  o->warnings = dup_strs(r->warnings, r->nwarnings);
  o->infos = dup_strs(r->infos, r->ninfos);
  o->series = r->nseries ? dup_mem(r->series, r->nseries * sizeof *r->series) : lk_xcalloc(1, sizeof *r->series);
  for (size_t k = 0; k < r->nseries; k++) {
    promql_series *s = &o->series[k];
    s->labels = dup_mem(s->labels, s->nlabels * sizeof *s->labels);
    for (size_t i = 0; i < s->nlabels; i++) {
      s->labels[i].name = lk_xstrdup(s->labels[i].name);
      s->labels[i].value = lk_xstrdup(s->labels[i].value);
      b += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 2 + sizeof *s->labels;
    }
    s->t = dup_mem(s->t, s->n * sizeof *s->t);
    s->v = dup_mem(s->v, s->n * sizeof *s->v);
    b += s->n * (sizeof *s->t + sizeof *s->v);
  }
  *bytes = b + 64 * (r->nwarnings + r->ninfos);
  return o;
}

static uint64_t key_hash(const char *src, const qkey *k)
{
  return lk_hash64(src, strlen(src), lk_hash64(k, sizeof *k, 0));
}

static bool key_eq(const qentry *e, uint64_t h, const char *src, const qkey *k)
{
  return e->hash == h && !memcmp(&e->key, k, sizeof *k) && !strcmp(e->src, src);
}

static void lru_unlink(promql_cache *c, qentry *e)
{
  if (e->prev_lru)
    e->prev_lru->next_lru = e->next_lru;
  else
    c->lru_head = e->next_lru;
  if (e->next_lru)
    e->next_lru->prev_lru = e->prev_lru;
  else
    c->lru_tail = e->prev_lru;
  e->prev_lru = e->next_lru = NULL;
}

static void lru_push_front(promql_cache *c, qentry *e)
{
  e->next_lru = c->lru_head;
  if (c->lru_head)
    c->lru_head->prev_lru = e;
  c->lru_head = e;
  if (!c->lru_tail)
    c->lru_tail = e;
}

static void remove_entry(promql_cache *c, qentry *e)
{
  qentry **pp = &c->bucket[e->hash % NBUCKETS];
  while (*pp != e)
    pp = &(*pp)->next_hash;
  *pp = e->next_hash;
  lru_unlink(c, e);
  c->bytes -= e->bytes;
  entry_free(e);
}

static qkey make_key(const promql_opts *o, int64_t start, int64_t end, int64_t step, bool range,
                     uint64_t version)
{
  qkey k;
  memset(&k, 0, sizeof k); /* no padding bytes reach the hash */
  k.start = start;
  k.end = end;
  k.step = step;
  k.lookback_ms = o->lookback_ms;
  k.max_samples = o->max_samples;
  k.max_series = o->max_series;
  k.version = version;
  k.range = range;
  return k;
}

bool promql__cache_get(promql_cache *c, const char *src, const promql_opts *o, int64_t start, int64_t end,
                   int64_t step, bool range, uint64_t version, promql_result **out)
{
  qkey k = make_key(o, start, end, step, range, version);
  uint64_t h = key_hash(src, &k), bytes;
  pthread_mutex_lock(&c->mu);
  qentry *e = c->bucket[h % NBUCKETS];
  while (e && !key_eq(e, h, src, &k))
    e = e->next_hash;
  if (e) {
    lru_unlink(c, e);
    lru_push_front(c, e);
    *out = result_copy(e->r, &bytes);
  }
  pthread_mutex_unlock(&c->mu);
  return e != NULL;
}

void promql__cache_put(promql_cache *c, const char *src, const promql_opts *o, int64_t start, int64_t end,
                   int64_t step, bool range, uint64_t version, const promql_result *r)
{
  qentry *e = lk_xcalloc(1, sizeof *e);
  e->key = make_key(o, start, end, step, range, version);
  e->hash = key_hash(src, &e->key);
  e->src = lk_xstrdup(src);
  e->r = result_copy(r, &e->bytes);
  e->bytes += sizeof *e + strlen(src) + 1;
  if (e->bytes > c->budget / 4) { /* one result may not push out most others */
    entry_free(e);
    return;
  }
  pthread_mutex_lock(&c->mu);
  qentry *old = c->bucket[e->hash % NBUCKETS];
  while (old && !key_eq(old, e->hash, e->src, &e->key))
    old = old->next_hash;
  if (old) /* a concurrent evaluation of the same query stored it first */
    remove_entry(c, old);
  e->next_hash = c->bucket[e->hash % NBUCKETS];
  c->bucket[e->hash % NBUCKETS] = e;
  lru_push_front(c, e);
  c->bytes += e->bytes;
  while (c->bytes > c->budget && c->lru_tail)
    remove_entry(c, c->lru_tail);
  pthread_mutex_unlock(&c->mu);
}
