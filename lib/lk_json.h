/* lk_json.h — JSON output helpers in the exact shapes of the Prometheus API.
 *
 * Everything appends to an lk_buf; nothing allocates besides the buffer.
 * Number formats (specs/prometheus-facts.md §1):
 *   - sample values (vector/matrix): a JSON string with the shortest digits
 *     that round-trip the float64, plain notation, exponent form when
 *     |v| < 1e-6 or |v| >= 1e21 ("1e-07", "1.5e+21"); "NaN", "+Inf", "-Inf";
 *   - sample timestamps (vector/matrix): a JSON number of seconds, with a
 *     '.' and exactly three digits only when the milliseconds are non-zero;
 *   - scalar/string results: the timestamp is the plain shortest float of
 *     ms/1000 ("1000.05") and a scalar value is the shortest plain notation
 *     without exponent ("0.0000001").
 */
#ifndef LK_JSON_H
#define LK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_labels.h"

/* Longest text lk_fmt_* can produce, including the NUL (a plain-notation
 * denormal needs ~330 characters). */
#define LK_FMT_FLOAT_MAX 400

/* Shortest round-trip text of v in the sample-value notation (no quotes).
 * Writes into out (LK_FMT_FLOAT_MAX bytes); returns the length. */
size_t lk_fmt_value(char *out, double v);
/* Shortest round-trip text of v in plain notation, never an exponent. */
size_t lk_fmt_plain(char *out, double v);
/* Shortest round-trip text of v always with an exponent, as Go's
 * strconv.FormatFloat(v, 'e', -1, 64): "1.5e+06", "NaN", "+Inf". */
size_t lk_fmt_exp(char *out, double v);

/* "…" with JSON escaping; invalid UTF-8 bytes become U+FFFD. */
void lk_json_str(lk_buf *b, const char *s);
void lk_json_strn(lk_buf *b, const char *s, size_t n);
/* {"name":"value",…} in the given order. */
void lk_json_labels(lk_buf *b, const lk_label *ls, size_t n);
/* Vector/matrix point parts. */
void lk_json_sample_ts(lk_buf *b, int64_t ms);
void lk_json_sample_value(lk_buf *b, double v);      /* quoted */
/* [<ts>,"<v>"] for vector/matrix points. */
void lk_json_point(lk_buf *b, int64_t ms, double v);
/* n points [t[i],"v[i]"] separated by commas (no enclosing brackets): the
 * body of a matrix series' "values", byte for byte what n lk_json_point
 * calls joined by ',' write. */
void lk_json_points(lk_buf *b, const int64_t *t, const double *v, size_t n);
/* Scalar/string result parts. */
void lk_json_scalar_ts(lk_buf *b, int64_t ms);
void lk_json_scalar_value(lk_buf *b, double v);      /* quoted */

#endif
