/* alerting.h — Lookout's alerting module: the Go text/template subset that
 * Prometheus alerting-rule annotations and labels use, the hand-over type
 * between rule evaluation and notification, the rules engine (rule files,
 * evaluation with Prometheus's semantics, state for the APIs), and the rule
 * unit-test runner behind `lookout test rules`.
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
#include <stdio.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"
#include "logstore/logstore.h"
#include "promql/promql.h"

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

/*---- Rule files and their evaluation (Prometheus's rules engine) ----
 *
 * A rule set is what a list of rule files loads into: groups in file order,
 * each with its rules in file order. Files are Prometheus rule files; a group
 * with `type: logql` (Loki's ruler layout is the same shape) holds log
 * rules, whose exprs are LogQL metric expressions run against the logstore.
 * Everything is validated at load with "<file>:<line>: ..." errors (YAML,
 * unknown fields, PromQL/LogQL parse errors, label names, templates).
 *
 * Evaluation follows Prometheus: alerting_group_eval(g, env, now) runs the
 * rules of one group in order at now − query_offset; recording rules append
 * their series, alerting rules run the pending → firing → resolved state
 * machine, append ALERTS / ALERTS_FOR_STATE, and hand the alerts that need
 * sending to env->send. The engine never reads the wall clock: `now` is
 * always a parameter.
 *
 * Threads: a rule set's structure is immutable after load. One thread at a
 * time evaluates a given group; readers (the HTTP API) may run meanwhile if
 * they bracket their reads with alerting_group_lock/unlock, which
 * alerting_group_eval also takes, only while it updates the group's state
 * (never during queries, appends or sends). */

typedef struct alerting_rules alerting_rules;
typedef struct alerting_group alerting_group;

typedef struct alerting_load_opts {
  int64_t default_interval_ms;     /* global evaluation_interval; 0 = 1m */
  int64_t default_query_offset_ms; /* global rule_query_offset; 0 = none */
  bool restore;                    /* restore `for` state from ALERTS_FOR_STATE after the second
                                      evaluation of each group (Prometheus: the first load after
                                      startup); otherwise ALERTS* are written from the first */
  /* In-memory rule files (e.g. built-in rules), loaded after the files:
   * text[i] (NUL-terminated YAML) named name[i] in messages and as its
   * groups' file. */
  const char *const *extra_names;
  const char *const *extra_texts;
  size_t nextra;
} alerting_load_opts;

/* Load and validate files (in order). On success *out owns everything; on
 * any error nothing is returned, LK_EINVAL/LK_EPARSE/LK_ENOENT/LK_EIO with
 * d = "<file>:<line>: <what>". o may be NULL. */
int alerting_rules_load(const char *const *files, size_t nfiles, const alerting_load_opts *o,
                        alerting_rules **out, lk_diag *d);
void alerting_rules_free(alerting_rules *rs); /* NULL is fine */

/* After a reload: next takes over prev's state as Prometheus does. A group
 * is matched by (file, name); inside it a rule by (name, labels), duplicates
 * in order; matched alerting rules keep their alert instances, matched rules
 * their last series (so stale markers follow), and series of rules that
 * disappeared are marked stale at next's first evaluation of that group (or
 * by alerting_group_mark_stale on prev's groups that vanished). Takes
 * the locks of prev's groups; next must not be evaluated concurrently. */
void alerting_rules_carry_state(alerting_rules *next, alerting_rules *prev);

size_t alerting_rules_ngroups(const alerting_rules *rs);
alerting_group *alerting_rules_group(const alerting_rules *rs, size_t i);

/* Where rule output goes: append the series (labels any order; samples in
 * time order). stale says these are stale markers (errors then are ignored,
 * as Prometheus ignores out-of-order stale markers). Returns 0 or LK_E* with
 * d set. */
typedef struct alerting_appender {
  void *ctx;
  int (*append)(void *ctx, const lk_series *s, size_t n, bool stale, lk_diag *d);
} alerting_appender;
/* Appenders over the tsdb and the in-memory PromQL store (borrowed). */
alerting_appender alerting_appender_tsdb(tsdb *db);
alerting_appender alerting_appender_mem(promql_mem *m);

enum alerting_state {      /* order matters: a rule's state is the max over its alerts */
  ALERTING_UNKNOWN = 0,    /* rule not evaluated yet */
  ALERTING_INACTIVE,
  ALERTING_PENDING,
  ALERTING_FIRING,
};
const char *alerting_state_name(enum alerting_state s); /* "inactive", "pending", "firing", "unknown" */

struct alerting_alert_info;
/* Told of every alert state change of one evaluation, after the state
 * update and outside the group lock: a new instance (from INACTIVE to
 * PENDING or FIRING), pending → firing, firing/pending → INACTIVE (resolved
 * or gone). a is borrowed for the call; rule indexes the group's rules. */
typedef void (*alerting_change_fn)(void *ctx, const alerting_group *g, size_t rule,
                                   const struct alerting_alert_info *a, enum alerting_state from,
                                   int64_t now_ms);

/* What one evaluation reads and writes; every pointer borrowed. */
typedef struct alerting_env {
  const promql_queryable *q;        /* PromQL data (also for ALERTS_FOR_STATE restore) */
  const promql_opts *popts;         /* NULL = defaults */
  logstore *logs;                   /* log rules; NULL makes them fail with an error */
  alerting_appender app;            /* app.append NULL = output dropped */
  const char *external_url;         /* NULL = "" */
  const lk_label *external_labels;  /* for $externalLabels (sorted) */
  size_t nexternal_labels;
  alerting_send_fn send;            /* NULL = nothing sent */
  void *send_ctx;
  int64_t resend_delay_ms;          /* 0 = 1m */
  int64_t for_outage_tolerance_ms;  /* 0 = 1h */
  int64_t for_grace_period_ms;      /* 0 = 10m */
  int max_log_lines;                /* log rules: lines attached as annotation log_lines;
                                       0 = 5, negative = none */
  alerting_change_fn on_change;     /* NULL = not told */
  void *change_ctx;
} alerting_env;

/* Evaluate every rule of g at now_ms (queries at now − query_offset). Rule
 * errors do not stop the group: each is kept on its rule (health, message,
 * time, duration). Returns 0, or LK_EINVAL for a bad env. */
int alerting_group_eval(alerting_group *g, const alerting_env *env, int64_t now_ms);

/* Prometheus's RestoreForState at now_ms (also run by alerting_group_eval
 * after the second evaluation when loaded with restore). Exposed for tests
 * and for callers that schedule it themselves. */
int alerting_group_restore(alerting_group *g, const alerting_env *env, int64_t now_ms);

/* Append stale markers for every series g produced (a group removed by a
 * reload, or at shutdown). */
int alerting_group_mark_stale(alerting_group *g, const alerting_env *env, int64_t now_ms);

void alerting_group_lock(alerting_group *g);
void alerting_group_unlock(alerting_group *g);

/*---- State, for the APIs (read under alerting_group_lock) ----*/

enum alerting_health { ALERTING_HEALTH_UNKNOWN = 0, ALERTING_HEALTH_OK, ALERTING_HEALTH_ERR };
const char *alerting_health_name(enum alerting_health h); /* "unknown", "ok", "err" */

typedef struct alerting_group_info {
  const char *name, *file;
  bool logql;                      /* type: logql */
  int64_t interval_ms, query_offset_ms;
  int64_t limit;                   /* 0 = none */
  const lk_label *labels;          /* group labels, sorted */
  size_t nlabels;
  size_t nrules;
  int64_t last_eval_ms;            /* the `now` of the last evaluation; 0 before */
  int64_t eval_duration_ns;        /* how long it took (monotonic clock; informative only) */
} alerting_group_info;
void alerting_group_get(const alerting_group *g, alerting_group_info *out);

typedef struct alerting_rule_info {
  bool alerting;                   /* false: recording rule */
  const char *name;                /* alert or record name */
  const char *expr;                /* as written */
  size_t line;                     /* in the group's file */
  int64_t for_ms, keep_firing_for_ms;
  const lk_label *labels;          /* rule labels incl. group labels, as written, sorted */
  size_t nlabels;
  const lk_label *annotations;     /* as written, sorted */
  size_t nannotations;
  enum alerting_health health;
  const char *last_error;          /* "" when none */
  int64_t last_eval_ms;
  int64_t eval_duration_ns;
  enum alerting_state state;       /* alerting rules */
  size_t nalerts;                  /* instances, resolved ones still kept included */
} alerting_rule_info;
void alerting_group_rule(const alerting_group *g, size_t i, alerting_rule_info *out);

typedef struct alerting_alert_info {
  const lk_label *labels;          /* sorted, incl. alertname */
  size_t nlabels;
  const lk_label *annotations;     /* sorted */
  size_t nannotations;
  enum alerting_state state;       /* inactive = resolved, kept 15 min */
  double value;
  int64_t active_at_ms, fired_at_ms, resolved_at_ms, keep_firing_since_ms; /* 0 = unset */
  int64_t last_sent_ms, valid_until_ms;
} alerting_alert_info;
/* Alert j of rule i (instances in label-set order). */
void alerting_rule_alert(const alerting_group *g, size_t i, size_t j, alerting_alert_info *out);

/*---- Rule unit tests (promtool test rules) ----*/

/* Run promtool-format rule test files: prints "Unit Testing:  FILE" and
 * "  SUCCESS" to out, or "  FAILED:" and promtool-shaped messages to err.
 * Log rules take `input_streams: [{stream: '{a="b"}', lines: [{ts: 1m,
 * line: "…"}]}]` in a test group. Returns 0 when every test passed, 1
 * otherwise. */
int alerting_unittest_run(const char *const *files, size_t n, FILE *out, FILE *err);

/*---- Running rules in the server (h-rulesrv; alerting/manager.c) ----
 * The rule manager loads rule files from globs (plus Lookout's built-in
 * health rules), evaluates every group on one scheduler thread at its
 * interval, appends recording/ALERTS series to the tsdb, runs log rules
 * against the logstore, writes every alert state change to the log store
 * (stream {__alerts__="lookout", alertname=…}) and hands alerts to its
 * receivers. Reload keeps the old rules on any error and carries the state
 * of unchanged rules over. Every function is safe from any thread. */

typedef struct alerting_manager alerting_manager;

/* Called first by every reload, to re-read the configuration: it may call
 * alerting_manager_set_files; a nonzero return (d set) refuses the reload. */
typedef int (*alerting_reconfig_fn)(void *ctx, alerting_manager *m, lk_diag *d);

typedef struct alerting_manager_opts {
  const char *const *globs;        /* rule_files as configured */
  size_t nglobs;
  const char *base_dir;            /* relative globs resolve here (the config file's directory);
                                      NULL = the working directory */
  const char *builtin_path;        /* write the built-in rule file here and load it first;
                                      NULL = no built-in rules */
  const char *data_dir;            /* for lookout_data_filesystem_* ; NULL = not measured */
  int64_t default_interval_ms;     /* evaluation_interval */
  const lk_label *external_labels; /* copied */
  size_t nexternal_labels;
  const char *external_url;        /* $externalURL, generatorURL; copied */
  const char *self_instance;       /* instance label of the self-scraped series (the listen address) */
  tsdb *db;                        /* borrowed; required */
  logstore *logs;                  /* borrowed; NULL: log rules fail, no history */
  alerting_reconfig_fn reconfig;   /* NULL: reloads re-read the same globs */
  void *reconfig_ctx;
} alerting_manager_opts;

/* Load the rules (restoring `for` state from ALERTS_FOR_STATE, as after a
 * restart); nothing runs until alerting_manager_start. A bad file → LK_E*
 * with d = "<file>:<line>: …" and no manager. */
int alerting_manager_open(const alerting_manager_opts *o, alerting_manager **out, lk_diag *d);
/* Add a receiver of every group evaluation's alerts (before start). */
void alerting_manager_add_receiver(alerting_manager *m, alerting_send_fn fn, void *ctx);
/* Renders Lookout's /metrics page, for the self-scrape. */
typedef void (*alerting_metrics_fn)(void *ctx, lk_buf *out);
/* Start the scheduler thread. self (may be NULL: only the manager's own
 * metrics) renders the page appended to the tsdb before each evaluation of
 * the built-in group. */
int alerting_manager_start(alerting_manager *m, alerting_metrics_fn self, void *self_ctx, lk_diag *d);
/* Only from the reconfig callback: the globs (copied) and default interval
 * the reload then loads. */
void alerting_manager_set_files(alerting_manager *m, const char *const *globs, size_t nglobs,
                                int64_t default_interval_ms);
/* Run reconfig, re-expand the globs and reload every file. On error (d =
 * "<file>:<line>: …") the running rules are untouched. */
int alerting_manager_reload(alerting_manager *m, lk_diag *d);
/* The current rule set for reading (alerting_group_* getters, under
 * alerting_group_lock); valid until alerting_manager_release. */
alerting_rules *alerting_manager_acquire(alerting_manager *m);
void alerting_manager_release(alerting_manager *m);
/* The manager's own metrics (per-group evaluations, failures, missed ticks,
 * durations; reloads; the data filesystem) in the exposition format. */
void alerting_manager_metrics(alerting_manager *m, lk_buf *out);
/* Stop the scheduler thread (waits for an evaluation in flight); readers
 * and reloads keep working. NULL ok. */
void alerting_manager_stop(alerting_manager *m);
/* Stop and free. NULL ok. */
void alerting_manager_close(alerting_manager *m);

/* The built-in health rule file (alerting/builtin_rules.c), a Prometheus
 * rule file that passes `promtool check rules`. */
const char *alerting_builtin_rules(void);
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
