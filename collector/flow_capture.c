/* flow_capture.c — packets into the meter with libpcap: live capture on an
 * interface (pcap_create with snaplen, immediate mode, buffer size and the
 * optional BPF filter; one thread per interface, pcap_stats drops counted)
 * and offline reading of a capture file, both through on_packet, the one
 * path into flow__meter_packet.
 *
 * A capture thread polls its pcap descriptor and a wake pipe; it takes the
 * meter lock for each pcap_dispatch batch. Stopping writes the pipe, joins
 * the thread and closes the handle. */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/flow_int.h"
#include "lib/lk_log.h"
#include "lib/lk_time.h"

#define LIVE_BATCH 512
#define FILE_BATCH 4096
#define POLL_MS 1000
#define STATS_EVERY_NS 1000000000LL

static void on_packet(u_char *ctx, const struct pcap_pkthdr *h, const u_char *bytes)
{
  flow__if *i = (flow__if *)ctx;
  int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
  flow__meter_packet(&i->owner->m, i->linktype, i->pod_side, ts, bytes, h->caplen);
}

/* Add the drops pcap counted since the last call (capture thread only). */
static void take_stats(flow__if *i)
{
  struct pcap_stat ps;
  if (pcap_stats(i->p, &ps))
    return;
  collector_flows *f = i->owner;
  pthread_mutex_lock(&f->mu);
  f->m.st.pcap_drops += ps.ps_drop - i->drops;
  f->m.st.pcap_if_drops += ps.ps_ifdrop - i->if_drops;
  pthread_mutex_unlock(&f->mu);
  i->drops = ps.ps_drop;
  i->if_drops = ps.ps_ifdrop;
}

static void *capture_loop(void *arg)
{
  flow__if *i = arg;
  collector_flows *f = i->owner;
  struct pollfd pf[2] = {{.fd = pcap_get_selectable_fd(i->p), .events = POLLIN}, {.fd = i->wake[0], .events = POLLIN}};
  int64_t stats_at = lk_mono_ns() + STATS_EVERY_NS;
  for (;;) {
    if (poll(pf, 2, POLL_MS) < 0 && errno != EINTR)
      break;
    if (pf[1].revents)
      break;
    pthread_mutex_lock(&f->mu);
    int got = pcap_dispatch(i->p, LIVE_BATCH, on_packet, (u_char *)i);
    pthread_mutex_unlock(&f->mu);
    if (got == PCAP_ERROR) {
      lk_warn("flows: capture on %s stopped: %s", i->name, pcap_geterr(i->p));
      break;
    }
    if (lk_mono_ns() >= stats_at) {
      take_stats(i);
      stats_at = lk_mono_ns() + STATS_EVERY_NS;
    }
  }
  take_stats(i);
  return NULL;
}

static void if_free(flow__if *i)
{
  if (i->p)
    pcap_close(i->p);
  for (int k = 0; k < 2; k++)
    if (i->wake[k] >= 0)
      close(i->wake[k]);
  free(i->name);
  free(i);
}

static void if_stop(flow__if *i)
{
  char b = 1;
  if (write(i->wake[1], &b, 1) < 0)
    lk_warn("flows: cannot wake the capture thread of %s: %s", i->name, strerror(errno));
  pthread_join(i->thread, NULL);
  if_free(i);
}

/* The filter of the options, when one is set. */
static int set_filter(collector_flows *f, pcap_t *p, const char *what, lk_diag *d)
{
  if (!f->bpf[0])
    return 0;
  struct bpf_program prog;
  if (pcap_compile(p, &prog, f->bpf, 1, PCAP_NETMASK_UNKNOWN))
    return lk_diag_set(d, LK_EINVAL, -1, "flows: bpf_filter \"%s\": %s", f->bpf, pcap_geterr(p));
  int rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc)
    return lk_diag_set(d, LK_EIO, -1, "flows: %s: cannot set the filter: %s", what, pcap_geterr(p));
  return 0;
}

static int activate_error(pcap_t *p, const char *ifname, int rc, lk_diag *d)
{
  if (rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED)
    return lk_diag_set(d, LK_EPERM, -1,
                       "flows: capture on %s not permitted (needs root or CAP_NET_RAW and CAP_NET_ADMIN); "
                       "flows are not metered there",
                       ifname);
  if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
    return lk_diag_set(d, LK_ENOENT, -1, "flows: no interface %s", ifname);
  return lk_diag_set(d, LK_EIO, -1, "flows: capture on %s: %s", ifname, pcap_geterr(p));
}

/* pod_side: each pod-to-pod packet must count once. Linux cooked capture
 * says which packets the host sent into the pod (the meter skips those from
 * another pod: counted at the sender's veth). A veth offers no cooked link
 * type, so there only what the pod sends is captured (PCAP_D_IN on the host
 * side): every packet at its sender's veth. Traffic into pods from beyond the
 * node's pods is then metered on the interfaces of collector.pcap_interfaces. */
static int pod_side_capture(pcap_t *p)
{
  if (!pcap_set_datalink(p, DLT_LINUX_SLL2) || !pcap_set_datalink(p, DLT_LINUX_SLL))
    return 0;
  return pcap_setdirection(p, PCAP_D_IN);
}

static int open_live(collector_flows *f, flow__if *i, lk_diag *d)
{
  char err[PCAP_ERRBUF_SIZE] = "";
  i->p = pcap_create(i->name, err);
  if (!i->p)
    return lk_diag_set(d, LK_EIO, -1, "flows: capture on %s: %s", i->name, err);
  pcap_set_snaplen(i->p, f->snaplen);
  pcap_set_immediate_mode(i->p, 1);
  pcap_set_buffer_size(i->p, f->buffer_bytes);
  int rc = pcap_activate(i->p);
  if (rc < 0)
    return activate_error(i->p, i->name, rc, d);
  if (i->pod_side && pod_side_capture(i->p))
    return lk_diag_set(d, LK_EIO, -1, "flows: %s: cannot capture one direction: %s", i->name,
                       pcap_geterr(i->p));
  i->linktype = pcap_datalink(i->p);
  if (!flow__linktype_supported(i->linktype))
    return lk_diag_set(d, LK_ENOTSUP, -1, "flows: %s: link type %s is not decoded", i->name,
                       pcap_datalink_val_to_name(i->linktype));
  if ((rc = set_filter(f, i->p, i->name, d)))
    return rc;
  if (pcap_setnonblock(i->p, 1, err))
    return lk_diag_set(d, LK_EIO, -1, "flows: %s: %s", i->name, err);
  if (pipe2(i->wake, O_CLOEXEC | O_NONBLOCK))
    return lk_diag_set(d, -errno, -1, "flows: %s: pipe: %s", i->name, strerror(errno));
  return 0;
}

static flow__if **find_if(collector_flows *f, const char *ifname)
{
  flow__if **link = &f->ifs;
  while (*link && strcmp((*link)->name, ifname))
    link = &(*link)->next;
  return link;
}

int collector_flows_add_interface(collector_flows *f, const char *ifname, bool pod_side, lk_diag *d)
{
  if (!ifname || !ifname[0])
    return lk_diag_set(d, LK_EINVAL, -1, "flows: an interface name is required");
  pthread_mutex_lock(&f->if_mu);
  int rc = *find_if(f, ifname) ? lk_diag_set(d, LK_EEXIST, -1, "flows: already capturing on %s", ifname) : 0;
  flow__if *i = NULL;
  if (!rc) {
    i = lk_xcalloc(1, sizeof *i);
    *i = (flow__if){.owner = f, .name = lk_xstrdup(ifname), .pod_side = pod_side, .wake = {-1, -1}};
    rc = open_live(f, i, d);
  }
  if (!rc) {
    int terr = pthread_create(&i->thread, NULL, capture_loop, i);
    rc = terr ? lk_diag_set(d, -terr, -1, "flows: %s: cannot start a thread", ifname) : 0;
  }
  if (!rc) {
    i->next = f->ifs;
    f->ifs = i;
  } else if (i) {
    if_free(i);
  }
  pthread_mutex_unlock(&f->if_mu);
  return rc;
}

void collector_flows_remove_interface(collector_flows *f, const char *ifname)
{
  pthread_mutex_lock(&f->if_mu);
  flow__if **link = find_if(f, ifname), *i = *link;
  if (i)
    *link = i->next;
  pthread_mutex_unlock(&f->if_mu);
  if (i)
    if_stop(i);
}

void flow__capture_stop_all(collector_flows *f)
{
  pthread_mutex_lock(&f->if_mu);
  flow__if *i = f->ifs;
  f->ifs = NULL;
  pthread_mutex_unlock(&f->if_mu);
  while (i) {
    flow__if *next = i->next;
    if_stop(i);
    i = next;
  }
}

int collector_flows_read_file(collector_flows *f, const char *path, lk_diag *d)
{
  char err[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, err);
  if (!p)
    return lk_diag_set(d, access(path, R_OK) ? -errno : LK_EPARSE, -1, "flows: %s", err);
  flow__if src = {.owner = f, .p = p, .linktype = pcap_datalink(p)};
  int rc = flow__linktype_supported(src.linktype) ? set_filter(f, p, path, d)
                                                   : lk_diag_set(d, LK_ENOTSUP, -1, "flows: %s: link type %s is not decoded",
                                                                 path, pcap_datalink_val_to_name(src.linktype));
  int got = 1;
  while (!rc && got > 0) {
    pthread_mutex_lock(&f->mu);
    f->m.keep_ended = true;
    got = pcap_dispatch(p, FILE_BATCH, on_packet, (u_char *)&src);
    pthread_mutex_unlock(&f->mu);
  }
  if (!rc && got == PCAP_ERROR)
    rc = lk_diag_set(d, LK_ECORRUPT, -1, "flows: %s: %s (the packets before it were metered)", path, pcap_geterr(p));
  pcap_close(p);
  return rc;
}
