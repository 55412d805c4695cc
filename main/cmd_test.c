/* cmd_test.c — `lookout test rules FILE...`: rule unit tests in promtool's
 * test-file format (alerting_unittest_run), with promtool's output and exit
 * status (0 all passed, 1 a test failed, 2 usage). */
#include <stdio.h>
#include <string.h>

#include "alerting/alerting.h"
#include "main/cmd.h"

static int usage(FILE *f, int rc)
{
  fprintf(f, "usage: lookout test rules FILE...\n\n"
             "Run rule unit tests written for `promtool test rules` (rule_files,\n"
             "evaluation_interval, group_eval_order, tests with input_series,\n"
             "alert_rule_test and promql_expr_test); log rules also take input_streams.\n");
  return rc;
}

int cmd_test(int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
    return usage(stdout, 0);
  if (argc < 3 || strcmp(argv[1], "rules"))
    return usage(stderr, 2);
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return usage(stdout, 0);
  return alerting_unittest_run((const char *const *)argv + 2, (size_t)(argc - 2), stdout, stderr);
}
