/* hpatest_load.c — reads the shared HPA case format into orchestrator/hpa.h
 * structs (see hpatest.h). Absent and null fields mean "not set". */
#include <string.h>

#include "tests/orchestrator/hpatest.h"

static const char *str_or(json_t *j, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(j, key));
  return s ? s : dflt;
}

static char *dup(hpatest_ctx *c, const char *s) {
  return s ? lk_arena_strndup(c->arena, s, strlen(s)) : NULL;
}

int64_t hpatest_ts(json_t *age_s) {
  return HPATEST_NOW - (int64_t)json_integer_value(age_s) * 1000;
}

static int phase_of(const char *s) {
  static const char *const names[] = {"Pending", "Running", "Succeeded", "Failed"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return ORCH__PHASE_UNKNOWN;
}

static void amounts(json_t *j, orch__hpa_amounts *a) {
  static const char *const names[ORCH__RES_N] = {"cpu", "memory"};
  for (int r = 0; r < ORCH__RES_N; r++) {
    json_t *v = json_object_get(j, names[r]);
    a->has[r] = json_is_integer(v);
    a->milli[r] = json_integer_value(v);
  }
}

static orch__hpa_container *containers(hpatest_ctx *c, json_t *a, const char *key, size_t *n) {
  *n = json_array_size(a);
  orch__hpa_container *v = lk_arena_zalloc(c->arena, (*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) {
    json_t *ct = json_array_get(a, i);
    v[i].name = dup(c, str_or(ct, "name", ""));
    amounts(json_object_get(ct, key), &v[i].amounts);
  }
  return v;
}

orch__hpa_pod *hpatest_pods(hpatest_ctx *c, json_t *a, size_t *n) {
  *n = json_array_size(a);
  orch__hpa_pod *v = lk_arena_zalloc(c->arena, (*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) {
    json_t *p = json_array_get(a, i);
    const char *ready = json_string_value(json_object_get(p, "ready"));
    v[i].name = dup(c, str_or(p, "name", ""));
    v[i].phase = phase_of(str_or(p, "phase", ""));
    v[i].deleting = json_is_true(json_object_get(p, "deleting"));
    v[i].ready = !ready ? ORCH__CS_NONE : strcmp(ready, "True") == 0 ? ORCH__CS_TRUE
               : strcmp(ready, "False") == 0 ? ORCH__CS_FALSE : ORCH__CS_UNKNOWN;
    v[i].ready_transition_ms = hpatest_ts(json_object_get(p, "ready_transition_age_s"));
    json_t *start = json_object_get(p, "start_age_s");
    v[i].has_start = json_is_integer(start);
    v[i].start_ms = hpatest_ts(start);
    v[i].containers = containers(c, json_object_get(p, "containers"), "requests_milli", &v[i].ncontainers);
  }
  return v;
}

orch__hpa_sample *hpatest_samples(hpatest_ctx *c, json_t *a, size_t *n) {
  *n = json_array_size(a);
  orch__hpa_sample *v = lk_arena_zalloc(c->arena, (*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) {
    json_t *s = json_array_get(a, i);
    v[i].pod = dup(c, str_or(s, "pod", ""));
    v[i].value_milli = json_integer_value(json_object_get(s, "value_milli"));
    v[i].ts_ms = hpatest_ts(json_object_get(s, "timestamp_age_s"));
    v[i].window_ms = json_integer_value(json_object_get(s, "window_s")) * 1000;
  }
  return v;
}

static orch__hpa_pod_usage *usage(hpatest_ctx *c, json_t *a, size_t *n) {
  *n = json_array_size(a);
  orch__hpa_pod_usage *v = lk_arena_zalloc(c->arena, (*n + 1) * sizeof *v);
  for (size_t i = 0; i < *n; i++) {
    json_t *u = json_array_get(a, i);
    v[i].pod = dup(c, str_or(u, "pod", ""));
    v[i].ts_ms = hpatest_ts(json_object_get(u, "timestamp_age_s"));
    v[i].window_ms = json_integer_value(json_object_get(u, "window_s")) * 1000;
    v[i].containers = containers(c, json_object_get(u, "containers"), "usage_milli", &v[i].ncontainers);
  }
  return v;
}

static void target(json_t *t, orch__hpa_target *o) {
  const char *type = str_or(t, "type", "");
  o->type = strcmp(type, "Utilization") == 0 ? ORCH__T_UTILIZATION
          : strcmp(type, "Value") == 0 ? ORCH__T_VALUE
          : strcmp(type, "AverageValue") == 0 ? ORCH__T_AVERAGE_VALUE : ORCH__T_NONE;
  json_t *u = json_object_get(t, "averageUtilization"), *v = json_object_get(t, "value_milli"),
         *a = json_object_get(t, "averageValue_milli");
  o->has_utilization = json_is_integer(u);
  o->utilization = (int32_t)json_integer_value(u);
  o->has_value = json_is_integer(v);
  o->value_milli = json_integer_value(v);
  o->has_average = json_is_integer(a);
  o->average_milli = json_integer_value(a);
}

static const char *const type_names[] = {"Resource", "ContainerResource", "Pods", "Object", "External"};
static const char *const source_keys[] = {"resource", "containerResource", "pods", "object", "external"};

/* What metrics_api holds for a metric: the failed flag, and its values. */
static void observe(hpatest_ctx *c, json_t *api, orch__hpa_metric *m) {
  json_t *o;
  switch (m->type) {
  case ORCH__M_RESOURCE:
  case ORCH__M_CONTAINER_RESOURCE:
    o = json_object_get(api, "resource");
    m->usage = usage(c, json_object_get(o, "items"), &m->nusage);
    break;
  case ORCH__M_PODS:
    o = json_object_get(json_object_get(api, "pods"), m->name);
    m->samples = hpatest_samples(c, json_object_get(o, "items"), &m->nsamples);
    break;
  case ORCH__M_OBJECT: {
    o = json_object_get(json_object_get(api, "object"), m->name);
    int64_t *v = lk_arena_zalloc(c->arena, sizeof *v);
    *v = json_integer_value(json_object_get(o, "value_milli"));
    m->values = v;
    m->nvalues = o ? 1 : 0;
    break;
  }
  case ORCH__M_EXTERNAL: {
    o = json_object_get(json_object_get(api, "external"), m->name);
    json_t *a = json_object_get(o, "values_milli");
    int64_t *v = lk_arena_zalloc(c->arena, (json_array_size(a) + 1) * sizeof *v);
    for (size_t i = 0; i < json_array_size(a); i++)
      v[i] = json_integer_value(json_array_get(a, i));
    m->values = v;
    m->nvalues = json_array_size(a);
    break;
  }
  default:
    return;
  }
  if (json_is_true(json_object_get(o, "error")))
    m->fetch_error = "the metrics API call failed";
}

void hpatest_metric(hpatest_ctx *c, json_t *spec, json_t *api, orch__hpa_metric *m) {
  memset(m, 0, sizeof *m);
  m->type_name = dup(c, str_or(spec, "type", ""));
  m->type = ORCH__M_UNKNOWN;
  for (int i = 0; i < 5; i++)
    if (strcmp(m->type_name, type_names[i]) == 0)
      m->type = i;
  if (m->type == ORCH__M_UNKNOWN)
    return;
  json_t *src = json_object_get(spec, source_keys[m->type]);
  json_t *metric = json_object_get(src, "metric");
  m->name = dup(c, metric ? str_or(metric, "name", "") : str_or(src, "name", ""));
  m->container = dup(c, json_string_value(json_object_get(src, "container")));
  json_t *obj = json_object_get(src, "describedObject");
  m->object_kind = dup(c, json_string_value(json_object_get(obj, "kind")));
  m->object_name = dup(c, json_string_value(json_object_get(obj, "name")));
  target(json_object_get(src, "target"), &m->target);
  observe(c, api, m);
}

void hpatest_rules(json_t *j, orch__hpa_rules *r) {
  memset(r, 0, sizeof *r);
  json_t *w = json_object_get(j, "stabilizationWindowSeconds"), *tol = json_object_get(j, "tolerance");
  r->has_window = json_is_integer(w);
  r->window_s = (int32_t)json_integer_value(w);
  const char *sel = str_or(j, "selectPolicy", "Max");
  r->select = strcmp(sel, "Min") == 0 ? ORCH__SELECT_MIN
            : strcmp(sel, "Disabled") == 0 ? ORCH__SELECT_DISABLED : ORCH__SELECT_MAX;
  r->has_tolerance = json_is_number(tol);
  r->tolerance = json_number_value(tol);
  json_t *ps = json_object_get(j, "policies");
  for (size_t i = 0; i < json_array_size(ps) && i < ORCH__HPA_MAX_POLICIES; i++) {
    json_t *p = json_array_get(ps, i);
    r->policies[i].type = strcmp(str_or(p, "type", ""), "Pods") == 0 ? ORCH__POLICY_PODS : ORCH__POLICY_PERCENT;
    r->policies[i].value = (int32_t)json_integer_value(json_object_get(p, "value"));
    r->policies[i].period_s = (int32_t)json_integer_value(json_object_get(p, "periodSeconds"));
    r->npolicies = i + 1;
  }
}

void hpatest_behavior(json_t *j, orch__hpa_behavior *b) {
  hpatest_rules(json_object_get(j, "scaleUp"), &b->up);
  hpatest_rules(json_object_get(j, "scaleDown"), &b->down);
}

void hpatest_settings(json_t *cs, orch__hpa_settings *s) {
  orch__hpa_settings_default(s);
  json_t *ctl = json_object_get(cs, "controller"), *tol = json_object_get(cs, "tolerance"), *v;
  if ((v = json_object_get(ctl, "cpu_initialization_period_s")))
    s->cpu_init_ms = json_integer_value(v) * 1000;
  if ((v = json_object_get(ctl, "initial_readiness_delay_s")))
    s->readiness_delay_ms = json_integer_value(v) * 1000;
  if ((v = json_object_get(ctl, "downscale_stabilization_s")))
    s->downscale_window_ms = json_integer_value(v) * 1000;
  if ((v = json_object_get(ctl, "legacy_scale_up_limit_factor")))
    s->legacy_factor = json_number_value(v);
  if ((v = json_object_get(ctl, "legacy_scale_up_limit_minimum")))
    s->legacy_minimum = json_number_value(v);
  if (tol) {
    s->tolerance.down = json_number_value(json_object_get(tol, "scale_down"));
    s->tolerance.up = json_number_value(json_object_get(tol, "scale_up"));
  }
}

void hpatest_events(json_t *a, orch__hpa_history *h, bool up) {
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *e = json_array_get(a, i);
    orch__hpa_history_add_event(h, up, (orch__hpa_event){(int32_t)json_integer_value(json_object_get(e, "change")),
                                                         hpatest_ts(json_object_get(e, "age_s")),
                                                         json_is_true(json_object_get(e, "outdated"))});
  }
}

void hpatest_history(json_t *cs, orch__hpa_history *h) {
  memset(h, 0, sizeof *h);
  h->initialized = true; /* the cases give the history as upstream held it */
  json_t *recs = json_object_get(cs, "recommendations");
  for (size_t i = 0; i < json_array_size(recs); i++) {
    json_t *r = json_array_get(recs, i);
    orch__hpa_history_add_rec(h, (orch__hpa_rec){(int32_t)json_integer_value(json_object_get(r, "replicas")),
                                                 hpatest_ts(json_object_get(r, "age_s"))});
  }
  hpatest_events(json_object_get(cs, "scale_up_events"), h, true);
  hpatest_events(json_object_get(cs, "scale_down_events"), h, false);
}
