/* flows.c — the flow meter's public entry points (collector.h, "network
 * flows"): options, lifetime, pods, the table, stats and the emit thread
 * that hands the series to the sink every interval_ms. Capture lives in
 * flow_capture.c, the table in flow_table.c, the series in flow_pairs.c.
 *
 * Locks: `mu` guards the meter (every capture thread takes it per batch of
 * packets); `flush_mu` the batch being emitted (taken before `mu`, released
 * after the sink returns); `run_mu` the emit thread's running/stop flags;
 * `if_mu` (flow_capture.c) the interface list. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/flow_int.h"
#include "lib/lk_time.h"

int collector_flows_new(const collector_flow_opts *o, collector_sink sink, collector_flows **out, lk_diag *d)
{
  if (!o || !sink.fn || !out)
    return lk_diag_set(d, LK_EINVAL, -1, "flows: options and a sink are required");
  if (o->snaplen < 0 || o->buffer_bytes < 0 || o->idle_timeout_ms < 0 || o->active_timeout_ms < 0 ||
      o->interval_ms < 0)
    return lk_diag_set(d, LK_EINVAL, -1, "flows: negative snaplen, buffer size, timeout or interval");
  if (o->max_flows > UINT32_MAX / 2 || o->max_pairs > UINT32_MAX / 4)
    return lk_diag_set(d, LK_EINVAL, -1, "flows: max_flows or max_pairs too large");
  collector_flows *f = lk_xcalloc(1, sizeof *f);
  char host[256] = "";
  if (!o->node && gethostname(host, sizeof host - 1))
    host[0] = 0;
  f->node = lk_xstrdup(o->node ? o->node : host);
  f->bpf = lk_xstrdup(o->bpf_filter ? o->bpf_filter : "");
  f->snaplen = o->snaplen ? o->snaplen : 128;
  f->buffer_bytes = o->buffer_bytes ? o->buffer_bytes : 4 << 20;
  f->interval_ms = o->interval_ms ? o->interval_ms : 5000;
  f->sink = sink;
  flow__meter_init(&f->m, o);
  collector__batch_init(&f->batch);
  pthread_mutex_init(&f->mu, NULL);
  pthread_mutex_init(&f->flush_mu, NULL);
  pthread_mutex_init(&f->if_mu, NULL);
  pthread_mutex_init(&f->run_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->run_cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = f;
  return 0;
}

void collector_flows_free(collector_flows *f)
{
  if (!f)
    return;
  collector_flows_stop(f);
  flow__capture_stop_all(f);
  flow__meter_fini(&f->m);
  collector__batch_fini(&f->batch);
  pthread_mutex_destroy(&f->mu);
  pthread_mutex_destroy(&f->flush_mu);
  pthread_mutex_destroy(&f->if_mu);
  pthread_mutex_destroy(&f->run_mu);
  pthread_cond_destroy(&f->run_cv);
  free(f->node);
  free(f->bpf);
  free(f);
}

void collector_flows_set_pods(collector_flows *f, const collector_flow_pod *p, size_t n)
{
  pthread_mutex_lock(&f->mu);
  flow__pods_set(&f->m, p, n);
  pthread_mutex_unlock(&f->mu);
}

int collector_flows_flush(collector_flows *f, int64_t now_ms)
{
  pthread_mutex_lock(&f->flush_mu);
  collector__batch_reset(&f->batch, now_ms ? now_ms : lk_now_ms());
  pthread_mutex_lock(&f->mu);
  if (!f->m.keep_ended) /* live: wall-clock idleness, even without packets */
    flow__meter_expire(&f->m, (int64_t)lk_now_ms() * 1000);
  flow__emit(&f->m, &f->batch, f->node);
  pthread_mutex_unlock(&f->mu);
  int rc = f->sink.fn(f->sink.ctx, f->batch.series, f->batch.n);
  pthread_mutex_unlock(&f->flush_mu);
  return rc;
}

static void *emit_loop(void *arg)
{
  collector_flows *f = arg;
  pthread_mutex_lock(&f->run_mu);
  while (!f->stop) {
    struct timespec until = lk_deadline(CLOCK_MONOTONIC, f->interval_ms);
    while (!f->stop && pthread_cond_timedwait(&f->run_cv, &f->run_mu, &until) == 0)
      ;
    if (f->stop)
      break;
    pthread_mutex_unlock(&f->run_mu);
    collector_flows_flush(f, 0);
    pthread_mutex_lock(&f->run_mu);
  }
  pthread_mutex_unlock(&f->run_mu);
  return NULL;
}

int collector_flows_start(collector_flows *f)
{
  pthread_mutex_lock(&f->run_mu);
  int rc = f->running ? LK_EEXIST : 0;
  if (!rc) {
    f->stop = false;
    int terr = pthread_create(&f->emit_thread, NULL, emit_loop, f);
    rc = -terr;
    f->running = !terr;
  }
  pthread_mutex_unlock(&f->run_mu);
  return rc;
}

void collector_flows_stop(collector_flows *f)
{
  pthread_mutex_lock(&f->run_mu);
  bool was = f->running;
  f->stop = true;
  f->running = false;
  pthread_cond_broadcast(&f->run_cv);
  pthread_mutex_unlock(&f->run_mu);
  if (was)
    pthread_join(f->emit_thread, NULL);
}

int collector_flows_table(collector_flows *f, collector_flow_row **rows, size_t *n)
{
  pthread_mutex_lock(&f->mu);
  flow__meter_rows(&f->m, rows, n);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

void collector_flows_table_each(collector_flows *f, collector_flow_row_fn fn, void *ctx)
{
  pthread_mutex_lock(&f->mu);
  flow__meter_each(&f->m, fn, ctx);
  pthread_mutex_unlock(&f->mu);
}

void collector_flows_stats_get(collector_flows *f, collector_flows_stats *out)
{
  pthread_mutex_lock(&f->mu);
  *out = f->m.st;
  pthread_mutex_unlock(&f->mu);
  pthread_mutex_lock(&f->if_mu);
  out->interfaces = 0;
  for (flow__if *i = f->ifs; i; i = i->next)
    out->interfaces++;
  pthread_mutex_unlock(&f->if_mu);
}
