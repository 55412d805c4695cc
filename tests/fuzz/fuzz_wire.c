/* fuzz_wire.c — libFuzzer target for lk_rw_decode and lk_loki_push_decode.
 * The input is used both as a snappy body and, compressed first, as a raw
 * protobuf WriteRequest / PushRequest (so the protobuf decoders see inputs
 * that get past snappy). Every decoded series must have labels sorted with
 * unique names; every decoded stream a label string and its entries. */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_wire.h"

static void check(const uint8_t *p, size_t n, lk_arena *a)
{
  lk_series *out;
  size_t ns;
  if (lk_rw_decode(p, n, 1u << 24, a, &out, &ns, NULL))
    return;
  for (size_t i = 0; i < ns; i++) {
    if (!out[i].nlabels)
      abort();
    for (size_t j = 1; j < out[i].nlabels; j++)
      if (strcmp(out[i].labels[j - 1].name, out[i].labels[j].name) >= 0)
        abort();
  }
}

static void check_loki(const uint8_t *p, size_t n, lk_arena *a)
{
  lk_loki_stream *out;
  size_t ns;
  if (lk_loki_push_decode(p, n, 1u << 24, a, &out, &ns, NULL))
    return;
  for (size_t i = 0; i < ns; i++)
    if (!out[i].labels || (out[i].n && !out[i].entries))
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lk_arena *a = lk_arena_new(1 << 16);
  check(data, size, a);
  check_loki(data, size, a);
  lk_buf z = {0};
  lk_snappy_compress(data, size, &z);
  check(z.data, z.len, a);
  check_loki(z.data, z.len, a);
  lk_buf_fini(&z);
  lk_arena_free(a);
  return 0;
}
