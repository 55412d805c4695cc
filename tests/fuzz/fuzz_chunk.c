/* fuzz_chunk.c — libFuzzer target for the chunk codec and pack frames.
 *
 * First input byte selects: even → the rest is decoded as a chunk (anything
 * that decodes must re-encode and decode to the same bits) and as a pack
 * frame; odd → the rest is read as 16-byte (t, v) samples that must
 * round-trip (bit 1: make them scrape-like, bit 2: two decimals).
 * Built by meson with clang (tests/fuzz/meson.build); scripts/test runs it
 * over the seeds in tests/fuzz/corpus_chunk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "tsdb/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const int64_t *t, const double *v, size_t n)
{
  lk_buf b = {0};
  tsdb__chunk_encode(t, v, n, &b);
  int64_t *t2 = lk_xmalloc(n * sizeof *t2);
  double *v2 = lk_xmalloc(n * sizeof *v2);
  if (tsdb__chunk_decode(b.data, b.len, t2, v2) != (int64_t)n || memcmp(t, t2, n * sizeof *t) ||
      memcmp(v, v2, n * sizeof *v))
    abort();
  free(t2);
  free(v2);
  lk_buf_fini(&b);
}

static void fuzz_samples(const uint8_t *p, size_t size, uint8_t mode)
{
  size_t n = size / 16;
  if (n < 1 || n > TSDB__CHUNK_MAX_SAMPLES)
    return;
  int64_t *t = lk_xmalloc(n * sizeof *t);
  double *v = lk_xmalloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    memcpy(&t[i], p + 16 * i, 8);
    memcpy(&v[i], p + 16 * i + 8, 8);
    if (mode & 2) {
      t[i] = (int64_t)(i * 15000) + (t[i] & 0xff);
      v[i] = (double)(int32_t)(t[i] >> 8) / ((mode & 4) ? 100.0 : 1.0);
    }
  }
  check_roundtrip(t, v, n);
  free(t);
  free(v);
}

static void fuzz_decode(const uint8_t *p, size_t size)
{
  int64_t cnt = tsdb__chunk_count(p, size);
  if (cnt >= 0) {
    int64_t *t = lk_xmalloc((size_t)cnt * sizeof *t);
    double *v = lk_xmalloc((size_t)cnt * sizeof *v);
    if (tsdb__chunk_decode(p, size, t, v) == cnt)
      check_roundtrip(t, v, (size_t)cnt);
    free(t);
    free(v);
  }
  lk_buf o = {0};
  (void)tsdb__unpack(p, size, &o);
  lk_buf_fini(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  /* An exact-size heap copy, so ASan sees any read past the end. */
  uint8_t *copy = lk_xmalloc(size - 1 ? size - 1 : 1);
  memcpy(copy, data + 1, size - 1);
  if (data[0] & 1)
    fuzz_samples(copy, size - 1, data[0]);
  else
    fuzz_decode(copy, size - 1);
  free(copy);
  return 0;
}
