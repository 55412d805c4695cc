/* hpa_live.h — the autoscaler on live objects (module-internal): Kubernetes
 * JSON in (HorizontalPodAutoscaler autoscaling/v1 or v2, the scale target,
 * its Pods), metrics from the tsdb, the algorithm of hpa.h, and the new HPA
 * status plus a decision event out.
 *
 * hpa_json.c reads and writes the JSON shapes, hpa_metrics.c observes each
 * metric spec in the tsdb, hpa_ctl.c holds the per-HPA memory and the event
 * ring and runs orch__hpa_sync. */
#ifndef ORCH_HPA_LIVE_H
#define ORCH_HPA_LIVE_H

#include <jansson.h>

#include "lib/lk_alloc.h"
#include "orchestrator/autoscaling.h"
#include "orchestrator/hpa.h"

/* ---- quantities ---- */

/* A Kubernetes quantity ("250m", "1.5", "128Mi", "2k", "1e3") → milli-units,
 * rounded up as Quantity.MilliValue(). LK_EPARSE when malformed. */
int orch__quantity_milli(const char *s, int64_t *out);
/* milli-units in canonical DecimalSI form ("1500m", "2", "20k"). */
void orch__quantity_format(int64_t milli, char *buf, size_t n);
/* A value → milli-units, rounded up as MilliValue(), without float noise
 * turning 0.1 into 101m; saturating. */
int64_t orch__milli(double v);
/* A JSON quantity: a string as above or a number. */
int orch__quantity_json(const json_t *j, int64_t *out);

/* RFC 3339 → ms (NULL or malformed: LK_EINVAL / LK_EPARSE). */
int orch__time_parse(const char *s, int64_t *out);

/* ---- a parsed HPA ---- */

typedef struct orch__hpa_obj {
  const char *ns, *name, *uid;
  bool v1;                        /* autoscaling/v1: status gets currentCPUUtilizationPercentage */
  int64_t generation;
  int32_t min_replicas, max_replicas;
  bool has_behavior;
  orch__hpa_behavior behavior;
  orch__hpa_metric *metrics;      /* specs (observations added by hpa_metrics.c) */
  size_t nmetrics;
  const json_t **specs;           /* the v2 metric specs as JSON (for currentMetrics), borrowed */
  const char **selectors;         /* each metric's selector in string form, or NULL */
  int32_t previous_desired;
  orch__hpa_conds conds;          /* status.conditions as they were */
  bool has_last_scale;
  int64_t last_scale_ms;
} orch__hpa_obj;

/* Reads an HPA object (v1 form converted to v2: one cpu Utilization metric;
 * v2 without metrics: cpu at 80 %). Strings and arrays live in a. The
 * object must outlive o (specs are borrowed). LK_EINVAL + diag naming the
 * field when something cannot be used. */
int orch__hpa_parse(const json_t *hpa, lk_arena *a, orch__hpa_obj *o, lk_diag *d);
/* Pods (core/v1 Pod JSON with status) → algorithm pods (*out, n of them);
 * strings in a. LK_EINVAL + diag for a request that is not a quantity. */
int orch__hpa_parse_pods(const json_t *const *pods, size_t n, lk_arena *a, orch__hpa_pod **out, lk_diag *d);

/* The status the HPA controller writes (autoscaling/v2 shape, or v1's when
 * o->v1): currentReplicas, desiredReplicas, currentMetrics, conditions,
 * lastScaleTime, observedGeneration. New reference. */
json_t *orch__hpa_status_json(const orch__hpa_obj *o, int32_t current, const orch__hpa_outcome *out,
                              int64_t now_ms);
/* One metric's currentMetrics entry ({"type":""} for a metric that failed). */
json_t *orch__hpa_metric_status(const orch__hpa_obj *o, size_t i, const orch__hpa_metric_out *m);

/* ---- observing metrics ---- */

/* Appends `name="value"` (value escaped as a PromQL string) when value is
 * set, after a comma unless the buffer ends with '{'. */
void orch__promql_matcher(lk_buf *q, const char *name, const char *value);

typedef struct orch__hpa_observe_ctx {
  tsdb *db;
  const orch_external_metric *external;
  size_t nexternal;
  int64_t cpu_window_ms;
  int64_t now_ms;
  lk_arena *a;   /* observations live here */
} orch__hpa_observe_ctx;

/* Fills the observation of every metric of o from the tsdb (a failed read
 * becomes the metric's fetch_error; the algorithm turns it into a condition). */
void orch__hpa_observe(const orch__hpa_observe_ctx *c, orch__hpa_obj *o, const orch__hpa_pod *pods,
                       size_t npods);

/* ---- the sync ---- */

typedef struct orch__hpa_decision {
  int32_t current;     /* the target's spec.replicas at the sync */
  int32_t desired;     /* replicas the target should have */
  bool rescale;        /* desired differs: scale the target */
  json_t *status;      /* the HPA's new status (owned by the caller) */
} orch__hpa_decision;

/* One sync of one HPA: reads metrics live, computes, records the decision
 * event. hpa: the HPA object; scale_target: the Deployment (spec.replicas,
 * status.replicas); pods: the target's pods. LK_EINVAL + diag for objects
 * that cannot be used (nothing recorded). */
int orch__hpa_sync(orch_hpa_ctl *c, const json_t *hpa, const json_t *scale_target,
                   const json_t *const *pods, size_t npods, int64_t now_ms, orch__hpa_decision *out,
                   lk_diag *d);
/* Drops the memory of an HPA that was deleted. */
void orch__hpa_forget(orch_hpa_ctl *c, const char *uid);

#endif
