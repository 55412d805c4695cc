/* runtime.h — the orchestrator's "kubelet": runs Pod objects (Kubernetes
 * JSON, jansson) as OCI containers through runc (default) or crun, one shim
 * process (`lookout shim`) per container, and reports Kubernetes PodStatus
 * objects. Module-internal (orch__ prefix); orchestrator.h is the public face.
 *
 * Layout under <data>:
 *   orchestrator/lock                       flock: one runtime per data dir
 *   orchestrator/runc/                      the runtime's state (--root)
 *   orchestrator/pods/<uid>/pod.json        the Pod as last synced (adoption)
 *   orchestrator/pods/<uid>/ns-ipc, ns-net  the pod's shared namespaces (bind mounts)
 *   orchestrator/pods/<uid>/volumes/<name>/ emptyDir volumes
 *   orchestrator/pods/<uid>/<container>/    bundle (config.json, rootfs/),
 *                                           shim.pid, container.pid, exit.json,
 *                                           status.json, shim.log
 *   pods/<ns>_<pod>_<uid>/<container>/<restart>.log   CRI-format logs
 *                                           (rotated <restart>.log.<time>)
 * Cgroups: /lookout/<ns>_<pod>_<uid>/<container> in every hierarchy, so the
 * collector names the container like a Kubernetes pod's; Lookout's log
 * tailer always follows <data>/pods/STAR/STAR/STAR.log (main/logs_local.c).
 *
 * Networking: there is no CNI. A pod shares the host's network unless its
 * spec says `hostNetwork: false` explicitly; then its containers share a
 * private network namespace with eth0, one end of a veth pair whose host
 * end (lkv<8 hex of the uid>) sits on the bridge lookout0, an address from
 * the pod CIDR (IPAM files under orchestrator/ipam/) and a default route via
 * the bridge (runtime_net.c). Pods reach each other; nothing is NATed.
 *
 * Containers and shims outlive the orch__rt (and Lookout): orch__rt_open
 * adopts what a previous instance started, from pod.json, the runtime's state
 * and the shim files; it never starts a second copy.
 *
 * Threads: two per orch__rt, supervision (starts, restarts with
 * CrashLoopBackOff, termination) and probes; every call below is
 * thread-safe (one mutex owned by the orch__rt guards the pod table).
 */
#ifndef ORCH_RUNTIME_H
#define ORCH_RUNTIME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"
#include "orchestrator/orchestrator.h"

typedef struct orch__rt orch__rt;

typedef struct orch__rt_opts {
  const char *data_dir;    /* Lookout's data dir; runtime state under <data>/orchestrator/ */
  const char *runtime;     /* "runc" (default) or "crun"; a path is fine too */
  const char *cgroup_root; /* default /sys/fs/cgroup */
  const char *self_exe;    /* path of the lookout binary (for `lookout shim`); default /proc/self/exe */
  /* CrashLoopBackOff: first delay (default 10000 ms), doubling up to max
   * (default 300000 ms); reset after a container ran reset_ms (default 600000). */
  int64_t backoff_base_ms;
  int64_t backoff_max_ms;
  int64_t backoff_reset_ms;
  /* Container log rotation as the kubelet's containerLogMaxSize (default
   * 10 MiB) and containerLogMaxFiles (default 5, the live file included). */
  int64_t log_max_bytes;
  int log_max_files;
  /* Called (on the runtime's thread, holding its lock: it must only flag
   * work, e.g. ask the collector to rediscover cgroups now) whenever a
   * container starts running; may be NULL. */
  void (*on_start)(void *ctx);
  void *on_start_ctx;
  /* Pods with their own network: addresses from this IPv4 CIDR (default
   * 10.88.0.0/16; the bridge has .1). */
  const char *pod_cidr;
  /* A pod's network came up or went away (orchestrator.h); may be NULL. */
  void (*on_net)(void *ctx, const orch_pod_net_event *ev);
  void *on_net_ctx;
} orch__rt_opts;

/* Checks the runtime can run (root, runtime executable, cgroups; one clear
 * diag otherwise, LK_ENOTSUP), adopts containers of a previous instance and
 * starts the supervision thread. *out owned by the caller (orch__rt_close). */
int orch__rt_open(const orch__rt_opts *o, orch__rt **out, lk_diag *d);

/* Makes the pod (metadata.uid/name/namespace, spec.containers, volumes,
 * restartPolicy, probes, terminationGracePeriodSeconds, hostNetwork) run.
 * Idempotent: a pod already known is left as it is. Returns at once; starts
 * happen on the supervision thread. LK_EINVAL + diag for what cannot run (a
 * missing image directory, a registry image, bad resources); nothing is
 * started then. pod is borrowed. */
int orch__rt_sync_pod(orch__rt *rt, const json_t *pod, lk_diag *d);

/* Kubernetes PodStatus of a pod (new reference, caller json_decref's);
 * LK_ENOENT if unknown. */
int orch__rt_pod_status(orch__rt *rt, const char *uid, json_t **status, lk_diag *d);

/* Graceful removal: SIGTERM, wait grace_ms (< 0: the pod's
 * terminationGracePeriodSeconds, default 30 s), SIGKILL; then runtime delete,
 * cgroups and bundle removed. Asynchronous: the pod leaves orch__rt_pods when
 * done. LK_ENOENT if unknown. */
int orch__rt_remove_pod(orch__rt *rt, const char *uid, int64_t grace_ms, lk_diag *d);

/* Uids of the pods it runs or is stopping: *uids malloc'ed array of
 * malloc'ed strings (caller frees each and the array); returns the count. */
size_t orch__rt_pods(orch__rt *rt, char ***uids);

/* Stops the supervision thread and frees rt; containers keep running and
 * the next orch__rt_open adopts them. NULL is fine. */
void orch__rt_close(orch__rt *rt);

/* `lookout shim` (main/cmd_shim.c): argv from the subcommand name on. */
int orch__shim_main(int argc, char **argv);

#endif
