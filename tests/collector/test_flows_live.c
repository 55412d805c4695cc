/* test_flows_live.c — the flow meter capturing live: two network namespaces
 * this test creates, joined by a veth pair (10.199.0.1 in A, 10.199.0.2 in
 * B), real TCP (4 MiB) and UDP (200 x 1000 bytes) traffic from the test's
 * own sockets, captured on A's end. Checks: the meter's bytes + Ethernet
 * headers match the kernel's TX counter of the interface within 1 %, the
 * UDP flow is exact, the series name the pseudo-pods set with set_pods, and
 * capture stopped and restarted meters again (ASan checks for leaks).
 * Exits 77 (SKIP) unless root with `ip` available. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/collector.h"
#include "lib/lk_time.h"
#include "tests/collector/capture.h"
#include "tests/helpers/skip.h"

#define A_ADDR "10.199.0.1"
#define B_ADDR "10.199.0.2"
#define TCP_BYTES (4u << 20)
#define UDP_N 200
#define UDP_LEN 1000

typedef struct live {
  char ns_a[32], ns_b[32], if_a[16], if_b[16];
  int home;               /* this thread's original network namespace */
  collector_flows *f;
  capture cap;
} live;

static int sh(const char *fmt, ...)
{
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

static void enter(const live *l, const char *ns)
{
  char path[64];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(setns(fd, CLONE_NEWNET), 0);
  close(fd);
}

static void leave(const live *l) { assert_int_equal(setns(l->home, CLONE_NEWNET), 0); }

static int sock_at(int type, const char *addr, uint16_t port)
{
  int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, addr, &sa.sin_addr);
  assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  return s;
}

static void to(int s, const char *addr, uint16_t port)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, addr, &sa.sin_addr);
  assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void *drain(void *arg)
{
  int c = accept(*(int *)arg, NULL, NULL);
  char buf[65536];
  while (c >= 0 && read(c, buf, sizeof buf) > 0)
    ;
  if (c >= 0)
    close(c);
  return NULL;
}

/* TX bytes and packets of ifname in the current namespace. */
static void if_tx(const char *ifname, uint64_t *bytes, uint64_t *packets)
{
  FILE *f = fopen("/proc/thread-self/net/dev", "r");
  assert_non_null(f);
  char line[512], name[64];
  unsigned long long v[16];
  *bytes = *packets = 0;
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon || sscanf(line, " %63[^:]:", name) != 1 || strcmp(name, ifname))
      continue;
    if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7], &v[8], &v[9]) == 10) {
      *bytes = v[8];
      *packets = v[9];
    }
  }
  fclose(f);
}

/* Bytes and packets the meter has from src to dst (every flow). */
static void metered(live *l, const char *src, const char *dst, int ip_proto, uint64_t *bytes, uint64_t *packets)
{
  collector_flow_row *rows;
  size_t n;
  collector_flows_table(l->f, &rows, &n);
  *bytes = *packets = 0;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rows[i].src, src) && !strcmp(rows[i].dst, dst) && (!ip_proto || rows[i].ip_proto == ip_proto)) {
      *bytes += rows[i].bytes;
      *packets += rows[i].packets;
    }
  free(rows);
}

/* Wait (at most 5 s) until the meter has at least want packets of proto from A to B. */
static void wait_metered(live *l, int proto, uint64_t want)
{
  uint64_t b, p = 0;
  for (int i = 0; i < 100; i++) {
    metered(l, A_ADDR, B_ADDR, proto, &b, &p);
    if (p >= want)
      break;
    usleep(50000);
  }
  usleep(200000); /* the last ACKs */
}

static void send_udp(live *l, int n)
{
  enter(l, l->ns_a);
  int u = sock_at(SOCK_DGRAM, A_ADDR, 0);
  leave(l);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5353)};
  inet_pton(AF_INET, B_ADDR, &sa.sin_addr);
  char buf[UDP_LEN] = {0};
  for (int i = 0; i < n; i++) { /* unconnected: B's port unreachable replies do not fail sends */
    assert_int_equal(sendto(u, buf, sizeof buf, 0, (struct sockaddr *)&sa, sizeof sa), UDP_LEN);
    if (i % 20 == 19)
      usleep(1000);
  }
  close(u);
}

static void send_tcp(live *l)
{
  enter(l, l->ns_b);
  int srv = sock_at(SOCK_STREAM, B_ADDR, 5201);
  assert_int_equal(listen(srv, 1), 0);
  leave(l);
  enter(l, l->ns_a);
  int c = sock_at(SOCK_STREAM, A_ADDR, 0);
  leave(l);
  pthread_t t;
  pthread_create(&t, NULL, drain, &srv);
  to(c, B_ADDR, 5201);
  char *buf = calloc(1, TCP_BYTES);
  size_t off = 0;
  while (off < TCP_BYTES) {
    ssize_t w = write(c, buf + off, TCP_BYTES - off);
    assert_true(w > 0);
    off += (size_t)w;
  }
  close(c);
  pthread_join(t, NULL);
  close(srv);
  free(buf);
}

static void start_capture(live *l)
{
  lk_diag d = {0};
  enter(l, l->ns_a);
  int rc = collector_flows_add_interface(l->f, l->if_a, false, &d);
  leave(l);
  if (rc)
    fail_msg("%s", d.msg);
}

static void test_live_veth(void **state)
{
  live *l = *state;
  start_capture(l);
  send_tcp(l);
  send_udp(l, UDP_N);
  wait_metered(l, 17, UDP_N);
  uint64_t mb, mp, ub, up, tb, tp, ib, ip;
  metered(l, A_ADDR, B_ADDR, 0, &mb, &mp);
  metered(l, A_ADDR, B_ADDR, 17, &ub, &up);
  metered(l, A_ADDR, B_ADDR, 6, &tb, &tp);
  enter(l, l->ns_a);
  if_tx(l->if_a, &ib, &ip);
  leave(l);
  print_message("meter A->B: %llu bytes %llu packets (tcp %llu); %s TX %llu bytes %llu packets\n",
                (unsigned long long)mb, (unsigned long long)mp, (unsigned long long)tb, l->if_a,
                (unsigned long long)ib, (unsigned long long)ip);
  assert_int_equal(up, UDP_N);
  assert_int_equal(ub, UDP_N * (UDP_LEN + 28));
  assert_true(tb >= TCP_BYTES && tb <= TCP_BYTES * 1.05);
  double with_eth = (double)mb + 14.0 * (double)mp;
  assert_true(with_eth >= ib * 0.99 && with_eth <= ib * 1.01);

  assert_int_equal(collector_flows_flush(l->f, 0), 0);
  double tcp_series = capture_val(&l->cap, "lookout_flow_bytes_total", "src_namespace", "alpha", "src_pod", "client",
                                  "dst_namespace", "beta", "dst_pod", "server", "dst_port", "5201", "proto", "tcp", NULL);
  assert_true(tcp_series == (double)tb);
  assert_true(capture_val(&l->cap, "lookout_flow_packets_total", "src_pod", "client", "dst_port", "5353", "proto",
                          "udp", NULL) == UDP_N);
  assert_true(capture_val(&l->cap, "lookout_tcp_connections_total", "src_pod", "client", "dst_pod", "server", NULL) == 1);
  assert_true(capture_val(&l->cap, "lookout_tcp_rtt_seconds_count", "src_pod", "client", "dst_pod", "server", NULL) == 1);

  /* stop, restart, meter again */
  collector_flows_stats st;
  collector_flows_stats_get(l->f, &st);
  assert_int_equal(st.interfaces, 1);
  collector_flows_remove_interface(l->f, l->if_a);
  collector_flows_stats_get(l->f, &st);
  assert_int_equal(st.interfaces, 0);
  send_udp(l, 10); /* not captured */
  start_capture(l);
  send_udp(l, 50);
  wait_metered(l, 17, UDP_N + 50);
  metered(l, A_ADDR, B_ADDR, 17, &ub, &up);
  assert_int_equal(up, UDP_N + 50);
  collector_flows_remove_interface(l->f, l->if_a);
}

static void test_no_such_interface(void **state)
{
  live *l = *state;
  lk_diag d = {0};
  assert_int_equal(collector_flows_add_interface(l->f, "lkf-none0", false, &d), LK_ENOENT);
  assert_non_null(strstr(d.msg, "lkf-none0"));
}

static int setup(void **state)
{
  live *l = calloc(1, sizeof *l);
  int id = (int)getpid() % 100000;
  snprintf(l->ns_a, sizeof l->ns_a, "lkfa%d", id);
  snprintf(l->ns_b, sizeof l->ns_b, "lkfb%d", id);
  snprintf(l->if_a, sizeof l->if_a, "lkfa%d", id);
  snprintf(l->if_b, sizeof l->if_b, "lkfb%d", id);
  int rc = sh("ip netns add %s && ip netns add %s && ip link add %s type veth peer name %s && "
              "ip link set %s netns %s && ip link set %s netns %s && "
              "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && "
              "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && "
              "ip -n %s addr add " A_ADDR "/24 dev %s && ip -n %s addr add " B_ADDR "/24 dev %s && "
              "ip -n %s link set %s up && ip -n %s link set %s up",
              l->ns_a, l->ns_b, l->if_a, l->if_b, l->if_a, l->ns_a, l->if_b, l->ns_b, l->ns_a, l->ns_b, l->ns_a,
              l->if_a, l->ns_b, l->if_b, l->ns_a, l->if_a, l->ns_b, l->if_b);
  if (rc) {
    sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", l->ns_a, l->ns_b);
    free(l);
    return -1;
  }
  l->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  collector_flow_opts o = {.node = "n1"};
  lk_diag d = {0};
  if (collector_flows_new(&o, (collector_sink){capture_sink, &l->cap}, &l->f, &d))
    return -1;
  collector_flow_pod pods[] = {{A_ADDR, "alpha", "client"}, {B_ADDR, "beta", "server"}};
  collector_flows_set_pods(l->f, pods, 2);
  *state = l;
  return 0;
}

static int teardown(void **state)
{
  live *l = *state;
  if (!l)
    return 0;
  collector_flows_free(l->f);
  capture_fini(&l->cap);
  close(l->home);
  sh("ip netns del %s; ip netns del %s", l->ns_a, l->ns_b);
  free(l);
  return 0;
}

int main(void)
{
  lk_test_require(geteuid() == 0, "creating network namespaces needs root");
  lk_test_require(lk_test_have("/usr/sbin/ip") || lk_test_have("/sbin/ip") || lk_test_have("/usr/bin/ip"),
                  "no ip command (iproute2)");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_live_veth),
    cmocka_unit_test(test_no_such_interface),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
