/* validate_defaults.c — the defaults Kubernetes's API server applies to the
 * served types (the defaults.go files of pkg/apis/core, apps and autoscaling), so that
 * what `kubectl get -o yaml`, `kubectl diff` and `kubectl apply` see is what
 * they would see against a real cluster.
 */
#include <string.h>

#include "orchestrator/orch_int.h"

static void set_default(json_t *o, const char *key, json_t *v)
{
  if (!json_object_get(o, key))
    json_object_set(o, key, v);
  json_decref(v);
}

static void probe_defaults(json_t *p)
{
  if (!json_is_object(p))
    return;
  set_default(p, "timeoutSeconds", json_integer(1));
  set_default(p, "periodSeconds", json_integer(10));
  set_default(p, "successThreshold", json_integer(1));
  set_default(p, "failureThreshold", json_integer(3));
  json_t *h = json_object_get(p, "httpGet");
  if (json_is_object(h)) {
    set_default(h, "path", json_string("/"));
    set_default(h, "scheme", json_string("HTTP"));
  }
}

/* Always when the image has no tag or the tag is latest, else IfNotPresent. */
static const char *pull_policy(const char *image)
{
  if (!image)
    return "Always";
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (strchr(image, '@'))
    return "IfNotPresent";
  return !colon || !strcmp(colon, ":latest") ? "Always" : "IfNotPresent";
}

static void container_defaults(json_t *c)
{
  if (!json_is_object(c))
    return;
  set_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
  set_default(c, "terminationMessagePolicy", json_string("File"));
  set_default(c, "imagePullPolicy", json_string(pull_policy(json_string_value(json_object_get(c, "image")))));
  set_default(c, "resources", json_object());
  size_t i;
  json_t *port;
  json_array_foreach(json_object_get(c, "ports"), i, port)
    if (json_is_object(port))
      set_default(port, "protocol", json_string("TCP"));
  json_t *res = json_object_get(c, "resources");
  json_t *lim = json_object_get(res, "limits"), *req = json_object_get(res, "requests");
  if (json_is_object(lim) && json_object_size(lim)) { /* requests default to limits */
    if (!json_is_object(req)) {
      req = json_object();
      json_object_set_new(res, "requests", req);
    }
    const char *k;
    json_t *v;
    json_object_foreach(lim, k, v) set_default(req, k, json_incref(v));
  }
  probe_defaults(json_object_get(c, "livenessProbe"));
  probe_defaults(json_object_get(c, "readinessProbe"));
  probe_defaults(json_object_get(c, "startupProbe"));
}

static void pod_spec_defaults(json_t *spec)
{
  if (!json_is_object(spec))
    return;
  set_default(spec, "restartPolicy", json_string("Always"));
  set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
  set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
  set_default(spec, "schedulerName", json_string("default-scheduler"));
  set_default(spec, "securityContext", json_object());
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(spec, "containers"), i, c) container_defaults(c);
  json_array_foreach(json_object_get(spec, "initContainers"), i, c) container_defaults(c);
}

static void template_defaults(json_t *spec)
{
  json_t *tmpl = json_object_get(spec, "template");
  if (!json_is_object(tmpl))
    return;
  json_t *meta = json_object_get(tmpl, "metadata");
  if (json_is_object(meta))
    set_default(meta, "creationTimestamp", json_null());
  pod_spec_defaults(json_object_get(tmpl, "spec"));
}

static void deployment_defaults(json_t *spec)
{
  set_default(spec, "replicas", json_integer(1));
  set_default(spec, "revisionHistoryLimit", json_integer(10));
  set_default(spec, "progressDeadlineSeconds", json_integer(600));
  json_t *strat = json_object_get(spec, "strategy");
  if (!json_is_object(strat)) {
    strat = json_object();
    json_object_set_new(spec, "strategy", strat);
  }
  set_default(strat, "type", json_string("RollingUpdate"));
  const char *type = json_string_value(json_object_get(strat, "type"));
  if (type && !strcmp(type, "RollingUpdate")) {
    json_t *ru = json_object_get(strat, "rollingUpdate");
    if (!json_is_object(ru)) {
      ru = json_object();
      json_object_set_new(strat, "rollingUpdate", ru);
    }
    set_default(ru, "maxSurge", json_string("25%"));
    set_default(ru, "maxUnavailable", json_string("25%"));
  }
  template_defaults(spec);
}

static void hpa_defaults(json_t *spec)
{
  set_default(spec, "minReplicas", json_integer(1));
  json_t *m = json_object_get(spec, "metrics");
  if (!json_is_array(m) || !json_array_size(m))
    json_object_set_new(spec, "metrics",
                        json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource", "resource", "name", "cpu",
                                  "target", "type", "Utilization", "averageUtilization", 80));
}

void orch__defaults(enum orch_kind k, json_t *obj)
{
  json_t *meta = orch__obj(obj, "metadata");
  json_t *spec = json_object_get(obj, "spec");
  switch (k) {
  case ORCH_NAMESPACE: {
    json_t *labels = orch__obj(obj, "metadata.labels");
    set_default(labels, "kubernetes.io/metadata.name", json_string(json_string_value(json_object_get(meta, "name"))));
    set_default(orch__obj(obj, "spec"), "finalizers", json_pack("[s]", "kubernetes"));
    set_default(orch__obj(obj, "status"), "phase", json_string("Active"));
    break;
  }
  case ORCH_POD:
    pod_spec_defaults(spec);
    set_default(spec, "enableServiceLinks", json_true());
    set_default(spec, "priority", json_integer(0));
    set_default(spec, "preemptionPolicy", json_string("PreemptLowerPriority"));
    break;
  case ORCH_REPLICASET:
    if (json_is_object(spec))
      set_default(spec, "replicas", json_integer(1));
    template_defaults(spec);
    break;
  case ORCH_DEPLOYMENT:
    if (json_is_object(spec))
      deployment_defaults(spec);
    break;
  case ORCH_HPA:
    if (json_is_object(spec))
      hpa_defaults(spec);
    break;
  case ORCH_NKINDS:
    break;
  }
}
