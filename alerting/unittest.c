/* unittest.c — `lookout test rules`: promtool's rule unit tests. A test
 * file names rule files (relative to itself, globbed) and test groups;
 * each group loads input_series (expanding notation) into an in-memory
 * store — and, Lookout's extension for log rules, input_streams into a
 * temporary logstore — then evaluates every rule group (in
 * group_eval_order) at 0, evaluation_interval, … up to the largest
 * eval_time, as promtool does, checking alert_rule_test items after the
 * evaluation that covers their time, and promql_expr_test items at the
 * end. Output and exit status follow promtool's. */
#include <ftw.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/unittest_int.h"
#include "lib/lk_alloc.h"

#define DEFAULT_EVAL_INTERVAL_MS 60000
#define MAX_EVAL_STEPS 10000000

void alerting__ut_err(ut_errs *e, const char *fmt, ...)
{
  lk_buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  lk_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  e->msg = lk_xgrow(e->msg, &e->cap, e->n + 1, sizeof *e->msg);
  e->msg[e->n++] = (char *)lk_buf_take(&b, NULL);
}

static void errs_fini(ut_errs *e)
{
  for (size_t i = 0; i < e->n; i++)
    free(e->msg[i]);
  free(e->msg);
}

static void err_diag(ut_errs *e, const lk_diag *d, int rc)
{
  alerting__ut_err(e, "%s", d->set ? d->msg : lk_strerror(rc));
}

/*---- Inputs ----*/

static int load_series(ut_run *r, const lk_ynode *items, int64_t interval, lk_arena *a, ut_errs *e)
{
  static const char *const keys[] = {"series", "values", NULL};
  for (size_t i = 0; i < alerting__ylen(items); i++) {
    const lk_ynode *it = lk_ynode_at(items, i);
    lk_diag d = {0};
    const char *series = "", *values = "";
    const lk_ynode *vn = lk_ynode_get(it, "values");
    int rc = lk_ynode_check_keys(r->y, it, "input_series", keys, &d);
    if (!rc)
      rc = alerting__yopt_string(r->y, lk_ynode_get(it, "series"), "series", &series, &d);
    if (!rc)
      rc = alerting__yopt_string(r->y, vn, "values", &values, &d);
    if (rc) {
      err_diag(e, &d, rc);
      return rc;
    }
    lk_label *ls;
    size_t nls;
    const char *rest = promql_parse_series_labels(series, a, &ls, &nls);
    if (!rest || rest[strspn(rest, " \t")]) {
      alerting__ut_err(e, "%s:%zu: bad series \"%s\"", lk_yaml_name(r->y), lk_ynode_line(it), series);
      return LK_EPARSE;
    }
    double *v;
    uint8_t *ok;
    size_t n;
    bool hist = false;
    if ((rc = promql_parse_series_values(values, &v, &ok, &n, &hist, &d))) {
      alerting__ut_err(e, "%s:%zu: %s", lk_yaml_name(r->y), lk_ynode_line(vn ? vn : it), d.msg);
      return rc;
    }
    lk_sample *s = lk_xcalloc(n ? n : 1, sizeof *s);
    size_t ns = 0;
    for (size_t k = 0; k < n; k++)
      if (ok[k] == PROMQL_SLOT_FLOAT)
        s[ns++] = (lk_sample){(int64_t)k * interval, v[k]};
    if (hist)
      rc = lk_diag_set(&d, LK_ENOTSUP, -1, "%s:%zu: native histograms are not supported",
                       lk_yaml_name(r->y), lk_ynode_line(it));
    if (!rc && ns)
      rc = promql_mem_add(r->mem, ls, nls, s, ns, &d);
    free(s);
    free(v);
    free(ok);
    if (rc) {
      err_diag(e, &d, rc);
      return rc;
    }
  }
  return 0;
}

static int entry_cmp(const void *a, const void *b)
{
  const logstore_entry *x = a, *y = b;
  return (x->ts > y->ts) - (x->ts < y->ts);
}

/* One input_streams item: {stream: '{a="b"}', lines: [{ts: 1m, line: "…"}]}. */
static int load_stream(const lk_yaml *y, const lk_ynode *it, logstore *ls, lk_arena *a, lk_diag *d)
{
  static const char *const keys[] = {"stream", "lines", NULL};
  static const char *const line_keys[] = {"ts", "line", NULL};
  const char *stream = "";
  int rc = lk_ynode_check_keys(y, it, "input_streams", keys, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(it, "stream"), "stream", &stream, d);
  lk_label *l = NULL;
  size_t nl = 0;
  const char *rest = rc ? NULL : promql_parse_series_labels(stream, a, &l, &nl);
  if (!rc && (!rest || rest[strspn(rest, " \t")] || !nl))
    rc = lk_yaml_err(y, it, d, LK_EPARSE, "bad stream selector \"%s\"", stream);
  const lk_ynode *lines = lk_ynode_get(it, "lines");
  if (!rc)
    rc = alerting__yseq(y, lines, "lines", d);
  size_t n = alerting__ylen(lines);
  logstore_entry *en = lk_xcalloc(n ? n : 1, sizeof *en);
  for (size_t i = 0; !rc && i < n; i++) {
    const lk_ynode *ln = lk_ynode_at(lines, i);
    int64_t ms = 0;
    const char *text = "";
    rc = lk_ynode_check_keys(y, ln, "lines", line_keys, d);
    if (!rc)
      rc = alerting__yopt_duration(y, lk_ynode_get(ln, "ts"), "ts", &ms, d);
    if (!rc)
      rc = alerting__yopt_string(y, lk_ynode_get(ln, "line"), "line", &text, d);
    en[i] = (logstore_entry){ms * 1000000, text, strlen(text)};
  }
  qsort(en, n, sizeof *en, entry_cmp);
  if (!rc && n)
    rc = logstore_push(ls, l, nl, en, n, d);
  free(en);
  return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static int open_streams(const lk_yaml *y, const lk_ynode *items, logstore **out, char *dir,
                        lk_arena *a, ut_errs *e)
{
  lk_diag d = {0};
  if (!mkdtemp(dir)) {
    alerting__ut_err(e, "input_streams: cannot create a temporary directory");
    return LK_EIO;
  }
  logstore_opts o = {.dir = dir};
  int rc = logstore_open(&o, out, &d);
  for (size_t i = 0; !rc && i < alerting__ylen(items); i++)
    rc = load_stream(y, lk_ynode_at(items, i), *out, a, &d);
  if (rc)
    err_diag(e, &d, rc);
  return rc;
}

/*---- Rule files and groups ----*/

/* rule_files relative to the test file's directory, globbed. */
static void resolve_rule_files(const lk_yaml *y, const lk_ynode *list, const char *test_file,
                               char ***out, size_t *nout, FILE *err)
{
  char *copy = lk_xstrdup(test_file);
  const char *dir = dirname(copy);
  size_t cap = 0;
  for (size_t i = 0; i < alerting__ylen(list); i++) {
    const char *rf = alerting__ystr(lk_ynode_at(list, i));
    if (!rf || !*rf)
      continue;
    lk_buf path = {0};
    if (rf[0] == '/' || !strcmp(dir, "."))
      lk_buf_puts(&path, rf);
    else
      lk_buf_printf(&path, "%s/%s", dir, rf);
    glob_t g;
    if (glob((const char *)path.data, 0, NULL, &g) || !g.gl_pathc)
      fprintf(err, "  WARNING: no file match pattern %s\n", (const char *)path.data);
    else
      for (size_t k = 0; k < g.gl_pathc; k++) {
        *out = lk_xgrow(*out, &cap, *nout + 1, sizeof **out);
        (*out)[(*nout)++] = lk_xstrdup(g.gl_pathv[k]);
      }
    globfree(&g);
    lk_buf_fini(&path);
  }
  (void)y;
  free(copy);
}

/* Groups ordered by group_eval_order; groups not named there count as the
 * first position, as in promtool. */
static void order_groups(ut_run *r, const lk_ynode *order)
{
  size_t n = alerting_rules_ngroups(r->rules);
  r->order = lk_xcalloc(n ? n : 1, sizeof *r->order);
  size_t *rank = lk_xcalloc(n ? n : 1, sizeof *rank);
  for (size_t i = 0; i < n; i++) {
    alerting_group_info gi;
    alerting_group_get(alerting_rules_group(r->rules, i), &gi);
    for (size_t k = 0; k < alerting__ylen(order); k++) {
      const char *s = alerting__ystr(lk_ynode_at(order, k));
      if (s && !strcmp(s, gi.name))
        rank[i] = k;
    }
  }
  size_t m = 0;
  for (size_t k = 0; m < n; k++)
    for (size_t i = 0; i < n; i++)
      if (rank[i] == k)
        r->order[m++] = alerting_rules_group(r->rules, i);
  r->ngroups = n;
  free(rank);
}

/*---- One test group ----*/

typedef struct ut_file {
  const lk_yaml *y;
  char **rule_files;
  size_t nrule_files;
  int64_t eval_interval;
  const lk_ynode *order;
} ut_file;

/* eval_time of every alert_rule_test item (sorted order in *sorted). */
static int alert_times(const ut_run *r, const lk_ynode *items, int64_t **times, size_t **sorted,
                       int64_t *max, ut_errs *e)
{
  size_t n = alerting__ylen(items);
  *times = lk_xcalloc(n ? n : 1, sizeof **times);
  *sorted = lk_xcalloc(n ? n : 1, sizeof **sorted);
  for (size_t i = 0; i < n; i++) {
    static const char *const keys[] = {"eval_time", "alertname", "exp_alerts", NULL};
    const lk_ynode *it = lk_ynode_at(items, i), *tn = lk_ynode_get(it, "eval_time");
    lk_diag d = {0};
    int rc = lk_ynode_check_keys(r->y, it, "alert_rule_test", keys, &d);
    if (!rc)
      rc = alerting__yopt_duration(r->y, tn, "eval_time", &(*times)[i], &d);
    if (rc) {
      err_diag(e, &d, rc);
      return rc;
    }
    const char *name = alerting__ystr(lk_ynode_get(it, "alertname"));
    if (!name || !*name) {
      lk_buf t = {0};
      alerting__ut_duration(&t, (*times)[i]);
      alerting__ut_err(e, "an item under alert_rule_test misses required attribute alertname at eval_time %s%s%s%s",
                       (const char *)t.data, *r->name ? " (in TestGroup " : "", r->name,
                       *r->name ? ")" : "");
      lk_buf_fini(&t);
      return LK_EINVAL;
    }
    (*sorted)[i] = i;
    if ((*times)[i] > *max)
      *max = (*times)[i];
  }
  for (size_t i = 1; i < n; i++) /* insertion sort: stable, few items */
    for (size_t k = i; k > 0 && (*times)[(*sorted)[k - 1]] > (*times)[(*sorted)[k]]; k--) {
      size_t t = (*sorted)[k];
      (*sorted)[k] = (*sorted)[k - 1];
      (*sorted)[k - 1] = t;
    }
  return 0;
}

static int64_t max_expr_time(const lk_yaml *y, const lk_ynode *items, int64_t max)
{
  for (size_t i = 0; i < alerting__ylen(items); i++) {
    int64_t t = 0;
    const lk_ynode *tn = lk_ynode_get(lk_ynode_at(items, i), "eval_time");
    if (!alerting__yopt_duration(y, tn, "eval_time", &t, NULL) && t > max)
      max = t;
  }
  return max;
}

/* Evaluate every group at ts; an evaluation error ends the test. */
static bool eval_all(ut_run *r, const alerting_env *env, int64_t ts, ut_errs *e)
{
  bool failed = false;
  for (size_t g = 0; g < r->ngroups; g++) {
    alerting_group *grp = r->order[g];
    alerting_group_eval(grp, env, ts);
    alerting_group_info gi;
    alerting_group_get(grp, &gi);
    for (size_t i = 0; i < gi.nrules; i++) {
      alerting_rule_info ri;
      alerting_group_rule(grp, i, &ri);
      if (ri.health != ALERTING_HEALTH_ERR)
        continue;
      lk_buf t = {0};
      alerting__ut_duration(&t, ts);
      alerting__ut_err(e, "    rule: %s, time: %s, err: %s", ri.name, (const char *)t.data,
                       ri.last_error);
      lk_buf_fini(&t);
      failed = true;
    }
  }
  return !failed;
}

static void run_steps(ut_run *r, const lk_ynode *t, const ut_file *f, const alerting_env *env,
                      ut_errs *e)
{
  const lk_ynode *alerts = lk_ynode_get(t, "alert_rule_test");
  const lk_ynode *exprs = lk_ynode_get(t, "promql_expr_test");
  int64_t *times = NULL, max = 0;
  size_t *sorted = NULL, next = 0;
  if (alert_times(r, alerts, &times, &sorted, &max, e)) {
    free(times);
    free(sorted);
    return;
  }
  max = max_expr_time(r->y, exprs, max);
  if (max / f->eval_interval > MAX_EVAL_STEPS) {
    alerting__ut_err(e, "eval_time too large for evaluation_interval (more than %d evaluations)",
                     MAX_EVAL_STEPS);
    max = -1;
  }
  bool evaluated = max >= 0;
  for (int64_t ts = 0; evaluated && ts <= max; ts += f->eval_interval) {
    evaluated = eval_all(r, env, ts, e);
    if (evaluated)
      alerting__ut_check_alerts(r, alerts, sorted, times, alerting__ylen(alerts), &next, ts,
                                f->eval_interval, e);
  }
  free(times);
  free(sorted);
  if (evaluated)
    alerting__ut_check_exprs(r, exprs, e);
}

static const char *const test_keys[] = {"interval", "input_series", "input_streams",
                                        "alert_rule_test", "promql_expr_test", "external_labels",
                                        "external_url", "name", NULL};

static int test_settings(const lk_yaml *y, const lk_ynode *t, const ut_file *f, int64_t *interval,
                         const char **url, const char **name, alerting__lset *ext, lk_diag *d)
{
  *interval = f->eval_interval;
  *url = *name = "";
  static const char *const lists[] = {"input_series", "input_streams", "alert_rule_test",
                                      "promql_expr_test"};
  int rc = lk_ynode_check_keys(y, t, "test group", test_keys, d);
  for (size_t i = 0; !rc && i < sizeof lists / sizeof lists[0]; i++)
    rc = alerting__yseq(y, lk_ynode_get(t, lists[i]), lists[i], d);
  if (!rc)
    rc = alerting__yopt_duration(y, lk_ynode_get(t, "interval"), "interval", interval, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(t, "external_url"), "external_url", url, d);
  if (!rc)
    rc = alerting__yopt_string(y, lk_ynode_get(t, "name"), "name", name, d);
  if (!rc)
    rc = alerting__yaml_map(y, lk_ynode_get(t, "external_labels"), "external_labels", ext, d);
  if (!rc && *interval <= 0)
    rc = lk_yaml_err(y, t, d, LK_EINVAL, "interval must be positive");
  return rc;
}

static void run_test(const ut_file *f, const lk_ynode *t, ut_errs *e)
{
  const lk_yaml *y = f->y;
  int64_t interval;
  const char *url, *name;
  alerting__lset ext = {0};
  lk_diag d = {0};
  int rc = test_settings(y, t, f, &interval, &url, &name, &ext, &d);
  if (rc) {
    err_diag(e, &d, rc);
    alerting__lset_fini(&ext);
    return;
  }
  ut_run r = {.y = y, .name = name, .mem = promql_mem_new()};
  r.q = promql_mem_queryable(r.mem);
  lk_arena *a = lk_arena_new(4096);
  logstore *logs = NULL;
  char dir[] = "/tmp/lookout-rules-test-XXXXXX";
  const lk_ynode *streams = lk_ynode_get(t, "input_streams");
  rc = load_series(&r, lk_ynode_get(t, "input_series"), interval, a, e);
  if (!rc && alerting__ylen(streams))
    rc = open_streams(y, streams, &logs, dir, a, e);
  alerting_load_opts lo = {.default_interval_ms = interval};
  if (!rc && (rc = alerting_rules_load((const char *const *)f->rule_files, f->nrule_files, &lo,
                                       &r.rules, &d)))
    err_diag(e, &d, rc);
  if (!rc) {
    order_groups(&r, f->order);
    alerting_env env = {.q = &r.q, .logs = logs, .app = alerting_appender_mem(r.mem),
                        .external_url = url, .external_labels = ext.l,
                        .nexternal_labels = ext.n};
    run_steps(&r, t, f, &env, e);
  }
  alerting_rules_free(r.rules);
  free(r.order);
  logstore_close(logs);
  if (strcmp(dir + sizeof dir - 7, "XXXXXX"))
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  promql_mem_free(r.mem);
  lk_arena_free(a);
  alerting__lset_fini(&ext);
}

/*---- A file ----*/

static const char *const file_keys[] = {"rule_files", "evaluation_interval", "group_eval_order",
                                        "tests", NULL};

static int file_settings(ut_file *f, const lk_ynode *root, lk_diag *d)
{
  const lk_yaml *y = f->y;
  if (!root || lk_ynode_kind(root) == LK_YNULL)
    return 0; /* an empty file: no tests */
  int rc = lk_ynode_check_keys(y, root, "test file", file_keys, d);
  f->eval_interval = DEFAULT_EVAL_INTERVAL_MS;
  if (!rc)
    rc = alerting__yopt_duration(y, lk_ynode_get(root, "evaluation_interval"),
                                 "evaluation_interval", &f->eval_interval, d);
  if (!rc)
    rc = alerting__yseq(y, lk_ynode_get(root, "rule_files"), "rule_files", d);
  if (!rc)
    rc = alerting__yseq(y, lk_ynode_get(root, "group_eval_order"), "group_eval_order", d);
  if (!rc)
    rc = alerting__yseq(y, lk_ynode_get(root, "tests"), "tests", d);
  if (!rc && f->eval_interval <= 0)
    f->eval_interval = DEFAULT_EVAL_INTERVAL_MS;
  f->order = lk_ynode_get(root, "group_eval_order");
  for (size_t i = 0; !rc && i < alerting__ylen(f->order); i++)
    for (size_t k = 0; k < i; k++) {
      const char *a = alerting__ystr(lk_ynode_at(f->order, i));
      const char *b = alerting__ystr(lk_ynode_at(f->order, k));
      if (a && b && !strcmp(a, b)) {
        rc = lk_diag_set(d, LK_EINVAL, -1, "group name repeated in evaluation order: %s", a);
        break;
      }
    }
  return rc;
}

static void run_file(const char *path, ut_errs *e, FILE *err)
{
  lk_yaml *y = NULL;
  lk_diag d = {0};
  int rc = lk_yaml_load(path, &y, &d);
  ut_file f = {.y = y};
  const lk_ynode *root = rc || !lk_yaml_ndocs(y) ? NULL : lk_yaml_doc(y, 0);
  if (!rc)
    rc = file_settings(&f, root, &d);
  if (rc) {
    err_diag(e, &d, rc);
    lk_yaml_free(y);
    return;
  }
  resolve_rule_files(y, lk_ynode_get(root, "rule_files"), path, &f.rule_files, &f.nrule_files, err);
  const lk_ynode *tests = lk_ynode_get(root, "tests");
  for (size_t i = 0; i < alerting__ylen(tests); i++)
    run_test(&f, lk_ynode_at(tests, i), e);
  for (size_t i = 0; i < f.nrule_files; i++)
    free(f.rule_files[i]);
  free(f.rule_files);
  lk_yaml_free(y);
}

int alerting_unittest_run(const char *const *files, size_t n, FILE *out, FILE *err)
{
  bool failed = false;
  for (size_t i = 0; i < n; i++) {
    fprintf(out, "Unit Testing:  %s\n", files[i]);
    fflush(out);
    ut_errs e = {0};
    run_file(files[i], &e, err);
    if (e.n) {
      fprintf(err, "  FAILED:\n");
      for (size_t k = 0; k < e.n; k++) {
        fprintf(err, "%s\n", e.msg[k]);
        fprintf(out, "\n");
      }
      failed = true;
    } else {
      fprintf(out, "  SUCCESS\n");
    }
    fprintf(out, "\n");
    fflush(out);
    fflush(err);
    errs_fini(&e);
  }
  return failed ? 1 : 0;
}
