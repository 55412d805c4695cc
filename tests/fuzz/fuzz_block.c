/* fuzz_block.c — libFuzzer target for the tsdb block reader
 * (tsdb/block_read.c) on corrupt files.
 *
 * Input: u32 LE index length, the `index` file, then the `chunks` file
 * (tsdb/FORMAT.md). So that mutations reach the parsers behind the
 * checksums, the target first sets every CRC the input has room for: the
 * index header's, each section's at the TOC's offsets and the TOC's own;
 * and, once the block opens, each series' frame CRC in the chunks file
 * (then it writes the files again and reopens). The files go to a scratch
 * block directory; the block is opened and every series, sample, postings
 * list and label lookup read (bounded counts). Seeds: tests/fuzz/
 * corpus_block (blocks written by tsdb itself).
 */
#include <stdio.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "tests/fuzz/harness.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

#define MAX_SERIES 256
#define MAX_POSTINGS 256

static const char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  dir = fuzz_scratch_dir("fuzz-block");
  return 0;
}

static void set_crc(uint8_t *p, size_t len, uint64_t off, uint64_t n)
{
  if (off <= len && n <= len - off && len - off - n >= 4)
    lk_le32_store(p + off + n, lk_crc32(0, p + off, n));
}

static void fix_index(uint8_t *p, size_t len)
{
  if (len < TSDB_INDEX_HDR + TSDB_INDEX_TOC)
    return;
  set_crc(p, len, 0, TSDB_INDEX_HDR - 4);
  uint8_t *toc = p + len - TSDB_INDEX_TOC;
  for (size_t i = 0; i < TSDB_NSEC; i++) {
    uint64_t off = lk_le64_load(toc + 8 * i);
    if (off <= len - TSDB_INDEX_TOC && len - TSDB_INDEX_TOC - off >= 4)
      set_crc(p, len - TSDB_INDEX_TOC, off + 4, lk_le32_load(p + off));
  }
  set_crc(toc, TSDB_INDEX_TOC, 0, TSDB_NSEC * 8);
}

/* Set the frame CRC of each series; false when the block does not open. */
static bool fix_frames(uint8_t *chk, size_t len)
{
  tsdb__block *b = NULL;
  lk_diag d = {0};
  if (tsdb__block_open(dir, 1, &b, &d))
    return false;
  for (uint32_t id = 0; id < b->nseries && id < MAX_SERIES; id++) {
    tsdb__bseries s;
    if (tsdb__block_series(b, id, &s))
      continue;
    set_crc(chk, len, s.grp_off, s.grp_len);
    tsdb__bseries_fini(&s);
  }
  tsdb__block_close(b);
  return true;
}

static void read_series(const tsdb__block *b, uint32_t id, tsdb__fcache *fc)
{
  tsdb__bseries s;
  if (tsdb__block_series(b, id, &s))
    return;
  tsdb__vec v = {0};
  (void)tsdb__block_samples(b, &s, INT64_MIN, INT64_MAX, fc, &v);
  tsdb__vec_fini(&v);
  tsdb__bseries found;
  if (tsdb__block_find(b, s.labels, s.nlabels, &found) == 1)
    tsdb__bseries_fini(&found);
  if (s.nlabels) {
    uint32_t lo, hi;
    tsdb__block_name_range(b, s.labels[0].name, &lo, &hi);
  }
  tsdb__bseries_fini(&s);
}

static void read_block(void)
{
  tsdb__block *b = NULL;
  lk_diag d = {0};
  if (tsdb__block_open(dir, 1, &b, &d))
    return;
  tsdb__fcache fc = {0};
  for (uint32_t id = 0; id < b->nseries && id < MAX_SERIES; id++)
    read_series(b, id, &fc);
  tsdb__fcache_fini(&fc);
  for (uint32_t pi = 0; pi < b->npost && pi < MAX_POSTINGS; pi++) {
    uint32_t *ids = NULL;
    size_t n = 0;
    (void)tsdb__block_postings(b, pi, &ids, &n);
    free(ids);
  }
  tsdb__block_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 4)
    return 0;
  size_t ilen = lk_le32_load(data);
  if (ilen > size - 4)
    ilen = size - 4;
  size_t clen = size - 4 - ilen;
  uint8_t *idx = lk_xmalloc(ilen + 1), *chk = lk_xmalloc(clen + 1);
  memcpy(idx, data + 4, ilen);
  memcpy(chk, data + 4 + ilen, clen);
  fix_index(idx, ilen);
  fuzz_write_file(dir, "index", idx, ilen);
  fuzz_write_file(dir, "chunks", chk, clen);
  if (fix_frames(chk, clen)) {
    fuzz_write_file(dir, "chunks", chk, clen);
    read_block();
  }
  free(idx);
  free(chk);
  return 0;
}
