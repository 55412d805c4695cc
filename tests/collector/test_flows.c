/* test_flows.c — the flow meter over capture files this test writes with
 * libpcap's dump API: a TCP conversation in both directions over 802.1Q
 * with a retransmission, reordering and a reset (exact packets, bytes,
 * handshake RTTs and series), IPv6 with extension headers over QinQ, Linux
 * cooked captures (SLL, SLL2, with the pod-side duplicate rule), raw IP,
 * IPv4 and IPv6 fragments, truncated and malformed frames, the table and
 * pair bounds, timeouts, and bad files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/collector.h"
#include "tests/collector/capture.h"
#include "tests/collector/pktgen.h"

#define T0 1700000000000000LL /* packet time origin, us */
#define CLI "10.0.0.1"
#define SRV "10.0.0.2"

typedef struct fx {
  char path[64];
  pkt_file pf;
  collector_flows *f;
  capture cap;
  collector_flow_row *rows;
  size_t nrows;
  collector_flows_stats st;
} fx;

static const collector_flow_pod shop[] = {{CLI, "shop", "client"}, {SRV, "shop", "server"}};

static void fx_open(fx *x, int linktype)
{
  memset(x, 0, sizeof *x);
  snprintf(x->path, sizeof x->path, "/tmp/test_flows_%d.pcap", (int)getpid());
  assert_int_equal(pkt_file_open(&x->pf, x->path, linktype, 128), 0);
}

/* Close the file, meter it with opts (NULL: defaults) and pods, flush, read the table. */
static void fx_meter(fx *x, const collector_flow_opts *opts, const collector_flow_pod *pods, size_t npods)
{
  pkt_file_close(&x->pf);
  collector_flow_opts o = opts ? *opts : (collector_flow_opts){0};
  o.node = "n1";
  lk_diag d = {0};
  assert_int_equal(collector_flows_new(&o, (collector_sink){capture_sink, &x->cap}, &x->f, &d), 0);
  collector_flows_set_pods(x->f, pods, npods);
  assert_int_equal(collector_flows_read_file(x->f, x->path, &d), 0);
  assert_int_equal(collector_flows_flush(x->f, 1000), 0);
  assert_int_equal(collector_flows_table(x->f, &x->rows, &x->nrows), 0);
  collector_flows_stats_get(x->f, &x->st);
}

static void fx_close(fx *x)
{
  collector_flows_free(x->f);
  capture_fini(&x->cap);
  free(x->rows);
  unlink(x->path);
}

static const collector_flow_row *row(const fx *x, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
  for (size_t i = 0; i < x->nrows; i++) {
    const collector_flow_row *r = &x->rows[i];
    if (!strcmp(r->src, src) && !strcmp(r->dst, dst) && r->src_port == sport && r->dst_port == dport)
      return r;
  }
  fail_msg("no flow %s:%u -> %s:%u", src, sport, dst, dport);
  return NULL;
}

static pkt_spec tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t payload)
{
  return (pkt_spec){.src = from_client ? CLI : SRV, .dst = from_client ? SRV : CLI, .proto = 6,
                    .sport = from_client ? 40000 : 80, .dport = from_client ? 80 : 40000, .flags = flags,
                    .seq = seq, .ack = ack, .payload = payload, .vlan_tags = 1};
}

#define SYN 0x02
#define ACK 0x10
#define RST 0x04
#define PSH 0x08

/* Handshake (RTT 1.5 ms + 0.5 ms), five 1000-byte segments of which the
 * fourth and fifth arrive swapped and the second is sent twice, then a
 * reset from the server. */
static void test_tcp_conversation(void **state)
{
  fx x;
  fx_open(&x, DLT_EN10MB);
  uint32_t c = 1000, s = 5000;
  int64_t t = T0;
  uint32_t bytes_c = 0, bytes_s = 0;
  pkt_spec seq[] = {
    tcp(true, SYN, c, 0, 0),
    tcp(false, SYN | ACK, s, c + 1, 0),
    tcp(true, ACK, c + 1, s + 1, 0),
    tcp(true, ACK | PSH, c + 1, s + 1, 1000),
    tcp(true, ACK | PSH, c + 1001, s + 1, 1000),
    tcp(true, ACK | PSH, c + 1001, s + 1, 1000), /* retransmission */
    tcp(true, ACK | PSH, c + 2001, s + 1, 1000),
    tcp(true, ACK | PSH, c + 4001, s + 1, 1000), /* ahead of the next one */
    tcp(true, ACK | PSH, c + 3001, s + 1, 1000), /* late, not a retransmission */
    tcp(false, ACK, s + 1, c + 5001, 0),
    tcp(false, RST, s + 1, 0, 0),
  };
  int64_t gaps[] = {0, 1500, 500, 100, 100, 100, 100, 100, 100, 100, 100};
  for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
    t += gaps[i];
    pkt_file_add(&x.pf, &seq[i], t, 0);
    *(seq[i].src[7] == '1' ? &bytes_c : &bytes_s) += pkt_ip_len(&seq[i]);
  }
  fx_meter(&x, NULL, shop, 2);
  assert_int_equal(x.nrows, 2);
  const collector_flow_row *r = row(&x, CLI, 40000, SRV, 80);
  assert_int_equal(r->packets, 8);
  assert_int_equal(r->bytes, bytes_c);
  assert_int_equal(r->bytes, 8 * 40 + 6000);
  assert_int_equal(r->syn_rtt_us, 1500);
  assert_int_equal(r->ack_rtt_us, 500);
  assert_int_equal(r->retransmits, 1);
  assert_int_equal(r->syns, 1);
  assert_string_equal(r->src_pod, "client");
  assert_string_equal(r->dst_namespace, "shop");
  assert_string_equal(r->proto, "tcp");
  const collector_flow_row *b = row(&x, SRV, 80, CLI, 40000);
  assert_int_equal(b->packets, 3);
  assert_int_equal(b->bytes, bytes_s);
  assert_int_equal(b->resets, 1);
  assert_int_equal(b->retransmits, 0);
  assert_int_equal(b->syn_rtt_us, -1);

  const char *fwd[] = {"node", "n1", "src_namespace", "shop", "src_pod", "client", "dst_namespace", "shop",
                       "dst_pod", "server", "dst_port", "80", NULL};
  assert_true(capture_val(&x.cap, "lookout_flow_bytes_total", fwd[0], fwd[1], fwd[2], fwd[3], fwd[4], fwd[5],
                          fwd[6], fwd[7], fwd[8], fwd[9], fwd[10], fwd[11], "proto", "tcp", NULL) == bytes_c);
  assert_true(capture_val(&x.cap, "lookout_flow_packets_total", "src_pod", "client", "proto", "tcp", NULL) == 8);
  assert_true(capture_val(&x.cap, "lookout_tcp_connections_total", "src_pod", "client", "dst_port", "80", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_tcp_retransmits_total", "src_pod", "client", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_tcp_rtt_seconds_count", "src_pod", "client", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_tcp_rtt_seconds_bucket", "src_pod", "client", "le", "0.001", NULL) == 0);
  assert_true(capture_val(&x.cap, "lookout_tcp_rtt_seconds_bucket", "src_pod", "client", "le", "0.0025", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_tcp_rtt_seconds_sum", "src_pod", "client", NULL) > 0.00199);
  /* the reply goes to the client's ephemeral port: dst_port "" */
  assert_true(capture_val(&x.cap, "lookout_flow_bytes_total", "src_pod", "server", NULL) == bytes_s);
  assert_int_equal(capture_count(&x.cap, NULL, "lookout_flow_bytes_total", "src_pod", "server", "dst_port", "40000",
                                 NULL), 0);
  assert_true(capture_val(&x.cap, "lookout_tcp_resets_total", "src_pod", "server", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_flow_meter_packets_total", "node", "n1", NULL) == 11);
  fx_close(&x);
}

/* IPv6 with hop-by-hop and destination options over QinQ, and ICMPv6. */
static void test_ipv6_qinq(void **state)
{
  fx x;
  fx_open(&x, DLT_EN10MB);
  pkt_spec u = {.src = "fd00::1", .dst = "fd00::2", .proto = 17, .sport = 5353, .dport = 53, .payload = 100,
                .vlan_tags = 2, .v6_ext = true};
  pkt_spec i = {.src = "fd00::2", .dst = "fd00::1", .proto = 58, .sport = 129, .payload = 56, .vlan_tags = 2};
  for (int k = 0; k < 3; k++)
    pkt_file_add(&x.pf, &u, T0 + k, 0);
  pkt_file_add(&x.pf, &i, T0 + 5, 0);
  collector_flow_pod pods[] = {{"fd00::1", "dns", "resolver"}};
  fx_meter(&x, NULL, pods, 1);
  assert_int_equal(x.nrows, 2);
  const collector_flow_row *r = row(&x, "fd00::1", 5353, "fd00::2", 53);
  assert_int_equal(r->packets, 3);
  assert_int_equal(r->bytes, 3 * (40 + 16 + 8 + 100));
  assert_string_equal(r->src_pod, "resolver");
  assert_string_equal(r->dst_pod, "world");
  const collector_flow_row *ic = row(&x, "fd00::2", 0, "fd00::1", 0);
  assert_int_equal(ic->icmp_type, 129);
  assert_string_equal(ic->proto, "icmp");
  assert_true(capture_val(&x.cap, "lookout_flow_bytes_total", "src_pod", "world", "proto", "icmp", NULL) ==
              40 + 8 + 56);
  assert_int_equal(x.st.decode_errors + x.st.truncated, 0);
  fx_close(&x);
}

/* Linux cooked captures: SLL and SLL2 decode; on a pod-side capture a
 * packet the host sends into a pod from another known pod is skipped. */
static void test_cooked(void **state)
{
  int types[] = {DLT_LINUX_SLL, DLT_LINUX_SLL2};
  for (int k = 0; k < 2; k++) {
    fx x;
    fx_open(&x, types[k]);
    pkt_spec u = {.src = CLI, .dst = SRV, .proto = 17, .sport = 999, .dport = 53, .payload = 10};
    pkt_file_add(&x.pf, &u, T0, 0);
    u.sll_outgoing = true;
    pkt_file_add(&x.pf, &u, T0 + 1, 0);
    fx_meter(&x, NULL, shop, 2);
    assert_int_equal(x.nrows, 1);
    assert_int_equal(x.rows[0].packets, 2); /* offline files are not pod-side */
    assert_int_equal(x.rows[0].bytes, 2 * 38);
    assert_int_equal(x.st.pod_duplicates, 0);
    fx_close(&x);
  }
}

/* A UDP datagram in three IPv4 fragments, one stray later fragment, and an
 * IPv6 datagram in two fragments. */
static void test_fragments(void **state)
{
  fx x;
  fx_open(&x, DLT_RAW);
  pkt_spec first = {.src = "10.0.0.3", .dst = "10.0.0.4", .proto = 17, .sport = 5000, .dport = 6000,
                    .payload = 1472, .frag = 1, .ip_id = 77};
  pkt_spec mid = {.src = "10.0.0.3", .dst = "10.0.0.4", .proto = 17, .payload = 1480, .frag = 2, .frag_off8 = 185,
                  .more_frags = true, .ip_id = 77};
  pkt_spec last = mid;
  last.frag_off8 = 370, last.more_frags = false, last.payload = 40;
  pkt_spec stray = last;
  stray.ip_id = 78;
  pkt_spec f6 = {.src = "fd00::3", .dst = "fd00::4", .proto = 17, .sport = 7000, .dport = 7001, .payload = 1000,
                 .frag = 1, .ip_id = 5};
  pkt_spec l6 = {.src = "fd00::3", .dst = "fd00::4", .proto = 17, .payload = 500, .frag = 2, .frag_off8 = 126,
                 .ip_id = 5};
  pkt_spec all[] = {first, mid, last, stray, f6, l6};
  for (int k = 0; k < 6; k++)
    pkt_file_add(&x.pf, &all[k], T0 + k, 0);
  fx_meter(&x, NULL, NULL, 0);
  const collector_flow_row *r = row(&x, "10.0.0.3", 5000, "10.0.0.4", 6000);
  assert_int_equal(r->packets, 3);
  assert_int_equal(r->bytes, 20 + 8 + 1472 + 20 + 1480 + 20 + 40);
  const collector_flow_row *s = row(&x, "10.0.0.3", 0, "10.0.0.4", 0);
  assert_int_equal(s->packets, 1);
  const collector_flow_row *v6 = row(&x, "fd00::3", 7000, "fd00::4", 7001);
  assert_int_equal(v6->packets, 2);
  assert_int_equal(v6->bytes, 48 + 8 + 1000 + 48 + 500);
  assert_int_equal(x.st.fragments, 4);
  assert_int_equal(x.st.fragments_unmatched, 1);
  fx_close(&x);
}

/* Frames cut short or lying about their headers are counted, not metered. */
static void test_truncated_malformed(void **state)
{
  fx x;
  fx_open(&x, DLT_EN10MB);
  pkt_spec t = tcp(true, SYN, 1, 0, 0);
  t.vlan_tags = 0;
  pkt_file_add(&x.pf, &t, T0, 10);      /* inside the Ethernet header */
  pkt_file_add(&x.pf, &t, T0 + 1, 30);  /* inside the IPv4 header */
  pkt_file_add(&x.pf, &t, T0 + 2, 44);  /* 10 bytes of TCP header */
  pkt_spec v6 = {.src = "fd00::1", .dst = "fd00::2", .proto = 17, .sport = 1, .dport = 2, .v6_ext = true};
  pkt_file_add(&x.pf, &v6, T0 + 3, 14 + 40 + 4); /* inside an extension header */
  uint8_t bad[64] = {0};
  bad[12] = 0x08, bad[14] = 0x43; /* IPv4 with IHL 3 */
  pkt_file_raw(&x.pf, bad, sizeof bad, T0 + 4);
  bad[14] = 0x45, bad[16] = 0, bad[17] = 10; /* total length below the header */
  pkt_file_raw(&x.pf, bad, sizeof bad, T0 + 5);
  uint8_t arp[42] = {0};
  arp[12] = 0x08, arp[13] = 0x06;
  pkt_file_raw(&x.pf, arp, sizeof arp, T0 + 6);
  pkt_file_add(&x.pf, &t, T0 + 7, 0); /* one good packet */
  fx_meter(&x, NULL, NULL, 0);
  assert_int_equal(x.st.truncated, 4);
  assert_int_equal(x.st.decode_errors, 2);
  assert_int_equal(x.st.non_ip, 1);
  assert_int_equal(x.st.packets, 1);
  assert_int_equal(x.nrows, 1);
  fx_close(&x);
}

/* max_flows evicts the least recently active flow; idle flows end after
 * idle_timeout in packet time; max_pairs folds new pairs into world. */
static void test_bounds(void **state)
{
  fx x;
  fx_open(&x, DLT_RAW);
  char src[16];
  for (int k = 0; k < 10; k++) {
    snprintf(src, sizeof src, "10.1.0.%d", k + 1);
    pkt_spec u = {.src = src, .dst = SRV, .proto = 17, .sport = 1000, .dport = 53, .payload = 1};
    pkt_file_add(&x.pf, &u, T0 + k * 1000, 0);
  }
  pkt_spec late = {.src = "10.1.0.99", .dst = SRV, .proto = 17, .sport = 1, .dport = 53, .payload = 1};
  pkt_file_add(&x.pf, &late, T0 + 120 * 1000000LL, 0);
  collector_flow_pod pods[] = {{"10.1.0.1", "a", "p1"}, {"10.1.0.2", "a", "p2"}, {"10.1.0.3", "a", "p3"}};
  collector_flow_opts o = {.max_flows = 4, .max_pairs = 2, .idle_timeout_ms = 60000};
  fx_meter(&x, &o, pods, 3);
  assert_int_equal(x.st.evicted, 6);
  assert_int_equal(x.st.expired, 4);
  assert_int_equal(x.st.flows_active, 1);
  assert_int_equal(x.nrows, 11); /* ended rows are kept offline */
  assert_int_equal(x.st.pairs_dropped, 9);
  assert_true(capture_val(&x.cap, "lookout_flow_packets_total", "src_pod", "p1", NULL) == 1);
  assert_true(capture_val(&x.cap, "lookout_flow_packets_total", "src_pod", "p2", NULL) == 1);
  assert_int_equal(capture_count(&x.cap, NULL, "lookout_flow_packets_total", "src_pod", "p3", NULL), 0);
  assert_true(capture_val(&x.cap, "lookout_flow_packets_total", "src_pod", "world", NULL) == 9);
  assert_true(capture_val(&x.cap, "lookout_flow_evictions_total", NULL) == 6);
  fx_close(&x);
}

static void test_bad_files(void **state)
{
  capture cap = {0};
  collector_flows *f = NULL;
  lk_diag d = {0};
  collector_flow_opts o = {0};
  assert_int_equal(collector_flows_new(&o, (collector_sink){capture_sink, &cap}, &f, &d), 0);
  assert_int_equal(collector_flows_read_file(f, "/nonexistent/x.pcap", &d), LK_ENOENT);
  char path[64];
  snprintf(path, sizeof path, "/tmp/test_flows_bad_%d.pcap", (int)getpid());
  FILE *w = fopen(path, "w");
  fputs("not a capture file at all, just text\n", w);
  fclose(w);
  memset(&d, 0, sizeof d);
  assert_int_equal(collector_flows_read_file(f, path, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, "flows:"));
  unlink(path);
  collector_flow_opts neg = {.snaplen = -1};
  collector_flows *g = NULL;
  assert_int_equal(collector_flows_new(&neg, (collector_sink){capture_sink, &cap}, &g, &d), LK_EINVAL);
  collector_flows_free(f);
  capture_fini(&cap);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tcp_conversation), cmocka_unit_test(test_ipv6_qinq),
    cmocka_unit_test(test_cooked),           cmocka_unit_test(test_fragments),
    cmocka_unit_test(test_truncated_malformed), cmocka_unit_test(test_bounds),
    cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
