/* head_series.c — the sample data of one head series.
 *
 * In-order samples go to an open chunk of up to TSDB_HEAD_CHUNK_SAMPLES,
 * encoded as they arrive (head_chunk.c), that is sealed (re-encoded with the
 * chunk codec) when full or when a sample crosses the block-range boundary
 * the chunk started in, so in-order head chunks never straddle a block cut.
 * Readers decode the open chunk into arrays on the stack. Out-of-order samples (within the OOO
 * window, or any order during WAL replay) collect in an unsorted side
 * vector sealed into its own chunks; `overlapping` then tells readers that
 * chunks are not in time order. Readers always normalize (sort when needed,
 * first sample of a timestamp wins; sealed in-order data is pushed first).
 *
 * Locking: every function here runs with head->stripe[s->id % NSTRIPE] held
 * (or with appends excluded: replay, cut). Head-wide counters are atomics.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/chunk.h"
#include "tsdb/tsdb_int.h"

static void atomic_min64(_Atomic int64_t *a, int64_t v)
{
  int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
  while (v < cur && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}

static void atomic_max64(_Atomic int64_t *a, int64_t v)
{
  int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
  while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
    ;
}

static void push_chunk(tsdb__head *h, tsdb__series *s, int64_t mint, int64_t maxt, uint32_t n,
                       uint8_t *data, uint32_t len)
{
  if (s->nchunks == s->capchunks) {
    /* room for one at first: an agent's 30,000 series seal their first
     * chunk together, and 4 × 32 bytes each was 3.9 MB */
    s->capchunks = s->capchunks ? s->capchunks * 2 : 1;
    s->chunks = lk_xrealloc(s->chunks, s->capchunks * sizeof *s->chunks);
  }
  if (s->nchunks && s->chunks[s->nchunks - 1].maxt >= mint)
    s->overlapping = true;
  s->chunks[s->nchunks++] = (tsdb__hchunk){mint, maxt, n, len, data};
  atomic_fetch_add_explicit(&h->nchunks, 1, memory_order_relaxed);
}

/* Encode into an exact-size allocation (the encoder may reserve generously). */
static uint8_t *encode_exact(const int64_t *t, const double *v, size_t n, uint32_t *len)
{
  lk_buf b = {0};
  tsdb__chunk_encode(t, v, n, &b);
  uint8_t *data = lk_xmalloc(b.len);
  memcpy(data, b.data, b.len);
  *len = (uint32_t)b.len;
  lk_buf_fini(&b);
  return data;
}

static void seal(tsdb__head *h, tsdb__series *s, const int64_t *t, const double *v, size_t n)
{
  uint32_t len;
  uint8_t *data = encode_exact(t, v, n, &len);
  push_chunk(h, s, t[0], t[n - 1], (uint32_t)n, data, len);
}

static void seal_open(tsdb__head *h, tsdb__series *s)
{
  int64_t t[TSDB_HEAD_CHUNK_SAMPLES];
  double v[TSDB_HEAD_CHUNK_SAMPLES];
  seal(h, s, t, v, tsdb__ochunk_decode(&s->open, t, v));
  tsdb__ochunk_reset(&s->open);
}

static void seal_ooo(tsdb__head *h, tsdb__series *s)
{
  tsdb__vec_normalize(&s->ooo, INT64_MIN, INT64_MAX);
  seal(h, s, s->ooo.t, s->ooo.v, s->ooo.n);
  s->overlapping = true;
  s->ooo.n = 0;
}

static void note_sample(tsdb__hnote *note, int64_t t)
{
  note->min_t = t < note->min_t ? t : note->min_t;
  note->max_t = t > note->max_t ? t : note->max_t;
  note->n++;
}

void tsdb__hnote_commit(tsdb__head *h, tsdb__hnote *note)
{
  if (!note->n)
    return;
  atomic_min64(&h->min_t, note->min_t);
  atomic_max64(&h->max_t, note->max_t);
  atomic_fetch_add_explicit(&h->nsamples, note->n, memory_order_relaxed);
  tsdb__hnote_init(note);
}

/* Bits of an existing sample at t in the open chunk or OOO vector, if any. */
static bool find_unsealed(const tsdb__series *s, int64_t t, uint64_t *bits)
{
  if (s->open.n && t >= s->open.t0 && t <= s->open.tn) {
    int64_t bt[TSDB_HEAD_CHUNK_SAMPLES];
    double bv[TSDB_HEAD_CHUNK_SAMPLES];
    size_t n = tsdb__ochunk_decode(&s->open, bt, bv);
    for (size_t i = 0; i < n; i++)
      if (bt[i] == t) {
        memcpy(bits, &bv[i], 8);
        return true;
      }
  }
  for (size_t i = 0; i < s->ooo.n; i++)
    if (s->ooo.t[i] == t) {
      memcpy(bits, &s->ooo.v[i], 8);
      return true;
    }
  return false;
}

/* Bits of an existing sample at t in a sealed chunk (decodes candidates;
 * only out-of-order appends come here). */
static bool find_sealed(const tsdb__series *s, int64_t t, uint64_t *bits)
{
  bool found = false;
  tsdb__vec tmp = {0};
  for (uint32_t i = 0; i < s->nchunks && !found; i++) {
    const tsdb__hchunk *c = &s->chunks[i];
    if (t < c->mint || t > c->maxt)
      continue;
    tmp.n = 0;
    if (tsdb__vec_push_chunk(&tmp, c->data, c->len, t, t) == 0 && tmp.n) {
      memcpy(bits, &tmp.v[0], 8);
      found = true;
    }
  }
  tsdb__vec_fini(&tmp);
  return found;
}

static void add_in_order(tsdb__head *h, tsdb__series *s, int64_t t, double v, uint64_t bits,
                         int64_t range, tsdb__hnote *note)
{
  if (s->open.n && (s->open.n == TSDB_HEAD_CHUNK_SAMPLES || t >= s->buf_end))
    seal_open(h, s);
  if (!s->open.n)
    s->buf_end = (tsdb__floor_div(t, range) + 1) * range;
  tsdb__ochunk_append(&s->open, t, v);
  s->max_t = t;
  s->last_bits = bits;
  s->has_max = true;
  s->sampled = true;
  note_sample(note, t);
}

enum tsdb__verdict tsdb__series_add(tsdb__head *h, tsdb__series *s, int64_t t, double v,
                                    int64_t range, int64_t ooo_window, bool force, tsdb__hnote *note)
{
  uint64_t bits;
  memcpy(&bits, &v, 8);
  if (!s->has_max || t > s->max_t) {
    add_in_order(h, s, t, v, bits, range, note);
    return TSDB_V_OK;
  }
  if (t == s->max_t)
    return bits == s->last_bits ? TSDB_V_DUP : TSDB_V_CONFLICT;
  if (!force && (ooo_window <= 0 || s->max_t - t > ooo_window))
    return TSDB_V_OOO;
  uint64_t old;
  if (find_unsealed(s, t, &old) || find_sealed(s, t, &old))
    return old == bits ? TSDB_V_DUP : TSDB_V_CONFLICT;
  tsdb__vec_push(&s->ooo, t, v);
  s->sampled = true;
  note_sample(note, t);
  if (s->ooo.n >= TSDB_OOO_CHUNK_SAMPLES)
    seal_ooo(h, s);
  return TSDB_V_OK;
}

void tsdb__series_add_chunk(tsdb__head *h, tsdb__series *s, int64_t mint, int64_t maxt,
                            uint32_t n, uint8_t *data, uint32_t len)
{
  push_chunk(h, s, mint, maxt, n, data, len);
  s->sampled = true;
  if (s->open.n)
    s->overlapping = true;
  atomic_min64(&h->min_t, mint);
  atomic_max64(&h->max_t, maxt);
  atomic_fetch_add_explicit(&h->nsamples, n, memory_order_relaxed);
  if (!s->has_max || maxt > s->max_t) {
    tsdb__vec tmp = {0};
    if (tsdb__vec_push_chunk(&tmp, data, len, maxt, maxt) == 0 && tmp.n == 1) {
      s->max_t = maxt;
      memcpy(&s->last_bits, &tmp.v[0], 8);
      s->has_max = true;
    }
    tsdb__vec_fini(&tmp);
  }
}

int tsdb__series_collect(const tsdb__series *s, int64_t mint, int64_t maxt, tsdb__vec *out)
{
  for (uint32_t i = 0; i < s->nchunks; i++) {
    const tsdb__hchunk *c = &s->chunks[i];
    if (c->maxt < mint || c->mint > maxt)
      continue;
    int rc = tsdb__vec_push_chunk(out, c->data, c->len, mint, maxt);
    if (rc)
      return rc;
  }
  if (tsdb__series_open_overlaps(s, mint, maxt)) {
    tsdb__vec_reserve(out, s->open.n);
    size_t base = out->n, n = tsdb__ochunk_decode(&s->open, out->t + base, out->v + base);
    for (size_t i = 0; i < n; i++)
      if (out->t[base + i] >= mint && out->t[base + i] <= maxt) {
        out->t[out->n] = out->t[base + i];
        out->v[out->n++] = out->v[base + i];
      }
  }
  for (size_t i = 0; i < s->ooo.n; i++)
    if (s->ooo.t[i] >= mint && s->ooo.t[i] <= maxt)
      tsdb__vec_push(out, s->ooo.t[i], s->ooo.v[i]);
  return 0;
}

bool tsdb__series_overlaps(const tsdb__series *s, int64_t mint, int64_t maxt)
{
  for (uint32_t i = 0; i < s->nchunks; i++)
    if (s->chunks[i].maxt >= mint && s->chunks[i].mint <= maxt)
      return true;
  if (tsdb__series_open_overlaps(s, mint, maxt))
    return true;
  for (size_t i = 0; i < s->ooo.n; i++)
    if (s->ooo.t[i] >= mint && s->ooo.t[i] <= maxt)
      return true;
  return false;
}

bool tsdb__series_raw(const tsdb__series *s, int64_t lo, int64_t hi, lk_buf *scratch, tsdb__craw **out,
                      size_t *nout)
{
  if (s->overlapping || s->ooo.n)
    return false;
  tsdb__craw *c = lk_xmalloc((s->nchunks + 1) * sizeof *c);
  size_t n = 0;
  for (uint32_t i = 0; i < s->nchunks; i++) {
    const tsdb__hchunk *k = &s->chunks[i];
    if (k->maxt < lo || k->mint >= hi)
      continue;
    if (k->mint < lo || k->maxt >= hi) {
      free(c);
      return false;
    }
    c[n++] = (tsdb__craw){k->mint, k->maxt, k->n, k->len, k->data};
  }
  int64_t bt[TSDB_HEAD_CHUNK_SAMPLES];
  double bv[TSDB_HEAD_CHUNK_SAMPLES];
  size_t bn = tsdb__series_open_overlaps(s, lo, hi - 1) ? tsdb__ochunk_decode(&s->open, bt, bv) : 0;
  size_t a = 0, b;
  while (a < bn && bt[a] < lo)
    a++;
  for (b = a; b < bn && bt[b] < hi;)
    b++;
  if (b > a) {
    lk_buf_clear(scratch);
    tsdb__chunk_encode(bt + a, bv + a, b - a, scratch);
    c[n++] = (tsdb__craw){bt[a], bt[b - 1], (uint32_t)(b - a), (uint32_t)scratch->len, scratch->data};
  }
  *out = c;
  *nout = n;
  return true;
}

bool tsdb__series_empty(const tsdb__series *s)
{
  return !s->nchunks && !s->open.n && !s->ooo.n;
}

/* Keep the samples of chunk c with t >= before, re-encoded; false if none. */
static bool chunk_keep_tail(tsdb__hchunk *c, int64_t before)
{
  tsdb__vec tmp = {0};
  bool keep = false;
  if (tsdb__vec_push_chunk(&tmp, c->data, c->len, before, INT64_MAX) == 0 && tmp.n) {
    free(c->data);
    c->data = encode_exact(tmp.t, tmp.v, tmp.n, &c->len);
    c->n = (uint32_t)tmp.n;
    c->mint = tmp.t[0];
    c->maxt = tmp.t[tmp.n - 1];
    keep = true;
  }
  tsdb__vec_fini(&tmp);
  return keep;
}

/* Keep the open chunk's samples with t >= before, re-encoded. */
static void open_keep_tail(tsdb__ochunk *o, int64_t before)
{
  int64_t t[TSDB_HEAD_CHUNK_SAMPLES];
  double v[TSDB_HEAD_CHUNK_SAMPLES];
  size_t n = tsdb__ochunk_decode(o, t, v);
  tsdb__ochunk_reset(o);
  for (size_t i = 0; i < n; i++)
    if (t[i] >= before)
      tsdb__ochunk_append(o, t[i], v[i]);
}

void tsdb__series_truncate(tsdb__head *h, tsdb__series *s, int64_t before)
{
  uint32_t w = 0;
  for (uint32_t i = 0; i < s->nchunks; i++) {
    tsdb__hchunk *c = &s->chunks[i];
    if (c->mint >= before || (c->maxt >= before && chunk_keep_tail(c, before))) {
      s->chunks[w++] = *c;
      continue;
    }
    free(c->data);
  }
  s->nchunks = w;
  if (s->open.n && s->open.t0 < before)
    open_keep_tail(&s->open, before);
  tsdb__vec_normalize(&s->ooo, before, INT64_MAX);
  if (!s->nchunks)
    s->overlapping = false;
  if (tsdb__series_empty(s)) {
    free(s->chunks);
    s->chunks = NULL;
    s->capchunks = 0;
    tsdb__ochunk_fini(&s->open);
    tsdb__vec_fini(&s->ooo);
  }
}

void tsdb__head_recount(tsdb__head *h)
{
  int64_t mn = INT64_MAX, mx = INT64_MIN;
  uint64_t ns = 0, nc = 0;
  for (size_t k = 0; k < h->byid.cap; k++) {
    const tsdb__series *s = h->byid.slot[k];
    if (!s)
      continue;
    for (uint32_t i = 0; i < s->nchunks; i++) {
      mn = s->chunks[i].mint < mn ? s->chunks[i].mint : mn;
      mx = s->chunks[i].maxt > mx ? s->chunks[i].maxt : mx;
      ns += s->chunks[i].n;
    }
    nc += s->nchunks;
    if (s->open.n) {
      mn = s->open.t0 < mn ? s->open.t0 : mn;
      mx = s->open.tn > mx ? s->open.tn : mx;
      ns += s->open.n;
    }
    for (size_t i = 0; i < s->ooo.n; i++) {
      mn = s->ooo.t[i] < mn ? s->ooo.t[i] : mn;
      mx = s->ooo.t[i] > mx ? s->ooo.t[i] : mx;
    }
    ns += s->ooo.n;
  }
  atomic_store(&h->min_t, mn);
  atomic_store(&h->max_t, mx);
  atomic_store(&h->nsamples, ns);
  atomic_store(&h->nchunks, nc);
}
