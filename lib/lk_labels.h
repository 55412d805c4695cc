/* lk_labels.h — label sets, the identity of a series.
 *
 * A label set is an array of (name, value) pairs of borrowed NUL-terminated
 * strings, sorted by name with unique names when "canonical". These functions
 * never copy or free the strings; whoever built the array owns them.
 */
#ifndef LK_LABELS_H
#define LK_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"

typedef struct lk_label {
  const char *name;
  const char *value;
} lk_label;

/* One sample: time in ms since the epoch, any float64 bit pattern. */
typedef struct lk_sample {
  int64_t t;
  double v;
} lk_sample;

/* A series with samples, as parsers produce and storage consumes it.
 * All pointers are borrowed from whoever built it (usually an arena). */
typedef struct lk_series {
  const lk_label *labels; /* any order; names unique */
  size_t nlabels;
  const lk_sample *samples; /* in time order */
  size_t nsamples;
} lk_series;

/* Sort by name (stable for equal names, so duplicates stay detectable). */
void lk_labels_sort(lk_label *ls, size_t n);
/* Lexicographic order over (name, value) pairs, as Prometheus sorts series. */
int lk_labels_cmp(const lk_label *a, size_t na, const lk_label *b, size_t nb);
bool lk_labels_equal(const lk_label *a, size_t na, const lk_label *b, size_t nb);
uint64_t lk_labels_hash(const lk_label *ls, size_t n);
/* Value of `name`, or NULL. Linear; label sets are small. */
const char *lk_labels_get(const lk_label *ls, size_t n, const char *name);

bool lk_label_name_valid(const char *s);  /* [a-zA-Z_][a-zA-Z0-9_]* */
bool lk_metric_name_valid(const char *s); /* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool lk_utf8_valid(const char *s, size_t n);

/* Append `name{a="b",...}` (exposition/PromQL syntax, values escaped). */
void lk_labels_format(lk_buf *out, const lk_label *ls, size_t n);

#endif
