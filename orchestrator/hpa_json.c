/* hpa_json.c — the Kubernetes JSON shapes the autoscaler reads and writes:
 * quantities and timestamps, HorizontalPodAutoscaler objects (autoscaling/v1
 * converted to v2 as the API server does, v2 with metric/behavior defaults),
 * Pods, and the status the HPA controller writes back. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_time.h"
#include "orchestrator/hpa_live.h"

/* ---- quantities ---- */

typedef struct suffix {
  const char *s;
  int exp10, exp2;
} suffix;

static const suffix suffixes[] = {
  {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
  {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
  {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
};

static bool suffix_of(const char *p, int *exp10, int *exp2) {
  if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) || p[1] == '-' || p[1] == '+')) {
    char *end;
    long e = strtol(p + 1, &end, 10);
    if (*end || e < -40 || e > 40)
      return false;
    *exp10 = (int)e, *exp2 = 0;
    return true;
  }
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
    if (strcmp(p, suffixes[i].s) == 0) {
      *exp10 = suffixes[i].exp10, *exp2 = suffixes[i].exp2;
      return true;
    }
  return false;
}

__extension__ typedef __int128 i128; /* exact milli-units of any quantity that fits */

int orch__quantity_milli(const char *s, int64_t *out) {
  const char *p = s;
  bool neg = *p == '-', point = false;
  if (*p == '-' || *p == '+')
    p++;
  i128 mant = 0;
  int digits = 0, frac = 0;
  for (; *p; p++) {
    if (*p == '.' && !point) {
      point = true;
      continue;
    }
    if (!isdigit((unsigned char)*p))
      break;
    if (digits == 36)
      return LK_EPARSE;
    mant = mant * 10 + (*p - '0');
    digits++;
    frac += point;
  }
  int exp10, exp2;
  if (!digits || !suffix_of(p, &exp10, &exp2))
    return LK_EPARSE;
  int scale = exp10 + 3 - frac;
  const i128 limit = (i128)INT64_MAX;
  for (int i = 0; i < exp2 && mant <= limit * 1000; i++)
    mant *= 2;
  for (; scale > 0 && mant <= limit * 1000; scale--)
    mant *= 10;
  for (; scale < 0; scale++)
    mant = mant / 10 + (mant % 10 != 0); /* MilliValue rounds up */
  if (mant > limit)
    mant = limit;
  *out = neg ? -(int64_t)mant : (int64_t)mant;
  return 0;
}

void orch__quantity_format(int64_t milli, char *buf, size_t n) {
  static const char *const si[] = {"m", "", "k", "M", "G", "T", "P", "E"};
  uint64_t v = milli < 0 ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
  int e = 0; /* index into si: value = v × 10^(3e) milli */
  while (v && v % 1000 == 0 && e < 7)
    v /= 1000, e++;
  if (!v)
    e = 1;
  snprintf(buf, n, "%s%llu%s", milli < 0 ? "-" : "", (unsigned long long)v, si[e]);
}

int64_t orch__milli(double v) {
  double x = v * 1000.0, r = nearbyint(x);
  return orch__hpa_sat64(fabs(x - r) <= 1e-6 * fmax(1.0, fabs(x)) ? r : ceil(x));
}

void orch_quantity_string(double v, char *buf, size_t n) {
  orch__quantity_format(orch__milli(v), buf, n);
}

int orch__quantity_json(const json_t *j, int64_t *out) {
  if (json_is_string(j))
    return orch__quantity_milli(json_string_value(j), out);
  if (json_is_integer(j)) {
    *out = json_integer_value(j) * 1000;
    return 0;
  }
  if (json_is_real(j)) {
    *out = orch__milli(json_real_value(j));
    return 0;
  }
  return LK_EPARSE;
}

int orch__time_parse(const char *s, int64_t *out) {
  return s ? lk_parse_time(s, out, NULL) : LK_EINVAL;
}

/* ---- small JSON readers ---- */

static json_t *at(const json_t *j, const char *a, const char *b) {
  json_t *x = json_object_get(j, a);
  return b ? json_object_get(x, b) : x;
}

static const char *str_at(lk_arena *ar, const json_t *j, const char *a, const char *b) {
  const char *s = json_string_value(at(j, a, b));
  return s ? lk_arena_strndup(ar, s, strlen(s)) : NULL;
}

static const char *or_empty(const char *s) {
  return s ? s : "";
}

static bool time_at(const json_t *j, const char *a, const char *b, int64_t *out) {
  return orch__time_parse(json_string_value(at(j, a, b)), out) == 0;
}

/* ---- metric specs ---- */

static const char *const type_names[] = {"Resource", "ContainerResource", "Pods", "Object", "External"};
static const char *const source_keys[] = {"resource", "containerResource", "pods", "object", "external"};

static int target_of(const json_t *t, const char *path, orch__hpa_target *o, lk_diag *d) {
  const char *type = json_string_value(json_object_get(t, "type"));
  o->type = !type ? ORCH__T_NONE
          : !strcmp(type, "Utilization") ? ORCH__T_UTILIZATION
          : !strcmp(type, "Value") ? ORCH__T_VALUE
          : !strcmp(type, "AverageValue") ? ORCH__T_AVERAGE_VALUE : ORCH__T_NONE;
  json_t *u = json_object_get(t, "averageUtilization"), *v = json_object_get(t, "value"),
         *a = json_object_get(t, "averageValue");
  o->has_utilization = json_is_integer(u);
  o->utilization = (int32_t)json_integer_value(u);
  if (v && !json_is_null(v) && orch__quantity_json(v, &o->value_milli))
    return lk_diag_set(d, LK_EINVAL, -1, "%s.target.value: not a quantity", path);
  if (a && !json_is_null(a) && orch__quantity_json(a, &o->average_milli))
    return lk_diag_set(d, LK_EINVAL, -1, "%s.target.averageValue: not a quantity", path);
  o->has_value = v && !json_is_null(v);
  o->has_average = a && !json_is_null(a);
  return 0;
}

/* A LabelSelector object → "k=v,k2 in (a,b),…" (NULL when empty). */
static const char *selector_string(lk_arena *ar, const json_t *sel) {
  lk_buf b = {0};
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)json_object_get(sel, "matchLabels"), k, v)
    lk_buf_printf(&b, "%s%s=%s", b.len ? "," : "", k, json_string_value(v) ? json_string_value(v) : "");
  json_t *exprs = json_object_get(sel, "matchExpressions");
  for (size_t i = 0; i < json_array_size(exprs); i++) {
    json_t *e = json_array_get(exprs, i), *vals = json_object_get(e, "values");
    const char *key = json_string_value(json_object_get(e, "key")), *op = json_string_value(json_object_get(e, "operator"));
    if (!key || !op)
      continue;
    if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
      lk_buf_printf(&b, "%s%s%s", b.len ? "," : "", op[0] == 'D' ? "!" : "", key);
      continue;
    }
    lk_buf_printf(&b, "%s%s %s (", b.len ? "," : "", key, !strcmp(op, "In") ? "in" : "notin");
    for (size_t j = 0; j < json_array_size(vals); j++)
      lk_buf_printf(&b, "%s%s", j ? "," : "", json_string_value(json_array_get(vals, j)));
    lk_buf_putc(&b, ')');
  }
  const char *s = b.len ? lk_arena_strndup(ar, (char *)b.data, b.len) : NULL;
  lk_buf_fini(&b);
  return s;
}

static int metric_of(const json_t *spec, size_t i, lk_arena *ar, orch__hpa_obj *o, lk_diag *d) {
  orch__hpa_metric *m = &o->metrics[i];
  char path[64];
  snprintf(path, sizeof path, "spec.metrics[%zu]", i);
  memset(m, 0, sizeof *m);
  m->type_name = str_at(ar, spec, "type", NULL);
  m->type = ORCH__M_UNKNOWN;
  for (int t = 0; m->type_name && t < 5; t++)
    if (!strcmp(m->type_name, type_names[t]))
      m->type = t;
  if (m->type == ORCH__M_UNKNOWN)
    return 0; /* reported by the algorithm as InvalidMetricSourceType */
  json_t *src = json_object_get(spec, source_keys[m->type]);
  if (!json_is_object(src))
    return lk_diag_set(d, LK_EINVAL, -1, "%s.%s: required for type %s", path, source_keys[m->type], m->type_name);
  json_t *metric = json_object_get(src, "metric");
  m->name = metric ? str_at(ar, metric, "name", NULL) : str_at(ar, src, "name", NULL);
  if (!m->name)
    return lk_diag_set(d, LK_EINVAL, -1, "%s.%s: a metric name is required", path, source_keys[m->type]);
  m->container = str_at(ar, src, "container", NULL);
  m->object_kind = str_at(ar, src, "describedObject", "kind");
  m->object_name = str_at(ar, src, "describedObject", "name");
  o->selectors[i] = selector_string(ar, json_object_get(metric, "selector"));
  o->specs[i] = spec;
  snprintf(path + strlen(path), sizeof path - strlen(path), ".%s", source_keys[m->type]);
  return target_of(json_object_get(src, "target"), path, &m->target, d);
}

static void default_cpu_metric(orch__hpa_obj *o, int32_t percent) {
  o->nmetrics = 1;
  o->metrics[0] = (orch__hpa_metric){.type = ORCH__M_RESOURCE, .type_name = "Resource", .name = "cpu",
                                     .target = {.type = ORCH__T_UTILIZATION, .has_utilization = true,
                                                .utilization = percent}};
}

/* ---- behavior ---- */

static int rules_of(const json_t *j, bool up, const char *path, orch__hpa_rules *r, lk_diag *d) {
  orch__hpa_rules_default(r, up);
  if (!json_is_object(j))
    return 0;
  json_t *w = json_object_get(j, "stabilizationWindowSeconds");
  if (json_is_integer(w))
    r->has_window = true, r->window_s = (int32_t)json_integer_value(w);
  const char *sel = json_string_value(json_object_get(j, "selectPolicy"));
  if (sel)
    r->select = !strcmp(sel, "Min") ? ORCH__SELECT_MIN : !strcmp(sel, "Disabled") ? ORCH__SELECT_DISABLED
                                                                                    : ORCH__SELECT_MAX;
  int64_t tol;
  json_t *t = json_object_get(j, "tolerance");
  if (t && !json_is_null(t)) {
    if (orch__quantity_json(t, &tol))
      return lk_diag_set(d, LK_EINVAL, -1, "%s.tolerance: not a quantity", path);
    r->has_tolerance = true, r->tolerance = (double)tol / 1000.0;
  }
  json_t *ps = json_object_get(j, "policies");
  if (!json_is_array(ps))
    return 0;
  if (json_array_size(ps) > ORCH__HPA_MAX_POLICIES)
    return lk_diag_set(d, LK_EINVAL, -1, "%s.policies: at most %d policies", path, ORCH__HPA_MAX_POLICIES);
  r->npolicies = json_array_size(ps);
  for (size_t i = 0; i < r->npolicies; i++) {
    json_t *p = json_array_get(ps, i);
    const char *type = json_string_value(json_object_get(p, "type"));
    r->policies[i] = (orch__hpa_policy){type && !strcmp(type, "Pods") ? ORCH__POLICY_PODS : ORCH__POLICY_PERCENT,
                                        (int32_t)json_integer_value(json_object_get(p, "value")),
                                        (int32_t)json_integer_value(json_object_get(p, "periodSeconds"))};
  }
  return 0;
}

/* ---- status.conditions as they were ---- */

static int cond_type(const char *s) {
  for (int t = 0; s && t < ORCH__HPA_NCOND; t++)
    if (!strcmp(s, orch__hpa_cond_name(t)))
      return t;
  return -1;
}

static void conds_of(const json_t *a, orch__hpa_conds *cs) {
  for (size_t i = 0; i < json_array_size(a) && cs->n < ORCH__HPA_NCOND; i++) {
    json_t *c = json_array_get(a, i);
    int t = cond_type(json_string_value(json_object_get(c, "type")));
    const char *st = json_string_value(json_object_get(c, "status"));
    if (t < 0 || !st)
      continue;
    orch__hpa_cond *x = &cs->c[cs->n++];
    memset(x, 0, sizeof *x);
    x->type = t;
    x->status = !strcmp(st, "True");
    snprintf(x->reason, sizeof x->reason, "%s", or_empty(json_string_value(json_object_get(c, "reason"))));
    snprintf(x->message, sizeof x->message, "%s", or_empty(json_string_value(json_object_get(c, "message"))));
    time_at(c, "lastTransitionTime", NULL, &x->transition_ms);
  }
}

int orch__hpa_parse(const json_t *hpa, lk_arena *ar, orch__hpa_obj *o, lk_diag *d) {
  memset(o, 0, sizeof *o);
  const json_t *spec = json_object_get(hpa, "spec"), *status = json_object_get(hpa, "status");
  const char *api = json_string_value(json_object_get(hpa, "apiVersion"));
  o->v1 = api && !strcmp(api, "autoscaling/v1");
  o->name = str_at(ar, hpa, "metadata", "name");
  o->ns = str_at(ar, hpa, "metadata", "namespace");
  o->uid = str_at(ar, hpa, "metadata", "uid");
  o->generation = json_integer_value(at(hpa, "metadata", "generation"));
  if (!o->name || !o->uid)
    return lk_diag_set(d, LK_EINVAL, -1, "metadata.name and metadata.uid are required");
  if (!o->ns)
    o->ns = "default";
  json_t *min = json_object_get(spec, "minReplicas"), *max = json_object_get(spec, "maxReplicas");
  if (!json_is_integer(max))
    return lk_diag_set(d, LK_EINVAL, -1, "spec.maxReplicas: required");
  o->min_replicas = json_is_integer(min) ? (int32_t)json_integer_value(min) : 1;
  o->max_replicas = (int32_t)json_integer_value(max);
  json_t *metrics = json_object_get(spec, "metrics");
  size_t n = json_array_size(metrics);
  o->metrics = lk_arena_zalloc(ar, (n + 1) * sizeof *o->metrics);
  o->specs = lk_arena_zalloc(ar, (n + 1) * sizeof *o->specs);
  o->selectors = lk_arena_zalloc(ar, (n + 1) * sizeof *o->selectors);
  if (o->v1) {
    json_t *pct = json_object_get(spec, "targetCPUUtilizationPercentage");
    default_cpu_metric(o, json_is_integer(pct) ? (int32_t)json_integer_value(pct) : 80);
  } else if (n == 0) {
    default_cpu_metric(o, 80);
  } else {
    o->nmetrics = n;
    for (size_t i = 0; i < n; i++) {
      int rc = metric_of(json_array_get(metrics, i), i, ar, o, d);
      if (rc)
        return rc;
    }
  }
  json_t *b = json_object_get(spec, "behavior");
  if (json_is_object(b)) {
    o->has_behavior = true;
    int rc = rules_of(json_object_get(b, "scaleUp"), true, "spec.behavior.scaleUp", &o->behavior.up, d);
    if (!rc)
      rc = rules_of(json_object_get(b, "scaleDown"), false, "spec.behavior.scaleDown", &o->behavior.down, d);
    if (rc)
      return rc;
  }
  o->previous_desired = (int32_t)json_integer_value(json_object_get(status, "desiredReplicas"));
  conds_of(json_object_get(status, "conditions"), &o->conds);
  o->has_last_scale = time_at(status, "lastScaleTime", NULL, &o->last_scale_ms);
  return 0;
}

/* ---- pods ---- */

static int phase_of(const char *s) {
  static const char *const names[] = {"Pending", "Running", "Succeeded", "Failed"};
  for (int i = 0; s && i < 4; i++)
    if (!strcmp(s, names[i]))
      return i;
  return ORCH__PHASE_UNKNOWN;
}

static void ready_of(const json_t *status, orch__hpa_pod *p) {
  json_t *conds = json_object_get(status, "conditions");
  p->ready = ORCH__CS_NONE;
  for (size_t i = 0; i < json_array_size(conds); i++) {
    json_t *c = json_array_get(conds, i);
    const char *t = json_string_value(json_object_get(c, "type")), *s = json_string_value(json_object_get(c, "status"));
    if (!t || strcmp(t, "Ready"))
      continue;
    p->ready = !s ? ORCH__CS_UNKNOWN : !strcmp(s, "True") ? ORCH__CS_TRUE : !strcmp(s, "False") ? ORCH__CS_FALSE
                                                                                                 : ORCH__CS_UNKNOWN;
    time_at(c, "lastTransitionTime", NULL, &p->ready_transition_ms);
  }
}

static int requests_of(const json_t *pod, lk_arena *ar, orch__hpa_pod *p, lk_diag *d) {
  json_t *cs = at(pod, "spec", "containers");
  size_t n = json_array_size(cs);
  orch__hpa_container *v = lk_arena_zalloc(ar, (n + 1) * sizeof *v);
  static const char *const res[ORCH__RES_N] = {"cpu", "memory"};
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(cs, i), *req = at(c, "resources", "requests");
    v[i].name = or_empty(str_at(ar, c, "name", NULL));
    for (int r = 0; r < ORCH__RES_N; r++) {
      json_t *q = json_object_get(req, res[r]);
      if (!q)
        continue;
      if (orch__quantity_json(q, &v[i].amounts.milli[r]))
        return lk_diag_set(d, LK_EINVAL, -1, "pod %s: spec.containers[%zu].resources.requests.%s: not a quantity",
                           p->name, i, res[r]);
      v[i].amounts.has[r] = true;
    }
  }
  p->containers = v;
  p->ncontainers = n;
  return 0;
}

int orch__hpa_parse_pods(const json_t *const *pods, size_t n, lk_arena *ar, orch__hpa_pod **out, lk_diag *d) {
  orch__hpa_pod *v = lk_arena_zalloc(ar, (n + 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    const json_t *pod = pods[i], *st = json_object_get(pod, "status");
    orch__hpa_pod *p = &v[i];
    p->name = or_empty(str_at(ar, pod, "metadata", "name"));
    p->deleting = json_is_string(at(pod, "metadata", "deletionTimestamp"));
    p->phase = phase_of(json_string_value(json_object_get(st, "phase")));
    ready_of(st, p);
    p->has_start = time_at(st, "startTime", NULL, &p->start_ms);
    int rc = requests_of(pod, ar, p, d);
    if (rc)
      return rc;
  }
  *out = v;
  return 0;
}

/* ---- status ---- */

static json_t *quantity(int64_t milli) {
  char buf[32];
  orch__quantity_format(milli, buf, sizeof buf);
  return json_string(buf);
}

static json_t *copy_or_null(const json_t *j) {
  return j ? json_deep_copy(j) : json_null();
}

/* {"name": …, "selector": …} as the spec has it. */
static json_t *metric_identifier(const json_t *src, const char *name) {
  const json_t *m = json_object_get(src, "metric");
  return m ? json_deep_copy(m) : json_pack("{ss}", "name", name);
}

json_t *orch__hpa_metric_status(const orch__hpa_obj *o, size_t i, const orch__hpa_metric_out *m) {
  const orch__hpa_metric *spec = &o->metrics[i];
  if (!m->ok || spec->type == ORCH__M_UNKNOWN)
    return json_pack("{ss}", "type", "");
  json_t *cur = json_object();
  if (m->has_utilization)
    json_object_set_new(cur, "averageUtilization", json_integer(m->utilization));
  json_object_set_new(cur, m->average ? "averageValue" : "value", quantity(m->value_milli));
  const json_t *src = o->specs[i] ? json_object_get(o->specs[i], source_keys[spec->type]) : NULL;
  json_t *body;
  switch (spec->type) {
  case ORCH__M_RESOURCE:
    body = json_pack("{ssso}", "name", spec->name, "current", cur);
    break;
  case ORCH__M_CONTAINER_RESOURCE:
    body = json_pack("{sssss?so}", "name", spec->name, "container", spec->container, "current", cur);
    break;
  case ORCH__M_OBJECT:
    body = json_pack("{sososo}", "describedObject", copy_or_null(json_object_get(src, "describedObject")),
                     "metric", metric_identifier(src, spec->name), "current", cur);
    break;
  default: /* Pods, External */
    body = json_pack("{soso}", "metric", metric_identifier(src, spec->name), "current", cur);
  }
  return json_pack("{ssso}", "type", type_names[spec->type], source_keys[spec->type], body);
}

static json_t *conditions_json(const orch__hpa_conds *cs) {
  json_t *a = json_array();
  char ts[40];
  for (size_t i = 0; i < cs->n; i++) {
    const orch__hpa_cond *c = &cs->c[i];
    lk_time_rfc3339(c->transition_ms, ts, sizeof ts);
    json_array_append_new(a, json_pack("{ssssssssss}", "type", orch__hpa_cond_name(c->type), "status",
                                       c->status ? "True" : "False", "lastTransitionTime", ts, "reason", c->reason,
                                       "message", c->message));
  }
  return a;
}

/* autoscaling/v1's status: the cpu utilization of the one metric. */
static json_t *status_v1(const orch__hpa_obj *o, int32_t current, int32_t desired, const orch__hpa_outcome *out) {
  json_t *st = json_pack("{sisi}", "currentReplicas", current, "desiredReplicas", desired);
  if (out->metric_out && out->metric_out[0].ok && out->metric_out[0].has_utilization)
    json_object_set_new(st, "currentCPUUtilizationPercentage", json_integer(out->metric_out[0].utilization));
  return st;
}

json_t *orch__hpa_status_json(const orch__hpa_obj *o, int32_t current, const orch__hpa_outcome *out,
                              int64_t now_ms) {
  json_t *st;
  if (o->v1) {
    st = status_v1(o, current, out->desired, out);
  } else {
    json_t *metrics = json_array();
    for (size_t i = 0; i < o->nmetrics && out->metric_out; i++)
      json_array_append_new(metrics, orch__hpa_metric_status(o, i, &out->metric_out[i]));
    st = json_pack("{sisiso}", "currentReplicas", current, "desiredReplicas", out->desired, "currentMetrics", metrics);
    json_object_set_new(st, "conditions", conditions_json(&out->conds));
  }
  if (o->generation)
    json_object_set_new(st, "observedGeneration", json_integer(o->generation));
  bool scaled = out->rescale || o->has_last_scale;
  if (scaled) {
    char ts[40];
    lk_time_rfc3339(out->rescale ? now_ms : o->last_scale_ms, ts, sizeof ts);
    json_object_set_new(st, "lastScaleTime", json_string(ts));
  }
  return st;
}
