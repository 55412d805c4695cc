/* wal.c — write-ahead log: framed CRC'd records, replay, checkpoints.
 *
 * Layout (FORMAT.md): wal/ holds generation N as ckpt-N (optional, written
 * once, fsynced, renamed into place) and seg-N (the active segment, appended
 * to). A checkpoint holds the whole head at the moment it was taken (series
 * records, the sealed chunks as CHUNK records, unsealed samples) so replay
 * never reads data already persisted in blocks; after a checkpoint the older
 * generation's files are deleted. Series records are written lazily, once
 * per generation, before the first sample that refers to them (wal_gen).
 *
 * Replay reads ckpt-C (newest complete checkpoint) then every seg-K with
 * K >= C; samples are applied in "force" mode (any order) because two
 * appenders can log in a different order than they applied. A torn or
 * corrupt tail is truncated away and reported with one lk_warn line. A file
 * whose header names another format (unknown magic or version, e.g. after a
 * downgrade) is refused whole with LK_ECORRUPT and left untouched: cutting
 * it would silently drop the head it holds.
 *
 * Locks: w->mu guards fd, dirty and file switches. w->gen only changes while
 * appends are excluded (cut_lock exclusive), so appenders read it unlocked.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/lk_endian.h"
#include "lib/lk_log.h"
#include "lib/lk_varint.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

static char *wal_path(const tsdb__wal *w, const char *kind, uint32_t gen, const char *suffix)
{
  lk_buf b = {0};
  lk_buf_printf(&b, "%s/%s-%08x%s", w->dir, kind, gen, suffix);
  return (char *)lk_buf_take(&b, NULL);
}

/* *done: bytes written before an error (a write cut short by a full disk). */
static int write_all(int fd, const struct iovec *iov, int n, size_t *done)
{
  struct iovec v[4];
  memcpy(v, iov, (size_t)n * sizeof *v);
  int i = 0;
  *done = 0;
  while (i < n) {
    ssize_t r = writev(fd, v + i, n - i);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    *done += (size_t)r;
    while (i < n && (size_t)r >= v[i].iov_len) {
      r -= (ssize_t)v[i].iov_len;
      i++;
    }
    if (i < n) {
      v[i].iov_base = (uint8_t *)v[i].iov_base + r;
      v[i].iov_len -= (size_t)r;
    }
  }
  return 0;
}

/* Append iov at the end of fd, or nothing: a write cut short is cut off
 * again, so a segment never holds a partial record followed by good ones
 * (replay would stop at it and lose them). */
static int append_all(int fd, const struct iovec *iov, int n)
{
  size_t done;
  int rc = write_all(fd, iov, n, &done);
  if (rc && done) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0 || ftruncate(fd, end - (off_t)done) < 0)
      lk_warn("wal: cannot cut a partial record off fd=%d err=\"%s\"", fd, strerror(errno));
  }
  return rc;
}

static int write_record(int fd, uint8_t type, const uint8_t *p, size_t n)
{
  uint8_t hdr[TSDB_WAL_REC_HDR];
  uint32_t len = (uint32_t)n;
  uint32_t crc = lk_crc32(lk_crc32(0, &type, 1), p, n);
  lk_le32_store(hdr, len);
  lk_le32_store(hdr + 4, crc);
  hdr[8] = type;
  struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)p, n}};
  return append_all(fd, iov, n ? 2 : 1);
}

static void fill_header(uint8_t hdr[TSDB_WAL_HDR])
{
  memset(hdr, 0, TSDB_WAL_HDR);
  lk_le32_store(hdr, TSDB_WAL_MAGIC);
  hdr[4] = TSDB_WAL_VERSION;
}

static int write_header(int fd)
{
  uint8_t hdr[TSDB_WAL_HDR];
  fill_header(hdr);
  struct iovec iov = {hdr, sizeof hdr};
  return append_all(fd, &iov, 1);
}

static void frame_record(lk_buf *b, uint8_t type, const uint8_t *p, size_t n)
{
  lk_buf_put_u32le(b, (uint32_t)n);
  lk_buf_put_u32le(b, lk_crc32(lk_crc32(0, &type, 1), p, n));
  lk_buf_putc(b, type);
  lk_buf_append(b, p, n);
}

/* w->mu held. */
static int flush_pending_locked(tsdb__wal *w)
{
  if (!w->pending.len)
    return 0;
  struct iovec iov = {w->pending.data, w->pending.len};
  int rc = append_all(w->fd, &iov, 1);
  if (rc)
    return rc;
  atomic_fetch_add(&w->bytes, w->pending.len);
  w->dirty = true;
  lk_info("wal: pending records written after a failed write bytes=%zu", w->pending.len);
  lk_buf_clear(&w->pending);
  atomic_store(&w->has_pending, false);
  return 0;
}

int tsdb__wal_flush_pending(tsdb__wal *w)
{
  if (!atomic_load(&w->has_pending))
    return 0;
  pthread_mutex_lock(&w->mu);
  int rc = flush_pending_locked(w);
  if (!rc && w->policy == TSDB_FSYNC_BATCH && fdatasync(w->fd) < 0)
    rc = -errno;
  if (rc)
    atomic_fetch_add(&w->errors, 1);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int tsdb__wal_write(tsdb__wal *w, uint8_t type, const uint8_t *p, size_t n)
{
  if (n > TSDB_WAL_MAX_REC)
    return LK_ETOOBIG;
  pthread_mutex_lock(&w->mu);
  int rc = flush_pending_locked(w);
  if (!rc)
    rc = write_record(w->fd, type, p, n);
  if (!rc) {
    atomic_fetch_add(&w->bytes, n + TSDB_WAL_REC_HDR);
    w->dirty = true;
    if (w->policy == TSDB_FSYNC_BATCH && fdatasync(w->fd) < 0)
      rc = -errno;
  } else {
    if (!w->pending.len)
      lk_warn("wal: write failed, records kept in memory until it succeeds err=\"%s\"", lk_strerror(rc));
    frame_record(&w->pending, type, p, n);
    atomic_store(&w->has_pending, true);
  }
  if (rc)
    atomic_fetch_add(&w->errors, 1);
  pthread_mutex_unlock(&w->mu);
  return rc;
}

/* fdatasync through a dup of the fd, outside w->mu, so appenders keep
 * writing while the disk flushes (syncing a segment that a checkpoint
 * retired meanwhile is harmless). */
int tsdb__wal_sync(tsdb__wal *w)
{
  int fd = -1;
  pthread_mutex_lock(&w->mu);
  if (w->dirty && w->fd >= 0) {
    fd = dup(w->fd);
    w->dirty = false;
  }
  pthread_mutex_unlock(&w->mu);
  if (fd < 0)
    return 0;
  int rc = fdatasync(fd) < 0 ? -errno : 0;
  if (rc)
    atomic_fetch_add(&w->errors, 1);
  close(fd);
  return rc;
}

void tsdb__wal_encode_series(lk_buf *b, const tsdb__series *s)
{
  lk_buf_put_uvarint(b, s->id);
  lk_buf_put_uvarint(b, s->nlabels);
  for (uint32_t i = 0; i < s->nlabels; i++) {
    size_t nl = strlen(s->labels[i].name), vl = strlen(s->labels[i].value);
    lk_buf_put_uvarint(b, nl);
    lk_buf_append(b, s->labels[i].name, nl);
    lk_buf_put_uvarint(b, vl);
    lk_buf_append(b, s->labels[i].value, vl);
  }
}

int tsdb__wal_log_series(tsdb__wal *w, tsdb__series *s)
{
  if (atomic_load_explicit(&s->wal_gen, memory_order_acquire) == w->gen + 1)
    return 0;
  lk_buf b = {0};
  tsdb__wal_encode_series(&b, s);
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  if (atomic_load_explicit(&s->wal_gen, memory_order_relaxed) != w->gen + 1) {
    rc = write_record(w->fd, TSDB_REC_SERIES, b.data, b.len);
    if (!rc) {
      atomic_fetch_add(&w->bytes, b.len + TSDB_WAL_REC_HDR);
      w->dirty = true;
      atomic_store_explicit(&s->wal_gen, w->gen + 1, memory_order_release);
    }
  }
  pthread_mutex_unlock(&w->mu);
  lk_buf_fini(&b);
  return rc;
}

/*---- Replay ----*/

typedef struct replay {
  tsdb *db;
  tsdb__series **refmap; /* WAL ref → series */
  size_t nref;
  uint32_t gen;          /* generation of the file being read */
  bool active;           /* file belongs to the active generation */
  uint64_t samples;
} replay;

static tsdb__series *ref_get(const replay *r, uint64_t ref)
{
  return ref < r->nref ? r->refmap[ref] : NULL;
}

static int replay_series(replay *r, lk_dec *d)
{
  uint64_t ref = lk_dec_uvarint(d), n = lk_dec_uvarint(d);
  if (d->err || ref == 0 || ref >= UINT32_MAX || n == 0 || n > 65536)
    return LK_ECORRUPT;
  lk_label *ls = lk_xcalloc(n, sizeof *ls);
  char **own = lk_xcalloc(n * 2, sizeof *own);
  for (uint64_t i = 0; i < n * 2 && !d->err; i++) {
    uint64_t len = lk_dec_uvarint(d);
    const uint8_t *p = len <= lk_dec_left(d) ? lk_dec_bytes(d, len) : NULL;
    if (!p) {
      d->err = LK_ECORRUPT;
      break;
    }
    own[i] = lk_xstrndup((const char *)p, len);
    if (i % 2)
      ls[i / 2].value = own[i];
    else
      ls[i / 2].name = own[i];
  }
  int rc = d->err;
  if (!rc) {
    tsdb__head *h = &r->db->head;
    uint64_t hash = lk_labels_hash(ls, n);
    tsdb__series *s = tsdb__head_find(h, ls, n, hash);
    if (!s)
      s = tsdb__head_create(h, ls, n, hash, tsdb__head_by_id(h, (uint32_t)ref) ? 0 : (uint32_t)ref);
    if (r->active)
      atomic_store(&s->wal_gen, r->gen + 1);
    if (ref >= r->nref) {
      size_t cap = r->nref;
      r->refmap = lk_xgrow(r->refmap, &cap, ref + 1, sizeof *r->refmap);
      memset(r->refmap + r->nref, 0, (cap - r->nref) * sizeof *r->refmap);
      r->nref = cap;
    }
    r->refmap[ref] = s;
  }
  for (uint64_t i = 0; i < n * 2; i++)
    free(own[i]);
  free(own);
  free(ls);
  return rc;
}

static int replay_samples(replay *r, lk_dec *d)
{
  tsdb *db = r->db;
  int64_t t = 0;
  tsdb__hnote note;
  tsdb__hnote_init(&note);
  int rc = 0;
  while (lk_dec_left(d) && !d->err) {
    uint64_t ref = lk_dec_uvarint(d);
    t = (int64_t)((uint64_t)t + (uint64_t)lk_dec_varint(d));
    uint64_t bits = lk_dec_u64le(d);
    tsdb__series *s = ref_get(r, ref);
    if (d->err || !s) {
      rc = LK_ECORRUPT;
      break;
    }
    double v;
    memcpy(&v, &bits, 8);
    if (tsdb__series_add(&db->head, s, t, v, db->o.block_range_ms, 0, true, &note) == TSDB_V_OK) {
      tsdb__newest_update(db, t);
      r->samples++;
    }
  }
  tsdb__hnote_commit(&db->head, &note);
  return rc ? rc : d->err;
}

static int replay_chunk(replay *r, lk_dec *d)
{
  uint64_t ref = lk_dec_uvarint(d);
  int64_t mint = lk_dec_varint(d);
  uint64_t span = lk_dec_uvarint(d), n = lk_dec_uvarint(d), len = lk_dec_uvarint(d);
  tsdb__series *s = ref_get(r, ref);
  if (d->err || !s || len != lk_dec_left(d) || n == 0 || n > UINT32_MAX)
    return LK_ECORRUPT;
  const uint8_t *p = lk_dec_bytes(d, len);
  uint8_t *data = lk_xmalloc(len ? len : 1);
  memcpy(data, p, len);
  int64_t maxt = (int64_t)((uint64_t)mint + span);
  tsdb__series_add_chunk(&r->db->head, s, mint, maxt, (uint32_t)n, data, (uint32_t)len);
  tsdb__newest_update(r->db, maxt);
  r->samples += n;
  return 0;
}

static int replay_record(replay *r, uint8_t type, const uint8_t *p, size_t n)
{
  lk_dec d;
  lk_dec_init(&d, p, n);
  switch (type) {
  case TSDB_REC_SERIES: return replay_series(r, &d);
  case TSDB_REC_SAMPLES: return replay_samples(r, &d);
  case TSDB_REC_CHUNK: return replay_chunk(r, &d);
  default: return LK_ECORRUPT;
  }
}

/* 0 when the file starts with this build's header, or with a prefix of it
 * (a crash between creating the file and writing its 8 bytes: repaired);
 * otherwise the file is another format and LK_ECORRUPT is recorded in d. */
static int check_header(const char *path, const uint8_t *p, size_t len, lk_diag *d)
{
  uint8_t want[TSDB_WAL_HDR];
  fill_header(want);
  size_t n = len < 5 ? len : 5; /* magic and version; the reserved bytes are not read */
  if (!memcmp(p, want, n))
    return 0;
  uint8_t got[5] = {0};
  memcpy(got, p, n);
  return lk_diag_unknown_format(d, path, lk_le32_load(got), got[4], TSDB_WAL_MAGIC, TSDB_WAL_VERSION);
}

/* Length of the valid prefix of a WAL file image (records applied); the
 * header was checked. */
static size_t replay_image(replay *r, const uint8_t *p, size_t len)
{
  if (len < TSDB_WAL_HDR)
    return 0;
  size_t off = TSDB_WAL_HDR;
  while (len - off >= TSDB_WAL_REC_HDR) {
    uint32_t n = lk_le32_load(p + off), crc = lk_le32_load(p + off + 4);
    if (n > TSDB_WAL_MAX_REC || n > len - off - TSDB_WAL_REC_HDR)
      break;
    const uint8_t *rec = p + off + 8;
    if (lk_crc32(0, rec, n + 1) != crc || replay_record(r, rec[0], rec + 1, n))
      break;
    off += TSDB_WAL_REC_HDR + n;
  }
  return off;
}

/* Replay one file; truncate a torn tail (or complete a torn header). A file
 * of another format is refused untouched. */
static int replay_file(replay *r, const char *path, uint64_t *bytes, lk_diag *d)
{
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return -errno;
  }
  size_t len = (size_t)st.st_size, good = 0;
  if (len) {
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      close(fd);
      return -errno;
    }
    int hrc = check_header(path, m, len, d);
    if (!hrc)
      good = replay_image(r, m, len);
    munmap(m, len);
    if (hrc) {
      close(fd);
      return hrc;
    }
  }
  int rc = 0;
  if (good < len || len < TSDB_WAL_HDR) {
    if (len)
      lk_warn("wal: truncated torn or corrupt tail file=%s kept_bytes=%zu skipped_bytes=%zu",
              path, good, len - good);
    if (ftruncate(fd, (off_t)good) < 0 || (good == 0 && write_header(fd) < 0))
      rc = -errno;
    good = good ? good : TSDB_WAL_HDR;
  }
  *bytes += good;
  close(fd);
  return rc;
}

typedef struct walfiles {
  uint32_t *ckpt, *seg;
  size_t nckpt, nseg;
} walfiles;

static int u32cmp(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int list_wal(tsdb__wal *w, walfiles *f)
{
  DIR *dir = opendir(w->dir);
  if (!dir)
    return -errno;
  struct dirent *e;
  size_t capc = 0, caps = 0;
  while ((e = readdir(dir))) {
    unsigned g;
    char tail;
    size_t nl = strlen(e->d_name);
    if (nl > 4 && !strcmp(e->d_name + nl - 4, TSDB_TMP_SUFFIX)) {
      char *p = tsdb__path(w->dir, "/", e->d_name);
      lk_warn("wal: removed incomplete checkpoint file=%s", p);
      unlink(p);
      free(p);
    } else if (sscanf(e->d_name, "ckpt-%8x%c", &g, &tail) == 1) {
      f->ckpt = lk_xgrow(f->ckpt, &capc, f->nckpt + 1, sizeof *f->ckpt);
      f->ckpt[f->nckpt++] = g;
    } else if (sscanf(e->d_name, "seg-%8x%c", &g, &tail) == 1) {
      f->seg = lk_xgrow(f->seg, &caps, f->nseg + 1, sizeof *f->seg);
      f->seg[f->nseg++] = g;
    }
  }
  closedir(dir);
  if (f->nckpt)
    qsort(f->ckpt, f->nckpt, sizeof *f->ckpt, u32cmp);
  if (f->nseg)
    qsort(f->seg, f->nseg, sizeof *f->seg, u32cmp);
  return 0;
}

static void unlink_gen(tsdb__wal *w, const char *kind, uint32_t gen)
{
  char *p = wal_path(w, kind, gen, "");
  unlink(p);
  free(p);
}

/* A file a finished checkpoint retired (the crash came before its delete). */
static void unlink_retired(tsdb__wal *w, const char *kind, uint32_t gen)
{
  lk_warn("wal: removed a file an interrupted checkpoint had retired file=%s/%s-%08x", w->dir, kind, gen);
  unlink_gen(w, kind, gen);
}

static int replay_all(replay *r, tsdb__wal *w, const walfiles *f, uint32_t c, uint64_t *bytes,
                      lk_diag *d)
{
  int rc = 0;
  if (f->nckpt) {
    char *p = wal_path(w, "ckpt", c, "");
    r->gen = c;
    r->active = f->nseg == 0 || f->seg[f->nseg - 1] == c;
    rc = replay_file(r, p, bytes, d);
    free(p);
  }
  for (size_t i = 0; i < f->nseg && !rc; i++) {
    if (f->seg[i] < c)
      continue;
    char *p = wal_path(w, "seg", f->seg[i], "");
    r->gen = f->seg[i];
    r->active = i == f->nseg - 1;
    rc = replay_file(r, p, bytes, d);
    free(p);
  }
  return rc;
}

static int open_active(tsdb__wal *w, bool create)
{
  char *p = wal_path(w, "seg", w->gen, "");
  w->fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
  free(p);
  if (w->fd < 0)
    return -errno;
  if (create) {
    int rc = write_header(w->fd);
    if (rc) {
      close(w->fd);
      w->fd = -1;
      return rc;
    }
  }
  return 0;
}

int tsdb__wal_open(tsdb *db, lk_diag *d)
{
  tsdb__wal *w = &db->wal;
  pthread_mutex_init(&w->mu, NULL);
  w->fd = -1;
  w->policy = db->o.fsync;
  lk_buf b = {0};
  lk_buf_printf(&b, "%s/%s", db->dir, TSDB_DIR_WAL);
  w->dir = (char *)lk_buf_take(&b, NULL);
  if (mkdir(w->dir, 0755) < 0 && errno != EEXIST)
    return lk_diag_set(d, -errno, -1, "cannot create %s: %s", w->dir, strerror(errno));
  walfiles f = {0};
  int rc = list_wal(w, &f);
  uint32_t c = f.nckpt ? f.ckpt[f.nckpt - 1] : 0;
  replay r = {.db = db};
  uint64_t bytes = 0;
  if (!rc)
    rc = replay_all(&r, w, &f, c, &bytes, d);
  if (!rc) {
    for (size_t i = 0; i < f.nckpt; i++)
      if (f.ckpt[i] < c)
        unlink_retired(w, "ckpt", f.ckpt[i]);
    for (size_t i = 0; i < f.nseg; i++)
      if (f.seg[i] < c)
        unlink_retired(w, "seg", f.seg[i]);
    bool have_seg = f.nseg && f.seg[f.nseg - 1] >= c;
    w->gen = have_seg ? f.seg[f.nseg - 1] : c;
    atomic_store(&w->bytes, bytes + (have_seg ? 0 : TSDB_WAL_HDR));
    rc = open_active(w, !have_seg);
  }
  free(r.refmap);
  free(f.ckpt);
  free(f.seg);
  if (rc)
    return lk_diag_set(d, rc, -1, "opening the WAL in %s failed: %s", w->dir, lk_strerror(rc));
  if (r.samples)
    lk_info("wal replayed dir=%s samples=%llu", w->dir, (unsigned long long)r.samples);
  return 0;
}

void tsdb__wal_close(tsdb__wal *w)
{
  if (w->fd >= 0) {
    if (w->dirty)
      fdatasync(w->fd);
    close(w->fd);
  }
  if (w->pending.len)
    lk_error("wal: closing with unwritten records dir=%s bytes=%zu", w->dir, w->pending.len);
  lk_buf_fini(&w->pending);
  free(w->dir);
  pthread_mutex_destroy(&w->mu);
}

/*---- Checkpoint ----*/

typedef struct ckpt {
  int fd;
  lk_buf out, rec;
  int err;
  uint64_t bytes;
} ckpt;

static void ckpt_put(ckpt *c, uint8_t type)
{
  frame_record(&c->out, type, c->rec.data, c->rec.len);
  lk_buf_clear(&c->rec);
  if (c->out.len >= (1u << 20) && !c->err) {
    struct iovec iov = {c->out.data, c->out.len};
    size_t done;
    c->err = write_all(c->fd, &iov, 1, &done);
    c->bytes += c->out.len;
    lk_buf_clear(&c->out);
  }
}

static void ckpt_series(ckpt *c, const tsdb__series *s)
{
  tsdb__wal_encode_series(&c->rec, s);
  ckpt_put(c, TSDB_REC_SERIES);
  for (uint32_t i = 0; i < s->nchunks; i++) {
    const tsdb__hchunk *k = &s->chunks[i];
    lk_buf_put_uvarint(&c->rec, s->id);
    lk_buf_put_varint(&c->rec, k->mint);
    lk_buf_put_uvarint(&c->rec, (uint64_t)k->maxt - (uint64_t)k->mint);
    lk_buf_put_uvarint(&c->rec, k->n);
    lk_buf_put_uvarint(&c->rec, k->len);
    lk_buf_append(&c->rec, k->data, k->len);
    ckpt_put(c, TSDB_REC_CHUNK);
  }
  int64_t bt[TSDB_HEAD_CHUNK_SAMPLES], prev = 0;
  double bv[TSDB_HEAD_CHUNK_SAMPLES];
  size_t bn = tsdb__ochunk_decode(&s->open, bt, bv);
  for (size_t i = 0; i < bn + s->ooo.n; i++) {
    int64_t t = i < bn ? bt[i] : s->ooo.t[i - bn];
    double v = i < bn ? bv[i] : s->ooo.v[i - bn];
    uint64_t bits;
    memcpy(&bits, &v, 8);
    lk_buf_put_uvarint(&c->rec, s->id);
    lk_buf_put_varint(&c->rec, (int64_t)((uint64_t)t - (uint64_t)prev));
    lk_buf_put_u64le(&c->rec, bits);
    prev = t;
  }
  if (c->rec.len)
    ckpt_put(c, TSDB_REC_SAMPLES);
}

static int series_id_cmp(const void *a, const void *b)
{
  uint32_t x = (*(tsdb__series *const *)a)->id, y = (*(tsdb__series *const *)b)->id;
  return (x > y) - (x < y);
}

/* The live series in id order, so that replay appends to postings. */
static tsdb__series **series_by_id(tsdb__head *h, size_t *n)
{
  tsdb__series **ss = lk_xmalloc((h->live_series ? h->live_series : 1) * sizeof *ss);
  size_t k = 0;
  for (size_t i = 0; i < h->byid.cap; i++)
    if (h->byid.slot[i])
      ss[k++] = h->byid.slot[i];
  qsort(ss, k, sizeof *ss, series_id_cmp);
  *n = k;
  return ss;
}

/* Write ckpt-<gen>.tmp with the head; returns bytes written or error.
 * Series dropped by head GC are gone from the head, so the checkpoint
 * (which replaces every older WAL file) cannot bring them back. */
static int write_checkpoint(tsdb *db, const char *tmp, uint32_t gen, uint64_t *bytes)
{
  ckpt c = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (c.fd < 0)
    return -errno;
  c.err = write_header(c.fd);
  c.bytes = TSDB_WAL_HDR;
  size_t n;
  tsdb__series **ss = series_by_id(&db->head, &n);
  for (size_t i = 0; i < n; i++) {
    tsdb__series *s = ss[i];
    atomic_store(&s->wal_gen, tsdb__series_empty(s) ? 0 : gen + 1);
    if (!tsdb__series_empty(s))
      ckpt_series(&c, s);
  }
  free(ss);
  if (c.out.len && !c.err) {
    struct iovec iov = {c.out.data, c.out.len};
    size_t done;
    c.err = write_all(c.fd, &iov, 1, &done);
    c.bytes += c.out.len;
  }
  if (!c.err && fsync(c.fd) < 0)
    c.err = -errno;
  close(c.fd);
  lk_buf_fini(&c.out);
  lk_buf_fini(&c.rec);
  *bytes = c.bytes;
  return c.err;
}

/* Undo a failed checkpoint: the old generation stays the valid one, so
 * series records must be logged there again before their samples. */
static int ckpt_abandon(tsdb *db, uint32_t gen, int rc, lk_diag *d)
{
  unlink_gen(&db->wal, "ckpt", gen);
  for (size_t i = 0; i < db->head.byid.cap; i++)
    if (db->head.byid.slot[i])
      atomic_store(&db->head.byid.slot[i]->wal_gen, 0);
  return lk_diag_set(d, rc, -1, "writing a WAL checkpoint failed: %s", lk_strerror(rc));
}

int tsdb__wal_checkpoint(tsdb *db, lk_diag *d)
{
  tsdb__wal *w = &db->wal;
  uint32_t gen = w->gen + 1;
  char *tmp = wal_path(w, "ckpt", gen, TSDB_TMP_SUFFIX), *fin = wal_path(w, "ckpt", gen, "");
  uint64_t bytes = 0;
  int rc = write_checkpoint(db, tmp, gen, &bytes);
  if (!rc)
    lk_crash_point(db->o.crash, "checkpoint.tmp_written");
  if (!rc && rename(tmp, fin) < 0)
    rc = -errno;
  unlink(tmp);
  free(tmp);
  free(fin);
  if (rc)
    return ckpt_abandon(db, gen, rc, d);
  lk_crash_point(db->o.crash, "checkpoint.renamed");
  pthread_mutex_lock(&w->mu);
  uint32_t old = w->gen;
  int oldfd = w->fd;
  w->gen = gen;
  rc = open_active(w, true);
  if (rc) {
    w->fd = oldfd;
    w->gen = old;
    pthread_mutex_unlock(&w->mu);
    return ckpt_abandon(db, gen, rc, d);
  }
  atomic_store(&w->bytes, bytes + TSDB_WAL_HDR);
  w->dirty = false;
  lk_buf_clear(&w->pending); /* the checkpoint holds their samples */
  atomic_store(&w->has_pending, false);
  pthread_mutex_unlock(&w->mu);
  fsync(w->fd);
  tsdb__fsync_dir(w->dir);
  close(oldfd);
  lk_crash_point(db->o.crash, "checkpoint.before_cleanup");
  unlink_gen(w, "seg", old);
  unlink_gen(w, "ckpt", old);
  return 0;
}
