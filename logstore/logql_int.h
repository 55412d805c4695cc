/* logql_int.h — the LogQL syntax tree shared by logql_parse.c and the
 * evaluator files. A parsed query owns an arena (every node and string) and
 * the compiled regexes (freed by lq_query_free). Immutable once parsed, so
 * one query may be evaluated by one thread at a time without locks. */
#ifndef LOGSTORE_LOGQL_INT_H
#define LOGSTORE_LOGQL_INT_H

#include "lib/lk_regex.h"
#include "logstore/logstore_int.h"

enum lq_op {
  LQ_EQ, LQ_NE, LQ_RE, LQ_NRE,        /* matchers, line and label filters */
  LQ_GT, LQ_GE, LQ_LT, LQ_LE, LQ_EQEQ, /* numeric label filters */
};

typedef struct lq_matcher {
  const char *name, *value;
  enum lq_op op;
  lk_regex *re;                       /* LQ_RE / LQ_NRE: anchored */
} lq_matcher;

enum lq_stage_kind { LQ_LINE_FILTER, LQ_JSON, LQ_LOGFMT, LQ_REGEXP, LQ_LABEL_FILTER, LQ_LINE_FORMAT };

typedef struct lq_stage {
  enum lq_stage_kind kind;
  enum lq_op op;                      /* line filter: EQ = contains, NE, RE, NRE */
  const char *name;                   /* label filter: label name */
  const char *value;                  /* filter text / regexp / template */
  size_t value_len;
  double num;                         /* numeric label filters */
  bool numeric;
  lk_regex *re;                       /* line filter, regexp: unanchored; label filter: anchored */
  const char *pre;                    /* line filter regex: a literal every match holds */
  size_t pre_len;
} lq_stage;

typedef struct lq_log {
  lq_matcher *m;
  size_t nm;
  lq_stage *st;
  size_t nst;
} lq_log;

enum lq_kind { LQ_LOGS, LQ_RANGE, LQ_AGG };
enum lq_range_fn { LQ_COUNT_OVER_TIME, LQ_RATE, LQ_BYTES_OVER_TIME, LQ_BYTES_RATE };
enum lq_agg_op { LQ_SUM, LQ_AVG, LQ_MIN, LQ_MAX, LQ_COUNT, LQ_TOPK, LQ_BOTTOMK };

typedef struct lq_expr {
  enum lq_kind kind;
  lq_log log;                         /* LOGS, RANGE */
  enum lq_range_fn fn;                /* RANGE */
  int64_t range_ns;
  enum lq_agg_op agg;                 /* AGG */
  bool without;
  const char **grouping;
  size_t ngrouping;
  long k;                             /* topk / bottomk */
  struct lq_expr *inner;
} lq_expr;

typedef struct lq_query {
  lk_arena *arena;
  lq_expr *root;
  lk_regex **res;                     /* every compiled regex, for lk_regex_free */
  size_t nres, capres;
} lq_query;

int logstore__lq_parse(const char *src, lq_query **out, lk_diag *d);
/* Parse a bare stream selector (for /series match[]). */
int logstore__lq_parse_selector(const char *src, lq_query **out, lk_diag *d);
void logstore__lq_free(lq_query *q);

/* logql_pipeline.c */
typedef struct lq_line {
  const char *line;
  size_t len;
  lk_label *ext;                      /* extracted labels (scratch) */
  size_t next, capext;
  lk_buf fmt;                         /* line_format output */
  lk_arena *scratch;
} lq_line;
bool logstore__lq_matchers_ok(const lq_matcher *m, size_t nm, const lk_label *ls, size_t n);
/* Runs the pipeline; false when the entry is filtered out. */
bool logstore__lq_pipeline(const lq_log *lg, const lk_label *sl, size_t nsl, lq_line *ln);
bool logstore__lq_has_parsers(const lq_log *lg);

#endif
