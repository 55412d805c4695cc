/* runtime_probe.c — liveness and readiness probes on their own thread, so a
 * slow probe never delays starts and restarts: exec (`runc exec`, success
 * is exit 0), httpGet (status 200-399) and tcpSocket (connect), each bounded
 * by timeoutSeconds, run every periodSeconds after initialDelaySeconds;
 * successThreshold/failureThreshold consecutive results flip the state.
 * A failed readiness probe marks the container unready; a failed liveness
 * probe stops it as the kubelet does: SIGTERM now, SIGKILL after the pod's
 * terminationGracePeriodSeconds (sent by the supervision thread), which then
 * restarts it per restartPolicy.
 *
 * httpGet/tcpSocket connect to host 127.0.0.1 by default: for a host-network
 * pod that is the host's loopback; a pod with a private network namespace
 * has no address the host can reach (no CNI), so there the probe thread
 * enters the container's network namespace for the probe (setns affects
 * only the calling thread) and connects to the pod's own loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/runtime_int.h"

#define PROBE_TICK_MS 100
#define MAX_JOBS 256

static int64_t secs_field(const json_t *spec, const char *key, int64_t dflt)
{
  const json_t *v = json_object_get(spec, key);
  return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : dflt;
}

static int port_of(const json_t *v)
{
  if (json_is_integer(v))
    return (int)json_integer_value(v);
  return json_string_value(v) ? atoi(json_string_value(v)) : 0;
}

void orch__probe_parse(orch__probe *pr, const json_t *spec)
{
  memset(pr, 0, sizeof *pr);
  const json_t *ex = json_object_get(spec, "exec"), *http = json_object_get(spec, "httpGet");
  const json_t *tcp = json_object_get(spec, "tcpSocket");
  if (ex) {
    pr->kind = ORCH__PROBE_EXEC;
    pr->exec_cmd = json_deep_copy(json_object_get(ex, "command"));
  } else if (http || tcp) {
    const json_t *o = http ? http : tcp;
    pr->kind = http ? ORCH__PROBE_HTTP : ORCH__PROBE_TCP;
    const char *host = json_string_value(json_object_get(o, "host"));
    const char *path = json_string_value(json_object_get(o, "path"));
    pr->host = lk_xstrdup(host && *host ? host : "127.0.0.1");
    pr->path = lk_xstrdup(path && *path ? path : "/");
    pr->port = port_of(json_object_get(o, "port"));
  } else
    return;
  pr->initial_delay_ms = secs_field(spec, "initialDelaySeconds", 0) * 1000;
  pr->period_ms = secs_field(spec, "periodSeconds", 10) * 1000;
  pr->timeout_ms = secs_field(spec, "timeoutSeconds", 1) * 1000;
  pr->success_threshold = (int)secs_field(spec, "successThreshold", 1);
  pr->failure_threshold = (int)secs_field(spec, "failureThreshold", 3);
  if (pr->period_ms <= 0)
    pr->period_ms = 10000;
  if (pr->timeout_ms <= 0)
    pr->timeout_ms = 1000;
  if (pr->success_threshold <= 0)
    pr->success_threshold = 1;
  if (pr->failure_threshold <= 0)
    pr->failure_threshold = 3;
}

void orch__probe_fini(orch__probe *pr)
{
  json_decref(pr->exec_cmd);
  free(pr->host);
  free(pr->path);
  memset(pr, 0, sizeof *pr);
}

/*---- running one probe ----*/

static bool probe_exec(orch__rt *rt, const char *id, const orch__probe *pr)
{
  char *argv[64] = {rt->runtime, "--root", rt->state_root, "exec", (char *)id};
  size_t n = 5, i;
  const json_t *v;
  json_array_foreach(pr->exec_cmd, i, v)
    if (n < 63 && json_string_value(v))
      argv[n++] = (char *)json_string_value(v);
  argv[n] = NULL;
  int status = 0;
  return orch__run(argv, (int)pr->timeout_ms, NULL, NULL, &status) == 0 && status == 0;
}

static bool probe_http(const orch__probe *pr)
{
  char url[2048];
  snprintf(url, sizeof url, "http://%s:%d%s%s", pr->host, pr->port, pr->path[0] == '/' ? "" : "/",
           pr->path);
  lk_httpc_resp r = {0};
  bool ok = lk_httpc_get(url, (int)pr->timeout_ms, &r, NULL) == 0 && r.status >= 200 &&
            r.status < 400;
  lk_httpc_resp_fini(&r);
  return ok;
}

static bool probe_tcp(const orch__probe *pr)
{
  char port[16];
  snprintf(port, sizeof port, "%d", pr->port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(pr->host, port, &hints, &ai) || !ai)
    return false;
  bool ok = false;
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)) {
    struct pollfd pf = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof err;
    ok = poll(&pf, 1, (int)pr->timeout_ms) == 1 &&
         !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) && err == 0;
  }
  if (fd >= 0)
    close(fd);
  freeaddrinfo(ai);
  return ok;
}

/*---- scheduling ----*/

typedef struct job {
  char uid[128];
  pid_t netns_pid;       /* run httpGet/tcpSocket in this process's netns (0: host's) */
  size_t ctr;
  bool live;             /* liveness (else readiness) */
  int64_t started_ms;    /* the run it belongs to */
  const orch__probe *pr; /* fixed fields only */
  const char *id;
  bool ok;
} job;

/* Due probes of running containers; rt->mu held. */
static size_t collect(orch__rt *rt, job *jobs, int64_t now)
{
  size_t n = 0;
  for (size_t i = 0; i < rt->npods; i++) {
    orch__pod *p = rt->pods[i];
    for (size_t k = 0; k < p->nctrs && !p->terminating; k++) {
      orch__ctr *c = &p->ctrs[k];
      orch__probe *prs[2] = {&c->liveness, &c->readiness};
      for (int w = 0; w < 2 && c->state == ORCH__CS_RUNNING; w++) {
        orch__probe *pr = prs[w];
        if (pr->kind == ORCH__PROBE_NONE || n == MAX_JOBS)
          continue;
        if (!pr->next_ms)
          pr->next_ms = c->started_ms + pr->initial_delay_ms;
        if (now < pr->next_ms)
          continue;
        pr->next_ms = now + pr->period_ms;
        job *j = &jobs[n++];
        snprintf(j->uid, sizeof j->uid, "%s", p->uid);
        j->ctr = k;
        j->live = w == 0;
        j->started_ms = c->started_ms;
        j->pr = pr;
        j->id = c->id;
        j->netns_pid = p->host_network ? 0 : c->pid;
      }
    }
  }
  return n;
}

/* Applies a result; returns true when the container must be killed. rt->mu held. */
static bool apply(orch__rt *rt, const job *j)
{
  orch__pod *p = NULL;
  for (size_t i = 0; i < rt->npods && !p; i++)
    if (!strcmp(rt->pods[i]->uid, j->uid))
      p = rt->pods[i];
  orch__ctr *c = p ? &p->ctrs[j->ctr] : NULL;
  if (!c || c->state != ORCH__CS_RUNNING || c->started_ms != j->started_ms || p->terminating)
    return false;
  orch__probe *pr = j->live ? &c->liveness : &c->readiness;
  if (j->ok) {
    pr->failures = 0;
    if (++pr->successes >= pr->success_threshold && !j->live)
      c->ready = true;
    return false;
  }
  pr->successes = 0;
  if (++pr->failures < pr->failure_threshold)
    return false;
  if (!j->live) {
    c->ready = false;
    return false;
  }
  pr->failures = 0;
  if (c->kill_requested)
    return false;
  c->kill_requested = true;
  c->kill_at_ms = lk_now_ms() + p->grace_ms;
  lk_info("orchestrator: container %s of pod %s/%s failed its liveness probe, stopping it "
          "(grace %lld ms)", c->name, p->ns, p->name, (long long)p->grace_ms);
  return true;
}

/* Moves the calling thread into pid's network namespace; *back gets an fd
 * of the one it left (-1 on failure, then nothing changed). */
static bool enter_netns(pid_t pid, int *back)
{
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
  *back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  bool ok = *back >= 0 && fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0)
    close(fd);
  if (!ok && *back >= 0) {
    close(*back);
    *back = -1;
  }
  return ok;
}

static void leave_netns(int back)
{
  if (setns(back, CLONE_NEWNET))
    lk_error("orchestrator: probe thread cannot return to its network namespace: %s",
             strerror(errno));
  close(back);
}

static bool run_probe(orch__rt *rt, const job *j)
{
  if (j->pr->kind == ORCH__PROBE_EXEC)
    return probe_exec(rt, j->id, j->pr);
  if (j->pr->kind != ORCH__PROBE_HTTP && j->pr->kind != ORCH__PROBE_TCP)
    return true;
  int back = -1;
  if (j->netns_pid > 0 && !enter_netns(j->netns_pid, &back))
    return false;
  bool ok = j->pr->kind == ORCH__PROBE_HTTP ? probe_http(j->pr) : probe_tcp(j->pr);
  if (back >= 0)
    leave_netns(back);
  return ok;
}

void *orch__probe_thread(void *arg)
{
  orch__rt *rt = arg;
  job *jobs = lk_xcalloc(MAX_JOBS, sizeof *jobs);
  pthread_mutex_lock(&rt->mu);
  while (!rt->stop) {
    size_t n = collect(rt, jobs, lk_now_ms());
    /* while probe_busy the supervision thread frees no pod, so j->pr and
     * j->id stay valid; apply re-checks that the run is still the same */
    rt->probe_busy = n > 0;
    pthread_mutex_unlock(&rt->mu);
    for (size_t i = 0; i < n; i++)
      jobs[i].ok = run_probe(rt, &jobs[i]);
    pthread_mutex_lock(&rt->mu);
    rt->probe_busy = false;
    for (size_t i = 0; i < n; i++)
      if (apply(rt, &jobs[i])) {
        char id[512];
        snprintf(id, sizeof id, "%s", jobs[i].id);
        pthread_mutex_unlock(&rt->mu);
        orch__runc(rt, NULL, NULL, "kill", id, "TERM", (char *)NULL);
        pthread_mutex_lock(&rt->mu);
      }
    orch__tick_wait(rt, PROBE_TICK_MS);
  }
  pthread_mutex_unlock(&rt->mu);
  free(jobs);
  return NULL;
}
