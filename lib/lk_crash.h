/* lk_crash.h — named crash points for the crash tests.
 *
 * A step that lasts microseconds (between renaming a block into place and
 * deleting its compaction sources, say) is rarely hit by an outside kill -9
 * at a random moment. The storage code names such steps with
 * lk_crash_point(cp, "NAME"); `lookout server` started with
 * LOOKOUT_CRASH_AT=NAME[:N] (read once, in main/) logs one line and kills
 * itself with SIGKILL the Nth time (default 1st) a step of that name runs,
 * exactly as kill -9 would. Without the variable cp is NULL and a point
 * costs one comparison. The names are listed in tests/integration/crash_steps.py.
 *
 * Threads: lk_crash_point may be called from any thread (the count is atomic).
 */
#ifndef LK_CRASH_H
#define LK_CRASH_H

#include <stdatomic.h>

typedef struct lk_crashpoint {
  char name[64];
  _Atomic long left; /* passes until the crash */
} lk_crashpoint;

/* Parse "NAME[:N]" into *out: 0, or LK_EINVAL for an empty name, a name
 * longer than 63 bytes or a bad count (N >= 1). */
int lk_crashpoint_parse(const char *spec, lk_crashpoint *out);
/* Die by SIGKILL when cp names this point and its count is reached. NULL cp: no-op. */
void lk_crash_point(lk_crashpoint *cp, const char *name);

#endif
