/* unittest_check.c — the two kinds of rule unit-test checks and their
 * promtool-shaped failure messages: alert_rule_test (firing alerts of the
 * named rules at an eval_time against exp_alerts, labels and annotations)
 * and promql_expr_test (an instant query against exp_samples). Values and
 * label sets print as promtool 2.x prints them (Go's %q, 'E' floats). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/unittest_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_json.h"

/*---- Go-style printing ----*/

void alerting__ut_duration(lk_buf *b, int64_t ms)
{
  static const struct {
    const char *unit;
    int64_t mult;
    bool exact;
  } units[] = {{"y", 365LL * 86400000, true}, {"w", 7LL * 86400000, true}, {"d", 86400000, false},
               {"h", 3600000, false},         {"m", 60000, false},          {"s", 1000, false},
               {"ms", 1, false}};
  if (ms == 0) {
    lk_buf_puts(b, "0s");
    return;
  }
  if (ms < 0) {
    lk_buf_putc(b, '-');
    ms = -ms;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (units[i].exact && ms % units[i].mult)
      continue;
    if (ms / units[i].mult > 0) {
      lk_buf_printf(b, "%lld%s", (long long)(ms / units[i].mult), units[i].unit);
      ms %= units[i].mult;
    }
  }
}

/* Go's strconv.Quote for the characters rule files hold. */
static void go_quote(lk_buf *b, const char *s)
{
  lk_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      lk_buf_printf(b, "\\%c", *p);
    else if (*p == '\n')
      lk_buf_puts(b, "\\n");
    else if (*p == '\t')
      lk_buf_puts(b, "\\t");
    else if (*p == '\r')
      lk_buf_puts(b, "\\r");
    else if (*p < 0x20 || *p == 0x7f)
      lk_buf_printf(b, "\\x%02x", *p);
    else
      lk_buf_putc(b, *p);
  }
  lk_buf_putc(b, '"');
}

/* Go's labels.Labels.String(): {a="1", b="2"}. */
static void go_labels(lk_buf *b, const lk_label *l, size_t n)
{
  lk_buf_putc(b, '{');
  for (size_t i = 0; i < n; i++) {
    lk_buf_printf(b, "%s%s=", i ? ", " : "", l[i].name);
    go_quote(b, l[i].value);
  }
  lk_buf_putc(b, '}');
}

/* strconv.FormatFloat(v, 'E', -1, 64): Go's shortest 'e' form, upper case. */
static void go_float_e(lk_buf *b, double v)
{
  char num[LK_FMT_FLOAT_MAX];
  size_t n = lk_fmt_exp(num, v);
  char *e = strchr(num, 'e');
  if (e)
    *e = 'E';
  lk_buf_append(b, num, n);
}

/* Prefix every line but the first with indent (promtool's indentLines). */
static void indent_lines(lk_buf *out, const char *s, const char *indent)
{
  for (; *s; s++) {
    lk_buf_putc(out, (uint8_t)*s);
    if (*s == '\n')
      lk_buf_puts(out, indent);
  }
}

/*---- Alerts ----*/

typedef struct la {
  alerting__lset labels, ann;
} la;

static int la_cmp(const void *x, const void *y)
{
  const la *a = x, *b = y;
  int c = alerting__lset_cmp(&a->labels, &b->labels);
  return c ? c : alerting__lset_cmp(&a->ann, &b->ann);
}

typedef struct la_list {
  la *v;
  size_t n, cap;
} la_list;

static void la_add(la_list *l, const lk_label *lab, size_t nl, const lk_label *ann, size_t na)
{
  l->v = lk_xgrow(l->v, &l->cap, l->n + 1, sizeof *l->v);
  alerting__lset_copy(&l->v[l->n].labels, lab, nl);
  alerting__lset_copy(&l->v[l->n].ann, ann, na);
  l->n++;
}

static void la_fini(la_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    alerting__lset_fini(&l->v[i].labels);
    alerting__lset_fini(&l->v[i].ann);
  }
  free(l->v);
}

static bool la_equal(const la_list *a, const la_list *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (la_cmp(&a->v[i], &b->v[i]))
      return false;
  return true;
}

/* labelsAndAnnotations.String(), indented as promtool prints it. */
static void la_string(lk_buf *out, const la_list *l)
{
  lk_buf s = {0};
  if (!l->n)
    lk_buf_puts(&s, "[]");
  for (size_t i = 0; i < l->n; i++) {
    lk_buf one = {0};
    lk_buf_puts(&one, "\nLabels:");
    go_labels(&one, l->v[i].labels.l, l->v[i].labels.n);
    lk_buf_puts(&one, "\nAnnotations:");
    go_labels(&one, l->v[i].ann.l, l->v[i].ann.n);
    lk_buf_printf(&s, "%s%zu:", i ? ",\n" : "[\n", i);
    indent_lines(&s, (const char *)one.data, "  ");
    lk_buf_fini(&one);
  }
  if (l->n)
    lk_buf_puts(&s, "\n]");
  indent_lines(out, (const char *)s.data, "            ");
  lk_buf_fini(&s);
}

/* Firing alerts of every alerting rule called name. */
static void got_alerts(const ut_run *r, const char *name, la_list *got)
{
  for (size_t g = 0; g < r->ngroups; g++) {
    alerting_group *grp = r->order[g];
    alerting_group_lock(grp);
    alerting_group_info gi;
    alerting_group_get(grp, &gi);
    for (size_t i = 0; i < gi.nrules; i++) {
      alerting_rule_info ri;
      alerting_group_rule(grp, i, &ri);
      if (!ri.alerting || strcmp(ri.name, name))
        continue;
      for (size_t j = 0; j < ri.nalerts; j++) {
        alerting_alert_info ai;
        alerting_rule_alert(grp, i, j, &ai);
        if (ai.state == ALERTING_FIRING && !ai.resolved_at_ms)
          la_add(got, ai.labels, ai.nlabels, ai.annotations, ai.nannotations);
      }
    }
    alerting_group_unlock(grp);
  }
}

static int exp_alerts(const ut_run *r, const lk_ynode *list, const char *name, la_list *exp,
                      ut_errs *e)
{
  static const char *const keys[] = {"exp_labels", "exp_annotations", NULL};
  for (size_t i = 0; i < alerting__ylen(list); i++) {
    const lk_ynode *it = lk_ynode_at(list, i);
    alerting__lset l = {0}, a = {0};
    lk_diag d = {0};
    int rc = lk_ynode_check_keys(r->y, it, "exp_alerts", keys, &d);
    if (!rc)
      rc = alerting__yaml_map(r->y, lk_ynode_get(it, "exp_labels"), "exp_labels", &l, &d);
    if (!rc)
      rc = alerting__yaml_map(r->y, lk_ynode_get(it, "exp_annotations"), "exp_annotations", &a, &d);
    if (rc) {
      alerting__ut_err(e, "%s", d.msg);
      alerting__lset_fini(&l);
      alerting__lset_fini(&a);
      return rc;
    }
    alerting__lbuild b = {0};
    alerting__lb_reset(&b, l.l, l.n);
    alerting__lb_set(&b, "alertname", name);
    la_add(exp, b.l, b.n, a.l, a.n);
    free(b.l);
    alerting__lset_fini(&l);
    alerting__lset_fini(&a);
  }
  return 0;
}

static void check_alert_item(const ut_run *r, const lk_ynode *it, int64_t t, ut_errs *e)
{
  const char *name = alerting__ystr(lk_ynode_get(it, "alertname"));
  la_list got = {0}, exp = {0};
  got_alerts(r, name, &got);
  if (!exp_alerts(r, lk_ynode_get(it, "exp_alerts"), name, &exp, e)) {
    if (got.n)
      qsort(got.v, got.n, sizeof *got.v, la_cmp);
    if (exp.n)
      qsort(exp.v, exp.n, sizeof *exp.v, la_cmp);
    if (!la_equal(&exp, &got)) {
      lk_buf m = {0};
      if (*r->name)
        lk_buf_printf(&m, "    name: %s,\n", r->name);
      lk_buf_printf(&m, "    alertname: %s, time: ", name);
      alerting__ut_duration(&m, t);
      lk_buf_puts(&m, ", \n        exp:");
      la_string(&m, &exp);
      lk_buf_puts(&m, ", \n        got:");
      la_string(&m, &got);
      alerting__ut_err(e, "%s", (const char *)m.data);
      lk_buf_fini(&m);
    }
  }
  la_fini(&got);
  la_fini(&exp);
}

void alerting__ut_check_alerts(const ut_run *r, const lk_ynode *items, const size_t *sorted,
                               const int64_t *times, size_t nitems, size_t *next, int64_t ts,
                               int64_t interval, ut_errs *e)
{
  while (*next < nitems && ts <= times[sorted[*next]] && times[sorted[*next]] < ts + interval) {
    int64_t t = times[sorted[*next]];
    for (size_t k = *next; k < nitems && times[sorted[k]] == t; k++)
      check_alert_item(r, lk_ynode_at(items, sorted[k]), t, e);
    while (*next < nitems && times[sorted[*next]] == t)
      (*next)++;
  }
}

/*---- PromQL expressions ----*/

typedef struct smp {
  alerting__lset labels;
  double v;
} smp;

static int smp_cmp(const void *x, const void *y)
{
  return alerting__lset_cmp(&((const smp *)x)->labels, &((const smp *)y)->labels);
}

static void smps_free(smp *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    alerting__lset_fini(&s[i].labels);
  free(s);
}

/* parsedSamplesString: "nil" or `{labels} 1E+00, …`. */
static void smps_string(lk_buf *b, const smp *s, size_t n)
{
  if (!n)
    lk_buf_puts(b, "nil");
  for (size_t i = 0; i < n; i++) {
    lk_buf_puts(b, i ? ", " : "");
    go_labels(b, s[i].labels.l, s[i].labels.n);
    lk_buf_putc(b, ' ');
    go_float_e(b, s[i].v);
  }
}

static void expr_head(lk_buf *m, const char *expr, int64_t t)
{
  lk_buf_puts(m, "    expr: ");
  go_quote(m, expr);
  lk_buf_puts(m, ", time: ");
  alerting__ut_duration(m, t);
}

static int got_samples(const ut_run *r, const char *expr, int64_t t, smp **out, size_t *n, lk_diag *d)
{
  promql_expr *pe = NULL;
  alerting_env env = {.q = &r->q};
  alerting__vec v = {0};
  int rc = promql_parse(expr, &pe, d);
  if (!rc)
    rc = alerting__promql_vector(&env, pe, t, &v, d);
  promql_expr_free(pe);
  *out = lk_xcalloc(v.n ? v.n : 1, sizeof **out);
  *n = rc ? 0 : v.n;
  for (size_t i = 0; i < *n; i++) {
    alerting__lset_copy(&(*out)[i].labels, v.s[i].labels, v.s[i].nlabels);
    (*out)[i].v = v.s[i].value;
  }
  alerting__vec_fini(&v);
  return rc;
}

static int exp_samples(const ut_run *r, const lk_ynode *list, smp **out, size_t *n, lk_buf *why)
{
  static const char *const keys[] = {"labels", "value", NULL};
  size_t cnt = alerting__ylen(list);
  *out = lk_xcalloc(cnt ? cnt : 1, sizeof **out);
  *n = 0;
  lk_arena *a = lk_arena_new(1024);
  int rc = 0;
  for (size_t i = 0; !rc && i < cnt; i++) {
    const lk_ynode *it = lk_ynode_at(list, i), *vn = lk_ynode_get(it, "value");
    const char *ls = "";
    lk_diag d = {0};
    double v = 0;
    rc = lk_ynode_check_keys(r->y, it, "exp_samples", keys, &d);
    if (!rc)
      rc = alerting__yopt_string(r->y, lk_ynode_get(it, "labels"), "labels", &ls, &d);
    if (!rc && vn && lk_ynode_kind(vn) != LK_YNULL)
      rc = lk_ynode_float(r->y, vn, "value", &v, &d);
    if (rc) {
      lk_buf_puts(why, d.msg);
      break;
    }
    lk_label *l = NULL;
    size_t nl = 0;
    const char *rest = promql_parse_series_labels(ls, a, &l, &nl);
    if (!rest || rest[strspn(rest, " \t")]) {
      lk_buf_puts(why, "labels ");
      go_quote(why, ls);
      lk_buf_puts(why, ": bad metric");
      rc = LK_EPARSE;
      break;
    }
    alerting__lset_copy(&(*out)[i].labels, l, nl);
    (*out)[i].v = v;
    (*n)++;
  }
  lk_arena_free(a);
  return rc;
}

static bool smps_equal(const smp *a, size_t na, const smp *b, size_t nb)
{
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (smp_cmp(&a[i], &b[i]) || a[i].v != b[i].v)
      return false;
  return true;
}

static void check_expr_item(const ut_run *r, const lk_ynode *it, ut_errs *e)
{
  static const char *const keys[] = {"expr", "eval_time", "exp_samples", NULL};
  lk_diag d = {0};
  const char *expr = "";
  int64_t t = 0;
  int rc = lk_ynode_check_keys(r->y, it, "promql_expr_test", keys, &d);
  if (!rc)
    rc = alerting__yopt_string(r->y, lk_ynode_get(it, "expr"), "expr", &expr, &d);
  if (!rc)
    rc = alerting__yopt_duration(r->y, lk_ynode_get(it, "eval_time"), "eval_time", &t, &d);
  if (rc) {
    alerting__ut_err(e, "%s", d.msg);
    return;
  }
  lk_buf m = {0}, why = {0};
  expr_head(&m, expr, t);
  smp *got = NULL, *exp = NULL;
  size_t ngot = 0, nexp = 0;
  if ((rc = got_samples(r, expr, t, &got, &ngot, &d))) {
    lk_buf_printf(&m, ", err: %s", d.set ? d.msg : lk_strerror(rc));
    alerting__ut_err(e, "%s", (const char *)m.data);
  } else if (exp_samples(r, lk_ynode_get(it, "exp_samples"), &exp, &nexp, &why)) {
    lk_buf_printf(&m, ", err: %s", (const char *)why.data);
    alerting__ut_err(e, "%s", (const char *)m.data);
  } else {
    qsort(got, ngot, sizeof *got, smp_cmp);
    qsort(exp, nexp, sizeof *exp, smp_cmp);
    if (!smps_equal(exp, nexp, got, ngot)) {
      lk_buf_puts(&m, ",\n        exp: ");
      smps_string(&m, exp, nexp);
      lk_buf_puts(&m, "\n        got: ");
      smps_string(&m, got, ngot);
      alerting__ut_err(e, "%s", (const char *)m.data);
    }
  }
  smps_free(got, ngot);
  smps_free(exp, nexp);
  lk_buf_fini(&m);
  lk_buf_fini(&why);
}

void alerting__ut_check_exprs(const ut_run *r, const lk_ynode *items, ut_errs *e)
{
  for (size_t i = 0; i < alerting__ylen(items); i++)
    check_expr_item(r, lk_ynode_at(items, i), e);
}
