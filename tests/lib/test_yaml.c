/* test_yaml.c — lib/lk_yaml: the tree, line numbers in every error, typed
 * reads, key checks, JSON conversion with YAML 1.2 core typing, limits, and
 * the atomic file writer it is used with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/lk_fs.h"
#include "lib/lk_yaml.h"

static lk_yaml *parse(const char *text)
{
  lk_yaml *y = NULL;
  lk_diag d = {0};
  int rc = lk_yaml_parse(text, strlen(text), "f.yaml", &y, &d);
  if (rc)
    fail_msg("parse: %s", d.msg);
  return y;
}

static void test_tree_and_lines(void **state)
{
  (void)state;
  lk_yaml *y = parse("groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up == 0\n");
  assert_int_equal(lk_yaml_ndocs(y), 1);
  const lk_ynode *root = lk_yaml_doc(y, 0);
  assert_int_equal(lk_ynode_kind(root), LK_YMAP);
  const lk_ynode *groups = lk_ynode_get(root, "groups");
  assert_int_equal(lk_ynode_kind(groups), LK_YSEQ);
  assert_int_equal(lk_ynode_len(groups), 1);
  const lk_ynode *rule = lk_ynode_at(lk_ynode_get(lk_ynode_at(groups, 0), "rules"), 0);
  assert_string_equal(lk_ynode_str(lk_ynode_get(rule, "expr")), "up == 0");
  assert_int_equal(lk_ynode_line(lk_ynode_get(rule, "expr")), 5);
  assert_null(lk_ynode_get(rule, "for"));
  assert_null(lk_ynode_at(groups, 1));
  lk_diag d = {0};
  assert_int_equal(lk_yaml_err(y, lk_ynode_get(rule, "expr"), &d, LK_EINVAL, "bad %s", "expr"), LK_EINVAL);
  assert_string_equal(d.msg, "f.yaml:5: bad expr");
  lk_yaml_free(y);
}

static void test_multi_doc_and_empty(void **state)
{
  (void)state;
  lk_yaml *y = parse("a: 1\n---\n---\nb: 2\n");
  assert_int_equal(lk_yaml_ndocs(y), 3);
  assert_int_equal(lk_ynode_kind(lk_yaml_doc(y, 1)), LK_YNULL);
  assert_string_equal(lk_ynode_str(lk_ynode_get(lk_yaml_doc(y, 2), "b")), "2");
  assert_int_equal(lk_ynode_kind(lk_yaml_doc(y, 9)), LK_YNULL);
  lk_yaml_free(y);
  y = parse("");
  assert_int_equal(lk_yaml_ndocs(y), 0);
  lk_yaml_free(y);
}

static void test_syntax_error_line(void **state)
{
  (void)state;
  lk_yaml *y = NULL;
  lk_diag d = {0};
  const char *text = "a: 1\nb: [1, 2\nc: 3\n";
  assert_int_equal(lk_yaml_parse(text, strlen(text), "bad.yaml", &y, &d), LK_EPARSE);
  assert_null(y);
  assert_non_null(strstr(d.msg, "bad.yaml:"));
}

static void test_typed_reads(void **state)
{
  (void)state;
  lk_yaml *y = parse("i: 42\nh: 0x1f\nf: 1.5\nb: true\nq: \"7\"\ndur: 1h30m\nbad: 5x\nl: [1]\nn: ~\n");
  const lk_ynode *r = lk_yaml_doc(y, 0);
  lk_diag d = {0};
  int64_t i;
  double f;
  bool b;
  const char *s;
  assert_int_equal(lk_ynode_int(y, lk_ynode_get(r, "i"), "i", &i, &d), 0);
  assert_int_equal(i, 42);
  assert_int_equal(lk_ynode_int(y, lk_ynode_get(r, "h"), "h", &i, &d), 0);
  assert_int_equal(i, 31);
  assert_int_equal(lk_ynode_float(y, lk_ynode_get(r, "f"), "f", &f, &d), 0);
  assert_true(f == 1.5);
  assert_int_equal(lk_ynode_bool(y, lk_ynode_get(r, "b"), "b", &b, &d), 0);
  assert_true(b);
  assert_int_equal(lk_ynode_duration(y, lk_ynode_get(r, "dur"), "dur", &i, &d), 0);
  assert_int_equal(i, 5400000);
  assert_int_equal(lk_ynode_string(y, lk_ynode_get(r, "q"), "q", &s, &d), 0);
  assert_string_equal(s, "7");
  assert_int_equal(lk_ynode_int(y, lk_ynode_get(r, "q"), "q", &i, &d), LK_EINVAL); /* quoted */
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_ynode_duration(y, lk_ynode_get(r, "bad"), "x.for", &i, &d), LK_EINVAL);
  assert_non_null(strstr(d.msg, "f.yaml:7: x.for: "));
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_ynode_string(y, lk_ynode_get(r, "l"), "labels.a", &s, &d), LK_EINVAL);
  assert_string_equal(d.msg, "f.yaml:8: labels.a: expected a string, not a list");
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_ynode_kind(lk_ynode_get(r, "n")), LK_YNULL);
  assert_int_equal(lk_ynode_bool(y, lk_ynode_get(r, "n"), "n", &b, &d), LK_EINVAL);
  lk_yaml_free(y);
}

static void test_check_keys(void **state)
{
  (void)state;
  static const char *const allowed[] = {"alert", "expr", "for", NULL};
  lk_yaml *y = parse("alert: A\nexpr: up\nfro: 5m\n");
  lk_diag d = {0};
  assert_int_equal(lk_ynode_check_keys(y, lk_yaml_doc(y, 0), "rule", allowed, &d), LK_EINVAL);
  assert_string_equal(d.msg, "f.yaml:3: field fro not found in rule");
  lk_yaml_free(y);
  y = parse("alert: A\nexpr: up\nalert: B\n");
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_ynode_check_keys(y, lk_yaml_doc(y, 0), "rule", allowed, &d), LK_EINVAL);
  assert_string_equal(d.msg, "f.yaml:3: rule: key alert given twice");
  lk_yaml_free(y);
  y = parse("- a\n");
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_ynode_check_keys(y, lk_yaml_doc(y, 0), "rule", allowed, &d), LK_EINVAL);
  assert_string_equal(d.msg, "f.yaml:1: rule: expected a mapping, not a list");
  lk_yaml_free(y);
}

static void test_to_json(void **state)
{
  (void)state;
  lk_yaml *y = parse("apiVersion: apps/v1\nspec:\n  replicas: 3\n  paused: false\n  x: ~\n"
                     "  q: \"3\"\n  f: 0.5\n  o: 0o17\n  neg: -4\n  ver: 1.2.3\n  inf: .inf\n"
                     "  l: [a, 1, true]\n");
  json_t *j = NULL;
  lk_diag d = {0};
  assert_int_equal(lk_ynode_to_json(y, lk_yaml_doc(y, 0), &j, &d), 0);
  char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
  assert_string_equal(s, "{\"apiVersion\":\"apps/v1\",\"spec\":{\"f\":0.5,\"inf\":\".inf\",\"l\":[\"a\",1,true],"
                         "\"neg\":-4,\"o\":15,\"paused\":false,\"q\":\"3\",\"replicas\":3,\"ver\":\"1.2.3\",\"x\":null}}");
  free(s);
  json_decref(j);
  lk_yaml_free(y);
}

static void test_alias_bomb_is_bounded(void **state)
{
  (void)state;
  /* 10 levels of 10 references: 10^10 nodes once expanded. */
  char text[4096];
  size_t n = (size_t)snprintf(text, sizeof text, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i < 10; i++) {
    n += (size_t)snprintf(text + n, sizeof text - n, "a%d: &a%d [", i, i);
    for (int k = 0; k < 10; k++)
      n += (size_t)snprintf(text + n, sizeof text - n, "*a%d%s", i - 1, k < 9 ? ", " : "]\n");
  }
  lk_yaml *y = parse(text);
  json_t *j = NULL;
  lk_diag d = {0};
  assert_int_equal(lk_ynode_to_json(y, lk_yaml_doc(y, 0), &j, &d), LK_ELIMIT);
  assert_null(j);
  lk_yaml_free(y);
}

static void test_files(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk_yaml_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof path, "%s/c.yaml", dir);
  lk_diag d = {0};
  assert_int_equal(lk_write_file_atomic(path, "k: v\n", 5, &d), 0);
  assert_int_equal(lk_write_file_atomic(path, "k: w\n", 5, &d), 0);
  lk_yaml *y = NULL;
  assert_int_equal(lk_yaml_load(path, &y, &d), 0);
  assert_string_equal(lk_ynode_str(lk_ynode_get(lk_yaml_doc(y, 0), "k")), "w");
  lk_yaml_free(y);
  char *buf;
  size_t len;
  assert_int_equal(lk_read_file(path, 4, &buf, &len, &d), LK_ETOOBIG);
  char tmp[140];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(access(tmp, F_OK), -1);
  unlink(path);
  assert_int_equal(lk_yaml_load(path, &y, &d), LK_ENOENT);
  rmdir(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tree_and_lines),   cmocka_unit_test(test_multi_doc_and_empty),
    cmocka_unit_test(test_syntax_error_line), cmocka_unit_test(test_typed_reads),
    cmocka_unit_test(test_check_keys),        cmocka_unit_test(test_to_json),
    cmocka_unit_test(test_alias_bomb_is_bounded), cmocka_unit_test(test_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
