/* hpa_normalize.c — from a proposed replica count to the one the HPA sets,
 * as upstream's horizontal.go: the stabilization windows over the
 * recommendation history, the rate policies over the scale-event log
 * (behavior), the legacy path without behavior, min/max clamping with the
 * ScalingLimited reasons, and the bookkeeping of both logs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "orchestrator/hpa.h"

void orch__hpa_settings_default(orch__hpa_settings *s) {
  s->cpu_init_ms = 300000;
  s->readiness_delay_ms = 30000;
  s->downscale_window_ms = 300000;
  s->legacy_factor = 2.0;
  s->legacy_minimum = 4.0;
  s->tolerance = (orch__hpa_tolerance){0.1, 0.1};
}

void orch__hpa_rules_default(orch__hpa_rules *r, bool up) {
  memset(r, 0, sizeof *r);
  r->select = ORCH__SELECT_MAX;
  if (up) {
    r->has_window = true; /* 0; scale-down's stays unset: the controller's flag applies */
    r->policies[0] = (orch__hpa_policy){ORCH__POLICY_PODS, 4, 15};
    r->policies[1] = (orch__hpa_policy){ORCH__POLICY_PERCENT, 100, 15};
    r->npolicies = 2;
  } else {
    r->policies[0] = (orch__hpa_policy){ORCH__POLICY_PERCENT, 100, 15};
    r->npolicies = 1;
  }
}

/* ---- the logs ---- */

void orch__hpa_history_free(orch__hpa_history *h) {
  free(h->recs);
  free(h->up);
  free(h->down);
  memset(h, 0, sizeof *h);
}

void orch__hpa_history_add_rec(orch__hpa_history *h, orch__hpa_rec r) {
  h->recs = lk_xgrow(h->recs, &h->caprecs, h->nrecs + 1, sizeof r);
  h->recs[h->nrecs++] = r;
}

void orch__hpa_history_add_event(orch__hpa_history *h, bool up, orch__hpa_event e) {
  if (up) {
    h->up = lk_xgrow(h->up, &h->capup, h->nup + 1, sizeof e);
    h->up[h->nup++] = e;
  } else {
    h->down = lk_xgrow(h->down, &h->capdown, h->ndown + 1, sizeof e);
    h->down[h->ndown++] = e;
  }
}

/* Replace slot i (i < nrecs) or append. */
static void put_rec(orch__hpa_history *h, bool reuse, size_t i, orch__hpa_rec r) {
  if (reuse)
    h->recs[i] = r;
  else
    orch__hpa_history_add_rec(h, r);
}

/* ---- stabilization ---- */

int32_t orch__hpa_stabilize(orch__hpa_history *h, const orch__hpa_behavior *b, int32_t current,
                            int32_t desired, int64_t now_ms, const char **reason) {
  int64_t up_cut = now_ms - (int64_t)b->up.window_s * 1000;
  int64_t down_cut = now_ms - (int64_t)b->down.window_s * 1000;
  int32_t up_rec = desired, down_rec = desired;
  bool old = false;
  size_t old_i = 0;
  for (size_t i = 0; i < h->nrecs; i++) {
    const orch__hpa_rec *r = &h->recs[i];
    if (r->ts_ms > up_cut && r->replicas < up_rec)
      up_rec = r->replicas;
    if (r->ts_ms > down_cut && r->replicas > down_rec)
      down_rec = r->replicas;
    if (r->ts_ms < up_cut && r->ts_ms < down_cut) {
      old = true;
      old_i = i;
    }
  }
  int32_t rec = current;
  if (rec < up_rec)
    rec = up_rec;
  if (rec > down_rec)
    rec = down_rec;
  *reason = desired >= current ? "ScaleUpStabilized" : "ScaleDownStabilized";
  put_rec(h, old, old_i, (orch__hpa_rec){desired, now_ms});
  return rec;
}

int32_t orch__hpa_stabilize_legacy(orch__hpa_history *h, int64_t window_ms, int32_t desired,
                                   int64_t now_ms) {
  int64_t cut = now_ms - window_ms;
  int32_t max = desired;
  bool old = false;
  size_t old_i = 0;
  for (size_t i = 0; i < h->nrecs; i++) {
    if (h->recs[i].ts_ms < cut) {
      old = true;
      old_i = i;
    } else if (h->recs[i].replicas > max) {
      max = h->recs[i].replicas;
    }
  }
  put_rec(h, old, old_i, (orch__hpa_rec){desired, now_ms});
  return max;
}

/* ---- rate limits ---- */

int32_t orch__hpa_change_in_period(const orch__hpa_event *ev, size_t n, int32_t period_s, int64_t now_ms) {
  int64_t cut = now_ms - (int64_t)period_s * 1000;
  int32_t sum = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].ts_ms > cut)
      sum += ev[i].change;
  return sum;
}

static int32_t period_start(int32_t current, const orch__hpa_history *h, int32_t period_s, int64_t now_ms) {
  return current - orch__hpa_change_in_period(h->up, h->nup, period_s, now_ms) +
         orch__hpa_change_in_period(h->down, h->ndown, period_s, now_ms);
}

/* The count policy p allows from current: the highest when scaling up, the
 * lowest when scaling down (Percent down truncates toward zero). */
static int32_t policy_bound(const orch__hpa_policy *p, int32_t current, const orch__hpa_history *h, bool up,
                            int64_t now_ms) {
  int32_t start = period_start(current, h, p->period_s, now_ms);
  double pct = (double)p->value / 100;
  if (up)
    return p->type == ORCH__POLICY_PODS ? start + p->value : orch__hpa_sat32(ceil((double)start * (1 + pct)));
  return p->type == ORCH__POLICY_PODS ? start - p->value : orch__hpa_sat32((double)start * (1 - pct));
}

/* The bound selectPolicy picks over the policies; *which = the policy that
 * gave it (-1 when disabled or there are none). */
static int32_t rules_limit(const orch__hpa_rules *r, int32_t current, const orch__hpa_history *h, bool up,
                           int64_t now_ms, int *which) {
  *which = -1;
  if (r->select == ORCH__SELECT_DISABLED)
    return current;
  /* Max change: the highest count up, the lowest down; Min change the reverse */
  bool take_max = up ? r->select != ORCH__SELECT_MIN : r->select == ORCH__SELECT_MIN;
  int32_t result = take_max ? INT32_MIN : INT32_MAX;
  for (size_t i = 0; i < r->npolicies; i++) {
    int32_t b = policy_bound(&r->policies[i], current, h, up, now_ms);
    if (take_max ? b > result : b < result)
      result = b, *which = (int)i;
  }
  return result;
}

int32_t orch__hpa_scale_up_limit(int32_t current, const orch__hpa_history *h,
                                 const orch__hpa_rules *r, int64_t now_ms) {
  int which;
  return rules_limit(r, current, h, true, now_ms, &which);
}

int32_t orch__hpa_scale_down_limit(int32_t current, const orch__hpa_history *h,
                                   const orch__hpa_rules *r, int64_t now_ms) {
  int which;
  return rules_limit(r, current, h, false, now_ms, &which);
}

static const char MSG_UP_LIMIT[] = "the desired replica count is increasing faster than the maximum scale rate";
static const char MSG_TOO_MANY[] = "the desired replica count is more than the maximum replica count";
static const char MSG_DOWN_LIMIT[] = "the desired replica count is decreasing faster than the maximum scale rate";
static const char MSG_TOO_FEW[] = "the desired replica count is less than the minimum replica count";
static const char MSG_WITHIN[] = "the desired count is within the acceptable range";

int32_t orch__hpa_rate_limit(const orch__hpa_behavior *b, const orch__hpa_history *h, int32_t current,
                             int32_t desired, int32_t min, int32_t max, int64_t now_ms,
                             const char **reason, const char **message, int *policy) {
  int which = -1;
  if (policy)
    *policy = -1;
  if (desired > current) {
    int32_t limit = rules_limit(&b->up, current, h, true, now_ms, &which);
    if (limit < current)
      limit = current; /* no further scale-up until events age out */
    int32_t allowed = max;
    if (allowed > limit) {
      allowed = limit;
      *reason = "ScaleUpLimit", *message = MSG_UP_LIMIT;
    } else {
      *reason = "TooManyReplicas", *message = MSG_TOO_MANY, which = -1;
    }
    if (desired > allowed) {
      if (policy)
        *policy = which;
      return allowed;
    }
  } else if (desired < current) {
    int32_t limit = rules_limit(&b->down, current, h, false, now_ms, &which);
    if (limit > current)
      limit = current;
    int32_t allowed = min;
    if (allowed < limit) {
      allowed = limit;
      *reason = "ScaleDownLimit", *message = MSG_DOWN_LIMIT;
    } else {
      *reason = "TooFewReplicas", *message = MSG_TOO_FEW, which = -1;
    }
    if (desired < allowed) {
      if (policy)
        *policy = which;
      return allowed;
    }
  }
  *reason = "DesiredWithinRange", *message = MSG_WITHIN;
  return desired;
}

int32_t orch__hpa_legacy_limit(int32_t current, int32_t desired, int32_t min, int32_t max,
                               double factor, double minimum, const char **reason, const char **message) {
  double up = factor * (double)current;
  int32_t limit = orch__hpa_sat32(up > minimum ? up : minimum);
  int32_t allowed;
  if (max > limit) {
    allowed = limit;
    *reason = "ScaleUpLimit", *message = MSG_UP_LIMIT;
  } else {
    allowed = max;
    *reason = "TooManyReplicas", *message = MSG_TOO_MANY;
  }
  if (desired < min) {
    *reason = "TooFewReplicas", *message = MSG_TOO_FEW;
    return min;
  }
  if (desired > allowed)
    return allowed;
  *reason = "DesiredWithinRange", *message = MSG_WITHIN;
  return desired;
}

/* ---- the scale-event log ---- */

static int32_t longest_period(const orch__hpa_rules *r) {
  int32_t l = 0;
  for (size_t i = 0; i < r->npolicies; i++)
    if (r->policies[i].period_s > l)
      l = r->policies[i].period_s;
  return l;
}

void orch__hpa_store_event(orch__hpa_history *h, const orch__hpa_behavior *b, int32_t prev,
                           int32_t next, int64_t now_ms) {
  if (!b)
    return; /* nothing reads the log without behavior */
  bool up = next > prev;
  orch__hpa_event *ev = up ? h->up : h->down;
  size_t n = up ? h->nup : h->ndown;
  int64_t cut = now_ms - (int64_t)longest_period(up ? &b->up : &b->down) * 1000;
  bool old = false;
  size_t old_i = 0;
  for (size_t i = 0; i < n; i++) {
    if (ev[i].ts_ms < cut)
      ev[i].outdated = true;
    if (ev[i].outdated) {
      old = true;
      old_i = i;
    }
  }
  orch__hpa_event e = {up ? next - prev : prev - next, now_ms, false};
  if (old)
    ev[old_i] = e;
  else
    orch__hpa_history_add_event(h, up, e);
}
