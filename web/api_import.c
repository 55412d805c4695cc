/* api_import.c — POST /api/v1/import/prometheus: bulk import of the text
 * exposition format (optionally gzip-compressed, optionally OpenMetrics).
 *
 * The body streams through gunzip (lib/lk_gzip.h) into the exposition
 * parser (lib/lk_expo.h) chunk by chunk, so memory does not grow with the
 * body. Each sample arrives with its raw series text; a per-request hash map
 * from that text to a tsdb_ref means labels are parsed and resolved once per
 * distinct series, and samples go to storage in batches of BATCH refs via
 * tsdb_append_refs. Samples without a timestamp get the request's time.
 * Exporters print their series in the same order every scrape, so each
 * cache entry remembers which entry followed it last time: a line matching
 * that prediction (one memcmp) needs no hashing or probing.
 *
 * Pipelining: once a request fills its first batch, a storage thread owned
 * by the request appends full batches while the request thread parses the
 * next one (two buffers handed back and forth), so parsing and storage use
 * two cores; batches are stored in order. A storage error is seen at the
 * next hand-off or at the end, and stops the import there. Small imports
 * (one batch) never start the thread. Lock: worker.mu, a leaf, guards the
 * worker fields; the request thread joins the worker before answering.
 *
 * Stale refs: storage drops series that went idle from its head (head GC),
 * and a cached ref of such a series is refused (LK_ENOENT, nothing of the
 * batch stored). Each batch sample remembers its series text, so the
 * request thread then resolves the batch's series again, updates the cache
 * and stores the batch once more (the worker is idle meanwhile).
 *
 * Errors: the import stops at the first bad line (syntax, invalid labels):
 * everything on the lines before it is stored (it was streamed to storage
 * already), nothing from that line on, and the 400 answer names the line
 * and how many samples were stored — so a corrected file can simply be sent
 * again (identical samples are ignored as duplicates). Samples storage
 * refuses (out of order, too old, conflicting value) are counted and
 * answered with 400 stating the numbers; success is 200 with counts.
 */
#include <pthread.h>
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

/* The series text of a batch sample (a cache key, in cache_arena). */
typedef struct sample_src {
  const char *key;
  size_t len;
} sample_src;

typedef struct cache_ent {
  uint64_t hash;     /* 0 = empty slot */
  const char *key;   /* in cache_arena */
  size_t len;
  tsdb_ref ref;
  size_t next;       /* slot + 1 of the entry that followed this one last; 0 = none */
} cache_ent;

/* The storage thread of one import request (see the file comment). */
typedef struct store_worker {
  pthread_t th;
  bool running;               /* started; owner: the request thread */
  pthread_mutex_t mu;         /* guards the fields below */
  pthread_cond_t cv;
  const tsdb_ref_sample *buf; /* batch being stored; NULL = idle */
  size_t n;
  bool stop;
  int err;                    /* first storage error */
  lk_diag d;
  tsdb_append_stats st;       /* of the batches it stored */
} store_worker;

typedef struct import_state {
  web_server *w;
  lk_expo *parser;
  lk_gunzip *gz;              /* NULL for identity bodies */
  lk_arena *cache_arena;      /* cache keys */
  lk_arena *scratch;          /* labels of one series on a cache miss */
  cache_ent *tab;
  size_t cap, used;
  size_t prev;                /* slot + 1 of the previous sample's entry; 0 = none */
  tsdb_ref_sample *bufs[2];   /* batch buffers: one filling, one with the worker */
  int fill;                   /* index of the buffer being filled */
  tsdb_ref_sample *batch;     /* = bufs[fill] */
  sample_src *srcs[2];        /* the series of each sample of bufs[i] */
  size_t nbatch;
  store_worker k;
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
    nt[j].next = 0; /* slots moved: forget the predictions */
  }
  s->prev = 0;
  free(s->tab);
  s->tab = nt;
  s->cap = ncap;
}

/* The entry predicted to follow the previous sample's, if x matches it. */
static cache_ent *predicted(import_state *s, const lk_expo_sample *x)
{
  if (!s->prev || !s->tab[s->prev - 1].next)
    return NULL;
  size_t i = s->tab[s->prev - 1].next - 1;
  cache_ent *e = &s->tab[i];
  if (e->len != x->series_len || memcmp(e->key, x->series, x->series_len))
    return NULL;
  s->prev = i + 1;
  return e;
}

/* Remember that slot i followed the previous sample's entry. */
static void follow(import_state *s, size_t i)
{
  if (s->prev)
    s->tab[s->prev - 1].next = i + 1;
  s->prev = i + 1;
}

/* The slot of series text key: its entry, or the empty slot for it. */
static size_t cache_slot(const import_state *s, const char *key, size_t len, uint64_t *hash)
{
  uint64_t h = lk_hash64(key, len, 0x5eed) | 1;
  size_t i = h & (s->cap - 1);
  while (s->tab[i].hash && !(s->tab[i].hash == h && s->tab[i].len == len && !memcmp(s->tab[i].key, key, len)))
    i = (i + 1) & (s->cap - 1);
  *hash = h;
  return i;
}

/* Parse series text and resolve it in storage (diag: the line). */
static int store_ref(import_state *s, const char *series, size_t len, uint64_t line, tsdb_ref *out)
{
  lk_label *ls;
  size_t n;
  lk_diag d = {0};
  lk_arena_reset(s->scratch);
  int rc = lk_expo_parse_series(series, len, s->scratch, &ls, &n, &d);
  if (!rc)
    rc = tsdb_series_ref(s->w->db, ls, n, out, &d);
  if (rc)
    return lk_diag_set(&s->d, rc, -1, "line %llu: %s", (unsigned long long)line, d.set ? d.msg : lk_strerror(rc));
  return 0;
}

static int resolve_series(import_state *s, const lk_expo_sample *x, tsdb_ref *out, sample_src *src)
{
  cache_ent *p = predicted(s, x);
  if (p) {
    *out = p->ref;
    *src = (sample_src){p->key, p->len};
    return 0;
  }
  uint64_t h;
  size_t i = cache_slot(s, x->series, x->series_len, &h);
  if (!s->tab[i].hash) {
    int rc = store_ref(s, x->series, x->series_len, x->line, out);
    if (rc)
      return rc;
    const char *key = lk_arena_strndup(s->cache_arena, x->series, x->series_len);
    s->tab[i] = (cache_ent){h, key, x->series_len, *out, 0};
    s->used++;
  }
  *out = s->tab[i].ref;
  *src = (sample_src){s->tab[i].key, s->tab[i].len};
  follow(s, i);
  if (s->used * 2 > s->cap)
    cache_grow(s);
  return 0;
}

/* Batch b (n samples) was refused for stale refs: resolve its series again
 * (each once: a refreshed cache entry no longer holds the sample's ref). */
static int refresh_refs(import_state *s, int b, size_t n)
{
  tsdb_ref_sample *smp = s->bufs[b];
  const sample_src *src = s->srcs[b];
  for (size_t i = 0; i < n; i++) {
    uint64_t h;
    cache_ent *e = &s->tab[cache_slot(s, src[i].key, src[i].len, &h)];
    if (e->ref == smp[i].ref) {
      int rc = store_ref(s, e->key, e->len, 0, &e->ref);
      if (rc)
        return rc;
    }
    smp[i].ref = e->ref;
  }
  return 0;
}

/*---- the parse → store pipeline ----*/

static void add_stats(tsdb_append_stats *to, const tsdb_append_stats *st)
{
  to->accepted += st->accepted;
  to->duplicates += st->duplicates;
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    to->rejected[r] += st->rejected[r];
}

/* Store the n samples of batch buffer b now, on this thread (again with
 * fresh refs if some went stale). */
static int store_now(import_state *s, int b, size_t n)
{
  tsdb_append_stats st = {0};
  lk_diag d = {0};
  int rc = tsdb_append_refs(s->w->db, s->bufs[b], n, &st, &d);
  if (rc == LK_ENOENT) {
    d = (lk_diag){0};
    rc = refresh_refs(s, b, n);
    if (rc)
      return rc;
    rc = tsdb_append_refs(s->w->db, s->bufs[b], n, &st, &d);
  }
  if (rc)
    return lk_diag_set(&s->d, rc, -1, "storage: %s", d.set ? d.msg : lk_strerror(rc));
  web__count_append(s->w, WEB_IN_IMPORT, &st);
  add_stats(&s->st, &st);
  return 0;
}

static void *worker_main(void *arg)
{
  import_state *s = arg;
  store_worker *k = &s->k;
  pthread_mutex_lock(&k->mu);
  for (;;) {
    while (!k->buf && !k->stop)
      pthread_cond_wait(&k->cv, &k->mu);
    if (!k->buf)
      break;
    const tsdb_ref_sample *b = k->buf;
    size_t n = k->n;
    pthread_mutex_unlock(&k->mu);
    tsdb_append_stats st = {0};
    lk_diag d = {0};
    int rc = k->err ? 0 : tsdb_append_refs(s->w->db, b, n, &st, &d); /* only this thread writes err */
    if (!rc)
      web__count_append(s->w, WEB_IN_IMPORT, &st);
    pthread_mutex_lock(&k->mu);
    if (rc && !k->err) {
      k->err = rc;
      k->d = d;
    }
    add_stats(&k->st, &st);
    k->buf = NULL;
    pthread_cond_broadcast(&k->cv);
  }
  pthread_mutex_unlock(&k->mu);
  return NULL;
}

/* Wait until the worker is idle; its first error, reported into s->d. */
static int worker_idle(import_state *s)
{
  store_worker *k = &s->k;
  pthread_mutex_lock(&k->mu);
  while (k->buf)
    pthread_cond_wait(&k->cv, &k->mu);
  int rc = k->err;
  size_t n = k->n;
  if (rc == LK_ENOENT) { /* stale refs: the batch is stored again below */
    k->err = 0;
    k->d = (lk_diag){0};
  }
  pthread_mutex_unlock(&k->mu);
  if (rc == LK_ENOENT)
    return store_now(s, s->fill ^ 1, n); /* the buffer last handed off */
  if (rc)
    return lk_diag_set(&s->d, rc, -1, "storage: %s", k->d.set ? k->d.msg : lk_strerror(rc));
  return 0;
}

/* A full batch: to the worker (started on first use), or stored here if
 * no thread can be started. */
static int hand_off(import_state *s)
{
  store_worker *k = &s->k;
  if (!k->running) {
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->running = pthread_create(&k->th, NULL, worker_main, s) == 0;
    if (!k->running) {
      pthread_mutex_destroy(&k->mu);
      pthread_cond_destroy(&k->cv);
      int rc = store_now(s, s->fill, s->nbatch);
      s->nbatch = 0;
      return rc;
    }
  }
  int rc = worker_idle(s);
  if (rc)
    return rc;
  pthread_mutex_lock(&k->mu);
  k->buf = s->batch;
  k->n = s->nbatch;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
  s->fill ^= 1;
  s->batch = s->bufs[s->fill];
  s->nbatch = 0;
  return 0;
}

/* Store what is left, stop the worker; the first storage error. */
static int finish_storage(import_state *s)
{
  store_worker *k = &s->k;
  int rc = 0;
  if (k->running) {
    rc = worker_idle(s);
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    k->running = false;
    add_stats(&s->st, &k->st);
  }
  if (!rc && s->nbatch)
    rc = store_now(s, s->fill, s->nbatch);
  s->nbatch = 0;
  return rc;
}

static int on_sample(void *ctx, const lk_expo_sample *x)
{
  import_state *s = ctx;
  tsdb_ref ref;
  int rc = resolve_series(s, x, &ref, &s->srcs[s->fill][s->nbatch]);
  if (rc)
    return rc;
  s->batch[s->nbatch++] = (tsdb_ref_sample){ref, x->has_t ? x->t_ms : s->now_ms, x->value};
  s->samples++;
  return s->nbatch == BATCH ? hand_off(s) : 0;
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
  s->bufs[0] = lk_xmalloc(BATCH * sizeof *s->batch);
  s->bufs[1] = lk_xmalloc(BATCH * sizeof *s->batch);
  s->srcs[0] = lk_xmalloc(BATCH * sizeof *s->srcs[0]);
  s->srcs[1] = lk_xmalloc(BATCH * sizeof *s->srcs[1]);
  s->batch = s->bufs[0];
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
  free(s->bufs[0]);
  free(s->bufs[1]);
  free(s->srcs[0]);
  free(s->srcs[1]);
  free(s);
}

static void answer(import_state *s, lk_http_resp *resp)
{
  if (tsdb_rejected_sum(&s->st)) {
    lk_buf msg = {0};
    web__rejections_msg(&msg, &s->st);
    lk_http_error(resp, 400, "bad_data", "%s", (char *)msg.data);
    lk_buf_fini(&msg);
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
    finish_storage(s);
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
  int frc = finish_storage(s); /* lines before a bad one are stored, as documented */
  if (!rc)
    rc = frc;
  if (rc) {
    const char *type;
    int status = web__status_of(rc, WEB_ORIGIN_BODY, &type);
    lk_http_error(resp, status, type,
                  "%s; %llu samples from the lines before it were stored", s->d.set ? s->d.msg : lk_strerror(rc),
                  (unsigned long long)s->st.accepted);
    atomic_fetch_add(&s->w->stats.bad_requests[WEB_IN_IMPORT], 1);
  } else {
    answer(s, resp);
  }
  import_free(s);
}

const lk_http_stream web__import_stream = {import_begin, import_chunk, import_end};
