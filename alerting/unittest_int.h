/* unittest_int.h — pieces of the rule unit-test runner (promtool test
 * rules) shared by the driver (unittest.c) and the checks with their
 * promtool-shaped messages (unittest_check.c). */
#ifndef ALERTING_UNITTEST_INT_H
#define ALERTING_UNITTEST_INT_H

#include "alerting/rules_int.h"
#include "lib/lk_yaml.h"

/* Error messages of one test file, in order. */
typedef struct ut_errs {
  char **msg;
  size_t n, cap;
} ut_errs;
void alerting__ut_err(ut_errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One test group being run. */
typedef struct ut_run {
  const lk_yaml *y;
  const char *name;           /* tests[i].name or "" */
  promql_mem *mem;
  promql_queryable q;
  alerting_rules *rules;
  alerting_group **order;     /* groups in group_eval_order */
  size_t ngroups;
} ut_run;

/* Go's model.Duration.String ("1h30m", "0s"). */
void alerting__ut_duration(lk_buf *b, int64_t ms);

/* Every alert_rule_test item whose eval_time is in [ts, ts + interval):
 * firing alerts of the named rules against exp_alerts. *next walks the
 * items sorted by eval time (items: the sequence node, sorted indexes). */
void alerting__ut_check_alerts(const ut_run *r, const lk_ynode *items, const size_t *sorted,
                               const int64_t *times, size_t nitems, size_t *next, int64_t ts,
                               int64_t interval, ut_errs *e);
/* Every promql_expr_test item. */
void alerting__ut_check_exprs(const ut_run *r, const lk_ynode *items, ut_errs *e);

#endif
