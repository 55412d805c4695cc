/* test_status_api.c — the read-only status endpoints the dashboard's Status
 * page shows, against a real server on 127.0.0.1: /api/v1/status/config
 * answers the config file's text with every secret value shown as <secret>
 * (and an empty yaml without a config), /api/v1/targets lists the
 * scrape_configs' static targets in Prometheus's shape with their health,
 * last scrape and its duration taken from the stored `up` and
 * scrape_duration_seconds series ("unknown" before any sample). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/lk_config.h"
#include "lib/lk_fs.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "tests/helpers/web_fx.h"

static const char config_text[] =
    "scrape_configs:\n"
    "  - job_name: node\n"
    "    scrape_interval: 5s\n"
    "    static_configs:\n"
    "      - targets: [\"127.0.0.1:9100\"]\n"
    "receivers:\n"
    "  - name: hook\n"
    "    webhook_configs:\n"
    "      - url: http://127.0.0.1:1/\n"
    "        http_config:\n"
    "          authorization: {type: Bearer, credentials: s3cr3t-value}\n"
    "          basic_auth:\n"
    "            username: me\n"
    "            password: hunter2-value\n"
    "route: {receiver: hook}\n";

/* The body of GET path (status 200 asserted); the caller frees. */
static char *get(web_fx *f, const char *path)
{
  char url[512];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_req q = {.method = "GET", .url = url, .timeout_ms = 10000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 200);
  char *body = strndup((char *)r.body.data, r.body.len);
  lk_httpc_resp_fini(&r);
  return body;
}

static void append(web_fx *f, const char *name, double v)
{
  lk_label ls[] = {{"__name__", name}, {"instance", "127.0.0.1:9100"}, {"job", "node"}};
  lk_sample s = {lk_now_ms(), v};
  tsdb_series_in in = {ls, 3, &s, 1};
  lk_diag d = {0};
  assert_int_equal(tsdb_append(f->db, &in, 1, NULL, &d), 0);
}

static void test_config_and_targets(void **state)
{
  char path[] = "/tmp/lk_status_cfg_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, config_text, sizeof config_text - 1), (ssize_t)(sizeof config_text - 1));
  close(fd);
  lk_config c;
  lk_config_init(&c);
  lk_diag d = {0};
  int rc = lk_config_load(&c, path, LK_CONFIG_UP, &d);
  if (rc)
    fprintf(stderr, "config: %s\n", d.msg);
  assert_int_equal(rc, 0);
  web_opts wo = {.config = &c};
  web_fx *f = web_fx_start("/tmp/lk_status_XXXXXX", wo, NULL);
  assert_non_null(f);

  char *cfg = get(f, "/api/v1/status/config");
  assert_non_null(strstr(cfg, "{\"status\":\"success\",\"data\":{\"yaml\":\"scrape_configs:\\n"));
  assert_non_null(strstr(cfg, "credentials: <secret>}"));
  assert_non_null(strstr(cfg, "password: <secret>\\n"));
  assert_non_null(strstr(cfg, "username: me\\n"));
  assert_null(strstr(cfg, "s3cr3t-value"));
  assert_null(strstr(cfg, "hunter2-value"));
  free(cfg);

  char *t = get(f, "/api/v1/targets");
  assert_non_null(strstr(t, "\"labels\":{\"instance\":\"127.0.0.1:9100\",\"job\":\"node\"}"));
  assert_non_null(strstr(t, "\"scrapeUrl\":\"http://127.0.0.1:9100/metrics\""));
  assert_non_null(strstr(t, "\"health\":\"unknown\""));
  assert_non_null(strstr(t, "\"scrapeInterval\":\"5s\""));
  assert_non_null(strstr(t, "\"droppedTargets\":[]"));
  free(t);
  append(f, "up", 0);
  append(f, "scrape_duration_seconds", 0.25);
  t = get(f, "/api/v1/targets");
  assert_non_null(strstr(t, "\"lastScrapeDuration\":0.250000,\"health\":\"down\""));
  assert_null(strstr(t, "\"lastScrape\":\"0001-"));
  free(t);

  assert_int_equal(web_fx_stop(f), 0);
  lk_config_fini(&c);
  unlink(path);
}

static void test_without_config(void **state)
{
  web_opts wo = {0};
  web_fx *f = web_fx_start("/tmp/lk_status_XXXXXX", wo, NULL);
  assert_non_null(f);
  char *cfg = get(f, "/api/v1/status/config");
  assert_string_equal(cfg, "{\"status\":\"success\",\"data\":{\"yaml\":\"\"}}");
  free(cfg);
  char *t = get(f, "/api/v1/targets");
  assert_string_equal(t, "{\"status\":\"success\",\"data\":{\"activeTargets\":[],\"droppedTargets\":[]}}");
  free(t);
  assert_int_equal(web_fx_stop(f), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_and_targets),
      cmocka_unit_test(test_without_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
