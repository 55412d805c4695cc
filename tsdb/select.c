/* select.c — series selection: matchers → postings per source (head and
 * every block overlapping the time range) → candidates merged by label set
 * → samples merged in time order, deduplicated → a tsdb_result.
 *
 * Per source, every matcher that does not match "" contributes the union
 * of the postings of the values it matches (intersected together); every
 * matcher that matches "" subtracts the postings of the values it does NOT
 * match (so series lacking the label stay in). Candidates from all sources
 * are sorted by (label set, source), blocks in list order before the head,
 * and each group's samples are gathered in that order, so the first source
 * wins a duplicated timestamp.
 *
 * Samples are copied once: block members decode (or copy from the sample
 * cache, scache.c) straight into one slab the result owns (slab.c), sized
 * by their chunk counts: a slice per group, a slot per member, compacted
 * in source order afterwards. Without the sample cache the slab holds
 * values only: series scraped together have equal timestamps, so the
 * result keeps one array per distinct timestamp column (tcols.c) and their
 * series point at it. A group with head members moves to its own
 * heap arrays (head samples are appended). Block chunks are time-ordered
 * and disjoint, so a group read from blocks that do not overlap in time is
 * already in order; other groups are sorted and deduplicated.
 *
 * Locks: cut_lock shared (no head cut moves data mid-query) → blocks_lock
 * shared (blocks stay mapped) → index_lock shared while reading head
 * postings → each head series' stripe while copying its samples. A large
 * block read runs on two threads under the caller's shared locks; the
 * helper thread takes no lock but the column table's (a leaf), owns its
 * frame caches and writes only its candidates' slots, and is joined
 * before the head is read.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_pair.h"
#include "tsdb/select_int.h"
#include "tsdb/tsdb_int.h"

struct tsdb_result {
  lk_arena *a;
  tsdb_series *s;
  size_t n, cap;
  void **own;                /* heap sample arrays taken over from groups */
  size_t nown, capown;
  tsdb__slab slab;           /* block samples of every group */
  tsdb__tcols *cols;         /* block timestamps, one copy per distinct column */
  tsdb__slabpool *pool;      /* a reference while slab is held */
  const lk_label *prev_src;  /* the source labels of the last series added (valid
                                while the select holds its locks) ... */
  const lk_label *prev;      /* ... and their copies */
  uint32_t prev_n;
};

typedef struct cand {
  const lk_label *labels;
  uint32_t nl;
  uint32_t src;              /* block index, or nblocks for the head */
  tsdb__series *hs;
  tsdb__bseries bs;
  size_t grp;                /* index of its group (equal label sets) */
  size_t base, bound, got;   /* block samples: slot [base, base+bound) of the
                                group's array, got of them filled */
  const int64_t *tcol;       /* with shared columns: its got timestamps */
} cand;

typedef struct sel {
  tsdb *db;
  const tsdb__cmatcher *cm;
  size_t nm;
  int64_t mint, maxt;
  cand *c;
  size_t n, cap;
  tsdb__fcache *fc;          /* one frame cache per block */
  bool disjoint;             /* the blocks read do not overlap in time */
  tsdb__tcols *cols;         /* the result's shared timestamp columns, or NULL:
                                timestamps are copied to the slab (the sample
                                cache serves them) */
} sel;

/*---- Postings per source ----*/

static void head_value_ids(const tsdb__hval *hv, tsdb__ids *out)
{
  tsdb__ids_append(out, hv->ids, hv->n);
}

/* Union of the postings of values v of cm->name with match(v) == want. */
static void head_matcher_ids(const tsdb__head *h, const tsdb__cmatcher *cm, bool want, tsdb__ids *out)
{
  const tsdb__hname *nm = tsdb__head_name(h, cm->name);
  if (!nm)
    return;
  if (want && (cm->type == TSDB_EQ || (cm->type == TSDB_RE && cm->alts))) {
    size_t n = cm->type == TSDB_EQ ? 1 : cm->nalts;
    for (size_t i = 0; i < n; i++) {
      uint32_t vi = tsdb__strmap_get(&nm->vmap, cm->type == TSDB_EQ ? cm->value : cm->alts[i]);
      if (vi != UINT32_MAX)
        head_value_ids(&nm->vals[vi], out);
    }
    return;
  }
  for (uint32_t i = 0; i < nm->nvals; i++)
    if (tsdb__matcher_match(cm, nm->vals[i].value) == want)
      head_value_ids(&nm->vals[i], out);
}

static int block_pair_ids(const tsdb__block *b, uint32_t pi, tsdb__ids *out)
{
  uint32_t *ids;
  size_t n;
  int rc = tsdb__block_postings(b, pi, &ids, &n);
  if (!rc) {
    tsdb__ids_append(out, ids, n);
    free(ids);
  }
  return rc;
}

static int block_matcher_ids(const tsdb__block *b, const tsdb__cmatcher *cm, bool want, tsdb__ids *out)
{
  uint32_t lo, hi;
  tsdb__block_name_range(b, cm->name, &lo, &hi);
  int rc = 0;
  for (uint32_t i = lo; i < hi && !rc; i++)
    if (tsdb__matcher_match(cm, b->syms[b->post[i].value]) == want)
      rc = block_pair_ids(b, i, out);
  return rc;
}

/* Ids of one source matching every matcher; src NULL = the head. */
static int source_ids(const sel *s, const tsdb__block *b, tsdb__ids *out)
{
  bool first = true;
  int rc = 0;
  for (int pass = 0; pass < 2 && !rc; pass++)
    for (size_t i = 0; i < s->nm && !rc; i++) {
      const tsdb__cmatcher *cm = &s->cm[i];
      if (cm->matches_empty != (pass == 1))
        continue;
      tsdb__ids tmp = {0};
      if (b)
        rc = block_matcher_ids(b, cm, !cm->matches_empty, &tmp);
      else
        head_matcher_ids(&s->db->head, cm, !cm->matches_empty, &tmp);
      tsdb__ids_sort_unique(&tmp);
      if (first) {
        tsdb__ids_fini(out);
        *out = tmp;
        first = false;
        continue;
      }
      if (pass == 0)
        tsdb__ids_intersect(out, &tmp);
      else
        tsdb__ids_subtract(out, &tmp);
      tsdb__ids_fini(&tmp);
    }
  return rc;
}

static cand *cand_push(sel *s)
{
  s->c = lk_xgrow(s->c, &s->cap, s->n + 1, sizeof *s->c);
  cand *c = &s->c[s->n++];
  memset(c, 0, sizeof *c);
  return c;
}

/* Series stay in the head after their samples moved to blocks (until head
 * GC drops them), so most head series may hold nothing in the range: they
 * are left out here instead of being sorted and merged with the blocks'. */
static bool head_has_data(tsdb__head *h, const tsdb__series *hs, int64_t mint, int64_t maxt)
{
  pthread_mutex_lock(tsdb__stripe(h, hs->id));
  bool o = tsdb__series_overlaps(hs, mint, maxt);
  pthread_mutex_unlock(tsdb__stripe(h, hs->id));
  return o;
}

static void head_candidates(sel *s, uint32_t src)
{
  tsdb__head *h = &s->db->head;
  tsdb__ids ids = {0};
  pthread_rwlock_rdlock(&h->index_lock);
  source_ids(s, NULL, &ids);
  for (size_t i = 0; i < ids.n; i++) {
    tsdb__series *hs = tsdb__head_by_id(h, ids.v[i]);
    if (!hs || !head_has_data(h, hs, s->mint, s->maxt))
      continue;
    cand *c = cand_push(s);
    c->labels = hs->labels;
    c->nl = hs->nlabels;
    c->src = src;
    c->hs = hs;
  }
  pthread_rwlock_unlock(&h->index_lock);
  tsdb__ids_fini(&ids);
}

static bool bseries_overlaps(const tsdb__bseries *bs, int64_t mint, int64_t maxt)
{
  for (uint32_t k = 0; k < bs->nchunks; k++)
    if (bs->chunks[k].maxt >= mint && bs->chunks[k].mint <= maxt)
      return true;
  return false;
}

static int block_candidates(sel *s, const tsdb__block *b, uint32_t src)
{
  tsdb__ids ids = {0};
  int rc = source_ids(s, b, &ids);
  for (size_t i = 0; i < ids.n && !rc; i++) {
    tsdb__bseries bs;
    rc = tsdb__block_series(b, ids.v[i], &bs);
    if (rc)
      break;
    if (!bseries_overlaps(&bs, s->mint, s->maxt)) {
      tsdb__bseries_fini(&bs);
      continue;
    }
    cand *c = cand_push(s);
    c->bs = bs;
    c->labels = c->bs.labels;
    c->nl = c->bs.nlabels;
    c->src = src;
  }
  tsdb__ids_fini(&ids);
  return rc;
}

static int cand_cmp(const void *a, const void *b)
{
  const cand *x = a, *y = b;
  int c = lk_labels_cmp(x->labels, x->nl, y->labels, y->nl);
  return c ? c : (x->src > y->src) - (x->src < y->src);
}

/* Is the run sorted (by labels; one source, so no ties)? */
static bool run_sorted(const cand *c, size_t n)
{
  for (size_t i = 1; i < n; i++)
    if (cand_cmp(&c[i - 1], &c[i]) > 0)
      return false;
  return true;
}

/* Merge the sorted runs c[0, mid) and c[mid, n) in place (tmp: room for mid). */
static void merge_runs(cand *c, size_t mid, size_t n, cand *tmp)
{
  memcpy(tmp, c, mid * sizeof *c);
  size_t i = 0, j = mid, k = 0;
  while (i < mid && j < n)
    c[k++] = cand_cmp(&tmp[i], &c[j]) <= 0 ? tmp[i++] : c[j++];
  while (i < mid)
    c[k++] = tmp[i++];
}

/* Sort candidates by (label set, source). They arrive in one run per
 * source; a block's run is in label order already (its ids are ascending
 * and a block numbers its series in label order), so only an unsorted run
 * (the head's) is sorted, then the runs are merged: n comparisons per
 * source instead of n log n. */
static void sort_candidates(sel *s)
{
  cand *tmp = NULL;
  size_t start = 0;
  while (start < s->n) {
    size_t end = start + 1;
    while (end < s->n && s->c[end].src == s->c[start].src)
      end++;
    if (!run_sorted(s->c + start, end - start))
      qsort(s->c + start, end - start, sizeof *s->c, cand_cmp);
    if (start) {
      if (!tmp)
        tmp = lk_xmalloc(s->n * sizeof *tmp);
      merge_runs(s->c, start, end, tmp);
    }
    start = end;
  }
  free(tmp);
}

/*---- Results ----*/

static void result_own(tsdb_result *r, void *p)
{
  r->own = lk_xgrow(r->own, &r->capown, r->nown + 1, sizeof *r->own);
  r->own[r->nown++] = p;
}

/* A copy of label i's name (which 0) or value (1) in the result's arena.
 * Source strings are interned (one copy per string in the head's label
 * index and in a block's symbol table), and series come in label order, so
 * neighbours share most strings by pointer: those share the copy too. */
static const char *copy_label_str(tsdb_result *r, uint32_t i, const char *src, int which)
{
  if (i < r->prev_n) {
    const lk_label *ps = &r->prev_src[i], *pc = &r->prev[i];
    if ((which ? ps->value : ps->name) == src)
      return which ? pc->value : pc->name;
  }
  return lk_arena_strndup(r->a, src, strlen(src));
}

/* Add a series; its samples (if v) are taken over from v, which is left
 * empty: heap arrays become the result's, a slab slice already is. */
static void result_add(tsdb_result *r, const lk_label *ls, uint32_t nl, tsdb__vec *v, bool heap)
{
  r->s = lk_xgrow(r->s, &r->cap, r->n + 1, sizeof *r->s);
  tsdb_series *o = &r->s[r->n++];
  lk_label *l = lk_arena_alloc(r->a, nl * sizeof *l);
  for (uint32_t i = 0; i < nl; i++) {
    l[i].name = copy_label_str(r, i, ls[i].name, 0);
    l[i].value = copy_label_str(r, i, ls[i].value, 1);
  }
  r->prev_src = ls;
  r->prev = l;
  r->prev_n = nl;
  o->labels = l;
  o->nlabels = nl;
  o->n = v ? v->n : 0;
  o->t = NULL;
  o->v = NULL;
  if (o->n && !heap) {
    o->t = v->t;
    o->v = v->v;
  } else if (o->n) {
    if (v->cap > 2 * v->n) { /* range filtering left most of the room unused */
      v->t = lk_xrealloc(v->t, v->n * sizeof *v->t);
      v->v = lk_xrealloc(v->v, v->n * sizeof *v->v);
    }
    result_own(r, v->t);
    result_own(r, v->v);
    o->t = v->t;
    o->v = v->v;
    *v = (tsdb__vec){0};
  }
}

static int slab_alloc(tsdb *db, tsdb_result *r, size_t bytes, lk_diag *d)
{
  if (tsdb__slab_alloc(db->slabs, bytes, &r->slab))
    return lk_diag_set(d, LK_ENOMEM, -1, "query needs %zu bytes of samples, more than can be mapped", bytes);
  r->pool = tsdb__slabpool_ref(db->slabs);
  return 0;
}

/* Does head candidate c have samples in the range? */
static bool head_overlaps(const sel *s, const cand *c)
{
  tsdb__head *h = &s->db->head;
  pthread_mutex_lock(tsdb__stripe(h, c->hs->id));
  bool o = tsdb__series_overlaps(c->hs, s->mint, s->maxt);
  pthread_mutex_unlock(tsdb__stripe(h, c->hs->id));
  return o;
}

static bool group_overlaps(const sel *s, const cand *c, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!c[i].hs || head_overlaps(s, &c[i]))
      return true; /* block candidates were filtered by time already */
  return false;
}

static int limit_diag(lk_diag *d, const char *what, uint64_t limit)
{
  return lk_diag_set(d, LK_ELIMIT, -1, "query selects more %s than the limit of %llu (max_%s)", what,
                     (unsigned long long)limit, what);
}

typedef struct fetch {
  uint32_t src;
  uint64_t off;
  size_t idx;
} fetch;

static int fetch_cmp(const void *a, const void *b)
{
  const fetch *x = a, *y = b;
  if (x->src != y->src)
    return x->src < y->src ? -1 : 1;
  if (x->off != y->off)
    return x->off < y->off ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Do the selected blocks overlap in time? (then samples may repeat) */
static bool blocks_overlap(tsdb__block **b, uint32_t nb, int64_t mint, int64_t maxt)
{
  int64_t end = INT64_MIN;
  bool any = false;
  for (uint32_t i = 0; i < nb; i++) {
    if (b[i]->maxt < mint || b[i]->mint > maxt)
      continue;
    if (any && b[i]->mint <= end)
      return true;
    end = b[i]->maxt > end ? b[i]->maxt : end;
    any = true;
  }
  return false;
}

/* Give each group a slice of the result's slab for its block members and
 * each member a slot in it, sized by its chunk counts. The vectors are
 * views into the slab (their cap is the slice). With shared timestamp
 * columns the slab holds values only, one run of them, so the memory a
 * query touches is half as large. */
static int plan_groups(sel *s, tsdb_result *r, tsdb__vec *gv, size_t ng, lk_diag *d)
{
  size_t total = 0;
  for (size_t i = 0; i < s->n; i++) {
    cand *c = &s->c[i];
    if (c->hs)
      continue;
    int rc = tsdb__block_bound(&c->bs, s->mint, s->maxt, &c->bound);
    if (rc)
      return rc;
    c->base = gv[c->grp].cap;
    gv[c->grp].cap += c->bound;
    total += c->bound;
  }
  size_t tsize = s->cols ? 0 : sizeof(int64_t);
  int rc = slab_alloc(s->db, r, total * (tsize + sizeof(double)), d);
  if (rc)
    return rc;
  uint8_t *p = r->slab.p;
  for (size_t g = 0; g < ng; g++) {
    gv[g].t = s->cols ? NULL : (int64_t *)(void *)p;
    gv[g].v = (double *)(void *)(p + gv[g].cap * tsize);
    p += gv[g].cap * (tsize + sizeof(double));
  }
  return 0;
}

/* One reader of a share of the fetch list. Readers write disjoint slots
 * and take no locks but the column table's (a leaf): the caller holds
 * cut_lock and blocks_lock shared for the whole read, and the head is not
 * touched. */
typedef struct reader {
  const sel *s;
  tsdb__block **blocks;
  tsdb__vec *gv;
  const fetch *f;
  size_t nf;
  tsdb__fcache *fc;          /* its own frame caches, one per block */
  tsdb__tscratch ts;         /* with shared columns */
  uint64_t stop_at;          /* give up past this many samples (0: never) */
  uint64_t total;
  int rc;
} reader;

static void *read_share(void *arg)
{
  reader *w = arg;
  for (size_t k = 0; k < w->nf && !w->rc; k++) {
    cand *c = &w->s->c[w->f[k].idx];
    tsdb__vec *v = &w->gv[c->grp];
    tsdb__scache *sc = w->s->db->scache;
    if (w->s->cols)
      w->rc = tsdb__block_samples_shared(w->blocks[c->src], &c->bs, w->s->mint, w->s->maxt, &w->fc[c->src],
                                         w->s->cols, &w->ts, v->v + c->base, c->bound, &c->tcol, &c->got);
    else
      w->rc = sc ? tsdb__scache_read(sc, w->blocks[c->src], &c->bs, w->s->mint, w->s->maxt, &w->fc[c->src],
                                     v->t + c->base, v->v + c->base, c->bound, &c->got)
                 : tsdb__block_samples_into(w->blocks[c->src], &c->bs, w->s->mint, w->s->maxt,
                                            &w->fc[c->src], v->t + c->base, v->v + c->base, c->bound, &c->got);
    w->total += w->rc ? 0 : c->got;
    if (w->stop_at && w->total > w->stop_at)
      break;
  }
  return NULL;
}

/* Reads at least this many samples are shared with a second thread. */
#define PARALLEL_MIN_SAMPLES 200000

/* Run the two readers, the second on its own thread when it has work (or
 * in turn when no thread can be started). */
static void read_parallel(reader *w, uint32_t nb)
{
  if (w[1].nf) {
    w[1].fc = lk_xcalloc(nb ? nb : 1, sizeof *w[1].fc);
    lk_run_pair(read_share, &w[0], &w[1]);
  } else {
    read_share(&w[0]);
  }
  for (int i = 0; i < 2; i++) {
    free(w[i].ts.t);
    lk_buf_fini(&w[i].ts.key);
  }
  if (w[1].fc)
    for (uint32_t i = 0; i < nb; i++)
      tsdb__fcache_fini(&w[1].fc[i]);
  free(w[1].fc);
}

/* Read every block candidate's samples in (block, frame) order, so each
 * frame is unpacked once even though results are produced in label order,
 * after asking the kernel to read all their frames at once (a cold read
 * then waits for one round of I/O, not one per frame); a large read is split in two halves of about equal samples, read by two
 * threads. Without overlapping blocks the raw count is exact, so
 * max_samples is enforced here, before the head is read. */
static int prefetch(const sel *s, tsdb__block **blocks, uint32_t nb, tsdb__vec *gv, uint64_t max_samples,
                    lk_diag *d)
{
  fetch *f = lk_xmalloc((s->n ? s->n : 1) * sizeof *f);
  size_t nf = 0;
  uint64_t bound = 0;
  for (size_t i = 0; i < s->n; i++)
    if (!s->c[i].hs && s->c[i].bound) {
      f[nf++] = (fetch){s->c[i].src, s->c[i].bs.grp_off, i};
      bound += s->c[i].bound;
    }
  if (nf)
    qsort(f, nf, sizeof *f, fetch_cmp);
  tsdb__readahead ra = {0};
  for (size_t i = 0; i < nf; i++)
    tsdb__readahead_add(&ra, blocks[f[i].src], &s->c[f[i].idx].bs);
  tsdb__readahead_flush(&ra);
  bool exact = s->disjoint;
  size_t split = nf;
  if (bound >= PARALLEL_MIN_SAMPLES && nf >= 2) {
    uint64_t half = 0;
    for (split = 0; split < nf - 1 && half * 2 < bound; split++)
      half += s->c[f[split].idx].bound;
  }
  reader w[2];
  for (int i = 0; i < 2; i++)
    w[i] = (reader){s, blocks, gv, i ? f + split : f, i ? nf - split : split, i ? NULL : s->fc, {0},
                    exact ? max_samples : 0, 0, 0};
  read_parallel(w, nb);
  free(f);
  int rc = w[0].rc ? w[0].rc : w[1].rc;
  if (!rc && exact && max_samples && w[0].total + w[1].total > max_samples)
    rc = limit_diag(d, "samples", max_samples);
  return rc;
}

/* Already strictly ascending within [mint, maxt]? (the common case: one
 * block, or blocks that do not overlap) — then normalizing would only copy. */
static bool normal(const tsdb__vec *v, int64_t mint, int64_t maxt)
{
  if (!v->n)
    return true;
  bool ok = v->t[0] >= mint && v->t[v->n - 1] <= maxt;
  for (size_t i = 1; i < v->n; i++)
    ok &= v->t[i - 1] < v->t[i];
  return ok;
}

/* The timestamps of a group's block members in source order, from the
 * shared columns: a lone member's column itself, else the concatenation
 * of the members' columns, kept once per distinct sequence of them (key:
 * scratch). NULL when no member has samples. */
static const int64_t *group_column(const sel *s, const cand *c, size_t n, size_t total, lk_buf *key)
{
  const cand *only = NULL;
  size_t members = 0;
  lk_buf_clear(key);
  lk_buf_append(key, "C", 1);
  for (size_t i = 0; i < n; i++) {
    if (c[i].hs || !c[i].got)
      continue;
    only = &c[i];
    members++;
    uint64_t ref[2] = {(uint64_t)(uintptr_t)c[i].tcol, c[i].got};
    lk_buf_append(key, ref, sizeof ref);
  }
  if (members <= 1)
    return only ? only->tcol : NULL;
  size_t have;
  const int64_t *col = tsdb__tcols_find(s->cols, key, &have);
  if (col)
    return col;
  int64_t *t = lk_xmalloc(total * sizeof *t), *p = t;
  for (size_t i = 0; i < n; i++)
    if (!c[i].hs && c[i].got) {
      memcpy(p, c[i].tcol, c[i].got * sizeof *p);
      p += c[i].got;
    }
  col = tsdb__tcols_add(s->cols, key, t, total);
  free(t);
  return col;
}

/* Copy v's samples to heap arrays of its own. */
static void vec_to_heap(tsdb__vec *v)
{
  tsdb__vec h = {0};
  if (v->n) {
    tsdb__vec_reserve(&h, v->n);
    memcpy(h.t, v->t, v->n * sizeof *h.t);
    memcpy(h.v, v->v, v->n * sizeof *h.v);
    h.n = v->n;
  }
  *v = h;
}

/* Gather a group's samples into v (a slab view; with shared columns, its
 * timestamps are group_column's): the block members' slots compacted in
 * source order, then, if head members have samples in the range (series
 * stay in the head after their samples moved to blocks), moved to heap
 * arrays (*heap set) with the head's samples appended; normalized unless
 * already in order (on heap arrays when the timestamps are shared). */
static int group_samples(const sel *s, cand *c, size_t n, lk_buf *key, tsdb__vec *v, bool *heap)
{
  int rc = 0;
  size_t w = 0;
  bool head = false;
  for (size_t i = 0; i < n; i++) {
    head = head || (c[i].hs && head_overlaps(s, &c[i]));
    if (c[i].hs || !c[i].got)
      continue;
    if (c[i].base != w) {
      if (!s->cols)
        memmove(v->t + w, v->t + c[i].base, c[i].got * sizeof *v->t);
      memmove(v->v + w, v->v + c[i].base, c[i].got * sizeof *v->v);
    }
    w += c[i].got;
  }
  v->n = w;
  if (s->cols)
    v->t = (int64_t *)group_column(s, c, n, w, key);
  *heap = head;
  if (head)
    vec_to_heap(v);
  for (size_t i = 0; head && i < n && !rc; i++) {
    if (!c[i].hs)
      continue;
    tsdb__head *hd = &s->db->head;
    pthread_mutex_lock(tsdb__stripe(hd, c[i].hs->id));
    rc = tsdb__series_collect(c[i].hs, s->mint, s->maxt, v);
    pthread_mutex_unlock(tsdb__stripe(hd, c[i].hs->id));
  }
  if (!(s->disjoint && !head) && !normal(v, s->mint, s->maxt)) {
    if (!*heap && s->cols) {
      vec_to_heap(v);
      *heap = true;
    }
    tsdb__vec_normalize(v, s->mint, s->maxt);
  }
  return rc;
}

/* Number the groups of equal label sets (candidates sorted); returns how many. */
static size_t number_groups(sel *s)
{
  size_t g = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (i && lk_labels_cmp(s->c[i - 1].labels, s->c[i - 1].nl, s->c[i].labels, s->c[i].nl))
      g++;
    s->c[i].grp = g;
  }
  return s->n ? g + 1 : 0;
}

static int build_result(sel *s, tsdb__block **blocks, uint32_t nb, const tsdb_select_opts *o,
                        tsdb_result *r, lk_diag *d)
{
  sort_candidates(s);
  size_t ng = number_groups(s);
  s->disjoint = !blocks_overlap(blocks, nb, s->mint, s->maxt);
  tsdb__vec *gv = lk_xcalloc(ng ? ng : 1, sizeof *gv);
  lk_buf key = {0};
  uint64_t samples = 0;
  if (!o->labels_only && !s->db->scache)
    s->cols = r->cols = tsdb__tcols_new();
  int rc = o->labels_only ? 0 : plan_groups(s, r, gv, ng, d);
  if (!rc && !o->labels_only)
    rc = prefetch(s, blocks, nb, gv, o->max_samples, d);
  for (size_t i = 0; i < s->n && !rc;) {
    size_t j = i + 1;
    while (j < s->n && s->c[j].grp == s->c[i].grp)
      j++;
    tsdb__vec *v = &gv[s->c[i].grp];
    bool keep, heap = false;
    if (o->labels_only) {
      keep = group_overlaps(s, s->c + i, j - i);
    } else {
      rc = group_samples(s, s->c + i, j - i, &key, v, &heap);
      keep = !rc && v->n > 0;
      samples += keep ? v->n : 0;
      if (!rc && o->max_samples && samples > o->max_samples)
        rc = limit_diag(d, "samples", o->max_samples);
    }
    if (!rc && keep) {
      if (o->max_series && r->n + 1 > o->max_series)
        rc = limit_diag(d, "series", o->max_series);
      else
        result_add(r, s->c[i].labels, s->c[i].nl, o->labels_only ? NULL : v, heap);
    }
    if (heap) /* not taken over (limit, error or no samples) */
      tsdb__vec_fini(v);
    i = j;
  }
  free(gv);
  lk_buf_fini(&key);
  if (rc == LK_ECORRUPT)
    lk_diag_set(d, rc, -1, "corrupt data encountered while reading series");
  return rc;
}

static int select_compile(const tsdb_matcher *m, size_t nm, tsdb__cmatcher **out, lk_diag *d)
{
  tsdb__cmatcher *cm = lk_xcalloc(nm ? nm : 1, sizeof *cm);
  int rc = 0;
  bool nonempty = false;
  for (size_t i = 0; i < nm && !rc; i++) {
    rc = tsdb__matcher_compile(&m[i], &cm[i], d);
    nonempty |= !rc && !cm[i].matches_empty;
  }
  if (!rc && !nonempty)
    rc = lk_diag_set(d, LK_EINVAL, -1, "vector selector must contain at least one non-empty matcher");
  if (rc) {
    for (size_t i = 0; i < nm; i++)
      tsdb__matcher_fini(&cm[i]);
    free(cm);
    return rc;
  }
  *out = cm;
  return 0;
}

int tsdb__select_compile(const tsdb_matcher *m, size_t nm, tsdb__cmatcher **out, lk_diag *d)
{
  return select_compile(m, nm, out, d);
}

int tsdb__block_ids(const tsdb__block *b, const tsdb__cmatcher *cm, size_t nm, tsdb__ids *out)
{
  sel s = {.cm = cm, .nm = nm};
  return source_ids(&s, b, out);
}

static int run_select(tsdb *db, const tsdb__cmatcher *cm, size_t nm, int64_t mint, int64_t maxt,
                      const tsdb_select_opts *o, tsdb_result *r, lk_diag *d)
{
  sel s = {.db = db, .cm = cm, .nm = nm, .mint = mint, .maxt = maxt};
  int rc = 0;
  pthread_rwlock_rdlock(&db->cut_lock);
  pthread_rwlock_rdlock(&db->blocks_lock);
  uint32_t nb = (uint32_t)db->nblocks;
  s.fc = lk_xcalloc(nb ? nb : 1, sizeof *s.fc);
  for (uint32_t i = 0; i < nb && !rc; i++)
    if (db->blocks[i]->chk && db->blocks[i]->maxt >= mint && db->blocks[i]->mint <= maxt)
      rc = block_candidates(&s, db->blocks[i], i);
  if (rc)
    lk_diag_set(d, rc, -1, "corrupt block index encountered while selecting series");
  if (!rc) {
    head_candidates(&s, nb);
    rc = build_result(&s, db->blocks, nb, o, r, d);
  }
  pthread_rwlock_unlock(&db->blocks_lock);
  pthread_rwlock_unlock(&db->cut_lock);
  for (uint32_t i = 0; i < nb; i++)
    tsdb__fcache_fini(&s.fc[i]);
  free(s.fc);
  for (size_t i = 0; i < s.n; i++)
    if (!s.c[i].hs)
      tsdb__bseries_fini(&s.c[i].bs);
  free(s.c);
  return rc;
}

int tsdb_select(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                const tsdb_select_opts *opts, tsdb_result **out, lk_diag *d)
{
  if (!db || !out || (nm && !m))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_select: bad arguments");
  tsdb__cmatcher *cm;
  int rc = select_compile(m, nm, &cm, d);
  if (rc)
    return rc;
  tsdb_select_opts o = opts ? *opts : (tsdb_select_opts){0};
  tsdb_result *r = lk_xcalloc(1, sizeof *r);
  r->a = lk_arena_new(64 * 1024);
  if (mint <= maxt)
    rc = run_select(db, cm, nm, mint, maxt, &o, r, d);
  for (size_t i = 0; i < nm; i++)
    tsdb__matcher_fini(&cm[i]);
  free(cm);
  if (rc) {
    tsdb_result_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

size_t tsdb_result_count(const tsdb_result *r)
{
  return r ? r->n : 0;
}

const tsdb_series *tsdb_result_get(const tsdb_result *r, size_t i)
{
  return r && i < r->n ? &r->s[i] : NULL;
}

void tsdb_result_free(tsdb_result *r)
{
  if (!r)
    return;
  lk_arena_free(r->a);
  for (size_t i = 0; i < r->nown; i++)
    free(r->own[i]);
  free(r->own);
  if (r->pool) {
    tsdb__slab_free(r->pool, &r->slab);
    tsdb__slabpool_unref(r->pool);
  }
  tsdb__tcols_free(r->cols);
  free(r->s);
  free(r);
}
