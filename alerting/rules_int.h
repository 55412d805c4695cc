/* rules_int.h — the loaded form of rule files and the evaluation state kept
 * in it, shared by the loader (rulefile.c), the evaluator (rules_eval.c),
 * the log-rule helpers (rules_log.c) and the state readers/carry-over
 * (rules_state.c). Strings and label arrays here are owned by their struct
 * (malloc'ed), freed by the *_free helpers below. */
#ifndef ALERTING_RULES_INT_H
#define ALERTING_RULES_INT_H

#include <pthread.h>

#include "alerting/alerting.h"

#define ALERTING__RESOLVED_RETENTION_MS (15 * 60 * 1000)
#define ALERTING__DEFAULT_LOG_LINES 5

/* An owned label set (the array and its strings in one malloc'ed block),
 * sorted by name, with its hash (lk_labels_hash) for quick set lookups. */
typedef struct alerting__lset {
  lk_label *l;
  size_t n;
  uint64_t hash;
} alerting__lset;

/* A trailing `<op> [bool] <number>` of a log rule's expr, applied by the
 * engine (the logstore's LogQL has no binary operators). */
typedef struct alerting__cmp {
  int op;                    /* 0 none, else one of ALERTING__CMP_* */
  bool keep_bool;            /* `bool`: every sample kept, value 0 or 1 */
  double value;
} alerting__cmp;
enum { ALERTING__CMP_EQ = 1, ALERTING__CMP_NE, ALERTING__CMP_GT, ALERTING__CMP_LT, ALERTING__CMP_GE,
       ALERTING__CMP_LE };

/* One alert instance of an alerting rule. */
typedef struct alerting__alert {
  alerting__lset labels;
  alerting__lset annotations;
  enum alerting_state state;
  double value;
  int64_t active_at, fired_at, resolved_at, keep_firing_since, last_sent, valid_until;
  bool sent;                 /* last_sent is set */
} alerting__alert;

typedef struct alerting__rule {
  bool alerting;
  char *name, *expr;
  size_t line;
  promql_expr *pexpr;        /* PromQL rules */
  char *log_metric;          /* log rules: the expr without a trailing comparison, for logstore */
  alerting__cmp log_cmp;     /* that comparison (op 0: none) */
  char *log_query;           /* log rules: the log query the expr aggregates (for lines), or NULL */
  int64_t log_range_ms;      /* its range */
  int64_t for_ms, keep_ms;
  alerting__lset labels;     /* rule labels over group labels, as written */
  alerting_template **label_t; /* alerting rules: one per label */
  alerting__lset ann;
  alerting_template **ann_t;
  /* state */
  enum alerting_health health;
  char *last_error;          /* NULL = none */
  int64_t last_eval, eval_ns;
  bool restored;             /* ALERTS* written once restored */
  alerting__alert **alerts;  /* sorted by labels */
  size_t nalerts, cap;
  alerting__lset *prev;      /* series written by the last successful evaluation */
  size_t nprev;
} alerting__rule;

struct alerting_group {
  char *name, *file;
  bool logql;
  int64_t interval, offset, limit;
  alerting__lset labels;
  alerting__rule *rules;
  size_t nrules;
  pthread_mutex_t mu;        /* guards the state fields of the group and its rules */
  int64_t last_eval, eval_ns;
  unsigned evals;
  bool should_restore;
  alerting__lset *stale;     /* series of rules a reload removed: stale at the next eval */
  size_t nstale;
};

struct alerting_rules {
  alerting_group **groups;
  size_t n;
};

void alerting__lset_copy(alerting__lset *dst, const lk_label *l, size_t n); /* sorts */
void alerting__lset_fini(alerting__lset *s);
void alerting__lsets_free(alerting__lset *s, size_t n);
void alerting__alert_free(alerting__alert *a);
void alerting__rule_fini(alerting__rule *r);
void alerting__group_free(alerting_group *g);
void alerting__alert_info(const alerting__alert *a, alerting_alert_info *out);

/* A YAML mapping of string → string (null or absent: empty) into *out,
 * sorted; what names it in messages. */
struct lk_yaml;
struct lk_ynode;
int alerting__yaml_map(const struct lk_yaml *y, const struct lk_ynode *m, const char *what,
                       alerting__lset *out, lk_diag *d);
/* Optional scalars: absent or null leaves the default ("" for strings,
 * *out untouched for durations); the wrong kind is an error. */
int alerting__yopt_string(const struct lk_yaml *y, const struct lk_ynode *n, const char *what,
                          const char **out, lk_diag *d);
int alerting__yopt_duration(const struct lk_yaml *y, const struct lk_ynode *n, const char *what,
                            int64_t *out, lk_diag *d);
/* Absent, null or a sequence; anything else is "<what>: expected a list". */
int alerting__yseq(const struct lk_yaml *y, const struct lk_ynode *n, const char *what, lk_diag *d);
/* Items of a sequence; 0 for anything else and for NULL (absent). */
size_t alerting__ylen(const struct lk_ynode *n);
/* Scalar text, or NULL for anything else and for NULL. */
const char *alerting__ystr(const struct lk_ynode *n);

/* A label set under construction (borrowed strings; l is malloc'ed). */
typedef struct alerting__lbuild {
  lk_label *l;
  size_t n, cap;
} alerting__lbuild;
void alerting__lb_set(alerting__lbuild *b, const char *name, const char *value);
void alerting__lb_del(alerting__lbuild *b, const char *name);
void alerting__lb_reset(alerting__lbuild *b, const lk_label *l, size_t n);
int alerting__lset_cmp(const void *a, const void *b); /* qsort/bsearch over alerting__lset */
/* A cheaper total order (hash first) for sets of series. */
int alerting__lset_hash_cmp(const void *a, const void *b);

/* A rule's output series of one evaluation (owned), for the appender. */
typedef struct alerting__output {
  alerting__lset *series;
  double *v;
  size_t n, cap, vcap;
} alerting__output;
void alerting__out_add(alerting__output *o, const alerting__lbuild *b, double v);
void alerting__out_fini(alerting__output *o);

/* An instant vector: labels borrowed from the PromQL or LogQL result. */
typedef struct alerting__vec {
  alerting_sample *s;
  size_t n;
  promql_result *pr;
  logstore_result *lr;
} alerting__vec;
void alerting__vec_fini(alerting__vec *v);
int alerting__promql_vector(const alerting_env *env, const promql_expr *e, int64_t t,
                            alerting__vec *out, lk_diag *d);

/* What an alerting rule's evaluation leaves for after the lock: alerts to
 * send, state changes to tell, instances deleted (freed after telling). */
typedef struct alerting__after {
  alerting_alert *send;
  alerting__lset *lsend;     /* their labels (external labels added) */
  alerting__lset *asend;     /* their annotations (graph_image_url added) */
  size_t nsend, send_cap;
  struct alerting__change {
    size_t rule;
    alerting__alert *a;
    enum alerting_state from;
  } *chg;
  size_t nchg, chg_cap;
  alerting__alert **dead;
  size_t ndead, dead_cap;
  char **urls;               /* generator and graph image URLs (owned) */
  size_t nurls, url_cap;
} alerting__after;
void alerting__after_fini(alerting__after *af);

/* Evaluate alerting rule ri of g at now (queries at t = now − offset):
 * state machine under the lock, ALERTS* into o, sends and changes into af.
 * Returns 0 or the rule's error (state cleared for a limit error). */
int alerting__eval_alerting(alerting_group *g, size_t ri, const alerting_env *env, int64_t now,
                            alerting__output *o, alerting__after *af, lk_diag *d);

/* Split a trailing comparison with a number off a LogQL metric expr:
 * *metric (malloc'ed) is the rest. */
void alerting__log_split(const char *expr, char **metric, alerting__cmp *cmp);
/* A log rule's expr as a vector at t (ms). */
int alerting__logql_vector(const alerting_env *env, const alerting__rule *r, int64_t t,
                           alerting__vec *out, lk_diag *d);

/* Log rules: the log query inside a LogQL metric expr (selector and
 * pipeline without unwrap; malloc'ed) and its range, or NULL when there is
 * none to extract. */
char *alerting__log_query_of(const char *logql, int64_t *range_ms);
/* Up to max lines (newest first, joined by "\n") of the entries of
 * log_query in (t − range, t] whose labels (stream or extracted) equal
 * match (the alert's sample labels). */
int alerting__log_lines(logstore *s, const char *log_query, int64_t range_ms, const lk_label *match,
                        size_t nmatch, int64_t t_ms, int max, lk_buf *out, lk_diag *d);

#endif
