/* cmd_flows.c — `lookout flows FILE.pcap`: meter a capture file offline
 * with the collector's flow meter (the same decoder, table and TCP state as
 * live capture) and print the flow table, one line per flow and direction
 * (ended flows first, then the rest least recently active first, streamed
 * from the meter, not copied), then one summary line on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "lib/lk_time.h"
#include "main/cmd.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: lookout flows FILE.pcap [--filter BPF] [--max-flows N] [--idle-timeout DUR]\n"
          "                               [--active-timeout DUR]\n\n"
          "Meters a capture file (pcap or pcapng: Ethernet, 802.1Q/QinQ, Linux cooked\n"
          "SLL/SLL2 or raw IP) as the collector meters live traffic and prints every\n"
          "flow (one per direction): packets, IP bytes, TCP handshake RTTs (SYN to\n"
          "SYN-ACK, SYN-ACK to ACK), retransmits, resets and zero windows.\n\n"
          "  --filter BPF          only packets matching the filter (tcpdump syntax)\n"
          "  --max-flows N         flow table bound (default 65536 per the collector;\n"
          "                        here 4194304); the least recently active flow is evicted\n"
          "  --idle-timeout DUR    end a flow idle this long, in packet time (default 60s)\n"
          "  --active-timeout DUR  end and restart a flow this old (default 5m)\n");
}

static int noop_sink(void *ctx, const lk_series *s, size_t n) { return 0; }

static void ms_str(int64_t us, char *out, size_t cap)
{
  if (us < 0)
    snprintf(out, cap, "-");
  else
    snprintf(out, cap, "%.3f", (double)us / 1000.0);
}

static void print_row(void *ctx, const collector_flow_row *r)
{
  char src[64], dst[64], syn[24], ack[24];
  const char *fmt = strchr(r->src, ':') ? "[%s]:%u" : "%s:%u";
  snprintf(src, sizeof src, fmt, r->src, r->src_port);
  snprintf(dst, sizeof dst, fmt, r->dst, r->dst_port);
  ms_str(r->syn_rtt_us, syn, sizeof syn);
  ms_str(r->ack_rtt_us, ack, sizeof ack);
  char proto[16];
  if (!strcmp(r->proto, "icmp"))
    snprintf(proto, sizeof proto, "icmp/%u.%u", r->icmp_type, r->icmp_code);
  else if (!strcmp(r->proto, "other"))
    snprintf(proto, sizeof proto, "ip/%u", r->ip_proto);
  else
    snprintf(proto, sizeof proto, "%s", r->proto);
  printf("%-10s %-46s %-46s %9llu %12llu %10.3f %8s %8s %6u %6u %6u\n", proto, src, dst,
         (unsigned long long)r->packets, (unsigned long long)r->bytes, (double)(r->last_ms - r->first_ms) / 1000.0,
         syn, ack, r->retransmits, r->resets, r->zero_windows);
}

static int parse_args(int argc, char **argv, collector_flow_opts *o, const char **file)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    lk_diag d = {0};
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 1;
    } else if (!strcmp(a, "--filter") && v) {
      o->bpf_filter = v;
    } else if (!strcmp(a, "--max-flows") && v) {
      char *end;
      long long n = strtoll(v, &end, 10);
      if (*end || n <= 0) {
        fprintf(stderr, "lookout flows: --max-flows wants a positive number, not \"%s\"\n", v);
        return 2;
      }
      o->max_flows = (size_t)n;
    } else if ((!strcmp(a, "--idle-timeout") || !strcmp(a, "--active-timeout")) && v) {
      int64_t *dst = a[2] == 'i' ? &o->idle_timeout_ms : &o->active_timeout_ms;
      if (lk_parse_duration(v, dst, &d) || *dst <= 0) {
        fprintf(stderr, "lookout flows: %s: bad duration \"%s\"\n", a, v);
        return 2;
      }
    } else if (a[0] != '-' && !*file) {
      *file = a;
      continue;
    } else {
      fprintf(stderr, "lookout flows: unexpected argument \"%s\" (try lookout flows --help)\n", a);
      return 2;
    }
    i++;
  }
  if (!*file) {
    usage(stderr);
    return 2;
  }
  return 0;
}

int cmd_flows(int argc, char **argv)
{
  collector_flow_opts o = {.max_flows = 4u << 20, .node = "offline"};
  const char *file = NULL;
  int rc = parse_args(argc, argv, &o, &file);
  if (rc)
    return rc == 1 ? 0 : rc;
  collector_flows *f = NULL;
  lk_diag d = {0};
  if (collector_flows_new(&o, (collector_sink){noop_sink, NULL}, &f, &d)) {
    fprintf(stderr, "lookout flows: %s\n", d.msg);
    return 2;
  }
  rc = collector_flows_read_file(f, file, &d);
  if (rc)
    fprintf(stderr, "lookout flows: %s\n", d.msg);
  printf("%-10s %-46s %-46s %9s %12s %10s %8s %8s %6s %6s %6s\n", "PROTO", "SOURCE", "DESTINATION", "PACKETS",
         "BYTES", "SECONDS", "SYN_MS", "ACK_MS", "RETX", "RST", "ZWIN");
  collector_flows_table_each(f, print_row, NULL);
  collector_flows_stats s;
  collector_flows_stats_get(f, &s);
  fprintf(stderr,
          "lookout flows: %llu packets, %llu bytes, %llu flows; %llu truncated, %llu malformed, %llu not IP, "
          "%llu fragments (%llu without their first), %llu evicted\n",
          (unsigned long long)s.packets, (unsigned long long)s.bytes, (unsigned long long)s.flows_created,
          (unsigned long long)s.truncated, (unsigned long long)s.decode_errors, (unsigned long long)s.non_ip,
          (unsigned long long)s.fragments, (unsigned long long)s.fragments_unmatched, (unsigned long long)s.evicted);
  collector_flows_free(f);
  return rc ? 1 : 0;
}
