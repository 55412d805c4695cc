/* compact.c — merges blocks into larger ones.
 *
 * Plan, repeated until nothing is left to do: first any set of blocks whose
 * time ranges overlap (out-of-order or re-imported data, or a crash between
 * writing a merged block and deleting its sources) is merged; then, for
 * window sizes R·3, R·9, … up to min(10 % of retention, 31 d), the blocks
 * lying inside one aligned window are merged when there are at least two
 * and the window is complete (the head holds nothing older than its end) or
 * the caller asked for all windows (flush); a block alone in a complete
 * window of the largest size is rewritten once when it has no rollups. A
 * merge decodes every source
 * series, merges samples (earlier blocks win a duplicate timestamp) and
 * re-encodes into chunks of TSDB_BLOCK_CHUNK_SAMPLES. Intermediate levels
 * (windows smaller than the largest, outside flush) copy each series'
 * chunks verbatim instead when its sources are in time order, so a sample
 * is encoded twice in its life: when its head chunk is sealed and when it
 * reaches the largest window (or a flush). Re-encoding merges also write
 * the block's rollups (rollup.c) from the samples they decoded anyway.
 *
 * Locks: runs with db->compact_mu held (the only path that deletes blocks,
 * with retention), so the snapshot of the block list stays valid without
 * holding blocks_lock; the list itself changes under blocks_lock.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_log.h"
#include "tsdb/tsdb_int.h"

#define D31_MS (31 * 24 * 3600 * 1000LL)

typedef struct entry {
  tsdb__bseries s;
  uint32_t block;
} entry;

static int entry_cmp(const void *a, const void *b)
{
  const entry *x = a, *y = b;
  int c = lk_labels_cmp(x->s.labels, x->s.nlabels, y->s.labels, y->s.nlabels);
  return c ? c : (x->block > y->block) - (x->block < y->block);
}

static int load_entries(tsdb__block **src, size_t n, entry **out, size_t *nout)
{
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += src[i]->nseries;
  entry *e = lk_xcalloc(total ? total : 1, sizeof *e);
  size_t k = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    for (uint32_t id = 0; id < src[i]->nseries && !rc; id++) {
      rc = tsdb__block_series(src[i], id, &e[k].s);
      e[k++].block = (uint32_t)i;
    }
  if (rc) {
    for (size_t i = 0; i < k; i++)
      tsdb__bseries_fini(&e[i].s);
    free(e);
    return rc;
  }
  qsort(e, k, sizeof *e, entry_cmp);
  *out = e;
  *nout = k;
  return 0;
}

/* Are the chunks of e[0..n) (one series, blocks in time order) strictly
 * time-ordered without overlap? */
static bool in_order(const entry *e, size_t n)
{
  int64_t prev = INT64_MIN;
  bool first = true;
  for (size_t i = 0; i < n; i++)
    for (uint32_t k = 0; k < e[i].s.nchunks; k++) {
      const tsdb__bchunk *c = &e[i].s.chunks[k];
      if (!first && c->mint <= prev)
        return false;
      prev = c->maxt;
      first = false;
    }
  return true;
}

/* Copy the chunks of e[0..n) verbatim (one entry per block at most). */
static int copy_series(tsdb__block **src, const entry *e, size_t n, tsdb__fcache *fc, tsdb__bwriter *w)
{
  const uint8_t **raw = lk_xcalloc(n, sizeof *raw);
  size_t total = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    rc = tsdb__block_frame(src[e[i].block], &e[i].s, &fc[e[i].block], &raw[i]);
    total += e[i].s.nchunks;
  }
  tsdb__craw *c = lk_xmalloc((total ? total : 1) * sizeof *c);
  size_t nc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    for (uint32_t k = 0; k < e[i].s.nchunks; k++) {
      const tsdb__bchunk *b = &e[i].s.chunks[k];
      c[nc++] = (tsdb__craw){b->mint, b->maxt, b->n, b->len, raw[i] + b->raw_off};
    }
  if (!rc && nc)
    rc = tsdb__bwriter_add_raw(w, e[0].s.labels, e[0].s.nlabels, c, nc);
  free(raw);
  free(c);
  return rc;
}

static int reencode_series(tsdb__block **src, const entry *e, size_t n, tsdb__fcache *fc, tsdb__vec *v,
                           tsdb__bwriter *w, tsdb__rwriter *rw)
{
  int rc = 0;
  v->n = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = tsdb__block_samples(src[e[i].block], &e[i].s, INT64_MIN, INT64_MAX, &fc[e[i].block], v);
  tsdb__vec_normalize(v, INT64_MIN, INT64_MAX);
  if (!rc && v->n)
    rc = tsdb__bwriter_add(w, e[0].s.labels, e[0].s.nlabels, v->t, v->v, v->n);
  if (!rc && v->n && rw)
    tsdb__rwriter_add(rw, v->t, v->v, v->n);
  return rc;
}

/* rw: the rollup writer of a re-encoding merge, else NULL. */
static int write_merged(tsdb__block **src, size_t nsrc, entry *e, size_t ne, bool reencode,
                        tsdb__bwriter *w, tsdb__rwriter *rw)
{
  tsdb__vec v = {0};
  tsdb__fcache *fc = lk_xcalloc(nsrc, sizeof *fc);
  int rc = 0;
  for (size_t i = 0; i < ne && !rc;) {
    size_t j = i + 1;
    while (j < ne && lk_labels_equal(e[i].s.labels, e[i].s.nlabels, e[j].s.labels, e[j].s.nlabels))
      j++;
    if (!reencode && in_order(e + i, j - i))
      rc = copy_series(src, e + i, j - i, fc, w);
    else
      rc = reencode_series(src, e + i, j - i, fc, &v, w, rw);
    i = j;
  }
  for (size_t k = 0; k < nsrc; k++)
    tsdb__fcache_fini(&fc[k]);
  free(fc);
  tsdb__vec_fini(&v);
  return rc;
}

/* Rollups are an index over the block's samples: when they cannot be
 * written (a full disk) the block goes in without them and queries read
 * its raw samples. */
static void write_rollups(tsdb__rwriter *rw, const char *dir)
{
  int rc = tsdb__rwriter_finish(rw);
  if (rc)
    lk_warn("compaction: writing rollups for %s failed, block kept without them: %s", dir, lk_strerror(rc));
}

static int merge(tsdb *db, tsdb__block **src, size_t n, bool reencode, lk_diag *d)
{
  entry *e;
  size_t ne;
  int rc = load_entries(src, n, &e, &ne);
  if (rc)
    return lk_diag_set(d, rc, -1, "compaction: reading block %s failed: %s", src[0]->dir, lk_strerror(rc));
  uint64_t seq = atomic_fetch_add(&db->next_seq, 1);
  char *fin, *tmp;
  tsdb__block_paths(db, seq, &fin, &tmp);
  tsdb__bwriter *w;
  rc = tsdb__bwriter_new(tmp, &w, d);
  if (!rc) {
    tsdb__rwriter *rw = reencode ? tsdb__rwriter_new(tmp) : NULL;
    rc = write_merged(src, n, e, ne, reencode, w, rw);
    if (rc) {
      tsdb__rwriter_free(rw); /* its unfinished file first: the abort removes the directory */
      tsdb__bwriter_abort(w);
      lk_diag_set(d, rc, -1, "compaction: merging into %s failed: %s", tmp, lk_strerror(rc));
    } else if ((rc = tsdb__bwriter_finish(w, d))) {
      tsdb__rwriter_free(rw);
      rmdir(tmp); /* the rollup file kept it from going with the block's files */
    } else if (rw) {
      write_rollups(rw, tmp);
    }
  }
  if (!rc) {
    lk_crash_point(db->o.crash, "compact.tmp_block_written");
    rc = tsdb__install_block(db, seq, tmp, fin, d);
  }
  if (!rc) {
    lk_crash_point(db->o.crash, "compact.installed");
    tsdb__blocks_remove(db, src, n);
  }
  for (size_t i = 0; i < ne; i++)
    tsdb__bseries_fini(&e[i].s);
  free(e);
  free(fin);
  free(tmp);
  return rc;
}

/* First run of >= 2 blocks with overlapping ranges (list sorted by mint). */
static bool plan_overlap(tsdb__block **b, size_t n, size_t *lo, size_t *hi)
{
  for (size_t i = 0; i < n;) {
    int64_t end = b[i]->maxt;
    size_t j = i + 1;
    while (j < n && b[j]->mint <= end) {
      end = b[j]->maxt > end ? b[j]->maxt : end;
      j++;
    }
    if (j - i >= 2) {
      *lo = i;
      *hi = j;
      return true;
    }
    i = j;
  }
  return false;
}

/* Window sizes R·3^k <= min(10 % retention, 31 d), largest first. */
static size_t window_sizes(const tsdb *db, int64_t *sizes, size_t max)
{
  int64_t R = db->o.block_range_ms;
  int64_t maxr = db->o.retention_ms / 10 < D31_MS ? db->o.retention_ms / 10 : D31_MS;
  size_t n = 0;
  for (int64_t S = R; S <= maxr / 3 && n < max; S *= 3)
    sizes[n++] = S * 3;
  for (size_t i = 0; i < n / 2; i++) {
    int64_t t = sizes[i];
    sizes[i] = sizes[n - 1 - i];
    sizes[n - 1 - i] = t;
  }
  return n;
}

/* Blocks of a window to merge; *top: the window is of the largest size. */
static bool plan_window(tsdb *db, tsdb__block **b, size_t n, bool all, size_t *lo, size_t *hi, bool *top)
{
  int64_t sizes[40];
  size_t ns = window_sizes(db, sizes, 40);
  int64_t head_min = atomic_load(&db->head.min_t);
  for (size_t si = 0; si < ns; si++) {
    int64_t S = sizes[si];
    *top = si == 0;
    for (size_t i = 0; i < n;) {
      int64_t k = tsdb__floor_div(b[i]->mint, S);
      size_t j = i;
      while (j < n && tsdb__floor_div(b[j]->mint, S) == k && tsdb__floor_div(b[j]->maxt, S) == k)
        j++;
      bool complete = all || (k + 1) * S <= head_min;
      /* a block alone in a largest window is re-encoded once for its rollups */
      bool lone = j - i == 1 && si == 0 && !b[i]->ru;
      if ((j - i >= 2 || lone) && complete) {
        *lo = i;
        *hi = j;
        return true;
      }
      i = j > i ? j : i + 1;
    }
  }
  return false;
}

int tsdb__compact(tsdb *db, bool all_windows, lk_diag *d)
{
  for (int round = 0; round < 10000; round++) {
    pthread_rwlock_rdlock(&db->blocks_lock);
    size_t n = 0;
    tsdb__block **b = lk_xmalloc((db->nblocks ? db->nblocks : 1) * sizeof *b);
    for (size_t i = 0; i < db->nblocks; i++)
      if (db->blocks[i]->chk) /* blocks left with rollups only are final */
        b[n++] = db->blocks[i];
    pthread_rwlock_unlock(&db->blocks_lock);
    size_t lo, hi;
    bool top = true;
    bool found = plan_overlap(b, n, &lo, &hi) || plan_window(db, b, n, all_windows, &lo, &hi, &top);
    int rc = found ? merge(db, b + lo, hi - lo, all_windows || top, d) : 0;
    free(b);
    if (rc || !found)
      return rc;
  }
  return 0;
}
