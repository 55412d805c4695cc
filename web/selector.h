/* selector.h — series selectors for match[] parameters:
 * `name`, `name{a="b",c=~"d.*"}`, `{__name__="x",…}`, `{"utf8.name","l.x"!="v"}`.
 *
 * A small parser of the PromQL vector-selector grammar only (no offsets,
 * ranges or functions), kept here so the metadata endpoints do not depend on
 * the full PromQL parser. Strings use PromQL's syntax: double or single
 * quotes with Go escapes (\\ \" \' \n \t \r \a \b \f \v, \xHH, \NNN octal,
 * \uXXXX, \UXXXXXXXX) or back-quoted raw strings.
 */
#ifndef WEB_SELECTOR_H
#define WEB_SELECTOR_H

#include <stddef.h>

#include "lib/lk_alloc.h"
#include "lib/lk_err.h"
#include "tsdb/tsdb.h"

/* Parse one selector. OUT *out: an arena array of *n matchers with arena
 * strings (the metric name, if any, first as __name__="…"). Errors:
 * LK_EPARSE with a diag "1:COL: parse error: …"; a selector whose every
 * matcher matches the empty label (e.g. `{a=""}`) is LK_EPARSE too, with
 * Prometheus's wording. Out-params untouched on failure. */
int web__selector_parse(const char *s, lk_arena *a, tsdb_matcher **out, size_t *n, lk_diag *d);

#endif
