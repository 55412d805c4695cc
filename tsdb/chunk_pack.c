/* chunk_pack.c — block-level compression frames for sealed tsdb data.
 *
 * The chunk codec removes the redundancy inside one series; what is left
 * between series (identical timestamp columns of series scraped together,
 * repeated headers, counters that move in step) is found by a general
 * compressor over a group of chunks. zstd at PACK_LEVEL was chosen by
 * measurement over zlib and other zstd levels (tsdb/chunk_format.md, "Block
 * compression"). Frames are self-describing so the choice can change without
 * breaking readers:
 *
 *   u8 codec (0 stored, 1 zstd) | uvarint raw_len | uvarint payload_len | payload
 *
 * Invariants: unpack reads only [in, in+n), requires the frame to be exactly n
 * bytes and the payload to expand to exactly raw_len; out is untouched on error.
 */
#include <string.h>
#include <zstd.h>

#include "lib/lk_err.h"
#include "lib/lk_varint.h"
#include "tsdb/chunk.h"

enum { PACK_STORED = 0, PACK_ZSTD = 1 };

#define PACK_LEVEL 9
#define PACK_HDR_MAX (1 + 2 * LK_UVARINT_MAX)

static void put_header(lk_buf *out, uint8_t codec, size_t raw, size_t payload)
{
  lk_buf_putc(out, codec);
  lk_buf_put_uvarint(out, raw);
  lk_buf_put_uvarint(out, payload);
}

int tsdb__pack(const uint8_t *in, size_t n, lk_buf *out)
{
  if (n > TSDB__PACK_MAX_RAW)
    return LK_ETOOBIG;
  size_t bound = ZSTD_compressBound(n);
  lk_buf_reserve(out, PACK_HDR_MAX + (bound > n ? bound : n));
  /* Compress past the largest header, then slide the payload into place. */
  uint8_t *tmp = out->data + out->len + PACK_HDR_MAX;
  size_t z = ZSTD_compress(tmp, bound, in, n, PACK_LEVEL);
  if (ZSTD_isError(z))
    return LK_EIO;
  if (z >= n) {
    put_header(out, PACK_STORED, n, n);
    lk_buf_append(out, in, n);
    return 0;
  }
  put_header(out, PACK_ZSTD, n, z);
  memmove(out->data + out->len, tmp, z);
  out->len += z;
  out->data[out->len] = 0;
  return 0;
}

int tsdb__unpack(const uint8_t *in, size_t n, lk_buf *out)
{
  lk_dec d;
  lk_dec_init(&d, in, n);
  uint8_t codec = lk_dec_u8(&d);
  uint64_t raw = lk_dec_uvarint(&d), plen = lk_dec_uvarint(&d);
  if (d.err || raw > TSDB__PACK_MAX_RAW || plen != lk_dec_left(&d))
    return LK_ECORRUPT;
  const uint8_t *payload = d.p;
  if (codec == PACK_STORED) {
    if (plen != raw)
      return LK_ECORRUPT;
    lk_buf_append(out, payload, plen);
    return 0;
  }
  if (codec != PACK_ZSTD)
    return LK_ECORRUPT;
  unsigned long long fsize = ZSTD_getFrameContentSize(payload, plen);
  if (fsize != raw)
    return LK_ECORRUPT;
  lk_buf_reserve(out, raw);
  size_t got = ZSTD_decompress(out->data + out->len, raw, payload, plen);
  if (ZSTD_isError(got) || got != raw)
    return LK_ECORRUPT;
  out->len += got;
  out->data[out->len] = 0;
  return 0;
}
