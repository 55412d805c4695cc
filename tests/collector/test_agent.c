/* test_agent.c — `lookout agent` end to end, as a separate process: it
 * collects a fixture cgroup tree plus this node, pushes remote_write to a
 * receiver on 127.0.0.1, serves /metrics (checked with `promtool check
 * metrics`: SKIP without promtool), and stops cleanly on SIGTERM.
 * argv[1] is the lookout binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_http.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"
#include "tests/helpers/skip.h"

#define FIX FIXTURES_DIR "/cgroup"

static const char *lookout_bin;

typedef struct rx {
  pthread_mutex_t lock;
  uint64_t samples, requests;
  bool saw_coredns;
} rx;

static void on_write(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  rx *r = ctx;
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  lk_arena *a = lk_arena_new(1 << 16);
  lk_series *s;
  size_t n;
  int rc = lk_rw_decode(body, len, 64 << 20, a, &s, &n, NULL);
  pthread_mutex_lock(&r->lock);
  r->requests++;
  for (size_t i = 0; !rc && i < n; i++) {
    r->samples += s[i].nsamples;
    const char *ctr = lk_labels_get(s[i].labels, s[i].nlabels, "container");
    if (ctr && !strcmp(ctr, "coredns"))
      r->saw_coredns = true;
  }
  pthread_mutex_unlock(&r->lock);
  lk_arena_free(a);
  resp->status = rc ? 400 : 204;
  resp->content_type = "text/plain";
}

static const lk_http_route routes[] = {
  {"POST", "/api/v1/write", LK_AUTH_NONE, 64 << 20, on_write, NULL, "write"},
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_agent_process(void **state)
{
  (void)state;
  rx r = {.lock = PTHREAD_MUTEX_INITIALIZER};
  lk_http_opts ho = {.listen = "127.0.0.1:0"};
  lk_http_server *srv = NULL, *probe = NULL;
  assert_int_equal(lk_http_start(&ho, routes, 1, &r, NULL, &srv, NULL), 0);
  assert_int_equal(lk_http_start(&ho, routes, 1, &r, NULL, &probe, NULL), 0);
  int mport = lk_http_port(probe); /* free a port for the agent's /metrics */
  lk_http_stop(probe);
  char dir[] = "/tmp/lk-agent-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char server[64], listen[64], qdir[4200];
  snprintf(server, sizeof server, "http://127.0.0.1:%d", lk_http_port(srv));
  snprintf(listen, sizeof listen, "127.0.0.1:%d", mport);
  snprintf(qdir, sizeof qdir, "%s/queue", dir);
  pid_t pid = fork();
  if (pid == 0) {
    execl(lookout_bin, "lookout", "agent", "--server", server, "--interval", "1s",
          "--cgroup-root", FIX "/v2", "--log-root", FIX "/logs", "--queue-dir", qdir,
          "--listen", listen, "--node", "agenttest", (char *)NULL);
    _exit(127);
  }
  char url[128];
  snprintf(url, sizeof url, "http://%s/metrics", listen);
  lk_httpc_resp resp = {0};
  bool ok = false;
  for (int i = 0; i < 100 && !ok; i++) { /* up to ~10 s */
    lk_httpc_resp_fini(&resp);
    ok = lk_httpc_get(url, 1000, &resp, NULL) == 0 && resp.status == 200 && resp.body.len > 0;
    if (!ok)
      sleep_ms(100);
  }
  assert_true(ok);
  const char *page = (const char *)resp.body.data;
  assert_non_null(strstr(page, "# TYPE container_cpu_usage_seconds_total counter\n"));
  assert_non_null(strstr(page, "container=\"coredns\""));
  assert_non_null(strstr(page, "node_cpu_seconds_total{"));
  char file[4200], cmd[4400];
  snprintf(file, sizeof file, "%s/page.txt", dir);
  FILE *f = fopen(file, "w");
  fwrite(resp.body.data, 1, resp.body.len, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", file);
  assert_int_equal(system(cmd), 0);
  lk_httpc_resp_fini(&resp);
  bool pushed = false;
  for (int i = 0; i < 100 && !pushed; i++) {
    pthread_mutex_lock(&r.lock);
    pushed = r.saw_coredns && r.samples > 100;
    pthread_mutex_unlock(&r.lock);
    if (!pushed)
      sleep_ms(100);
  }
  assert_true(pushed);
  kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
    sleep_ms(100);
  if (!WIFEXITED(status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("agent did not stop on SIGTERM");
  }
  assert_int_equal(WEXITSTATUS(status), 0);
  lk_http_stop(srv);
  nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fprintf(stderr, "usage: test_agent PATH/TO/lookout\n");
    return 2;
  }
  lookout_bin = argv[1];
  lk_test_require(lk_test_have("/usr/bin/promtool"), "/usr/bin/promtool not installed");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_agent_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
