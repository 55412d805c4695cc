/* chunk_xor.c — the XOR value stream: the fallback for chunks whose values
 * are not short decimals (measurements with full binary mantissas, NaN
 * payloads, -0.0, ...).
 *
 * Gorilla's scheme with Prometheus's field widths: the first value as 64 raw
 * bits, then per value the XOR with the previous one: '0' (equal), '10' +
 * meaningful bits inside the previous leading/trailing-zero window, or '11' +
 * 5-bit leading-zero count (capped at 31) + 6-bit length (64 stored as 0) +
 * the meaningful bits. Kept because it is lossless for every bit pattern and
 * well understood; chunk.c uses it only when it is smaller than the decimal
 * scheme. Ends byte-aligned.
 */
#include "tsdb/chunk_int.h"

void tsdb__xor_encode(tsdb__bw *w, const double *v, size_t n)
{
  uint64_t prev = tsdb__dbits(v[0]);
  unsigned lead = 0xff, trail = 0;
  tsdb__bw_put(w, prev, 64);
  for (size_t i = 1; i < n; i++) {
    uint64_t cur = tsdb__dbits(v[i]), x = cur ^ prev;
    prev = cur;
    if (!x) {
      tsdb__bw_put(w, 0, 1);
      continue;
    }
    unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
    if (l > 31)
      l = 31;
    if (lead != 0xff && l >= lead && t >= trail) {
      tsdb__bw_put(w, 2, 2);
      tsdb__bw_put(w, x >> trail, 64 - lead - trail);
      continue;
    }
    lead = l;
    trail = t;
    unsigned sig = 64 - l - t;
    tsdb__bw_put(w, 3, 2);
    tsdb__bw_put(w, l, 5);
    tsdb__bw_put(w, sig & 63, 6);
    tsdb__bw_put(w, x >> t, sig);
  }
  tsdb__bw_align(w);
}

void tsdb__xor_decode(tsdb__br *r, double *v, size_t n)
{
  uint64_t prev = tsdb__br_get(r, 64);
  unsigned lead = 0xff, trail = 0;
  v[0] = tsdb__bitsd(prev);
  for (size_t i = 1; i < n && !r->err; i++) {
    if (tsdb__br_get(r, 1)) {
      if (tsdb__br_get(r, 1)) {
        lead = (unsigned)tsdb__br_get(r, 5);
        unsigned sig = (unsigned)tsdb__br_get(r, 6);
        if (!sig)
          sig = 64;
        if (lead + sig > 64) {
          tsdb__br_fail(r);
          break;
        }
        trail = 64 - lead - sig;
      } else if (lead == 0xff) {
        tsdb__br_fail(r);
        break;
      }
      prev ^= tsdb__br_get(r, 64 - lead - trail) << trail;
    }
    v[i] = tsdb__bitsd(prev);
  }
  tsdb__br_align(r);
}
