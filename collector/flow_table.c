/* flow_table.c — the flow table: one entry per direction of a conversation
 * (5-tuple + direction), bounded by max_flows with idle and active timeouts
 * and eviction of the least recently active flow when full; TCP state per
 * flow (handshake RTT, retransmits, resets, zero windows); IPv4/IPv6
 * fragments attributed through their first fragment. Each metered packet
 * also goes to its flow's pair (flow_pairs.c), whose counters become the
 * series.
 *
 * The pool is one calloc of max_flows entries: pages never touched cost no
 * memory, so a table sized for 1 M flows holding 1 k costs ~1 k entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/flow_int.h"

#define SWEEP_US 1000000  /* how often idle flows are looked for, in packet time */
#define FRAG_TTL_US 30000000 /* a first fragment's ports serve later ones this long */

static uint64_t key_hash(const flow__key *k)
{
  uint64_t w[5];
  memcpy(w, k, sizeof w);
  uint64_t h = 0;
  for (int i = 0; i < 5; i++)
    h = lk_hash_mix(h, w[i]);
  return h;
}

static size_t pow2_at_least(size_t n)
{
  size_t p = 16;
  while (p < n)
    p <<= 1;
  return p;
}

void flow__meter_init(flow__meter *m, const collector_flow_opts *o)
{
  memset(m, 0, sizeof *m);
  m->max_flows = o->max_flows ? o->max_flows : 65536;
  m->max_pairs = o->max_pairs ? o->max_pairs : 10000;
  m->idle_us = (o->idle_timeout_ms ? o->idle_timeout_ms : 60000) * 1000;
  m->active_us = (o->active_timeout_ms ? o->active_timeout_ms : 300000) * 1000;
  m->flows = lk_xcalloc(m->max_flows, sizeof *m->flows);
  m->heads = lk_xmalloc(16 * sizeof *m->heads);
  memset(m->heads, 0xff, 16 * sizeof *m->heads);
  m->hmask = 15;
  m->free_list = m->lru_head = m->lru_tail = FLOW__NONE;
  size_t np = pow2_at_least(2 * m->max_pairs);
  m->pair_heads = lk_xmalloc(np * sizeof *m->pair_heads);
  memset(m->pair_heads, 0xff, np * sizeof *m->pair_heads);
  m->pair_hmask = (uint32_t)(np - 1);
  m->strings = lk_intern_new();
  m->listening = lk_xcalloc(65536 / 8, 1);
  m->frags = lk_xcalloc(FLOW__FRAGS, sizeof *m->frags);
}

void flow__meter_fini(flow__meter *m)
{
  free(m->flows);
  free(m->heads);
  free(m->ended);
  free(m->listening);
  free(m->frags);
  flow__pairs_free(m);
  memset(m, 0, sizeof *m);
}

/*---- activity list (least recent first) ----*/

static void lru_unlink(flow__meter *m, uint32_t i)
{
  flow__flow *f = &m->flows[i];
  if (f->prev != FLOW__NONE)
    m->flows[f->prev].next = f->next;
  else
    m->lru_head = f->next;
  if (f->next != FLOW__NONE)
    m->flows[f->next].prev = f->prev;
  else
    m->lru_tail = f->prev;
}

static void lru_append(flow__meter *m, uint32_t i)
{
  flow__flow *f = &m->flows[i];
  f->prev = m->lru_tail;
  f->next = FLOW__NONE;
  if (m->lru_tail != FLOW__NONE)
    m->flows[m->lru_tail].next = i;
  else
    m->lru_head = i;
  m->lru_tail = i;
}

/*---- rows of ended flows ----*/

static void fill_names(const flow__meter *m, uint8_t family, const uint8_t *addr, char *ns, size_t nscap,
                       char *pod, size_t podcap)
{
  const flow__pod *p = flow__pod_find(m, family, addr);
  snprintf(ns, nscap, "%s", p ? p->ns : "");
  snprintf(pod, podcap, "%s", p ? p->pod : "world");
}

static void fill_row(const flow__meter *m, const flow__flow *f, bool ended, collector_flow_row *r)
{
  memset(r, 0, sizeof *r);
  const flow__key *k = &f->key;
  flow__addr_str(k->family, k->src, r->src, sizeof r->src);
  flow__addr_str(k->family, k->dst, r->dst, sizeof r->dst);
  r->ip_proto = k->proto;
  r->proto = flow__proto_name(k->proto);
  if (k->proto == 1 || k->proto == 58) {
    r->icmp_type = (uint8_t)(k->sport >> 8);
    r->icmp_code = (uint8_t)k->sport;
  } else {
    r->src_port = k->sport;
    r->dst_port = k->dport;
  }
  fill_names(m, k->family, k->src, r->src_namespace, sizeof r->src_namespace, r->src_pod, sizeof r->src_pod);
  fill_names(m, k->family, k->dst, r->dst_namespace, sizeof r->dst_namespace, r->dst_pod, sizeof r->dst_pod);
  r->packets = f->packets;
  r->bytes = f->bytes;
  r->first_ms = f->first_us / 1000;
  r->last_ms = f->last_us / 1000;
  r->retransmits = f->retransmits;
  r->resets = f->resets;
  r->zero_windows = f->zero_windows;
  r->syns = f->syns;
  r->fins = f->fins;
  r->syn_rtt_us = f->syn_rtt_us;
  r->ack_rtt_us = f->ack_rtt_us;
  r->ended = ended;
}

static void keep_row(flow__meter *m, const flow__flow *f)
{
  if (!m->keep_ended)
    return;
  m->ended = lk_xgrow(m->ended, &m->ended_cap, m->nended + 1, sizeof *m->ended);
  fill_row(m, f, true, &m->ended[m->nended++]);
}

/*---- the table ----*/

static uint32_t *chain_of(flow__meter *m, const flow__key *k) { return &m->heads[key_hash(k) & m->hmask]; }

static uint32_t find(flow__meter *m, const flow__key *k)
{
  for (uint32_t i = *chain_of(m, k); i != FLOW__NONE; i = m->flows[i].hnext)
    if (!memcmp(&m->flows[i].key, k, sizeof *k))
      return i;
  return FLOW__NONE;
}

static void end_flow(flow__meter *m, uint32_t i)
{
  flow__flow *f = &m->flows[i];
  keep_row(m, f);
  uint32_t *link = chain_of(m, &f->key);
  while (*link != i)
    link = &m->flows[*link].hnext;
  *link = f->hnext;
  lru_unlink(m, i);
  f->in_use = false;
  f->hnext = m->free_list;
  m->free_list = i;
  m->st.flows_active--;
}

static void reset_tcp(flow__flow *f)
{
  f->syn_us = f->synack_us = 0;
  f->syn_rtt_us = f->ack_rtt_us = -1;
  f->have_seq = false;
  f->hole_lo = f->hole_hi = 0;
}

/* Twice the hash heads once there are more flows than heads (up to
 * max_flows): chains stay short and an idle table stays small. */
static void grow_heads(flow__meter *m)
{
  size_t nh = ((size_t)m->hmask + 1) * 2;
  free(m->heads);
  m->heads = lk_xmalloc(nh * sizeof *m->heads);
  memset(m->heads, 0xff, nh * sizeof *m->heads);
  m->hmask = (uint32_t)(nh - 1);
  for (uint32_t i = 0; i < m->used; i++) {
    flow__flow *f = &m->flows[i];
    if (!f->in_use)
      continue;
    uint32_t *head = chain_of(m, &f->key);
    f->hnext = *head;
    *head = i;
  }
}

static uint32_t create(flow__meter *m, const flow__key *k, int64_t ts)
{
  if (m->free_list == FLOW__NONE && m->used == m->max_flows) {
    end_flow(m, m->lru_head);
    m->st.evicted++;
  }
  uint32_t i;
  if (m->free_list != FLOW__NONE) {
    i = m->free_list;
    m->free_list = m->flows[i].hnext;
  } else {
    i = m->used++;
  }
  flow__flow *f = &m->flows[i];
  memset(f, 0, sizeof *f);
  f->key = *k;
  f->first_us = ts;
  f->moved_s = (uint32_t)(ts / 1000000);
  f->pair = FLOW__NONE;
  f->in_use = true;
  reset_tcp(f);
  uint32_t *head = chain_of(m, k);
  f->hnext = *head;
  *head = i;
  lru_append(m, i);
  m->st.flows_created++;
  m->st.flows_active++;
  if (m->st.flows_active > (uint64_t)m->hmask + 1 && m->hmask + 1 < m->max_flows)
    grow_heads(m);
  return i;
}

/* The flow of k, created when new; restarted (its row ended) past the active timeout. */
static flow__flow *flow_get(flow__meter *m, const flow__key *k, int64_t ts)
{
  uint32_t i = find(m, k);
  if (i == FLOW__NONE)
    return &m->flows[create(m, k, ts)];
  flow__flow *f = &m->flows[i];
  if (ts - f->first_us > m->active_us) {
    keep_row(m, f);
    m->st.expired++;
    f->packets = f->bytes = 0;
    f->retransmits = f->resets = f->zero_windows = 0;
    f->syns = f->fins = 0;
    f->first_us = ts;
  }
  if ((uint32_t)(ts / 1000000) != f->moved_s) { /* at most once a second: the list is ordered to 1 s */
    f->moved_s = (uint32_t)(ts / 1000000);
    lru_unlink(m, i);
    lru_append(m, i);
  }
  return f;
}

void flow__meter_expire(flow__meter *m, int64_t now_us)
{
  m->last_sweep_us = now_us;
  while (m->lru_head != FLOW__NONE && now_us - m->flows[m->lru_head].last_us > m->idle_us) {
    end_flow(m, m->lru_head);
    m->st.expired++;
  }
}

static int rows_by_first(const void *a, const void *b)
{
  int64_t x = ((const collector_flow_row *)a)->first_ms, y = ((const collector_flow_row *)b)->first_ms;
  return (x > y) - (x < y);
}

void flow__meter_rows(flow__meter *m, collector_flow_row **rows, size_t *n)
{
  size_t cap = m->nended + m->st.flows_active;
  collector_flow_row *r = lk_xmalloc((cap ? cap : 1) * sizeof *r);
  if (m->nended)
    memcpy(r, m->ended, m->nended * sizeof *r);
  size_t k = m->nended;
  m->nended = 0;
  for (uint32_t i = m->lru_head; i != FLOW__NONE; i = m->flows[i].next)
    fill_row(m, &m->flows[i], false, &r[k++]);
  qsort(r, k, sizeof *r, rows_by_first);
  *rows = r;
  *n = k;
}

void flow__meter_each(flow__meter *m, collector_flow_row_fn fn, void *ctx)
{
  for (size_t i = 0; i < m->nended; i++)
    fn(ctx, &m->ended[i]);
  m->nended = 0;
  collector_flow_row r;
  for (uint32_t i = m->lru_head; i != FLOW__NONE; i = m->flows[i].next) {
    fill_row(m, &m->flows[i], false, &r);
    fn(ctx, &r);
  }
}

/*---- fragments ----*/

static flow__frag_ent *frag_slot(flow__meter *m, const flow__pkt *pk)
{
  uint64_t h = lk_hash_mix(lk_hash_mix(0, pk->frag_id), pk->key.proto);
  uint64_t w[4];
  memcpy(w, pk->key.src, sizeof w);
  for (int i = 0; i < 4; i++)
    h = lk_hash_mix(h, w[i]);
  return &m->frags[h & (FLOW__FRAGS - 1)];
}

static bool frag_same(const flow__frag_ent *e, const flow__pkt *pk)
{
  return e->id == pk->frag_id && e->proto == pk->key.proto && e->family == pk->key.family &&
         !memcmp(e->src, pk->key.src, 16) && !memcmp(e->dst, pk->key.dst, 16);
}

static void frag_remember(flow__meter *m, const flow__pkt *pk, int64_t ts)
{
  flow__frag_ent *e = frag_slot(m, pk);
  memcpy(e->src, pk->key.src, 16);
  memcpy(e->dst, pk->key.dst, 16);
  e->id = pk->frag_id;
  e->proto = pk->key.proto;
  e->family = pk->key.family;
  e->sport = pk->key.sport;
  e->dport = pk->key.dport;
  e->t_us = ts;
}

/* A later fragment takes its first fragment's ports; else it stays port 0. */
static void frag_recall(flow__meter *m, flow__pkt *pk, int64_t ts)
{
  m->st.fragments++;
  flow__frag_ent *e = frag_slot(m, pk);
  if (e->t_us && frag_same(e, pk) && ts - e->t_us <= FRAG_TTL_US) {
    pk->key.sport = e->sport;
    pk->key.dport = e->dport;
    return;
  }
  m->st.fragments_unmatched++;
}

/*---- TCP ----*/

static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

/* Counts a segment whose sequence range was already seen as a retransmit;
 * one gap (reordering) is remembered so late segments filling it are not. */
static void track_seq(flow__flow *f, const flow__pkt *pk, flow__pair *pair)
{
  uint32_t len = pk->tcp_payload + !!(pk->tcp_flags & FLOW__TH_SYN) + !!(pk->tcp_flags & FLOW__TH_FIN);
  if (!len)
    return;
  uint32_t seq = pk->seq, end = pk->seq + len;
  if (!f->have_seq || seq_le(f->seq_next, seq)) {
    if (f->have_seq && seq != f->seq_next && f->hole_lo == f->hole_hi) {
      f->hole_lo = f->seq_next;
      f->hole_hi = seq;
    }
    f->have_seq = true;
    f->seq_next = end;
    return;
  }
  if (f->hole_lo != f->hole_hi && seq_le(f->hole_lo, seq) && seq_le(end, f->hole_hi)) {
    if (seq == f->hole_lo)
      f->hole_lo = end;
    else
      f->hole_hi = seq;
    if (!seq_lt(f->hole_lo, f->hole_hi))
      f->hole_lo = f->hole_hi = 0;
    return;
  }
  if (seq_lt(f->seq_next, end))
    f->seq_next = end;
  f->retransmits++;
  pair->retransmits++;
}

static void on_syn(flow__flow *f, const flow__pkt *pk, int64_t ts, flow__pair *pair)
{
  bool retry = f->have_seq && pk->seq + 1 == f->seq_next;
  if (!retry) { /* a new connection (also a reused port) */
    reset_tcp(f);
    pair->connections++;
  }
  f->syns++;
  if (!f->synack_us)
    f->syn_us = ts;
}

static void on_synack(flow__meter *m, const flow__flow *f, int64_t ts)
{
  flow__key rk = f->key;
  memcpy(rk.src, f->key.dst, 16);
  memcpy(rk.dst, f->key.src, 16);
  rk.sport = f->key.dport;
  rk.dport = f->key.sport;
  uint32_t i = find(m, &rk);
  if (i == FLOW__NONE)
    return;
  flow__flow *c = &m->flows[i];
  if (c->syn_us && !c->synack_us) {
    c->synack_us = ts;
    c->syn_rtt_us = (int32_t)(ts - c->syn_us);
  }
}

static void on_ack(flow__flow *f, int64_t ts, flow__pair *pair)
{
  if (!f->synack_us || f->ack_rtt_us >= 0)
    return;
  f->ack_rtt_us = (int32_t)(ts - f->synack_us);
  flow__rtt_observe(pair, (f->syn_rtt_us + f->ack_rtt_us) / 1e6);
}

static void track_tcp(flow__meter *m, flow__flow *f, const flow__pkt *pk, int64_t ts, flow__pair *pair)
{
  uint8_t fl = pk->tcp_flags;
  if (fl & FLOW__TH_RST) {
    f->resets++;
    pair->resets++;
  }
  if (fl & FLOW__TH_FIN)
    f->fins++;
  if (!pk->win && !(fl & (FLOW__TH_RST | FLOW__TH_SYN)))
    f->zero_windows++;
  if ((fl & (FLOW__TH_SYN | FLOW__TH_ACK)) == FLOW__TH_SYN)
    on_syn(f, pk, ts, pair);
  else if (fl & FLOW__TH_SYN)
    on_synack(m, f, ts);
  else if (fl & FLOW__TH_ACK)
    on_ack(f, ts, pair);
  track_seq(f, pk, pair);
}

/*---- one packet ----*/

/* On the host side of a pod's veth, a packet the host sends into the pod
 * that came from a known pod was already counted on the sender's veth. */
static bool counted_on_sender_side(const flow__meter *m, const flow__pkt *pk)
{
  return pk->outgoing && flow__pod_find(m, pk->key.family, pk->key.src);
}

static bool decoded(flow__meter *m, enum flow__verdict v)
{
  switch (v) {
  case FV_OK:
    return true;
  case FV_TRUNCATED:
    m->st.truncated++;
    return false;
  case FV_MALFORMED:
    m->st.decode_errors++;
    return false;
  default:
    m->st.non_ip++;
    return false;
  }
}

void flow__meter_packet(flow__meter *m, int linktype, bool pod_side, int64_t ts, const uint8_t *p, size_t caplen)
{
  flow__pkt pk;
  if (!decoded(m, flow__decode(linktype, p, caplen, &pk)))
    return;
  if (ts - m->last_sweep_us >= SWEEP_US)
    flow__meter_expire(m, ts);
  if (pk.frag == FRAG_FIRST)
    frag_remember(m, &pk, ts);
  else if (pk.frag == FRAG_LATER)
    frag_recall(m, &pk, ts);
  if (pod_side && counted_on_sender_side(m, &pk)) {
    m->st.pod_duplicates++;
    return;
  }
  bool tcp = pk.key.proto == 6 && pk.frag != FRAG_LATER;
  if (tcp && (pk.tcp_flags & (FLOW__TH_SYN | FLOW__TH_ACK)) == FLOW__TH_SYN)
    m->listening[pk.key.dport >> 3] |= (uint8_t)(1u << (pk.key.dport & 7));
  flow__flow *f = flow_get(m, &pk.key, ts);
  if (f->pair == FLOW__NONE || f->pods_gen != m->pods_gen) {
    f->pair = flow__pair_resolve(m, &f->key);
    f->pods_gen = m->pods_gen;
  }
  flow__pair *pair = &m->pairs[f->pair];
  m->st.packets++;
  m->st.bytes += pk.ip_len;
  f->packets++;
  f->bytes += pk.ip_len;
  f->last_us = ts;
  pair->packets++;
  pair->bytes += pk.ip_len;
  if (tcp)
    track_tcp(m, f, &pk, ts, pair);
}
