/* runtime_int.h — what the runtime*.c files share: the pod table, the
 * per-container state machine, probes, and the helpers that run the OCI
 * runtime. See runtime.h for the layout on disk and the threads.
 *
 * Locking: rt->mu (owned by the orch__rt) guards the pod table and every
 * mutable field of orch__pod/orch__ctr. Fields marked "fixed" are set before
 * the pod is published in the table and never change, so they are read
 * without the lock. Only the supervision thread frees pods, so a pod pointer
 * taken under the lock stays valid on that thread while it drops the lock
 * around a slow call (runc, probes).
 */
#ifndef ORCH_RUNTIME_INT_H
#define ORCH_RUNTIME_INT_H

#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/lk_buf.h"
#include "orchestrator/runtime.h"

enum orch__ctr_state {
  ORCH__CS_WAITING,  /* not started yet, or in CrashLoopBackOff (backoff_until) */
  ORCH__CS_CREATING, /* shim spawned, container not seen running yet */
  ORCH__CS_RUNNING,
  ORCH__CS_DONE,     /* terminated and not restarted (policy, or pod terminating) */
};

enum orch__policy { ORCH__ALWAYS, ORCH__ONFAILURE, ORCH__NEVER };
enum orch__probe_kind { ORCH__PROBE_NONE, ORCH__PROBE_EXEC, ORCH__PROBE_HTTP, ORCH__PROBE_TCP };

typedef struct orch__probe {
  /* fixed */
  enum orch__probe_kind kind;
  json_t *exec_cmd;      /* array of strings (EXEC) */
  char *host, *path, *scheme;
  int port;
  int64_t initial_delay_ms, period_ms, timeout_ms;
  int success_threshold, failure_threshold;
  /* mutable */
  int64_t next_ms;       /* wall time of the next run; 0 = not scheduled */
  int successes, failures;
} orch__probe;

typedef struct orch__ctr {
  /* fixed */
  char *name, *image;
  char *id;              /* runtime container id */
  char *dir;             /* bundle: <data>/orchestrator/pods/<uid>/<name> */
  char *log_dir;         /* <data>/pods/<ns>_<pod>_<uid>/<name> */
  orch__probe liveness, readiness;
  /* mutable */
  enum orch__ctr_state state;
  int restarts;          /* restartCount */
  int backoff_n;         /* crashes counted by the back-off (reset after a long run) */
  int64_t backoff_until_ms;
  int64_t spawn_ms;      /* when the current shim was started */
  int64_t started_ms;    /* running since */
  pid_t pid, shim_pid;
  bool ready;
  json_t *last_state;    /* {"terminated":{...}} of the previous run, or NULL */
  json_t *terminated;    /* {"terminated":{...}} when DONE, or NULL */
  char reason[64];       /* waiting reason / terminated reason */
  char message[256];
  bool kill_requested;   /* liveness failed: SIGTERM sent, restart when it exits */
  int64_t kill_at_ms;    /* then SIGKILL from this time on (the grace period) */
  int64_t last_kill_ms;  /* last SIGKILL sent (repeated every second) */
  bool term_sent;        /* pod terminating: SIGTERM sent */
} orch__ctr;

typedef struct orch__pod {
  /* fixed */
  char *uid, *ns, *name;
  char *dir;             /* <data>/orchestrator/pods/<uid> */
  char *log_dir;         /* <data>/pods/<ns>_<pod>_<uid> */
  json_t *pod;           /* the Pod as synced */
  orch__ctr *ctrs;
  size_t nctrs;
  enum orch__policy policy;
  bool host_network;
  char veth[IFNAMSIZ];   /* host side of its veth pair (unless host network) */
  int64_t grace_ms;      /* terminationGracePeriodSeconds */
  int64_t created_ms;    /* startTime */
  /* mutable */
  bool terminating;
  int64_t term_grace_ms; /* grace of the removal in progress */
  int64_t term_start_ms;
  int64_t ready_change_ms, init_ms, scheduled_ms;
  bool was_ready;
  char ip[INET_ADDRSTRLEN]; /* pod IP (own network), "" until it is up; written on the
                               supervision thread */
} orch__pod;

struct orch__rt {
  /* fixed */
  char *data_dir, *runtime, *cgroup_root, *self_exe;
  char *state_root;      /* <data>/orchestrator/runc */
  char *pods_dir;        /* <data>/orchestrator/pods */
  char *logs_dir;        /* <data>/pods */
  char host_ip[64];
  int lock_fd;           /* flock on <data>/orchestrator/lock */
  int64_t backoff_base_ms, backoff_max_ms, backoff_reset_ms;
  char log_max_bytes[24], log_max_files[16]; /* shim arguments */
  void (*on_start)(void *ctx); /* see orch__rt_opts */
  void *on_start_ctx;
  uint32_t pod_net;      /* pod CIDR, host byte order */
  int pod_prefix;
  void (*on_net)(void *ctx, const orch_pod_net_event *ev); /* see orch__rt_opts */
  void *on_net_ctx;
  /* guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;     /* wakes the supervision thread (new work, stop) */
  bool stop;
  bool probe_busy;       /* probes in flight: no pod may be freed */
  orch__pod **pods;
  size_t npods, cap;
  pthread_t thread, probe_thread;
};

/* Waits on rt->cv (held) for at most ms, unless stopping. */
void orch__tick_wait(orch__rt *rt, int ms);

/*---- runtime_exec.c: child processes ----*/

/* In a child after fork: stdin /dev/null, stdout/stderr to the fds (-1:
 * /dev/null; err -1 with out set: out), other fds closed, exec argv (PATH
 * searched); 127 if that fails. Async-signal-safe calls only. */
void orch__child_exec(char *const argv[], int out_fd, int err_fd) __attribute__((noreturn));

/* Runs argv (argv[0] searched in PATH), stdin /dev/null, stdout (and stderr
 * when err is NULL) captured into out (may be NULL); killed after timeout_ms.
 * *status = exit status (128+signal when killed by a signal). Returns 0,
 * LK_ETIMEOUT or LK_EIO (could not start). */
int orch__run(char *const argv[], int timeout_ms, lk_buf *out, lk_buf *err, int *status);
/* `<runtime> --root <state_root> args...` with a 10 s bound; stdout in out
 * (may be NULL). LK_EEXEC (+ diag with its stderr) if it exits non-zero. */
int orch__runc(orch__rt *rt, lk_buf *out, lk_diag *d, ...) __attribute__((sentinel));
/* runc state: pid and status ("running", "stopped", ...) of a container;
 * LK_ENOENT if the runtime does not know it. */
int orch__runc_state(orch__rt *rt, const char *id, pid_t *pid, char *status, size_t cap);
/* Starts `lookout shim` detached (own session, reparented to init) for the
 * container's next run; it writes shim.pid and, when the run ends, exit.json. */
int orch__spawn_shim(orch__rt *rt, orch__ctr *c, int restart, lk_diag *d);
/* Is pid alive and a `lookout shim` process? */
bool orch__shim_alive(pid_t pid);

/*---- runtime_bundle.c: config.json ----*/

/* Checks everything of the pod that could stop it from running (images,
 * resources, volumes); LK_EINVAL + diag naming the field. */
int orch__bundle_check(const json_t *pod, lk_diag *d);
/* Writes <c->dir>/config.json (and creates rootfs/, volume dirs). */
int orch__bundle_write(const orch__pod *p, const orch__ctr *c, const json_t *spec, lk_diag *d);
/* Kubernetes quantity ("100m", "0.5", "128Mi", "1G") times mult, rounded
 * up: cpu in millicores with mult 1000, memory in bytes with mult 1. */
int orch__quantity(const char *s, int64_t mult, int64_t *out);

/*---- runtime_life.c: supervision ----*/

void orch__life_step(orch__rt *rt, orch__pod *p, int64_t now_ms);
/* All containers DONE/never started and nothing left to stop? Removes the
 * pod's runtime leftovers (cgroups, bundle) when terminating. */
bool orch__life_gone(orch__rt *rt, orch__pod *p);
void orch__ctr_save(const orch__ctr *c); /* status.json */
/* A pid file of the bundle (shim.pid, container.pid); 0 if none. */
pid_t orch__read_pid(const orch__ctr *c, const char *name);
void orch__pod_free(orch__pod *p);
/* Builds a pod record from the Pod JSON (no side effects). */
orch__pod *orch__pod_new(orch__rt *rt, const json_t *pod);
/* RFC3339Nano in UTC (trailing zeros trimmed, as Go), or whole seconds as
 * Kubernetes' metav1.Time when secs_only (runtime_shim.c). */
void orch__fmt_ns(char *buf, size_t cap, int64_t ns, bool secs_only);

/*---- runtime_cgroup.c ----*/

/* A writable v1 cpu/memory hierarchy or a cgroup2 root under root. */
bool orch__cgroups_usable(const char *root);
/* v1 controllers with a cgroup2 mount beside them (systemd's "hybrid"). */
bool orch__cgroups_hybrid(const char *root);
/* rmdir <hierarchy>/lookout/<ns>_<pod>_<uid>[/<ctr>] in every hierarchy. */
void orch__cgroups_remove(const orch__rt *rt, const orch__pod *p);
/* rmdir of every empty lookout/<ns>_<pod>_<uid> in every hierarchy (runc
 * creates them again for the next run of a pod that still has containers). */
void orch__cgroups_sweep(const orch__rt *rt);

/*---- runtime_sandbox.c: namespaces shared by a pod's containers ----*/

/* Creates <pod dir>/ns-ipc (and ns-net unless host network) if missing. */
int orch__sandbox_create(const orch__pod *p, lk_diag *d);
void orch__sandbox_remove(const orch__pod *p); /* unmount + unlink; missing is fine */
void orch__sandbox_path(const orch__pod *p, const char *kind, char *out, size_t cap);

/*---- runtime_nl.c: rtnetlink requests ----*/

typedef struct orch__nl {
  int fd;
  uint32_t seq;
} orch__nl;

/* A NETLINK_ROUTE socket acting in the network namespace at netns_path (an
 * nsfs file), or in the caller's when NULL. Close it even after a failure. */
int orch__nl_open(const char *netns_path, orch__nl *nl, lk_diag *d);
void orch__nl_close(orch__nl *nl);
/* Link creation: 0, LK_EEXIST (already there; d untouched) or LK_EIO + d.
 * The veth's peer is created right in the namespace of peer_netns_fd. */
int orch__nl_bridge_add(orch__nl *nl, const char *name, lk_diag *d);
int orch__nl_veth_add(orch__nl *nl, const char *name, const char *peer, int peer_netns_fd,
                      lk_diag *d);
/* LK_ENOENT when there is no such link. */
int orch__nl_link_index(orch__nl *nl, const char *name, int *index);
/* Brings the link up, enslaved to master when master > 0. */
int orch__nl_link_set(orch__nl *nl, int index, int master, lk_diag *d);
int orch__nl_link_del(orch__nl *nl, const char *name); /* LK_ENOENT when missing */
/* An address (already there is fine) and the default route. */
int orch__nl_addr_add(orch__nl *nl, int index, struct in_addr ip, int prefix, lk_diag *d);
int orch__nl_route_default(orch__nl *nl, int index, struct in_addr gw, lk_diag *d);

/*---- runtime_net.c: pod networking and its IPAM ----*/

/* "a.b.c.d/N" (8 <= N <= 29) → network (host byte order) and prefix. */
int orch__net_parse_cidr(const char *s, uint32_t *net, int *prefix, lk_diag *d);
/* "lkv" + the first 8 hex digits of the uid (a hash when it is no UUID). */
void orch__net_ifname(const char *uid, char *out, size_t cap);
/* Bridge, veth pair, address, route for a pod with its own network
 * namespace (the sandbox exists); its address in ip. Idempotent (a
 * restarted container finds it done). Reports up through on_net. */
int orch__net_up(orch__rt *rt, const orch__pod *p, char *ip, size_t cap, lk_diag *d);
/* Deletes the veth pair, frees the address, reports down (ip: the pod's). */
void orch__net_down(orch__rt *rt, const orch__pod *p, const char *ip);
/* At adoption (rt->pods loaded): each pod's address back into p->ip (up
 * reported when its veth is there); the addresses and veths of pods that
 * are gone freed. */
void orch__net_adopt(orch__rt *rt);

/*---- runtime_probe.c ----*/

void *orch__probe_thread(void *arg);
void orch__probe_fini(orch__probe *pr);
void orch__probe_parse(orch__probe *pr, const json_t *spec);

/*---- runtime_adopt.c ----*/

/* Reloads the pods of <data>/orchestrator/pods into rt (before the thread starts). */
void orch__adopt(orch__rt *rt);

/*---- runtime_status.c ----*/

json_t *orch__status_json(orch__rt *rt, const orch__pod *p);

#endif
