/* hpa_reconcile.c — one sync of one HPA, as upstream's reconcileAutoscaler
 * after the scale was read: the min/max/disabled cases, every metric's
 * proposal and the largest of them (with the partial-failure rule), then
 * normalization (behavior or legacy), the scale event, and the status
 * conditions AbleToScale / ScalingActive / ScalingLimited in upstream's order,
 * reasons and messages. */
#include <stdio.h>
#include <string.h>

#include "orchestrator/hpa.h"

static const char *const cond_names[ORCH__HPA_NCOND] = {"AbleToScale", "ScalingActive", "ScalingLimited"};

const char *orch__hpa_cond_name(int type) {
  return type >= 0 && type < ORCH__HPA_NCOND ? cond_names[type] : "";
}

void orch__hpa_cond_set(orch__hpa_conds *cs, int type, bool status, const char *reason,
                        const char *message, int64_t now_ms) {
  orch__hpa_cond *c = NULL;
  for (size_t i = 0; i < cs->n; i++)
    if (cs->c[i].type == type)
      c = &cs->c[i];
  if (!c) {
    c = &cs->c[cs->n++];
    memset(c, 0, sizeof *c);
    c->type = type;
    c->status = !status; /* a new condition always transitions */
  }
  if (c->status != status)
    c->transition_ms = now_ms;
  c->status = status;
  snprintf(c->reason, sizeof c->reason, "%s", reason);
  snprintf(c->message, sizeof c->message, "%s", message);
}

/* The prefix computeReplicasForMetric puts on a metric's error. */
static void metric_error(const orch__hpa_metric *m, const orch__hpa_metric_out *o, char *buf, size_t n) {
  const char *name = m->name ? m->name : "";
  switch (m->type) {
  case ORCH__M_RESOURCE: snprintf(buf, n, "failed to get %s resource metric value: %s", name, o->error); break;
  case ORCH__M_CONTAINER_RESOURCE:
    snprintf(buf, n, "failed to get %s container metric value: %s", name, o->error);
    break;
  case ORCH__M_PODS: snprintf(buf, n, "failed to get pods metric value: %s", o->error); break;
  case ORCH__M_OBJECT: snprintf(buf, n, "failed to get object metric value: %s", o->error); break;
  case ORCH__M_EXTERNAL: snprintf(buf, n, "failed to get %s external metric value: %s", name, o->error); break;
  default: snprintf(buf, n, "%s", o->error);
  }
}

/* computeReplicasForMetrics: the largest proposal, or -1 when all metrics
 * failed or some failed and the rest would scale down. */
static int32_t metrics_proposal(const orch__hpa_input *in, int64_t now_ms, orch__hpa_outcome *out,
                                const char **metric_name) {
  const orch__hpa_settings *s = in->settings;
  orch__hpa_tolerance tol = s->tolerance;
  if (in->behavior && in->behavior->down.has_tolerance)
    tol.down = in->behavior->down.tolerance;
  if (in->behavior && in->behavior->up.has_tolerance)
    tol.up = in->behavior->up.tolerance;
  int32_t replicas = 0;
  size_t invalid = 0, first_bad = 0;
  for (size_t i = 0; i < in->nmetrics; i++) {
    orch__hpa_metric_out *o = &out->metric_out[i];
    if (orch__hpa_metric_replicas(&in->metrics[i], in->pods, in->npods, in->spec_replicas,
                                  in->status_replicas, tol, s, now_ms, o)) {
      if (invalid++ == 0)
        first_bad = i;
      continue;
    }
    if (replicas == 0 || o->replicas > replicas) {
      replicas = o->replicas;
      *metric_name = o->description;
    }
  }
  if (invalid) {
    char first[768];
    metric_error(&in->metrics[first_bad], &out->metric_out[first_bad], first, sizeof first);
    snprintf(out->error, sizeof out->error, "invalid metrics (%zu invalid out of %zu), first error is: %s",
             invalid, in->nmetrics, first);
  }
  if (invalid >= in->nmetrics || (invalid > 0 && replicas < in->spec_replicas)) {
    const orch__hpa_metric_out *o = &out->metric_out[first_bad];
    char msg[sizeof out->error];
    snprintf(msg, sizeof msg, "the HPA was unable to compute the replica count: %s", o->error);
    orch__hpa_cond_set(&out->conds, ORCH__COND_SCALING_ACTIVE, false, o->reason, msg, now_ms);
    return -1;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "the HPA was able to successfully calculate a replica count from %s", *metric_name);
  orch__hpa_cond_set(&out->conds, ORCH__COND_SCALING_ACTIVE, true, "ValidMetricFound", msg, now_ms);
  return replicas;
}

/* Stabilization then the rate step; sets AbleToScale and ScalingLimited. */
static void normalize(const orch__hpa_input *in, orch__hpa_history *h, int32_t current, int32_t proposal,
                     int64_t now_ms, orch__hpa_outcome *out) {
  const orch__hpa_behavior *b = in->behavior;
  const orch__hpa_settings *s = in->settings;
  int32_t stab;
  const char *reason, *msg, *stab_reason = "ScaleDownStabilized";
  if (b) {
    orch__hpa_behavior eb = *b;
    if (!eb.down.has_window)
      eb.down.window_s = (int32_t)(s->downscale_window_ms / 1000);
    stab = orch__hpa_stabilize(h, &eb, current, proposal, now_ms, &stab_reason);
  } else {
    stab = orch__hpa_stabilize_legacy(h, s->downscale_window_ms, proposal, now_ms);
  }
  if (stab != proposal)
    orch__hpa_cond_set(&out->conds, ORCH__COND_ABLE_TO_SCALE, true, stab_reason,
                       strcmp(stab_reason, "ScaleUpStabilized") == 0
                           ? "recent recommendations were lower than current one, applying the lowest recent recommendation"
                           : "recent recommendations were higher than current one, applying the highest recent recommendation",
                       now_ms);
  else
    orch__hpa_cond_set(&out->conds, ORCH__COND_ABLE_TO_SCALE, true, "ReadyForNewScale",
                       "recommended size matches current size", now_ms);
  int policy = -1;
  int32_t desired = b ? orch__hpa_rate_limit(b, h, current, stab, in->min_replicas, in->max_replicas, now_ms,
                                             &reason, &msg, &policy)
                      : orch__hpa_legacy_limit(current, stab, in->min_replicas, in->max_replicas,
                                               s->legacy_factor, s->legacy_minimum, &reason, &msg);
  if (policy >= 0)
    out->limit_policy = &(stab > current ? &b->up : &b->down)->policies[policy];
  orch__hpa_cond_set(&out->conds, ORCH__COND_SCALING_LIMITED, desired != stab, reason, msg, now_ms);
  out->stabilized = stab;
  out->limit_reason = reason;
  out->desired = desired;
}

void orch__hpa_reconcile(const orch__hpa_input *in, orch__hpa_history *h, int64_t now_ms,
                        orch__hpa_outcome *out) {
  int32_t current = in->spec_replicas;
  out->rescale = true;
  out->metrics_failed = false;
  out->proposal = out->stabilized = -1;
  out->limit_reason = NULL;
  out->limit_policy = NULL;
  out->rescale_reason[0] = out->error[0] = '\0';
  orch__hpa_cond_set(&out->conds, ORCH__COND_ABLE_TO_SCALE, true, "SucceededGetScale",
                     "the HPA controller was able to get the target's current scale", now_ms);
  if (!h->initialized) { /* recordInitialRecommendation */
    h->initialized = true;
    orch__hpa_history_add_rec(h, (orch__hpa_rec){current, now_ms});
  }
  if (current == 0 && in->min_replicas != 0) {
    out->desired = 0;
    out->rescale = false;
    orch__hpa_cond_set(&out->conds, ORCH__COND_SCALING_ACTIVE, false, "ScalingDisabled",
                       "scaling is disabled since the replica count of the target is zero", now_ms);
  } else if (current > in->max_replicas) {
    snprintf(out->rescale_reason, sizeof out->rescale_reason, "Current number of replicas above Spec.MaxReplicas");
    out->desired = in->max_replicas;
  } else if (current < in->min_replicas) {
    snprintf(out->rescale_reason, sizeof out->rescale_reason, "Current number of replicas below Spec.MinReplicas");
    out->desired = in->min_replicas;
  } else {
    const char *metric = "";
    int32_t proposal = metrics_proposal(in, now_ms, out, &metric);
    if (proposal < 0) {
      out->metrics_failed = true;
      out->rescale = false;
      out->desired = in->previous_desired;
      return;
    }
    out->proposal = proposal;
    if (proposal > current)
      snprintf(out->rescale_reason, sizeof out->rescale_reason, "%s above target", metric);
    else if (proposal < current)
      snprintf(out->rescale_reason, sizeof out->rescale_reason, "All metrics below target");
    normalize(in, h, current, proposal, now_ms, out);
    out->rescale = out->desired != current;
  }
  if (!out->rescale) {
    out->desired = current;
    return;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "the HPA controller was able to update the target scale to %d", out->desired);
  orch__hpa_cond_set(&out->conds, ORCH__COND_ABLE_TO_SCALE, true, "SucceededRescale", msg, now_ms);
  orch__hpa_store_event(h, in->behavior, current, out->desired, now_ms);
}
