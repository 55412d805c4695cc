/* store_hpa.c — HorizontalPodAutoscaler versions. The store keeps
 * autoscaling/v2; autoscaling/v1 (what `kubectl autoscale` creates and
 * `kubectl get hpa` may read) is converted at the API edge as the API
 * server does: v1's targetCPUUtilizationPercentage is v2's Resource cpu
 * metric with an Utilization target, currentCPUUtilizationPercentage its
 * current averageUtilization. The other v2 metrics travel in v1 in the
 * annotation autoscaling.alpha.kubernetes.io/metrics, as Kubernetes does,
 * so a v1 round trip loses nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orch_int.h"

#define METRICS_ANNOTATION "autoscaling.alpha.kubernetes.io/metrics"

static bool is_cpu_utilization(const json_t *m)
{
  const char *type = json_string_value(json_object_get(m, "type"));
  return type && !strcmp(type, "Resource") && orch__str(m, "resource.name") &&
         !strcmp(orch__str(m, "resource.name"), "cpu") && orch__str(m, "resource.target.type") &&
         !strcmp(orch__str(m, "resource.target.type"), "Utilization");
}

static void copy_field(json_t *dst, const json_t *src, const char *key)
{
  json_t *v = json_object_get(src, key);
  if (v)
    json_object_set_new(dst, key, json_deep_copy(v));
}

json_t *orch_hpa_v1_to_v2(const json_t *v1)
{
  json_t *v2 = json_deep_copy(v1);
  json_object_set_new(v2, "apiVersion", json_string("autoscaling/v2"));
  json_t *spec = json_object_get(v2, "spec");
  json_t *metrics = json_array();
  const char *extra = json_string_value(json_object_get(orch__at(v1, "metadata.annotations"), METRICS_ANNOTATION));
  json_t *more = extra ? json_loads(extra, 0, NULL) : NULL;
  if (json_is_array(more))
    json_array_extend(metrics, more);
  json_decref(more);
  json_t *target = json_object_get(spec, "targetCPUUtilizationPercentage");
  if (json_is_integer(target))
    json_array_insert_new(metrics, 0,
                          json_pack("{s:s, s:{s:s, s:{s:s, s:O}}}", "type", "Resource", "resource", "name", "cpu",
                                    "target", "type", "Utilization", "averageUtilization", target));
  if (json_is_object(spec)) {
    json_object_del(spec, "targetCPUUtilizationPercentage");
    if (json_array_size(metrics))
      json_object_set(spec, "metrics", metrics);
  }
  json_decref(metrics);
  json_t *ann = orch__at(v2, "metadata.annotations");
  if (json_is_object(ann)) {
    json_object_del(ann, METRICS_ANNOTATION);
    if (!json_object_size(ann))
      json_object_del(json_object_get(v2, "metadata"), "annotations");
  }
  json_t *status = json_object_get(v2, "status");
  json_t *cur = json_object_get(status, "currentCPUUtilizationPercentage");
  if (json_is_integer(cur)) {
    json_object_set_new(status, "currentMetrics",
                        json_pack("[{s:s, s:{s:s, s:{s:O}}}]", "type", "Resource", "resource", "name", "cpu",
                                  "current", "averageUtilization", cur));
    json_object_del(status, "currentCPUUtilizationPercentage");
  }
  return v2;
}

json_t *orch_hpa_v2_to_v1(const json_t *v2)
{
  json_t *v1 = json_pack("{s:s, s:s, s:O?}", "apiVersion", "autoscaling/v1", "kind", "HorizontalPodAutoscaler",
                         "metadata", json_object_get(v2, "metadata"));
  json_t *meta = json_deep_copy(json_object_get(v1, "metadata"));
  json_object_set_new(v1, "metadata", meta ? meta : json_object());
  const json_t *spec2 = json_object_get(v2, "spec");
  json_t *spec = json_object();
  copy_field(spec, spec2, "scaleTargetRef");
  copy_field(spec, spec2, "minReplicas");
  copy_field(spec, spec2, "maxReplicas");
  json_t *others = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(spec2, "metrics"), i, m) {
    if (is_cpu_utilization(m) && !json_object_get(spec, "targetCPUUtilizationPercentage"))
      json_object_set_new(spec, "targetCPUUtilizationPercentage",
                          json_deep_copy(orch__at(m, "resource.target.averageUtilization")));
    else
      json_array_append(others, m);
  }
  if (json_array_size(others)) {
    char *text = json_dumps(others, JSON_COMPACT);
    json_object_set_new(orch__obj(json_object_get(v1, "metadata"), "annotations"), METRICS_ANNOTATION,
                        json_string(text));
    free(text);
  }
  json_decref(others);
  json_object_set_new(v1, "spec", spec);
  const json_t *st2 = json_object_get(v2, "status");
  json_t *st = json_object();
  copy_field(st, st2, "observedGeneration");
  copy_field(st, st2, "lastScaleTime");
  copy_field(st, st2, "currentReplicas");
  copy_field(st, st2, "desiredReplicas");
  if (!json_object_get(st, "currentReplicas"))
    json_object_set_new(st, "currentReplicas", json_integer(0));
  if (!json_object_get(st, "desiredReplicas"))
    json_object_set_new(st, "desiredReplicas", json_integer(0));
  json_array_foreach(json_object_get(st2, "currentMetrics"), i, m) {
    json_t *u = orch__at(m, "resource.current.averageUtilization");
    const char *name = orch__str(m, "resource.name");
    if (json_is_integer(u) && name && !strcmp(name, "cpu"))
      json_object_set(st, "currentCPUUtilizationPercentage", u);
  }
  json_object_set_new(v1, "status", st);
  return v1;
}
