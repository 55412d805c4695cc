/* store.c — opening, closing and appending to the log store.
 *
 * Streams live in an array indexed by id with a hash table (open addressing
 * on the label hash) for lookup; a stream's head holds its unsealed entries
 * sorted by time. A push is written to the WAL first and then to the heads,
 * both under the write lock, so what a push acknowledged is in the WAL and
 * visible to the next query. A head past block_bytes is sealed on the spot;
 * a WAL past wal_bytes is restarted with just the heads (or, when they are
 * large beside it, after sealing every head), then retention is applied. A push fails only when its WAL record cannot be written
 * (nothing of it is stored then); a failing seal (disk full) keeps the
 * entries in the head and WAL and is retried by the next push.
 * Invariant: for every stream, entries with seq < next_seq - hn are sealed.
 *
 * Stream GC (as entry time advances by a quarter of the out-of-order
 * window, in the pushing thread): heads of streams idle for longer than the
 * window are sealed and their buffers freed, retention runs, and streams
 * left with no head, no block and no record in the WAL are dropped (label
 * strings, postings, table slot), so memory follows the streams still
 * holding data under container churn. A dropped stream has nothing on disk
 * or in the WAL, so it cannot come back at replay, and its labels simply
 * make a new stream (entry seq from 0) if they are pushed again.
 * Lock: store->lock (see logstore_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "logstore/logstore_int.h"

#define DEF_BLOCK_BYTES (2u << 20)
#define DEF_WAL_BYTES (256u << 20)
#define DEF_MAX_LINE (256u << 10)
#define HEAD_WHOLE_AT (64u << 10) /* head bytes from which it is grown to a whole block at once */
#define DEF_OOO_NS (3600LL * 1000000000LL)
#define MAX_LABELS 64
#define GC_MIN_WINDOW_NS (60LL * 1000000000LL) /* idle time before a stream's head is sealed, at least */

int logstore__stream_path(const logstore *s, char *buf, size_t cap, const char *name)
{
  int n = snprintf(buf, cap, "%s/%s", s->dir, name);
  return n < 0 || (size_t)n >= cap ? LK_ETOOBIG : 0;
}

static ls_stream *stream_new(const lk_label *ls, size_t n, uint64_t hash)
{
  size_t bytes = n * sizeof(lk_label);
  for (size_t i = 0; i < n; i++)
    bytes += strlen(ls[i].name) + strlen(ls[i].value) + 2;
  ls_stream *st = lk_xcalloc(1, sizeof *st);
  st->labels = lk_xmalloc(bytes ? bytes : 1);
  char *p = (char *)(st->labels + n);
  for (size_t i = 0; i < n; i++) {
    size_t a = strlen(ls[i].name) + 1, b = strlen(ls[i].value) + 1;
    st->labels[i].name = memcpy(p, ls[i].name, a);
    st->labels[i].value = memcpy(p + a, ls[i].value, b);
    p += a + b;
  }
  st->nlabels = n;
  st->hash = hash;
  st->maxt = INT64_MIN;
  return st;
}

static void stream_free(ls_stream *st)
{
  for (size_t i = 0; i < st->nblocks; i++) {
    free(st->blocks[i].bloom);
    free(st->blocks[i].tri);
  }
  free(st->blocks);
  free(st->hts);
  free(st->hoff);
  free(st->hlen);
  lk_buf_fini(&st->hbytes);
  free(st->labels);
  free(st);
}

static void stab_insert(logstore *s, size_t idx)
{
  size_t mask = s->stab_cap - 1, i = s->streams[idx]->hash & mask;
  while (s->stab[i])
    i = (i + 1) & mask;
  s->stab[i] = (uint32_t)idx + 1;
}

static void stab_rebuild(logstore *s, size_t cap)
{
  free(s->stab);
  s->stab_cap = cap;
  s->stab = lk_xcalloc(s->stab_cap, sizeof *s->stab);
  for (size_t i = 0; i < s->nstreams; i++)
    stab_insert(s, i);
}

static void stab_grow(logstore *s)
{
  stab_rebuild(s, s->stab_cap ? s->stab_cap * 2 : 64);
}

/* Look up (and optionally create) the stream of a sorted label set. */
ls_stream *logstore__stream_get(logstore *s, const lk_label *ls, size_t n, bool create)
{
  uint64_t h = lk_labels_hash(ls, n);
  if (s->stab_cap) {
    size_t mask = s->stab_cap - 1;
    for (size_t i = h & mask; s->stab[i]; i = (i + 1) & mask) {
      ls_stream *st = s->streams[s->stab[i] - 1];
      if (st->hash == h && lk_labels_equal(st->labels, st->nlabels, ls, n))
        return st;
    }
  }
  if (!create)
    return NULL;
  ls_stream *st = stream_new(ls, n, h);
  st->id = (uint32_t)s->nstreams;
  s->streams = lk_xgrow(s->streams, &s->scap, s->nstreams + 1, sizeof *s->streams);
  s->streams[s->nstreams++] = st;
  if ((s->nstreams + 1) * 2 > s->stab_cap)
    stab_grow(s);
  else
    stab_insert(s, st->id);
  logstore__postings_add(s, st);
  return st;
}

/* Insert one entry keeping the head sorted by ts (ties after equals). */
static void head_insert(ls_stream *st, int64_t ts, const char *line, size_t len)
{
  if (st->hn == st->hcap) {
    size_t cap = st->hcap;
    st->hts = lk_xgrow(st->hts, &cap, st->hn + 1, sizeof *st->hts);
    cap = st->hcap;
    st->hoff = lk_xgrow(st->hoff, &cap, st->hn + 1, sizeof *st->hoff);
    cap = st->hcap;
    st->hlen = lk_xgrow(st->hlen, &cap, st->hn + 1, sizeof *st->hlen);
    st->hcap = cap;
  }
  size_t pos = st->hn;
  if (pos && st->hts[pos - 1] > ts) {
    size_t lo = 0, hi = pos;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (st->hts[mid] <= ts)
        lo = mid + 1;
      else
        hi = mid;
    }
    pos = lo;
    size_t k = st->hn - pos;
    memmove(st->hts + pos + 1, st->hts + pos, k * sizeof *st->hts);
    memmove(st->hoff + pos + 1, st->hoff + pos, k * sizeof *st->hoff);
    memmove(st->hlen + pos + 1, st->hlen + pos, k * sizeof *st->hlen);
  }
  st->hts[pos] = ts;
  st->hoff[pos] = (uint32_t)st->hbytes.len;
  st->hlen[pos] = (uint32_t)len;
  lk_buf_append(&st->hbytes, line, len);
  st->hn++;
}

/* A seal that fails (disk full) is not a push failure: the entries stay in
 * the head and the WAL, and the next push tries again. One line when
 * sealing starts failing and one when it works again. */
static void note_seal(logstore *s, int rc)
{
  if (rc && !s->seal_failing)
    lk_warn("log store: sealing failed, entries stay in the WAL until it works dir=%s err=\"%s\"",
            s->dir, lk_strerror(rc));
  else if (!rc && s->seal_failing)
    lk_info("log store: sealing works again dir=%s", s->dir);
  s->seal_failing = rc != 0;
}

/*---- stream GC ----*/

static void head_release(ls_stream *st)
{
  free(st->hts);
  free(st->hoff);
  free(st->hlen);
  st->hts = NULL;
  st->hoff = st->hlen = NULL;
  st->hcap = 0;
  lk_buf_fini(&st->hbytes);
}

/* Drop the streams with nothing left (see the file comment), renumbering
 * the rest; the stream table and postings are rebuilt. */
static size_t drop_empty_streams(logstore *s, int64_t idle_before)
{
  size_t w = 0;
  for (size_t i = 0; i < s->nstreams; i++) {
    ls_stream *st = s->streams[i];
    if (!st->hn && !st->nblocks && st->wal_epoch < s->wal_epoch && st->maxt < idle_before) {
      stream_free(st);
      continue;
    }
    st->id = (uint32_t)w;
    s->streams[w++] = st;
  }
  size_t dropped = s->nstreams - w;
  if (!dropped)
    return 0;
  s->nstreams = w;
  size_t cap = 64;
  while ((s->nstreams + 1) * 2 > cap)
    cap *= 2;
  stab_rebuild(s, cap);
  logstore__postings_free(s);
  for (size_t i = 0; i < s->nstreams; i++)
    logstore__postings_add(s, s->streams[i]);
  return dropped;
}

static void stream_gc(logstore *s)
{
  int64_t window = s->o.ooo_window_ns > GC_MIN_WINDOW_NS ? s->o.ooo_window_ns : GC_MIN_WINDOW_NS;
  int64_t idle_before = s->newest < INT64_MIN + window ? INT64_MIN : s->newest - window;
  s->gc_next = s->newest > INT64_MAX - window / 4 ? INT64_MAX : s->newest + window / 4;
  for (size_t i = 0; i < s->nstreams; i++) {
    ls_stream *st = s->streams[i];
    if (st->maxt >= idle_before)
      continue;
    int rc = logstore__seal(s, st);
    note_seal(s, rc);
    if (rc)
      return; /* entries stay in the head and the WAL; the next GC tries again */
    head_release(st);
  }
  logstore__retention_locked(s);
  size_t dropped = drop_empty_streams(s, idle_before);
  if (dropped)
    lk_info("log store gc: dropped streams=%zu live_streams=%zu", dropped, s->nstreams);
}

/* A head about to pass HEAD_WHOLE_AT bytes is grown at once to a whole
 * block's: one copy instead of a doubling chain up to block_bytes (each
 * step a copy of all before it and fresh pages). Pages are touched only as
 * lines arrive, and a stream that never gets there stays small. */
static void head_reserve(const logstore *s, ls_stream *st, const logstore_entry *e, size_t n)
{
  size_t need = st->hbytes.len;
  for (size_t i = 0; i < n; i++)
    need += e[i].len;
  if (need < st->hbytes.cap || need < HEAD_WHOLE_AT)
    return;
  lk_buf_reserve(&st->hbytes, (need > s->o.block_bytes ? need : s->o.block_bytes) - st->hbytes.len);
}

void logstore__head_append(logstore *s, ls_stream *st, const logstore_entry *e, size_t n)
{
  head_reserve(s, st, e, n);
  for (size_t i = 0; i < n; i++) {
    head_insert(st, e[i].ts, e[i].line, e[i].len);
    if (e[i].ts > st->maxt)
      st->maxt = e[i].ts;
    if (e[i].ts > s->newest)
      s->newest = e[i].ts;
  }
  st->next_seq += n;
  if (st->hbytes.len >= s->o.block_bytes)
    note_seal(s, logstore__seal(s, st));
}

static int check_push(const logstore *s, const ls_stream *st, const logstore_entry *e, size_t n,
                      lk_diag *d)
{
  int64_t maxt = st ? st->maxt : INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    if (e[i].len > s->o.max_line)
      return lk_diag_set(d, LK_ETOOBIG, -1, "entry %zu: line of %zu bytes exceeds the limit of %zu",
                         i, e[i].len, s->o.max_line);
    if (maxt != INT64_MIN && e[i].ts < maxt - s->o.ooo_window_ns)
      return lk_diag_set(d, LK_EOOO, -1, "entry %zu: timestamp %lld is too far behind the stream's "
                         "newest entry %lld", i, (long long)e[i].ts, (long long)maxt);
    if (e[i].ts > maxt)
      maxt = e[i].ts;
  }
  return 0;
}

static int canon_labels(const lk_label *in, size_t n, lk_label *out, lk_diag *d)
{
  if (n > MAX_LABELS)
    return lk_diag_set(d, LK_ELIMIT, -1, "stream has %zu labels (limit %d)", n, MAX_LABELS);
  memcpy(out, in, n * sizeof *in);
  lk_labels_sort(out, n);
  for (size_t i = 0; i < n; i++) {
    if (!lk_label_name_valid(out[i].name))
      return lk_diag_set(d, LK_EINVAL, -1, "invalid label name \"%s\"", out[i].name);
    if (i && !strcmp(out[i].name, out[i - 1].name))
      return lk_diag_set(d, LK_EINVAL, -1, "duplicate label name \"%s\"", out[i].name);
  }
  return 0;
}

static uint64_t head_bytes(const logstore *s)
{
  uint64_t n = 0;
  for (size_t i = 0; i < s->nstreams; i++)
    n += s->streams[i]->hbytes.len;
  return n;
}

/* Past wal_bytes: restart the WAL with just the heads while they are at
 * most half of it (blocks stay full-sized), else seal every head and
 * restart it empty; then apply retention (the WAL holds no sealed entry
 * then, so a segment retention deletes can never come back from it after a
 * crash). */
static void restart_wal_and_retain(logstore *s)
{
  int rc = head_bytes(s) <= s->o.wal_bytes / 2 ? logstore__wal_rewrite(s) : LK_ELIMIT;
  if (rc) {
    rc = logstore__seal_all(s);
    note_seal(s, rc);
  }
  if (!rc)
    logstore__retention_locked(s);
}

int logstore_push(logstore *s, const lk_label *labels, size_t nlabels, const logstore_entry *e,
                  size_t n, lk_diag *d)
{
  lk_label sorted[MAX_LABELS];
  int rc = canon_labels(labels, nlabels, sorted, d);
  if (rc || !n)
    return rc;
  pthread_rwlock_wrlock(&s->lock);
  ls_stream *st = logstore__stream_get(s, sorted, nlabels, false);
  rc = check_push(s, st, e, n, d);
  if (!rc) {
    if (!st)
      st = logstore__stream_get(s, sorted, nlabels, true);
    rc = logstore__wal_append(s, st, st->next_seq, e, n);
    st->wal_epoch = s->wal_epoch;
  }
  if (!rc)
    logstore__head_append(s, st, e, n);
  if (!rc && s->wal_size >= s->o.wal_bytes)
    restart_wal_and_retain(s);
  if (!rc && s->newest >= s->gc_next)
    stream_gc(s);
  pthread_rwlock_unlock(&s->lock);
  if (rc && d && !d->set)
    lk_diag_set(d, rc, -1, "log store write failed: %s", lk_strerror(rc));
  return rc;
}

int logstore_flush(logstore *s)
{
  pthread_rwlock_wrlock(&s->lock);
  int rc = logstore__seal_all(s);
  if (!rc)
    rc = logstore__retention_locked(s);
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

int logstore_retention(logstore *s)
{
  pthread_rwlock_wrlock(&s->lock);
  int rc = logstore__retention_locked(s);
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

static void apply_defaults(logstore_opts *o)
{
  if (!o->block_bytes)
    o->block_bytes = DEF_BLOCK_BYTES;
  if (!o->wal_bytes)
    o->wal_bytes = DEF_WAL_BYTES;
  if (!o->segment_bytes)
    o->segment_bytes = 64u << 20;
  if (!o->max_line)
    o->max_line = DEF_MAX_LINE;
  if (!o->ooo_window_ns)
    o->ooo_window_ns = DEF_OOO_NS;
}

static void store_free(logstore *s)
{
  logstore__segs_close(s);
  if (s->wal_fd >= 0)
    close(s->wal_fd);
  for (size_t i = 0; i < s->nstreams; i++)
    stream_free(s->streams[i]);
  free(s->streams);
  free(s->stab);
  logstore__postings_free(s);
  pthread_rwlock_destroy(&s->lock);
  free(s->dir);
  free(s);
}

int logstore_open(const logstore_opts *o, logstore **out, lk_diag *d)
{
  if (!o || !o->dir || !*o->dir)
    return lk_diag_set(d, LK_EINVAL, -1, "log store: no directory given");
  if (mkdir(o->dir, 0755) && errno != EEXIST)
    return lk_diag_set(d, -errno, -1, "log store: mkdir %s: %s", o->dir, strerror(errno));
  logstore *s = lk_xcalloc(1, sizeof *s);
  s->o = *o;
  apply_defaults(&s->o);
  s->dir = lk_xstrdup(o->dir);
  s->o.dir = s->dir;
  s->wal_fd = -1;
  s->newest = INT64_MIN;
  s->gc_next = INT64_MIN;
  pthread_rwlock_init(&s->lock, NULL);
  int rc = logstore__segs_open(s, d);
  if (!rc)
    rc = logstore__wal_open(s, d);
  if (rc) {
    store_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void logstore_close(logstore *s)
{
  if (s)
    store_free(s);
}

void logstore_stats_get(logstore *s, logstore_stats *out)
{
  memset(out, 0, sizeof *out);
  pthread_rwlock_rdlock(&s->lock);
  out->streams = s->nstreams;
  for (size_t i = 0; i < s->nstreams; i++) {
    const ls_stream *st = s->streams[i];
    out->blocks += st->nblocks;
    out->head_entries += st->hn;
    for (size_t b = 0; b < st->nblocks; b++)
      out->bloom_bytes += (uint64_t)st->blocks[b].bloom_words * 8 +
                          (st->blocks[b].tri ? LS_TRI_WORDS * 8 : 0);
  }
  for (size_t i = 0; i < s->nsegs; i++)
    out->disk_bytes += s->segs[i].size;
  out->disk_bytes += s->wal_size;
  out->raw_bytes = s->raw_bytes;
  out->sealed_bytes = s->sealed_bytes;
  pthread_rwlock_unlock(&s->lock);
}
