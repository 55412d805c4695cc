/* orch_int.h — the orchestrator's internal pieces: the object store (with
 * its watch event log), validation, defaults, patches and the controllers.
 *
 * Lock order: the store's mutex (orch__store.mu) is a leaf: store calls
 * take it and return copies, so callers never hold it while doing work.
 * The controller thread is the only writer besides API requests; both go
 * through the same resourceVersion checks.
 */
#ifndef ORCH_INT_H
#define ORCH_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "orchestrator/orchestrator.h"

#define ORCH__EVENTS 4096 /* watch events kept (older resourceVersions get 410 Gone) */

typedef struct orch__event {
  uint64_t rv;
  enum orch_kind k;
  const char *type; /* "ADDED", "MODIFIED", "DELETED" */
  json_t *obj;      /* owned */
} orch__event;

typedef struct orch__store {
  pthread_mutex_t mu;      /* guards everything below */
  pthread_cond_t changed;  /* broadcast on every write and at close */
  char *dir;               /* <data>/orchestrator/objects */
  json_t *objs[ORCH_NKINDS]; /* "ns/name" → object */
  uint64_t rv;             /* last resourceVersion handed out */
  orch__event ev[ORCH__EVENTS]; /* ring: the newest nev events end at ev_end */
  size_t ev_end, nev;
  bool closing;
} orch__store;

/* store.c */
int orch__store_open(const char *data_dir, orch__store **out, lk_diag *d);
void orch__store_close(orch__store *s);
void orch__store_shutdown(orch__store *s); /* wakes every watcher and waiter */
/* Deep copy of one object, or NULL. */
json_t *orch__store_get(orch__store *s, enum orch_kind k, const char *ns, const char *name);
/* Deep copies of every object of kind k in ns (NULL = all), sorted. */
json_t *orch__store_list(orch__store *s, enum orch_kind k, const char *ns, uint64_t *rv);
/* Write obj (borrowed; metadata.namespace/name set) as the new version:
 * create (LK_EEXIST if present) or replace (LK_ENOENT if absent; LK_EAGAIN
 * when expect_rv is non-empty and not the stored one). Assigns a new
 * resourceVersion, persists atomically, records the event. *out (may be
 * NULL) gets a copy of what was stored. dry: the same checks, nothing
 * written (*out is obj as it would be stored). */
int orch__store_put(orch__store *s, enum orch_kind k, const json_t *obj, bool create, const char *expect_rv,
                    bool dry, json_t **out, orch_err *e);
/* Remove an object (LK_ENOENT if absent); *out the last version. */
int orch__store_remove(orch__store *s, enum orch_kind k, const char *ns, const char *name, json_t **out,
                       orch_err *e);
/* Wait until something changes or timeout_ms passes. */
void orch__store_wait(orch__store *s, uint64_t seen_rv, int timeout_ms);
uint64_t orch__store_rv(orch__store *s);
size_t orch__store_count(orch__store *s);

/* errors (orch.c) */
int orch__fail(orch_err *e, int code, int http, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Add one Invalid cause. */
void orch__cause(orch_err *e, const char *field, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* validate.c: the object's shape and values; fills e->causes and returns
 * LK_EINVAL (422) when anything is wrong. Runs after defaults. */
typedef struct orch__node {
  int64_t mem_bytes;  /* MemTotal */
  int64_t milli_cpu;  /* online CPUs × 1000 */
} orch__node;
void orch__node_read(orch__node *n);
int orch__validate(enum orch_kind k, const json_t *obj, const orch__node *node, orch_err *e);
/* Quantities: "100m", "0.5", "2" CPU → millicores; "64Mi", "1G", "1e3" → bytes. -1 when malformed. */
int64_t orch__cpu_milli(const char *q);
int64_t orch__mem_bytes(const char *q);
/* int-or-percent ("25%", 1) resolved against total, rounding up or down. */
int64_t orch__intstr(const json_t *v, int64_t total, bool round_up);

/* validate_defaults.c: Kubernetes's defaults, in place. */
void orch__defaults(enum orch_kind k, json_t *obj);

/* store_patch.c */
/* JSON merge patch (RFC 7386) of patch onto target (new reference). */
json_t *orch__merge_patch(const json_t *target, const json_t *patch);
/* Strategic merge patch for the served types (lists merged by their
 * Kubernetes merge keys, $patch / $setElementOrder / $retainKeys /
 * $deleteFromPrimitiveList directives); NULL + e on a bad directive. */
json_t *orch__strategic_patch(const json_t *target, const json_t *patch, orch_err *e);
/* RFC 6902 JSON patch; NULL + e when an operation fails. */
json_t *orch__json_patch(const json_t *target, const json_t *ops, orch_err *e);

/* labels.c-like helpers (store_select.c) */
bool orch__labels_match(const json_t *labels, const char *selector, orch_err *e);
bool orch__fields_match(const json_t *obj, const char *selector, orch_err *e);
/* A LabelSelector object {matchLabels, matchExpressions} against labels. */
bool orch__selector_match(const json_t *selector, const json_t *labels);

/* json helpers (store.c) */
const char *orch__str(const json_t *o, const char *path); /* "metadata.name" → string or NULL */
json_t *orch__at(const json_t *o, const char *path);     /* borrowed node or NULL */
int64_t orch__int(const json_t *o, const char *path, int64_t dflt);
/* Object at path, created (as {}) when missing; borrowed. */
json_t *orch__obj(json_t *o, const char *path);
void orch__set_str(json_t *o, const char *path, const char *v);
void orch__set_int(json_t *o, const char *path, int64_t v);
void orch__new_uid(char out[37]);
const char *orch__api_version(enum orch_kind k);  /* storage apiVersion, e.g. "apps/v1" */

/* Controllers (ctrl_*.c), one pass each, run on the controller thread. */
void orch__ctrl_deployments(orch *o);
void orch__ctrl_replicasets(orch *o);
void orch__ctrl_pods(orch *o);
void orch__ctrl_gc(orch *o);
/* The autoscaler's per-sync call site (ctrl_common.c). */
void orch__ctrl_hpa(orch *o);
/* ctrl_pod.c: open the container runtime when asked (or note why pods
 * cannot run in o->rt_why) and close it. */
void orch__runtime_start(orch *o, const orch_opts *opts);
void orch__runtime_stop(orch *o);
/* Delete one object as the API does (pods: marked; others: removed now). */
int orch__delete_object(orch *o, enum orch_kind k, const json_t *obj, int64_t grace_s, json_t **out, orch_err *e);
/* Condition helpers shared by the controllers: set (type, status, reason,
 * message) in obj's status.conditions, keeping lastTransitionTime when the
 * status did not change. */
void orch__set_condition(json_t *obj, const char *type, const char *status, const char *reason,
                         const char *msg, bool with_update_time);
/* The status condition of that type, or NULL (borrowed). */
json_t *orch__condition(const json_t *obj, const char *type);
bool orch__pod_ready(const json_t *pod);
/* Not being deleted and not finished (Succeeded/Failed). */
bool orch__pod_active(const json_t *pod);
/* Ready for at least min_ready_s seconds. */
bool orch__pod_available(const json_t *pod, int64_t min_ready_s, int64_t now_ms);

bool orch__owned_by(const json_t *obj, const char *uid);
json_t *orch__owner_ref(const json_t *owner, const char *kind);

/* The handle (orch.c). */
struct orch {
  orch__store *st;
  orch__node node;
  struct orch__rt *rt;       /* NULL when pods cannot run */
  char rt_why[256];          /* why pods cannot run */
  char node_name[64];
  int64_t started_ms;        /* the node's creationTimestamp */
  int64_t sync_ms, hpa_ms, last_hpa_ms;
  struct orch_hpa_ctl *autoscaler; /* borrowed; NULL = no autoscaling */
  json_t *hpa_uids;          /* HPAs seen by the last autoscaler pass (their memory is dropped when gone) */
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t mu;        /* guards stop; leaf */
  bool stop;
};

#endif
