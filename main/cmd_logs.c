/* cmd_logs.c — `lookout logs LOGQL [--since D] [--limit N] [--follow]`:
 * search (or follow) the server's log store through the Loki API and print
 * one line per entry, oldest first: time, labels, line. Metric queries (not
 * starting with '{') are evaluated at the current time and print one line
 * per series.
 *
 * --follow then opens the server's live /loki/api/v1/tail Server-Sent Events
 * stream from just after the newest entry printed and prints each event as
 * it arrives; when the server ends the stream (its maximum duration) or the
 * connection drops, it reconnects from the newest entry seen, so nothing is
 * printed twice. lk_httpc reads whole bodies, so the stream is read here
 * with a small chunked-transfer decoder over a plain socket. Exit status: 0 ok, 1 server/query error
 * (message from the server on stderr), 2 usage.
 */
#include <jansson.h>
#include <netdb.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/lk_buf.h"
#include "lib/lk_httpc.h"
#include "lib/lk_time.h"
#include "main/cmd.h"

typedef struct logs_flags {
  const char *query, *server, *ca_file;
  char auth[600]; /* the Authorization header line, or "" */
  int64_t since_ms;
  long limit;
  int follow;
} logs_flags;

static const char usage_text[] =
    "usage: lookout logs LOGQL [--since DURATION] [--limit N] [--follow] [--server URL]\n"
    "  --since   how far back to search (default 1h)\n"
    "  --limit   most entries to print (default 100)\n"
    "  --follow  keep printing new entries until interrupted\n"
    "  --server  Lookout or Loki base URL (default http://127.0.0.1:9470; https:// too,\n"
    "            except with --follow)\n"
    "  --token-file F  send the first bearer token of F (default: $LOOKOUT_TOKEN)\n"
    "  --ca-file F     https: trust the CA certificate(s) in F (PEM)\n"
    "example: lookout logs '{namespace=\"shop\"} |= \"error\"' --since 15m\n";

static int parse_flags(int argc, char **argv, logs_flags *f)
{
  *f = (logs_flags){.server = "http://127.0.0.1:9470", .since_ms = 3600000, .limit = 100};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_text, stdout);
      return 1;
    } else if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
      f->follow = 1;
    } else if (!strcmp(a, "--since") && v) {
      if (lk_parse_duration(v, &f->since_ms, NULL)) {
        fprintf(stderr, "lookout logs: invalid --since \"%s\"\n", v);
        return -1;
      }
      i++;
    } else if (!strcmp(a, "--limit") && v) {
      f->limit = strtol(v, NULL, 10);
      if (f->limit <= 0) {
        fprintf(stderr, "lookout logs: invalid --limit \"%s\"\n", v);
        return -1;
      }
      i++;
    } else if (!strcmp(a, "--server") && v) {
      f->server = v;
      i++;
    } else if (!strcmp(a, "--ca-file") && v) {
      f->ca_file = v;
      i++;
    } else if (!strcmp(a, "--token-file") && v) {
      if (cmd_auth_header("logs", v, f->auth, sizeof f->auth))
        return -1;
      i++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "lookout logs: unknown or incomplete flag %s\n%s", a, usage_text);
      return -1;
    } else if (!f->query) {
      f->query = a;
    } else {
      fprintf(stderr, "lookout logs: one query only (quote it)\n");
      return -1;
    }
  }
  if (!f->query) {
    fputs(usage_text, stderr);
    return -1;
  }
  return f->auth[0] ? 0 : cmd_auth_header("logs", NULL, f->auth, sizeof f->auth); /* $LOOKOUT_TOKEN */
}

static void urlenc(lk_buf *b, const char *s)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c))
      lk_buf_putc(b, c);
    else
      lk_buf_printf(b, "%%%02X", c);
  }
}

static void print_time(int64_t ns)
{
  time_t sec = (time_t)(ns / 1000000000LL);
  struct tm tm;
  gmtime_r(&sec, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  printf("%s.%09lldZ ", buf, (long long)(ns % 1000000000LL));
}

static void print_labels(json_t *obj)
{
  const char *k;
  json_t *v;
  int first = 1;
  putchar('{');
  json_object_foreach(obj, k, v) {
    printf("%s%s=\"%s\"", first ? "" : ", ", k, json_string_value(v) ? json_string_value(v) : "");
    first = 0;
  }
  putchar('}');
}

typedef struct ent {
  int64_t ts;
  json_t *labels;
  const char *line;
} ent;

static int cmp_ent(const void *a, const void *b)
{
  const ent *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Print a streams result oldest first; returns the newest time printed. */
static int64_t print_streams(json_t *result, int64_t newest)
{
  size_t n = 0, cap = 0;
  ent *v = NULL;
  size_t i, j;
  json_t *s, *val;
  json_array_foreach(result, i, s) {
    json_array_foreach(json_object_get(s, "values"), j, val) {
      if (n == cap)
        v = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof *v);
      if (!v)
        return newest;
      v[n++] = (ent){strtoll(json_string_value(json_array_get(val, 0)), NULL, 10),
                     json_object_get(s, "stream"), json_string_value(json_array_get(val, 1))};
    }
  }
  if (n) /* qsort's array may not be NULL, even empty */
    qsort(v, n, sizeof *v, cmp_ent);
  for (i = 0; i < n; i++) {
    print_time(v[i].ts);
    print_labels(v[i].labels);
    printf(" %s\n", v[i].line ? v[i].line : "");
    if (v[i].ts > newest)
      newest = v[i].ts;
  }
  free(v);
  fflush(stdout);
  return newest;
}

static void print_series(json_t *result)
{
  size_t i, j;
  json_t *s, *p;
  json_array_foreach(result, i, s) {
    json_t *vals = json_object_get(s, "values");
    if (!vals) {
      print_labels(json_object_get(s, "metric"));
      p = json_object_get(s, "value");
      printf(" %s\n", json_string_value(json_array_get(p, 1)));
      continue;
    }
    json_array_foreach(vals, j, p) {
      print_time((int64_t)(json_number_value(json_array_get(p, 0)) * 1e9));
      print_labels(json_object_get(s, "metric"));
      printf(" %s\n", json_string_value(json_array_get(p, 1)));
    }
  }
}

/* One query_range call; prints and returns the newest entry time (or -1 on error). */
static int64_t fetch(const logs_flags *f, int64_t start_ns, const char *direction, int64_t newest)
{
  lk_buf url = {0};
  const char *q = f->query + strspn(f->query, " \t\n");
  bool metric = *q != '{'; /* metric queries: one instant value per series, now */
  lk_buf_printf(&url, "%s/loki/api/v1/%s?query=", f->server, metric ? "query" : "query_range");
  urlenc(&url, f->query);
  if (!metric)
    lk_buf_printf(&url, "&start=%lld&end=%lld&limit=%ld&direction=%s", (long long)start_ns,
                  (long long)(lk_now_ms() * 1000000LL), f->limit, direction);
  lk_httpc_resp r = {0};
  lk_diag d = {0};
  const char *hdrs[] = {f->auth[0] ? f->auth : NULL, NULL};
  lk_httpc_req req = {.url = (const char *)url.data, .headers = hdrs, .timeout_ms = 60000, .ca_file = f->ca_file};
  int rc = lk_httpc_do(&req, &r, &d);
  lk_buf_fini(&url);
  if (rc) {
    fprintf(stderr, "lookout logs: %s: %s\n", f->server, d.set ? d.msg : lk_strerror(rc));
    return -1;
  }
  json_t *root = json_loadb((const char *)r.body.data, r.body.len, 0, NULL);
  json_t *data = json_object_get(root, "data");
  if (r.status != 200 || !data) {
    json_t *e = json_object_get(root, "error");
    fprintf(stderr, "lookout logs: %s\n", e ? json_string_value(e) : (const char *)r.body.data);
    newest = -1;
  } else if (json_string_value(json_object_get(data, "resultType")) &&
             !strcmp(json_string_value(json_object_get(data, "resultType")), "streams")) {
    newest = print_streams(json_object_get(data, "result"), newest);
  } else {
    print_series(json_object_get(data, "result"));
  }
  json_decref(root);
  lk_httpc_resp_fini(&r);
  return newest;
}

/*---- --follow: the SSE stream ----*/

/* Connect to the http:// base URL; fd or -1 (message printed). */
static int dial(const char *server)
{
  const char *h = strncmp(server, "http://", 7) ? NULL : server + 7;
  if (!h) {
    fprintf(stderr, "lookout logs: --follow needs an http:// server URL\n");
    return -1;
  }
  char host[256], port[16] = "80";
  size_t hl = strcspn(h, ":/");
  if (hl >= sizeof host)
    return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  if (h[hl] == ':')
    snprintf(port, sizeof port, "%.*s", (int)strcspn(h + hl + 1, "/"), h + hl + 1);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  if (getaddrinfo(host, port, &hints, &ai)) {
    fprintf(stderr, "lookout logs: cannot resolve %s\n", host);
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(ai);
  if (fd < 0)
    fprintf(stderr, "lookout logs: cannot connect to %s\n", server);
  return fd;
}

static void consume(lk_buf *b, size_t n)
{
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

/* Print every complete SSE event in ev; keeps the unfinished rest. */
static void print_events(lk_buf *ev, int64_t *newest)
{
  for (;;) {
    lk_buf_putc(ev, 0);
    ev->len--;
    char *end = strstr((char *)ev->data, "\n\n");
    if (!end)
      return;
    for (char *l = (char *)ev->data; l < end; l = strchr(l, '\n') + 1) {
      if (strncmp(l, "data: ", 6))
        continue;
      json_t *root = json_loadb(l + 6, strcspn(l + 6, "\n"), 0, NULL);
      *newest = print_streams(json_object_get(root, "streams"), *newest);
      json_decref(root);
    }
    consume(ev, (size_t)(end + 2 - (char *)ev->data));
  }
}

/* De-chunk what raw holds into ev; false at the last chunk or on garbage. */
static bool dechunk(lk_buf *raw, lk_buf *ev)
{
  for (;;) {
    lk_buf_putc(raw, 0);
    raw->len--;
    char *eol = strstr((char *)raw->data, "\r\n");
    if (!eol)
      return true;
    char *num_end;
    unsigned long n = strtoul((char *)raw->data, &num_end, 16);
    if (num_end == (char *)raw->data)
      return false;
    if (n == 0)
      return false;
    size_t head = (size_t)(eol + 2 - (char *)raw->data);
    if (raw->len < head + n + 2)
      return true;
    lk_buf_append(ev, raw->data + head, n);
    consume(raw, head + n + 2);
  }
}

/* Read the response head from raw; 1 streaming, 0 not yet, -1 error (printed). */
static int check_head(lk_buf *raw)
{
  lk_buf_putc(raw, 0);
  raw->len--;
  char *end = strstr((char *)raw->data, "\r\n\r\n");
  if (!end)
    return 0;
  int status = atoi((char *)raw->data + strcspn((char *)raw->data, " "));
  if (status != 200) {
    char *body = end + 4;
    char *brace = strchr(body, '{');
    json_t *root = brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    fprintf(stderr, "lookout logs: tail: HTTP %d %s\n", status, e ? json_string_value(e) : "");
    json_decref(root);
    return -1;
  }
  consume(raw, (size_t)(end + 4 - (char *)raw->data));
  return 1;
}

/* One /tail connection: print events until the stream ends. Returns 0 when
 * the stream ended (reconnect), -1 on a server/query error. */
static int follow_once(const logs_flags *f, int64_t *newest)
{
  int fd = dial(f->server);
  if (fd < 0)
    return -1;
  const char *host = f->server + 7, *prefix = host + strcspn(host, "/");
  size_t plen = strlen(prefix);
  while (plen && prefix[plen - 1] == '/')
    plen--;
  lk_buf rq = {0}, raw = {0}, ev = {0};
  lk_buf_printf(&rq, "GET %.*s/loki/api/v1/tail?query=", (int)plen, prefix);
  urlenc(&rq, f->query);
  lk_buf_printf(&rq, "&start=%lld&limit=%ld HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\n%s%s\r\n",
                (long long)(*newest + 1), f->limit, (int)(prefix - host), host, f->auth,
                f->auth[0] ? "\r\n" : "");
  int rc = write(fd, rq.data, rq.len) == (ssize_t)rq.len ? 0 : -1;
  int streaming = 0;
  while (!rc) {
    char buf[16384];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0)
      break;
    lk_buf_append(&raw, buf, (size_t)n);
    if (!streaming && (streaming = check_head(&raw)) < 0)
      rc = -1;
    if (streaming > 0) {
      bool more = dechunk(&raw, &ev);
      print_events(&ev, newest);
      if (!more)
        break;
    }
  }
  close(fd);
  lk_buf_fini(&rq);
  lk_buf_fini(&raw);
  lk_buf_fini(&ev);
  return rc;
}

int cmd_logs(int argc, char **argv)
{
  logs_flags f;
  int rc = parse_flags(argc, argv, &f);
  if (rc)
    return rc > 0 ? 0 : 2;
  int64_t start = (lk_now_ms() - f.since_ms) * 1000000LL;
  int64_t newest = fetch(&f, start, "backward", start - 1);
  if (newest == -1)
    return 1;
  while (f.follow && f.query[strspn(f.query, " \t\n")] == '{') {
    if (follow_once(&f, &newest))
      return 1;
    sleep(1); /* the stream ended: reconnect from the newest entry printed */
  }
  return 0;
}
