/* select_int.h — tsdb-internal: compiled matchers and sorted id sets used
 * by select.c and labels.c (defined in matchers.c). */
#ifndef TSDB_SELECT_INT_H
#define TSDB_SELECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_regex.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_int.h"

typedef struct tsdb__cmatcher {
  enum tsdb_match type;
  const char *name, *value; /* borrowed from the caller's matcher */
  lk_regex *re;             /* TSDB_RE / TSDB_NRE, anchored */
  const char *const *alts;  /* literal alternatives (`a|b|c`), owned by re; else NULL */
  size_t nalts;
  bool matches_empty;
} tsdb__cmatcher;

int tsdb__matcher_compile(const tsdb_matcher *m, tsdb__cmatcher *c, lk_diag *d);
void tsdb__matcher_fini(tsdb__cmatcher *c);
bool tsdb__matcher_match(const tsdb__cmatcher *c, const char *v);

/* Block samples straight into caller memory (block_read.c). The bound is
 * the sample count of the chunks overlapping [mint, maxt], an upper bound of
 * what tsdb__block_samples_into writes (LK_ECORRUPT for an impossible
 * chunk count); that writes the samples in [mint, maxt] in chunk order to
 * t/v (room for cap) and sets *n. c: the block's frame cache. */
int tsdb__block_bound(const tsdb__bseries *s, int64_t mint, int64_t maxt, size_t *out);
int tsdb__block_samples_into(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                             tsdb__fcache *c, int64_t *t, double *v, size_t cap, size_t *n);

/* Timestamp columns shared by the series of one select result (tcols.c):
 * a column is added once under a key that determines its content, and is
 * found by that key. Pointers stay valid until tsdb__tcols_free. Safe for
 * concurrent readers (an internal leaf mutex). */
typedef struct tsdb__tcols tsdb__tcols;
tsdb__tcols *tsdb__tcols_new(void);
void tsdb__tcols_free(tsdb__tcols *c); /* NULL is fine */
/* The column stored under key (and its length in *n), or NULL. */
const int64_t *tsdb__tcols_find(tsdb__tcols *c, const lk_buf *key, size_t *n);
/* Store a copy of t[0..n) under key; returns it, or the column another
 * reader stored under the same key meanwhile. */
const int64_t *tsdb__tcols_add(tsdb__tcols *c, const lk_buf *key, const int64_t *t, size_t n);

/* One reader's scratch for tsdb__block_samples_shared: decoded timestamps
 * (cap of them) and the key being built. Zero-initialise; free t and key. */
typedef struct tsdb__tscratch {
  int64_t *t;
  size_t cap;
  lk_buf key;
} tsdb__tscratch;

/* As tsdb__block_samples_into, but the timestamps are not written to the
 * caller: *t is the result's shared column with them (keyed by the encoded
 * timestamp sections read, so series scraped together share one). */
int tsdb__block_samples_shared(const tsdb__block *b, const tsdb__bseries *s, int64_t mint, int64_t maxt,
                               tsdb__fcache *c, tsdb__tcols *tc, tsdb__tscratch *sc, double *v, size_t cap,
                               const int64_t **t, size_t *n);

/* Ascending unique uint32 ids. Zero-initialise. */
typedef struct tsdb__ids {
  uint32_t *v;
  size_t n, cap;
} tsdb__ids;

/* Compile a selector's matchers as tsdb_select does (at least one must not
 * match ""); free each with tsdb__matcher_fini, then the array. */
int tsdb__select_compile(const tsdb_matcher *m, size_t nm, tsdb__cmatcher **out, lk_diag *d);
/* Ids of the block's series matching every matcher (select.c). */
int tsdb__block_ids(const tsdb__block *b, const tsdb__cmatcher *cm, size_t nm, tsdb__ids *out);

void tsdb__ids_fini(tsdb__ids *s);
void tsdb__ids_append(tsdb__ids *s, const uint32_t *ids, size_t n);
void tsdb__ids_sort_unique(tsdb__ids *s);
void tsdb__ids_intersect(tsdb__ids *a, const tsdb__ids *b);
void tsdb__ids_subtract(tsdb__ids *a, const tsdb__ids *b);

#endif
