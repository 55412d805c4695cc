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

#endif
