/* test_rules_eval.c — the rules engine against Prometheus's semantics with
 * exact expected transitions: pending at t, firing at t + for, resolved
 * (kept 15 minutes, re-sent every resend delay), keep_firing_for, pending
 * dropped, ALERTS / ALERTS_FOR_STATE and stale markers read back through
 * PromQL, recording rules, templates, limit, query_offset, errors kept per
 * rule, reload carry-over, and `for` restored after a restart from
 * ALERTS_FOR_STATE written by a previous engine into a real tsdb.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>

#include "tests/alerting/rules_fx.h"

static const lk_label m_a[] = {{"__name__", "m"}, {"i", "a"}};

static const char *high_rule = "groups:\n"
                               "- name: g\n"
                               "  rules:\n"
                               "  - alert: High\n"
                               "    expr: m > 10\n"
                               "    for: 2m\n"
                               "    labels: {severity: page}\n"
                               "    annotations: {summary: 'v={{ $value }}'}\n";

/* m: 5, 20, 20, 20, then 5 for ever. */
static void input_high(fx *f)
{
  double v[40];
  for (size_t i = 0; i < 40; i++)
    v[i] = i >= 1 && i <= 3 ? 20 : 5;
  fx_series(f, m_a, 2, v, 40, MIN);
}

static void test_state_machine(void **state)
{
  (void)state;
  fx *f = fx_new(high_rule, NULL);
  input_high(f);
  alerting_group *g = fx_group(f, 0);
  const char *lbl = "{alertname=\"High\", i=\"a\", severity=\"page\"}";
  char got[512];
  double v;

  assert_int_equal(fx_rule(g, 0).state, ALERTING_UNKNOWN);
  assert_int_equal(alerting_group_eval(g, &f->env, 0), 0);
  assert_int_equal(fx_rule(g, 0).state, ALERTING_INACTIVE);
  assert_int_equal(fx_rule(g, 0).health, ALERTING_HEALTH_OK);
  assert_int_equal(fx_rule(g, 0).nalerts, 0);

  alerting_group_eval(g, &f->env, 1 * MIN); /* pending, active at 1m */
  alerting_alert_info a = fx_alert(g, 0, 0);
  assert_int_equal(a.state, ALERTING_PENDING);
  assert_int_equal(a.active_at_ms, 1 * MIN);
  assert_int_equal(f->nsent, 0);
  assert_int_equal(f->nchg, 1);
  assert_int_equal(f->chg[0].from, ALERTING_INACTIVE);
  assert_int_equal(f->chg[0].to, ALERTING_PENDING);
  fx_fmt(got, sizeof got, a.labels, a.nlabels);
  assert_string_equal(got, lbl);
  assert_int_equal(fx_query(&f->q, "ALERTS", 1 * MIN, &v, got, sizeof got), 1);
  assert_string_equal(got, "ALERTS{alertname=\"High\", alertstate=\"pending\", i=\"a\", severity=\"page\"}");

  alerting_group_eval(g, &f->env, 2 * MIN); /* 1m of 2m: still pending */
  assert_int_equal(fx_alert(g, 0, 0).state, ALERTING_PENDING);
  assert_int_equal(f->nsent, 0);

  alerting_group_eval(g, &f->env, 3 * MIN); /* fires */
  a = fx_alert(g, 0, 0);
  assert_int_equal(a.state, ALERTING_FIRING);
  assert_int_equal(a.fired_at_ms, 3 * MIN);
  assert_int_equal(fx_rule(g, 0).state, ALERTING_FIRING);
  assert_int_equal(f->nsent, 1);
  assert_string_equal(f->sent[0].labels, lbl);
  /* graph_image_url: the rule's expression over the hour before this evaluation (180 s) */
  assert_string_equal(f->sent[0].annotations,
                      "{graph_image_url=\"/api/v1/render?query=m+%3E+10&start=-3420&end=180&step=60&title=High\", "
                      "summary=\"v=20\"}");
  assert_int_equal(f->sent[0].starts_at, 3 * MIN);
  assert_int_equal(f->sent[0].ends_at, 3 * MIN + 4 * MIN); /* 4 × max(interval 1m, resend 1m) */
  assert_string_equal(f->sent[0].url, "/graph?g0.expr=m+%3E+10&g0.tab=1");
  assert_int_equal(f->chg[1].from, ALERTING_PENDING);
  assert_int_equal(f->chg[1].to, ALERTING_FIRING);
  assert_int_equal(fx_query(&f->q, "ALERTS{alertstate=\"firing\"}", 3 * MIN, &v, NULL, 0), 1);
  assert_int_equal(fx_query(&f->q, "ALERTS{alertstate=\"pending\"}", 3 * MIN, &v, NULL, 0), 0);
  assert_int_equal(fx_query(&f->q, "ALERTS_FOR_STATE", 3 * MIN, &v, NULL, 0), 1);
  assert_true(v == 60); /* ActiveAt in Unix seconds */

  alerting_group_eval(g, &f->env, 4 * MIN); /* resolves, sent as resolved */
  a = fx_alert(g, 0, 0);
  assert_int_equal(a.state, ALERTING_INACTIVE);
  assert_int_equal(a.resolved_at_ms, 4 * MIN);
  assert_int_equal(fx_rule(g, 0).state, ALERTING_INACTIVE);
  assert_int_equal(f->nsent, 2);
  assert_int_equal(f->sent[1].ends_at, 4 * MIN);
  assert_int_equal(f->sent[1].starts_at, 3 * MIN);
  assert_int_equal(f->chg[2].from, ALERTING_FIRING);
  assert_int_equal(f->chg[2].to, ALERTING_INACTIVE);
  assert_int_equal(fx_query(&f->q, "ALERTS", 4 * MIN, &v, NULL, 0), 0); /* stale */
  assert_int_equal(fx_query(&f->q, "ALERTS_FOR_STATE", 4 * MIN, &v, NULL, 0), 0);

  alerting_group_eval(g, &f->env, 5 * MIN); /* resent only after the resend delay */
  assert_int_equal(f->nsent, 2);
  alerting_group_eval(g, &f->env, 6 * MIN);
  assert_int_equal(f->nsent, 3);
  assert_int_equal(f->sent[2].ends_at, 4 * MIN);

  for (int64_t t = 7; t <= 19; t++) /* kept 15 minutes after resolving */
    alerting_group_eval(g, &f->env, t * MIN);
  assert_int_equal(fx_rule(g, 0).nalerts, 1);
  alerting_group_eval(g, &f->env, 20 * MIN);
  assert_int_equal(fx_rule(g, 0).nalerts, 0);
  assert_int_equal(f->nchg, 3);
  fx_free(f);
}

/* A firing alert is re-sent every resend delay (strictly after it), with
 * ValidUntil = now + 4 × max(interval, resend delay). */
static void test_resend(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  interval: 15s\n  rules:\n"
                 "  - alert: Always\n    expr: vector(1)\n",
                 NULL);
  f->env.resend_delay_ms = 60000;
  alerting_group *g = fx_group(f, 0);
  int64_t sent_at[8];
  size_t n = 0;
  for (int64_t t = 0; t <= 150000; t += 15000) {
    size_t before = f->nsent;
    alerting_group_eval(g, &f->env, t);
    if (f->nsent > before && n < 8)
      sent_at[n++] = t;
  }
  assert_int_equal(n, 3);
  assert_int_equal(sent_at[0], 0);
  assert_int_equal(sent_at[1], 75000);
  assert_int_equal(sent_at[2], 150000);
  assert_int_equal(f->sent[2].ends_at, 150000 + 4 * 60000);
  assert_int_equal(f->sent[2].starts_at, 0);
  fx_free(f);
}

static void test_keep_firing_for(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: Flap\n    expr: m > 10\n    keep_firing_for: 2m\n",
                 NULL);
  /* 20 at 0, gone at 1m, back at 2m (resets the clock), gone from 3m */
  double v[] = {20, 5, 20, 5, 5, 5, 5, 5};
  fx_series(f, m_a, 2, v, 8, MIN);
  alerting_group *g = fx_group(f, 0);
  enum alerting_state want[] = {ALERTING_FIRING, ALERTING_FIRING, ALERTING_FIRING,
                                ALERTING_FIRING, ALERTING_FIRING, ALERTING_INACTIVE};
  int64_t since[] = {0, 1 * MIN, 0, 3 * MIN, 3 * MIN, 3 * MIN};
  for (int t = 0; t < 6; t++) {
    alerting_group_eval(g, &f->env, t * MIN);
    alerting_alert_info a = fx_alert(g, 0, 0);
    assert_int_equal(a.state, want[t]);
    if (a.state == ALERTING_FIRING)
      assert_int_equal(a.keep_firing_since_ms, since[t]);
    assert_int_equal(a.active_at_ms, 0);
  }
  assert_int_equal(fx_alert(g, 0, 0).resolved_at_ms, 5 * MIN);
  fx_free(f);
}

/* A pending alert whose condition goes away is dropped, never sent. */
static void test_pending_dropped(void **state)
{
  (void)state;
  fx *f = fx_new(high_rule, NULL);
  double v[] = {20, 5, 5};
  fx_series(f, m_a, 2, v, 3, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  assert_int_equal(fx_rule(g, 0).nalerts, 1);
  alerting_group_eval(g, &f->env, MIN);
  assert_int_equal(fx_rule(g, 0).nalerts, 0);
  assert_int_equal(f->nsent, 0);
  assert_int_equal(f->nchg, 2);
  assert_int_equal(f->chg[1].from, ALERTING_PENDING);
  assert_int_equal(f->chg[1].to, ALERTING_INACTIVE);
  fx_free(f);
}

/* Labels and annotations are templates over the sample, the external
 * labels and URL, and PromQL through `query`; a rule label overrides a
 * sample label; an execution error is rendered into the text. */
static void test_templates(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: T\n    expr: m\n"
                 "    labels:\n"
                 "      i: 'was-{{ $labels.i }}'\n"
                 "      region: '{{ $externalLabels.region }}'\n"
                 "    annotations:\n"
                 "      value: '{{ $value | humanize }}'\n"
                 "      link: '{{ $externalURL }}/x'\n"
                 "      total: '{{ query \"sum(m)\" | first | value }}'\n"
                 "      bad: '{{ query \"nosuchfn(m)\" | first | value }}'\n",
                 NULL);
  double v[] = {1234567};
  fx_series(f, m_a, 2, v, 1, MIN);
  lk_label ext[] = {{"region", "eu"}};
  f->env.external_labels = ext;
  f->env.nexternal_labels = 1;
  f->env.external_url = "https://lookout.example";
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  assert_int_equal(f->nsent, 1);
  assert_string_equal(f->sent[0].labels, "{alertname=\"T\", i=\"was-a\", region=\"eu\"}");
  assert_string_equal(f->sent[0].url, "https://lookout.example/graph?g0.expr=m&g0.tab=1");
  const char *ann = f->sent[0].annotations;
  assert_non_null(strstr(ann, "value=\"1.235M\""));
  assert_non_null(strstr(ann, "link=\"https://lookout.example/x\""));
  assert_non_null(strstr(ann, "total=\"1.234567e+06\"")); /* Go prints float64 with %v */
  assert_non_null(strstr(ann, "bad=\"<error expanding template: "));
  assert_non_null(strstr(ann, "graph_image_url=\"https://lookout.example/api/v1/render?query=m&start=-3600&end=0&"));
  fx_free(f);
}

/* A rule's own graph_image_url annotation is sent as written; the alert's
 * state (the rules API) never holds the added one. */
static void test_graph_image_own(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: Own\n    expr: vector(1)\n    annotations: {graph_image_url: 'https://img/x'}\n"
                 "  - alert: Added\n    expr: vector(2)\n",
                 NULL);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  assert_int_equal(f->nsent, 2);
  assert_string_equal(f->sent[0].annotations, "{graph_image_url=\"https://img/x\"}");
  assert_non_null(strstr(f->sent[1].annotations, "graph_image_url=\"/api/v1/render?query=vector%282%29&"));
  alerting_alert_info a = fx_alert(g, 1, 0);
  assert_int_equal(a.nannotations, 0);
  fx_free(f);
}

/* Recording rules: name replaced, labels applied, read back through
 * PromQL; a later rule sees an earlier one's output; a series that goes
 * away is marked stale. */
static void test_recording(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - record: job:m:sum\n    expr: sum by (job) (m)\n    labels: {source: rule}\n"
                 "  - record: job:m:double\n    expr: job:m:sum * 2\n"
                 "  - record: big\n    expr: m > 5\n",
                 NULL);
  const lk_label m1[] = {{"__name__", "m"}, {"i", "a"}, {"job", "x"}};
  const lk_label m2[] = {{"__name__", "m"}, {"i", "b"}, {"job", "x"}};
  double v1[] = {1, 2, 3}, v2[] = {10, 20, 1};
  fx_series(f, m1, 3, v1, 3, MIN);
  fx_series(f, m2, 3, v2, 3, MIN);
  alerting_group *g = fx_group(f, 0);
  double v;
  char lbl[256];
  alerting_group_eval(g, &f->env, 0);
  assert_int_equal(fx_query(&f->q, "job:m:sum", 0, &v, lbl, sizeof lbl), 1);
  assert_string_equal(lbl, "job:m:sum{job=\"x\", source=\"rule\"}");
  assert_true(v == 11);
  assert_int_equal(fx_query(&f->q, "job:m:double", 0, &v, NULL, 0), 1);
  assert_true(v == 22);
  alerting_group_eval(g, &f->env, MIN);
  assert_int_equal(fx_query(&f->q, "job:m:double", MIN, &v, NULL, 0), 1);
  assert_true(v == 44);
  assert_int_equal(fx_query(&f->q, "big", MIN + 30000, &v, lbl, sizeof lbl), 1);
  assert_string_equal(lbl, "big{i=\"b\", job=\"x\"}");
  /* at 2m b drops to 1: `big` has no output, and its stale marker ends the
   * series at once (without it the 1m sample would show until 6m) */
  alerting_group_eval(g, &f->env, 2 * MIN);
  assert_int_equal(fx_query(&f->q, "big", 2 * MIN + 1000, &v, NULL, 0), 0);
  assert_int_equal(fx_query(&f->q, "job:m:sum", 2 * MIN + 1000, &v, NULL, 0), 1);
  assert_true(v == 4);
  fx_free(f);
}

/* `limit`: too many alerts or series discard the rule's whole output, clear
 * its alerts, and keep the error on the rule with its time. */
static void test_limit(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  limit: 1\n  rules:\n"
                 "  - alert: Many\n    expr: m\n"
                 "  - record: many:copy\n    expr: m\n",
                 NULL);
  const lk_label b[] = {{"__name__", "m"}, {"i", "b"}};
  double v[] = {1, 1, 1};
  fx_series(f, m_a, 2, v, 3, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  assert_int_equal(fx_rule(g, 0).health, ALERTING_HEALTH_OK);
  assert_int_equal(fx_rule(g, 0).nalerts, 1);
  fx_series(f, b, 2, v, 3, MIN);
  alerting_group_eval(g, &f->env, MIN);
  alerting_rule_info r0 = fx_rule(g, 0), r1 = fx_rule(g, 1);
  assert_int_equal(r0.health, ALERTING_HEALTH_ERR);
  assert_string_equal(r0.last_error, "exceeded limit of 1 with 2 alerts");
  assert_int_equal(r0.last_eval_ms, MIN);
  assert_int_equal(r0.nalerts, 0);
  assert_int_equal(r1.health, ALERTING_HEALTH_ERR);
  assert_string_equal(r1.last_error, "exceeded limit of 1 with 2 series");
  double out;
  assert_int_equal(fx_query(&f->q, "ALERTS", MIN, &out, NULL, 0), 1);      /* the 0s sample */
  assert_int_equal(fx_query(&f->q, "many:copy", MIN, &out, NULL, 0), 1);   /* nothing new */
  assert_int_equal(fx_query(&f->q, "count(ALERTS)", MIN, &out, NULL, 0), 1);
  assert_true(out == 1);
  fx_free(f);
}

/* Two samples that become the same alert are the rule's error. */
static void test_duplicate_alerts(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: Dup\n    expr: m\n    labels: {i: same}\n",
                 NULL);
  const lk_label b[] = {{"__name__", "m"}, {"i", "b"}};
  double v[] = {1};
  fx_series(f, m_a, 2, v, 1, MIN);
  fx_series(f, b, 2, v, 1, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  alerting_rule_info r = fx_rule(g, 0);
  assert_int_equal(r.health, ALERTING_HEALTH_ERR);
  assert_string_equal(r.last_error,
                      "vector contains metrics with the same labelset after applying alert labels");
  fx_free(f);
}

/* query_offset: the expr sees now − offset and the output is written there. */
static void test_query_offset(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  query_offset: 1m\n  rules:\n"
                 "  - record: m:copy\n    expr: m\n",
                 NULL);
  double v[] = {1, 2, 3, 4};
  fx_series(f, m_a, 2, v, 4, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 3 * MIN);
  double out;
  assert_int_equal(fx_query(&f->q, "m:copy", 2 * MIN, &out, NULL, 0), 1);
  assert_true(out == 3);
  assert_int_equal(fx_query(&f->q, "timestamp(m:copy)", 3 * MIN, &out, NULL, 0), 1);
  assert_true(out == 120);
  fx_free(f);
}

/* A reload keeps the alerts of unchanged rules; raising `for` sends a
 * firing alert younger than the new `for` back to pending; series of a
 * rule that went away are marked stale at the next evaluation. */
static void test_reload(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: A\n    expr: m > 0\n"
                 "  - alert: B\n    expr: m > 0\n    for: 1m\n"
                 "  - record: gone\n    expr: m\n",
                 NULL);
  double v[] = {1, 1, 1, 1, 1, 1};
  fx_series(f, m_a, 2, v, 6, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  alerting_group_eval(g, &f->env, MIN);
  assert_int_equal(fx_alert(g, 1, 0).state, ALERTING_FIRING);

  char path[256];
  fx_write(f->dir, "rules.yaml",
           "groups:\n- name: g\n  rules:\n"
           "  - alert: A\n    expr: m > 0\n"
           "  - alert: B\n    expr: m > 0\n    for: 5m\n"
           "  - alert: New\n    expr: m > 0\n",
           path, sizeof path);
  const char *files[] = {path};
  alerting_rules *next = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_rules_load(files, 1, NULL, &next, &d), 0);
  alerting_rules_carry_state(next, f->rules);
  alerting_rules_free(f->rules);
  f->rules = next;
  g = fx_group(f, 0);
  /* B's labels changed? No: same name and labels, so it keeps its state;
   * its `for` went up to 5m, so at 2m (age 2m) it is pending again. */
  assert_int_equal(fx_alert(g, 0, 0).active_at_ms, 0);
  double out;
  assert_int_equal(fx_query(&f->q, "gone", MIN, &out, NULL, 0), 1);
  alerting_group_eval(g, &f->env, 2 * MIN);
  assert_int_equal(fx_alert(g, 0, 0).state, ALERTING_FIRING);
  assert_int_equal(fx_alert(g, 0, 0).active_at_ms, 0);
  assert_int_equal(fx_alert(g, 1, 0).state, ALERTING_PENDING);
  assert_int_equal(fx_alert(g, 1, 0).active_at_ms, 0);
  assert_int_equal(fx_alert(g, 2, 0).state, ALERTING_FIRING);
  assert_int_equal(fx_alert(g, 2, 0).active_at_ms, 2 * MIN);
  assert_int_equal(fx_query(&f->q, "gone", 2 * MIN, &out, NULL, 0), 0); /* stale */
  alerting_group_eval(g, &f->env, 5 * MIN);
  assert_int_equal(fx_alert(g, 1, 0).state, ALERTING_FIRING);
  fx_free(f);
}

/*---- Restore from ALERTS_FOR_STATE in a real tsdb ----*/

static tsdb *open_db(const char *dir)
{
  tsdb_opts o = {.dir = dir};
  tsdb *db = NULL;
  lk_diag d = {0};
  if (tsdb_open(&o, &db, &d)) {
    fprintf(stderr, "tsdb: %s\n", d.msg);
    abort();
  }
  return db;
}

static const char *slow_rule = "groups:\n- name: g\n  rules:\n"
                               "  - alert: Slow\n    expr: m > 0\n    for: 10m\n";

/* Engine 1 sees m > 0 from 0 to 4m (pending, ActiveAt 0) and stops; the
 * restarted engine evaluates from `restart` with the given grace period
 * and outage tolerance. Returns the restored ActiveAt. */
static int64_t restart_active_at(int64_t restart, int64_t grace, int64_t tolerance)
{
  fx *f = fx_new(slow_rule, NULL);
  char dbdir[128];
  snprintf(dbdir, sizeof dbdir, "%s/db", f->dir);
  tsdb *db = open_db(dbdir);
  lk_sample s[40];
  for (int i = 0; i < 40; i++)
    s[i] = (lk_sample){i * MIN, 1};
  lk_series in = {m_a, 2, s, 40};
  tsdb_append_stats st = {0};
  lk_diag d = {0};
  assert_int_equal(tsdb_append(db, &in, 1, &st, &d), 0);
  promql_queryable q = promql_queryable_tsdb(db);
  alerting_env env = {.q = &q, .app = alerting_appender_tsdb(db)};
  alerting_group *g = fx_group(f, 0);
  for (int64_t t = 0; t <= 4 * MIN; t += MIN)
    alerting_group_eval(g, &env, t);
  assert_int_equal(fx_alert(g, 0, 0).state, ALERTING_PENDING);
  tsdb_close(db);

  db = open_db(dbdir); /* the restart: a new engine over the reopened tsdb */
  q = promql_queryable_tsdb(db);
  env = (alerting_env){.q = &q, .app = alerting_appender_tsdb(db), .for_grace_period_ms = grace,
                       .for_outage_tolerance_ms = tolerance};
  char path[256];
  snprintf(path, sizeof path, "%s/rules.yaml", f->dir);
  const char *files[] = {path};
  alerting_load_opts o = {.restore = true};
  alerting_rules *rs = NULL;
  assert_int_equal(alerting_rules_load(files, 1, &o, &rs, &d), 0);
  g = alerting_rules_group(rs, 0);
  alerting_group_eval(g, &env, restart);
  assert_int_equal(fx_alert(g, 0, 0).active_at_ms, restart);
  double v;
  /* not restored yet: no ALERTS written by the new engine */
  assert_int_equal(fx_query(&q, "ALERTS", restart, &v, NULL, 0), 0);
  alerting_group_eval(g, &env, restart + MIN); /* second evaluation, then restore */
  int64_t active = fx_alert(g, 0, 0).active_at_ms;
  alerting_group_eval(g, &env, restart + 2 * MIN);
  assert_int_equal(fx_query(&q, "ALERTS_FOR_STATE", restart + 2 * MIN, &v, NULL, 0), 1);
  assert_true(v == (double)(active / 1000));
  alerting_rules_free(rs);
  tsdb_close(db);
  fx_free(f);
  return active;
}

static void test_restore(void **state)
{
  (void)state;
  /* down at 4m after 4m pending of 10m; restored at 11m: 6m left, more than
   * the 1m grace period, so ActiveAt moves by the downtime: 0 + (11m − 4m) */
  assert_int_equal(restart_active_at(10 * MIN, MIN, 0), 7 * MIN);
  /* 6m left is less than a 10m grace period: fire 10m after the restore,
   * ActiveAt = 11m + 10m − 10m */
  assert_int_equal(restart_active_at(10 * MIN, 10 * MIN, 0), 11 * MIN);
  /* down longer than the outage tolerance (5m): nothing to restore */
  assert_int_equal(restart_active_at(10 * MIN, MIN, 5 * MIN), 10 * MIN);
}

/* A `for` shorter than the grace period is not restored (it just waits its
 * `for`); ALERTS are only written once the group is past the restore. */
static void test_restore_off_below_grace(void **state)
{
  (void)state;
  fx *f = fx_new("groups:\n- name: g\n  rules:\n"
                 "  - alert: Short\n    expr: m > 0\n    for: 2m\n",
                 &(alerting_load_opts){.restore = true});
  double v[] = {1, 1, 1, 1, 1};
  fx_series(f, m_a, 2, v, 5, MIN);
  alerting_group *g = fx_group(f, 0);
  alerting_group_eval(g, &f->env, 0);
  alerting_group_eval(g, &f->env, MIN); /* restore: for 2m < grace 10m, skipped */
  alerting_group_eval(g, &f->env, 2 * MIN);
  assert_int_equal(fx_alert(g, 0, 0).state, ALERTING_FIRING);
  double out;
  assert_int_equal(fx_query(&f->q, "ALERTS", 2 * MIN, &out, NULL, 0), 1);
  assert_int_equal(fx_query(&f->q, "ALERTS", 0, &out, NULL, 0), 0); /* not before restore */
  fx_free(f);
}

/* A reload between startup and the restore keeps the restore pending: the
 * group is restored after its second evaluation all the same, and ALERTS
 * are written from then on. */
static void test_reload_before_restore(void **state)
{
  (void)state;
  const char *y = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: m > 0\n";
  fx *f = fx_new(y, &(alerting_load_opts){.restore = true});
  double v[] = {1, 1, 1, 1};
  fx_series(f, m_a, 2, v, 4, MIN);
  alerting_group_eval(fx_group(f, 0), &f->env, 0);
  char path[256];
  snprintf(path, sizeof path, "%s/rules.yaml", f->dir);
  const char *files[] = {path};
  alerting_rules *next = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_rules_load(files, 1, NULL, &next, &d), 0);
  alerting_rules_carry_state(next, f->rules);
  alerting_rules_free(f->rules);
  f->rules = next;
  double out;
  alerting_group_eval(fx_group(f, 0), &f->env, MIN); /* second evaluation, then the restore */
  assert_int_equal(fx_query(&f->q, "ALERTS", MIN, &out, NULL, 0), 0);
  alerting_group_eval(fx_group(f, 0), &f->env, 2 * MIN);
  assert_int_equal(fx_query(&f->q, "ALERTS", 2 * MIN, &out, NULL, 0), 1);
  fx_free(f);
}

/* A quick figure: 1,000 alerting rules over 100 series, evaluated. */
static void test_rate_figure(void **state)
{
  (void)state;
  lk_buf y = {0};
  lk_buf_puts(&y, "groups:\n- name: bench\n  rules:\n");
  for (int i = 0; i < 1000; i++)
    lk_buf_printf(&y, "  - alert: R%d\n    expr: m > %d\n    for: 1m\n"
                      "    annotations: {summary: '{{ $labels.i }} {{ $value }}'}\n",
                  i, i % 50);
  fx *f = fx_new((const char *)y.data, NULL);
  lk_buf_fini(&y);
  f->env.send = NULL;
  f->env.on_change = NULL;
  f->env.app.append = NULL; /* the engine alone, not the in-memory store's linear select */
  for (int s = 0; s < 100; s++) {
    char iv[16];
    snprintf(iv, sizeof iv, "%d", s);
    lk_label l[] = {{"__name__", "m"}, {"i", iv}};
    double v[] = {s, s, s, s, s};
    fx_series(f, l, 2, v, 5, MIN);
  }
  alerting_group *g = fx_group(f, 0);
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  for (int64_t t = 0; t < 4; t++)
    alerting_group_eval(g, &f->env, t * MIN);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  double secs = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  size_t alerts = 0;
  for (size_t i = 0; i < 1000; i++)
    alerts += fx_rule(g, i).nalerts;
  assert_int_equal(alerts, 74500); /* 20 rules per threshold k = 0..49, 99 − k series each */
  printf("# figure: 4,000 rule evaluations (1,000 alerting rules x 4, 100 series, %zu alerts) "
         "in %.3f CPU s: %.0f rules per CPU second\n", alerts, secs, 4000 / secs);
  assert_int_equal(fx_rule(g, 0).nalerts, 99);
  assert_int_equal(fx_alert(g, 0, 0).state, ALERTING_FIRING);
  fx_free(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_state_machine),
    cmocka_unit_test(test_resend),
    cmocka_unit_test(test_keep_firing_for),
    cmocka_unit_test(test_pending_dropped),
    cmocka_unit_test(test_templates),
    cmocka_unit_test(test_graph_image_own),
    cmocka_unit_test(test_recording),
    cmocka_unit_test(test_limit),
    cmocka_unit_test(test_duplicate_alerts),
    cmocka_unit_test(test_query_offset),
    cmocka_unit_test(test_reload),
    cmocka_unit_test(test_restore),
    cmocka_unit_test(test_restore_off_below_grace),
    cmocka_unit_test(test_reload_before_restore),
    cmocka_unit_test(test_rate_figure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
