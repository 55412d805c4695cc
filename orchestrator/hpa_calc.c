/* hpa_calc.c — one metric → proposed replica count, as upstream's
 * replica_calculator.go: pod grouping (ready / unready / missing / ignored),
 * the usage ratio, the tolerance band and the conservative recomputation
 * when metrics are missing or unready pods would take part in a scale-up.
 * The per-pod values live in one working set that plays the role of
 * upstream's PodMetricsInfo map (keyed by pod name). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_err.h"
#include "orchestrator/hpa.h"

/* ---- saturating arithmetic ---- */

int32_t orch__hpa_sat32(double v) {
  if (isnan(v))
    return 0;
  if (v >= 2147483647.0)
    return INT32_MAX;
  if (v <= -2147483648.0)
    return INT32_MIN;
  return (int32_t)v;
}

int64_t orch__hpa_sat64(double v) {
  if (isnan(v))
    return 0;
  if (v >= 9223372036854775807.0)
    return INT64_MAX;
  if (v <= -9223372036854775808.0)
    return INT64_MIN;
  return (int64_t)v;
}

int64_t orch__hpa_add_sat(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static bool within(orch__hpa_tolerance t, double ratio) {
  return 1.0 - t.down <= ratio && ratio <= 1.0 + t.up;
}

static int fail(orch__hpa_metric_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(orch__hpa_metric_out *out, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->error, sizeof out->error, fmt, ap);
  va_end(ap);
  out->ok = false;
  return LK_EINVAL;
}

static int res_index(const char *name) {
  if (name && strcmp(name, "cpu") == 0)
    return ORCH__RES_CPU;
  if (name && strcmp(name, "memory") == 0)
    return ORCH__RES_MEMORY;
  return -1;
}

/* ---- pod grouping ---- */

static const orch__hpa_sample *sample_of(const orch__hpa_sample *s, size_t n, const char *pod) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(s[i].pod, pod) == 0)
      return &s[i];
  return NULL;
}

static bool cpu_unready(const orch__hpa_pod *p, const orch__hpa_sample *m, const orch__hpa_settings *s,
                        int64_t now_ms) {
  if (p->ready == ORCH__CS_NONE || !p->has_start)
    return true;
  if (p->start_ms + s->cpu_init_ms > now_ms) /* still initialising */
    return p->ready == ORCH__CS_FALSE || m->ts_ms < p->ready_transition_ms + m->window_ms;
  /* never became ready after its start */
  return p->ready == ORCH__CS_FALSE && p->start_ms + s->readiness_delay_ms > p->ready_transition_ms;
}

size_t orch__hpa_group_pods(const orch__hpa_pod *pods, size_t npods, const orch__hpa_sample *samples,
                            size_t nsamples, bool cpu, const orch__hpa_settings *s, int64_t now_ms,
                            int *group) {
  size_t ready = 0;
  for (size_t i = 0; i < npods; i++) {
    const orch__hpa_pod *p = &pods[i];
    const orch__hpa_sample *m;
    if (p->deleting || p->phase == ORCH__PHASE_FAILED)
      group[i] = ORCH__GROUP_IGNORED;
    else if (p->phase == ORCH__PHASE_PENDING)
      group[i] = ORCH__GROUP_UNREADY;
    else if (!(m = sample_of(samples, nsamples, p->name)))
      group[i] = ORCH__GROUP_MISSING;
    else if (cpu && cpu_unready(p, m, s, now_ms))
      group[i] = ORCH__GROUP_UNREADY;
    else
      group[i] = ORCH__GROUP_READY;
    ready += group[i] == ORCH__GROUP_READY;
  }
  return ready;
}

/* ---- the working set of per-pod values (upstream's PodMetricsInfo) ---- */

typedef struct wset {
  orch__hpa_sample *v;
  size_t n, cap;
} wset;

static void wset_init(wset *w, size_t cap) {
  w->n = 0;
  w->cap = cap ? cap : 1;
  w->v = lk_xcalloc(w->cap, sizeof *w->v);
}

/* Insert or overwrite by pod name (capacity is sized by the caller). */
static void wset_put(wset *w, orch__hpa_sample s) {
  for (size_t i = 0; i < w->n; i++)
    if (strcmp(w->v[i].pod, s.pod) == 0) {
      w->v[i] = s;
      return;
    }
  if (w->n < w->cap)
    w->v[w->n++] = s;
}

static void wset_remove(wset *w, const char *pod) {
  for (size_t i = 0; i < w->n; i++)
    if (strcmp(w->v[i].pod, pod) == 0) {
      w->v[i] = w->v[--w->n];
      return;
    }
}

static void wset_remove_group(wset *w, const orch__hpa_pod *pods, size_t npods, const int *group, int g) {
  for (size_t i = 0; i < npods; i++)
    if (group[i] == g)
      wset_remove(w, pods[i].name);
}

/* Per-pod resource values from the resource metrics API items: the sum over
 * all containers (any container without the resource: no value), or only
 * the named container (a pod without it: no value). */
static void resource_samples(const orch__hpa_metric *m, int res, wset *w) {
  for (size_t i = 0; i < m->nusage; i++) {
    const orch__hpa_pod_usage *u = &m->usage[i];
    int64_t sum = 0;
    bool have = m->container ? false : u->ncontainers > 0;
    for (size_t c = 0; c < u->ncontainers; c++) {
      const orch__hpa_container *ct = &u->containers[c];
      if (m->container) {
        if (strcmp(ct->name, m->container) != 0)
          continue;
        have = res >= 0 && ct->amounts.has[res];
        sum = have ? ct->amounts.milli[res] : 0;
        break;
      }
      if (res < 0 || !ct->amounts.has[res]) {
        have = false;
        break;
      }
      sum += ct->amounts.milli[res];
    }
    if (have)
      wset_put(w, (orch__hpa_sample){u->pod, sum, u->ts_ms, u->window_ms});
  }
}

/* Requests per pod (upstream calculatePodRequests): every matching container
 * must request the resource. req[i] for pods[i]. */
static int pod_requests(const orch__hpa_pod *pods, size_t npods, const char *container, const char *rname,
                        int64_t *req, orch__hpa_metric_out *out) {
  int res = res_index(rname);
  for (size_t i = 0; i < npods; i++) {
    req[i] = 0;
    for (size_t c = 0; c < pods[i].ncontainers; c++) {
      const orch__hpa_container *ct = &pods[i].containers[c];
      if (container && strcmp(container, ct->name) != 0)
        continue;
      if (res < 0 || !ct->amounts.has[res])
        return fail(out, "missing request for %s in container %s of Pod %s", rname, ct->name, pods[i].name);
      req[i] += ct->amounts.milli[res];
    }
  }
  return 0;
}

static const int64_t *request_of(const orch__hpa_pod *pods, size_t npods, const int64_t *req, const char *pod) {
  for (size_t i = 0; i < npods; i++)
    if (strcmp(pods[i].name, pod) == 0)
      return &req[i];
  return NULL;
}

typedef struct util_ratio {
  double ratio;
  int32_t utilization;
  int64_t raw;
} util_ratio;

/* GetResourceUtilizationRatio: samples of pods without a request (not in the
 * pod list) are skipped. */
static int utilization_ratio(const wset *w, const orch__hpa_pod *pods, size_t npods, const int64_t *req,
                             int32_t target, util_ratio *r, orch__hpa_metric_out *out) {
  int64_t mtotal = 0, rtotal = 0, n = 0;
  for (size_t i = 0; i < w->n; i++) {
    const int64_t *rq = request_of(pods, npods, req, w->v[i].pod);
    if (!rq)
      continue;
    mtotal += w->v[i].value_milli;
    rtotal += *rq;
    n++;
  }
  if (rtotal == 0)
    return fail(out, "no metrics returned matched known pods");
  r->utilization = (int32_t)(mtotal * 100 / rtotal);
  r->ratio = (double)r->utilization / (double)target;
  r->raw = mtotal / n;
  return 0;
}

/* GetMetricUsageRatio: the mean over every value in the set. */
static double usage_ratio(const wset *w, int64_t target, int64_t *usage) {
  int64_t total = 0;
  for (size_t i = 0; i < w->n; i++)
    total += w->v[i].value_milli;
  *usage = total / (int64_t)w->n;
  return (double)*usage / (double)target;
}

/* Missing pods take fill (per pod, from fill_of) and unready pods 0 when
 * scaling up with unready pods. */
static void fill_in(wset *w, const orch__hpa_pod *pods, size_t npods, const int *group, bool fill_missing,
                    const int64_t *fill, bool unready_zero) {
  for (size_t i = 0; i < npods; i++) {
    if (group[i] == ORCH__GROUP_MISSING && fill_missing)
      wset_put(w, (orch__hpa_sample){pods[i].name, fill[i], 0, 0});
    if (group[i] == ORCH__GROUP_UNREADY && unready_zero)
      wset_put(w, (orch__hpa_sample){pods[i].name, 0, 0, 0});
  }
}

static size_t count_group(const int *group, size_t n, int g) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    c += group[i] == g;
  return c;
}

/* The common end of both per-pod calculations: keep current when the new
 * ratio is within tolerance, flips direction, or the new count moves
 * against the ratio. */
static int32_t conservative(double ratio, double new_ratio, size_t nvalues, int32_t current,
                            orch__hpa_tolerance tol) {
  if (within(tol, new_ratio) || (ratio > 1.0 && new_ratio < 1.0) || (ratio < 1.0 && new_ratio > 1.0))
    return current;
  int32_t n = orch__hpa_sat32(ceil(new_ratio * (double)nvalues));
  if ((new_ratio < 1.0 && n > current) || (new_ratio > 1.0 && n < current))
    return current;
  return n;
}

typedef struct calc_ctx {
  const orch__hpa_pod *pods;
  size_t npods;
  int32_t current;
  orch__hpa_tolerance tol;
  const orch__hpa_settings *s;
  int64_t now_ms;
} calc_ctx;

/* Groups the pods against w and drops ignored and unready pods' values.
 * Returns the ready count or -1 (error set) when nothing is left. */
static long group_and_filter(const calc_ctx *c, wset *w, bool cpu, int *group, orch__hpa_metric_out *out) {
  if (c->npods == 0) {
    fail(out, "no pods returned by selector while calculating replica count");
    return -1;
  }
  size_t ready = orch__hpa_group_pods(c->pods, c->npods, w->v, w->n, cpu, c->s, c->now_ms, group);
  wset_remove_group(w, c->pods, c->npods, group, ORCH__GROUP_IGNORED);
  wset_remove_group(w, c->pods, c->npods, group, ORCH__GROUP_UNREADY);
  if (w->n == 0) {
    fail(out, "did not receive metrics for targeted pods (pods might be unready)");
    return -1;
  }
  return (long)ready;
}

/* GetResourceReplicas over the values in w (Utilization target). */
static int resource_utilization(const calc_ctx *c, wset *w, const char *rname, const char *container,
                                int32_t target, int *group, int64_t *req, int64_t *fill,
                                orch__hpa_metric_out *out) {
  long ready = group_and_filter(c, w, strcmp(rname, "cpu") == 0, group, out);
  if (ready < 0)
    return LK_EINVAL;
  int rc = pod_requests(c->pods, c->npods, container, rname, req, out);
  util_ratio u;
  if (rc || (rc = utilization_ratio(w, c->pods, c->npods, req, target, &u, out)))
    return rc;
  out->ratio = u.ratio;
  out->has_utilization = true;
  out->utilization = u.utilization;
  out->average = true;
  out->value_milli = u.raw;
  size_t nmissing = count_group(group, c->npods, ORCH__GROUP_MISSING);
  bool up_unready = count_group(group, c->npods, ORCH__GROUP_UNREADY) > 0 && u.ratio > 1.0;
  if (!up_unready && nmissing == 0) {
    out->replicas = within(c->tol, u.ratio) ? c->current : orch__hpa_sat32(ceil(u.ratio * (double)ready));
    return 0;
  }
  int64_t fallback = target > 100 ? target : 100;
  for (size_t i = 0; i < c->npods; i++) /* a missing pod: its request when scaling down, else 0 */
    fill[i] = u.ratio < 1.0 ? req[i] * fallback / 100 : 0;
  fill_in(w, c->pods, c->npods, group, u.ratio != 1.0, fill, up_unready);
  util_ratio nu;
  if ((rc = utilization_ratio(w, c->pods, c->npods, req, target, &nu, out)))
    return rc;
  out->replicas = conservative(u.ratio, nu.ratio, w->n, c->current, c->tol);
  return 0;
}

/* calcPlainMetricReplicas over the values in w (mean per pod vs target). */
static int plain_replicas(const calc_ctx *c, wset *w, bool cpu, int64_t target, int *group, int64_t *fill,
                          orch__hpa_metric_out *out) {
  long ready = group_and_filter(c, w, cpu, group, out);
  if (ready < 0)
    return LK_EINVAL;
  int64_t usage;
  double ratio = usage_ratio(w, target, &usage);
  out->ratio = ratio;
  out->average = true;
  out->value_milli = usage;
  size_t nmissing = count_group(group, c->npods, ORCH__GROUP_MISSING);
  bool up_unready = count_group(group, c->npods, ORCH__GROUP_UNREADY) > 0 && ratio > 1.0;
  if (!up_unready && nmissing == 0) {
    out->replicas = within(c->tol, ratio) ? c->current : orch__hpa_sat32(ceil(ratio * (double)ready));
    return 0;
  }
  for (size_t i = 0; i < c->npods; i++)
    fill[i] = ratio < 1.0 ? target : 0;
  fill_in(w, c->pods, c->npods, group, ratio != 1.0, fill, up_unready);
  int64_t new_usage;
  double new_ratio = usage_ratio(w, target, &new_usage);
  out->replicas = conservative(ratio, new_ratio, w->n, c->current, c->tol);
  return 0;
}

/* Resource and ContainerResource metrics (Utilization or AverageValue). */
static int resource_metric(const calc_ctx *c, const orch__hpa_metric *m, orch__hpa_metric_out *out) {
  const char *rname = m->name ? m->name : "";
  bool raw = m->target.has_average;
  if (!raw && !m->target.has_utilization)
    return fail(out, "invalid resource metric source: neither an average utilization target nor an "
                     "average value (usage) target was set");
  const char *what = raw ? "usage" : "utilization";
  if (m->fetch_error)
    return fail(out, "failed to get %s %s: unable to get metrics for resource %s: %s", rname, what, rname,
                m->fetch_error);
  if (m->nusage == 0)
    return fail(out, "failed to get %s %s: unable to get metrics for resource %s: no metrics returned from "
                     "resource metrics API", rname, what, rname);
  wset w;
  size_t n = c->npods ? c->npods : 1;
  int *group = lk_xcalloc(n, sizeof *group);
  int64_t *num = lk_xcalloc(2 * n, sizeof *num); /* requests, then fill-ins */
  wset_init(&w, m->nusage + n);
  resource_samples(m, res_index(rname), &w);
  int rc = raw ? plain_replicas(c, &w, strcmp(rname, "cpu") == 0, m->target.average_milli, group, num, out)
               : resource_utilization(c, &w, rname, m->container, m->target.utilization, group, num, num + n,
                                      out);
  if (rc) {
    char inner[sizeof out->error];
    memcpy(inner, out->error, sizeof inner);
    fail(out, "failed to get %s %s: %s", rname, what, inner);
  }
  free(w.v);
  free(group);
  free(num);
  const char *ctr = m->type == ORCH__M_CONTAINER_RESOURCE ? "container " : "";
  if (raw)
    snprintf(out->description, sizeof out->description, "%s %sresource", rname, ctr);
  else
    snprintf(out->description, sizeof out->description, "%s %sresource utilization (percentage of request)",
             rname, ctr);
  return rc;
}

static int pods_metric(const calc_ctx *c, const orch__hpa_metric *m, orch__hpa_metric_out *out) {
  snprintf(out->description, sizeof out->description, "pods metric %s", m->name);
  if (m->fetch_error)
    return fail(out, "unable to get metric %s: %s", m->name, m->fetch_error);
  if (m->nsamples == 0)
    return fail(out, "unable to get metric %s: no metrics returned from custom metrics API", m->name);
  if (!m->target.has_average)
    return fail(out, "invalid pods metric source: no average value target was set");
  wset w;
  size_t n = c->npods ? c->npods : 1;
  int *group = lk_xcalloc(n, sizeof *group);
  int64_t *fill = lk_xcalloc(n, sizeof *fill);
  wset_init(&w, m->nsamples + n);
  for (size_t i = 0; i < m->nsamples; i++)
    wset_put(&w, m->samples[i]);
  int rc = plain_replicas(c, &w, false, m->target.average_milli, group, fill, out);
  free(w.v);
  free(group);
  free(fill);
  return rc;
}

/* getUsageRatioReplicaCount: Value targets of Object and External metrics. */
static int value_replicas(const calc_ctx *c, double ratio, orch__hpa_metric_out *out) {
  out->ratio = ratio;
  if (c->current == 0) { /* scale from zero: no tolerance, no pods */
    out->replicas = orch__hpa_sat32(ceil(ratio));
    return 0;
  }
  if (within(c->tol, ratio)) {
    out->replicas = c->current;
    return 0;
  }
  if (c->npods == 0)
    return fail(out, "unable to calculate ready pods: no pods returned by selector while calculating "
                     "replica count");
  int64_t ready = 0;
  for (size_t i = 0; i < c->npods; i++)
    ready += c->pods[i].phase == ORCH__PHASE_RUNNING && c->pods[i].ready == ORCH__CS_TRUE;
  out->replicas = orch__hpa_sat32(ceil(ratio * (double)ready));
  return 0;
}

/* The per-pod form (AverageValue) of Object and External metrics. */
static void average_replicas(int32_t status_replicas, int64_t usage, int64_t target,
                             orch__hpa_tolerance tol, orch__hpa_metric_out *out) {
  out->replicas = status_replicas;
  out->ratio = (double)usage / ((double)target * (double)status_replicas);
  if (!within(tol, out->ratio))
    out->replicas = orch__hpa_sat32(ceil((double)usage / (double)target));
  out->average = true;
  /* per pod; with no pods yet (scale from zero) the whole value, where
   * upstream's division by zero would report garbage */
  out->value_milli = status_replicas ? orch__hpa_sat64(ceil((double)usage / (double)status_replicas)) : usage;
}

static int object_metric(const calc_ctx *c, const orch__hpa_metric *m, int32_t status_replicas,
                         orch__hpa_metric_out *out) {
  const orch__hpa_target *t = &m->target;
  bool value = t->type == ORCH__T_VALUE && t->has_value;
  bool average = t->type == ORCH__T_AVERAGE_VALUE && t->has_average;
  snprintf(out->description, sizeof out->description, "%s metric %s", m->object_kind ? m->object_kind : "",
           m->name);
  if (!value && !average)
    return fail(out, "invalid object metric source: neither a value target nor an average value target was set");
  if (m->fetch_error || m->nvalues == 0)
    return fail(out, "unable to get metric %s on %s %s: %s", m->name, m->object_kind ? m->object_kind : "",
                m->object_name ? m->object_name : "", m->fetch_error ? m->fetch_error : "no metrics returned");
  int64_t usage = m->values[0];
  if (average) {
    average_replicas(status_replicas, usage, t->average_milli, c->tol, out);
    return 0;
  }
  out->value_milli = usage;
  return value_replicas(c, (double)usage / (double)t->value_milli, out);
}

static int external_metric(const calc_ctx *c, const orch__hpa_metric *m, int32_t status_replicas,
                           orch__hpa_metric_out *out) {
  const orch__hpa_target *t = &m->target;
  snprintf(out->description, sizeof out->description, "external metric %s", m->name);
  if (!t->has_average && !t->has_value)
    return fail(out, "invalid external metric source: neither a value target nor an average value target was set");
  if (m->fetch_error || m->nvalues == 0)
    return fail(out, "failed to get %s external metric: unable to get external metric %s: %s", m->name, m->name,
                m->fetch_error ? m->fetch_error : "no metrics returned from external metrics API");
  int64_t usage = 0;
  for (size_t i = 0; i < m->nvalues; i++)
    usage = orch__hpa_add_sat(usage, m->values[i]);
  if (t->has_average) {
    average_replicas(status_replicas, usage, t->average_milli, c->tol, out);
    return 0;
  }
  out->value_milli = usage;
  return value_replicas(c, (double)usage / (double)t->value_milli, out);
}

int orch__hpa_metric_replicas(const orch__hpa_metric *m, const orch__hpa_pod *pods, size_t npods,
                              int32_t current, int32_t status_replicas, orch__hpa_tolerance tol,
                              const orch__hpa_settings *s, int64_t now_ms, orch__hpa_metric_out *out) {
  memset(out, 0, sizeof *out);
  out->ratio = NAN;
  calc_ctx c = {pods, npods, current, tol, s, now_ms};
  int rc;
  switch (m->type) {
  case ORCH__M_RESOURCE:
  case ORCH__M_CONTAINER_RESOURCE:
    rc = resource_metric(&c, m, out);
    out->reason = m->type == ORCH__M_RESOURCE ? "FailedGetResourceMetric" : "FailedGetContainerResourceMetric";
    break;
  case ORCH__M_PODS:
    rc = pods_metric(&c, m, out);
    out->reason = "FailedGetPodsMetric";
    break;
  case ORCH__M_OBJECT:
    rc = object_metric(&c, m, status_replicas, out);
    out->reason = "FailedGetObjectMetric";
    break;
  case ORCH__M_EXTERNAL:
    rc = external_metric(&c, m, status_replicas, out);
    out->reason = "FailedGetExternalMetric";
    break;
  default:
    rc = fail(out, "unknown metric source type \"%s\"", m->type_name ? m->type_name : "");
    out->reason = "InvalidMetricSourceType";
  }
  out->ok = rc == 0;
  return rc;
}
