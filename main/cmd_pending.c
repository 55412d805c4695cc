/* cmd_pending.c — commands whose implementation has not landed yet; each
 * says so clearly instead of pretending. Removed as the commands land. */
#include <stdio.h>

#include "main/cmd.h"

static int pending(const char *name)
{
  fprintf(stderr, "lookout %s: not yet available in this build\n", name);
  return 2;
}

int cmd_up(int argc, char **argv) { (void)argc; (void)argv; return pending("up"); }
int cmd_server(int argc, char **argv) { (void)argc; (void)argv; return pending("server"); }
int cmd_query(int argc, char **argv) { (void)argc; (void)argv; return pending("query"); }
int cmd_query_range(int argc, char **argv) { (void)argc; (void)argv; return pending("query-range"); }
int cmd_import(int argc, char **argv) { (void)argc; (void)argv; return pending("import"); }
