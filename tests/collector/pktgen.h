/* pktgen.h — builds test packets (Ethernet with 0-2 VLAN tags, Linux
 * cooked SLL/SLL2, raw IP; IPv4/IPv6 with extension headers and fragments;
 * TCP/UDP/ICMP) and writes them to pcap files with libpcap's dump API, for
 * the flow meter's tests, its fuzz corpus and its benchmark generator. */
#ifndef TEST_PKTGEN_H
#define TEST_PKTGEN_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pkt_spec {
  const char *src, *dst;     /* textual IPv4 or IPv6 (both the same family) */
  uint8_t proto;             /* 6, 17, 1, 58, or any */
  uint16_t sport, dport;     /* ICMP: type, code */
  uint8_t flags;             /* TCP flags */
  uint32_t seq, ack;
  uint16_t win;              /* TCP window; 0 means 0 only with zero_win */
  bool zero_win;
  uint32_t payload;          /* transport payload bytes (zeros) */
  int vlan_tags;             /* Ethernet: 0, 1 (802.1Q) or 2 (QinQ 802.1ad + 802.1Q) */
  bool v6_ext;               /* IPv6: hop-by-hop + destination options before the transport */
  int frag;                  /* 0 none, 1 first fragment (MF), 2 later fragment */
  uint16_t frag_off8;        /* later fragment: offset in 8-byte units */
  bool more_frags;           /* later fragment: MF set (not the last one) */
  uint32_t ip_id;
  bool sll_outgoing;         /* SLL/SLL2 packet type 4 */
} pkt_spec;

/* Build the frame for linktype (DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
 * DLT_RAW) into out; returns its length (0 when it does not fit). */
size_t pkt_build(int linktype, const pkt_spec *s, uint8_t *out, size_t cap);
/* IP length (header + payload) of the packet s describes (what the meter counts). */
uint32_t pkt_ip_len(const pkt_spec *s);

typedef struct pkt_file {
  pcap_t *dead;
  pcap_dumper_t *dump;
  int linktype;
  int snaplen;               /* written caplen = min(len, snaplen) */
} pkt_file;

int pkt_file_open(pkt_file *f, const char *path, int linktype, int snaplen);
/* Append s at ts_us; truncate_to > 0 cuts the captured bytes to that many. */
void pkt_file_add(pkt_file *f, const pkt_spec *s, int64_t ts_us, size_t truncate_to);
void pkt_file_raw(pkt_file *f, const uint8_t *frame, size_t len, int64_t ts_us);
void pkt_file_close(pkt_file *f);

#endif
