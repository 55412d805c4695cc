/* lk_expo.h — streaming parser (and small writer) for the Prometheus text
 * exposition format 0.0.4, accepting OpenMetrics 1.0 input where cheap.
 *
 * Built for bulk import: the parser is fed arbitrary byte chunks (already
 * decompressed; see lk_gzip.h for a streaming gunzip), parses complete lines
 * in place in the caller's chunk (only a line split across chunks is copied),
 * and hands each sample to a callback with the RAW series text
 * (`name{a="b",...}` exactly as in the line). Labels are NOT parsed on this
 * path: the caller keeps a cache keyed by those bytes and calls
 * lk_expo_parse_series on a miss, which fully validates that text. Since the
 * validity of a series text depends only on its bytes, every line's syntax is
 * still fully validated: series text once per distinct text (by the caller),
 * value, timestamp and trailing bytes on every line (here).
 *
 * Line syntax accepted (lenient where Prometheus' scrape parser is lenient):
 *   - blank or blank-only lines are ignored; a trailing '\r' is dropped (CRLF);
 *     leading blanks are skipped; blanks = ' ' and '\t';
 *   - `# HELP name text`, `# TYPE name type`, `# UNIT name unit` (validated;
 *     types of both formats accepted; a later TYPE replaces an earlier one, as
 *     Prometheus' scraper does not reject it; `type` of a sample comes from
 *     the latest TYPE whose name is the sample's name or name + _total,
 *     _created, _bucket, _sum, _count, _gcount, _gsum, _info); any other `#`
 *     line is a comment — in OpenMetrics mode `# EOF` ends the input, and
 *     anything but blank lines after it is an error;
 *   - sample: `name[{labels}] value [timestamp]` [OpenMetrics exemplar
 *     ` # {labels} value [ts]`, validated and ignored]; the series text may
 *     also be `{"quoted.name",...}` (UTF-8 names). Value: Go ParseFloat syntax
 *     (decimal, exponent, hex floats with a p exponent, NaN/Inf/Infinity with
 *     any case and sign), parsed bit-exactly. Timestamp: int64 milliseconds
 *     (OpenMetrics mode: float seconds, converted to ms, rounding to nearest).
 */
#ifndef LK_EXPO_H
#define LK_EXPO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

enum {
  LK_EXPO_UNTYPED = 0, /* also OpenMetrics `unknown`, and no TYPE seen */
  LK_EXPO_COUNTER,
  LK_EXPO_GAUGE,
  LK_EXPO_HISTOGRAM,
  LK_EXPO_SUMMARY,
  LK_EXPO_GAUGEHISTOGRAM, /* OpenMetrics */
  LK_EXPO_INFO,           /* OpenMetrics */
  LK_EXPO_STATESET,       /* OpenMetrics */
};

typedef struct lk_expo_sample {
  const char *series; size_t series_len;  /* raw `name{a="b",...}` text, borrowed for the callback */
  double value; int64_t t_ms; int has_t;   /* t_ms only when has_t */
  uint64_t line;                           /* 1-based line number in the stream */
  int type;                                /* LK_EXPO_* from the family's # TYPE, if seen */
} lk_expo_sample;

/* Called once per sample line, in input order. A nonzero return stops
 * parsing: lk_expo_feed/finish then return it if negative, else LK_ECANCELED.
 * To report why, lk_diag_set the diag the caller passes to lk_expo_feed (the
 * first message set wins, so the parser's generic one does not replace it). */
typedef int (*lk_expo_cb)(void *ctx, const lk_expo_sample *s);

typedef struct lk_expo lk_expo; /* opaque; one stream, one thread */

/* New parser for one stream. max_line: longest accepted line in bytes without
 * its '\n' (a '\r' counts; 0 means 1 MiB); memory held is about max_line.
 * Never returns NULL. */
lk_expo *lk_expo_new(lk_expo_cb cb, void *ctx, size_t max_line);
/* OpenMetrics mode (call before the first feed): timestamps are float seconds. */
void lk_expo_set_openmetrics(lk_expo *p, int on);
/* Parse data[0..n); lines may span calls. Returns 0, LK_EPARSE (diag
 * "line N: <what>", offset = byte offset of the line start in the stream),
 * LK_ELIMIT ("line N: longer than M bytes"), or the callback's stop value.
 * Errors are sticky: later feed/finish calls return the same code. Samples
 * before the bad line have already been delivered. */
int lk_expo_feed(lk_expo *p, const uint8_t *data, size_t n, lk_diag *d);
/* End of stream: parses a final line that has no newline. */
int lk_expo_finish(lk_expo *p, lk_diag *d);
void lk_expo_free(lk_expo *p); /* NULL is fine */
uint64_t lk_expo_lines(const lk_expo *p); /* lines completed so far */

/* Parse raw series text into labels: OUT *out is an arena array of *n labels
 * with arena-owned NUL-terminated strings, escapes resolved (\\ \" \n; other
 * backslash pairs kept verbatim, as Prometheus does), sorted by name,
 * `__name__` included; labels with an empty value are dropped (Prometheus
 * semantics). Errors (LK_EPARSE, diag with the byte offset in the text):
 * missing/invalid metric name, invalid label name, missing '=', unterminated
 * quote, invalid UTF-8, duplicate label, trailing bytes. Out-params untouched
 * on failure. */
int lk_expo_parse_series(const char *text, size_t len, lk_arena *arena, lk_label **out,
                         size_t *n, lk_diag *d);

/* Go strconv.ParseFloat(s, 64) syntax over s[0..n) (no surrounding blanks;
 * no underscores), exact (bit-identical to a correctly rounded strtod).
 * Returns 0 or LK_EPARSE (also for out-of-range magnitudes, as Go does). */
int lk_parse_go_float(const char *s, size_t n, double *out);

/*---- Writer for /metrics pages ----*/

/* Value as Prometheus writes it: shortest round-trip %g form, NaN, +Inf, -Inf. */
void lk_expo_write_value(lk_buf *out, double v);
/* `# HELP name text\n` with \\ and \n escaped. */
void lk_expo_write_help(lk_buf *out, const char *name, const char *help);
/* `# TYPE name type\n` (type one of LK_EXPO_*; untyped for unknown codes). */
void lk_expo_write_type(lk_buf *out, const char *name, int type);
/* `name{labels} value[ timestamp]\n`. `name` may be NULL to take __name__ from
 * the labels; labels other than __name__ are written in the given order. */
void lk_expo_write_sample(lk_buf *out, const char *name, const lk_label *ls, size_t n, double v,
                          int64_t t_ms, int has_t);

#endif
