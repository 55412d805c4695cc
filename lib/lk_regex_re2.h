/* lk_regex_re2.h — lib-internal: the C view of the RE2 shim (lk_regex_re2.cc).
 * Only lk_regex.c includes this; everything else uses lib/lk_regex.h. */
#ifndef LK_REGEX_RE2_H
#define LK_REGEX_RE2_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lk__re2 lk__re2;

/* RE2::ErrorPatternTooLarge: the program exceeds max_mem. */
#define LK__RE2_ETOOLARGE 15

/* Compile pattern[0..n) (UTF-8, leftmost-first, no logging, memory bounded by
 * max_mem). dot_nl: `.` also matches \n. On failure returns NULL, sets *code
 * to RE2's ErrorCode (always nonzero) and copies the offending part of the
 * pattern, NUL-terminated and truncated, into arg[argn]. */
lk__re2 *lk__re2_new(const char *pattern, size_t n, bool dot_nl, long max_mem, int *code, char *arg,
                     size_t argn);
void lk__re2_free(lk__re2 *re);
/* Capturing groups, not counting the whole match. */
size_t lk__re2_ngroups(const lk__re2 *re);
/* Call fn(ctx, index, name) for every named group. */
void lk__re2_names(const lk__re2 *re, void (*fn)(void *ctx, size_t g, const char *name), void *ctx);
/* Match s[0..n) (anchored at both ends, or anywhere). When nm > 0, fill
 * start[i]/end[i] (byte offsets, -1 for a group that took no part) for the
 * whole match (i = 0) and groups 1..nm-1. */
bool lk__re2_match(const lk__re2 *re, const char *s, size_t n, bool anchored, long *start, long *end,
                   size_t nm);

#ifdef __cplusplus
}
#endif

#endif
