/* test_runtime_net.c — pod networking on real runc containers (root): pods
 * with hostNetwork: false get an address of the pod CIDR (status.podIP and
 * podIPs), eth0 and a default route via the bridge; one pod reaches another
 * over TCP by its pod IP; the hook reports each network up and down with the
 * host-side veth; delete removes the veth and frees the address; a runtime
 * reopened on the same data dir (a Lookout restart) adopts each pod with the
 * same address and frees the addresses and veths of pods that are gone. The CIDR is the
 * test's own (10.89.0.0/24) so it never meets a real node's pods. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/orchestrator/rt_fx.h"

#define CIDR "10.89.0.0/24"
#define UID_SRV "a1000000-0000-4000-8000-00000000000a"
#define UID_CLI "a2000000-0000-4000-8000-00000000000b"
#define VETH_SRV "lkva1000000"
#define VETH_CLI "lkva2000000"

/* What the hook saw. */
typedef struct seen {
  pthread_mutex_t mu;
  char log[4096];
} seen;

static seen events = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_net(void *ctx, const orch_pod_net_event *ev)
{
  seen *s = ctx;
  pthread_mutex_lock(&s->mu);
  size_t n = strlen(s->log);
  snprintf(s->log + n, sizeof s->log - n, "%s %s/%s %s %s\n", ev->up ? "up" : "down",
           ev->namespace_, ev->name, ev->ip, ev->host_ifname);
  pthread_mutex_unlock(&s->mu);
}

static bool saw(const char *line)
{
  pthread_mutex_lock(&events.mu);
  bool ok = strstr(events.log, line) != NULL;
  pthread_mutex_unlock(&events.mu);
  return ok;
}

static void forget_events(void)
{
  pthread_mutex_lock(&events.mu);
  events.log[0] = 0;
  pthread_mutex_unlock(&events.mu);
}

static int setup(void **state)
{
  rt_fx_setup(state);
  rt_fx *f = *state;
  f->pod_cidr = CIDR;
  f->on_net = on_net;
  f->on_net_ctx = &events;
  forget_events();
  rt_fx_reopen(f);
  return 0;
}

static void sync_pod(rt_fx *f, const char *name, const char *uid, const char *cmd)
{
  char spec[2048];
  snprintf(spec, sizeof spec,
           "{\"hostNetwork\":false,\"terminationGracePeriodSeconds\":1,"
           "\"containers\":[{\"name\":\"c\",\"command\":[\"/bin/sh\",\"-c\",\"%s\"]}]}", cmd);
  json_t *pod = rt_fx_pod(name, uid, spec);
  lk_diag d = {0};
  int rc = orch__rt_sync_pod(f->rt, pod, &d);
  if (rc)
    fprintf(stderr, "sync %s: %s\n", name, d.msg);
  assert_int_equal(rc, 0);
  json_decref(pod);
}

/* Waits for Running and returns status.podIP (checked against podIPs). */
static void pod_ip(rt_fx *f, const char *uid, char *ip, size_t cap)
{
  json_t *st = NULL;
  assert_true(rt_fx_wait(f, uid, rt_fx_running_ready, NULL, 20000, &st));
  const char *v = json_string_value(json_object_get(st, "podIP"));
  assert_non_null(v);
  const json_t *ips = json_object_get(st, "podIPs");
  assert_int_equal(json_array_size(ips), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(ips, 0), "ip")), v);
  snprintf(ip, cap, "%s", v);
  json_decref(st);
}

static bool in_cidr(const char *ip)
{
  struct in_addr a;
  return inet_pton(AF_INET, ip, &a) == 1 && (ntohl(a.s_addr) & 0xffffff00u) == 0x0a590000u &&
         (ntohl(a.s_addr) & 0xff) >= 2 && (ntohl(a.s_addr) & 0xff) < 255;
}

static char *wait_log(rt_fx *f, const char *pod, const char *uid, const char *want)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/pods/default_%s_%s/c/0.log", f->data, pod, uid);
  return rt_fx_wait_log(path, want);
}

static bool ipam_file(rt_fx *f, const char *ip)
{
  char path[1024];
  struct stat st;
  snprintf(path, sizeof path, "%s/orchestrator/ipam/%s", f->data, ip);
  return stat(path, &st) == 0;
}

static const char server_cmd[] =
    "python3 -c 'import socket\\n"
    "s=socket.socket()\\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\\n"
    "s.bind((\\\"0.0.0.0\\\",8080))\\ns.listen()\\n"
    "while True:\\n c,a=s.accept()\\n c.sendall((\\\"hello \\\"+a[0]).encode())\\n c.close()'";

static void test_pod_to_pod(void **state)
{
  rt_fx *f = *state;
  sync_pod(f, "srv", UID_SRV, server_cmd);
  char srv_ip[64], cli_ip[64], cmd[1024], line[256];
  pod_ip(f, UID_SRV, srv_ip, sizeof srv_ip);
  assert_true(in_cidr(srv_ip));
  assert_true(if_nametoindex(VETH_SRV) > 0);
  snprintf(line, sizeof line, "up default/srv %s " VETH_SRV "\n", srv_ip);
  assert_true(saw(line));
  /* the client: default route via the bridge, then TCP to the server's pod IP (retried
   * while the server starts listening) */
  snprintf(cmd, sizeof cmd,
           "awk '$1==\\\"eth0\\\" && $2==\\\"00000000\\\" && $3==\\\"0100590A\\\" {f=1} "
           "END {exit !f}' /proc/net/route && echo route-ok; "
           "for i in $(seq 50); do python3 -c 'import socket\\n"
           "s=socket.create_connection((\\\"%s\\\",8080),2)\\nprint(\\\"got\\\",s.recv(100).decode())'"
           " && break; sleep 0.2; done; sleep 1000", srv_ip);
  sync_pod(f, "cli", UID_CLI, cmd);
  pod_ip(f, UID_CLI, cli_ip, sizeof cli_ip);
  assert_true(in_cidr(cli_ip));
  assert_string_not_equal(srv_ip, cli_ip);
  char want[128];
  snprintf(want, sizeof want, "got hello %s", cli_ip); /* the server saw the client's pod IP */
  char *log = wait_log(f, "cli", UID_CLI, want);
  if (!log || !strstr(log, want))
    fprintf(stderr, "client log:\n%s\n", log ? log : "(none)");
  assert_non_null(log);
  assert_non_null(strstr(log, want));
  assert_non_null(strstr(log, "route-ok"));
  free(log);

  /* delete: veths gone, addresses freed, down reported */
  assert_true(ipam_file(f, srv_ip));
  assert_int_equal(orch__rt_remove_pod(f->rt, UID_SRV, 0, NULL), 0);
  assert_int_equal(orch__rt_remove_pod(f->rt, UID_CLI, 0, NULL), 0);
  assert_true(rt_fx_wait_gone(f, UID_SRV, 15000));
  assert_true(rt_fx_wait_gone(f, UID_CLI, 15000));
  assert_int_equal(if_nametoindex(VETH_SRV), 0);
  assert_int_equal(if_nametoindex(VETH_CLI), 0);
  assert_false(ipam_file(f, srv_ip));
  assert_false(ipam_file(f, cli_ip));
  snprintf(line, sizeof line, "down default/srv %s " VETH_SRV "\n", srv_ip);
  assert_true(saw(line));
}

static void test_adoption_keeps_address(void **state)
{
  rt_fx *f = *state;
  sync_pod(f, "srv", UID_SRV, "sleep 1000");
  char ip[64], again[64], line[256];
  pod_ip(f, UID_SRV, ip, sizeof ip);
  /* an address left by a pod that is gone (deleted while Lookout was down) */
  char path[1024];
  snprintf(path, sizeof path, "%s/orchestrator/ipam/10.89.0.200", f->data);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs("b3000000-0000-4000-8000-00000000000c\n", fp);
  fclose(fp);
  /* ... and its veth, still there */
  assert_int_equal(system("ip link del lkvb3000000 2>/dev/null; "
                          "ip link add lkvb3000000 type veth peer name lkvb3000000p"), 0);
  assert_true(if_nametoindex("lkvb3000000") > 0);
  forget_events();
  rt_fx_reopen(f);
  snprintf(line, sizeof line, "up default/srv %s " VETH_SRV "\n", ip);
  assert_true(saw(line)); /* reported again by the adopting runtime */
  pod_ip(f, UID_SRV, again, sizeof again);
  assert_string_equal(ip, again);
  assert_true(if_nametoindex(VETH_SRV) > 0);
  assert_false(ipam_file(f, "10.89.0.200"));
  assert_int_equal(if_nametoindex("lkvb3000000"), 0);
  assert_int_equal(if_nametoindex("lkvb3000000p"), 0);
  /* a new pod never gets the adopted pod's address */
  sync_pod(f, "cli", UID_CLI, "sleep 1000");
  pod_ip(f, UID_CLI, again, sizeof again);
  assert_string_not_equal(ip, again);
}

int main(int argc, char **argv)
{
  rt_fx_begin(argc, argv, "test_runtime_net");
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_pod_to_pod, setup, rt_fx_teardown),
    cmocka_unit_test_setup_teardown(test_adoption_keeps_address, setup, rt_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
