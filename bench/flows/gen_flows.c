/* gen_flows.c — writes the flow benchmark's capture file: Ethernet + IPv4 +
 * TCP headers (payload not captured, as a headers-only snaplen would),
 * CONNS conversations of two directions each all open at once (2 x CONNS
 * concurrent flows), PACKETS packets in all: every conversation's handshake
 * first, then data segments and ACKs of conversations picked at random
 * (one in 1000 a retransmission), then every conversation's FINs. One
 * packet per microsecond of capture time. Deterministic for a seed.
 *
 * usage: gen_flows OUT.pcap [PACKETS [CONNS [SEED]]]  (10000000 50000 1) */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 54 /* Ethernet 14 + IPv4 20 + TCP 20 */
#define MSS 1448

typedef struct conv {
  uint32_t cseq, sseq;
} conv;

typedef struct gen {
  pcap_dumper_t *out;
  uint8_t frame[HDR];
  int64_t t_us;
  uint64_t rng;
  uint64_t written;
} gen;

static void put16(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
  put16(p, v >> 16);
  put16(p + 2, v);
}

static uint64_t next_rand(gen *g)
{
  g->rng ^= g->rng << 13;
  g->rng ^= g->rng >> 7;
  g->rng ^= g->rng << 17;
  return g->rng;
}

/* Addresses and ports of conversation c: client 10.1.x.y:ephemeral,
 * server 10.2.0.z on 80, 443 or 8080. */
static void endpoints(uint32_t c, uint8_t cli[4], uint8_t srv[4], uint16_t *cport, uint16_t *sport)
{
  cli[0] = 10, cli[1] = 1, cli[2] = (uint8_t)(c >> 8), cli[3] = (uint8_t)c;
  srv[0] = 10, srv[1] = 2, srv[2] = 0, srv[3] = (uint8_t)(1 + c % 200);
  *cport = (uint16_t)(32768 + (c >> 16) * 4096 + (c % 4096));
  static const uint16_t ports[] = {80, 443, 8080};
  *sport = ports[c % 3];
}

static void emit(gen *g, uint32_t c, int from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t payload)
{
  uint8_t cli[4], srv[4];
  uint16_t cport, sport;
  endpoints(c, cli, srv, &cport, &sport);
  uint8_t *ip = g->frame + 14, *tcp = ip + 20;
  put16(ip + 2, 40 + payload);
  put16(ip + 4, (uint32_t)g->written);
  memcpy(ip + 12, from_client ? cli : srv, 4);
  memcpy(ip + 16, from_client ? srv : cli, 4);
  put16(tcp, from_client ? cport : sport);
  put16(tcp + 2, from_client ? sport : cport);
  put32(tcp + 4, seq);
  put32(tcp + 8, ack);
  tcp[13] = flags;
  struct pcap_pkthdr h = {.ts = {.tv_sec = g->t_us / 1000000, .tv_usec = g->t_us % 1000000},
                          .caplen = HDR, .len = HDR + payload};
  pcap_dump((u_char *)g->out, &h, g->frame);
  g->t_us++;
  g->written++;
}

static void init_frame(uint8_t *f)
{
  memset(f, 0, HDR);
  f[0] = 0x02, f[5] = 1, f[6] = 0x02, f[11] = 2;
  put16(f + 12, 0x0800);
  uint8_t *ip = f + 14;
  ip[0] = 0x45, ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
  uint8_t *tcp = ip + 20;
  tcp[12] = 5 << 4;
  put16(tcp + 14, 65535);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: gen_flows OUT.pcap [PACKETS [CONNS [SEED]]]\n");
    return 2;
  }
  uint64_t packets = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
  uint32_t conns = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 50000;
  gen g = {.t_us = 1700000000000000LL, .rng = argc > 4 ? strtoull(argv[4], NULL, 10) | 1 : 1};
  if (!conns || conns > 1u << 20 || packets < 5ull * conns) {
    fprintf(stderr, "gen_flows: want 1..1048576 conversations and at least 5 packets each\n");
    return 2;
  }
  pcap_t *dead = pcap_open_dead(DLT_EN10MB, 128);
  g.out = pcap_dump_open(dead, argv[1]);
  if (!g.out) {
    fprintf(stderr, "gen_flows: %s\n", pcap_geterr(dead));
    return 1;
  }
  init_frame(g.frame);
  conv *cv = calloc(conns, sizeof *cv);
  for (uint32_t c = 0; c < conns; c++) { /* handshakes */
    cv[c].cseq = (uint32_t)next_rand(&g), cv[c].sseq = (uint32_t)next_rand(&g);
    emit(&g, c, 1, 0x02, cv[c].cseq++, 0, 0);
    emit(&g, c, 0, 0x12, cv[c].sseq++, cv[c].cseq, 0);
    emit(&g, c, 1, 0x10, cv[c].cseq, cv[c].sseq, 0);
  }
  uint64_t data = packets - 5ull * conns;
  for (uint64_t i = 0; i < data; i++) {
    uint64_t r = next_rand(&g);
    uint32_t c = (uint32_t)(r % conns);
    conv *v = &cv[c];
    if ((r >> 32) % 3 == 2) {
      emit(&g, c, 0, 0x10, v->sseq, v->cseq, 0);
    } else if ((r >> 40) % 1000 == 0) { /* retransmit the last segment */
      emit(&g, c, 1, 0x18, v->cseq - MSS, v->sseq, MSS);
    } else {
      emit(&g, c, 1, 0x18, v->cseq, v->sseq, MSS);
      v->cseq += MSS;
    }
  }
  for (uint32_t c = 0; c < conns; c++) { /* FINs */
    emit(&g, c, 1, 0x11, cv[c].cseq++, cv[c].sseq, 0);
    emit(&g, c, 0, 0x11, cv[c].sseq++, cv[c].cseq, 0);
  }
  pcap_dump_close(g.out);
  pcap_close(dead);
  free(cv);
  fprintf(stderr, "gen_flows: %llu packets, %u conversations (%u flows) to %s\n", (unsigned long long)g.written,
          conns, 2 * conns, argv[1]);
  return 0;
}
