/* bench_collector.c — what Lookout's collector costs on the shared cgroup
 * farm (../shared/bench/cgroup_farm.sh, Kubernetes cgroupfs layout, a
 * process in every container), next to Netdata 1.37's cgroups plugin
 * measured on the same farm and machine kind
 * (../shared/bench/results/collector-peers.json).
 *
 * For each N it creates the farm (FARM_HOLD_PCT=100, same seed as the
 * reference), runs the collector (container metrics only, as the cgroups
 * plugin) at a 1 s interval, and over the window measures CPU per cycle
 * (getrusage of this single-threaded process), RSS (VmRSS/VmHWM), series per
 * cycle and how many of the farm's containers were discovered with their
 * pod/namespace/container names. A second window adds what `lookout agent`
 * does each cycle on top: its push sink (remote_write encoding, labels
 * encoded once per series, and the on-disk queue; nothing is sent). Rows: the default (core files every
 * cycle, detail files every 10 s, staggered) and every file every cycle
 * (what Netdata does at its 1 s update_every). Also: the same on a generated cgroup
 * v2 fixture tree of 1,000 containers (regular files) for the v2 path.
 *
 *   bench_collector [--ns 200,1000] [--window 60] [--no-farm] [--v2-fixture] [--existing-farm]
 *                   [--detail-ms MS] [--json FILE]
 *
 * --existing-farm measures the farm that is up, once, with --detail-ms
 * (default 0: the collector's default of 10 s; 1: every file every cycle) and
 * leaves the farm up; --json FILE also writes that row as JSON (used by
 * bench/collector/bench_collector.py, which owns the farm then).
 *
 * Needs root for the farm. Prints a table; exits non-zero on failure.
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "lib/lk_alloc.h"
#include "lib/lk_time.h"

#define FARM SHARED_DIR "/bench/cgroup_farm.sh"
#define PEERS SHARED_DIR "/bench/results/collector-peers.json"
#define MANIFEST "/run/cgroup-farm/manifest.tsv"

typedef struct sink_state {
  bool encode;                /* also through the agent's push sink (encode + on-disk queue) */
  bool check;                 /* check discovery on this cycle (not counted in the window) */
  collector_sink push;
  size_t series;
  char **ids;                 /* farm container paths (sorted) */
  size_t nids;
  bool *seen;
} sink_state;

static int str_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sink(void *ctx, const lk_series *s, size_t n)
{
  sink_state *st = ctx;
  st->series = n;
  if (st->encode)
    st->push.fn(st->push.ctx, s, n);
  if (!st->seen || !st->check)
    return 0;
  memset(st->seen, 0, st->nids);
  for (size_t i = 0; i < n; i++) {
    const char *name = lk_labels_get(s[i].labels, s[i].nlabels, "__name__");
    if (strcmp(name, "container_cpu_usage_seconds_total"))
      continue;
    const char *id = lk_labels_get(s[i].labels, s[i].nlabels, "id");
    if (!id || !lk_labels_get(s[i].labels, s[i].nlabels, "pod") ||
        !lk_labels_get(s[i].labels, s[i].nlabels, "namespace") ||
        !lk_labels_get(s[i].labels, s[i].nlabels, "container"))
      continue;
    char **hit = bsearch(&id, st->ids, st->nids, sizeof *st->ids, str_cmp);
    if (hit)
      st->seen[hit - st->ids] = true;
  }
  return 0;
}

static void load_manifest(sink_state *st)
{
  FILE *f = fopen(MANIFEST, "r");
  char line[2048];
  size_t cap = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (line[0] == '#')
      continue;
    char *save = NULL, *tok = strtok_r(line, "\t", &save);
    for (int i = 0; tok && i < 6; i++)
      tok = strtok_r(NULL, "\t", &save);
    if (!tok)
      continue;
    st->ids = lk_xgrow(st->ids, &cap, st->nids + 1, sizeof *st->ids);
    st->ids[st->nids++] = lk_xstrdup(tok);
  }
  if (f)
    fclose(f);
  if (st->nids)
    qsort(st->ids, st->nids, sizeof *st->ids, str_cmp);
  st->seen = lk_xcalloc(st->nids ? st->nids : 1, 1);
}

static double cpu_ms_of(bool user, bool sys)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double u = (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3;
  double s = (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3;
  return (user ? u : 0) + (sys ? s : 0);
}

static double cpu_ms(void)
{
  return cpu_ms_of(true, true);
}

static double status_mib(const char *key)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double v = 0;
  size_t kl = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, kl))
      v = atof(line + kl + 1) / 1024.0;
  if (f)
    fclose(f);
  return v;
}

typedef struct result {
  double sys_ms_cycle;
  double cpu_ms_cycle, cpu_ms_cycle_encode, wall_ms_cycle, rss_mib, hwm_mib;
  size_t series, discovered, expected;
  double discover_s;
} result;

static void sleep_until(int64_t mono_ns)
{
  int64_t now = lk_mono_ns();
  if (mono_ns > now) {
    struct timespec ts = {(mono_ns - now) / 1000000000, (mono_ns - now) % 1000000000};
    nanosleep(&ts, NULL);
  }
}

/* Cycles at 1 s for window seconds; CPU ms per cycle. */
static double run_window(collector *c, int window, double *wall_ms)
{
  double cpu0 = cpu_ms(), wall = 0;
  int64_t next = lk_mono_ns();
  for (int i = 0; i < window; i++) {
    sleep_until(next);
    int64_t t0 = lk_mono_ns();
    collector_collect(c, 0);
    wall += (double)(lk_mono_ns() - t0) / 1e6;
    next += 1000000000;
  }
  *wall_ms = wall / window;
  return (cpu_ms() - cpu0) / window;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static int measure(const char *root, int window, bool farm, int64_t detail_ms, bool encode,
                   result *r)
{
  sink_state st = {0};
  if (farm)
    load_manifest(&st);
  collector_opts o = {.cgroup_root = root, .no_node = true, .interval_ms = 1000, .node = "bench",
                      .detail_interval_ms = detail_ms};
  collector *c = NULL;
  if (collector_new(&o, (collector_sink){sink, &st}, &c, NULL))
    return 1;
  int64_t t0 = lk_mono_ns();
  collector_collect(c, 0); /* discovery + first read */
  r->discover_s = (double)(lk_mono_ns() - t0) / 1e9;
  for (int i = 0; i < 3; i++) /* warm-up */
    collector_collect(c, 0);
  double wall, sys0 = cpu_ms_of(false, true);
  r->cpu_ms_cycle = run_window(c, window, &r->wall_ms_cycle);
  r->sys_ms_cycle = (cpu_ms_of(false, true) - sys0) / window;
  st.check = true; /* one more cycle, outside the window, to check discovery */
  collector_collect(c, 0);
  st.check = false;
  r->series = st.series;
  r->expected = st.nids;
  r->discovered = 0;
  for (size_t i = 0; i < st.nids; i++)
    r->discovered += st.seen[i];
  char qdir[] = "/tmp/bench-collector-queue-XXXXXX";
  collector_pusher *p = NULL;
  collector_push_opts po = {.url = "http://127.0.0.1:9/api/v1/write", .queue_dir = qdir,
                            .queue_max_bytes = 64u << 20}; /* never sent: the sender is not started */
  if (encode && mkdtemp(qdir) && !collector_pusher_new(&po, &p, NULL)) {
    st.push = collector_pusher_sink(p);
    st.encode = true;
    r->cpu_ms_cycle_encode = run_window(c, window / 2 > 5 ? window / 2 : 5, &wall);
    st.encode = false;
    collector_pusher_free(p);
    nftw(qdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  }
  r->rss_mib = status_mib("VmRSS:");
  r->hwm_mib = status_mib("VmHWM:");
  collector_free(c);
  for (size_t i = 0; i < st.nids; i++)
    free(st.ids[i]);
  free(st.ids);
  free(st.seen);
  return 0;
}

/* One measured row as JSON, for the python driver that stores results. */
static int write_json(const char *path, const result *r, int window, int64_t detail_ms)
{
  json_t *j = json_pack("{s:s, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:f}",
    "what", "collector alone in the bench process (getrusage, one thread)", "window_s", window,
    "detail_interval_ms", (json_int_t)(detail_ms ? detail_ms : 10000), "cpu_ms_per_cycle", r->cpu_ms_cycle,
    "sys_ms_per_cycle", r->sys_ms_cycle, "wall_ms_per_cycle", r->wall_ms_cycle,
    "cpu_ms_per_cycle_with_rw_encode", r->cpu_ms_cycle_encode, "rss_mib", r->rss_mib,
    "peak_rss_mib", r->hwm_mib, "series_per_cycle", (json_int_t)r->series,
    "discovered", (json_int_t)r->discovered, "expected", (json_int_t)r->expected,
    "first_cycle_s", r->discover_s);
  int rc = j ? json_dump_file(j, path, JSON_INDENT(1)) : -1;
  json_decref(j);
  if (rc)
    fprintf(stderr, "bench_collector: cannot write %s\n", path);
  return rc ? 1 : 0;
}

/* Netdata's cgroups plugin figures for N from the reference JSON. */
static bool peer(int n, double *cpu_ms_cycle, double *rss_mib, long *disc)
{
  json_t *j = json_load_file(PEERS, 0, NULL), *v;
  size_t i;
  bool found = false;
  json_array_foreach(json_object_get(j, "netdata"), i, v) {
    if (json_integer_value(json_object_get(v, "n_containers")) != n ||
        json_integer_value(json_object_get(v, "max_cgroups_to_allow")) != 5000 ||
        json_integer_value(json_object_get(v, "farm_hold_pct")) != 100)
      continue;
    *cpu_ms_cycle = json_number_value(json_object_get(json_object_get(v, "cpu_ms_per_cycle"), "cgroups_threads"));
    *rss_mib = json_number_value(json_object_get(v, "rss_mib"));
    *disc = (long)json_integer_value(json_object_get(json_object_get(v, "discovered"), "k8s_containers"));
    found = true;
  }
  json_decref(j);
  return found;
}

/* Run the farm script: create N (n >= 0) or destroy (n < 0). */
static int farm(const char *verb, int n)
{
  char cmd[512];
  if (n >= 0)
    snprintf(cmd, sizeof cmd, "FARM_HOLD_PCT=100 %s %s %d", FARM, verb, n);
  else
    snprintf(cmd, sizeof cmd, "%s %s", FARM, verb);
  return system(cmd);
}


static int copy_file(const char *from, const char *to)
{
  FILE *in = fopen(from, "r"), *out = fopen(to, "w");
  char buf[4096];
  size_t n;
  int rc = in && out ? 0 : -1;
  while (!rc && (n = fread(buf, 1, sizeof buf, in)))
    fwrite(buf, 1, n, out);
  if (in)
    fclose(in);
  if (out)
    fclose(out);
  return rc;
}

/* 1,000 containers, systemd-driver v2 layout, files copied from the fixture. */
static int make_v2_tree(const char *root, int n)
{
  static const char *const files[] = {"cpu.stat", "cpu.max", "cpu.weight", "memory.current",
    "memory.stat", "memory.peak", "memory.max", "memory.events", "memory.swap.current", "io.stat",
    "pids.current", "pids.max", "cpu.pressure", "memory.pressure", "io.pressure"};
  const char *src = FIXTURES_DIR "/cgroup/v2/kubepods.slice/kubepods-burstable.slice/"
    "kubepods-burstable-pod7a6b5c4d_3e2f_4a1b_9c8d_7e6f5a4b3c2d.slice/"
    "cri-containerd-c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00.scope";
  char p[4096], a[4200], b[4200];
  snprintf(p, sizeof p, "%s/cgroup.controllers", root);
  if (copy_file(FIXTURES_DIR "/cgroup/v2/cgroup.controllers", p))
    return -1;
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/kubepods.slice", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/kubepods.slice/kubepods-pod%08d_0000_4000_8000_000000000000.slice",
             root, i / 2);
    mkdir(p, 0755);
    size_t l = strlen(p);
    snprintf(p + l, sizeof p - l, "/cri-containerd-%064d.scope", i);
    if (mkdir(p, 0755))
      return -1;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
      snprintf(a, sizeof a, "%s/%s", src, files[f]);
      snprintf(b, sizeof b, "%s/%s", p, files[f]);
      if (copy_file(a, b))
        return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  const char *ns = "200,1000";
  int window = 60;
  bool use_farm = true, v2 = false, existing = false;
  int64_t detail_ms = 0;
  const char *json_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ns") && i + 1 < argc)
      ns = argv[++i];
    else if (!strcmp(argv[i], "--window") && i + 1 < argc)
      window = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-farm"))
      use_farm = false;
    else if (!strcmp(argv[i], "--v2-fixture"))
      v2 = true;
    else if (!strcmp(argv[i], "--existing-farm"))
      existing = true; /* measure the farm that is up; leave it up */
    else if (!strcmp(argv[i], "--detail-ms") && i + 1 < argc)
      detail_ms = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--json") && i + 1 < argc)
      json_path = argv[++i];
    else {
      fprintf(stderr, "usage: bench_collector [--ns 200,1000] [--window 60] [--no-farm] [--v2-fixture] "
              "[--existing-farm] [--detail-ms MS] [--json FILE]\n");
      return 2;
    }
  }
  if (window < 5)
    window = 5;
  collector_raise_fd_limit();
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("%-44s %6s %10s %10s %12s %9s %9s %12s\n", "collector", "N", "CPU %core", "ms/cycle",
         "ms/cycle+rw", "RSS MiB", "series", "discovered");
  int fails = 0;
  char *list = lk_xstrdup(ns), *save = NULL;
  for (char *tok = strtok_r(list, ",", &save); use_farm && tok; tok = strtok_r(NULL, ",", &save)) {
    int n = atoi(tok);
    if (existing) {
      result r = {0};
      fails += measure("/sys/fs/cgroup", window, true, detail_ms, detail_ms == 0, &r);
      printf("%-44s %6zu %10.2f %10.1f %12.1f %9.1f %9zu %7zu/%zu\n", "lookout collector (existing farm)",
             r.expected, r.cpu_ms_cycle / 10.0, r.cpu_ms_cycle, r.cpu_ms_cycle_encode, r.rss_mib,
             r.series, r.discovered, r.expected);
      printf("    kernel share %.1f ms per cycle\n", r.sys_ms_cycle);
      if (json_path && write_json(json_path, &r, window, detail_ms))
        fails++;
      break;
    }
    if (access(MANIFEST, F_OK) == 0) {
      fprintf(stderr, "bench_collector: a farm is already up (%s); destroy it first\n", MANIFEST);
      return 1;
    }
    int64_t t0 = lk_mono_ns();
    if (farm("create", n)) {
      fprintf(stderr, "bench_collector: farm create %d failed (root needed)\n", n);
      farm("destroy", -1);
      return 1;
    }
    fprintf(stderr, "farm of %d containers up in %.0f s\n", n, (double)(lk_mono_ns() - t0) / 1e9);
    result r = {0}, full = {0};
    fails += measure("/sys/fs/cgroup", window, true, 0, true, &r);
    fails += measure("/sys/fs/cgroup", window, true, 1, false, &full);
    farm("destroy", -1);
    double pc, pr;
    long pd;
    if (peer(n, &pc, &pr, &pd))
      printf("%-44s %6d %10.2f %10.1f %12s %9.1f %9s %7ld/%d\n", "netdata 1.37 cgroups plugin (reference)",
             n, pc / 10.0, pc, "-", pr, "-", pd, n);
    printf("%-44s %6d %10.2f %10.1f %12.1f %9.1f %9zu %7zu/%zu\n", "lookout collector, default (detail 10 s)", n,
           r.cpu_ms_cycle / 10.0, r.cpu_ms_cycle, r.cpu_ms_cycle_encode, r.rss_mib, r.series,
           r.discovered, r.expected);
    printf("%-44s %6d %10.2f %10.1f %12s %9.1f %9zu %7zu/%zu\n", "lookout collector, every file every cycle", n,
           full.cpu_ms_cycle / 10.0, full.cpu_ms_cycle, "-", full.rss_mib, full.series,
           full.discovered, full.expected);
    printf("    first cycle incl. discovery %.0f ms; wall per cycle %.1f ms; kernel share %.1f ms; "
           "peak RSS %.1f MiB\n", r.discover_s * 1e3, r.wall_ms_cycle, r.sys_ms_cycle, r.hwm_mib);
    if (r.discovered != r.expected || full.discovered != full.expected)
      fails++;
  }
  free(list);
  if (v2) {
    char root[] = "/dev/shm/lk-bench-v2-XXXXXX"; /* tmpfs, like cgroupfs in memory */
    if (!mkdtemp(root) || make_v2_tree(root, 1000)) {
      fprintf(stderr, "bench_collector: cannot build the v2 fixture tree\n");
      return 1;
    }
    result r = {0};
    fails += measure(root, window, false, 0, true, &r);
    printf("%-44s %6d %10.2f %10.1f %12.1f %9.1f %9zu %12s\n", "lookout collector (v2 fixture, files)", 1000,
           r.cpu_ms_cycle / 10.0, r.cpu_ms_cycle, r.cpu_ms_cycle_encode, r.rss_mib, r.series, "-");
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  }
  return fails ? 1 : 0;
}
