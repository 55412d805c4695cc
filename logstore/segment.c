/* segment.c — sealing heads into compressed blocks, segment files, reading
 * blocks back, and retention.
 *
 * Blocks are appended to the newest segment file; a segment is never
 * rewritten, only deleted whole by retention, so readers need no lock beyond
 * the store's read lock. At open only headers, metas and blooms are read
 * (they form the in-memory index); a torn block at a segment's end (crash
 * mid-seal) is cut off, which is safe because its entries are still in the WAL.
 * A segment whose file header names another format (unknown magic or
 * version) is refused untouched; a block found corrupt by a query is logged
 * with its file and offset.
 * Codec: zstd level LS_ZSTD_LEVEL (1; measured against level 3 and zlib in
 * FORMAT.md "Codec choice").
 * Called with store->lock held (write for seal/retention, read for reads).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "logstore/format.h"
#include "logstore/logstore_int.h"

#define LS_ZSTD_LEVEL 1

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = pwrite(fd, b, n, (off_t)off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    b += w, n -= (size_t)w, off += (uint64_t)w;
  }
  return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
  uint8_t *b = p;
  while (n) {
    ssize_t r = pread(fd, b, n, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -errno : LK_ECORRUPT;
    b += r, n -= (size_t)r, off += (uint64_t)r;
  }
  return 0;
}

static int seg_path(const logstore *s, uint32_t num, char *path, size_t cap)
{
  char name[64];
  snprintf(name, sizeof name, LS_SEG_FMT, num);
  return logstore__stream_path(s, path, cap, name);
}

static int seg_create(logstore *s, uint32_t num)
{
  char path[4096];
  int rc = seg_path(s, num, path, sizeof path);
  if (rc)
    return rc;
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  lk_crash_point(s->o.crash, "log.segment_created");
  uint8_t h[LS_FILE_HDR];
  logstore__header_put(h, LS_SEG_MAGIC);
  if ((rc = pwrite_all(fd, h, sizeof h, 0))) {
    close(fd);
    unlink(path); /* disk full: no segment without its header */
    return rc;
  }
  s->segs = lk_xgrow(s->segs, &s->segcap, s->nsegs + 1, sizeof *s->segs);
  s->segs[s->nsegs++] = (ls_seg){.num = num, .fd = fd, .size = LS_FILE_HDR, .maxt = INT64_MIN};
  return 0;
}

static ls_seg *seg_current(logstore *s, int *rc)
{
  *rc = 0;
  if (!s->nsegs || s->segs[s->nsegs - 1].size >= s->o.segment_bytes)
    *rc = seg_create(s, s->nsegs ? s->segs[s->nsegs - 1].num + 1 : 1);
  return *rc ? NULL : &s->segs[s->nsegs - 1];
}

/* Serialise the head as the decompressed block data, appended to raw:
 * varints written in place, line bytes copied a run at a time (a head
 * filled in time order is one run). */
static void encode_raw(const ls_stream *st, lk_buf *raw)
{
  lk_buf_reserve(raw, st->hn * (LK_UVARINT_MAX * 2) + st->hbytes.len);
  uint8_t *p = raw->data + raw->len;
  int64_t prev = st->hts[0];
  for (size_t i = 0; i < st->hn; i++) {
    p += lk_uvarint_put(p, lk_zigzag(st->hts[i] - prev));
    prev = st->hts[i];
  }
  for (size_t i = 0; i < st->hn; i++)
    p += lk_uvarint_put(p, st->hlen[i]);
  for (size_t i = 0, j; i < st->hn; i = j) {
    size_t end = (size_t)st->hoff[i] + st->hlen[i];
    for (j = i + 1; j < st->hn && st->hoff[j] == end; j++)
      end += st->hlen[j];
    memcpy(p, st->hbytes.data + st->hoff[i], end - st->hoff[i]);
    p += end - st->hoff[i];
  }
  raw->len = (size_t)(p - raw->data);
}

static void build_bloom(const ls_stream *st, ls_block *b)
{
  ls_tokset *t = logstore__tokset_new();
  for (size_t i = 0; i < st->hn; i++)
    logstore__tokset_add_line(t, (const char *)st->hbytes.data + st->hoff[i], st->hlen[i]);
  b->bloom = logstore__bloom_build(t, &b->bloom_words, &b->bloom_k);
  b->grams = b->lean = true;
  b->tri = lk_xmalloc(LS_TRI_WORDS * sizeof *b->tri);
  logstore__tokset_trigrams(t, b->tri);
  logstore__tokset_free(t);
}

static void encode_meta(const ls_stream *st, const ls_block *b, lk_buf *meta)
{
  logstore__labels_put(meta, st->labels, st->nlabels);
  lk_buf_put_uvarint(meta, st->next_seq);
  lk_buf_put_varint(meta, b->mint);
  lk_buf_put_varint(meta, b->maxt);
  lk_buf_put_uvarint(meta, b->nentries);
  lk_buf_put_uvarint(meta, b->raw_len);
  lk_buf_putc(meta, LS_CODEC_ZSTD);
  lk_buf_putc(meta, b->bloom_k);
  lk_buf_putc(meta, LS_IDX_GRAMS | LS_IDX_TRIGRAMS | LS_IDX_LEAN);
  for (uint32_t i = 0; i < LS_TRI_WORDS; i++)
    lk_buf_put_u64le(meta, b->tri[i]);
}

/* The optional index flags after bloom_k (FORMAT.md); absent in blocks
 * written before them, which then have token items only. */
static int decode_index_flags(lk_dec *d, ls_block *b)
{
  if (!lk_dec_left(d))
    return 0;
  uint8_t flags = lk_dec_u8(d);
  b->grams = flags & LS_IDX_GRAMS;
  b->lean = flags & LS_IDX_LEAN;
  if (b->lean && !b->grams) /* long tokens would be in the index nowhere */
    return LK_ECORRUPT;
  if (!(flags & LS_IDX_TRIGRAMS))
    return 0;
  if (lk_dec_left(d) < LS_TRI_WORDS * 8)
    return LK_ECORRUPT;
  b->tri = lk_xmalloc(LS_TRI_WORDS * sizeof *b->tri);
  for (uint32_t i = 0; i < LS_TRI_WORDS; i++)
    b->tri[i] = lk_dec_u64le(d);
  return 0;
}

/* Hands the whole pages inside [p, p + n) back to the kernel; the memory
 * stays allocated and reads as zeros when next touched. */
static void pages_release(void *p, size_t n)
{
  uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p;
  uintptr_t lo = (a + pg - 1) & ~(pg - 1), hi = (a + n) & ~(pg - 1);
  if (hi > lo)
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* An empty head keeps its buffers for the next one but not their pages:
 * otherwise every stream's largest head would stay resident for good. */
static void head_reset(ls_stream *st)
{
  st->hn = 0;
  lk_buf_clear(&st->hbytes);
  if (st->hbytes.cap > (8u << 20)) {
    lk_buf_fini(&st->hbytes);
    return;
  }
  pages_release(st->hbytes.data, st->hbytes.cap);
  pages_release(st->hts, st->hcap * sizeof *st->hts);
  pages_release(st->hoff, st->hcap * sizeof *st->hoff);
  pages_release(st->hlen, st->hcap * sizeof *st->hlen);
}

/* Write hdr ‖ meta ‖ bloom ‖ data at the segment's end. */
static int write_block(logstore *s, ls_block *b, const lk_buf *meta, const void *data)
{
  int rc;
  ls_seg *seg = seg_current(s, &rc);
  if (!seg)
    return rc;
  lk_buf bloom = {0};
  for (uint32_t i = 0; i < b->bloom_words; i++)
    lk_buf_put_u64le(&bloom, b->bloom[i]);
  lk_buf out = {0};
  lk_buf_put_u32le(&out, LS_BLK_MAGIC);
  lk_buf_put_u32le(&out, (uint32_t)meta->len);
  lk_buf_put_u32le(&out, (uint32_t)bloom.len);
  lk_buf_put_u32le(&out, b->data_len);
  lk_buf_put_u32le(&out, lk_crc32(lk_crc32(0, meta->data, meta->len), bloom.data, bloom.len));
  lk_buf_put_u32le(&out, b->data_crc);
  lk_buf_append(&out, meta->data, meta->len);
  lk_buf_append(&out, bloom.data, bloom.len);
  lk_buf_fini(&bloom);
  b->off = seg->size + out.len;
  lk_buf_append(&out, data, b->data_len);
  rc = pwrite_all(seg->fd, out.data, out.len, seg->size);
  struct stat sb;
  if (rc && !fstat(seg->fd, &sb) && (uint64_t)sb.st_size > seg->size &&
      ftruncate(seg->fd, (off_t)seg->size)) /* disk full: no partial block left */
    lk_warn("log segment: cannot cut a partial block off seg=%u err=\"%s\"", seg->num, strerror(errno));
  if (!rc) {
    seg->size += out.len;
    b->seg = seg->num;
    if (b->maxt > seg->maxt)
      seg->maxt = b->maxt;
    s->sealed_bytes += out.len;
  }
  lk_buf_fini(&out);
  return rc;
}

static void stream_add_block(ls_stream *st, const ls_block *b)
{
  st->blocks = lk_xgrow(st->blocks, &st->bcap, st->nblocks + 1, sizeof *st->blocks);
  size_t pos = st->nblocks;
  while (pos && st->blocks[pos - 1].mint > b->mint) /* keep ordered by mint */
    pos--;
  memmove(st->blocks + pos + 1, st->blocks + pos, (st->nblocks - pos) * sizeof *st->blocks);
  st->blocks[pos] = *b;
  st->nblocks++;
}

int logstore__seal(logstore *s, ls_stream *st)
{
  if (!st->hn)
    return 0;
  if (!s->cctx && !(s->cctx = ZSTD_createCCtx()))
    return LK_ENOMEM;
  lk_buf *raw = &s->seal_raw, *out = &s->seal_out, meta = {0};
  lk_buf_clear(raw);
  encode_raw(st, raw);
  ls_block b = {.mint = st->hts[0], .maxt = st->hts[st->hn - 1], .nentries = (uint32_t)st->hn,
                .raw_len = (uint32_t)raw->len};
  lk_buf_clear(out);
  lk_buf_reserve(out, ZSTD_compressBound(raw->len));
  size_t clen = ZSTD_compressCCtx(s->cctx, out->data, out->cap, raw->data, raw->len, LS_ZSTD_LEVEL);
  int rc = ZSTD_isError(clen) ? LK_EIO : 0;
  if (!rc) {
    b.data_len = (uint32_t)clen;
    b.data_crc = lk_crc32(0, out->data, clen);
    build_bloom(st, &b);
    encode_meta(st, &b, &meta);
    rc = write_block(s, &b, &meta, out->data);
  }
  if (!rc) {
    lk_crash_point(s->o.crash, "log.seal_block_written");
    s->raw_bytes += st->hbytes.len;
    stream_add_block(st, &b);
    head_reset(st);
  } else {
    free(b.bloom);
    free(b.tri);
  }
  lk_buf_fini(&meta);
  return rc;
}

int logstore__seal_all(logstore *s)
{
  for (size_t i = 0; i < s->nstreams; i++) {
    int rc = logstore__seal(s, s->streams[i]);
    if (rc)
      return rc;
  }
  pages_release(s->seal_raw.data, s->seal_raw.cap); /* kept for the next seal, as a head's */
  pages_release(s->seal_out.data, s->seal_out.cap);
  if (s->nsegs && fdatasync(s->segs[s->nsegs - 1].fd))
    return -errno;
  lk_crash_point(s->o.crash, "log.seal_all_before_wal_reset");
  return logstore__wal_reset(s);
}

/*---- opening ----*/

/* Block header fields (FORMAT.md), in file order. */
enum { BH_MAGIC, BH_META_LEN, BH_BLOOM_LEN, BH_DATA_LEN, BH_META_CRC, BH_DATA_CRC, BH_N };

static int load_block(logstore *s, ls_seg *seg, uint64_t off, const uint32_t hdr[BH_N], uint64_t *next)
{
  size_t ml = hdr[BH_META_LEN], bl = hdr[BH_BLOOM_LEN];
  if (ml > LS_MAX_META || bl % 8 || bl > (64u << 20) || off + LS_BLK_HDR + ml + bl + hdr[BH_DATA_LEN] > seg->size)
    return LK_ECORRUPT;
  uint8_t *mb = lk_xmalloc(ml + bl + 1);
  int rc = pread_all(seg->fd, mb, ml + bl, off + LS_BLK_HDR);
  if (!rc && lk_crc32(0, mb, ml + bl) != hdr[BH_META_CRC])
    rc = LK_ECORRUPT;
  lk_arena *a = lk_arena_new(1024);
  lk_label ls[64];
  lk_dec d;
  lk_dec_init(&d, mb, ml);
  long nl = rc ? -1 : logstore__labels_get(&d, a, ls, 64);
  ls_block b = {.seg = seg->num, .off = off + LS_BLK_HDR + ml + bl, .data_len = hdr[BH_DATA_LEN],
                .data_crc = hdr[BH_DATA_CRC]};
  uint64_t seq_end = lk_dec_uvarint(&d);
  b.mint = lk_dec_varint(&d);
  b.maxt = lk_dec_varint(&d);
  b.nentries = (uint32_t)lk_dec_uvarint(&d);
  b.raw_len = (uint32_t)lk_dec_uvarint(&d);
  uint8_t codec = lk_dec_u8(&d);
  b.bloom_k = lk_dec_u8(&d);
  if (!rc && (nl < 0 || d.err || codec != LS_CODEC_ZSTD || b.raw_len > LS_MAX_BLOCK_RAW ||
              b.nentries > b.raw_len / 2 || decode_index_flags(&d, &b)))
    rc = LK_ECORRUPT;
  if (!rc) {
    lk_labels_sort(ls, (size_t)nl);
    ls_stream *st = logstore__stream_get(s, ls, (size_t)nl, true);
    b.bloom_words = (uint32_t)(bl / 8);
    b.bloom = lk_xmalloc(bl ? bl : 8);
    for (size_t i = 0; i < bl / 8; i++)
      b.bloom[i] = lk_le64_load(mb + ml + i * 8);
    stream_add_block(st, &b);
    if (seq_end > st->next_seq)
      st->next_seq = seq_end;
    if (b.maxt > st->maxt)
      st->maxt = b.maxt;
    if (b.maxt > seg->maxt)
      seg->maxt = b.maxt;
    if (b.maxt > s->newest)
      s->newest = b.maxt;
    s->sealed_bytes += LS_BLK_HDR + ml + bl + hdr[BH_DATA_LEN];
    *next = b.off + hdr[BH_DATA_LEN];
  }
  lk_arena_free(a);
  free(mb);
  return rc;
}

/* The file header: refused when it names another format, written again
 * when the file was cut short before it (crash right after creation). */
static int seg_header(ls_seg *seg, const char *path, lk_diag *d)
{
  uint8_t h[LS_FILE_HDR];
  size_t n = seg->size < LS_FILE_HDR ? (size_t)seg->size : LS_FILE_HDR;
  int rc = pread_all(seg->fd, h, n, 0);
  if (rc)
    return lk_diag_set(d, rc, -1, "log store: read %s: %s", path, lk_strerror(rc));
  if ((rc = logstore__header_check(path, h, n, LS_SEG_MAGIC, d)) || n == LS_FILE_HDR)
    return rc;
  logstore__header_put(h, LS_SEG_MAGIC);
  lk_warn("log segment: header written again (cut short at creation) file=%s", path);
  if ((rc = pwrite_all(seg->fd, h, sizeof h, 0)))
    return lk_diag_set(d, rc, -1, "log store: write %s: %s", path, lk_strerror(rc));
  seg->size = LS_FILE_HDR;
  return 0;
}

static int read_block_header(const ls_seg *seg, uint64_t off, uint32_t h[BH_N])
{
  uint8_t raw[LS_BLK_HDR];
  int rc = pread_all(seg->fd, raw, sizeof raw, off);
  for (int i = 0; i < BH_N && !rc; i++)
    h[i] = lk_le32_load(raw + 4 * i);
  return rc;
}

static int seg_load(logstore *s, ls_seg *seg, const char *path, lk_diag *d)
{
  int rc = seg_header(seg, path, d);
  if (rc)
    return rc;
  uint64_t off = LS_FILE_HDR;
  while (off + LS_BLK_HDR <= seg->size) {
    uint32_t h[BH_N];
    uint64_t next = 0;
    if (read_block_header(seg, off, h) || h[BH_MAGIC] != LS_BLK_MAGIC || load_block(s, seg, off, h, &next))
      break;
    off = next;
  }
  if (off < seg->size) {
    lk_warn("log segment: torn tail cut, file=%s bytes=%llu", path,
            (unsigned long long)(seg->size - off));
    if (ftruncate(seg->fd, (off_t)off))
      return lk_diag_set(d, -errno, -1, "log store: truncate %s: %s", path, strerror(errno));
    seg->size = off;
  }
  return 0;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int list_segs(const char *dir, uint32_t **out, size_t *n)
{
  DIR *dh = opendir(dir);
  if (!dh)
    return -errno;
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  struct dirent *de;
  while ((de = readdir(dh))) {
    unsigned num;
    char tail;
    if (sscanf(de->d_name, "seg-%8u.lk%c", &num, &tail) == 2 && tail == 's') {
      *out = lk_xgrow(*out, &cap, *n + 1, sizeof **out);
      (*out)[(*n)++] = num;
    }
  }
  closedir(dh);
  if (*n)
    qsort(*out, *n, sizeof **out, cmp_u32);
  return 0;
}

int logstore__segs_open(logstore *s, lk_diag *d)
{
  uint32_t *nums = NULL;
  size_t n = 0;
  int rc = list_segs(s->dir, &nums, &n);
  if (rc)
    return lk_diag_set(d, rc, -1, "log store: list %s: %s", s->dir, lk_strerror(rc));
  for (size_t i = 0; i < n && !rc; i++) {
    char path[4096];
    seg_path(s, nums[i], path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
      rc = lk_diag_set(d, -errno, -1, "log store: open %s: %s", path, strerror(errno));
      if (fd >= 0)
        close(fd);
      break;
    }
    s->segs = lk_xgrow(s->segs, &s->segcap, s->nsegs + 1, sizeof *s->segs);
    ls_seg *seg = &s->segs[s->nsegs++];
    *seg = (ls_seg){.num = nums[i], .fd = fd, .size = (uint64_t)sb.st_size, .maxt = INT64_MIN};
    rc = seg_load(s, seg, path, d);
  }
  free(nums);
  return rc;
}

void logstore__segs_close(logstore *s)
{
  for (size_t i = 0; i < s->nsegs; i++)
    close(s->segs[i].fd);
  free(s->segs);
  s->segs = NULL;
  s->nsegs = 0;
  ZSTD_freeCCtx(s->cctx);
  s->cctx = NULL;
  lk_buf_fini(&s->seal_raw);
  lk_buf_fini(&s->seal_out);
}

/*---- reading ----*/

void logstore__decoded_fini(ls_decoded *d)
{
  free(d->ts);
  free(d->off);
  free(d->len);
  free(d->raw);
  ZSTD_freeDCtx(d->dctx);
  memset(d, 0, sizeof *d);
}

static const ls_seg *seg_find(const logstore *s, uint32_t num)
{
  for (size_t i = 0; i < s->nsegs; i++)
    if (s->segs[i].num == num)
      return &s->segs[i];
  return NULL;
}

static void decoded_reserve(ls_decoded *out, size_t n)
{
  if (n <= out->cap_n)
    return;
  out->ts = lk_xrealloc(out->ts, n * sizeof *out->ts);
  out->off = lk_xrealloc(out->off, n * sizeof *out->off);
  out->len = lk_xrealloc(out->len, n * sizeof *out->len);
  out->cap_n = n;
}

/* The timestamp column: n zigzag deltas from the block's mint. */
static void decode_ts(const ls_block *b, lk_dec *d, ls_decoded *out)
{
  int64_t t = b->mint;
  for (size_t i = 0; i < b->nentries; i++)
    out->ts[i] = t += lk_dec_varint(d);
}

static int decode_raw(const ls_block *b, ls_decoded *out)
{
  size_t n = b->nentries;
  decoded_reserve(out, n);
  lk_dec d;
  lk_dec_init(&d, out->raw, b->raw_len);
  decode_ts(b, &d, out);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    out->off[i] = (uint32_t)total;
    out->len[i] = (uint32_t)lk_dec_uvarint(&d);
    total += out->len[i];
  }
  if (d.err || total != lk_dec_left(&d))
    return LK_ECORRUPT;
  out->bytes = (const char *)d.p;
  out->n = n;
  return 0;
}

/* One error line naming the segment file and the block data's offset. */
static int block_corrupt(const logstore *s, const ls_block *b, const char *what)
{
  char path[4096];
  seg_path(s, b->seg, path, sizeof path);
  lk_error("log store: corrupt block data file=%s offset=%llu cause=\"%s\"", path,
           (unsigned long long)b->off, what);
  return LK_ECORRUPT;
}

/* The block's data, read and CRC-checked (malloc'd), or NULL with *rc set. */
static uint8_t *block_data(logstore *s, const ls_block *b, int *rc)
{
  const ls_seg *seg = seg_find(s, b->seg);
  if (!seg) {
    *rc = LK_ENOENT;
    return NULL;
  }
  uint8_t *data = lk_xmalloc(b->data_len + 1);
  *rc = pread_all(seg->fd, data, b->data_len, b->off);
  if (*rc)
    *rc = block_corrupt(s, b, *rc == LK_ECORRUPT ? "block beyond the file's end" : lk_strerror(*rc));
  else if (lk_crc32(0, data, b->data_len) != b->data_crc)
    *rc = block_corrupt(s, b, "data CRC32 mismatch");
  else if (ZSTD_getFrameContentSize(data, b->data_len) != b->raw_len)
    *rc = block_corrupt(s, b, "data's frame size differs from the block's");
  if (*rc) {
    free(data);
    return NULL;
  }
  return data;
}

int logstore__block_read(logstore *s, const ls_block *b, ls_decoded *out)
{
  int rc;
  uint8_t *data = block_data(s, b, &rc);
  if (!data)
    return rc;
  out->raw = lk_xrealloc(out->raw, (size_t)b->raw_len + 1);
  size_t got = ZSTD_decompress(out->raw, b->raw_len, data, b->data_len);
  if (ZSTD_isError(got) || got != b->raw_len || decode_raw(b, out))
    rc = block_corrupt(s, b, "data does not decode");
  free(data);
  return rc;
}

/* Decompress only the front of the block, up to `want` bytes (the frame is
 * decoded block by block, so the rest is never touched). */
static int decompress_front(ls_decoded *out, const uint8_t *data, size_t len, size_t want)
{
  if (!out->dctx)
    out->dctx = ZSTD_createDCtx();
  if (!out->dctx)
    return LK_ENOMEM;
  ZSTD_DCtx_reset(out->dctx, ZSTD_reset_session_only);
  ZSTD_inBuffer in = {data, len, 0};
  ZSTD_outBuffer o = {out->raw, want, 0};
  while (o.pos < o.size) {
    size_t r = ZSTD_decompressStream(out->dctx, &o, &in);
    if (ZSTD_isError(r))
      return LK_ECORRUPT;
    if (r == 0 || (in.pos == in.size && o.pos < o.size))
      break; /* frame done, or no more input */
  }
  return o.pos == want ? 0 : LK_ECORRUPT;
}

int logstore__block_read_ts(logstore *s, const ls_block *b, ls_decoded *out)
{
  int rc;
  uint8_t *data = block_data(s, b, &rc);
  if (!data)
    return rc;
  size_t n = b->nentries, want = n * 10 < b->raw_len ? n * 10 : b->raw_len; /* varints: <= 10 bytes */
  out->raw = lk_xrealloc(out->raw, (size_t)b->raw_len + 1);
  decoded_reserve(out, n);
  rc = decompress_front(out, data, b->data_len, want);
  lk_dec d;
  lk_dec_init(&d, out->raw, want);
  if (!rc)
    decode_ts(b, &d, out);
  if (rc || d.err)
    rc = block_corrupt(s, b, "data does not decode");
  else
    out->n = n;
  free(data);
  return rc;
}

/*---- retention ----*/

static void drop_segment(logstore *s, size_t idx)
{
  uint32_t num = s->segs[idx].num;
  for (size_t i = 0; i < s->nstreams; i++) {
    ls_stream *st = s->streams[i];
    size_t w = 0;
    for (size_t r = 0; r < st->nblocks; r++) {
      if (st->blocks[r].seg == num) {
        free(st->blocks[r].bloom);
        free(st->blocks[r].tri);
        continue;
      }
      st->blocks[w++] = st->blocks[r];
    }
    st->nblocks = w;
  }
  char path[4096];
  seg_path(s, num, path, sizeof path);
  close(s->segs[idx].fd);
  lk_crash_point(s->o.crash, "log.retention_before_unlink");
  unlink(path);
  s->sealed_bytes -= s->segs[idx].size - LS_FILE_HDR;
  memmove(s->segs + idx, s->segs + idx + 1, (s->nsegs - idx - 1) * sizeof *s->segs);
  s->nsegs--;
}

int logstore__retention_locked(logstore *s)
{
  /* never the newest segment: it is being appended to */
  while (s->nsegs > 1 && s->o.retention_ns && s->newest != INT64_MIN &&
         s->segs[0].maxt < s->newest - s->o.retention_ns)
    drop_segment(s, 0);
  uint64_t total = 0;
  for (size_t i = 0; i < s->nsegs; i++)
    total += s->segs[i].size;
  while (s->nsegs > 1 && s->o.retention_bytes && total > s->o.retention_bytes) {
    total -= s->segs[0].size;
    drop_segment(s, 0);
  }
  return 0;
}
