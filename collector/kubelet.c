/* kubelet.c — container names and images from the kubelet's pod list
 * (GET /pods: a v1.PodList). For every pod: metadata.{name,namespace,uid};
 * for every entry of status.containerStatuses, initContainerStatuses and
 * ephemeralContainerStatuses: name, image, and containerID
 * "<runtime>://<64 hex>", the id cgroup paths carry. Entries without an id
 * (not started yet) are skipped. Malformed JSON is LK_EPARSE.
 */
#include <jansson.h>
#include <string.h>

#include "collector/collector_int.h"

static const char *str_at(json_t *o, const char *k1, const char *k2)
{
  json_t *v = json_object_get(o, k1);
  return json_string_value(k2 ? json_object_get(v, k2) : v);
}

static void add_statuses(collector__meta *m, json_t *list, const char *ns, const char *pod)
{
  size_t i;
  json_t *st;
  json_array_foreach(list, i, st) {
    const char *name = str_at(st, "name", NULL), *image = str_at(st, "image", NULL);
    const char *cid = str_at(st, "containerID", NULL);
    const char *sep = cid ? strstr(cid, "://") : NULL;
    if (!name || !sep || strlen(sep + 3) != 64)
      continue;
    collector__meta_add(m, false, sep + 3, ns, pod, name, image);
  }
}

int collector__kubelet_parse(collector__meta *m, const char *json, size_t len)
{
  json_error_t err;
  json_t *root = json_loadb(json, len, 0, &err);
  json_t *items = json_object_get(root, "items");
  if (!json_is_array(items)) {
    json_decref(root);
    return LK_EPARSE;
  }
  size_t i;
  json_t *pod;
  json_array_foreach(items, i, pod) {
    const char *name = str_at(pod, "metadata", "name"), *ns = str_at(pod, "metadata", "namespace");
    const char *uid = str_at(pod, "metadata", "uid");
    if (!name || !ns || !uid)
      continue;
    collector__meta_add(m, true, uid, ns, name, NULL, NULL);
    json_t *status = json_object_get(pod, "status");
    add_statuses(m, json_object_get(status, "containerStatuses"), ns, name);
    add_statuses(m, json_object_get(status, "initContainerStatuses"), ns, name);
    add_statuses(m, json_object_get(status, "ephemeralContainerStatuses"), ns, name);
  }
  json_decref(root);
  return 0;
}
