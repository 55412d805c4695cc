/* runtime.c — the orch__rt handle (runtime.h): opening (checks that a
 * container can run here at all, adoption), the pod table the API calls
 * read and write, and the supervision thread that drives every container's
 * state machine (runtime_life.c) every tick.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/runtime_int.h"

#define TICK_MS 100

/*---- pod records ----*/

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = lk_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static enum orch__policy policy_of(const char *s)
{
  if (s && !strcmp(s, "Never"))
    return ORCH__NEVER;
  if (s && !strcmp(s, "OnFailure"))
    return ORCH__ONFAILURE;
  return ORCH__ALWAYS;
}

static const char *str_of(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

orch__pod *orch__pod_new(orch__rt *rt, const json_t *pod)
{
  const json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
  orch__pod *p = lk_xcalloc(1, sizeof *p);
  p->uid = lk_xstrdup(str_of(meta, "uid"));
  p->name = lk_xstrdup(str_of(meta, "name"));
  p->ns = lk_xstrdup(str_of(meta, "namespace") ? str_of(meta, "namespace") : "default");
  p->pod = json_deep_copy(pod);
  p->dir = strf("%s/%s", rt->pods_dir, p->uid);
  p->log_dir = strf("%s/%s_%s_%s", rt->logs_dir, p->ns, p->name, p->uid);
  p->policy = policy_of(str_of(spec, "restartPolicy"));
  const json_t *hn = json_object_get(spec, "hostNetwork");
  p->host_network = !json_is_false(hn);
  orch__net_ifname(p->uid, p->veth, sizeof p->veth);
  const json_t *g = json_object_get(spec, "terminationGracePeriodSeconds");
  p->grace_ms = json_is_integer(g) && json_integer_value(g) >= 0 ? json_integer_value(g) * 1000
                                                                 : 30000;
  p->created_ms = lk_now_ms();
  p->scheduled_ms = p->init_ms = p->ready_change_ms = p->created_ms;
  const json_t *ctrs = json_object_get(spec, "containers");
  p->nctrs = json_array_size(ctrs);
  p->ctrs = lk_xcalloc(p->nctrs, sizeof *p->ctrs);
  for (size_t i = 0; i < p->nctrs; i++) {
    const json_t *cs = json_array_get(ctrs, i);
    orch__ctr *c = &p->ctrs[i];
    c->name = lk_xstrdup(str_of(cs, "name"));
    const char *img = str_of(cs, "image");
    c->image = lk_xstrdup(img && *img ? img : "host");
    c->id = strf("%s-%s", p->uid, c->name);
    c->dir = strf("%s/%s", p->dir, c->name);
    c->log_dir = strf("%s/%s", p->log_dir, c->name);
    orch__probe_parse(&c->liveness, json_object_get(cs, "livenessProbe"));
    orch__probe_parse(&c->readiness, json_object_get(cs, "readinessProbe"));
    snprintf(c->reason, sizeof c->reason, "ContainerCreating");
  }
  return p;
}

void orch__pod_free(orch__pod *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->nctrs; i++) {
    orch__ctr *c = &p->ctrs[i];
    free(c->name);
    free(c->image);
    free(c->id);
    free(c->dir);
    free(c->log_dir);
    orch__probe_fini(&c->liveness);
    orch__probe_fini(&c->readiness);
    json_decref(c->last_state);
    json_decref(c->terminated);
  }
  free(p->ctrs);
  json_decref(p->pod);
  free(p->uid);
  free(p->name);
  free(p->ns);
  free(p->dir);
  free(p->log_dir);
  free(p);
}

/* Caller holds rt->mu. */
static orch__pod *find_pod(orch__rt *rt, const char *uid)
{
  for (size_t i = 0; i < rt->npods; i++)
    if (!strcmp(rt->pods[i]->uid, uid))
      return rt->pods[i];
  return NULL;
}

/*---- the supervision thread ----*/

static void remove_at(orch__rt *rt, size_t i)
{
  orch__pod *p = rt->pods[i];
  rt->pods[i] = rt->pods[--rt->npods];
  lk_info("orchestrator: pod %s/%s (%s) removed", p->ns, p->name, p->uid);
  orch__pod_free(p);
}

void orch__tick_wait(orch__rt *rt, int ms)
{
  struct timespec ts = lk_deadline(CLOCK_REALTIME, ms);
  if (!rt->stop)
    pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
}

static void *supervise(void *arg)
{
  orch__rt *rt = arg;
  pthread_mutex_lock(&rt->mu);
  while (!rt->stop) {
    int64_t now = lk_now_ms();
    for (size_t i = 0; i < rt->npods && !rt->stop; i++) {
      orch__pod *p = rt->pods[i];
      orch__life_step(rt, p, now);
      if (p->terminating && !rt->probe_busy && orch__life_gone(rt, p))
        remove_at(rt, i--);
    }
    orch__tick_wait(rt, TICK_MS);
  }
  pthread_mutex_unlock(&rt->mu);
  return NULL;
}

/*---- opening ----*/

static bool runtime_found(const char *rt_name, char *path, size_t cap)
{
  if (strchr(rt_name, '/')) {
    snprintf(path, cap, "%s", rt_name);
    return access(path, X_OK) == 0;
  }
  const char *env = getenv("PATH");
  char dirs[4096];
  snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/sbin", env ? env : "/usr/bin:/bin");
  for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    snprintf(path, cap, "%s/%s", d, rt_name);
    if (access(path, X_OK) == 0)
      return true;
  }
  return false;
}

static int check_host(const orch__rt_opts *o, char *runtime_path, size_t cap, lk_diag *d)
{
  const char *name = o->runtime && *o->runtime ? o->runtime : "runc";
  const char *cg = o->cgroup_root && *o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup";
  if (geteuid() != 0)
    return lk_diag_set(d, LK_ENOTSUP, -1, "containers cannot run: Lookout is not running as "
                       "root (the OCI runtime needs root here)");
  if (!runtime_found(name, runtime_path, cap))
    return lk_diag_set(d, LK_ENOTSUP, -1, "containers cannot run: OCI runtime \"%s\" not found "
                       "(apt-get install runc)", name);
  if (!orch__cgroups_usable(cg))
    return lk_diag_set(d, LK_ENOTSUP, -1, "containers cannot run: no writable cgroup hierarchy "
                       "under %s", cg);
  const char *base = strrchr(runtime_path, '/');
  if (!strncmp(base ? base + 1 : runtime_path, "crun", 4) && orch__cgroups_hybrid(cg))
    return lk_diag_set(d, LK_ENOTSUP, -1, "containers cannot run: crun does not support hybrid "
                       "cgroups (v1 controllers and a cgroup2 mount, as here); use runc");
  if (!o->data_dir || !*o->data_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "containers cannot run: no data directory");
  return 0;
}

static int pod_cidr(const orch__rt_opts *o, orch__rt *rt, lk_diag *d)
{
  return orch__net_parse_cidr(o->pod_cidr && *o->pod_cidr ? o->pod_cidr : "10.88.0.0/16",
                              &rt->pod_net, &rt->pod_prefix, d);
}

static void host_ip(char *out, size_t cap)
{
  /* The address the host's default route leaves from: what a host-network pod has. */
  lk_buf b = {0};
  int status = 0;
  char *argv[] = {"hostname", "-I", NULL};
  snprintf(out, cap, "127.0.0.1");
  if (!orch__run(argv, 2000, &b, NULL, &status) && !status && b.len) {
    size_t n = strcspn((char *)b.data, " \n");
    if (n && n < cap)
      snprintf(out, cap, "%.*s", (int)n, (char *)b.data);
  }
  lk_buf_fini(&b);
}

/* One orch__rt per data dir (in any process): the second would start every
 * container again. */
static int lock_state(orch__rt *rt, lk_diag *d)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/orchestrator/lock", rt->data_dir);
  rt->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (rt->lock_fd < 0)
    return lk_diag_set(d, LK_EIO, -1, "containers cannot run: cannot create %s: %s", path,
                       strerror(errno));
  if (flock(rt->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return lk_diag_set(d, LK_EAGAIN, -1, "the containers of %s are run by another Lookout "
                       "process (%s is locked)", rt->data_dir, path);
  return 0;
}

int orch__rt_open(const orch__rt_opts *o, orch__rt **out, lk_diag *d)
{
  *out = NULL;
  char runtime_path[4096];
  int rc = check_host(o, runtime_path, sizeof runtime_path, d);
  if (rc)
    return rc;
  orch__rt *rt = lk_xcalloc(1, sizeof *rt);
  rt->lock_fd = -1;
  rt->data_dir = lk_xstrdup(o->data_dir);
  rt->runtime = lk_xstrdup(runtime_path);
  rt->cgroup_root = lk_xstrdup(o->cgroup_root && *o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup");
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  rt->self_exe = lk_xstrdup(o->self_exe && *o->self_exe ? o->self_exe : n > 0 ? exe : "/proc/self/exe");
  rt->state_root = strf("%s/orchestrator/runc", o->data_dir);
  rt->pods_dir = strf("%s/orchestrator/pods", o->data_dir);
  rt->logs_dir = strf("%s/pods", o->data_dir);
  rt->backoff_base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : 10000;
  rt->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 300000;
  rt->backoff_reset_ms = o->backoff_reset_ms > 0 ? o->backoff_reset_ms : 600000;
  snprintf(rt->log_max_bytes, sizeof rt->log_max_bytes, "%lld",
           (long long)(o->log_max_bytes > 0 ? o->log_max_bytes : 10 << 20));
  snprintf(rt->log_max_files, sizeof rt->log_max_files, "%d",
           o->log_max_files > 1 ? o->log_max_files : 5);
  rt->on_start = o->on_start;
  rt->on_start_ctx = o->on_start_ctx;
  rt->on_net = o->on_net;
  rt->on_net_ctx = o->on_net_ctx;
  host_ip(rt->host_ip, sizeof rt->host_ip);
  pthread_mutex_init(&rt->mu, NULL);
  pthread_cond_init(&rt->cv, NULL);
  if (lk_mkdir_p(rt->state_root) || lk_mkdir_p(rt->pods_dir) || lk_mkdir_p(rt->logs_dir)) {
    rc = lk_diag_set(d, LK_EIO, -1, "containers cannot run: cannot create %s: %s", rt->pods_dir,
                     strerror(errno));
    orch__rt_close(rt);
    return rc;
  }
  if ((rc = pod_cidr(o, rt, d)) || (rc = lock_state(rt, d))) {
    orch__rt_close(rt);
    return rc;
  }
  orch__adopt(rt);
  if (pthread_create(&rt->thread, NULL, supervise, rt)) {
    orch__rt_close(rt);
    return lk_diag_set(d, LK_EIO, -1, "cannot start the runtime's thread");
  }
  if (pthread_create(&rt->probe_thread, NULL, orch__probe_thread, rt)) {
    orch__rt_close(rt);
    return lk_diag_set(d, LK_EIO, -1, "cannot start the runtime's probe thread");
  }
  lk_info("orchestrator: runtime %s ready, %zu pods adopted", rt->runtime, rt->npods);
  *out = rt;
  return 0;
}

void orch__rt_close(orch__rt *rt)
{
  if (!rt)
    return;
  pthread_mutex_lock(&rt->mu);
  rt->stop = true;
  pthread_cond_broadcast(&rt->cv);
  pthread_mutex_unlock(&rt->mu);
  if (rt->thread)
    pthread_join(rt->thread, NULL);
  if (rt->probe_thread)
    pthread_join(rt->probe_thread, NULL);
  for (size_t i = 0; i < rt->npods; i++)
    orch__pod_free(rt->pods[i]);
  free(rt->pods);
  pthread_mutex_destroy(&rt->mu);
  pthread_cond_destroy(&rt->cv);
  if (rt->lock_fd >= 0)
    close(rt->lock_fd);
  free(rt->data_dir);
  free(rt->runtime);
  free(rt->cgroup_root);
  free(rt->self_exe);
  free(rt->state_root);
  free(rt->pods_dir);
  free(rt->logs_dir);
  free(rt);
}

/*---- the API ----*/

static int save_pod(const orch__pod *p, lk_diag *d)
{
  char path[4096], tmp[4096];
  snprintf(path, sizeof path, "%s/pod.json", p->dir);
  snprintf(tmp, sizeof tmp, "%s/.pod.json.tmp", p->dir);
  if (lk_mkdir_p(p->dir) || json_dump_file(p->pod, tmp, JSON_COMPACT) || rename(tmp, path))
    return lk_diag_set(d, LK_EIO, -1, "cannot write %s: %s", path, strerror(errno));
  return 0;
}

int orch__rt_sync_pod(orch__rt *rt, const json_t *pod, lk_diag *d)
{
  int rc = orch__bundle_check(pod, d);
  if (rc)
    return rc;
  const char *uid = str_of(json_object_get(pod, "metadata"), "uid");
  pthread_mutex_lock(&rt->mu);
  bool known = find_pod(rt, uid) != NULL;
  pthread_mutex_unlock(&rt->mu);
  if (known)
    return 0;
  orch__pod *p = orch__pod_new(rt, pod);
  if ((rc = save_pod(p, d))) {
    orch__pod_free(p);
    return rc;
  }
  pthread_mutex_lock(&rt->mu);
  if (find_pod(rt, uid)) { /* a concurrent sync won */
    pthread_mutex_unlock(&rt->mu);
    orch__pod_free(p);
    return 0;
  }
  rt->pods = lk_xgrow(rt->pods, &rt->cap, rt->npods + 1, sizeof *rt->pods);
  rt->pods[rt->npods++] = p;
  pthread_cond_broadcast(&rt->cv);
  pthread_mutex_unlock(&rt->mu);
  lk_info("orchestrator: pod %s/%s (%s) accepted, %zu containers", p->ns, p->name, p->uid,
          p->nctrs);
  return 0;
}

int orch__rt_pod_status(orch__rt *rt, const char *uid, json_t **status, lk_diag *d)
{
  pthread_mutex_lock(&rt->mu);
  orch__pod *p = find_pod(rt, uid);
  *status = p ? orch__status_json(rt, p) : NULL;
  pthread_mutex_unlock(&rt->mu);
  return p ? 0 : lk_diag_set(d, LK_ENOENT, -1, "pod %s is not known to the runtime", uid);
}

int orch__rt_remove_pod(orch__rt *rt, const char *uid, int64_t grace_ms, lk_diag *d)
{
  pthread_mutex_lock(&rt->mu);
  orch__pod *p = find_pod(rt, uid);
  if (p && !p->terminating) {
    p->terminating = true;
    p->term_start_ms = lk_now_ms();
    p->term_grace_ms = grace_ms >= 0 ? grace_ms : p->grace_ms;
    char path[4096];
    snprintf(path, sizeof path, "%s/terminating", p->dir);
    FILE *f = fopen(path, "w");
    if (f) {
      fprintf(f, "%lld %lld\n", (long long)p->term_start_ms, (long long)p->term_grace_ms);
      fclose(f);
    }
    pthread_cond_broadcast(&rt->cv);
  }
  pthread_mutex_unlock(&rt->mu);
  return p ? 0 : lk_diag_set(d, LK_ENOENT, -1, "pod %s is not known to the runtime", uid);
}

size_t orch__rt_pods(orch__rt *rt, char ***uids)
{
  pthread_mutex_lock(&rt->mu);
  size_t n = rt->npods;
  *uids = lk_xcalloc(n ? n : 1, sizeof **uids);
  for (size_t i = 0; i < n; i++)
    (*uids)[i] = lk_xstrdup(rt->pods[i]->uid);
  pthread_mutex_unlock(&rt->mu);
  return n;
}
