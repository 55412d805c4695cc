/* block_read.c — opens a block directory read-only (FORMAT.md) and serves
 * series, postings and samples from it.
 *
 * Both files are mmap'ed; opening verifies the index completely (header,
 * TOC and every section CRC) and builds three small tables: symbol
 * pointers, the offset of each series entry and the postings table. Chunk
 * data is never read at open (its header is read with pread, so no page
 * fault pulls in a readahead window): a series' frame is CRC-checked and
 * unpacked when a query needs it, and a query first hands the kernel every
 * frame it will read (tsdb__readahead_*), so a cold read reads only those,
 * in one round of I/O. Every read is bounds-checked, so a corrupt file
 * yields LK_ECORRUPT, never a crash; a file of another format (unknown
 * magic or version) is refused at open with a message naming it, and a
 * frame found corrupt by a query is logged with its file and offset. A
 * block is immutable and its handle is read-only after open: any thread
 * may use it concurrently.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_endian.h"
#include "lib/lk_log.h"
#include "lib/lk_varint.h"
#include "tsdb/chunk.h"
#include "tsdb/format.h"
#include "tsdb/select_int.h"
#include "tsdb/tsdb_int.h"

#define TSDB__FILE_HEAD 5 /* magic u32, version u8 */

/* Map a block file read-only; its first bytes also go to head (zeros past
 * its end), read with pread so opening touches none of the mapping's pages
 * (a page fault would read the device's whole readahead window, and a
 * chunks file is only read by queries). */
static int map_file(const char *dir, const char *name, const uint8_t **out, size_t *len,
                    uint8_t head[TSDB__FILE_HEAD])
{
  char *path = tsdb__path(dir, "/", name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  free(path);
  if (fd < 0)
    return -errno;
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) < 0)
    rc = -errno;
  else if (st.st_size == 0)
    rc = LK_ECORRUPT;
  else if (pread(fd, head, TSDB__FILE_HEAD, 0) < 0)
    rc = -errno;
  else {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
      rc = -errno;
    else {
      *out = m;
      *len = (size_t)st.st_size;
    }
  }
  close(fd);
  return rc;
}

/* Section payload at off: [len u32][bytes][crc u32]. */
static int section(const tsdb__block *b, uint64_t off, lk_dec *out)
{
  if (off > b->idx_len || b->idx_len - off < 8)
    return LK_ECORRUPT;
  uint32_t len = lk_le32_load(b->idx + off);
  if (len > b->idx_len - off - 8)
    return LK_ECORRUPT;
  if (lk_crc32(0, b->idx + off + 4, len) != lk_le32_load(b->idx + off + 4 + len))
    return LK_ECORRUPT;
  lk_dec_init(out, b->idx + off + 4, len);
  return 0;
}

/* Magic u32 and version u8 at the start of a block file (got: its first
 * bytes): LK_ECORRUPT with the file named in d unless they are this build's. */
static int check_format(const tsdb__block *b, const char *file, const uint8_t got[TSDB__FILE_HEAD], size_t len,
                        uint32_t want_magic, uint8_t want_version, lk_diag *d)
{
  if (len >= TSDB__FILE_HEAD && lk_le32_load(got) == want_magic && got[4] == want_version)
    return 0;
  char *path = tsdb__path(b->dir, "/", file);
  int rc = lk_diag_unknown_format(d, path, lk_le32_load(got), got[4], want_magic, want_version);
  free(path);
  return rc;
}

static int parse_header(tsdb__block *b)
{
  if (b->idx_len < TSDB_INDEX_HDR + TSDB_INDEX_TOC)
    return LK_ECORRUPT;
  lk_dec d;
  lk_dec_init(&d, b->idx, TSDB_INDEX_HDR);
  uint32_t magic = lk_dec_u32le(&d);
  uint8_t version = lk_dec_u8(&d);
  lk_dec_bytes(&d, 3);
  b->mint = (int64_t)lk_dec_u64le(&d);
  b->maxt = (int64_t)lk_dec_u64le(&d);
  b->nseries = lk_dec_u64le(&d);
  b->nsamples = lk_dec_u64le(&d);
  b->nchunks = lk_dec_u64le(&d);
  uint32_t crc = lk_dec_u32le(&d);
  if (magic != TSDB_INDEX_MAGIC || version != TSDB_INDEX_VERSION ||
      crc != lk_crc32(0, b->idx, TSDB_INDEX_HDR - 4) || b->nseries > UINT32_MAX)
    return LK_ECORRUPT;
  return 0;
}

static int parse_symbols(tsdb__block *b, lk_dec *d)
{
  uint64_t n = lk_dec_uvarint(d);
  if (d->err || n > lk_dec_left(d))
    return LK_ECORRUPT;
  b->syms = lk_xmalloc((n ? n : 1) * sizeof *b->syms);
  b->nsyms = (uint32_t)n;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t len = lk_dec_uvarint(d);
    if (d->err || len >= lk_dec_left(d))
      return LK_ECORRUPT;
    const uint8_t *p = lk_dec_bytes(d, len + 1);
    if (p[len] != 0 || memchr(p, 0, len))
      return LK_ECORRUPT;
    b->syms[i] = (const char *)p;
  }
  return 0;
}

/* Skip one series entry, checking it decodes. */
static void skip_series(lk_dec *d)
{
  uint64_t nl = lk_dec_uvarint(d);
  for (uint64_t i = 0; i < nl * 2 && !d->err; i++)
    lk_dec_uvarint(d);
  lk_dec_uvarint(d);
  lk_dec_uvarint(d);
  lk_dec_uvarint(d);
  uint64_t nc = lk_dec_uvarint(d);
  for (uint64_t i = 0; i < nc * 4 && !d->err; i++)
    lk_dec_uvarint(d);
}

static int parse_series(tsdb__block *b, lk_dec *d)
{
  uint64_t n = lk_dec_uvarint(d);
  if (d->err || n != b->nseries || n > lk_dec_left(d))
    return LK_ECORRUPT;
  b->series_off = lk_xmalloc((n ? n : 1) * sizeof *b->series_off);
  for (uint64_t i = 0; i < n && !d->err; i++) {
    b->series_off[i] = (uint32_t)(d->p - b->idx);
    skip_series(d);
  }
  return d->err;
}

static int parse_ptable(tsdb__block *b, lk_dec *d, const lk_dec *postings)
{
  uint64_t n = lk_dec_uvarint(d);
  if (d->err || n > lk_dec_left(d))
    return LK_ECORRUPT;
  b->post = lk_xmalloc((n ? n : 1) * sizeof *b->post);
  b->npost = (uint32_t)n;
  size_t plen = lk_dec_left(postings);
  for (uint64_t i = 0; i < n && !d->err; i++) {
    tsdb__bpost *p = &b->post[i];
    uint64_t nm = lk_dec_uvarint(d), vl = lk_dec_uvarint(d), off = lk_dec_uvarint(d);
    uint64_t cnt = lk_dec_uvarint(d);
    if (nm >= b->nsyms || vl >= b->nsyms || off >= plen || cnt > b->nseries)
      return LK_ECORRUPT;
    *p = (tsdb__bpost){(uint32_t)nm, (uint32_t)vl, (uint64_t)(postings->p - b->idx) + off, (uint32_t)cnt};
  }
  return d->err;
}

static int parse_index(tsdb__block *b, const uint8_t head[TSDB__FILE_HEAD], lk_diag *d)
{
  int rc = check_format(b, TSDB_FILE_INDEX, head, b->idx_len, TSDB_INDEX_MAGIC, TSDB_INDEX_VERSION, d);
  if (!rc)
    rc = parse_header(b);
  if (rc)
    return rc;
  lk_dec t;
  lk_dec_init(&t, b->idx + b->idx_len - TSDB_INDEX_TOC, TSDB_INDEX_TOC);
  uint64_t off[TSDB_NSEC];
  for (int i = 0; i < TSDB_NSEC; i++)
    off[i] = lk_dec_u64le(&t);
  uint32_t crc = lk_dec_u32le(&t), magic = lk_dec_u32le(&t);
  if (magic != TSDB_INDEX_MAGIC || crc != lk_crc32(0, b->idx + b->idx_len - TSDB_INDEX_TOC, TSDB_NSEC * 8))
    return LK_ECORRUPT;
  lk_dec sec[TSDB_NSEC];
  for (int i = 0; i < TSDB_NSEC; i++)
    if ((rc = section(b, off[i], &sec[i])))
      return rc;
  if ((rc = parse_symbols(b, &sec[TSDB_SEC_SYMBOLS])) || (rc = parse_series(b, &sec[TSDB_SEC_SERIES])))
    return rc;
  return parse_ptable(b, &sec[TSDB_SEC_PTABLE], &sec[TSDB_SEC_POSTINGS]);
}


int tsdb__block_open(const char *dir, uint64_t seq, tsdb__block **out, lk_diag *d)
{
  tsdb__block *b = lk_xcalloc(1, sizeof *b);
  b->dir = lk_xstrdup(dir);
  b->seq = seq;
  const char *what = TSDB_FILE_INDEX;
  uint8_t head[TSDB__FILE_HEAD] = {0};
  int rc = map_file(dir, TSDB_FILE_INDEX, &b->idx, &b->idx_len, head);
  if (!rc)
    rc = parse_index(b, head, d);
  if (!rc && (rc = tsdb__rollup_open(dir, b->nseries, &b->ru, d))) {
    tsdb__block_close(b);
    return rc;
  }
  if (!rc) {
    what = TSDB_FILE_CHUNKS;
    memset(head, 0, sizeof head);
    rc = map_file(dir, TSDB_FILE_CHUNKS, &b->chk, &b->chk_len, head);
    if (rc == -ENOENT && b->ru) /* rollups kept past the raw samples' retention */
      rc = 0;
  }
  if (!rc && b->chk)
    rc = check_format(b, TSDB_FILE_CHUNKS, head, b->chk_len, TSDB_CHUNKS_MAGIC, TSDB_CHUNKS_VERSION, d);
  if (rc) {
    lk_diag_set(d, rc, -1, "%s/%s: %s", dir, what,
                rc == LK_ECORRUPT ? "corrupt (bad length or CRC32)" : lk_strerror(rc));
    tsdb__block_close(b);
    return rc;
  }
  b->bytes = b->idx_len + b->chk_len + tsdb__rollup_bytes(b->ru);
  *out = b;
  return 0;
}

void tsdb__block_close(tsdb__block *b)
{
  if (!b)
    return;
  if (b->idx)
    munmap((void *)b->idx, b->idx_len);
  if (b->chk)
    munmap((void *)b->chk, b->chk_len);
  tsdb__rollup_close(b->ru);
  free(b->syms);
  free(b->series_off);
  free(b->post);
  free(b->dir);
  free(b);
}

void tsdb__bseries_fini(tsdb__bseries *s)
{
  free(s->labels);
  free(s->chunks);
  memset(s, 0, sizeof *s);
}

static int decode_chunks(const tsdb__block *b, lk_dec *d, tsdb__bseries *s)
{
  uint64_t nc = lk_dec_uvarint(d);
  if (d->err || nc > lk_dec_left(d))
    return LK_ECORRUPT;
  s->chunks = lk_xmalloc((nc ? nc : 1) * sizeof *s->chunks);
  s->nchunks = (uint32_t)nc;
  int64_t prev = b->mint;
  uint64_t raw = s->grp_base;
  for (uint64_t k = 0; k < nc && !d->err; k++) {
    tsdb__bchunk *c = &s->chunks[k];
    c->mint = (int64_t)((uint64_t)prev + lk_dec_uvarint(d));
    c->maxt = (int64_t)((uint64_t)c->mint + lk_dec_uvarint(d));
    uint64_t n = lk_dec_uvarint(d), len = lk_dec_uvarint(d);
    if (n > UINT32_MAX || len > UINT32_MAX || raw > UINT32_MAX)
      return LK_ECORRUPT;
    c->n = (uint32_t)n;
    c->len = (uint32_t)len;
    c->raw_off = (uint32_t)raw;
    raw += len;
    prev = c->maxt;
  }
  return d->err;
}

int tsdb__block_series(const tsdb__block *b, uint32_t id, tsdb__bseries *out)
{
  if (id >= b->nseries)
    return LK_ECORRUPT;
  tsdb__bseries s = {0};
  lk_dec d;
  lk_dec_init(&d, b->idx + b->series_off[id], b->idx_len - b->series_off[id]);
  uint64_t nl = lk_dec_uvarint(&d);
  if (d.err || nl == 0 || nl > lk_dec_left(&d))
    return LK_ECORRUPT;
  s.labels = lk_xmalloc(nl * sizeof *s.labels);
  s.nlabels = (uint32_t)nl;
  int rc = 0;
  for (uint64_t i = 0; i < nl && !rc; i++) {
    uint64_t nm = lk_dec_uvarint(&d), vl = lk_dec_uvarint(&d);
    if (d.err || nm >= b->nsyms || vl >= b->nsyms)
      rc = LK_ECORRUPT;
    else
      s.labels[i] = (lk_label){b->syms[nm], b->syms[vl]};
  }
  s.grp_off = lk_dec_uvarint(&d);
  s.grp_len = lk_dec_uvarint(&d);
  uint64_t base = lk_dec_uvarint(&d);
  s.grp_base = base > UINT32_MAX ? 0 : (uint32_t)base;
  if (base > UINT32_MAX)
    rc = LK_ECORRUPT;
  if (!rc)
    rc = decode_chunks(b, &d, &s);
  if (!rc && (d.err || (b->chk && (s.grp_off > b->chk_len || s.grp_len + 4 > b->chk_len - s.grp_off))))
    rc = LK_ECORRUPT;
  if (rc) {
    tsdb__bseries_fini(&s);
    return rc;
  }
  *out = s;
  return 0;
}

void tsdb__fcache_fini(tsdb__fcache *c)
{
  lk_buf_fini(&c->raw);
  tsdb__tsmemo_free(c->memo);
  c->memo = NULL;
  c->valid = false;
}

/* One error line naming the chunks file and the frame's offset; LK_ECORRUPT. */
static int frame_corrupt(const tsdb__block *b, const tsdb__bseries *s, const char *what)
{
  lk_error("tsdb: corrupt block data file=%s/%s offset=%llu cause=\"%s\"", b->dir, TSDB_FILE_CHUNKS,
           (unsigned long long)s->grp_off, what);
  return LK_ECORRUPT;
}

int tsdb__block_frame(const tsdb__block *b, const tsdb__bseries *s, tsdb__fcache *c, const uint8_t **raw)
{
  if (!b->chk) /* raw samples expired, rollups kept */
    return LK_ENOENT;
  if (!c->valid || c->off != s->grp_off) {
    const uint8_t *g = b->chk + s->grp_off;
    c->valid = false;
    lk_buf_clear(&c->raw);
    if (lk_crc32(0, g, s->grp_len) != lk_le32_load(g + s->grp_len))
      return frame_corrupt(b, s, "frame CRC32 mismatch");
    if (tsdb__unpack(g, s->grp_len, &c->raw))
      return frame_corrupt(b, s, "frame does not unpack");
    c->valid = true;
    c->off = s->grp_off;
  }
  if (s->nchunks) {
    const tsdb__bchunk *last = &s->chunks[s->nchunks - 1];
    if ((uint64_t)last->raw_off + last->len > c->raw.len)
      return frame_corrupt(b, s, "chunk beyond its frame");
  }
  *raw = c->raw.data;
  return 0;
}

/* A run of frames is read as one request while it stays this short (the
 * kernel caps one MADV_WILLNEED at the device's readahead size, 128 KiB by
 * default) and frames are at most RA_GAP apart (reading a small gap costs
 * less than another request). */
#define RA_RUN ((uint64_t)128 << 10)
#define RA_GAP ((uint64_t)16 << 10)

void tsdb__readahead_flush(tsdb__readahead *ra)
{
  if (ra->b && ra->end > ra->off) {
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = ra->off & ~(page - 1);
    /* advice only: a failure leaves the reads to page faults */
    (void)madvise((void *)(ra->b->chk + start), (size_t)(ra->end - start), MADV_WILLNEED);
  }
  *ra = (tsdb__readahead){0};
}

void tsdb__readahead_add(tsdb__readahead *ra, const tsdb__block *b, const tsdb__bseries *s)
{
  if (!b->chk)
    return;
  uint64_t off = s->grp_off, end = s->grp_off + s->grp_len + 4;
  if (ra->b == b && off >= ra->off && off <= ra->end + RA_GAP && end - ra->off <= RA_RUN) {
    ra->end = end > ra->end ? end : ra->end;
    return;
  }
  tsdb__readahead_flush(ra);
  *ra = (tsdb__readahead){b, off, end};
}

static bool chunk_overlaps(const tsdb__bchunk *ch, int64_t mint, int64_t maxt)
{
  return ch->maxt >= mint && ch->mint <= maxt;
}

int tsdb__block_samples(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                        tsdb__fcache *c, tsdb__vec *out)
{
  bool any = false;
  for (uint32_t k = 0; k < s->nchunks && !any; k++)
    any = chunk_overlaps(&s->chunks[k], mint, maxt);
  if (!any)
    return 0;
  tsdb__fcache local = {0};
  const uint8_t *raw;
  int rc = tsdb__block_frame(b, s, c ? c : &local, &raw);
  for (uint32_t k = 0; k < s->nchunks && !rc; k++) {
    const tsdb__bchunk *ch = &s->chunks[k];
    if (chunk_overlaps(ch, mint, maxt) &&
        tsdb__vec_push_chunk(out, raw + ch->raw_off, ch->len, mint, maxt))
      rc = frame_corrupt(b, s, "chunk does not decode");
  }
  tsdb__fcache_fini(&local);
  return rc;
}

int tsdb__block_bound(const tsdb__bseries *s, int64_t mint, int64_t maxt, size_t *out)
{
  size_t n = 0;
  for (uint32_t k = 0; k < s->nchunks; k++) {
    const tsdb__bchunk *ch = &s->chunks[k];
    if (!chunk_overlaps(ch, mint, maxt))
      continue;
    if (ch->n > TSDB__CHUNK_MAX_SAMPLES)
      return LK_ECORRUPT;
    n += ch->n;
  }
  *out = n;
  return 0;
}

/* Decode one chunk at t/v (room for cap samples), keeping [mint, maxt];
 * with key, append what determines the kept timestamps: the timestamp
 * scheme, whether the chunk was cut to the range, and the encoded sample
 * count and timestamp section. */
static int chunk_into(const uint8_t *p, const tsdb__bchunk *ch, int64_t mint, int64_t maxt, int64_t *t,
                      double *v, size_t cap, tsdb__tsmemo **memo, lk_buf *key, size_t *n)
{
  int64_t cnt = tsdb__chunk_count(p, ch->len);
  size_t vsec;
  if (cnt < 0 || (size_t)cnt > cap || tsdb__chunk_decode_at(p, ch->len, t, v, memo, &vsec) != cnt)
    return LK_ECORRUPT;
  size_t w = (size_t)cnt;
  bool cut = ch->mint < mint || ch->maxt > maxt;
  if (cut) {
    w = 0;
    for (size_t i = 0; i < (size_t)cnt; i++) {
      t[w] = t[i];
      v[w] = v[i];
      w += t[i] >= mint && t[i] <= maxt;
    }
  }
  if (key) {
    uint8_t head[5] = {(uint8_t)((p[0] & 1) | (unsigned)cut << 1)};
    lk_le32_store(head + 1, (uint32_t)(vsec - 1));
    lk_buf_append(key, head, sizeof head);
    lk_buf_append(key, p + 1, vsec - 1);
  }
  *n = w;
  return 0;
}

/* The samples of s in [mint, maxt] at t/v (room for cap); with key, what
 * determines the timestamps is appended to it (chunk_into). */
static int samples_into(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                        tsdb__fcache *c, int64_t *t, double *v, size_t cap, lk_buf *key, size_t *n)
{
  size_t w = 0;
  const uint8_t *raw = NULL;
  int rc = 0;
  for (uint32_t k = 0; k < s->nchunks && !rc; k++) {
    const tsdb__bchunk *ch = &s->chunks[k];
    if (!chunk_overlaps(ch, mint, maxt))
      continue;
    if (!raw && (rc = tsdb__block_frame(b, s, c, &raw)))
      break;
    size_t got;
    rc = chunk_into(raw + ch->raw_off, ch, mint, maxt, t + w, v + w, cap - w, &c->memo, key, &got);
    if (rc)
      rc = frame_corrupt(b, s, "chunk does not decode");
    w += rc ? 0 : got;
  }
  if (!rc)
    *n = w;
  return rc;
}

int tsdb__block_samples_into(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                             tsdb__fcache *c, int64_t *t, double *v, size_t cap, size_t *n)
{
  return samples_into(b, s, mint, maxt, c, t, v, cap, NULL, n);
}

int tsdb__block_samples_shared(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                               tsdb__fcache *c, tsdb__tcols *tc, tsdb__tscratch *sc, double *v, size_t cap,
                               const int64_t **t, size_t *n)
{
  if (sc->cap < cap) {
    free(sc->t);
    sc->t = lk_xmalloc(cap * sizeof *sc->t);
    sc->cap = cap;
  }
  lk_buf_clear(&sc->key);
  lk_buf_append(&sc->key, "S", 1);
  size_t got = 0;
  int rc = samples_into(b, s, mint, maxt, c, sc->t, v, cap, &sc->key, &got);
  if (rc)
    return rc;
  size_t have;
  const int64_t *col = tsdb__tcols_find(tc, &sc->key, &have);
  *t = col ? col : tsdb__tcols_add(tc, &sc->key, sc->t, got);
  *n = got;
  return 0;
}

int tsdb__block_postings(const tsdb__block *b, uint32_t pi, uint32_t **ids, size_t *n)
{
  const tsdb__bpost *p = &b->post[pi];
  lk_dec d;
  lk_dec_init(&d, b->idx + p->off, b->idx_len - p->off);
  uint32_t *v = lk_xmalloc((p->count ? p->count : 1) * sizeof *v);
  uint64_t id = 0;
  for (uint32_t i = 0; i < p->count; i++) {
    id += lk_dec_uvarint(&d);
    v[i] = (uint32_t)id;
    if (id >= b->nseries)
      d.err = LK_ECORRUPT;
  }
  if (d.err) {
    free(v);
    return LK_ECORRUPT;
  }
  *ids = v;
  *n = p->count;
  return 0;
}

/* Index in post[] of the pair (name, value), or UINT32_MAX. */
static uint32_t find_pair(const tsdb__block *b, const char *name, const char *value)
{
  uint32_t lo, hi;
  tsdb__block_name_range(b, name, &lo, &hi);
  while (lo < hi) {
    uint32_t m = lo + (hi - lo) / 2;
    int c = strcmp(b->syms[b->post[m].value], value);
    if (!c)
      return m;
    if (c < 0)
      lo = m + 1;
    else
      hi = m;
  }
  return UINT32_MAX;
}

int tsdb__block_find(const tsdb__block *b, const lk_label *ls, size_t n, tsdb__bseries *out)
{
  uint32_t best = UINT32_MAX;
  for (size_t i = 0; i < n; i++) {
    uint32_t pi = find_pair(b, ls[i].name, ls[i].value);
    if (pi == UINT32_MAX)
      return 0;
    if (best == UINT32_MAX || b->post[pi].count < b->post[best].count)
      best = pi;
  }
  uint32_t *ids;
  size_t nids;
  if (best == UINT32_MAX || tsdb__block_postings(b, best, &ids, &nids))
    return 0;
  int found = 0;
  for (size_t i = 0; i < nids && !found; i++) {
    tsdb__bseries s;
    if (tsdb__block_series(b, ids[i], &s))
      break;
    if (lk_labels_equal(s.labels, s.nlabels, ls, n)) {
      *out = s;
      found = 1;
    } else {
      tsdb__bseries_fini(&s);
    }
  }
  free(ids);
  return found;
}

void tsdb__block_name_range(const tsdb__block *b, const char *name, uint32_t *lo, uint32_t *hi)
{
  uint32_t l = 0, h = b->npost;
  while (l < h) {
    uint32_t m = l + (h - l) / 2;
    if (strcmp(b->syms[b->post[m].name], name) < 0)
      l = m + 1;
    else
      h = m;
  }
  uint32_t e = l;
  while (e < b->npost && !strcmp(b->syms[b->post[e].name], name))
    e++;
  *lo = l;
  *hi = e;
}
