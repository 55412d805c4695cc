/* logs_local.h — the server's log store and, in `lookout up`, the local log
 * tailer feeding it directly (same batches, no HTTP hop). */
#ifndef MAIN_LOGS_LOCAL_H
#define MAIN_LOGS_LOCAL_H

#include "lib/lk_config.h"
#include "logstore/logstore.h"

typedef struct lookout_logs lookout_logs;

/* Open <data>/logs with the storage retention and log sizes of the config;
 * crash: the crash point (lib/lk_crash.h) or NULL, borrowed. NULL on failure
 * (message printed). */
logstore *lookout_logstore_open(const lk_config *c, lk_crashpoint *crash);
/* Tail collector.log_paths plus <data>/pods/STAR/STAR/STAR.log into s, with
 * positions in <data>/logs/positions. NULL on failure (logged). */
lookout_logs *lookout_logs_start_local(const lk_config *c, logstore *s);
/* `lookout agent`: tail the same paths and push to server's
 * /loki/api/v1/push (any path in server is replaced) through a disk queue in
 * <data>/agent-log-queue; positions in <data>/agent-log-positions. NULL on
 * failure (logged). */
lookout_logs *lookout_logs_start_agent(const lk_config *c, const char *server, const char *token,
                                       const char *ca_file);
void lookout_logs_stop(lookout_logs *l); /* NULL ok */

#endif
