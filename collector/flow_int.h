/* flow_int.h — the flow meter's internal structures, shared by
 * collector/flow_*.c and flows.c (decoder, flow table, pairs, capture).
 * Nothing outside collector/ (and the fuzz target) includes this. */
#ifndef FLOW_INT_H
#define FLOW_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/collector.h"
#include "collector/collector_int.h"
#include "lib/lk_hash.h"

/*---- decoder (flow_decode.c) ----*/

/* A flow's identity: addresses (IPv4 in the first 4 bytes, the rest zero),
 * ports (ICMP: type << 8 | code in sport, 0 in dport), IP protocol, family. */
typedef struct flow__key {
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint8_t proto, family; /* family: 4 or 6 */
  uint8_t pad[2];        /* always zero: keys compare with memcmp */
} flow__key;

enum flow__frag { FRAG_NONE, FRAG_FIRST, FRAG_LATER };

#define FLOW__TH_FIN 0x01
#define FLOW__TH_SYN 0x02
#define FLOW__TH_RST 0x04
#define FLOW__TH_ACK 0x10

/* What the decoder takes from one packet. */
typedef struct flow__pkt {
  flow__key key;
  uint32_t ip_len;        /* bytes counted: IP header + payload as the IP header says */
  uint32_t seq, ack;      /* TCP */
  uint32_t tcp_payload;   /* TCP payload length from the IP lengths (not the capture) */
  uint16_t win;
  uint8_t tcp_flags;
  uint8_t frag;           /* enum flow__frag */
  uint32_t frag_id;       /* IPv4 identification or IPv6 fragment identification */
  bool outgoing;          /* Linux cooked capture: sent by this host */
} flow__pkt;

enum flow__verdict { FV_OK, FV_TRUNCATED, FV_MALFORMED, FV_NON_IP };

/* Decode one captured frame of pcap link type linktype (DLT_*); caplen bytes
 * are readable at p. Never reads past p + caplen. */
enum flow__verdict flow__decode(int linktype, const uint8_t *p, size_t caplen, flow__pkt *out);
bool flow__linktype_supported(int linktype);

/*---- the meter: flow table, TCP state, pairs (flow_table.c, flow_pairs.c) ----*/

#define FLOW__NONE UINT32_MAX
#define FLOW__RTT_BUCKETS 16 /* finite bounds; +Inf is the count */

/* One direction of one conversation: 152 bytes, plus 4 to 8 bytes of hash
 * head (the heads double with the flows, up to max_flows). */
typedef struct flow__flow {
  flow__key key;
  uint64_t packets, bytes;
  int64_t first_us, last_us;
  int64_t syn_us;          /* last SYN (no ACK) of this flow, 0 none */
  int64_t synack_us;       /* SYN-ACK of the reverse flow answering it, 0 none */
  int32_t syn_rtt_us, ack_rtt_us; /* -1 unknown */
  uint32_t seq_next;       /* one past the highest sequence seen */
  uint32_t hole_lo, hole_hi; /* one gap below seq_next not yet filled (lo == hi: none) */
  uint32_t retransmits, resets, zero_windows;
  uint16_t syns, fins;
  uint32_t pair;           /* attribution (index into pairs), FLOW__NONE: not resolved */
  uint32_t pods_gen;       /* pods generation pair was resolved under */
  uint32_t prev, next;     /* activity list, least recent first */
  uint32_t hnext;          /* hash chain */
  uint32_t moved_s;        /* packet time (s) it last moved to the activity list's tail */
  bool have_seq, in_use;
} flow__flow;

/* One label set of the flow series; never removed (its counters only grow). */
typedef struct flow__pair {
  const char *src_ns, *src_pod, *dst_ns, *dst_pod; /* interned (flow__meter.strings) */
  const char *dst_port;    /* interned */
  uint8_t proto;           /* enum flow__proto */
  uint64_t bytes, packets;
  uint64_t connections, retransmits, resets;
  uint64_t rtt_le[FLOW__RTT_BUCKETS]; /* observations per bucket (not cumulative) */
  uint64_t rtt_count;
  double rtt_sum;
  uint32_t hnext;
} flow__pair;

enum flow__proto { FP_TCP, FP_UDP, FP_ICMP, FP_OTHER };

typedef struct flow__pod {
  uint8_t family, addr[16];
  char *ns, *pod;
} flow__pod;

/* First fragments seen, for attributing the later ones (direct-mapped). */
#define FLOW__FRAGS 4096
typedef struct flow__frag_ent {
  uint8_t src[16], dst[16];
  uint32_t id;
  uint16_t sport, dport;
  uint8_t proto, family;
  int64_t t_us;
} flow__frag_ent;

/* The meter state; every field is guarded by the owner's lock (flows.c). */
typedef struct flow__meter {
  size_t max_flows, max_pairs;
  int64_t idle_us, active_us;
  /* flows: pool of max_flows (calloc: untouched pages cost nothing) */
  flow__flow *flows;
  uint32_t *heads, hmask;  /* hash heads */
  uint32_t used, free_list, lru_head, lru_tail;
  int64_t last_sweep_us;
  /* ended flows' rows, kept only when keep_ended (offline) */
  bool keep_ended;
  collector_flow_row *ended;
  size_t nended, ended_cap;
  /* pairs */
  flow__pair *pairs;
  size_t npairs, pairs_cap;
  uint32_t *pair_heads, pair_hmask;
  lk_intern *strings;
  /* pods, sorted by (family, addr) */
  flow__pod *pods;
  size_t npods;
  uint32_t pods_gen;
  uint8_t *listening;      /* 65536 bits: TCP ports a SYN went to */
  flow__frag_ent *frags;
  collector_flows_stats st;
} flow__meter;

void flow__meter_init(flow__meter *m, const collector_flow_opts *o);
void flow__meter_fini(flow__meter *m);
/* Meter one captured frame at time ts_us. pod_side: see collector.h. */
void flow__meter_packet(flow__meter *m, int linktype, bool pod_side, int64_t ts_us, const uint8_t *p,
                        size_t caplen);
/* End flows idle (or active) past their timeout at now_us. */
void flow__meter_expire(flow__meter *m, int64_t now_us);
void flow__meter_rows(flow__meter *m, collector_flow_row **rows, size_t *n);
void flow__meter_each(flow__meter *m, collector_flow_row_fn fn, void *ctx);

/* pairs and pods (flow_pairs.c) */
void flow__pods_set(flow__meter *m, const collector_flow_pod *p, size_t n);
const flow__pod *flow__pod_find(const flow__meter *m, uint8_t family, const uint8_t *addr);
uint32_t flow__pair_resolve(flow__meter *m, const flow__key *k);
void flow__pairs_free(flow__meter *m);
void flow__rtt_observe(flow__pair *p, double seconds);
/* Append every series (pairs and self-metrics) to b. */
void flow__emit(flow__meter *m, collector__batch *b, const char *node);
void flow__addr_str(uint8_t family, const uint8_t *addr, char *out, size_t cap);
const char *flow__proto_name(uint8_t ip_proto);

/*---- the meter object (flows.c) and capture (flow_capture.c) ----*/

typedef struct flow__if flow__if;

struct collector_flows {
  pthread_mutex_t mu;        /* guards m */
  flow__meter m;
  pthread_mutex_t flush_mu;  /* guards batch; taken before mu */
  collector__batch batch;
  pthread_mutex_t if_mu;     /* guards ifs */
  flow__if *ifs;
  pthread_mutex_t run_mu;    /* guards running, stop */
  pthread_cond_t run_cv;
  pthread_t emit_thread;
  bool running, stop;
  collector_sink sink;
  char *node, *bpf;
  int snaplen, buffer_bytes;
  int64_t interval_ms;
};

/* One capturing interface; its thread owns handle p until it is joined. */
struct flow__if {
  flow__if *next;
  collector_flows *owner;
  char *name;
  void *p;                   /* pcap_t */
  int linktype;
  bool pod_side;
  int wake[2];               /* a byte on wake[1] stops the thread */
  pthread_t thread;
  uint64_t drops, if_drops;  /* last pcap_stats, already added to the meter's */
};

void flow__capture_stop_all(collector_flows *f);

#endif
