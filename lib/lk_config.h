/* lk_config.h — the server/agent configuration file (YAML, libyaml).
 *
 * Keys follow DESIGN.md ("Config file"), with Prometheus and Alertmanager
 * names where they exist. Read by `lookout server` [S], `lookout agent` [A]
 * and `lookout up` (both):
 *
 *   listen: 127.0.0.1:9470                                              [S]
 *   data: ./data                                                        [S A]
 *   storage:   { retention: 15d, rollup_retention: 0, retention_size: 0, ooo_window: 0s, [S]
 *                fsync: interval|batch|never, block_range: 2h (up: 6m40s), query_cache_size: 64MiB,
 *                log_block_size: 2MiB, log_wal_size: 256MiB, log_segment_size: 64MiB }
 *   collector: { interval: 5s, cgroup_root: /sys/fs/cgroup, log_paths: [...],   [A]
 *                flows: { pods: true } }   (flows.pods: lookout up only)
 *   agent:     { server: URL, metrics_url: URL, logs_url: URL }     [A only, not up]
 *              (metrics_url: any remote_write receiver, e.g. VictoriaMetrics;
 *               logs_url: any Loki push receiver; both default to server)
 *   global:    { scrape_interval: 15s, scrape_timeout: 10s }           [A]
 *              { evaluation_interval: 15s, external_labels: {k: v} }  [S]
 *   rule_files: [ rules/a.yaml ]  (globs, relative to the config file) [S]
 *   evaluation_interval: 15s      (same as global.evaluation_interval) [S]
 *   builtin_rules: true           (Lookout's own health rules)         [S]
 *   external_url: http://host:9470 (alert links, $externalURL)          [S]
 *   scrape_configs: [ { job_name, scrape_interval, scrape_timeout, metrics_path,   [A]
 *                       scheme: http, static_configs: [ { targets: [...] } ] } ]
 *   orchestrator: { enabled: true, runtime: runc, manifests: [...], sync_period: 1s,   [S]
 *                   pod_cidr: 10.88.0.0/16,
 *                   hpa_sync_period: 15s, hpa_cpu_initialization_period: 5m,
 *                   hpa_initial_readiness_delay: 30s, hpa_downscale_stabilization: 5m,
 *                   hpa_metric_window: 60s }
 *   auth:      { token_file: ./data/token, require_token: false,      [S]
 *                require_read_token: false }   (token file format: lib/lk_token.h)
 *   server:    { max_connections: 1024, max_connections_per_ip: 256,   [S]
 *                idle_timeout: 2m, request_timeout: 5m }
 *   tls:       { cert_file: server.crt, key_file: server.key }   (optional: serve HTTPS) [S]
 *   external_metrics: [ { name: queue_depth, query: "sum(rabbitmq_queue_messages)" } ]   [S]
 *              (external.metrics.k8s.io and the autoscaler's External metrics)
 *   limits:    { max_body_size: 16MiB, max_decoded_size: 256MiB, max_import_size: 64GiB,   [S]
 *                max_line_size: 1MiB, max_labels: 64, max_label_name_length: 256,
 *                max_label_value_length: 4096, max_series: 5000000, max_match: 64,
 *                max_query_samples: 50000000, query_timeout: 2m, max_render_series: 20 }
 *
 * Delegated to the module that reads them from the same file (accepted
 * here whatever their value, read and checked there, `lookout server`
 * only): route, receivers, inhibit_rules, time_intervals,
 * mute_time_intervals, alerting, global.resolve_timeout (alerting/am_config.c,
 * Alertmanager's and Prometheus's shapes).
 *
 * Parsed but refused until their module lands ("key X is not supported
 * yet", unless the value is empty): static_configs' labels (and a scrape scheme other than http). A key the
 * reading program does not use (collector.* for `lookout server`, limits.*
 * for `lookout agent`) is refused too, so no key is silently ignored.
 *
 * Durations use Prometheus syntax (`90s`, `1h30m`); sizes are bytes with an
 * optional unit (`512`, `64KiB`, `16MiB`, `1GB`, `2GiB`). Unknown keys and bad
 * values are errors naming the file, line and key; limits, retention and
 * block_range must be greater than 0. Every field has a default
 * (lk_config_init), so a missing file section means "defaults"; every CLI
 * flag overrides its key by assigning the field after loading.
 *
 * Adding a key: a field here, its default in lk_config_init, one line in the
 * section's table in lk_config.c saying which programs act on it (and a free
 * in lk_config_fini if it owns memory).
 */
#ifndef LK_CONFIG_H
#define LK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_err.h"
#include "lib/lk_labels.h"

/* A list of owned strings. */
typedef struct lk_strlist {
  char **v;
  size_t n;
} lk_strlist;

typedef struct lk_static_config {
  lk_strlist targets;
  lk_label *labels; /* owned names and values */
  size_t nlabels;
} lk_static_config;

typedef struct lk_scrape_config {
  char *job_name;
  int64_t scrape_interval_ms; /* default: global.scrape_interval */
  int64_t scrape_timeout_ms;  /* default: global.scrape_timeout (capped at the interval) */
  char *metrics_path;         /* default /metrics */
  char *scheme;               /* default http */
  lk_static_config *static_configs;
  size_t nstatic;
} lk_scrape_config;

/* A named PromQL query served as an external metric. */
typedef struct lk_external_metric {
  char *name;
  char *query;
} lk_external_metric;

typedef struct lk_config {
  char *path;    /* file loaded, or NULL */
  char *listen;  /* 127.0.0.1:9470 */
  char *data;    /* ./data */
  struct {
    int64_t retention_ms;     /* 15d */
    int64_t rollup_retention_ms; /* 0 = as retention (rollups go with their block) */
    uint64_t retention_size;  /* bytes, 0 = off */
    int64_t ooo_window_ms;    /* 0 */
    char *fsync;              /* "interval" (default), "batch", "never" */
    int64_t block_range_ms;   /* 0 (unset): the program's, LK_BLOCK_RANGE_SERVER_MS or _UP_MS */
    uint64_t query_cache_size; /* bytes of decoded block chunks kept for queries; 64MiB, 0 = off */
    uint64_t log_block_size;   /* log store: seal a stream's head at this many bytes; 0 = 2MiB */
    uint64_t log_wal_size;     /* log store: seal every head (then retention) past this; 0 = 256MiB */
    uint64_t log_segment_size; /* log store: start a new segment file past this; 0 = 64MiB */
  } storage;
  struct {
    int64_t interval_ms;      /* 5s */
    int64_t detail_interval_ms; /* 10s; <= interval: every cgroup file every cycle */
    char *cgroup_root;        /* /sys/fs/cgroup */
    lk_strlist log_paths;     /* Kubernetes pod logs (see lk_config_init) */
    lk_strlist pcap_interfaces; /* [] : interfaces the flow meter captures on */
    struct {                  /* collector.flows: the flow meter (collector.h, "network flows") */
      char *bpf_filter;       /* NULL: every packet */
      uint64_t snaplen;       /* 128 */
      uint64_t buffer_size;   /* bytes, 4MiB */
      uint64_t max_flows;     /* 65536 */
      int64_t idle_timeout_ms;   /* 60s */
      int64_t active_timeout_ms; /* 5m */
      uint64_t max_pairs;     /* 10000 */
      bool pods;              /* true: `lookout up` as root meters its pods' veths too */
    } flows;
  } collector;
  struct {
    int64_t scrape_interval_ms;     /* 15s */
    int64_t scrape_timeout_ms;      /* 10s */
    lk_label *external_labels;      /* owned; added to alerts (and templates' $externalLabels) */
    size_t nexternal_labels;
  } global;
  struct {
    char *server;                   /* NULL: --server; a Lookout server for metrics and logs */
    char *metrics_url;              /* NULL: server's /api/v1/write; any remote_write receiver */
    char *logs_url;                 /* NULL: server; base URL of any Loki push receiver */
  } agent;
  lk_scrape_config *scrape_configs;
  size_t nscrape_configs;
  lk_strlist rule_files;            /* globs; relative ones against the config file's directory */
  int64_t evaluation_interval_ms;   /* 15s; also global.evaluation_interval (Prometheus's spelling) */
  bool builtin_rules;               /* true: Lookout's own health rules run beside rule_files */
  char *external_url;               /* NULL: http://<listen>; templates' $externalURL, generatorURL */
  lk_external_metric *external_metrics; /* [] */
  size_t nexternal_metrics;
  struct {
    bool enabled;                   /* true */
    char *runtime;                  /* "runc" (or "crun", or a path) */
    char *pod_cidr;                 /* "10.88.0.0/16": addresses of pods with hostNetwork: false */
    lk_strlist manifests;           /* [] : YAML files (globs) applied at start */
    int64_t sync_period_ms;         /* 1s: controller resync */
    /* The autoscaler, as kube-controller-manager's --horizontal-pod-autoscaler-* flags: */
    int64_t hpa_sync_period_ms;     /* 15s */
    int64_t hpa_cpu_initialization_period_ms; /* 5m */
    int64_t hpa_initial_readiness_delay_ms;   /* 30s */
    int64_t hpa_downscale_stabilization_ms;   /* 5m */
    int64_t hpa_metric_window_ms;   /* 60s: the CPU rate window (metrics-server's resolution) */
  } orchestrator;
  struct {
    char *token_file;               /* <data>/token when unset (NULL) */
    bool require_token;             /* false: write endpoints need the token only beyond loopback */
    bool require_read_token;        /* false: reads are open */
  } auth;
  struct {
    uint64_t max_connections;        /* 1024 open connections in total */
    uint64_t max_connections_per_ip; /* 256 from one client address */
    int64_t idle_timeout_ms;         /* 2m: a connection sending nothing is closed */
    int64_t request_timeout_ms;      /* 5m: request headers must arrive within it, and a body
                                        still arriving after it must average 64 KiB/s */
  } server;
  struct {
    char *cert_file;                /* PEM certificate (chain); NULL = plain HTTP */
    char *key_file;                 /* PEM private key */
  } tls;
  struct {
    uint64_t max_body_size;         /* 16 MiB: remote_write / push bodies as sent */
    uint64_t max_decoded_size;      /* 256 MiB: decoded remote_write bodies */
    uint64_t max_import_size;       /* 64 GiB: streamed import bodies */
    uint64_t max_line_size;         /* 1 MiB: exposition lines */
    uint64_t max_labels;            /* 64 per series */
    uint64_t max_label_name_length; /* 256 bytes */
    uint64_t max_label_value_length; /* 4096 bytes */
    uint64_t max_series;            /* 5,000,000 */
    uint64_t max_match;             /* 64 match[] per request */
    uint64_t max_query_samples;     /* 50,000,000 */
    int64_t query_timeout_ms;       /* 2m */
    uint64_t max_render_series;     /* 20 lines per /api/v1/render graph */
  } limits;
} lk_config;

/* The program reading the file (lk_config_parse's `reader`, a bit set):
 * a key the reader would not act on stops the load, naming the key and who
 * reads it, instead of being silently ignored. `lookout up` is both. */
enum {
  LK_CONFIG_SERVER = 1u,  /* storage, API, rules, orchestrator */
  LK_CONFIG_COLLECT = 2u, /* the collector (in `lookout agent` and in `lookout up`) */
  LK_CONFIG_PUSH = 4u,    /* pushing to remote targets (`lookout agent` only) */
  LK_CONFIG_AGENT = LK_CONFIG_COLLECT | LK_CONFIG_PUSH,
  LK_CONFIG_UP = LK_CONFIG_SERVER | LK_CONFIG_COLLECT,
};

/* storage.block_range when the file does not set it. `lookout up` cuts its
 * head into blocks sooner: the head keeps up to 1.5 block ranges of sealed
 * chunks in memory, and a node agent's 30,000 series at 1 s seal about
 * 2 MB of them a minute, so 2 h grew `lookout up` past 200 MB. Its range is
 * a ninth of an hour (6m40s), not 10m: compaction merges windows of 3, 9,
 * 27… block ranges, and only when those are whole hours does no hourly
 * rollup bucket straddle two blocks (a straddled bucket gives two partial
 * records of one hour, and the rate[5m] tails read only the first). */
#define LK_BLOCK_RANGE_SERVER_MS (2LL * 3600 * 1000)
#define LK_BLOCK_RANGE_UP_MS (3600LL * 1000 / 9)
/* The block range the program `reader` (LK_CONFIG_SERVER or _UP) uses. */
int64_t lk_config_block_range(const lk_config *c, unsigned reader);

/* Fill every field with its default (allocates; free with lk_config_fini). */
void lk_config_init(lk_config *c);
/* Parse YAML text (name is used in messages) over a config holding defaults.
 * On error c is unchanged and the diag reads "<name>:<line>: <problem>";
 * keys of modules not built yet read "<name>:<line>: key X is not supported yet". */
int lk_config_parse(lk_config *c, const char *text, size_t len, const char *name, unsigned reader,
                    lk_diag *d);
/* Read and parse a file (LK_ENOENT / LK_EIO with the path in the diag). */
int lk_config_load(lk_config *c, const char *path, unsigned reader, lk_diag *d);
/* Replace an owned string field (copies v; NULL clears). */
void lk_config_set(char **field, const char *v);
void lk_config_fini(lk_config *c);
/* A config file's text with the value of every secret key (password,
 * credentials, bearer_token, token, secret, api_key, smtp_auth_password)
 * shown as <secret>, as Prometheus and Alertmanager show their config.
 * Returns a malloc'ed string (the caller frees). */
char *lk_config_mask_secrets(const char *text);

/* `16MiB`, `64KiB`, `1GB`, `512` → bytes. LK_EPARSE on bad syntax/overflow. */
int lk_parse_size(const char *s, uint64_t *out, lk_diag *d);

#endif
