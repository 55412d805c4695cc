/* lk_regex.h — Lookout's one regular-expression engine: RE2 (Go regexp
 * syntax and semantics) behind a small C API.
 *
 * Syntax is Go's/RE2's: Perl classes \d \w \s \b, Unicode classes \pL
 * \p{Greek}, flags (?i) (?s) (?m) (?U), lazy quantifiers, named groups
 * (?P<n>…) and (?<n>…). Matching is leftmost-first (Go), UTF-8, in time
 * linear in the input; no backreferences or lookaround.
 *
 * Two modes:
 *  - LK_REGEX_ANCHORED: label matchers and label_replace, as Prometheus 3
 *    and Loki compile them (`^(?s:re)$`): the whole value must match and `.`
 *    also matches \n (Prometheus 2.x left \n out).
 *  - LK_REGEX_UNANCHORED: LogQL line filters and the `regexp` parser, as
 *    Loki compiles them: a match anywhere, `.` does not match \n.
 *
 * A compiled lk_regex is immutable: any number of threads may match with it
 * at once. Subjects are (pointer, length) and need no NUL terminator.
 */
#ifndef LK_REGEX_H
#define LK_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/lk_err.h"

typedef struct lk_regex lk_regex;

enum lk_regex_mode { LK_REGEX_ANCHORED, LK_REGEX_UNANCHORED };

/* A match or group as byte offsets into the subject; -1/-1 when a group took
 * no part in the match. */
typedef struct lk_regex_span {
  long start, end;
} lk_regex_span;

/* Compile pattern (NUL-terminated). Returns 0 and the regex in *out (free
 * with lk_regex_free), or LK_EPARSE with d naming the pattern, the problem
 * and its byte offset, in Go's words, e.g.
 *   invalid regular expression "(": error parsing regexp: missing closing ): `(` (at offset 0)
 * or LK_ELIMIT when the program exceeds the memory bound. */
int lk_regex_compile(const char *pattern, enum lk_regex_mode mode, lk_regex **out, lk_diag *d);
void lk_regex_free(lk_regex *re); /* NULL is fine */
/* Validate a label-matcher pattern (anchored) without keeping it: 0 or the
 * lk_regex_compile error. When empty is non-NULL, it gets whether the
 * pattern matches the empty string (a matcher for absent labels). */
int lk_regex_check(const char *pattern, bool *empty, lk_diag *d);

/* Whether s[0..n) matches (whole of it when anchored, anywhere otherwise). */
bool lk_regex_match(const lk_regex *re, const char *s, size_t n);
/* Like lk_regex_match, and on a match fill m[0] (the whole match) and
 * m[1..nm-1] (groups 1..nm-1; groups beyond lk_regex_groups are -1/-1). */
bool lk_regex_find(const lk_regex *re, const char *s, size_t n, lk_regex_span *m, size_t nm);
/* Whether the regex matches the empty string. */
bool lk_regex_matches_empty(const lk_regex *re);

/* Number of capturing groups (not counting the whole match). */
size_t lk_regex_groups(const lk_regex *re);
/* Name of group g (1-based), or NULL for an unnamed group or g out of range. */
const char *lk_regex_group_name(const lk_regex *re, size_t g);
/* Index of the group called name, or 0 when there is none. */
size_t lk_regex_group_index(const lk_regex *re, const char *name);

/* When an anchored pattern is only literal alternatives (`a|b|c`, no
 * metacharacter), returns them (owned by re) and their count in *n, so
 * callers can look the values up directly; NULL otherwise. Matching such a
 * regex compares strings and never runs RE2. */
const char *const *lk_regex_alternatives(const lk_regex *re, size_t *n);

/* Literal byte runs every match of pattern contains (unanchored or not),
 * each passed to fn, for prefilters and bloom probes. Conservative: nothing
 * for top-level alternation or case-folding flags; a run ends at any
 * class, group, escape other than escaped punctuation, or quantifier. */
void lk_regex_literals(const char *pattern, void (*fn)(void *ctx, const char *p, size_t n), void *ctx);

#endif
