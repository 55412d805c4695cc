/* queue.h — the push path's bounded on-disk queue (see queue.c for the
 * file layout and bound). Internal to collector/; thread-safe. */
#ifndef COLLECTOR_QUEUE_H
#define COLLECTOR_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"

typedef struct collector__queue collector__queue;

/* Open dir (created if missing), loading requests a previous run left. */
int collector__queue_open(const char *dir, uint64_t max_bytes, collector__queue **out, lk_diag *d);
void collector__queue_close(collector__queue *q); /* files stay; NULL is fine */
/* Append a request (copied to disk); drops the oldest to stay in bound.
 * LK_ETOOBIG when the request alone exceeds the bound (counted as dropped). */
int collector__queue_put(collector__queue *q, const uint8_t *body, size_t len, uint64_t nsamples);
/* The oldest request into body; LK_ENOENT when empty. */
int collector__queue_peek(collector__queue *q, lk_buf *body, uint64_t *seq, uint64_t *nsamples);
/* Remove the request peeked as seq (no-op if it was dropped meanwhile). */
void collector__queue_pop(collector__queue *q, uint64_t seq);
void collector__queue_stats_get(collector__queue *q, uint64_t *requests, uint64_t *bytes,
                            uint64_t *dropped_requests, uint64_t *dropped_samples);

#endif
