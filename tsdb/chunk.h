/* chunk.h — tsdb-internal: the sample chunk codec (one series, one chunk),
 * and the block-level compression frame the storage layer wraps groups of
 * chunks (or any other sealed bytes) in.
 *
 * A chunk holds the samples of one series in a time range, encoded at once
 * when the chunk is sealed (the encoder sees all samples, so it can choose the
 * best scheme per chunk). The format is written down in tsdb/chunk_format.md.
 * Lossless: decode(encode(x)) reproduces every int64 timestamp and every
 * float64 bit pattern exactly. All functions are pure (no shared state), so
 * any thread may call them.
 */
#ifndef TSDB_CHUNK_H
#define TSDB_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"

/* Most samples one chunk may hold (encoder precondition, decoder check). */
#define TSDB__CHUNK_MAX_SAMPLES 65535

/* Append the encoding of n samples (1 <= n <= TSDB__CHUNK_MAX_SAMPLES;
 * t ascending is the efficient case, any int64 order round-trips) to out.
 * Violating the bounds on n aborts (a caller bug). */
void tsdb__chunk_encode(const int64_t *t, const double *v, size_t n, lk_buf *out);

/* Number of samples in an encoded chunk (cheap: read from the header), or a
 * negative LK_E* code if the header is corrupt. Never more than
 * TSDB__CHUNK_MAX_SAMPLES. */
int64_t tsdb__chunk_count(const uint8_t *p, size_t len);

/* Decode into caller arrays with room for tsdb__chunk_count() samples.
 * Returns the sample count, or LK_ECORRUPT: never reads outside [p, p+len).
 * On error the arrays hold unspecified values (they are scratch). */
int64_t tsdb__chunk_decode(const uint8_t *p, size_t len, int64_t *t, double *v);

/* Timestamp sections a reader decoded lately. Series scraped together have
 * byte-identical timestamp sections (sections are byte-aligned and
 * deterministic), so a reader that keeps a memo decodes each distinct one
 * once and copies it for the others. Owned by one reader (not thread-safe);
 * a zeroed tsdb__tsmemo * (NULL) is allocated on first use. */
typedef struct tsdb__tsmemo tsdb__tsmemo;
void tsdb__tsmemo_free(tsdb__tsmemo *m); /* NULL is fine */

/* tsdb__chunk_decode through a memo (*m: NULL at first, allocated here);
 * the same result bits. */
int64_t tsdb__chunk_decode_memo(const uint8_t *p, size_t len, int64_t *t, double *v, tsdb__tsmemo **m);

/* tsdb__chunk_decode_memo that also tells where the value section starts
 * (*vsec, when not NULL): p[1..*vsec) is the sample count and timestamp
 * section, which with the timestamp scheme (p[0] & 1) alone determine the
 * decoded timestamps. */
int64_t tsdb__chunk_decode_at(const uint8_t *p, size_t len, int64_t *t, double *v, tsdb__tsmemo **m,
                              size_t *vsec);

/* The DECIMAL scheme's test, for other codecs of values (rollup.c): is v
 * exactly x / 10^k, k ≤ TSDB__DEC_KMAX, for an integer |x| < 2^53 (the
 * division reproducing v's bits, -0.0, NaN and ±Inf never)? And x / 10^k. */
#define TSDB__DEC_KMAX 22
bool tsdb__dec_at(double v, unsigned k, int64_t *x);
double tsdb__dec_value(int64_t x, unsigned k);

/* Most bytes tsdb__unpack will produce from one frame (corruption guard). */
#define TSDB__PACK_MAX_RAW ((size_t)1 << 30)

/* Append to out a self-describing compressed frame of in[0..n) (codec byte,
 * uvarint raw length, uvarint payload length, payload); stores the bytes as
 * they are when compression would not shrink them. n <= TSDB__PACK_MAX_RAW.
 * Returns 0, or LK_ETOOBIG / LK_EIO (out unchanged). */
int tsdb__pack(const uint8_t *in, size_t n, lk_buf *out);

/* Append the original bytes of the frame in[0..n) to out. The frame must be
 * exactly n bytes. Returns 0, or LK_ECORRUPT on anything malformed (out
 * unchanged); never reads outside [in, in+n). */
int tsdb__unpack(const uint8_t *in, size_t n, lk_buf *out);

#endif
