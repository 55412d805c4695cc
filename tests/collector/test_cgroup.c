/* test_cgroup.c — the collector against fixture trees copied in the formats
 * real kernels write: a cgroup v1 host with the Kubernetes cgroupfs layout
 * (plus plain Docker and the hybrid v2 mount's PSI files), a cgroup v2 host
 * with the systemd driver layout, systemd services and Lookout pods, node
 * metrics from a fixture /proc, malformed files, and a generated tree of
 * 1,000 v2 containers. Every expected value is computed by hand from the
 * fixture files (see tests/fixtures/cgroup). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/collector_int.h"
#include "lib/lk_time.h"
#include "tests/collector/capture.h"

#define FIX FIXTURES_DIR "/cgroup"
#define ID1 "/kubepods/burstable/pod1c178021-5860-4495-a1ab-f9ac17877672/" \
            "3f1c9e2d7b6a5948372615a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4"
#define SB1 "/kubepods/burstable/pod1c178021-5860-4495-a1ab-f9ac17877672/" \
            "9e8d7c6b5a4938271605f4e3d2c1b0a99e8d7c6b5a4938271605f4e3d2c1b0a9"
#define ID3 "/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7a6b5c4d_3e2f_4a1b_" \
            "9c8d_7e6f5a4b3c2d.slice/cri-containerd-c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00" \
            "c0ffee00c0ffee00c0ffee00.scope"
#define LOOKOUT_APP "/lookout/default_web-0_5b5b5b5b-0000-4000-8000-000000000003/app"
#define EPS 1e-9

static collector *make(const char *root, capture *cap, bool node)
{
  collector_opts o = {.cgroup_root = root, .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "testnode", .no_node = !node};
  collector *c = NULL;
  lk_diag d = {0};
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, cap}, &c, &d), 0);
  return c;
}

static void test_classify(void **state)
{
  (void)state;
  collector__cinfo ci;
  collector__classify(ID1, &ci);
  assert_int_equal(ci.kind, CK_K8S);
  assert_string_equal(ci.pod_uid, "1c178021-5860-4495-a1ab-f9ac17877672");
  assert_string_equal(ci.id, "3f1c9e2d7b6a5948372615a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4");
  collector__classify(ID2, &ci);
  assert_int_equal(ci.kind, CK_K8S);
  assert_string_equal(ci.pod_uid, "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d");
  collector__classify("/kubepods.slice/kubepods-pod11_22.slice/crio-"
                      "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00.scope", &ci);
  assert_int_equal(ci.kind, CK_K8S); /* Guaranteed, CRI-O */
  assert_string_equal(ci.pod_uid, "11-22");
  collector__classify("/kubepods.slice/kubepods-pod11_22.slice/crio-conmon-"
                      "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00.scope", &ci);
  assert_int_equal(ci.kind, CK_NONE);
  collector__classify(ID3, &ci);
  assert_int_equal(ci.kind, CK_DOCKER);
  collector__classify("/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef"
                      "0123456789abcdef.scope", &ci);
  assert_int_equal(ci.kind, CK_DOCKER);
  collector__classify("/system.slice/nginx.service", &ci);
  assert_int_equal(ci.kind, CK_SERVICE);
  collector__classify(LOOKOUT_APP, &ci);
  assert_int_equal(ci.kind, CK_LOOKOUT);
  assert_string_equal(ci.ns, "default");
  assert_string_equal(ci.pod, "web-0");
  assert_string_equal(ci.container, "app");
  collector__classify("/kubepods/burstable/pod1c17", &ci); /* pod level */
  assert_int_equal(ci.kind, CK_NONE);
  collector__classify("/user.slice/user-0.slice", &ci);
  assert_int_equal(ci.kind, CK_NONE);
}

static void test_v1_cgroupfs(void **state)
{
  (void)state;
  capture cap = {0};
  collector *c = make(FIX "/v1", &cap, false);
  assert_int_equal(collector_collect(c, 1700000000000), 0);
  static const char *const k1[] = {"id", ID1, "node", "testnode", "namespace", "prod", "pod",
                                   "api-5d8f7", "container", "api", NULL};
  cap.base = k1;
#define V(...) capture_val(&cap, __VA_ARGS__, NULL)
  assert_float_equal(V("container_cpu_usage_seconds_total", "cpu", "total"), 0.929843110, EPS);
  assert_float_equal(V("container_cpu_user_seconds_total"), 0.73, EPS);
  assert_float_equal(V("container_cpu_system_seconds_total"), 0.19, EPS);
  assert_float_equal(V("container_cpu_cfs_periods_total"), 19, EPS);
  assert_float_equal(V("container_cpu_cfs_throttled_periods_total"), 18, EPS);
  assert_float_equal(V("container_cpu_cfs_throttled_seconds_total"), 0.851074944, EPS);
  assert_float_equal(V("container_memory_usage_bytes"), 21278720, EPS);
  assert_float_equal(V("container_memory_working_set_bytes"), 21278720 - 21102592, EPS);
  assert_float_equal(V("container_memory_rss"), 0, EPS);
  assert_float_equal(V("container_memory_cache"), 21241856, EPS);
  assert_float_equal(V("container_memory_mapped_file"), 0, EPS);
  assert_float_equal(V("container_memory_swap"), 0, EPS);
  assert_float_equal(V("container_memory_max_usage_bytes"), 22081536, EPS);
  assert_float_equal(V("container_memory_failcnt"), 0, EPS);
  assert_float_equal(V("container_oom_events_total"), 0, EPS);
  assert_float_equal(V("container_memory_failures_total", "failure_type", "pgfault", "scope",
                       "container"), 1073, EPS);
  assert_float_equal(V("container_memory_failures_total", "failure_type", "pgmajfault", "scope",
                       "hierarchy"), 2, EPS);
  assert_float_equal(V("container_fs_reads_bytes_total", "device", "/dev/vda"), 1048576, EPS);
  assert_float_equal(V("container_fs_writes_bytes_total", "device", "/dev/vda"), 20971520, EPS);
  assert_float_equal(V("container_fs_reads_total", "device", "/dev/vda"), 16, EPS);
  assert_float_equal(V("container_fs_writes_total", "device", "/dev/vda"), 160, EPS);
  assert_float_equal(V("container_threads"), 3, EPS);
  assert_float_equal(V("container_threads_max"), 100, EPS);
  assert_float_equal(V("container_spec_cpu_quota"), 50000, EPS);
  assert_float_equal(V("container_spec_cpu_period"), 100000, EPS);
  assert_float_equal(V("container_spec_cpu_shares"), 512, EPS);
  assert_float_equal(V("container_spec_memory_limit_bytes"), 268435456, EPS);
  /* hybrid host: PSI from the v2 mount, CPU not counted twice */
  assert_float_equal(V("container_pressure_cpu_waiting_seconds_total"), 0.847294, EPS);
  assert_float_equal(V("container_pressure_cpu_stalled_seconds_total"), 0.847127, EPS);
  assert_float_equal(V("container_pressure_memory_waiting_seconds_total"), 0, EPS);
  assert_float_equal(V("container_pressure_io_waiting_seconds_total"), 0.055338, EPS);
  assert_float_equal(V("container_pressure_io_stalled_seconds_total"), 0.055338, EPS);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", "id", ID1, NULL), 1);
  /* its own network namespace (pid 4242): eth0, not lo */
  assert_float_equal(V("container_network_receive_bytes_total", "interface", "eth0"), 52514411, EPS);
  assert_float_equal(V("container_network_receive_packets_total", "interface", "eth0"), 1655, EPS);
  assert_float_equal(V("container_network_receive_errors_total", "interface", "eth0"), 2, EPS);
  assert_float_equal(V("container_network_receive_packets_dropped_total", "interface", "eth0"), 3, EPS);
  assert_float_equal(V("container_network_transmit_bytes_total", "interface", "eth0"), 74161, EPS);
  assert_float_equal(V("container_network_transmit_packets_total", "interface", "eth0"), 996, EPS);
  assert_float_equal(V("container_network_transmit_errors_total", "interface", "eth0"), 4, EPS);
  assert_float_equal(V("container_network_transmit_packets_dropped_total", "interface", "eth0"), 5, EPS);
  assert_int_equal(capture_count(&cap, NULL, "container_network_receive_bytes_total", "interface", "lo", NULL), 0);
#undef V
  cap.base = NULL;
  /* the pod sandbox: pod labels, no container name */
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", SB1, "pod",
                                 "api-5d8f7", "namespace", "prod", NULL), 0.012, EPS);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", "id", SB1,
                                 "container", "api", NULL), 0);
  /* plain Docker */
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", ID3, NULL), 5.0, EPS);
  assert_float_equal(capture_val(&cap, "container_cpu_user_seconds_total", "id", ID3, NULL), 3.0, EPS);
  assert_float_equal(capture_val(&cap, "container_memory_working_set_bytes", "id", ID3, NULL), 0, EPS);
  assert_float_equal(capture_val(&cap, "container_memory_rss", "id", ID3, NULL), 524288, EPS);
  assert_float_equal(capture_val(&cap, "container_spec_memory_limit_bytes", "id", ID3, NULL), 0, EPS);
  assert_int_equal(capture_count(&cap, NULL, "container_memory_usage_bytes", "id", "/user.slice", NULL), 0);
  for (size_t i = 0; i < cap.n; i++)
    assert_true(cap.t[i] == 1700000000000);
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.containers, 3);
  assert_int_equal(st.read_errors + st.parse_errors, 0);
  collector_free(c);
  capture_fini(&cap);
}

static void test_v2_systemd(void **state)
{
  (void)state;
  capture cap = {0};
  collector *c = make(FIX "/v2", &cap, false);
  assert_int_equal(collector_collect(c, 1700000000000), 0);
  static const char *const k2[] = {"id", ID2, "node", "testnode", "namespace", "kube-system",
                                   "pod", "coredns-x", "container", "coredns", NULL};
  cap.base = k2;
#define V(...) capture_val(&cap, __VA_ARGS__, NULL)
  assert_float_equal(V("container_cpu_usage_seconds_total", "cpu", "total"), 8.812345, EPS);
  assert_float_equal(V("container_cpu_user_seconds_total"), 6.0, EPS);
  assert_float_equal(V("container_cpu_system_seconds_total"), 2.812345, EPS);
  assert_float_equal(V("container_cpu_cfs_periods_total"), 1200, EPS);
  assert_float_equal(V("container_cpu_cfs_throttled_periods_total"), 300, EPS);
  assert_float_equal(V("container_cpu_cfs_throttled_seconds_total"), 4.5, EPS);
  assert_float_equal(V("container_memory_usage_bytes"), 104857600, EPS);
  assert_float_equal(V("container_memory_working_set_bytes"), 104857600 - 31457280, EPS);
  assert_float_equal(V("container_memory_rss"), 52428800, EPS);
  assert_float_equal(V("container_memory_cache"), 41943040, EPS);
  assert_float_equal(V("container_memory_mapped_file"), 8388608, EPS);
  assert_float_equal(V("container_memory_swap"), 0, EPS);
  assert_float_equal(V("container_memory_max_usage_bytes"), 125829120, EPS);
  assert_float_equal(V("container_oom_events_total"), 1, EPS);
  assert_float_equal(V("container_memory_failures_total", "failure_type", "pgfault", "scope",
                       "hierarchy"), 12345, EPS);
  assert_float_equal(V("container_fs_reads_bytes_total", "device", "/dev/vda"), 90430464, EPS);
  assert_float_equal(V("container_fs_writes_bytes_total", "device", "/dev/vda"), 299008000, EPS);
  assert_float_equal(V("container_fs_reads_total", "device", "/dev/vda"), 8950, EPS);
  assert_float_equal(V("container_fs_writes_total", "device", "/dev/vda"), 1252, EPS);
  assert_float_equal(V("container_fs_reads_bytes_total", "device", "/dev/zram0"), 4096, EPS);
  assert_float_equal(V("container_threads"), 7, EPS);
  assert_float_equal(V("container_threads_max"), 0, EPS);
  assert_float_equal(V("container_spec_cpu_quota"), 50000, EPS);
  assert_float_equal(V("container_spec_cpu_period"), 100000, EPS);
  assert_float_equal(V("container_spec_cpu_shares"), 2046, EPS);
  assert_float_equal(V("container_spec_memory_limit_bytes"), 268435456, EPS);
  assert_float_equal(V("container_pressure_cpu_waiting_seconds_total"), 2.5, EPS);
  assert_float_equal(V("container_pressure_cpu_stalled_seconds_total"), 1.5, EPS);
  assert_float_equal(V("container_pressure_memory_waiting_seconds_total"), 0.0003, EPS);
  assert_float_equal(V("container_pressure_memory_stalled_seconds_total"), 0.0002, EPS);
#undef V
  cap.base = NULL;
  /* same netns as the host: no network series */
  assert_int_equal(capture_count(&cap, NULL, "container_network_receive_bytes_total", NULL), 0);
  /* coredns, nginx.service, the Lookout pod; not conmon, not the broken one */
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", NULL), 3);
  for (size_t i = 0; i < cap.n; i++)
    assert_null(strstr(cap.text[i], "conmon"));
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id",
                                 "/system.slice/nginx.service", NULL), 2.0, EPS);
  assert_float_equal(capture_val(&cap, "container_memory_working_set_bytes", "id",
                                 "/system.slice/nginx.service", NULL), 0, EPS);
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", LOOKOUT_APP,
                                 "namespace", "default", "pod", "web-0", "container", "app", NULL),
                     3.0, EPS);
  collector_free(c);
  capture_fini(&cap);
}

/* Malformed and unreadable files are counted and skipped; the rest of the
 * container and every other container still go out. */
static void test_malformed(void **state)
{
  (void)state;
  capture cap = {0};
  collector *c = make(FIX "/v2", &cap, false);
  assert_int_equal(collector_collect(c, 0), 0);
  const char *bad = "/lookout/default_bad-0_5b5b5b5b-0000-4000-8000-000000000003/broken";
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", "id", bad, NULL), 0);
  assert_int_equal(capture_count(&cap, NULL, "container_memory_usage_bytes", "id", bad, NULL), 0);
  assert_float_equal(capture_val(&cap, "container_pressure_cpu_waiting_seconds_total", "id", bad,
                                 NULL), 0.0001, EPS);
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.parse_errors, 2);
  assert_int_equal(st.read_errors, 1); /* its memory.stat is a directory: EISDIR */
  assert_float_equal(capture_val(&cap, "lookout_collector_parse_errors_total", NULL), 2, EPS);
  assert_int_equal(collector_collect(c, 0), 0); /* counted again, still going */
  assert_float_equal(capture_val(&cap, "lookout_collector_parse_errors_total", NULL), 4, EPS);
  assert_float_equal(capture_val(&cap, "container_cpu_usage_seconds_total", "id", LOOKOUT_APP, NULL), 3.0, EPS);
  collector_free(c);
  capture_fini(&cap);
}

static void test_node(void **state)
{
  (void)state;
  capture cap = {0};
  collector_opts o = {.cgroup_root = FIX "/v2", .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "testnode", .no_containers = true};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, 0), 0);
  assert_float_equal(capture_val(&cap, "node_cpu_seconds_total", "cpu", "1", "mode", "user", NULL), 53.59, EPS);
  assert_float_equal(capture_val(&cap, "node_cpu_seconds_total", "cpu", "0", "mode", "steal", NULL), 0.89, EPS);
  assert_int_equal(capture_count(&cap, NULL, "node_cpu_seconds_total", NULL), 16);
  assert_float_equal(capture_val(&cap, "node_context_switches_total", NULL), 346291, EPS);
  assert_float_equal(capture_val(&cap, "node_boot_time_seconds", NULL), 1795050000, EPS);
  assert_float_equal(capture_val(&cap, "node_load1", NULL), 0.52, EPS);
  assert_float_equal(capture_val(&cap, "node_load15", NULL), 0.20, EPS);
  assert_float_equal(capture_val(&cap, "node_memory_mem_total_bytes", NULL), 24621572.0 * 1024, EPS);
  assert_float_equal(capture_val(&cap, "node_memory_mem_available_bytes", NULL), 22000000.0 * 1024, EPS);
  assert_float_equal(capture_val(&cap, "node_memory_active_anon_bytes", NULL), 81920.0 * 1024, EPS);
  assert_float_equal(capture_val(&cap, "node_memory_hugepagesize_bytes", NULL), 2048.0 * 1024, EPS);
  assert_int_equal(capture_count(&cap, NULL, "node_memory_huge_pages_total", NULL), 0);
  assert_float_equal(capture_val(&cap, "node_disk_read_bytes_total", "device", "vda", NULL), 4162522.0 * 512, EPS);
  assert_float_equal(capture_val(&cap, "node_disk_io_time_seconds_total", "device", "vda", NULL), 7.224, EPS);
  assert_int_equal(capture_count(&cap, NULL, "node_disk_read_bytes_total", "device", "loop0", NULL), 0);
  assert_float_equal(capture_val(&cap, "node_network_receive_bytes_total", "device", "eth0", NULL), 52514411, EPS);
  assert_float_equal(capture_val(&cap, "node_network_transmit_drop_total", "device", "eth0", NULL), 5, EPS);
  assert_float_equal(capture_val(&cap, "node_network_receive_bytes_total", "device", "lo", NULL), 3267, EPS);
  double v = 0;
  assert_int_equal(capture_count(&cap, &v, "node_filesystem_size_bytes", "mountpoint", "/", "fstype", "ext4", NULL), 1);
  assert_true(v > 0);
  assert_int_equal(capture_count(&cap, NULL, "node_filesystem_size_bytes", "mountpoint", "/proc", NULL), 0);
  assert_float_equal(capture_val(&cap, "node_pressure_memory_stalled_seconds_total", NULL), 0.5, EPS);
  assert_float_equal(capture_val(&cap, "node_pressure_io_waiting_seconds_total", NULL), 2.0, EPS);
  assert_int_equal(capture_count(&cap, NULL, "node_pressure_cpu_stalled_seconds_total", NULL), 0);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", NULL), 0);
  /* the node files (a few KiB) are held at their size: the cycle fits in the
   * batch arena's first block (256 KiB), so cycles after the first make no
   * large malloc and free (a block per file fragmented the heap in a soak) */
  assert_int_equal(collector_collect(c, 1000), 0);
  assert_true(lk_arena_bytes(c->batch.arena) <= 256 * 1024);
  collector_free(c);
  capture_fini(&cap);
}

/*---- a generated v2 tree of 1,000 containers ----*/

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void copy_file(const char *from, const char *to)
{
  FILE *in = fopen(from, "r"), *out = fopen(to, "w");
  assert_non_null(in);
  assert_non_null(out);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)))
    fwrite(buf, 1, n, out);
  fclose(in);
  fclose(out);
}

static void test_v2_thousand(void **state)
{
  (void)state;
  char root[] = "/dev/shm/lk-cg1000-XXXXXX"; /* tmpfs: 16,000 inodes made fast */
  if (!mkdtemp(root)) {
    memcpy(root, "/tmp/lk-cg1000-XXXXXX", sizeof "/tmp/lk-cg1000-XXXXXX");
    assert_non_null(mkdtemp(root));
  }
  char p[4096], src[4096];
  snprintf(p, sizeof p, "%s/cgroup.controllers", root);
  copy_file(FIX "/v2/cgroup.controllers", p);
  static const char *const files[] = {"cpu.stat", "cpu.max", "cpu.weight", "memory.current",
    "memory.stat", "memory.peak", "memory.max", "memory.events", "memory.swap.current", "io.stat",
    "pids.current", "pids.max", "cpu.pressure", "memory.pressure", "io.pressure"};
  static const char *const levels[] = {"kubepods.slice", "kubepods-besteffort.slice"};
  size_t l = (size_t)snprintf(p, sizeof p, "%s", root);
  for (size_t i = 0; i < 2; i++) {
    l += (size_t)snprintf(p + l, sizeof p - l, "/%s", levels[i]);
    assert_int_equal(mkdir(p, 0755), 0);
  }
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(p + l, sizeof p - l,
                     "/kubepods-besteffort-pod%08d_0000_4000_8000_000000000000.slice", i / 2);
    if (i % 2 == 0)
      assert_int_equal(mkdir(p, 0755), 0);
    n += snprintf(p + l + (size_t)n, sizeof p - l - (size_t)n, "/cri-containerd-%064d.scope", i);
    assert_true(l + (size_t)n < sizeof p);
    assert_int_equal(mkdir(p, 0755), 0);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
      char dst[4200];
      snprintf(src, sizeof src, FIX "/v2" ID2 "/%s", files[f]);
      snprintf(dst, sizeof dst, "%s/%s", p, files[f]);
      assert_int_equal(symlink(src, dst), 0); /* cheap to make; read through as files */
    }
    p[l] = 0;
  }
  capture cap = {0};
  collector *c = make(root, &cap, false);
  assert_int_equal(collector_collect(c, 0), 0); /* discovery + first read */
  int64_t t0 = lk_mono_ns();
  assert_int_equal(collector_collect(c, 0), 0);
  double ms = (double)(lk_mono_ns() - t0) / 1e6;
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.containers, 1000);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", NULL), 1000);
  assert_int_equal(capture_count(&cap, NULL, "container_memory_working_set_bytes", NULL), 1000);
  assert_int_equal(capture_count(&cap, NULL, "container_fs_reads_bytes_total", NULL), 2000);
  printf("# v2 fixture, 1000 containers: %zu series, cycle %.1f ms (ASan build)\n", cap.n, ms);
  collector_free(c);
  capture_fini(&cap);
  assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Core files every cycle, detail files every detail_every-th cycle with the
 * last values repeated in between (stamped with each cycle's time); the
 * working set uses the fresh usage with the last inactive_file. */
static void test_detail_cycles(void **state)
{
  (void)state;
  char root[] = "/tmp/lk-detail-XXXXXX";
  assert_non_null(mkdtemp(root));
  char p[4096];
  snprintf(p, sizeof p, "%s/cgroup.controllers", root);
  copy_file(FIX "/v2/cgroup.controllers", p);
  snprintf(p, sizeof p, "%s/lookout", root);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/lookout/ns_pod_uid", root);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/lookout/ns_pod_uid/app", root);
  assert_int_equal(mkdir(p, 0755), 0);
  static const char *const files[] = {"cpu.stat", "memory.current", "memory.stat", "pids.current"};
  for (size_t f = 0; f < 4; f++) {
    char src[4200], dst[4200];
    snprintf(src, sizeof src, FIX "/v2" ID2 "/%s", files[f]);
    snprintf(dst, sizeof dst, "%s/%s", p, files[f]);
    copy_file(src, dst);
  }
  capture cap = {0};
  collector_opts o = {.cgroup_root = root, .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "d", .no_node = true, .interval_ms = 1000, .detail_interval_ms = 3000};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  assert_int_equal(collector_collect(c, 1000), 0); /* cycle 0: core + detail */
  assert_float_equal(capture_val(&cap, "container_threads", NULL), 7, 0);
  assert_float_equal(capture_val(&cap, "container_memory_working_set_bytes", NULL), 104857600 - 31457280, 0);
  write_file(p, "pids.current", "9\n");
  write_file(p, "memory.current", "110000000\n");
  assert_int_equal(collector_collect(c, 2000), 0); /* cycle 1: core; detail repeated */
  assert_float_equal(capture_val(&cap, "container_threads", NULL), 7, 0);
  assert_float_equal(capture_val(&cap, "container_memory_usage_bytes", NULL), 110000000, 0);
  assert_float_equal(capture_val(&cap, "container_memory_working_set_bytes", NULL), 110000000 - 31457280, 0);
  assert_float_equal(capture_val(&cap, "container_memory_rss", NULL), 52428800, 0);
  for (size_t i = 0; i < cap.n; i++)
    assert_true(cap.t[i] == 2000);
  size_t n1 = cap.n;
  assert_int_equal(collector_collect(c, 3000), 0); /* cycle 2 */
  assert_float_equal(capture_val(&cap, "container_threads", NULL), 7, 0);
  assert_int_equal(cap.n, n1);
  assert_int_equal(collector_collect(c, 4000), 0); /* cycle 3: detail again */
  assert_float_equal(capture_val(&cap, "container_threads", NULL), 9, 0);
  assert_int_equal(cap.n, n1);
  collector_free(c);
  capture_fini(&cap);
  assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void make_ctr(const char *dir)
{
  assert_int_equal(mkdir(dir, 0755), 0);
  char src[4200], dst[1200];
  snprintf(src, sizeof src, FIX "/v2" ID2 "/cpu.stat");
  snprintf(dst, sizeof dst, "%s/cpu.stat", dir);
  copy_file(src, dst);
}

static void remove_ctr(const char *dir)
{
  char p[1200];
  snprintf(p, sizeof p, "%s/cpu.stat", dir);
  assert_int_equal(unlink(p), 0);
  assert_int_equal(rmdir(dir), 0);
}

static uint64_t walks_after_rescan(collector *c, int64_t t, uint64_t *containers)
{
  collector_rescan(c);
  assert_int_equal(collector_collect(c, t), 0);
  collector_stats st;
  collector_stats_get(c, &st);
  *containers = st.containers;
  return st.rescan_walks;
}

/* Rescans walk the tree only after a directory it crossed changed: a new
 * container, one in a pod directory created after the last walk, and a
 * removed one are all seen; a rescan with no change does not walk. */
static void test_rescan_watch(void **state)
{
  (void)state;
  char root[] = "/tmp/lk-watch-XXXXXX";
  assert_non_null(mkdtemp(root));
  char p[1024], pod2[1024], c2[1100], c3[1100];
  snprintf(p, sizeof p, "%s/cgroup.controllers", root);
  copy_file(FIX "/v2/cgroup.controllers", p);
  snprintf(p, sizeof p, "%s/lookout", root);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/lookout/ns_pod_uid", root);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(c2, sizeof c2, "%s/app", p);
  make_ctr(c2);
  capture cap = {0};
  collector_opts o = {.cgroup_root = root, .proc_root = FIX "/proc", .log_root = FIX "/logs",
                      .node = "w", .no_node = true};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){capture_sink, &cap}, &c, NULL), 0);
  uint64_t n, walks = walks_after_rescan(c, 1000, &n);
  assert_int_equal(n, 1);
  assert_int_equal(walks_after_rescan(c, 2000, &n), walks); /* nothing changed: no walk */
  snprintf(c3, sizeof c3, "%s/lookout/ns_pod_uid/side", root);
  make_ctr(c3);
  assert_int_equal(walks_after_rescan(c, 3000, &n), walks + 1);
  assert_int_equal(n, 2);
  snprintf(pod2, sizeof pod2, "%s/lookout/ns_pod2_uid2", root);
  assert_int_equal(mkdir(pod2, 0755), 0);
  assert_int_equal(walks_after_rescan(c, 4000, &n), walks + 2);
  assert_int_equal(n, 2);
  snprintf(c2, sizeof c2, "%s/app", pod2); /* in the pod directory the last walk found empty */
  make_ctr(c2);
  assert_int_equal(walks_after_rescan(c, 5000, &n), walks + 3);
  assert_int_equal(n, 3);
  remove_ctr(c3);
  assert_int_equal(walks_after_rescan(c, 6000, &n), walks + 4);
  assert_int_equal(n, 2);
  assert_int_equal(walks_after_rescan(c, 7000, &n), walks + 4);
  assert_int_equal(capture_count(&cap, NULL, "container_cpu_usage_seconds_total", NULL), 2);
  collector_free(c);
  capture_fini(&cap);
  assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_classify),
    cmocka_unit_test(test_v1_cgroupfs),
    cmocka_unit_test(test_v2_systemd),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_node),
    cmocka_unit_test(test_v2_thousand),
    cmocka_unit_test(test_detail_cycles),
    cmocka_unit_test(test_rescan_watch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
