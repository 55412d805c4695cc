/* fuzz_packet.c — libFuzzer target for the flow meter's decoder and table:
 * the first input byte picks the link type (Ethernet, SLL, SLL2, raw IP,
 * IPv4, IPv6), the rest is one frame, copied to a buffer of exactly its
 * size so any read past the captured bytes is an ASan report. Each frame
 * goes through flow__decode and then flow__meter_packet twice (a tiny table,
 * so creation, lookup and eviction all run). */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "collector/flow_int.h"

static const int linktypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!size)
    return 0;
  int lt = linktypes[data[0] % (sizeof linktypes / sizeof *linktypes)];
  size_t n = size - 1;
  uint8_t *frame = malloc(n ? n : 1);
  memcpy(frame, data + 1, n);
  flow__pkt pk;
  enum flow__verdict v = flow__decode(lt, frame, n, &pk);
  if (v == FV_OK && pk.key.family != 4 && pk.key.family != 6)
    abort();
  collector_flow_opts o = {.max_flows = 2, .max_pairs = 2};
  flow__meter m;
  flow__meter_init(&m, &o);
  collector_flow_pod pod = {"10.0.0.1", "ns", "pod"};
  flow__pods_set(&m, &pod, 1);
  flow__meter_packet(&m, lt, data[0] & 0x80, 1000, frame, n);
  flow__meter_packet(&m, lt, false, 2000, frame, n);
  if (m.st.packets > 2 || m.st.flows_active > 2)
    abort();
  flow__meter_fini(&m);
  free(frame);
  return 0;
}
