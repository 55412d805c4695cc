/* fuzz_logql.c — libFuzzer target for the LogQL parser, pipeline and
 * evaluator. A log store in a scratch directory holds a few streams (JSON,
 * logfmt and plain lines, some sealed into a segment block, some in the
 * head); the input is run against it as a log query (both directions) and
 * as a metric query (instant and range). Seeds: tests/fuzz/corpus_logql.
 */
#include <stdio.h>

#include "logstore/logstore.h"
#include "tests/fuzz/harness.h"

#define T0 1700000000000000000LL
#define SEC 1000000000LL

static logstore *store;
static const char *dir;

static const char *lines[] = {
  "{\"level\":\"error\",\"msg\":\"disk full\",\"latency\":\"1.5s\",\"req\":{\"id\":7,\"path\":\"/api\"}}",
  "level=info msg=\"request done\" status=200 duration=12ms bytes=512",
  ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
   "blk_38865049064139660 terminating"),
  "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4",
  "2026-11-22T05:00:00.123Z stderr F panic: runtime error: index out of range [3] with length 3",
  "",
};

static void push(const lk_label *ls, size_t nl, int64_t t0)
{
  size_t n = sizeof lines / sizeof *lines;
  logstore_entry e[sizeof lines / sizeof *lines];
  for (size_t i = 0; i < n; i++)
    e[i] = (logstore_entry){t0 + (int64_t)i * SEC, lines[i], strlen(lines[i])};
  lk_diag d = {0};
  if (logstore_push(store, ls, nl, e, n, &d))
    abort();
}

static void cleanup(void)
{
  logstore_close(store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  dir = fuzz_scratch_dir("fuzz-logql");
  lk_diag d = {0};
  if (logstore_open(&(logstore_opts){.dir = dir}, &store, &d))
    abort();
  push((lk_label[]){{"app", "api"}, {"env", "prod"}}, 2, T0);
  push((lk_label[]){{"app", "db"}, {"level", "warn"}}, 2, T0 + SEC / 2);
  if (logstore_flush(store))
    abort();
  push((lk_label[]){{"app", "api"}, {"env", "prod"}}, 2, T0 + 60 * SEC);
  atexit(cleanup);
  return 0;
}

static void run(const char *q, int64_t step, enum logstore_dir dirn)
{
  logstore_query_opts o = {.start_ns = T0 - 60 * SEC, .end_ns = T0 + 120 * SEC, .step_ns = step,
                           .limit = 20, .direction = dirn, .max_series = 100};
  logstore_result *r = NULL;
  lk_diag d = {0};
  if (!logstore_query(store, q, &o, &r, &d))
    logstore_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *q = fuzz_cstr(data, size);
  lk_diag d = {0};
  if (!logstore_logql_check(q, &d)) {
    run(q, 0, LOGSTORE_BACKWARD);
    run(q, 0, LOGSTORE_FORWARD);
    run(q, 30 * SEC, LOGSTORE_BACKWARD);
  }
  free(q);
  return 0;
}
