/* alerting.h — Lookout's alerting module. First brick: the Go text/template
 * subset that Prometheus alerting-rule annotations and labels use.
 *
 * A template is parsed once (alerting_template_parse) and executed per alert
 * (alerting_template_exec). Anything outside the subset is refused at parse
 * time with LK_EPARSE and a diag "template: LINE:COL: what" whose offset is
 * the byte offset of the construct; nothing is ever silently dropped.
 *
 * The subset:
 * - text and {{ actions }}; "{{- " trims the white space before the action,
 *   " -}}" the white space after it.
 * - data: $labels.NAME, $value, $externalURL, $externalLabels.NAME, and the
 *   dot as Prometheus sets it: .Labels.NAME, .Value, .ExternalURL,
 *   .ExternalLabels.NAME; $ is the top-level dot. A missing label is "".
 * - variables: {{ $x := pipeline }} (scoped to the enclosing if/range block),
 *   {{ $x = pipeline }} to assign; range declares $i, $s := or $s :=.
 * - pipelines "a | f b" (the piped value is the last argument), parentheses.
 * - if / else if / else / end, with Go truthiness (false, 0, "", nil and
 *   empty query results are false); range over a query result, with else.
 * - literals: "…" and `…` strings (Go escapes), integers, floats, true,
 *   false, nil. Integers and floats are distinct kinds as in Go: eq/lt/…
 *   between an int and a float is an execution error (LK_EEXEC).
 * - functions: humanize, humanize1024, humanizeDuration, humanizePercentage,
 *   humanizeTimestamp (float or numeric-string argument, Prometheus's
 *   outputs), printf (%s %d %f %.Nf %e %g %v %q and %%; a mismatched verb
 *   prints Go's "%!d(float64=1.5)"), title, toUpper, toLower, query, first,
 *   value, label, eq ne lt le gt ge, and or not, len.
 * - output: floats as Go prints them (shortest 'g', NaN, +Inf, -Inf).
 */
#ifndef ALERTING_H
#define ALERTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

typedef struct alerting_template alerting_template;

/* One element of a query result. The labels are borrowed from whoever
 * built the array. */
typedef struct alerting_sample {
  const lk_label *labels;
  size_t nlabels;
  double value;
} alerting_sample;

/* Runs a PromQL instant query for the template function `query`. On success
 * *res is a malloc'ed array of *n samples (the template frees the array, not
 * the labels, which must outlive the exec call); on failure an LK_E* code
 * with d filled. */
typedef int (*alerting_query_fn)(void *ctx, const char *expr, alerting_sample **res, size_t *n,
                                 lk_diag *d);

/* What one execution sees. All pointers borrowed; query may be NULL (then
 * calling `query` is an LK_EEXEC error). */
typedef struct alerting_template_data {
  const lk_label *labels;
  size_t nlabels;
  double value;
  const char *external_url;
  const lk_label *external_labels;
  size_t nexternal_labels;
  alerting_query_fn query;
  void *query_ctx;
} alerting_template_data;

/* Parse src (NUL-terminated). On success *out owns a copy of everything it
 * needs; free with alerting_template_free. On error *out is NULL, returns
 * LK_EPARSE with d set. */
int alerting_template_parse(const char *src, alerting_template **out, lk_diag *d);

/* Append the output to out. Returns 0, or LK_EEXEC (bad comparison, first
 * of an empty result, ...) or the query callback's code, with d set; out
 * then holds the partial output. */
int alerting_template_exec(const alerting_template *t, const alerting_template_data *data,
                           lk_buf *out, lk_diag *d);

void alerting_template_free(alerting_template *t); /* NULL is fine */

/*---- Where rule evaluation meets notification ----
 * The rule engine (Prometheus's half) hands alerts on after every group
 * evaluation, as Prometheus's notifier does: firing alerts (again every
 * resend delay) and resolved ones. Receivers of these calls are the
 * in-process Alertmanager (grouping, inhibition, silences, webhooks) and
 * the forwarder to a real Alertmanager's POST /api/v2/alerts. */

/* One alert; every pointer borrowed for the duration of the call. */
typedef struct alerting_alert {
  const lk_label *labels;       /* sorted by name; includes alertname */
  size_t nlabels;
  const lk_label *annotations;  /* sorted by name */
  size_t nannotations;
  int64_t starts_at_ms;         /* when the alert started firing (ms since the epoch) */
  int64_t ends_at_ms;           /* resolved: the resolve time; firing: the time until which it
                                   counts as firing unless re-sent (Prometheus: now + 4 × max(
                                   resend delay, evaluation interval)) */
  const char *generator_url;    /* link back to the expression; "" if none */
} alerting_alert;

/* A receiver of alerts. Called on the evaluating thread with the alerts of
 * one group evaluation; must copy what it keeps and must not block on the
 * network (queue instead). */
typedef void (*alerting_send_fn)(void *ctx, const alerting_alert *alerts, size_t n, int64_t now_ms);

/*---- The in-process Alertmanager (h-notify) ----
 * Alertmanager 0.25's semantics on alerts handed over by the rule engine
 * (alerting_am_send) or posted to POST /api/v2/alerts: route tree,
 * aggregation groups with group_wait/group_interval/repeat_interval,
 * inhibition, silences, time intervals, a notification log, and webhook
 * receivers fed from a durable on-disk queue under <data>/alerting/
 * (a notification counts as sent once it is fsync'd there; a sender thread
 * delivers it, retrying 5xx, timeouts and refused connections with capped
 * backoff). Alerts from the rule engine are also forwarded to the
 * Alertmanagers of the config's `alerting` section, in Prometheus's shape.
 * Silences, the notification log, alerts and the queue survive restarts.
 *
 * Threads: every function may be called from any thread (one internal
 * lock; a dispatcher, a sender and a forwarder thread of its own). */
typedef struct alerting_am alerting_am;

typedef struct alerting_am_opts {
  const char *config_path;  /* Lookout's config file; its route, receivers, inhibit_rules,
                               time_intervals, global.resolve_timeout and alerting sections.
                               NULL: a root route to a receiver "default" with no integrations */
  const char *data_dir;     /* state lives in <data_dir>/alerting */
  const char *external_url; /* externalURL in webhook bodies and generator links; "" if none */
} alerting_am_opts;

/* Read the config (errors "<file>:<line>: …", LK_EINVAL), load the state and
 * start the threads. *out is freed with alerting_am_close. */
int alerting_am_open(const alerting_am_opts *o, alerting_am **out, lk_diag *d);
/* Stop the threads (what is queued stays on disk for the next start). NULL is fine. */
void alerting_am_close(alerting_am *am);
/* An alerting_send_fn (ctx = the alerting_am): dispatch and forward. */
void alerting_am_send(void *ctx, const alerting_alert *alerts, size_t n, int64_t now_ms);

/* The Alertmanager API v2, as JSON in Alertmanager's OpenAPI shapes. Bad
 * input is LK_EINVAL with d holding Alertmanager's message (400), an unknown
 * silence LK_ENOENT (404); nothing changes on an error. */
typedef struct alerting_am_query {
  const char *const *filter; /* matchers, each `name="value"` (Alertmanager syntax) */
  size_t nfilter;
  bool active, silenced, inhibited, unprocessed; /* which states to include (Alertmanager: all true) */
  const char *receiver;      /* regex on receiver names, or NULL */
} alerting_am_query;
int alerting_am_api_alerts(alerting_am *am, const alerting_am_query *q, lk_buf *out, lk_diag *d);
int alerting_am_api_groups(alerting_am *am, const alerting_am_query *q, lk_buf *out, lk_diag *d);
int alerting_am_api_post_alerts(alerting_am *am, const void *body, size_t len, lk_diag *d);
int alerting_am_api_silences(alerting_am *am, const char *const *filter, size_t nfilter, lk_buf *out, lk_diag *d);
/* Create, or update when the body has an id (a new id when Alertmanager
 * would make one); out gets {"silenceID":"…"}. */
int alerting_am_api_post_silence(alerting_am *am, const void *body, size_t len, lk_buf *out, lk_diag *d);
int alerting_am_api_silence(alerting_am *am, const char *id, lk_buf *out, lk_diag *d);
int alerting_am_api_expire_silence(alerting_am *am, const char *id, lk_diag *d);
void alerting_am_api_status(alerting_am *am, lk_buf *out);
void alerting_am_api_receivers(alerting_am *am, lk_buf *out);
/* Lookout's own lookout_alertmanager_* / lookout_notifications_* metrics in
 * the text exposition format, appended to out. */
void alerting_am_metrics(alerting_am *am, lk_buf *out);

#endif
