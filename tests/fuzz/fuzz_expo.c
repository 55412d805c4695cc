/* fuzz_expo.c — libFuzzer target for the exposition parser. The first byte
 * picks the mode (bit 0: OpenMetrics) and a chunk size; the rest is fed in
 * chunks of that size, every series text goes through lk_expo_parse_series,
 * and the result must not depend on the chunking. */
#include <stdlib.h>
#include <string.h>

#include "lib/lk_expo.h"

typedef struct acc {
  lk_arena *a;
  uint64_t n, hash;
} acc;

static int on_sample(void *ctx, const lk_expo_sample *s)
{
  acc *c = ctx;
  lk_label *ls;
  size_t n;
  if (lk_expo_parse_series(s->series, s->series_len, c->a, &ls, &n, NULL) == 0)
    for (size_t i = 1; i < n; i++)
      if (strcmp(ls[i - 1].name, ls[i].name) >= 0)
        abort();
  c->n++;
  c->hash = c->hash * 31 + s->series_len + s->line;
  return 0;
}

static int run(const uint8_t *p, size_t n, int om, size_t chunk, acc *c)
{
  lk_expo *x = lk_expo_new(on_sample, c, 4096);
  lk_expo_set_openmetrics(x, om);
  int rc = 0;
  for (size_t off = 0; off < n && !rc; off += chunk)
    rc = lk_expo_feed(x, p + off, n - off < chunk ? n - off : chunk, NULL);
  if (!rc)
    rc = lk_expo_finish(x, NULL);
  lk_expo_free(x);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  int om = data[0] & 1;
  size_t chunk = 1 + (data[0] >> 1);
  acc whole = {.a = lk_arena_new(4096)}, pieces = {.a = lk_arena_new(4096)};
  int r1 = run(data + 1, size - 1, om, size, &whole);
  int r2 = run(data + 1, size - 1, om, chunk, &pieces);
  if (r1 != r2 || whole.n != pieces.n || whole.hash != pieces.hash)
    abort();
  lk_arena_free(whole.a);
  lk_arena_free(pieces.a);
  return 0;
}
