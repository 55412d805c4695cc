/* runtime_nl.c — the few rtnetlink requests pod networking needs (bridge,
 * veth pair, address, link state, default route, link listing), spoken
 * directly on a NETLINK_ROUTE socket: no `ip` child process per step, and
 * errors come back as errno values the caller can tell apart (EEXIST,
 * ENODEV). A socket opened for a network namespace (its nsfs path) acts in
 * that namespace for its whole life; the calling thread switches to the
 * namespace only for the socket() call.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h> /* before the linux/ headers, which then leave its names alone */
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lk_log.h"
#include "orchestrator/runtime_int.h"

#define MSG_CAP 1024

typedef union nlmsg {
  struct nlmsghdr h;
  char buf[MSG_CAP];
} nlmsg;

static void *msg_init(nlmsg *m, uint16_t type, uint16_t flags, size_t body)
{
  memset(m, 0, sizeof *m);
  m->h.nlmsg_type = type;
  m->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  m->h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
  return NLMSG_DATA(&m->h);
}

/* Appends an attribute (data may be NULL for a nest); the messages built
 * here are far below MSG_CAP. */
static struct rtattr *attr(nlmsg *m, unsigned short type, const void *data, size_t len)
{
  struct rtattr *a = (struct rtattr *)(void *)(m->buf + NLMSG_ALIGN(m->h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len)
    memcpy(RTA_DATA(a), data, len);
  m->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->h.nlmsg_len) + RTA_ALIGN(a->rta_len));
  return a;
}

static void attr_str(nlmsg *m, unsigned short type, const char *s)
{
  attr(m, type, s, strlen(s) + 1);
}

static void nest_end(nlmsg *m, struct rtattr *a)
{
  a->rta_len = (unsigned short)(m->buf + m->h.nlmsg_len - (char *)a);
}

/* Room for a struct placed right after the attributes so far (a veth
 * peer's ifinfomsg inside VETH_INFO_PEER). */
static void *put(nlmsg *m, size_t len)
{
  void *p = m->buf + NLMSG_ALIGN(m->h.nlmsg_len);
  m->h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->h.nlmsg_len) + NLMSG_ALIGN(len));
  return p;
}

int orch__nl_open(const char *netns_path, orch__nl *nl, lk_diag *d)
{
  nl->fd = -1;
  nl->seq = 0;
  int self = -1, target = -1;
  if (netns_path) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    target = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
      int e = errno;
      if (self >= 0)
        close(self);
      if (target >= 0)
        close(target);
      return lk_diag_set(d, LK_EIO, -1, "pod network: cannot enter %s: %s", netns_path, strerror(e));
    }
  }
  nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int e = errno;
  if (netns_path) {
    if (setns(self, CLONE_NEWNET))
      lk_error("pod network: cannot return to the host's network namespace: %s", strerror(errno));
    close(self);
    close(target);
  }
  if (nl->fd < 0)
    return lk_diag_set(d, LK_EIO, -1, "pod network: netlink socket: %s", strerror(e));
  struct timeval tv = {.tv_sec = 5};
  setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return 0;
}

void orch__nl_close(orch__nl *nl)
{
  if (nl->fd >= 0)
    close(nl->fd);
  nl->fd = -1;
}

/* Sends m and reads replies until its ack, handing
 * every other message to each(ctx) when given. Returns 0 or the kernel's
 * errno (positive), ETIMEDOUT, EIO. */
static int talk(orch__nl *nl, nlmsg *m, void (*each)(void *ctx, const struct nlmsghdr *h),
                void *ctx)
{
  m->h.nlmsg_flags |= NLM_F_ACK;
  m->h.nlmsg_seq = ++nl->seq;
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  if (sendto(nl->fd, m->buf, m->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
    return errno;
  union {
    struct nlmsghdr h;
    char buf[32768];
  } in;
  for (;;) {
    ssize_t n = recv(nl->fd, in.buf, sizeof in.buf, 0);
    if (n < 0)
      return errno == EAGAIN ? ETIMEDOUT : errno;
    for (struct nlmsghdr *h = &in.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != nl->seq)
        continue;
      if (h->nlmsg_type == NLMSG_DONE)
        return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return -e->error;
      }
      if (each)
        each(ctx, h);
    }
  }
}

static int link_new(orch__nl *nl, nlmsg *m, const char *what, const char *name, lk_diag *d)
{
  int e = talk(nl, m, NULL, NULL);
  if (e && e != EEXIST)
    return lk_diag_set(d, LK_EIO, -1, "pod network: cannot create %s %s: %s", what, name,
                       strerror(e));
  return e == EEXIST ? LK_EEXIST : 0;
}

int orch__nl_bridge_add(orch__nl *nl, const char *name, lk_diag *d)
{
  nlmsg m;
  msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
  attr_str(&m, IFLA_IFNAME, name);
  struct rtattr *info = attr(&m, IFLA_LINKINFO, NULL, 0);
  attr_str(&m, IFLA_INFO_KIND, "bridge");
  nest_end(&m, info);
  return link_new(nl, &m, "bridge", name, d);
}

int orch__nl_veth_add(orch__nl *nl, const char *name, const char *peer, int peer_netns_fd,
                      lk_diag *d)
{
  nlmsg m;
  msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
  attr_str(&m, IFLA_IFNAME, name);
  struct rtattr *info = attr(&m, IFLA_LINKINFO, NULL, 0);
  attr_str(&m, IFLA_INFO_KIND, "veth");
  struct rtattr *data = attr(&m, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *p = attr(&m, VETH_INFO_PEER, NULL, 0);
  put(&m, sizeof(struct ifinfomsg));
  attr_str(&m, IFLA_IFNAME, peer);
  uint32_t fd = (uint32_t)peer_netns_fd;
  attr(&m, IFLA_NET_NS_FD, &fd, sizeof fd);
  nest_end(&m, p);
  nest_end(&m, data);
  nest_end(&m, info);
  return link_new(nl, &m, "veth pair", name, d);
}

static void take_index(void *ctx, const struct nlmsghdr *h)
{
  if (h->nlmsg_type == RTM_NEWLINK)
    *(int *)ctx = ((const struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
}

int orch__nl_link_index(orch__nl *nl, const char *name, int *index)
{
  nlmsg m;
  msg_init(&m, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
  attr_str(&m, IFLA_IFNAME, name);
  *index = 0;
  int e = talk(nl, &m, take_index, index);
  return e ? (e == ENODEV ? LK_ENOENT : LK_EIO) : *index > 0 ? 0 : LK_ENOENT;
}

int orch__nl_link_set(orch__nl *nl, int index, int master, lk_diag *d)
{
  nlmsg m;
  struct ifinfomsg *ifi = msg_init(&m, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (master) {
    uint32_t mi = (uint32_t)master;
    attr(&m, IFLA_MASTER, &mi, sizeof mi);
  }
  int e = talk(nl, &m, NULL, NULL);
  return e ? lk_diag_set(d, LK_EIO, -1, "pod network: cannot bring link %d up: %s", index,
                         strerror(e))
           : 0;
}

int orch__nl_link_del(orch__nl *nl, const char *name)
{
  int index;
  int rc = orch__nl_link_index(nl, name, &index);
  if (rc)
    return rc;
  nlmsg m;
  struct ifinfomsg *ifi = msg_init(&m, RTM_DELLINK, 0, sizeof *ifi);
  ifi->ifi_index = index;
  int e = talk(nl, &m, NULL, NULL);
  return e == ENODEV ? LK_ENOENT : e ? LK_EIO : 0;
}

int orch__nl_addr_add(orch__nl *nl, int index, struct in_addr ip, int prefix, lk_diag *d)
{
  nlmsg m;
  struct ifaddrmsg *ifa = msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_index = (unsigned)index;
  attr(&m, IFA_LOCAL, &ip, sizeof ip);
  attr(&m, IFA_ADDRESS, &ip, sizeof ip);
  int e = talk(nl, &m, NULL, NULL);
  return e && e != EEXIST ? lk_diag_set(d, LK_EIO, -1, "pod network: cannot add an address: %s",
                                        strerror(e))
                          : 0;
}

int orch__nl_route_default(orch__nl *nl, int index, struct in_addr gw, lk_diag *d)
{
  nlmsg m;
  struct rtmsg *r = msg_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *r);
  r->rtm_family = AF_INET;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_protocol = RTPROT_BOOT;
  r->rtm_scope = RT_SCOPE_UNIVERSE;
  r->rtm_type = RTN_UNICAST;
  uint32_t oif = (uint32_t)index;
  attr(&m, RTA_GATEWAY, &gw, sizeof gw);
  attr(&m, RTA_OIF, &oif, sizeof oif);
  int e = talk(nl, &m, NULL, NULL);
  return e && e != EEXIST ? lk_diag_set(d, LK_EIO, -1, "pod network: cannot add the default "
                                        "route: %s", strerror(e))
                          : 0;
}
