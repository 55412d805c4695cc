/* db.c — the database handle: open (blocks + WAL replay), close, head cuts
 * into blocks, flush, retention and the background thread.
 *
 * Head cuts: when the head spans more than 1.5 block ranges (and holds at
 * least head_min_samples, so a series-by-series bulk import is not cut
 * into tiny overlapping blocks that compaction must rewrite again and
 * again), the oldest aligned range [k·R, (k+1)·R) is written as a block
 * and dropped from the head, repeatedly, then the WAL is checkpointed (the
 * checkpoint holds what is left in the head); head GC drops the series
 * that went idle in between (head.c). The cut happens in the appending thread that noticed, with
 * cut_lock held exclusively; compaction + retention then run in the
 * background thread under compact_mu alone, so appends and queries
 * continue meanwhile. Time-based decisions (retention, block alignment) use
 * sample time, never the wall clock.
 *
 * Lock order: see tsdb_int.h. bg_mu is a leaf: held only to read or set
 * compact_wanted/stopping, never while taking another lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

#define H2_MS (2 * 3600 * 1000LL)
#define D1_MS (24 * 3600 * 1000LL)

int64_t tsdb__floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void tsdb__newest_update(tsdb *db, int64_t t)
{
  int64_t cur = atomic_load_explicit(&db->newest_t, memory_order_relaxed);
  while (t > cur && !atomic_compare_exchange_weak(&db->newest_t, &cur, t))
    ;
}

int tsdb__fsync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = fsync(fd) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

void tsdb__block_paths(tsdb *db, uint64_t seq, char **final_dir, char **tmp_dir)
{
  lk_buf b = {0};
  lk_buf_printf(&b, "%s/%s%016llx", db->dir, TSDB_BLOCK_PREFIX, (unsigned long long)seq);
  *final_dir = lk_xstrdup((char *)b.data);
  lk_buf_puts(&b, TSDB_TMP_SUFFIX);
  *tmp_dir = (char *)lk_buf_take(&b, NULL);
}

static void fill_defaults(tsdb_opts *o)
{
  if (o->block_range_ms <= 0)
    o->block_range_ms = H2_MS;
  if (o->retention_ms <= 0)
    o->retention_ms = 15 * D1_MS;
  if (o->ooo_window_ms < 0)
    o->ooo_window_ms = 0;
  if (o->fsync == TSDB_FSYNC_DEFAULT)
    o->fsync = TSDB_FSYNC_INTERVAL;
  if (o->fsync_interval_ms <= 0)
    o->fsync_interval_ms = 1000;
  if (!o->max_labels)
    o->max_labels = 64;
  if (!o->max_name_len)
    o->max_name_len = 256;
  if (!o->max_value_len)
    o->max_value_len = 4096;
  if (!o->max_series)
    o->max_series = 5000000;
  if (!o->head_min_samples)
    o->head_min_samples = 2000000;
  if (!o->sample_cache_bytes)
    o->sample_cache_bytes = 64LL << 20;
}

/*---- Block list ----*/

void tsdb__blocks_add(tsdb *db, tsdb__block *b)
{
  /* Once listed, b belongs to the list: compaction or retention (bg thread)
   * may remove and free it as soon as blocks_lock is released. */
  int64_t maxt = b->maxt;
  pthread_rwlock_wrlock(&db->blocks_lock);
  db->blocks = lk_xrealloc(db->blocks, (db->nblocks + 1) * sizeof *db->blocks);
  size_t i = db->nblocks;
  while (i > 0 && (db->blocks[i - 1]->mint > b->mint ||
                   (db->blocks[i - 1]->mint == b->mint && db->blocks[i - 1]->seq > b->seq))) {
    db->blocks[i] = db->blocks[i - 1];
    i--;
  }
  db->blocks[i] = b;
  db->nblocks++;
  pthread_rwlock_unlock(&db->blocks_lock);
  tsdb__newest_update(db, maxt);
}

static void rm_tree(const char *dir)
{
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      char *p = tsdb__path(dir, "/", e->d_name);
      unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* Delete a block directory: rename first so a crash leaves only a .tmp
 * directory (removed at open), never a half-deleted block. */
static void block_delete(tsdb *db, tsdb__block *b)
{
  char *tmp = tsdb__path(b->dir, "", TSDB_TMP_SUFFIX);
  if (rename(b->dir, tmp) == 0) {
    lk_crash_point(db->o.crash, "block.delete_renamed");
    rm_tree(tmp);
  }
  free(tmp);
  tsdb__block_close(b);
}

/* Remove the blocks in `drop` from the list and delete them. compact_mu held. */
void tsdb__blocks_remove(tsdb *db, tsdb__block **drop, size_t n)
{
  pthread_rwlock_wrlock(&db->blocks_lock);
  size_t w = 0;
  for (size_t i = 0; i < db->nblocks; i++) {
    bool gone = false;
    for (size_t j = 0; j < n && !gone; j++)
      gone = db->blocks[i] == drop[j];
    if (!gone)
      db->blocks[w++] = db->blocks[i];
  }
  db->nblocks = w;
  pthread_rwlock_unlock(&db->blocks_lock);
  for (size_t j = 0; j < n; j++) {
    tsdb__scache_drop_block(db->scache, drop[j]->seq);
    block_delete(db, drop[j]);
  }
}

void tsdb__block_demote(tsdb *db, tsdb__block *b)
{
  char *p = tsdb__path(b->dir, "/", TSDB_FILE_CHUNKS);
  pthread_rwlock_wrlock(&db->blocks_lock);
  if (unlink(p) == 0 || errno == ENOENT) {
    munmap((void *)b->chk, b->chk_len);
    b->bytes -= b->chk_len;
    b->chk = NULL;
    b->chk_len = 0;
  }
  pthread_rwlock_unlock(&db->blocks_lock);
  tsdb__changes_note(&db->changes, b->mint, b->maxt); /* raw reads lose these samples */
  tsdb__scache_drop_block(db->scache, b->seq);
  free(p);
}

static int64_t cutoff_of(int64_t newest, int64_t keep)
{
  return newest == INT64_MIN || newest < INT64_MIN + keep ? INT64_MIN : newest - keep;
}

/* Past retention a block with rollups keeps them (and its index) while
 * rollup_retention lasts: its chunks go. Size pressure drops whole blocks. */
static void demote_expired(tsdb *db, tsdb__block **b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (!b[i]->chk)
      continue;
    lk_info("retention: dropping raw samples of block dir=%s mint=%lld maxt=%lld, rollups kept", b[i]->dir,
            (long long)b[i]->mint, (long long)b[i]->maxt);
    tsdb__block_demote(db, b[i]);
  }
}

int tsdb__retention(tsdb *db)
{
  int64_t newest = atomic_load(&db->newest_t);
  int64_t cutoff = cutoff_of(newest, db->o.retention_ms);
  int64_t keep_rollups = db->o.rollup_retention_ms > db->o.retention_ms
                             ? cutoff_of(newest, db->o.rollup_retention_ms)
                             : cutoff;
  pthread_rwlock_rdlock(&db->blocks_lock);
  size_t n = db->nblocks;
  tsdb__block **drop = lk_xmalloc((n ? n : 1) * sizeof *drop);
  tsdb__block **demote = lk_xmalloc((n ? n : 1) * sizeof *demote);
  size_t nd = 0, ndem = 0;
  uint64_t total = atomic_load(&db->wal.bytes);
  for (size_t i = 0; i < n; i++)
    total += db->blocks[i]->bytes;
  /* blocks are sorted by mint: the oldest go first */
  for (size_t i = 0; i < n; i++) {
    tsdb__block *b = db->blocks[i];
    bool too_big = db->o.retention_bytes && total > db->o.retention_bytes;
    bool rollups_kept = b->ru && b->maxt >= keep_rollups;
    if (too_big || (b->maxt < cutoff && !rollups_kept)) {
      drop[nd++] = b;
      total -= b->bytes;
    } else if (b->maxt < cutoff) {
      demote[ndem++] = b;
    }
  }
  pthread_rwlock_unlock(&db->blocks_lock);
  demote_expired(db, demote, ndem);
  free(demote);
  for (size_t i = 0; i < nd; i++)
    lk_info("retention: dropping block dir=%s mint=%lld maxt=%lld bytes=%llu", drop[i]->dir,
            (long long)drop[i]->mint, (long long)drop[i]->maxt, (unsigned long long)drop[i]->bytes);
  if (nd) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < nd; i++) {
      lo = drop[i]->mint < lo ? drop[i]->mint : lo;
      hi = drop[i]->maxt > hi ? drop[i]->maxt : hi;
    }
    lk_crash_point(db->o.crash, "retention.before_delete");
    tsdb__blocks_remove(db, drop, nd);
    tsdb__changes_note(&db->changes, lo, hi);
  }
  free(drop);
  return 0;
}

/*---- Head → blocks ----*/

static int series_label_cmp(const void *a, const void *b)
{
  const tsdb__series *x = *(tsdb__series *const *)a, *y = *(tsdb__series *const *)b;
  return lk_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

/* Write the block (appends are excluded by the caller). In-order head
 * chunks are copied verbatim (compaction re-encodes them into larger
 * chunks later); anything else is merged and encoded here. */
static int write_range(tsdb *db, tsdb__series **ss, size_t n, int64_t lo, int64_t hi,
                       const char *tmp, lk_diag *d)
{
  tsdb__bwriter *w;
  int rc = tsdb__bwriter_new(tmp, &w, d);
  if (rc)
    return rc;
  tsdb__vec v = {0};
  lk_buf scratch = {0};
  for (size_t i = 0; i < n && !rc; i++) {
    tsdb__craw *c;
    size_t nc;
    if (tsdb__series_raw(ss[i], lo, hi, &scratch, &c, &nc)) {
      rc = tsdb__bwriter_add_raw(w, ss[i]->labels, ss[i]->nlabels, c, nc);
      free(c);
      continue;
    }
    v.n = 0;
    rc = tsdb__series_collect(ss[i], lo, hi - 1, &v);
    tsdb__vec_normalize(&v, lo, hi - 1);
    if (!rc && v.n)
      rc = tsdb__bwriter_add(w, ss[i]->labels, ss[i]->nlabels, v.t, v.v, v.n);
  }
  tsdb__vec_fini(&v);
  lk_buf_fini(&scratch);
  if (!rc && !tsdb__bwriter_samples(w)) {
    tsdb__bwriter_abort(w);
    return 1; /* nothing in range: no block */
  }
  if (rc) {
    tsdb__bwriter_abort(w);
    return lk_diag_set(d, rc, -1, "writing block %s failed: %s", tmp, lk_strerror(rc));
  }
  return tsdb__bwriter_finish(w, d);
}

int tsdb__install_block(tsdb *db, uint64_t seq, const char *tmp, const char *fin, lk_diag *d)
{
  if (rename(tmp, fin) < 0)
    return lk_diag_set(d, -errno, -1, "renaming %s failed: %s", tmp, strerror(errno));
  tsdb__fsync_dir(db->dir);
  tsdb__block *b;
  int rc = tsdb__block_open(fin, seq, &b, d);
  if (!rc)
    tsdb__blocks_add(db, b);
  return rc;
}

int tsdb__persist_range(tsdb *db, int64_t lo, int64_t hi, lk_diag *d)
{
  tsdb__head *h = &db->head;
  tsdb__series **ss = lk_xmalloc((h->live_series ? h->live_series : 1) * sizeof *ss);
  size_t n = 0;
  for (size_t i = 0; i < h->byid.cap; i++)
    if (h->byid.slot[i] && tsdb__series_overlaps(h->byid.slot[i], lo, hi - 1))
      ss[n++] = h->byid.slot[i];
  int rc = 0;
  if (n) {
    qsort(ss, n, sizeof *ss, series_label_cmp);
    uint64_t seq = atomic_fetch_add(&db->next_seq, 1);
    char *fin, *tmp;
    tsdb__block_paths(db, seq, &fin, &tmp);
    rc = write_range(db, ss, n, lo, hi, tmp, d);
    if (!rc) {
      lk_crash_point(db->o.crash, "head_cut.tmp_block_written");
      rc = tsdb__install_block(db, seq, tmp, fin, d);
    } else if (rc == 1) {
      rc = 0;
    }
    free(fin);
    free(tmp);
  }
  free(ss);
  return rc;
}

/* Persist and drop the oldest aligned range of the head (cut_lock exclusive). */
static int cut_oldest(tsdb *db, lk_diag *d)
{
  tsdb__head *h = &db->head;
  int64_t R = db->o.block_range_ms;
  int64_t lo = tsdb__floor_div(atomic_load(&h->min_t), R) * R;
  int64_t hi = lo > INT64_MAX - R ? INT64_MAX : lo + R;
  int rc = tsdb__persist_range(db, lo, hi, d);
  if (rc)
    return rc;
  for (size_t i = 0; i < h->byid.cap; i++)
    if (h->byid.slot[i])
      tsdb__series_truncate(h, h->byid.slot[i], hi);
  tsdb__head_recount(h);
  return 0;
}

/* Head GC after a cut (cut_lock exclusive, before the checkpoint, so the
 * new WAL generation holds none of the dropped series): series with
 * nothing left in the head and no sample within one block range of the
 * newest sample stored. */
static void head_gc(tsdb *db)
{
  int64_t newest = atomic_load(&db->newest_t), R = db->o.block_range_ms;
  if (newest == INT64_MIN)
    return;
  int64_t before = newest < INT64_MIN + R ? INT64_MIN : newest - R;
  size_t n = tsdb__head_gc(&db->head, before);
  if (n)
    lk_info("head gc: dropped idle series=%zu live_series=%llu idle_before_ms=%lld", n,
            (unsigned long long)db->head.live_series, (long long)before);
}

static double head_span(tsdb *db)
{
  int64_t mn = atomic_load(&db->head.min_t), mx = atomic_load(&db->head.max_t);
  return mn <= mx ? (double)mx - (double)mn : 0;
}

static bool head_spans_long(tsdb *db)
{
  return head_span(db) > 1.5 * (double)db->o.block_range_ms;
}

/* Time to cut: long enough and big enough, or spanning half the retention
 * (small setups). Once started, a cut continues until the span is short. */
static bool head_too_long(tsdb *db)
{
  return head_spans_long(db) && (atomic_load(&db->head.nsamples) >= db->o.head_min_samples ||
                                 head_span(db) > (double)db->o.retention_ms / 2);
}

static void compact_and_retain(tsdb *db, bool all_windows)
{
  lk_diag d = {0};
  pthread_mutex_lock(&db->compact_mu);
  if (tsdb__compact(db, all_windows, &d))
    lk_error("compaction failed err=\"%s\"", d.msg);
  tsdb__retention(db);
  pthread_mutex_unlock(&db->compact_mu);
}

int tsdb__maybe_cut(tsdb *db)
{
  if (!head_too_long(db))
    return 0;
  lk_diag d = {0};
  int rc = 0;
  bool cut = false;
  pthread_rwlock_wrlock(&db->cut_lock);
  bool go = head_too_long(db);
  while (!rc && go && head_spans_long(db)) {
    rc = cut_oldest(db, &d);
    cut = true;
  }
  if (cut && !rc) {
    head_gc(db);
    lk_crash_point(db->o.crash, "head_cut.before_checkpoint");
    rc = tsdb__wal_checkpoint(db, &d);
  }
  pthread_rwlock_unlock(&db->cut_lock);
  if (rc)
    lk_error("head cut failed err=\"%s\"", d.msg);
  if (cut) {
    pthread_mutex_lock(&db->bg_mu);
    db->compact_wanted = true;
    pthread_cond_signal(&db->bg_cv);
    pthread_mutex_unlock(&db->bg_mu);
  }
  return rc;
}

int tsdb_flush(tsdb *db, lk_diag *d)
{
  if (!db)
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_flush: no database");
  int rc = 0;
  pthread_rwlock_wrlock(&db->cut_lock);
  tsdb__head_recount(&db->head);
  while (!rc && atomic_load(&db->head.min_t) <= atomic_load(&db->head.max_t))
    rc = cut_oldest(db, d);
  if (!rc) {
    head_gc(db);
    rc = tsdb__wal_checkpoint(db, d);
  }
  pthread_rwlock_unlock(&db->cut_lock);
  if (rc)
    return rc;
  pthread_mutex_lock(&db->compact_mu);
  rc = tsdb__compact(db, true, d);
  tsdb__retention(db);
  pthread_mutex_unlock(&db->compact_mu);
  return rc;
}

/*---- Open / close ----*/

static int load_blocks(tsdb *db, lk_diag *d)
{
  DIR *dir = opendir(db->dir);
  if (!dir)
    return lk_diag_set(d, -errno, -1, "cannot read %s: %s", db->dir, strerror(errno));
  struct dirent *e;
  int rc = 0;
  uint64_t maxseq = 0;
  while (!rc && (e = readdir(dir))) {
    unsigned long long seq;
    char tail;
    if (strncmp(e->d_name, TSDB_BLOCK_PREFIX, strlen(TSDB_BLOCK_PREFIX)))
      continue;
    char *path = tsdb__path(db->dir, "/", e->d_name);
    int k = sscanf(e->d_name + strlen(TSDB_BLOCK_PREFIX), "%16llx%c", &seq, &tail);
    if (k == 2 || k == 1) {
      if (k == 2) {
        lk_warn("removed incomplete block dir=%s", path); /* an unfinished write or delete */
        rm_tree(path);
      } else {
        tsdb__block *b;
        rc = tsdb__block_open(path, seq, &b, d);
        if (!rc)
          tsdb__blocks_add(db, b);
        maxseq = seq > maxseq ? seq : maxseq;
      }
    }
    free(path);
  }
  closedir(dir);
  atomic_store(&db->next_seq, maxseq + 1);
  return rc;
}

static void bg_wait(tsdb *db)
{
  if (db->o.fsync != TSDB_FSYNC_INTERVAL) {
    pthread_cond_wait(&db->bg_cv, &db->bg_mu);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ns = ts.tv_nsec + (db->o.fsync_interval_ms % 1000) * 1000000;
  ts.tv_sec += db->o.fsync_interval_ms / 1000 + ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  pthread_cond_timedwait(&db->bg_cv, &db->bg_mu, &ts);
}

static void *bg_main(void *arg)
{
  tsdb *db = arg;
  pthread_mutex_lock(&db->bg_mu);
  while (!db->stopping) {
    if (!db->compact_wanted)
      bg_wait(db);
    if (db->stopping)
      break;
    bool compact = db->compact_wanted;
    db->compact_wanted = false;
    pthread_mutex_unlock(&db->bg_mu);
    if (compact)
      compact_and_retain(db, false);
    if (db->o.fsync == TSDB_FSYNC_INTERVAL)
      tsdb__wal_sync(&db->wal);
    pthread_mutex_lock(&db->bg_mu);
  }
  pthread_mutex_unlock(&db->bg_mu);
  return NULL;
}

static int lock_dir(tsdb *db, lk_diag *d)
{
  char *p = tsdb__path(db->dir, "/", TSDB_DIR_LOCK);
  db->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  free(p);
  if (db->lock_fd < 0)
    return lk_diag_set(d, -errno, -1, "cannot create the lock file in %s: %s", db->dir, strerror(errno));
  if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return lk_diag_set(d, LK_EAGAIN, -1, "data directory %s is in use by another process", db->dir);
  return 0;
}

static tsdb *db_new(const tsdb_opts *opts)
{
  tsdb *db = lk_xcalloc(1, sizeof *db);
  db->o = *opts;
  fill_defaults(&db->o);
  db->dir = lk_xstrdup(opts->dir);
  db->o.dir = db->dir;
  db->lock_fd = -1;
  db->wal.fd = -1;
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&db->cut_lock, &a);
  pthread_rwlockattr_destroy(&a);
  pthread_rwlock_init(&db->blocks_lock, NULL);
  pthread_mutex_init(&db->compact_mu, NULL);
  pthread_mutex_init(&db->bg_mu, NULL);
  pthread_cond_init(&db->bg_cv, NULL);
  atomic_store(&db->newest_t, INT64_MIN);
  tsdb__changes_init(&db->changes);
  tsdb__head_init(&db->head);
  db->slabs = tsdb__slabpool_new();
  if (db->o.sample_cache_bytes > 0)
    tsdb__scache_new((uint64_t)db->o.sample_cache_bytes, &db->scache);
  return db;
}

int tsdb_open(const tsdb_opts *opts, tsdb **out, lk_diag *d)
{
  if (!opts || !opts->dir || !*opts->dir || !out)
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_open: a data directory is required");
  tsdb *db = db_new(opts);
  bool wal_open = false;
  int rc = lk_mkdir_p(db->dir);
  if (rc)
    lk_diag_set(d, rc, -1, "cannot create %s: %s", db->dir, lk_strerror(rc));
  if (!rc)
    rc = lock_dir(db, d);
  if (!rc)
    rc = load_blocks(db, d);
  if (!rc) {
    rc = tsdb__wal_open(db, d);
    wal_open = true;
  }
  if (rc) {
    if (!wal_open)
      pthread_mutex_init(&db->wal.mu, NULL);
    tsdb_close(db);
    return rc;
  }
  int terr = pthread_create(&db->bg, NULL, bg_main, db);
  if (terr) {
    tsdb_close(db);
    return lk_diag_set(d, -terr, -1, "cannot start the storage background thread (compaction, retention, WAL fsync): %s",
                       lk_strerror(-terr));
  }
  db->bg_running = true;
  tsdb__maybe_cut(db);
  pthread_mutex_lock(&db->compact_mu);
  tsdb__retention(db);
  pthread_mutex_unlock(&db->compact_mu);
  *out = db;
  return 0;
}

void tsdb_close(tsdb *db)
{
  if (!db)
    return;
  if (db->bg_running) {
    pthread_mutex_lock(&db->bg_mu);
    db->stopping = true;
    pthread_cond_signal(&db->bg_cv);
    pthread_mutex_unlock(&db->bg_mu);
    pthread_join(db->bg, NULL);
  }
  tsdb__wal_close(&db->wal);
  for (size_t i = 0; i < db->nblocks; i++)
    tsdb__block_close(db->blocks[i]);
  free(db->blocks);
  tsdb__head_fini(&db->head);
  tsdb__scache_free(db->scache);
  tsdb__slabpool_unref(db->slabs);
  if (db->lock_fd >= 0)
    close(db->lock_fd);
  pthread_rwlock_destroy(&db->cut_lock);
  pthread_rwlock_destroy(&db->blocks_lock);
  pthread_mutex_destroy(&db->compact_mu);
  pthread_mutex_destroy(&db->bg_mu);
  pthread_cond_destroy(&db->bg_cv);
  tsdb__changes_fini(&db->changes);
  free(db->dir);
  free(db);
}
