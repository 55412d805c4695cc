/* test_config.c — lib/lk_config.c: defaults, the DESIGN.md example file,
 * CLI-style overrides, and errors naming the line and key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_config.h"

static const char design_example[] =
    "listen: 127.0.0.1:9470\n"
    "data: ./data\n"
    "storage:   { retention: 15d, retention_size: 0 }\n"
    "collector: { interval: 5s, cgroup_root: /sys/fs/cgroup, log_paths: [/var/log/pods/*/*/*.log], pcap_interfaces: [] }\n"
    "scrape_configs: [ { job_name: app, scrape_interval: 15s, static_configs: [ { targets: [127.0.0.1:8080] } ] } ]\n"
    "rule_files: [ rules/*.yaml ]\n"
    "evaluation_interval: 15s\n"
    "route:     { receiver: default, group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 4h }\n"
    "receivers: [ { name: default, webhook_configs: [ { url: \"http://127.0.0.1:5001/hook\", send_resolved: true } ] } ]\n"
    "orchestrator: { enabled: true, manifests: [ deploy/*.yaml ] }\n"
    "auth:      { token_file: ./data/token }\n";

static void test_defaults(void **state)
{
  lk_config c;
  lk_config_init(&c);
  assert_string_equal(c.listen, "127.0.0.1:9470");
  assert_string_equal(c.data, "./data");
  assert_int_equal(c.storage.retention_ms, 15LL * 86400 * 1000);
  assert_int_equal(c.collector.interval_ms, 5000);
  assert_int_equal(c.limits.max_body_size, 16u << 20);
  assert_true(c.orchestrator.enabled);
  assert_null(c.auth.token_file);
  lk_config_fini(&c);
}

static void test_design_example(void **state)
{
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  int rc = lk_config_parse(&c, design_example, strlen(design_example), "lookout.yaml", &d);
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
  assert_int_equal(c.rule_files.n, 1);
  assert_string_equal(c.rule_files.v[0], "rules/*.yaml");
  assert_int_equal(c.route.repeat_interval_ms, 4 * 3600000);
  assert_int_equal(c.nreceivers, 1);
  assert_string_equal(c.receivers[0].webhooks[0].url, "http://127.0.0.1:5001/hook");
  assert_true(c.receivers[0].webhooks[0].send_resolved);
  assert_string_equal(c.orchestrator.manifests.v[0], "deploy/*.yaml");
  assert_string_equal(c.auth.token_file, "./data/token");
  assert_int_equal(c.collector.pcap_interfaces.n, 0);
  /* a CLI flag overrides its key */
  lk_config_set(&c.listen, "0.0.0.0:9999");
  assert_string_equal(c.listen, "0.0.0.0:9999");
  lk_config_fini(&c);
}

static void check_error(const char *text, const char *want)
{
  lk_config c;
  lk_config_init(&c);
  lk_config_set(&c.listen, "keep:1");
  lk_diag d = {0};
  assert_int_not_equal(lk_config_parse(&c, text, strlen(text), "x.yaml", &d), 0);
  if (!strstr(d.msg, want))
    fprintf(stderr, "got: %s\nwant: %s\n", d.msg, want);
  assert_non_null(strstr(d.msg, want));
  assert_string_equal(c.listen, "keep:1"); /* unchanged on failure */
  lk_config_fini(&c);
}

static void test_errors(void **state)
{
  check_error("listen: a:1\nstorage:\n  retentoin: 5d\n",
              "x.yaml:3: unknown key \"retentoin\" in storage (known keys: retention, retention_size");
  check_error("bogus: 1\n", "x.yaml:1: unknown key \"bogus\" in the config file");
  check_error("storage: { retention: 5 days }\n", "x.yaml:1: retention:");
  check_error("limits:\n  max_body_size: lots\n", "x.yaml:2: max_body_size: bad size \"lots\"");
  check_error("limits:\n  max_labels: -3\n", "x.yaml:2: max_labels: expected a non-negative integer");
  check_error("orchestrator: { enabled: maybe }\n", "enabled: expected true or false");
  check_error("scrape_configs:\n  - scrape_interval: 5s\n", "x.yaml:2: scrape_configs: every entry needs a job_name");
  check_error("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "x.yaml:3: scrape_configs: duplicate job_name \"a\"");
  check_error("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [x]\n        lables: {a: b}\n",
              "x.yaml:5: unknown key \"lables\" in static_configs");
  check_error("receivers: [ { name: x } ]\n", "route.receiver \"default\" is not among the receivers");
  check_error("listen: [a]\n", "x.yaml:1: listen: expected a single value");
  check_error("storage: { fsync: sometimes }\n", "storage.fsync: expected interval, batch or never");
  check_error("listen: 'unterminated\n", "x.yaml:");
  check_error("storage: [1]\n", "storage: expected a mapping");
}

static void test_load_file(void **state)
{
  char path[] = "/tmp/lkcfgXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *t = "data: /tmp/x\nlimits: { max_body_size: 1MiB, max_import_size: 2GB }\nstorage: { retention_size: 10GiB, query_cache_size: 8MiB }\n";
  assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
  close(fd);
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  assert_int_equal(lk_config_load(&c, path, &d), 0);
  assert_string_equal(c.path, path);
  assert_string_equal(c.data, "/tmp/x");
  assert_int_equal(c.limits.max_body_size, 1u << 20);
  assert_int_equal(c.limits.max_import_size, 2000000000ULL);
  assert_int_equal(c.storage.retention_size, 10ULL << 30);
  assert_int_equal(c.storage.query_cache_size, 8ULL << 20);
  unlink(path);
  lk_diag d2 = {0};
  assert_int_equal(lk_config_load(&c, path, &d2), LK_ENOENT);
  assert_non_null(strstr(d2.msg, path));
  lk_config_fini(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_design_example),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_load_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
