/* runtime_status.c — a pod's Kubernetes PodStatus from the runtime's view:
 * phase, the four conditions the kubelet sets, host/pod IPs, startTime, QoS
 * class and one containerStatus per container (state, lastState, ready,
 * started, restartCount, image, imageID, containerID). Called with rt->mu
 * held.
 */
#include <stdio.h>
#include <string.h>

#include "orchestrator/runtime_int.h"

static json_t *time_json(int64_t ms)
{
  char buf[64];
  orch__fmt_ns(buf, sizeof buf, ms * 1000000, true);
  return json_string(buf);
}

static json_t *state_json(const orch__ctr *c)
{
  if (c->state == ORCH__CS_RUNNING)
    return json_pack("{s:{s:o}}", "running", "startedAt", time_json(c->started_ms));
  if (c->state == ORCH__CS_DONE && c->terminated)
    return json_deep_copy(c->terminated);
  json_t *w = json_pack("{s:s}", "reason", c->reason[0] ? c->reason : "ContainerCreating");
  if (c->message[0])
    json_object_set_new(w, "message", json_string(c->message));
  return json_pack("{s:o}", "waiting", w);
}

static json_t *ctr_status(const orch__ctr *c)
{
  bool ran = c->state == ORCH__CS_RUNNING || c->restarts > 0 || c->terminated;
  json_t *s = json_pack("{s:s, s:o, s:o, s:b, s:b, s:i, s:s, s:s}", "name", c->name, "state",
                        state_json(c), "lastState",
                        c->last_state ? json_deep_copy(c->last_state) : json_object(), "ready",
                        c->ready, "started", c->state == ORCH__CS_RUNNING, "restartCount",
                        c->restarts, "image", c->image, "imageID", c->image);
  if (ran) {
    char cid[512];
    snprintf(cid, sizeof cid, "runc://%s", c->id);
    json_object_set_new(s, "containerID", json_string(cid));
  }
  return s;
}

static const char *phase_of(const orch__pod *p)
{
  size_t done = 0, failed = 0, active = 0;
  for (size_t i = 0; i < p->nctrs; i++) {
    const orch__ctr *c = &p->ctrs[i];
    if (c->state == ORCH__CS_DONE) {
      done++;
      json_t *code = json_object_get(json_object_get(c->terminated, "terminated"), "exitCode");
      failed += !c->terminated || json_integer_value(code) != 0;
    } else if (c->state == ORCH__CS_RUNNING || c->restarts > 0)
      active++;
  }
  if (done == p->nctrs)
    return failed ? "Failed" : "Succeeded";
  return active || done ? "Running" : "Pending";
}

static json_t *condition(const char *type, bool ok, int64_t ms, const char *reason,
                         const char *msg)
{
  json_t *c = json_pack("{s:s, s:s, s:n, s:o}", "type", type, "status", ok ? "True" : "False",
                        "lastProbeTime", "lastTransitionTime", time_json(ms));
  if (!ok && reason) {
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(msg));
  }
  return c;
}

static json_t *conditions_json(const orch__pod *p)
{
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "containers with unready status: [");
  bool first = true;
  for (size_t i = 0; i < p->nctrs && n < (int)sizeof msg - 2; i++)
    if (!p->ctrs[i].ready) {
      n += snprintf(msg + n, sizeof msg - (size_t)n, "%s%s", first ? "" : " ", p->ctrs[i].name);
      first = false;
    }
  snprintf(msg + n, sizeof msg - (size_t)n, "]");
  return json_pack("[o, o, o, o]", condition("Initialized", true, p->init_ms, NULL, NULL),
                   condition("Ready", p->was_ready, p->ready_change_ms, "ContainersNotReady", msg),
                   condition("ContainersReady", p->was_ready, p->ready_change_ms,
                             "ContainersNotReady", msg),
                   condition("PodScheduled", true, p->scheduled_ms, NULL, NULL));
}

/* Guaranteed: every container has cpu and memory limits equal to requests
 * (requests default to limits); BestEffort: none set; else Burstable. */
static const char *qos_of(const orch__pod *p)
{
  bool any = false, guaranteed = true;
  const json_t *ctrs = json_object_get(json_object_get(p->pod, "spec"), "containers");
  size_t i;
  const json_t *c;
  json_array_foreach(ctrs, i, c) {
    const json_t *res = json_object_get(c, "resources");
    const json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
    any = any || json_object_size(req) || json_object_size(lim);
    static const char *const keys[] = {"cpu", "memory"};
    for (int k = 0; k < 2; k++) {
      const json_t *l = json_object_get(lim, keys[k]), *r = json_object_get(req, keys[k]);
      if (!l || (r && !json_equal((json_t *)l, (json_t *)r)))
        guaranteed = false;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

json_t *orch__status_json(orch__rt *rt, const orch__pod *p)
{
  json_t *cs = json_array();
  for (size_t i = 0; i < p->nctrs; i++)
    json_array_append_new(cs, ctr_status(&p->ctrs[i]));
  json_t *s = json_pack("{s:s, s:o, s:s, s:[{s:s}], s:o, s:s, s:o}", "phase", phase_of(p),
                        "conditions", conditions_json(p), "hostIP", rt->host_ip, "hostIPs", "ip",
                        rt->host_ip, "startTime", time_json(p->created_ms), "qosClass", qos_of(p),
                        "containerStatuses", cs);
  const char *ip = p->host_network ? rt->host_ip : p->ip;
  if (ip[0]) {
    json_object_set_new(s, "podIP", json_string(ip));
    json_object_set_new(s, "podIPs", json_pack("[{s:s}]", "ip", ip));
  }
  return s;
}
