/* serve.h — the server process shared by `lookout server` and `lookout up`:
 * flags, config, storage, HTTP, signals. */
#ifndef MAIN_SERVE_H
#define MAIN_SERVE_H

/* Run the server until SIGINT/SIGTERM. `cmd` names the subcommand in usage
 * and messages; `extra_help` is appended to --help. Returns the exit status. */
int lookout_serve(const char *cmd, int argc, char **argv, const char *extra_help);

#endif
