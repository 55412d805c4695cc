/* pktgen.c — test packet builder and pcap writer (see pktgen.h). Checksums
 * are left zero: the meter does not verify them. */
#include "tests/collector/pktgen.h"

#include <arpa/inet.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static bool is_v6(const pkt_spec *s) { return strchr(s->src, ':') != NULL; }

static size_t transport_len(const pkt_spec *s)
{
  if (s->frag == 2)
    return 0;
  return s->proto == 6 ? 20 : s->proto == 17 || s->proto == 1 || s->proto == 58 ? 8 : 0;
}

static size_t ip_header_len(const pkt_spec *s)
{
  if (!is_v6(s))
    return 20;
  return 40 + (s->v6_ext ? 16 : 0) + (s->frag ? 8 : 0);
}

uint32_t pkt_ip_len(const pkt_spec *s) { return (uint32_t)(ip_header_len(s) + transport_len(s) + s->payload); }

static size_t link_header(int linktype, const pkt_spec *s, uint8_t *o)
{
  uint16_t ethertype = is_v6(s) ? 0x86DD : 0x0800;
  switch (linktype) {
  case DLT_EN10MB: {
    memset(o, 0, 12);
    o[0] = 0x02, o[6] = 0x02, o[11] = 1;
    size_t n = 12;
    if (s->vlan_tags == 2) {
      put16(o + n, 0x88A8), put16(o + n + 2, 100);
      n += 4;
    }
    if (s->vlan_tags >= 1) {
      put16(o + n, 0x8100), put16(o + n + 2, 200);
      n += 4;
    }
    put16(o + n, ethertype);
    return n + 2;
  }
  case DLT_LINUX_SLL:
    memset(o, 0, 16);
    put16(o, s->sll_outgoing ? 4 : 0);
    put16(o + 2, 1), put16(o + 4, 6), put16(o + 14, ethertype);
    return 16;
  case DLT_LINUX_SLL2:
    memset(o, 0, 20);
    put16(o, ethertype), put32(o + 4, 2), put16(o + 8, 1);
    o[10] = s->sll_outgoing ? 4 : 0, o[11] = 6;
    return 20;
  default:
    return 0;
  }
}

static size_t ip_header(const pkt_spec *s, uint8_t *o)
{
  size_t hl = ip_header_len(s);
  memset(o, 0, hl);
  uint8_t proto = s->proto;
  if (!is_v6(s)) {
    o[0] = 0x45, o[8] = 64, o[9] = proto;
    put16(o + 2, (uint16_t)pkt_ip_len(s));
    put16(o + 4, (uint16_t)s->ip_id);
    uint16_t fo = s->frag == 1 ? 0x2000 : s->frag == 2 ? (uint16_t)(s->frag_off8 | (s->more_frags ? 0x2000 : 0)) : 0;
    put16(o + 6, fo);
    inet_pton(AF_INET, s->src, o + 12);
    inet_pton(AF_INET, s->dst, o + 16);
    return hl;
  }
  o[0] = 0x60, o[7] = 64;
  put16(o + 4, (uint16_t)(pkt_ip_len(s) - 40));
  inet_pton(AF_INET6, s->src, o + 8);
  inet_pton(AF_INET6, s->dst, o + 24);
  uint8_t *nh = o + 6;
  size_t off = 40;
  if (s->v6_ext) { /* hop-by-hop, then destination options, 8 bytes each (PadN) */
    *nh = 0, nh = o + off, o[off + 2] = 1, o[off + 3] = 4, off += 8;
    *nh = 60, nh = o + off, o[off + 2] = 1, o[off + 3] = 4, off += 8;
  }
  if (s->frag) {
    *nh = 44, nh = o + off;
    put16(o + off + 2, (uint16_t)((s->frag == 2 ? s->frag_off8 << 3 : 0) | (s->frag == 1 || s->more_frags)));
    put32(o + off + 4, s->ip_id);
    off += 8;
  }
  *nh = proto;
  return hl;
}

static size_t transport(const pkt_spec *s, uint8_t *o)
{
  size_t n = transport_len(s);
  memset(o, 0, n);
  if (!n)
    return 0;
  if (s->proto == 1 || s->proto == 58) {
    o[0] = (uint8_t)s->sport, o[1] = (uint8_t)s->dport;
    return n;
  }
  put16(o, s->sport), put16(o + 2, s->dport);
  if (s->proto == 17) {
    put16(o + 4, (uint16_t)(8 + s->payload));
    return n;
  }
  put32(o + 4, s->seq), put32(o + 8, s->ack);
  o[12] = 5 << 4, o[13] = s->flags;
  put16(o + 14, s->zero_win ? 0 : s->win ? s->win : 65535);
  return n;
}

size_t pkt_build(int linktype, const pkt_spec *s, uint8_t *out, size_t cap)
{
  uint8_t hdr[128];
  size_t n = link_header(linktype, s, hdr);
  n += ip_header(s, hdr + n);
  n += transport(s, hdr + n);
  size_t total = n + s->payload;
  if (total > cap)
    return 0;
  memcpy(out, hdr, n);
  memset(out + n, 0, s->payload);
  return total;
}

int pkt_file_open(pkt_file *f, const char *path, int linktype, int snaplen)
{
  f->linktype = linktype;
  f->snaplen = snaplen;
  f->dead = pcap_open_dead(linktype, 65535);
  f->dump = f->dead ? pcap_dump_open(f->dead, path) : NULL;
  return f->dump ? 0 : -1;
}

static void write_frame(pkt_file *f, const uint8_t *frame, size_t caplen, size_t len, int64_t ts_us)
{
  struct pcap_pkthdr h = {.ts = {.tv_sec = ts_us / 1000000, .tv_usec = ts_us % 1000000},
                          .caplen = (bpf_u_int32)caplen, .len = (bpf_u_int32)len};
  pcap_dump((u_char *)f->dump, &h, frame);
}

void pkt_file_raw(pkt_file *f, const uint8_t *frame, size_t len, int64_t ts_us)
{
  write_frame(f, frame, len, len, ts_us);
}

void pkt_file_add(pkt_file *f, const pkt_spec *s, int64_t ts_us, size_t truncate_to)
{
  uint8_t frame[65600];
  size_t len = pkt_build(f->linktype, s, frame, sizeof frame);
  size_t cap = len < (size_t)f->snaplen ? len : (size_t)f->snaplen;
  if (truncate_to && truncate_to < cap)
    cap = truncate_to;
  write_frame(f, frame, cap, len, ts_us);
}

void pkt_file_close(pkt_file *f)
{
  if (f->dump)
    pcap_dump_close(f->dump);
  if (f->dead)
    pcap_close(f->dead);
  f->dump = NULL;
  f->dead = NULL;
}
