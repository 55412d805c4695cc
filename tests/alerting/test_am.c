/* test_am.c — the in-process Alertmanager's pieces against Alertmanager's
 * rules: the fingerprint (a value prometheus-alertmanager 0.25 computed),
 * matcher syntax and matching, route keys and inheritance, config errors
 * with file:line, time intervals, the alert merge rule, silence upserts;
 * and one end-to-end pass with the real threads (run under TSan too): a
 * webhook receiver on 127.0.0.1 (the project's own HTTP server) gets the
 * notification, a silence mutes the next one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alerting/am_int.h"
#include "lib/lk_alloc.h"
#include "lib/lk_fs.h"
#include "lib/lk_http.h"
#include "lib/lk_time.h"

static void labels_of(am_labels *l, const char *const *kv)
{
  memset(l, 0, sizeof *l);
  for (; kv[0]; kv += 2)
    am__labels_add(l, kv[0], kv[1]);
  lk_labels_sort(l->v, l->n);
}

static void test_fingerprint(void **state)
{
  am_labels l;
  labels_of(&l, (const char *const[]){"severity", "page", "alertname", "Forwarded", "job", "api", NULL});
  /* GET /api/v2/alerts of prometheus-alertmanager 0.25 for this label set */
  assert_true(am__fingerprint(&l) == 0xfb90420f41f262c7ULL);
  am__labels_free(&l);
  am_labels empty = {0};
  assert_true(am__fingerprint(&empty) == 0xcbf29ce484222325ULL); /* FNV offset basis */
}

/* Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
static void test_times(void **state)
{
  static const struct { int64_t ms; const char *want; } cases[] = {
    {0, "0001-01-01T00:00:00Z"}, {1000, "1970-01-01T00:00:01Z"}, {1500, "1970-01-01T00:00:01.5Z"},
    {1001, "1970-01-01T00:00:01.001Z"}, {1796547512830, "2026-12-06T08:58:32.83Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[40];
    am__fmt_time(out, cases[i].ms);
    assert_string_equal(out, cases[i].want);
  }
}

static void test_matchers(void **state)
{
  am_matchers ms = {0};
  lk_diag d = {0};
  assert_int_equal(am__matchers_parse("{team=\"db\", job=~\"api|web\", env!=prod, x!~\"a,b\"}", &ms, &d), 0);
  assert_int_equal(ms.n, 4);
  assert_string_equal(ms.v[2].value, "prod");
  assert_string_equal(ms.v[3].value, "a,b");
  am_labels l;
  labels_of(&l, (const char *const[]){"team", "db", "job", "web", "env", "dev", NULL});
  assert_true(am__matchers_match(&ms, &l)); /* x is absent: "" does not match a,b */
  am__labels_free(&l);
  labels_of(&l, (const char *const[]){"team", "db", "job", "webx", NULL});
  assert_false(am__matchers_match(&ms, &l)); /* regexes are anchored */
  am__labels_free(&l);
  am__matchers_sort(&ms);
  lk_buf b = {0};
  am__matchers_format(&b, &ms);
  lk_buf_putc(&b, 0);
  assert_string_equal((char *)b.data, "{env!=\"prod\",job=~\"api|web\",team=\"db\",x!~\"a,b\"}");
  lk_buf_fini(&b);
  am__matchers_free(&ms);
  static const struct { const char *in, *err; } bad[] = {
    {"foo", "bad matcher format: foo"},
    {"{a=\"b\"", "missing closing"},
    {"a=~\"(\"", "missing closing )"},
    {"=b", "bad matcher format"},
    {"a=\"unterminated", "bad matcher format"},
    {"", "no matchers"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lk_diag e = {0};
    assert_int_equal(am__matchers_parse(bad[i].in, &ms, &e), LK_EINVAL);
    if (!strstr(e.msg, bad[i].err))
      fail_msg("%s: got %s, want %s", bad[i].in, e.msg, bad[i].err);
    assert_int_equal(ms.n, 0);
  }
}

/* Write text to a fresh file; returns its path (static buffer). */
static const char *write_cfg(const char *text)
{
  static char path[64];
  snprintf(path, sizeof path, "/tmp/lk-am-cfg-%d.yaml", (int)getpid());
  lk_diag d = {0};
  assert_int_equal(lk_write_file_atomic(path, text, strlen(text), &d), 0);
  return path;
}

static const char routes_yaml[] =
    "route:\n"
    "  receiver: root\n"
    "  group_by: [alertname]\n"
    "  group_wait: 5s\n"
    "  routes:\n"
    "    - matchers: [ 'team=\"db\"' ]\n"
    "      receiver: db\n"
    "      continue: true\n"
    "      routes:\n"
    "        - match_re: { severity: 'page|crit' }\n"
    "          receiver: pager\n"
    "          group_by: ['...']\n"
    "    - match: { team: db }\n"
    "      receiver: audit\n"
    "receivers: [ { name: root }, { name: db }, { name: pager }, { name: audit } ]\n";

static void test_routes(void **state)
{
  am_config c;
  lk_diag d = {0};
  const char *path = write_cfg(routes_yaml);
  if (am__config_load(path, &c, &d))
    fail_msg("%s", d.msg);
  unlink(path);
  const am_route *db = &c.root.kids[0], *pager = &db->kids[0];
  assert_string_equal(c.root.key, "{}");
  assert_string_equal(db->key, "{}/{team=\"db\"}");
  assert_string_equal(pager->key, "{}/{team=\"db\"}/{severity=~\"page|crit\"}");
  assert_int_equal(pager->group_wait_ms, 5000); /* inherited */
  assert_int_equal(pager->group_interval_ms, 300000);
  assert_true(pager->group_all);
  assert_int_equal(db->ngroup_by, 1);
  const am_route **out = NULL;
  size_t n = 0;
  am_labels l;
  labels_of(&l, (const char *const[]){"team", "db", "severity", "page", NULL});
  am__route_match(&c.root, &l, &out, &n);
  assert_int_equal(n, 2); /* pager, then audit thanks to continue */
  assert_string_equal(out[0]->receiver, "pager");
  assert_string_equal(out[1]->receiver, "audit");
  free(out);
  am__labels_free(&l);
  out = NULL;
  n = 0;
  labels_of(&l, (const char *const[]){"team", "web", NULL});
  am__route_match(&c.root, &l, &out, &n);
  assert_int_equal(n, 1);
  assert_string_equal(out[0]->receiver, "root");
  free(out);
  am__labels_free(&l);
  am__config_free(&c);
  /* no file: a root route to "default" without integrations */
  assert_int_equal(am__config_load(NULL, &c, &d), 0);
  assert_string_equal(c.root.receiver, "default");
  assert_int_equal(c.nrecv, 1);
  assert_int_equal(c.recv[0].nhooks, 0);
  am__config_free(&c);
}

static void test_config_errors(void **state)
{
  static const struct { const char *text, *want; } bad[] = {
    {"route:\n  receiver: r\n  group_by: [a, a]\nreceivers: [ { name: r } ]\n", ":3: duplicated label \"a\" in group_by"},
    {"route:\n  receiver: r\n  group_by: ['...', a]\nreceivers: [ { name: r } ]\n", ":3: cannot have wildcard group_by"},
    {"route:\n  receiver: r\n  group_interval: 0s\nreceivers: [ { name: r } ]\n", ":3: group_interval cannot be zero"},
    {"route:\n  receiver: r\n  matchers: [ a=b ]\nreceivers: [ { name: r } ]\n", ":3: root route must not have any matchers"},
    {"route: { group_wait: 1s }\nreceivers: [ { name: r } ]\n", ":1: root route must specify a default receiver"},
    {"route: { receiver: r }\nreceivers:\n  - name: r\n    email_configs: [ {} ]\n",
     ":4: receivers: email_configs are not supported (only webhook_configs)"},
    {"route: { receiver: r }\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: 'https://x/'\n",
     ":5: url \"https://x/\": https is not supported"},
    {"route: { receiver: r }\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: 'http://x:99999/'\n",
     ":5: invalid port in URL"},
    {"route: { receiver: r }\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: 'http://x/'\n"
     "        http_config: { bearer_token: a, basic_auth: { username: u } }\n",
     ":6: at most one of basic_auth, bearer_token & authorization must be configured"},
    {"route: { receiver: r }\nreceivers:\n  - {}\n", ":3: missing name in receiver"},
    {"route: { receiver: r }\nreceivers: [ { name: r } ]\ntime_intervals:\n  - name: t\n    time_intervals:\n"
     "      - times: [ { start_time: '17:00', end_time: '09:00' } ]\n",
     ":6: times: start time cannot be equal or greater than end time"},
    {"route: { receiver: r }\nreceivers: [ { name: r } ]\ntime_intervals:\n  - name: t\n    time_intervals:\n"
     "      - location: Europe/Paris\n", ":6: location \"Europe/Paris\": only UTC and Local are supported"},
    {"alerting:\n  alertmanagers:\n    - api_version: v1\n", ":3: api_version \"v1\" is not supported"},
    {"route: [1]\n", ":1: route: expected a mapping"},
    {"route: {receiver: r\n", ":2: did not find expected ',' or '}'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    am_config c;
    lk_diag d = {0};
    const char *path = write_cfg(bad[i].text);
    assert_int_not_equal(am__config_load(path, &c, &d), 0);
    unlink(path);
    if (!strstr(d.msg, bad[i].want) || strncmp(d.msg, path, strlen(path)))
      fail_msg("case %zu: got \"%s\", want \"%s:…%s\"", i, d.msg, path, bad[i].want);
  }
}

static int64_t utc(int y, int mo, int day, int h, int mi)
{
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = day, .tm_hour = h, .tm_min = mi};
  return (int64_t)timegm(&tm) * 1000;
}

static void test_time_intervals(void **state)
{
  am_config c;
  lk_diag d = {0};
  const char *path = write_cfg("route: { receiver: r }\nreceivers: [ { name: r } ]\n"
                               "time_intervals:\n"
                               "  - name: office\n"
                               "    time_intervals:\n"
                               "      - weekdays: ['monday:friday']\n"
                               "        times: [ { start_time: '09:00', end_time: '17:00' } ]\n"
                               "mute_time_intervals:\n"
                               "  - name: month-end\n"
                               "    time_intervals:\n"
                               "      - days_of_month: ['-1']\n"
                               "        months: ['december']\n"
                               "        years: ['2026:2027']\n");
  if (am__config_load(path, &c, &d))
    fail_msg("%s", d.msg);
  unlink(path);
  assert_true(am__interval_active(&c, "office", utc(2026, 12, 7, 10, 0)));   /* Monday 10:00 */
  assert_false(am__interval_active(&c, "office", utc(2026, 12, 7, 17, 0)));  /* end is exclusive */
  assert_false(am__interval_active(&c, "office", utc(2026, 12, 6, 10, 0)));  /* Sunday */
  assert_true(am__interval_active(&c, "month-end", utc(2026, 12, 31, 23, 59)));
  assert_false(am__interval_active(&c, "month-end", utc(2026, 12, 30, 12, 0)));
  assert_false(am__interval_active(&c, "month-end", utc(2028, 12, 31, 12, 0)));
  assert_false(am__interval_active(&c, "nope", utc(2026, 12, 7, 10, 0)));
  am__config_free(&c);
}

static void alert_of(am_alert *a, int64_t start, int64_t end, int64_t updated, bool timeout)
{
  memset(a, 0, sizeof *a);
  labels_of(&a->labels, (const char *const[]){"alertname", "X", NULL});
  a->starts_at = start;
  a->ends_at = end;
  a->updated_at = updated;
  a->timeout = timeout;
  a->generator_url = lk_xstrdup("");
}

/* types.Alert.Merge: the younger wins, the earliest start stays, a later
 * explicit end beats a timeout end. */
static void test_merge(void **state)
{
  am_alert a, b;
  alert_of(&a, 1000, 9000, 100, false);
  alert_of(&b, 2000, 5000, 200, true);
  am__alert_merge(&a, &b);
  assert_int_equal(a.starts_at, 1000);
  assert_int_equal(a.ends_at, 9000); /* the older explicit end is later than the timeout end */
  assert_int_equal(a.updated_at, 200);
  am__alert_free(&a);
  am__alert_free(&b);
  alert_of(&a, 1000, 9000, 300, false);
  alert_of(&b, 500, 150, 200, false); /* older, resolved at 150 */
  am__alert_merge(&a, &b);
  assert_int_equal(a.starts_at, 500);
  assert_int_equal(a.ends_at, 9000);
  am__alert_free(&a);
  am__alert_free(&b);
}

/*---- end to end, with the threads ----*/

typedef struct hook_rx {
  pthread_mutex_t mu;
  char bodies[8][2048];
  int n;
} hook_rx;

static void hook(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  hook_rx *rx = ctx;
  size_t len;
  const uint8_t *b = lk_http_body(req, &len);
  pthread_mutex_lock(&rx->mu);
  if (rx->n < 8)
    snprintf(rx->bodies[rx->n++], sizeof rx->bodies[0], "%.*s", (int)len, (const char *)b);
  pthread_mutex_unlock(&rx->mu);
  lk_buf_puts(&resp->body, "{}");
}

static int wait_bodies(hook_rx *rx, int want, int ms)
{
  int n = 0;
  for (int i = 0; i < ms / 10; i++) {
    pthread_mutex_lock(&rx->mu);
    n = rx->n;
    pthread_mutex_unlock(&rx->mu);
    if (n >= want)
      break;
    usleep(10000);
  }
  return n;
}

static void test_end_to_end(void **state)
{
  hook_rx rx = {.mu = PTHREAD_MUTEX_INITIALIZER};
  static const lk_http_route routes[] = {{"POST", "/hook", LK_AUTH_NONE, 1 << 20, hook, NULL, "/hook"}};
  lk_http_opts ho = {.listen = "127.0.0.1:0"};
  lk_http_server *http = NULL;
  lk_diag d = {0};
  assert_int_equal(lk_http_start(&ho, routes, 1, &rx, NULL, &http, &d), 0);
  char dir[] = "/tmp/lk-am-e2e-XXXXXX", cfg[4096];
  assert_non_null(mkdtemp(dir));
  snprintf(cfg, sizeof cfg,
           "route: { receiver: r, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h }\n"
           "receivers: [ { name: r, webhook_configs: [ { url: 'http://127.0.0.1:%d/hook' } ] } ]\n",
           lk_http_port(http));
  const char *path = write_cfg(cfg);
  alerting_am_opts o = {.config_path = path, .data_dir = dir, .external_url = "http://lk"};
  alerting_am *am = NULL;
  if (alerting_am_open(&o, &am, &d))
    fail_msg("%s", d.msg);
  unlink(path);
  static const char one[] = "[{\"labels\":{\"alertname\":\"E2E\",\"n\":\"1\"}}]";
  assert_int_equal(alerting_am_api_post_alerts(am, one, strlen(one), &d), 0);
  assert_int_equal(wait_bodies(&rx, 1, 5000), 1);
  assert_non_null(strstr(rx.bodies[0], "\"groupKey\":\"{}:{alertname=\\\"E2E\\\"}\""));
  assert_non_null(strstr(rx.bodies[0], "\"receiver\":\"r\",\"status\":\"firing\""));
  /* a silence on n="2" keeps the second alert out of the update */
  char sil[512];
  int64_t now = lk_now_ms();
  char st[40], en[40];
  am__fmt_time(st, now);
  am__fmt_time(en, now + 3600000);
  snprintf(sil, sizeof sil,
           "{\"matchers\":[{\"name\":\"n\",\"value\":\"2\",\"isRegex\":false}],\"startsAt\":\"%s\",\"endsAt\":\"%s\","
           "\"createdBy\":\"t\",\"comment\":\"c\"}", st, en);
  lk_buf out = {0};
  assert_int_equal(alerting_am_api_post_silence(am, sil, strlen(sil), &out, &d), 0);
  lk_buf_fini(&out);
  static const char two[] = "[{\"labels\":{\"alertname\":\"E2E\",\"n\":\"2\"}},{\"labels\":{\"alertname\":\"E2E\",\"n\":\"3\"}}]";
  assert_int_equal(alerting_am_api_post_alerts(am, two, strlen(two), &d), 0);
  assert_int_equal(wait_bodies(&rx, 2, 5000), 2);
  assert_non_null(strstr(rx.bodies[1], "\"n\":\"3\""));
  assert_null(strstr(rx.bodies[1], "\"n\":\"2\""));
  lk_buf metrics = {0};
  for (int i = 0; i < 500; i++) { /* the sender counts after the receiver answered */
    lk_buf_clear(&metrics);
    alerting_am_metrics(am, &metrics);
    lk_buf_putc(&metrics, 0);
    if (strstr((char *)metrics.data, "lookout_notifications_sent_total 2\n"))
      break;
    usleep(10000);
  }
  assert_non_null(strstr((char *)metrics.data, "lookout_notifications_sent_total 2\n"));
  assert_non_null(strstr((char *)metrics.data, "lookout_alertmanager_silences{state=\"active\"} 1\n"));
  lk_buf_fini(&metrics);
  alerting_am_close(am);
  lk_http_stop(http);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  assert_int_equal(system(rm), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fingerprint),  cmocka_unit_test(test_times),          cmocka_unit_test(test_matchers),       cmocka_unit_test(test_routes),
    cmocka_unit_test(test_config_errors), cmocka_unit_test(test_time_intervals), cmocka_unit_test(test_merge),
    cmocka_unit_test(test_end_to_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
