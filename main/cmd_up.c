/* cmd_up.c — `lookout up`: the all-in-one node. It runs the server (storage,
 * HTTP API and dashboard, rules, the in-process Alertmanager, the
 * orchestrator and autoscaler) and the node agent in-process (cmd_server.c
 * starts it for "up"; its batches go straight into local storage). */
#include <string.h>

#include "lib/lk_log.h"
#include "main/cmd.h"
#include "main/serve.h"

int cmd_up(int argc, char **argv)
{
  static const char what[] =
      "Runs the all-in-one node: storage, the HTTP API and dashboard, the rule\n"
      "engine (rule_files, built-in health rules) and Alertmanager, the orchestrator\n"
      "and autoscaler, and the node agent (collector.* config keys; batches go\n"
      "straight into local storage).\n";
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return lookout_serve("up", argc, argv, what);
  lk_info("up: running the server (storage, API, dashboard, rules, alerts, orchestrator) and the node agent");
  return lookout_serve("up", argc, argv, what);
}
