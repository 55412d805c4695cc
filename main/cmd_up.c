/* cmd_up.c — `lookout up`: the all-in-one node. For now it runs the server
 * (storage, HTTP API, rules) and the node agent in-process (cmd_server.c
 * starts it for "up"); notifications, orchestrator and dashboard join the
 * same process as they land. */
#include <string.h>

#include "lib/lk_log.h"
#include "main/cmd.h"
#include "main/serve.h"

int cmd_up(int argc, char **argv)
{
  static const char what[] =
      "Runs the all-in-one node. In this build: storage, the HTTP API, the rule\n"
      "engine (rule_files, built-in health rules) and the node agent (collector.*\n"
      "config keys; batches go straight into local storage) (notifications,\n"
      "orchestrator and dashboard are not in it yet).\n";
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return lookout_serve("up", argc, argv, what);
  lk_info("up: running the server (storage, HTTP API, rules) and the node agent; notifications, "
          "orchestrator and dashboard are not part of this build yet");
  return lookout_serve("up", argc, argv, what);
}
