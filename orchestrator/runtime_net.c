/* runtime_net.c — the network of a pod with `hostNetwork: false`, as a
 * bridge CNI plugin with host-local IPAM would set it up, but in-process:
 *
 *   host:  bridge lookout0 with the gateway address (.1 of the pod CIDR,
 *          created when missing) ── lkv<8 hex of the uid> (host side of
 *          the pod's veth pair, enslaved to the bridge)
 *   pod:   eth0 (the other side, in the pod's network namespace, the
 *          sandbox's ns-net) with the pod's address and a default route
 *          via the gateway.
 *
 * Pods reach each other across the bridge; nothing is NATed to the outside.
 * Addresses come from a small persistent IPAM: one file per address taken,
 * <data>/orchestrator/ipam/<a.b.c.d>, holding the pod's uid (created with
 * O_EXCL, so an address is never handed out twice). It survives restarts:
 * adoption reads each pod's address back; removal frees it, and adoption
 * frees the addresses and deletes the veths of pods that are gone (only
 * those: another data dir's runtime may share the bridge, e.g. in tests).
 * Each pod network coming up or going away is reported through the
 * runtime's on_net hook (the meter in main/cmd_server.c listens there).
 *
 * Runs on the supervision thread (or in orch__rt_open) without rt->mu,
 * except where a function says otherwise.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_hash.h"
#include "lib/lk_log.h"
#include "orchestrator/runtime_int.h"

#define BRIDGE "lookout0"
#define VETH_PREFIX "lkv"

int orch__net_parse_cidr(const char *s, uint32_t *net, int *prefix, lk_diag *d)
{
  char addr[32];
  const char *slash = s ? strchr(s, '/') : NULL;
  struct in_addr a;
  char *end = NULL;
  long n = slash ? strtol(slash + 1, &end, 10) : -1;
  if (!slash || (size_t)(slash - s) >= sizeof addr || !slash[1] || *end || n < 8 || n > 29)
    return lk_diag_set(d, LK_EINVAL, -1, "pod CIDR \"%s\": want an IPv4 network a.b.c.d/N with "
                       "N from 8 to 29", s ? s : "");
  snprintf(addr, sizeof addr, "%.*s", (int)(slash - s), s);
  if (inet_pton(AF_INET, addr, &a) != 1)
    return lk_diag_set(d, LK_EINVAL, -1, "pod CIDR \"%s\": \"%s\" is not an IPv4 address", s, addr);
  uint32_t mask = ~0u << (32 - n);
  *net = ntohl(a.s_addr) & mask;
  *prefix = (int)n;
  return 0;
}

static void ip_str(uint32_t host_order, char *out, size_t cap)
{
  struct in_addr a = {htonl(host_order)};
  inet_ntop(AF_INET, &a, out, (socklen_t)cap);
}

void orch__net_ifname(const char *uid, char *out, size_t cap)
{
  char hex[9];
  size_t n = 0;
  for (const char *c = uid; *c && n < 8; c++)
    if (strchr("0123456789abcdefABCDEF", *c))
      hex[n++] = (char)(*c | 0x20);
    else if (*c != '-')
      break;
  hex[n] = 0;
  if (n < 8) /* not a UUID: a hash of it */
    snprintf(hex, sizeof hex, "%08x", (unsigned)lk_hash64(uid, strlen(uid), 0));
  snprintf(out, cap, VETH_PREFIX "%s", hex);
}

/*---- IPAM ----*/

static void ipam_dir(const orch__rt *rt, char *out, size_t cap)
{
  snprintf(out, cap, "%s/orchestrator/ipam", rt->data_dir);
}

/* The uid an address file holds ("" when unreadable). */
static void ipam_owner(const char *dir, const char *ip, char *uid, size_t cap)
{
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, ip);
  FILE *f = fopen(path, "r");
  uid[0] = 0;
  if (f && fgets(uid, (int)cap, f))
    uid[strcspn(uid, "\n")] = 0;
  if (f)
    fclose(f);
}

/* Calls each(ctx, ip, uid) for every address taken. */
static void ipam_each(const orch__rt *rt, void (*each)(void *ctx, const char *dir, const char *ip,
                                                       const char *uid), void *ctx)
{
  char dir[4096], uid[128];
  ipam_dir(rt, dir, sizeof dir);
  DIR *dp = opendir(dir);
  struct dirent *de;
  while (dp && (de = readdir(dp))) {
    struct in_addr a;
    if (inet_pton(AF_INET, de->d_name, &a) != 1)
      continue;
    ipam_owner(dir, de->d_name, uid, sizeof uid);
    each(ctx, dir, de->d_name, uid);
  }
  if (dp)
    closedir(dp);
}

typedef struct ipam_query {
  const char *uid;
  char *ip;
  size_t cap;
} ipam_query;

static void match_uid(void *ctx, const char *dir, const char *ip, const char *uid)
{
  (void)dir;
  ipam_query *q = ctx;
  if (!strcmp(uid, q->uid))
    snprintf(q->ip, q->cap, "%s", ip);
}

/* The address the pod already has, else the lowest free one of the CIDR
 * (network+2 .. broadcast−1; network+1 is the gateway). */
static int ipam_get(const orch__rt *rt, const char *uid, char *ip, size_t cap, lk_diag *d)
{
  ip[0] = 0;
  ipam_query q = {uid, ip, cap};
  ipam_each(rt, match_uid, &q);
  if (ip[0])
    return 0;
  char dir[4096], path[4200];
  ipam_dir(rt, dir, sizeof dir);
  if (lk_mkdir_p(dir))
    return lk_diag_set(d, LK_EIO, -1, "pod network: cannot create %s: %s", dir, strerror(errno));
  uint32_t size = 1u << (32 - rt->pod_prefix);
  for (uint32_t h = 2; h < size - 1; h++) {
    ip_str(rt->pod_net + h, ip, cap);
    snprintf(path, sizeof path, "%s/%s", dir, ip);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST)
      continue;
    bool ok = fd >= 0 && dprintf(fd, "%s\n", uid) > 0;
    if (fd >= 0)
      close(fd);
    if (!ok) {
      unlink(path);
      return lk_diag_set(d, LK_EIO, -1, "pod network: cannot write %s: %s", path, strerror(errno));
    }
    return 0;
  }
  ip[0] = 0;
  return lk_diag_set(d, LK_ENOSPC, -1, "pod network: no free address left in the pod CIDR");
}

static void release_uid(void *ctx, const char *dir, const char *ip, const char *uid)
{
  char path[4200];
  if (strcmp(uid, ctx))
    return;
  snprintf(path, sizeof path, "%s/%s", dir, ip);
  unlink(path);
}

/*---- the hook ----*/

static void report(const orch__rt *rt, const orch__pod *p, const char *ip, bool up)
{
  if (!rt->on_net)
    return;
  orch_pod_net_event ev = {.up = up, .namespace_ = p->ns, .name = p->name, .uid = p->uid,
                           .ip = ip, .host_ifname = p->veth};
  rt->on_net(rt->on_net_ctx, &ev);
}

/*---- up and down ----*/

/* lookout0 with the gateway address, up; its index in *index. */
static int bridge_up(const orch__rt *rt, orch__nl *nl, int *index, lk_diag *d)
{
  int rc = orch__nl_bridge_add(nl, BRIDGE, d);
  if (rc && rc != LK_EEXIST)
    return rc;
  if (orch__nl_link_index(nl, BRIDGE, index))
    return lk_diag_set(d, LK_EIO, -1, "pod network: bridge " BRIDGE " not found after creating it");
  struct in_addr gw = {htonl(rt->pod_net + 1)};
  if ((rc = orch__nl_addr_add(nl, *index, gw, rt->pod_prefix, d)))
    return rc;
  return orch__nl_link_set(nl, *index, 0, d);
}

/* Inside the pod: eth0 with ip, up, default route via the gateway. */
static int pod_side(const orch__rt *rt, const char *netns, const char *ip, lk_diag *d)
{
  orch__nl nl;
  int rc = orch__nl_open(netns, &nl, d);
  if (rc)
    return rc;
  int index;
  struct in_addr a, gw = {htonl(rt->pod_net + 1)};
  inet_pton(AF_INET, ip, &a);
  if (orch__nl_link_index(&nl, "eth0", &index))
    rc = lk_diag_set(d, LK_EIO, -1, "pod network: eth0 missing in %s", netns);
  if (!rc)
    rc = orch__nl_addr_add(&nl, index, a, rt->pod_prefix, d);
  if (!rc)
    rc = orch__nl_link_set(&nl, index, 0, d);
  if (!rc)
    rc = orch__nl_route_default(&nl, index, gw, d);
  orch__nl_close(&nl);
  return rc;
}

/* The veth pair (eth0 created right in the pod's namespace) on the bridge. */
static int veth_up(const orch__pod *p, orch__nl *nl, int bridge, const char *netns, lk_diag *d)
{
  int fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return lk_diag_set(d, LK_EIO, -1, "pod network: cannot open %s: %s", netns, strerror(errno));
  int rc = orch__nl_veth_add(nl, p->veth, "eth0", fd, d);
  close(fd);
  int index;
  if (rc && rc != LK_EEXIST)
    return rc;
  if (orch__nl_link_index(nl, p->veth, &index))
    return lk_diag_set(d, LK_EIO, -1, "pod network: %s not found after creating it", p->veth);
  return orch__nl_link_set(nl, index, bridge, d);
}

int orch__net_up(orch__rt *rt, const orch__pod *p, char *ip, size_t cap, lk_diag *d)
{
  orch__nl nl;
  int rc = orch__nl_open(NULL, &nl, d), bridge = 0, index;
  if (rc)
    return rc;
  bool exists = !orch__nl_link_index(&nl, p->veth, &index);
  rc = ipam_get(rt, p->uid, ip, cap, d);
  if (!rc && exists) { /* a restart in the same sandbox: already set up */
    orch__nl_close(&nl);
    return 0;
  }
  char netns[4096];
  orch__sandbox_path(p, "net", netns, sizeof netns);
  if (!rc)
    rc = bridge_up(rt, &nl, &bridge, d);
  if (!rc)
    rc = veth_up(p, &nl, bridge, netns, d);
  if (!rc)
    rc = pod_side(rt, netns, ip, d);
  if (rc)
    orch__nl_link_del(&nl, p->veth);
  orch__nl_close(&nl);
  if (rc)
    return rc;
  lk_info("orchestrator: pod %s/%s network up: %s on %s via %s", p->ns, p->name, ip, BRIDGE,
          p->veth);
  report(rt, p, ip, true);
  return 0;
}

void orch__net_down(orch__rt *rt, const orch__pod *p, const char *ip)
{
  if (p->host_network)
    return;
  orch__nl nl;
  lk_diag d = {0};
  if (!orch__nl_open(NULL, &nl, &d)) {
    orch__nl_link_del(&nl, p->veth);
    orch__nl_close(&nl);
  }
  ipam_each(rt, release_uid, p->uid);
  if (ip[0])
    report(rt, p, ip, false);
}

/*---- adoption ----*/

static const orch__pod *pod_of_uid(const orch__rt *rt, const char *uid)
{
  for (size_t i = 0; i < rt->npods; i++)
    if (!rt->pods[i]->host_network && !strcmp(rt->pods[i]->uid, uid))
      return rt->pods[i];
  return NULL;
}

/* An address of a pod that is gone: its veth (named from the uid; the
 * address is taken before the veth exists and freed after it is deleted, so
 * only links of this data dir's pods are ever touched) and the address. */
static void free_unclaimed(void *ctx, const char *dir, const char *ip, const char *uid)
{
  if (pod_of_uid(ctx, uid))
    return;
  char path[4200], veth[IFNAMSIZ];
  orch__net_ifname(uid, veth, sizeof veth);
  orch__nl nl;
  lk_diag d = {0};
  if (!orch__nl_open(NULL, &nl, &d) && !orch__nl_link_del(&nl, veth))
    lk_info("orchestrator: link %s belongs to no pod; deleted", veth);
  orch__nl_close(&nl);
  lk_info("orchestrator: address %s belongs to no pod; freed", ip);
  snprintf(path, sizeof path, "%s/%s", dir, ip);
  unlink(path);
}

void orch__net_adopt(orch__rt *rt)
{
  ipam_each(rt, free_unclaimed, rt);
  for (size_t i = 0; i < rt->npods; i++) {
    orch__pod *p = rt->pods[i];
    if (p->host_network)
      continue;
    ipam_query q = {p->uid, p->ip, sizeof p->ip};
    ipam_each(rt, match_uid, &q);
    orch__nl nl;
    lk_diag d = {0};
    int index;
    bool up = !orch__nl_open(NULL, &nl, &d) && !orch__nl_link_index(&nl, p->veth, &index);
    orch__nl_close(&nl);
    if (p->ip[0] && up)
      report(rt, p, p->ip, true);
  }
}
