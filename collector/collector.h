/* collector.h — the node metrics collector: container metrics from cgroup v1
 * and v2 (with Kubernetes, Docker, systemd and Lookout-pod discovery), node
 * metrics from /proc and /sys, and scraping of Prometheus targets.
 *
 * The collector produces batches of lk_series (lib/lk_labels.h) and hands
 * them to a {fn, ctx} sink; it knows nothing of storage or HTTP routes. One
 * cycle (collector_collect) reads everything once and calls the sink once
 * with every series of that cycle, each holding one sample stamped with the
 * cycle's time. Metric names and labels follow cAdvisor and node_exporter
 * (see shared/specs/cgroup-facts.md).
 *
 * Threads: a collector is used by one thread at a time (the caller's, or
 * the one collector_start runs). The sink runs on that thread.
 */
#ifndef COLLECTOR_H
#define COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"
#include "lib/lk_labels.h"

typedef struct collector collector;

/* Receives one cycle's series. The series and everything they point to are
 * borrowed for the duration of the call only. A non-zero return is counted
 * as a sink error; the collector keeps going. The series of one collector
 * come in the same order cycle after cycle (new and vanished containers
 * aside), which a collector_series_cache turns into lookups without
 * hashing. */
typedef int (*collector_sink_fn)(void *ctx, const lk_series *series, size_t n);
typedef struct collector_sink {
  collector_sink_fn fn;
  void *ctx;
} collector_sink;

/* One static scrape target (scrape_configs with static_configs). */
typedef struct collector_target {
  const char *job;        /* job label */
  const char *url;        /* http://host:port/metrics */
  int64_t interval_ms;    /* 0: the collector interval */
  int64_t timeout_ms;     /* 0: min(interval, 10 s) */
} collector_target;

/* Options; zero-initialise, then set what differs. Strings are copied. */
typedef struct collector_opts {
  const char *cgroup_root;    /* default /sys/fs/cgroup (v1 controllers below, or v2, or both) */
  const char *proc_root;      /* default /proc */
  const char *sys_root;       /* default /sys */
  const char *log_root;       /* default /var/log (pods/ and containers/ below) */
  const char *pod_log_dir;    /* Lookout pods' logs (<data>/pods), optional */
  const char *node;           /* `node` label; default: the host name */
  /* Optional kubelet pod list, e.g. http://127.0.0.1:10255/pods (the
   * read-only port; plain http only): names and `image` labels for
   * containers, re-read at each rescan. Without it names come from the log
   * layout only and `image` is not known. */
  const char *kubelet_url;
  int64_t interval_ms;        /* collector_start cycle period; default 5000 */
  int64_t rescan_ms;          /* container rediscovery period; default 10000 */
  /* Minimum period of a container's detail files (CPU user/system split and
   * throttling on v1, memory peak/failcnt/OOM/swap, block I/O, pids, PSI,
   * network); default 10000 (kubelet's housekeeping interval). Core files
   * (CPU usage, memory usage and working set, v2 cpu.stat) are read every
   * cycle. Detail values are repeated between reads, as cAdvisor does between
   * housekeepings; reads are staggered over containers. Set it <= interval_ms
   * to read everything every cycle. */
  int64_t detail_interval_ms;
  bool no_containers;         /* skip cgroup metrics */
  bool no_node;               /* skip node metrics */
  const collector_target *targets; /* scrape targets (borrowed during collector_new) */
  size_t ntargets;
  /* Optional: collector_free calls it with the sink's ctx after the last
   * sink call, for a sink whose state belongs to the collector. */
  void (*sink_fini)(void *ctx);
} collector_opts;

/* Counters since collector_new; read with collector_stats. */
typedef struct collector_stats {
  uint64_t cycles;
  uint64_t containers;        /* containers known after the last cycle */
  uint64_t series_last;       /* series handed to the sink in the last cycle */
  uint64_t read_errors;       /* unreadable files (not counting vanished containers) */
  uint64_t parse_errors;      /* malformed file contents */
  uint64_t vanished;          /* containers gone between discovery and reading */
  uint64_t sink_errors;
  uint64_t scrape_errors;
  uint64_t rescans;
  uint64_t rescan_walks;      /* rescans that walked the hierarchies (the others saw no
                                 directory change through inotify) */
  int64_t last_cycle_ns;      /* wall time the last cycle took */
} collector_stats;

/* Create a collector. Fails with LK_EINVAL (diag says why) on bad options;
 * nothing is read until the first collect. */
int collector_new(const collector_opts *o, collector_sink sink, collector **out, lk_diag *d);
void collector_free(collector *c); /* stops the thread if running; NULL is fine */

/* Run one cycle now, stamping samples with now_ms (0: the wall clock).
 * Rediscovers containers when rescan_ms has passed. Errors reading single
 * files are counted, not returned; returns 0 or the sink's error. */
int collector_collect(collector *c, int64_t now_ms);

/* Run cycles every interval_ms on a thread of the collector's own until
 * collector_stop. Returns LK_EEXIST when already running, or the negated
 * errno of pthread_create when the thread cannot start. */
int collector_start(collector *c);
void collector_stop(collector *c);

/* Force rediscovery on the next cycle (e.g. after creating a cgroup). */
void collector_rescan(collector *c);

void collector_stats_get(collector *c, collector_stats *out);

/* Raise the soft open-file limit to the hard limit: the collector keeps one
 * descriptor open per read cgroup file (about 15 per container). Process-wide,
 * so only main/ and benchmarks call it. */
void collector_raise_fd_limit(void);

/*---- series cache: what a sink keeps per series between cycles ----*/

/* Label set → a value and bytes of the sink's own (a tsdb ref; the
 * remote_write encoding of the labels), as Prometheus's scrape cache keeps
 * refs: exact (keys compared byte for byte, labels in the order given), and
 * a series where it was last cycle costs one comparison, no hashing.
 * Entries not seen for 8 calls go once the cache holds twice the series of
 * a call. Used by one thread at a time (the sink's). */
typedef struct collector_series_cache collector_series_cache;
collector_series_cache *collector_series_cache_new(void);
void collector_series_cache_free(collector_series_cache *c); /* NULL is fine */

/* out[i] = the entry of s[i] (created when new: no value, no bytes), valid
 * until the next call. */
void collector_series_cache_map(collector_series_cache *c, const lk_series *s, size_t n,
                                uint32_t *out);
/* false (and *v = 0) until set_value. */
bool collector_series_cache_value(const collector_series_cache *c, uint32_t e, uint64_t *v);
void collector_series_cache_set_value(collector_series_cache *c, uint32_t e, uint64_t v);
/* NULL (and *len = 0) until set_bytes; bytes are copied. The pointer is
 * valid until the next set_bytes or map. */
const uint8_t *collector_series_cache_bytes(const collector_series_cache *c, uint32_t e, size_t *len);
void collector_series_cache_set_bytes(collector_series_cache *c, uint32_t e, const void *p, size_t n);

typedef struct collector_series_cache_stats {
  uint64_t hits;       /* series found where they were last call (one comparison) */
  uint64_t lookups;    /* series found by hash (moved) */
  uint64_t added;      /* new entries */
  uint64_t dropped;    /* entries dropped as unseen */
  uint64_t entries;    /* now */
  uint64_t pool_bytes; /* keys and bytes held */
} collector_series_cache_stats;
void collector_series_cache_stats_get(const collector_series_cache *c, collector_series_cache_stats *out);

/*---- /metrics page ----*/

/* Append series as exposition text 0.0.4: grouped by metric name, each
 * family with # HELP and # TYPE (counter for *_total, gauge otherwise; series
 * of scraped targets untyped), no timestamps. Passes `promtool check metrics`
 * for what the collector itself produces. */
void collector_format_metrics(const lk_series *s, size_t n, lk_buf *out);

/*---- the push path: remote_write with a bounded on-disk queue ----*/

typedef struct collector_pusher collector_pusher;

typedef struct collector_push_opts {
  const char *url;             /* remote_write endpoint, http:// or https:// (required) */
  const char *queue_dir;       /* on-disk queue directory (created; required) */
  uint64_t queue_max_bytes;    /* bound of the queue; 0: 256 MiB. Oldest dropped first */
  size_t max_series_per_send;  /* 0: 2000 (as Prometheus' max_samples_per_send) */
  const char *bearer_token;    /* optional Authorization: Bearer */
  const char *ca_file;         /* https: PEM CA file to trust, or NULL = the system's */
  int timeout_ms;              /* per request; 0: 10 s */
  int64_t backoff_min_ms;      /* 0: 100 ms */
  int64_t backoff_max_ms;      /* 0: 5 s */
} collector_push_opts;

typedef struct collector_push_stats {
  uint64_t sent_requests, sent_samples;
  uint64_t failed_attempts;            /* network errors, 5xx, 429: retried */
  uint64_t rejected_requests, rejected_samples; /* 4xx other than 429: dropped */
  uint64_t dropped_requests, dropped_samples;   /* queue bound hit: oldest dropped */
  uint64_t queued_requests, queued_bytes;       /* waiting now */
  uint64_t label_encodings;    /* series whose labels were encoded (first seen); the rest
                                  reused the bytes of an earlier cycle */
} collector_push_stats;

/* Open (or reopen, keeping what a previous run left) the queue. Nothing is
 * sent until collector_pusher_start. */
int collector_pusher_new(const collector_push_opts *o, collector_pusher **out, lk_diag *d);
/* Stops the sender; what is still queued stays on disk for the next run. */
void collector_pusher_free(collector_pusher *p);
/* A sink that encodes batches as remote_write requests and queues them. */
collector_sink collector_pusher_sink(collector_pusher *p);
int collector_pusher_start(collector_pusher *p); /* the sender thread; as collector_start */
void collector_pusher_stop(collector_pusher *p);
/* Wait until the queue is empty or timeout_ms passes: 0 or LK_ETIMEOUT. */
int collector_pusher_flush(collector_pusher *p, int timeout_ms);
void collector_pusher_stats_get(collector_pusher *p, collector_push_stats *out);

/*---- network flows (libpcap) ----*/

/* The flow meter: decodes packets (Ethernet, 802.1Q/QinQ, Linux cooked
 * SLL/SLL2, raw IP; IPv4 with fragments, IPv6 with extension headers; TCP,
 * UDP, ICMP), keeps a bounded table of flows keyed by 5-tuple and direction
 * with TCP state (handshake RTT, retransmits, resets, zero windows), maps
 * addresses to pods and emits, every interval_ms, the series
 *   lookout_flow_bytes_total, lookout_flow_packets_total
 *     {node, src_namespace, src_pod, dst_namespace, dst_pod, dst_port, proto}
 *   lookout_tcp_connections_total, lookout_tcp_retransmits_total,
 *   lookout_tcp_resets_total, lookout_tcp_rtt_seconds_{bucket,sum,count}
 *     {node, src_namespace, src_pod, dst_namespace, dst_pod, dst_port}
 *   lookout_flow_* self-metrics (decode errors, evictions, pcap drops, ...)
 * through a collector_sink. Unknown addresses are namespace "" pod "world".
 * dst_port is the flow's destination port when below 32768 or a port a TCP
 * SYN went to (a listening port), else "" (replies to ephemeral ports); ""
 * for ICMP and other protocols. Labels with an empty
 * value are left out of the series (storage refuses empty values).
 *
 * Threads: one capture thread per interface, one emit thread
 * (collector_flows_start); every function may be called from any thread. */
typedef struct collector_flows collector_flows;

typedef struct collector_flow_opts {
  const char *node;              /* `node` label; default the host name */
  const char *bpf_filter;        /* optional; "" or NULL: everything */
  int snaplen;                   /* 0: 128 (headers only) */
  int buffer_bytes;              /* pcap_set_buffer_size; 0: 4 MiB */
  size_t max_flows;              /* flow table bound; 0: 65536; evictions counted */
  int64_t idle_timeout_ms;       /* 0: 60 s */
  int64_t active_timeout_ms;     /* 0: 5 min */
  size_t max_pairs;              /* distinct (src pod, dst pod, port, proto) label sets; 0: 10000;
                                    past it new pairs fold into world, drops counted */
  int64_t interval_ms;           /* how often the series go to the sink; 0: 5 s */
} collector_flow_opts;

/* A known address -> pod mapping (strings copied). */
typedef struct collector_flow_pod {
  const char *addr;              /* textual IPv4/IPv6 address */
  const char *namespace_, *pod;
} collector_flow_pod;

/* Create a meter (no capture yet). LK_EINVAL with a diag on bad options. */
int collector_flows_new(const collector_flow_opts *o, collector_sink sink, collector_flows **out, lk_diag *d);
void collector_flows_free(collector_flows *f); /* stops capture and the emit thread; NULL fine */

/* Start capturing on an interface (its own thread). pod_side: the host side of
 * a pod's veth: what the pod sends is metered there, so pod-to-pod packets
 * count once (traffic into pods from beyond the node's pods is metered on
 * the other interfaces, e.g. the uplink in pcap_interfaces). Without
 * privilege: LK_EPERM with one clear diag; the caller logs it and goes on.
 * LK_EEXIST when already capturing on ifname. */
int collector_flows_add_interface(collector_flows *f, const char *ifname, bool pod_side, lk_diag *d);
void collector_flows_remove_interface(collector_flows *f, const char *ifname); /* unknown: no-op */

/* Replace the address -> pod table (thread-safe). Bad addresses are skipped. */
void collector_flows_set_pods(collector_flows *f, const collector_flow_pod *p, size_t n);

/* Emit the series now, stamped now_ms (0: the wall clock); also done every
 * interval_ms by the emit thread. Returns 0 or the sink's error. */
int collector_flows_flush(collector_flows *f, int64_t now_ms);
int collector_flows_start(collector_flows *f); /* the emit thread; LK_EEXIST when running */
void collector_flows_stop(collector_flows *f);

/* Offline: meter a capture file with the same code path as live capture;
 * prints nothing itself (main/cmd_flows.c prints the table). Packet times
 * drive the timeouts. */
int collector_flows_read_file(collector_flows *f, const char *path, lk_diag *d);

/* One flow (one direction) as `lookout flows` prints it. */
typedef struct collector_flow_row {
  char src[48], dst[48];         /* textual addresses */
  uint16_t src_port, dst_port;   /* 0 for ICMP (type/code in icmp_type/icmp_code) */
  uint8_t ip_proto;              /* 6, 17, 1, 58, ... */
  uint8_t icmp_type, icmp_code;
  const char *proto;             /* "tcp" | "udp" | "icmp" | "other" (static) */
  char src_namespace[64], src_pod[128], dst_namespace[64], dst_pod[128];
  uint64_t packets, bytes;       /* bytes: IP length on the wire */
  int64_t first_ms, last_ms;
  uint32_t retransmits, resets, zero_windows, syns, fins;
  int64_t syn_rtt_us;            /* SYN -> SYN-ACK (on the SYN's flow); -1 unknown */
  int64_t ack_rtt_us;            /* SYN-ACK -> ACK (on the SYN's flow); -1 unknown */
  bool ended;                    /* expired or evicted (rows of ended flows are kept for the table) */
} collector_flow_row;

/* The current flow table plus flows ended since the last call, oldest first
 * (*rows malloc'd; the caller frees). */
int collector_flows_table(collector_flows *f, collector_flow_row **rows, size_t *n);

/* The same rows one at a time, without holding them all: flows ended since
 * the last call first, then the table, least recently active first. fn runs
 * under the meter's lock (it must not call back into f). */
typedef void (*collector_flow_row_fn)(void *ctx, const collector_flow_row *r);
void collector_flows_table_each(collector_flows *f, collector_flow_row_fn fn, void *ctx);

typedef struct collector_flows_stats {
  uint64_t packets, bytes;       /* IP packets metered */
  uint64_t decode_errors;        /* malformed headers (bad version, length, offsets) */
  uint64_t truncated;            /* shorter than their headers (snaplen or bad file) */
  uint64_t non_ip;               /* other link or network protocols (ARP, LLDP, ...) */
  uint64_t fragments;            /* IPv4/IPv6 non-first fragments seen */
  uint64_t fragments_unmatched;  /* of which no first fragment was known: counted as port 0 */
  uint64_t flows_created, flows_active;
  uint64_t expired;              /* idle or active timeout */
  uint64_t evicted;              /* table full: the oldest idle flow made room */
  uint64_t pairs_dropped;        /* label sets past max_pairs, folded into world */
  uint64_t pod_duplicates;       /* pod-to-pod packets seen again on the receiver's veth: skipped */
  uint64_t pcap_drops, pcap_if_drops; /* pcap_stats ps_drop and ps_ifdrop, summed */
  uint64_t interfaces;           /* capturing now */
} collector_flows_stats;
void collector_flows_stats_get(collector_flows *f, collector_flows_stats *out);

#endif
