/* flow_decode.c — from one captured frame to a flow key and the TCP fields
 * the meter needs: Ethernet with 802.1Q/802.1ad tags (QinQ), Linux cooked
 * capture v1/v2, raw IP; IPv4 (fragments) and IPv6 (extension headers);
 * TCP, UDP, ICMP, ICMPv6. Every read is bounds-checked against the captured
 * length: a frame shorter than the headers it announces is FV_TRUNCATED,
 * one whose headers contradict themselves is FV_MALFORMED. */
#include <pcap/pcap.h>
#include <string.h>

#include "collector/flow_int.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88A8
#define ETH_QINQ_OLD 0x9100
#define MAX_VLAN_TAGS 4
#define MAX_IPV6_EXT 8
#define SLL_OUTGOING 4

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

bool flow__linktype_supported(int linktype)
{
  switch (linktype) {
  case DLT_EN10MB: case DLT_RAW: case DLT_IPV4: case DLT_IPV6: case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
    return true;
  default:
    return false;
  }
}

/* The transport header: ports and TCP fields. l4 bytes are captured at p,
 * l4len is the transport length the IP header announces. */
static enum flow__verdict decode_l4(const uint8_t *p, size_t cap, size_t l4len, flow__pkt *o)
{
  switch (o->key.proto) {
  case 6: /* TCP: ports, seq, ack, offset, flags, window */
    if (cap < 16)
      return FV_TRUNCATED;
    o->key.sport = be16(p);
    o->key.dport = be16(p + 2);
    o->seq = be32(p + 4);
    o->ack = be32(p + 8);
    size_t doff = (size_t)(p[12] >> 4) * 4;
    if (doff < 20 || doff > l4len)
      return FV_MALFORMED;
    o->tcp_flags = p[13];
    o->win = be16(p + 14);
    o->tcp_payload = (uint32_t)(l4len - doff);
    return FV_OK;
  case 17: /* UDP */
    if (cap < 4)
      return FV_TRUNCATED;
    o->key.sport = be16(p);
    o->key.dport = be16(p + 2);
    return FV_OK;
  case 1: case 58: /* ICMP, ICMPv6: type and code */
    if (cap < 2)
      return FV_TRUNCATED;
    o->key.sport = (uint16_t)(p[0] << 8 | p[1]);
    return FV_OK;
  default:
    return FV_OK;
  }
}

static enum flow__verdict decode_ipv4(const uint8_t *p, size_t cap, flow__pkt *o)
{
  if (cap < 20)
    return FV_TRUNCATED;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  size_t total = be16(p + 2);
  if ((p[0] >> 4) != 4 || ihl < 20 || total < ihl)
    return FV_MALFORMED;
  if (cap < ihl)
    return FV_TRUNCATED;
  o->key.family = 4;
  o->key.proto = p[9];
  memcpy(o->key.src, p + 12, 4);
  memcpy(o->key.dst, p + 16, 4);
  o->ip_len = (uint32_t)total;
  uint16_t frag = be16(p + 6);
  o->frag_id = be16(p + 4);
  if (frag & 0x1fff) {
    o->frag = FRAG_LATER; /* no transport header here */
    return FV_OK;
  }
  if (frag & 0x2000)
    o->frag = FRAG_FIRST;
  size_t avail = cap < total ? cap : total; /* Ethernet padding is not payload */
  return decode_l4(p + ihl, avail - ihl, total - ihl, o);
}

static bool ipv6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51 || nh == 135; }

static enum flow__verdict decode_ipv6(const uint8_t *p, size_t cap, flow__pkt *o)
{
  if (cap < 40)
    return FV_TRUNCATED;
  if ((p[0] >> 4) != 6)
    return FV_MALFORMED;
  size_t total = 40 + (size_t)be16(p + 4);
  o->key.family = 6;
  memcpy(o->key.src, p + 8, 16);
  memcpy(o->key.dst, p + 24, 16);
  o->ip_len = (uint32_t)total;
  size_t avail = cap < total ? cap : total;
  uint8_t nh = p[6];
  size_t off = 40;
  for (int i = 0; ipv6_ext(nh); i++) {
    if (i == MAX_IPV6_EXT)
      return FV_MALFORMED;
    if (off + 8 > total)
      return FV_MALFORMED;
    if (off + 8 > avail)
      return FV_TRUNCATED;
    const uint8_t *h = p + off;
    size_t len = nh == 44 ? 8 : nh == 51 ? ((size_t)h[1] + 2) * 4 : ((size_t)h[1] + 1) * 8;
    if (nh == 44) {
      o->frag_id = be32(h + 4);
      if (be16(h + 2) >> 3) {
        o->key.proto = h[0];
        o->frag = FRAG_LATER;
        return FV_OK;
      }
      if (be16(h + 2) & 1)
        o->frag = FRAG_FIRST;
    }
    nh = h[0];
    off += len;
  }
  if (off > total)
    return FV_MALFORMED;
  o->key.proto = nh;
  if (off > avail)
    return FV_TRUNCATED;
  return decode_l4(p + off, avail - off, total - off, o);
}

static enum flow__verdict decode_ip(uint16_t ethertype, const uint8_t *p, size_t cap, flow__pkt *o)
{
  if (ethertype == ETH_IPV4)
    return decode_ipv4(p, cap, o);
  if (ethertype == ETH_IPV6)
    return decode_ipv6(p, cap, o);
  return FV_NON_IP;
}

/* ethertype at p - 2 already read; skip VLAN tags, then IP. */
static enum flow__verdict decode_ether_payload(uint16_t type, const uint8_t *p, size_t cap, flow__pkt *o)
{
  for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
    if (tags == MAX_VLAN_TAGS)
      return FV_MALFORMED;
    if (cap < 4)
      return FV_TRUNCATED;
    type = be16(p + 2);
    p += 4;
    cap -= 4;
  }
  return decode_ip(type, p, cap, o);
}

static enum flow__verdict decode_raw(const uint8_t *p, size_t cap, flow__pkt *o)
{
  if (cap < 1)
    return FV_TRUNCATED;
  return decode_ip((p[0] >> 4) == 6 ? ETH_IPV6 : ETH_IPV4, p, cap, o);
}

enum flow__verdict flow__decode(int linktype, const uint8_t *p, size_t cap, flow__pkt *o)
{
  memset(o, 0, sizeof *o);
  switch (linktype) {
  case DLT_EN10MB:
    if (cap < 14)
      return FV_TRUNCATED;
    return decode_ether_payload(be16(p + 12), p + 14, cap - 14, o);
  case DLT_LINUX_SLL: /* packet type, hatype, halen, address[8], protocol */
    if (cap < 16)
      return FV_TRUNCATED;
    o->outgoing = be16(p) == SLL_OUTGOING;
    return decode_ether_payload(be16(p + 14), p + 16, cap - 16, o);
  case DLT_LINUX_SLL2: /* protocol, reserved, ifindex, hatype, packet type, halen, address[8] */
    if (cap < 20)
      return FV_TRUNCATED;
    o->outgoing = p[10] == SLL_OUTGOING;
    return decode_ether_payload(be16(p), p + 20, cap - 20, o);
  case DLT_RAW:
    return decode_raw(p, cap, o);
  case DLT_IPV4:
    return decode_ipv4(p, cap, o);
  case DLT_IPV6:
    return decode_ipv6(p, cap, o);
  default:
    return FV_NON_IP;
  }
}
