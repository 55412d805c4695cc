/* logs_local.c — glue between the log tailer (collector/tail.h) and the log
 * store for the all-in-one node, and opening the store for the server.
 *
 * The sink groups a batch by label set (entries of one file and stream are
 * adjacent) and pushes each run with logstore_push; any failure refuses the
 * batch, so the tailer rewinds and retries it (stored runs may then be
 * stored twice — the store acknowledges per push, the tailer per batch;
 * this only happens on a store error such as a full disk).
 * Threads: the tailer runs its own thread; the store is thread-safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "main/logs_local.h"

struct lookout_logs {
  collector_tail *tail;
  logstore *store;
  collector_log_pusher *pusher; /* agent mode */
};

logstore *lookout_logstore_open(const lk_config *c, lk_crashpoint *crash)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/logs", c->data);
  logstore_opts o = {.dir = dir, .retention_ns = c->storage.retention_ms * 1000000LL,
                     .retention_bytes = c->storage.retention_size,
                     .block_bytes = c->storage.log_block_size, .wal_bytes = c->storage.log_wal_size,
                     .segment_bytes = c->storage.log_segment_size, .crash = crash};
  logstore *s = NULL;
  lk_diag d = {0};
  if (logstore_open(&o, &s, &d)) {
    lk_error("cannot open the log store in %s: %s", dir, d.msg);
    return NULL;
  }
  return s;
}

static int sink(void *ctx, const collector_log_entry *e, size_t n)
{
  lookout_logs *l = ctx;
  size_t i = 0;
  logstore_entry *run = lk_xmalloc((n ? n : 1) * sizeof *run);
  int rc = 0;
  while (i < n && !rc) {
    size_t j = i, k = 0;
    while (j < n && e[j].labels == e[i].labels) {
      run[k++] = (logstore_entry){e[j].ts, e[j].line, e[j].len};
      j++;
    }
    lk_diag d = {0};
    rc = logstore_push(l->store, e[i].labels, e[i].nlabels, run, k, &d);
    if (rc == LK_EOOO || rc == LK_ETOOBIG) {
      lk_warn("log tailer: entries dropped: %s", d.msg); /* retrying cannot help */
      rc = 0;
    }
    i = j;
  }
  free(run);
  return rc;
}

/* Start tailing the configured globs plus <data>/pods into sink. */
static int start_tail(lookout_logs *l, const lk_config *c, collector_log_sink sink, const char *posname)
{
  size_t n = c->collector.log_paths.n;
  const char **globs = lk_xcalloc(n + 1, sizeof *globs);
  for (size_t i = 0; i < n; i++)
    globs[i] = c->collector.log_paths.v[i];
  char pods[4096], pos[4096];
  snprintf(pods, sizeof pods, "%s/pods/%s", c->data, "*/*/*.log");
  snprintf(pos, sizeof pos, "%s/%s", c->data, posname);
  globs[n] = pods;
  collector_tail_opts o = {.globs = globs, .nglobs = n + 1, .positions = pos};
  lk_diag d = {0};
  int rc = collector_tail_new(&o, sink, &l->tail, &d);
  free(globs);
  if (!rc && (rc = collector_tail_start(l->tail, 1000)))
    lk_diag_set(&d, rc, -1, "its thread did not start: %s", lk_strerror(rc));
  if (rc)
    lk_error("log tailer: cannot start: %s", d.set ? d.msg : lk_strerror(rc));
  else
    lk_info("log tailer started paths=%zu positions=%s", n + 1, pos);
  return rc;
}

lookout_logs *lookout_logs_start_local(const lk_config *c, logstore *s)
{
  lookout_logs *l = lk_xcalloc(1, sizeof *l);
  l->store = s;
  if (start_tail(l, c, (collector_log_sink){sink, l}, "logs/positions")) {
    lookout_logs_stop(l);
    return NULL;
  }
  return l;
}

lookout_logs *lookout_logs_start_agent(const lk_config *c, const char *server, const char *token,
                                       const char *ca_file)
{
  lookout_logs *l = lk_xcalloc(1, sizeof *l);
  const char *host = strstr(server, "://");
  host = host ? host + 3 : server;
  size_t blen = (size_t)(host - server) + strcspn(host, "/");
  char base[1024], qdir[4096];
  snprintf(base, sizeof base, "%.*s", (int)blen, server);
  snprintf(qdir, sizeof qdir, "%s/agent-log-queue", c->data);
  collector_log_push_opts po = {.url = base, .queue_dir = qdir, .bearer_token = token, .ca_file = ca_file};
  lk_diag d = {0};
  int rc = collector_log_pusher_new(&po, &l->pusher, &d);
  if (rc) {
    lk_error("log push: %s", d.msg);
    free(l);
    return NULL;
  }
  if ((rc = collector_log_pusher_start(l->pusher)))
    lk_error("log push: cannot start the sender thread: %s", lk_strerror(rc));
  if (rc || start_tail(l, c, collector_log_pusher_sink(l->pusher), "agent-log-positions")) {
    lookout_logs_stop(l);
    return NULL;
  }
  lk_info("log push to %s/loki/api/v1/push", base);
  return l;
}

void lookout_logs_stop(lookout_logs *l)
{
  if (!l)
    return;
  collector_tail_free(l->tail); /* first: it feeds the pusher */
  collector_log_pusher_free(l->pusher);
  free(l);
}
