/* api_write.c — POST /api/v1/write: Prometheus remote_write 1.0 receiver.
 *
 * The whole request is decoded first (snappy block + protobuf, into a
 * per-request arena) and handed to tsdb_append as one batch, which validates
 * every series before storing anything. So a corrupt body or an invalid
 * series stores nothing (400, never retried by senders; the samples of a
 * body refused for an invalid series count as reason "invalid"); individual samples
 * storage refuses (out of order, too old, conflicting value) are counted and
 * answered with 400 naming how many were accepted and rejected and why —
 * never dropped silently. Native histogram samples (TimeSeries field 4)
 * cannot be stored yet: the float samples beside them are stored, the
 * histograms counted (reason native_histogram) and the answer is 400 naming
 * how many were refused, so no sender believes them stored. A series
 * without float samples is not created. Storage failures are 500 so
 * senders retry.
 * Content-Encoding other than snappy and remote-write 2.0 bodies get 415.
 *
 * Why a series cache: senders repeat the same series request after request,
 * byte for byte. lk_rw_scan hands out each series' raw label bytes; the
 * server-wide rw_cache maps them to the tsdb_ref resolved earlier, so known
 * series skip label decoding, sorting, hashing and comparison, and samples
 * go to storage by ref. Only cache misses are decoded and resolved, all in
 * one tsdb_series_refs call (validated and created atomically), before any
 * sample is stored — the all-or-nothing rule above is kept. Before the
 * cache, a sender's memo (rw_memo.c: its previous request's keys and refs,
 * by index) lets lk_rw_scan_expect check each series with one memcmp, and
 * an expected series takes the memo's ref without hashing. A cached ref
 * whose idle series storage dropped (head GC) is refused as stale with
 * nothing stored; the request then resolves its series again. Scratch memory
 * comes from a small pool of arenas reused across requests.
 */
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_hash.h"
#include "lib/lk_wire.h"
#include "web/web_int.h"

static int check_headers(const lk_http_req *req, lk_http_resp *resp)
{
  const char *ce = lk_http_header(req, "Content-Encoding");
  if (ce && strcasecmp(ce, "snappy")) {
    lk_http_error(resp, 415, "bad_data",
                  "unsupported Content-Encoding \"%s\": remote_write bodies must be snappy-compressed", ce);
    return -1;
  }
  const char *ct = lk_http_header(req, "Content-Type");
  if (ct && strstr(ct, "io.prometheus.write.v2")) {
    lk_http_error(resp, 415, "bad_data",
                  "remote write 2.0 (%s) is not supported; send remote write 1.0 (application/x-protobuf)", ct);
    return -1;
  }
  return 0;
}

void web__rejections_msg(lk_buf *out, const tsdb_append_stats *st)
{
  uint64_t hist = st->rejected[TSDB_REJECT_NATIVE_HISTOGRAM];
  uint64_t other = tsdb_rejected_sum(st) - hist;
  lk_buf_printf(out, "accepted %llu %ssamples", (unsigned long long)st->accepted, hist ? "float " : "");
  if (!other)
    return;
  lk_buf_printf(out, ", rejected %llu: ", (unsigned long long)other);
  const char *sep = "";
  for (int r = 0; r < TSDB_REJECT__COUNT; r++) {
    if (r == TSDB_REJECT_NATIVE_HISTOGRAM || !st->rejected[r])
      continue;
    lk_buf_printf(out, "%s%llu %s", sep, (unsigned long long)st->rejected[r], tsdb_reject_text(r));
    sep = ", ";
  }
}

/* 400: what was stored and what was not, histograms (hist_series series) first. */
static void report_rejections(lk_http_resp *resp, const tsdb_append_stats *st, size_t hist_series,
                              const lk_diag *d)
{
  lk_buf msg = {0};
  uint64_t hist = st->rejected[TSDB_REJECT_NATIVE_HISTOGRAM];
  if (hist)
    lk_buf_printf(&msg, "native histograms are not supported yet: refused %llu %s in %zu series; ",
                  (unsigned long long)hist, tsdb_reject_text(TSDB_REJECT_NATIVE_HISTOGRAM),
                  hist_series);
  web__rejections_msg(&msg, st);
  if (d->set)
    lk_buf_printf(&msg, "; first: %s", d->msg);
  lk_http_error(resp, 400, "bad_data", "%s", (char *)msg.data);
  lk_buf_fini(&msg);
}

#define ARENA_HINT ((size_t)1 << 20)
#define ARENA_KEEP_MAX ((size_t)4 << 20) /* larger arenas (huge bodies) are not pooled */
#define KEY_SEED 0x7277

/* One request's link to its sender's memo (rw_memo.c). */
typedef struct write_req {
  web_server *w;
  web__rw_memo *memo; /* taken by expect_memo; owned by the request */
} write_req;

/* A scratch arena for one request, from the pool when one is free. */
static lk_arena *arena_get(web_server *w)
{
  lk_arena *a = NULL;
  pthread_mutex_lock(&w->arena_mu);
  if (w->narenas)
    a = w->arenas[--w->narenas];
  pthread_mutex_unlock(&w->arena_mu);
  return a ? a : lk_arena_new(ARENA_HINT);
}

static void arena_put(web_server *w, lk_arena *a)
{
  lk_arena_reset(a);
  pthread_mutex_lock(&w->arena_mu);
  if (w->narenas < WEB_ARENA_POOL && lk_arena_bytes(a) <= ARENA_KEEP_MAX) {
    w->arenas[w->narenas++] = a;
    a = NULL;
  }
  pthread_mutex_unlock(&w->arena_mu);
  lk_arena_free(a);
}

/* Decode and resolve the series the cache does not know (miss[0..nmiss), keys[j] of miss[j]),
 * then remember their refs. */
static int resolve_missing(web_server *w, const lk_rw_series *rs, const size_t *miss, size_t nmiss,
                           const lk_keycache_key *keys, lk_arena *a, tsdb_ref *refs, lk_diag *d)
{
  lk_series *in = lk_arena_alloc(a, nmiss * sizeof *in);
  tsdb_ref *got = lk_arena_alloc(a, nmiss * sizeof *got);
  for (size_t j = 0; j < nmiss; j++) {
    const lk_rw_series *s = &rs[miss[j]];
    lk_label *ls;
    size_t nl;
    int rc = lk_rw_scan_labels(s, miss[j], a, &ls, &nl, d);
    if (rc)
      return rc;
    in[j] = (lk_series){ls, nl, s->samples, s->nsamples};
  }
  int rc = tsdb_series_refs(w->db, in, nmiss, got, d);
  if (rc)
    return rc;
  for (size_t j = 0; j < nmiss; j++) {
    const lk_keycache_key *k = &keys[j];
    refs[miss[j]] = got[j];
    lk_keycache_put(w->rw_cache, k->key, k->len, k->hash, got[j]); /* no key: len 0, not stored */
  }
  return 0;
}

/* Cache keys of the series rs[ask[0..nask)]. */
static lk_keycache_key *cache_keys(const lk_rw_series *rs, const size_t *ask, size_t nask, lk_arena *a)
{
  lk_keycache_key *keys = lk_arena_alloc(a, (nask ? nask : 1) * sizeof *keys);
  for (size_t j = 0; j < nask; j++) {
    const lk_rw_series *s = &rs[ask[j]];
    keys[j] = (lk_keycache_key){s->key, s->key ? s->key_len : 0,
                                s->key ? lk_hash64(s->key, s->key_len, KEY_SEED) : 0};
  }
  return keys;
}

/* The ref of every series: from the memo (series it expected), else from
 * the cache (both skipped when fresh), else resolved in one batch. */
static int resolve_refs(web_server *w, const lk_rw_series *rs, size_t n, const web__rw_memo *memo, bool fresh,
                        lk_arena *a, tsdb_ref *refs, lk_diag *d)
{
  size_t *ask = lk_arena_alloc(a, n * sizeof *ask);
  size_t nask = 0;
  for (size_t i = 0; i < n; i++) {
    if (!fresh && memo && rs[i].expected)
      refs[i] = web__rw_memo_ref(memo, i);
    else
      ask[nask++] = i;
  }
  lk_keycache_key *keys = cache_keys(rs, ask, nask, a);
  tsdb_ref *got = lk_arena_alloc(a, (nask ? nask : 1) * sizeof *got);
  bool *found = lk_arena_alloc(a, (nask ? nask : 1) * sizeof *found);
  memset(found, 0, nask * sizeof *found);
  if (!fresh && nask)
    lk_keycache_get_many(w->rw_cache, keys, nask, got, found);
  size_t *miss = lk_arena_alloc(a, (nask ? nask : 1) * sizeof *miss);
  lk_keycache_key *mkeys = lk_arena_alloc(a, (nask ? nask : 1) * sizeof *mkeys);
  size_t nmiss = 0;
  for (size_t j = 0; j < nask; j++) {
    if (found[j])
      refs[ask[j]] = got[j];
    else if (rs[ask[j]].nsamples) { /* nothing to store (histograms only): not created */
      mkeys[nmiss] = keys[j];
      miss[nmiss++] = ask[j];
    }
  }
  return nmiss ? resolve_missing(w, rs, miss, nmiss, mkeys, a, refs, d) : 0;
}

/* Resolve, then append by ref. A cached or memo ref goes stale when head GC
 * drops its idle series (LK_ENOENT, nothing stored): then every series is
 * resolved by its labels again (the cache learns the new refs) and the
 * append is retried once (*fresh set). refs: n entries, filled. */
static int append_resolved(web_server *w, const lk_rw_series *rs, size_t n, const web__rw_memo *memo,
                           lk_arena *a, tsdb_ref *refs, bool *fresh, tsdb_append_stats *st, lk_diag *d)
{
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += rs[i].nsamples;
  tsdb_ref_sample *ss = lk_arena_alloc(a, (total ? total : 1) * sizeof *ss);
  int rc = LK_ENOENT;
  for (int attempt = 0; attempt < 2 && rc == LK_ENOENT; attempt++) {
    lk_diag first = {0};
    lk_diag *dd = attempt ? d : &first;
    *fresh = attempt > 0;
    rc = n ? resolve_refs(w, rs, n, memo, *fresh, a, refs, dd) : 0;
    size_t k = 0;
    for (size_t i = 0; i < n && !rc; i++)
      for (size_t j = 0; j < rs[i].nsamples; j++)
        ss[k++] = (tsdb_ref_sample){refs[i], rs[i].samples[j].t, rs[i].samples[j].v};
    if (!rc)
      rc = tsdb_append_refs(w->db, ss, total, st, dd);
    if (rc && rc != LK_ENOENT && !attempt)
      *d = first;
  }
  return rc;
}

/* After a stored request: the memo for its sender's next one — the same
 * memo if it expected every series with refs still current, else a new one. */
static web__rw_memo *next_memo(web__rw_memo *memo, const lk_rw_series *rs, size_t n, const tsdb_ref *refs,
                               bool fresh)
{
  bool all = memo && !fresh && web__rw_memo_expected(memo)->n == n;
  for (size_t i = 0; i < n && all; i++)
    all = rs[i].expected || !rs[i].nsamples;
  if (all)
    return memo;
  web__rw_memo_free(memo);
  return web__rw_memo_build(rs, n, refs);
}

/* Store the request's series; the memo (taken by the scan, or NULL) goes
 * back to the table updated on success, and is freed on failure. */
static int store(web_server *w, const lk_rw_series *rs, size_t n, web__rw_memo *memo, lk_arena *a,
                 tsdb_append_stats *st, lk_diag *d)
{
  uint64_t hist = 0;
  for (size_t i = 0; i < n; i++)
    hist += rs[i].nhistograms;
  tsdb_ref *refs = lk_arena_alloc(a, (n ? n : 1) * sizeof *refs);
  bool fresh = false;
  int rc = append_resolved(w, rs, n, memo, a, refs, &fresh, st, d);
  st->rejected[TSDB_REJECT_NATIVE_HISTOGRAM] = hist; /* tsdb fills *st afresh */
  memo = rc ? (web__rw_memo_free(memo), NULL) : next_memo(memo, rs, n, refs, fresh);
  if (memo)
    web__rw_memo_put(w, memo);
  return rc;
}

/* lk_rw_scan_expect's pick: this sender's memo, taken out of the table. */
static const lk_rw_expected *expect_memo(void *ctx, const uint8_t *key0, size_t len0)
{
  write_req *r = ctx;
  r->memo = web__rw_memo_take(r->w, key0, len0);
  return r->memo ? web__rw_memo_expected(r->memo) : NULL;
}

static size_t series_with_histograms(const lk_rw_series *rs, size_t n)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += rs[i].nhistograms > 0;
  return k;
}

static uint64_t float_samples(const lk_rw_series *rs, size_t n)
{
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += rs[i].nsamples;
  return k;
}

void web__write(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (check_headers(req, resp)) {
    atomic_fetch_add(&w->stats.bad_requests[WEB_IN_WRITE], 1);
    return;
  }
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  lk_arena *a = arena_get(w);
  lk_rw_series *rs = NULL;
  size_t n = 0;
  lk_diag d = {0};
  tsdb_append_stats st = {0};
  size_t hist_series = 0;
  uint64_t invalid = 0; /* samples of a body refused for an invalid series */
  write_req r = {w, NULL};
  int rc = lk_rw_scan_expect(body, len, w->limits.max_decoded_body, a, expect_memo, &r, &rs, &n, &d);
  if (rc) {
    web__rw_memo_free(r.memo); /* a corrupt body: its sender's next one starts afresh */
  } else {
    hist_series = series_with_histograms(rs, n);
    rc = store(w, rs, n, r.memo, a, &st, &d);
    if (rc == LK_EINVAL || rc == LK_ELIMIT)
      invalid = float_samples(rs, n);
  }
  arena_put(w, a);
  if (rc) {
    atomic_fetch_add_explicit(&w->stats.rejected[TSDB_REJECT_INVALID], invalid, memory_order_relaxed);
    web__fail_body(resp, rc, &d, NULL);
    atomic_fetch_add(&w->stats.bad_requests[WEB_IN_WRITE], 1);
    return;
  }
  web__count_append(w, WEB_IN_WRITE, &st);
  if (tsdb_rejected_sum(&st))
    report_rejections(resp, &st, hist_series, &d);
  else
    resp->status = 204;
}
