/* api_import.c — POST /api/v1/import/prometheus: bulk import of the text
 * exposition format (optionally gzip-compressed, optionally OpenMetrics).
 *
 * The body streams through gunzip (lib/lk_gzip.h) into the exposition
 * parser (lib/lk_expo.h) chunk by chunk, so memory does not grow with the
 * body. Each sample arrives with its raw series text; a per-request hash map
 * from that text to a tsdb_ref means labels are parsed and resolved once per
 * distinct series, and samples go to storage in batches of BATCH refs via
 * tsdb_append_refs. Samples without a timestamp get the request's time.
 *
 * Errors: the import stops at the first bad line (syntax, invalid labels):
 * everything on the lines before it is stored (it was streamed to storage
 * already), nothing from that line on, and the 400 answer names the line
 * and how many samples were stored — so a corrected file can simply be sent
 * again (identical samples are ignored as duplicates). Samples storage
 * refuses (out of order, too old, conflicting value) are counted and
 * answered with 400 stating the numbers; success is 200 with counts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_expo.h"
#include "lib/lk_gzip.h"
#include "lib/lk_hash.h"
#include "lib/lk_time.h"
#include "web/web_int.h"

#define BATCH 16384

typedef struct cache_ent {
  uint64_t hash;     /* 0 = empty slot */
  const char *key;   /* in cache_arena */
  size_t len;
  tsdb_ref ref;
} cache_ent;

typedef struct import_state {
  web_server *w;
  lk_expo *parser;
  lk_gunzip *gz;              /* NULL for identity bodies */
  lk_arena *cache_arena;      /* cache keys */
  lk_arena *scratch;          /* labels of one series on a cache miss */
  cache_ent *tab;
  size_t cap, used;
  tsdb_ref_sample *batch;
  size_t nbatch;
  int64_t now_ms;
  uint64_t samples;           /* parsed sample lines */
  tsdb_append_stats st;
  int err;                    /* first error, sticky */
  lk_diag d;
} import_state;

/*---- series cache ----*/

static void cache_grow(import_state *s)
{
  size_t ncap = s->cap ? s->cap * 2 : 4096;
  cache_ent *nt = lk_xcalloc(ncap, sizeof *nt);
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->tab[i].hash)
      continue;
    size_t j = s->tab[i].hash & (ncap - 1);
    while (nt[j].hash)
      j = (j + 1) & (ncap - 1);
    nt[j] = s->tab[i];
  }
  free(s->tab);
  s->tab = nt;
  s->cap = ncap;
}

static int resolve_series(import_state *s, const lk_expo_sample *x, tsdb_ref *out)
{
  uint64_t h = lk_hash64(x->series, x->series_len, 0x5eed) | 1;
  size_t i = h & (s->cap - 1);
  for (; s->tab[i].hash; i = (i + 1) & (s->cap - 1))
    if (s->tab[i].hash == h && s->tab[i].len == x->series_len && !memcmp(s->tab[i].key, x->series, x->series_len)) {
      *out = s->tab[i].ref;
      return 0;
    }
  lk_label *ls;
  size_t n;
  lk_diag d = {0};
  lk_arena_reset(s->scratch);
  int rc = lk_expo_parse_series(x->series, x->series_len, s->scratch, &ls, &n, &d);
  if (!rc)
    rc = tsdb_series_ref(s->w->db, ls, n, out, &d);
  if (rc)
    return lk_diag_set(&s->d, rc, -1, "line %llu: %s", (unsigned long long)x->line, d.set ? d.msg : lk_strerror(rc));
  s->tab[i] = (cache_ent){h, lk_arena_strndup(s->cache_arena, x->series, x->series_len), x->series_len, *out};
  if (++s->used * 2 > s->cap)
    cache_grow(s);
  return 0;
}

/*---- the parse → store pipeline ----*/

static int flush_batch(import_state *s)
{
  if (!s->nbatch)
    return 0;
  tsdb_append_stats st = {0};
  lk_diag d = {0};
  int rc = tsdb_append_refs(s->w->db, s->batch, s->nbatch, &st, &d);
  s->nbatch = 0;
  if (rc)
    return lk_diag_set(&s->d, rc, -1, "storage: %s", d.set ? d.msg : lk_strerror(rc));
  web__count_append(s->w, WEB_IN_IMPORT, &st);
  s->st.accepted += st.accepted;
  s->st.duplicates += st.duplicates;
  s->st.out_of_order += st.out_of_order;
  s->st.too_old += st.too_old;
  s->st.conflicts += st.conflicts;
  return 0;
}

static int on_sample(void *ctx, const lk_expo_sample *x)
{
  import_state *s = ctx;
  tsdb_ref ref;
  int rc = resolve_series(s, x, &ref);
  if (rc)
    return rc;
  s->batch[s->nbatch++] = (tsdb_ref_sample){ref, x->has_t ? x->t_ms : s->now_ms, x->value};
  s->samples++;
  return s->nbatch == BATCH ? flush_batch(s) : 0;
}

static int feed_parser(void *ctx, const uint8_t *p, size_t n)
{
  import_state *s = ctx;
  return lk_expo_feed(s->parser, p, n, &s->d);
}

static void *import_begin(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  const char *ce = lk_http_header(req, "Content-Encoding");
  bool gz = ce && !strcasecmp(ce, "gzip");
  if (ce && !gz && strcasecmp(ce, "identity")) {
    lk_http_error(resp, 415, "bad_data", "unsupported Content-Encoding \"%s\" (use gzip or none)", ce);
    atomic_fetch_add(&w->stats.bad_requests[WEB_IN_IMPORT], 1);
    return NULL;
  }
  import_state *s = lk_xcalloc(1, sizeof *s);
  s->w = w;
  s->parser = lk_expo_new(on_sample, s, w->limits.max_line);
  const char *ct = lk_http_header(req, "Content-Type");
  if (ct && !strncasecmp(ct, "application/openmetrics-text", 28))
    lk_expo_set_openmetrics(s->parser, 1);
  s->gz = gz ? lk_gunzip_new(0, feed_parser, s) : NULL;
  s->cache_arena = lk_arena_new(1 << 20);
  s->scratch = lk_arena_new(1 << 14);
  s->batch = lk_xmalloc(BATCH * sizeof *s->batch);
  s->now_ms = lk_now_ms();
  cache_grow(s);
  return s;
}

static int import_chunk(void *state, const uint8_t *p, size_t n)
{
  import_state *s = state;
  s->err = s->gz ? lk_gunzip_feed(s->gz, p, n, &s->d) : lk_expo_feed(s->parser, p, n, &s->d);
  return s->err;
}

static void import_free(import_state *s)
{
  lk_expo_free(s->parser);
  lk_gunzip_free(s->gz);
  lk_arena_free(s->cache_arena);
  lk_arena_free(s->scratch);
  free(s->tab);
  free(s->batch);
  free(s);
}

static void answer(import_state *s, lk_http_resp *resp)
{
  uint64_t rejected = s->st.out_of_order + s->st.too_old + s->st.conflicts;
  if (rejected) {
    lk_http_error(resp, 400, "bad_data",
                  "accepted %llu samples, rejected %llu: %llu out of order, %llu too old (outside "
                  "retention), %llu with a different value at an existing timestamp",
                  (unsigned long long)s->st.accepted, (unsigned long long)rejected,
                  (unsigned long long)s->st.out_of_order, (unsigned long long)s->st.too_old,
                  (unsigned long long)s->st.conflicts);
    return;
  }
  resp->status = 200;
  lk_buf_printf(&resp->body,
                "{\"status\":\"success\",\"data\":{\"samples\":%llu,\"accepted\":%llu,\"duplicates\":%llu,"
                "\"series\":%zu,\"lines\":%llu}}",
                (unsigned long long)s->samples, (unsigned long long)s->st.accepted,
                (unsigned long long)s->st.duplicates, s->used, (unsigned long long)lk_expo_lines(s->parser));
}

static void import_end(void *state, const lk_http_req *req, lk_http_resp *resp)
{
  import_state *s = state;
  if (resp->status == 413) { /* body over the limit: what came before it is stored */
    flush_batch(s);
    lk_http_error(resp, 413, "bad_data", "request body exceeds the import limit of %zu bytes; "
                  "%llu samples before that point were stored", s->w->limits.max_import_body,
                  (unsigned long long)s->st.accepted);
    atomic_fetch_add(&s->w->stats.bad_requests[WEB_IN_IMPORT], 1);
    import_free(s);
    return;
  }
  int rc = s->err;
  if (!rc && s->gz)
    rc = lk_gunzip_finish(s->gz, &s->d);
  if (!rc)
    rc = lk_expo_finish(s->parser, &s->d);
  int frc = flush_batch(s); /* lines before a bad one are stored, as documented */
  if (!rc)
    rc = frc;
  if (rc) {
    bool client = rc == LK_EPARSE || rc == LK_EINVAL || rc == LK_ECORRUPT || rc == LK_ELIMIT || rc == LK_ETOOBIG;
    lk_http_error(resp, client ? 400 : 500, client ? "bad_data" : "internal",
                  "%s; %llu samples from the lines before it were stored", s->d.set ? s->d.msg : lk_strerror(rc),
                  (unsigned long long)s->st.accepted);
    atomic_fetch_add(&s->w->stats.bad_requests[WEB_IN_IMPORT], 1);
  } else {
    answer(s, resp);
  }
  import_free(s);
}

const lk_http_stream web__import_stream = {import_begin, import_chunk, import_end};
