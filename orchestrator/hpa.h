/* hpa.h — the Kubernetes HorizontalPodAutoscaler algorithm (module-internal).
 *
 * Pure functions over plain structs, no I/O: the metrics a sync needs are read
 * first (hpa_metrics.c) and handed in; the algorithm (hpa_calc.c: one metric →
 * proposed replicas, hpa_normalize.c: stabilization and rate limits,
 * hpa_reconcile.c: one whole sync with status conditions) follows upstream's
 * pkg/controller/podautoscaler step by step, so that the shared peer cases
 * (../shared/peers/hpa) give upstream's answers.
 *
 * Times are absolute milliseconds on one clock, "now" is passed in; windows are
 * strict as upstream's time.Before/After ("inside W" is age < W, "older than
 * W" is age > W). Quantities are milli-units as int64 (Quantity.MilliValue()).
 * Strings in the input structs are borrowed; nothing here keeps a pointer to
 * them after the call returns.
 */
#ifndef ORCH_HPA_H
#define ORCH_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pods and their metrics ---- */

enum orch__hpa_res { ORCH__RES_CPU, ORCH__RES_MEMORY, ORCH__RES_N };

/* Amounts per resource (requests of a container, or its usage). */
typedef struct orch__hpa_amounts {
  bool has[ORCH__RES_N];
  int64_t milli[ORCH__RES_N];
} orch__hpa_amounts;

typedef struct orch__hpa_container {
  const char *name;
  orch__hpa_amounts amounts;
} orch__hpa_container;

enum orch__hpa_phase { ORCH__PHASE_PENDING, ORCH__PHASE_RUNNING, ORCH__PHASE_SUCCEEDED,
                       ORCH__PHASE_FAILED, ORCH__PHASE_UNKNOWN };
/* A condition's status; NONE = the pod has no such condition. */
enum orch__hpa_cstatus { ORCH__CS_NONE, ORCH__CS_TRUE, ORCH__CS_FALSE, ORCH__CS_UNKNOWN };

typedef struct orch__hpa_pod {
  const char *name;
  int phase;                   /* orch__hpa_phase */
  bool deleting;               /* metadata.deletionTimestamp is set */
  int ready;                   /* orch__hpa_cstatus of the Ready condition */
  int64_t ready_transition_ms; /* its lastTransitionTime */
  bool has_start;
  int64_t start_ms;            /* status.startTime */
  const orch__hpa_container *containers; /* spec.containers with their requests */
  size_t ncontainers;
} orch__hpa_pod;

/* One item of the resource metrics API (metrics.k8s.io PodMetrics). */
typedef struct orch__hpa_pod_usage {
  const char *pod;
  int64_t ts_ms, window_ms;
  const orch__hpa_container *containers; /* usage per container */
  size_t ncontainers;
} orch__hpa_pod_usage;

/* One per-pod metric value (custom metrics API item, or a resource usage). */
typedef struct orch__hpa_sample {
  const char *pod;
  int64_t value_milli, ts_ms, window_ms;
} orch__hpa_sample;

/* ---- settings ---- */

typedef struct orch__hpa_tolerance {
  double down, up; /* a ratio r is within when 1-down <= r <= 1+up */
} orch__hpa_tolerance;

typedef struct orch__hpa_settings {
  int64_t cpu_init_ms;        /* --horizontal-pod-autoscaler-cpu-initialization-period (5m) */
  int64_t readiness_delay_ms; /* --horizontal-pod-autoscaler-initial-readiness-delay (30s) */
  int64_t downscale_window_ms;/* --horizontal-pod-autoscaler-downscale-stabilization (5m) */
  double legacy_factor;       /* scale-up limit without behavior: max(factor × current, minimum) */
  double legacy_minimum;
  orch__hpa_tolerance tolerance; /* --horizontal-pod-autoscaler-tolerance (0.1 both ways) */
} orch__hpa_settings;

/* Kubernetes's production defaults. */
void orch__hpa_settings_default(orch__hpa_settings *s);

/* ---- pod grouping (upstream groupPods) ---- */

enum orch__hpa_group { ORCH__GROUP_READY, ORCH__GROUP_UNREADY, ORCH__GROUP_MISSING,
                       ORCH__GROUP_IGNORED };

/* Sorts pods into groups (group[i] for pods[i]); cpu = the CPU readiness rules
 * apply. Returns the ready count. A sample is matched by pod name. */
size_t orch__hpa_group_pods(const orch__hpa_pod *pods, size_t npods, const orch__hpa_sample *samples,
                            size_t nsamples, bool cpu, const orch__hpa_settings *s, int64_t now_ms,
                            int *group);

/* ---- metric specs and one metric's proposal ---- */

enum orch__hpa_mtype { ORCH__M_RESOURCE, ORCH__M_CONTAINER_RESOURCE, ORCH__M_PODS, ORCH__M_OBJECT,
                       ORCH__M_EXTERNAL, ORCH__M_UNKNOWN };
enum orch__hpa_ttype { ORCH__T_NONE, ORCH__T_UTILIZATION, ORCH__T_VALUE, ORCH__T_AVERAGE_VALUE };

typedef struct orch__hpa_target {
  int type; /* orch__hpa_ttype */
  bool has_utilization, has_value, has_average;
  int32_t utilization;   /* averageUtilization, percent */
  int64_t value_milli;   /* value */
  int64_t average_milli; /* averageValue */
} orch__hpa_target;

/* One metric spec plus what was observed for it. */
typedef struct orch__hpa_metric {
  int type;              /* orch__hpa_mtype */
  const char *type_name; /* the spec's type as written (for InvalidMetricSourceType) */
  const char *name;      /* resource name (cpu, memory) or metric name */
  const char *container; /* ContainerResource's container */
  const char *object_kind, *object_name; /* Object's describedObject */
  orch__hpa_target target;
  /* observation (filled by the metrics reader; NULL/0 when nothing came) */
  const char *fetch_error;           /* the metrics API call failed with this text */
  const orch__hpa_pod_usage *usage;  /* Resource, ContainerResource */
  size_t nusage;
  const orch__hpa_sample *samples;   /* Pods */
  size_t nsamples;
  const int64_t *values;             /* Object (the first), External (summed) */
  size_t nvalues;
} orch__hpa_metric;

/* What one metric proposes, and its status for currentMetrics. */
typedef struct orch__hpa_metric_out {
  bool ok;
  int32_t replicas;
  double ratio;              /* usage ratio (NaN when not computed) */
  bool has_utilization;
  int32_t utilization;       /* current.averageUtilization */
  bool average;              /* value_milli is current.averageValue, else current.value */
  int64_t value_milli;
  const char *reason;        /* on failure: FailedGet…Metric, InvalidMetricSourceType */
  char description[160];     /* upstream's metric name ("cpu resource utilization (…)") */
  char error[512];           /* on failure: upstream's message */
} orch__hpa_metric_out;

/* One metric's proposal (upstream computeReplicasForMetric without the
 * condition). current = spec.replicas of the target, status_replicas = its
 * status.replicas. Returns 0, or LK_EINVAL with out->error and out->reason. */
int orch__hpa_metric_replicas(const orch__hpa_metric *m, const orch__hpa_pod *pods, size_t npods,
                              int32_t current, int32_t status_replicas, orch__hpa_tolerance tol,
                              const orch__hpa_settings *s, int64_t now_ms, orch__hpa_metric_out *out);

/* ---- behavior ---- */

enum orch__hpa_select { ORCH__SELECT_MAX, ORCH__SELECT_MIN, ORCH__SELECT_DISABLED };
enum orch__hpa_ptype { ORCH__POLICY_PODS, ORCH__POLICY_PERCENT };
#define ORCH__HPA_MAX_POLICIES 16

typedef struct orch__hpa_policy {
  int type; /* orch__hpa_ptype */
  int32_t value, period_s;
} orch__hpa_policy;

typedef struct orch__hpa_rules {
  bool has_window;
  int32_t window_s; /* stabilizationWindowSeconds */
  int select;       /* orch__hpa_select */
  orch__hpa_policy policies[ORCH__HPA_MAX_POLICIES];
  size_t npolicies;
  bool has_tolerance;
  double tolerance;
} orch__hpa_rules;

typedef struct orch__hpa_behavior {
  orch__hpa_rules up, down;
} orch__hpa_behavior;

/* API defaults for a direction's rules that were not given (behavior present). */
void orch__hpa_rules_default(orch__hpa_rules *r, bool up);

typedef struct orch__hpa_rec {
  int32_t replicas;
  int64_t ts_ms;
} orch__hpa_rec;

typedef struct orch__hpa_event {
  int32_t change; /* replicas added (up list) or removed (down list) */
  int64_t ts_ms;
  bool outdated;
} orch__hpa_event;

/* The per-HPA memory upstream keeps in the controller: recommendations and
 * scale events. Zero-initialise; orch__hpa_history_free releases it.
 * initialized = the recommendations were seeded (upstream's non-nil slice). */
typedef struct orch__hpa_history {
  bool initialized;
  orch__hpa_rec *recs;
  size_t nrecs, caprecs;
  orch__hpa_event *up, *down;
  size_t nup, capup, ndown, capdown;
} orch__hpa_history;

void orch__hpa_history_free(orch__hpa_history *h);
void orch__hpa_history_add_rec(orch__hpa_history *h, orch__hpa_rec r);
void orch__hpa_history_add_event(orch__hpa_history *h, bool up, orch__hpa_event e);

/* Replicas changed by events inside period_s (age < period). */
int32_t orch__hpa_change_in_period(const orch__hpa_event *ev, size_t n, int32_t period_s, int64_t now_ms);

/* Stabilization with behavior (upstream stabilizeRecommendationWithBehaviors):
 * returns the stabilized count and stores the new recommendation. *reason is
 * ScaleUpStabilized or ScaleDownStabilized (used when it differs). */
int32_t orch__hpa_stabilize(orch__hpa_history *h, const orch__hpa_behavior *b, int32_t current,
                            int32_t desired, int64_t now_ms, const char **reason);
/* Legacy stabilization (no behavior): the max over recommendations not older
 * than the window; stores the new recommendation. */
int32_t orch__hpa_stabilize_legacy(orch__hpa_history *h, int64_t window_ms, int32_t desired,
                                   int64_t now_ms);

int32_t orch__hpa_scale_up_limit(int32_t current, const orch__hpa_history *h,
                                 const orch__hpa_rules *r, int64_t now_ms);
int32_t orch__hpa_scale_down_limit(int32_t current, const orch__hpa_history *h,
                                   const orch__hpa_rules *r, int64_t now_ms);

/* The rate step with behavior, then min/max (convertDesiredReplicasWithBehaviorRate);
 * *reason is ScaleUpLimit, TooManyReplicas, ScaleDownLimit, TooFewReplicas or
 * DesiredWithinRange, *message its text; *policy (may be NULL) the index of
 * the scaling direction's policy that limited the count, or -1. */
int32_t orch__hpa_rate_limit(const orch__hpa_behavior *b, const orch__hpa_history *h, int32_t current,
                             int32_t desired, int32_t min, int32_t max, int64_t now_ms,
                             const char **reason, const char **message, int *policy);
/* The legacy rate step (convertDesiredReplicasWithRules). */
int32_t orch__hpa_legacy_limit(int32_t current, int32_t desired, int32_t min, int32_t max,
                               double factor, double minimum, const char **reason, const char **message);

/* Records a scale event prev → next (nothing when b is NULL): events older
 * than the direction's longest policy period become outdated; the last
 * outdated slot is reused. */
void orch__hpa_store_event(orch__hpa_history *h, const orch__hpa_behavior *b, int32_t prev,
                           int32_t next, int64_t now_ms);

/* ---- one sync ---- */

enum orch__hpa_ctype { ORCH__COND_ABLE_TO_SCALE, ORCH__COND_SCALING_ACTIVE, ORCH__COND_SCALING_LIMITED };
#define ORCH__HPA_NCOND 3

typedef struct orch__hpa_cond {
  int type;   /* orch__hpa_ctype */
  bool status;
  char reason[48];
  char message[640];
  int64_t transition_ms;
} orch__hpa_cond;

/* Status conditions in the order they were first set (upstream setCondition). */
typedef struct orch__hpa_conds {
  orch__hpa_cond c[ORCH__HPA_NCOND];
  size_t n;
} orch__hpa_conds;

void orch__hpa_cond_set(orch__hpa_conds *cs, int type, bool status, const char *reason,
                        const char *message, int64_t now_ms);
const char *orch__hpa_cond_name(int type);

typedef struct orch__hpa_input {
  int32_t spec_replicas;     /* the target's spec.replicas */
  int32_t status_replicas;   /* the target's status.replicas */
  int32_t min_replicas, max_replicas;
  int32_t previous_desired;  /* status.desiredReplicas before this sync */
  const orch__hpa_behavior *behavior; /* NULL: the legacy path */
  const orch__hpa_metric *metrics;
  size_t nmetrics;
  const orch__hpa_pod *pods;
  size_t npods;
  const orch__hpa_settings *settings;
} orch__hpa_input;

typedef struct orch__hpa_outcome {
  int32_t desired;        /* status.desiredReplicas after this sync */
  bool rescale;           /* the target is to be scaled to desired */
  bool metrics_failed;    /* no proposal: the metrics' error is in error */
  int32_t proposal;       /* max over the metrics (before normalization) */
  int32_t stabilized;     /* after stabilization */
  const char *limit_reason;  /* the ScalingLimited reason of the rate step */
  const orch__hpa_policy *limit_policy; /* the behavior policy that limited it, or NULL */
  char rescale_reason[256];
  char error[1024];
  orch__hpa_metric_out *metric_out; /* caller's array of nmetrics */
  orch__hpa_conds conds;  /* in: the previous conditions; out: the new ones */
} orch__hpa_outcome;

/* One sync of one HPA (upstream reconcileAutoscaler after getting the scale):
 * uses and updates h. */
void orch__hpa_reconcile(const orch__hpa_input *in, orch__hpa_history *h, int64_t now_ms,
                        orch__hpa_outcome *out);

/* Saturating conversions as upstream's (float → int32/int64, int64 sums). */
int32_t orch__hpa_sat32(double v);
int64_t orch__hpa_sat64(double v);
int64_t orch__hpa_add_sat(int64_t a, int64_t b);

#endif
