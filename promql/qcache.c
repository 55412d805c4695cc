/* qcache.c — the query result cache: results of repeated queries, and the
 * steps a moving dashboard range shares with its last run.
 *
 * Dashboards re-run the same queries; the data they read mostly has not
 * changed since. An entry holds a deep copy of one result, keyed by the
 * query text, the evaluation times and the options that shape a result. It
 * also keeps the data version read before its evaluation and the span of
 * sample times the evaluation selected (recorded by a spy wrapped around
 * the queryable, so offsets, `@`, subqueries and lookback are covered by
 * what was really read). A lookup asks the queryable which times changed
 * since that version: if none lie in the span, the entry answers and takes
 * the current version. Appends of recent samples therefore leave a query
 * over an older range cached; an out-of-order or backfilled sample inside
 * it, or retention removing data it read, does not.
 *
 * A range query whose steps are independent of each other and of the
 * query's bounds (step_local) is keyed by its step and the steps' phase
 * instead of its bounds, like VictoriaMetrics' rollup result cache. From
 * the AST, a step at t reads nothing after t + fwd; the cached steps that
 * end before the earliest change since the entry's version are reused, and
 * only the later steps — those the change reaches, and those a moved range
 * adds — are evaluated and spliced after them (eval.c). Each step being
 * computed on its own, the spliced result is bit-identical to a whole
 * evaluation (tests/promql/test_qcache.c checks 35 queries). A hit hands
 * back a fresh copy.
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
  uint64_t range; /* 0 instant, 1 range, 2 range keyed by its grid (make_key) */
} qkey;

typedef struct qentry {
  struct qentry *next_hash;
  lk_lnode lru;
  uint64_t hash, bytes;
  qkey key;
  char *src;
  uint64_t version;   /* the result holds every change up to it */
  int64_t read_lo, read_hi; /* sample times it read (lo > hi: none) */
  bool steps;         /* range query with step-local steps (reusable_steps) */
  int64_t first, last; /* its first and last step */
  int64_t fwd;        /* a step at t reads nothing after t + fwd */
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

/* A deep copy that promql_result_free frees, of the points with times in
 * [lo, hi] (series left without a point are dropped); *bytes gets its
 * rough size. */
static promql_result *result_copy(const promql_result *r, int64_t lo, int64_t hi, uint64_t *bytes)
{
  promql_result *o = dup_mem(r, sizeof *r);
  uint64_t b = sizeof *r + r->nseries * sizeof *r->series;
  o->string = dup_str(r->string);
  o->warnings = dup_strs(r->warnings, r->nwarnings);
  o->infos = dup_strs(r->infos, r->ninfos);
  o->series = lk_xcalloc(r->nseries ? r->nseries : 1, sizeof *r->series);
  o->nseries = 0;
  for (size_t k = 0; k < r->nseries; k++) {
    const promql_series *in = &r->series[k];
    size_t a = 0, z = in->n;
    while (a < z && in->t[a] < lo)
      a++;
    while (z > a && in->t[z - 1] > hi)
      z--;
    if (a == z && in->n)
      continue;
    promql_series *s = &o->series[o->nseries++];
    s->labels = dup_mem(in->labels, in->nlabels * sizeof *s->labels);
    s->nlabels = in->nlabels;
    for (size_t i = 0; i < s->nlabels; i++) {
      s->labels[i].name = lk_xstrdup(s->labels[i].name);
      s->labels[i].value = lk_xstrdup(s->labels[i].value);
      b += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 2 + sizeof *s->labels;
    }
    s->n = z - a;
    s->t = dup_mem(in->t + a, s->n * sizeof *s->t);
    s->v = dup_mem(in->v + a, s->n * sizeof *s->v);
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

static int64_t floor_mod(int64_t a, int64_t b)
{
  int64_t m = a % b;
  return m < 0 ? m + b : m;
}

/* The last step of start, start+step, ... that is ≤ end. */
static int64_t last_step(int64_t start, int64_t end, int64_t step)
{
  return start + (end - start) / step * step;
}

/* A range query whose steps are independent is keyed by its step and the
 * steps' phase, not its bounds: a later range on the same grid reuses the
 * steps it shares with the entry. */
static qkey make_key(const promql_opts *o, int64_t start, int64_t end, int64_t step, bool range, bool steps)
{
  qkey k;
  memset(&k, 0, sizeof k); /* no padding bytes reach the hash */
  k.start = steps ? floor_mod(start, step) : start;
  k.end = steps ? 0 : end;
  k.step = step;
  k.lookback_ms = o->lookback_ms;
  k.max_samples = o->max_samples;
  k.max_series = o->max_series;
  k.range = range + steps;
  return k;
}

static bool is_query_param(const char *fn)
{
  return !strcmp(fn, "start") || !strcmp(fn, "end") || !strcmp(fn, "range") || !strcmp(fn, "step");
}

/* Whether each step of e reads and computes from its own time alone — no
 * `@`, no duration computed from the query's range or step, no
 * start()/end()/range()/step() — and then *fwd ≥ how far past the step's
 * time it reads (offsets can be negative; smoothed selectors look ahead by
 * the lookback). shift: the offsets of the enclosing subqueries. */
static bool step_local(const pq_expr *e, int64_t lookback, int64_t shift, int64_t *fwd)
{
  switch (e->kind) {
  case N_NUM:
  case N_STR:
    return true;
  case N_SEL: {
    if (e->u.sel.at != AT_NONE || e->u.sel.offset_x || e->u.sel.range_x)
      return false;
    int64_t f = shift - e->u.sel.offset + (e->u.sel.ext == EXT_SMOOTHED ? lookback : 0);
    *fwd = f > *fwd ? f : *fwd;
    return true;
  }
  case N_SUBQ:
    if (e->u.subq.at != AT_NONE || e->u.subq.offset_x || e->u.subq.range_x || e->u.subq.step_x)
      return false;
    return step_local(e->u.subq.e, lookback, shift - e->u.subq.offset, fwd);
  case N_CALL:
    if (is_query_param(e->u.call.f->name))
      return false;
    for (size_t i = 0; i < e->u.call.nargs; i++)
      if (!step_local(e->u.call.args[i], lookback, shift, fwd))
        return false;
    return true;
  case N_AGG:
    return step_local(e->u.agg.e, lookback, shift, fwd) &&
           (!e->u.agg.param || step_local(e->u.agg.param, lookback, shift, fwd));
  case N_BIN:
    return step_local(e->u.bin.l, lookback, shift, fwd) && step_local(e->u.bin.r, lookback, shift, fwd);
  case N_NEG:
  case N_PAREN:
    return step_local(e->u.inner, lookback, shift, fwd);
  }
  return false;
}

#define CENTURY_MS (100LL * 366 * 86400000)

/* A range query whose cached steps may be reused one by one (*fwd as in
 * step_local, 0 when it reads nothing); offsets beyond 100 years are not. */
static bool reusable_steps(const promql_expr *e, const promql_opts *o, bool range, int64_t *fwd)
{
  *fwd = INT64_MIN;
  if (!range || !step_local(e->root, o->lookback_ms, 0, fwd))
    return false;
  if (*fwd == INT64_MIN)
    *fwd = 0;
  return *fwd < CENTURY_MS && *fwd > -CENTURY_MS;
}

static bool touches(int64_t lo, int64_t hi, const qentry *e)
{
  return lo <= hi && e->read_lo <= e->read_hi && lo <= e->read_hi && hi >= e->read_lo;
}

/* The last cached step that read nothing at or after `changed`, or
 * e->first − step when none. */
static int64_t last_unchanged_step(const qentry *e, int64_t changed)
{
  if (changed < INT64_MIN + CENTURY_MS || changed > INT64_MAX - CENTURY_MS)
    return e->first - e->key.step;
  int64_t limit = changed - e->fwd; /* steps t < limit read only times < changed */
  if (limit <= e->first)
    return e->first - e->key.step;
  int64_t t = e->first + (limit - 1 - e->first) / e->key.step * e->key.step;
  return t < e->last ? t : e->last;
}

/* The lookup (cache lock held): an entry found valid whole takes the
 * current version; out gets the steps of [start, end] still valid, or
 * false. */
static bool lookup(qentry *e, const promql_queryable *q, int64_t start, int64_t end, pq_hit *out)
{
  int64_t lo, hi;
  uint64_t now = q->version(q->ctx, e->version, &lo, &hi);
  bool changed = touches(lo, hi, e);
  if (!e->steps) {
    if (changed)
      return false;
    e->version = now;
    *out = (pq_hit){.tail = INT64_MAX};
    return true;
  }
  bool annotated = e->r->nwarnings || e->r->ninfos; /* they speak of the whole range */
  int64_t valid = changed ? last_unchanged_step(e, lo) : e->last;
  if (start < e->first || valid < start || (annotated && (changed || start != e->first || end != e->last)))
    return false;
  if (!changed)
    e->version = now;
  int64_t upto = valid < end ? valid : end;
  *out = (pq_hit){.tail = upto + e->key.step > end ? INT64_MAX : upto + e->key.step, .version = now,
                  .read_lo = e->read_lo, .read_hi = e->read_hi};
  return true;
}

bool promql__cache_get(promql_cache *c, const promql_queryable *q, const promql_expr *x, const promql_opts *o,
                       int64_t start, int64_t end, int64_t step, bool range, pq_hit *out)
{
  int64_t fwd;
  bool steps = reusable_steps(x, o, range, &fwd);
  if (steps)
    end = last_step(start, end, step);
  qkey k = make_key(o, start, end, step, range, steps);
  uint64_t h = key_hash(x->src, &k), bytes;
  pthread_mutex_lock(&c->mu);
  qentry *e = c->bucket[h % NBUCKETS];
  while (e && !key_eq(e, h, x->src, &k))
    e = e->next_hash;
  bool hit = e && lookup(e, q, start, end, out);
  if (hit) {
    lk_list_to_front(&c->lru, &e->lru);
    out->r = e->steps ? result_copy(e->r, start, out->tail == INT64_MAX ? end : out->tail - step, &bytes)
                      : result_copy(e->r, INT64_MIN, INT64_MAX, &bytes);
    out->r->t = start;
  }
  pthread_mutex_unlock(&c->mu);
  return hit;
}

void promql__cache_put(promql_cache *c, const promql_expr *x, const promql_opts *o, int64_t start, int64_t end,
                       int64_t step, bool range, const pq_spy *s, const promql_result *r)
{
  qentry *e = lk_xcalloc(1, sizeof *e);
  e->steps = reusable_steps(x, o, range, &e->fwd);
  e->first = start;
  e->last = range ? last_step(start, end, step) : end;
  e->key = make_key(o, start, e->last, step, range, e->steps);
  e->hash = key_hash(x->src, &e->key);
  e->src = lk_xstrdup(x->src);
  e->version = s->version;
  e->read_lo = s->lo;
  e->read_hi = s->hi;
  e->r = result_copy(r, INT64_MIN, INT64_MAX, &e->bytes);
  e->bytes += sizeof *e + strlen(x->src) + 1;
  if (e->bytes > c->budget / 4) { /* one result may not push out most others */
    entry_free(e);
    return;
  }
  pthread_mutex_lock(&c->mu);
  qentry *old = c->bucket[e->hash % NBUCKETS];
  while (old && !key_eq(old, e->hash, e->src, &e->key))
    old = old->next_hash;
  if (old) /* an earlier range of it, or a concurrent evaluation stored it first */
    remove_entry(c, old);
  e->next_hash = c->bucket[e->hash % NBUCKETS];
  c->bucket[e->hash % NBUCKETS] = e;
  lk_list_push_front(&c->lru, &e->lru);
  c->bytes += e->bytes;
  while (c->bytes > c->budget && c->lru.tail)
    remove_entry(c, lru_entry(c->lru.tail));
  pthread_mutex_unlock(&c->mu);
}

/* Move series s (its arrays and labels) into o's next slot, after its
 * points if o's last series has the same labels. */
static void take_series(promql_result *o, promql_series *s)
{
  promql_series *last = o->nseries ? &o->series[o->nseries - 1] : NULL;
  if (!last || lk_labels_cmp(last->labels, last->nlabels, s->labels, s->nlabels)) {
    o->series[o->nseries++] = *s;
    *s = (promql_series){0};
    return;
  }
  last->t = lk_xrealloc(last->t, (last->n + s->n) * sizeof *last->t);
  last->v = lk_xrealloc(last->v, (last->n + s->n) * sizeof *last->v);
  memcpy(last->t + last->n, s->t, s->n * sizeof *s->t);
  memcpy(last->v + last->n, s->v, s->n * sizeof *s->v);
  last->n += s->n;
}

promql_result *promql__splice(promql_result *head, promql_result *tail)
{
  promql_result *o = lk_xcalloc(1, sizeof *o);
  o->type = PROMQL_MATRIX;
  o->t = head->t;
  o->series = lk_xcalloc(head->nseries + tail->nseries + 1, sizeof *o->series);
  size_t i = 0, j = 0;
  while (i < head->nseries || j < tail->nseries) {
    promql_series *a = i < head->nseries ? &head->series[i] : NULL;
    promql_series *b = j < tail->nseries ? &tail->series[j] : NULL;
    bool take_a = a && (!b || lk_labels_cmp(a->labels, a->nlabels, b->labels, b->nlabels) <= 0);
    take_series(o, take_a ? a : b);
    i += take_a;
    j += !take_a;
  }
  promql_result_free(head);
  promql_result_free(tail);
  return o;
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
