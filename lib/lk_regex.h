/* lk_regex.h — RE2-flavoured regexes on top of POSIX regcomp (REG_EXTENDED).
 *
 * Prometheus regexes are RE2 and fully anchored. We translate the common
 * RE2-only spellings (\d \w \s and their negations, (?:...), (?i) and
 * (?i:...) — expanded to [xX] classes —, lazy quantifiers *? +? ??) to
 * POSIX ERE and anchor with ^(...)$.
 * Known differences: POSIX matching is leftmost-longest, so capture groups
 * after lazy quantifiers may bind differently; Unicode classes (\pL),
 * \b, \A, \z, named groups and other flags are not supported (compile error).
 */
#ifndef LK_REGEX_H
#define LK_REGEX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* Compile re anchored as ^(re)$. Returns 0, or nonzero with a message in
 * err (a regerror text, or "unsupported regular expression syntax"). */
int lk_regex_compile(const char *re, regex_t *out, char *err, size_t errn);
/* Same, and fill map[g] (g < maxmap) with the regmatch_t index of the
 * user's capture group g (map[0] = 0, the whole match; SIZE_MAX when the
 * regex has fewer groups). Needed because the wrapper and translated
 * (?:...) groups shift POSIX group numbers. */
int lk_regex_compile_groups(const char *re, regex_t *out, size_t *map, size_t maxmap, char *err,
                            size_t errn);
/* 0 if re compiles; message in err otherwise. */
int lk_regex_check(const char *re, char *err, size_t errn);
/* Whether the anchored regex matches "" (false when it does not compile). */
bool lk_regex_matches_empty(const char *re);

#endif
