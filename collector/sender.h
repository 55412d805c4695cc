/* sender.h — the push paths' shared sender: a bounded on-disk queue
 * (queue.h) drained in order by one thread that POSTs each request with
 * retry and exponential backoff. Both the remote_write pusher (push.c) and
 * the Loki log pusher (log_push.c) are an encoder in front of one of these.
 * Internal to collector/; thread-safe. */
#ifndef COLLECTOR_SENDER_H
#define COLLECTOR_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"

#define COLLECTOR__SENDER_MAX_HEADERS 4

typedef struct collector__sender_opts {
  const char *what;              /* in log lines: "remote_write", "log push" */
  const char *url;               /* the full endpoint (copied) */
  const char *const *headers;    /* fixed request headers, NULL-terminated, at most
                                    COLLECTOR__SENDER_MAX_HEADERS (borrowed for the sender's life) */
  const char *bearer_token;      /* optional Authorization: Bearer */
  const char *ca_file;           /* https: trust this PEM CA file (copied), or NULL = the system's */
  const char *queue_dir;         /* required */
  uint64_t queue_max_bytes;      /* 0: the queue's default (256 MiB) */
  int timeout_ms;                /* per request; 0: 10 s */
  int64_t backoff_min_ms;        /* 0: 100 ms */
  int64_t backoff_max_ms;        /* 0: 5 s */
  bool warn_retries;             /* log failed attempts (1st-3rd, then powers of two) */
} collector__sender_opts;

typedef struct collector__sender_stats {
  uint64_t sent_requests, sent_items;         /* items: samples or log entries */
  uint64_t failed_attempts;                   /* network errors, 5xx, 429: retried */
  uint64_t rejected_requests, rejected_items; /* 4xx other than 429: dropped */
  uint64_t dropped_requests, dropped_items;   /* queue bound hit: oldest dropped */
  uint64_t queued_requests, queued_bytes;     /* waiting now */
} collector__sender_stats;

typedef struct collector__sender collector__sender;

/* Open (or reopen, keeping what a previous run left) the queue. Nothing is
 * sent until collector__sender_start. */
int collector__sender_new(const collector__sender_opts *o, collector__sender **out, lk_diag *d);
/* Stops the thread; what is still queued stays on disk. NULL is fine. */
void collector__sender_free(collector__sender *s);
/* Queue one request body (copied) carrying nitems, and wake the thread. */
int collector__sender_put(collector__sender *s, const uint8_t *body, size_t len, uint64_t nitems);
int collector__sender_start(collector__sender *s); /* LK_EEXIST when running, -errno if no thread */
void collector__sender_stop(collector__sender *s);
/* Wait until the queue is empty or timeout_ms passes: 0 or LK_ETIMEOUT. */
int collector__sender_flush(collector__sender *s, int timeout_ms);
void collector__sender_stats_get(collector__sender *s, collector__sender_stats *out);

#endif
