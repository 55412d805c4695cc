/* agent.h — the node agent's wiring shared by `lookout agent` (push over
 * remote_write) and `lookout up` (batches straight into the local tsdb):
 * collector options and scrape targets from the config file. */
#ifndef MAIN_AGENT_H
#define MAIN_AGENT_H

#include "collector/collector.h"
#include "lib/lk_config.h"

typedef struct lookout_agent_cfg {
  collector_opts opts;         /* strings point into cfg or into this struct */
  collector_target *targets;   /* one per static target of every scrape config */
  char **urls;                 /* owned target URLs */
  size_t ntargets;
  char *pod_log_dir;           /* <data>/pods, Lookout pods' logs */
} lookout_agent_cfg;

/* Fill out from cfg (borrowed: cfg must outlive out). Free with _fini. */
void lookout_agent_config(const lk_config *cfg, lookout_agent_cfg *out);
void lookout_agent_config_fini(lookout_agent_cfg *a);

/* `lookout up`: start the collector in-process with batches going straight
 * into db (a tsdb *) through a lookout_agent_store. Returns NULL (one error line logged, naming the
 * part) when it cannot start; stop and free with collector_free before
 * closing db. */
collector *lookout_agent_start_local(const lk_config *cfg, void *db);

/* The flow meter (collector.h, "network flows") with the config's
 * collector.flows keys, its series into sink every collector.interval,
 * capturing on collector.pcap_interfaces. An interface that cannot be
 * opened (no privilege, no such device) is one error line and the rest
 * runs. NULL only when the meter cannot be created (logged). Free with
 * collector_flows_free before whatever the sink writes to. */
collector_flows *lookout_flows_start(const lk_config *cfg, collector_sink sink);

/* Collector sink: appends each batch to the tsdb *ctx, resolving every
 * series by its labels (the flow meter's, whose series come and go). */
int lookout_agent_tsdb_sink(void *ctx, const lk_series *s, size_t n);

/* The local agent's sink (`lookout up`): appends each batch to a tsdb by
 * ref, resolving labels only for series not seen before (or whose ref head
 * GC made stale: the batch is resolved again and stored, nothing lost).
 * One thread at a time; db (a tsdb *) must outlive it. */
typedef struct lookout_agent_store lookout_agent_store;
lookout_agent_store *lookout_agent_store_new(void *db);
void lookout_agent_store_free(void *store); /* a lookout_agent_store *; NULL is fine */
int lookout_agent_store_sink(void *store, const lk_series *s, size_t n);

typedef struct lookout_agent_store_stats {
  uint64_t resolved;       /* series resolved by their labels (tsdb_series_refs) */
  uint64_t appended;       /* samples stored */
  uint64_t stale_batches;  /* batches that met a stale ref and were resolved again */
} lookout_agent_store_stats;
void lookout_agent_store_stats_get(const lookout_agent_store *a, lookout_agent_store_stats *out);

#endif
