/* cmd.h — the subcommand table entry and the commands main/ provides.
 * Each run function gets argv starting at the command name and returns the
 * process exit status (0 ok, 1 runtime failure, 2 usage error). */
#ifndef MAIN_CMD_H
#define MAIN_CMD_H

#include <stddef.h>

struct cmd {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
};

int cmd_up(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_query_range(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_demo_app(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_shim(int argc, char **argv);
int cmd_flows(int argc, char **argv);

/* cmd_client.c: "Authorization: Bearer <token>" into out, the token being the
 * first of token_file (when given) or $LOOKOUT_TOKEN; "" with neither.
 * Returns 0, or 1 after printing why the file could not be read. */
int cmd_auth_header(const char *cmd, const char *token_file, char *out, size_t outsz);

#endif
