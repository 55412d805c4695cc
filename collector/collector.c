/* collector.c — the collector's lifecycle and one collection cycle:
 * rediscover containers when due, read every container (v1, then v2, then
 * limits and network), node metrics, scrape targets, the collector's own
 * counters, then hand the whole batch to the sink.
 *
 * Hierarchy detection is by files, so fixture trees and real hosts take the
 * same path: <root>/cgroup.controllers means a unified (v2-only) host;
 * otherwise each v1 controller is <root>/<name> (holding `tasks`), and a
 * cgroup2 mount at <root>/unified is used as well (hybrid hosts).
 *
 * Detail files are read on a container's detail cycles only (every
 * detail_every cycles, staggered so each cycle reads about 1/detail_every of
 * them); between those its last detail series are repeated from a snapshot.
 *
 * Threads: everything but stats runs on the thread calling
 * collector_collect (the caller's or the collector's own, never both).
 * Lock order: c->lock only, never held across a cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector_int.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

static bool file_exists(const char *dir, const char *name)
{
  char p[4096];
  if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
    return false;
  return access(p, F_OK) == 0;
}

static void detect_hierarchies(collector *c, const char *root)
{
  static const char *const v1[][2] = {
    [H_CPU] = {"cpu", "cpu,cpuacct"}, [H_CPUACCT] = {"cpuacct", "cpu,cpuacct"},
    [H_MEMORY] = {"memory", NULL}, [H_BLKIO] = {"blkio", NULL}, [H_PIDS] = {"pids", NULL}};
  char p[4096];
  if (file_exists(root, "cgroup.controllers")) {
    c->hier[H_V2] = lk_xstrdup(root);
    return;
  }
  for (int h = 0; h < H_V2; h++)
    for (int i = 0; i < 2 && !c->hier[h] && v1[h][i]; i++) {
      snprintf(p, sizeof p, "%s/%s", root, v1[h][i]);
      if (file_exists(p, "tasks"))
        c->hier[h] = lk_xstrdup(p);
    }
  snprintf(p, sizeof p, "%s/unified", root);
  if (file_exists(p, "cgroup.controllers"))
    c->hier[H_V2] = lk_xstrdup(p);
}

static char *dup_or(const char *s, const char *dflt)
{
  return s ? lk_xstrdup(s) : dflt ? lk_xstrdup(dflt) : NULL;
}

int collector_new(const collector_opts *o, collector_sink sink, collector **out, lk_diag *d)
{
  if (!o || !sink.fn || !out)
    return lk_diag_set(d, LK_EINVAL, -1, "collector: options and a sink are required");
  if (o->interval_ms < 0 || o->rescan_ms < 0 || o->detail_interval_ms < 0)
    return lk_diag_set(d, LK_EINVAL, -1, "collector: negative interval");
  collector *c = lk_xcalloc(1, sizeof *c);
  detect_hierarchies(c, o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup");
  c->proc_root = dup_or(o->proc_root, "/proc");
  c->sys_root = dup_or(o->sys_root, "/sys");
  c->log_root = dup_or(o->log_root, "/var/log");
  c->pod_log_dir = dup_or(o->pod_log_dir, NULL);
  c->kubelet_url = dup_or(o->kubelet_url, NULL);
  char host[256] = "";
  if (!o->node && gethostname(host, sizeof host - 1))
    host[0] = 0;
  c->node = dup_or(o->node, host);
  c->interval_ms = o->interval_ms ? o->interval_ms : 5000;
  c->rescan_ms = o->rescan_ms ? o->rescan_ms : 10000;
  int64_t detail = o->detail_interval_ms ? o->detail_interval_ms : 10000;
  c->detail_every = detail <= c->interval_ms ? 1 : (unsigned)((detail + c->interval_ms - 1) / c->interval_ms);
  c->no_containers = o->no_containers;
  c->no_node = o->no_node;
  c->sink = sink;
  c->sink_fini = o->sink_fini;
  c->last_rescan_ms = -1;
  c->watch_fd = -1;
  if (o->ntargets)
    c->scraper = collector__scraper_new(o->targets, o->ntargets, c->interval_ms);
  collector__batch_init(&c->batch);
  c->read_buf = lk_xmalloc(COLLECTOR__READ_CAP);
  pthread_mutex_init(&c->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->wake, &ca);
  pthread_condattr_destroy(&ca);
  *out = c;
  return 0;
}

void collector_free(collector *c)
{
  if (!c)
    return;
  collector_stop(c);
  if (c->sink_fini)
    c->sink_fini(c->sink.ctx);
  if (c->watch_fd >= 0)
    close(c->watch_fd);
  for (size_t i = 0; i < c->nctrs; i++)
    collector__ctr_free(c->ctrs[i]);
  free(c->ctrs);
  collector__meta_free(&c->meta);
  for (int h = 0; h < H_COUNT; h++)
    free(c->hier[h]);
  free(c->proc_root);
  free(c->sys_root);
  free(c->log_root);
  free(c->pod_log_dir);
  free(c->kubelet_url);
  free(c->node);
  free(c->devnames);
  free(c->devnums);
  collector__scraper_free(c->scraper);
  collector__batch_fini(&c->batch);
  free(c->read_buf);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->wake);
  free(c);
}

void collector__emit_spec(collector *c, collector__ctr *k)
{
  const collector__spec *s = &k->spec;
  collector__batch *b = &c->batch;
  if (s->have_cpu) {
    if (s->cpu_quota_us > 0) {
      collector__emit(b, "container_spec_cpu_quota", k->labels, k->nlabels, NULL, 0, s->cpu_quota_us);
      collector__emit(b, "container_spec_cpu_period", k->labels, k->nlabels, NULL, 0, s->cpu_period_us);
    }
    collector__emit(b, "container_spec_cpu_shares", k->labels, k->nlabels, NULL, 0, s->cpu_shares);
  }
  if (s->have_mem)
    collector__emit(b, "container_spec_memory_limit_bytes", k->labels, k->nlabels, NULL, 0, s->mem_limit);
  if (s->have_pids)
    collector__emit(b, "container_threads_max", k->labels, k->nlabels, NULL, 0, s->pids_max);
}

void collector__read_net(collector *c, collector__ctr *k)
{
  char p[4096], buf[16384];
  size_t len;
  if (!k->netns)
    return;
  snprintf(p, sizeof p, "%s/%d/net/dev", c->proc_root, k->pid);
  if (collector__read_path(p, buf, sizeof buf, &len)) {
    k->pid = 0; /* the process is gone: find another at the next rescan */
    k->netns = 0;
    return;
  }
  if (collector__emit_netdev(c, buf, "container_network_", "interface", k->labels, k->nlabels, true))
    collector__note_error(c, k, "net/dev", LK_EPARSE);
}

/*---- detail snapshots ----*/

void collector__snap_free(collector__snap *s)
{
  if (!s)
    return;
  free(s->e);
  free(s->mem);
  free(s);
}

static size_t str_bytes(const char *s)
{
  return strlen(s) + 1;
}

static const char *put_str(char **at, const char *s)
{
  size_t n = strlen(s) + 1;
  memcpy(*at, s, n);
  const char *r = *at;
  *at += n;
  return r;
}

/* Copy the detail series batch.series[from..to) of k (base labels first). */
static void snap_take(collector *c, collector__ctr *k, size_t from, size_t to)
{
  collector__snap *s = lk_xcalloc(1, sizeof *s);
  size_t bytes = 0;
  s->e = lk_xcalloc(to - from ? to - from : 1, sizeof *s->e);
  for (size_t i = from; i < to; i++) {
    const lk_series *x = &c->batch.series[i];
    bytes += str_bytes(x->labels[0].value);
    for (size_t j = 1 + k->nlabels; j < x->nlabels; j++)
      bytes += str_bytes(x->labels[j].name) + str_bytes(x->labels[j].value);
  }
  char *at = s->mem = lk_xmalloc(bytes ? bytes : 1);
  for (size_t i = from; i < to; i++) {
    const lk_series *x = &c->batch.series[i];
    collector__snap_ent *e = &s->e[s->n++];
    e->name = put_str(&at, x->labels[0].value);
    e->v = x->samples[0].v;
    for (size_t j = 1 + k->nlabels; j < x->nlabels && e->nextra < 2; j++) {
      e->extra[e->nextra].name = put_str(&at, x->labels[j].name);
      e->extra[e->nextra++].value = put_str(&at, x->labels[j].value);
    }
  }
  collector__snap_free(k->snap);
  k->snap = s;
}

static void snap_emit(collector *c, collector__ctr *k)
{
  for (size_t i = 0; i < k->snap->n; i++) {
    const collector__snap_ent *e = &k->snap->e[i];
    collector__emit(&c->batch, e->name, k->labels, k->nlabels, e->extra, e->nextra, e->v);
  }
}

static void read_containers(collector *c)
{
  uint64_t vanished = 0;
  for (size_t i = 0; i < c->nctrs; i++) {
    collector__ctr *k = c->ctrs[i];
    if (k->gone)
      continue;
    size_t mark = c->batch.n;
    int status = 0;
    bool detail = !k->snap || (c->cycle + k->stagger) % c->detail_every == 0;
    if (detail) { /* first: memory.stat feeds the working set the core read emits */
      collector__read_v1(c, k, true, &status);
      collector__read_v2(c, k, true, &status);
      collector__read_net(c, k);
    } else
      snap_emit(c, k);
    size_t dend = c->batch.n;
    collector__read_v1(c, k, false, &status);
    collector__read_v2(c, k, false, &status);
    if (status == LK_ECANCELED) {
      c->batch.n = mark; /* drop the partial container */
      k->gone = true;
      vanished++;
      continue;
    }
    if (detail)
      snap_take(c, k, mark, dend);
    collector__emit_spec(c, k);
  }
  c->cycle++;
  if (vanished) {
    pthread_mutex_lock(&c->lock);
    c->stats.vanished += vanished;
    pthread_mutex_unlock(&c->lock);
    c->last_rescan_ms = -1; /* pick up the change at the next cycle */
  }
}

/* The collector's own counters, as series of the same batch. */
static void emit_self(collector *c, int64_t took_ns)
{
  collector_stats s;
  collector_stats_get(c, &s);
  const lk_label node = {"node", c->node};
  size_t nn = c->node[0] ? 1 : 0;
  const struct { const char *name; double v; } m[] = {
    {"lookout_collector_containers", (double)c->nctrs},
    {"lookout_collector_cycles_total", (double)s.cycles + 1},
    {"lookout_collector_read_errors_total", (double)s.read_errors},
    {"lookout_collector_parse_errors_total", (double)s.parse_errors},
    {"lookout_collector_vanished_total", (double)s.vanished},
    {"lookout_collector_scrape_errors_total", (double)s.scrape_errors},
    {"lookout_collector_sink_errors_total", (double)s.sink_errors},
    {"lookout_collector_cycle_seconds", (double)took_ns / 1e9},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    collector__emit(&c->batch, m[i].name, &node, nn, NULL, 0, m[i].v);
}

int collector_collect(collector *c, int64_t now_ms)
{
  int64_t t0 = lk_mono_ns(), mono_ms = t0 / 1000000;
  if (!now_ms)
    now_ms = lk_now_ms();
  pthread_mutex_lock(&c->lock);
  bool requested = c->rescan_requested;
  c->rescan_requested = false;
  pthread_mutex_unlock(&c->lock);
  if (!c->no_containers && (requested || c->last_rescan_ms < 0 ||
                            mono_ms - c->last_rescan_ms >= c->rescan_ms)) {
    collector__rescan(c);
    c->last_rescan_ms = mono_ms;
  }
  collector__batch_reset(&c->batch, now_ms);
  if (!c->no_containers)
    read_containers(c);
  if (!c->no_node)
    collector__read_node(c);
  if (c->scraper)
    collector__scrape(c, now_ms);
  emit_self(c, lk_mono_ns() - t0);
  int rc = c->sink.fn(c->sink.ctx, c->batch.series, c->batch.n);
  pthread_mutex_lock(&c->lock);
  c->stats.cycles++;
  c->stats.containers = c->nctrs;
  c->stats.series_last = c->batch.n;
  c->stats.last_cycle_ns = lk_mono_ns() - t0;
  if (rc)
    c->stats.sink_errors++;
  pthread_mutex_unlock(&c->lock);
  return rc;
}

void collector_rescan(collector *c)
{
  pthread_mutex_lock(&c->lock);
  c->rescan_requested = true;
  pthread_mutex_unlock(&c->lock);
}

void collector_stats_get(collector *c, collector_stats *out)
{
  pthread_mutex_lock(&c->lock);
  *out = c->stats;
  pthread_mutex_unlock(&c->lock);
}

static void *run(void *arg)
{
  collector *c = arg;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&c->lock);
  while (!c->stop) {
    pthread_mutex_unlock(&c->lock);
    collector_collect(c, 0);
    next.tv_nsec += (c->interval_ms % 1000) * 1000000;
    next.tv_sec += c->interval_ms / 1000 + next.tv_nsec / 1000000000;
    next.tv_nsec %= 1000000000;
    pthread_mutex_lock(&c->lock);
    while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &next) == 0)
      ;
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

int collector_start(collector *c)
{
  pthread_mutex_lock(&c->lock);
  if (c->running) {
    pthread_mutex_unlock(&c->lock);
    return LK_EEXIST;
  }
  c->stop = false;
  c->running = true;
  pthread_mutex_unlock(&c->lock);
  int terr = pthread_create(&c->thread, NULL, run, c);
  if (terr) {
    pthread_mutex_lock(&c->lock);
    c->running = false;
    pthread_mutex_unlock(&c->lock);
    return -terr;
  }
  return 0;
}

void collector_stop(collector *c)
{
  pthread_mutex_lock(&c->lock);
  if (!c->running) {
    pthread_mutex_unlock(&c->lock);
    return;
  }
  c->stop = true;
  pthread_cond_broadcast(&c->wake);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  pthread_mutex_lock(&c->lock);
  c->running = false;
  pthread_mutex_unlock(&c->lock);
}

void collector_raise_fd_limit(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}
