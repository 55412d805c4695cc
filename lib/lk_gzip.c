/* lk_gzip.c — streaming gunzip (zlib inflate, gzip wrapper only) with a total
 * output limit, handing output to a sink in ≤ 64 KiB pieces.
 *
 * Why: request bodies arrive in chunks and may inflate to GBs (bulk import),
 * so nothing is accumulated; the limit is enforced before each piece reaches
 * the sink. Concatenated members are decoded in turn (inflateReset when one
 * ends and input remains). Invariant: `err` is sticky once set.
 */
#include "lib/lk_gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "lib/lk_alloc.h"

#define OUT_CHUNK (64u * 1024)

struct lk_gunzip {
  z_stream zs;
  size_t max_out;
  uint64_t total;
  lk_gunzip_sink sink;
  void *ctx;
  int in_member; /* inside a gzip member (started, not yet ended) */
  int err;
  lk_diag errd;
  uint8_t out[OUT_CHUNK];
};

lk_gunzip *lk_gunzip_new(size_t max_out, lk_gunzip_sink sink, void *ctx)
{
  lk_gunzip *z = lk_xcalloc(1, sizeof *z);
  z->max_out = max_out;
  z->sink = sink;
  z->ctx = ctx;
  if (inflateInit2(&z->zs, 16 + MAX_WBITS) != Z_OK) { /* only fails on OOM */
    fprintf(stderr, "lookout: out of memory (zlib inflateInit2)\n");
    abort();
  }
  return z;
}

void lk_gunzip_free(lk_gunzip *z)
{
  if (!z)
    return;
  inflateEnd(&z->zs);
  free(z);
}

uint64_t lk_gunzip_total_out(const lk_gunzip *z) { return z->total; }

static int set_err(lk_gunzip *z, int code, lk_diag *d, const char *what)
{
  z->err = code;
  lk_diag_set(&z->errd, code, (long)z->zs.total_in, "gzip: %s", what);
  if (d && !d->set)
    *d = z->errd;
  return code;
}

/* Hand `n` fresh output bytes to the sink, enforcing the limit. */
static int emit(lk_gunzip *z, size_t n, lk_diag *d)
{
  if (z->max_out && z->total + n > z->max_out) {
    char what[96];
    snprintf(what, sizeof what, "decompressed size exceeds %zu bytes", z->max_out);
    return set_err(z, LK_ETOOBIG, d, what);
  }
  z->total += n;
  int rc = n ? z->sink(z->ctx, z->out, n) : 0;
  if (rc)
    return set_err(z, rc < 0 ? rc : LK_ECANCELED, d, "stopped by the consumer");
  return 0;
}

int lk_gunzip_feed(lk_gunzip *z, const uint8_t *in, size_t n, lk_diag *d)
{
  if (z->err) {
    if (d && !d->set)
      *d = z->errd;
    return z->err;
  }
  z->zs.next_in = (Bytef *)in;
  z->zs.avail_in = (uInt)n; /* callers' chunks are far below 4 GiB */
  int full = 0; /* the last round filled the window: zlib may hold more output */
  while (z->zs.avail_in > 0 || full) {
    if (!z->in_member) {
      inflateReset(&z->zs);
      z->in_member = 1;
    }
    z->zs.next_out = z->out;
    z->zs.avail_out = OUT_CHUNK;
    int zr = inflate(&z->zs, Z_NO_FLUSH);
    if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
      return set_err(z, LK_ECORRUPT, d, z->zs.msg ? z->zs.msg : "corrupt input");
    size_t got = OUT_CHUNK - z->zs.avail_out;
    int rc = emit(z, got, d);
    if (rc)
      return rc;
    full = z->zs.avail_out == 0;
    if (zr == Z_STREAM_END)
      z->in_member = 0;
    else if (zr == Z_BUF_ERROR && !got) { /* no progress possible */
      if (z->zs.avail_in)
        return set_err(z, LK_ECORRUPT, d, "corrupt input");
      break; /* needs more input */
    }
  }
  return 0;
}

int lk_gunzip_finish(lk_gunzip *z, lk_diag *d)
{
  if (z->err) {
    if (d && !d->set)
      *d = z->errd;
    return z->err;
  }
  /* No output is left inside zlib: feed loops until the window is not full. */
  if (z->in_member || z->zs.total_in == 0)
    return set_err(z, LK_ECORRUPT, d, "truncated stream");
  return 0;
}
