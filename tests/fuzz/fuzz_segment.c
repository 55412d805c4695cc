/* fuzz_segment.c — libFuzzer target for the log store's segment reader
 * (logstore/segment.c) on corrupt files.
 *
 * The input is a segment file (logstore/FORMAT.md). So that mutations reach
 * the parsers behind the checksums, the target walks its blocks and sets
 * both CRCs of each block whose lengths fit. The file goes into an empty
 * store directory, the store is opened (which reads headers, metas and
 * blooms and cuts a torn tail) and queried: label names and values, series,
 * and log and metric queries over every stream with each label (bounded
 * counts). Seeds: tests/fuzz/corpus_segment (segments the store wrote).
 */
#include <stdio.h>
#include <sys/stat.h>

#include "lib/lk_endian.h"
#include "lib/lk_hash.h"
#include "logstore/format.h"
#include "logstore/logstore.h"
#include "tests/fuzz/harness.h"

#define MAX_NAMES 4

static const char *base;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  base = fuzz_scratch_dir("fuzz-segment");
  return 0;
}

static void fix_crcs(uint8_t *p, size_t len)
{
  size_t off = LS_FILE_HDR;
  while (off <= len && len - off >= LS_BLK_HDR && lk_le32_load(p + off) == LS_BLK_MAGIC) {
    uint64_t ml = lk_le32_load(p + off + 4), bl = lk_le32_load(p + off + 8), dl = lk_le32_load(p + off + 12);
    uint64_t body = off + LS_BLK_HDR;
    if (ml + bl > len - body || dl > len - body - ml - bl)
      return;
    lk_le32_store(p + off + 16, lk_crc32(0, p + body, ml + bl));
    lk_le32_store(p + off + 20, lk_crc32(0, p + body + ml + bl, dl));
    off = body + ml + bl + dl;
  }
}

static void query(logstore *s, const char *q, int64_t step)
{
  logstore_query_opts o = {.start_ns = INT64_MIN / 2, .end_ns = INT64_MAX / 2, .step_ns = step, .limit = 50};
  if (step) {
    o.start_ns = 0;
    o.end_ns = 4 * step;
  }
  logstore_result *r = NULL;
  lk_diag d = {0};
  if (!logstore_query(s, q, &o, &r, &d))
    logstore_result_free(r);
}

static void query_name(logstore *s, const char *name)
{
  lk_arena *a = NULL;
  const char **values;
  size_t nv;
  if (!logstore_label_values(s, name, INT64_MIN / 2, INT64_MAX / 2, &values, &nv, &a))
    lk_arena_free(a);
  char q[256];
  snprintf(q, sizeof q, "{%s=~\".+\"}", name);
  query(s, q, 0);
  snprintf(q, sizeof q, "{%s=~\".+\"} |= \"error\"", name);
  query(s, q, 0);
  snprintf(q, sizeof q, "sum by (%s) (count_over_time({%s=~\".+\"} [1h]))", name, name);
  query(s, q, 1800000000000LL);
}

static void open_and_query(const char *dir)
{
  logstore *s = NULL;
  lk_diag d = {0};
  if (logstore_open(&(logstore_opts){.dir = dir}, &s, &d))
    return;
  const char **names;
  size_t n;
  lk_arena *a = NULL;
  if (!logstore_labels(s, INT64_MIN / 2, INT64_MAX / 2, &names, &n, &a)) {
    for (size_t i = 0; i < n && i < MAX_NAMES; i++)
      query_name(s, names[i]);
    lk_arena_free(a);
  }
  logstore_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *seg = lk_xmalloc(size + 1);
  memcpy(seg, data, size);
  fix_crcs(seg, size);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/store", base);
  fuzz_rmtree(dir);
  if (mkdir(dir, 0755))
    abort();
  fuzz_write_file(dir, "seg-00000001.lks", seg, size);
  open_and_query(dir);
  free(seg);
  return 0;
}
