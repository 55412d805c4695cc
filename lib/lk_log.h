/* lk_log.h — one line per event, with a level, to stderr.
 *
 * Format: `ts=2026-11-22T05:00:00.123Z level=info msg="..."`. Debug lines are
 * printed only when the environment has LOOKOUT_DEBUG set. Thread-safe: each
 * line is written with one write(2).
 */
#ifndef LK_LOG_H
#define LK_LOG_H

enum lk_level { LK_DEBUG, LK_INFO, LK_WARN, LK_ERROR };

void lk_log(enum lk_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lk_debug(...) lk_log(LK_DEBUG, __VA_ARGS__)
#define lk_info(...) lk_log(LK_INFO, __VA_ARGS__)
#define lk_warn(...) lk_log(LK_WARN, __VA_ARGS__)
#define lk_error(...) lk_log(LK_ERROR, __VA_ARGS__)

#endif
