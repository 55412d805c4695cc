/* chunk.c — placeholder being replaced by the chunk codec (see chunk.h). */
#include "tsdb/chunk.h"

#include <string.h>

#include "lib/lk_err.h"
#include "lib/lk_varint.h"

/* Raw layout until the real codec lands: uvarint n, then n × (t, v) little-endian. */
void tsdb__chunk_encode(const int64_t *t, const double *v, size_t n, lk_buf *out)
{
  lk_buf_put_uvarint(out, n);
  for (size_t i = 0; i < n; i++) {
    uint64_t bits;
    memcpy(&bits, &v[i], 8);
    lk_buf_put_u64le(out, (uint64_t)t[i]);
    lk_buf_put_u64le(out, bits);
  }
}

int64_t tsdb__chunk_count(const uint8_t *p, size_t len)
{
  lk_dec d;
  lk_dec_init(&d, p, len);
  uint64_t n = lk_dec_uvarint(&d);
  if (d.err || n > lk_dec_left(&d) / 16)
    return LK_ECORRUPT;
  return (int64_t)n;
}

int64_t tsdb__chunk_decode(const uint8_t *p, size_t len, int64_t *t, double *v)
{
  lk_dec d;
  lk_dec_init(&d, p, len);
  uint64_t n = lk_dec_uvarint(&d);
  if (d.err || n > lk_dec_left(&d) / 16)
    return LK_ECORRUPT;
  for (size_t i = 0; i < n; i++) {
    t[i] = (int64_t)lk_dec_u64le(&d);
    uint64_t bits = lk_dec_u64le(&d);
    memcpy(&v[i], &bits, 8);
  }
  return d.err ? LK_ECORRUPT : (int64_t)n;
}
