/* hpa_ctl.c — the HPA controller's own state and one sync per HPA
 * (orch__hpa_sync): parse the objects, observe the metrics in the tsdb,
 * run the algorithm against this HPA's memory (recommendations and scale
 * events, kept per uid as upstream keeps them per key), write the status,
 * and record the decision as an event with its inputs in a bounded ring
 * that GET /api/v1/autoscaling/events serves (and waits on, for SSE).
 *
 * Lock: mu guards states, the ring and the counters; it is a leaf, held only
 * for the algorithm's bookkeeping (no tsdb read happens under it). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "orchestrator/hpa_live.h"

typedef struct hpa_state {
  char *uid, *ns, *name;
  orch__hpa_history h;
  int32_t current, desired;
} hpa_state;

struct orch_hpa_ctl {
  tsdb *db;
  const orch_external_metric *external;
  size_t nexternal;
  int64_t cpu_window_ms;
  orch__hpa_settings settings;
  pthread_mutex_t mu;
  pthread_cond_t cv;  /* signalled when an event is recorded */
  hpa_state *states;
  size_t nstates, capstates;
  char **ring;        /* event JSON texts; slot seq % cap */
  size_t cap;
  uint64_t seq;       /* newest event's sequence number (0 = none yet) */
  uint64_t decisions[3]; /* no change, rescale, metrics failed */
};

int orch_hpa_ctl_new(const orch_hpa_ctl_opts *o, orch_hpa_ctl **out, lk_diag *d) {
  if (!o->db)
    return lk_diag_set(d, LK_EINVAL, -1, "autoscaler: a tsdb is required");
  orch_hpa_ctl *c = lk_xcalloc(1, sizeof *c);
  c->db = o->db;
  c->external = o->external;
  c->nexternal = o->nexternal;
  c->cpu_window_ms = o->cpu_window_ms > 0 ? o->cpu_window_ms : 60000;
  orch__hpa_settings_default(&c->settings);
  if (o->cpu_init_ms > 0)
    c->settings.cpu_init_ms = o->cpu_init_ms;
  if (o->readiness_delay_ms > 0)
    c->settings.readiness_delay_ms = o->readiness_delay_ms;
  if (o->downscale_window_ms > 0)
    c->settings.downscale_window_ms = o->downscale_window_ms;
  if (o->tolerance > 0)
    c->settings.tolerance = (orch__hpa_tolerance){o->tolerance, o->tolerance};
  c->cap = o->event_capacity ? o->event_capacity : 1024;
  c->ring = lk_xcalloc(c->cap, sizeof *c->ring);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  *out = c;
  return 0;
}

static void state_free(hpa_state *s) {
  free(s->uid);
  free(s->ns);
  free(s->name);
  orch__hpa_history_free(&s->h);
}

void orch_hpa_ctl_free(orch_hpa_ctl *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->nstates; i++)
    state_free(&c->states[i]);
  free(c->states);
  for (size_t i = 0; i < c->cap; i++)
    free(c->ring[i]);
  free(c->ring);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

/* Caller holds mu. */
static hpa_state *state_of(orch_hpa_ctl *c, const orch__hpa_obj *o) {
  for (size_t i = 0; i < c->nstates; i++)
    if (!strcmp(c->states[i].uid, o->uid))
      return &c->states[i];
  c->states = lk_xgrow(c->states, &c->capstates, c->nstates + 1, sizeof *c->states);
  hpa_state *s = &c->states[c->nstates++];
  memset(s, 0, sizeof *s);
  s->uid = lk_xstrdup(o->uid);
  s->ns = lk_xstrdup(o->ns);
  s->name = lk_xstrdup(o->name);
  return s;
}

void orch__hpa_forget(orch_hpa_ctl *c, const char *uid) {
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->nstates; i++)
    if (!strcmp(c->states[i].uid, uid)) {
      state_free(&c->states[i]);
      c->states[i] = c->states[--c->nstates];
      break;
    }
  pthread_mutex_unlock(&c->mu);
}

/* ---- the decision event ---- */

static json_t *num_or_null(double v) {
  return isnan(v) ? json_null() : json_real(v);
}

static json_t *target_json(const orch__hpa_target *t) {
  json_t *j = json_object();
  if (t->has_utilization)
    json_object_set_new(j, "averageUtilization", json_integer(t->utilization));
  if (t->has_value)
    json_object_set_new(j, "value", json_real((double)t->value_milli / 1000.0));
  if (t->has_average)
    json_object_set_new(j, "averageValue", json_real((double)t->average_milli / 1000.0));
  return j;
}

/* One metric's inputs and proposal. */
static json_t *metric_event(const orch__hpa_obj *o, size_t i, const orch__hpa_metric_out *m) {
  const orch__hpa_metric *spec = &o->metrics[i];
  json_t *j = json_pack("{ss*ss*so}", "type", spec->type_name, "name", spec->name, "target", target_json(&spec->target));
  if (!m->ok) {
    json_object_set_new(j, "error", json_string(m->error));
    return j;
  }
  json_object_set_new(j, m->average ? "averageValue" : "value", json_real((double)m->value_milli / 1000.0));
  if (m->has_utilization)
    json_object_set_new(j, "utilization", json_integer(m->utilization));
  json_object_set_new(j, "ratio", num_or_null(m->ratio));
  json_object_set_new(j, "replicas", json_integer(m->replicas));
  return j;
}

static json_t *event_json(const orch__hpa_obj *o, const orch__hpa_input *in, const orch__hpa_outcome *out,
                          uint64_t seq, int64_t now_ms) {
  char ts[40];
  lk_time_rfc3339(now_ms, ts, sizeof ts);
  json_t *metrics = json_array(), *conds = json_array();
  for (size_t i = 0; i < o->nmetrics; i++)
    json_array_append_new(metrics, metric_event(o, i, &out->metric_out[i]));
  for (size_t i = 0; i < out->conds.n; i++)
    json_array_append_new(conds, json_pack("{ssssssss}", "type", orch__hpa_cond_name(out->conds.c[i].type), "status",
                                           out->conds.c[i].status ? "True" : "False", "reason",
                                           out->conds.c[i].reason, "message", out->conds.c[i].message));
  json_t *e = json_pack("{sIsssIssssss}", "seq", (json_int_t)seq, "time", ts, "timeMs", (json_int_t)now_ms,
                        "namespace", o->ns, "hpa", o->name, "uid", o->uid);
  json_object_set_new(e, "currentReplicas", json_integer(in->spec_replicas));
  json_object_set_new(e, "desiredReplicas", json_integer(out->desired));
  json_object_set_new(e, "minReplicas", json_integer(in->min_replicas));
  json_object_set_new(e, "maxReplicas", json_integer(in->max_replicas));
  json_object_set_new(e, "metrics", metrics);
  json_object_set_new(e, "recommendation", out->proposal >= 0 ? json_integer(out->proposal) : json_null());
  json_object_set_new(e, "stabilized", out->stabilized >= 0 ? json_integer(out->stabilized) : json_null());
  json_object_set_new(e, "limitReason", out->limit_reason ? json_string(out->limit_reason) : json_null());
  const orch__hpa_policy *p = out->limit_policy;
  json_object_set_new(e, "limitingPolicy", p ? json_pack("{sssisi}", "type", p->type == ORCH__POLICY_PODS ? "Pods" : "Percent",
                                                         "value", p->value, "periodSeconds", p->period_s)
                                             : json_null());
  json_object_set_new(e, "rescale", json_boolean(out->rescale));
  json_object_set_new(e, "reason", out->rescale_reason[0] ? json_string(out->rescale_reason) : json_null());
  json_object_set_new(e, "error", out->error[0] ? json_string(out->error) : json_null());
  json_object_set_new(e, "conditions", conds);
  return e;
}

/* Caller holds mu. */
static void record(orch_hpa_ctl *c, const orch__hpa_obj *o, const orch__hpa_input *in, const orch__hpa_outcome *out,
                   int64_t now_ms) {
  uint64_t seq = c->seq + 1;
  json_t *e = event_json(o, in, out, seq, now_ms);
  char *text = json_dumps(e, JSON_COMPACT);
  json_decref(e);
  size_t slot = (size_t)(seq % c->cap);
  free(c->ring[slot]);
  c->ring[slot] = text;
  c->seq = seq;
  c->decisions[out->metrics_failed ? 2 : out->rescale ? 1 : 0]++;
  pthread_cond_broadcast(&c->cv);
}

/* ---- the sync ---- */

static int32_t replicas_at(const json_t *target, const char *part, int32_t dflt) {
  json_t *r = json_object_get(json_object_get(target, part), "replicas");
  return json_is_integer(r) ? (int32_t)json_integer_value(r) : dflt;
}

static void log_decision(const orch__hpa_obj *o, const orch__hpa_input *in, const orch__hpa_outcome *out) {
  if (out->rescale)
    lk_info("autoscaler: %s/%s rescale %d -> %d: %s", o->ns, o->name, in->spec_replicas, out->desired,
            out->rescale_reason);
  else if (out->metrics_failed)
    lk_warn("autoscaler: %s/%s: %s", o->ns, o->name, out->error);
}

int orch__hpa_sync(orch_hpa_ctl *c, const json_t *hpa, const json_t *scale_target, const json_t *const *pods,
                   size_t npods, int64_t now_ms, orch__hpa_decision *res, lk_diag *d) {
  lk_arena *a = lk_arena_new(16384);
  orch__hpa_obj o;
  orch__hpa_pod *ps = NULL;
  int rc = orch__hpa_parse(hpa, a, &o, d);
  if (!rc)
    rc = orch__hpa_parse_pods(pods, npods, a, &ps, d);
  if (rc) {
    lk_arena_free(a);
    return rc;
  }
  orch__hpa_observe_ctx oc = {c->db, c->external, c->nexternal, c->cpu_window_ms, now_ms, a};
  orch__hpa_observe(&oc, &o, ps, npods);
  orch__hpa_input in = {.spec_replicas = replicas_at(scale_target, "spec", 1),
                        .status_replicas = replicas_at(scale_target, "status", 0),
                        .min_replicas = o.min_replicas, .max_replicas = o.max_replicas,
                        .previous_desired = o.previous_desired, .behavior = o.has_behavior ? &o.behavior : NULL,
                        .metrics = o.metrics, .nmetrics = o.nmetrics, .pods = ps, .npods = npods,
                        .settings = &c->settings};
  orch__hpa_outcome out = {.metric_out = lk_arena_zalloc(a, (o.nmetrics + 1) * sizeof *out.metric_out),
                           .conds = o.conds};
  pthread_mutex_lock(&c->mu);
  hpa_state *s = state_of(c, &o);
  orch__hpa_reconcile(&in, &s->h, now_ms, &out);
  s->current = in.spec_replicas;
  s->desired = out.desired;
  record(c, &o, &in, &out, now_ms);
  pthread_mutex_unlock(&c->mu);
  log_decision(&o, &in, &out);
  *res = (orch__hpa_decision){in.spec_replicas, out.desired, out.rescale,
                              orch__hpa_status_json(&o, in.spec_replicas, &out, now_ms)};
  lk_arena_free(a);
  return 0;
}

/* ---- events and metrics for the HTTP side ---- */

uint64_t orch_hpa_events_each(orch_hpa_ctl *c, uint64_t after, size_t limit,
                              void (*fn)(void *arg, uint64_t seq, const char *json), void *arg) {
  pthread_mutex_lock(&c->mu);
  uint64_t oldest = c->seq >= c->cap ? c->seq - c->cap + 1 : 1;
  uint64_t from = after + 1 > oldest ? after + 1 : oldest;
  if (limit && c->seq >= from && c->seq - from + 1 > limit)
    from = c->seq - limit + 1; /* the newest `limit` events */
  for (uint64_t s = from; s <= c->seq; s++)
    fn(arg, s, c->ring[s % c->cap]);
  uint64_t last = c->seq > after ? c->seq : after;
  pthread_mutex_unlock(&c->mu);
  return last;
}

bool orch_hpa_events_wait(orch_hpa_ctl *c, uint64_t after, int64_t timeout_ms) {
  struct timespec until = lk_deadline(CLOCK_REALTIME, timeout_ms);
  pthread_mutex_lock(&c->mu);
  while (c->seq <= after && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0) {
  }
  bool ready = c->seq > after;
  pthread_mutex_unlock(&c->mu);
  return ready;
}

static void gauge(lk_buf *out, const char *name, const char *help, const hpa_state *v, size_t n, bool desired) {
  lk_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
  for (size_t i = 0; i < n; i++) {
    lk_label ls[3] = {{"__name__", name}, {"namespace", v[i].ns}, {"hpa", v[i].name}};
    lk_labels_format(out, ls, 3);
    lk_buf_printf(out, " %d\n", desired ? v[i].desired : v[i].current);
  }
}

void orch_hpa_metrics_text(orch_hpa_ctl *c, lk_buf *out) {
  static const char *const results[3] = {"none", "rescale", "metrics_failed"};
  pthread_mutex_lock(&c->mu);
  gauge(out, "lookout_hpa_desired_replicas", "Replicas the HorizontalPodAutoscaler wants after its last sync.",
        c->states, c->nstates, true);
  gauge(out, "lookout_hpa_current_replicas", "Replicas of the scale target at the HorizontalPodAutoscaler's last sync.",
        c->states, c->nstates, false);
  lk_buf_puts(out, "# HELP lookout_hpa_decisions_total HorizontalPodAutoscaler syncs by outcome.\n"
                   "# TYPE lookout_hpa_decisions_total counter\n");
  for (int r = 0; r < 3; r++)
    lk_buf_printf(out, "lookout_hpa_decisions_total{result=\"%s\"} %llu\n", results[r],
                  (unsigned long long)c->decisions[r]);
  pthread_mutex_unlock(&c->mu);
}
