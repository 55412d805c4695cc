/* lk_crash.c — the crash points of lk_crash.h: parse the spec, count the
 * passes, SIGKILL the process at the chosen one. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_crash.h"
#include "lib/lk_err.h"
#include "lib/lk_log.h"

int lk_crashpoint_parse(const char *spec, lk_crashpoint *out)
{
  const char *colon = strchr(spec, ':');
  size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
  if (n == 0 || n >= sizeof out->name)
    return LK_EINVAL;
  long count = 1;
  if (colon) {
    char *end;
    count = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || count < 1)
      return LK_EINVAL;
  }
  memcpy(out->name, spec, n);
  out->name[n] = 0;
  atomic_init(&out->left, count);
  return 0;
}

void lk_crash_point(lk_crashpoint *cp, const char *name)
{
  if (!cp || strcmp(cp->name, name) || atomic_fetch_sub(&cp->left, 1) != 1)
    return;
  lk_warn("crash point reached, killing the process name=%s", name);
  raise(SIGKILL);
}
