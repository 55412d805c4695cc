/* tail.h — the container log tailer: CRI (containerd, CRI-O), Docker
 * json-file and plain text files into batches of log entries.
 *
 * The tailer follows files matched by globs (default the Kubernetes layout,
 * /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log), survives rotation by rename+create and by
 * copytruncate, joins partial lines (CRI P/F, Docker 16 KiB splits), and
 * hands entries to a {fn, ctx} sink. Positions (dev, inode, offsets) are
 * checkpointed to a file only after the sink acknowledges a batch, so a
 * restart neither loses nor duplicates a line. It knows nothing of storage
 * or HTTP.
 *
 * Threads: a tailer is used by one thread at a time (the caller's, or the
 * one collector_tail_start runs); the sink runs on that thread.
 */
#ifndef COLLECTOR_TAIL_H
#define COLLECTOR_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"
#include "lib/lk_labels.h"

/* One entry; everything is borrowed for the duration of the sink call. */
typedef struct collector_log_entry {
  int64_t ts;              /* ns since the epoch */
  const char *line;        /* valid UTF-8, no trailing \n or \r\n */
  size_t len;
  const lk_label *labels;  /* sorted: container, filename, namespace, pod, stream (those known) */
  size_t nlabels;
} collector_log_entry;

/* Returns 0 when the batch is stored (acknowledged); anything else makes the
 * tailer rewind to its last checkpoint and retry on the next poll. */
typedef int (*collector_log_sink_fn)(void *ctx, const collector_log_entry *e, size_t n);
typedef struct collector_log_sink {
  collector_log_sink_fn fn;
  void *ctx;
} collector_log_sink;

enum collector_log_format {
  COLLECTOR_LOG_AUTO = 0,  /* per line: Docker JSON, CRI, else plain */
  COLLECTOR_LOG_CRI,
  COLLECTOR_LOG_DOCKER,
  COLLECTOR_LOG_PLAIN,     /* timestamp-less: entries get the time they were read; a last
                            * line without \n is taken after partial_flush_ns of quiet */
};

#define COLLECTOR_TAIL_DEFAULT_GLOB "/var/log/pods/" "*/*/" "*.log"

typedef struct collector_tail_opts {
  const char *const *globs;   /* NULL: the Kubernetes layout (COLLECTOR_TAIL_DEFAULT_GLOB) */
  size_t nglobs;
  const char *positions;      /* checkpoint file; NULL = none (new files are read from 0) */
  enum collector_log_format format;
  size_t max_line;            /* joined line cap (default 256 KiB); longer ones are split */
  size_t batch_entries;       /* entries per sink call (default 1000) */
  size_t max_open;            /* open files bound; 0: a quarter of the soft RLIMIT_NOFILE at
                               * each glob (the collector's cgroup files need the rest), at
                               * least 512. Files found past the bound are not followed
                               * (stats.unfollowed, and a warning) */
  int64_t partial_flush_ns;   /* flush a dangling partial after this quiet time (default 5 s) */
} collector_tail_opts;

typedef struct collector_tail_stats {
  uint64_t files, entries, bytes, truncations, rotations, sink_errors, lost_bytes;
  uint64_t unfollowed; /* files the last glob found but did not open: the open-files bound */
} collector_tail_stats;

typedef struct collector_tail collector_tail;

/* The tailer reads the checkpoint file if it exists. *out only on success. */
int collector_tail_new(const collector_tail_opts *o, collector_log_sink sink,
                       collector_tail **out, lk_diag *d);
/* One pass: discover files, read what is new, send batches, checkpoint.
 * Returns 0, or the sink's error (the pass stops; nothing is lost). */
int collector_tail_poll(collector_tail *t);
void collector_tail_stats_get(const collector_tail *t, collector_tail_stats *out);
void collector_tail_free(collector_tail *t); /* NULL ok; stops the thread */

/* Run collector_tail_poll every interval on a thread of its own (negated
 * errno when it cannot start). The thread reads known files every pass but
 * globs for new ones only after 1,000 times what its last glob took (at
 * most 10 s): every pass on a small tree, every ~7 s over 1,000 pods' logs. */
int collector_tail_start(collector_tail *t, int64_t interval_ms);
void collector_tail_stop(collector_tail *t);

/*---- Format decoding, usable on its own (tests, `lookout logs` import) ----*/

/* Joins records of one container file group into entries. Partial state is
 * per stream (stdout/stderr). `file` tags the entries with the file that
 * held their first fragment. */
typedef struct collector_log_joiner collector_log_joiner;
typedef void (*collector_joined_fn)(void *ctx, const char *file, int64_t ts, const char *stream,
                                    const char *line, size_t len);
collector_log_joiner *collector_joiner_new(enum collector_log_format f, size_t max_line,
                                           collector_joined_fn fn, void *ctx);
/* Feed one complete record (without its \n). Bad records are counted and
 * skipped (returns LK_EPARSE). now_ns stamps plain lines. */
int collector_joiner_feed(collector_log_joiner *j, const char *file, const char *rec, size_t n,
                          int64_t now_ns);
/* Emit every dangling partial as its own entry. */
void collector_joiner_flush(collector_log_joiner *j);
bool collector_joiner_pending(const collector_log_joiner *j);
void collector_joiner_free(collector_log_joiner *j);

/* RFC 3339 with 0-9 fraction digits and Z or ±hh:mm, to ns; LK_EPARSE also
 * for times int64 ns cannot hold (before 1677-09-21 or after 2262-04-11). */
int collector_parse_rfc3339_ns(const char *s, size_t n, int64_t *out);

/*---- Agent mode: push batches to a Loki-compatible endpoint ----*/

typedef struct collector_log_push_opts {
  const char *url;            /* base (http://host:port) or the full .../loki/api/v1/push URL */
  const char *queue_dir;      /* on-disk queue (required) */
  uint64_t queue_max_bytes;   /* default 256 MiB; the oldest requests are dropped beyond it */
  const char *bearer_token;   /* or NULL */
  const char *ca_file;        /* https: PEM CA file to trust, or NULL = the system's */
  int timeout_ms;             /* per request; default 10 s */
} collector_log_push_opts;

typedef struct collector_log_push_stats {
  uint64_t sent_requests, sent_entries, rejected_requests, failed_attempts;
} collector_log_push_stats;

typedef struct collector_log_pusher collector_log_pusher;
int collector_log_pusher_new(const collector_log_push_opts *o, collector_log_pusher **out,
                             lk_diag *d);
/* The sink for collector_tail_new: a batch is acknowledged once queued on disk. */
collector_log_sink collector_log_pusher_sink(collector_log_pusher *p);
int collector_log_pusher_start(collector_log_pusher *p); /* the sender thread */
void collector_log_pusher_stats_get(collector_log_pusher *p, collector_log_push_stats *out);
void collector_log_pusher_free(collector_log_pusher *p); /* stops; queued requests stay on disk */

#endif
