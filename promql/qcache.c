/* qcache.c — the query result cache: whole results of repeated queries.
 *
 * Dashboards re-run the same queries over the same range; the data they read
 * mostly has not changed since. An entry holds a deep copy of one result,
 * keyed by the query text, the evaluation times and the options that shape a
 * result. It also keeps the data version read before its evaluation and the
 * span of sample times the evaluation selected (recorded by a spy wrapped
 * around the queryable, so offsets, `@`, subqueries and lookback are covered
 * by what was really read). A lookup asks the queryable which times changed
 * since that version: if none lie in the span, the entry answers and takes
 * the current version; otherwise it is dropped. Appends of recent samples
 * therefore leave a query over an older range cached; an out-of-order or
 * backfilled sample inside it, or retention removing data it read, does
 * not. A hit hands back a fresh copy, bit-identical to the stored result.
 *
 * Thread safety: one mutex guards the table and the LRU list; it is held for
 * a lookup (with the queryable's version call, a leaf) or an insert and its
 * copy, never during an evaluation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "lib/lk_list.h"
#include "promql/promql_int.h"

#define NBUCKETS 1024

typedef struct qkey {
  int64_t start, end, step, lookback_ms;
  uint64_t max_samples, max_series;
  uint64_t range; /* 1 = range query, 0 = instant */
} qkey;

typedef struct qentry {
  struct qentry *next_hash;
  lk_lnode lru;
  uint64_t hash, bytes;
  qkey key;
  char *src;
  uint64_t version;   /* the result holds every change up to it */
  int64_t read_lo, read_hi; /* sample times it read (lo > hi: none) */
  promql_result *r;
} qentry;

struct promql_cache {
  pthread_mutex_t mu;
  uint64_t budget, bytes;
  qentry *bucket[NBUCKETS];
  lk_list lru; /* front = most recently used */
};

static qentry *lru_entry(lk_lnode *n) { return lk_list_entry(n, qentry, lru); }

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
  for (lk_lnode *n = c->lru.head, *next; n; n = next) {
    next = n->next;
    entry_free(lru_entry(n));
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

static void remove_entry(promql_cache *c, qentry *e)
{
  qentry **pp = &c->bucket[e->hash % NBUCKETS];
  while (*pp != e)
    pp = &(*pp)->next_hash;
  *pp = e->next_hash;
  lk_list_unlink(&c->lru, &e->lru);
  c->bytes -= e->bytes;
  entry_free(e);
}

static qkey make_key(const promql_opts *o, int64_t start, int64_t end, int64_t step, bool range)
{
  qkey k;
  memset(&k, 0, sizeof k); /* no padding bytes reach the hash */
  k.start = start;
  k.end = end;
  k.step = step;
  k.lookback_ms = o->lookback_ms;
  k.max_samples = o->max_samples;
  k.max_series = o->max_series;
  k.range = range;
  return k;
}

/* Does nothing changed since e was computed touch the times it read? If
 * not, e now holds every change up to the current version. */
static bool still_valid(qentry *e, const promql_queryable *q)
{
  int64_t lo, hi;
  uint64_t now = q->version(q->ctx, e->version, &lo, &hi);
  if (lo <= hi && e->read_lo <= e->read_hi && lo <= e->read_hi && hi >= e->read_lo)
    return false;
  e->version = now;
  return true;
}

bool promql__cache_get(promql_cache *c, const promql_queryable *q, const char *src, const promql_opts *o,
                       int64_t start, int64_t end, int64_t step, bool range, promql_result **out)
{
  qkey k = make_key(o, start, end, step, range);
  uint64_t h = key_hash(src, &k), bytes;
  pthread_mutex_lock(&c->mu);
  qentry *e = c->bucket[h % NBUCKETS];
  while (e && !key_eq(e, h, src, &k))
    e = e->next_hash;
  if (e && !still_valid(e, q)) {
    remove_entry(c, e);
    e = NULL;
  }
  if (e) {
    lk_list_to_front(&c->lru, &e->lru);
    *out = result_copy(e->r, &bytes);
  }
  pthread_mutex_unlock(&c->mu);
  return e != NULL;
}

void promql__cache_put(promql_cache *c, const char *src, const promql_opts *o, int64_t start, int64_t end,
                       int64_t step, bool range, const pq_spy *s, const promql_result *r)
{
  qentry *e = lk_xcalloc(1, sizeof *e);
  e->key = make_key(o, start, end, step, range);
  e->hash = key_hash(src, &e->key);
  e->src = lk_xstrdup(src);
  e->version = s->version;
  e->read_lo = s->lo;
  e->read_hi = s->hi;
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
  lk_list_push_front(&c->lru, &e->lru);
  c->bytes += e->bytes;
  while (c->bytes > c->budget && c->lru.tail)
    remove_entry(c, lru_entry(c->lru.tail));
  pthread_mutex_unlock(&c->mu);
}

/*---- The spy: the span of times an evaluation selects ----*/

static void spy_note(pq_spy *s, int64_t mint, int64_t maxt)
{
  s->lo = mint < s->lo ? mint : s->lo;
  s->hi = maxt > s->hi ? maxt : s->hi;
}

static int spy_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                      uint64_t max_series, uint64_t max_samples, void **out, lk_diag *d)
{
  pq_spy *s = ctx;
  spy_note(s, mint, maxt);
  return s->in->select(s->in->ctx, m, nm, mint, maxt, max_series, max_samples, out, d);
}

static int spy_rollup_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                             int64_t res, uint64_t max_series, void **out, lk_diag *d)
{
  pq_spy *s = ctx;
  spy_note(s, mint, maxt);
  return s->in->rollups->select(s->in->ctx, m, nm, mint, maxt, res, max_series, out, d);
}

void promql__spy_init(pq_spy *s, const promql_queryable *in)
{
  int64_t lo, hi;
  *s = (pq_spy){.in = in, .lo = INT64_MAX, .hi = INT64_MIN};
  s->version = in->version(in->ctx, UINT64_MAX, &lo, &hi);
  s->q = *in;
  s->q.ctx = s;
  s->q.select = spy_select;
  s->q.version = NULL; /* its ctx is the spy; the evaluation needs none */
  if (in->rollups) {
    s->ro = *in->rollups;
    s->ro.select = spy_rollup_select;
    s->q.rollups = &s->ro;
  }
}
