/* logql_eval.c — running LogQL over the store: stream selection, the block
 * scan with the skip index, log queries, and the listing APIs.
 *
 * A query holds the store's read lock for its whole run. Per stream, the
 * scan visits sealed blocks overlapping [start, end] (oldest first, or
 * newest first for backward log queries) and then the head; a block is read
 * only when its bloom may hold every literal that the leading line filters
 * require. Matching entries go to a callback. Log queries visit every
 * block and head of the selected streams best first (newest first for
 * backward) and stop once they hold `limit` hits that no remaining source can
 * beat; metric queries (logql_metric.c) scan stream by stream and count per
 * output series.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_hash.h"
#include "logstore/logql_eval.h"

/*---- groups: output series keyed by label set ----*/

lq_group *logstore__lq_group_get(lq_groups *g, const lk_label *ls, size_t n, lk_arena *a)
{
  uint64_t h = lk_labels_hash(ls, n);
  if (g->tcap) {
    size_t mask = g->tcap - 1;
    for (size_t i = h & mask; g->tab[i]; i = (i + 1) & mask) {
      lq_group *x = &g->v[g->tab[i] - 1];
      if (x->hash == h && lk_labels_equal(x->labels, x->nlabels, ls, n))
        return x;
    }
  }
  g->v = lk_xgrow(g->v, &g->cap, g->n + 1, sizeof *g->v);
  lq_group *x = &g->v[g->n++];
  memset(x, 0, sizeof *x);
  x->hash = h;
  x->nlabels = n;
  x->labels = lk_arena_alloc(a, (n ? n : 1) * sizeof *x->labels);
  for (size_t i = 0; i < n; i++) {
    x->labels[i].name = lk_arena_strndup(a, ls[i].name, strlen(ls[i].name));
    x->labels[i].value = lk_arena_strndup(a, ls[i].value, strlen(ls[i].value));
  }
  if (g->n * 2 > g->tcap) {
    free(g->tab);
    g->tcap = g->tcap ? g->tcap * 2 : 64;
    g->tab = lk_xcalloc(g->tcap, sizeof *g->tab);
    for (size_t k = 0; k < g->n; k++) {
      size_t mask = g->tcap - 1, i = g->v[k].hash & mask;
      while (g->tab[i])
        i = (i + 1) & mask;
      g->tab[i] = (uint32_t)k + 1;
    }
  } else {
    size_t mask = g->tcap - 1, i = h & mask;
    while (g->tab[i])
      i = (i + 1) & mask;
    g->tab[i] = (uint32_t)g->n;
  }
  return x;
}

void logstore__lq_groups_fini(lq_groups *g)
{
  for (size_t i = 0; i < g->n; i++) {
    free(g->v[i].cnt);
    free(g->v[i].bytes);
  }
  free(g->v);
  free(g->tab);
  memset(g, 0, sizeof *g);
}

/* Stream labels merged with extracted ones (extracted win; empty dropped). */
size_t logstore__lq_out_labels(const ls_stream *st, const lq_line *ln, lk_label *out, size_t max)
{
  size_t n = 0;
  for (size_t i = 0; i < st->nlabels && n < max; i++)
    out[n++] = st->labels[i];
  for (size_t e = 0; e < ln->next; e++) {
    size_t j = 0;
    while (j < n && strcmp(out[j].name, ln->ext[e].name))
      j++;
    if (j < n)
      out[j].value = ln->ext[e].value;
    else if (n < max)
      out[n++] = ln->ext[e];
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (*out[i].value)
      out[w++] = out[i];
  lk_labels_sort(out, w);
  return w;
}

/*---- the scan ----*/

static void probes_init(lq_scan *sc)
{
  for (size_t i = 0; i < sc->lg->nst; i++) {
    const lq_stage *s = &sc->lg->st[i];
    if (s->kind != LQ_LINE_FILTER)
      break; /* after a parser or line_format the line may differ */
    if (s->op == LQ_EQ)
      logstore__probes_from_literal(&sc->probes, s->value, s->value_len);
    else if (s->op == LQ_RE)
      logstore__probes_from_regex(&sc->probes, s->value);
  }
}

/* Entries of [lo, hi) holding the needle, found with one memmem over the
 * block's contiguous line bytes instead of one call per line. offsets must
 * ascend (true in blocks). A hit straddling two lines skips to the next. */
static size_t find_candidates(lq_scan *sc, const uint32_t *off, const uint32_t *len,
                              const char *bytes, size_t lo, size_t hi)
{
  const lq_stage *f = &sc->lg->st[0];
  const char *needle = f->op == LQ_EQ ? f->value : f->pre;
  size_t nlen = f->op == LQ_EQ ? f->value_len : f->pre_len;
  size_t n = 0, i = lo;
  sc->cand = lk_xgrow(sc->cand, &sc->ccap, hi - lo + 1, sizeof *sc->cand);
  while (i < hi) {
    const char *from = bytes + off[i], *end = bytes + off[hi - 1] + len[hi - 1];
    const char *h = memmem(from, (size_t)(end - from), needle, nlen);
    if (!h)
      break;
    uint32_t pos = (uint32_t)(h - bytes);
    size_t a = i, b = hi; /* last entry with off <= pos */
    while (b - a > 1) {
      size_t mid = (a + b) / 2;
      if (off[mid] <= pos)
        a = mid;
      else
        b = mid;
    }
    if (pos + nlen <= off[a] + len[a])
      sc->cand[n++] = (uint32_t)a;
    i = a + 1;
  }
  return n;
}

/* A leading |= "x" (or |~ with a literal every match holds) can be searched
 * for across the whole block; the pipeline then runs on the hits only. */
static bool fast_path(const lq_scan *sc)
{
  const lq_stage *f = sc->lg->nst ? &sc->lg->st[0] : NULL;
  return f && f->kind == LQ_LINE_FILTER &&
         ((f->op == LQ_EQ && f->value_len) || (f->op == LQ_RE && f->pre_len));
}

/* Entries [lo, hi) of one sorted source; false stops the stream.
 * `ascending`: line offsets ascend with the index (blocks), enabling the
 * whole-buffer search for a leading |= filter. */
static bool scan_entries(lq_scan *sc, const ls_stream *st, const int64_t *ts, const uint32_t *off,
                         const uint32_t *len, const char *bytes, size_t n, bool ascending)
{
  size_t lo = 0, hi = n;
  while (lo < n && ts[lo] < sc->start)
    lo++;
  while (hi > lo && ts[hi - 1] > sc->end)
    hi--;
  if (hi <= lo)
    return true;
  sc->res->lines_scanned += hi - lo;
  bool fast = ascending && fast_path(sc);
  size_t cnt = fast ? find_candidates(sc, off, len, bytes, lo, hi) : hi - lo;
  for (size_t k = 0; k < cnt; k++) {
    size_t kk = sc->backward ? cnt - 1 - k : k;
    size_t i = fast ? sc->cand[kk] : lo + kk;
    lq_line *ln = &sc->ln;
    ln->line = bytes + off[i];
    ln->len = len[i];
    ln->next = 0;
    if (sc->parsers) {
      lk_arena_reset(ln->scratch);
      ln->ext = NULL;
      ln->capext = 0;
    }
    if (logstore__lq_pipeline(sc->lg, st->labels, st->nlabels, ln) &&
        !sc->emit(sc, st, ts[i], ln))
      return false;
  }
  return true;
}

/* A count that needs no line: every entry of [start, end] from the
 * timestamps alone (emitted with an empty line). */
static bool scan_ts_only(lq_scan *sc, const ls_stream *st, const ls_block *b)
{
  if (logstore__block_read_ts(sc->s, b, &sc->dec)) {
    sc->err = LK_ECORRUPT;
    return false;
  }
  sc->res->blocks_read++;
  const int64_t *ts = sc->dec.ts;
  size_t lo = 0, hi = sc->dec.n;
  while (lo < hi && ts[lo] < sc->start)
    lo++;
  while (hi > lo && ts[hi - 1] > sc->end)
    hi--;
  sc->res->lines_scanned += hi - lo;
  sc->ln.line = "";
  sc->ln.len = 0;
  sc->ln.next = 0;
  for (size_t i = lo; i < hi; i++)
    if (!sc->emit(sc, st, ts[i], &sc->ln))
      return false;
  return true;
}

static bool scan_block(lq_scan *sc, const ls_stream *st, const ls_block *b)
{
  if (b->maxt < sc->start || b->mint > sc->end)
    return true;
  sc->res->blocks_total++;
  if (logstore__probes_any(&sc->probes) && !logstore__bloom_may_contain(b, &sc->probes))
    return true;
  if (sc->ts_only)
    return scan_ts_only(sc, st, b);
  if (logstore__block_read(sc->s, b, &sc->dec)) {
    sc->err = LK_ECORRUPT;
    return false;
  }
  sc->res->blocks_read++;
  sc->res->bytes_read += b->data_len;
  ls_decoded *d = &sc->dec;
  return scan_entries(sc, st, d->ts, d->off, d->len, d->bytes, d->n, true);
}

static bool scan_head(lq_scan *sc, const ls_stream *st)
{
  if (!st->hn)
    return true;
  return scan_entries(sc, st, st->hts, st->hoff, st->hlen, (const char *)st->hbytes.data, st->hn,
                      false);
}

static void scan_stream(lq_scan *sc, const ls_stream *st)
{
  if (sc->backward && !scan_head(sc, st))
    return;
  for (size_t k = 0; k < st->nblocks; k++) {
    size_t i = sc->backward ? st->nblocks - 1 - k : k;
    if (!scan_block(sc, st, &st->blocks[i]))
      return;
  }
  if (!sc->backward)
    scan_head(sc, st);
}

/* Streams matching the selector, via the postings of an `=` matcher. */
static void select_streams(const logstore *s, const lq_log *lg, ls_stream ***out, size_t *n)
{
  const ls_posting *p = NULL;
  bool have = false;
  for (size_t i = 0; i < lg->nm; i++)
    if (lg->m[i].op == LQ_EQ && *lg->m[i].value) {
      const ls_posting *q = logstore__postings_get(s, lg->m[i].name, lg->m[i].value);
      if (!have || !q || (p && q->n < p->n))
        p = q;
      have = true;
    }
  size_t cnt = have ? (p ? p->n : 0) : s->nstreams, cap = 0;
  *out = NULL;
  *n = 0;
  for (size_t i = 0; i < cnt; i++) {
    ls_stream *st = s->streams[have ? p->ids[i] : i];
    if (!logstore__lq_matchers_ok(lg->m, lg->nm, st->labels, st->nlabels))
      continue;
    *out = lk_xgrow(*out, &cap, *n + 1, sizeof **out);
    (*out)[(*n)++] = st;
  }
}

void logstore__lq_scan_begin(lq_scan *sc)
{
  probes_init(sc);
  sc->parsers = logstore__lq_has_parsers(sc->lg);
  sc->ln.scratch = lk_arena_new(4096);
}

int logstore__lq_scan_end(lq_scan *sc)
{
  logstore__probes_fini(&sc->probes);
  free(sc->cand);
  logstore__decoded_fini(&sc->dec);
  lk_buf_fini(&sc->ln.fmt);
  lk_arena_free(sc->ln.scratch);
  return sc->err;
}

int logstore__lq_scan(lq_scan *sc)
{
  logstore__lq_scan_begin(sc);
  ls_stream **sts;
  size_t n;
  select_streams(sc->s, sc->lg, &sts, &n);
  for (size_t i = 0; i < n && !sc->err; i++) {
    sc->stream_hits = 0;
    scan_stream(sc, sts[i]);
  }
  free(sts);
  return logstore__lq_scan_end(sc);
}

/*---- log queries ----*/

typedef struct hit {
  int64_t ts;
  uint32_t group;
  uint32_t seq;
  const char *line;
  size_t len;
} hit;

typedef struct logq {
  hit *h;
  size_t n, cap;
  lq_groups groups;
  uint32_t next_seq; /* arrival order, for ties */
  bool have_cutoff;
  int64_t cutoff;   /* with `limit` hits: the limit-th best time; worse ones cannot be returned */
} logq;

/* One place entries come from: a sealed block, or a stream's head (b NULL). */
typedef struct source {
  const ls_stream *st;
  const ls_block *b;
  int64_t mint, maxt;
} source;

static bool beyond_cutoff(const lq_scan *sc, const logq *lq, int64_t ts)
{
  return lq->have_cutoff && (sc->backward ? ts < lq->cutoff : ts > lq->cutoff);
}

static bool emit_log(lq_scan *sc, const ls_stream *st, int64_t ts, const lq_line *ln)
{
  logq *lq = sc->ctx;
  if (beyond_cutoff(sc, lq, ts)) /* entries come in the query's order: the rest are worse too */
    return false;
  lk_label tmp[96];
  size_t nl = logstore__lq_out_labels(st, ln, tmp, 96);
  lq_group *g = logstore__lq_group_get(&lq->groups, tmp, nl, sc->res->arena);
  lq->h = lk_xgrow(lq->h, &lq->cap, lq->n + 1, sizeof *lq->h);
  hit *h = &lq->h[lq->n];
  *h = (hit){.ts = ts, .group = (uint32_t)(g - lq->groups.v), .seq = lq->next_seq++,
             .line = lk_arena_strndup(sc->res->arena, ln->line, ln->len), .len = ln->len};
  lq->n++;
  return ++sc->stream_hits < sc->limit;
}

static int cmp_fwd(const void *a, const void *b)
{
  const hit *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_bwd(const void *a, const void *b)
{
  const hit *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts > y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq; /* ties keep the scan's order */
}

static void hit_swap(hit *a, hit *b)
{
  hit t = *a;
  *a = *b;
  *b = t;
}

/* Reorder h[0, n) so that h[0, k) are its k best in cmp's order, with h[k-1]
 * the k-th best (quickselect; linear on average). */
static void select_best(hit *h, size_t n, size_t k, int (*cmp)(const void *, const void *))
{
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    hit_swap(&h[(lo + hi) / 2], &h[hi]); /* pivot to the end */
    size_t store = lo;
    for (size_t i = lo; i < hi; i++)
      if (cmp(&h[i], &h[hi]) < 0)
        hit_swap(&h[i], &h[store++]);
    hit_swap(&h[store], &h[hi]);
    if (store == k - 1)
      return;
    if (store < k - 1)
      lo = store + 1;
    else
      hi = store - 1;
  }
}

/* Keep the best `limit` hits (in no order); from then on the worst of them
 * is the cutoff. */
static void trim_hits(logq *lq, bool backward, size_t limit)
{
  if (lq->n < limit)
    return;
  select_best(lq->h, lq->n, limit, backward ? cmp_bwd : cmp_fwd);
  lq->n = limit;
  lq->have_cutoff = true;
  lq->cutoff = lq->h[limit - 1].ts;
}

/* The hits in the query's order, at most `limit`. */
static void final_hits(logq *lq, bool backward, size_t limit)
{
  trim_hits(lq, backward, limit);
  if (lq->n)
    qsort(lq->h, lq->n, sizeof *lq->h, backward ? cmp_bwd : cmp_fwd);
}

static int cmp_src_bwd(const void *a, const void *b)
{
  const source *x = a, *y = b;
  return x->maxt > y->maxt ? -1 : x->maxt < y->maxt;
}

static int cmp_src_fwd(const void *a, const void *b)
{
  const source *x = a, *y = b;
  return x->mint < y->mint ? -1 : x->mint > y->mint;
}

/* Every block and head of the selected streams overlapping [start, end],
 * best first: newest maxt first for backward, oldest mint first for forward. */
static source *collect_sources(const lq_scan *sc, ls_stream **sts, size_t nst, size_t *out_n)
{
  source *v = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < nst; i++) {
    const ls_stream *st = sts[i];
    for (size_t k = 0; k < st->nblocks; k++) {
      const ls_block *b = &st->blocks[k];
      if (b->maxt < sc->start || b->mint > sc->end)
        continue;
      v = lk_xgrow(v, &cap, n + 1, sizeof *v);
      v[n++] = (source){st, b, b->mint, b->maxt};
    }
    if (st->hn && st->hts[st->hn - 1] >= sc->start && st->hts[0] <= sc->end) {
      v = lk_xgrow(v, &cap, n + 1, sizeof *v);
      v[n++] = (source){st, NULL, st->hts[0], st->hts[st->hn - 1]};
    }
  }
  if (n)
    qsort(v, n, sizeof *v, sc->backward ? cmp_src_bwd : cmp_src_fwd);
  *out_n = n;
  return v;
}

/* Log queries visit sources best first across all streams and stop once
 * `limit` hits are held and no later source can beat the worst of them: a
 * common word reads the newest blocks only, not every stream to its start. */
static int scan_ordered(lq_scan *sc, logq *lq)
{
  logstore__lq_scan_begin(sc);
  ls_stream **sts;
  size_t nst, nsrc;
  select_streams(sc->s, sc->lg, &sts, &nst);
  source *src = collect_sources(sc, sts, nst, &nsrc);
  for (size_t i = 0; i < nsrc && !sc->err; i++) {
    const source *x = &src[i];
    if (beyond_cutoff(sc, lq, sc->backward ? x->maxt : x->mint))
      break; /* sources are in order: none after this one can beat the cutoff */
    sc->stream_hits = 0;
    if (x->b)
      scan_block(sc, x->st, x->b);
    else
      scan_head(sc, x->st);
    if (lq->n < sc->limit)
      continue;
    trim_hits(lq, sc->backward, sc->limit);
    if (sc->backward) /* nothing beyond the cutoff is wanted: narrow the range searched */
      sc->start = lq->cutoff > sc->start ? lq->cutoff : sc->start;
    else
      sc->end = lq->cutoff < sc->end ? lq->cutoff : sc->end;
  }
  free(src);
  free(sts);
  return logstore__lq_scan_end(sc);
}

static void build_streams(logq *lq, size_t limit, logstore_result *r)
{
  size_t n = lq->n < limit ? lq->n : limit;
  size_t *cnt = lk_xcalloc(lq->groups.n + 1, sizeof *cnt);
  for (size_t i = 0; i < n; i++)
    cnt[lq->h[i].group]++;
  int32_t *slot = lk_xmalloc((lq->groups.n + 1) * sizeof *slot);
  r->streams = lk_arena_zalloc(r->arena, (lq->groups.n + 1) * sizeof *r->streams);
  for (size_t g = 0; g < lq->groups.n; g++) {
    slot[g] = -1;
    if (!cnt[g])
      continue;
    slot[g] = (int32_t)r->n;
    logstore_rstream *rs = &r->streams[r->n++];
    rs->labels = lq->groups.v[g].labels;
    rs->nlabels = lq->groups.v[g].nlabels;
    rs->entries = lk_arena_alloc(r->arena, cnt[g] * sizeof *rs->entries);
  }
  for (size_t i = 0; i < n; i++) {
    logstore_rstream *rs = &r->streams[slot[lq->h[i].group]];
    rs->entries[rs->n++] = (logstore_entry){lq->h[i].ts, lq->h[i].line, lq->h[i].len};
  }
  free(slot);
  free(cnt);
}

static int lq_logs(logstore *s, const lq_log *lg, const logstore_query_opts *o,
                   logstore_result *r)
{
  logq lq = {0};
  size_t limit = o->limit ? o->limit : 100;
  lq_scan sc = {.s = s, .lg = lg, .start = o->start_ns, .end = o->end_ns,
                .backward = o->direction == LOGSTORE_BACKWARD, .res = r, .emit = emit_log,
                .ctx = &lq, .limit = limit};
  int rc = scan_ordered(&sc, &lq);
  if (!rc) {
    final_hits(&lq, sc.backward, limit);
    r->kind = LOGSTORE_STREAMS;
    build_streams(&lq, limit, r);
  }
  free(lq.h);
  logstore__lq_groups_fini(&lq.groups);
  return rc;
}

/*---- entry points ----*/

int logstore_query(logstore *s, const char *logql, const logstore_query_opts *o,
                   logstore_result **out, lk_diag *d)
{
  lq_query *q;
  int rc = logstore__lq_parse(logql, &q, d);
  if (rc)
    return rc;
  logstore_result *r = lk_xcalloc(1, sizeof *r);
  r->arena = lk_arena_new(1 << 16);
  pthread_rwlock_rdlock(&s->lock);
  if (q->root->kind == LQ_LOGS)
    rc = lq_logs(s, &q->root->log, o, r);
  else
    rc = logstore__lq_metric(s, q->root, o, r, d);
  pthread_rwlock_unlock(&s->lock);
  logstore__lq_free(q);
  if (rc) {
    logstore_result_free(r);
    return lk_diag_set(d, rc, -1, "query failed: %s", lk_strerror(rc));
  }
  *out = r;
  return 0;
}

void logstore_result_free(logstore_result *r)
{
  if (!r)
    return;
  lk_arena_free(r->arena);
  free(r);
}

/*---- listings ----*/

static bool stream_in_range(const ls_stream *st, int64_t start, int64_t end)
{
  if (start == 0 && end == 0)
    return true;
  for (size_t i = 0; i < st->nblocks; i++)
    if (st->blocks[i].maxt >= start && st->blocks[i].mint <= end)
      return true;
  return st->hn && st->hts[st->hn - 1] >= start && st->hts[0] <= end;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted unique strings of `name` (NULL: label names) over streams in range. */
static int collect(logstore *s, const char *name, int64_t start, int64_t end, const char ***out,
                   size_t *out_n, lk_arena **out_arena)
{
  lk_arena *a = lk_arena_new(4096);
  const char **v = NULL;
  size_t n = 0, cap = 0;
  pthread_rwlock_rdlock(&s->lock);
  for (size_t i = 0; i < s->nstreams; i++) {
    const ls_stream *st = s->streams[i];
    if (!stream_in_range(st, start, end))
      continue;
    for (size_t j = 0; j < st->nlabels; j++) {
      if (name && strcmp(st->labels[j].name, name))
        continue;
      const char *x = name ? st->labels[j].value : st->labels[j].name;
      v = lk_xgrow(v, &cap, n + 1, sizeof *v);
      v[n++] = lk_arena_strndup(a, x, strlen(x));
    }
  }
  pthread_rwlock_unlock(&s->lock);
  if (n)
    qsort(v, n, sizeof *v, cmp_str);
  size_t w = 0;
  for (size_t i = 0; i < n; i++)
    if (!w || strcmp(v[w - 1], v[i]))
      v[w++] = v[i];
  const char **res = lk_arena_alloc(a, (w ? w : 1) * sizeof *res);
  if (w)
    memcpy(res, v, w * sizeof *res);
  free(v);
  *out = res;
  *out_n = w;
  *out_arena = a;
  return 0;
}

int logstore_labels(logstore *s, int64_t start_ns, int64_t end_ns, const char ***out_names,
                    size_t *out_n, lk_arena **out_arena)
{
  return collect(s, NULL, start_ns, end_ns, out_names, out_n, out_arena);
}

int logstore_label_values(logstore *s, const char *name, int64_t start_ns, int64_t end_ns,
                          const char ***out_values, size_t *out_n, lk_arena **out_arena)
{
  return collect(s, name, start_ns, end_ns, out_values, out_n, out_arena);
}

int logstore_series(logstore *s, const char *selector, int64_t start_ns, int64_t end_ns,
                    logstore_rstream **out_sets, size_t *out_n, lk_arena **out_arena, lk_diag *d)
{
  lq_query *q = NULL;
  int rc = selector ? logstore__lq_parse_selector(selector, &q, d) : 0;
  if (rc)
    return rc;
  lk_arena *a = lk_arena_new(4096);
  logstore_rstream *v = NULL;
  size_t n = 0, cap = 0;
  pthread_rwlock_rdlock(&s->lock);
  for (size_t i = 0; i < s->nstreams; i++) {
    const ls_stream *st = s->streams[i];
    if (!stream_in_range(st, start_ns, end_ns) ||
        (q && !logstore__lq_matchers_ok(q->root->log.m, q->root->log.nm, st->labels, st->nlabels)))
      continue;
    v = lk_xgrow(v, &cap, n + 1, sizeof *v);
    logstore_rstream *rs = &v[n++];
    memset(rs, 0, sizeof *rs);
    rs->labels = lk_arena_alloc(a, (st->nlabels ? st->nlabels : 1) * sizeof *rs->labels);
    rs->nlabels = st->nlabels;
    for (size_t j = 0; j < st->nlabels; j++) {
      rs->labels[j].name = lk_arena_strndup(a, st->labels[j].name, strlen(st->labels[j].name));
      rs->labels[j].value = lk_arena_strndup(a, st->labels[j].value, strlen(st->labels[j].value));
    }
  }
  pthread_rwlock_unlock(&s->lock);
  logstore__lq_free(q);
  *out_sets = lk_arena_alloc(a, (n ? n : 1) * sizeof **out_sets);
  memcpy(*out_sets, v, n * sizeof *v);
  free(v);
  *out_n = n;
  *out_arena = a;
  return 0;
}
