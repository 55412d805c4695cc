/* autoscaling.h — the autoscaler's public face (prefix orch_): the HPA
 * controller handle with its decision-event feed and metrics, and the
 * metric reads the Kubernetes metrics APIs (web/api_k8s_metrics.c) share
 * with the autoscaler. Meant to be folded into orchestrator/orchestrator.h
 * when the orchestrator's parts merge.
 *
 * Metric reads run PromQL over the tsdb (promql/promql.h):
 * - container usage: cpu = rate(container_cpu_usage_seconds_total[window])
 *   per (namespace, pod, container), memory = container_memory_working_set_bytes,
 *   the collector's cgroup series;
 * - node usage: cpu = the non-idle rate of node_cpu_seconds_total, memory =
 *   node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes;
 * - external metrics: a named PromQL query from the config (external_metrics),
 *   its series filtered by a Kubernetes label selector.
 *
 * Threads: the reads are safe from any thread (the tsdb is). The controller
 * handle is used by the orchestrator's controller thread (orch__hpa_sync) and
 * read by HTTP threads (events, metrics); its lock guards the per-HPA state
 * and the event ring and is a leaf.
 */
#ifndef ORCH_AUTOSCALING_H
#define ORCH_AUTOSCALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"
#include "tsdb/tsdb.h"

/* A named PromQL query served as an external metric (config external_metrics). */
typedef struct orch_external_metric {
  const char *name;
  const char *query;
} orch_external_metric;

/* ---- label selectors (Kubernetes syntax) ---- */

typedef struct orch_selector orch_selector;

/* "a=b,c!=d,e in (x,y),f notin (z),g,!h" (as labelSelector= in the API);
 * "" or NULL selects everything. LK_EPARSE with the diag naming the problem. */
int orch_selector_parse(const char *s, orch_selector **out, lk_diag *d);
bool orch_selector_matches(const orch_selector *s, const lk_label *ls, size_t n);
void orch_selector_free(orch_selector *s); /* NULL is fine */

/* ---- metric reads ---- */

typedef struct orch_usage {
  lk_label *labels;   /* the series' identifying labels (namespace, pod, container | node) */
  size_t nlabels;
  bool has_cpu, has_memory;
  double cpu_cores;   /* average over the window */
  double memory_bytes;
  int64_t ts_ms;      /* evaluation time */
} orch_usage;

typedef struct orch_usage_set {
  orch_usage *v;
  size_t n;
  void *mem; /* owner of the strings */
} orch_usage_set;

void orch_usage_set_free(orch_usage_set *s);

/* Per-container usage at now_ms over window_ms (cpu rate window) of the pods
 * in namespace ns (NULL = all) named pod (NULL = all), sorted by
 * (namespace, pod, container). */
int orch_container_usage(tsdb *db, const char *ns, const char *pod, int64_t now_ms, int64_t window_ms,
                         orch_usage_set *out, lk_diag *d);
/* Per-node usage (node NULL = all), sorted by node. */
int orch_node_usage(tsdb *db, const char *node, int64_t now_ms, int64_t window_ms, orch_usage_set *out,
                    lk_diag *d);

/* One series of a query's instant result: labels sorted by name. */
typedef struct orch_value {
  lk_label *labels;
  size_t nlabels;
  double value;
  int64_t ts_ms;
} orch_value;

typedef struct orch_value_set {
  orch_value *v;
  size_t n;
  void *mem;
} orch_value_set;

void orch_value_set_free(orch_value_set *s);
/* The instant result of query at now_ms: the series sel (may be NULL)
 * matches, or a scalar as one series without labels. LK_EPARSE / LK_EEXEC /
 * LK_EINVAL (a range or string result) with the diag. */
int orch_query_values(tsdb *db, const char *query, const orch_selector *sel, int64_t now_ms,
                      orch_value_set *out, lk_diag *d);

/* A value as a Kubernetes quantity string in milli-unit precision ("1500m", "30"). */
void orch_quantity_string(double v, char *buf, size_t n);

/* The configured query named name, or NULL. */
const orch_external_metric *orch_external_find(const orch_external_metric *v, size_t n, const char *name);

/* ---- the HPA controller ---- */

typedef struct orch_hpa_ctl orch_hpa_ctl;

typedef struct orch_hpa_ctl_opts {
  tsdb *db;                            /* borrowed; required */
  const orch_external_metric *external; /* borrowed for the handle's life */
  size_t nexternal;
  int64_t cpu_window_ms;      /* cpu rate window; default 60 s (metrics-server reports 15–60 s windows) */
  int64_t cpu_init_ms;        /* default 300 s */
  int64_t readiness_delay_ms; /* default 30 s */
  int64_t downscale_window_ms;/* default 300 s */
  double tolerance;           /* default 0.1 */
  size_t event_capacity;      /* decision events kept; default 1024 */
} orch_hpa_ctl_opts;

int orch_hpa_ctl_new(const orch_hpa_ctl_opts *o, orch_hpa_ctl **out, lk_diag *d);
void orch_hpa_ctl_free(orch_hpa_ctl *c); /* NULL is fine */

/* Calls fn for each kept decision event newer than sequence number `after`
 * (0 = all kept), oldest first, at most the newest `limit` of them (0 = all);
 * returns the newest sequence number passed (or `after` when none). fn runs
 * under the handle's lock: it must only copy. Each event is a JSON object:
 * {"seq","time","timeMs","namespace","hpa","uid","currentReplicas",
 *  "desiredReplicas","minReplicas","maxReplicas","metrics":[{"type","name",
 *  "target","value"|"averageValue","utilization","ratio","replicas"} or
 *  {…,"error"}],"recommendation","stabilized","limitReason","limitingPolicy"
 *  ({"type","value","periodSeconds"} of the behavior policy that limited the
 *  count, or null),"rescale",
 *  "reason","error","conditions":[{"type","status","reason","message"}]} */
uint64_t orch_hpa_events_each(orch_hpa_ctl *c, uint64_t after, size_t limit,
                              void (*fn)(void *arg, uint64_t seq, const char *json), void *arg);
/* Waits up to timeout_ms for an event newer than `after`; true if there is one. */
bool orch_hpa_events_wait(orch_hpa_ctl *c, uint64_t after, int64_t timeout_ms);

/* lookout_hpa_desired_replicas / lookout_hpa_current_replicas{namespace,hpa}
 * and lookout_hpa_decisions_total, in the text exposition format. */
void orch_hpa_metrics_text(orch_hpa_ctl *c, lk_buf *out);

#endif
