/* manager_int.h — what the rule manager's files share (manager.c runs the
 * rules, history.c writes alert state changes to the log store). */
#ifndef ALERTING_MANAGER_INT_H
#define ALERTING_MANAGER_INT_H

#include "alerting/alerting.h"

/* alerting_change_fn writing one history line per state change; ctx is the
 * logstore. */
void alerting__history_change(void *ctx, const alerting_group *g, size_t rule,
                              const alerting_alert_info *a, enum alerting_state from, int64_t now_ms);

/* History lines for alerts that keep_firing_for started holding at now_ms. */
void alerting__history_keep_firing(logstore *logs, const alerting_group *g, int64_t now_ms);

/* selfmon.c: the built-in health group's data (Lookout's own metrics in an
 * in-memory store of the last 20 minutes). Used by the scheduler thread only. */
typedef struct alerting__selfmon alerting__selfmon;
alerting__selfmon *alerting__selfmon_new(tsdb *db, const char *instance);
void alerting__selfmon_free(alerting__selfmon *s); /* NULL is fine */
/* base with the store as queryable and appender. */
void alerting__selfmon_env(alerting__selfmon *s, const alerting_env *base, alerting_env *out);
/* Add the /metrics page's samples and the tsdb's collector error counters at t. */
void alerting__selfmon_scrape(alerting__selfmon *s, const lk_buf *page, int64_t t);

#endif
