/* cmd_version.c — `lookout version`. */
#include <stdio.h>
#include <string.h>

#include "lk_version.h"
#include "main/cmd.h"

int cmd_version(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: lookout version\n\nPrints the version of this build.\n");
    return 0;
  }
  printf("lookout %s\n", LOOKOUT_VERSION);
  return 0;
}
