/* rules_alert.c — one alerting rule's evaluation, as Prometheus's
 * AlertingRule.Eval and sendAlerts: each result sample becomes an alert
 * instance (labels templated, alertname set, annotations templated; a log
 * rule also gets its matching log lines), new instances start pending,
 * pending fire after `for`, firing ones missing from the result stay firing
 * for keep_firing_for then resolve, pending ones missing are dropped,
 * resolved ones are kept 15 minutes; ALERTS and ALERTS_FOR_STATE are
 * written for pending/firing instances, and instances that need sending
 * (never pending; resolved since last sent, or last sent a resend delay
 * ago) are queued for the sender. What is sent carries one annotation
 * Prometheus does not add: graph_image_url, Lookout's PNG of the rule's
 * expression (GET /api/v1/render) over the hour before the evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_int.h"
#include "lib/lk_alloc.h"

#define DEFAULT_RESEND_MS 60000
#define GRAPH_IMAGE_ANNOTATION "graph_image_url"
#define RENDER_WINDOW_S 3600
#define RENDER_STEP_S 60

/*---- Templates ----*/

/* The template's `query` runs PromQL at the evaluation time; results stay
 * alive until the rule's evaluation ends. */
typedef struct qctx {
  const alerting_env *env;
  int64_t t;
  alerting__vec *keep;
  size_t nkeep, cap;
} qctx;

static int template_query(void *ctx, const char *expr, alerting_sample **res, size_t *n, lk_diag *d)
{
  qctx *q = ctx;
  promql_expr *e = NULL;
  int rc = promql_parse(expr, &e, d);
  alerting__vec v = {0};
  if (!rc)
    rc = alerting__promql_vector(q->env, e, q->t, &v, d);
  promql_expr_free(e);
  if (rc) {
    alerting__vec_fini(&v);
    return rc;
  }
  *res = lk_xcalloc(v.n ? v.n : 1, sizeof **res);
  memcpy(*res, v.s, v.n * sizeof **res);
  *n = v.n;
  q->keep = lk_xgrow(q->keep, &q->cap, q->nkeep + 1, sizeof *q->keep);
  q->keep[q->nkeep++] = v;
  return 0;
}

static void qctx_fini(qctx *q)
{
  for (size_t i = 0; i < q->nkeep; i++)
    alerting__vec_fini(&q->keep[i]);
  free(q->keep);
}

/* Expand t into an arena string; an execution error becomes the text. */
static const char *expand(const alerting_template *t, const alerting_template_data *data, lk_arena *a)
{
  lk_buf out = {0};
  lk_diag d = {0};
  if (alerting_template_exec(t, data, &out, &d)) {
    lk_buf_clear(&out);
    lk_buf_printf(&out, "<error expanding template: %s>", d.set ? d.msg : "failed");
  }
  const char *s = lk_arena_strndup(a, out.data ? (const char *)out.data : "", out.len);
  lk_buf_fini(&out);
  return s;
}

/*---- Building instances from the result ----*/

static int alert_cmp(const void *x, const void *y)
{
  const alerting__alert *const *a = x, *const *b = y;
  return alerting__lset_cmp(&(*a)->labels, &(*b)->labels);
}

static bool needs_sending(const alerting__alert *a, int64_t now, int64_t resend)
{
  if (a->state == ALERTING_PENDING)
    return false;
  if (!a->sent || a->resolved_at > a->last_sent)
    return true;
  return a->last_sent + resend < now;
}

static alerting__alert *find_alert(const alerting__rule *r, const alerting__lset *labels)
{
  for (size_t lo = 0, hi = r->nalerts; lo < hi;) {
    size_t mid = (lo + hi) / 2;
    int c = alerting__lset_cmp(&r->alerts[mid]->labels, labels);
    if (!c)
      return r->alerts[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* The log_lines annotation of a log rule's instance: fresh when the alert
 * is new, not firing or about to be sent; otherwise the one it had. */
static void add_log_lines(const alerting_group *g, const alerting__rule *r, const alerting_env *env,
                          const alerting_sample *s, const alerting__lset *labels, int64_t now,
                          alerting__lbuild *ann, lk_arena *a)
{
  int max = env->max_log_lines ? env->max_log_lines : ALERTING__DEFAULT_LOG_LINES;
  if (!g->logql || !r->log_query || max < 0 || !env->logs)
    return;
  const alerting__alert *old = find_alert(r, labels);
  int64_t resend = env->resend_delay_ms > 0 ? env->resend_delay_ms : DEFAULT_RESEND_MS;
  if (old && old->state == ALERTING_FIRING && !needs_sending(old, now, resend)) {
    const char *keep = lk_labels_get(old->annotations.l, old->annotations.n, "log_lines");
    if (keep)
      alerting__lb_set(ann, "log_lines", lk_arena_strndup(a, keep, strlen(keep)));
    return;
  }
  alerting__lbuild m = {0};
  alerting__lb_reset(&m, s->labels, s->nlabels);
  alerting__lb_del(&m, "__name__");
  lk_buf lines = {0};
  if (!alerting__log_lines(env->logs, r->log_query, r->log_range_ms, m.l, m.n, now - g->offset, max,
                           &lines, NULL) &&
      lines.len)
    alerting__lb_set(ann, "log_lines", lk_arena_strndup(a, (const char *)lines.data, lines.len));
  lk_buf_fini(&lines);
  free(m.l);
}

/* One instance per sample, sorted by labels; a repeated label set is the
 * rule's error. */
static int build_instances(const alerting_group *g, const alerting__rule *r, const alerting_env *env,
                           const alerting__vec *v, int64_t now, qctx *q, alerting__alert ***out,
                           lk_diag *d)
{
  lk_arena *a = lk_arena_new(4096);
  alerting__alert **na = lk_xcalloc(v->n ? v->n : 1, sizeof *na);
  alerting__lbuild lb = {0}, ab = {0};
  for (size_t i = 0; i < v->n; i++) {
    const alerting_sample *s = &v->s[i];
    alerting_template_data data = {
        s->labels, s->nlabels, s->value, env->external_url ? env->external_url : "",
        env->external_labels, env->nexternal_labels, template_query, q};
    alerting__lb_reset(&lb, s->labels, s->nlabels);
    alerting__lb_del(&lb, "__name__");
    for (size_t k = 0; k < r->labels.n; k++)
      alerting__lb_set(&lb, r->labels.l[k].name, expand(r->label_t[k], &data, a));
    alerting__lb_set(&lb, "alertname", r->name);
    ab.n = 0;
    for (size_t k = 0; k < r->ann.n; k++)
      alerting__lb_set(&ab, r->ann.l[k].name, expand(r->ann_t[k], &data, a));
    na[i] = lk_xcalloc(1, sizeof *na[i]);
    alerting__lset_copy(&na[i]->labels, lb.l, lb.n);
    add_log_lines(g, r, env, s, &na[i]->labels, now, &ab, a);
    alerting__lset_copy(&na[i]->annotations, ab.l, ab.n);
    na[i]->state = ALERTING_PENDING;
    na[i]->value = s->value;
    na[i]->active_at = now;
  }
  free(lb.l);
  free(ab.l);
  lk_arena_free(a);
  qsort(na, v->n, sizeof *na, alert_cmp);
  for (size_t i = 1; i < v->n; i++)
    if (!alert_cmp(&na[i - 1], &na[i])) {
      for (size_t k = 0; k < v->n; k++)
        alerting__alert_free(na[k]);
      free(na);
      return lk_diag_set(d, LK_EEXEC, -1,
                         "vector contains metrics with the same labelset after applying alert labels");
    }
  *out = na;
  return 0;
}

/*---- The state machine ----*/

static void after_change(alerting__after *af, size_t rule, alerting__alert *a, enum alerting_state from)
{
  af->chg = lk_xgrow(af->chg, &af->chg_cap, af->nchg + 1, sizeof *af->chg);
  af->chg[af->nchg++] = (struct alerting__change){rule, a, from};
}

static void after_dead(alerting__after *af, alerting__alert *a)
{
  af->dead = lk_xgrow(af->dead, &af->dead_cap, af->ndead + 1, sizeof *af->dead);
  af->dead[af->ndead++] = a;
}

void alerting__after_fini(alerting__after *af)
{
  for (size_t i = 0; i < af->ndead; i++)
    alerting__alert_free(af->dead[i]);
  for (size_t i = 0; i < af->nurls; i++)
    free(af->urls[i]);
  alerting__lsets_free(af->lsend, af->nsend);
  alerting__lsets_free(af->asend, af->nsend);
  free(af->send);
  free(af->chg);
  free(af->dead);
  free(af->urls);
  memset(af, 0, sizeof *af);
}

/* Merge the sorted new instances into r->alerts (sorted): an existing
 * active instance only takes the new value and annotations; a resolved one
 * is replaced. in[i] says whether the merged alert i is in the result. */
static void merge(alerting__rule *r, alerting__alert **na, size_t nn, bool **in,
                  enum alerting_state **from, alerting__after *af)
{
  size_t cap = r->nalerts + nn, n = 0;
  alerting__alert **m = lk_xcalloc(cap ? cap : 1, sizeof *m);
  *in = lk_xcalloc(cap ? cap : 1, sizeof **in);
  *from = lk_xcalloc(cap ? cap : 1, sizeof **from);
  size_t i = 0, j = 0;
  while (i < r->nalerts || j < nn) {
    int c = i == r->nalerts ? 1 : j == nn ? -1 : alert_cmp(&r->alerts[i], &na[j]);
    if (c < 0) {
      (*from)[n] = r->alerts[i]->state;
      m[n++] = r->alerts[i++];
      continue;
    }
    alerting__alert *o = c == 0 ? r->alerts[i++] : NULL, *a = na[j++];
    (*in)[n] = true;
    if (o && o->state != ALERTING_INACTIVE) {
      o->value = a->value;
      alerting__lset tmp = o->annotations;
      o->annotations = a->annotations;
      a->annotations = tmp;
      alerting__alert_free(a);
      (*from)[n] = o->state;
      m[n++] = o;
      continue;
    }
    if (o)
      after_dead(af, o);
    (*from)[n] = ALERTING_INACTIVE;
    m[n++] = a;
  }
  free(r->alerts);
  r->alerts = m;
  r->nalerts = n;
  r->cap = cap;
}

/* An instance not in the result: keep firing, resolve, or drop. Returns
 * whether it stays active (pending/firing). */
static bool missing(const alerting__rule *r, alerting__alert *a, int64_t now, bool *drop)
{
  bool keep = false;
  if (a->state == ALERTING_FIRING && r->keep_ms > 0) {
    if (!a->keep_firing_since)
      a->keep_firing_since = now;
    keep = now - a->keep_firing_since < r->keep_ms;
  }
  *drop = a->state == ALERTING_PENDING ||
          (a->resolved_at && now - a->resolved_at > ALERTING__RESOLVED_RETENTION_MS);
  if (a->state != ALERTING_INACTIVE && !keep) {
    a->state = ALERTING_INACTIVE;
    a->resolved_at = now;
  }
  return keep;
}

static void advance(const alerting__rule *r, alerting__alert *a, int64_t now)
{
  if (a->state == ALERTING_PENDING && now - a->active_at >= r->for_ms) {
    a->state = ALERTING_FIRING;
    a->fired_at = now;
  }
  if (a->state == ALERTING_FIRING && now - a->active_at < r->for_ms) { /* `for` raised by a reload */
    a->state = ALERTING_PENDING;
    a->fired_at = 0;
    a->sent = false;
    a->last_sent = 0;
    a->keep_firing_since = 0;
  }
}

/* Go's Time.Unix(): whole seconds, rounded down. */
static int64_t unix_seconds(int64_t ms)
{
  return ms >= 0 ? ms / 1000 : -((999 - ms) / 1000);
}

static void add_series(const alerting__rule *r, const alerting__alert *a, alerting__output *o)
{
  alerting__lbuild b = {0};
  alerting__lb_reset(&b, r->labels.l, r->labels.n);
  for (size_t i = 0; i < a->labels.n; i++)
    alerting__lb_set(&b, a->labels.l[i].name, a->labels.l[i].value);
  alerting__lb_set(&b, "__name__", "ALERTS_FOR_STATE");
  alerting__lb_set(&b, "alertname", r->name);
  alerting__out_add(o, &b, (double)unix_seconds(a->active_at));
  alerting__lb_set(&b, "__name__", "ALERTS");
  alerting__lb_set(&b, "alertstate", alerting_state_name(a->state));
  alerting__out_add(o, &b, 1);
  free(b.l);
}

/* Run the transitions over the merged instances; returns how many are
 * pending or firing. */
static size_t transitions(alerting__rule *r, size_t ri, const bool *in,
                          const enum alerting_state *from, int64_t now, alerting__output *o,
                          alerting__after *af)
{
  size_t active = 0, n = 0;
  for (size_t i = 0; i < r->nalerts; i++) {
    alerting__alert *a = r->alerts[i];
    bool drop = false;
    if (!in[i] && !missing(r, a, now, &drop)) {
      if (a->state != from[i])
        after_change(af, ri, a, from[i]);
      if (drop)
        after_dead(af, a);
      else
        r->alerts[n++] = a;
      continue;
    }
    if (in[i])
      a->keep_firing_since = 0;
    active++;
    advance(r, a, now);
    if (r->restored)
      add_series(r, a, o);
    if (a->state != from[i])
      after_change(af, ri, a, from[i]);
    r->alerts[n++] = a;
  }
  r->nalerts = n;
  return active;
}

/*---- Sending ----*/

/* Prometheus's strutil.TableLinkForExpression after the external URL. */
/* Append s as a URL query value (Go's url.QueryEscape). */
static void query_escape(lk_buf *b, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-_.~", *p))
      lk_buf_putc(b, *p);
    else if (*p == ' ')
      lk_buf_putc(b, '+');
    else
      lk_buf_printf(b, "%%%02X", *p);
  }
}

static char *generator_url(const char *base, const char *expr)
{
  lk_buf b = {0};
  lk_buf_printf(&b, "%s/graph?g0.expr=", base ? base : "");
  query_escape(&b, expr);
  lk_buf_puts(&b, "&g0.tab=1");
  return (char *)lk_buf_take(&b, NULL);
}

/* The graph_image_url annotation: Lookout's PNG of the rule's expression
 * (GET /api/v1/render) over the RENDER_WINDOW_S before the evaluation, so
 * a notification shows the graph as it stood when it was sent. */
static char *render_url(const char *base, const char *expr, const char *alertname, int64_t now_ms)
{
  int64_t end = now_ms / 1000;
  lk_buf b = {0};
  lk_buf_printf(&b, "%s/api/v1/render?query=", base ? base : "");
  query_escape(&b, expr);
  lk_buf_printf(&b, "&start=%lld&end=%lld&step=%d&title=", (long long)(end - RENDER_WINDOW_S), (long long)end,
                RENDER_STEP_S);
  query_escape(&b, alertname);
  return (char *)lk_buf_take(&b, NULL);
}

/* What is sent for a: its annotations with graph_image_url added, unless
 * the rule wrote one itself. */
static void send_annotations(const alerting__alert *a, const char *image_url, alerting__lset *out)
{
  alerting__lbuild b = {0};
  alerting__lb_reset(&b, a->annotations.l, a->annotations.n);
  if (!lk_labels_get(a->annotations.l, a->annotations.n, GRAPH_IMAGE_ANNOTATION))
    alerting__lb_set(&b, GRAPH_IMAGE_ANNOTATION, image_url);
  alerting__lset_copy(out, b.l, b.n);
  free(b.l);
}

/* Alert labels with the external labels under them (alert labels win). */
static void send_labels(const alerting__alert *a, const alerting_env *env, alerting__lset *out)
{
  alerting__lbuild b = {0};
  for (size_t i = 0; i < env->nexternal_labels; i++)
    alerting__lb_set(&b, env->external_labels[i].name, env->external_labels[i].value);
  for (size_t i = 0; i < a->labels.n; i++)
    alerting__lb_set(&b, a->labels.l[i].name, a->labels.l[i].value);
  alerting__lset_copy(out, b.l, b.n);
  free(b.l);
}

static void queue_sends(const alerting_group *g, alerting__rule *r, const alerting_env *env,
                        int64_t now, alerting__after *af)
{
  int64_t resend = env->resend_delay_ms > 0 ? env->resend_delay_ms : DEFAULT_RESEND_MS;
  int64_t delta = g->interval > resend ? g->interval : resend;
  const char *url = NULL, *image = NULL;
  for (size_t i = 0; i < r->nalerts; i++) {
    alerting__alert *a = r->alerts[i];
    if (!needs_sending(a, now, resend))
      continue;
    a->sent = true;
    a->last_sent = now;
    a->valid_until = now + 4 * delta;
    if (!url) {
      af->urls = lk_xgrow(af->urls, &af->url_cap, af->nurls + 2, sizeof *af->urls);
      url = af->urls[af->nurls++] = generator_url(env->external_url, r->expr);
      image = af->urls[af->nurls++] = render_url(env->external_url, r->expr, r->name, now);
    }
    size_t cap = af->send_cap, acap = af->send_cap;
    af->send = lk_xgrow(af->send, &af->send_cap, af->nsend + 1, sizeof *af->send);
    af->lsend = lk_xgrow(af->lsend, &cap, af->nsend + 1, sizeof *af->lsend);
    af->asend = lk_xgrow(af->asend, &acap, af->nsend + 1, sizeof *af->asend);
    alerting__lset *ls = &af->lsend[af->nsend], *as = &af->asend[af->nsend];
    send_labels(a, env, ls);
    send_annotations(a, image, as);
    af->send[af->nsend++] = (alerting_alert){
        ls->l, ls->n, as->l, as->n, a->fired_at,
        a->resolved_at ? a->resolved_at : a->valid_until, url};
  }
}

/*---- One rule ----*/

static int exceeded(alerting__rule *r, size_t ri, size_t active, int64_t limit,
                    alerting__output *o, alerting__after *af, lk_diag *d)
{
  for (size_t i = 0; i < r->nalerts; i++) {
    alerting__alert *a = r->alerts[i];
    if (a->state != ALERTING_INACTIVE) {
      enum alerting_state was = a->state;
      a->state = ALERTING_INACTIVE;
      after_change(af, ri, a, was);
    }
    after_dead(af, a);
  }
  r->nalerts = 0;
  alerting__out_fini(o);
  return lk_diag_set(d, LK_ELIMIT, -1, "exceeded limit of %lld with %zu alerts", (long long)limit,
                     active);
}

int alerting__eval_alerting(alerting_group *g, size_t ri, const alerting_env *env, int64_t now,
                            alerting__output *o, alerting__after *af, lk_diag *d)
{
  alerting__rule *r = &g->rules[ri];
  int64_t t = now - g->offset;
  alerting__vec v = {0};
  qctx q = {env, now, NULL, 0, 0};
  int rc = r->pexpr ? alerting__promql_vector(env, r->pexpr, t, &v, d)
                    : alerting__logql_vector(env, r, t, &v, d);
  alerting__alert **na = NULL;
  if (!rc)
    rc = build_instances(g, r, env, &v, now, &q, &na, d);
  size_t nn = v.n;
  alerting__vec_fini(&v);
  qctx_fini(&q);
  if (rc)
    return rc;
  bool *in;
  enum alerting_state *from;
  alerting_group_lock(g);
  merge(r, na, nn, &in, &from, af);
  size_t active = transitions(r, ri, in, from, now, o, af);
  if (g->limit > 0 && (int64_t)active > g->limit)
    rc = exceeded(r, ri, active, g->limit, o, af, d);
  else
    queue_sends(g, r, env, now, af);
  alerting_group_unlock(g);
  free(na);
  free(in);
  free(from);
  return rc;
}
