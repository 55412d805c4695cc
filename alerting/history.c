/* history.c — alert history in the log store. Alertmanager keeps none, so
 * every alert state change the engine reports (pending, firing, resolved)
 * becomes one log line in the stream {__alerts__="lookout", alertname="…"},
 * searchable with LogQL:  {__alerts__="lookout"} |= "firing"  or
 * {__alerts__="lookout", alertname="HighCPU"} | json | state="resolved".
 *
 * The line is a JSON object (so `| json` extracts every field):
 *   {"state":"firing","from":"pending","alertname":"HighCPU","value":"97.5",
 *    "activeAt":"…","firedAt":"…","group":"…","file":"…",
 *    "labels":{…},"annotations":{…}}
 * state is pending, firing, resolved, or keep_firing when a firing alert's
 * condition went away but keep_firing_for holds it (from: firing); from is
 * the previous state (inactive for a new alert). A failed write is logged and otherwise ignored: history must
 * never stop evaluation. */
#include <string.h>

#include "alerting/manager_int.h"
#include "lib/lk_json.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "logstore/logstore.h"

static const char *history_state(const alerting_alert_info *a, int64_t now_ms)
{
  if (a->state == ALERTING_FIRING && a->keep_firing_since_ms == now_ms)
    return "keep_firing";
  return a->state == ALERTING_INACTIVE ? "resolved" : alerting_state_name(a->state);
}

static void time_field(lk_buf *b, const char *key, int64_t ms)
{
  if (!ms)
    return;
  char t[LK_RFC3339_MAX];
  lk_fmt_rfc3339(t, ms);
  lk_buf_printf(b, ",\"%s\":\"%s\"", key, t);
}

static void history_line(lk_buf *b, const alerting_group_info *gi, const alerting_alert_info *a,
                         enum alerting_state from, const char *alertname, int64_t now_ms)
{
  char v[LK_FMT_FLOAT_MAX];
  lk_fmt_value(v, a->value);
  lk_buf_printf(b, "{\"state\":\"%s\",\"from\":\"%s\",\"alertname\":", history_state(a, now_ms),
                alerting_state_name(from));
  lk_json_str(b, alertname);
  lk_buf_printf(b, ",\"value\":\"%s\"", v);
  time_field(b, "activeAt", a->active_at_ms);
  time_field(b, "firedAt", a->fired_at_ms);
  time_field(b, "resolvedAt", a->resolved_at_ms);
  time_field(b, "keepFiringSince", a->keep_firing_since_ms);
  lk_buf_puts(b, ",\"group\":");
  lk_json_str(b, gi->name);
  lk_buf_puts(b, ",\"file\":");
  lk_json_str(b, gi->file);
  lk_buf_puts(b, ",\"labels\":");
  lk_json_labels(b, a->labels, a->nlabels);
  lk_buf_puts(b, ",\"annotations\":");
  lk_json_labels(b, a->annotations, a->nannotations);
  lk_buf_putc(b, '}');
}

void alerting__history_change(void *ctx, const alerting_group *g, size_t rule,
                              const alerting_alert_info *a, enum alerting_state from, int64_t now_ms)
{
  logstore *logs = ctx;
  alerting_group_info gi;
  alerting_group_get(g, &gi);
  const char *alertname = lk_labels_get(a->labels, a->nlabels, "alertname");
  if (!alertname)
    alertname = "";
  lk_buf line = {0};
  history_line(&line, &gi, a, from, alertname, now_ms);
  lk_label stream[2] = {{"__alerts__", "lookout"}, {"alertname", alertname}};
  logstore_entry e = {now_ms * 1000000, (const char *)line.data, line.len};
  lk_diag d = {0};
  if (logstore_push(logs, stream, alertname[0] ? 2 : 1, &e, 1, &d))
    lk_warn("alerting: cannot write alert history for %s: %s", alertname, d.set ? d.msg : "error");
  lk_buf_fini(&line);
}

/* The engine reports no change when keep_firing_for starts holding a
 * firing alert; an alert whose keep-firing clock started at this very
 * evaluation (now_ms) is that moment. Called on the evaluating thread right
 * after alerting_group_eval (nothing else changes the group meanwhile). */
void alerting__history_keep_firing(logstore *logs, const alerting_group *g, int64_t now_ms)
{
  alerting_group_info gi;
  alerting_group_get(g, &gi);
  for (size_t r = 0; r < gi.nrules; r++) {
    alerting_rule_info ri;
    alerting_group_rule(g, r, &ri);
    for (size_t j = 0; ri.alerting && ri.keep_firing_for_ms > 0 && j < ri.nalerts; j++) {
      alerting_alert_info a;
      alerting_rule_alert(g, r, j, &a);
      if (a.state == ALERTING_FIRING && a.keep_firing_since_ms == now_ms)
        alerting__history_change(logs, g, r, &a, ALERTING_FIRING, now_ms);
    }
  }
}
