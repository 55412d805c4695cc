/* test_builtin_rules.c — Lookout's built-in health rules are a rule file
 * both Lookout and Prometheus accept: Lookout's loader reads it (every group
 * and rule), and `promtool check rules` passes on the same bytes (skipped,
 * exit 77, when promtool is not installed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/alerting.h"
#include "lib/lk_fs.h"

static int fail(const char *what, const char *msg)
{
  fprintf(stderr, "FAIL: %s: %s\n", what, msg);
  return 1;
}

int main(void)
{
  char dir[] = "/tmp/lkbuiltinXXXXXX";
  if (!mkdtemp(dir))
    return fail("mkdtemp", "cannot create a temp dir");
  char path[128];
  snprintf(path, sizeof path, "%s/builtin.rules.yml", dir);
  const char *text = alerting_builtin_rules();
  lk_diag d = {0};
  if (lk_write_file_atomic(path, text, strlen(text), &d))
    return fail("write", d.msg);
  const char *files[] = {path};
  alerting_rules *rs = NULL;
  if (alerting_rules_load(files, 1, NULL, &rs, &d))
    return fail("Lookout's loader", d.msg);
  alerting_group_info gi;
  alerting_group_get(alerting_rules_group(rs, 0), &gi);
  int rc = alerting_rules_ngroups(rs) == 1 && gi.nrules == 6 ? 0 : fail("loader", "expected 1 group of 6 rules");
  alerting_rules_free(rs);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "promtool check rules %s", path);
  int st = rc ? 0 : system("command -v promtool >/dev/null") ? 77 : system(cmd);
  if (st && st != 77)
    rc = fail("promtool check rules", "refused the built-in rules (its output is above)");
  unlink(path);
  rmdir(dir);
  if (st == 77) {
    printf("SKIP: promtool not installed\n");
    return 77;
  }
  return rc;
}
