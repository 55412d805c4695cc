/* rules_state.c — the rule engine's state seen from outside: readers for the
 * APIs (under the group lock), the carry-over of state across a reload
 * (Prometheus's Group.CopyState), the appenders over tsdb and the in-memory
 * store, and freeing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_int.h"
#include "lib/lk_alloc.h"

/*---- Owned label sets ----*/

void alerting__lset_copy(alerting__lset *dst, const lk_label *l, size_t n)
{
  dst->l = lk_xcalloc(n ? n : 1, sizeof *dst->l);
  dst->n = n;
  for (size_t i = 0; i < n; i++)
    dst->l[i] = (lk_label){lk_xstrdup(l[i].name), lk_xstrdup(l[i].value)};
  lk_labels_sort(dst->l, n);
}

void alerting__lset_fini(alerting__lset *s)
{
  for (size_t i = 0; i < s->n; i++) {
    free((char *)s->l[i].name);
    free((char *)s->l[i].value);
  }
  free(s->l);
  s->l = NULL;
  s->n = 0;
}

void alerting__lsets_free(alerting__lset *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    alerting__lset_fini(&s[i]);
  free(s);
}

void alerting__alert_free(alerting__alert *a)
{
  if (!a)
    return;
  alerting__lset_fini(&a->labels);
  alerting__lset_fini(&a->annotations);
  free(a);
}

static void templates_free(alerting_template **t, size_t n)
{
  for (size_t i = 0; t && i < n; i++)
    alerting_template_free(t[i]);
  free(t);
}

void alerting__rule_fini(alerting__rule *r)
{
  free(r->name);
  free(r->expr);
  promql_expr_free(r->pexpr);
  free(r->log_query);
  free(r->log_metric);
  templates_free(r->label_t, r->labels.n);
  templates_free(r->ann_t, r->ann.n);
  alerting__lset_fini(&r->labels);
  alerting__lset_fini(&r->ann);
  free(r->last_error);
  for (size_t i = 0; i < r->nalerts; i++)
    alerting__alert_free(r->alerts[i]);
  free(r->alerts);
  alerting__lsets_free(r->prev, r->nprev);
}

void alerting__group_free(alerting_group *g)
{
  if (!g)
    return;
  for (size_t i = 0; i < g->nrules; i++)
    alerting__rule_fini(&g->rules[i]);
  free(g->rules);
  free(g->name);
  free(g->file);
  alerting__lset_fini(&g->labels);
  alerting__lsets_free(g->stale, g->nstale);
  pthread_mutex_destroy(&g->mu);
  free(g);
}

/*---- Readers ----*/

void alerting_group_lock(alerting_group *g) { pthread_mutex_lock(&g->mu); }
void alerting_group_unlock(alerting_group *g) { pthread_mutex_unlock(&g->mu); }

const char *alerting_state_name(enum alerting_state s)
{
  static const char *const names[] = {"unknown", "inactive", "pending", "firing"};
  return (unsigned)s < 4 ? names[s] : "unknown";
}

const char *alerting_health_name(enum alerting_health h)
{
  static const char *const names[] = {"unknown", "ok", "err"};
  return (unsigned)h < 3 ? names[h] : "unknown";
}

void alerting_group_get(const alerting_group *g, alerting_group_info *out)
{
  *out = (alerting_group_info){
      .name = g->name, .file = g->file, .logql = g->logql, .interval_ms = g->interval,
      .query_offset_ms = g->offset, .limit = g->limit, .labels = g->labels.l,
      .nlabels = g->labels.n, .nrules = g->nrules, .last_eval_ms = g->last_eval,
      .eval_duration_ns = g->eval_ns,
  };
}

static enum alerting_state rule_state(const alerting__rule *r)
{
  if (!r->last_eval && r->health == ALERTING_HEALTH_UNKNOWN)
    return ALERTING_UNKNOWN;
  enum alerting_state s = ALERTING_INACTIVE;
  for (size_t i = 0; i < r->nalerts; i++)
    if (r->alerts[i]->state > s)
      s = r->alerts[i]->state;
  return s;
}

void alerting_group_rule(const alerting_group *g, size_t i, alerting_rule_info *out)
{
  const alerting__rule *r = &g->rules[i];
  *out = (alerting_rule_info){
      .alerting = r->alerting, .name = r->name, .expr = r->expr, .line = r->line,
      .for_ms = r->for_ms, .keep_firing_for_ms = r->keep_ms, .labels = r->labels.l,
      .nlabels = r->labels.n, .annotations = r->ann.l, .nannotations = r->ann.n,
      .health = r->health, .last_error = r->last_error ? r->last_error : "",
      .last_eval_ms = r->last_eval, .eval_duration_ns = r->eval_ns,
      .state = r->alerting ? rule_state(r) : ALERTING_UNKNOWN, .nalerts = r->nalerts,
  };
}

void alerting__alert_info(const alerting__alert *a, alerting_alert_info *out)
{
  *out = (alerting_alert_info){
      .labels = a->labels.l, .nlabels = a->labels.n, .annotations = a->annotations.l,
      .nannotations = a->annotations.n, .state = a->state, .value = a->value,
      .active_at_ms = a->active_at, .fired_at_ms = a->fired_at, .resolved_at_ms = a->resolved_at,
      .keep_firing_since_ms = a->keep_firing_since, .last_sent_ms = a->last_sent,
      .valid_until_ms = a->valid_until,
  };
}

void alerting_rule_alert(const alerting_group *g, size_t i, size_t j, alerting_alert_info *out)
{
  alerting__alert_info(g->rules[i].alerts[j], out);
}

/*---- Reload ----*/

static bool same_rule(const alerting__rule *a, const alerting__rule *b)
{
  return a->alerting == b->alerting && !strcmp(a->name, b->name) &&
         lk_labels_equal(a->labels.l, a->labels.n, b->labels.l, b->labels.n);
}

static alerting_group *find_group(alerting_rules *rs, const alerting_group *g)
{
  for (size_t i = 0; i < rs->n; i++)
    if (!strcmp(rs->groups[i]->name, g->name) && !strcmp(rs->groups[i]->file, g->file))
      return rs->groups[i];
  return NULL;
}

static void add_stale(alerting_group *g, alerting__lset *s, size_t n)
{
  if (!n)
    return;
  g->stale = lk_xrealloc(g->stale, (g->nstale + n) * sizeof *g->stale);
  memcpy(g->stale + g->nstale, s, n * sizeof *s);
  g->nstale += n;
}

/* Move the state of from's rules into g's (from is left without it). */
static void move_group_state(alerting_group *g, alerting_group *from)
{
  g->last_eval = from->last_eval;
  g->eval_ns = from->eval_ns;
  g->evals = from->evals;
  bool *taken = lk_xcalloc(from->nrules ? from->nrules : 1, 1);
  for (size_t i = 0; i < g->nrules; i++) {
    alerting__rule *r = &g->rules[i];
    for (size_t f = 0; f < from->nrules; f++) {
      alerting__rule *o = &from->rules[f];
      if (taken[f] || !same_rule(r, o))
        continue;
      taken[f] = true;
      r->prev = o->prev, r->nprev = o->nprev, o->prev = NULL, o->nprev = 0;
      r->alerts = o->alerts, r->nalerts = o->nalerts, r->cap = o->cap;
      o->alerts = NULL, o->nalerts = o->cap = 0;
      r->restored = o->restored;
      break;
    }
  }
  for (size_t f = 0; f < from->nrules; f++)
    if (!taken[f]) {
      add_stale(g, from->rules[f].prev, from->rules[f].nprev);
      free(from->rules[f].prev);
      from->rules[f].prev = NULL, from->rules[f].nprev = 0;
    }
  add_stale(g, from->stale, from->nstale);
  free(from->stale);
  from->stale = NULL, from->nstale = 0;
  free(taken);
}

/* A group new in a reload restores nothing (Prometheus's default); one
 * that was still waiting for its restore keeps waiting. */
void alerting_rules_carry_state(alerting_rules *next, alerting_rules *prev)
{
  for (size_t i = 0; i < next->n; i++) {
    alerting_group *g = next->groups[i];
    alerting_group *from = find_group(prev, g);
    if (from)
      alerting_group_lock(from);
    g->should_restore = from && from->should_restore;
    for (size_t r = 0; r < g->nrules; r++)
      g->rules[r].restored = !g->should_restore;
    if (from) {
      move_group_state(g, from);
      alerting_group_unlock(from);
    }
  }
}

/*---- Appenders ----*/

static int tsdb_app(void *ctx, const lk_series *s, size_t n, bool stale, lk_diag *d)
{
  tsdb_append_stats st = {0};
  lk_diag ignored = {0};
  int rc = tsdb_append(ctx, s, n, &st, stale ? &ignored : d);
  if (rc || stale)
    return stale ? 0 : rc;
  uint64_t bad = tsdb_rejected_sum(&st);
  if (bad)
    return lk_diag_set(d, LK_EOOO, -1, "%llu sample(s) refused by storage (out of order or too old)",
                       (unsigned long long)bad);
  return 0;
}

alerting_appender alerting_appender_tsdb(tsdb *db) { return (alerting_appender){db, tsdb_app}; }

static int mem_app(void *ctx, const lk_series *s, size_t n, bool stale, lk_diag *d)
{
  for (size_t i = 0; i < n; i++) {
    int rc = promql_mem_add(ctx, s[i].labels, s[i].nlabels, s[i].samples, s[i].nsamples, d);
    if (rc && !stale)
      return rc;
  }
  return 0;
}

alerting_appender alerting_appender_mem(promql_mem *m) { return (alerting_appender){m, mem_app}; }
