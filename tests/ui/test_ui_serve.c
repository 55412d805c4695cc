/* test_ui_serve.c — the dashboard's HTTP side against a real server on
 * 127.0.0.1: the embedded bundle (gzip to clients that accept it, inflated
 * for those that do not, ETag and 304, cache headers, 404 for unknown files,
 * API paths never shadowed), --ui-dir serving (ETag from size and mtime,
 * no escape from the directory), and the label-values `prefix` parameter
 * the PromQL autocomplete uses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "lib/lk_fs.h"
#include "lib/lk_httpc.h"
#include "tests/helpers/web_fx.h"
#include "web/api_ui.h"

static lk_httpc_resp get(web_fx *f, const char *path, const char *const *hdrs)
{
  char url[1024];
  snprintf(url, sizeof url, "%s%s", f->base, path);
  lk_httpc_req q = {.method = "GET", .url = url, .headers = hdrs, .timeout_ms = 10000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  int rc = lk_httpc_do(&q, &r, &d);
  if (rc)
    fprintf(stderr, "GET %s: %s\n", path, d.msg);
  assert_int_equal(rc, 0);
  return r;
}

static const char *header(const lk_httpc_resp *r, const char *name, char *buf, size_t n)
{
  const char *v = lk_httpc_header(r, name, buf, n);
  return v ? v : "";
}

static web_fx *start(const char *ui_dir)
{
  web_opts wo = {.ui_dir = ui_dir};
  web_fx *f = web_fx_start("/tmp/lk_ui_XXXXXX", wo, NULL);
  assert_non_null(f);
  return f;
}

/* The embedded index.html: gzip bytes inflate to what identity sends. */
static void test_embedded(void **state)
{
  if (!web__ui_nassets) {
    printf("# the build had no node: checking the no-dashboard answer only\n");
    web_fx *f = start(NULL);
    lk_httpc_resp r = get(f, "/", NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr((char *)r.body.data, "scripts/deps"));
    lk_httpc_resp_fini(&r);
    web_fx_stop(f);
    return;
  }
  web_fx *f = start(NULL);
  char etag[128], buf[128];
  lk_httpc_resp plain = get(f, "/", NULL);
  assert_int_equal(plain.status, 200);
  assert_string_equal(header(&plain, "Content-Type", buf, sizeof buf), "text/html; charset=utf-8");
  assert_string_equal(header(&plain, "Cache-Control", buf, sizeof buf), "no-cache");
  assert_string_equal(header(&plain, "Content-Encoding", buf, sizeof buf), "");
  snprintf(etag, sizeof etag, "%s", header(&plain, "ETag", buf, sizeof buf));
  assert_true(!strncmp(etag, "W/\"", 3)); /* weak: gzip and identity share it */
  assert_non_null(strstr((char *)plain.body.data, "<title>Lookout</title>"));

  const char *gz_hdrs[] = {"Accept-Encoding: br, gzip, deflate", NULL};
  lk_httpc_resp gz = get(f, "/", gz_hdrs);
  assert_int_equal(gz.status, 200);
  assert_string_equal(header(&gz, "Content-Encoding", buf, sizeof buf), "gzip");
  assert_string_equal(header(&gz, "Vary", buf, sizeof buf), "Accept-Encoding");
  uint8_t out[65536];
  z_stream z = {0};
  assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = gz.body.data;
  z.avail_in = (uInt)gz.body.len;
  z.next_out = out;
  z.avail_out = sizeof out;
  assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
  assert_int_equal(z.total_out, plain.body.len);
  assert_memory_equal(out, plain.body.data, plain.body.len);
  inflateEnd(&z);

  const char *no_gz[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
  lk_httpc_resp id = get(f, "/", no_gz);
  assert_string_equal(header(&id, "Content-Encoding", buf, sizeof buf), "");

  char inm[160];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *cond[] = {inm, NULL};
  lk_httpc_resp nm = get(f, "/", cond);
  assert_int_equal(nm.status, 304);
  assert_int_equal(nm.body.len, 0);

  /* the bundle named by index.html: content-hashed, cached for a year */
  const char *js = strstr((char *)plain.body.data, "ui/app-");
  assert_non_null(js);
  char path[128];
  snprintf(path, sizeof path, "/%.*s", (int)strcspn(js, "\""), js);
  lk_httpc_resp app = get(f, path, NULL);
  assert_int_equal(app.status, 200);
  assert_non_null(strstr(header(&app, "Cache-Control", buf, sizeof buf), "immutable"));

  lk_httpc_resp missing = get(f, "/ui/nope.js", NULL);
  assert_int_equal(missing.status, 404);
  lk_httpc_resp api = get(f, "/api/v1/labels", NULL); /* the API is not shadowed */
  assert_int_equal(api.status, 200);
  assert_non_null(strstr((char *)api.body.data, "\"success\""));
  lk_httpc_resp *all[] = {&plain, &gz, &id, &nm, &app, &missing, &api};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    lk_httpc_resp_fini(all[i]);
  assert_int_equal(web_fx_stop(f), 0);
}

static void test_ui_dir(void **state)
{
  char dir[] = "/tmp/lk_uidir_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[256];
  snprintf(p, sizeof p, "%s/ui", dir);
  assert_int_equal(mkdir(p, 0755), 0);
  lk_diag d = {0};
  snprintf(p, sizeof p, "%s/index.html", dir);
  assert_int_equal(lk_write_file_atomic(p, "<p>dev</p>", 10, &d), 0);
  snprintf(p, sizeof p, "%s/ui/a.js", dir);
  assert_int_equal(lk_write_file_atomic(p, "x=1", 3, &d), 0);
  snprintf(p, sizeof p, "%s/secret", dir);
  assert_int_equal(lk_write_file_atomic(p, "no", 2, &d), 0);

  web_fx *f = start(dir);
  char buf[128], inm[160];
  lk_httpc_resp r = get(f, "/", NULL);
  assert_int_equal(r.status, 200);
  assert_string_equal((char *)r.body.data, "<p>dev</p>");
  assert_string_equal(header(&r, "Cache-Control", buf, sizeof buf), "no-cache");
  snprintf(inm, sizeof inm, "If-None-Match: %s", header(&r, "ETag", buf, sizeof buf));
  const char *cond[] = {inm, NULL};
  lk_httpc_resp nm = get(f, "/", cond);
  assert_int_equal(nm.status, 304);
  lk_httpc_resp js = get(f, "/ui/a.js", NULL);
  assert_int_equal(js.status, 200);
  assert_string_equal(header(&js, "Content-Type", buf, sizeof buf), "text/javascript; charset=utf-8");
  assert_string_equal((char *)js.body.data, "x=1");
  lk_httpc_resp up = get(f, "/ui/../secret", NULL); /* sent as is: no escape */
  assert_int_equal(up.status, 404);
  lk_httpc_resp none = get(f, "/ui/missing.js", NULL);
  assert_int_equal(none.status, 404);
  lk_httpc_resp *all[] = {&r, &nm, &js, &up, &none};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    lk_httpc_resp_fini(all[i]);
  assert_int_equal(web_fx_stop(f), 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

static void import(web_fx *f, const char *text)
{
  char url[1024];
  snprintf(url, sizeof url, "%s/api/v1/import/prometheus", f->base);
  lk_httpc_req q = {.method = "POST", .url = url, .body = text, .body_len = strlen(text), .timeout_ms = 10000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  assert_int_equal(r.status, 200);
  lk_httpc_resp_fini(&r);
}

static void expect_body(web_fx *f, const char *path, const char *want)
{
  lk_httpc_resp r = get(f, path, NULL);
  if (strcmp((char *)r.body.data, want))
    fprintf(stderr, "GET %s → %s\n", path, (char *)r.body.data);
  assert_int_equal(r.status, 200);
  assert_string_equal((char *)r.body.data, want);
  lk_httpc_resp_fini(&r);
}

/* prefix filters before limit counts, so a limit cuts only matches. */
static void test_prefix(void **state)
{
  web_fx *f = start(NULL);
  import(f, "node_cpu{job=\"a\"} 1 1000\nnode_mem{job=\"b\"} 1 1000\nproc_open{job=\"c\"} 1 1000\n"
            "x{job=\"a.b\"} 1 1000\nx{job=\"axb\"} 1 1000\n");
  expect_body(f, "/api/v1/label/__name__/values?prefix=node_",
              "{\"status\":\"success\",\"data\":[\"node_cpu\",\"node_mem\"]}");
  expect_body(f, "/api/v1/label/__name__/values?prefix=node_&limit=1",
              "{\"status\":\"success\",\"data\":[\"node_cpu\"],\"warnings\":[\"results truncated due to limit\"]}");
  expect_body(f, "/api/v1/label/__name__/values?prefix=proc&limit=1",
              "{\"status\":\"success\",\"data\":[\"proc_open\"]}");
  expect_body(f, "/api/v1/label/job/values?prefix=zz", "{\"status\":\"success\",\"data\":[]}");
  /* a regex metacharacter in the prefix is literal */
  expect_body(f, "/api/v1/label/job/values?prefix=a.", "{\"status\":\"success\",\"data\":[\"a.b\"]}");
  expect_body(f, "/api/v1/label/job/values?prefix=a%2A", "{\"status\":\"success\",\"data\":[]}");
  expect_body(f, "/api/v1/labels?prefix=j", "{\"status\":\"success\",\"data\":[\"job\"]}");
  expect_body(f, "/api/v1/label/job/values?prefix=&match[]=node_mem",
              "{\"status\":\"success\",\"data\":[\"b\"]}");
  assert_int_equal(web_fx_stop(f), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_embedded),
    cmocka_unit_test(test_ui_dir),
    cmocka_unit_test(test_prefix),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
