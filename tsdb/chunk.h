/* chunk.h — tsdb-internal: the sample chunk codec (one series, one chunk).
 *
 * A chunk holds the samples of one series in a time range, encoded at once
 * when the chunk is sealed (the encoder sees all samples, so it can choose the
 * best scheme per chunk). The format is written down in tsdb/FORMAT.md.
 * Lossless: decode(encode(x)) reproduces every int64 timestamp and every
 * float64 bit pattern exactly.
 */
#ifndef TSDB_CHUNK_H
#define TSDB_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"

/* Append the encoding of n samples (t ascending; n >= 1) to out. */
void tsdb__chunk_encode(const int64_t *t, const double *v, size_t n, lk_buf *out);

/* Number of samples in an encoded chunk (cheap: read from the header), or a
 * negative LK_E* code if the header is corrupt. */
int64_t tsdb__chunk_count(const uint8_t *p, size_t len);

/* Decode into caller arrays with room for tsdb__chunk_count() samples.
 * Returns the sample count, or LK_ECORRUPT: never reads outside [p, p+len). */
int64_t tsdb__chunk_decode(const uint8_t *p, size_t len, int64_t *t, double *v);

#endif
