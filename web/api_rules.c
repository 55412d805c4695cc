/* api_rules.c — the rule engine over HTTP, in Prometheus's shapes:
 * GET /api/v1/rules, GET /api/v1/alerts and POST /-/reload.
 *
 * /api/v1/rules: {"groups":[{name, file, rules[], interval, limit,
 * evaluationTime, lastEvaluation}]}; an alerting rule is {state, name, query,
 * duration, keepFiringFor, labels, annotations, alerts[], health, lastError
 * (only when set), evaluationTime, lastEvaluation, type:"alerting"}, a
 * recording rule {name, query, labels (only when set), health, lastError,
 * evaluationTime, lastEvaluation, type:"recording"}. Durations are seconds,
 * times RFC 3339 (Go's zero time before the first evaluation), an alert's
 * value a string in Go's %e form ("1e+00"), as Prometheus writes them.
 * Filters: type=alert|record, rule_name[], rule_group[], file[],
 * exclude_alerts=true; with a rule filter, groups left without rules are
 * dropped. A rule not evaluated yet is "inactive" (Prometheus has no
 * "unknown" state). Only pending and firing alerts are listed (resolved ones
 * the engine keeps for re-sending are not, as in Prometheus).
 *
 * /api/v1/alerts: {"alerts":[{labels, annotations, state, activeAt, value}]}.
 * /-/reload re-reads the rule files; a bad file answers 400 with
 * "<file>:<line>: …" and the running rules stay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alerting.h"
#include "lib/lk_alloc.h"
#include "lib/lk_json.h"
#include "lib/lk_time.h"
#include "web/web_int.h"

#define MAX_FILTER 64

typedef struct filter {
  bool alert, record;      /* which rule types */
  bool exclude_alerts;
  const char *names[MAX_FILTER], *groups[MAX_FILTER], *files[MAX_FILTER];
  size_t nnames, ngroups, nfiles;
} filter;

static bool in_list(const char *const *v, size_t n, const char *s)
{
  if (!n)
    return true;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], s))
      return true;
  return false;
}

static int list_arg(const lk_http_req *req, lk_http_resp *resp, const char *name, const char **v, size_t *n)
{
  *n = lk_http_args(req, name, v, MAX_FILTER);
  if (*n > MAX_FILTER) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"%s\": more than %d values", name, MAX_FILTER);
    return -1;
  }
  return 0;
}

static int parse_filter(const lk_http_req *req, lk_http_resp *resp, filter *f)
{
  memset(f, 0, sizeof *f);
  const char *type = lk_http_arg(req, "type");
  f->alert = f->record = true;
  if (type && type[0]) {
    if (strcmp(type, "alert") && strcmp(type, "record")) {
      lk_http_error(resp, 400, "bad_data", "invalid parameter \"type\": not supported value \"%s\"", type);
      return -1;
    }
    f->alert = !strcmp(type, "alert");
    f->record = !f->alert;
  }
  const char *ex = lk_http_arg(req, "exclude_alerts");
  if (ex && ex[0] && strcmp(ex, "true") && strcmp(ex, "false")) {
    lk_http_error(resp, 400, "bad_data", "invalid parameter \"exclude_alerts\": expected true or false");
    return -1;
  }
  f->exclude_alerts = ex && !strcmp(ex, "true");
  if (list_arg(req, resp, "rule_name[]", f->names, &f->nnames) ||
      list_arg(req, resp, "rule_group[]", f->groups, &f->ngroups) ||
      list_arg(req, resp, "file[]", f->files, &f->nfiles))
    return -1;
  return 0;
}

static bool rule_filtered(const filter *f) { return !f->alert || !f->record || f->nnames; }

/*---- value formats ----*/

static void time_json(lk_buf *b, int64_t ms)
{
  char t[LK_RFC3339_MAX];
  if (ms)
    lk_fmt_rfc3339(t, ms);
  else
    strcpy(t, "0001-01-01T00:00:00Z"); /* Go's zero time: never evaluated */
  lk_buf_printf(b, "\"%s\"", t);
}

static void seconds_json(lk_buf *b, double s)
{
  char v[LK_FMT_FLOAT_MAX];
  lk_fmt_plain(v, s);
  lk_buf_puts(b, v);
}

/* A rule's state as Prometheus names it (no "unknown" there). */
static const char *api_state(enum alerting_state s)
{
  return alerting_state_name(s == ALERTING_UNKNOWN ? ALERTING_INACTIVE : s);
}

static bool active(const alerting_alert_info *a)
{
  return a->state == ALERTING_PENDING || a->state == ALERTING_FIRING;
}

static void alert_json(lk_buf *b, const alerting_alert_info *a)
{
  lk_buf_puts(b, "{\"labels\":");
  lk_json_labels(b, a->labels, a->nlabels);
  lk_buf_puts(b, ",\"annotations\":");
  lk_json_labels(b, a->annotations, a->nannotations);
  lk_buf_printf(b, ",\"state\":\"%s\",\"activeAt\":", alerting_state_name(a->state));
  time_json(b, a->active_at_ms);
  if (a->keep_firing_since_ms) {
    lk_buf_puts(b, ",\"keepFiringSince\":");
    time_json(b, a->keep_firing_since_ms);
  }
  char num[LK_FMT_FLOAT_MAX];
  lk_buf_puts(b, ",\"value\":\"");
  lk_buf_append(b, num, lk_fmt_exp(num, a->value)); /* Go's 'e' format, as Prometheus */
  lk_buf_puts(b, "\"}");
}

/* The active alerts of rule i, comma-separated after *first. */
static void rule_alerts_json(lk_buf *b, const alerting_group *g, size_t i, size_t nalerts, bool *first)
{
  for (size_t j = 0; j < nalerts; j++) {
    alerting_alert_info a;
    alerting_rule_alert(g, i, j, &a);
    if (!active(&a))
      continue;
    if (!*first)
      lk_buf_putc(b, ',');
    *first = false;
    alert_json(b, &a);
  }
}

static void health_json(lk_buf *b, const alerting_rule_info *r)
{
  lk_buf_printf(b, ",\"health\":\"%s\"", alerting_health_name(r->health));
  if (r->last_error && r->last_error[0]) {
    lk_buf_puts(b, ",\"lastError\":");
    lk_json_str(b, r->last_error);
  }
  lk_buf_puts(b, ",\"evaluationTime\":");
  seconds_json(b, (double)r->eval_duration_ns / 1e9);
  lk_buf_puts(b, ",\"lastEvaluation\":");
  time_json(b, r->last_eval_ms);
}

static void rule_json(lk_buf *b, const alerting_group *g, size_t i, const alerting_rule_info *r, const filter *f)
{
  if (!r->alerting) {
    lk_buf_puts(b, "{\"name\":");
    lk_json_str(b, r->name);
    lk_buf_puts(b, ",\"query\":");
    lk_json_str(b, r->expr);
    if (r->nlabels) {
      lk_buf_puts(b, ",\"labels\":");
      lk_json_labels(b, r->labels, r->nlabels);
    }
    health_json(b, r);
    lk_buf_puts(b, ",\"type\":\"recording\"}");
    return;
  }
  lk_buf_printf(b, "{\"state\":\"%s\",\"name\":", api_state(r->state));
  lk_json_str(b, r->name);
  lk_buf_puts(b, ",\"query\":");
  lk_json_str(b, r->expr);
  lk_buf_puts(b, ",\"duration\":");
  seconds_json(b, (double)r->for_ms / 1e3);
  lk_buf_puts(b, ",\"keepFiringFor\":");
  seconds_json(b, (double)r->keep_firing_for_ms / 1e3);
  lk_buf_puts(b, ",\"labels\":");
  lk_json_labels(b, r->labels, r->nlabels);
  lk_buf_puts(b, ",\"annotations\":");
  lk_json_labels(b, r->annotations, r->nannotations);
  if (!f->exclude_alerts) {
    lk_buf_puts(b, ",\"alerts\":[");
    bool first = true;
    rule_alerts_json(b, g, i, r->nalerts, &first);
    lk_buf_putc(b, ']');
  }
  health_json(b, r);
  lk_buf_puts(b, ",\"type\":\"alerting\"}");
}

/* Group g as JSON if it passes the filter; false when it was left out. */
static bool group_json(lk_buf *b, const alerting_group *g, const filter *f)
{
  alerting_group_info gi;
  alerting_group_get(g, &gi);
  if (!in_list(f->groups, f->ngroups, gi.name) || !in_list(f->files, f->nfiles, gi.file))
    return false;
  size_t start = b->len;
  lk_buf_puts(b, "{\"name\":");
  lk_json_str(b, gi.name);
  lk_buf_puts(b, ",\"file\":");
  lk_json_str(b, gi.file);
  lk_buf_puts(b, ",\"rules\":[");
  size_t shown = 0;
  for (size_t i = 0; i < gi.nrules; i++) {
    alerting_rule_info r;
    alerting_group_rule(g, i, &r);
    if ((r.alerting ? !f->alert : !f->record) || !in_list(f->names, f->nnames, r.name))
      continue;
    if (shown++)
      lk_buf_putc(b, ',');
    rule_json(b, g, i, &r, f);
  }
  if (!shown && rule_filtered(f)) {
    b->len = start;
    return false;
  }
  lk_buf_puts(b, "],\"interval\":");
  seconds_json(b, (double)gi.interval_ms / 1e3);
  lk_buf_printf(b, ",\"limit\":%lld,\"evaluationTime\":", (long long)gi.limit);
  seconds_json(b, (double)gi.eval_duration_ns / 1e9);
  lk_buf_puts(b, ",\"lastEvaluation\":");
  time_json(b, gi.last_eval_ms);
  lk_buf_putc(b, '}');
  return true;
}

static bool have_rules(web_server *w, lk_http_resp *resp)
{
  if (w->rules)
    return true;
  lk_http_error(resp, 503, "unavailable", "the rule engine is not running in this process");
  return false;
}

typedef struct group_ref {
  alerting_group *g;
  const char *file, *name;
} group_ref;

static int group_ref_cmp(const void *a, const void *b)
{
  const group_ref *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  return c ? c : strcmp(x->name, y->name);
}

/* The groups of rs ordered by (file, name), as Prometheus lists them;
 * malloc'ed, valid while rs is held. */
static group_ref *sorted_groups(alerting_rules *rs, size_t *n)
{
  *n = alerting_rules_ngroups(rs);
  group_ref *v = lk_xcalloc(*n ? *n : 1, sizeof *v);
  for (size_t i = 0; i < *n; i++) {
    alerting_group_info gi;
    v[i].g = alerting_rules_group(rs, i);
    alerting_group_lock(v[i].g);
    alerting_group_get(v[i].g, &gi); /* name and file stay valid: fixed at load */
    alerting_group_unlock(v[i].g);
    v[i].file = gi.file;
    v[i].name = gi.name;
  }
  qsort(v, *n, sizeof *v, group_ref_cmp);
  return v;
}

void web__rules(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  filter f;
  if (!have_rules(w, resp) || parse_filter(req, resp, &f))
    return;
  lk_buf data = {0};
  lk_buf_puts(&data, "{\"groups\":[");
  alerting_rules *rs = alerting_manager_acquire(w->rules);
  size_t shown = 0, n;
  group_ref *groups = sorted_groups(rs, &n);
  for (size_t i = 0; i < n; i++) {
    alerting_group *g = groups[i].g;
    size_t mark = data.len;
    if (shown)
      lk_buf_putc(&data, ',');
    alerting_group_lock(g);
    bool kept = group_json(&data, g, &f);
    alerting_group_unlock(g);
    if (kept)
      shown++;
    else
      data.len = mark;
  }
  free(groups);
  alerting_manager_release(w->rules);
  lk_buf_puts(&data, "]}");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}

void web__alerts(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!have_rules(w, resp))
    return;
  lk_buf data = {0};
  lk_buf_puts(&data, "{\"alerts\":[");
  bool first = true;
  alerting_rules *rs = alerting_manager_acquire(w->rules);
  size_t n;
  group_ref *groups = sorted_groups(rs, &n);
  for (size_t i = 0; i < n; i++) {
    alerting_group *g = groups[i].g;
    alerting_group_info gi;
    alerting_group_lock(g);
    alerting_group_get(g, &gi);
    for (size_t r = 0; r < gi.nrules; r++) {
      alerting_rule_info ri;
      alerting_group_rule(g, r, &ri);
      if (ri.alerting)
        rule_alerts_json(&data, g, r, ri.nalerts, &first);
    }
    alerting_group_unlock(g);
  }
  free(groups);
  alerting_manager_release(w->rules);
  lk_buf_puts(&data, "]}");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}

void web__reload(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (!have_rules(w, resp))
    return;
  lk_diag d = {0};
  if (alerting_manager_reload(w->rules, &d)) { /* a bad rule file, whatever the code */
    lk_http_error(resp, 400, "bad_data", "reload refused, the previous rules keep running: %s", d.msg);
    return;
  }
  lk_buf data = {0};
  lk_buf_puts(&data, "null");
  web__ok(resp, &data);
  lk_buf_fini(&data);
}
