/* cmd_shim.c — `lookout shim`: the per-container process the orchestrator
 * starts detached (see orchestrator/runtime_shim.c); not for interactive use. */
#include "main/cmd.h"
#include "orchestrator/runtime.h"

int cmd_shim(int argc, char **argv)
{
  return orch__shim_main(argc, argv);
}
