/* tail.c — following log files: discovery, rotation, truncation, batching
 * to the sink and checkpoints.
 *
 * Each followed path has one open fd and a read offset. A pass globs the
 * paths (the thread's passes less often on big trees, see thread_poll),
 * notices a new inode at a known path (rotation by rename: the old fd
 * is read to its end first, then the new file from 0), a size below the read
 * offset (copytruncate: restart at 0) and vanished paths (read to the end,
 * flush partials, close). Records are split on \n; an unfinished last record
 * waits in a buffer. Partial state (the joiner) belongs to the path, so a
 * P/F pair spanning a rotation still joins.
 *
 * Checkpoint per file: (dev, ino, fingerprint, X, C) — the fingerprint is
 * the crc32 of the file's first bytes (up to 256), since inodes are reused
 * after deletion; X is where to restart reading (the
 * first fragment of the oldest unfinished line, else C) and C the end of the
 * last record consumed. Entries completed at or before C were acknowledged,
 * so after a restart (or a sink failure, which rewinds to the last
 * checkpoint) entries completing at or before C are dropped: no loss, no
 * duplicates. The checkpoint file is replaced atomically (temp + fsync +
 * rename) after every acknowledged batch.
 *
 * Compressed rotation (logrotate `compress`, kubelet's 0.log.<time>.gz):
 * while running, the old file's fd stays open across rename + gzip + unlink,
 * so the rotation path above reads its unread tail from that fd (the inode
 * lives while the fd is open). Only after a restart is there no fd: when a
 * path's checkpoint names another inode than the file now at the path, the
 * `<path>.*.gz` siblings are inflated (lk_gunzip, at most GZ_MAX bytes) into
 * a memfd; the one whose first bytes match the checkpoint's fingerprint
 * stands in for the old file (its offsets, dev/ino 0), so the ordinary
 * rotation path reads it from X (dropping entries up to C) and then switches
 * to the new file. A checkpoint for a path that no longer exists at all is
 * not recovered.
 * Threads: one owner at a time (see tail.h); the start/stop thread holds
 * t->mu only to read `stop`.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_gzip.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define READ_CHUNK (64u << 10)
#define FP_BYTES 256u
#define GZ_MAX (1ull << 30) /* inflated size of a rotated .gz we recover from */

typedef struct tfile {
  char *path;
  int fd;
  dev_t dev;
  ino_t ino;
  uint32_t fp, fp_len;    /* crc32 of the first fp_len (<= FP_BYTES) bytes: inodes get reused */
  uint64_t off;           /* next byte to read */
  lk_buf part;            /* unfinished record read so far */
  collector_log_joiner *j;
  bool pending;           /* the joiner holds a partial line */
  uint64_t pend_start;    /* X candidate while pending */
  uint64_t consumed;      /* C: end of the last record fed */
  uint64_t ck_x, ck_c;    /* last acknowledged checkpoint */
  uint64_t snap_x, snap_c;/* snapshot sent with the batch in flight */
  uint64_t skip_until;    /* drop entries completing at or before this */
  char *ns, *pod, *container;
  lk_label labels[2][5];
  size_t nlabels;
  int restart;            /* N of N.log, or -1 */
  int64_t last_data;
  bool seen;
} tfile;

typedef struct saved_pos {
  dev_t dev;
  ino_t ino;
  uint32_t fp, fp_len;
  uint64_t x, c;
  char *path;
} saved_pos;

typedef struct bentry {
  int64_t ts;
  size_t off, len;
  const lk_label *labels;
  size_t nlabels;
} bentry;

struct collector_tail {
  collector_tail_opts o;
  collector_log_sink sink;
  char **globs;
  size_t nglobs;
  char *positions;
  tfile **files;
  size_t nfiles, fcap;
  saved_pos *saved;
  size_t nsaved;
  /* batch being built */
  bentry *b;
  size_t nb, bcap;
  lk_buf bbytes;
  tfile *cur;             /* file being fed (for the joined callback) */
  uint64_t cur_rec_end;
  int sink_rc;
  collector_tail_stats st;
  /* thread */
  pthread_t thr;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool running, stop;
  int64_t interval_ms;
  int64_t discovered_ns, discover_cost_ns; /* monotonic time and duration of the last glob pass */
  lk_buf saved_text;      /* the checkpoint file's contents as last written */
  bool saved_text_ok;     /* ... and that write succeeded */
};

/*---- labels from the path ----*/

static char *dup_range(const char *s, const char *e) { return lk_xstrndup(s, (size_t)(e - s)); }

/* .../<ns>_<pod>_<uid>/<container>/<N>.log or .../<id>/<id>-json.log */
static void path_labels(tfile *f)
{
  const char *p = f->path, *base = strrchr(p, '/');
  base = base ? base + 1 : p;
  f->restart = -1;
  char *end;
  long n = strtol(base, &end, 10);
  if (end != base && !strcmp(end, ".log"))
    f->restart = (int)n;
  const char *d1e = base > p ? base - 1 : NULL, *d1 = NULL, *d2 = NULL;
  if (d1e) {
    for (d1 = d1e; d1 > p && d1[-1] != '/'; d1--)
      ;
    if (d1 > p + 1)
      for (d2 = d1 - 1; d2 > p && d2[-1] != '/'; d2--)
        ;
  }
  const char *dash = strstr(base, "-json.log");
  if (dash && dash - base == 64) {
    f->container = dup_range(base, base + 12);
  } else if (d2 && f->restart >= 0) {
    const char *u1 = memchr(d2, '_', (size_t)(d1 - 1 - d2)), *u2 = u1 ? memchr(u1 + 1, '_', (size_t)(d1 - 2 - u1)) : NULL;
    if (u1 && u2) {
      f->ns = dup_range(d2, u1);
      f->pod = dup_range(u1 + 1, u2);
      f->container = dup_range(d1, d1e);
    }
  }
  for (int s = 0; s < 2; s++) {
    size_t k = 0;
    if (f->container)
      f->labels[s][k++] = (lk_label){"container", f->container};
    f->labels[s][k++] = (lk_label){"filename", f->path};
    if (f->ns)
      f->labels[s][k++] = (lk_label){"namespace", f->ns};
    if (f->pod)
      f->labels[s][k++] = (lk_label){"pod", f->pod};
    f->labels[s][k++] = (lk_label){"stream", s ? "stderr" : "stdout"};
    f->nlabels = k;
  }
}

/*---- batches ----*/

static void on_joined(void *ctx, const char *file, int64_t ts, const char *stream,
                      const char *line, size_t len)
{
  collector_tail *t = ctx;
  tfile *f = t->cur;
  if (t->cur_rec_end <= f->skip_until)
    return; /* acknowledged before a restart or a rewind */
  t->b = lk_xgrow(t->b, &t->bcap, t->nb + 1, sizeof *t->b);
  int s = !strcmp(stream, "stderr");
  t->b[t->nb++] = (bentry){ts, t->bbytes.len, len, f->labels[s], f->nlabels};
  lk_buf_append(&t->bbytes, line, len);
  t->st.entries++;
  t->st.bytes += len;
}

static void joiner_reset(collector_tail *t, tfile *f)
{
  collector_joiner_free(f->j);
  f->j = collector_joiner_new(t->o.format, t->o.max_line, on_joined, t);
  f->pending = false;
}

/* Write the checkpoint file when its contents changed (an idle pass costs
 * no write, fsync and rename). */
static int save_positions(collector_tail *t)
{
  if (!t->positions)
    return 0;
  lk_buf text = {0};
  for (size_t i = 0; i < t->nfiles; i++) {
    tfile *f = t->files[i];
    lk_buf_printf(&text, "%llu %llu %u %u %llu %llu %s\n", (unsigned long long)f->dev,
                  (unsigned long long)f->ino, f->fp, f->fp_len, (unsigned long long)f->ck_x,
                  (unsigned long long)f->ck_c, f->path);
  }
  if (t->saved_text_ok && text.len == t->saved_text.len &&
      (!text.len || !memcmp(text.data, t->saved_text.data, text.len))) {
    lk_buf_fini(&text);
    return 0;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", t->positions);
  FILE *fp = fopen(tmp, "w");
  int rc = !fp ? -errno : text.len && fwrite(text.data, 1, text.len, fp) != text.len ? -EIO : 0;
  if (fp && !rc)
    rc = fflush(fp) || fsync(fileno(fp)) ? -errno : 0;
  if (fp && fclose(fp) && !rc)
    rc = -errno;
  if (!rc && rename(tmp, t->positions))
    rc = -errno;
  lk_buf_fini(&t->saved_text);
  t->saved_text = text;
  t->saved_text_ok = !rc;
  return rc;
}

static void rewind_all(collector_tail *t)
{
  for (size_t i = 0; i < t->nfiles; i++) {
    tfile *f = t->files[i];
    f->off = f->ck_x;
    f->skip_until = f->ck_c;
    f->consumed = f->ck_c;
    lk_buf_clear(&f->part);
    joiner_reset(t, f);
  }
}

/* Send the batch; on success commit every file's snapshot. */
static int flush_batch(collector_tail *t)
{
  for (size_t i = 0; i < t->nfiles; i++) {
    tfile *f = t->files[i];
    f->snap_x = f->pending ? f->pend_start : f->consumed;
    f->snap_c = f->consumed;
  }
  int rc = 0;
  if (t->nb) {
    collector_log_entry *e = lk_xmalloc(t->nb * sizeof *e);
    for (size_t i = 0; i < t->nb; i++)
      e[i] = (collector_log_entry){t->b[i].ts, (const char *)t->bbytes.data + t->b[i].off,
                                   t->b[i].len, t->b[i].labels, t->b[i].nlabels};
    rc = t->sink.fn(t->sink.ctx, e, t->nb);
    free(e);
    t->nb = 0;
    lk_buf_clear(&t->bbytes);
  }
  if (rc) {
    t->st.sink_errors++;
    rewind_all(t);
    return rc;
  }
  for (size_t i = 0; i < t->nfiles; i++) {
    t->files[i]->ck_x = t->files[i]->snap_x;
    t->files[i]->ck_c = t->files[i]->snap_c;
  }
  int src = save_positions(t);
  if (src)
    lk_warn("log tailer: cannot write positions %s: %s", t->positions, strerror(-src));
  return 0;
}

/*---- reading ----*/

static int feed_record(collector_tail *t, tfile *f, const char *p, size_t n, uint64_t start,
                       uint64_t end)
{
  bool was = f->pending;
  t->cur = f;
  t->cur_rec_end = end;
  if (collector_joiner_feed(f->j, f->path, p, n, lk_now_ms() * 1000000LL) == LK_EPARSE)
    lk_debug("log tailer: bad record at %s:%llu", f->path, (unsigned long long)start);
  f->pending = collector_joiner_pending(f->j);
  if (f->pending && !was)
    f->pend_start = start;
  f->consumed = end;
  if (t->nb >= t->o.batch_entries)
    return flush_batch(t);
  return 0;
}

/* Split new bytes into records; returns the sink's error if a batch failed. */
static int consume(collector_tail *t, tfile *f, const char *p, size_t n)
{
  uint64_t base = f->off - f->part.len; /* file offset of part[0]; off is where p starts */
  size_t i = 0;
  while (i < n) {
    const char *nl = memchr(p + i, '\n', n - i);
    size_t take = nl ? (size_t)(nl - (p + i)) : n - i;
    lk_buf_append(&f->part, p + i, take);
    i += take;
    /* no newline in sight: cut the record (the joiner splits long lines itself) */
    bool forced = !nl && f->part.len > t->o.max_line * 4 + (64u << 10);
    if (!nl && !forced)
      break;
    uint64_t start = base, end = base + f->part.len + (nl ? 1 : 0);
    int rc = feed_record(t, f, (const char *)f->part.data, f->part.len, start, end);
    i += nl ? 1 : 0;
    base = end;
    lk_buf_clear(&f->part);
    if (rc)
      return rc;
  }
  return 0;
}

static int read_to_end(collector_tail *t, tfile *f)
{
  char *buf = lk_xmalloc(READ_CHUNK);
  int rc = 0;
  for (;;) {
    ssize_t r = pread(f->fd, buf, READ_CHUNK, (off_t)f->off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    f->last_data = lk_mono_ns();
    rc = consume(t, f, buf, (size_t)r);
    if (rc)
      break; /* rewound to the checkpoint */
    f->off += (uint64_t)r;
  }
  free(buf);
  return rc;
}

/*---- files ----*/

static void tfile_free(tfile *f)
{
  if (f->fd >= 0)
    close(f->fd);
  collector_joiner_free(f->j);
  lk_buf_fini(&f->part);
  free(f->path);
  free(f->ns);
  free(f->pod);
  free(f->container);
  free(f);
}

/* crc32 of the first n bytes (n <= FP_BYTES); -1 when fewer can be read. */
static int64_t fingerprint(int fd, uint32_t n)
{
  uint8_t buf[FP_BYTES];
  ssize_t r = n ? pread(fd, buf, n, 0) : 0;
  return r == (ssize_t)n ? (int64_t)lk_crc32(0, buf, n) : -1;
}

/* Take the fingerprint once the file has FP_BYTES (or whatever it has so far). */
static void fingerprint_update(tfile *f, uint64_t size)
{
  if (f->fp_len >= FP_BYTES || size <= f->fp_len)
    return;
  uint32_t n = size < FP_BYTES ? (uint32_t)size : FP_BYTES;
  int64_t v = fingerprint(f->fd, n);
  if (v >= 0)
    f->fp = (uint32_t)v, f->fp_len = n;
}

/* The saved position of this file: same dev, inode and first bytes. */
static const saved_pos *saved_find(const collector_tail *t, int fd, dev_t dev, ino_t ino)
{
  for (size_t i = 0; i < t->nsaved; i++) {
    const saved_pos *sp = &t->saved[i];
    if (sp->dev == dev && sp->ino == ino && sp->fp_len <= FP_BYTES &&
        fingerprint(fd, sp->fp_len) == (int64_t)sp->fp)
      return sp;
  }
  return NULL;
}

/*---- recovery from a compressed rotated file (after a restart) ----*/

static int gz_to_fd(void *ctx, const uint8_t *p, size_t n)
{
  int fd = *(int *)ctx;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return LK_EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Inflate the gzip file gz into a new memfd; fd or -1. */
static int gz_inflate(const char *gz)
{
  int in = open(gz, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -1;
  int out = memfd_create("lk-tail-gz", MFD_CLOEXEC);
  lk_gunzip *z = out >= 0 ? lk_gunzip_new(GZ_MAX, gz_to_fd, &out) : NULL;
  uint8_t *buf = lk_xmalloc(READ_CHUNK);
  int rc = z ? 0 : -1;
  ssize_t r;
  while (!rc && (r = read(in, buf, READ_CHUNK)) != 0)
    rc = r < 0 ? (errno == EINTR ? 0 : -1) : lk_gunzip_feed(z, buf, (size_t)r, NULL);
  if (!rc)
    rc = lk_gunzip_finish(z, NULL);
  free(buf);
  lk_gunzip_free(z);
  close(in);
  if (rc && out >= 0) {
    close(out);
    out = -1;
  }
  return out;
}

/* A saved position for this path whose file was rotated and compressed:
 * the inflated .gz sibling whose first bytes match, as an fd, or -1. */
static int gz_find(const collector_tail *t, const char *path, const saved_pos **which)
{
  for (size_t i = 0; i < t->nsaved; i++) {
    const saved_pos *sp = &t->saved[i];
    if (strcmp(sp->path, path) || !sp->fp_len || sp->fp_len > FP_BYTES)
      continue;
    lk_buf pat = {0};
    lk_buf_printf(&pat, "%s.*.gz", path);
    glob_t g;
    int grc = glob((const char *)pat.data, 0, NULL, &g);
    lk_buf_fini(&pat);
    if (grc)
      continue;
    int fd = -1;
    for (size_t k = 0; k < g.gl_pathc && fd < 0; k++) {
      fd = gz_inflate(g.gl_pathv[k]);
      if (fd >= 0 && fingerprint(fd, sp->fp_len) != (int64_t)sp->fp) {
        close(fd);
        fd = -1;
      }
    }
    globfree(&g);
    if (fd >= 0) {
      *which = sp;
      return fd;
    }
  }
  return -1;
}

static tfile *tfile_open(collector_tail *t, const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  for (size_t i = 0; i < t->nfiles; i++)
    if (t->files[i]->dev == sb.st_dev && t->files[i]->ino == sb.st_ino) {
      close(fd); /* the same file through another path (symlink) */
      t->files[i]->seen = true;
      return NULL;
    }
  tfile *f = lk_xcalloc(1, sizeof *f);
  f->path = lk_xstrdup(path);
  f->fd = fd;
  f->dev = sb.st_dev;
  f->ino = sb.st_ino;
  const saved_pos *sp = saved_find(t, fd, sb.st_dev, sb.st_ino);
  int gz = sp ? -1 : gz_find(t, path, &sp);
  if (gz >= 0) {
    /* stand in for the rotated file under dev/ino 0 (the new file may have
     * reused the old inode): the next pass sees another inode at the path
     * and rotates, reading this one to its end first */
    close(fd);
    f->fd = gz;
    f->dev = 0;
    f->ino = 0;
    if (fstat(gz, &sb))
      sb.st_size = 0;
  }
  if (sp && sp->x <= (uint64_t)sb.st_size) {
    f->off = f->ck_x = sp->x;
    f->consumed = f->ck_c = f->skip_until = sp->c;
    f->fp = sp->fp;
    f->fp_len = sp->fp_len;
  }
  path_labels(f);
  joiner_reset(t, f);
  f->last_data = lk_mono_ns();
  t->files = lk_xgrow(t->files, &t->fcap, t->nfiles + 1, sizeof *t->files);
  t->files[t->nfiles++] = f;
  t->st.files++;
  return f;
}

/* The path now names another inode: finish the old one, then switch. */
static int rotate(collector_tail *t, tfile *f, const struct stat *sb)
{
  int rc = read_to_end(t, f);
  if (rc)
    return rc;
  int fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0; /* gone again; the next pass sees it */
  close(f->fd);
  f->fd = fd;
  f->dev = sb->st_dev;
  f->ino = sb->st_ino;
  f->off = f->consumed = f->ck_x = f->ck_c = f->skip_until = 0;
  f->pend_start = 0;
  f->fp = f->fp_len = 0;
  lk_buf_clear(&f->part);
  t->st.rotations++;
  return 0;
}

static void flush_partial(collector_tail *t, tfile *f)
{
  t->cur = f;
  t->cur_rec_end = f->consumed;
  collector_joiner_flush(f->j);
  f->pending = false;
}

static bool newer_sibling(const collector_tail *t, const tfile *f);

static int follow(collector_tail *t, tfile *f)
{
  struct stat sb, fsb;
  if (stat(f->path, &sb) == 0 && (sb.st_ino != f->ino || sb.st_dev != f->dev)) {
    int rc = rotate(t, f, &sb);
    if (rc)
      return rc;
  }
  bool have = fstat(f->fd, &fsb) == 0;
  if (have && (uint64_t)fsb.st_size < f->off) {
    t->st.truncations++; /* copytruncate or truncate -s 0 */
    f->off = f->consumed = f->skip_until = 0;
    f->fp = f->fp_len = 0;
    f->pend_start = 0;
    lk_buf_clear(&f->part);
  }
  if (have)
    fingerprint_update(f, (uint64_t)fsb.st_size);
  int rc = read_to_end(t, f);
  if (!rc && f->pending && newer_sibling(t, f))
    flush_partial(t, f); /* the container restarted: its last line ended */
  return rc;
}

static bool newer_sibling(const collector_tail *t, const tfile *f)
{
  if (f->restart < 0)
    return false;
  const char *slash = strrchr(f->path, '/');
  size_t dlen = slash ? (size_t)(slash - f->path) : 0;
  for (size_t i = 0; i < t->nfiles; i++) {
    const tfile *g = t->files[i];
    if (g != f && g->restart > f->restart && !strncmp(g->path, f->path, dlen) &&
        g->path[dlen] == '/' && !strchr(g->path + dlen + 1, '/'))
      return true;
  }
  return false;
}

static void remove_file(collector_tail *t, size_t i)
{
  tfile_free(t->files[i]);
  memmove(t->files + i, t->files + i + 1, (t->nfiles - i - 1) * sizeof *t->files);
  t->nfiles--;
}

/* Finish files whose path is gone; flush dangling partials when due. */
static int settle(collector_tail *t)
{
  int64_t now = lk_mono_ns();
  for (size_t i = 0; i < t->nfiles; i++) {
    tfile *f = t->files[i];
    bool gone = !f->seen;
    if (gone) {
      int rc = read_to_end(t, f);
      if (rc)
        return rc;
    }
    bool quiet = now - f->last_data >= t->o.partial_flush_ns;
    if (f->part.len && t->o.format == COLLECTOR_LOG_PLAIN && (gone || quiet)) {
      /* a plain file's last line without \n: a finished file (no newline at EOF) */
      int rc = feed_record(t, f, (const char *)f->part.data, f->part.len, f->off - f->part.len, f->off);
      lk_buf_clear(&f->part);
      if (rc)
        return rc;
    }
    if (f->pending && (gone || newer_sibling(t, f) || quiet))
      flush_partial(t, f);
  }
  int rc = flush_batch(t);
  if (rc)
    return rc;
  for (size_t i = t->nfiles; i-- > 0;)
    if (!t->files[i]->seen)
      remove_file(t, i);
  return 0;
}

static int tfile_path_cmp(const void *a, const void *b)
{
  return strcmp((*(tfile *const *)a)->path, (*(tfile *const *)b)->path);
}

/* The followed file at path p: files[0..nsorted) are sorted by path, the
 * ones opened since are searched one by one. */
static tfile *find_file(const collector_tail *t, size_t nsorted, const char *p)
{
  size_t lo = 0, hi = nsorted;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(t->files[mid]->path, p);
    if (!c)
      return t->files[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = nsorted; i < t->nfiles; i++)
    if (!strcmp(t->files[i]->path, p))
      return t->files[i];
  return NULL;
}

/* max_open's default: a quarter of the soft open-file limit, read at each
 * glob (main raises it to the hard limit once the collector starts), at
 * least MIN_OPEN_DEFAULT. The collector needs most of the rest: one
 * descriptor per read cgroup file, about 15 per container. */
#define MIN_OPEN_DEFAULT 512

static size_t open_bound(const collector_tail *t)
{
  if (t->o.max_open)
    return t->o.max_open;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl))
    return MIN_OPEN_DEFAULT;
  rlim_t quarter = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)SIZE_MAX : rl.rlim_cur / 4;
  return quarter > MIN_OPEN_DEFAULT ? (size_t)quarter : MIN_OPEN_DEFAULT;
}

/* Files found past the open-files bound are not followed: counted, and
 * warned about whenever their number grows. */
static void note_unfollowed(collector_tail *t, size_t n, size_t bound)
{
  if (n > t->st.unfollowed)
    lk_warn("log tailer: not following %zu log files: %zu are open, the bound (max_open, else a quarter of "
            "the open-file limit)", n, bound);
  t->st.unfollowed = n;
}

/* Glob every pattern: open new files, mark what still exists as seen. */
static void discover(collector_tail *t)
{
  int64_t t0 = lk_mono_ns();
  size_t bound = open_bound(t), unfollowed = 0;
  for (size_t i = 0; i < t->nfiles; i++)
    t->files[i]->seen = false;
  size_t nsorted = t->nfiles;
  for (size_t g = 0; g < t->nglobs; g++) {
    glob_t gl;
    if (glob(t->globs[g], 0, NULL, &gl))
      continue;
    for (size_t k = 0; k < gl.gl_pathc; k++) {
      const char *p = gl.gl_pathv[k];
      size_t len = strlen(p);
      if (len > 4 && !strcmp(p + len - 4, ".tmp"))
        continue;
      tfile *f = find_file(t, nsorted, p);
      if (!f && t->nfiles >= bound)
        unfollowed++;
      else if (!f)
        f = tfile_open(t, p);
      if (f)
        f->seen = true;
    }
    globfree(&gl);
  }
  if (t->nfiles > nsorted)
    qsort(t->files, t->nfiles, sizeof *t->files, tfile_path_cmp);
  note_unfollowed(t, unfollowed, bound);
  t->discovered_ns = lk_mono_ns();
  t->discover_cost_ns = t->discovered_ns - t0;
}

static int poll_files(collector_tail *t)
{
  for (size_t i = 0; i < t->nfiles; i++) {
    if (!t->files[i]->seen)
      continue;
    int rc = follow(t, t->files[i]);
    if (rc)
      return rc;
  }
  return settle(t);
}

int collector_tail_poll(collector_tail *t)
{
  discover(t);
  return poll_files(t);
}

/* The thread's pass: globbing (readdir of every directory the patterns
 * cross) is repeated only after DISCOVER_RATIO times what the last one
 * took, at most DISCOVER_MAX_NS, so discovery costs about 0.1 % of a core
 * however many files there are; known files are read every pass (a
 * rotation shows at their path), a new file waits for the next glob and
 * is read from its start. */
#define DISCOVER_RATIO 1000
#define DISCOVER_MAX_NS (10 * 1000000000LL)

static int thread_poll(collector_tail *t)
{
  int64_t wait = t->discover_cost_ns * DISCOVER_RATIO;
  if (!t->discovered_ns || lk_mono_ns() - t->discovered_ns >= (wait < DISCOVER_MAX_NS ? wait : DISCOVER_MAX_NS))
    discover(t);
  return poll_files(t);
}

/*---- lifecycle ----*/

static void load_positions(collector_tail *t)
{
  FILE *fp = t->positions ? fopen(t->positions, "r") : NULL;
  if (!fp)
    return;
  unsigned long long dev, ino, x, c;
  unsigned fpv, fpl;
  char path[4096];
  size_t cap = 0;
  while (fscanf(fp, "%llu %llu %u %u %llu %llu %4095[^\n]\n", &dev, &ino, &fpv, &fpl, &x, &c,
                path) == 7) {
    t->saved = lk_xgrow(t->saved, &cap, t->nsaved + 1, sizeof *t->saved);
    t->saved[t->nsaved++] = (saved_pos){(dev_t)dev, (ino_t)ino, fpv, fpl, x, c, lk_xstrdup(path)};
  }
  fclose(fp);
}

int collector_tail_new(const collector_tail_opts *o, collector_log_sink sink,
                       collector_tail **out, lk_diag *d)
{
  if (!sink.fn)
    return lk_diag_set(d, LK_EINVAL, -1, "log tailer: no sink");
  collector_tail *t = lk_xcalloc(1, sizeof *t);
  t->o = *o;
  t->sink = sink;
  if (!t->o.max_line)
    t->o.max_line = 256u << 10;
  if (!t->o.batch_entries)
    t->o.batch_entries = 1000;
  if (!t->o.partial_flush_ns)
    t->o.partial_flush_ns = 5000000000LL;
  static const char *def[] = {COLLECTOR_TAIL_DEFAULT_GLOB};
  const char *const *gl = o->nglobs ? o->globs : def;
  t->nglobs = o->nglobs ? o->nglobs : 1;
  t->globs = lk_xcalloc(t->nglobs, sizeof *t->globs);
  for (size_t i = 0; i < t->nglobs; i++)
    t->globs[i] = lk_xstrdup(gl[i]);
  t->positions = o->positions ? lk_xstrdup(o->positions) : NULL;
  t->o.globs = NULL;
  t->o.positions = NULL;
  load_positions(t);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  *out = t;
  return 0;
}

void collector_tail_stats_get(const collector_tail *t, collector_tail_stats *out)
{
  *out = t->st;
}

void collector_tail_free(collector_tail *t)
{
  if (!t)
    return;
  collector_tail_stop(t);
  for (size_t i = 0; i < t->nfiles; i++)
    tfile_free(t->files[i]);
  free(t->files);
  for (size_t i = 0; i < t->nglobs; i++)
    free(t->globs[i]);
  free(t->globs);
  free(t->positions);
  for (size_t i = 0; i < t->nsaved; i++)
    free(t->saved[i].path);
  free(t->saved);
  free(t->b);
  lk_buf_fini(&t->bbytes);
  lk_buf_fini(&t->saved_text);
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
  free(t);
}

static void *tail_thread(void *arg)
{
  collector_tail *t = arg;
  pthread_mutex_lock(&t->mu);
  while (!t->stop) {
    pthread_mutex_unlock(&t->mu);
    int rc = thread_poll(t);
    if (rc)
      lk_warn("log tailer: sink refused a batch (%s); retrying", lk_strerror(rc));
    pthread_mutex_lock(&t->mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (t->interval_ms % 1000) * 1000000LL;
    ts.tv_sec += t->interval_ms / 1000 + ns / 1000000000LL;
    ts.tv_nsec = ns % 1000000000LL;
    if (!t->stop)
      pthread_cond_timedwait(&t->cv, &t->mu, &ts);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

int collector_tail_start(collector_tail *t, int64_t interval_ms)
{
  if (t->running)
    return LK_EEXIST;
  t->interval_ms = interval_ms > 0 ? interval_ms : 1000;
  t->stop = false;
  int terr = pthread_create(&t->thr, NULL, tail_thread, t);
  if (terr)
    return -terr;
  t->running = true;
  return 0;
}

void collector_tail_stop(collector_tail *t)
{
  if (!t || !t->running)
    return;
  pthread_mutex_lock(&t->mu);
  t->stop = true;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->thr, NULL);
  t->running = false;
}
