/* rules_fx.h — fixtures for the rules-engine tests: a temporary directory
 * with a rule file written into it, the loaded rule set, an environment over
 * an in-memory store (or any queryable), and a sink that records what the
 * engine sends and which state changes it reports. Header-only (static) so
 * each test executable stands alone. Use with cmocka. */
#ifndef TESTS_RULES_FX_H
#define TESTS_RULES_FX_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alerting.h"

#define FX_MAX 256

/* One alert as sent, copied. */
typedef struct fx_sent {
  char labels[512];       /* {a="b", …} as lk_labels_format prints it */
  char annotations[1024];
  int64_t starts_at, ends_at, at;
  char url[256];
} fx_sent;

typedef struct fx_change {
  char labels[512];
  enum alerting_state from, to;
  int64_t at;
} fx_change;

typedef struct fx {
  char dir[64];
  alerting_rules *rules;
  promql_mem *mem;
  promql_queryable q;
  alerting_env env;
  fx_sent sent[FX_MAX];
  size_t nsent;
  fx_change chg[FX_MAX];
  size_t nchg;
} fx;

static inline void fx_fmt(char *dst, size_t cap, const lk_label *l, size_t n)
{
  lk_buf b = {0};
  lk_labels_format(&b, l, n);
  snprintf(dst, cap, "%s", b.data ? (const char *)b.data : "");
  lk_buf_fini(&b);
}

static inline void fx_on_send(void *ctx, const alerting_alert *a, size_t n, int64_t now)
{
  fx *f = ctx;
  for (size_t i = 0; i < n && f->nsent < FX_MAX; i++) {
    fx_sent *s = &f->sent[f->nsent++];
    fx_fmt(s->labels, sizeof s->labels, a[i].labels, a[i].nlabels);
    fx_fmt(s->annotations, sizeof s->annotations, a[i].annotations, a[i].nannotations);
    s->starts_at = a[i].starts_at_ms;
    s->ends_at = a[i].ends_at_ms;
    s->at = now;
    snprintf(s->url, sizeof s->url, "%s", a[i].generator_url);
  }
}

static inline void fx_on_change(void *ctx, const alerting_group *g, size_t rule,
                                const alerting_alert_info *a, enum alerting_state from, int64_t now)
{
  (void)g, (void)rule;
  fx *f = ctx;
  if (f->nchg == FX_MAX)
    return;
  fx_change *c = &f->chg[f->nchg++];
  fx_fmt(c->labels, sizeof c->labels, a->labels, a->nlabels);
  c->from = from;
  c->to = a->state;
  c->at = now;
}

static inline void fx_write(const char *dir, const char *name, const char *text, char *path,
                            size_t cap)
{
  snprintf(path, cap, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    abort();
  fputs(text, f);
  fclose(f);
}

/* A rule set loaded from text (written as rules.yaml in a fresh dir), an
 * in-memory store, and an env reading and writing it. */
static inline fx *fx_new(const char *rules_yaml, const alerting_load_opts *o)
{
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/lookout-rules-XXXXXX");
  if (!mkdtemp(f->dir))
    abort();
  char path[256];
  fx_write(f->dir, "rules.yaml", rules_yaml, path, sizeof path);
  const char *files[] = {path};
  lk_diag d = {0};
  if (alerting_rules_load(files, 1, o, &f->rules, &d)) {
    fprintf(stderr, "load: %s\n", d.msg);
    abort();
  }
  f->mem = promql_mem_new();
  f->q = promql_mem_queryable(f->mem);
  f->env = (alerting_env){.q = &f->q, .app = alerting_appender_mem(f->mem), .send = fx_on_send,
                          .send_ctx = f, .on_change = fx_on_change, .change_ctx = f};
  return f;
}

static inline int fx_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static inline void fx_free(fx *f)
{
  alerting_rules_free(f->rules);
  promql_mem_free(f->mem);
  nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
}

/* Add samples v[i] at i * step ms (NaN skipped) to the series labels. */
static inline void fx_series(fx *f, const lk_label *l, size_t nl, const double *v, size_t n,
                             int64_t step)
{
  lk_sample s[512];
  size_t ns = 0;
  for (size_t i = 0; i < n && ns < 512; i++)
    if (v[i] == v[i])
      s[ns++] = (lk_sample){(int64_t)i * step, v[i]};
  lk_diag d = {0};
  if (promql_mem_add(f->mem, l, nl, s, ns, &d))
    abort();
}

static inline alerting_group *fx_group(fx *f, size_t i) { return alerting_rules_group(f->rules, i); }

/* Instant query on f's store: the number of series, the first one's value
 * in *v and its labels formatted in lbl (may be NULL). */
static inline size_t fx_query(const promql_queryable *q, const char *expr, int64_t t, double *v,
                              char *lbl, size_t cap)
{
  promql_expr *e = NULL;
  promql_result *r = NULL;
  lk_diag d = {0};
  promql_opts o = {0};
  if (promql_parse(expr, &e, &d) || promql_eval_instant(q, &o, e, t, &r, &d)) {
    fprintf(stderr, "query %s: %s\n", expr, d.msg);
    abort();
  }
  size_t n = r->type == PROMQL_VECTOR ? r->nseries : 0;
  if (n && v)
    *v = r->series[0].v[0];
  if (n && lbl)
    fx_fmt(lbl, cap, r->series[0].labels, r->series[0].nlabels);
  promql_result_free(r);
  promql_expr_free(e);
  return n;
}

/* State of alert j of rule i of group g (read under the lock). */
static inline alerting_alert_info fx_alert(alerting_group *g, size_t i, size_t j)
{
  alerting_alert_info ai;
  alerting_group_lock(g);
  alerting_rule_alert(g, i, j, &ai);
  alerting_group_unlock(g);
  return ai;
}

static inline alerting_rule_info fx_rule(alerting_group *g, size_t i)
{
  alerting_rule_info ri;
  alerting_group_lock(g);
  alerting_group_rule(g, i, &ri);
  alerting_group_unlock(g);
  return ri;
}

#define MIN (60 * 1000)

#endif
