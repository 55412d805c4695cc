/* cgroup_v1.c — per-container metrics from cgroup v1 controllers (cpuacct,
 * cpu, memory, blkio, pids), in cAdvisor's names and units.
 *
 * Units: cpuacct.usage and throttled_time are nanoseconds, cpuacct.stat is
 * USER_HZ ticks (100 per second, as runc/cAdvisor hard-code), memory in
 * bytes. Hierarchical memory.stat keys (total_*) are preferred, falling back
 * to the local ones. Working set = usage - total_inactive_file, floored at 0.
 *
 * Core files (cpuacct.usage, memory.usage_in_bytes) are read every cycle;
 * detail files (memory.stat, user/system split, throttling, peak/failcnt/OOM,
 * block I/O, pids) only on the container's detail cycles (see collector.c).
 * memory.stat is the most expensive file a cycle reads (the kernel sums the
 * hierarchy), so the working set is computed every cycle from the fresh
 * usage and total_inactive_file of the last memory.stat read.
 *
 * Each reader emits what it could read; an absent file is not an error, a
 * malformed one is counted and skipped, and a vanished cgroup sets *status
 * to LK_ECANCELED so the caller drops the container's partial series.
 */
#include <stdio.h>
#include <string.h>

#include "collector/collector_int.h"

#define USER_HZ 100.0
#define EMIT(name, v) collector__emit(&c->batch, name, k->labels, k->nlabels, NULL, 0, (v))

static void v1_cpu_core(collector *c, collector__ctr *k, char *buf, int *status)
{
  double v;
  bool is_max;
  if (!collector__cg_read(c, k, CF_CPUACCT_USAGE, "cpuacct.usage", buf, status)) {
    if (collector__single(buf, &v, &is_max))
      collector__note_error(c, k, "cpuacct.usage", LK_EPARSE);
    else {
      static const lk_label total = {"cpu", "total"};
      collector__emit(&c->batch, "container_cpu_usage_seconds_total", k->labels, k->nlabels,
                      &total, 1, v / 1e9);
    }
  }
}

static void v1_cpu_detail(collector *c, collector__ctr *k, char *buf, int *status)
{
  static const char *const st_keys[] = {"user", "system"};
  double st[2];
  uint32_t found = 0;
  if (!collector__cg_read(c, k, CF_CPUACCT_STAT, "cpuacct.stat", buf, status)) {
    if (collector__kv(buf, st_keys, 2, st, &found) || found != 3)
      collector__note_error(c, k, "cpuacct.stat", LK_EPARSE);
    else {
      EMIT("container_cpu_user_seconds_total", st[0] / USER_HZ);
      EMIT("container_cpu_system_seconds_total", st[1] / USER_HZ);
    }
  }
  static const char *const cfs_keys[] = {"nr_periods", "nr_throttled", "throttled_time"};
  double cfs[3];
  found = 0;
  if (!collector__cg_read(c, k, CF_CPU_STAT, "cpu.stat", buf, status)) {
    if (collector__kv(buf, cfs_keys, 3, cfs, &found) || found != 7)
      collector__note_error(c, k, "cpu.stat", LK_EPARSE);
    else {
      EMIT("container_cpu_cfs_periods_total", cfs[0]);
      EMIT("container_cpu_cfs_throttled_periods_total", cfs[1]);
      EMIT("container_cpu_cfs_throttled_seconds_total", cfs[2] / 1e9);
    }
  }
}

enum { M_RSS, M_CACHE, M_MAPPED, M_INACTIVE, M_SWAP, M_PGFAULT, M_PGMAJ, M_NKEYS };
static const char *const mem_total_keys[] = {"total_rss", "total_cache", "total_mapped_file",
  "total_inactive_file", "total_swap", "total_pgfault", "total_pgmajfault"};
static const char *const mem_local_keys[] = {"rss", "cache", "mapped_file", "inactive_file",
  "swap", "pgfault", "pgmajfault"};

void collector__emit_working_set(collector *c, collector__ctr *k, double usage)
{
  if (usage < 0 || k->inactive_file < 0)
    return;
  double ws = usage - k->inactive_file;
  EMIT("container_memory_working_set_bytes", ws < 0 ? 0 : ws);
}

void collector__emit_faults(collector *c, collector__ctr *k, double pgf_c, double pgmaj_c,
                            double pgf_h, double pgmaj_h)
{
  static const lk_label l[4][2] = {
    {{"failure_type", "pgfault"}, {"scope", "container"}},
    {{"failure_type", "pgmajfault"}, {"scope", "container"}},
    {{"failure_type", "pgfault"}, {"scope", "hierarchy"}},
    {{"failure_type", "pgmajfault"}, {"scope", "hierarchy"}},
  };
  const double v[4] = {pgf_c, pgmaj_c, pgf_h, pgmaj_h};
  for (int i = 0; i < 4; i++)
    collector__emit(&c->batch, "container_memory_failures_total", k->labels, k->nlabels, l[i],
                    2, v[i]);
}

static void v1_memory_stat(collector *c, collector__ctr *k, char *buf)
{
  double tot[M_NKEYS] = {0}, loc[M_NKEYS] = {0};
  uint32_t ftot = 0, floc = 0;
  if (collector__kv(buf, mem_total_keys, M_NKEYS, tot, &ftot) ||
      collector__kv(buf, mem_local_keys, M_NKEYS, loc, &floc) || !(floc & (1u << M_RSS))) {
    collector__note_error(c, k, "memory.stat", LK_EPARSE);
    return;
  }
  double v[M_NKEYS];
  for (int i = 0; i < M_NKEYS; i++)
    v[i] = (ftot & (1u << i)) ? tot[i] : loc[i];
  EMIT("container_memory_rss", v[M_RSS]);
  EMIT("container_memory_cache", v[M_CACHE]);
  EMIT("container_memory_mapped_file", v[M_MAPPED]);
  EMIT("container_memory_swap", v[M_SWAP]);
  k->inactive_file = v[M_INACTIVE];
  collector__emit_faults(c, k, loc[M_PGFAULT], loc[M_PGMAJ], v[M_PGFAULT], v[M_PGMAJ]);
}

static void v1_memory_core(collector *c, collector__ctr *k, char *buf, int *status)
{
  double v, usage = -1;
  bool is_max;
  if (!collector__cg_read(c, k, CF_MEM_USAGE, "memory.usage_in_bytes", buf, status)) {
    if (collector__single(buf, &v, &is_max))
      collector__note_error(c, k, "memory.usage_in_bytes", LK_EPARSE);
    else
      EMIT("container_memory_usage_bytes", usage = v);
  }
  collector__emit_working_set(c, k, usage);
}

static void v1_memory_detail(collector *c, collector__ctr *k, char *buf, int *status)
{
  double v;
  bool is_max;
  if (!collector__cg_read(c, k, CF_MEM_STAT, "memory.stat", buf, status))
    v1_memory_stat(c, k, buf);
  if (!collector__cg_read(c, k, CF_MEM_MAXUSAGE, "memory.max_usage_in_bytes", buf, status)) {
    if (collector__single(buf, &v, &is_max))
      collector__note_error(c, k, "memory.max_usage_in_bytes", LK_EPARSE);
    else
      EMIT("container_memory_max_usage_bytes", v);
  }
  if (!collector__cg_read(c, k, CF_MEM_FAILCNT, "memory.failcnt", buf, status)) {
    if (collector__single(buf, &v, &is_max))
      collector__note_error(c, k, "memory.failcnt", LK_EPARSE);
    else
      EMIT("container_memory_failcnt", v);
  }
  static const char *const oom_keys[] = {"oom_kill"};
  uint32_t found = 0;
  if (!collector__cg_read(c, k, CF_MEM_OOM, "memory.oom_control", buf, status)) {
    if (collector__kv(buf, oom_keys, 1, &v, &found))
      collector__note_error(c, k, "memory.oom_control", LK_EPARSE);
    else if (found)
      EMIT("container_oom_events_total", v);
  }
}

/*---- block I/O: per-device read/write bytes and operations ----*/

typedef collector__blkdev blkdev;
#define MAXDEV COLLECTOR__MAXDEV

static blkdev *dev_slot(blkdev *d, size_t *n, unsigned maj, unsigned min)
{
  for (size_t i = 0; i < *n; i++)
    if (d[i].maj == maj && d[i].min == min)
      return &d[i];
  if (*n == MAXDEV)
    return NULL;
  d[*n] = (blkdev){maj, min, 0, 0, 0, 0};
  return &d[(*n)++];
}

/* `MAJ:MIN Op N` lines; ops is false for bytes. */
static int parse_blkio(const char *buf, blkdev *d, size_t *n, bool ops)
{
  for (const char *p = buf; *p;) {
    unsigned maj, min;
    char op[16];
    double v;
    int used = 0;
    if (sscanf(p, "%u:%u %15s %lf%n", &maj, &min, op, &v, &used) == 4) {
      blkdev *s = dev_slot(d, n, maj, min);
      bool rd_op = !strcmp(op, "Read"), wr_op = !strcmp(op, "Write");
      if (s && rd_op)
        *(ops ? &s->rio : &s->rb) = v;
      if (s && wr_op)
        *(ops ? &s->wio : &s->wb) = v;
    } else if (strncmp(p, "Total", 5))
      return LK_EPARSE;
    const char *nl = strchr(p, '\n');
    if (!nl)
      break;
    p = nl + 1;
  }
  return 0;
}

void collector__emit_blk(collector *c, collector__ctr *k, const blkdev *d, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const char *name = collector__devname(c, d[i].maj, d[i].min);
    char tmp[64];
    if (name)
      snprintf(tmp, sizeof tmp, "/dev/%s", name);
    else
      snprintf(tmp, sizeof tmp, "%u:%u", d[i].maj, d[i].min);
    lk_label dev = {"device", collector__batch_str(&c->batch, tmp, strlen(tmp))};
    collector__emit(&c->batch, "container_fs_reads_bytes_total", k->labels, k->nlabels, &dev, 1, d[i].rb);
    collector__emit(&c->batch, "container_fs_writes_bytes_total", k->labels, k->nlabels, &dev, 1, d[i].wb);
    collector__emit(&c->batch, "container_fs_reads_total", k->labels, k->nlabels, &dev, 1, d[i].rio);
    collector__emit(&c->batch, "container_fs_writes_total", k->labels, k->nlabels, &dev, 1, d[i].wio);
  }
}

static void v1_blkio(collector *c, collector__ctr *k, char *buf, int *status)
{
  blkdev d[MAXDEV];
  size_t n = 0;
  bool ok = false;
  if (!collector__cg_read(c, k, CF_BLK_BYTES, "blkio.throttle.io_service_bytes_recursive", buf,
                          status)) {
    if (parse_blkio(buf, d, &n, false))
      collector__note_error(c, k, "blkio.throttle.io_service_bytes_recursive", LK_EPARSE);
    else
      ok = true;
  }
  if (ok && !collector__cg_read(c, k, CF_BLK_OPS, "blkio.throttle.io_serviced_recursive", buf, status) &&
      parse_blkio(buf, d, &n, true)) {
    collector__note_error(c, k, "blkio.throttle.io_serviced_recursive", LK_EPARSE);
    ok = false;
  }
  if (ok)
    collector__emit_blk(c, k, d, n);
}

static void v1_pids(collector *c, collector__ctr *k, char *buf, int *status)
{
  double v;
  bool is_max;
  if (collector__cg_read(c, k, CF_PIDS_CUR, "pids.current", buf, status))
    return;
  if (collector__single(buf, &v, &is_max))
    collector__note_error(c, k, "pids.current", LK_EPARSE);
  else
    EMIT("container_threads", v);
}

void collector__read_v1(collector *c, collector__ctr *k, bool detail, int *status)
{
  char buf[COLLECTOR__CG_BUFSZ];
  bool cpu = k->hmask & (1u << H_CPUACCT | 1u << H_CPU), mem = k->hmask & (1u << H_MEMORY);
  if (!detail) {
    if (cpu)
      v1_cpu_core(c, k, buf, status);
    if (mem)
      v1_memory_core(c, k, buf, status);
    return;
  }
  if (cpu)
    v1_cpu_detail(c, k, buf, status);
  if (mem)
    v1_memory_detail(c, k, buf, status);
  if (k->hmask & (1u << H_BLKIO))
    v1_blkio(c, k, buf, status);
  if (k->hmask & (1u << H_PIDS))
    v1_pids(c, k, buf, status);
}

/*---- limits, read at discovery ----*/

static bool read_num(const char *root, const char *path, const char *file, double *out, bool *is_max)
{
  char p[4096], buf[128];
  size_t len;
  snprintf(p, sizeof p, "%s%s/%s", root, path, file);
  return collector__read_path(p, buf, sizeof buf, &len) == 0 &&
         collector__single(buf, out, is_max) == 0;
}

void collector__spec_v1(collector *c, collector__ctr *k)
{
  collector__spec *s = &k->spec;
  double v;
  bool is_max;
  if ((k->hmask & (1u << H_CPU)) && read_num(c->hier[H_CPU], k->path, "cpu.shares", &v, &is_max)) {
    s->have_cpu = true;
    s->cpu_shares = v;
    s->cpu_quota_us = read_num(c->hier[H_CPU], k->path, "cpu.cfs_quota_us", &v, &is_max) ? v : -1;
    s->cpu_period_us =
        read_num(c->hier[H_CPU], k->path, "cpu.cfs_period_us", &v, &is_max) ? v : 100000;
  }
  if ((k->hmask & (1u << H_MEMORY)) &&
      read_num(c->hier[H_MEMORY], k->path, "memory.limit_in_bytes", &v, &is_max)) {
    s->have_mem = true;
    s->mem_limit = v >= (double)(1ULL << 62) ? 0 : v; /* "unlimited" reads as ~2^63 */
  }
  if ((k->hmask & (1u << H_PIDS)) &&
      read_num(c->hier[H_PIDS], k->path, "pids.max", &v, &is_max)) {
    s->have_pids = true;
    s->pids_max = is_max ? 0 : v;
  }
}
