/* logstore_int.h — structures shared by the files of logstore/ only.
 *
 * Ownership: the store owns streams, segments and blocks; a stream owns its
 * label strings (one allocation), its head and its block index.
 * Locking: store->lock (a rwlock) guards everything below it; pushes, seals,
 * retention take it for writing, queries and listings for reading. There is
 * no other lock, so there is no lock order.
 */
#ifndef LOGSTORE_INT_H
#define LOGSTORE_INT_H

#include <pthread.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_varint.h"
#include "logstore/format.h"
#include "logstore/logstore.h"

/* A sealed block as the index keeps it (everything but the data). */
typedef struct ls_block {
  uint32_t seg;             /* segment number */
  uint64_t off;             /* offset of the data within the segment file */
  uint32_t data_len, data_crc, raw_len, nentries;
  int64_t mint, maxt;
  uint64_t *bloom;          /* owned */
  uint32_t bloom_words;
  uint8_t bloom_k;
  bool grams;               /* the bloom holds winnowed grams (FORMAT.md index flags) */
  bool lean;                /* ... and no prefix/suffix items nor long tokens whole */
  uint64_t *tri;            /* owned trigram map of LS_TRI_WORDS words; NULL in older blocks */
} ls_block;

typedef struct ls_stream {
  uint32_t id;
  lk_label *labels;         /* sorted; strings in the same allocation */
  size_t nlabels;
  uint64_t hash;
  uint64_t next_seq;        /* seq of the next appended entry */
  int64_t maxt;             /* newest entry ever accepted (INT64_MIN if none) */
  uint64_t wal_epoch;       /* store's wal_epoch at its last WAL record */
  /* head: unsealed entries sorted by ts (ties in arrival order) */
  int64_t *hts;
  uint32_t *hoff, *hlen;
  size_t hn, hcap;
  lk_buf hbytes;
  /* sealed blocks, oldest first */
  ls_block *blocks;
  size_t nblocks, bcap;
} ls_stream;

typedef struct ls_seg {
  uint32_t num;
  int fd;
  uint64_t size;
  int64_t maxt;
} ls_seg;

typedef struct ls_posting {
  const char *name, *value; /* borrowed from the first stream that had them */
  uint64_t hash;
  uint32_t *ids;
  size_t n, cap;
} ls_posting;

struct logstore {
  logstore_opts o;
  char *dir;
  pthread_rwlock_t lock;
  ls_stream **streams;
  size_t nstreams, scap;
  uint32_t *stab;           /* open addressing: stream index + 1, 0 = empty */
  size_t stab_cap;
  ls_posting *post;         /* open addressing on (name, value) */
  size_t npost, post_cap;
  int wal_fd;
  uint64_t wal_size;
  uint64_t wal_epoch;       /* WAL resets since open */
  int64_t gc_next;          /* newest entry time at which stream GC runs next */
  ls_seg *segs;             /* ascending num; the last one is appended to */
  size_t nsegs, segcap;
  int64_t newest;
  uint64_t raw_bytes, sealed_bytes;
  bool seal_failing;        /* the last seal failed (logged once until one works) */
  /* kept from seal to seal (sealing holds the write lock): the zstd context
   * and the block's raw and compressed bytes, so a seal allocates and
   * faults in no fresh pages (their pages go back after a seal of every head) */
  struct ZSTD_CCtx_s *cctx;
  lk_buf seal_raw, seal_out;
};

/* store.c */
ls_stream *logstore__stream_get(logstore *s, const lk_label *sorted, size_t n, bool create);
/* Add entries to a stream's head (already in the WAL); seals it past
 * block_bytes (a failing seal is logged and retried by the next append). */
void logstore__head_append(logstore *s, ls_stream *st, const logstore_entry *e, size_t n);
int logstore__stream_path(const logstore *s, char *buf, size_t cap, const char *name);

/* wal.c */
int logstore__wal_open(logstore *s, lk_diag *d);
int logstore__wal_append(logstore *s, const ls_stream *st, uint64_t first_seq,
                         const logstore_entry *e, size_t n);
/* Empty the WAL (everything sealed); counts wal_epoch up. */
int logstore__wal_reset(logstore *s);
/* Start the WAL again with one record per head (nothing sealed); counts
 * wal_epoch up. On failure the old WAL is kept and still in use. */
int logstore__wal_rewrite(logstore *s);
/* File header (magic u32, version u32, little-endian: LS_FILE_HDR bytes) into out. */
void logstore__header_put(uint8_t *out, uint32_t magic);
/* 0 when the file's first len bytes p are this build's header for magic, or
 * a prefix of it (a crash right after creating the file: the caller writes
 * it again); otherwise another format: LK_ECORRUPT with path named in d. */
int logstore__header_check(const char *path, const uint8_t *p, size_t len, uint32_t magic, lk_diag *d);
void logstore__labels_put(lk_buf *b, const lk_label *ls, size_t n);
/* Decodes label pairs into an arena; returns count or -1 on corrupt input. */
long logstore__labels_get(lk_dec *d, lk_arena *a, lk_label *out, size_t max);

/* segment.c */
int logstore__segs_open(logstore *s, lk_diag *d);
void logstore__segs_close(logstore *s);
int logstore__seal(logstore *s, ls_stream *st);
int logstore__seal_all(logstore *s);
int logstore__retention_locked(logstore *s);

/* A decoded block: arrays into one owned buffer. */
typedef struct ls_decoded {
  int64_t *ts;
  uint32_t *off, *len;
  const char *bytes;
  size_t n;
  uint8_t *raw;             /* owned decompressed data */
  size_t cap_n;
  struct ZSTD_DCtx_s *dctx; /* owned; for partial reads */
} ls_decoded;
int logstore__block_read(logstore *s, const ls_block *b, ls_decoded *out);
/* Timestamps only (ts and n; off, len and bytes unset): decompresses just the
 * front of the data, for counts that need no line (CRC still checked). */
int logstore__block_read_ts(logstore *s, const ls_block *b, ls_decoded *out);
void logstore__decoded_fini(ls_decoded *d);

/* bloom.c: the token skip index */
typedef struct ls_tokset ls_tokset;
ls_tokset *logstore__tokset_new(void);
void logstore__tokset_free(ls_tokset *t);
/* Borrows the line's bytes until the set is freed (a line added again is
 * recognised by them and skipped). */
void logstore__tokset_add_line(ls_tokset *t, const char *p, size_t n);
/* The trigram map of the lines added: LS_TRI_WORDS words into out. */
void logstore__tokset_trigrams(const ls_tokset *t, uint64_t *out);
/* Builds the bloom for the items collected; returns words, fills *k. */
uint64_t *logstore__bloom_build(const ls_tokset *t, uint32_t *out_words, uint8_t *out_k);
/* What the literals a query requires must find (appended to *probes; none
 * means "can't tell"): token items (every block), items only blocks before
 * the lean index hold (prefixes, suffixes, long tokens whole), winnowed gram
 * items (blocks with grams), trigram bits (blocks with a trigram map). */
typedef struct ls_probes {
  uint64_t *h;
  size_t n, cap;
  uint64_t *old;
  size_t nold, ocap;
  uint64_t *gram;
  size_t ngram, gcap;
  uint32_t *tri;
  size_t ntri, tcap;
} ls_probes;
bool logstore__probes_any(const ls_probes *p);
void logstore__probes_fini(ls_probes *p);
void logstore__probes_from_literal(ls_probes *p, const char *lit, size_t n);
void logstore__probes_from_regex(ls_probes *p, const char *re);
bool logstore__bloom_may_contain(const ls_block *b, const ls_probes *p);

/* index_label.c: postings and selector matching */
void logstore__postings_add(logstore *s, const ls_stream *st);
void logstore__postings_free(logstore *s);
const ls_posting *logstore__postings_get(const logstore *s, const char *name, const char *value);

#endif
