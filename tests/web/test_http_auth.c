/* test_http_auth.c — scoped bearer tokens (lib/lk_token.c) through a real
 * lib/lk_http server on 127.0.0.1 port 0: which scope each route level
 * needs, 401 for a missing or unknown token and 403 for a known token whose
 * scope is too low, the token file re-read on change without a restart (and
 * kept when the new version is invalid), and the file format's errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_http.h"
#include "lib/lk_httpc.h"
#include "lib/lk_token.h"

static void h_ok(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  (void)ctx;
  (void)req;
  lk_buf_puts(&resp->body, "ok");
}

static const lk_http_route routes[] = {
  {"GET", "/healthy", LK_AUTH_OPEN, 0, h_ok, NULL, "/healthy"},
  {"GET", "/read", LK_AUTH_NONE, 0, h_ok, NULL, "/read"},
  {"POST", "/write", LK_AUTH_REMOTE, 100, h_ok, NULL, "/write"},
  {"POST", "/admin", LK_AUTH_ADMIN, 100, h_ok, NULL, "/admin"},
  {"POST", "/orch", LK_AUTH_ALWAYS, 100, h_ok, NULL, "/orch"},
};

typedef struct fixture {
  char dir[64], file[128];
  lk_http_server *srv;
} fixture;

static void write_tokens(const fixture *f, const char *text)
{
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", f->file);
  FILE *fp = fopen(tmp, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  assert_int_equal(rename(tmp, f->file), 0); /* a new inode, as editors and kubelet do */
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/lk_auth_XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->file, sizeof f->file, "%s/tokens", f->dir);
  write_tokens(f, "# scoped tokens\n\nr3ad read\nwr1te\twrite  \nbare\n");
  lk_http_opts o = {.listen = "127.0.0.1:0", .token_file = f->file, .require_token = true,
                    .require_read_token = true};
  lk_diag d = {0};
  if (lk_http_start(&o, routes, sizeof routes / sizeof routes[0], NULL, NULL, &f->srv, &d)) {
    fprintf(stderr, "start: %s\n", d.msg);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  lk_http_stop(f->srv);
  unlink(f->file);
  rmdir(f->dir);
  free(f);
  return 0;
}

/* Status of METHOD path with `Authorization: Bearer token` (none when NULL). */
static int status_of(const fixture *f, const char *path, const char *token, char *body, size_t bodysz)
{
  char url[128], auth[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", lk_http_port(f->srv), path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
  const char *h[] = {auth, NULL};
  bool post = strcmp(path, "/read") && strcmp(path, "/healthy");
  lk_httpc_req q = {.method = post ? "POST" : "GET", .url = url, .headers = token ? h : NULL,
                    .body = post ? "x" : NULL, .body_len = post ? 1 : 0, .timeout_ms = 5000};
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  assert_int_equal(lk_httpc_do(&q, &r, &d), 0);
  int st = r.status;
  if (body)
    snprintf(body, bodysz, "%s", (const char *)r.body.data);
  lk_httpc_resp_fini(&r);
  return st;
}

static void test_scopes(void **state)
{
  fixture *f = *state;
  static const struct {
    const char *path, *token;
    int status;
  } cases[] = {
    {"/healthy", NULL, 200},    {"/read", NULL, 401},     {"/read", "nope", 401},
    {"/read", "r3ad", 200},     {"/read", "wr1te", 200},  {"/read", "bare", 200},
    {"/write", NULL, 401},      {"/write", "r3ad", 403},  {"/write", "wr1te", 200},
    {"/write", "bare", 200},    {"/admin", "wr1te", 403}, {"/admin", "r3ad", 403},
    {"/admin", "bare", 200},    {"/orch", "wr1te", 403},  {"/orch", "bare", 200},
    {"/orch", "bar", 401},      {"/orch", "bare2", 401},  {"/write", "read", 401},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int st = status_of(f, cases[i].path, cases[i].token, NULL, 0);
    if (st != cases[i].status)
      fail_msg("%s with %s: %d, want %d", cases[i].path, cases[i].token ? cases[i].token : "(none)", st,
               cases[i].status);
  }
  char body[512];
  assert_int_equal(status_of(f, "/admin", "wr1te", body, sizeof body), 403);
  assert_non_null(strstr(body, "/admin needs a token with the admin scope; this token has write"));
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Poll (bounded) until path with token answers want. */
static int wait_status(const fixture *f, const char *path, const char *token, int want)
{
  int st = 0;
  for (int i = 0; i < 40 && (st = status_of(f, path, token, NULL, 0)) != want; i++)
    sleep_ms(100);
  return st;
}

static void test_reload(void **state)
{
  fixture *f = *state;
  assert_int_equal(status_of(f, "/write", "wr1te", NULL, 0), 200);
  /* revoke wr1te, demote bare, add a new admin token: no restart */
  write_tokens(f, "bare read\nn3w admin\n");
  assert_int_equal(wait_status(f, "/write", "wr1te", 401), 401);
  assert_int_equal(status_of(f, "/admin", "n3w", NULL, 0), 200);
  assert_int_equal(status_of(f, "/admin", "bare", NULL, 0), 403);
  assert_int_equal(status_of(f, "/read", "bare", NULL, 0), 200);
  /* an invalid file keeps the tokens in force */
  write_tokens(f, "n3w superuser\n");
  sleep_ms(1200);
  assert_int_equal(status_of(f, "/admin", "n3w", NULL, 0), 200);
  /* so does a removed one */
  unlink(f->file);
  sleep_ms(1200);
  assert_int_equal(status_of(f, "/admin", "n3w", NULL, 0), 200);
  write_tokens(f, "later write\n");
  assert_int_equal(wait_status(f, "/write", "later", 200), 200);
  assert_int_equal(status_of(f, "/admin", "n3w", NULL, 0), 401);
}

static void test_file_errors(void **state)
{
  (void)state;
  char path[] = "/tmp/lk_tokfile_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  lk_tokens *t = NULL;
  lk_diag d = {0};
  assert_int_equal(lk_tokens_open(path, &t, &d), LK_EINVAL); /* empty */
  assert_non_null(strstr(d.msg, "holds no token"));
  FILE *fp = fopen(path, "w");
  fputs("good read\nbad root\n", fp);
  fclose(fp);
  d = (lk_diag){0};
  assert_int_equal(lk_tokens_open(path, &t, &d), LK_EPARSE);
  assert_non_null(strstr(d.msg, ":2: expected \"TOKEN [read|write|admin]\""));
  fp = fopen(path, "w");
  fputs("# first\n  abc write extra\n", fp);
  fclose(fp);
  d = (lk_diag){0};
  assert_int_equal(lk_tokens_open(path, &t, &d), LK_EPARSE);
  fp = fopen(path, "w");
  fputs("# kubectl reads the first token\n\nfirst write\nsecond\n", fp);
  fclose(fp);
  char tok[16];
  d = (lk_diag){0};
  assert_int_equal(lk_token_read_first(path, tok, sizeof tok, &d), 0);
  assert_string_equal(tok, "first");
  assert_int_equal(lk_token_read_first(path, tok, 4, &d), LK_EINVAL);
  unlink(path);
  d = (lk_diag){0};
  assert_int_equal(lk_token_read_first(path, tok, sizeof tok, &d), LK_ENOENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
    cmocka_unit_test(test_file_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
