/* node.c — node metrics, the core of node_exporter: CPU seconds by mode,
 * load, memory, filesystems, disk and network device counters, pressure.
 * Names, labels and units follow node_exporter (USER_HZ ticks -> seconds,
 * kB -> bytes, sectors of 512 bytes, milliseconds -> seconds).
 *
 * All files are read with open/read/close (a handful per cycle). A file
 * that cannot be read or parsed is counted and skipped; the rest still
 * goes out. Dynamic names and label values are copied into the batch arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "collector/collector_int.h"

#define USER_HZ 100.0
static lk_label node_label(collector *c)
{
  return (lk_label){"node", c->node};
}

/* The file under proc_root, NUL terminated, in the batch arena at its real
 * size: a cap-sized arena block per file made every cycle malloc and free
 * ~3 MiB of 256 KiB blocks, which fragmented the collector thread's malloc
 * arena (RSS grew for hours while little of it was in use). */
static char *slurp(collector *c, const char *rel, size_t *len)
{
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", c->proc_root, rel);
  int rc = collector__read_path(p, c->read_buf, COLLECTOR__READ_CAP, len);
  if (rc) {
    if (rc != LK_ENOENT)
      collector__note_error(c, NULL, rel, rc);
    return NULL;
  }
  return lk_arena_strndup(c->batch.arena, c->read_buf, *len);
}

static void node_stat(collector *c)
{
  static const char *const modes[] = {"user", "nice", "system", "idle", "iowait",
                                      "irq", "softirq", "steal"};
  size_t len;
  char *buf = slurp(c, "stat", &len);
  if (!buf)
    return;
  lk_label ls[3] = {node_label(c)};
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    unsigned cpu;
    double v[8];
    int used;
    if (!strncmp(line, "cpu", 3) && line[3] >= '0' && line[3] <= '9' &&
        sscanf(line, "cpu%u%n", &cpu, &used) == 1) {
      if (sscanf(line + used, "%lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]) != 8) {
        collector__note_error(c, NULL, "stat", LK_EPARSE);
        return;
      }
      char id[16];
      snprintf(id, sizeof id, "%u", cpu);
      ls[1] = (lk_label){"cpu", collector__batch_str(&c->batch, id, strlen(id))};
      for (int m = 0; m < 8; m++) {
        ls[2] = (lk_label){"mode", modes[m]};
        collector__emit(&c->batch, "node_cpu_seconds_total", ls, 3, NULL, 0, v[m] / USER_HZ);
      }
    } else if (sscanf(line, "ctxt %lf", &v[0]) == 1)
      collector__emit(&c->batch, "node_context_switches_total", ls, 1, NULL, 0, v[0]);
    else if (sscanf(line, "processes %lf", &v[0]) == 1)
      collector__emit(&c->batch, "node_forks_total", ls, 1, NULL, 0, v[0]);
    else if (sscanf(line, "btime %lf", &v[0]) == 1)
      collector__emit(&c->batch, "node_boot_time_seconds", ls, 1, NULL, 0, v[0]);
    else if (sscanf(line, "procs_running %lf", &v[0]) == 1)
      collector__emit(&c->batch, "node_procs_running", ls, 1, NULL, 0, v[0]);
    else if (sscanf(line, "procs_blocked %lf", &v[0]) == 1)
      collector__emit(&c->batch, "node_procs_blocked", ls, 1, NULL, 0, v[0]);
  }
}

static void node_load(collector *c)
{
  size_t len;
  double l[3];
  char *buf = slurp(c, "loadavg", &len);
  if (!buf)
    return;
  if (sscanf(buf, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) {
    collector__note_error(c, NULL, "loadavg", LK_EPARSE);
    return;
  }
  lk_label n = node_label(c);
  collector__emit(&c->batch, "node_load1", &n, 1, NULL, 0, l[0]);
  collector__emit(&c->batch, "node_load5", &n, 1, NULL, 0, l[1]);
  collector__emit(&c->batch, "node_load15", &n, 1, NULL, 0, l[2]);
}

/* `Key:   N kB` -> node_memory_<key in snake_case>_bytes ("MemTotal" ->
 * mem_total, "Active(anon)" -> active_anon). node_exporter keeps the kernel's
 * camelCase, which `promtool check metrics` rejects; the agent's /metrics page
 * must pass it, so the names are snake_case here. Fields without a kB unit
 * (HugePages_* counts) are skipped. */
static bool unit_abbrev(const char *p, size_t n)
{
  static const char *const ab[] = {"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb",
                                   "pb", "m", "h", "d"};
  for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
    if (strlen(ab[i]) == n && !memcmp(ab[i], p, n))
      return true;
  return false;
}

/* snake_case; a word that would read as an abbreviated unit (promtool
 * rejects those: "sec", "m") is joined to its neighbour instead. */
static void snake(const char *key, char *out, size_t cap)
{
  size_t o = 0, word = 0;
  for (const char *p = key; *p && o + 2 < cap; p++) {
    char ch = *p;
    bool up = ch >= 'A' && ch <= 'Z';
    bool prev_low = p > key && p[-1] >= 'a' && p[-1] <= 'z';
    if (ch == ')')
      continue;
    if ((up && prev_low) || ch == '(' || ch == '_') {
      if (!unit_abbrev(out + word, o - word))
        out[o++] = '_';
      word = o;
      if (ch == '(' || ch == '_')
        continue;
    }
    out[o++] = up ? (char)(ch - 'A' + 'a') : ch;
  }
  out[o] = 0;
}

static void node_meminfo(collector *c)
{
  size_t len;
  char *buf = slurp(c, "meminfo", &len);
  if (!buf)
    return;
  lk_label n = node_label(c);
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char key[64], unit[8] = "", sn[96], name[128];
    double v;
    if (sscanf(line, "%63[^:]: %lf %7s", key, &v, unit) < 2) {
      collector__note_error(c, NULL, "meminfo", LK_EPARSE);
      return;
    }
    if (strcmp(unit, "kB"))
      continue;
    snake(key, sn, sizeof sn);
    int nl = snprintf(name, sizeof name, "node_memory_%s_bytes", sn);
    collector__emit(&c->batch, collector__batch_str(&c->batch, name, (size_t)nl), &n, 1, NULL, 0,
                    v * 1024);
  }
}

static bool skip_fs(const char *type, const char *mnt)
{
  static const char *const types[] = {"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2",
    "configfs", "debugfs", "devpts", "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue",
    "nsfs", "overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs",
    "squashfs", "sysfs", "tracefs"};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(type, types[i]))
      return true;
  static const char *const mnts[] = {"/dev", "/proc", "/sys", "/run/credentials/"};
  for (size_t i = 0; i < sizeof mnts / sizeof mnts[0]; i++) {
    size_t l = strlen(mnts[i]);
    if (!strncmp(mnt, mnts[i], l) && (mnt[l] == 0 || mnt[l] == '/' || mnts[i][l - 1] == '/'))
      return true;
  }
  return false;
}

static void node_fs(collector *c)
{
  size_t len;
  char *buf = slurp(c, "mounts", &len);
  if (!buf)
    return;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char dev[256], mnt[1024], type[64];
    struct statvfs sv;
    if (sscanf(line, "%255s %1023s %63s", dev, mnt, type) != 3 || skip_fs(type, mnt) ||
        statvfs(mnt, &sv))
      continue;
    lk_label ls[4] = {node_label(c),
      {"device", collector__batch_str(&c->batch, dev, strlen(dev))},
      {"fstype", collector__batch_str(&c->batch, type, strlen(type))},
      {"mountpoint", collector__batch_str(&c->batch, mnt, strlen(mnt))}};
    double bs = (double)sv.f_frsize;
    collector__emit(&c->batch, "node_filesystem_size_bytes", ls, 4, NULL, 0, bs * (double)sv.f_blocks);
    collector__emit(&c->batch, "node_filesystem_free_bytes", ls, 4, NULL, 0, bs * (double)sv.f_bfree);
    collector__emit(&c->batch, "node_filesystem_avail_bytes", ls, 4, NULL, 0, bs * (double)sv.f_bavail);
    collector__emit(&c->batch, "node_filesystem_files", ls, 4, NULL, 0, (double)sv.f_files);
    collector__emit(&c->batch, "node_filesystem_files_free", ls, 4, NULL, 0, (double)sv.f_ffree);
  }
}

static void node_disk(collector *c)
{
  size_t len;
  char *buf = slurp(c, "diskstats", &len);
  if (!buf)
    return;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char name[64];
    double f[11];
    if (sscanf(line, " %*u %*u %63s %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", name, &f[0],
               &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10]) != 12) {
      collector__note_error(c, NULL, "diskstats", LK_EPARSE);
      return;
    }
    if (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3))
      continue;
    lk_label ls[2] = {node_label(c), {"device", collector__batch_str(&c->batch, name, strlen(name))}};
    static const struct { const char *name; int field; double scale; } m[] = {
      {"node_disk_reads_completed_total", 0, 1}, {"node_disk_reads_merged_total", 1, 1},
      {"node_disk_read_bytes_total", 2, 512}, {"node_disk_read_time_seconds_total", 3, 0.001},
      {"node_disk_writes_completed_total", 4, 1}, {"node_disk_writes_merged_total", 5, 1},
      {"node_disk_written_bytes_total", 6, 512}, {"node_disk_write_time_seconds_total", 7, 0.001},
      {"node_disk_io_now", 8, 1}, {"node_disk_io_time_seconds_total", 9, 0.001},
      {"node_disk_io_time_weighted_seconds_total", 10, 0.001}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
      collector__emit(&c->batch, m[i].name, ls, 2, NULL, 0, f[m[i].field] * m[i].scale);
  }
}

int collector__emit_netdev(collector *c, const char *buf, const char *prefix,
                           const char *iface_label, const lk_label *base, size_t nbase,
                           bool skip_virtual)
{
  static const struct { const char *suffix; int field; } m[] = {
    {"receive_bytes_total", 0}, {"receive_packets_total", 1}, {"receive_errors_total", 2},
    {"receive_packets_dropped_total", 3}, {"transmit_bytes_total", 8},
    {"transmit_packets_total", 9}, {"transmit_errors_total", 10},
    {"transmit_packets_dropped_total", 11}};
  static const char *const node_names[] = {"receive_bytes_total", "receive_packets_total",
    "receive_errs_total", "receive_drop_total", "transmit_bytes_total", "transmit_packets_total",
    "transmit_errs_total", "transmit_drop_total"};
  bool node = !strcmp(prefix, "node_network_");
  const char *p = strchr(buf, '\n');
  p = p ? strchr(p + 1, '\n') : NULL; /* two header lines */
  if (!p)
    return LK_EPARSE;
  for (p++; *p;) {
    const char *nl = strchr(p, '\n');
    char name[64];
    double f[16];
    int used = 0;
    if (sscanf(p, " %63[^:]:%n", name, &used) != 1 || !used ||
        sscanf(p + used, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", &f[0],
               &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11],
               &f[12], &f[13], &f[14], &f[15]) != 16)
      return LK_EPARSE;
    bool skip = skip_virtual && (!strncmp(name, "lo", 2) || !strncmp(name, "veth", 4) ||
                                 !strncmp(name, "docker", 6) || !strncmp(name, "nerdctl", 7));
    if (!skip) {
      lk_label extra = {iface_label, collector__batch_str(&c->batch, name, strlen(name))};
      for (size_t i = 0; i < 8; i++) {
        char metric[96];
        snprintf(metric, sizeof metric, "%s%s", prefix, node ? node_names[i] : m[i].suffix);
        collector__emit(&c->batch, collector__batch_str(&c->batch, metric, strlen(metric)), base,
                        nbase, &extra, 1, f[m[i].field]);
      }
    }
    if (!nl)
      break;
    p = nl + 1;
  }
  return 0;
}

static void node_net(collector *c)
{
  size_t len;
  char *buf = slurp(c, "net/dev", &len);
  lk_label n = node_label(c);
  if (buf && collector__emit_netdev(c, buf, "node_network_", "device", &n, 1, false))
    collector__note_error(c, NULL, "net/dev", LK_EPARSE);
}

static void node_pressure(collector *c)
{
  static const char *const res[] = {"cpu", "memory", "io"};
  lk_label n = node_label(c);
  for (int i = 0; i < 3; i++) {
    char rel[32], name[96];
    size_t len;
    snprintf(rel, sizeof rel, "pressure/%s", res[i]);
    char *buf = slurp(c, rel, &len);
    double some, full;
    bool has_full;
    if (!buf)
      continue;
    if (collector__psi(buf, &some, &full, &has_full)) {
      collector__note_error(c, NULL, rel, LK_EPARSE);
      continue;
    }
    snprintf(name, sizeof name, "node_pressure_%s_waiting_seconds_total", res[i]);
    collector__emit(&c->batch, collector__batch_str(&c->batch, name, strlen(name)), &n, 1, NULL, 0, some / 1e6);
    if (has_full && i) { /* system-wide cpu `full` is undefined */
      snprintf(name, sizeof name, "node_pressure_%s_stalled_seconds_total", res[i]);
      collector__emit(&c->batch, collector__batch_str(&c->batch, name, strlen(name)), &n, 1, NULL, 0, full / 1e6);
    }
  }
}

void collector__read_node(collector *c)
{
  node_stat(c);
  node_load(c);
  node_meminfo(c);
  node_fs(c);
  node_disk(c);
  node_net(c);
  node_pressure(c);
}
