/* flow_pairs.c — attribution and the series: addresses map to pods
 * (collector_flows_set_pods), a flow maps to a pair (src pod, dst pod,
 * dst_port, proto) whose counters only grow, and every pair becomes the
 * lookout_flow_* / lookout_tcp_* series at each flush.
 *
 * Cardinality: unknown addresses are pod "world" (namespace ""); dst_port is
 * the destination port when it is below 32768 (not Linux's ephemeral range)
 * or a port a TCP SYN went to, else "" (a reply to a client's ephemeral
 * port); empty values (namespace "", dst_port "") are left out of the
 * series, as Prometheus treats absent and empty alike; at most max_pairs pairs, past which new ones fold into
 * world -> world with dst_port "" (pairs_dropped counts the flows). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/flow_int.h"

#define EPHEMERAL_MIN 32768

static const double rtt_bounds[FLOW__RTT_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
static const char *const rtt_le[FLOW__RTT_BUCKETS + 1] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                                          "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                                          "1",      "2.5",     "5",      "10",    "+Inf"};
static const char *const proto_label[] = {"tcp", "udp", "icmp", "other"};

static uint8_t proto_class(uint8_t ip_proto)
{
  return ip_proto == 6 ? FP_TCP : ip_proto == 17 ? FP_UDP : ip_proto == 1 || ip_proto == 58 ? FP_ICMP : FP_OTHER;
}

const char *flow__proto_name(uint8_t ip_proto) { return proto_label[proto_class(ip_proto)]; }

void flow__addr_str(uint8_t family, const uint8_t *addr, char *out, size_t cap)
{
  if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)cap))
    snprintf(out, cap, "?");
}

/*---- pods ----*/

static int pod_cmp(const void *a, const void *b)
{
  const flow__pod *x = a, *y = b;
  if (x->family != y->family)
    return x->family - y->family;
  return memcmp(x->addr, y->addr, 16);
}

static void pods_free(flow__pod *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(p[i].ns);
    free(p[i].pod);
  }
  free(p);
}

void flow__pods_set(flow__meter *m, const collector_flow_pod *p, size_t n)
{
  flow__pod *v = lk_xcalloc(n ? n : 1, sizeof *v);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    flow__pod *d = &v[k];
    if (!p[i].addr || !p[i].pod)
      continue;
    if (inet_pton(AF_INET, p[i].addr, d->addr) == 1)
      d->family = 4;
    else if (inet_pton(AF_INET6, p[i].addr, d->addr) == 1)
      d->family = 6;
    else
      continue;
    d->ns = lk_xstrdup(p[i].namespace_ ? p[i].namespace_ : "");
    d->pod = lk_xstrdup(p[i].pod);
    k++;
  }
  qsort(v, k, sizeof *v, pod_cmp);
  pods_free(m->pods, m->npods);
  m->pods = v;
  m->npods = k;
  m->pods_gen++;
}

const flow__pod *flow__pod_find(const flow__meter *m, uint8_t family, const uint8_t *addr)
{
  if (!m->npods)
    return NULL;
  flow__pod key = {.family = family};
  memcpy(key.addr, addr, 16);
  return bsearch(&key, m->pods, m->npods, sizeof *m->pods, pod_cmp);
}

/*---- pairs ----*/

static uint64_t str_hash(uint64_t h, const char *s) { return lk_hash_mix(h, lk_hash64(s, strlen(s), 0)); }

static uint64_t pair_hash(const char *sn, const char *sp, const char *dn, const char *dp, const char *port,
                          uint8_t proto)
{
  return str_hash(str_hash(str_hash(str_hash(str_hash(proto, sn), sp), dn), dp), port);
}

static const char *intern(flow__meter *m, const char *s) { return lk_intern_str(m->strings, s, strlen(s)); }

/* The pair of these labels (interned strings compare by pointer), created when new. */
static uint32_t pair_get(flow__meter *m, const char *sn, const char *sp, const char *dn, const char *dp,
                         const char *port, uint8_t proto, bool may_create)
{
  sn = intern(m, sn), sp = intern(m, sp), dn = intern(m, dn), dp = intern(m, dp), port = intern(m, port);
  uint32_t *head = &m->pair_heads[pair_hash(sn, sp, dn, dp, port, proto) & m->pair_hmask];
  for (uint32_t i = *head; i != FLOW__NONE; i = m->pairs[i].hnext) {
    const flow__pair *p = &m->pairs[i];
    if (p->src_ns == sn && p->src_pod == sp && p->dst_ns == dn && p->dst_pod == dp && p->dst_port == port &&
        p->proto == proto)
      return i;
  }
  if (!may_create)
    return FLOW__NONE;
  m->pairs = lk_xgrow(m->pairs, &m->pairs_cap, m->npairs + 1, sizeof *m->pairs);
  uint32_t i = (uint32_t)m->npairs++;
  flow__pair *p = &m->pairs[i];
  memset(p, 0, sizeof *p);
  *p = (flow__pair){.src_ns = sn, .src_pod = sp, .dst_ns = dn, .dst_pod = dp, .dst_port = port, .proto = proto,
                    .hnext = *head};
  *head = i;
  return i;
}

static void port_label(const flow__meter *m, const flow__key *k, char *out, size_t cap)
{
  uint8_t pc = proto_class(k->proto);
  bool listening = m->listening[k->dport >> 3] & (1u << (k->dport & 7));
  if ((pc == FP_TCP || pc == FP_UDP) && (k->dport < EPHEMERAL_MIN || listening))
    snprintf(out, cap, "%u", k->dport);
  else
    out[0] = 0;
}

uint32_t flow__pair_resolve(flow__meter *m, const flow__key *k)
{
  const flow__pod *s = flow__pod_find(m, k->family, k->src), *d = flow__pod_find(m, k->family, k->dst);
  char port[8];
  port_label(m, k, port, sizeof port);
  uint8_t pc = proto_class(k->proto);
  const char *sn = s ? s->ns : "", *sp = s ? s->pod : "world", *dn = d ? d->ns : "", *dp = d ? d->pod : "world";
  uint32_t i = pair_get(m, sn, sp, dn, dp, port, pc, m->npairs < m->max_pairs);
  if (i != FLOW__NONE)
    return i;
  m->st.pairs_dropped++;
  return pair_get(m, "", "world", "", "world", "", pc, true); /* at most 4 past the bound */
}

void flow__pairs_free(flow__meter *m)
{
  free(m->pairs);
  free(m->pair_heads);
  lk_intern_free(m->strings);
  pods_free(m->pods, m->npods);
}

void flow__rtt_observe(flow__pair *p, double seconds)
{
  for (int b = 0; b < FLOW__RTT_BUCKETS; b++)
    if (seconds <= rtt_bounds[b]) {
      p->rtt_le[b]++;
      break;
    }
  p->rtt_count++;
  p->rtt_sum += seconds;
}

/*---- series ----*/

static void emit_tcp(collector__batch *b, const flow__pair *p, const lk_label *base, size_t nb)
{
  collector__emit(b, "lookout_tcp_connections_total", base, nb, NULL, 0, (double)p->connections);
  collector__emit(b, "lookout_tcp_retransmits_total", base, nb, NULL, 0, (double)p->retransmits);
  collector__emit(b, "lookout_tcp_resets_total", base, nb, NULL, 0, (double)p->resets);
  uint64_t cum = 0;
  for (int i = 0; i <= FLOW__RTT_BUCKETS; i++) {
    cum = i < FLOW__RTT_BUCKETS ? cum + p->rtt_le[i] : p->rtt_count;
    lk_label le = {"le", rtt_le[i]};
    collector__emit(b, "lookout_tcp_rtt_seconds_bucket", base, nb, &le, 1, (double)cum);
  }
  collector__emit(b, "lookout_tcp_rtt_seconds_sum", base, nb, NULL, 0, p->rtt_sum);
  collector__emit(b, "lookout_tcp_rtt_seconds_count", base, nb, NULL, 0, (double)p->rtt_count);
}

static void emit_self(const flow__meter *m, collector__batch *b, const lk_label *node)
{
  const collector_flows_stats *s = &m->st;
  const struct {
    const char *name;
    uint64_t v;
  } c[] = {
    {"lookout_flow_meter_packets_total", s->packets},
    {"lookout_flow_meter_bytes_total", s->bytes},
    {"lookout_flow_decode_errors_total", s->decode_errors},
    {"lookout_flow_truncated_packets_total", s->truncated},
    {"lookout_flow_non_ip_packets_total", s->non_ip},
    {"lookout_flow_fragments_total", s->fragments},
    {"lookout_flow_fragments_unmatched_total", s->fragments_unmatched},
    {"lookout_flow_flows_created_total", s->flows_created},
    {"lookout_flow_expired_total", s->expired},
    {"lookout_flow_evictions_total", s->evicted},
    {"lookout_flow_pairs_dropped_total", s->pairs_dropped},
    {"lookout_flow_pod_duplicates_total", s->pod_duplicates},
    {"lookout_flow_pcap_drops_total", s->pcap_drops},
    {"lookout_flow_pcap_if_drops_total", s->pcap_if_drops},
    {"lookout_flow_active_flows", s->flows_active},
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++)
    collector__emit(b, c[i].name, node, 1, NULL, 0, (double)c[i].v);
}

/* Labels with an empty value are left out (as Prometheus: absent and ""
 * are the same to a selector; storage refuses empty values). */
static size_t non_empty(lk_label *l, size_t n)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (l[i].value[0])
      l[k++] = l[i];
  return k;
}

void flow__emit(flow__meter *m, collector__batch *b, const char *node)
{
  for (size_t i = 0; i < m->npairs; i++) {
    const flow__pair *p = &m->pairs[i];
    lk_label l[7] = {{"node", node},          {"src_namespace", p->src_ns}, {"src_pod", p->src_pod},
                     {"dst_namespace", p->dst_ns}, {"dst_pod", p->dst_pod}, {"dst_port", p->dst_port},
                     {"proto", proto_label[p->proto]}};
    size_t n = non_empty(l, 7); /* proto is never empty: it stays last */
    collector__emit(b, "lookout_flow_bytes_total", l, n, NULL, 0, (double)p->bytes);
    collector__emit(b, "lookout_flow_packets_total", l, n, NULL, 0, (double)p->packets);
    if (p->proto == FP_TCP)
      emit_tcp(b, p, l, n - 1);
  }
  lk_label n = {"node", node};
  emit_self(m, b, &n);
}
