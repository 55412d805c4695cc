/* orchestrator.h — Lookout's integrated orchestrator: Kubernetes-shaped
 * objects (Namespace, Pod, ReplicaSet, Deployment, HorizontalPodAutoscaler)
 * in a persisted store, the controllers that turn Deployments into
 * ReplicaSets into Pods into containers, and the calls web/ needs to serve
 * the Kubernetes REST API subset kubectl uses.
 *
 * Objects are jansson json_t values in Kubernetes's own JSON shapes. The
 * store applies Kubernetes's defaults and metadata (uid, resourceVersion,
 * generation, creationTimestamp), validates every write (422 with field
 * paths), persists each object atomically under <data>/orchestrator/objects/
 * and records every change as a watch event.
 *
 * Errors: every call returns 0 or an LK_E* code and fills an orch_err with
 * what the API server would answer: HTTP code, Status reason (NotFound,
 * AlreadyExists, Conflict, Invalid, BadRequest, ...), message and, for
 * Invalid, details.causes. Nothing is changed when a call fails.
 *
 * Threads: every call is thread-safe (the store's one mutex, owned by the
 * orch handle). One controller thread, owned by the handle, reconciles every
 * sync period and whenever the store changes.
 *
 * The autoscaler (last section): the HPA controller handle with its
 * decision-event feed and metrics, and the metric reads the Kubernetes
 * metrics APIs (web/api_k8s_metrics.c) share with it. Metric reads run
 * PromQL over the tsdb (promql/promql.h):
 * - container usage: cpu = rate(container_cpu_usage_seconds_total[window])
 *   per (namespace, pod, container), memory = container_memory_working_set_bytes,
 *   the collector's cgroup series;
 * - node usage: cpu = the non-idle rate of node_cpu_seconds_total, memory =
 *   node_memory_mem_total_bytes - node_memory_mem_available_bytes (the
 *   collector's names);
 * - external metrics: a named PromQL query from the config (external_metrics),
 *   its series filtered by a Kubernetes label selector.
 * The reads are safe from any thread (the tsdb is). The HPA controller handle
 * is used by the orchestrator's controller thread (orch__hpa_sync) and read by
 * HTTP threads (events, metrics); its lock guards the per-HPA state and the
 * event ring and is a leaf.
 */
#ifndef ORCHESTRATOR_H
#define ORCHESTRATOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"
#include "tsdb/tsdb.h"

typedef struct orch orch;

/* A pod with its own network (hostNetwork: false) got it, or lost it (the
 * pod is gone). Strings are borrowed for the call. */
typedef struct orch_pod_net_event {
  bool up;
  const char *namespace_, *name, *uid;
  const char *ip;          /* the pod's IPv4 address */
  const char *host_ifname; /* host side of its veth pair, on the bridge lookout0 */
} orch_pod_net_event;

typedef struct orch_opts {
  const char *data_dir;      /* required; objects under <data>/orchestrator/objects/ */
  bool run_pods;             /* start the container runtime (false: pods stay Pending) */
  const char *runtime;       /* "runc" (default) or "crun" */
  const char *cgroup_root;   /* default /sys/fs/cgroup */
  const char *self_exe;      /* the lookout binary (for the runtime's shims) */
  int64_t sync_period_ms;    /* controller resync; default 1000 */
  int64_t hpa_period_ms;     /* autoscaler sync; default 15000 */
  void (*on_container_start)(void *ctx); /* a container began running (runtime thread; only flag
                                           work here, e.g. collector_rescan); may be NULL */
  void *on_container_start_ctx;
  const char *pod_cidr;      /* pods with their own network: IPv4 CIDR; default 10.88.0.0/16 */
  /* A pod's network came up or went away: called on the runtime's thread
   * (or inside orch_open, for the pods it adopts) without the runtime's
   * lock; it must not call into the orchestrator. May be NULL. */
  void (*on_pod_network)(void *ctx, const orch_pod_net_event *ev);
  void *on_pod_network_ctx;
  struct orch_hpa_ctl *autoscaler; /* borrowed: decides for every HPA each hpa period; NULL =
                                      HPAs are kept but nothing scales (a condition says so) */
} orch_opts;

/* Open the store (reloading persisted objects), start the runtime when
 * asked (a runtime that cannot run is logged once; pods then stay Pending
 * with a condition saying why) and the controller thread. */
int orch_open(const orch_opts *o, orch **out, lk_diag *d);
/* Stop the controller thread and free; containers keep running (the next
 * orch_open adopts them). NULL is fine. */
void orch_close(orch *o);

/*---- resources ----*/

enum orch_kind { ORCH_NAMESPACE, ORCH_POD, ORCH_REPLICASET, ORCH_DEPLOYMENT, ORCH_HPA, ORCH_NKINDS };

typedef struct orch_resource {
  enum orch_kind kind;
  const char *group;       /* "" for the core group */
  const char *versions[3]; /* served versions, preferred first, NULL-terminated */
  const char *plural, *singular, *kind_name, *short_name;
  bool namespaced, scale;  /* scale: has the /scale subresource */
} orch_resource;

/* The resource of an object's apiVersion and kind (a served version);
 * NULL when none. *version (may be NULL) gets the version part. */
const orch_resource *orch_resource_of(const char *api_version, const char *kind, const char **version);
/* The table of served resources (static). */
const orch_resource *orch_resources(size_t *n);
/* The resource a group ("" = core) and plural name; NULL if none. */
const orch_resource *orch_resource_find(const char *group, const char *plural);

/*---- errors ----*/

typedef struct orch_err {
  int http;            /* HTTP status the API server would use */
  const char *reason;  /* Status reason (static) */
  char msg[512];
  json_t *causes;      /* Invalid: [{reason, message, field}] (owned), else NULL */
} orch_err;

void orch_err_fini(orch_err *e);
/* The Kubernetes Status object for e (new reference). */
json_t *orch_err_status(const orch_err *e, const orch_resource *r, const char *name);

/*---- objects ----*/

typedef struct orch_list_opts {
  const char *ns;              /* NULL = every namespace */
  const char *label_selector;  /* "a=b,c!=d,e in (x,y),!f,g" or NULL */
  const char *field_selector;  /* metadata.name=, metadata.namespace=, status.phase=, spec.nodeName= */
} orch_list_opts;

/* Copy of one object (new reference). */
int orch_get(orch *o, enum orch_kind k, const char *ns, const char *name, json_t **out, orch_err *e);
/* Copies of the matching objects, sorted by namespace then name (new
 * array), and the store's current resourceVersion. */
int orch_list(orch *o, enum orch_kind k, const orch_list_opts *lo, json_t **items, uint64_t *rv,
              orch_err *e);

/* How a write is done (flags): ORCH_MAIN replaces spec and metadata (the
 * main resource, status kept), ORCH_STATUS only status (the /status
 * subresource); with ORCH_DRY_RUN everything is checked and the would-be
 * object returned, and nothing is stored (the API's dryRun=All). */
enum { ORCH_MAIN = 0, ORCH_STATUS = 1, ORCH_DRY_RUN = 2 };

/* Create obj (borrowed) in ns (how: ORCH_MAIN or ORCH_DRY_RUN); defaults
 * and metadata filled, validated. *out (new reference) is the stored object. */
int orch_create(orch *o, enum orch_kind k, const char *ns, const json_t *obj, unsigned how, json_t **out,
                orch_err *e);
/* Replace an object. A metadata.resourceVersion that is not the stored one
 * is a 409 Conflict; an absent one updates unconditionally. */
int orch_update(orch *o, enum orch_kind k, const char *ns, const char *name, const json_t *obj, unsigned how,
                json_t **out, orch_err *e);

enum orch_patch_type { ORCH_PATCH_MERGE, ORCH_PATCH_STRATEGIC, ORCH_PATCH_JSON };
/* Content-Type → patch type; -1 for anything else. */
int orch_patch_type_of(const char *content_type);
/* Apply a patch to the stored object and update it (409 on a
 * resourceVersion in the patch that is not the stored one; a concurrent
 * write between read and update is retried, as the API server does).
 * hpa_v1: the patch is against the autoscaling/v1 form of an HPA. */
int orch_patch(orch *o, enum orch_kind k, const char *ns, const char *name, enum orch_patch_type t,
               const char *body, size_t len, unsigned how, bool hpa_v1, json_t **out, orch_err *e);

/* Set spec.replicas (the /scale subresource); rv "" or NULL = unconditional. */
int orch_scale(orch *o, enum orch_kind k, const char *ns, const char *name, int64_t replicas,
               const char *rv, json_t **out, orch_err *e);

/* Delete: propagation "Background" (default), "Foreground" or "Orphan";
 * grace_s < 0 = the pod's own terminationGracePeriodSeconds. Pods are
 * marked (deletionTimestamp) and leave the store once their containers
 * have stopped; everything else goes at once, its dependents after it
 * (unless orphaned). *out is the object as deleted. */
int orch_delete(orch *o, enum orch_kind k, const char *ns, const char *name, const char *propagation,
                int64_t grace_s, json_t **out, orch_err *e);

/* Create or update (unconditionally) every object of the YAML manifests
 * matching the globs (multi-document files), as `kubectl apply` would;
 * the first file or object refused stops it, with "<file>:<line>: why" in
 * the diag (objects before it stay applied). */
int orch_apply_manifests(orch *o, const char *const *globs, size_t nglobs, lk_diag *d);

/* This node as a Kubernetes Node object (new reference; read-only: it is
 * not stored): capacity and allocatable from /proc, Ready when pods can
 * run (else the reason), node info of this build. */
json_t *orch_node(orch *o);

/*---- HorizontalPodAutoscaler versions (stored as autoscaling/v2) ----*/

/* autoscaling/v1 object → v2 (new reference), v2 → v1 (new reference). */
json_t *orch_hpa_v1_to_v2(const json_t *v1);
json_t *orch_hpa_v2_to_v1(const json_t *v2);

/*---- watch ----*/

typedef struct orch_watch orch_watch;

/* Events of kind k (in lo's namespace and selectors) after resourceVersion
 * since (0 = from now). LK_EAGAIN (410 Gone in e) when since is older than
 * the events kept. */
int orch_watch_open(orch *o, enum orch_kind k, const orch_list_opts *lo, uint64_t since,
                    orch_watch **out, orch_err *e);
/* Next event {type: ADDED|MODIFIED|DELETED, object} (new reference), waiting
 * up to timeout_ms; LK_ETIMEOUT when none came, LK_ECANCELED once the
 * orchestrator is closing. */
int orch_watch_next(orch_watch *w, int timeout_ms, json_t **event);
void orch_watch_close(orch_watch *w);

/*---- small helpers shared with web/ and main/ ----*/

/* An RFC 3339 time as Kubernetes writes them (lk_time_rfc3339) back to ms;
 * -1 when malformed. */
int64_t orch_parse_rfc3339(const char *s);
/* Kubernetes's short age: "5s", "3m20s", "4h", "2d3h" (into buf[16]). */
void orch_age(int64_t ms, char buf[16]);

/*---- the autoscaler ----*/

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
