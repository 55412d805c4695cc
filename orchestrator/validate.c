/* validate.c — what the API server refuses, as a 422 Invalid Status whose
 * details.causes name each field path ("spec.template.spec.containers[0].
 * resources.requests[cpu]"): unknown fields (strict field validation),
 * wrong JSON types, names that are not DNS labels, negative replicas, a
 * selector that does not match the template's labels, quantities that do not
 * parse or ask for more than this node has, and images this runtime cannot
 * run (`host`/empty = the host's filesystem, an absolute path = a rootfs
 * directory that must exist; registry images are refused).
 *
 * The shape of each type is a table of fields (name, JSON type, sub-table);
 * value rules follow in plain code.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orchestrator/orch_int.h"

enum ftype { T_STR, T_INT, T_BOOL, T_OBJ, T_OBJS, T_STRS, T_STRMAP, T_ANY, T_INTSTR, T_NUM };

typedef struct fspec {
  const char *name;
  enum ftype t;
  const struct fspec *sub; /* T_OBJ / T_OBJS fields, NULL-name terminated */
} fspec;

#define END {NULL, T_ANY, NULL}

static const fspec owner_ref[] = {{"apiVersion", T_STR, NULL}, {"kind", T_STR, NULL}, {"name", T_STR, NULL},
                                  {"uid", T_STR, NULL}, {"controller", T_BOOL, NULL},
                                  {"blockOwnerDeletion", T_BOOL, NULL}, END};
static const fspec metadata[] = {
  {"name", T_STR, NULL}, {"generateName", T_STR, NULL}, {"namespace", T_STR, NULL},
  {"labels", T_STRMAP, NULL}, {"annotations", T_STRMAP, NULL}, {"uid", T_STR, NULL},
  {"resourceVersion", T_STR, NULL}, {"generation", T_INT, NULL}, {"creationTimestamp", T_ANY, NULL},
  {"deletionTimestamp", T_ANY, NULL}, {"deletionGracePeriodSeconds", T_INT, NULL},
  {"ownerReferences", T_OBJS, owner_ref}, {"finalizers", T_STRS, NULL}, {"managedFields", T_ANY, NULL},
  {"selfLink", T_STR, NULL}, END};
static const fspec exec_action[] = {{"command", T_STRS, NULL}, END};
static const fspec http_header[] = {{"name", T_STR, NULL}, {"value", T_STR, NULL}, END};
static const fspec http_get[] = {{"path", T_STR, NULL}, {"port", T_INTSTR, NULL}, {"host", T_STR, NULL},
                                 {"scheme", T_STR, NULL}, {"httpHeaders", T_OBJS, http_header}, END};
static const fspec tcp_socket[] = {{"port", T_INTSTR, NULL}, {"host", T_STR, NULL}, END};
static const fspec probe[] = {
  {"exec", T_OBJ, exec_action}, {"httpGet", T_OBJ, http_get}, {"tcpSocket", T_OBJ, tcp_socket},
  {"grpc", T_ANY, NULL}, {"initialDelaySeconds", T_INT, NULL}, {"timeoutSeconds", T_INT, NULL},
  {"periodSeconds", T_INT, NULL}, {"successThreshold", T_INT, NULL}, {"failureThreshold", T_INT, NULL},
  {"terminationGracePeriodSeconds", T_INT, NULL}, END};
static const fspec port[] = {{"name", T_STR, NULL}, {"containerPort", T_INT, NULL}, {"hostPort", T_INT, NULL},
                             {"hostIP", T_STR, NULL}, {"protocol", T_STR, NULL}, END};
static const fspec env_var[] = {{"name", T_STR, NULL}, {"value", T_STR, NULL}, {"valueFrom", T_ANY, NULL}, END};
static const fspec resources[] = {{"limits", T_ANY, NULL}, {"requests", T_ANY, NULL}, {"claims", T_ANY, NULL},
                                  END};
static const fspec volume_mount[] = {{"name", T_STR, NULL}, {"mountPath", T_STR, NULL}, {"readOnly", T_BOOL, NULL},
                                     {"subPath", T_STR, NULL}, {"mountPropagation", T_STR, NULL}, END};
static const fspec container[] = {
  {"name", T_STR, NULL}, {"image", T_STR, NULL}, {"command", T_STRS, NULL}, {"args", T_STRS, NULL},
  {"workingDir", T_STR, NULL}, {"ports", T_OBJS, port}, {"env", T_OBJS, env_var}, {"envFrom", T_ANY, NULL},
  {"resources", T_OBJ, resources}, {"volumeMounts", T_OBJS, volume_mount}, {"livenessProbe", T_OBJ, probe},
  {"readinessProbe", T_OBJ, probe}, {"startupProbe", T_OBJ, probe}, {"lifecycle", T_ANY, NULL},
  {"imagePullPolicy", T_STR, NULL}, {"terminationMessagePath", T_STR, NULL},
  {"terminationMessagePolicy", T_STR, NULL}, {"securityContext", T_ANY, NULL}, {"stdin", T_BOOL, NULL},
  {"stdinOnce", T_BOOL, NULL}, {"tty", T_BOOL, NULL}, END};
static const fspec empty_dir[] = {{"medium", T_STR, NULL}, {"sizeLimit", T_INTSTR, NULL}, END};
static const fspec host_path[] = {{"path", T_STR, NULL}, {"type", T_STR, NULL}, END};
static const fspec volume[] = {{"name", T_STR, NULL}, {"emptyDir", T_OBJ, empty_dir},
                               {"hostPath", T_OBJ, host_path}, END};
static const fspec pod_spec[] = {
  {"containers", T_OBJS, container}, {"initContainers", T_OBJS, container}, {"volumes", T_OBJS, volume},
  {"restartPolicy", T_STR, NULL}, {"terminationGracePeriodSeconds", T_INT, NULL},
  {"activeDeadlineSeconds", T_INT, NULL}, {"dnsPolicy", T_STR, NULL}, {"nodeSelector", T_STRMAP, NULL},
  {"serviceAccountName", T_STR, NULL}, {"serviceAccount", T_STR, NULL},
  {"automountServiceAccountToken", T_BOOL, NULL}, {"nodeName", T_STR, NULL}, {"hostNetwork", T_BOOL, NULL},
  {"hostPID", T_BOOL, NULL}, {"hostIPC", T_BOOL, NULL}, {"securityContext", T_ANY, NULL},
  {"imagePullSecrets", T_ANY, NULL}, {"hostname", T_STR, NULL}, {"subdomain", T_STR, NULL},
  {"affinity", T_ANY, NULL}, {"schedulerName", T_STR, NULL}, {"tolerations", T_ANY, NULL},
  {"priorityClassName", T_STR, NULL}, {"priority", T_INT, NULL}, {"preemptionPolicy", T_STR, NULL},
  {"enableServiceLinks", T_BOOL, NULL}, {"shareProcessNamespace", T_BOOL, NULL},
  {"topologySpreadConstraints", T_ANY, NULL}, {"readinessGates", T_ANY, NULL}, END};
static const fspec tmpl_meta[] = {{"name", T_STR, NULL}, {"labels", T_STRMAP, NULL},
                                  {"annotations", T_STRMAP, NULL}, {"creationTimestamp", T_ANY, NULL},
                                  {"namespace", T_STR, NULL}, END};
static const fspec pod_template[] = {{"metadata", T_OBJ, tmpl_meta}, {"spec", T_OBJ, pod_spec}, END};
static const fspec label_selector[] = {{"matchLabels", T_STRMAP, NULL}, {"matchExpressions", T_ANY, NULL}, END};
static const fspec rolling_update[] = {{"maxSurge", T_INTSTR, NULL}, {"maxUnavailable", T_INTSTR, NULL}, END};
static const fspec strategy[] = {{"type", T_STR, NULL}, {"rollingUpdate", T_OBJ, rolling_update}, END};
static const fspec deploy_spec[] = {
  {"replicas", T_INT, NULL}, {"selector", T_OBJ, label_selector}, {"template", T_OBJ, pod_template},
  {"strategy", T_OBJ, strategy}, {"minReadySeconds", T_INT, NULL}, {"revisionHistoryLimit", T_INT, NULL},
  {"progressDeadlineSeconds", T_INT, NULL}, {"paused", T_BOOL, NULL}, END};
static const fspec rs_spec[] = {{"replicas", T_INT, NULL}, {"selector", T_OBJ, label_selector},
                                {"template", T_OBJ, pod_template}, {"minReadySeconds", T_INT, NULL}, END};
static const fspec target_ref[] = {{"apiVersion", T_STR, NULL}, {"kind", T_STR, NULL}, {"name", T_STR, NULL},
                                   END};
static const fspec hpa_spec[] = {{"scaleTargetRef", T_OBJ, target_ref}, {"minReplicas", T_INT, NULL},
                                 {"maxReplicas", T_INT, NULL}, {"metrics", T_ANY, NULL},
                                 {"behavior", T_ANY, NULL}, END};
static const fspec ns_spec[] = {{"finalizers", T_STRS, NULL}, END};

#define TOP(spec_table)                                                                                       \
  {{"apiVersion", T_STR, NULL}, {"kind", T_STR, NULL}, {"metadata", T_OBJ, metadata},                          \
   {"spec", T_OBJ, spec_table}, {"status", T_ANY, NULL}, END}
static const fspec top_ns[] = TOP(ns_spec);
static const fspec top_pod[] = TOP(pod_spec);
static const fspec top_rs[] = TOP(rs_spec);
static const fspec top_deploy[] = TOP(deploy_spec);
static const fspec top_hpa[] = TOP(hpa_spec);

static const char *type_name(enum ftype t)
{
  static const char *const names[] = {"string", "integer", "boolean", "object", "array", "array of strings",
                                      "map of strings", "any", "integer or string", "number"};
  return names[t];
}

static bool type_ok(enum ftype t, const json_t *v)
{
  switch (t) {
  case T_STR: return json_is_string(v);
  case T_INT: return json_is_integer(v);
  case T_NUM: return json_is_number(v);
  case T_BOOL: return json_is_boolean(v);
  case T_OBJ: return json_is_object(v);
  case T_OBJS: return json_is_array(v);
  case T_STRS: return json_is_array(v);
  case T_STRMAP: return json_is_object(v);
  case T_INTSTR: return json_is_integer(v) || json_is_string(v);
  case T_ANY: return true;
  }
  return false;
}

static void check_fields(const json_t *obj, const fspec *spec, const char *path, orch_err *e);

/* A field path built from its parent's (vsnprintf: a long path is cut, not refused). */
static void __attribute__((format(printf, 3, 4))) fpath(char *out, size_t n, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, n, fmt, ap);
  va_end(ap);
}

static void check_value(const json_t *v, const fspec *f, const char *path, orch_err *e)
{
  if (json_is_null(v))
    return; /* null means "unset", as in Kubernetes */
  if (!type_ok(f->t, v)) {
    orch__cause(e, path, "FieldValueInvalid", "Invalid value: %s: must be a %s", path, type_name(f->t));
    return;
  }
  size_t i;
  json_t *item;
  char sub[512];
  const char *k;
  switch (f->t) {
  case T_OBJ:
    check_fields(v, f->sub, path, e);
    break;
  case T_OBJS:
    json_array_foreach(v, i, item) {
      fpath(sub, sizeof sub, "%s[%zu]", path, i);
      if (!json_is_object(item))
        orch__cause(e, sub, "FieldValueInvalid", "Invalid value: %s: must be an object", sub);
      else
        check_fields(item, f->sub, sub, e);
    }
    break;
  case T_STRS:
    json_array_foreach(v, i, item)
      if (!json_is_string(item)) {
        fpath(sub, sizeof sub, "%s[%zu]", path, i);
        orch__cause(e, sub, "FieldValueInvalid", "Invalid value: %s: must be a string", sub);
      }
    break;
  case T_STRMAP:
    json_object_foreach((json_t *)v, k, item)
      if (!json_is_string(item)) {
        fpath(sub, sizeof sub, "%s[%s]", path, k);
        orch__cause(e, sub, "FieldValueInvalid", "Invalid value: %s: must be a string", sub);
      }
    break;
  default:
    break;
  }
}

static void check_fields(const json_t *obj, const fspec *spec, const char *path, orch_err *e)
{
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    char sub[512];
    fpath(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
    const fspec *f = spec;
    while (f->name && strcmp(f->name, k))
      f++;
    if (!f->name)
      orch__cause(e, sub, "FieldValueNotSupported", "unknown field \"%s\"", sub);
    else
      check_value(v, f, sub, e);
  }
}

/*---- values ----*/

static bool dns_label(const char *s, size_t max, bool subdomain)
{
  size_t n = s ? strlen(s) : 0;
  if (!n || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || (subdomain && s[i] == '.')))
      return false;
  return true;
}

static void check_name(const json_t *obj, enum orch_kind k, orch_err *e)
{
  const char *name = orch__str(obj, "metadata.name");
  bool label = k == ORCH_NAMESPACE || k == ORCH_POD;
  if (!name || !*name)
    orch__cause(e, "metadata.name", "FieldValueRequired", "Required value: name or generateName is required");
  else if (!dns_label(name, label && k == ORCH_NAMESPACE ? 63 : 253, k != ORCH_NAMESPACE))
    orch__cause(e, "metadata.name", "FieldValueInvalid",
                "Invalid value: \"%s\": a lowercase RFC 1123 %s must consist of lower case alphanumeric "
                "characters, '-'%s, and must start and end with an alphanumeric character",
                name, k == ORCH_NAMESPACE ? "label" : "subdomain", k == ORCH_NAMESPACE ? "" : " or '.'");
}

/* A decimal number with an optional suffix; *mult the suffix's factor. */
static double quantity(const char *q, const char *const *suffixes, const double *mult, bool *ok)
{
  char *end;
  *ok = false;
  if (!q || !*q)
    return 0;
  double v = strtod(q, &end);
  if (end == q || !isfinite(v) || v < 0)
    return 0;
  if (!*end) {
    *ok = true;
    return v;
  }
  for (size_t i = 0; suffixes[i]; i++)
    if (!strcmp(end, suffixes[i])) {
      *ok = true;
      return v * mult[i];
    }
  return 0;
}

int64_t orch__cpu_milli(const char *q)
{
  static const char *const suf[] = {"m", "k", NULL};
  static const double mult[] = {0.001, 1000};
  bool ok;
  double v = quantity(q, suf, mult, &ok);
  return ok ? (int64_t)ceil(v * 1000 - 1e-9) : -1;
}

int64_t orch__mem_bytes(const char *q)
{
  static const char *const suf[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", "m", NULL};
  static const double mult[] = {1024.0, 1048576.0, 1073741824.0, 1099511627776.0, 1125899906842624.0,
                                1152921504606846976.0, 1e3, 1e6, 1e9, 1e12, 1e15, 1e18, 0.001};
  bool ok;
  double v = quantity(q, suf, mult, &ok);
  return ok ? (int64_t)ceil(v) : -1;
}

int64_t orch__intstr(const json_t *v, int64_t total, bool round_up)
{
  if (json_is_integer(v))
    return (int64_t)json_integer_value(v);
  const char *s = json_string_value(v);
  if (!s)
    return 0;
  double pct = strtod(s, NULL);
  double x = pct * (double)total / 100.0;
  return (int64_t)(round_up ? ceil(x - 1e-9) : floor(x + 1e-9));
}

void orch__node_read(orch__node *n)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  n->milli_cpu = (cpus > 0 ? cpus : 1) * 1000;
  n->mem_bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE);
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    long long kb;
    if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
      n->mem_bytes = (int64_t)kb * 1024;
  }
  if (f)
    fclose(f);
}

static void check_quantities(const json_t *map, const char *path, const orch__node *node, bool request,
                             orch_err *e)
{
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)map, k, v) {
    char f[512];
    fpath(f, sizeof f, "%s[%s]", path, k);
    char num[64];
    const char *q = json_string_value(v);
    if (json_is_number(v)) {
      snprintf(num, sizeof num, "%g", json_number_value(v));
      q = num;
    }
    bool cpu = !strcmp(k, "cpu"), mem = !strcmp(k, "memory");
    int64_t val = cpu ? orch__cpu_milli(q) : orch__mem_bytes(q);
    if (!cpu && !mem && strcmp(k, "ephemeral-storage")) {
      orch__cause(e, f, "FieldValueNotSupported", "Unsupported value: \"%s\": supported values: \"cpu\", \"memory\", "
                  "\"ephemeral-storage\"", k);
    } else if (val < 0) {
      orch__cause(e, f, "FieldValueInvalid",
                  "Invalid value: \"%s\": quantities must match the regular expression "
                  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", q ? q : "");
    } else if (request && cpu && val > node->milli_cpu) {
      orch__cause(e, f, "FieldValueInvalid",
                  "Invalid value: \"%s\": exceeds this node's capacity of %lld CPU (Insufficient cpu)", q,
                  (long long)(node->milli_cpu / 1000));
    } else if (request && mem && val > node->mem_bytes) {
      orch__cause(e, f, "FieldValueInvalid",
                  "Invalid value: \"%s\": exceeds this node's memory of %lldMi (Insufficient memory)", q,
                  (long long)(node->mem_bytes >> 20));
    }
  }
}

static void check_image(const char *image, const char *path, orch_err *e)
{
  if (!image || !*image || !strcmp(image, "host"))
    return;
  struct stat st;
  if (image[0] != '/')
    orch__cause(e, path, "FieldValueNotSupported",
                "Unsupported value: \"%s\": registry images are not supported: use \"host\" (the host's "
                "filesystem) or the absolute path of a root filesystem directory", image);
  else if (stat(image, &st) || !S_ISDIR(st.st_mode))
    orch__cause(e, path, "FieldValueInvalid", "Invalid value: \"%s\": image directory does not exist", image);
}

static void check_containers(const json_t *spec, const char *path, const orch__node *node, orch_err *e)
{
  const json_t *cs = json_object_get(spec, "containers");
  char f[512];
  if (!json_array_size(cs)) {
    fpath(f, sizeof f, "%s.containers", path);
    orch__cause(e, f, "FieldValueRequired", "Required value");
    return;
  }
  int64_t cpu = 0, mem = 0;
  size_t i;
  json_t *c;
  json_array_foreach(cs, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    fpath(f, sizeof f, "%s.containers[%zu].name", path, i);
    if (!dns_label(name, 63, false))
      orch__cause(e, f, name ? "FieldValueInvalid" : "FieldValueRequired",
                  name ? "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of lower case "
                         "alphanumeric characters or '-'" : "Required value%s", name ? name : "");
    for (size_t j = 0; j < i && name; j++)
      if (!strcmp(name, json_string_value(json_object_get(json_array_get(cs, j), "name")) ?
                            json_string_value(json_object_get(json_array_get(cs, j), "name")) : ""))
        orch__cause(e, f, "FieldValueDuplicate", "Duplicate value: \"%s\"", name);
    fpath(f, sizeof f, "%s.containers[%zu].image", path, i);
    check_image(json_string_value(json_object_get(c, "image")), f, e);
    const json_t *res = json_object_get(c, "resources");
    fpath(f, sizeof f, "%s.containers[%zu].resources.requests", path, i);
    check_quantities(json_object_get(res, "requests"), f, node, true, e);
    fpath(f, sizeof f, "%s.containers[%zu].resources.limits", path, i);
    check_quantities(json_object_get(res, "limits"), f, node, false, e);
    cpu += orch__cpu_milli(json_string_value(orch__at(res, "requests.cpu")));
    mem += orch__mem_bytes(json_string_value(orch__at(res, "requests.memory")));
  }
  fpath(f, sizeof f, "%s.containers", path);
  if (json_array_size(cs) > 1 && (cpu > node->milli_cpu || mem > node->mem_bytes))
    orch__cause(e, f, "FieldValueInvalid", "Invalid value: the containers' requests together exceed this node");
  const char *rp = json_string_value(json_object_get(spec, "restartPolicy"));
  fpath(f, sizeof f, "%s.restartPolicy", path);
  if (rp && strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
    orch__cause(e, f, "FieldValueNotSupported",
                "Unsupported value: \"%s\": supported values: \"Always\", \"OnFailure\", \"Never\"", rp);
}

static void check_non_negative(const json_t *obj, const char *path, orch_err *e)
{
  const json_t *v = orch__at(obj, path);
  if (json_is_integer(v) && json_integer_value(v) < 0)
    orch__cause(e, path, "FieldValueInvalid", "Invalid value: %lld: must be greater than or equal to 0",
                (long long)json_integer_value(v));
}

static void check_workload(const json_t *obj, const orch__node *node, bool deployment, orch_err *e)
{
  check_non_negative(obj, "spec.replicas", e);
  const json_t *sel = orch__at(obj, "spec.selector");
  const json_t *labels = orch__at(obj, "spec.template.metadata.labels");
  if (!json_is_object(sel) || !json_object_size(sel))
    orch__cause(e, "spec.selector", "FieldValueRequired", "Required value");
  else if (!orch__selector_match(sel, labels))
    orch__cause(e, "spec.template.metadata.labels", "FieldValueInvalid",
                "Invalid value: `selector` does not match template `labels`");
  const json_t *pspec = orch__at(obj, "spec.template.spec");
  if (!json_is_object(pspec))
    orch__cause(e, "spec.template.spec", "FieldValueRequired", "Required value");
  else
    check_containers(pspec, "spec.template.spec", node, e);
  const char *rp = orch__str(obj, "spec.template.spec.restartPolicy");
  if (rp && strcmp(rp, "Always"))
    orch__cause(e, "spec.template.spec.restartPolicy", "FieldValueNotSupported",
                "Unsupported value: \"%s\": supported values: \"Always\"", rp);
  if (!deployment)
    return;
  const char *st = orch__str(obj, "spec.strategy.type");
  if (st && strcmp(st, "RollingUpdate") && strcmp(st, "Recreate"))
    orch__cause(e, "spec.strategy.type", "FieldValueNotSupported",
                "Unsupported value: \"%s\": supported values: \"Recreate\", \"RollingUpdate\"", st);
  if (st && !strcmp(st, "Recreate") && orch__at(obj, "spec.strategy.rollingUpdate"))
    orch__cause(e, "spec.strategy.rollingUpdate", "FieldValueForbidden",
                "Forbidden: may not be specified when strategy `type` is 'Recreate'");
  const json_t *ms = orch__at(obj, "spec.strategy.rollingUpdate.maxSurge");
  const json_t *mu = orch__at(obj, "spec.strategy.rollingUpdate.maxUnavailable");
  if (ms && mu && orch__intstr(ms, 100, true) == 0 && orch__intstr(mu, 100, false) == 0)
    orch__cause(e, "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                "Invalid value: 0: may not be 0 when `maxSurge` is 0");
  check_non_negative(obj, "spec.revisionHistoryLimit", e);
}

static void check_hpa(const json_t *obj, orch_err *e)
{
  int64_t min = orch__int(obj, "spec.minReplicas", 1), max = orch__int(obj, "spec.maxReplicas", 0);
  if (!orch__at(obj, "spec.maxReplicas"))
    orch__cause(e, "spec.maxReplicas", "FieldValueRequired", "Required value");
  else if (max < 1)
    orch__cause(e, "spec.maxReplicas", "FieldValueInvalid", "Invalid value: %lld: must be greater than or equal to 1",
                (long long)max);
  if (min < 0)
    orch__cause(e, "spec.minReplicas", "FieldValueInvalid", "Invalid value: %lld: must be greater than or equal to 0",
                (long long)min);
  else if (max >= 1 && min > max)
    orch__cause(e, "spec.minReplicas", "FieldValueInvalid",
                "Invalid value: %lld: must be less than or equal to maxReplicas", (long long)min);
  if (!orch__str(obj, "spec.scaleTargetRef.kind"))
    orch__cause(e, "spec.scaleTargetRef.kind", "FieldValueRequired", "Required value");
  if (!orch__str(obj, "spec.scaleTargetRef.name"))
    orch__cause(e, "spec.scaleTargetRef.name", "FieldValueRequired", "Required value");
  size_t i;
  json_t *m;
  json_array_foreach(orch__at(obj, "spec.metrics"), i, m)
    if (!json_is_string(json_object_get(m, "type"))) {
      char f[64];
      fpath(f, sizeof f, "spec.metrics[%zu].type", i);
      orch__cause(e, f, "FieldValueRequired", "Required value: must specify a metric source type");
    }
}

int orch__validate(enum orch_kind k, const json_t *obj, const orch__node *node, orch_err *e)
{
  static const fspec *const tops[ORCH_NKINDS] = {top_ns, top_pod, top_rs, top_deploy, top_hpa};
  if (!json_is_object(obj))
    return orch__fail(e, LK_EINVAL, 400, "BadRequest", "the body is not a JSON object");
  check_fields(obj, tops[k], "", e);
  check_name(obj, k, e);
  if (k != ORCH_NAMESPACE && !json_is_object(json_object_get(obj, "spec")))
    orch__cause(e, "spec", "FieldValueRequired", "Required value");
  else if (k == ORCH_POD)
    check_containers(json_object_get(obj, "spec"), "spec", node, e);
  else if (k == ORCH_DEPLOYMENT || k == ORCH_REPLICASET)
    check_workload(obj, node, k == ORCH_DEPLOYMENT, e);
  else if (k == ORCH_HPA)
    check_hpa(obj, e);
  if (!e->causes)
    return 0;
  e->http = 422;
  e->reason = "Invalid";
  return LK_EINVAL;
}
