/* rules_eval.c — evaluating one rule group as Prometheus's rules manager
 * does (rules/group.go Eval and RestoreForState, recording.go): rules in
 * order at now − query_offset, recording rules rename and relabel their
 * result, every rule's output is appended and the series it no longer
 * produces get stale markers, `limit` discards a rule's whole output, and
 * errors stay on the rule. Alerting rules are in rules_alert.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"

#define DEFAULT_OUTAGE_TOLERANCE_MS (3600 * 1000)
#define DEFAULT_GRACE_PERIOD_MS (600 * 1000)

static double stale_nan(void)
{
  uint64_t bits = TSDB_STALE_NAN_BITS;
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/*---- Label building ----*/

void alerting__lb_set(alerting__lbuild *b, const char *name, const char *value)
{
  for (size_t i = 0; i < b->n; i++)
    if (!strcmp(b->l[i].name, name)) {
      b->l[i].value = value;
      return;
    }
  b->l = lk_xgrow(b->l, &b->cap, b->n + 1, sizeof *b->l);
  b->l[b->n++] = (lk_label){name, value};
}

void alerting__lb_del(alerting__lbuild *b, const char *name)
{
  for (size_t i = 0; i < b->n; i++)
    if (!strcmp(b->l[i].name, name)) {
      b->l[i] = b->l[--b->n];
      return;
    }
}

void alerting__lb_reset(alerting__lbuild *b, const lk_label *l, size_t n)
{
  b->n = 0;
  for (size_t i = 0; i < n; i++)
    alerting__lb_set(b, l[i].name, l[i].value);
}

int alerting__lset_cmp(const void *a, const void *b)
{
  const alerting__lset *x = a, *y = b;
  return lk_labels_cmp(x->l, x->n, y->l, y->n);
}

/*---- Output: append, stale markers ----*/

void alerting__out_add(alerting__output *o, const alerting__lbuild *b, double v)
{
  o->series = lk_xgrow(o->series, &o->cap, o->n + 1, sizeof *o->series);
  o->v = lk_xgrow(o->v, &o->vcap, o->n + 1, sizeof *o->v);
  alerting__lset_copy(&o->series[o->n], b->l, b->n);
  o->v[o->n++] = v;
}

void alerting__out_fini(alerting__output *o)
{
  alerting__lsets_free(o->series, o->n);
  free(o->v);
  memset(o, 0, sizeof *o);
}

/* One sample per series at t (stale markers when stale). */
static int append_all(const alerting_env *env, const alerting__lset *s, const double *v, size_t n,
                      int64_t t, bool stale, lk_diag *d)
{
  if (!env->app.append || !n)
    return 0;
  lk_series *in = lk_xcalloc(n, sizeof *in);
  lk_sample *smp = lk_xcalloc(n, sizeof *smp);
  for (size_t i = 0; i < n; i++) {
    smp[i] = (lk_sample){t, stale ? stale_nan() : v[i]};
    in[i] = (lk_series){s[i].l, s[i].n, &smp[i], 1};
  }
  lk_diag ignored = {0};
  int rc = env->app.append(env->app.ctx, in, n, stale, stale ? &ignored : d);
  free(in);
  free(smp);
  return stale ? 0 : rc;
}

/* Sort o by label set, keeping each value with its series. */
static void sort_output(alerting__output *o)
{
  typedef struct pair {
    alerting__lset s;
    double v;
  } pair;
  if (o->n < 2)
    return;
  pair *p = lk_xcalloc(o->n, sizeof *p);
  for (size_t i = 0; i < o->n; i++)
    p[i] = (pair){o->series[i], o->v[i]};
  qsort(p, o->n, sizeof *p, alerting__lset_cmp); /* s is the first member */
  for (size_t i = 0; i < o->n; i++)
    o->series[i] = p[i].s, o->v[i] = p[i].v;
  free(p);
}

/* Append o at t, mark r's previous series that o lacks stale, and make o
 * the new previous set (o's series move into r). */
static int write_output(alerting__rule *r, alerting__output *o, const alerting_env *env, int64_t t,
                        lk_diag *d)
{
  sort_output(o);
  int rc = append_all(env, o->series, o->v, o->n, t, false, d);
  alerting__lset *gone = lk_xcalloc(r->nprev ? r->nprev : 1, sizeof *gone);
  size_t ngone = 0;
  for (size_t i = 0; i < r->nprev; i++)
    if (!o->n || !bsearch(&r->prev[i], o->series, o->n, sizeof *o->series, alerting__lset_cmp))
      gone[ngone++] = r->prev[i];
  append_all(env, gone, NULL, ngone, t, true, NULL);
  free(gone);
  alerting__lsets_free(r->prev, r->nprev);
  r->prev = o->series, r->nprev = o->n;
  free(o->v);
  memset(o, 0, sizeof *o);
  return rc;
}

/*---- Expression results ----*/

void alerting__vec_fini(alerting__vec *v)
{
  free(v->s);
  promql_result_free(v->pr);
  logstore_result_free(v->lr);
  memset(v, 0, sizeof *v);
}

int alerting__promql_vector(const alerting_env *env, const promql_expr *e, int64_t t,
                            alerting__vec *out, lk_diag *d)
{
  promql_opts dflt = {0};
  memset(out, 0, sizeof *out);
  int rc = promql_eval_instant(env->q, env->popts ? env->popts : &dflt, e, t, &out->pr, d);
  if (rc)
    return rc;
  promql_result *r = out->pr;
  if (r->type == PROMQL_SCALAR) {
    out->s = lk_xcalloc(1, sizeof *out->s);
    out->s[0] = (alerting_sample){NULL, 0, r->scalar};
    out->n = 1;
    return 0;
  }
  if (r->type != PROMQL_VECTOR)
    return lk_diag_set(d, LK_EEXEC, -1, "rule result is not a vector or scalar");
  out->s = lk_xcalloc(r->nseries ? r->nseries : 1, sizeof *out->s);
  for (size_t i = 0; i < r->nseries; i++)
    out->s[i] = (alerting_sample){r->series[i].labels, r->series[i].nlabels, r->series[i].v[0]};
  out->n = r->nseries;
  return 0;
}

/*---- Recording rules ----*/

static int eval_recording(alerting_group *g, alerting__rule *r, const alerting_env *env, int64_t t,
                          alerting__output *o, lk_diag *d)
{
  alerting__vec v;
  int rc = r->pexpr ? alerting__promql_vector(env, r->pexpr, t, &v, d)
                    : alerting__logql_vector(env, r, t, &v, d);
  alerting__lbuild b = {0};
  for (size_t i = 0; !rc && i < v.n; i++) {
    alerting__lb_reset(&b, v.s[i].labels, v.s[i].nlabels);
    alerting__lb_set(&b, "__name__", r->name);
    for (size_t k = 0; k < r->labels.n; k++)
      alerting__lb_set(&b, r->labels.l[k].name, r->labels.l[k].value);
    alerting__out_add(o, &b, v.s[i].value);
  }
  free(b.l);
  alerting__vec_fini(&v);
  if (rc)
    return rc;
  sort_output(o);
  for (size_t i = 1; i < o->n; i++)
    if (!alerting__lset_cmp(&o->series[i - 1], &o->series[i]))
      return lk_diag_set(d, LK_EEXEC, -1,
                         "vector contains metrics with the same labelset after applying rule labels");
  if (g->limit > 0 && (int64_t)o->n > g->limit)
    return lk_diag_set(d, LK_ELIMIT, -1, "exceeded limit of %lld with %zu series",
                       (long long)g->limit, o->n);
  return 0;
}

/*---- The group ----*/

static void set_result(alerting_group *g, alerting__rule *r, int rc, const lk_diag *d, int64_t now,
                       int64_t ns)
{
  alerting_group_lock(g);
  free(r->last_error);
  r->last_error = NULL;
  r->health = rc ? ALERTING_HEALTH_ERR : ALERTING_HEALTH_OK;
  if (rc)
    r->last_error = lk_xstrdup(d->set ? d->msg : lk_strerror(rc));
  r->last_eval = now;
  r->eval_ns = ns;
  alerting_group_unlock(g);
}

static void tell_and_send(alerting_group *g, const alerting_env *env, alerting__after *af, int64_t now)
{
  if (env->send && af->nsend)
    env->send(env->send_ctx, af->send, af->nsend, now);
  for (size_t i = 0; env->on_change && i < af->nchg; i++) {
    alerting_alert_info ai;
    alerting__alert_info(af->chg[i].a, &ai);
    env->on_change(env->change_ctx, g, af->chg[i].rule, &ai, af->chg[i].from, now);
  }
}

static void eval_rule(alerting_group *g, size_t i, const alerting_env *env, int64_t now,
                      alerting__after *af)
{
  alerting__rule *r = &g->rules[i];
  int64_t t = now - g->offset, start = lk_mono_ns();
  alerting__output o = {0};
  lk_diag d = {0};
  int rc = r->alerting ? alerting__eval_alerting(g, i, env, now, &o, af, &d)
                       : eval_recording(g, r, env, t, &o, &d);
  if (!rc)
    rc = write_output(r, &o, env, t, &d);
  alerting__out_fini(&o);
  set_result(g, r, rc, &d, now, lk_mono_ns() - start);
}

static void flush_group_stale(alerting_group *g, const alerting_env *env, int64_t t)
{
  append_all(env, g->stale, NULL, g->nstale, t, true, NULL);
  alerting__lsets_free(g->stale, g->nstale);
  g->stale = NULL;
  g->nstale = 0;
}

int alerting_group_eval(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  if (!g || !env || !env->q)
    return LK_EINVAL;
  int64_t start = lk_mono_ns();
  alerting__after af = {0};
  for (size_t i = 0; i < g->nrules; i++)
    eval_rule(g, i, env, now_ms, &af);
  tell_and_send(g, env, &af, now_ms);
  alerting__after_fini(&af);
  flush_group_stale(g, env, now_ms - g->offset);
  alerting_group_lock(g);
  g->last_eval = now_ms;
  g->eval_ns = lk_mono_ns() - start;
  g->evals++;
  bool restore = g->should_restore && g->evals == 2;
  alerting_group_unlock(g);
  if (restore)
    return alerting_group_restore(g, env, now_ms);
  return 0;
}

int alerting_group_mark_stale(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  for (size_t i = 0; i < g->nrules; i++) {
    alerting__rule *r = &g->rules[i];
    append_all(env, r->prev, NULL, r->nprev, now_ms - g->offset, true, NULL);
    alerting__lsets_free(r->prev, r->nprev);
    r->prev = NULL;
    r->nprev = 0;
  }
  flush_group_stale(g, env, now_ms - g->offset);
  return 0;
}

/*---- Restoring `for` state (RestoreForState) ----*/

/* The last sample of the ALERTS_FOR_STATE series of alert a, from the
 * series sel returned; false when none or stale. */
static bool last_for_state(const promql_queryable *q, void *set, const alerting__alert *a,
                           int64_t *t, double *v)
{
  for (size_t i = 0; i < q->count(set); i++) {
    const promql_series_in *s = q->get(set, i);
    alerting__lbuild b = {0};
    alerting__lb_reset(&b, s->labels, s->nlabels);
    alerting__lb_del(&b, "__name__");
    lk_labels_sort(b.l, b.n);
    bool same = lk_labels_equal(b.l, b.n, a->labels.l, a->labels.n);
    free(b.l);
    if (!same || !s->n)
      continue;
    *t = s->t[s->n - 1];
    *v = s->v[s->n - 1];
    uint64_t bits;
    memcpy(&bits, v, sizeof bits);
    return bits != TSDB_STALE_NAN_BITS;
  }
  return false;
}

/* Prometheus's arithmetic in whole seconds for the stored times. */
static int64_t restored_active_at(int64_t down_ms, double v, int64_t for_ms, int64_t grace,
                                  int64_t now)
{
  int64_t down = down_ms / 1000 * 1000, active = (int64_t)v * 1000;
  int64_t remaining = for_ms - (down - active);
  if (remaining <= 0)
    return active;
  if (remaining < grace)
    return now + grace - for_ms;
  return active + (now - down);
}

static void restore_rule(alerting_group *g, alerting__rule *r, const alerting_env *env, int64_t now,
                         int64_t tolerance, int64_t grace)
{
  tsdb_matcher *m = lk_xcalloc(r->labels.n + 2, sizeof *m);
  size_t nm = 0;
  for (size_t i = 0; i < r->labels.n; i++)
    if (strcmp(r->labels.l[i].name, "alertname"))
      m[nm++] = (tsdb_matcher){TSDB_EQ, r->labels.l[i].name, r->labels.l[i].value};
  m[nm++] = (tsdb_matcher){TSDB_EQ, "__name__", "ALERTS_FOR_STATE"};
  m[nm++] = (tsdb_matcher){TSDB_EQ, "alertname", r->name};
  void *set = NULL;
  if (!env->q->select(env->q->ctx, m, nm, now - tolerance, now, 0, 0, &set, NULL)) {
    alerting_group_lock(g);
    for (size_t i = 0; i < r->nalerts; i++) {
      int64_t t;
      double v;
      alerting__alert *a = r->alerts[i];
      if (last_for_state(env->q, set, a, &t, &v))
        a->active_at = restored_active_at(t, v, r->for_ms, grace, now);
    }
    alerting_group_unlock(g);
    env->q->release(set);
  }
  free(m);
}

int alerting_group_restore(alerting_group *g, const alerting_env *env, int64_t now_ms)
{
  if (!g || !env || !env->q)
    return LK_EINVAL;
  int64_t tolerance = env->for_outage_tolerance_ms > 0 ? env->for_outage_tolerance_ms
                                                       : DEFAULT_OUTAGE_TOLERANCE_MS;
  int64_t grace = env->for_grace_period_ms > 0 ? env->for_grace_period_ms : DEFAULT_GRACE_PERIOD_MS;
  for (size_t i = 0; i < g->nrules; i++) {
    alerting__rule *r = &g->rules[i];
    if (!r->alerting)
      continue;
    if (r->for_ms >= grace)
      restore_rule(g, r, env, now_ms, tolerance, grace);
    alerting_group_lock(g);
    r->restored = true;
    alerting_group_unlock(g);
  }
  alerting_group_lock(g);
  g->should_restore = false;
  alerting_group_unlock(g);
  return 0;
}
