/* lk_gzip.h — streaming gunzip with an output size limit (zlib inflate).
 *
 * For request bodies with `Content-Encoding: gzip` that arrive in chunks: each
 * chunk is inflated and the output handed to a sink in pieces (at most 64 KiB
 * each), so nothing larger than one window is buffered. Concatenated gzip
 * members are accepted (as gzip(1) and Go's gzip.Reader do).
 */
#ifndef LK_GZIP_H
#define LK_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"

/* Receives decompressed bytes, borrowed for the call. Nonzero stops: the
 * feed returns it if negative, else LK_ECANCELED. */
typedef int (*lk_gunzip_sink)(void *ctx, const uint8_t *p, size_t n);

typedef struct lk_gunzip lk_gunzip; /* opaque; one stream, one thread */

/* max_out: total decompressed bytes allowed (0 = unlimited). Never NULL. */
lk_gunzip *lk_gunzip_new(size_t max_out, lk_gunzip_sink sink, void *ctx);
/* Inflate in[0..n). LK_ECORRUPT ("gzip: <zlib message>"), LK_ETOOBIG
 * ("gzip: decompressed size exceeds M bytes"), or the sink's stop value.
 * Errors are sticky. */
int lk_gunzip_feed(lk_gunzip *z, const uint8_t *in, size_t n, lk_diag *d);
/* End of input: LK_ECORRUPT ("gzip: truncated stream") if a member is
 * incomplete or no data was seen. */
int lk_gunzip_finish(lk_gunzip *z, lk_diag *d);
void lk_gunzip_free(lk_gunzip *z); /* NULL is fine */
uint64_t lk_gunzip_total_out(const lk_gunzip *z);

#endif
