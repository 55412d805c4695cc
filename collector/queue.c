/* queue.c — the agent's bounded on-disk queue of remote_write requests.
 *
 * One file per request, <dir>/<seq as 16 hex>.q, so dropping the oldest or
 * acknowledging a sent request is an unlink, and a crash leaves whole files
 * only (each is written to a .tmp name and renamed into place). File layout
 * (little endian):
 *
 *   +--------+--------+------------+------------+------------------+
 *   | "LKQ1" | crc32  | nsamples 8 | length 8   | body (length)    |
 *   +--------+--------+------------+------------+------------------+
 *   crc32 (zlib) covers nsamples, length and body. A file failing the check
 *   at reopen is removed and counted as dropped. A file with another magic
 *   (another format version) is left as it is, unsent, with one warning;
 *   new sequence numbers start past it so it is never overwritten.
 *
 * Bound: when adding a request would take the queue past max_bytes, the
 * oldest requests are removed first and their samples counted as dropped;
 * a request larger than the bound alone is dropped itself.
 *
 * Threads: the collector's thread puts, the sender's thread peeks and pops;
 * q->lock guards every field. It is never held across file I/O of the
 * sender's request, only across the queue's own small file operations.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/queue.h"
#include "lib/lk_alloc.h"
#include "lib/lk_endian.h"
#include "lib/lk_fs.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"

#define HDR 24
static const char MAGIC[4] = {'L', 'K', 'Q', '1'};

typedef struct qent {
  uint64_t seq, bytes, nsamples;
} qent;

struct collector__queue {
  pthread_mutex_t lock;
  char *dir;
  uint64_t max_bytes, bytes, next_seq;
  qent *v;            /* ring of pending entries, oldest at head */
  size_t head, n, cap;
  uint64_t dropped_requests, dropped_samples;
  bool write_failing; /* the last put could not write its file (logged once) */
};

static void path_of(const collector__queue *q, uint64_t seq, char *p, size_t cap, const char *ext)
{
  snprintf(p, cap, "%s/%016" PRIx64 "%s", q->dir, seq, ext);
}

static qent *at(collector__queue *q, size_t i)
{
  return &q->v[(q->head + i) % q->cap];
}

static void push_ent(collector__queue *q, qent e)
{
  if (q->n == q->cap) { /* grow and unwrap the ring */
    size_t ncap = q->cap ? q->cap * 2 : 64;
    qent *nv = lk_xcalloc(ncap, sizeof *nv);
    for (size_t i = 0; i < q->n; i++)
      nv[i] = *at(q, i);
    free(q->v);
    q->v = nv;
    q->cap = ncap;
    q->head = 0;
  }
  *at(q, q->n++) = e;
  q->bytes += e.bytes;
}

static void drop_head(collector__queue *q, bool count)
{
  qent *e = at(q, 0);
  char p[4096];
  path_of(q, e->seq, p, sizeof p, ".q");
  unlink(p);
  q->bytes -= e->bytes;
  if (count) {
    q->dropped_requests++;
    q->dropped_samples += e->nsamples;
  }
  q->head = (q->head + 1) % q->cap;
  q->n--;
}

/* Read and verify one file; 0 with the body in out (if non-NULL),
 * LK_ENOTSUP for a file of another format. */
static int read_file(const char *p, uint64_t *nsamples, uint64_t *len, lk_buf *out)
{
  uint8_t h[HDR];
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return LK_EIO;
  int rc = LK_ECORRUPT;
  ssize_t got = read(fd, h, HDR);
  if (got >= 4 && memcmp(h, MAGIC, 4))
    rc = LK_ENOTSUP;
  else if (got == HDR) {
    *nsamples = lk_le64_load(h + 8);
    *len = lk_le64_load(h + 16);
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == HDR + *len) {
      lk_buf tmp = {0};
      lk_buf *b = out ? out : &tmp;
      lk_buf_clear(b);
      lk_buf_reserve(b, *len + 1);
      if (read(fd, b->data, *len) == (ssize_t)*len) {
        b->len = *len;
        uint32_t crc = lk_crc32(lk_crc32(0, h + 8, 16), b->data, *len);
        rc = crc == lk_le32_load(h + 4) ? 0 : LK_ECORRUPT;
      }
      lk_buf_fini(&tmp);
    }
  }
  close(fd);
  return rc;
}

static int seq_cmp(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Load what a previous run left: verified files in sequence order. */
static void load(collector__queue *q)
{
  DIR *d = opendir(q->dir);
  if (!d)
    return;
  uint64_t *seqs = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    uint64_t seq = strtoull(de->d_name, &end, 16);
    if (end == de->d_name + 16 && !strcmp(end, ".q")) {
      seqs = lk_xgrow(seqs, &cap, n + 1, sizeof *seqs);
      seqs[n++] = seq;
    } else if (strstr(de->d_name, ".tmp")) {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", q->dir, de->d_name);
      unlink(p); /* a write cut short */
    }
  }
  closedir(d);
  if (n)
    qsort(seqs, n, sizeof *seqs, seq_cmp);
  for (size_t i = 0; i < n; i++) {
    char p[4096];
    uint64_t ns, len;
    path_of(q, seqs[i], p, sizeof p, ".q");
    q->next_seq = seqs[i] + 1;
    int rc = read_file(p, &ns, &len, NULL);
    if (rc == LK_ENOTSUP) {
      lk_warn("push queue: leaving %s as it is: not this version's format", p);
      continue;
    }
    if (rc) {
      lk_warn("push queue: removing corrupt %s", p);
      unlink(p);
      q->dropped_requests++;
      continue;
    }
    push_ent(q, (qent){seqs[i], HDR + len, ns});
  }
  free(seqs);
}

int collector__queue_open(const char *dir, uint64_t max_bytes, collector__queue **out, lk_diag *d)
{
  if (lk_mkdir_p(dir))
    return lk_diag_set(d, LK_EIO, -1, "push queue: cannot create %s: %s", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode))
    return lk_diag_set(d, LK_EINVAL, -1, "push queue: %s is not a directory", dir);
  collector__queue *q = lk_xcalloc(1, sizeof *q);
  pthread_mutex_init(&q->lock, NULL);
  q->dir = lk_xstrdup(dir);
  q->max_bytes = max_bytes ? max_bytes : 256u << 20;
  q->next_seq = 1;
  load(q);
  *out = q;
  return 0;
}

void collector__queue_close(collector__queue *q)
{
  if (!q)
    return;
  pthread_mutex_destroy(&q->lock);
  free(q->dir);
  free(q->v);
  free(q);
}

/* 0, or the negated errno of the step that failed (-ENOSPC on a full disk);
 * nothing is left behind on failure. */
static int write_file(const char *tmp, const char *final, const uint8_t *body, size_t len,
                      uint64_t nsamples)
{
  uint8_t h[HDR];
  memcpy(h, MAGIC, 4);
  lk_le64_store(h + 8, nsamples);
  lk_le64_store(h + 16, len);
  lk_le32_store(h + 4, lk_crc32(lk_crc32(0, h + 8, 16), body, len));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  errno = EIO; /* a short write without an error */
  bool ok = write(fd, h, HDR) == HDR && write(fd, body, len) == (ssize_t)len;
  int err = errno;
  if (close(fd) && ok) {
    ok = false;
    err = errno;
  }
  if (ok && rename(tmp, final)) {
    ok = false;
    err = errno;
  }
  if (!ok)
    unlink(tmp);
  return ok ? 0 : -err;
}

/* One line when writing starts failing (the request is dropped, as the
 * bound would drop it) and one when it works again. */
static void note_write(collector__queue *q, int rc)
{
  if (rc && !q->write_failing)
    lk_warn("push queue: cannot write to %s, refusing new requests until it works err=\"%s\"", q->dir,
            lk_strerror(rc));
  else if (!rc && q->write_failing)
    lk_info("push queue: writing to %s works again", q->dir);
  q->write_failing = rc != 0;
}

int collector__queue_put(collector__queue *q, const uint8_t *body, size_t len, uint64_t nsamples)
{
  pthread_mutex_lock(&q->lock);
  uint64_t need = HDR + len;
  if (need > q->max_bytes) {
    q->dropped_requests++;
    q->dropped_samples += nsamples;
    pthread_mutex_unlock(&q->lock);
    return LK_ETOOBIG;
  }
  while (q->n && q->bytes + need > q->max_bytes)
    drop_head(q, true);
  uint64_t seq = q->next_seq++;
  char tmp[4096], final[4096];
  path_of(q, seq, tmp, sizeof tmp, ".tmp");
  path_of(q, seq, final, sizeof final, ".q");
  int rc = write_file(tmp, final, body, len, nsamples);
  note_write(q, rc);
  if (rc) {
    q->dropped_requests++;
    q->dropped_samples += nsamples;
  } else
    push_ent(q, (qent){seq, need, nsamples});
  pthread_mutex_unlock(&q->lock);
  return rc;
}

int collector__queue_peek(collector__queue *q, lk_buf *body, uint64_t *seq, uint64_t *nsamples)
{
  pthread_mutex_lock(&q->lock);
  int rc = LK_ENOENT;
  while (q->n) {
    qent e = *at(q, 0);
    char p[4096];
    uint64_t ns, len;
    path_of(q, e.seq, p, sizeof p, ".q");
    rc = read_file(p, &ns, &len, body);
    if (rc == 0) {
      *seq = e.seq;
      *nsamples = ns;
      break;
    }
    lk_warn("push queue: %s unreadable (%s), dropped", p, lk_strerror(rc));
    drop_head(q, true);
    rc = LK_ENOENT;
  }
  pthread_mutex_unlock(&q->lock);
  return rc;
}

void collector__queue_pop(collector__queue *q, uint64_t seq)
{
  pthread_mutex_lock(&q->lock);
  if (q->n && at(q, 0)->seq == seq) /* it may have been dropped meanwhile */
    drop_head(q, false);
  pthread_mutex_unlock(&q->lock);
}

void collector__queue_stats_get(collector__queue *q, uint64_t *requests, uint64_t *bytes,
                            uint64_t *dropped_requests, uint64_t *dropped_samples)
{
  pthread_mutex_lock(&q->lock);
  *requests = q->n;
  *bytes = q->bytes;
  *dropped_requests = q->dropped_requests;
  *dropped_samples = q->dropped_samples;
  pthread_mutex_unlock(&q->lock);
}
