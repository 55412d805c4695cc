/* logstore.h — the indexed, compressed log store and its LogQL engine.
 *
 * A store is a directory: an append-only WAL for entries not yet sealed, and
 * segment files of sealed, zstd-compressed per-stream blocks, each with time
 * bounds and a token bloom filter (the skip index). Streams are identified by
 * their label set; entries are (int64 ns timestamp, line bytes).
 *
 * Memory follows the streams that still hold data: as entry time advances,
 * heads of streams idle for longer than the out-of-order window are sealed
 * (their buffers freed), retention runs, and streams with nothing left in
 * the head, in segments or in the WAL are forgotten (stream GC, store.c).
 *
 * Threads: every function is safe to call concurrently on one handle (one
 * rwlock inside: pushes and seals write, queries read).
 * Errors: 0 or a negative LK_E*; messages through the optional lk_diag.
 */
#ifndef LOGSTORE_H
#define LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_crash.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

typedef struct logstore logstore;

/* Options; zero fields take the defaults named here. */
typedef struct logstore_opts {
  const char *dir;          /* required; created if missing */
  size_t block_bytes;       /* seal a stream's head at this many line bytes (default 2 MiB) */
  size_t wal_bytes;         /* restart the WAL past this, keeping just the heads (default 256 MiB) */
  size_t segment_bytes;     /* start a new segment file past this size (default 64 MiB) */
  size_t max_line;          /* longest accepted line (default 256 KiB) */
  int64_t ooo_window_ns;    /* accept entries this much older than a stream's newest (default 1h) */
  int64_t retention_ns;     /* drop segments older than newest entry - this (0 = keep);
                               applied after flushes and by stream GC during pushes */
  uint64_t retention_bytes; /* drop oldest segments beyond this many bytes (0 = no limit) */
  bool fsync;               /* fsync the WAL on every push (kill -9 is safe without it) */
  lk_crashpoint *crash;     /* crash tests only (lib/lk_crash.h); NULL = none. Borrowed */
} logstore_opts;

/* One entry. line is borrowed (not NUL-terminated in general). */
typedef struct logstore_entry {
  int64_t ts;        /* ns since the epoch */
  const char *line;
  size_t len;
} logstore_entry;

/* Open or create; replays the WAL. *out is set only on success. */
int logstore_open(const logstore_opts *o, logstore **out, lk_diag *d);
void logstore_close(logstore *s); /* seals nothing; the WAL keeps the head. NULL ok */

/* Append entries to the stream named by labels (any order; names unique and
 * valid, copied). Returns after the WAL write: then the entries are
 * acknowledged and survive kill -9. Entries older than the out-of-order
 * window fail the whole call with LK_EOOO; lines over max_line with
 * LK_ETOOBIG; nothing is stored on failure. */
int logstore_push(logstore *s, const lk_label *labels, size_t nlabels,
                  const logstore_entry *e, size_t n, lk_diag *d);

/* Seal every stream's head into a block and truncate the WAL. */
int logstore_flush(logstore *s);
/* Apply retention by time and size (also done after each flush). */
int logstore_retention(logstore *s);

/* Figures for /metrics, benchmarks and tests. */
typedef struct logstore_stats {
  size_t streams, blocks, head_entries;
  uint64_t disk_bytes;    /* segments + WAL */
  uint64_t raw_bytes;     /* line bytes in sealed blocks */
  uint64_t sealed_bytes;  /* compressed block bytes (bloom included) */
  uint64_t bloom_bytes;   /* of which the skip index: blooms and trigram maps (also kept in memory) */
} logstore_stats;
void logstore_stats_get(logstore *s, logstore_stats *out);

/*---- Queries (LogQL) ----*/

/* Zero is BACKWARD (newest first), Loki's default. */
enum logstore_dir { LOGSTORE_BACKWARD = 0, LOGSTORE_FORWARD = 1 };

typedef struct logstore_query_opts {
  int64_t start_ns, end_ns;   /* log queries: [start, end]; metric queries: steps */
  int64_t step_ns;            /* metric range queries; 0 = instant at end_ns */
  size_t limit;               /* log queries: most entries returned (default 100) */
  enum logstore_dir direction;/* default (0) BACKWARD, as in Loki */
  size_t max_series;          /* metric result bound (default 10000) */
} logstore_query_opts;

enum logstore_result_kind { LOGSTORE_STREAMS, LOGSTORE_MATRIX, LOGSTORE_VECTOR };

typedef struct logstore_rstream {
  lk_label *labels;   /* sorted */
  size_t nlabels;
  logstore_entry *entries; /* in the query's direction */
  size_t n;
} logstore_rstream;

typedef struct logstore_rseries {
  lk_label *labels;
  size_t nlabels;
  int64_t *t_ns;
  double *v;
  size_t n;
} logstore_rseries;

typedef struct logstore_result {
  enum logstore_result_kind kind;
  logstore_rstream *streams;  /* kind STREAMS */
  logstore_rseries *series;   /* kind MATRIX or VECTOR (one point each) */
  size_t n;
  /* what the index saved */
  size_t blocks_total, blocks_read;
  uint64_t bytes_read, lines_scanned;
  struct lk_arena *arena;     /* owns everything above */
} logstore_result;

/* Evaluate a LogQL expression. Parse errors return LK_EPARSE with the byte
 * offset in d->offset. *out (free with logstore_result_free) only on success. */
int logstore_query(logstore *s, const char *logql, const logstore_query_opts *o,
                   logstore_result **out, lk_diag *d);
void logstore_result_free(logstore_result *r); /* NULL ok */

/* Check syntax only (for 400s before work starts). */
int logstore_logql_check(const char *logql, lk_diag *d);

/* Label names (sorted, unique), values of one name, or the label sets of
 * streams matching a selector (NULL = all), among streams with entries in
 * [start, end]. Arrays and strings are in *out_arena (free with lk_arena_free). */
int logstore_labels(logstore *s, int64_t start_ns, int64_t end_ns,
                    const char ***out_names, size_t *out_n, struct lk_arena **out_arena);
int logstore_label_values(logstore *s, const char *name, int64_t start_ns, int64_t end_ns,
                          const char ***out_values, size_t *out_n, struct lk_arena **out_arena);
int logstore_series(logstore *s, const char *selector, int64_t start_ns, int64_t end_ns,
                    logstore_rstream **out_sets, size_t *out_n, struct lk_arena **out_arena,
                    lk_diag *d);

#endif
