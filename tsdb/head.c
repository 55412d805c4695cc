/* head.c — the head's series table and in-memory label index.
 *
 * Series are addressed by a dense uint32 id (id 0 is never used); ids are
 * never reused while the database is open, so a tsdb_ref stays valid until
 * tsdb_close, and ids found in the WAL are kept on replay (the table may
 * have holes). A labels-hash table maps label sets to ids; the label index
 * is name → values → ascending id list (postings), built as series are
 * created, which keeps postings sorted without any sort step.
 *
 * Locking: everything here is guarded by head->index_lock; the caller takes
 * it (shared for lookups, exclusive for creation). Series sample data is not
 * touched here (see head_series.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb_int.h"

void tsdb__head_init(tsdb__head *h)
{
  memset(h, 0, sizeof *h);
  pthread_rwlock_init(&h->index_lock, NULL);
  for (int i = 0; i < TSDB_NSTRIPE; i++)
    pthread_mutex_init(&h->stripe[i], NULL);
  h->strings = lk_intern_new();
  h->nseries_slots = 1; /* id 0 unused */
  h->capseries = 1024;
  h->series = lk_xcalloc(h->capseries, sizeof *h->series);
  h->htab_cap = 1024;
  h->htab = lk_xcalloc(h->htab_cap, sizeof *h->htab);
  atomic_store(&h->min_t, INT64_MAX);
  atomic_store(&h->max_t, INT64_MIN);
}

static void series_free(tsdb__series *s)
{
  for (uint32_t i = 0; i < s->nchunks; i++)
    free(s->chunks[i].data);
  free(s->chunks);
  free(s->bt);
  free(s->bv);
  tsdb__vec_fini(&s->ooo);
  free(s->labels);
  free(s);
}

void tsdb__head_fini(tsdb__head *h)
{
  for (uint32_t i = 0; i < h->nseries_slots; i++)
    if (h->series[i])
      series_free(h->series[i]);
  free(h->series);
  free(h->htab);
  for (uint32_t i = 0; i < h->nnames; i++) {
    tsdb__hname *nm = &h->names[i];
    for (uint32_t j = 0; j < nm->nvals; j++)
      free(nm->vals[j].ids);
    free(nm->vals);
    tsdb__strmap_fini(&nm->vmap);
  }
  free(h->names);
  tsdb__strmap_fini(&h->nmap);
  lk_intern_free(h->strings);
  for (int i = 0; i < TSDB_NSTRIPE; i++)
    pthread_mutex_destroy(&h->stripe[i]);
  pthread_rwlock_destroy(&h->index_lock);
}

tsdb__series *tsdb__head_find(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash)
{
  size_t mask = h->htab_cap - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    uint32_t id = h->htab[i];
    if (!id)
      return NULL;
    tsdb__series *s = h->series[id];
    if (s->hash == hash && lk_labels_equal(s->labels, s->nlabels, ls, n))
      return s;
  }
}

static void htab_insert(tsdb__head *h, uint64_t hash, uint32_t id)
{
  size_t mask = h->htab_cap - 1;
  size_t i = (size_t)hash & mask;
  while (h->htab[i])
    i = (i + 1) & mask;
  h->htab[i] = id;
}

static void htab_grow(tsdb__head *h)
{
  free(h->htab);
  h->htab_cap *= 2;
  h->htab = lk_xcalloc(h->htab_cap, sizeof *h->htab);
  for (uint32_t id = 1; id < h->nseries_slots; id++)
    if (h->series[id])
      htab_insert(h, h->series[id]->hash, id);
}

static void postings_add(tsdb__head *h, const char *name, const char *value, uint32_t id)
{
  uint32_t ni = tsdb__strmap_get(&h->nmap, name);
  if (ni == UINT32_MAX) {
    size_t cap = h->capnames;
    h->names = lk_xgrow(h->names, &cap, h->nnames + 1, sizeof *h->names);
    h->capnames = (uint32_t)cap;
    ni = h->nnames++;
    memset(&h->names[ni], 0, sizeof h->names[ni]);
    h->names[ni].name = name;
    tsdb__strmap_put(&h->nmap, name, ni);
  }
  tsdb__hname *nm = &h->names[ni];
  uint32_t vi = tsdb__strmap_get(&nm->vmap, value);
  if (vi == UINT32_MAX) {
    size_t cap = nm->capvals;
    nm->vals = lk_xgrow(nm->vals, &cap, nm->nvals + 1, sizeof *nm->vals);
    nm->capvals = (uint32_t)cap;
    vi = nm->nvals++;
    memset(&nm->vals[vi], 0, sizeof nm->vals[vi]);
    nm->vals[vi].value = value;
    tsdb__strmap_put(&nm->vmap, value, vi);
    h->label_pairs++;
  }
  tsdb__hval *hv = &nm->vals[vi];
  size_t cap = hv->cap;
  hv->ids = lk_xgrow(hv->ids, &cap, hv->n + 1, sizeof *hv->ids);
  hv->cap = (uint32_t)cap;
  /* ids are created ascending except on replay with kept ids: insert in place */
  uint32_t pos = hv->n;
  while (pos > 0 && hv->ids[pos - 1] > id)
    pos--;
  memmove(hv->ids + pos + 1, hv->ids + pos, (hv->n - pos) * sizeof *hv->ids);
  hv->ids[pos] = id;
  hv->n++;
}

tsdb__series *tsdb__head_create(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash, uint32_t id)
{
  if (!id)
    id = h->nseries_slots;
  if (id >= h->capseries) {
    size_t cap = h->capseries;
    h->series = lk_xgrow(h->series, &cap, (size_t)id + 1, sizeof *h->series);
    memset(h->series + h->capseries, 0, (cap - h->capseries) * sizeof *h->series);
    h->capseries = (uint32_t)cap;
  }
  if (id >= h->nseries_slots)
    h->nseries_slots = id + 1;
  tsdb__series *s = lk_xcalloc(1, sizeof *s);
  s->id = id;
  s->hash = hash;
  s->nlabels = (uint32_t)n;
  atomic_store(&s->check_blocks, true);
  s->labels = lk_xmalloc((n ? n : 1) * sizeof *s->labels);
  for (size_t i = 0; i < n; i++) {
    s->labels[i].name = lk_intern_str(h->strings, ls[i].name, strlen(ls[i].name));
    s->labels[i].value = lk_intern_str(h->strings, ls[i].value, strlen(ls[i].value));
    postings_add(h, s->labels[i].name, s->labels[i].value, id);
  }
  h->series[id] = s;
  if ((h->live_series + 1) * 2 > h->htab_cap)
    htab_grow(h);
  htab_insert(h, hash, id);
  h->live_series++;
  return s;
}

const tsdb__hname *tsdb__head_name(const tsdb__head *h, const char *name)
{
  uint32_t ni = tsdb__strmap_get(&h->nmap, name);
  return ni == UINT32_MAX ? NULL : &h->names[ni];
}
