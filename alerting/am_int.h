/* am_int.h — internals of the in-process Alertmanager (alerting/am_*.c).
 *
 * Files: am_model.c (label sets, fingerprints, matchers, Go-style time and
 * quoting), am_config.c (route/receivers/inhibit_rules/time_intervals and
 * Prometheus's `alerting` section, read with lk_yaml), am_core.c (alert
 * store, silences, inhibition, aggregation groups and their timers,
 * notification log, persistence), am_notify.c (webhook bodies, the durable
 * on-disk queue and its sender thread), am_forward.c (Prometheus's notifier
 * queue towards real Alertmanagers), am_api.c (the API v2 JSON shapes).
 *
 * Locks: alerting_am.mu guards the store, silences, groups and the
 * notification log; the queue and the forwarder each own one leaf lock.
 * am.mu may be held while taking a leaf lock, never the other way round.
 */
#ifndef ALERTING_AM_INT_H
#define ALERTING_AM_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alerting/alerting.h"
#include "lib/lk_buf.h"
#include "lib/lk_regex.h"
#include "lib/lk_selector.h"

/* An owned, name-sorted label set. */
typedef struct am_labels {
  lk_label *v;
  size_t n;
} am_labels;

typedef struct am_matcher {
  char *name, *value;
  enum lk_sel_op op;
  lk_regex *re; /* =~ and !~ */
} am_matcher;

typedef struct am_matchers {
  am_matcher *v;
  size_t n;
} am_matchers;

/* An alert as stored; times in ms since the epoch, 0 = Go's zero time. */
typedef struct am_alert {
  am_labels labels, annotations;
  int64_t starts_at, ends_at, updated_at;
  bool timeout;          /* ends_at was filled in from resolve_timeout */
  char *generator_url;
  uint64_t fp;
} am_alert;

/*---- am_model.c ----*/
void am__labels_free(am_labels *l);
void am__labels_copy(am_labels *dst, const am_labels *src);
void am__labels_add(am_labels *l, const char *name, const char *value); /* keeps the order */
const char *am__labels_get(const am_labels *l, const char *name);
uint64_t am__fingerprint(const am_labels *l); /* FNV-1a 64, Alertmanager's */
void am__alert_copy(am_alert *dst, const am_alert *src);
void am__alert_free(am_alert *a);
bool am__alert_resolved(const am_alert *a, int64_t now);
/* Alertmanager's merge of an update o into a (both same fingerprint); result in a. */
void am__alert_merge(am_alert *a, const am_alert *o);

/* One or more matchers, `{a="b", c=~"d"}` or without braces; values quoted
 * or bare. 0 or LK_EINVAL with d "bad matcher format: …" or the regex error. */
int am__matchers_parse(const char *s, am_matchers *out, lk_diag *d);
int am__matcher_add(am_matchers *ms, const char *name, enum lk_sel_op op, const char *value, lk_diag *d);
void am__matchers_sort(am_matchers *ms);
void am__matchers_free(am_matchers *ms);
bool am__matchers_match(const am_matchers *ms, const am_labels *l);
/* {a="b",c=~"d"} as Alertmanager prints a matcher set (route keys). */
void am__matchers_format(lk_buf *b, const am_matchers *ms);
const char *am__op_str(enum lk_sel_op op);
/* Go's %q of s. */
void am__quote(lk_buf *b, const char *s);
/* {a="b", c="d"}: Go's model.LabelSet String(). */
void am__labels_format(lk_buf *b, const am_labels *l);
/* RFC 3339 as Go marshals time.Time in UTC (0 → 0001-01-01T00:00:00Z). */
void am__fmt_time(char out[40], int64_t ms);
/* JSON object of labels → am_labels (sorted); LK_EINVAL with d on bad input. */
int am__labels_from_json(const json_t *o, const char *what, am_labels *out, lk_diag *d);
json_t *am__labels_json(const am_labels *l);

/*---- am_config.c ----*/
typedef struct am_webhook {
  char *url;
  bool send_resolved;
  uint64_t max_alerts;
  char *authorization; /* "Bearer x" / "Basic …" header value, or NULL */
  int64_t timeout_ms;  /* 0 = none given (10 s applies) */
} am_webhook;

typedef struct am_receiver {
  char *name;
  am_webhook *hooks;
  size_t nhooks;
} am_receiver;

typedef struct am_route am_route;
struct am_route {
  char *receiver;
  char **group_by;
  size_t ngroup_by;
  bool group_all; /* group_by: ['...'] */
  int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
  am_matchers matchers;
  bool cont;
  char **mute, **active; /* time interval names */
  size_t nmute, nactive;
  am_route *kids;
  size_t nkids;
  char *key; /* {}/{team="db"} */
};

typedef struct am_inhibit {
  am_matchers src, tgt;
  char **equal;
  size_t nequal;
} am_inhibit;

typedef struct am_range {
  int lo, hi;
} am_range;

/* One time_intervals entry; empty lists mean "any". Times in minutes of the
 * day [lo, hi); days_of_month may be negative (from the end). */
typedef struct am_tspec {
  am_range *times, *weekdays, *mdays, *months, *years;
  size_t ntimes, nweekdays, nmdays, nmonths, nyears;
  bool local; /* location: Local; otherwise UTC */
} am_tspec;

typedef struct am_tinterval {
  char *name;
  am_tspec *v;
  size_t n;
} am_tinterval;

typedef struct am_target {
  char *url; /* http://host:port<path_prefix>/api/v2/alerts */
  int64_t timeout_ms;
} am_target;

typedef struct am_config {
  am_route root;
  am_receiver *recv;
  size_t nrecv;
  am_inhibit *inh;
  size_t ninh;
  am_tinterval *ti;
  size_t nti;
  am_target *targets;
  size_t ntargets;
  int64_t resolve_timeout_ms; /* 5m */
  char *original;             /* the file's text ("" without a file) */
} am_config;

/* Parse the Alertmanager sections of the config file at path (NULL: the
 * defaults, a root route to receiver "default" without integrations).
 * Errors read "<file>:<line>: …". */
int am__config_load(const char *path, am_config *c, lk_diag *d);
void am__config_free(am_config *c);
const am_receiver *am__receiver(const am_config *c, const char *name);
/* Whether the named interval is active at now. */
bool am__interval_active(const am_config *c, const char *name, int64_t now);

/*---- am_notify.c: the durable webhook queue ----*/
typedef struct am_queue am_queue;
/* Load what a previous run left queued; am__queue_start then starts the
 * sender (after the caller has read the entries' log records). */
int am__queue_open(const char *dir, am_queue **out, lk_diag *d);
int am__queue_start(am_queue *q, lk_diag *d);
/* Durably queue one POST (fsync'd before returning 0), with the
 * notification-log entry it stands for (kept in the file). */
int am__queue_push(am_queue *q, const am_webhook *h, const char *body, size_t len, const json_t *nflog,
                   lk_diag *d);
/* Call fn with the log entry of every queued notification (at start). */
void am__queue_nflog(am_queue *q, void (*fn)(void *ctx, const json_t *entry), void *ctx);
size_t am__queue_len(am_queue *q);
void am__queue_close(am_queue *q); /* stops the sender; what is pending stays on disk */
typedef struct am_queue_stats {
  uint64_t sent, failed, dropped; /* delivered; attempts to retry; refused with 4xx */
} am_queue_stats;
void am__queue_stats(am_queue *q, am_queue_stats *st);
/* The webhook body (version 4) for alerts of one group. */
void am__webhook_body(lk_buf *out, const char *receiver, const char *group_key, const am_labels *group_labels,
                      const am_alert *alerts, size_t n, uint64_t max_alerts, const char *external_url);

/*---- am_forward.c: Prometheus's notifier ----*/
typedef struct am_forward am_forward;
am_forward *am__forward_start(const am_target *t, size_t n);
void am__forward_push(am_forward *f, const alerting_alert *alerts, size_t n);
void am__forward_stop(am_forward *f); /* sends what is queued first (bounded) */
typedef struct am_forward_stats {
  uint64_t sent, errors, dropped, queued;
} am_forward_stats;
void am__forward_stats(am_forward *f, am_forward_stats *st);

/*---- am_core.c ----*/
typedef struct am_silence {
  char *id;
  am_matchers matchers;
  int64_t starts_at, ends_at, updated_at;
  char *created_by, *comment;
} am_silence;

typedef struct am_group {
  const am_route *route;
  am_labels labels;
  char *key;
  am_alert *alerts;
  size_t n;
  int64_t next_flush_ms;
  bool flushed;
} am_group;

typedef struct am_nflog {
  char *key; /* group key + "\x1f" + receiver + "\x1f" + integration index */
  uint64_t *firing, *resolved;
  size_t nfiring, nresolved;
  int64_t ts;
} am_nflog;

struct alerting_am {
  am_config cfg;
  char *dir;          /* <data>/alerting */
  char *external_url;
  int64_t start_ms;
  pthread_mutex_t mu; /* guards everything below up to the threads */
  pthread_cond_t cv;
  bool stop;
  am_alert *alerts;
  size_t nalerts;
  am_silence *sil;
  size_t nsil;
  am_group *groups;
  size_t ngroups;
  am_nflog *nflog;
  size_t nnflog;
  bool alerts_dirty;
  int64_t next_gc_ms;
  pthread_t thread;   /* the dispatcher */
  bool thread_started;
  am_queue *q;
  am_forward *fwd;
  _Atomic uint64_t received, invalid, notifications;
};

/* The state of an alert for the API: ids of the silences muting it (an
 * array of borrowed strings, malloc'ed) and the fingerprint of a source
 * alert inhibiting it (0: none). Caller holds mu. */
void am__alert_status(alerting_am *am, const am_alert *a, int64_t now, const char ***sil, size_t *nsil,
                      uint64_t *inhibitor);
/* Receivers an alert routes to (borrowed names; array malloc'ed). */
void am__alert_receivers(alerting_am *am, const am_alert *a, const char ***out, size_t *n);
/* Routes matching labels, in Alertmanager's order (array malloc'ed). */
void am__route_match(const am_route *r, const am_labels *l, const am_route ***out, size_t *n);
const char *am__silence_state(const am_silence *s, int64_t now);
/* Take over alerts[0..n) (their contents; the array stays the caller's). */
void am__ingest(alerting_am *am, am_alert *alerts, size_t n, int64_t now);

/*---- am_silence.c (callers hold mu) ----*/
/* Create or update from a postable silence; *id_out gets the (new) id. */
int am__silence_put(alerting_am *am, const json_t *body, int64_t now, char id_out[40], lk_diag *d);
int am__silence_expire(alerting_am *am, const char *id, int64_t now, lk_diag *d);
/* A silence as the API shows it (now = 0: as persisted, without status). */
json_t *am__silence_json(const am_silence *s, int64_t now);
/* Re-add a persisted silence (silently skips a malformed entry). */
void am__silence_load(alerting_am *am, const json_t *j);
void am__silence_free(am_silence *s);
/* am_core.c: rewrite <dir>/silences.json (after every change). */
void am__save_silences(alerting_am *am);

#endif
