/* test_rules_load.c — loading rule files: every bad_*.yaml in
 * tests/alerting/rules_check is refused with "<file>:<line>: <what>" as its
 * first line ("# error: @LINE: TEXT") says, every good_*.yaml and every
 * rule file shipped in examples/rules loads, with the fields read back
 * through the state API; a refused reload leaves nothing half-loaded.
 * (rules_promtool.py checks that promtool gives the same verdicts.)
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerting/alerting.h"

static const char *srcdir(void)
{
  const char *s = getenv("LK_SRCDIR");
  return s ? s : ".";
}

/* "# error: @LINE: TEXT" from the first line of path. */
static void expectation(const char *path, int *line, char *text, size_t cap)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char buf[512];
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  int off = 0;
  assert_int_equal(sscanf(buf, "# error: @%d: %n", line, &off), 1);
  snprintf(text, cap, "%s", buf + off);
  text[strcspn(text, "\n")] = 0;
}

static size_t for_each_file(const char *prefix, void (*fn)(const char *path))
{
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tests/alerting/rules_check", srcdir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 1000;) {
    if (strncmp(e->d_name, prefix, strlen(prefix)))
      continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    fn(path);
    n++;
  }
  closedir(d);
  return n;
}

static void check_bad(const char *path)
{
  int line;
  char text[256], want[1600];
  expectation(path, &line, text, sizeof text);
  const char *files[] = {path};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  int rc = alerting_rules_load(files, 1, NULL, &rs, &d);
  if (rc == 0 || !strstr(d.msg, text)) {
    print_error("%s: rc %d, message \"%s\", want \"%s\"\n", path, rc, d.msg, text);
    fail();
  }
  assert_null(rs);
  snprintf(want, sizeof want, "%s:%d: ", path, line);
  if (strncmp(d.msg, want, strlen(want))) {
    print_error("%s: message \"%s\" does not start with \"%s\"\n", path, d.msg, want);
    fail();
  }
}

static void check_good(const char *path)
{
  const char *files[] = {path};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  if (alerting_rules_load(files, 1, NULL, &rs, &d)) {
    print_error("%s: %s\n", path, d.msg);
    fail();
  }
  alerting_rules_free(rs);
}

static void test_bad_files(void **state)
{
  (void)state;
  assert_true(for_each_file("bad_", check_bad) >= 20);
}

static void test_good_files(void **state)
{
  (void)state;
  assert_true(for_each_file("good_", check_good) >= 4);
}

/* The shipped examples load, and the state API shows what they say. */
static void test_examples(void **state)
{
  (void)state;
  char node[1024], cont[1024], logs[1024];
  snprintf(node, sizeof node, "%s/examples/rules/node.yaml", srcdir());
  snprintf(cont, sizeof cont, "%s/examples/rules/containers.yaml", srcdir());
  snprintf(logs, sizeof logs, "%s/examples/rules/logs.yaml", srcdir());
  const char *files[] = {node, cont, logs};
  alerting_load_opts o = {.default_interval_ms = 15000};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_rules_load(files, 3, &o, &rs, &d), 0);
  assert_int_equal(alerting_rules_ngroups(rs), 3);

  alerting_group_info gi;
  alerting_group_get(alerting_rules_group(rs, 0), &gi);
  assert_string_equal(gi.name, "node");
  assert_string_equal(gi.file, node);
  assert_int_equal(gi.interval_ms, 15000); /* the default */
  assert_false(gi.logql);
  assert_int_equal(gi.nrules, 5);
  alerting_rule_info ri;
  alerting_group_rule(alerting_rules_group(rs, 0), 4, &ri);
  assert_string_equal(ri.name, "NodeDiskAlmostFull");
  assert_true(ri.alerting);
  assert_int_equal(ri.for_ms, 600000);
  assert_int_equal(ri.keep_firing_for_ms, 300000);
  assert_int_equal(ri.health, ALERTING_HEALTH_UNKNOWN);
  assert_int_equal(ri.state, ALERTING_UNKNOWN);
  assert_string_equal(ri.last_error, "");

  alerting_group_get(alerting_rules_group(rs, 1), &gi);
  assert_int_equal(gi.interval_ms, 30000);
  assert_int_equal(gi.limit, 1000);
  alerting_group_rule(alerting_rules_group(rs, 1), 0, &ri);
  assert_false(ri.alerting);
  assert_string_equal(ri.name, "namespace_pod_container:container_cpu_usage_seconds:rate5m");

  alerting_group_get(alerting_rules_group(rs, 2), &gi);
  assert_true(gi.logql);
  alerting_rules_free(rs);
}

/* Group labels go under every rule's labels (the rule's own win), and a
 * group's query_offset is read. */
static void test_group_labels(void **state)
{
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/alerting/rules_check/good_prom3_group_fields.yaml", srcdir());
  const char *files[] = {path};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_rules_load(files, 1, NULL, &rs, &d), 0);
  alerting_group_info gi;
  alerting_group_get(alerting_rules_group(rs, 0), &gi);
  assert_int_equal(gi.query_offset_ms, 30000);
  assert_int_equal(gi.interval_ms, 60000);
  alerting_rule_info ri;
  alerting_group_rule(alerting_rules_group(rs, 0), 0, &ri);
  assert_int_equal(ri.nlabels, 1);
  assert_string_equal(ri.labels[0].name, "team");
  assert_string_equal(ri.labels[0].value, "db");
  alerting_rules_free(rs);
}

/* One bad file among good ones refuses the whole set. */
static void test_one_bad_refuses_all(void **state)
{
  (void)state;
  char good[1024], bad[1024];
  snprintf(good, sizeof good, "%s/examples/rules/node.yaml", srcdir());
  snprintf(bad, sizeof bad, "%s/tests/alerting/rules_check/bad_promql.yaml", srcdir());
  const char *files[] = {good, bad};
  alerting_rules *rs = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_rules_load(files, 2, NULL, &rs, &d), LK_EINVAL);
  assert_null(rs);
  assert_non_null(strstr(d.msg, "bad_promql.yaml:8:"));
  const char *missing[] = {"/nonexistent/rules.yaml"};
  memset(&d, 0, sizeof d);
  assert_int_equal(alerting_rules_load(missing, 1, NULL, &rs, &d), LK_ENOENT);
  assert_non_null(strstr(d.msg, "/nonexistent/rules.yaml"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bad_files),
    cmocka_unit_test(test_good_files),
    cmocka_unit_test(test_examples),
    cmocka_unit_test(test_group_labels),
    cmocka_unit_test(test_one_bad_refuses_all),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
