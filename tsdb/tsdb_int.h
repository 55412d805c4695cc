/* tsdb_int.h — tsdb-internal structures shared by head*.c, wal.c, block*.c,
 * compact.c, select.c and db.c. Nothing outside tsdb/ includes this.
 *
 * Lock order (outermost first; never acquire an earlier lock while holding a
 * later one):
 *   db->cut_lock (rwlock: appends/selects shared, head cut/flush exclusive)
 *   → db->compact_mu (mutex: compaction + retention; deletes blocks)
 *   → db->blocks_lock (rwlock: the block list; selects hold it shared)
 *   → head->index_lock (rwlock: series table, label index, interner)
 *   → head->stripe[i] (mutex: the sample data of series with id % NSTRIPE == i)
 *   → wal->mu (mutex: the WAL file descriptor and generation)
 * In practice compact_mu is taken with no other lock held (the background
 * thread, flush after releasing cut_lock, open). db->bg_mu is a leaf lock
 * (guards the background thread's flags only).
 */
#ifndef TSDB_INT_H
#define TSDB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_hash.h"
#include "lib/lk_labels.h"
#include "tsdb/tsdb.h"

#define TSDB_NSTRIPE 256
#define TSDB_HEAD_CHUNK_SAMPLES 120
#define TSDB_OOO_CHUNK_SAMPLES 120

/*---- Sample vectors ----*/

/* Growable (t, v) arrays; zero-initialise, free with tsdb__vec_fini. */
typedef struct tsdb__vec {
  int64_t *t;
  double *v;
  size_t n, cap;
} tsdb__vec;

void tsdb__vec_fini(tsdb__vec *s);
void tsdb__vec_reserve(tsdb__vec *s, size_t extra);
void tsdb__vec_push(tsdb__vec *s, int64_t t, double v);
/* Stable-sort by time when needed, then keep the first sample of each
 * timestamp (earlier pushes win), and drop samples outside [mint, maxt]. */
void tsdb__vec_normalize(tsdb__vec *s, int64_t mint, int64_t maxt);
/* Decode an encoded chunk and push its samples in [mint, maxt]. */
int tsdb__vec_push_chunk(tsdb__vec *s, const uint8_t *p, size_t len, int64_t mint, int64_t maxt);

/* malloc'd a + sep + b (paths). */
char *tsdb__path(const char *a, const char *sep, const char *b);

/* An encoded chunk to copy verbatim into a block. */
typedef struct tsdb__craw {
  int64_t mint, maxt;
  uint32_t n, len;
  const uint8_t *data;
} tsdb__craw;

/*---- String map (open addressing, string keys compared by content) ----*/

typedef struct tsdb__strmap {
  const char **keys;
  uint32_t *vals;
  size_t cap, n;
} tsdb__strmap;

void tsdb__strmap_fini(tsdb__strmap *m);
/* Index stored for key, or UINT32_MAX. */
uint32_t tsdb__strmap_get(const tsdb__strmap *m, const char *key);
/* key is borrowed for the map's lifetime (interned). */
void tsdb__strmap_put(tsdb__strmap *m, const char *key, uint32_t val);

/*---- Head ----*/

/* A sealed head chunk (codec-encoded bytes). */
typedef struct tsdb__hchunk {
  int64_t mint, maxt;
  uint32_t n, len;
  uint8_t *data;
} tsdb__hchunk;

/* The open chunk of a head series (head_chunk.c): in-order samples
 * encoded as they are appended. Zero-initialise; free with _fini. */
typedef struct tsdb__ochunk {
  uint8_t *data;             /* bit stream; zero past nbits */
  uint32_t nbits, cap;       /* cap in bytes */
  int64_t t0, tn;            /* first and last timestamp (n > 0) */
  uint64_t dn, vn;           /* last timestamp delta, last value bits */
  uint16_t n;                /* samples */
  uint8_t lead, mlen;        /* window of the last XOR written (mlen 0: none) */
  uint8_t tail;              /* the stream's last byte (bits before nbits) */
} tsdb__ochunk;

/* Append a sample; t must be above o->tn when o->n > 0. */
void tsdb__ochunk_append(tsdb__ochunk *o, int64_t t, double v);
/* Decode the o->n samples into t and v (room for o->n); returns o->n. */
size_t tsdb__ochunk_decode(const tsdb__ochunk *o, int64_t *t, double *v);
/* Empty it, keeping its allocation for the next chunk. */
void tsdb__ochunk_reset(tsdb__ochunk *o);
void tsdb__ochunk_fini(tsdb__ochunk *o);

/* One series. labels/hash/id/epoch are immutable after creation; the
 * sample fields are guarded by head->stripe[id % TSDB_NSTRIPE]. The series
 * is freed by head GC (tsdb__head_gc), which runs with appends and selects
 * excluded, so a pointer found under cut_lock stays valid until it is
 * released. */
typedef struct tsdb__series {
  uint32_t id;
  uint32_t epoch;            /* head->epoch when created: refs are epoch << 32 | id */
  uint32_t nlabels;
  uint64_t hash;
  lk_label *labels;          /* sorted; strings owned by the head's label index */
  _Atomic uint32_t wal_gen;  /* WAL generation holding its series record (+1; 0 = none) */
  _Atomic bool check_blocks; /* newest sample in blocks not yet looked up (new series) */
  bool gc_seen;              /* unsampled at a head GC already (head.c; cut_lock exclusive) */
  /* guarded by the stripe lock */
  bool sampled;              /* received a sample since it entered the head */
  bool has_max;
  bool overlapping;          /* chunks may overlap/unsorted (OOO chunks sealed) */
  int64_t max_t;             /* newest sample ever accepted */
  uint64_t last_bits;        /* value bits at max_t */
  tsdb__hchunk *chunks;
  uint32_t nchunks, capchunks;
  tsdb__ochunk open;         /* open in-order chunk: up to TSDB_HEAD_CHUNK_SAMPLES */
  int64_t buf_end;           /* exclusive block-range boundary of the open chunk */
  tsdb__vec ooo;             /* unsorted out-of-order samples */
} tsdb__series;

typedef struct tsdb__hval {
  char *value;               /* owned; the labels of its series point here */
  uint32_t *ids;             /* ascending series ids */
  uint32_t n, cap;
} tsdb__hval;

typedef struct tsdb__hname {
  char *name;                /* owned, as value */
  tsdb__hval *vals;
  uint32_t nvals, capvals;
  tsdb__strmap vmap;         /* value → index in vals */
} tsdb__hname;

/* Open-addressing table of series (linear probing, backward-shift
 * deletion): by id, or by labels hash. cap is a power of two. */
typedef struct tsdb__stab {
  tsdb__series **slot;
  size_t cap, n;
} tsdb__stab;

typedef struct tsdb__head {
  pthread_rwlock_t index_lock;
  /* guarded by index_lock */
  tsdb__stab byid;           /* every live series; iterate slot[0..cap) */
  tsdb__stab bylabels;
  uint32_t next_id;          /* ids are handed out ascending, 1..UINT32_MAX-1 */
  uint32_t epoch;            /* times next_id wrapped around */
  uint64_t live_series;
  tsdb__hname *names;
  uint32_t nnames, capnames;
  tsdb__strmap nmap;         /* name → index in names */
  uint64_t label_pairs;
  /* sample data locks */
  pthread_mutex_t stripe[TSDB_NSTRIPE];
  /* statistics (atomics, approximate under concurrency) */
  _Atomic int64_t min_t, max_t; /* of data in the head; INT64_MAX/INT64_MIN when empty */
  _Atomic uint64_t nsamples, nchunks;
} tsdb__head;

void tsdb__head_init(tsdb__head *h);
void tsdb__head_fini(tsdb__head *h);
/* Find the series of canonical (sorted, validated) labels; NULL if absent.
 * Caller holds index_lock (shared or exclusive). */
tsdb__series *tsdb__head_find(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash);
/* Create a series with the given id (0 = next free id; a given id must be
 * free). Caller holds index_lock exclusively and has checked the labels do
 * not exist. */
tsdb__series *tsdb__head_create(tsdb__head *h, const lk_label *ls, size_t n, uint64_t hash, uint32_t id);
/* The live series with this id (from postings), or NULL. index_lock held. */
tsdb__series *tsdb__head_by_id(const tsdb__head *h, uint32_t id);
/* The series of a tsdb_ref: 0 and *out, LK_ENOENT if its series was
 * dropped by head GC (stale), LK_EINVAL if never handed out. index_lock held. */
int tsdb__head_by_ref(const tsdb__head *h, tsdb_ref ref, tsdb__series **out);
static inline tsdb_ref tsdb__series_ref(const tsdb__series *s)
{
  return ((tsdb_ref)s->epoch << 32) | s->id;
}
/* Drop the series with no data left in the head (all persisted) and no
 * sample at or after idle_before (sample time; a series given no sample
 * since it entered the head goes at its second GC): series structs, postings
 * entries, label strings no other series uses, table slots. Caller holds
 * cut_lock exclusively (no append or select runs); takes index_lock.
 * Returns how many were dropped. */
size_t tsdb__head_gc(tsdb__head *h, int64_t idle_before);
static inline pthread_mutex_t *tsdb__stripe(tsdb__head *h, uint32_t id)
{
  return &h->stripe[id % TSDB_NSTRIPE];
}
const tsdb__hname *tsdb__head_name(const tsdb__head *h, const char *name);

/* The head statistics of the samples one append batch stored, added to
 * the head's atomics once per batch (tsdb__hnote_commit): per sample, every
 * appending thread would write the same cache line (a remote_write profile
 * put most of tsdb__series_add's time on that one locked add). */
typedef struct tsdb__hnote {
  int64_t min_t, max_t;
  uint64_t n;
} tsdb__hnote;
static inline void tsdb__hnote_init(tsdb__hnote *n)
{
  *n = (tsdb__hnote){INT64_MAX, INT64_MIN, 0};
}
void tsdb__hnote_commit(tsdb__head *h, tsdb__hnote *n);

/* Append one sample (stripe lock held), noted in *note. force: replay mode,
 * accept any order. Returns 0 (stored) or which counter it belongs to. */
enum tsdb__verdict { TSDB_V_OK, TSDB_V_DUP, TSDB_V_OOO, TSDB_V_CONFLICT };
enum tsdb__verdict tsdb__series_add(tsdb__head *h, tsdb__series *s, int64_t t, double v,
                                    int64_t range, int64_t ooo_window, bool force, tsdb__hnote *note);
/* Add a sealed chunk (replay of a checkpoint); stripe lock held. Takes data. */
void tsdb__series_add_chunk(tsdb__head *h, tsdb__series *s, int64_t mint, int64_t maxt,
                            uint32_t n, uint8_t *data, uint32_t len);
/* Does the series' open chunk hold samples in [mint, maxt]'s span? */
static inline bool tsdb__series_open_overlaps(const tsdb__series *s, int64_t mint, int64_t maxt)
{
  return s->open.n && s->open.t0 <= maxt && s->open.tn >= mint;
}
/* Push the series' head samples in [mint, maxt] to out (not normalized). */
int tsdb__series_collect(const tsdb__series *s, int64_t mint, int64_t maxt, tsdb__vec *out);
/* Does the series hold head data overlapping [mint, maxt]? */
bool tsdb__series_overlaps(const tsdb__series *s, int64_t mint, int64_t maxt);
/* The series' head data in [lo, hi) as chunks to copy verbatim: sealed
 * chunks inside the range plus the open chunk encoded into `scratch`.
 * Returns false (use tsdb__series_collect) if data is out of order or a
 * chunk straddles the range. *out is malloc'd; chunk data is borrowed. */
bool tsdb__series_raw(const tsdb__series *s, int64_t lo, int64_t hi, lk_buf *scratch, tsdb__craw **out,
                      size_t *nout);
/* Drop head data with t < before (already persisted). */
void tsdb__series_truncate(tsdb__head *h, tsdb__series *s, int64_t before);
bool tsdb__series_empty(const tsdb__series *s);
/* Recompute head min_t/max_t/nsamples/nchunks (caller excludes appends). */
void tsdb__head_recount(tsdb__head *h);

/*---- WAL ----*/

typedef struct tsdb__wal {
  pthread_mutex_t mu;
  char *dir;
  int fd;                    /* active segment */
  uint32_t gen;              /* generation of the active segment */
  enum tsdb_fsync policy;
  bool dirty;
  _Atomic uint64_t bytes;    /* checkpoint + segment */
  _Atomic uint64_t errors;   /* failed record writes and syncs (for alerting on a failing disk) */
  lk_buf pending;            /* framed SAMPLES records whose write failed (disk full): their
                                samples are in the head, so they are written before any later
                                record; a checkpoint (which holds the head) clears them */
  _Atomic bool has_pending;  /* pending.len != 0, readable without mu */
} tsdb__wal;

struct tsdb;
/* Open dir/wal, replay checkpoint + segments into db->head, truncating a
 * torn tail (one lk_warn line). */
int tsdb__wal_open(struct tsdb *db, lk_diag *d);
void tsdb__wal_close(tsdb__wal *w);
/* Write one framed record (type + payload) after any pending ones; fsync
 * when the policy says. On failure the record is kept pending (its samples
 * are in the head already) and the error returned. */
int tsdb__wal_write(tsdb__wal *w, uint8_t type, const uint8_t *p, size_t n);
/* Write the pending records, if any: 0, or the error that still keeps them
 * (appends refuse to touch the head meanwhile). */
int tsdb__wal_flush_pending(tsdb__wal *w);
/* Write the series record of s unless already in the current generation. */
int tsdb__wal_log_series(tsdb__wal *w, tsdb__series *s);
void tsdb__wal_encode_series(lk_buf *b, const tsdb__series *s);
/* Replace WAL contents with a checkpoint of the head (appends excluded). */
int tsdb__wal_checkpoint(struct tsdb *db, lk_diag *d);
int tsdb__wal_sync(tsdb__wal *w);

/*---- Blocks ----*/

typedef struct tsdb__bpost {
  uint32_t name, value;      /* symbol ids */
  uint64_t off;              /* postings list offset in the index file */
  uint32_t count;
} tsdb__bpost;

typedef struct tsdb__block {
  char *dir;                 /* full path */
  uint64_t seq;
  int64_t mint, maxt;        /* inclusive data bounds */
  uint64_t nseries, nsamples, nchunks, bytes;
  const uint8_t *idx, *chk;  /* mmaps; chk NULL: raw samples expired, rollups kept */
  size_t idx_len, chk_len;
  const char **syms;
  uint32_t nsyms;
  uint32_t *series_off;      /* offset of each series entry in idx */
  tsdb__bpost *post;         /* sorted by (name, value) */
  uint32_t npost;
  struct tsdb__rollup *ru;   /* its rollup file, or NULL (rollup.c) */
} tsdb__block;

/* Chunk metadata of one block series. */
typedef struct tsdb__bchunk {
  int64_t mint, maxt;
  uint32_t n, len;
  uint32_t raw_off;          /* offset inside the unpacked frame */
} tsdb__bchunk;

typedef struct tsdb__bseries {
  lk_label *labels;          /* strings point into the block's mmap */
  uint32_t nlabels;
  uint64_t grp_off, grp_len; /* its tsdb__pack frame in the chunks file (+ crc u32) */
  uint32_t grp_base;         /* offset of its first chunk in the unpacked frame */
  tsdb__bchunk *chunks;
  uint32_t nchunks;
} tsdb__bseries;

int tsdb__block_open(const char *dir, uint64_t seq, tsdb__block **out, lk_diag *d);
void tsdb__block_close(tsdb__block *b);
/* Decode series `id` (labels + chunk metas); free with tsdb__bseries_fini. */
int tsdb__block_series(const tsdb__block *b, uint32_t id, tsdb__bseries *out);
void tsdb__bseries_fini(tsdb__bseries *s);
/* The last unpacked frame of one block, reused while series share it, and
 * the timestamp sections its reader decoded (chunk.h). */
typedef struct tsdb__fcache {
  bool valid;
  uint64_t off;
  lk_buf raw;
  struct tsdb__tsmemo *memo;
} tsdb__fcache;

void tsdb__fcache_fini(tsdb__fcache *c);
/* Unpack (CRC-checked) the frame holding series s, or reuse c's; *raw is
 * valid until c loads another frame. */
int tsdb__block_frame(const tsdb__block *b, const tsdb__bseries *s, tsdb__fcache *c, const uint8_t **raw);
/* Reading ahead: frames a query will read are added in (block, offset)
 * order; runs of nearby frames are handed to the kernel as one asynchronous
 * read (MADV_WILLNEED), so a cold read waits for one round of I/O and
 * reads only what it needs. Zero-initialise; call tsdb__readahead_flush
 * after the last add. */
typedef struct tsdb__readahead {
  const tsdb__block *b;
  uint64_t off, end;         /* the pending run in b's chunks file */
} tsdb__readahead;
void tsdb__readahead_add(tsdb__readahead *ra, const tsdb__block *b, const tsdb__bseries *s);
void tsdb__readahead_flush(tsdb__readahead *ra);
/* Push the samples in [mint, maxt] of a decoded series (not normalized).
 * c: a frame cache for this block, or NULL. */
int tsdb__block_samples(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                        tsdb__fcache *c, tsdb__vec *out);
/* Postings of (name, value) pair index `pi` into out (appends ascending ids). */
int tsdb__block_postings(const tsdb__block *b, uint32_t pi, uint32_t **ids, size_t *n);
/* Find the series with exactly these (sorted) labels: 1 and *out filled
 * (free with tsdb__bseries_fini), or 0. */
int tsdb__block_find(const tsdb__block *b, const lk_label *ls, size_t n, tsdb__bseries *out);
/* Range [lo, hi) of post[] entries for label name, or lo == hi. */
void tsdb__block_name_range(const tsdb__block *b, const char *name, uint32_t *lo, uint32_t *hi);


/* The sample cache (scache.c): decoded chunks of blocks, bounded by bytes.
 * Thread-safe. */
typedef struct tsdb__scache tsdb__scache;
typedef struct tsdb__scache_stat {
  uint64_t hits, misses, bytes, evictions; /* hits/misses count chunks */
} tsdb__scache_stat;
int tsdb__scache_new(uint64_t budget, tsdb__scache **out);
void tsdb__scache_free(tsdb__scache *c); /* NULL is fine */
/* As tsdb__block_samples_into, serving chunks from the cache and caching
 * the ones it decodes. */
int tsdb__scache_read(tsdb__scache *c, const tsdb__block *b, const tsdb__bseries *s, int64_t mint,
                      int64_t maxt, tsdb__fcache *fc, int64_t *t, double *v, size_t cap, size_t *n);
/* Forget a removed block's chunks. */
void tsdb__scache_drop_block(tsdb__scache *c, uint64_t seq);
void tsdb__scache_stats_get(tsdb__scache *c, tsdb__scache_stat *out);

/* Sample slabs of results and their pool (slab.c). The pool is reference
 * counted: the database and every result holding a mapped slab own one. */
typedef struct tsdb__slabpool tsdb__slabpool;
typedef struct tsdb__slab {
  void *p;
  size_t len;
  bool mapped;
} tsdb__slab;
tsdb__slabpool *tsdb__slabpool_new(void);
tsdb__slabpool *tsdb__slabpool_ref(tsdb__slabpool *sp);
void tsdb__slabpool_unref(tsdb__slabpool *sp); /* NULL is fine */
/* At least len bytes (uninitialised); LK_ENOMEM when it cannot be mapped. */
int tsdb__slab_alloc(tsdb__slabpool *sp, size_t len, tsdb__slab *out);
/* Back to the pool or the system; *s is cleared. */
void tsdb__slab_free(tsdb__slabpool *sp, tsdb__slab *s);

/* Write all n bytes to fd (retrying short writes and EINTR): 0 or -errno. */
int tsdb__write_buf(int fd, const uint8_t *p, size_t n);

/* Block writer: feed series in label order, then finish. */
typedef struct tsdb__bwriter tsdb__bwriter;
int tsdb__bwriter_new(const char *tmpdir, tsdb__bwriter **out, lk_diag *d);
/* labels sorted; samples sorted, unique; n >= 1. */
int tsdb__bwriter_add(tsdb__bwriter *w, const lk_label *ls, size_t nl, const int64_t *t,
                      const double *v, size_t n);
/* Write the index, fsync; on success the tmp dir is complete, on failure it
 * is removed. Frees w. */
int tsdb__bwriter_finish(tsdb__bwriter *w, lk_diag *d);
void tsdb__bwriter_abort(tsdb__bwriter *w);
uint64_t tsdb__bwriter_samples(const tsdb__bwriter *w);
/* Add a series as encoded chunks, time-ordered and non-overlapping (nc >= 1). */
int tsdb__bwriter_add_raw(tsdb__bwriter *w, const lk_label *ls, size_t nl, const tsdb__craw *c, size_t nc);

/*---- Rollups (rollup.c: compute, write, read; rollup_select.c: query) ----*/

#define TSDB__NRES 1
/* The resolutions written, finest first (TSDB_ROLLUP_1H). */
int64_t tsdb__rollup_res(size_t i);

/* Records and their reset values; zero-initialise, free with _fini. */
typedef struct tsdb__rvec {
  tsdb_rollup_rec *r;
  size_t n, cap;
  double *resets;
  size_t nresets, capresets;
} tsdb__rvec;
void tsdb__rvec_fini(tsdb__rvec *v);
/* Append rec (its resets at `resets`, rec->reset_off ignored); a record for
 * the bucket of the last one (a bucket split between two blocks, later
 * samples in rec) is folded into it, counting a drop between them. */
void tsdb__rvec_push(tsdb__rvec *v, const tsdb_rollup_rec *rec, const double *resets);
/* Summarise samples (time-ordered) into buckets of res, pushed to out. */
void tsdb__rollup_compute(const int64_t *t, const double *v, size_t n, int64_t res, tsdb__rvec *out);

/* Writer of one block's rollup file: series in the block's id order. */
typedef struct tsdb__rwriter tsdb__rwriter;
/* Writes dir/rollup as it goes (dir must exist by the first add): frames
 * are written once a buffer of TSDB_ROLLUP_FLUSH_BYTES fills, so memory is
 * the open frames and an 8-byte entry per series. */
tsdb__rwriter *tsdb__rwriter_new(const char *dir);
void tsdb__rwriter_add(tsdb__rwriter *w, const int64_t *t, const double *v, size_t n);
/* Complete dir/rollup and fsync it and dir; frees w. On failure nothing is left. */
int tsdb__rwriter_finish(tsdb__rwriter *w);
void tsdb__rwriter_free(tsdb__rwriter *w); /* NULL is fine; removes an unfinished file */

typedef struct tsdb__rollup tsdb__rollup;
/* Map dir/rollup of a block of nseries series: *out NULL when absent;
 * LK_ECORRUPT (diag) when damaged. */
int tsdb__rollup_open(const char *dir, uint64_t nseries, tsdb__rollup **out, lk_diag *d);
void tsdb__rollup_close(tsdb__rollup *r); /* NULL is fine */
bool tsdb__rollup_has(const tsdb__rollup *r, int64_t res);
uint64_t tsdb__rollup_bytes(const tsdb__rollup *r);
/* The frames of one block's rollups unpacked so far, each kept (streams
 * point into them) until tsdb__rcache_fini; the last is reused while
 * series share it. Zero-initialise. */
typedef struct tsdb__rcache {
  const tsdb__rollup *ru;
  int64_t res;
  uint32_t frame;
  lk_buf *bufs;
  size_t n, cap;
} tsdb__rcache;
void tsdb__rcache_fini(tsdb__rcache *c);
/* One series' record stream at one resolution, borrowed from a tsdb__rcache. */
typedef struct tsdb__rstream {
  const uint8_t *p;
  size_t len;
  unsigned ver;
  int64_t res;
} tsdb__rstream;
/* Locate series id's stream of resolution res (LK_ENOENT: none at res). */
int tsdb__rollup_stream(const tsdb__rollup *r, int64_t res, uint32_t id, tsdb__rcache *c, tsdb__rstream *out);
/* Push the stream's records with end in [lo, hi] to out, at most max of them. */
int tsdb__rollup_decode(const tsdb__rstream *s, int64_t lo, int64_t hi, size_t max, tsdb__rvec *out);
/* Both: push series id's records of resolution res with end in [lo, hi] to out. */
int tsdb__rollup_read(const tsdb__rollup *r, int64_t res, uint32_t id, int64_t lo, int64_t hi,
                      tsdb__rcache *c, tsdb__rvec *out);

/*---- The change log (changes.c) ----*/

#define TSDB__CHANGES_PER_LEVEL 4
/* One record: the changes numbered up to v_end since the previous record,
 * the sample times they touched within [lo, hi], 2^level changes merged. */
typedef struct tsdb__change {
  uint64_t v_end;
  int64_t lo, hi;
  uint8_t level;
} tsdb__change;
typedef struct tsdb__changes {
  pthread_mutex_t mu; /* leaf lock; guards the rest */
  uint64_t version;   /* changes so far */
  size_t n;
  tsdb__change rec[TSDB__CHANGES_PER_LEVEL * 64 + 1];
} tsdb__changes;
void tsdb__changes_init(tsdb__changes *c);
void tsdb__changes_fini(tsdb__changes *c);
/* Take the next version for a change touching sample times [lo, hi]; call
 * it once the change is visible to selects. */
void tsdb__changes_note(tsdb__changes *c, int64_t lo, int64_t hi);
/* The current version; [*lo, *hi] covers every change numbered after since
 * (lo > hi: none). */
uint64_t tsdb__changes_since(tsdb__changes *c, uint64_t since, int64_t *lo, int64_t *hi);
/* Commit an append batch's head statistics (tsdb__hnote_commit), then log
 * the times it stored as a change. */
void tsdb__append_published(tsdb *db, tsdb__hnote *note);

/*---- The database ----*/

struct tsdb {
  tsdb_opts o;               /* defaults filled in; o.dir points to dir */
  char *dir;
  int lock_fd;
  pthread_rwlock_t cut_lock;
  pthread_mutex_t compact_mu;
  pthread_rwlock_t blocks_lock;
  tsdb__block **blocks;      /* guarded by blocks_lock; sorted by mint */
  size_t nblocks;
  _Atomic uint64_t next_seq;
  tsdb__head head;
  tsdb__wal wal;
  tsdb__scache *scache;      /* NULL when off; outlives every select */
  tsdb__slabpool *slabs;     /* one reference */
  _Atomic int64_t newest_t;  /* newest sample stored anywhere; INT64_MIN if none */
  /* counters */
  _Atomic uint64_t appended, rejected[TSDB_REJECT__COUNT], series_created;
  tsdb__changes changes;     /* the data version (changes.c) */
  /* background thread: WAL fsync (interval policy) and compaction after
   * head cuts; bg_mu (a leaf lock) guards compact_wanted and stopping */
  pthread_t bg;
  bool bg_running;
  pthread_mutex_t bg_mu;
  pthread_cond_t bg_cv;
  bool compact_wanted;
  bool stopping;
};

/* Validate one input label set and produce its canonical sorted copy in ls
 * (room for n). */
int tsdb__validate_labels(const tsdb *db, const lk_label *in, size_t n, lk_label *ls, lk_diag *d);
/* Persist head data in [lo, hi) as one block (cut_lock held exclusively). */
int tsdb__persist_range(tsdb *db, int64_t lo, int64_t hi, lk_diag *d);
/* Add an opened block to the list (takes blocks_lock). */
void tsdb__blocks_add(tsdb *db, tsdb__block *b);
/* Remove blocks from the list and delete their directories (compact_mu held). */
void tsdb__blocks_remove(tsdb *db, tsdb__block **drop, size_t n);
/* Rename a finished tmp block dir into place, open it and add it. */
int tsdb__install_block(tsdb *db, uint64_t seq, const char *tmp, const char *fin, lk_diag *d);
/* Delete a block's chunks file, keeping index and rollups (compact_mu held;
 * takes blocks_lock). */
void tsdb__block_demote(tsdb *db, tsdb__block *b);
/* Compact blocks; all_windows: also windows still receiving data (flush). */
int tsdb__compact(tsdb *db, bool all_windows, lk_diag *d);
int tsdb__retention(tsdb *db);
/* Path of a new block's final and temporary directories (malloc'd). */
void tsdb__block_paths(tsdb *db, uint64_t seq, char **final_dir, char **tmp_dir);
int tsdb__fsync_dir(const char *dir);
void tsdb__newest_update(tsdb *db, int64_t t);
int64_t tsdb__floor_div(int64_t a, int64_t b);
/* Cut blocks while the head spans more than 1.5 block ranges. */
int tsdb__maybe_cut(tsdb *db);

#endif
