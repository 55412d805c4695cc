/* orch.c — the orchestrator handle: the served resources, the error
 * carrier, and the controller thread that reconciles Deployments →
 * ReplicaSets → Pods → containers every sync period and whenever the store
 * changes.
 *
 * Threads: o->mu guards o->stop (leaf); the controller thread is the only
 * user of o->rt besides open/close.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/orch_int.h"

static const orch_resource resources[ORCH_NKINDS] = {
  {ORCH_NAMESPACE, "", {"v1", NULL}, "namespaces", "namespace", "Namespace", "ns", false, false},
  {ORCH_POD, "", {"v1", NULL}, "pods", "pod", "Pod", "po", true, false},
  {ORCH_REPLICASET, "apps", {"v1", NULL}, "replicasets", "replicaset", "ReplicaSet", "rs", true, true},
  {ORCH_DEPLOYMENT, "apps", {"v1", NULL}, "deployments", "deployment", "Deployment", "deploy", true, true},
  {ORCH_HPA, "autoscaling", {"v2", "v1", NULL}, "horizontalpodautoscalers", "horizontalpodautoscaler",
   "HorizontalPodAutoscaler", "hpa", true, false},
};

const orch_resource *orch_resources(size_t *n)
{
  *n = ORCH_NKINDS;
  return resources;
}

const orch_resource *orch_resource_find(const char *group, const char *plural)
{
  for (size_t i = 0; i < ORCH_NKINDS; i++)
    if (!strcmp(resources[i].group, group) && !strcmp(resources[i].plural, plural))
      return &resources[i];
  return NULL;
}

const orch_resource *orch_resource_of(const char *api_version, const char *kind, const char **version)
{
  if (!api_version || !kind)
    return NULL;
  const char *slash = strchr(api_version, '/');
  const char *v = slash ? slash + 1 : api_version;
  size_t gl = slash ? (size_t)(slash - api_version) : 0;
  for (size_t i = 0; i < ORCH_NKINDS; i++) {
    const orch_resource *r = &resources[i];
    if (strcmp(r->kind_name, kind) || strlen(r->group) != gl || strncmp(r->group, api_version, gl))
      continue;
    for (size_t j = 0; r->versions[j]; j++)
      if (!strcmp(r->versions[j], v)) {
        if (version)
          *version = r->versions[j];
        return r;
      }
  }
  return NULL;
}

const char *orch__api_version(enum orch_kind k)
{
  static const char *const av[ORCH_NKINDS] = {"v1", "v1", "apps/v1", "apps/v1", "autoscaling/v2"};
  return av[k];
}

/*---- errors ----*/

int orch__fail(orch_err *e, int code, int http, const char *reason, const char *fmt, ...)
{
  if (e->reason)
    return code; /* the first cause wins */
  e->http = http;
  e->reason = reason;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return code;
}

void orch__cause(orch_err *e, const char *field, const char *reason, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!e->causes)
    e->causes = json_array();
  json_array_append_new(e->causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", msg, "field", field));
}

void orch_err_fini(orch_err *e)
{
  json_decref(e->causes);
  e->causes = NULL;
}

json_t *orch_err_status(const orch_err *e, const orch_resource *r, const char *name)
{
  json_t *details = json_object();
  if (name && *name)
    json_object_set_new(details, "name", json_string(name));
  if (r) {
    if (*r->group)
      json_object_set_new(details, "group", json_string(r->group));
    bool invalid = e->reason && !strcmp(e->reason, "Invalid");
    json_object_set_new(details, "kind", json_string(invalid ? r->kind_name : r->plural));
  }
  if (e->causes)
    json_object_set(details, "causes", e->causes);
  return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:o, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
                   "status", "Failure", "message", e->msg, "reason", e->reason ? e->reason : "InternalError",
                   "details", details, "code", e->http ? e->http : 500);
}

/*---- the controller thread ----*/

static bool stopping(orch *o)
{
  pthread_mutex_lock(&o->mu);
  bool s = o->stop;
  pthread_mutex_unlock(&o->mu);
  return s;
}

static void *controller_main(void *arg)
{
  orch *o = arg;
  while (!stopping(o)) {
    uint64_t before = orch__store_rv(o->st);
    orch__ctrl_deployments(o);
    orch__ctrl_replicasets(o);
    orch__ctrl_pods(o);
    orch__ctrl_gc(o);
    orch__ctrl_hpa(o);
    uint64_t after = orch__store_rv(o->st);
    /* our own writes may need another pass (deployment → rs → pods); a
     * short pause keeps a flapping object from spinning the thread */
    struct timespec pause = {0, 20 * 1000000L};
    nanosleep(&pause, NULL);
    if (after == before)
      orch__store_wait(o->st, after, (int)o->sync_ms);
  }
  return NULL;
}

static void read_node(orch *o)
{
  orch__node_read(&o->node);
  if (gethostname(o->node_name, sizeof o->node_name))
    snprintf(o->node_name, sizeof o->node_name, "localhost");
  o->node_name[sizeof o->node_name - 1] = 0;
  for (char *p = o->node_name; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  o->started_ms = lk_now_ms();
}

json_t *orch_node(orch *o)
{
  char cpu[32], mem[32], ts[32];
  snprintf(cpu, sizeof cpu, "%lld", (long long)(o->node.milli_cpu / 1000));
  snprintf(mem, sizeof mem, "%lldKi", (long long)(o->node.mem_bytes / 1024));
  lk_time_rfc3339(o->started_ms, ts, sizeof ts);
  struct utsname u;
  if (uname(&u))
    memset(&u, 0, sizeof u);
  json_t *res = json_pack("{s:s, s:s, s:s}", "cpu", cpu, "memory", mem, "pods", "110");
  json_t *node = json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}, s:{}, s:{s:O, s:o, s:[{s:s, s:s}], s:{s:s, s:s, s:s, "
      "s:s, s:s, s:s}}}",
      "apiVersion", "v1", "kind", "Node", "metadata", "name", o->node_name, "resourceVersion", "1",
      "creationTimestamp", ts, "labels", "kubernetes.io/hostname", o->node_name, "kubernetes.io/os", "linux",
      "kubernetes.io/arch", u.machine[0] && !strcmp(u.machine, "x86_64") ? "amd64" : u.machine,
      "node-role.kubernetes.io/control-plane", "", "spec", "status", "capacity", res, "allocatable", res,
      "addresses", "type", "Hostname", "address", o->node_name, "nodeInfo", "kubeletVersion",
      "v1.32.0-lookout", "kubeProxyVersion", "", "operatingSystem", "linux", "architecture",
      !strcmp(u.machine, "x86_64") ? "amd64" : u.machine, "kernelVersion", u.release, "containerRuntimeVersion",
      o->rt ? "runc" : "none");
  if (o->rt)
    orch__set_condition(node, "Ready", "True", "KubeletReady", "lookout is running pods", false);
  else
    orch__set_condition(node, "Ready", "False", "RuntimeUnavailable", o->rt_why, false);
  json_t *ready = orch__condition(node, "Ready");
  json_object_set_new(ready, "lastTransitionTime", json_string(ts));
  char now[32];
  lk_time_rfc3339(lk_now_ms(), now, sizeof now);
  json_object_set_new(ready, "lastHeartbeatTime", json_string(now));
  return node;
}

int orch_open(const orch_opts *opts, orch **out, lk_diag *d)
{
  if (!opts || !opts->data_dir)
    return lk_diag_set(d, LK_EINVAL, -1, "orchestrator: no data directory");
  orch *o = lk_xcalloc(1, sizeof *o);
  int rc = orch__store_open(opts->data_dir, &o->st, d);
  if (rc) {
    free(o);
    return rc;
  }
  read_node(o);
  o->sync_ms = opts->sync_period_ms > 0 ? opts->sync_period_ms : 1000;
  o->hpa_ms = opts->hpa_period_ms > 0 ? opts->hpa_period_ms : 15000;
  o->autoscaler = opts->autoscaler;
  o->hpa_uids = json_array();
  pthread_mutex_init(&o->mu, NULL);
  orch__runtime_start(o, opts);
  if (pthread_create(&o->thread, NULL, controller_main, o)) {
    orch__runtime_stop(o);
    orch__store_close(o->st);
    pthread_mutex_destroy(&o->mu);
    free(o);
    return lk_diag_set(d, LK_EIO, -1, "orchestrator: cannot start the controller thread");
  }
  o->thread_started = true;
  lk_info("orchestrator: store open with %zu objects, sync period %lld ms, pods %s", orch__store_count(o->st),
          (long long)o->sync_ms, o->rt ? "run as containers" : "stay Pending (no runtime)");
  *out = o;
  return 0;
}

void orch_close(orch *o)
{
  if (!o)
    return;
  pthread_mutex_lock(&o->mu);
  o->stop = true;
  pthread_mutex_unlock(&o->mu);
  orch__store_shutdown(o->st);
  if (o->thread_started)
    pthread_join(o->thread, NULL);
  orch__runtime_stop(o);
  orch__store_close(o->st);
  json_decref(o->hpa_uids);
  pthread_mutex_destroy(&o->mu);
  free(o);
}
