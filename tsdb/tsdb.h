/* tsdb.h — Lookout's time-series engine: the public interface.
 *
 * A series is identified by its label set; a sample is (int64 ms, float64).
 * Storage is lossless: every float64 bit pattern round-trips (NaN payloads,
 * the Prometheus stale marker 0x7ff0000000000002, ±Inf, -0.0, denormals).
 *
 * Data flows: tsdb_append → WAL (write(2) before return, so a 2xx answered
 * after it survives kill -9; fsync per opts) → head (in-memory compressed
 * chunks) → immutable on-disk blocks (cut at block_range, compacted, removed
 * by retention). Reads merge head and blocks in time order, deduplicated.
 * Head GC: at each head cut (and flush) the head forgets series whose data
 * is all in blocks and that received no sample for longer than one
 * block_range_ms before the newest sample stored (sample time), so memory
 * follows the live series under churn; their data stays readable from
 * blocks, and appending their labels again recreates them.
 *
 * Threads: every function here may be called from any thread concurrently,
 * except tsdb_close, which must be the last call. The handle owns its locks.
 *
 * Ownership: input arrays and strings are borrowed for the duration of the
 * call (the engine copies what it keeps). Results (tsdb_result, string
 * lists) are owned by the caller and freed with their _free function.
 */
#ifndef TSDB_H
#define TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_crash.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

typedef struct tsdb tsdb;

#define TSDB_STALE_NAN_BITS 0x7ff0000000000002ULL

enum tsdb_fsync {
  TSDB_FSYNC_DEFAULT = 0,  /* = TSDB_FSYNC_INTERVAL */
  TSDB_FSYNC_BATCH,        /* fsync the WAL before tsdb_append returns (power-loss safe) */
  TSDB_FSYNC_INTERVAL,     /* write(2) before return (kill -9 safe), fsync every fsync_interval_ms */
  TSDB_FSYNC_NEVER,        /* write(2) before return, leave flushing to the kernel */
};

/* Options; zero-initialise and set what you need: every 0 means the default. */
typedef struct tsdb_opts {
  const char *dir;             /* data directory, created if missing (required) */
  int64_t block_range_ms;      /* head → block cut size; default 2 h */
  int64_t retention_ms;        /* drop blocks older than newest sample − this; default 15 d */
  int64_t rollup_retention_ms; /* keep a block's rollups (its chunks deleted) until newest sample
                                  − this; only a value above retention_ms keeps anything; default
                                  0 = rollups go with their block */
  uint64_t retention_bytes;    /* drop oldest blocks while total exceeds this; default off */
  int64_t ooo_window_ms;       /* accept samples this far behind a series' newest; default 0 (none; -1 also means none) */
  enum tsdb_fsync fsync;
  int64_t fsync_interval_ms;   /* default 1000 */
  uint32_t max_labels;         /* labels per series; default 64 */
  uint32_t max_name_len;       /* bytes; default 256 */
  uint32_t max_value_len;      /* bytes; default 4096 */
  uint64_t max_series;         /* cardinality guard: live head series; default 5,000,000 */
  int64_t sample_cache_bytes;  /* decoded block chunks kept for the next queries; default
                                  64 MiB; negative = off */
  uint64_t head_min_samples;   /* cut the head into blocks only once it also holds this many
                                  samples or spans half the retention; default 2,000,000
                                  (keeps series-ordered bulk imports from cutting tiny
                                  overlapping blocks; 1 = cut on time span alone) */
  lk_crashpoint *crash;        /* crash tests only (lib/lk_crash.h); NULL = none. Borrowed */
} tsdb_opts;

/* Open (and replay the WAL of) the database in opts->dir. Replay tolerates a
 * torn tail and logs what it skipped. On failure *out is untouched:
 * LK_EAGAIN if another process has the directory open, LK_ECORRUPT (diag
 * names the file) for a damaged block, or a negated errno (also when the
 * background thread cannot start; the diag names it). */
int tsdb_open(const tsdb_opts *opts, tsdb **out, lk_diag *d);
/* Stop background work, sync the WAL and release everything. NULL is fine. */
void tsdb_close(tsdb *db);

/*---- Append ----*/

/* Input series (lib/lk_labels.h): labels in any order with unique names,
 * samples in time order within the series. */
typedef lk_sample tsdb_sample;
typedef lk_series tsdb_series_in;

/* Why a sample was refused. Indexes tsdb_append_stats.rejected,
 * tsdb_status.samples_rejected_total and the ingest self-metrics. */
enum tsdb_reject_reason {
  TSDB_REJECT_OUT_OF_ORDER,     /* older than the series' newest sample beyond the OOO window */
  TSDB_REJECT_TOO_OLD,          /* older than the newest sample stored − retention_ms */
  TSDB_REJECT_CONFLICT,         /* same timestamp, different value */
  TSDB_REJECT_INVALID,          /* its batch held an invalid series (nothing stored) */
  TSDB_REJECT_NATIVE_HISTOGRAM, /* a native histogram sample: storage holds floats only
                                   (counted by the ingest API; tsdb never sees one) */
  TSDB_REJECT__COUNT
};

/* The reason as a metric label value ("out_of_order") and as a phrase after
 * a count in messages ("out of order"). Static strings; r < TSDB_REJECT__COUNT. */
const char *tsdb_reject_name(enum tsdb_reject_reason r);
const char *tsdb_reject_text(enum tsdb_reject_reason r);

typedef struct tsdb_append_stats {
  uint64_t accepted;      /* samples stored */
  uint64_t duplicates;    /* same timestamp and same value bits as stored: ignored, not an error */
  uint64_t rejected[TSDB_REJECT__COUNT]; /* refused, by reason (append counts the first three) */
} tsdb_append_stats;

/* Samples refused for any reason (the sum of st->rejected). */
uint64_t tsdb_rejected_sum(const tsdb_append_stats *st);

/* Append a batch atomically with respect to validation: if any series is
 * invalid (bad/duplicate/empty label name, empty value, too many labels, name
 * or value too long, invalid UTF-8) or would exceed max_series (live head
 * series; the diag says "series limit reached (limits.max_series=N ...)"),
 * nothing is stored and LK_EINVAL / LK_ELIMIT is returned with a diag naming
 * the series.
 * Otherwise every acceptable sample is written to the WAL and head, rejected
 * samples are counted in *out (never silently dropped), and 0 is returned;
 * the caller decides how to report rejections. */
int tsdb_append(tsdb *db, const tsdb_series_in *in, size_t n, tsdb_append_stats *out, lk_diag *d);

/* Fast path for ingest: resolve a label set once, then append by ref.
 * Resolve, creating if needed, the series of a label set (validated exactly
 * as in tsdb_append, same errors; series creation is logged to the WAL).
 * A ref stays valid while its series is in the head: once head GC dropped
 * the series (see above), appending by the ref answers LK_ENOENT (stale,
 * never another series' data, never a crash) and the caller resolves the
 * labels again. A ref is only meaningful to the tsdb that issued it. */
typedef uint64_t tsdb_ref;
int tsdb_series_ref(tsdb *db, const lk_label *labels, size_t n, tsdb_ref *out, lk_diag *d);

/* Resolve n label sets at once (in[i].labels; samples are not stored): out[i]
 * gets the ref of in[i]. Validated and created atomically as in tsdb_append:
 * one invalid set or the max_series limit → nothing created, the error names
 * the series. Labels of series already stored are not validated again. */
int tsdb_series_refs(tsdb *db, const tsdb_series_in *in, size_t n, tsdb_ref *out, lk_diag *d);

typedef struct tsdb_ref_sample {
  tsdb_ref ref;
  int64_t t;
  double v;
} tsdb_ref_sample;

/* Append samples of already-resolved series (any mix of series; per-series
 * time order within the batch); same counting rules as tsdb_append. A stale
 * ref (its series was dropped by head GC) → LK_ENOENT, a ref never issued →
 * LK_EINVAL; either way nothing is stored and the diag names the ref. */
int tsdb_append_refs(tsdb *db, const tsdb_ref_sample *s, size_t n, tsdb_append_stats *out,
                     lk_diag *d);

/*---- Select ----*/

enum tsdb_match { TSDB_EQ, TSDB_NE, TSDB_RE, TSDB_NRE };

typedef struct tsdb_matcher {
  enum tsdb_match type;
  const char *name;
  const char *value; /* regexes: RE2/Go syntax, fully anchored as in Prometheus (lib/lk_regex) */
} tsdb_matcher;

typedef struct tsdb_select_opts {
  bool labels_only;      /* series whose data overlaps [mint,maxt]; no samples decoded */
  uint64_t max_series;   /* 0 = unlimited; exceeding → LK_ELIMIT with a clear diag */
  uint64_t max_samples;  /* 0 = unlimited; exceeding → LK_ELIMIT */
} tsdb_select_opts;

typedef struct tsdb_series {
  const lk_label *labels; /* sorted by name */
  size_t nlabels;
  const int64_t *t;       /* ascending, unique */
  const double *v;
  size_t n;
} tsdb_series;

typedef struct tsdb_result tsdb_result;

/* Series matching all matchers (at least one matcher must not match the
 * empty string, as in Prometheus) with their samples in [mint, maxt]
 * (inclusive), head and blocks merged. Series with no sample in range are
 * omitted unless labels_only. Series come sorted by label set. opts may be
 * NULL. Bad regex → LK_EPARSE with diag. */
int tsdb_select(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                const tsdb_select_opts *opts, tsdb_result **out, lk_diag *d);
size_t tsdb_result_count(const tsdb_result *r);
const tsdb_series *tsdb_result_get(const tsdb_result *r, size_t i);
void tsdb_result_free(tsdb_result *r); /* NULL is fine */

/* Sorted, unique label names (nm == 0: all) or values of `name` among series
 * matching m in [mint, maxt]. *out is a malloc'd array of malloc'd strings;
 * free with tsdb_strings_free. */
int tsdb_label_names(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                     char ***out, size_t *out_n, lk_diag *d);
int tsdb_label_values(tsdb *db, const char *name, const tsdb_matcher *m, size_t nm,
                      int64_t mint, int64_t maxt, char ***out, size_t *out_n, lk_diag *d);
void tsdb_strings_free(char **v, size_t n);

/*---- Rollups (select with hints) ----*/

/* Compaction writes, beside each block it re-encodes, rollups of every
 * series: per bucket (end − 1 h, end] (end a multiple of 1 h, so buckets
 * tile the left-open windows of PromQL), a summary of the samples in it,
 * stale markers excluded, and of its last 5 minutes (the "tail": what
 * rate(x[5m]) at an hourly step reads). Full 5 m buckets are not written:
 * at a 60 s scrape they would hold 2 of every 5 values again (+63 % of the
 * raw blocks measured, tsdb/FORMAT.md). */
#define TSDB_ROLLUP_1H 3600000
#define TSDB_ROLLUP_TAIL 300000
#define TSDB_ROLLUP_MAX_RESETS 4
#define TSDB_ROLLUP_MANY_RESETS UINT32_MAX

typedef struct tsdb_rollup_rec {
  int64_t end;               /* bucket end (ms), a multiple of the resolution */
  int64_t first_t, last_t;   /* first and last sample in the bucket */
  double first_v, last_v;
  double min, max;           /* folded as PromQL's min/max_over_time do (NaN only when
                                nothing else; ties keep the earlier sample) */
  double sum;                /* exact sum when integral, else 0 */
  uint32_t count;            /* samples (≥ 1) */
  uint32_t nresets;          /* counter drops between samples of the bucket: the value before
                                each drop, in time order, at resets[reset_off ..] of the series;
                                TSDB_ROLLUP_MANY_RESETS: more than TSDB_ROLLUP_MAX_RESETS (a
                                gauge, most likely), not kept: rate/increase read raw samples */
  uint32_t reset_off;
  int64_t tail_first_t;      /* the first sample in (end − TSDB_ROLLUP_TAIL, end] */
  double tail_first_v;
  uint32_t tail_count;       /* samples there (0: none; the last sample is the bucket's) */
  uint32_t tail_nresets;     /* drops between them: the last tail_nresets of the bucket's
                                (unknown when the bucket's are TSDB_ROLLUP_MANY_RESETS) */
  bool integral;             /* every value an integer (not -0.0) and count · max(|min|, |max|)
                                ≤ 2^53, so any summation order gives sum exactly */
} tsdb_rollup_rec;

typedef struct tsdb_rollup_series {
  const lk_label *labels;    /* sorted by name */
  size_t nlabels;
  const tsdb_rollup_rec *r;  /* ascending end; buckets without samples are absent */
  size_t n;
  const double *resets;
} tsdb_rollup_series;

typedef struct tsdb_rollup_result tsdb_rollup_result;

/* The rollups at resolution res (TSDB_ROLLUP_1H) of the series
 * matching m (as tsdb_select) over the buckets ending in [mint + res − 1,
 * maxt], where mint − 1 and maxt are multiples of res. They describe
 * exactly the samples tsdb_select would return for [mint, maxt] — and,
 * where raw samples have expired but rollups are kept (rollup_retention_ms),
 * the samples stored there before — when that
 * cannot be promised — a resolution or range not aligned, the head holding
 * data at or before maxt, a block in range without rollups, blocks in range
 * overlapping in time — the answer is LK_ENOENT (read raw samples instead).
 * Series come sorted by label set; series without a bucket are omitted.
 * max_series as in tsdb_select_opts (0 = unlimited). */
int tsdb_select_rollup(tsdb *db, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                       int64_t res, uint64_t max_series, tsdb_rollup_result **out, lk_diag *d);
size_t tsdb_rollup_count(const tsdb_rollup_result *r);
#define TSDB_ROLLUP_SLOTS 2
/* Series i (< count), its records decoded now into r's buffer `slot`
 * (< TSDB_ROLLUP_SLOTS): they stay valid until the next get into that slot,
 * the labels until tsdb_rollup_free. Gets into different slots may run at
 * once on different threads. LK_ECORRUPT (diag) on damaged records. */
int tsdb_rollup_get(tsdb_rollup_result *r, size_t i, unsigned slot, tsdb_rollup_series *out, lk_diag *d);
void tsdb_rollup_free(tsdb_rollup_result *r); /* NULL is fine */
/* The data version: it grows with every change a query could see — an
 * append that stored samples (once they are visible) or raw samples removed
 * by retention — and stays put while data only moves (head cuts,
 * compaction). A reader holding version v has seen every change up to v. */
uint64_t tsdb_data_version(tsdb *db);
/* The current data version; [*lo, *hi] covers the sample times touched by
 * every change after version `since` (*lo > *hi: nothing changed). Older
 * changes are summarised, so the span may be wider than what changed, never
 * narrower. A result cache keeps a result while nothing it read changed
 * (promql/qcache.c). Cheap: one leaf mutex, a scan of a few hundred records. */
uint64_t tsdb_changed_since(tsdb *db, uint64_t since, int64_t *lo, int64_t *hi);

/*---- Maintenance and status ----*/

/* Persist the whole head into blocks, compact, apply retention and truncate
 * the WAL (checkpoint). Afterwards the data dir holds only blocks + an empty
 * WAL. Blocks appends for its duration. */
int tsdb_flush(tsdb *db, lk_diag *d);

typedef struct tsdb_count {
  char *name;      /* owned by the tsdb_status */
  uint64_t count;
} tsdb_count;

typedef struct tsdb_status {
  uint64_t head_series, head_samples, head_chunks, head_label_pairs;
  int64_t head_min_t, head_max_t;        /* 0 when the head is empty */
  uint64_t blocks, block_bytes, block_samples;
  int64_t min_t, max_t;                  /* over everything stored */
  uint64_t wal_bytes;
  uint64_t wal_errors_total;             /* failed WAL writes and syncs since open */
  uint64_t samples_appended_total;       /* since open */
  uint64_t samples_rejected_total[TSDB_REJECT__COUNT]; /* by enum tsdb_reject_reason */
  uint64_t series_created_total;
  /* sample cache (decoded block chunks): chunk lookups served / decoded, bytes held */
  uint64_t sample_cache_hits_total, sample_cache_misses_total, sample_cache_bytes,
      sample_cache_evictions_total;
  /* top-N lists, sorted by count descending */
  tsdb_count *series_by_metric; size_t n_series_by_metric;
  tsdb_count *values_by_label;  size_t n_values_by_label;
  tsdb_count *bytes_by_label;   size_t n_bytes_by_label;
  tsdb_count *series_by_pair;   size_t n_series_by_pair;  /* name "k=v" */
} tsdb_status;

int tsdb_status_get(tsdb *db, size_t topn, tsdb_status **out);
void tsdb_status_free(tsdb_status *s); /* NULL is fine */

#endif
