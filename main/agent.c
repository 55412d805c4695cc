/* agent.c — see agent.h. Scrape targets: one per static target, URL
 * <scheme>://<target><metrics_path>, job = job_name, interval and timeout
 * from the scrape config (already defaulted from `global` by lk_config).
 *
 * The local agent's store keeps each series' tsdb ref in a
 * collector_series_cache (Prometheus's scrape cache does the same), so a
 * cycle resolves labels only for series it has not seen: the rest is one
 * comparison per series and tsdb_append_refs. A ref that head GC made
 * stale answers LK_ENOENT with nothing stored; the store then resolves the
 * whole batch again and appends it once more, so no sample is lost. */
#include "main/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_log.h"
#include "tsdb/tsdb.h"

void lookout_agent_config(const lk_config *cfg, lookout_agent_cfg *out)
{
  memset(out, 0, sizeof *out);
  size_t n = 0;
  for (size_t i = 0; i < cfg->nscrape_configs; i++)
    for (size_t j = 0; j < cfg->scrape_configs[i].nstatic; j++)
      n += cfg->scrape_configs[i].static_configs[j].targets.n;
  out->targets = lk_xcalloc(n ? n : 1, sizeof *out->targets);
  out->urls = lk_xcalloc(n ? n : 1, sizeof *out->urls);
  for (size_t i = 0; i < cfg->nscrape_configs; i++) {
    const lk_scrape_config *sc = &cfg->scrape_configs[i];
    for (size_t j = 0; j < sc->nstatic; j++)
      for (size_t k = 0; k < sc->static_configs[j].targets.n; k++) {
        const char *t = sc->static_configs[j].targets.v[k];
        size_t len = strlen(t) + strlen(sc->metrics_path) + strlen(sc->scheme) + 8;
        char *url = lk_xmalloc(len);
        snprintf(url, len, "%s://%s%s", sc->scheme, t, sc->metrics_path);
        out->urls[out->ntargets] = url;
        out->targets[out->ntargets++] = (collector_target){
          .job = sc->job_name, .url = url, .interval_ms = sc->scrape_interval_ms,
          .timeout_ms = sc->scrape_timeout_ms};
      }
  }
  size_t pl = strlen(cfg->data) + 8;
  out->pod_log_dir = lk_xmalloc(pl);
  snprintf(out->pod_log_dir, pl, "%s/pods", cfg->data);
  out->opts = (collector_opts){
    .cgroup_root = cfg->collector.cgroup_root,
    .pod_log_dir = out->pod_log_dir,
    .interval_ms = cfg->collector.interval_ms,
    .detail_interval_ms = cfg->collector.detail_interval_ms,
    .targets = out->targets,
    .ntargets = out->ntargets,
  };
}

void lookout_agent_config_fini(lookout_agent_cfg *a)
{
  for (size_t i = 0; i < a->ntargets; i++)
    free(a->urls[i]);
  free(a->urls);
  free(a->targets);
  free(a->pod_log_dir);
  memset(a, 0, sizeof *a);
}

struct lookout_agent_store {
  tsdb *db;
  collector_series_cache *cache;
  uint32_t *ent;                /* cache entry of each series of the batch */
  size_t ent_cap;
  tsdb_ref_sample *samples;
  size_t samples_cap;
  tsdb_series_in *miss;         /* series without a ref yet */
  uint32_t *miss_ent;
  tsdb_ref *miss_ref;
  size_t miss_cap;
  lookout_agent_store_stats st;
};

lookout_agent_store *lookout_agent_store_new(void *db)
{
  lookout_agent_store *a = lk_xcalloc(1, sizeof *a);
  a->db = db;
  a->cache = collector_series_cache_new();
  return a;
}

void lookout_agent_store_free(void *store)
{
  lookout_agent_store *a = store;
  if (!a)
    return;
  collector_series_cache_free(a->cache);
  free(a->ent);
  free(a->samples);
  free(a->miss);
  free(a->miss_ent);
  free(a->miss_ref);
  free(a);
}

/* Resolve the series of the batch that have no ref (all = every one). */
static int store_resolve(lookout_agent_store *a, const lk_series *s, size_t n, bool all, lk_diag *d)
{
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t ref;
    if (!all && collector_series_cache_value(a->cache, a->ent[i], &ref))
      continue;
    if (m == a->miss_cap) {
      a->miss_cap = a->miss_cap ? 2 * a->miss_cap : 256;
      a->miss = lk_xrealloc(a->miss, a->miss_cap * sizeof *a->miss);
      a->miss_ent = lk_xrealloc(a->miss_ent, a->miss_cap * sizeof *a->miss_ent);
      a->miss_ref = lk_xrealloc(a->miss_ref, a->miss_cap * sizeof *a->miss_ref);
    }
    a->miss[m] = s[i];
    a->miss_ent[m++] = a->ent[i];
  }
  if (!m)
    return 0;
  int rc = tsdb_series_refs(a->db, a->miss, m, a->miss_ref, d);
  if (rc)
    return rc;
  for (size_t j = 0; j < m; j++)
    collector_series_cache_set_value(a->cache, a->miss_ent[j], a->miss_ref[j]);
  a->st.resolved += m;
  return 0;
}

/* The batch's samples by ref, in a->samples. */
static size_t store_samples(lookout_agent_store *a, const lk_series *s, size_t n)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t ref;
    collector_series_cache_value(a->cache, a->ent[i], &ref);
    a->samples = lk_xgrow(a->samples, &a->samples_cap, k + s[i].nsamples, sizeof *a->samples);
    for (size_t j = 0; j < s[i].nsamples; j++)
      a->samples[k++] = (tsdb_ref_sample){ref, s[i].samples[j].t, s[i].samples[j].v};
  }
  return k;
}

int lookout_agent_store_sink(void *store, const lk_series *s, size_t n)
{
  lookout_agent_store *a = store;
  a->ent = lk_xgrow(a->ent, &a->ent_cap, n ? n : 1, sizeof *a->ent);
  collector_series_cache_map(a->cache, s, n, a->ent);
  lk_diag d = {0};
  tsdb_append_stats st;
  int rc = store_resolve(a, s, n, false, &d);
  if (!rc) {
    size_t k = store_samples(a, s, n);
    rc = tsdb_append_refs(a->db, a->samples, k, &st, &d);
    if (rc == LK_ENOENT) { /* head GC dropped a series since its ref was cached */
      a->st.stale_batches++;
      d = (lk_diag){0};
      if (!(rc = store_resolve(a, s, n, true, &d)))
        rc = tsdb_append_refs(a->db, a->samples, store_samples(a, s, n), &st, &d);
    }
  }
  if (rc)
    lk_warn("agent: storing a collector batch failed: %s: %s", lk_strerror(rc), d.msg);
  else
    a->st.appended += st.accepted;
  return rc;
}

void lookout_agent_store_stats_get(const lookout_agent_store *a, lookout_agent_store_stats *out)
{
  *out = a->st;
}

int lookout_agent_tsdb_sink(void *ctx, const lk_series *s, size_t n)
{
  tsdb_append_stats st;
  lk_diag d = {0};
  int rc = tsdb_append(ctx, s, n, &st, &d);
  if (rc)
    lk_warn("agent: storing a collector batch failed: %s: %s", lk_strerror(rc), d.msg);
  return rc;
}

collector *lookout_agent_start_local(const lk_config *cfg, void *db)
{
  lookout_agent_cfg ac;
  lookout_agent_config(cfg, &ac);
  lookout_agent_store *store = lookout_agent_store_new(db);
  ac.opts.sink_fini = lookout_agent_store_free;
  collector *c = NULL;
  lk_diag d = {0};
  int rc = collector_new(&ac.opts, (collector_sink){lookout_agent_store_sink, store}, &c, &d);
  lookout_agent_config_fini(&ac);
  if (rc)
    lookout_agent_store_free(store); /* collector_free owns it once created */
  if (!rc) {
    collector_raise_fd_limit();
    if ((rc = collector_start(c)))
      lk_diag_set(&d, rc, -1, "cannot start the collector thread: %s", lk_strerror(rc));
  }
  if (rc) {
    lk_error("local agent not started: %s", d.msg[0] ? d.msg : lk_strerror(rc));
    collector_free(c);
    return NULL;
  }
  lk_info("local agent collecting every %lld ms into local storage",
          (long long)(cfg->collector.interval_ms ? cfg->collector.interval_ms : 5000));
  return c;
}

collector_flows *lookout_flows_start(const lk_config *cfg, collector_sink sink)
{
  collector_flow_opts o = {
    .bpf_filter = cfg->collector.flows.bpf_filter,
    .snaplen = (int)cfg->collector.flows.snaplen,
    .buffer_bytes = (int)cfg->collector.flows.buffer_size,
    .max_flows = cfg->collector.flows.max_flows,
    .idle_timeout_ms = cfg->collector.flows.idle_timeout_ms,
    .active_timeout_ms = cfg->collector.flows.active_timeout_ms,
    .max_pairs = cfg->collector.flows.max_pairs,
    .interval_ms = cfg->collector.interval_ms,
  };
  collector_flows *f = NULL;
  lk_diag d = {0};
  int rc = collector_flows_new(&o, sink, &f, &d);
  if (!rc && (rc = collector_flows_start(f)))
    lk_diag_set(&d, rc, -1, "cannot start the flow meter's thread: %s", lk_strerror(rc));
  if (rc) {
    lk_error("flows: not metered: %s", d.msg);
    collector_flows_free(f);
    return NULL;
  }
  for (size_t i = 0; i < cfg->collector.pcap_interfaces.n; i++) {
    lk_diag e = {0};
    if (collector_flows_add_interface(f, cfg->collector.pcap_interfaces.v[i], false, &e))
      lk_error("%s", e.msg);
    else
      lk_info("flows: capturing on %s", cfg->collector.pcap_interfaces.v[i]);
  }
  return f;
}
