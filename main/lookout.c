/* lookout.c — the one binary: a table of subcommands, each in cmd_*.c.
 * Global state lives only here (none so far); each command parses its own
 * flags and returns the process exit status. */
#include <stdio.h>
#include <string.h>

#include "main/cmd.h"

static const struct cmd commands[] = {
  {"up",          cmd_up,          "all-in-one node: server + local agent (+ more as it lands)"},
  {"server",      cmd_server,      "central server only"},
  {"agent",       cmd_agent,       "node collector only"},
  {"query",       cmd_query,       "instant PromQL query"},
  {"query-range", cmd_query_range, "range PromQL query"},
  {"logs",        cmd_logs,        "log search / tail"},
  {"flows",       cmd_flows,       "meter a capture file offline, print the flow table"},
  {"apply",       cmd_apply,       "create/update deployments"},
  {"get",         cmd_get,         "list deployments|pods|autoscalers|alerts"},
  {"scale",       cmd_scale,       "scale a deployment"},
  {"test",        cmd_test,        "rule unit tests (promtool test rules format)"},
  {"import",      cmd_import,      "bulk metric import, with a progress bar"},
  {"demo",        cmd_demo,        "apply examples/demo/ (workload + HPA + bounded load)"},
  {"demo-app",    cmd_demo_app,    "the demo's HTTP workload (burns CPU per request)"},
  {"loadgen",     cmd_loadgen,     "bounded HTTP load generator"},
  {"version",     cmd_version,     "print the version"},
  {"shim",        cmd_shim,        "container shim (started by the orchestrator)"},
};

static void usage(FILE *f)
{
  fprintf(f, "usage: lookout COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n`lookout COMMAND --help` for the flags of one command.\n");
}

int main(int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lookout: unknown command \"%s\" (try lookout --help)\n", argv[1]);
  return 2;
}
