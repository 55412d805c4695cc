/* rulefile.c — loading Prometheus rule files (and Loki-ruler-shaped log rule
 * files) into groups of rules, with promtool check rules' validation:
 * strict fields, one of record/alert, expr parsed by the real PromQL or
 * LogQL parser, valid names, recording rules without for/annotations,
 * templates of alerting rules parsed (an unknown function is an error),
 * group names unique per file. Every error names "<file>:<line>". */
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_yaml.h"

#define DEFAULT_INTERVAL_MS 60000

/* Where we are, for messages. */
typedef struct where {
  const lk_yaml *y;
  const char *group;
  size_t idx;           /* 1-based rule index; 0 = group level */
  const char *rule;     /* rule name or "" */
} where;

static int rule_err(const where *w, const lk_ynode *n, lk_diag *d, const char *fmt, const char *arg)
{
  char msg[800];
  snprintf(msg, sizeof msg, fmt, arg);
  if (!w->idx)
    return lk_yaml_err(w->y, n, d, LK_EINVAL, "group \"%s\": %s", w->group, msg);
  return lk_yaml_err(w->y, n, d, LK_EINVAL, "group \"%s\", rule %zu, \"%s\": %s", w->group, w->idx,
                     w->rule, msg);
}

/*---- Label maps ----*/

size_t alerting__ylen(const lk_ynode *n)
{
  return n && lk_ynode_kind(n) == LK_YSEQ ? lk_ynode_len(n) : 0;
}

const char *alerting__ystr(const lk_ynode *n) { return n ? lk_ynode_str(n) : NULL; }

int alerting__yaml_map(const lk_yaml *y, const lk_ynode *m, const char *what, alerting__lset *out,
                    lk_diag *d)
{
  memset(out, 0, sizeof *out);
  if (!m || lk_ynode_kind(m) == LK_YNULL)
    return 0;
  if (lk_ynode_kind(m) != LK_YMAP)
    return lk_yaml_err(y, m, d, LK_EINVAL, "%s: expected a mapping", what);
  size_t n = lk_ynode_len(m);
  lk_label *l = lk_xcalloc(n ? n : 1, sizeof *l);
  for (size_t i = 0; i < n; i++) {
    const char *k = NULL, *v = NULL;
    int rc = lk_ynode_string(y, lk_ynode_key(m, i), what, &k, d);
    if (!rc && lk_ynode_kind(lk_ynode_val(m, i)) != LK_YNULL)
      rc = lk_ynode_string(y, lk_ynode_val(m, i), what, &v, d);
    if (rc) {
      free(l);
      return rc;
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(l[j].name, k)) {
        free(l);
        return lk_yaml_err(y, lk_ynode_key(m, i), d, LK_EINVAL, "%s: key %s given twice", what, k);
      }
    l[i] = (lk_label){k, v ? v : ""};
  }
  alerting__lset_copy(out, l, n);
  free(l);
  return 0;
}

/* The key node named name in mapping m (for its line), else m. */
static const lk_ynode *key_node(const lk_ynode *m, const char *name)
{
  for (size_t i = 0; m && lk_ynode_kind(m) == LK_YMAP && i < lk_ynode_len(m); i++) {
    const char *k = lk_ynode_str(lk_ynode_key(m, i));
    if (k && !strcmp(k, name))
      return lk_ynode_key(m, i);
  }
  return m;
}

static int check_label_names(const where *w, const lk_ynode *m, const alerting__lset *s,
                             const char *kind, lk_diag *d)
{
  char fmt[64];
  snprintf(fmt, sizeof fmt, "invalid %s name: %%s", kind);
  for (size_t i = 0; i < s->n; i++) {
    const lk_ynode *at = key_node(m, s->l[i].name);
    if (!lk_label_name_valid(s->l[i].name) || (!strcmp(kind, "label") && !strcmp(s->l[i].name, "__name__")))
      return rule_err(w, at, d, fmt, s->l[i].name);
    if (!lk_utf8_valid(s->l[i].value, strlen(s->l[i].value)))
      return rule_err(w, at, d, "invalid label value: %s", s->l[i].value);
  }
  return 0;
}

/* Rule labels win over group labels. */
static void merge_labels(alerting__lset *rule, const alerting__lset *group)
{
  if (!group->n)
    return;
  lk_label *l = lk_xcalloc(rule->n + group->n, sizeof *l);
  size_t n = 0;
  for (size_t i = 0; i < rule->n; i++)
    l[n++] = rule->l[i];
  for (size_t i = 0; i < group->n; i++)
    if (!lk_labels_get(rule->l, rule->n, group->l[i].name))
      l[n++] = group->l[i];
  alerting__lset merged;
  alerting__lset_copy(&merged, l, n);
  free(l);
  alerting__lset_fini(rule);
  *rule = merged;
}

static int parse_templates(const where *w, const lk_ynode *m, const alerting__lset *s,
                           const char *kind, alerting_template ***out, lk_diag *d)
{
  *out = lk_xcalloc(s->n ? s->n : 1, sizeof **out);
  for (size_t i = 0; i < s->n; i++) {
    lk_diag td = {0};
    if (alerting_template_parse(s->l[i].value, &(*out)[i], &td)) {
      char what[700];
      snprintf(what, sizeof what, "%s \"%s\": %.500s", kind, s->l[i].name, td.msg);
      return rule_err(w, key_node(m, s->l[i].name), d, "%s", what);
    }
  }
  return 0;
}

/*---- Expressions ----*/

static bool promql_ok(const char *expr, promql_expr **out, lk_diag *d)
{
  *out = NULL;
  return promql_parse(expr, out, d) == 0;
}

static int parse_expr(const where *w, const lk_ynode *n, bool logql, alerting__rule *r, lk_diag *d)
{
  lk_diag pd = {0};
  if (!logql) {
    if (!promql_ok(r->expr, &r->pexpr, &pd))
      return rule_err(w, n, d, "could not parse expression: %s", pd.msg);
    return 0;
  }
  alerting__log_split(r->expr, &r->log_metric, &r->log_cmp);
  if (logstore_logql_check(r->log_metric, &pd))
    return rule_err(w, n, d, "could not parse LogQL expression: %s", pd.msg);
  const char *p = r->log_metric + strspn(r->log_metric, " \t\r\n");
  if (*p == '{')
    return rule_err(w, n, d, "%s", "a log rule needs a LogQL metric expression, not a log query");
  r->log_query = alerting__log_query_of(r->expr, &r->log_range_ms);
  return 0;
}

/*---- Rules ----*/

static const char *const rule_keys[] = {"record", "alert", "expr", "for", "keep_firing_for",
                                        "labels", "annotations", NULL};

int alerting__yopt_string(const lk_yaml *y, const lk_ynode *n, const char *what, const char **out,
                          lk_diag *d)
{
  *out = "";
  if (!n || lk_ynode_kind(n) == LK_YNULL)
    return 0;
  return lk_ynode_string(y, n, what, out, d);
}

int alerting__yopt_duration(const lk_yaml *y, const lk_ynode *n, const char *what, int64_t *out,
                            lk_diag *d)
{
  if (!n || lk_ynode_kind(n) == LK_YNULL)
    return 0;
  return lk_ynode_duration(y, n, what, out, d);
}

int alerting__yseq(const lk_yaml *y, const lk_ynode *n, const char *what, lk_diag *d)
{
  if (!n || lk_ynode_kind(n) == LK_YNULL || lk_ynode_kind(n) == LK_YSEQ)
    return 0;
  return lk_yaml_err(y, n, d, LK_EINVAL, "%s: expected a list", what);
}

static int check_recording(const where *w, const lk_ynode *rn, const alerting__rule *r, lk_diag *d)
{
  if (r->ann.n)
    return rule_err(w, rn, d, "%s", "invalid field 'annotations' in recording rule");
  if (r->for_ms)
    return rule_err(w, rn, d, "%s", "invalid field 'for' in recording rule");
  if (r->keep_ms)
    return rule_err(w, rn, d, "%s", "invalid field 'keep_firing_for' in recording rule");
  if (strchr(r->name, '{') || strchr(r->name, '}'))
    return rule_err(w, rn, d, "braces present in the recording rule name; should it be in expr?: %s",
                    r->name);
  if (!lk_metric_name_valid(r->name))
    return rule_err(w, rn, d, "invalid recording rule name: %s", r->name);
  return 0;
}

/* The rule's identity fields: record/alert, expr, for, keep_firing_for. */
static int read_rule_head(where *w, const lk_ynode *rn, alerting__rule *r, const lk_ynode **en,
                          lk_diag *d)
{
  const lk_yaml *y = w->y;
  const char *rec, *alert, *expr;
  int rc = lk_ynode_check_keys(y, rn, "rule", rule_keys, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(rn, "record"), "record", &rec, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(rn, "alert"), "alert", &alert, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(rn, "expr"), "expr", &expr, d);
  if (rc)
    return rc;
  w->rule = *alert ? alert : rec;
  if (*rec && *alert)
    return rule_err(w, rn, d, "%s", "only one of 'record' and 'alert' must be set");
  if (!*rec && !*alert)
    return rule_err(w, rn, d, "%s", "one of 'record' or 'alert' must be set");
  *en = lk_ynode_get(rn, "expr");
  if (!*expr)
    return rule_err(w, *en ? *en : rn, d, "%s", "field 'expr' must be set in rule");
  r->alerting = *alert != 0;
  r->name = lk_xstrdup(w->rule);
  r->expr = lk_xstrdup(expr);
  r->line = lk_ynode_line(rn);
  rc = alerting__yopt_duration(y, lk_ynode_get(rn, "for"), "for", &r->for_ms, d);
  if (!rc)
    rc = alerting__yopt_duration(y, lk_ynode_get(rn, "keep_firing_for"), "keep_firing_for", &r->keep_ms, d);
  return rc;
}

static int read_rule(where *w, const lk_ynode *rn, const alerting_group *g, alerting__rule *r,
                     lk_diag *d)
{
  const lk_ynode *en = NULL;
  int rc = read_rule_head(w, rn, r, &en, d);
  const lk_ynode *ln = lk_ynode_get(rn, "labels"), *an = lk_ynode_get(rn, "annotations");
  if (!rc)
    rc = alerting__yaml_map(w->y, ln, "labels", &r->labels, d);
  if (!rc)
    rc = alerting__yaml_map(w->y, an, "annotations", &r->ann, d);
  if (!rc)
    rc = parse_expr(w, en, g->logql, r, d);
  if (!rc && !r->alerting)
    rc = check_recording(w, rn, r, d);
  if (!rc)
    rc = check_label_names(w, ln ? ln : rn, &r->labels, "label", d);
  if (!rc)
    rc = check_label_names(w, an ? an : rn, &r->ann, "annotation", d);
  if (!rc)
    merge_labels(&r->labels, &g->labels);
  if (!rc && r->alerting)
    rc = parse_templates(w, ln ? ln : rn, &r->labels, "label", &r->label_t, d);
  if (!rc && r->alerting)
    rc = parse_templates(w, an ? an : rn, &r->ann, "annotation", &r->ann_t, d);
  return rc;
}

/*---- Groups ----*/

static const char *const group_keys[] = {"name", "interval", "query_offset", "limit", "rules",
                                         "labels", "type", NULL};

/* Loki's ruler layout has no type field: a group whose every expr is LogQL
 * but not PromQL is a log group. */
static bool looks_logql(const lk_ynode *rules)
{
  size_t n = alerting__ylen(rules);
  for (size_t i = 0; i < n; i++) {
    const char *e = alerting__ystr(lk_ynode_get(lk_ynode_at(rules, i), "expr"));
    promql_expr *pe = NULL;
    if (!e || promql_ok(e, &pe, NULL)) {
      promql_expr_free(pe);
      return false;
    }
    char *metric;
    alerting__cmp cmp;
    alerting__log_split(e, &metric, &cmp);
    int rc = logstore_logql_check(metric, NULL);
    free(metric);
    if (rc)
      return false;
  }
  return n > 0;
}

static int read_group_kind(const lk_yaml *y, const lk_ynode *gn, alerting_group *g, lk_diag *d)
{
  const char *type = "";
  int rc = alerting__yopt_string(y, lk_ynode_get(gn, "type"), "type", &type, d);
  if (rc)
    return rc;
  if (!*type) {
    g->logql = looks_logql(lk_ynode_get(gn, "rules"));
    return 0;
  }
  if (strcmp(type, "logql") && strcmp(type, "promql"))
    return lk_yaml_err(y, lk_ynode_get(gn, "type"), d, LK_EINVAL,
                       "group \"%s\": type must be logql or promql, not \"%s\"", g->name, type);
  g->logql = !strcmp(type, "logql");
  return 0;
}

static int read_group_fields(const lk_yaml *y, const lk_ynode *gn, const alerting_load_opts *o,
                             alerting_group *g, lk_diag *d)
{
  const char *name;
  int rc = lk_ynode_check_keys(y, gn, "group", group_keys, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(gn, "name"), "name", &name, d);
  if (rc)
    return rc;
  if (!*name)
    return lk_yaml_err(y, gn, d, LK_EINVAL, "Groupname must not be empty");
  g->name = lk_xstrdup(name);
  g->interval = o->default_interval_ms > 0 ? o->default_interval_ms : DEFAULT_INTERVAL_MS;
  g->offset = o->default_query_offset_ms;
  if ((rc = alerting__yopt_duration(y, lk_ynode_get(gn, "interval"), "interval", &g->interval, d)) ||
      (rc = alerting__yopt_duration(y, lk_ynode_get(gn, "query_offset"), "query_offset", &g->offset,
                                    d)))
    return rc;
  const lk_ynode *n;
  if ((n = lk_ynode_get(gn, "limit")) && lk_ynode_kind(n) != LK_YNULL &&
      (rc = lk_ynode_int(y, n, "limit", &g->limit, d)))
    return rc;
  if (g->interval <= 0)
    return lk_yaml_err(y, lk_ynode_get(gn, "interval"), d, LK_EINVAL,
                       "group \"%s\": interval must be positive", g->name);
  const lk_ynode *ln = lk_ynode_get(gn, "labels");
  if ((rc = alerting__yaml_map(y, ln, "labels", &g->labels, d)))
    return rc;
  where w = {y, g->name, 0, ""};
  if ((rc = check_label_names(&w, ln ? ln : gn, &g->labels, "label", d)))
    return rc;
  return read_group_kind(y, gn, g, d);
}

static int read_group(const lk_yaml *y, const lk_ynode *gn, const char *file,
                      const alerting_load_opts *o, alerting_group **out, lk_diag *d)
{
  alerting_group *g = lk_xcalloc(1, sizeof *g);
  pthread_mutex_init(&g->mu, NULL);
  g->file = lk_xstrdup(file);
  g->should_restore = o->restore;
  int rc = read_group_fields(y, gn, o, g, d);
  const lk_ynode *rules = lk_ynode_get(gn, "rules");
  if (!rc && rules && lk_ynode_kind(rules) != LK_YNULL && lk_ynode_kind(rules) != LK_YSEQ)
    rc = lk_yaml_err(y, rules, d, LK_EINVAL, "group \"%s\": rules: expected a list", g->name);
  size_t n = rc ? 0 : alerting__ylen(rules);
  g->rules = lk_xcalloc(n ? n : 1, sizeof *g->rules);
  for (size_t i = 0; i < n && !rc; i++) {
    where w = {y, g->name, i + 1, ""};
    g->nrules++;
    g->rules[i].restored = !o->restore;
    rc = read_rule(&w, lk_ynode_at(rules, i), g, &g->rules[i], d);
  }
  if (rc) {
    alerting__group_free(g);
    return rc;
  }
  *out = g;
  return 0;
}

static void add_group(alerting_rules *rs, alerting_group *g, size_t *cap)
{
  rs->groups = lk_xgrow(rs->groups, cap, rs->n + 1, sizeof *rs->groups);
  rs->groups[rs->n++] = g;
}

static int load_file(alerting_rules *rs, size_t *cap, const char *file, const alerting_load_opts *o,
                     lk_diag *d)
{
  lk_yaml *y = NULL;
  int rc = lk_yaml_load(file, &y, d);
  if (rc)
    return rc;
  const lk_ynode *root = lk_yaml_ndocs(y) ? lk_yaml_doc(y, 0) : NULL;
  size_t first = rs->n;
  if (root && lk_ynode_kind(root) != LK_YNULL) {
    static const char *const top[] = {"groups", NULL};
    rc = lk_ynode_check_keys(y, root, "rule file", top, d);
    const lk_ynode *groups = rc ? NULL : lk_ynode_get(root, "groups");
    if (groups && lk_ynode_kind(groups) != LK_YSEQ && lk_ynode_kind(groups) != LK_YNULL)
      rc = lk_yaml_err(y, groups, d, LK_EINVAL, "groups: expected a list");
    for (size_t i = 0; !rc && i < alerting__ylen(groups); i++) {
      alerting_group *g = NULL;
      rc = read_group(y, lk_ynode_at(groups, i), file, o, &g, d);
      for (size_t j = first; !rc && j < rs->n; j++)
        if (!strcmp(rs->groups[j]->name, g->name)) {
          rc = lk_yaml_err(y, lk_ynode_at(groups, i), d, LK_EINVAL,
                           "groupname: \"%s\" is repeated in the same file", g->name);
          alerting__group_free(g);
        }
      if (!rc)
        add_group(rs, g, cap);
    }
  }
  lk_yaml_free(y);
  return rc;
}

int alerting_rules_load(const char *const *files, size_t nfiles, const alerting_load_opts *o,
                        alerting_rules **out, lk_diag *d)
{
  alerting_load_opts defaults = {0};
  if (!o)
    o = &defaults;
  alerting_rules *rs = lk_xcalloc(1, sizeof *rs);
  size_t cap = 0;
  for (size_t i = 0; i < nfiles; i++) {
    int rc = load_file(rs, &cap, files[i], o, d);
    if (rc) {
      alerting_rules_free(rs);
      return rc;
    }
  }
  *out = rs;
  return 0;
}

void alerting_rules_free(alerting_rules *rs)
{
  if (!rs)
    return;
  for (size_t i = 0; i < rs->n; i++)
    alerting__group_free(rs->groups[i]);
  free(rs->groups);
  free(rs);
}

size_t alerting_rules_ngroups(const alerting_rules *rs) { return rs->n; }

alerting_group *alerting_rules_group(const alerting_rules *rs, size_t i) { return rs->groups[i]; }
