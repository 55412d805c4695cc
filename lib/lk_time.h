/* lk_time.h — clocks and the time/duration syntaxes of the Prometheus API.
 * Metric time is int64 milliseconds since the epoch throughout Lookout. */
#ifndef LK_TIME_H
#define LK_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/lk_err.h"

int64_t lk_now_ms(void);      /* wall clock */
int64_t lk_mono_ns(void);     /* monotonic, for timing */
/* The absolute time ms from now on clock (CLOCK_REALTIME, or the
 * CLOCK_MONOTONIC a condition variable was set up with), normalised, for
 * pthread_cond_timedwait. */
struct timespec lk_deadline(clockid_t clock, int64_t ms);

/* RFC 3339 UTC with milliseconds, "2026-12-06T08:48:13.151Z" (as the
 * Prometheus API writes times, e.g. activeAt); out holds LK_RFC3339_MAX
 * bytes. Returns the length. */
#define LK_RFC3339_MAX 32
size_t lk_fmt_rfc3339(char *out, int64_t ms);

/* Prometheus duration: `1h30m`, `5m1ms`, units ms s m h d w y, decreasing
 * order; a bare `0` is accepted. Returns LK_EPARSE (diag says why). */
int lk_parse_duration(const char *s, int64_t *out_ms, lk_diag *d);

/* API time parameter: RFC 3339 (`2026-11-22T05:00:00.5Z`, offsets allowed) or
 * Unix seconds with optional fraction (`1700000000.123`). Rounded to ms. */
int lk_parse_time(const char *s, int64_t *out_ms, lk_diag *d);

/* `2026-11-22T05:00:00Z`: RFC 3339 in UTC, whole seconds (as Kubernetes
 * writes timestamps); n >= 21. */
void lk_time_rfc3339(int64_t ms, char *out, size_t n);

/* API duration parameter (`step`, `timeout`): a duration or float seconds. */
int lk_parse_step(const char *s, int64_t *out_ms, lk_diag *d);

#endif
