/* promql_int.h — shared internals of the PromQL engine: tokens, the AST,
 * and the evaluator's value representation. Nothing outside promql/
 * includes this file.
 *
 * AST nodes live in the promql_expr's arena and are immutable after parse.
 * Evaluation values live in a per-query arena: a vector value holds, for
 * every series, a dense array with one slot per step plus a presence map,
 * so each operator works over all steps at once and storage is read once.
 */
#ifndef PROMQL_INT_H
#define PROMQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "promql/kernels.h"
#include "promql/promql.h"

/*---- Lexer ----*/

enum pq_tok {
  T_EOF, T_ERR, T_IDENT, T_NUM, T_DUR, T_STR,
  T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_AT,
  /* operators */
  T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW, T_ATAN2,
  T_EQLC, T_NEQ, T_LTE, T_LSS, T_GTE, T_GTR, T_AND, T_OR, T_UNLESS,
  T_ASSIGN, T_EQ_REGEX, T_NEQ_REGEX,
};

typedef struct pq_token {
  enum pq_tok type;
  size_t pos, len;     /* byte offset and length in the query */
  double num;          /* T_NUM */
  int64_t dur_ms;      /* T_DUR */
  char *str;           /* T_STR (unescaped, arena) and T_IDENT (arena copy) */
} pq_token;

typedef struct pq_lexer {
  const char *src;
  size_t pos;
  lk_arena *a;
  lk_diag *d;
} pq_lexer;

/* Next token; T_ERR sets the diag. */
pq_token promql__lex(pq_lexer *lx);
/* "line:col" of a byte offset, into buf. */
void promql__linecol(const char *src, size_t pos, char *buf, size_t n);
/* Record "L:C: parse error: <msg>" and return LK_EPARSE. */
int promql__perr(lk_diag *d, const char *src, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *promql__tok_name(enum pq_tok t);

/*---- AST ----*/

enum pq_node {
  N_NUM, N_STR, N_SEL, N_SUBQ, N_CALL, N_AGG, N_BIN, N_NEG, N_PAREN,
};

enum pq_at { AT_NONE, AT_TIME, AT_START, AT_END };

/* Extended range selectors (experimental): `x[5m] anchored` adds the last
 * sample at or before the window start; `x[5m] smoothed` interpolates the
 * values at both window bounds (and `x smoothed` at the step time). */
enum pq_ext { EXT_NONE, EXT_ANCHORED, EXT_SMOOTHED };

/* A duration expression that depends on the query (step(), range()),
 * resolved at evaluation. op: 'c' constant ms, 's' step, 'r' range, 'n'
 * negate, + - * / % ^ (numbers are seconds, as in PromQL), 'm' min_of,
 * 'M' max_of. */
typedef struct pq_dexpr {
  char op;
  double ms;
  const struct pq_dexpr *l, *r;
} pq_dexpr;
double promql__dexpr_eval(const pq_dexpr *d, int64_t step_ms, int64_t range_ms);

enum pq_aggop {
  A_SUM, A_AVG, A_MIN, A_MAX, A_COUNT, A_GROUP, A_STDDEV, A_STDVAR, A_TOPK, A_BOTTOMK,
  A_QUANTILE, A_COUNT_VALUES, A_LIMITK, A_LIMIT_RATIO,
};

enum pq_card { CARD_ONE_ONE, CARD_MANY_ONE, CARD_ONE_MANY, CARD_MANY_MANY };

struct pq_func;

typedef struct pq_expr pq_expr;
struct pq_expr {
  enum pq_node kind;
  enum promql_type type;   /* static result type */
  size_t pos;              /* offset in the query */
  union {
    double num;
    const char *str;
    struct {               /* N_SEL: vector or range selector */
      const char *name;    /* metric name or NULL */
      tsdb_matcher *m;
      size_t nm;
      int64_t range;       /* 0 for an instant selector */
      int64_t offset;
      const pq_dexpr *range_x, *offset_x; /* when not constant */
      enum pq_at at;
      int64_t at_ms;
      enum pq_ext ext;
    } sel;
    struct {               /* N_SUBQ */
      pq_expr *e;
      int64_t range, step, offset; /* step 0 = default resolution */
      const pq_dexpr *range_x, *step_x, *offset_x; /* when not constant */
      enum pq_at at;
      int64_t at_ms;
    } subq;
    struct {               /* N_CALL */
      const struct pq_func *f;
      pq_expr **args;
      size_t nargs;
    } call;
    struct {               /* N_AGG */
      enum pq_aggop op;
      pq_expr *e, *param;
      const char **labels;
      size_t nlabels;
      bool without, grouped;
    } agg;
    struct {               /* N_BIN */
      enum pq_tok op;
      pq_expr *l, *r;
      bool ret_bool;
      bool matching;       /* on/ignoring given */
      bool on;
      const char **labels; /* on/ignoring list */
      size_t nlabels;
      enum pq_card card;
      const char **incl;   /* group_left/right extra labels */
      size_t nincl;
      bool fill_l, fill_r; /* fill_left/fill_right (fill sets both): value for a missing side */
      double fill_lv, fill_rv;
    } bin;
    pq_expr *inner;        /* N_NEG, N_PAREN */
  } u;
};

struct promql_expr {
  lk_arena *a;
  const char *src;         /* copy of the query text (for positions) */
  pq_expr *root;
};

/*---- Evaluation values ----*/

/* One series of an instant-vector value: a slot per step. */
typedef struct pq_series {
  lk_label *ls;          /* sorted by name; strings borrowed (arena/storage) */
  size_t nls;
  double *v;             /* nsteps */
  uint8_t *ok;           /* nsteps: 1 = point present */
  bool drop_name;        /* delayed __name__ removal */
} pq_series;

/* One series of a range-vector source: points in time order. */
typedef struct pq_rseries {
  lk_label *ls;
  size_t nls;
  int64_t *t;
  double *v;
  size_t n;
  bool drop_name;
} pq_rseries;

enum pq_vtype { V_SCALAR, V_STRING, V_VECTOR, V_MATRIX };

typedef struct pq_val {
  enum pq_vtype type;
  double *s;             /* V_SCALAR: nsteps values */
  const char *str;       /* V_STRING */
  pq_series *ser;        /* V_VECTOR */
  size_t n;
  pq_rseries *rs;        /* V_MATRIX: points cover every step's window */
  size_t nrs;
  int64_t range;         /* V_MATRIX: window length */
  enum pq_ext ext;       /* V_MATRIX: anchored/smoothed windows (points then also
                            cover up to a lookback before/after every window) */
  int64_t *eff;          /* V_MATRIX: window end per step (after @/offset) */
  bool raw;              /* V_MATRIX: stale markers still in the arrays (a range
                            selector's; promql__matrix_clean removes them) */
} pq_val;

typedef struct pq_sets {   /* storage result sets to release at the end */
  void **v;
  size_t n, cap;
} pq_sets;

typedef struct pq_ctx {
  lk_arena *a;
  const promql_queryable *q;
  const char *src;
  int64_t start, end, step;   /* this (sub)evaluation's steps */
  size_t nsteps;
  int64_t qstart, qend;       /* the outer query's start/end for start()/end() */
  int64_t qstep;              /* the outer query's step (0 for instant queries) */
  int64_t lookback;
  uint64_t max_samples, samples, max_series;
  int64_t deadline_ns;
  pq_sets *sets;
  lk_buf *warn, *info;        /* annotations, '\n'-separated */
  lk_diag *d;
} pq_ctx;

static inline int64_t pq_ts(const pq_ctx *c, size_t i) { return c->start + (int64_t)i * c->step; }

/* Evaluate a node into *out (arena). A range selector's matrix comes back
 * raw: consumers other than the range-function driver clean it first. */
int promql__eval(pq_ctx *c, const pq_expr *e, pq_val *out);
/* Remove stale markers from a raw matrix (and series left empty). */
void promql__matrix_clean(pq_ctx *c, pq_val *v);
/* The points of t, v that are not stale markers, into ot, ov; how many. */
size_t promql__drop_stale(const int64_t *t, const double *v, size_t n, int64_t *ot, double *ov);
/* An instant selector whose values are its samples' timestamps (seconds). */
int promql__eval_timestamp_sel(pq_ctx *c, const pq_expr *sel, pq_val *out);
int promql__eval_binop(pq_ctx *c, const pq_expr *e, pq_val *out);
int promql__eval_agg(pq_ctx *c, const pq_expr *e, pq_val *out);
int promql__eval_call(pq_ctx *c, const pq_expr *e, pq_val *out);
int promql__check_limits(pq_ctx *c, uint64_t more);
/* LK_ELIMIT with Prometheus' "too many samples" message (--query.max-samples). */
int promql__too_many_samples(pq_ctx *c);
int promql__exec_err(pq_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void promql__annotate(pq_ctx *c, bool warning, const pq_expr *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* v as Go's %g prints it in Prometheus's messages: shortest digits,
 * exponent form below 1e-4 or from 1e6, NaN/+Inf/-Inf. */
void promql__fmt_g(char out[32], double v);
/* The "quantile value should be between 0 and 1" warning for every step
 * of q outside [0, 1]. */
void promql__warn_quantile(pq_ctx *c, const pq_expr *arg, const double *q);

/* Allocation helpers. */
pq_series *promql__new_series(pq_ctx *c, size_t n);   /* n series with zeroed slots */
void promql__alloc_slots(pq_ctx *c, pq_series *s);
double *promql__scalar_arr(pq_ctx *c, double fill);

/*---- Labels ----*/

/* Copy of ls without __name__ (when drop), arena-allocated. */
lk_label *promql__labels_drop(pq_ctx *c, const lk_label *ls, size_t n, const char *name,
                              size_t *out_n);
/* ls with name=value set (value "" removes it); result sorted. */
lk_label *promql__labels_set(pq_ctx *c, const lk_label *ls, size_t n, const char *name,
                             const char *value, size_t *out_n);
/* Signature text over the labels included (on) or not excluded (!on). */
void promql__sig(lk_buf *b, const lk_label *ls, size_t n, const char **names, size_t nn, bool on);
bool promql__in_list(const char *s, const char **l, size_t n);

/* Result cache (qcache.c). An evaluation that may be stored reads storage
 * through a spy, which notes the data version before it starts and the span
 * of sample times its selects cover: the stored result stays valid while no
 * change after that version touches the span. Selects run on the
 * evaluating thread only, so the spy needs no lock. */
typedef struct pq_spy {
  const promql_queryable *in;
  promql_queryable q; /* evaluate over this */
  promql_rollups ro;
  uint64_t version;   /* read before the evaluation */
  int64_t lo, hi;     /* times selected (lo > hi: none) */
} pq_spy;
void promql__spy_init(pq_spy *s, const promql_queryable *in);
/* What a lookup found: r answers [start, end] whole (tail == INT64_MAX),
 * or holds its steps before `tail`, still valid, and the steps from tail
 * to end must be evaluated and spliced after them (promql__splice). A
 * range query's steps are reused one by one only when each step reads and
 * computes from its own time alone (no `@`, no start()/end()/range()/
 * step(), no duration from the query's range); changes since the entry was
 * computed must all lie after everything the reused steps read. version
 * and read_lo/hi describe r for storing the spliced result. */
typedef struct pq_hit {
  promql_result *r;
  int64_t tail;
  uint64_t version;
  int64_t read_lo, read_hi;
} pq_hit;
bool promql__cache_get(promql_cache *c, const promql_queryable *q, const promql_expr *x, const promql_opts *o,
                       int64_t start, int64_t end, int64_t step, bool range, pq_hit *out);
/* Store a copy of r, an evaluation of x through spy s. */
void promql__cache_put(promql_cache *c, const promql_expr *x, const promql_opts *o, int64_t start, int64_t end,
                       int64_t step, bool range, const pq_spy *s, const promql_result *r);
/* The matrix of head's steps followed by tail's later ones, series merged
 * by label set; frees both. */
promql_result *promql__splice(promql_result *head, promql_result *tail);

/* A string → index hash map in the arena. */
typedef struct pq_map {
  struct pq_map_ent { const char *k; size_t klen; uint64_t h; size_t v; } *e;
  size_t cap, n;
  lk_arena *a;
} pq_map;
void promql__map_init(pq_map *m, lk_arena *a, size_t hint);
/* Find key; if absent insert with value *v. Returns true when found (and
 * sets *v to the stored value). */
bool promql__map_get_or_put(pq_map *m, const char *k, size_t klen, size_t *v);

/* Merge series with equal label sets; error when two share a step. */
int promql__dedupe(pq_ctx *c, pq_val *v);
/* Final cleanup: remove __name__ from drop_name series; error on duplicates. */
int promql__finish_names(pq_ctx *c, pq_val *v);

/*---- Functions ----*/

enum pq_argt { ARG_SCALAR, ARG_VECTOR, ARG_MATRIX, ARG_STRING };

typedef struct pq_func {
  const char *name;
  enum pq_argt args[6];
  int nargs;            /* fixed count, or min when variadic */
  int variadic;         /* extra optional args allowed (-1 unlimited) */
  enum promql_type ret;
  int (*fn)(pq_ctx *c, const pq_expr *call, pq_val *args, pq_val *out);
} pq_func;

const pq_func *promql__func_lookup(const char *name);

/* Range-function evaluation over a matrix (funcs_range.c). */
int promql__eval_range_func(pq_ctx *c, const pq_expr *call, pq_val *args, pq_val *out);
/* Functions defined outside funcs.c (funcs_label.c, funcs_hist.c). */
int promql__fn_sort(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_sort_by_label(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_label_replace(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_label_join(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_histogram_quantile(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_histogram_quantiles(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);
int promql__fn_histogram_fraction(pq_ctx *c, const pq_expr *call, pq_val *a, pq_val *out);

/* Prometheus's extrapolated rate (is_rate) or increase of a counter window
 * (eff − range, eff] of n ≥ 2 points from (t0, first) to t1 whose counter
 * difference, drops re-added in point order, is result (funcs_range.c). */
double promql__counter_rate(int64_t t0, int64_t t1, size_t n, double first, double result, int64_t eff,
                            int64_t range, bool is_rate);
/* Answer a range-function call from storage rollups when they give exactly
 * what the raw samples would (rollup.c); *served false: evaluate it raw. */
int promql__rollup_call(pq_ctx *c, const pq_expr *call, pq_val *out, bool *served);

/* rate/increase/delta/changes/resets over an anchored or smoothed window
 * ending at eff (funcs_ext.c); false when the window yields no point. */
bool promql__ext_window(const char *name, enum pq_ext ext, const int64_t *t, const double *v,
                        size_t n, int64_t eff, int64_t range, int64_t lookback, double *out);

/* Numeric helpers shared by functions and aggregations. Inline: selectors
 * test every sample they load. */
static inline bool promql__is_stale(double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits == TSDB_STALE_NAN_BITS;
}

#endif
