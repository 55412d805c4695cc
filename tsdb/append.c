/* append.c — the write path: validation, series resolution, sample append
 * into the head and the WAL record that acknowledges it.
 *
 * Why this order: a batch is resolved completely and all its new series are
 * created under one exclusive index lock (after the max_series check), so an
 * invalid batch stores nothing. Label sets are only sorted and hashed for the
 * lookup; the full validation (names, lengths, UTF-8) runs for lookup misses
 * only, since a series in the head was validated when it was created (ingest
 * mostly appends to known series, and validation was ~10 % of its CPU).
 * Samples are then applied to the head under the series' stripe lock, which
 * decides accept/duplicate/OOO/conflict; only accepted samples go into the
 * WAL SAMPLES record, written with one write(2) before returning. Two
 * threads appending to one series may log in a different order than they
 * applied; replay therefore accepts any order.
 *
 * Locks: cut_lock shared for the whole call → index_lock → stripe → wal->mu
 * (see tsdb_int.h). The WAL record is written with no stripe held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_varint.h"
#include "tsdb/format.h"
#include "tsdb/tsdb_int.h"

#define WAL_FLUSH_BYTES (1u << 20)

static const struct {
  const char *name, *text;
} reject_reasons[TSDB_REJECT__COUNT] = {
  [TSDB_REJECT_OUT_OF_ORDER] = {"out_of_order", "out of order"},
  [TSDB_REJECT_TOO_OLD] = {"too_old", "too old (outside retention)"},
  [TSDB_REJECT_CONFLICT] = {"conflict", "with a different value at an existing timestamp"},
  [TSDB_REJECT_INVALID] = {"invalid", "in an invalid series"},
  [TSDB_REJECT_NATIVE_HISTOGRAM] = {"native_histogram", "native histogram samples"},
};

const char *tsdb_reject_name(enum tsdb_reject_reason r) { return reject_reasons[r].name; }
const char *tsdb_reject_text(enum tsdb_reject_reason r) { return reject_reasons[r].text; }

uint64_t tsdb_rejected_sum(const tsdb_append_stats *st)
{
  uint64_t n = 0;
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    n += st->rejected[r];
  return n;
}

static int series_diag(lk_diag *d, int code, const lk_label *ls, size_t n, const char *why)
{
  if (!d || d->set)
    return code;
  lk_buf b = {0};
  lk_labels_format(&b, ls, n > 32 ? 32 : n);
  lk_diag_set(d, code, -1, "%s in series %.200s%s", why, b.data ? (char *)b.data : "{}",
              b.len > 200 ? "..." : "");
  lk_buf_fini(&b);
  return code;
}

int tsdb__validate_labels(const tsdb *db, const lk_label *in, size_t n, lk_label *ls, lk_diag *d)
{
  if (n == 0)
    return lk_diag_set(d, LK_EINVAL, -1, "series without labels");
  if (n > db->o.max_labels)
    return series_diag(d, LK_ELIMIT, in, n, "too many labels (limit exceeded)");
  memcpy(ls, in, n * sizeof *ls);
  lk_labels_sort(ls, n);
  for (size_t i = 0; i < n; i++) {
    const char *nm = ls[i].name, *v = ls[i].value;
    if (!nm || !v || !lk_label_name_valid(nm))
      return series_diag(d, LK_EINVAL, in, n, "invalid label name");
    if (i > 0 && !strcmp(ls[i - 1].name, nm))
      return series_diag(d, LK_EINVAL, in, n, "duplicate label name");
    size_t nl = strlen(nm), vl = strlen(v);
    if (nl > db->o.max_name_len)
      return series_diag(d, LK_ELIMIT, in, n, "label name too long");
    if (vl == 0)
      return series_diag(d, LK_EINVAL, in, n, "empty label value");
    if (vl > db->o.max_value_len)
      return series_diag(d, LK_ELIMIT, in, n, "label value too long");
    if (!lk_utf8_valid(v, vl))
      return series_diag(d, LK_EINVAL, in, n, "label value is not valid UTF-8");
  }
  return 0;
}

/* A series to resolve: canonical labels and its hash. */
typedef struct want {
  const lk_label *ls;
  size_t n;
  uint64_t hash;
  size_t idx;
} want;

static int want_cmp(const void *a, const void *b)
{
  const want *x = a, *y = b;
  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return lk_labels_cmp(x->ls, x->n, y->ls, y->n);
}

/* Create the missing series of w[0..nw) (index lock held exclusively). */
static int create_missing(tsdb *db, want *w, size_t nw, tsdb__series **out, lk_diag *d)
{
  tsdb__head *h = &db->head;
  size_t nmiss = 0;
  for (size_t i = 0; i < nw; i++) {
    out[w[i].idx] = tsdb__head_find(h, w[i].ls, w[i].n, w[i].hash);
    if (!out[w[i].idx])
      w[nmiss++] = w[i];
  }
  qsort(w, nmiss, sizeof *w, want_cmp);
  size_t distinct = 0;
  for (size_t i = 0; i < nmiss; i++)
    distinct += i == 0 || want_cmp(&w[i - 1], &w[i]) != 0;
  if (h->live_series + distinct > db->o.max_series) {
    char why[160];
    snprintf(why, sizeof why, "series limit reached (limits.max_series=%llu live series): not creating %zu new",
             (unsigned long long)db->o.max_series, distinct);
    return series_diag(d, LK_ELIMIT, w[0].ls, w[0].n, why);
  }
  for (size_t i = 0; i < nmiss; i++) {
    tsdb__series *s = tsdb__head_find(h, w[i].ls, w[i].n, w[i].hash);
    if (!s) {
      s = tsdb__head_create(h, w[i].ls, w[i].n, w[i].hash, 0);
      atomic_fetch_add(&db->series_created, 1);
      int rc = tsdb__wal_log_series(&db->wal, s);
      if (rc)
        return lk_diag_set(d, rc, -1, "writing the WAL failed: %s", lk_strerror(rc));
    }
    out[w[i].idx] = s;
  }
  return 0;
}

/* Full validation of series not found in the head, in input order (labels
 * of series already there were validated when they were created). */
static int validate_missing(const tsdb *db, const want *w, size_t n, lk_diag *d)
{
  lk_label tmp[64];
  lk_label *ls = tmp;
  size_t most = 0;
  for (size_t i = 0; i < n; i++)
    most = w[i].n > most ? w[i].n : most;
  if (most > sizeof tmp / sizeof *tmp)
    ls = lk_xmalloc(most * sizeof *ls);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++)
    rc = tsdb__validate_labels(db, w[i].ls, w[i].n, ls, d);
  if (ls != tmp)
    free(ls);
  return rc;
}

/* Resolve canonical label sets to series, creating missing ones atomically.
 * cut_lock is held shared by the caller. */
static int resolve(tsdb *db, want *w, size_t nw, tsdb__series **out, lk_diag *d)
{
  tsdb__head *h = &db->head;
  size_t nmiss = 0;
  pthread_rwlock_rdlock(&h->index_lock);
  for (size_t i = 0; i < nw; i++) {
    out[w[i].idx] = tsdb__head_find(h, w[i].ls, w[i].n, w[i].hash);
    if (!out[w[i].idx])
      w[nmiss++] = w[i];
  }
  pthread_rwlock_unlock(&h->index_lock);
  if (!nmiss)
    return 0;
  int rc = validate_missing(db, w, nmiss, d);
  if (rc)
    return rc;
  pthread_rwlock_wrlock(&h->index_lock);
  rc = create_missing(db, w, nmiss, out, d);
  pthread_rwlock_unlock(&h->index_lock);
  return rc;
}

/* Newest sample of series s in block b, if b holds it. */
static bool block_newest(const tsdb__block *b, const tsdb__series *s, int64_t *t, uint64_t *bits)
{
  tsdb__bseries bs;
  if (tsdb__block_find(b, s->labels, s->nlabels, &bs) != 1)
    return false;
  bool ok = false;
  if (bs.nchunks) {
    int64_t mt = bs.chunks[bs.nchunks - 1].maxt;
    tsdb__vec v = {0};
    if (tsdb__block_samples(b, &bs, mt, mt, NULL, &v) == 0 && v.n == 1) {
      *t = mt;
      memcpy(bits, &v.v[0], 8);
      ok = true;
    }
    tsdb__vec_fini(&v);
  }
  tsdb__bseries_fini(&bs);
  return ok;
}

/* A series new to the head (first use after open) may have newer samples
 * in blocks: take the newest as its max_t, so duplicates, conflicts and
 * out-of-order samples are recognised as if it had stayed in the head.
 * cut_lock is held shared; takes blocks_lock, then the stripe. */
static void init_from_blocks(tsdb *db, tsdb__series *s)
{
  if (!atomic_exchange(&s->check_blocks, false))
    return;
  int64_t best = INT64_MIN;
  uint64_t bits = 0;
  bool found = false;
  pthread_rwlock_rdlock(&db->blocks_lock);
  for (size_t i = db->nblocks; i-- > 0;) {
    int64_t t;
    uint64_t b;
    if ((!found || db->blocks[i]->maxt > best) && block_newest(db->blocks[i], s, &t, &b) &&
        (!found || t > best)) {
      best = t;
      bits = b;
      found = true;
    }
  }
  pthread_rwlock_unlock(&db->blocks_lock);
  if (!found)
    return;
  pthread_mutex_lock(tsdb__stripe(&db->head, s->id));
  if (!s->has_max || best > s->max_t) {
    s->max_t = best;
    s->last_bits = bits;
    s->has_max = true;
  }
  pthread_mutex_unlock(tsdb__stripe(&db->head, s->id));
}

typedef struct batch {
  tsdb *db;
  lk_buf rec;             /* SAMPLES record being built */
  int64_t prev_t;
  int64_t cutoff;         /* samples older are too old */
  int64_t newest;
  tsdb__hnote note;       /* head statistics, committed at the end */
  tsdb_append_stats st;
  int err;
} batch;

static void batch_init(batch *b, tsdb *db)
{
  memset(b, 0, sizeof *b);
  b->db = db;
  int64_t newest = atomic_load(&db->newest_t);
  b->cutoff = newest == INT64_MIN || newest < INT64_MIN + db->o.retention_ms
                  ? INT64_MIN
                  : newest - db->o.retention_ms;
  b->newest = INT64_MIN;
  tsdb__hnote_init(&b->note);
  b->err = tsdb__wal_flush_pending(&db->wal); /* refuse before touching the head */
}

static void batch_write(batch *b)
{
  if (b->rec.len && !b->err)
    b->err = tsdb__wal_write(&b->db->wal, TSDB_REC_SAMPLES, b->rec.data, b->rec.len);
  lk_buf_clear(&b->rec);
  b->prev_t = 0;
}

/* One sample into a locked series; accepted ones are added to the record. */
static void batch_add(batch *b, tsdb__series *s, int64_t t, double v)
{
  tsdb *db = b->db;
  if (t < b->cutoff) {
    b->st.rejected[TSDB_REJECT_TOO_OLD]++;
    return;
  }
  switch (tsdb__series_add(&db->head, s, t, v, db->o.block_range_ms, db->o.ooo_window_ms, false, &b->note)) {
  case TSDB_V_OK: {
    lk_buf_reserve(&b->rec, 2 * LK_UVARINT_MAX + 8);
    uint8_t *p = b->rec.data + b->rec.len;
    p += lk_uvarint_put(p, s->id);
    p += lk_uvarint_put(p, lk_zigzag((int64_t)((uint64_t)t - (uint64_t)b->prev_t)));
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++)
      p[i] = (uint8_t)(bits >> (8 * i));
    b->rec.len = (size_t)(p + 8 - b->rec.data);
    b->rec.data[b->rec.len] = 0;
    b->prev_t = t;
    b->st.accepted++;
    if (t > b->newest)
      b->newest = t;
    break;
  }
  case TSDB_V_DUP: b->st.duplicates++; break;
  case TSDB_V_OOO: b->st.rejected[TSDB_REJECT_OUT_OF_ORDER]++; break;
  case TSDB_V_CONFLICT: b->st.rejected[TSDB_REJECT_CONFLICT]++; break;
  }
}

static int batch_finish(batch *b, tsdb_append_stats *out, lk_diag *d)
{
  tsdb *db = b->db;
  tsdb__append_published(db, &b->note);
  batch_write(b);
  if (!b->err) /* a concurrent failed write may hold samples this batch found stored */
    b->err = tsdb__wal_flush_pending(&db->wal);
  lk_buf_fini(&b->rec);
  if (b->newest != INT64_MIN)
    tsdb__newest_update(db, b->newest);
  atomic_fetch_add(&db->appended, b->st.accepted);
  for (int r = 0; r < TSDB_REJECT__COUNT; r++)
    atomic_fetch_add(&db->rejected[r], b->st.rejected[r]);
  if (b->err)
    return lk_diag_set(d, b->err, -1, "writing the WAL failed: %s", lk_strerror(b->err));
  if (out)
    *out = b->st;
  return 0;
}

static int ensure_logged(batch *b, tsdb__series *s)
{
  int rc = tsdb__wal_log_series(&b->db->wal, s);
  if (rc && !b->err)
    b->err = rc;
  return rc;
}

static int append_series(batch *b, tsdb__series **ss, const tsdb_series_in *in, size_t n)
{
  tsdb__head *h = &b->db->head;
  for (size_t i = 0; i < n; i++) {
    tsdb__series *s = ss[i];
    if (b->err || ensure_logged(b, s))
      return b->err;
    pthread_mutex_lock(tsdb__stripe(h, s->id));
    for (size_t j = 0; j < in[i].nsamples; j++)
      batch_add(b, s, in[i].samples[j].t, in[i].samples[j].v);
    pthread_mutex_unlock(tsdb__stripe(h, s->id));
    if (b->rec.len >= WAL_FLUSH_BYTES)
      batch_write(b);
  }
  return 0;
}

static void count_invalid(tsdb *db, const tsdb_series_in *in, size_t n)
{
  uint64_t c = 0;
  for (size_t i = 0; i < n; i++)
    c += in[i].nsamples;
  atomic_fetch_add(&db->rejected[TSDB_REJECT_INVALID], c);
}

/* Canonical (sorted) copies of the input label sets in all[], with their
 * hashes: all a head lookup needs. Only what sorting and hashing rely on is
 * checked here; the rest of validation runs for lookup misses (resolve). */
static int prepare(const tsdb *db, const tsdb_series_in *in, size_t n, lk_label *all, want *w,
                   lk_diag *d)
{
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    const lk_label *ls = in[i].labels;
    size_t nl = in[i].nlabels;
    if (nl == 0)
      return lk_diag_set(d, LK_EINVAL, -1, "series without labels");
    for (size_t j = 0; j < nl; j++)
      if (!ls[j].name || !ls[j].value)
        return lk_diag_set(d, LK_EINVAL, -1, "invalid label name in series %zu", i);
    memcpy(all + off, ls, nl * sizeof *ls);
    lk_labels_sort(all + off, nl);
    w[i] = (want){all + off, nl, lk_labels_hash(all + off, nl), i};
    off += nl;
  }
  return 0;
}

/* Validate and resolve in[0..n) to series (ss, room for n), creating the
 * missing ones atomically; caller holds cut_lock shared. On failure the
 * samples of the batch are counted as invalid. */
static int resolve_batch(tsdb *db, const tsdb_series_in *in, size_t n, tsdb__series **ss, lk_diag *d)
{
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (in[i].nlabels > db->o.max_labels) {
      count_invalid(db, in, n);
      return series_diag(d, LK_ELIMIT, in[i].labels, in[i].nlabels, "too many labels (limit exceeded)");
    }
    total += in[i].nlabels;
  }
  lk_label *all = lk_xmalloc((total ? total : 1) * sizeof *all);
  want *w = lk_xmalloc((n ? n : 1) * sizeof *w);
  int rc = prepare(db, in, n, all, w, d);
  if (!rc)
    rc = resolve(db, w, n, ss, d);
  for (size_t i = 0; i < n && !rc; i++)
    init_from_blocks(db, ss[i]);
  if (rc)
    count_invalid(db, in, n);
  free(all);
  free(w);
  return rc;
}

int tsdb_append(tsdb *db, const tsdb_series_in *in, size_t n, tsdb_append_stats *out, lk_diag *d)
{
  if (!db || (n && !in))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_append: bad arguments");
  tsdb__series **ss = lk_xmalloc((n ? n : 1) * sizeof *ss);
  pthread_rwlock_rdlock(&db->cut_lock);
  int rc = resolve_batch(db, in, n, ss, d);
  if (!rc) {
    batch b;
    batch_init(&b, db);
    append_series(&b, ss, in, n);
    rc = batch_finish(&b, out, d);
  }
  pthread_rwlock_unlock(&db->cut_lock);
  free(ss);
  if (!rc)
    tsdb__maybe_cut(db);
  return rc;
}

int tsdb_series_refs(tsdb *db, const tsdb_series_in *in, size_t n, tsdb_ref *out, lk_diag *d)
{
  if (!db || (n && (!in || !out)))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_series_refs: bad arguments");
  tsdb__series **ss = lk_xmalloc((n ? n : 1) * sizeof *ss);
  pthread_rwlock_rdlock(&db->cut_lock);
  int rc = resolve_batch(db, in, n, ss, d);
  for (size_t i = 0; i < n && !rc; i++)
    out[i] = tsdb__series_ref(ss[i]); /* before a head cut may drop the series */
  pthread_rwlock_unlock(&db->cut_lock);
  free(ss);
  return rc;
}

int tsdb_series_ref(tsdb *db, const lk_label *labels, size_t n, tsdb_ref *out, lk_diag *d)
{
  if (!db || !out || (n && !labels))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_series_ref: bad arguments");
  if (n > db->o.max_labels)
    return series_diag(d, LK_ELIMIT, labels, n, "too many labels (limit exceeded)");
  lk_label *ls = lk_xmalloc((n ? n : 1) * sizeof *ls);
  tsdb_series_in in = {labels, n, NULL, 0};
  want w;
  tsdb__series *s = NULL;
  int rc = prepare(db, &in, 1, ls, &w, d);
  if (!rc) {
    pthread_rwlock_rdlock(&db->cut_lock);
    rc = resolve(db, &w, 1, &s, d);
    if (!rc) {
      init_from_blocks(db, s);
      *out = tsdb__series_ref(s);
    }
    pthread_rwlock_unlock(&db->cut_lock);
  }
  free(ls);
  return rc;
}

/* Look up every ref first so an unknown or stale ref stores nothing
 * (cut_lock shared and index_lock held, so the answer holds for the call);
 * ser[i] is the series of s[i]. */
static int check_refs(tsdb *db, const tsdb_ref_sample *s, size_t n, tsdb__series **ser, lk_diag *d)
{
  for (size_t i = 0; i < n; i++) {
    if (i && s[i].ref == s[i - 1].ref) {
      ser[i] = ser[i - 1];
      continue;
    }
    int rc = tsdb__head_by_ref(&db->head, s[i].ref, &ser[i]);
    if (rc == LK_ENOENT)
      return lk_diag_set(d, rc, -1, "series ref %llu is stale: its series was dropped from the head "
                         "after receiving no samples; resolve its labels again",
                         (unsigned long long)s[i].ref);
    if (rc)
      return lk_diag_set(d, rc, -1, "unknown series ref %llu", (unsigned long long)s[i].ref);
  }
  return 0;
}

/* The sample indexes in stripe order, stable (a series' samples keep their
 * order): a scrape or a remote_write request names each series once, so in
 * input order nearly every sample took and released a stripe lock (7 % of
 * the import's storage thread); grouped, a batch takes each stripe once. */
static uint32_t *stripe_order(tsdb__series *const *ser, size_t n)
{
  uint32_t start[TSDB_NSTRIPE + 1] = {0};
  for (size_t i = 0; i < n; i++)
    start[ser[i]->id % TSDB_NSTRIPE + 1]++;
  for (size_t k = 1; k <= TSDB_NSTRIPE; k++)
    start[k] += start[k - 1];
  uint32_t *order = lk_xmalloc(n * sizeof *order);
  for (size_t i = 0; i < n; i++)
    order[start[ser[i]->id % TSDB_NSTRIPE]++] = (uint32_t)i;
  return order;
}

/* Apply checked refs' samples (index_lock held: the series stay put). */
static void append_checked(batch *b, const tsdb_ref_sample *s, tsdb__series *const *ser, size_t n)
{
  tsdb__head *h = &b->db->head;
  uint32_t *order = stripe_order(ser, n);
  pthread_mutex_t *held = NULL;
  const tsdb__series *logged = NULL;
  for (size_t k = 0; k < n && !b->err; k++) {
    size_t i = order[k];
    pthread_mutex_t *m = tsdb__stripe(h, ser[i]->id);
    if (m != held) {
      if (held)
        pthread_mutex_unlock(held);
      pthread_mutex_lock(m);
      held = m;
    }
    if (ser[i] != logged) {
      if (ensure_logged(b, ser[i]))
        break;
      logged = ser[i];
    }
    batch_add(b, ser[i], s[i].t, s[i].v);
    if (b->rec.len >= WAL_FLUSH_BYTES)
      batch_write(b);
  }
  if (held)
    pthread_mutex_unlock(held);
  free(order);
}

int tsdb_append_refs(tsdb *db, const tsdb_ref_sample *s, size_t n, tsdb_append_stats *out, lk_diag *d)
{
  if (!db || (n && !s))
    return lk_diag_set(d, LK_EINVAL, -1, "tsdb_append_refs: bad arguments");
  tsdb__series **ser = lk_xmalloc((n ? n : 1) * sizeof *ser);
  pthread_rwlock_rdlock(&db->cut_lock);
  pthread_rwlock_rdlock(&db->head.index_lock); /* keeps the series tables still */
  int rc = check_refs(db, s, n, ser, d);
  batch b;
  batch_init(&b, db);
  if (!rc)
    append_checked(&b, s, ser, n);
  pthread_rwlock_unlock(&db->head.index_lock);
  free(ser);
  if (!rc)
    rc = batch_finish(&b, out, d);
  else
    lk_buf_fini(&b.rec);
  pthread_rwlock_unlock(&db->cut_lock);
  if (!rc)
    tsdb__maybe_cut(db);
  return rc;
}
