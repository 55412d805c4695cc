/* test_push.c — the push path: the bounded on-disk queue (bound, reopen,
 * corruption), remote_write to a real HTTP receiver on 127.0.0.1 (samples
 * decoded and counted), a server outage during which the collector keeps
 * collecting (every sample must arrive exactly once after the server comes
 * back), a 400 rejection (dropped and counted, no retry loop), and (argument
 * "prometheus", SKIP when Debian's prometheus is missing) remote_write into a
 * real Prometheus with the receiver enabled, read back through its query API. */
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

#include "collector/collector.h"
#include "collector/queue.h"
#include "lib/lk_alloc.h"
#include "lib/lk_hash.h"
#include "lib/lk_http.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "lib/lk_wire.h"
#include "tests/helpers/skip.h"

#define FIX FIXTURES_DIR "/cgroup"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void rm_rf(const char *p)
{
  nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/*---- the queue ----*/

static void test_queue_bound_and_reopen(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-queue-XXXXXX";
  assert_non_null(mkdtemp(dir));
  collector__queue *q = NULL;
  uint8_t body[1000];
  memset(body, 'x', sizeof body);
  /* each request takes 24 + 1000 bytes; the bound holds three */
  assert_int_equal(collector__queue_open(dir, 3 * 1024 + 10, &q, NULL), 0);
  for (int i = 0; i < 5; i++) {
    body[0] = (uint8_t)i;
    assert_int_equal(collector__queue_put(q, body, sizeof body, 10 + (uint64_t)i), 0);
  }
  uint64_t n, bytes, dr, ds;
  collector__queue_stats_get(q, &n, &bytes, &dr, &ds);
  assert_int_equal(n, 3);
  assert_int_equal(dr, 2);             /* the two oldest */
  assert_int_equal(ds, 10 + 11);
  assert_int_equal(collector__queue_put(q, body, 5000, 7), LK_ETOOBIG);
  collector__queue_close(q);
  /* reopen: the same three, oldest first */
  assert_int_equal(collector__queue_open(dir, 3 * 1024 + 10, &q, NULL), 0);
  lk_buf b = {0};
  uint64_t seq, ns;
  assert_int_equal(collector__queue_peek(q, &b, &seq, &ns), 0);
  assert_int_equal(b.len, sizeof body);
  assert_int_equal(b.data[0], 2);
  assert_int_equal(ns, 12);
  collector__queue_pop(q, seq);
  /* corrupt the next file on disk: it is dropped, the one after is served */
  char p[4200];
  snprintf(p, sizeof p, "%s/%016llx.q", dir, (unsigned long long)seq + 1);
  FILE *f = fopen(p, "r+");
  assert_non_null(f);
  fseek(f, 100, SEEK_SET);
  fputc('!', f);
  fclose(f);
  assert_int_equal(collector__queue_peek(q, &b, &seq, &ns), 0);
  assert_int_equal(b.data[0], 4);
  collector__queue_pop(q, seq);
  assert_int_equal(collector__queue_peek(q, &b, &seq, &ns), LK_ENOENT);
  lk_buf_fini(&b);
  collector__queue_close(q);
  rm_rf(dir);
}

/* A request file of another format version (a downgrade) is neither sent
 * nor deleted nor overwritten by new requests. */
static void test_queue_other_version_kept(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-queue-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[4200];
  snprintf(p, sizeof p, "%s/%016llx.q", dir, 9ULL);
  static const char newer[] = "LKQ2 a request in a later layout";
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fwrite(newer, 1, sizeof newer, f);
  fclose(f);
  collector__queue *q = NULL;
  assert_int_equal(collector__queue_open(dir, 1 << 20, &q, NULL), 0);
  uint64_t n, bytes, dr, ds, seq, ns;
  collector__queue_stats_get(q, &n, &bytes, &dr, &ds);
  assert_int_equal(n, 0);
  assert_int_equal(dr, 0);
  uint8_t body[100] = {7};
  assert_int_equal(collector__queue_put(q, body, sizeof body, 1), 0);
  lk_buf b = {0};
  assert_int_equal(collector__queue_peek(q, &b, &seq, &ns), 0);
  assert_int_equal(seq, 10); /* past the kept file */
  assert_int_equal(b.data[0], 7);
  lk_buf_fini(&b);
  collector__queue_close(q);
  char back[sizeof newer + 1];
  f = fopen(p, "r");
  assert_non_null(f);
  assert_int_equal(fread(back, 1, sizeof back, f), sizeof newer);
  fclose(f);
  assert_memory_equal(back, newer, sizeof newer);
  rm_rf(dir);
}

/*---- a remote_write receiver on 127.0.0.1 ----*/

typedef struct receiver {
  pthread_mutex_t lock;
  uint64_t *keys;       /* hash of (labels, t) per sample received */
  size_t n, cap;
  uint64_t requests;
  int status;           /* answer with this (0: 204) */
  lk_buf *bodies;       /* every body as received, when keep_bodies */
  size_t nbodies, bodies_cap;
  bool keep_bodies;
  lk_http_server *srv;
  int port;
} receiver;

static void on_write(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  receiver *r = ctx;
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  lk_arena *a = lk_arena_new(1 << 16);
  lk_series *s;
  size_t n;
  pthread_mutex_lock(&r->lock);
  r->requests++;
  int status = r->status;
  if (r->keep_bodies) {
    r->bodies = lk_xgrow(r->bodies, &r->bodies_cap, r->nbodies + 1, sizeof *r->bodies);
    r->bodies[r->nbodies] = (lk_buf){0};
    lk_buf_append(&r->bodies[r->nbodies++], body, len);
  }
  if (!status && lk_rw_decode(body, len, 64 << 20, a, &s, &n, NULL) == 0) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < s[i].nsamples; j++) {
        r->keys = lk_xgrow(r->keys, &r->cap, r->n + 1, sizeof *r->keys);
        r->keys[r->n++] = lk_hash_mix(lk_labels_hash(s[i].labels, s[i].nlabels),
                                      (uint64_t)s[i].samples[j].t);
      }
    status = 204;
  } else if (!status)
    status = 400;
  pthread_mutex_unlock(&r->lock);
  lk_arena_free(a);
  resp->status = status;
  resp->content_type = "text/plain";
}

static const lk_http_route rw_routes[] = {
  {"POST", "/api/v1/write", LK_AUTH_NONE, 64 << 20, on_write, NULL, "/api/v1/write"},
};

static void receiver_start(receiver *r, int port)
{
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  lk_http_opts o = {.listen = listen};
  lk_diag d = {0};
  int rc = LK_EIO;
  for (int i = 0; i < 50 && rc; i++) { /* the port may linger briefly after a stop */
    rc = lk_http_start(&o, rw_routes, 1, r, NULL, &r->srv, &d);
    if (rc)
      sleep_ms(100);
  }
  assert_int_equal(rc, 0);
  r->port = lk_http_port(r->srv);
}

static int u64_cmp(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Distinct keys received; *dups gets how many arrived more than once. */
static size_t receiver_distinct(receiver *r, size_t *dups)
{
  pthread_mutex_lock(&r->lock);
  if (r->n)
    qsort(r->keys, r->n, sizeof *r->keys, u64_cmp);
  size_t d = 0, u = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (i && r->keys[i] == r->keys[i - 1])
      d++;
    else
      u++;
  }
  pthread_mutex_unlock(&r->lock);
  *dups = d;
  return u;
}

/* A sink that counts what the collector produced, then forwards. */
typedef struct tee {
  collector_sink next;
  uint64_t samples;
} tee;

static int tee_sink(void *ctx, const lk_series *s, size_t n)
{
  tee *t = ctx;
  t->samples += n;
  return t->next.fn(t->next.ctx, s, n);
}

static void test_outage_exactly_once(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-outage-XXXXXX";
  assert_non_null(mkdtemp(dir));
  receiver r = {.lock = PTHREAD_MUTEX_INITIALIZER};
  receiver_start(&r, 0);
  int port = r.port;
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", port);
  collector_push_opts po = {.url = url, .queue_dir = dir, .max_series_per_send = 50,
                            .backoff_min_ms = 20, .backoff_max_ms = 200, .timeout_ms = 2000};
  collector_pusher *p = NULL;
  assert_int_equal(collector_pusher_new(&po, &p, NULL), 0);
  assert_int_equal(collector_pusher_start(p), 0);
  tee t = {collector_pusher_sink(p), 0};
  collector_opts o = {.cgroup_root = FIX "/v2", .proc_root = FIX "/proc",
                      .log_root = FIX "/logs", .node = "outage"};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, (collector_sink){tee_sink, &t}, &c, NULL), 0);
  int64_t t0 = 1700000000000;
  for (int i = 0; i < 3; i++)
    assert_int_equal(collector_collect(c, t0 + i * 1000), 0);
  assert_int_equal(collector_pusher_flush(p, 10000), 0);
  /* outage: the server goes away, the collector keeps collecting */
  lk_http_stop(r.srv);
  r.srv = NULL;
  for (int i = 3; i < 10; i++)
    assert_int_equal(collector_collect(c, t0 + i * 1000), 0);
  sleep_ms(300);
  collector_push_stats st;
  collector_pusher_stats_get(p, &st);
  assert_true(st.failed_attempts > 0);
  assert_true(st.queued_requests > 0);
  /* the server comes back on the same port; everything drains */
  receiver_start(&r, port);
  for (int i = 10; i < 12; i++)
    assert_int_equal(collector_collect(c, t0 + i * 1000), 0);
  assert_int_equal(collector_pusher_flush(p, 20000), 0);
  size_t dups;
  size_t got = receiver_distinct(&r, &dups);
  collector_pusher_stats_get(p, &st);
  assert_int_equal(st.dropped_samples, 0);
  assert_int_equal(st.sent_samples, t.samples);
  assert_int_equal(got, t.samples);  /* every sample arrived... */
  assert_int_equal(dups, 0);         /* ...exactly once */
  printf("# outage: %llu samples in 12 cycles, %llu failed attempts while down, all delivered once\n",
         (unsigned long long)t.samples, (unsigned long long)st.failed_attempts);
  collector_free(c);
  collector_pusher_free(p);
  lk_http_stop(r.srv);
  free(r.keys);
  rm_rf(dir);
}

static void test_rejected_is_dropped(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-reject-XXXXXX";
  assert_non_null(mkdtemp(dir));
  receiver r = {.lock = PTHREAD_MUTEX_INITIALIZER, .status = 400};
  receiver_start(&r, 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", r.port);
  collector_push_opts po = {.url = url, .queue_dir = dir};
  collector_pusher *p = NULL;
  assert_int_equal(collector_pusher_new(&po, &p, NULL), 0);
  assert_int_equal(collector_pusher_start(p), 0);
  lk_label l[] = {{"__name__", "x"}};
  lk_sample smp = {1, 1};
  lk_series s = {l, 1, &smp, 1};
  collector_sink sink = collector_pusher_sink(p);
  assert_int_equal(sink.fn(sink.ctx, &s, 1), 0);
  assert_int_equal(collector_pusher_flush(p, 10000), 0);
  collector_push_stats st;
  collector_pusher_stats_get(p, &st);
  assert_int_equal(st.rejected_samples, 1);
  assert_int_equal(st.failed_attempts, 0);
  collector_pusher_free(p);
  lk_http_stop(r.srv);
  free(r.keys);
  rm_rf(dir);
}

/*---- label bytes reused between cycles ----*/

#define RW_STABLE 5
#define RW_FRESH 120
#define RW_CYCLES 30
#define RW_PER_SEND 50

static int label_name_cmp(const void *a, const void *b)
{
  return strcmp(((const lk_label *)a)->name, ((const lk_label *)b)->name);
}

/* What lk_rw_encode makes of a cycle, labels sorted, RW_PER_SEND series a
 * request: the bodies the pusher must send. */
static size_t fresh_bodies(const lk_series *s, size_t n, lk_buf *out)
{
  size_t nb = 0;
  for (size_t off = 0; off < n; off += RW_PER_SEND, nb++) {
    size_t m = n - off < RW_PER_SEND ? n - off : RW_PER_SEND;
    lk_series sorted[RW_PER_SEND];
    lk_label ls[RW_PER_SEND][3];
    for (size_t i = 0; i < m; i++) {
      memcpy(ls[i], s[off + i].labels, sizeof ls[i]);
      qsort(ls[i], 3, sizeof ls[i][0], label_name_cmp);
      sorted[i] = s[off + i];
      sorted[i].labels = ls[i];
    }
    out[nb] = (lk_buf){0};
    assert_int_equal(lk_rw_encode(sorted, m, &out[nb]), 0);
  }
  return nb;
}

/* RW_CYCLES cycles of RW_STABLE series that stay (labels not in sorted
 * order, their order in the batch rotating) and RW_FRESH new ones each
 * cycle; the last cycles bring back series of the first ones, which the
 * cache has dropped by then. Every body equals lk_rw_encode's for the same
 * series (byte for byte, and decoded), and labels are encoded once per
 * series while it stays in the cache. */
static void test_label_bytes_reused(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-rwreuse-XXXXXX";
  assert_non_null(mkdtemp(dir));
  receiver r = {.lock = PTHREAD_MUTEX_INITIALIZER, .keep_bodies = true};
  receiver_start(&r, 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", r.port);
  collector_push_opts po = {.url = url, .queue_dir = dir, .max_series_per_send = RW_PER_SEND};
  collector_pusher *p = NULL;
  assert_int_equal(collector_pusher_new(&po, &p, NULL), 0);
  assert_int_equal(collector_pusher_start(p), 0);
  collector_sink sink = collector_pusher_sink(p);
  enum { N = RW_STABLE + RW_FRESH, MAXB = (N + RW_PER_SEND - 1) / RW_PER_SEND };
  char ids[N][16];
  lk_label ls[N][3];
  lk_sample smp[N];
  lk_series s[N];
  lk_buf want[RW_CYCLES * MAXB];
  size_t nwant = 0;
  for (int cyc = 0; cyc < RW_CYCLES; cyc++) {
    int src = cyc >= RW_CYCLES - 2 ? cyc - (RW_CYCLES - 2) : cyc; /* the last two repeat 0 and 1 */
    for (int i = 0; i < N; i++) {
      int k = i < RW_STABLE ? (i + cyc) % RW_STABLE : i;
      if (k < RW_STABLE)
        snprintf(ids[i], sizeof ids[i], "stable-%d", k);
      else
        snprintf(ids[i], sizeof ids[i], "c%d-%d", src, k);
      ls[i][0] = (lk_label){"__name__", k < RW_STABLE ? "stable_total" : "fresh"};
      ls[i][1] = (lk_label){"zone", k % 2 ? "b" : "a"};
      ls[i][2] = (lk_label){"id", ids[i]};
      smp[i] = (lk_sample){1700000000000 + cyc * 1000, cyc * 1000.5 + i};
      s[i] = (lk_series){ls[i], 3, &smp[i], 1};
    }
    assert_int_equal(sink.fn(sink.ctx, s, N), 0);
    nwant += fresh_bodies(s, N, want + nwant);
    if (cyc == 1) {
      collector_push_stats st;
      collector_pusher_stats_get(p, &st);
      assert_int_equal(st.label_encodings, RW_STABLE + 2 * RW_FRESH); /* stable ones encoded once */
    }
  }
  assert_int_equal(collector_pusher_flush(p, 20000), 0);
  collector_push_stats st;
  collector_pusher_stats_get(p, &st);
  assert_true(st.label_encodings < (uint64_t)RW_CYCLES * N);
  pthread_mutex_lock(&r.lock);
  assert_int_equal(r.nbodies, nwant);
  for (size_t b = 0; b < nwant; b++) {
    assert_int_equal(r.bodies[b].len, want[b].len);
    assert_memory_equal(r.bodies[b].data, want[b].data, want[b].len);
    lk_arena *a = lk_arena_new(1 << 16), *ea = lk_arena_new(1 << 16);
    lk_series *got, *exp;
    size_t ngot, nexp;
    assert_int_equal(lk_rw_decode(r.bodies[b].data, r.bodies[b].len, 1 << 24, a, &got, &ngot, NULL), 0);
    assert_int_equal(lk_rw_decode(want[b].data, want[b].len, 1 << 24, ea, &exp, &nexp, NULL), 0);
    assert_int_equal(ngot, nexp);
    for (size_t i = 0; i < ngot; i++) {
      assert_true(lk_labels_equal(got[i].labels, got[i].nlabels, exp[i].labels, exp[i].nlabels));
      assert_int_equal(got[i].samples[0].t, exp[i].samples[0].t);
    }
    lk_arena_free(a);
    lk_arena_free(ea);
    lk_buf_fini(&r.bodies[b]);
    lk_buf_fini(&want[b]);
  }
  pthread_mutex_unlock(&r.lock);
  printf("# %zu bodies byte-identical to lk_rw_encode's; labels encoded %llu times for %d series sent\n",
         nwant, (unsigned long long)st.label_encodings, RW_CYCLES * N);
  collector_pusher_free(p);
  lk_http_stop(r.srv);
  free(r.bodies);
  free(r.keys);
  rm_rf(dir);
}

/*---- a real Prometheus with the remote_write receiver ----*/

static int free_port(void)
{
  receiver r = {.lock = PTHREAD_MUTEX_INITIALIZER};
  receiver_start(&r, 0);
  int port = r.port;
  lk_http_stop(r.srv);
  return port;
}

static void test_real_prometheus(void **state)
{
  (void)state;
  char dir[] = "/tmp/lk-prom-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char cfg[4200], data[4200], listen[64], qdir[4200];
  snprintf(cfg, sizeof cfg, "%s/prometheus.yml", dir);
  snprintf(data, sizeof data, "--storage.tsdb.path=%s/data", dir);
  snprintf(qdir, sizeof qdir, "%s/queue", dir);
  int port = free_port();
  snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
  FILE *f = fopen(cfg, "w");
  fputs("global: {scrape_interval: 15s}\n", f);
  fclose(f);
  char cfgflag[4300];
  snprintf(cfgflag, sizeof cfgflag, "--config.file=%s", cfg);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl("/usr/bin/prometheus", "prometheus", cfgflag, data, listen,
          "--web.enable-remote-write-receiver", (char *)NULL);
    _exit(127);
  }
  char url[128], ready[128];
  snprintf(ready, sizeof ready, "http://127.0.0.1:%d/-/ready", port);
  bool up = false;
  for (int i = 0; i < 150 && !up; i++) { /* up to 15 s */
    lk_httpc_resp resp = {0};
    up = lk_httpc_get(ready, 1000, &resp, NULL) == 0 && resp.status == 200;
    lk_httpc_resp_fini(&resp);
    if (!up)
      sleep_ms(100);
  }
  assert_true(up);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", port);
  collector_push_opts po = {.url = url, .queue_dir = qdir};
  collector_pusher *p = NULL;
  assert_int_equal(collector_pusher_new(&po, &p, NULL), 0);
  assert_int_equal(collector_pusher_start(p), 0);
  collector_opts o = {.cgroup_root = FIX "/v2", .proc_root = FIX "/proc",
                      .log_root = FIX "/logs", .node = "promtest"};
  collector *c = NULL;
  assert_int_equal(collector_new(&o, collector_pusher_sink(p), &c, NULL), 0);
  int64_t now = lk_now_ms();
  assert_int_equal(collector_collect(c, now - 2000), 0);
  assert_int_equal(collector_collect(c, now - 1000), 0);
  assert_int_equal(collector_pusher_flush(p, 15000), 0);
  collector_push_stats st;
  collector_pusher_stats_get(p, &st);
  assert_int_equal(st.rejected_samples, 0);
  char q[512];
  snprintf(q, sizeof q, "http://127.0.0.1:%d/api/v1/query?query=container_cpu_usage_seconds_total"
           "%%7Bnamespace%%3D%%22kube-system%%22%%2Cnode%%3D%%22promtest%%22%%7D", port);
  lk_httpc_resp resp = {0};
  assert_int_equal(lk_httpc_get(q, 5000, &resp, NULL), 0);
  assert_int_equal(resp.status, 200);
  assert_non_null(strstr((const char *)resp.body.data, "\"8.812345\""));
  assert_non_null(strstr((const char *)resp.body.data, "\"container\":\"coredns\""));
  lk_httpc_resp_fini(&resp);
  collector_free(c);
  collector_pusher_free(p);
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  rm_rf(dir);
}

/* No argument: the pusher against test receivers. "prometheus": against a
 * real Prometheus (its own meson test, SKIP without /usr/bin/prometheus). */
int main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && !strcmp(argv[1], "prometheus")) {
    lk_test_require(lk_test_have("/usr/bin/prometheus"), "/usr/bin/prometheus not installed");
    const struct CMUnitTest real[] = {
      cmocka_unit_test(test_real_prometheus),
    };
    return cmocka_run_group_tests(real, NULL, NULL);
  }
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_queue_bound_and_reopen),
    cmocka_unit_test(test_queue_other_version_kept),
    cmocka_unit_test(test_outage_exactly_once),
    cmocka_unit_test(test_rejected_is_dropped),
    cmocka_unit_test(test_label_bytes_reused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
