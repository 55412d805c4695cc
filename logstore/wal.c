/* wal.c — the write-ahead log of entries not yet sealed into blocks.
 *
 * One file, one record per push (see FORMAT.md). A record is written with a
 * single write(2), so after kill -9 the file holds whole records plus at most
 * one torn tail, which replay detects by length/CRC and cuts off. Replay
 * skips entries already sealed (seq below the stream's sealed count), which
 * makes a crash between sealing and truncating harmless. A WAL whose header
 * names another format (unknown magic or version) is refused untouched.
 * Past wal_bytes the WAL is started again either empty (every head sealed)
 * or, while the heads are small beside it, holding just the heads: written
 * to wal.log.tmp, synced, renamed over wal.log. A crash leaves one whole
 * file either way, and both hold every entry not sealed, so heads keep
 * filling to full blocks instead of being cut at every WAL restart.
 * The file-header helpers here serve the segment files too.
 * Called with store->lock held for writing (or before the store is shared).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "logstore/format.h"
#include "logstore/logstore_int.h"

void logstore__labels_put(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_buf_put_uvarint(b, n);
  for (size_t i = 0; i < n; i++) {
    size_t a = strlen(ls[i].name), v = strlen(ls[i].value);
    lk_buf_put_uvarint(b, a);
    lk_buf_append(b, ls[i].name, a);
    lk_buf_put_uvarint(b, v);
    lk_buf_append(b, ls[i].value, v);
  }
}

static const char *dec_str(lk_dec *d, lk_arena *a)
{
  uint64_t n = lk_dec_uvarint(d);
  if (n > lk_dec_left(d)) {
    d->err = LK_ECORRUPT;
    return NULL;
  }
  const uint8_t *p = lk_dec_bytes(d, (size_t)n);
  return p ? lk_arena_strndup(a, (const char *)p, (size_t)n) : NULL;
}

long logstore__labels_get(lk_dec *d, lk_arena *a, lk_label *out, size_t max)
{
  uint64_t n = lk_dec_uvarint(d);
  if (d->err || n > max)
    return -1;
  for (size_t i = 0; i < n; i++) {
    out[i].name = dec_str(d, a);
    out[i].value = dec_str(d, a);
    if (d->err || !out[i].name || !out[i].value)
      return -1;
  }
  return (long)n;
}

static int write_all(int fd, const void *p, size_t n)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int logstore__wal_append(logstore *s, const ls_stream *st, uint64_t first_seq,
                         const logstore_entry *e, size_t n)
{
  lk_buf b = {0};
  size_t entry_bytes = 0;
  for (size_t i = 0; i < n; i++)
    entry_bytes += 2 * LK_UVARINT_MAX + e[i].len;
  lk_buf_reserve(&b, LS_WAL_REC_HDR + 64 + entry_bytes); /* one allocation, not a doubling chain of copies */
  lk_buf_put_u32le(&b, 0);
  lk_buf_put_u32le(&b, 0);
  lk_buf_putc(&b, LS_WAL_ENTRIES);
  logstore__labels_put(&b, st->labels, st->nlabels);
  lk_buf_put_uvarint(&b, first_seq);
  lk_buf_put_uvarint(&b, n);
  lk_buf_reserve(&b, entry_bytes); /* (long labels may have used the slack) */
  uint8_t *p = b.data + b.len;      /* entries written in place */
  for (size_t i = 0; i < n; i++) {
    p += lk_uvarint_put(p, lk_zigzag(e[i].ts));
    p += lk_uvarint_put(p, e[i].len);
    memcpy(p, e[i].line, e[i].len);
    p += e[i].len;
  }
  b.len = (size_t)(p - b.data);
  uint32_t len = (uint32_t)(b.len - LS_WAL_REC_HDR);
  uint32_t crc = lk_crc32(0, b.data + LS_WAL_REC_HDR, len);
  lk_le32_store(b.data, len);
  lk_le32_store(b.data + 4, crc);
  int rc = write_all(s->wal_fd, b.data, b.len);
  if (!rc && s->o.fsync && fdatasync(s->wal_fd))
    rc = -errno;
  if (!rc)
    s->wal_size += b.len;
  else if (ftruncate(s->wal_fd, (off_t)s->wal_size) == 0)
    lseek(s->wal_fd, (off_t)s->wal_size, SEEK_SET); /* drop a partial record */
  lk_buf_fini(&b);
  return rc;
}

/* Re-apply one record's entries that are not sealed yet; count the others. */
static int replay_record(logstore *s, const uint8_t *p, size_t n, lk_arena *a, uint64_t *sealed)
{
  lk_dec d;
  lk_dec_init(&d, p, n);
  lk_label ls[64];
  if (lk_dec_u8(&d) != LS_WAL_ENTRIES)
    return LK_ECORRUPT;
  long nl = logstore__labels_get(&d, a, ls, 64);
  uint64_t seq = lk_dec_uvarint(&d), cnt = lk_dec_uvarint(&d);
  if (nl < 0 || d.err || cnt > n)
    return LK_ECORRUPT;
  lk_labels_sort(ls, (size_t)nl);
  ls_stream *st = logstore__stream_get(s, ls, (size_t)nl, true);
  for (uint64_t i = 0; i < cnt; i++, seq++) {
    logstore_entry e;
    e.ts = lk_dec_varint(&d);
    e.len = (size_t)lk_dec_uvarint(&d);
    e.line = (const char *)lk_dec_bytes(&d, e.len);
    if (d.err || !e.line)
      return LK_ECORRUPT;
    if (seq < st->next_seq) {
      (*sealed)++; /* already sealed before the crash */
      continue;
    }
    st->next_seq = seq;
    logstore__head_append(s, st, &e, 1);
  }
  return 0;
}

static int replay(logstore *s, const uint8_t *buf, size_t size, uint64_t *good, uint64_t *sealed)
{
  lk_arena *a = lk_arena_new(4096);
  size_t off = LS_FILE_HDR;
  int rc = 0;
  while (off + LS_WAL_REC_HDR <= size) {
    uint32_t len = lk_le32_load(buf + off), crc = lk_le32_load(buf + off + 4);
    if (len > LS_WAL_MAX_REC || len > size - off - LS_WAL_REC_HDR ||
        lk_crc32(0, buf + off + LS_WAL_REC_HDR, len) != crc)
      break;
    rc = replay_record(s, buf + off + LS_WAL_REC_HDR, len, a, sealed);
    if (rc)
      break;
    lk_arena_reset(a);
    off += LS_WAL_REC_HDR + len;
  }
  lk_arena_free(a);
  *good = off;
  return rc == LK_ECORRUPT ? 0 : rc;
}

static int read_file(int fd, uint8_t **out, size_t *out_n)
{
  struct stat sb;
  if (fstat(fd, &sb))
    return -errno;
  size_t n = (size_t)sb.st_size, got = 0;
  uint8_t *p = lk_xmalloc(n + 1);
  while (got < n) {
    ssize_t r = pread(fd, p + got, n - got, (off_t)got);
    if (r <= 0) {
      free(p);
      return r < 0 ? -errno : LK_EIO;
    }
    got += (size_t)r;
  }
  *out = p;
  *out_n = n;
  return 0;
}

void logstore__header_put(uint8_t *out, uint32_t magic)
{
  lk_le32_store(out, magic);
  lk_le32_store(out + 4, LS_FORMAT_VERSION);
}

int logstore__header_check(const char *path, const uint8_t *p, size_t len, uint32_t magic, lk_diag *d)
{
  uint8_t want[LS_FILE_HDR], got[LS_FILE_HDR] = {0};
  logstore__header_put(want, magic);
  size_t n = len < LS_FILE_HDR ? len : LS_FILE_HDR;
  if (!memcmp(p, want, n))
    return 0;
  memcpy(got, p, n);
  return lk_diag_unknown_format(d, path, lk_le32_load(got), lk_le32_load(got + 4), magic,
                                LS_FORMAT_VERSION);
}

static int write_header(int fd)
{
  uint8_t h[LS_FILE_HDR];
  logstore__header_put(h, LS_WAL_MAGIC);
  if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0)
    return -errno;
  return write_all(fd, h, sizeof h);
}

int logstore__wal_open(logstore *s, lk_diag *d)
{
  char path[4096], tmp[4096];
  int rc = logstore__stream_path(s, path, sizeof path, LS_WAL_NAME);
  if (!rc)
    rc = logstore__stream_path(s, tmp, sizeof tmp, LS_WAL_TMP_NAME);
  if (rc)
    return lk_diag_set(d, rc, -1, "log store: path too long");
  if (unlink(tmp) == 0) /* a rewrite cut short: wal.log is still whole */
    lk_warn("log WAL: unfinished rewrite removed, file=%s", tmp);
  s->wal_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->wal_fd < 0)
    return lk_diag_set(d, -errno, -1, "log store: open %s: %s", path, strerror(errno));
  uint8_t *buf = NULL;
  size_t n = 0;
  if ((rc = read_file(s->wal_fd, &buf, &n)))
    return lk_diag_set(d, rc, -1, "log store: read %s: %s", path, lk_strerror(rc));
  uint64_t good = LS_FILE_HDR;
  if ((rc = logstore__header_check(path, buf, n, LS_WAL_MAGIC, d))) {
    free(buf);
    return rc; /* another format: left as it is */
  }
  if (n < LS_FILE_HDR) {
    rc = write_header(s->wal_fd); /* created, then cut short before its header */
  } else {
    uint64_t sealed = 0;
    rc = replay(s, buf, n, &good, &sealed);
    if (sealed) /* sealed by a stream's seal or a crash before the WAL restarted: not twice */
      lk_info("log WAL: replay skipped entries already sealed in segments, file=%s entries=%llu", path,
              (unsigned long long)sealed);
    if (!rc && good < n) {
      lk_warn("log WAL: torn tail cut, file=%s bytes=%zu", path, n - (size_t)good);
      if (ftruncate(s->wal_fd, (off_t)good))
        rc = -errno;
    }
  }
  free(buf);
  if (rc)
    return lk_diag_set(d, rc, -1, "log store: WAL %s: %s", path, lk_strerror(rc));
  s->wal_size = good;
  lseek(s->wal_fd, (off_t)good, SEEK_SET);
  return 0;
}

/* One record of everything in st's head (in time order, numbered from the
 * first unsealed seq: replay appends exactly these again). */
static int wal_put_head(logstore *s, ls_stream *st)
{
  if (!st->hn)
    return 0;
  logstore_entry *e = lk_xmalloc(st->hn * sizeof *e);
  for (size_t i = 0; i < st->hn; i++)
    e[i] = (logstore_entry){st->hts[i], (const char *)st->hbytes.data + st->hoff[i], st->hlen[i]};
  int rc = logstore__wal_append(s, st, st->next_seq - st->hn, e, st->hn);
  st->wal_epoch = s->wal_epoch;
  free(e);
  return rc;
}

/* Writes the heads into a fresh WAL at tmp; on success the old fd is
 * closed and the new one is the store's, else everything is as before. */
static int wal_write_heads(logstore *s, const char *tmp, const char *path)
{
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  int old_fd = s->wal_fd;
  uint64_t old_size = s->wal_size;
  s->wal_fd = fd;
  s->wal_size = LS_FILE_HDR;
  s->wal_epoch++; /* a stream without a head has no record from here on */
  int rc = write_header(fd);
  for (size_t i = 0; i < s->nstreams && !rc; i++)
    rc = wal_put_head(s, s->streams[i]);
  if (!rc && fdatasync(fd))
    rc = -errno;
  if (!rc)
    lk_crash_point(s->o.crash, "log.wal_rewrite_before_rename");
  if (!rc && rename(tmp, path))
    rc = -errno;
  if (rc) { /* streams stamped with the new epoch only stay longer */
    close(fd);
    unlink(tmp);
    s->wal_fd = old_fd;
    s->wal_size = old_size;
    return rc;
  }
  close(old_fd);
  return 0;
}

int logstore__wal_rewrite(logstore *s)
{
  char path[4096], tmp[4096];
  int rc = logstore__stream_path(s, path, sizeof path, LS_WAL_NAME);
  if (!rc)
    rc = logstore__stream_path(s, tmp, sizeof tmp, LS_WAL_TMP_NAME);
  return rc ? rc : wal_write_heads(s, tmp, path);
}

int logstore__wal_reset(logstore *s)
{
  int rc = write_header(s->wal_fd);
  if (!rc && fdatasync(s->wal_fd))
    rc = -errno;
  s->wal_size = rc ? s->wal_size : LS_FILE_HDR;
  s->wal_epoch += !rc;
  return rc;
}
