/* promql.h — Lookout's PromQL engine: parse, evaluate, results.
 *
 * The engine reads data through a small vtable (promql_queryable), so it can
 * run over the real tsdb (promql_queryable_tsdb) or over an in-memory store
 * (promql_mem, used by unit tests). A query loads each selector's whole
 * needed time range once, then steps over the arrays; an instant query is a
 * range query with one step.
 *
 * Semantics follow Prometheus 3.x float PromQL: 5 m lookback, left-open
 * windows (t−range, t], stale markers end series, delayed __name__ removal.
 * Native histograms are not supported.
 *
 * Threads: a promql_expr is immutable after parsing and may be evaluated from
 * several threads at once; each evaluation owns its own scratch arena. A
 * large range-function call runs half its series on one short-lived helper
 * thread (funcs_range.c), joined before the call returns.
 */
#ifndef PROMQL_H
#define PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"
#include "lib/lk_labels.h"
#include "tsdb/tsdb.h"

/*---- Storage access ----*/

/* One series as a queryable returns it: labels sorted by name, samples in
 * ascending unique time order within [mint, maxt] (stale markers included). */
typedef tsdb_series promql_series_in;

#define PROMQL_ROLLUP_SLOTS TSDB_ROLLUP_SLOTS

/* Optional bucket summaries for long ranges, with tsdb_select_rollup's
 * contract (LK_ENOENT: cannot answer this range exactly). */
typedef struct promql_rollups {
  int (*select)(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt, int64_t res,
                uint64_t max_series, void **out_set, lk_diag *d);
  size_t (*count)(void *set);
  /* as tsdb_rollup_get: slot < PROMQL_ROLLUP_SLOTS; calls with different
   * slots may run at once on different threads */
  int (*get)(void *set, size_t i, unsigned slot, tsdb_rollup_series *out, lk_diag *d);
  void (*release)(void *set);
} promql_rollups;

/* The data source. select returns an opaque result set that stays valid (and
 * its series/labels/arrays borrowed) until release. Regex matchers are fully
 * anchored. max_samples 0 = unlimited; exceeding it returns LK_ELIMIT. */
typedef struct promql_queryable {
  void *ctx;
  int (*select)(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                uint64_t max_series, uint64_t max_samples, void **out_set, lk_diag *d);
  size_t (*count)(void *set);
  const promql_series_in *(*get)(void *set, size_t i);
  void (*release)(void *set);
  const promql_rollups *rollups; /* NULL: raw samples only */
  /* The data version, as tsdb_changed_since: returns the current one and
   * sets [*lo, *hi] to cover the sample times changed after version
   * `since` (*lo > *hi: none). NULL: results are never cached. */
  uint64_t (*version)(void *ctx, uint64_t since, int64_t *lo, int64_t *hi);
} promql_queryable;

/* In-memory store: a sorted list of series, for tests and the conformance
 * runner. Not thread-safe while appending. */
typedef struct promql_mem promql_mem;
promql_mem *promql_mem_new(void);
void promql_mem_free(promql_mem *m); /* NULL is fine */
/* Add samples to the series with these labels (copied; any order). Samples
 * must be in time order; a sample at an existing timestamp replaces it. */
int promql_mem_add(promql_mem *m, const lk_label *ls, size_t n, const lk_sample *s, size_t ns,
                   lk_diag *d);
/* A queryable reading m (borrowed for the queryable's lifetime). */
promql_queryable promql_mem_queryable(promql_mem *m);
/* A queryable over tsdb_select (db borrowed); with rollups, range functions
 * that allow it read tsdb_select_rollup instead (same results, bit for bit). */
promql_queryable promql_queryable_tsdb(tsdb *db);

/*---- Parsing ----*/

typedef struct promql_expr promql_expr;

/* Parse a query. Errors: LK_EPARSE with a diag "1:5: parse error: ..."
 * naming the line:column and what was expected (Prometheus's wording). */
int promql_parse(const char *query, promql_expr **out, lk_diag *d);
void promql_expr_free(promql_expr *e); /* NULL is fine */

/*---- Result cache ----*/

/* Results of repeated queries (promql/qcache.c), used when
 * promql_opts.cache is set and the queryable has a version: an entry is
 * found by the same query text, times, lookback and limits, and answers
 * while no data change since it was computed touches the times it read (so
 * a query over an older range keeps hitting while recent samples are
 * written). A range query whose steps are independent (no `@`, no
 * start()/end()/range()/step()) is found by its step's grid instead of its
 * bounds: the steps it shares with the entry that no change reaches are
 * reused, and only the others evaluated. Either way the answer is
 * bit-identical to what an evaluation would return; the sample limit
 * applies to what is evaluated. Least recently used entries go once the results held
 * exceed budget_bytes; one result over a quarter of it is not kept.
 * Thread-safe; free it after every evaluation that uses it has ended. */
typedef struct promql_cache promql_cache;
int promql_cache_new(uint64_t budget_bytes, promql_cache **out);
void promql_cache_free(promql_cache *c); /* NULL is fine */

/*---- Evaluation ----*/

typedef struct promql_opts {
  int64_t lookback_ms;     /* default 5 m */
  int64_t timeout_ms;      /* default 2 min; exceeding → LK_ETIMEOUT */
  uint64_t max_samples;    /* samples loaded + points held; default 50,000,000 → LK_ELIMIT */
  uint64_t max_series;     /* series per selector / result; default 1,000,000 → LK_ELIMIT */
  int64_t max_points;      /* steps per range query; default 11,000 → LK_EINVAL */
  struct promql_cache *cache; /* result cache (borrowed), or NULL = none */
} promql_opts;

enum promql_type { PROMQL_SCALAR, PROMQL_STRING, PROMQL_VECTOR, PROMQL_MATRIX };

/* A result series: labels sorted by name; for a vector exactly one point
 * (t = evaluation time); for a matrix the present points in time order. */
typedef struct promql_series {
  lk_label *labels;
  size_t nlabels;
  int64_t *t;
  double *v;
  size_t n;
} promql_series;

/* Read-only result; free with promql_result_free. Matrix series are sorted
 * by label set; vector series are in evaluation order (sort/topk order is
 * meaningful). warnings/infos are annotation texts. */
typedef struct promql_result {
  enum promql_type type;
  int64_t t;                /* scalar/string/vector: evaluation time */
  double scalar;
  char *string;
  promql_series *series;
  size_t nseries;
  char **warnings;
  size_t nwarnings;
  char **infos;
  size_t ninfos;
} promql_result;

/* Evaluate at one time (ms). Errors: LK_EEXEC (evaluation error, e.g.
 * many-to-many matching), LK_ETIMEOUT, LK_ELIMIT, storage errors; the diag
 * holds the message. */
int promql_eval_instant(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
                        int64_t t, promql_result **out, lk_diag *d);
/* Evaluate at start, start+step, ... ≤ end; always returns a matrix.
 * A string-typed expression is LK_EINVAL. */
int promql_eval_range(const promql_queryable *q, const promql_opts *o, const promql_expr *e,
                      int64_t start, int64_t end, int64_t step, promql_result **out, lk_diag *d);
void promql_result_free(promql_result *r); /* NULL is fine */

/* For Prometheus's @-invariance check: a new expression (free it) with
 * `@ t_ms` on every selector and subquery not already pinned to a fixed
 * time; what lies inside subqueries is left alone. *out is NULL (and 0 is
 * returned) when e calls a function whose value follows the evaluation time
 * even with pinned arguments: time(), timestamp(), hour(), predict_linear(),
 * start()/end()/range()/step() and the other calendar functions. */
int promql_expr_pin_at(const promql_expr *e, int64_t t_ms, promql_expr **out, lk_diag *d);

/*---- Test-file series notation (promqltest `load`, promtool input_series) ----*/

struct lk_arena;

enum { PROMQL_SLOT_EMPTY = 0, PROMQL_SLOT_FLOAT = 1, PROMQL_SLOT_HIST = 2 };
#define PROMQL_SERIES_MAX_VALUES 10000000

/* Expand a value sequence in expanding notation (`1+1x10`, `-2+4x3`, `1x5`,
 * `_`, `_x3`, `stale`, `{{…}}`) into slots: values in *v, states
 * (PROMQL_SLOT_*) in *ok, both malloc'ed (free them), *n slots. A stale
 * marker is a float slot holding the stale NaN. Histogram items only mark
 * PROMQL_SLOT_HIST slots and set *hist. Errors: LK_EPARSE with d naming the
 * place (nothing returned). */
int promql_parse_series_values(const char *s, double **v, uint8_t **ok, size_t *n, bool *hist,
                               lk_diag *d);
/* `name{a="b",...}`, `{...}` or `name`: the labels (incl. __name__) sorted
 * into *out, strings and array in a. Returns the rest of s, or NULL on a
 * syntax error. */
const char *promql_parse_series_labels(const char *s, struct lk_arena *a, lk_label **out,
                                       size_t *out_n);

#endif
