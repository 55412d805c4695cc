/* cmd_query.c — `lookout query EXPR` and `lookout query-range EXPR`: run a
 * PromQL query on a server's /api/v1/query(_range) and print the answer as
 * a table (default) or the server's JSON (-o json).
 *
 * The request is a POST form, as Prometheus clients send it; times are
 * passed through as given (RFC 3339 or Unix seconds; `now` and `now-1h`
 * style offsets are resolved here). The table prints one row per sample:
 * series, value (and the time for ranges), in the server's order.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_buf.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "main/cmd.h"

typedef struct qargs {
  const char *expr, *server, *time, *start, *end, *step, *timeout, *token_file, *ca_file;
  bool json;
} qargs;

static void usage(FILE *f, bool range)
{
  if (range)
    fprintf(f, "usage: lookout query-range EXPR [--start T] [--end T] [--step D] [--server URL]\n"
               "                             [--timeout D] [--token-file F] [--ca-file F] [-o table|json]\n\n"
               "Range PromQL query. T: RFC 3339, Unix seconds, `now` or `now-<duration>`\n"
               "(defaults: --end now, --start end-1h); D: duration or seconds (default 60s).\n");
  else
    fprintf(f, "usage: lookout query EXPR [--time T] [--server URL] [--timeout D] [--token-file F]\n"
               "                     [--ca-file F] [-o table|json]\n\n"
               "Instant PromQL query at T (RFC 3339, Unix seconds, `now` or `now-<duration>`;\n"
               "default now).\n");
  fprintf(f, "\n  --server URL   server base URL (default http://127.0.0.1:9470; https:// too)\n"
             "  --token-file F send the first bearer token of F (default: $LOOKOUT_TOKEN)\n"
             "  --ca-file F    https: trust the CA certificate(s) in F (PEM)\n"
             "  -o json        print the server's JSON answer instead of a table\n");
}

static int parse_args(int argc, char **argv, bool range, qargs *a)
{
  *a = (qargs){.server = "http://127.0.0.1:9470"};
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    const char **dst = !strcmp(f, "--server") ? &a->server : !strcmp(f, "--timeout") ? &a->timeout
                     : !strcmp(f, "--token-file") ? &a->token_file : !strcmp(f, "--ca-file") ? &a->ca_file
                     : !range && !strcmp(f, "--time") ? &a->time
                     : range && !strcmp(f, "--start") ? &a->start
                     : range && !strcmp(f, "--end") ? &a->end
                     : range && !strcmp(f, "--step") ? &a->step : NULL;
    if (dst || !strcmp(f, "-o")) {
      if (i + 1 >= argc)
        return -1;
      const char *v = argv[++i];
      if (dst)
        *dst = v;
      else if (!strcmp(v, "json") || !strcmp(v, "table"))
        a->json = !strcmp(v, "json");
      else
        return -1;
    } else if (f[0] == '-' && f[1] && !a->expr) {
      return -1;
    } else if (!a->expr) {
      a->expr = f;
    } else {
      return -1;
    }
  }
  return a->expr ? 0 : -1;
}

/* `now`, `now-1h`, `now+5m`, or a time the server parses itself. */
static int resolve_time(const char *in, char *out, size_t n)
{
  if (strncmp(in, "now", 3)) {
    snprintf(out, n, "%s", in);
    return 0;
  }
  int64_t t = lk_now_ms(), off = 0;
  if (in[3]) {
    lk_diag d = {0};
    if ((in[3] != '-' && in[3] != '+') || lk_parse_duration(in + 4, &off, &d))
      return -1;
    t += in[3] == '-' ? -off : off;
  }
  snprintf(out, n, "%lld.%03lld", (long long)(t / 1000), (long long)(t % 1000));
  return 0;
}

static void put_param(lk_buf *b, const char *name, const char *v)
{
  if (!v)
    return;
  if (b->len)
    lk_buf_putc(b, '&');
  lk_buf_printf(b, "%s=", name);
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-_.~", *p))
      lk_buf_putc(b, *p);
    else
      lk_buf_printf(b, "%%%02X", *p);
  }
}

static void fmt_metric(lk_buf *b, json_t *metric)
{
  lk_buf_clear(b);
  lk_buf_reserve(b, 1);
  b->data[0] = 0;
  json_t *name = json_object_get(metric, "__name__");
  if (json_is_string(name))
    lk_buf_puts(b, json_string_value(name));
  lk_buf_putc(b, '{');
  const char *k;
  json_t *v;
  bool first = true;
  json_object_foreach(metric, k, v) {
    if (!strcmp(k, "__name__"))
      continue;
    lk_buf_printf(b, "%s%s=\"%s\"", first ? "" : ", ", k, json_string_value(v));
    first = false;
  }
  lk_buf_putc(b, '}');
}

static void fmt_time(char *out, size_t n, json_t *ts)
{
  double secs = json_number_value(ts);
  time_t t = (time_t)secs;
  struct tm tm;
  gmtime_r(&t, &tm);
  int ms = (int)((secs - (double)t) * 1000 + 0.5);
  size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, n - k, ms ? ".%03dZ" : "Z", ms);
}

static void print_table(json_t *data)
{
  const char *type = json_string_value(json_object_get(data, "resultType"));
  json_t *res = json_object_get(data, "result");
  char tbuf[48];
  if (!strcmp(type, "scalar") || !strcmp(type, "string")) {
    printf("%s\n", json_string_value(json_array_get(res, 1)));
    return;
  }
  lk_buf m = {0};
  bool matrix = !strcmp(type, "matrix");
  printf(matrix ? "%-60s %-24s %s\n" : "%-60s %s\n", "SERIES", matrix ? "TIME" : "VALUE", "VALUE");
  size_t i;
  json_t *s;
  json_array_foreach(res, i, s) {
    fmt_metric(&m, json_object_get(s, "metric"));
    if (!matrix) {
      printf("%-60s %s\n", (const char *)m.data,
             json_string_value(json_array_get(json_object_get(s, "value"), 1)));
      continue;
    }
    size_t j;
    json_t *p;
    json_array_foreach(json_object_get(s, "values"), j, p) {
      fmt_time(tbuf, sizeof tbuf, json_array_get(p, 0));
      printf("%-60s %-24s %s\n", (const char *)m.data, tbuf, json_string_value(json_array_get(p, 1)));
    }
  }
  if (!json_array_size(res))
    printf("(no series)\n");
  lk_buf_fini(&m);
}

static int show(const char *cmd, const lk_httpc_resp *r, bool as_json)
{
  json_error_t err;
  json_t *root = json_loads((const char *)r->body.data, 0, &err);
  const char *status = json_string_value(json_object_get(root, "status"));
  int rc = 0;
  if (!root || !status) {
    fprintf(stderr, "lookout %s: HTTP %d, unreadable answer: %.200s\n", cmd, r->status,
            r->body.data ? (const char *)r->body.data : "");
    rc = 1;
  } else if (strcmp(status, "success")) {
    fprintf(stderr, "lookout %s: %s: %s\n", cmd,
            json_string_value(json_object_get(root, "errorType")),
            json_string_value(json_object_get(root, "error")));
    rc = 1;
  } else if (as_json) {
    printf("%s\n", (const char *)r->body.data);
  } else {
    print_table(json_object_get(root, "data"));
    json_t *w = json_object_get(root, "warnings");
    size_t i;
    json_t *v;
    json_array_foreach(w, i, v)
      fprintf(stderr, "warning: %s\n", json_string_value(v));
  }
  json_decref(root);
  return rc;
}

static int run(int argc, char **argv, bool range)
{
  const char *cmd = range ? "query-range" : "query";
  qargs a;
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    usage(stdout, range);
    return 0;
  }
  if (parse_args(argc, argv, range, &a)) {
    usage(stderr, range);
    return 2;
  }
  char t1[64], t2[64], t3[64];
  lk_buf form = {0};
  put_param(&form, "query", a.expr);
  if (range) {
    if (resolve_time(a.start ? a.start : "now-1h", t1, sizeof t1) ||
        resolve_time(a.end ? a.end : "now", t2, sizeof t2)) {
      fprintf(stderr, "lookout %s: bad time\n", cmd);
      lk_buf_fini(&form);
      return 2;
    }
    put_param(&form, "start", t1);
    put_param(&form, "end", t2);
    put_param(&form, "step", a.step ? a.step : "60");
  } else if (a.time) {
    if (resolve_time(a.time, t3, sizeof t3)) {
      fprintf(stderr, "lookout %s: bad time %s\n", cmd, a.time);
      lk_buf_fini(&form);
      return 2;
    }
    put_param(&form, "time", t3);
  }
  put_param(&form, "timeout", a.timeout);
  char url[1024];
  snprintf(url, sizeof url, "%s/api/v1/%s", a.server, range ? "query_range" : "query");
  char auth[600];
  if (cmd_auth_header(cmd, a.token_file, auth, sizeof auth)) {
    lk_buf_fini(&form);
    return 1;
  }
  const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", auth[0] ? auth : NULL, NULL};
  lk_httpc_req req = {.method = "POST", .url = url, .headers = headers, .body = form.data,
                      .body_len = form.len, .timeout_ms = 150000, .ca_file = a.ca_file};
  lk_httpc_resp resp = {0};
  lk_diag d = {0};
  int rc = lk_httpc_do(&req, &resp, &d);
  lk_buf_fini(&form);
  if (rc) {
    fprintf(stderr, "lookout %s: %s: %s\n", cmd, url, d.msg);
    return 1;
  }
  rc = show(cmd, &resp, a.json);
  lk_httpc_resp_fini(&resp);
  return rc;
}

int cmd_query(int argc, char **argv) { return run(argc, argv, false); }
int cmd_query_range(int argc, char **argv) { return run(argc, argv, true); }
