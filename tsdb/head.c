/* head.c — the head's series tables, in-memory label index and head GC.
 *
 * Series are addressed by a uint32 id (0 is never used) handed out
 * ascending, so postings (name → values → ascending id list) stay sorted by
 * appending; ids found in the WAL are kept on replay. Two hash tables find
 * a series by id and by label set; both shrink and grow with the number of
 * live series, so memory follows the live series, not every series ever
 * created.
 *
 * Head GC (tsdb__head_gc, at head cuts and flush) drops series whose data
 * is all persisted and that received no sample for a while. A caller's
 * tsdb_ref is epoch << 32 | id: ids are not reused until the id space wraps
 * (then epoch counts up), so the ref of a dropped series finds nothing, or
 * a series of another epoch, and is refused as stale (LK_ENOENT) instead of
 * reaching freed memory. Label strings are owned by the label index entry
 * (one per name and per name=value pair) and freed with the last series
 * using them.
 *
 * Locking: everything here is guarded by head->index_lock; the caller takes
 * it (shared for lookups, exclusive for creation), except tsdb__head_gc,
 * which takes it itself. Series sample data is not touched here (see
 * head_series.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb_int.h"

#define STAB_MIN 1024

/*---- Series tables ----*/

static uint64_t key_of_id(uint32_t id) { return (uint64_t)id * 0x9E3779B97F4A7C15ULL; }

static uint64_t key_by_id(const tsdb__series *s) { return key_of_id(s->id); }

static uint64_t key_by_labels(const tsdb__series *s) { return s->hash; }

typedef uint64_t (*stab_key)(const tsdb__series *s);

static void stab_init(tsdb__stab *t)
{
  t->cap = STAB_MIN;
  t->n = 0;
  t->slot = lk_xcalloc(t->cap, sizeof *t->slot);
}

static void stab_place(tsdb__stab *t, stab_key key, tsdb__series *s)
{
  size_t mask = t->cap - 1;
  size_t i = (size_t)key(s) & mask;
  while (t->slot[i])
    i = (i + 1) & mask;
  t->slot[i] = s;
}

static void stab_resize(tsdb__stab *t, stab_key key, size_t cap)
{
  tsdb__series **old = t->slot;
  size_t oldcap = t->cap;
  t->cap = cap;
  t->slot = lk_xcalloc(cap, sizeof *t->slot);
  for (size_t i = 0; i < oldcap; i++)
    if (old[i])
      stab_place(t, key, old[i]);
  free(old);
}

static void stab_insert(tsdb__stab *t, stab_key key, tsdb__series *s)
{
  if ((t->n + 1) * 2 > t->cap)
    stab_resize(t, key, t->cap * 2);
  stab_place(t, key, s);
  t->n++;
}

/* Remove s, shifting later members of its probe run back into the hole. */
static void stab_remove(tsdb__stab *t, stab_key key, const tsdb__series *s)
{
  size_t mask = t->cap - 1;
  size_t i = (size_t)key(s) & mask;
  while (t->slot[i] != s)
    i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
    size_t home = (size_t)key(t->slot[j]) & mask;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      t->slot[i] = t->slot[j];
      i = j;
    }
  }
  t->slot[i] = NULL;
  t->n--;
}

/* After removals: back to at most four slots per member. */
static void stab_shrink(tsdb__stab *t, stab_key key)
{
  size_t cap = t->cap;
  while (cap > STAB_MIN && t->n * 8 < cap)
    cap /= 2;
  if (cap != t->cap)
    stab_resize(t, key, cap);
}

void tsdb__head_init(tsdb__head *h)
{
  memset(h, 0, sizeof *h);
  pthread_rwlock_init(&h->index_lock, NULL);
  for (int i = 0; i < TSDB_NSTRIPE; i++)
    pthread_mutex_init(&h->stripe[i], NULL);
  stab_init(&h->byid);
  stab_init(&h->bylabels);
  h->next_id = 1;
  atomic_store(&h->min_t, INT64_MAX);
  atomic_store(&h->max_t, INT64_MIN);
}

static void series_free(tsdb__series *s)
{
  for (uint32_t i = 0; i < s->nchunks; i++)
    free(s->chunks[i].data);
  free(s->chunks);
  tsdb__ochunk_fini(&s->open);
  tsdb__vec_fini(&s->ooo);
  free(s->labels);
  free(s);
}

static void hname_fini(tsdb__hname *nm)
{
  for (uint32_t j = 0; j < nm->nvals; j++) {
    free(nm->vals[j].ids);
    free(nm->vals[j].value);
  }
  free(nm->vals);
  tsdb__strmap_fini(&nm->vmap);
  free(nm->name);
}

void tsdb__head_fini(tsdb__head *h)
{
  for (size_t i = 0; i < h->byid.cap; i++)
    if (h->byid.slot[i])
      series_free(h->byid.slot[i]);
  free(h->byid.slot);
  free(h->bylabels.slot);
  for (uint32_t i = 0; i < h->nnames; i++)
    hname_fini(&h->names[i]);
  free(h->names);
  tsdb__strmap_fini(&h->nmap);
  for (int i = 0; i < TSDB_NSTRIPE; i++)
    pthread_mutex_destroy(&h->stripe[i]);
  pthread_rwlock_destroy(&h->index_lock);
}

tsdb__series *tsdb__head_find(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash)
{
  size_t mask = h->bylabels.cap - 1;
  for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
    tsdb__series *s = h->bylabels.slot[i];
    if (!s || (s->hash == hash && lk_labels_equal(s->labels, s->nlabels, ls, n)))
      return s;
  }
}

tsdb__series *tsdb__head_by_id(const tsdb__head *h, uint32_t id)
{
  size_t mask = h->byid.cap - 1;
  for (size_t i = (size_t)key_of_id(id) & mask;; i = (i + 1) & mask) {
    tsdb__series *s = h->byid.slot[i];
    if (!s || s->id == id)
      return s;
  }
}

int tsdb__head_by_ref(const tsdb__head *h, tsdb_ref ref, tsdb__series **out)
{
  uint32_t id = (uint32_t)ref, epoch = (uint32_t)(ref >> 32);
  tsdb__series *s = id ? tsdb__head_by_id(h, id) : NULL;
  if (s && s->epoch == epoch) {
    *out = s;
    return 0;
  }
  bool issued = id && (epoch < h->epoch || (epoch == h->epoch && id < h->next_id));
  return issued ? LK_ENOENT : LK_EINVAL;
}

/*---- Label index ----*/

static tsdb__hname *name_entry(tsdb__head *h, const char *name)
{
  uint32_t ni = tsdb__strmap_get(&h->nmap, name);
  if (ni == UINT32_MAX) {
    size_t cap = h->capnames;
    h->names = lk_xgrow(h->names, &cap, h->nnames + 1, sizeof *h->names);
    h->capnames = (uint32_t)cap;
    ni = h->nnames++;
    memset(&h->names[ni], 0, sizeof h->names[ni]);
    h->names[ni].name = lk_xstrdup(name);
    tsdb__strmap_put(&h->nmap, h->names[ni].name, ni);
  }
  return &h->names[ni];
}

static tsdb__hval *value_entry(tsdb__head *h, tsdb__hname *nm, const char *value)
{
  uint32_t vi = tsdb__strmap_get(&nm->vmap, value);
  if (vi == UINT32_MAX) {
    size_t cap = nm->capvals;
    nm->vals = lk_xgrow(nm->vals, &cap, nm->nvals + 1, sizeof *nm->vals);
    nm->capvals = (uint32_t)cap;
    vi = nm->nvals++;
    memset(&nm->vals[vi], 0, sizeof nm->vals[vi]);
    nm->vals[vi].value = lk_xstrdup(value);
    tsdb__strmap_put(&nm->vmap, nm->vals[vi].value, vi);
    h->label_pairs++;
  }
  return &nm->vals[vi];
}

/* Add id to the postings of name=value; the label's stored strings go to *out. */
static void postings_add(tsdb__head *h, const lk_label *l, uint32_t id, lk_label *out)
{
  tsdb__hname *nm = name_entry(h, l->name);
  tsdb__hval *hv = value_entry(h, nm, l->value);
  size_t cap = hv->cap;
  hv->ids = lk_xgrow(hv->ids, &cap, hv->n + 1, sizeof *hv->ids);
  hv->cap = (uint32_t)cap;
  /* ids are created ascending except on replay with kept ids and after the
   * id space wrapped: insert in place */
  uint32_t pos = hv->n;
  while (pos > 0 && hv->ids[pos - 1] > id)
    pos--;
  memmove(hv->ids + pos + 1, hv->ids + pos, (hv->n - pos) * sizeof *hv->ids);
  hv->ids[pos] = id;
  hv->n++;
  *out = (lk_label){nm->name, hv->value};
}

static uint32_t next_free_id(tsdb__head *h)
{
  for (;;) {
    if (h->next_id == UINT32_MAX) {
      h->next_id = 1;
      h->epoch++;
    }
    uint32_t id = h->next_id++;
    if (!tsdb__head_by_id(h, id))
      return id;
  }
}

tsdb__series *tsdb__head_create(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash, uint32_t id)
{
  if (!id)
    id = next_free_id(h);
  else if (id >= h->next_id)
    h->next_id = id + 1;
  tsdb__series *s = lk_xcalloc(1, sizeof *s);
  s->id = id;
  s->epoch = h->epoch;
  s->hash = hash;
  s->nlabels = (uint32_t)n;
  atomic_store(&s->check_blocks, true);
  s->labels = lk_xmalloc((n ? n : 1) * sizeof *s->labels);
  for (size_t i = 0; i < n; i++)
    postings_add(h, &ls[i], id, &s->labels[i]);
  stab_insert(&h->byid, key_by_id, s);
  stab_insert(&h->bylabels, key_by_labels, s);
  h->live_series++;
  return s;
}

const tsdb__hname *tsdb__head_name(const tsdb__head *h, const char *name)
{
  uint32_t ni = tsdb__strmap_get(&h->nmap, name);
  return ni == UINT32_MAX ? NULL : &h->names[ni];
}

/*---- Head GC ----*/

/* Keep the ids of live series; false when none is left. */
static bool hval_sweep(const tsdb__head *h, tsdb__hval *hv)
{
  uint32_t w = 0;
  for (uint32_t i = 0; i < hv->n; i++)
    if (tsdb__head_by_id(h, hv->ids[i]))
      hv->ids[w++] = hv->ids[i];
  hv->n = w;
  if (w && hv->cap > 2 * w + 16) {
    hv->ids = lk_xrealloc(hv->ids, w * sizeof *hv->ids);
    hv->cap = w;
  }
  return w > 0;
}

static void rebuild_vmap(tsdb__hname *nm)
{
  tsdb__strmap_fini(&nm->vmap);
  for (uint32_t i = 0; i < nm->nvals; i++)
    tsdb__strmap_put(&nm->vmap, nm->vals[i].value, i);
}

/* Drop the postings of dead ids, then values and names no series uses. */
static void postings_sweep(tsdb__head *h)
{
  uint32_t wn = 0;
  for (uint32_t ni = 0; ni < h->nnames; ni++) {
    tsdb__hname *nm = &h->names[ni];
    uint32_t wv = 0;
    for (uint32_t vi = 0; vi < nm->nvals; vi++) {
      tsdb__hval *hv = &nm->vals[vi];
      if (hval_sweep(h, hv)) {
        nm->vals[wv++] = *hv;
        continue;
      }
      free(hv->ids);
      free(hv->value);
      h->label_pairs--;
    }
    bool changed = wv != nm->nvals;
    nm->nvals = wv;
    if (!wv) {
      hname_fini(nm);
      continue;
    }
    if (changed)
      rebuild_vmap(nm);
    h->names[wn++] = *nm;
  }
  if (wn != h->nnames) {
    h->nnames = wn;
    tsdb__strmap_fini(&h->nmap);
    for (uint32_t i = 0; i < wn; i++)
      tsdb__strmap_put(&h->nmap, h->names[i].name, i);
  }
}

/* Nothing in the head and nothing since idle_before. A series given no
 * sample since it entered the head (resolved, maybe again after a GC, then
 * its samples refused or not sent yet) survives one GC, so a ref resolved
 * just before a cut is still good for its append. */
static bool series_idle(tsdb__series *s, int64_t idle_before)
{
  if (!tsdb__series_empty(s))
    return false;
  if (s->sampled)
    return s->max_t < idle_before;
  bool seen = s->gc_seen;
  s->gc_seen = true;
  return seen;
}

size_t tsdb__head_gc(tsdb__head *h, int64_t idle_before)
{
  pthread_rwlock_wrlock(&h->index_lock);
  tsdb__series **drop = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < h->byid.cap; i++) {
    tsdb__series *s = h->byid.slot[i];
    if (s && series_idle(s, idle_before)) {
      drop = lk_xgrow(drop, &cap, n + 1, sizeof *drop);
      drop[n++] = s;
    }
  }
  for (size_t i = 0; i < n; i++) {
    stab_remove(&h->byid, key_by_id, drop[i]);
    stab_remove(&h->bylabels, key_by_labels, drop[i]);
  }
  if (n) {
    h->live_series -= n;
    postings_sweep(h);
    stab_shrink(&h->byid, key_by_id);
    stab_shrink(&h->bylabels, key_by_labels);
  }
  pthread_rwlock_unlock(&h->index_lock);
  for (size_t i = 0; i < n; i++)
    series_free(drop[i]);
  free(drop);
  return n;
}
