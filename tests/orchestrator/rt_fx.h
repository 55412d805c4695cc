/* rt_fx.h — fixture of the runtime tests: a fresh data dir, an orch__rt on
 * the real runc with a short CrashLoopBackOff base, pods built from a JSON
 * text, bounded waits on the PodStatus, and a teardown that removes every
 * pod and then force-deletes whatever the runtime still lists, so no test
 * leaves a container behind, even when it fails. */
#ifndef TESTS_ORCH_RT_FX_H
#define TESTS_ORCH_RT_FX_H

#include <jansson.h>
#include <stdbool.h>

#include "orchestrator/runtime.h"

typedef struct rt_fx {
  char data[128];
  orch__rt *rt;
  orch__rt_opts opts;
  int64_t log_max_bytes;  /* set before rt_fx_reopen to test rotation */
  int log_max_files;
  char host_mount[256]; /* a test's own host mount: unmounted and removed by rt_fx_close */
  /* pod networking (set before rt_fx_reopen): CIDR (NULL: the default) and hook */
  const char *pod_cidr;
  void (*on_net)(void *ctx, const orch_pod_net_event *ev);
  void *on_net_ctx;
} rt_fx;

extern const char *rt_fx_lookout; /* argv[1]: the lookout binary */

/* cmocka setup/teardown: *state = an open rt_fx (rt_fx_open / rt_fx_close),
 * so a failing test still cleans up. */
int rt_fx_setup(void **state);
int rt_fx_teardown(void **state);
void rt_fx_open(rt_fx *f);
void rt_fx_reopen(rt_fx *f);     /* close + open on the same data dir */
void rt_fx_close(rt_fx *f);      /* removes every pod, kills leftovers, rm -rf */
/* A Pod: metadata {name, namespace default, uid} + the spec text. */
json_t *rt_fx_pod(const char *name, const char *uid, const char *spec_json);
/* Polls the status every 50 ms until pred(status) or timeout_ms; returns
 * the last status (new reference) and whether pred held. */
typedef bool (*rt_fx_pred)(const json_t *status, void *arg);
bool rt_fx_wait(rt_fx *f, const char *uid, rt_fx_pred pred, void *arg, int timeout_ms,
                json_t **last);
bool rt_fx_running_ready(const json_t *st, void *arg);   /* phase Running, all ready */
/* containerStatuses[0] field helpers */
const json_t *rt_fx_cs(const json_t *st, size_t i);
/* Waits until the runtime no longer lists the pod. */
bool rt_fx_wait_gone(rt_fx *f, const char *uid, int timeout_ms);
/* `runc state` pid of a container id ("<uid>-<name>"), 0 if none. */
int rt_fx_pid(rt_fx *f, const char *id);
/* Blocks SIGINT/SIGTERM/SIGHUP and ignores SIGPIPE as `lookout server`
 * does before its threads start, so the tests see what containers inherit. */
void rt_fx_signals_as_server(void);
/* A runtime test's start: argv[1] is the lookout binary (rt_fx_lookout);
 * without root or runc it exits 77 (SKIP) saying why; then the server's
 * signal setup. */
void rt_fx_begin(int argc, char **argv, const char *test_name);
/* Reads a whole file (malloc'ed) or NULL. */
char *rt_fx_read(const char *path);
/* Re-reads path every 50 ms, for at most 5 s, until it contains want;
 * returns the last text read (malloc'ed, or NULL when never readable). */
char *rt_fx_wait_log(const char *path, const char *want);

#endif
