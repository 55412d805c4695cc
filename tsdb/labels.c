/* labels.c — label name/value listing and the status (cardinality) report.
 *
 * Without matchers, names and values come straight from the indexes (head
 * label index when the head's data overlaps the range, the postings table
 * of every overlapping block); with matchers, from the label sets of a
 * labels-only selection. The status top-N lists are computed from the head
 * index, as Prometheus does for /api/v1/status/tsdb.
 *
 * Locks: cut_lock → blocks_lock → index_lock, all shared (tsdb_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/select_int.h"
#include "tsdb/tsdb_int.h"


typedef struct strset {
  char **v;
  size_t n, cap;
  tsdb__strmap seen;   /* keys borrowed from v */
} strset;

static void strset_add(strset *s, const char *str)
{
  if (tsdb__strmap_get(&s->seen, str) != UINT32_MAX)
    return;
  s->v = lk_xgrow(s->v, &s->cap, s->n + 1, sizeof *s->v);
  s->v[s->n] = lk_xstrdup(str);
  tsdb__strmap_put(&s->seen, s->v[s->n], (uint32_t)s->n);
  s->n++;
}

static int strp_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strset_take(strset *s, char ***out, size_t *n)
{
  if (s->n)
    qsort(s->v, s->n, sizeof *s->v, strp_cmp);
  tsdb__strmap_fini(&s->seen);
  *out = s->v ? s->v : lk_xcalloc(1, sizeof(char *));
  *n = s->n;
}

void tsdb_strings_free(char **v, size_t n)
{
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static bool head_overlaps(tsdb *db, int64_t mint, int64_t maxt)
{
  int64_t mn = atomic_load(&db->head.min_t), mx = atomic_load(&db->head.max_t);
  return mn <= mx && mx >= mint && mn <= maxt;
}

/* name == NULL: collect label names; else the values of `name`. */
static void from_indexes(tsdb *db, const char *name, int64_t mint, int64_t maxt, strset *out)
{
  pthread_rwlock_rdlock(&db->cut_lock);
  pthread_rwlock_rdlock(&db->blocks_lock);
  for (size_t i = 0; i < db->nblocks; i++) {
    const tsdb__block *b = db->blocks[i];
    if (b->maxt < mint || b->mint > maxt)
      continue;
    uint32_t lo = 0, hi = b->npost;
    if (name)
      tsdb__block_name_range(b, name, &lo, &hi);
    for (uint32_t k = lo; k < hi; k++)
      strset_add(out, b->syms[name ? b->post[k].value : b->post[k].name]);
  }
  if (head_overlaps(db, mint, maxt)) {
    tsdb__head *h = &db->head;
    pthread_rwlock_rdlock(&h->index_lock);
    const tsdb__hname *nm = name ? tsdb__head_name(h, name) : NULL;
    for (uint32_t i = 0; !name && i < h->nnames; i++)
      strset_add(out, h->names[i].name);
    for (uint32_t i = 0; nm && i < nm->nvals; i++)
      strset_add(out, nm->vals[i].value);
    pthread_rwlock_unlock(&h->index_lock);
  }
  pthread_rwlock_unlock(&db->blocks_lock);
  pthread_rwlock_unlock(&db->cut_lock);
}

static int from_select(tsdb *db, const char *name, const tsdb_matcher *m, size_t nm, int64_t mint,
                       int64_t maxt, strset *out, lk_diag *d)
{
  tsdb_result *r;
  tsdb_select_opts o = {.labels_only = true};
  int rc = tsdb_select(db, m, nm, mint, maxt, &o, &r, d);
  if (rc)
    return rc;
  for (size_t i = 0; i < tsdb_result_count(r); i++) {
    const tsdb_series *s = tsdb_result_get(r, i);
    for (size_t k = 0; k < s->nlabels; k++)
      if (!name)
        strset_add(out, s->labels[k].name);
      else if (!strcmp(s->labels[k].name, name))
        strset_add(out, s->labels[k].value);
  }
  tsdb_result_free(r);
  return 0;
}

static int list(tsdb *db, const char *name, const tsdb_matcher *m, size_t nm, int64_t mint,
                int64_t maxt, char ***out, size_t *out_n, lk_diag *d)
{
  if (!db || !out || !out_n || (nm && !m))
    return lk_diag_set(d, LK_EINVAL, -1, "bad arguments");
  strset s = {0};
  int rc = 0;
  if (nm)
    rc = from_select(db, name, m, nm, mint, maxt, &s, d);
  else
    from_indexes(db, name, mint, maxt, &s);
  if (rc) {
    tsdb__strmap_fini(&s.seen);
    tsdb_strings_free(s.v, s.n);
    return rc;
  }
  strset_take(&s, out, out_n);
  return 0;
}

int tsdb_label_names(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                     char ***out, size_t *out_n, lk_diag *d)
{
  return list(db, NULL, m, nm, mint, maxt, out, out_n, d);
}

int tsdb_label_values(tsdb *db, const char *name, const tsdb_matcher *m, size_t nm, int64_t mint,
                      int64_t maxt, char ***out, size_t *out_n, lk_diag *d)
{
  if (!name)
    return lk_diag_set(d, LK_EINVAL, -1, "label name required");
  return list(db, name, m, nm, mint, maxt, out, out_n, d);
}

/*---- Status ----*/

static int count_cmp(const void *a, const void *b)
{
  const tsdb_count *x = a, *y = b;
  if (x->count != y->count)
    return x->count < y->count ? 1 : -1;
  return strcmp(x->name, y->name);
}

/* Sort descending, keep topn (freeing the rest). */
static void top(tsdb_count *c, size_t n, size_t topn, tsdb_count **out, size_t *nout)
{
  qsort(c, n, sizeof *c, count_cmp);
  size_t k = n < topn ? n : topn;
  for (size_t i = k; i < n; i++)
    free(c[i].name);
  *out = c;
  *nout = k;
}

static void head_tops(tsdb__head *h, size_t topn, tsdb_status *s)
{
  size_t np = h->label_pairs;
  tsdb_count *pairs = lk_xcalloc(np ? np : 1, sizeof *pairs);
  tsdb_count *vals = lk_xcalloc(h->nnames ? h->nnames : 1, sizeof *vals);
  tsdb_count *bytes = lk_xcalloc(h->nnames ? h->nnames : 1, sizeof *bytes);
  tsdb_count *metric = NULL;
  size_t nmetric = 0, k = 0;
  for (uint32_t i = 0; i < h->nnames; i++) {
    const tsdb__hname *nm = &h->names[i];
    bool is_name = !strcmp(nm->name, "__name__");
    if (is_name)
      metric = lk_xcalloc(nm->nvals ? nm->nvals : 1, sizeof *metric);
    uint64_t b = 0;
    for (uint32_t j = 0; j < nm->nvals; j++) {
      const tsdb__hval *hv = &nm->vals[j];
      b += strlen(hv->value);
      lk_buf kv = {0};
      lk_buf_printf(&kv, "%s=%s", nm->name, hv->value);
      pairs[k++] = (tsdb_count){(char *)lk_buf_take(&kv, NULL), hv->n};
      if (is_name)
        metric[nmetric++] = (tsdb_count){lk_xstrdup(hv->value), hv->n};
    }
    vals[i] = (tsdb_count){lk_xstrdup(nm->name), nm->nvals};
    bytes[i] = (tsdb_count){lk_xstrdup(nm->name), b};
  }
  top(pairs, k, topn, &s->series_by_pair, &s->n_series_by_pair);
  top(vals, h->nnames, topn, &s->values_by_label, &s->n_values_by_label);
  top(bytes, h->nnames, topn, &s->bytes_by_label, &s->n_bytes_by_label);
  if (metric)
    top(metric, nmetric, topn, &s->series_by_metric, &s->n_series_by_metric);
}

static void block_stats(tsdb *db, tsdb_status *s)
{
  s->min_t = INT64_MAX;
  s->max_t = INT64_MIN;
  pthread_rwlock_rdlock(&db->blocks_lock);
  s->blocks = db->nblocks;
  for (size_t i = 0; i < db->nblocks; i++) {
    const tsdb__block *b = db->blocks[i];
    s->block_bytes += b->bytes;
    s->block_samples += b->nsamples;
    s->min_t = b->mint < s->min_t ? b->mint : s->min_t;
    s->max_t = b->maxt > s->max_t ? b->maxt : s->max_t;
  }
  pthread_rwlock_unlock(&db->blocks_lock);
}

int tsdb_status_get(tsdb *db, size_t topn, tsdb_status **out)
{
  if (!db || !out)
    return LK_EINVAL;
  tsdb_status *s = lk_xcalloc(1, sizeof *s);
  tsdb__head *h = &db->head;
  pthread_rwlock_rdlock(&db->cut_lock);
  block_stats(db, s);
  pthread_rwlock_rdlock(&h->index_lock);
  s->head_series = h->live_series;
  s->head_label_pairs = h->label_pairs;
  head_tops(h, topn, s);
  pthread_rwlock_unlock(&h->index_lock);
  s->head_samples = atomic_load(&h->nsamples);
  s->head_chunks = atomic_load(&h->nchunks);
  int64_t mn = atomic_load(&h->min_t), mx = atomic_load(&h->max_t);
  if (mn <= mx) {
    s->head_min_t = mn;
    s->head_max_t = mx;
    s->min_t = mn < s->min_t ? mn : s->min_t;
    s->max_t = mx > s->max_t ? mx : s->max_t;
  }
  if (s->min_t > s->max_t)
    s->min_t = s->max_t = 0;
  pthread_rwlock_unlock(&db->cut_lock);
  s->wal_bytes = atomic_load(&db->wal.bytes);
  s->wal_errors_total = atomic_load(&db->wal.errors);
  s->samples_appended_total = atomic_load(&db->appended);
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    s->samples_rejected_total[r] = atomic_load(&db->rejected[r]);
  s->series_created_total = atomic_load(&db->series_created);
  tsdb__scache_stat cs;
  tsdb__scache_stats_get(db->scache, &cs);
  s->sample_cache_hits_total = cs.hits;
  s->sample_cache_misses_total = cs.misses;
  s->sample_cache_bytes = cs.bytes;
  s->sample_cache_evictions_total = cs.evictions;
  *out = s;
  return 0;
}

static void counts_free(tsdb_count *c, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(c[i].name);
  free(c);
}

void tsdb_status_free(tsdb_status *s)
{
  if (!s)
    return;
  counts_free(s->series_by_metric, s->n_series_by_metric);
  counts_free(s->values_by_label, s->n_values_by_label);
  counts_free(s->bytes_by_label, s->n_bytes_by_label);
  counts_free(s->series_by_pair, s->n_series_by_pair);
  free(s);
}
