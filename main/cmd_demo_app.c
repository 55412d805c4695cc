/* cmd_demo_app.c — the demo's workload and its load: `lookout demo-app`, a
 * php-apache-like HTTP server that burns CPU on every request and logs each
 * one, and `lookout loadgen`, a bounded load generator that stops by itself.
 *
 * They exist so `lookout demo` (and the autoscaling tests and benchmark) can
 * show a real HPA loop without downloading an image: the orchestrator runs
 * demo-app from the host filesystem. Replicas share the host network, so
 * demo-app binds with SO_REUSEPORT and the kernel spreads connections over
 * every replica listening on the port, which is what a Service would do.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_http.h"
#include "lib/lk_httpc.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"
#include "main/cmd.h"

/* Value of flag `name` at argv[*i] (advancing *i), or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
  if (strcmp(argv[*i], name) || *i + 1 >= argc)
    return NULL;
  return argv[++*i];
}

/*---- demo-app ----*/

typedef struct app {
  int64_t work_ms;
} app;

static double thread_cpu_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Spin on square roots until this thread has used ms of CPU time (not wall
 * time, so a busy node slows answers down instead of shortening the work). */
static double burn(int64_t ms)
{
  double start = thread_cpu_ms(), acc = 0;
  for (unsigned long i = 1; thread_cpu_ms() - start < (double)ms; i++)
    for (int k = 0; k < 2000; k++)
      acc += __builtin_sqrt((double)(i * 2000 + (unsigned long)k));
  return acc;
}

static void app_root(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  const app *a = ctx;
  int64_t t0 = lk_now_ms();
  double acc = burn(a->work_ms);
  resp->content_type = "text/plain";
  lk_buf_puts(&resp->body, acc >= 0 ? "OK!\n" : "?\n");
  printf("level=info msg=request method=%s path=%s status=200 work_ms=%lld duration_ms=%lld\n",
         lk_http_method(req), lk_http_path(req), (long long)a->work_ms, (long long)(lk_now_ms() - t0));
  fflush(stdout);
}

static void app_healthz(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  (void)ctx;
  (void)req;
  resp->content_type = "text/plain";
  lk_buf_puts(&resp->body, "ok\n");
}

static const lk_http_route app_routes[] = {
  {"GET", "/healthz", LK_AUTH_NONE, 0, app_healthz, NULL, "/healthz"},
  {"GET", "/*", LK_AUTH_NONE, 0, app_root, NULL, "/"},
};

static int wait_for_signal(void)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int cmd_demo_app(int argc, char **argv)
{
  const char *listen = "127.0.0.1:8080";
  app a = {.work_ms = 20};
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = flag_value(argc, argv, &i, "--listen")))
      listen = v;
    else if ((v = flag_value(argc, argv, &i, "--work-ms")))
      a.work_ms = atoll(v);
    else {
      fprintf(stderr, "usage: lookout demo-app [--listen ADDR] [--work-ms N]\n\n"
                      "HTTP workload for the demo: every request to / burns N ms of CPU (default 20)\n"
                      "and logs one line; /healthz answers ok. Replicas may share ADDR (SO_REUSEPORT).\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (a.work_ms < 0 || a.work_ms > 60000) {
    fprintf(stderr, "lookout demo-app: --work-ms must be between 0 and 60000\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  lk_http_opts o = {.listen = listen, .reuse_port = true};
  lk_http_server *srv;
  lk_diag d = {0};
  if (lk_http_start(&o, app_routes, sizeof app_routes / sizeof app_routes[0], &a, NULL, &srv, &d)) {
    fprintf(stderr, "lookout demo-app: %s\n", d.msg);
    return 1;
  }
  printf("level=info msg=listening addr=%s work_ms=%lld\n", listen, (long long)a.work_ms);
  int sig = wait_for_signal();
  printf("level=info msg=stopping signal=%d\n", sig);
  lk_http_stop(srv);
  return 0;
}

/*---- loadgen ----*/

typedef struct load {
  const char *url;
  int64_t end_ms;
  int64_t gap_ms;          /* pause between one worker's requests (0 = back to back) */
  atomic_ullong ok, failed;
} load;

static void *load_worker(void *arg)
{
  load *l = arg;
  while (lk_now_ms() < l->end_ms) {
    lk_httpc_resp r = {0};
    lk_diag d = {0};
    int64_t left = l->end_ms - lk_now_ms();
    int rc = lk_httpc_get(l->url, (int)(left < 10000 ? (left > 100 ? left : 100) : 10000), &r, &d);
    if (rc && lk_now_ms() >= l->end_ms) {
      lk_httpc_resp_fini(&r);
      break; /* cut off by the end of the run, not a failure of the target */
    }
    atomic_fetch_add(rc == 0 && r.status == 200 ? &l->ok : &l->failed, 1);
    lk_httpc_resp_fini(&r);
    if (rc && l->gap_ms == 0)
      usleep(100000); /* the target is down: do not spin */
    if (l->gap_ms)
      usleep((useconds_t)(l->gap_ms * 1000));
  }
  return NULL;
}

int cmd_loadgen(int argc, char **argv)
{
  const char *url = "http://127.0.0.1:8080/";
  int64_t duration_ms = 60000;
  long workers = 4;
  int64_t gap_ms = 0;
  lk_diag d = {0};
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = flag_value(argc, argv, &i, "--url")))
      url = v;
    else if ((v = flag_value(argc, argv, &i, "--concurrency")))
      workers = atol(v);
    else if ((v = flag_value(argc, argv, &i, "--gap")) && !lk_parse_duration(v, &gap_ms, &d))
      continue;
    else if ((v = flag_value(argc, argv, &i, "--duration")) && !lk_parse_duration(v, &duration_ms, &d))
      continue;
    else {
      fprintf(stderr, "usage: lookout loadgen [--url URL] [--concurrency N] [--duration D] [--gap D]\n\n"
                      "Bounded load: N workers (default 4) GET URL back to back (or every --gap)\n"
                      "for D (default 60s), one progress line per second, then exit.\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (workers < 1 || workers > 256 || duration_ms <= 0 || duration_ms > 24 * 3600000LL) {
    fprintf(stderr, "lookout loadgen: --concurrency must be 1..256 and --duration within 24h\n");
    return 2;
  }
  load l = {.url = url, .end_ms = lk_now_ms() + duration_ms, .gap_ms = gap_ms};
  pthread_t th[256];
  for (long i = 0; i < workers; i++)
    pthread_create(&th[i], NULL, load_worker, &l);
  printf("level=info msg=\"load started\" url=%s concurrency=%ld duration_ms=%lld\n", url, workers,
         (long long)duration_ms);
  fflush(stdout);
  unsigned long long last = 0;
  while (lk_now_ms() < l.end_ms) {
    sleep(1);
    unsigned long long ok = atomic_load(&l.ok);
    printf("level=info msg=progress ok=%llu failed=%llu rps=%llu\n", ok, atomic_load(&l.failed), ok - last);
    fflush(stdout);
    last = ok;
  }
  for (long i = 0; i < workers; i++)
    pthread_join(th[i], NULL);
  printf("level=info msg=\"load finished\" ok=%llu failed=%llu\n", atomic_load(&l.ok), atomic_load(&l.failed));
  return 0;
}
