/* test_config.c — lib/lk_config.c: defaults, the README sample, CLI-style
 * overrides, errors naming the line and key, and keys refused because
 * nothing acts on them (not built yet, or not read by that program). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_config.h"

/* The README's sample, keys every program of `lookout up` acts on. */
static const char design_example[] =
    "listen: 127.0.0.1:9470\n"
    "data: ./data\n"
    "storage:   { retention: 15d, retention_size: 0 }\n"
    "collector: { interval: 5s, detail_interval: 1s, cgroup_root: /sys/fs/cgroup, log_paths: [/var/log/pods/*/*/*.log], pcap_interfaces: [] }\n"
    "global: { scrape_interval: 15s, scrape_timeout: 10s }\n"
    "scrape_configs: [ { job_name: app, scrape_interval: 15s, static_configs: [ { targets: [127.0.0.1:8080] } ] } ]\n"
    "rule_files: []\n"
    "auth:      { token_file: ./data/token }\n"
    "limits:    { max_query_samples: 1000, query_timeout: 30s, max_render_series: 5 }\n";

static void test_defaults(void **state)
{
  lk_config c;
  lk_config_init(&c);
  assert_string_equal(c.listen, "127.0.0.1:9470");
  assert_string_equal(c.data, "./data");
  assert_int_equal(c.storage.retention_ms, 15LL * 86400 * 1000);
  assert_int_equal(c.collector.interval_ms, 5000);
  assert_int_equal(c.collector.detail_interval_ms, 10000);
  assert_int_equal(c.limits.max_body_size, 16u << 20);
  assert_true(c.orchestrator.enabled);
  assert_string_equal(c.orchestrator.pod_cidr, "10.88.0.0/16");
  assert_true(c.collector.flows.pods);
  assert_null(c.auth.token_file);
  lk_config_fini(&c);
  /* pod networking and the pods' flow meter, as `lookout up` reads them */
  static const char text[] = "collector: { flows: { pods: false } }\norchestrator: { pod_cidr: 10.90.0.0/24 }\n";
  lk_config_init(&c);
  lk_diag d = {0};
  assert_int_equal(lk_config_parse(&c, text, strlen(text), "x.yaml", LK_CONFIG_UP, &d), 0);
  assert_false(c.collector.flows.pods);
  assert_string_equal(c.orchestrator.pod_cidr, "10.90.0.0/24");
  lk_config_fini(&c);
}

/* `lookout up` cuts its head into blocks every 6m40s (a ninth of an hour,
 * so compaction windows stay whole hours) unless the file says otherwise
 * (its head's sealed chunks grew it past 200 MB at 2 h); `lookout server`
 * keeps 2 h. */
static void test_block_range_per_program(void **state)
{
  (void)state;
  lk_config c;
  lk_config_init(&c);
  assert_int_equal(lk_config_block_range(&c, LK_CONFIG_UP), 400000);
  assert_int_equal(lk_config_block_range(&c, LK_CONFIG_SERVER), 2 * 3600000);
  static const char text[] = "storage:\n  block_range: 2h\n";
  lk_diag d = {0};
  assert_int_equal(lk_config_parse(&c, text, strlen(text), "x.yaml", LK_CONFIG_UP, &d), 0);
  assert_int_equal(lk_config_block_range(&c, LK_CONFIG_UP), 2 * 3600000);
  static const char other[] = "storage:\n  retention: 1d\n";
  assert_int_equal(lk_config_parse(&c, other, strlen(other), "x.yaml", LK_CONFIG_UP, &d), 0);
  assert_int_equal(lk_config_block_range(&c, LK_CONFIG_UP), 400000);
  lk_config_fini(&c);
}

static void test_design_example(void **state)
{
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  int rc = lk_config_parse(&c, design_example, strlen(design_example), "lookout.yaml", LK_CONFIG_UP, &d);
  if (rc)
    fprintf(stderr, "%s\n", d.msg);
  assert_int_equal(rc, 0);
  assert_int_equal(c.nscrape_configs, 1);
  assert_string_equal(c.scrape_configs[0].job_name, "app");
  assert_int_equal(c.scrape_configs[0].scrape_interval_ms, 15000);
  assert_int_equal(c.scrape_configs[0].scrape_timeout_ms, 10000);
  assert_string_equal(c.scrape_configs[0].metrics_path, "/metrics");
  assert_int_equal(c.scrape_configs[0].nstatic, 1);
  assert_string_equal(c.scrape_configs[0].static_configs[0].targets.v[0], "127.0.0.1:8080");
  assert_int_equal(c.rule_files.n, 0);
  assert_int_equal(c.limits.max_query_samples, 1000);
  assert_int_equal(c.limits.query_timeout_ms, 30000);
  assert_int_equal(c.limits.max_render_series, 5);
  assert_string_equal(c.auth.token_file, "./data/token");
  assert_int_equal(c.collector.pcap_interfaces.n, 0);
  assert_int_equal(c.collector.detail_interval_ms, 1000);
  /* a CLI flag overrides its key */
  lk_config_set(&c.listen, "0.0.0.0:9999");
  assert_string_equal(c.listen, "0.0.0.0:9999");
  lk_config_fini(&c);
}

static void check_error_as(unsigned reader, const char *text, const char *want)
{
  lk_config c;
  lk_config_init(&c);
  lk_config_set(&c.listen, "keep:1");
  lk_diag d = {0};
  assert_int_not_equal(lk_config_parse(&c, text, strlen(text), "x.yaml", reader, &d), 0);
  if (!strstr(d.msg, want))
    fail_msg("got: %s\nwant: %s", d.msg, want);
  assert_string_equal(c.listen, "keep:1"); /* unchanged on failure */
  lk_config_fini(&c);
}

static void check_error(const char *text, const char *want) { check_error_as(LK_CONFIG_UP, text, want); }

static void test_errors(void **state)
{
  check_error("listen: a:1\nstorage:\n  retentoin: 5d\n",
              "x.yaml:3: unknown key \"retentoin\" in storage (known keys: retention, retention_size");
  check_error("bogus: 1\n", "x.yaml:1: unknown key \"bogus\" in the config file");
  check_error("storage: { retention: 5 days }\n", "x.yaml:1: retention:");
  check_error("limits:\n  max_body_size: lots\n", "x.yaml:2: max_body_size: bad size \"lots\"");
  check_error("limits:\n  max_labels: -3\n", "x.yaml:2: max_labels: expected a non-negative integer");
  check_error("auth: { require_token: maybe }\n", "require_token: expected true or false");
  check_error("auth: { require_read_token: 1 }\n", "require_read_token: expected true or false");
  check_error("server: { max_connections: 0 }\n", "max_connections");
  check_error("server: { request_timeout: soon }\n", "x.yaml:1: request_timeout:");
  check_error("server: { max_conections: 5 }\n", "unknown key \"max_conections\" in server");
  check_error_as(LK_CONFIG_AGENT, "server: { max_connections: 5 }\n", "key server is not used by lookout agent");
  check_error("scrape_configs:\n  - scrape_interval: 5s\n", "x.yaml:2: scrape_configs: every entry needs a job_name");
  check_error("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "x.yaml:3: scrape_configs: duplicate job_name \"a\"");
  check_error("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x]\n        lables: {a: b}\n",
              "x.yaml:5: unknown key \"lables\" in static_configs");
  check_error("listen: [a]\n", "x.yaml:1: listen: expected a single value");
  check_error("storage: { fsync: sometimes }\n", "storage.fsync: expected interval, batch or never");
  check_error("listen: 'unterminated\n", "x.yaml:");
  check_error("storage: [1]\n", "storage: expected a mapping");
  /* a rollup_retention that could never keep anything past retention */
  check_error("storage: { rollup_retention: 7d }\n",
              "storage.rollup_retention (168h) must be 0 or longer than storage.retention (360h)");
  check_error("storage: { retention: 30d, rollup_retention: 30d }\n", "must be 0 or longer than storage.retention");
}

/* Checks across keys, made after the walk, name the line of the key they
 * are about, not line 1 (the root), however deep the key sits. */
static void test_cross_field_lines(void **state)
{
  (void)state;
  check_error("data: /tmp/x\n\nlisten: nocolon\n", "x.yaml:3: listen: expected host:port, got \"nocolon\"");
  check_error("listen: a:1\ndata: ''\n", "x.yaml:2: data: must name a directory");
  check_error("listen: a:1\nstorage:\n  retention: 5d\n  fsync: sometimes\n",
              "x.yaml:4: storage.fsync: expected interval, batch or never");
  check_error("storage:\n  retention: 30d\n  block_range: 2h\n  rollup_retention: 7d\n",
              "x.yaml:4: storage.rollup_retention (168h) must be 0 or longer");
  check_error("scrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
              "x.yaml:5: scrape_configs: job \"b\": scrape_timeout is greater than scrape_interval");
  check_error("listen: a:1\ntls:\n  key_file: k.pem\n", "x.yaml:3: tls: both cert_file and key_file are needed");
  check_error("listen: a:1\ntls:\n  cert_file: c.pem\n", "x.yaml:3: tls: both cert_file and key_file are needed");
  check_error("listen: a:1\ncollector:\n  detail_interval: 5s\n  interval: 0s\n",
              "x.yaml:4: interval: must be greater than 0");
  check_error("global:\n  scrape_timeout: 1s\n  scrape_interval: 0s\n", "x.yaml:3: scrape_interval: must be greater than 0");
}

/* Keys of modules not built yet stop the load at their line, in the
 * Prometheus-style "file:line:" form; an empty value changes nothing and
 * passes. */
static void test_not_supported_yet(void **state)
{
  static const struct { const char *text, *want; } refused[] = {
    {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [h:1]\n        labels: { env: dev }\n",
     "x.yaml:5: key static_configs.labels is not supported yet"},
    {"scrape_configs:\n  - job_name: a\n    scheme: https\n",
     "x.yaml:2: scrape_configs: job \"a\": scheme \"https\" is not supported yet (only http)"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    check_error_as(LK_CONFIG_UP, refused[i].text, refused[i].want);
  check_error_as(LK_CONFIG_SERVER, "scrape_configs: [ { job_name: a } ]\n", "key scrape_configs is not used by lookout server");
  check_error_as(LK_CONFIG_AGENT, refused[0].text, refused[0].want);
  /* the flow meter's keys are live: read, and a zero bound is refused */
  static const char flows[] = "collector:\n  pcap_interfaces: [eth0, lkv1]\n  flows: { bpf_filter: tcp, snaplen: 96,"
                              " buffer_size: 8MiB, max_flows: 1000, idle_timeout: 30s, active_timeout: 2m, max_pairs: 50 }\n";
  lk_config fc;
  lk_config_init(&fc);
  lk_diag fd = {0};
  assert_int_equal(lk_config_parse(&fc, flows, strlen(flows), "x.yaml", LK_CONFIG_AGENT, &fd), 0);
  assert_int_equal(fc.collector.pcap_interfaces.n, 2);
  assert_string_equal(fc.collector.flows.bpf_filter, "tcp");
  assert_int_equal(fc.collector.flows.snaplen, 96);
  assert_int_equal(fc.collector.flows.buffer_size, 8u << 20);
  assert_int_equal(fc.collector.flows.max_flows, 1000);
  assert_int_equal(fc.collector.flows.idle_timeout_ms, 30000);
  assert_int_equal(fc.collector.flows.active_timeout_ms, 120000);
  assert_int_equal(fc.collector.flows.max_pairs, 50);
  lk_config_fini(&fc);
  check_error_as(LK_CONFIG_UP, "collector:\n  flows: { max_flows: 0 }\n", "x.yaml:2: max_flows: must be greater than 0");
  static const char empty[] = "rule_files: []\nroute: {}\nreceivers:\ncollector: { pcap_interfaces: [] }\n"
                              "scrape_configs: [ { job_name: a, scheme: http, static_configs: [ { labels: {} } ] } ]\n";
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  assert_int_equal(lk_config_parse(&c, empty, strlen(empty), "x.yaml", LK_CONFIG_UP, &d), 0);
  lk_config_fini(&c);
}

/* A key the reading program would ignore is refused, naming who reads it. */
static void test_keys_per_program(void **state)
{
  check_error_as(LK_CONFIG_SERVER, "data: d\ncollector: { interval: 5s }\n",
                 "x.yaml:2: key collector is not used by lookout server (lookout agent and lookout up read it)");
  check_error_as(LK_CONFIG_SERVER, "scrape_configs: [ { job_name: a } ]\n",
                 "x.yaml:1: key scrape_configs is not used by lookout server");
  check_error_as(LK_CONFIG_SERVER, "global:\n  scrape_timeout: 5s\n",
                 "x.yaml:2: key global.scrape_timeout is not used by lookout server");
  check_error_as(LK_CONFIG_AGENT, "limits: { max_series: 5 }\n",
                 "x.yaml:1: key limits is not used by lookout agent (lookout server and lookout up read it)");
  check_error_as(LK_CONFIG_AGENT, "listen: 127.0.0.1:1\n", "key listen is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "storage: { retention: 1d }\n", "key storage is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "tls: { cert_file: a, key_file: b }\n", "key tls is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "auth: { require_token: true }\n", "key auth is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "data: d\nrule_files: [a.yaml]\n", "x.yaml:2: key rule_files is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "global:\n  evaluation_interval: 1s\n",
                 "x.yaml:2: key global.evaluation_interval is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "builtin_rules: false\n", "key builtin_rules is not used by lookout agent");
  /* Alertmanager's and Prometheus's sections are the server's, checked by alerting/ */
  check_error_as(LK_CONFIG_AGENT, "\nroute: { receiver: a }\n",
                 "x.yaml:2: key route is not used by lookout agent (lookout server and lookout up read it)");
  check_error_as(LK_CONFIG_AGENT, "inhibit_rules: [ {} ]\n", "key inhibit_rules is not used by lookout agent");
  check_error_as(LK_CONFIG_AGENT, "global: { resolve_timeout: 1m }\n",
                 "key global.resolve_timeout is not used by lookout agent");
  check_error_as(LK_CONFIG_SERVER, "alertmanager_url: http://127.0.0.1:9093\n", "unknown key \"alertmanager_url\"");
  check_error_as(LK_CONFIG_AGENT, "orchestrator: { enabled: false }\n", "key orchestrator is not used by lookout agent");
  /* the push targets are `lookout agent`'s only: `lookout up` stores locally */
  check_error_as(LK_CONFIG_UP, "agent: { metrics_url: http://127.0.0.1:8428/api/v1/write }\n",
                 "x.yaml:1: key agent is not used by lookout up (only lookout agent reads it)");
  check_error_as(LK_CONFIG_SERVER, "agent: { logs_url: http://127.0.0.1:3100 }\n",
                 "key agent is not used by lookout server (only lookout agent reads it)");
  check_error_as(LK_CONFIG_AGENT, "collector: { flows: { pods: true } }\n",
                 "key flows.pods is not used by lookout agent (lookout server and lookout up read it)");
  static const struct { unsigned reader; const char *text; } ok[] = {
    {LK_CONFIG_AGENT, "data: d\ncollector: { interval: 1s }\nscrape_configs: [ { job_name: a } ]\n"},
    {LK_CONFIG_AGENT, "agent: { server: http://a:1, metrics_url: http://b:2/api/v1/write, logs_url: http://c:3 }\n"},
    {LK_CONFIG_SERVER, "data: d\nlisten: 127.0.0.1:1\nlimits: { max_series: 5 }\ncollector: {}\n"},
    {LK_CONFIG_SERVER, "route: { receiver: a, group_by: ['...'] }\nreceivers: [ { name: a } ]\ninhibit_rules: []\n"
                       "time_intervals: []\nmute_time_intervals: []\nglobal: { resolve_timeout: 1m }\n"
                       "alerting: { alertmanagers: [ { static_configs: [ { targets: [ '127.0.0.1:9093' ] } ] } ] }\n"},
    {LK_CONFIG_SERVER, "orchestrator: { enabled: true, runtime: runc, manifests: [a.yaml], sync_period: 2s }\n"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    lk_config c;
    lk_config_init(&c);
    lk_diag d = {0};
    int rc = lk_config_parse(&c, ok[i].text, strlen(ok[i].text), "x.yaml", ok[i].reader, &d);
    if (rc)
      fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    lk_config_fini(&c);
  }
}

/* The rule engine's keys: rule_files, both spellings of the evaluation
 * interval (the later one wins, as any repeated setting), external labels and
 * URL, and the switch for the built-in health rules. */
static void test_rule_keys(void **state)
{
  static const char text[] =
      "rule_files: [ rules/*.yaml, /etc/x.yml ]\n"
      "global: { evaluation_interval: 2s, external_labels: { cluster: eu1, replica: a } }\n"
      "builtin_rules: false\n"
      "external_url: https://lookout.example/\n";
  lk_config c;
  lk_config_init(&c);
  assert_true(c.builtin_rules);
  assert_int_equal(c.evaluation_interval_ms, 15000);
  lk_diag d = {0};
  int rc = lk_config_parse(&c, text, strlen(text), "x.yaml", LK_CONFIG_SERVER, &d);
  if (rc)
    fail_msg("%s", d.msg);
  assert_int_equal(c.rule_files.n, 2);
  assert_string_equal(c.rule_files.v[0], "rules/*.yaml");
  assert_int_equal(c.evaluation_interval_ms, 2000);
  assert_int_equal(c.global.nexternal_labels, 2);
  assert_string_equal(c.global.external_labels[1].name, "replica");
  assert_string_equal(c.global.external_labels[1].value, "a");
  assert_false(c.builtin_rules);
  assert_string_equal(c.external_url, "https://lookout.example/");
  static const char top[] = "evaluation_interval: 500ms\n";
  assert_int_equal(lk_config_parse(&c, top, strlen(top), "x.yaml", LK_CONFIG_UP, &d), 0);
  assert_int_equal(c.evaluation_interval_ms, 500);
  assert_null(c.external_url); /* a parse starts from the defaults */
  lk_config_fini(&c);
  check_error("global:\n  external_labels: { 1bad: x }\n", "x.yaml:2: external_labels: invalid label name \"1bad\"");
  check_error("global:\n  external_labels: [a]\n", "x.yaml:2: external_labels: expected a mapping");
  check_error("evaluation_interval: 0s\n", "x.yaml:1: evaluation_interval: must be greater than 0");
  check_error("rule_files: rules.yaml\n", "x.yaml:1: rule_files: expected a list");
}

/* external_metrics: named PromQL queries for the autoscaler and the
 * external metrics API; names as Kubernetes spells them, no duplicates. */
static void test_external_metrics(void **state)
{
  static const char text[] = "external_metrics:\n  - name: queue_depth\n    query: sum(queue_messages{q=\"a\"})\n"
                             "  - { name: rps.web, query: 'sum(rate(http_requests_total[1m]))' }\n";
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  assert_int_equal(lk_config_parse(&c, text, strlen(text), "x.yaml", LK_CONFIG_SERVER, &d), 0);
  assert_int_equal(c.nexternal_metrics, 2);
  assert_string_equal(c.external_metrics[0].name, "queue_depth");
  assert_string_equal(c.external_metrics[0].query, "sum(queue_messages{q=\"a\"})");
  assert_string_equal(c.external_metrics[1].name, "rps.web");
  lk_config_fini(&c);
  check_error("external_metrics:\n  - name: q\n", "x.yaml:2: external_metrics: q: a query is required");
  check_error("external_metrics:\n  - { name: Queue, query: up }\n", "x.yaml:2: external_metrics: every entry needs a name");
  check_error("external_metrics:\n  - { query: up }\n", "x.yaml:2: external_metrics: every entry needs a name");
  check_error("external_metrics:\n  - { name: q, query: up }\n  - { name: q, query: up }\n",
              "x.yaml:3: external_metrics: duplicate name \"q\"");
  check_error("external_metrics: [ { name: q, qurey: up } ]\n", "x.yaml:1: unknown key \"qurey\" in external_metrics");
  check_error_as(LK_CONFIG_AGENT, "external_metrics: [ { name: q, query: up } ]\n",
                 "x.yaml:1: key external_metrics is not used by lookout agent");
}

/* 0 would silently turn into the built-in default further down. */
static void test_zero_refused(void **state)
{
  check_error("limits:\n  max_query_samples: 0\n", "x.yaml:2: max_query_samples: must be greater than 0");
  check_error("limits: { query_timeout: 0s }\n", "x.yaml:1: query_timeout: must be greater than 0");
  check_error("limits: { max_body_size: 0KiB }\n", "max_body_size: must be greater than 0");
  check_error("storage: { retention: 0d }\n", "retention: must be greater than 0");
  check_error("storage: { block_range: 0s }\n", "block_range: must be greater than 0");
}

static void test_load_file(void **state)
{
  char path[] = "/tmp/lkcfgXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *t = "data: /tmp/x\nlimits: { max_body_size: 1MiB, max_import_size: 2GB }\nstorage: { retention_size: 10GiB, query_cache_size: 8MiB, rollup_retention: 90d }\n";
  assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
  close(fd);
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  assert_int_equal(lk_config_load(&c, path, LK_CONFIG_SERVER, &d), 0);
  assert_string_equal(c.path, path);
  assert_string_equal(c.data, "/tmp/x");
  assert_int_equal(c.limits.max_body_size, 1u << 20);
  assert_int_equal(c.limits.max_import_size, 2000000000ULL);
  assert_int_equal(c.storage.retention_size, 10ULL << 30);
  assert_int_equal(c.storage.query_cache_size, 8ULL << 20);
  assert_int_equal(c.storage.rollup_retention_ms, 90LL * 86400 * 1000);
  unlink(path);
  lk_diag d2 = {0};
  assert_int_equal(lk_config_load(&c, path, LK_CONFIG_SERVER, &d2), LK_ENOENT);
  assert_non_null(strstr(d2.msg, path));
  lk_config_fini(&c);
}

static const char *readme_path; /* argv[1] */

/* The README's configuration sample is what `lookout up` accepts. */
static void test_readme_sample(void **state)
{
  FILE *f = fopen(readme_path, "r");
  assert_non_null(f);
  static char text[1 << 16];
  size_t len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[len] = 0;
  const char *sec = strstr(text, "## Configuration");
  assert_non_null(sec);
  const char *start = strstr(sec, "```yaml\n");
  assert_non_null(start);
  start += strlen("```yaml\n");
  const char *end = strstr(start, "```");
  assert_non_null(end);
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  int rc = lk_config_parse(&c, start, (size_t)(end - start), "README.md", LK_CONFIG_UP, &d);
  if (rc)
    fail_msg("%s", d.msg);
  assert_int_equal(c.nscrape_configs, 1);
  assert_int_equal(c.limits.query_timeout_ms, 120000);
  assert_int_equal(c.limits.max_render_series, 20);
  lk_config_fini(&c);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: test_config README.md\n");
    return 2;
  }
  readme_path = argv[1];
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_block_range_per_program),
    cmocka_unit_test(test_design_example),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_cross_field_lines),
    cmocka_unit_test(test_not_supported_yet),
    cmocka_unit_test(test_keys_per_program),
    cmocka_unit_test(test_rule_keys),
    cmocka_unit_test(test_zero_refused),
    cmocka_unit_test(test_external_metrics),
    cmocka_unit_test(test_load_file),
    cmocka_unit_test(test_readme_sample),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
