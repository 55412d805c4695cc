/* cgroup_v2.c — per-container metrics from the cgroup2 hierarchy: cpu.stat,
 * memory.*, io.stat, pids.current and PSI, in cAdvisor's names and units.
 *
 * Hybrid hosts: a container can live in v1 controllers and in the v2 mount
 * at once (the v2 mount then has few or no controllers). v1 data wins for a
 * controller the container has in v1; v2 fills the rest, and PSI (v2 only)
 * is always read when present. cpu.stat exists in v2 even without the cpu
 * controller (usage only; throttling keys appear with the controller).
 *
 * Core files every cycle: cpu.stat, memory.current (working set from the
 * inactive_file of the last memory.stat). Detail files on detail cycles:
 * memory.stat, swap, peak, events, io.stat, pids, PSI.
 *
 * Units: *_usec are microseconds, PSI `total` is microseconds of stall.
 * Working set = memory.current - inactive_file, floored at 0.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector_int.h"

#define EMIT(name, v) collector__emit(&c->batch, name, k->labels, k->nlabels, NULL, 0, (v))
#define IN_V1(h) (k->hmask & (1u << (h)))

static void v2_cpu(collector *c, collector__ctr *k, char *buf, int *status)
{
  static const char *const keys[] = {"usage_usec", "user_usec", "system_usec",
                                     "nr_periods", "nr_throttled", "throttled_usec"};
  double v[6];
  uint32_t found = 0;
  if (collector__cg_read(c, k, CF2_CPU_STAT, "cpu.stat", buf, status))
    return;
  if (collector__kv(buf, keys, 6, v, &found) || (found & 7) != 7) {
    collector__note_error(c, k, "cpu.stat", LK_EPARSE);
    return;
  }
  if (!IN_V1(H_CPUACCT)) {
    static const lk_label total = {"cpu", "total"};
    collector__emit(&c->batch, "container_cpu_usage_seconds_total", k->labels, k->nlabels,
                    &total, 1, v[0] / 1e6);
    EMIT("container_cpu_user_seconds_total", v[1] / 1e6);
    EMIT("container_cpu_system_seconds_total", v[2] / 1e6);
  }
  if (!IN_V1(H_CPU) && (found & 0x38) == 0x38) {
    EMIT("container_cpu_cfs_periods_total", v[3]);
    EMIT("container_cpu_cfs_throttled_periods_total", v[4]);
    EMIT("container_cpu_cfs_throttled_seconds_total", v[5] / 1e6);
  }
}

static void v2_single(collector *c, collector__ctr *k, enum collector__file f, const char *file,
                      const char *metric, char *buf, int *status, double *out)
{
  double v;
  bool is_max;
  if (collector__cg_read(c, k, f, file, buf, status))
    return;
  if (collector__single(buf, &v, &is_max) || is_max) {
    collector__note_error(c, k, file, LK_EPARSE);
    return;
  }
  if (metric)
    EMIT(metric, v);
  if (out)
    *out = v;
}

static void v2_memory_core(collector *c, collector__ctr *k, char *buf, int *status)
{
  double usage = -1;
  v2_single(c, k, CF2_MEM_CURRENT, "memory.current", "container_memory_usage_bytes", buf,
            status, &usage);
  collector__emit_working_set(c, k, usage);
}

/* memory.stat and the rarer memory files; nothing without a memory.stat
 * (no memory controller for this cgroup). */
static void v2_memory_detail(collector *c, collector__ctr *k, char *buf, int *status)
{
  static const char *const keys[] = {"anon", "file", "file_mapped", "inactive_file",
                                     "pgfault", "pgmajfault"};
  double v[6] = {0}, swap = 0, oom;
  uint32_t found = 0;
  if (collector__cg_read(c, k, CF2_MEM_STAT, "memory.stat", buf, status))
    return;
  if (collector__kv(buf, keys, 6, v, &found) || (found & 0xb) != 0xb) {
    collector__note_error(c, k, "memory.stat", LK_EPARSE);
  } else {
    EMIT("container_memory_rss", v[0]);
    EMIT("container_memory_cache", v[1]);
    EMIT("container_memory_mapped_file", v[2]);
    k->inactive_file = v[3];
    collector__emit_faults(c, k, v[4], v[5], v[4], v[5]);
  }
  v2_single(c, k, CF2_MEM_SWAP, "memory.swap.current", NULL, buf, status, &swap);
  EMIT("container_memory_swap", swap);
  v2_single(c, k, CF2_MEM_PEAK, "memory.peak", "container_memory_max_usage_bytes", buf, status,
            NULL);
  static const char *const ev_keys[] = {"oom_kill"};
  found = 0;
  if (!collector__cg_read(c, k, CF2_MEM_EVENTS, "memory.events", buf, status)) {
    if (collector__kv(buf, ev_keys, 1, &oom, &found))
      collector__note_error(c, k, "memory.events", LK_EPARSE);
    else if (found)
      EMIT("container_oom_events_total", oom);
  }
}

/* `MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...` lines. */
static int parse_io_stat(const char *buf, collector__blkdev *d, size_t *n)
{
  for (const char *p = buf; *p;) {
    unsigned maj, min;
    int used = 0;
    const char *nl = strchr(p, '\n');
    if (sscanf(p, "%u:%u%n", &maj, &min, &used) != 2)
      return LK_EPARSE;
    if (*n < COLLECTOR__MAXDEV) {
      collector__blkdev *s = &d[(*n)++];
      *s = (collector__blkdev){maj, min, 0, 0, 0, 0};
      static const struct { const char *k; size_t off; } f[] = {
        {" rbytes=", offsetof(collector__blkdev, rb)}, {" wbytes=", offsetof(collector__blkdev, wb)},
        {" rios=", offsetof(collector__blkdev, rio)}, {" wios=", offsetof(collector__blkdev, wio)}};
      for (size_t i = 0; i < 4; i++) {
        const char *at = strstr(p + used, f[i].k);
        if (at && (!nl || at < nl) && sscanf(at + strlen(f[i].k), "%lf", (double *)((char *)s + f[i].off)) != 1)
          return LK_EPARSE;
      }
    }
    if (!nl)
      break;
    p = nl + 1;
  }
  return 0;
}

static void v2_io(collector *c, collector__ctr *k, char *buf, int *status)
{
  collector__blkdev d[COLLECTOR__MAXDEV];
  size_t n = 0;
  if (collector__cg_read(c, k, CF2_IO_STAT, "io.stat", buf, status))
    return;
  if (parse_io_stat(buf, d, &n))
    collector__note_error(c, k, "io.stat", LK_EPARSE);
  else
    collector__emit_blk(c, k, d, n);
}

static void v2_psi(collector *c, collector__ctr *k, char *buf, int *status)
{
  static const struct {
    enum collector__file f;
    const char *file, *waiting, *stalled;
  } psi[] = {
    {CF2_CPU_PSI, "cpu.pressure", "container_pressure_cpu_waiting_seconds_total",
     "container_pressure_cpu_stalled_seconds_total"},
    {CF2_MEM_PSI, "memory.pressure", "container_pressure_memory_waiting_seconds_total",
     "container_pressure_memory_stalled_seconds_total"},
    {CF2_IO_PSI, "io.pressure", "container_pressure_io_waiting_seconds_total",
     "container_pressure_io_stalled_seconds_total"},
  };
  for (size_t i = 0; i < sizeof psi / sizeof psi[0]; i++) {
    double some = 0, full = 0;
    bool has_full;
    if (collector__cg_read(c, k, psi[i].f, psi[i].file, buf, status))
      continue;
    if (collector__psi(buf, &some, &full, &has_full)) {
      collector__note_error(c, k, psi[i].file, LK_EPARSE);
      continue;
    }
    EMIT(psi[i].waiting, some / 1e6);
    if (has_full)
      EMIT(psi[i].stalled, full / 1e6);
  }
}

void collector__read_v2(collector *c, collector__ctr *k, bool detail, int *status)
{
  char buf[COLLECTOR__CG_BUFSZ];
  if (!(k->hmask & (1u << H_V2)))
    return;
  if (!detail) { /* cpu.stat is one file: usage, split and throttling together */
    if (!IN_V1(H_CPUACCT) || !IN_V1(H_CPU))
      v2_cpu(c, k, buf, status);
    if (!IN_V1(H_MEMORY))
      v2_memory_core(c, k, buf, status);
    return;
  }
  if (!IN_V1(H_MEMORY))
    v2_memory_detail(c, k, buf, status);
  if (!IN_V1(H_BLKIO))
    v2_io(c, k, buf, status);
  if (!IN_V1(H_PIDS))
    v2_single(c, k, CF2_PIDS_CUR, "pids.current", "container_threads", buf, status, NULL);
  v2_psi(c, k, buf, status);
}

/*---- limits, read at discovery ----*/

static bool read_file(const char *root, const char *path, const char *file, char *buf, size_t cap)
{
  char p[4096];
  size_t len;
  snprintf(p, sizeof p, "%s%s/%s", root, path, file);
  return collector__read_path(p, buf, cap, &len) == 0;
}

void collector__spec_v2(collector *c, collector__ctr *k)
{
  collector__spec *s = &k->spec;
  const char *root = c->hier[H_V2];
  char buf[128];
  double v, per;
  bool is_max;
  if (!root || !(k->hmask & (1u << H_V2)))
    return;
  if (!s->have_cpu && read_file(root, k->path, "cpu.weight", buf, sizeof buf) &&
      !collector__single(buf, &v, &is_max)) {
    s->have_cpu = true;
    s->cpu_shares = 2 + floor((v - 1) * 262142 / 9999); /* runc: integer division */
    s->cpu_quota_us = -1;
    s->cpu_period_us = 100000;
    if (read_file(root, k->path, "cpu.max", buf, sizeof buf)) {
      if (sscanf(buf, "%lf %lf", &v, &per) == 2) {
        s->cpu_quota_us = v;
        s->cpu_period_us = per;
      } else if (sscanf(buf, "max %lf", &per) == 1)
        s->cpu_period_us = per;
    }
  }
  if (!s->have_mem && read_file(root, k->path, "memory.max", buf, sizeof buf) &&
      !collector__single(buf, &v, &is_max)) {
    s->have_mem = true;
    s->mem_limit = is_max ? 0 : v;
  }
  if (!s->have_pids && read_file(root, k->path, "pids.max", buf, sizeof buf) &&
      !collector__single(buf, &v, &is_max)) {
    s->have_pids = true;
    s->pids_max = is_max ? 0 : v;
  }
}
