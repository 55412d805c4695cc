/* logql_eval.h — internals shared by logql_eval.c and logql_metric.c:
 * output groups keyed by label set, and the scan driver. Single-threaded per
 * query; called with store->lock held for reading. */
#ifndef LOGSTORE_LOGQL_EVAL_H
#define LOGSTORE_LOGQL_EVAL_H

#include "logstore/logql_int.h"

typedef struct lq_group {
  lk_label *labels;   /* in the result arena */
  size_t nlabels;
  uint64_t hash;
  int64_t *cnt;       /* metric queries: per-step entry-count deltas (nsteps + 1, malloc'd) */
  uint64_t *bytes;    /* bytes_over_time/bytes_rate: per-step byte deltas, likewise */
} lq_group;

typedef struct lq_groups {
  lq_group *v;
  size_t n, cap;
  uint32_t *tab;
  size_t tcap;
} lq_groups;

lq_group *logstore__lq_group_get(lq_groups *g, const lk_label *ls, size_t n, lk_arena *a);
void logstore__lq_groups_fini(lq_groups *g);
size_t logstore__lq_out_labels(const ls_stream *st, const lq_line *ln, lk_label *out, size_t max);

typedef struct lq_scan lq_scan;
struct lq_scan {
  logstore *s;
  const lq_log *lg;
  int64_t start, end;             /* inclusive */
  bool backward, parsers;
  bool ts_only;                   /* the emit callback needs no line: blocks give timestamps only */
  logstore_result *res;           /* stats and arena */
  bool (*emit)(lq_scan *sc, const ls_stream *st, int64_t ts, const lq_line *ln);
  void *ctx;
  size_t limit, stream_hits;
  ls_probes probes;
  ls_decoded dec;
  uint32_t *cand;                 /* fast-path candidate entries */
  size_t ccap;
  lq_line ln;
  int err;
};
int logstore__lq_scan(lq_scan *sc);
/* The set-up and tear-down around a scan (probes, scratch; returns sc->err). */
void logstore__lq_scan_begin(lq_scan *sc);
int logstore__lq_scan_end(lq_scan *sc);

int logstore__lq_metric(logstore *s, const lq_expr *e, const logstore_query_opts *o,
                        logstore_result *r, lk_diag *d);

#endif
