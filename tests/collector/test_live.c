/* test_live.c — the collector on real cgroups of this machine, read back
 * through the query API (collector -> tsdb -> /api/v1/query on 127.0.0.1, as
 * in `lookout up`): a CPU burner under a CFS quota of 0.5 CPU must show
 * rate(container_cpu_usage_seconds_total[6s]) = 0.5 ± 0.1, and a memory hog
 * touching 64 MiB must add a working set within 10 % of that. The cgroups use the Lookout pod layout
 * (lookout/<ns>_<pod>_<uid>/<container>) in the v1 cpu, cpuacct and memory
 * hierarchies, or in the cgroup2 root on unified hosts. Also: a cgroup
 * removed between two cycles is dropped cleanly (vanished, no partial
 * series). Exits 77 (SKIP), saying so, where cgroups cannot be created (not
 * root, no writable hierarchy).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ftw.h>
#include <jansson.h>

#include "collector/collector.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "tests/collector/capture.h"
#include "tests/helpers/skip.h"
#include "tsdb/tsdb.h"
#include "web/web.h"

#define ROOT "/sys/fs/cgroup"
#define HOG_BYTES (64u << 20)
#define HOG_DELAY_S 2

typedef struct live {
  char data[64];              /* tsdb directory */
  tsdb *db;
  web_server *web;
  capture cap;
  bool v2;
  char rel[256];              /* lookout/<ns>_<pod>_<uid>/<container> */
  char dirs[4][1024];         /* created leaf directories */
  int ndirs;
  bool made_parent[4], made_lookout[4];
  pid_t child;
} live;

static const char *const v1_hier[] = {"cpu", "cpuacct", "memory"};

/* Each batch goes to the capture (for direct checks) and into the tsdb. */
static int store_sink(void *ctx, const lk_series *s, size_t n)
{
  live *l = ctx;
  capture_sink(&l->cap, s, n);
  tsdb_append_stats st;
  return tsdb_append(l->db, s, n, &st, NULL);
}

static void server_start(live *l)
{
  snprintf(l->data, sizeof l->data, "/tmp/lk-live-XXXXXX");
  assert_non_null(mkdtemp(l->data));
  tsdb_opts to = {.dir = l->data};
  assert_int_equal(tsdb_open(&to, &l->db, NULL), 0);
  web_opts wo = {.listen = "127.0.0.1:0", .db = l->db};
  assert_int_equal(web_start(&wo, &l->web, NULL), 0);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void server_stop(live *l)
{
  web_stop(l->web);
  tsdb_close(l->db);
  l->web = NULL;
  l->db = NULL;
  if (l->data[0])
    nftw(l->data, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  l->data[0] = 0;
  capture_fini(&l->cap);
}

/* Instant query at t_ms through /api/v1/query: the value of the single
 * result. Fails the test on anything else. */
static double query(live *l, const char *expr, int64_t t_ms)
{
  char url[2048], enc[1024];
  size_t o = 0;
  for (const char *p = expr; *p && o + 4 < sizeof enc; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '_' || *p == '.')
      enc[o++] = *p;
    else
      o += (size_t)snprintf(enc + o, sizeof enc - o, "%%%02X", (unsigned char)*p);
  }
  enc[o] = 0;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/query?query=%s&time=%.3f",
           web_port(l->web), enc, (double)t_ms / 1000.0);
  lk_httpc_resp resp = {0};
  assert_int_equal(lk_httpc_get(url, 10000, &resp, NULL), 0);
  json_t *j = json_loads((const char *)resp.body.data, 0, NULL);
  json_t *res = json_object_get(json_object_get(j, "data"), "result");
  if (resp.status != 200 || json_array_size(res) != 1)
    fail_msg("query %s: status %d, body %s", expr, resp.status, (const char *)resp.body.data);
  double v = atof(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)));
  json_decref(j);
  lk_httpc_resp_fini(&resp);
  return v;
}

static int write_str(const char *dir, const char *file, const char *v)
{
  char p[2048];
  if (snprintf(p, sizeof p, "%s/%s", dir, file) >= (int)sizeof p)
    return -1;
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, v, strlen(v));
  close(fd);
  return n == (ssize_t)strlen(v) ? 0 : -1;
}

static int mk(const char *p, bool *made)
{
  if (mkdir(p, 0755) == 0) {
    *made = true;
    return 0;
  }
  return errno == EEXIST ? 0 : -1;
}

/* Create the leaf in every hierarchy used; false (cleaned up) if not possible. */
static bool live_create(live *l, const char *pod, const char *container)
{
  char podpart[128];
  snprintf(podpart, sizeof podpart, "livetest_%s-%d_00000000-0000-4000-8000-%012d", pod,
           (int)getpid(), (int)getpid());
  snprintf(l->rel, sizeof l->rel, "lookout/%s/%s", podpart, container);
  struct stat st;
  l->v2 = stat(ROOT "/cgroup.controllers", &st) == 0;
  int nh = l->v2 ? 1 : 3;
  for (int i = 0; i < nh; i++) {
    char base[512], p[1024];
    if (l->v2)
      snprintf(base, sizeof base, ROOT);
    else
      snprintf(base, sizeof base, ROOT "/%s", v1_hier[i]);
    if (l->v2)
      write_str(base, "cgroup.subtree_control", "+cpu +memory");
    snprintf(p, sizeof p, "%s/lookout", base);
    if (mk(p, &l->made_lookout[i]))
      return false;
    if (l->v2)
      write_str(p, "cgroup.subtree_control", "+cpu +memory");
    snprintf(p, sizeof p, "%s/lookout/%s", base, podpart);
    if (mk(p, &l->made_parent[i]))
      return false;
    if (l->v2)
      write_str(p, "cgroup.subtree_control", "+cpu +memory");
    snprintf(l->dirs[i], sizeof l->dirs[i], "%s/%s", base, l->rel);
    if (mkdir(l->dirs[i], 0755))
      return false;
    l->ndirs++;
    /* A busy CI host must not starve the burner below its quota: the CPU
     * weight of every level we made is raised (group scheduling shares CPU
     * between sibling cgroups first, so the burner's nice alone is not
     * enough). */
    if (l->v2 || i == 0) {
      const char *file = l->v2 ? "cpu.weight" : "cpu.shares", *val = l->v2 ? "10000" : "262144";
      char lvl[1100];
      write_str(l->dirs[i], file, val);
      snprintf(lvl, sizeof lvl, "%s/lookout/%s", base, podpart);
      write_str(lvl, file, val);
      if (l->made_lookout[i]) {
        snprintf(lvl, sizeof lvl, "%s/lookout", base);
        write_str(lvl, file, val);
      }
    }
  }
  return true;
}

/* A cgroup stays busy for a moment after its last task was reaped. */
static void rmdir_retry(const char *p)
{
  for (int t = 0; t < 150 && rmdir(p) && errno == EBUSY; t++) {
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
  }
}

static void live_destroy(live *l)
{
  if (l->child > 0) {
    kill(l->child, SIGKILL);
    waitpid(l->child, NULL, 0);
    l->child = 0;
  }
  for (int i = 0; i < l->ndirs; i++)
    rmdir_retry(l->dirs[i]);
  int nh = l->v2 ? 1 : 3;
  for (int i = 0; i < nh; i++) {
    char p[1024];
    const char *base = l->v2 ? ROOT : NULL;
    char b[512];
    if (!base) {
      snprintf(b, sizeof b, ROOT "/%s", v1_hier[i]);
      base = b;
    }
    char podpart[512];
    snprintf(podpart, sizeof podpart, "%s", l->rel);
    if (strrchr(podpart, '/'))
      *strrchr(podpart, '/') = 0;
    snprintf(p, sizeof p, "%s/%s", base, podpart);
    if (l->made_parent[i])
      rmdir_retry(p);
    snprintf(p, sizeof p, "%s/lookout", base);
    if (l->made_lookout[i])
      rmdir_retry(p); /* only if we made it and nothing else lives there */
    l->made_parent[i] = l->made_lookout[i] = false;
  }
  l->ndirs = 0;
}

/* Fork a child that joins the cgroups, then runs fn for at most max_s. */
static void live_run(live *l, void (*fn)(int max_s), int max_s)
{
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char me[32];
    snprintf(me, sizeof me, "%d", (int)getpid());
    for (int i = 0; i < l->ndirs; i++)
      if (write_str(l->dirs[i], "cgroup.procs", me))
        _exit(3);
    if (setpriority(PRIO_PROCESS, 0, -20)) /* other jobs on a busy CI host must not starve it */
      perror("setpriority");
    char ok = 1;
    if (write(pipefd[1], &ok, 1) != 1)
      _exit(4);
    fn(max_s);
    _exit(0);
  }
  close(pipefd[1]);
  char ok = 0;
  assert_int_equal(read(pipefd[0], &ok, 1), 1); /* joined before we measure */
  close(pipefd[0]);
  l->child = pid;
}

static void burn(int max_s)
{
  int64_t end = lk_mono_ns() + (int64_t)max_s * 1000000000;
  volatile uint64_t x = 0;
  while (lk_mono_ns() < end)
    for (int i = 0; i < 100000; i++)
      x += (uint64_t)i;
  (void)x; /* read once: the sum exists only to keep the CPU busy */
}

/* Uninstrumented: AddressSanitizer's checks of every store would touch (and
 * charge to the cgroup) another 8 MiB of shadow memory for the 64 MiB. */
__attribute__((no_sanitize_address)) static void hog(int max_s)
{
  sleep(HOG_DELAY_S); /* the parent reads the cgroup's baseline first */
  char *p = mmap(NULL, HOG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    _exit(5);
  for (size_t i = 0; i < HOG_BYTES; i += 4096)
    p[i] = 1;
  sleep((unsigned)max_s);
}

static collector *new_collector(live *l)
{
  collector_opts o = {.cgroup_root = ROOT, .node = "live", .no_node = true,
                      .rescan_ms = 3600000, .detail_interval_ms = 1 /* every cycle */};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){store_sink, l}, &c, NULL), 0);
  return c;
}

/* Teardown runs even when an assertion fails, so nothing is left behind. */
static int setup(void **state)
{
  *state = calloc(1, sizeof(live));
  return *state ? 0 : -1;
}

static int teardown(void **state)
{
  live_destroy(*state);
  server_stop(*state);
  free(*state);
  return 0;
}

static void test_cpu_quota(void **state)
{
  live *l = *state;
  assert_true(live_create(l, "burner", "burn"));
  server_start(l);
  char dir[1100];
  snprintf(dir, sizeof dir, "%s", l->dirs[0]); /* cpu (v1) or the v2 leaf */
  int wrc = l->v2 ? write_str(dir, "cpu.max", "50000 100000") : write_str(dir, "cpu.cfs_quota_us", "50000");
  assert_int_equal(wrc, 0);
  live_run(l, burn, 30);
  collector *c = new_collector(l);
  char id[300], expr[512];
  snprintf(id, sizeof id, "/%s", l->rel);
  struct timespec warm = {1, 0}, sec = {1, 0};
  nanosleep(&warm, NULL);
  int64_t t = 0;
  for (int i = 0; i < 7; i++) { /* 7 samples, 1 s apart */
    if (i)
      nanosleep(&sec, NULL);
    t = lk_now_ms();
    assert_int_equal(collector_collect(c, t), 0);
  }
  assert_float_equal(capture_val(&l->cap, "container_spec_cpu_quota", "id", id, "namespace",
                                 "livetest", "container", "burn", NULL), 50000, 0);
  double thr = capture_val(&l->cap, "container_cpu_cfs_throttled_periods_total", "id", id, NULL);
  snprintf(expr, sizeof expr, "rate(container_cpu_usage_seconds_total{id=\"%s\"}[6s])", id);
  double rate = query(l, expr, t);
  printf("# live: %s = %.3f under a 0.5 CPU quota (%s), throttled periods %.0f\n", expr, rate,
         l->v2 ? "cgroup v2" : "cgroup v1", thr);
  assert_true(fabs(rate - 0.5) <= 0.1);
  assert_true(thr > 0);
  /* the burner stops and its cgroup goes away between two cycles */
  live_destroy(l);
  assert_int_equal(collector_collect(c, t + 1000), 0);
  assert_int_equal(capture_count(&l->cap, NULL, "container_cpu_usage_seconds_total", "id", id, NULL), 0);
  collector_stats st;
  collector_stats_get(c, &st);
  assert_int_equal(st.vanished, 1);
  collector_free(c);
}

static void test_memory_hog(void **state)
{
  live *l = *state;
  assert_true(live_create(l, "hog", "hog"));
  server_start(l);
  live_run(l, hog, 30);
  collector *c = new_collector(l);
  char id[300], expr[512];
  snprintf(id, sizeof id, "/%s", l->rel);
  snprintf(expr, sizeof expr, "container_memory_working_set_bytes{id=\"%s\",container=\"hog\"}", id);
  /* The forked child carries its parent's overhead (a sanitizer runtime
   * charges several MiB to the cgroup): measure what the hog adds to it. */
  int64_t t = lk_now_ms();
  assert_int_equal(collector_collect(c, t), 0);
  double base = capture_val(&l->cap, "container_memory_working_set_bytes", "id", id, NULL);
  assert_true(base < HOG_BYTES / 2);
  double ws = 0;
  for (int i = 0; i < 10 * (HOG_DELAY_S + 5); i++) { /* until the hog has touched its pages */
    t = lk_now_ms();
    assert_int_equal(collector_collect(c, t), 0);
    ws = capture_val(&l->cap, "container_memory_working_set_bytes", "id", id, NULL);
    if (ws - base >= HOG_BYTES * 0.9)
      break;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  ws = query(l, expr, t);
  printf("# live: %s = %.1f MiB for a 64 MiB hog (%.1f MiB before it touched its pages)\n", expr,
         ws / 1048576.0, base / 1048576.0);
  assert_true(fabs(ws - base - HOG_BYTES) <= HOG_BYTES * 0.1);
  live_destroy(l);
  collector_free(c);
}

/* Both tests need to create cgroups: SKIP (77) where that is not possible. */
static bool can_create_cgroups(void)
{
  live probe = {0};
  bool ok = geteuid() == 0 && live_create(&probe, "probe", "probe");
  live_destroy(&probe);
  return ok;
}

int main(void)
{
  lk_test_require(can_create_cgroups(), "cannot create cgroups here (not root or no writable hierarchy)");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cpu_quota, setup, teardown),
    cmocka_unit_test_setup_teardown(test_memory_hog, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
