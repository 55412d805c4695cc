/* flows.c — the flow meter's public entry points (collector.h, "network
 * flows"): options, lifetime, the emit thread. */
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"

struct collector_flows {
  collector_sink sink;
};

int collector_flows_new(const collector_flow_opts *o, collector_sink sink, collector_flows **out, lk_diag *d)
{
  collector_flows *f = calloc(1, sizeof *f);
  if (!f)
    return LK_ENOMEM;
  f->sink = sink;
  *out = f;
  return 0;
}

void collector_flows_free(collector_flows *f) { free(f); }

int collector_flows_add_interface(collector_flows *f, const char *ifname, bool pod_side, lk_diag *d)
{
  return lk_diag_set(d, LK_ENOTSUP, -1, "flows: capture on %s: not built yet", ifname);
}

void collector_flows_remove_interface(collector_flows *f, const char *ifname) {}
void collector_flows_set_pods(collector_flows *f, const collector_flow_pod *p, size_t n) {}
int collector_flows_flush(collector_flows *f, int64_t now_ms) { return 0; }
int collector_flows_start(collector_flows *f) { return 0; }
void collector_flows_stop(collector_flows *f) {}

int collector_flows_read_file(collector_flows *f, const char *path, lk_diag *d)
{
  return lk_diag_set(d, LK_ENOTSUP, -1, "flows: reading %s: not built yet", path);
}

int collector_flows_table(collector_flows *f, collector_flow_row **rows, size_t *n)
{
  *rows = NULL;
  *n = 0;
  return 0;
}

void collector_flows_stats_get(collector_flows *f, collector_flows_stats *out) { memset(out, 0, sizeof *out); }
