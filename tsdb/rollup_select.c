/* rollup_select.c — tsdb_select_rollup: the rollup records of the series a
 * selector matches, merged over the blocks of a time range, or LK_ENOENT
 * when they would not describe exactly the samples tsdb_select returns
 * (the caller then reads raw samples).
 *
 * Blocks in range must each carry the resolution and must not overlap in
 * time, and the head must hold nothing at or before the range's end: then
 * every sample in range is in exactly one block's records, and a bucket
 * split between two neighbouring blocks (a sample on the block boundary)
 * is folded in time order (tsdb__rvec_push).
 *
 * Records are decoded when asked for, one series at a time
 * (tsdb_rollup_get), from the unpacked frames the result keeps: a query
 * over many series and hours holds their encoded streams (a few bytes a
 * record) instead of every decoded record at once, which a cold process
 * would first have to page in.
 *
 * Locks: cut_lock shared → blocks_lock shared while checking and reading,
 * as select.c; the result copies what it keeps. A result is used by one
 * thread at a time per slot (tsdb_rollup_get reuses the slot's records).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/select_int.h"
#include "tsdb/tsdb_int.h"

typedef struct rseries {
  lk_label *labels;          /* in the arena */
  uint32_t nl;
  size_t piece, npieces;     /* its streams, one per block, in time order */
} rseries;

#define CORRUPT_MSG "corrupt rollup data encountered while reading series"

struct tsdb_rollup_result {
  lk_arena *a;
  rseries *s;
  size_t n, cap;
  tsdb__rstream *pieces;     /* pointing into caches' frames */
  size_t npieces, cappieces;
  tsdb__rcache *caches;      /* one per block of the database at select time */
  size_t ncaches;
  int64_t lo, hi;            /* bucket ends in range */
  tsdb__rvec v[TSDB_ROLLUP_SLOTS]; /* per slot, the records of the series last got */
};

typedef struct rcand {
  lk_label *labels;          /* heap array; strings in the block's mapping */
  uint32_t nl, block, id;
} rcand;

static int rcand_cmp(const void *a, const void *b)
{
  const rcand *x = a, *y = b;
  int c = lk_labels_cmp(x->labels, x->nl, y->labels, y->nl);
  return c ? c : (x->block > y->block) - (x->block < y->block);
}

static bool in_range(const tsdb__block *b, int64_t mint, int64_t maxt)
{
  return b->maxt >= mint && b->mint <= maxt;
}

/* Do the rollups describe every sample in [mint, maxt] exactly once? */
static bool servable(tsdb *db, int64_t mint, int64_t maxt, int64_t res)
{
  if (atomic_load(&db->head.min_t) <= maxt)
    return false;
  const tsdb__block *prev = NULL;
  for (size_t i = 0; i < db->nblocks; i++) {
    const tsdb__block *b = db->blocks[i];
    if (!in_range(b, mint, maxt))
      continue;
    if (!tsdb__rollup_has(b->ru, res) || (prev && prev->maxt >= b->mint))
      return false;
    prev = b;
  }
  return true;
}

static int collect(tsdb *db, const tsdb__cmatcher *cm, size_t nm, int64_t mint, int64_t maxt, rcand **out,
                   size_t *nout)
{
  rcand *c = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (size_t i = 0; i < db->nblocks && !rc; i++) {
    const tsdb__block *b = db->blocks[i];
    if (!in_range(b, mint, maxt))
      continue;
    tsdb__ids ids = {0};
    rc = tsdb__block_ids(b, cm, nm, &ids);
    for (size_t k = 0; k < ids.n && !rc; k++) {
      tsdb__bseries bs;
      if ((rc = tsdb__block_series(b, ids.v[k], &bs)))
        break;
      free(bs.chunks);
      c = lk_xgrow(c, &cap, n + 1, sizeof *c);
      c[n++] = (rcand){bs.labels, bs.nlabels, (uint32_t)i, ids.v[k]};
    }
    tsdb__ids_fini(&ids);
  }
  if (n)
    qsort(c, n, sizeof *c, rcand_cmp);
  *out = c;
  *nout = n;
  return rc;
}

static void result_add(tsdb_rollup_result *r, const rcand *c, size_t piece)
{
  r->s = lk_xgrow(r->s, &r->cap, r->n + 1, sizeof *r->s);
  lk_label *ls = lk_arena_alloc(r->a, c->nl * sizeof *ls);
  for (uint32_t i = 0; i < c->nl; i++)
    ls[i] = (lk_label){lk_arena_strndup(r->a, c->labels[i].name, strlen(c->labels[i].name)),
                       lk_arena_strndup(r->a, c->labels[i].value, strlen(c->labels[i].value))};
  r->s[r->n++] = (rseries){ls, c->nl, piece, r->npieces - piece};
}

/* Keep candidate c's stream when it has a record in range (*any then set). */
static int add_piece(tsdb_rollup_result *r, const tsdb__block *b, const rcand *c, int64_t res, tsdb__rvec *probe,
                     bool *any)
{
  tsdb__rstream st;
  int rc = tsdb__rollup_stream(b->ru, res, c->id, &r->caches[c->block], &st);
  probe->n = probe->nresets = 0;
  if (!rc)
    rc = tsdb__rollup_decode(&st, r->lo, r->hi, 1, probe);
  if (rc || !probe->n)
    return rc;
  r->pieces = lk_xgrow(r->pieces, &r->cappieces, r->npieces + 1, sizeof *r->pieces);
  r->pieces[r->npieces++] = st;
  *any = true;
  return 0;
}

static int read_groups(tsdb *db, const rcand *c, size_t n, int64_t res, uint64_t max_series, tsdb_rollup_result *r,
                       lk_diag *d)
{
  r->ncaches = db->nblocks;
  r->caches = lk_xcalloc(db->nblocks ? db->nblocks : 1, sizeof *r->caches);
  tsdb__rvec probe = {0};
  int rc = 0;
  for (size_t i = 0; i < n && !rc;) {
    size_t j = i, piece = r->npieces;
    bool any = false;
    for (; j < n && !lk_labels_cmp(c[i].labels, c[i].nl, c[j].labels, c[j].nl) && !rc; j++)
      rc = add_piece(r, db->blocks[c[j].block], &c[j], res, &probe, &any);
    if (!rc && any && max_series && r->n >= max_series)
      rc = lk_diag_set(d, LK_ELIMIT, -1, "the query hit the series limit (%llu): narrow the selector",
                       (unsigned long long)max_series);
    if (!rc && any)
      result_add(r, &c[i], piece);
    i = j;
  }
  if (rc == LK_ECORRUPT)
    lk_diag_set(d, rc, -1, CORRUPT_MSG);
  tsdb__rvec_fini(&probe);
  return rc;
}

static bool aligned(int64_t mint, int64_t maxt, int64_t res)
{
  bool known = false;
  for (size_t i = 0; i < TSDB__NRES; i++)
    known |= tsdb__rollup_res(i) == res;
  return known && mint <= maxt && tsdb__floor_div(mint - 1, res) * res == mint - 1 &&
         tsdb__floor_div(maxt, res) * res == maxt;
}

static int run(tsdb *db, const tsdb__cmatcher *cm, size_t nm, int64_t mint, int64_t maxt, int64_t res,
               uint64_t max_series, tsdb_rollup_result *r, lk_diag *d)
{
  pthread_rwlock_rdlock(&db->cut_lock);
  pthread_rwlock_rdlock(&db->blocks_lock);
  rcand *c = NULL;
  size_t n = 0;
  int rc = servable(db, mint, maxt, res) ? 0 : LK_ENOENT;
  if (rc)
    lk_diag_set(d, rc, -1, "no complete rollups for this range");
  if (!rc && (rc = collect(db, cm, nm, mint, maxt, &c, &n)))
    lk_diag_set(d, rc, -1, "corrupt block index encountered while selecting series");
  if (!rc)
    rc = read_groups(db, c, n, res, max_series, r, d);
  pthread_rwlock_unlock(&db->blocks_lock);
  pthread_rwlock_unlock(&db->cut_lock);
  for (size_t i = 0; i < n; i++)
    free(c[i].labels);
  free(c);
  return rc;
}

int tsdb_select_rollup(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                       int64_t res, uint64_t max_series, tsdb_rollup_result **out, lk_diag *d)
{
  if (!db || !out || (nm && !m))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_select_rollup: bad arguments");
  if (!aligned(mint, maxt, res))
    return lk_diag_set(d, LK_ENOENT, -1, "no rollups at resolution %lldms aligned with this range", (long long)res);
  tsdb__cmatcher *cm;
  int rc = tsdb__select_compile(m, nm, &cm, d);
  if (rc)
    return rc;
  tsdb_rollup_result *r = lk_xcalloc(1, sizeof *r);
  r->a = lk_arena_new(64 * 1024);
  r->lo = mint + res - 1;
  r->hi = maxt;
  rc = run(db, cm, nm, mint, maxt, res, max_series, r, d);
  for (size_t i = 0; i < nm; i++)
    tsdb__matcher_fini(&cm[i]);
  free(cm);
  if (rc) {
    tsdb_rollup_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

size_t tsdb_rollup_count(const tsdb_rollup_result *r) { return r ? r->n : 0; }

int tsdb_rollup_get(tsdb_rollup_result *r, size_t i, unsigned slot, tsdb_rollup_series *out, lk_diag *d)
{
  if (!r || i >= r->n || slot >= TSDB_ROLLUP_SLOTS || !out)
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_rollup_get: bad arguments");
  const rseries *s = &r->s[i];
  tsdb__rvec v = r->v[slot]; /* a copy: the slots share a cache line */
  v.n = v.nresets = 0;
  int rc = 0;
  for (size_t k = 0; k < s->npieces && !rc; k++)
    rc = tsdb__rollup_decode(&r->pieces[s->piece + k], r->lo, r->hi, SIZE_MAX, &v);
  r->v[slot] = v;
  if (rc)
    return lk_diag_set(d, rc, -1, CORRUPT_MSG);
  *out = (tsdb_rollup_series){s->labels, s->nl, v.r, v.n, v.resets};
  return 0;
}

void tsdb_rollup_free(tsdb_rollup_result *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->ncaches; i++)
    tsdb__rcache_fini(&r->caches[i]);
  free(r->caches);
  free(r->pieces);
  for (size_t i = 0; i < TSDB_ROLLUP_SLOTS; i++)
    tsdb__rvec_fini(&r->v[i]);
  lk_arena_free(r->a);
  free(r->s);
  free(r);
}
