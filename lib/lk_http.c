/* lk_http.c — lib/lk_http.h on libmicrohttpd.
 *
 * Request life cycle (libmicrohttpd calls the access handler several times
 * per request, always from the connection's thread, never concurrently):
 *   uri_log     allocates the lk_http_req and keeps the raw URI (the only
 *               place MHD exposes it; we parse the query string ourselves so
 *               '+' decodes to a space as Go clients expect);
 *   1st call    route lookup (404/405), auth (401), Content-Length against
 *               the limit (413), stream begin — each may answer at once, and
 *               MHD then discards the body and closes the connection;
 *   body calls  bytes are counted (413 on overflow, remaining bytes are
 *               discarded), buffered or handed to the stream's chunk;
 *   last call   form arguments are parsed, the handler or stream end runs and
 *               the response is queued;
 *   completed   stream end if the client left mid-body, observer, free.
 * Invariant: exactly one response per request (req->responded), and a
 * stream's end runs exactly once.
 *
 * Threads: the server struct is immutable after start except `stopping`
 * (atomic), which makes streaming responses end so MHD_stop_daemon can join,
 * and the list of connections receiving a request (conn_mu, a leaf lock owned
 * by the server), which the reaper thread walks once a second to cut off
 * those that exceed request_timeout (shutdown(2) of the socket: MHD's thread
 * for that connection then sees it closed and cleans up as usual).
 */
#include "lib/lk_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/lk_alloc.h"
#include "lib/lk_json.h"
#include "lib/lk_log.h"
#include "lib/lk_strlit.h"
#include "lib/lk_time.h"
#include "lib/lk_token.h"

/* A client that keeps sending after an over-limit body is cut off once it
 * has sent this much more (it gets no response, only a closed connection). */
#define DISCARD_MAX ((uint64_t)64 << 20)
#define STREAM_POLL_NS 20000000L
/* A body still arriving after the request timeout must have averaged this
 * (a bulk import is far above it, a client trickling bytes far below). */
#define MIN_BODY_RATE (64 << 10)
/* Per-connection buffer pool. libmicrohttpd maps a pool over 32 KiB with
 * mmap of its own and unmaps it when the connection closes; on a VM the TLB
 * shootdown of that munmap cost ~0.35 ms per connection (a one-series query
 * took 0.5 ms instead of 0.13 ms). At 32 KiB the pool comes from malloc; the
 * price is 16 KiB body reads (bulk imports ~10 % slower when the server, not
 * the client, is the bound). MHD zeroes the pool after every request on a
 * keep-alive connection, another reason to keep it small. */
#define CONN_MEMORY ((size_t)32 << 10)

/* One open connection, from MHD's connection notification until it closes.
 * receiving_since is nonzero while a request is being received (from accept
 * or its request line until its body is complete). */
typedef struct http_conn {
  struct http_conn *prev, *next;
  int fd;
  int64_t receiving_since;
} http_conn;

struct lk_http_server {
  struct MHD_Daemon *mhd;
  const lk_http_route *routes;
  size_t nroutes;
  void *ctx;
  lk_http_observer observe;
  lk_tokens *tokens;   /* NULL: no token configured */
  bool loopback;       /* bound to a loopback address */
  bool trust_loopback; /* LK_AUTH_REMOTE/ADMIN routes are open (loopback && !require_token) */
  bool require_read_token;
  int port;
  int64_t request_timeout_ns;
  atomic_bool stopping;
  pthread_mutex_t conn_mu; /* guards conns and every http_conn's receiving_since */
  pthread_cond_t reaper_wake;
  http_conn conns;         /* list head */
  pthread_t reaper;
};

typedef struct http_arg {
  char *name, *value;
} http_arg;

struct lk_http_req {
  lk_http_server *srv;
  struct MHD_Connection *conn;
  char *raw_uri;
  const char *method, *path, *path_param;
  const lk_http_route *route;
  http_arg *args;
  size_t nargs, args_cap;
  lk_buf body;
  uint64_t received;
  void *stream_state;
  bool started, responded, too_big, stream_live, stream_failed;
  int status;
  int64_t start_ns;
  lk_http_resp resp;
};

typedef struct out_stream {
  lk_http_body_stream s;
  lk_http_server *srv;
} out_stream;

/*---- accessors ----*/

const char *lk_http_method(const lk_http_req *r) { return r->method; }
const char *lk_http_path(const lk_http_req *r) { return r->path; }
const char *lk_http_path_param(const lk_http_req *r) { return r->path_param ? r->path_param : ""; }

const char *lk_http_arg(const lk_http_req *r, const char *name)
{
  for (size_t i = 0; i < r->nargs; i++)
    if (!strcmp(r->args[i].name, name))
      return r->args[i].value;
  return NULL;
}

size_t lk_http_args(const lk_http_req *r, const char *name, const char **out, size_t max)
{
  size_t n = 0;
  for (size_t i = 0; i < r->nargs; i++)
    if (!strcmp(r->args[i].name, name)) {
      if (n < max)
        out[n] = r->args[i].value;
      n++;
    }
  return n;
}

const char *lk_http_header(const lk_http_req *r, const char *name)
{
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const uint8_t *lk_http_body(const lk_http_req *r, size_t *len)
{
  *len = r->body.len;
  return r->body.data ? r->body.data : (const uint8_t *)"";
}

void lk_http_error(lk_http_resp *resp, int status, const char *error_type, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  resp->status = status;
  resp->content_type = "application/json";
  resp->content_encoding = NULL;
  resp->cache_control = NULL;
  resp->vary = NULL;
  resp->etag[0] = 0;
  lk_buf_clear(&resp->body);
  lk_buf_puts(&resp->body, "{\"status\":\"error\",\"errorType\":");
  lk_json_str(&resp->body, error_type);
  lk_buf_puts(&resp->body, ",\"error\":");
  lk_json_str(&resp->body, msg);
  lk_buf_puts(&resp->body, "}");
}

/*---- arguments ----*/

/* Form decoding: '+' is a space, %XX a byte; a malformed % stays literal. */
static char *form_decode(const char *s, size_t n)
{
  char *out = lk_xmalloc(n + 1), *o = out;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') {
      *o++ = ' ';
    } else if (s[i] == '%' && i + 2 < n && lk_hex_digit((unsigned char)s[i + 1]) >= 0 &&
               lk_hex_digit((unsigned char)s[i + 2]) >= 0) {
      *o++ = (char)(lk_hex_digit((unsigned char)s[i + 1]) * 16 + lk_hex_digit((unsigned char)s[i + 2]));
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = 0;
  return out;
}

static void parse_form(lk_http_req *r, const char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    size_t end = i;
    while (end < n && s[end] != '&')
      end++;
    if (end > i) {
      size_t eq = i;
      while (eq < end && s[eq] != '=')
        eq++;
      r->args = lk_xgrow(r->args, &r->args_cap, r->nargs + 1, sizeof *r->args);
      http_arg *a = &r->args[r->nargs++];
      a->name = form_decode(s + i, eq - i);
      a->value = eq < end ? form_decode(s + eq + 1, end - eq - 1) : lk_xstrdup("");
    }
    i = end + 1;
  }
}

static bool is_form(const lk_http_req *r)
{
  const char *ct = lk_http_header(r, "Content-Type");
  return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

/*---- responses ----*/

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  out_stream *os = cls;
  for (;;) {
    if (atomic_load(&os->srv->stopping))
      return MHD_CONTENT_READER_END_OF_STREAM;
    ssize_t n = os->s.read(os->s.state, (uint8_t *)buf, max);
    if (n > 0)
      return n;
    if (n < 0)
      return MHD_CONTENT_READER_END_OF_STREAM;
    struct timespec ts = {0, STREAM_POLL_NS};
    nanosleep(&ts, NULL);
  }
}

static void stream_free(void *cls)
{
  out_stream *os = cls;
  if (os->s.free)
    os->s.free(os->s.state);
  free(os);
}

static struct MHD_Response *build_response(lk_http_req *r)
{
  lk_http_resp *rs = &r->resp;
  struct MHD_Response *m;
  if (rs->stream.read) {
    out_stream *os = lk_xmalloc(sizeof *os);
    os->s = rs->stream;
    os->srv = r->srv;
    memset(&rs->stream, 0, sizeof rs->stream);
    m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, os, stream_free);
    if (!m)
      stream_free(os);
  } else {
    size_t len = 0;
    uint8_t *data = lk_buf_take(&rs->body, &len);
    if (data)
      m = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    else
      m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!m)
      free(data);
  }
  if (!m)
    return NULL;
  if (rs->status != 204)
    MHD_add_response_header(m, "Content-Type", rs->content_type ? rs->content_type : "application/json");
  if (rs->content_encoding)
    MHD_add_response_header(m, "Content-Encoding", rs->content_encoding);
  if (rs->cache_control)
    MHD_add_response_header(m, "Cache-Control", rs->cache_control);
  if (rs->vary)
    MHD_add_response_header(m, "Vary", rs->vary);
  if (rs->etag[0])
    MHD_add_response_header(m, "ETag", rs->etag);
  if (rs->status == 401)
    MHD_add_response_header(m, "WWW-Authenticate", "Bearer");
  if (rs->status == 405 && r->route)
    MHD_add_response_header(m, "Allow", r->route->methods);
  return m;
}

/*---- connections: the request timeout ----*/

static http_conn *conn_of(struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

/* A request starts (since = now; kept when already receiving) or has been
 * received whole (since = 0). */
static void set_receiving(lk_http_server *s, struct MHD_Connection *c, int64_t since)
{
  http_conn *hc = conn_of(c);
  if (!hc)
    return;
  pthread_mutex_lock(&s->conn_mu);
  if (!since || !hc->receiving_since)
    hc->receiving_since = since;
  pthread_mutex_unlock(&s->conn_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
  lk_http_server *s = cls;
  http_conn *hc = *socket_context;
  pthread_mutex_lock(&s->conn_mu);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    hc = lk_xcalloc(1, sizeof *hc);
    hc->fd = i ? i->connect_fd : -1;
    hc->receiving_since = lk_mono_ns();
    hc->next = s->conns.next;
    hc->prev = &s->conns;
    s->conns.next->prev = hc;
    s->conns.next = hc;
    *socket_context = hc;
  } else if (hc) { /* closed: MHD closes the socket after this returns */
    hc->prev->next = hc->next;
    hc->next->prev = hc->prev;
    free(hc);
    *socket_context = NULL;
  }
  pthread_mutex_unlock(&s->conn_mu);
}

/* With conn_mu held: shut down the sockets of requests past the timeout. */
static void reap_slow(lk_http_server *s)
{
  int64_t now = lk_mono_ns();
  for (http_conn *hc = s->conns.next; hc != &s->conns; hc = hc->next) {
    if (!hc->receiving_since || now - hc->receiving_since <= s->request_timeout_ns || hc->fd < 0)
      continue;
    lk_warn("http: a request was not received within the request timeout of %llds; closing its connection",
            (long long)(s->request_timeout_ns / 1000000000));
    hc->receiving_since = 0;
    shutdown(hc->fd, SHUT_RDWR);
  }
}

static void *reaper_main(void *arg)
{
  lk_http_server *s = arg;
  pthread_mutex_lock(&s->conn_mu);
  while (!atomic_load(&s->stopping)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&s->reaper_wake, &s->conn_mu, &ts);
    reap_slow(s);
  }
  pthread_mutex_unlock(&s->conn_mu);
  return NULL;
}

static enum MHD_Result respond(lk_http_req *r)
{
  if (!r->resp.status)
    r->resp.status = 200;
  r->responded = true;
  set_receiving(r->srv, r->conn, 0);
  r->status = r->resp.status;
  struct MHD_Response *m = build_response(r);
  if (!m)
    return MHD_NO;
  enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->resp.status, m);
  MHD_destroy_response(m);
  return ok;
}

/*---- routing and auth ----*/

static bool method_allowed(const char *methods, const char *m)
{
  if (!strcmp(m, "HEAD"))
    m = "GET";
  size_t ml = strlen(m);
  for (const char *p = methods; *p;) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == ml && !strncmp(p, m, n))
      return true;
    p += n + (bar ? 1 : 0);
  }
  return false;
}

/* Route for path+method; *path_only gets a route whose path matched when
 * no method did (for 405). */
static const lk_http_route *find_route(const lk_http_server *s, const char *path, const char *method,
                                       const lk_http_route **path_only, const char **param)
{
  *path_only = NULL;
  for (size_t i = 0; i < s->nroutes; i++) {
    const lk_http_route *rt = &s->routes[i];
    size_t pl = strlen(rt->path);
    bool prefix = pl && rt->path[pl - 1] == '*';
    bool match = prefix ? !strncmp(path, rt->path, pl - 1) : !strcmp(path, rt->path);
    if (!match)
      continue;
    if (!method_allowed(rt->methods, method)) {
      if (!*path_only)
        *path_only = rt;
      continue;
    }
    *param = prefix ? path + pl - 1 : "";
    return rt;
  }
  return NULL;
}

/* The scope a route needs on this server, LK_SCOPE_NONE when it is open. */
static enum lk_scope scope_needed(const lk_http_server *s, enum lk_http_auth a)
{
  switch (a) {
  case LK_AUTH_NONE: return s->require_read_token ? LK_SCOPE_READ : LK_SCOPE_NONE;
  case LK_AUTH_OPEN: return LK_SCOPE_NONE;
  case LK_AUTH_REMOTE: return s->trust_loopback ? LK_SCOPE_NONE : LK_SCOPE_WRITE;
  case LK_AUTH_ADMIN: return s->trust_loopback ? LK_SCOPE_NONE : LK_SCOPE_ADMIN;
  case LK_AUTH_ALWAYS: return s->tokens ? LK_SCOPE_ADMIN : LK_SCOPE_NONE;
  }
  return LK_SCOPE_ADMIN;
}

/* 0 when allowed; otherwise fills resp with 401 (no or unknown token) or
 * 403 (a known token without the scope). */
static int check_auth(lk_http_req *r)
{
  lk_http_server *s = r->srv;
  enum lk_scope need = scope_needed(s, r->route->auth);
  if (need == LK_SCOPE_NONE)
    return 0;
  if (!s->tokens) {
    lk_http_error(&r->resp, 401, "unauthorized",
                  "%s needs a bearer token with the %s scope (the server listens beyond loopback or "
                  "auth.require_token / auth.require_read_token is set); configure auth.token_file",
                  r->route->name, lk_scope_name(need));
    return -1;
  }
  const char *h = lk_http_header(r, "Authorization");
  bool bearer = h && !strncasecmp(h, "Bearer ", 7);
  enum lk_scope have = bearer ? lk_tokens_scope(s->tokens, h + 7) : LK_SCOPE_NONE;
  if (have >= need)
    return 0;
  if (have == LK_SCOPE_NONE)
    lk_http_error(&r->resp, 401, "unauthorized", h ? "invalid bearer token" : "missing bearer token");
  else
    lk_http_error(&r->resp, 403, "forbidden", "%s needs a token with the %s scope; this token has %s",
                  r->route->name, lk_scope_name(need), lk_scope_name(have));
  return -1;
}

/*---- the access handler ----*/

static void parse_query_string(lk_http_req *r)
{
  const char *q = r->raw_uri ? strchr(r->raw_uri, '?') : NULL;
  if (q)
    parse_form(r, q + 1, strlen(q + 1));
}

static enum MHD_Result begin_request(lk_http_req *r, const char *url, const char *method)
{
  lk_http_server *s = r->srv;
  r->method = method;
  r->path = url;
  r->start_ns = r->start_ns ? r->start_ns : lk_mono_ns();
  parse_query_string(r);
  const lk_http_route *path_only;
  r->route = find_route(s, url, method, &path_only, &r->path_param);
  if (!r->route) {
    r->route = path_only;
    if (path_only)
      lk_http_error(&r->resp, 405, "bad_data", "method %s not allowed for %s (allowed: %s)", method,
                    url, path_only->methods);
    else
      lk_http_error(&r->resp, 404, "not_found", "no such endpoint: %s", url);
    return respond(r);
  }
  if (check_auth(r))
    return respond(r);
  const char *cl = lk_http_header(r, "Content-Length");
  if (cl) {
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    if (n > r->route->body_limit) {
      lk_http_error(&r->resp, 413, "bad_data", "request body of %llu bytes exceeds the limit of %zu bytes for %s",
                    n, r->route->body_limit, r->route->name);
      return respond(r);
    }
  }
  if (cl && !r->route->stream)
    lk_buf_reserve(&r->body, (size_t)strtoull(cl, NULL, 10)); /* within the limit, checked above */
  if (r->route->stream) {
    r->stream_state = r->route->stream->begin(s->ctx, r, &r->resp);
    if (!r->stream_state) {
      if (!r->resp.status)
        lk_http_error(&r->resp, 500, "internal", "request rejected");
      return respond(r);
    }
    r->stream_live = true;
  }
  return MHD_YES;
}

static enum MHD_Result consume(lk_http_req *r, const char *data, size_t n)
{
  int64_t elapsed = lk_mono_ns() - r->start_ns;
  if (elapsed > r->srv->request_timeout_ns && r->received < (uint64_t)(elapsed / 1000000000) * MIN_BODY_RATE) {
    lk_warn("http: %s: request body still arriving after the request timeout of %llds at under %d bytes/s; "
            "closing the connection", r->route->name, (long long)(r->srv->request_timeout_ns / 1000000000),
            MIN_BODY_RATE);
    return MHD_NO;
  }
  r->received += n;
  if (r->received > r->route->body_limit) {
    if (!r->too_big)
      lk_buf_fini(&r->body);
    r->too_big = true;
    return r->received - r->route->body_limit > DISCARD_MAX ? MHD_NO : MHD_YES;
  }
  if (r->route->stream) {
    if (!r->stream_failed && r->route->stream->chunk(r->stream_state, (const uint8_t *)data, n))
      r->stream_failed = true;
  } else {
    lk_buf_append(&r->body, data, n);
  }
  return MHD_YES;
}

static void fill_too_big(lk_http_req *r)
{
  lk_http_error(&r->resp, 413, "bad_data", "request body exceeds the limit of %zu bytes for %s",
                r->route->body_limit, r->route->name);
}

static enum MHD_Result finish_request(lk_http_req *r)
{
  set_receiving(r->srv, r->conn, 0); /* received whole: the handler may take its time */
  if (r->route->stream) {
    if (r->too_big)
      fill_too_big(r);
    r->stream_live = false;
    r->route->stream->end(r->stream_state, r, &r->resp);
    r->stream_state = NULL;
  } else if (r->too_big) {
    fill_too_big(r);
  } else {
    if (r->body.len && is_form(r))
      parse_form(r, (const char *)r->body.data, r->body.len);
    r->route->handle(r->srv->ctx, r, &r->resp);
  }
  return respond(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  lk_http_req *r = *con_cls;
  if (!r) { /* no URI callback ran (should not happen): allocate here */
    r = lk_xcalloc(1, sizeof *r);
    r->srv = cls;
    *con_cls = r;
  }
  r->conn = conn;
  if (!r->started) {
    r->started = true;
    return begin_request(r, url, method);
  }
  if (r->responded) {
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    enum MHD_Result ok = consume(r, upload, *upload_size);
    *upload_size = 0;
    return ok;
  }
  return finish_request(r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
  lk_http_req *r = lk_xcalloc(1, sizeof *r);
  r->srv = cls;
  r->conn = conn;
  r->raw_uri = lk_xstrdup(uri);
  r->start_ns = lk_mono_ns();
  set_receiving(r->srv, conn, r->start_ns);
  return r;
}

static void req_free(lk_http_req *r)
{
  for (size_t i = 0; i < r->nargs; i++) {
    free(r->args[i].name);
    free(r->args[i].value);
  }
  free(r->args);
  free(r->raw_uri);
  lk_buf_fini(&r->body);
  lk_buf_fini(&r->resp.body);
  if (r->resp.stream.free)
    r->resp.stream.free(r->resp.stream.state);
  free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  lk_http_req *r = *con_cls;
  lk_http_server *s = cls;
  if (!r)
    return;
  *con_cls = NULL;
  if (r->stream_live) { /* client left mid-body */
    lk_http_resp scratch = {0};
    r->route->stream->end(r->stream_state, r, &scratch);
    lk_buf_fini(&scratch.body);
    if (scratch.stream.free)
      scratch.stream.free(scratch.stream.state);
  }
  if (r->responded && s->observe) {
    const char *name = r->route && r->status != 405 ? r->route->name : "unmatched";
    s->observe(s->ctx, name, r->status, (lk_mono_ns() - r->start_ns) / 1000);
  }
  req_free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = 0;
  lk_debug("http: %s", msg);
}

/*---- start / stop ----*/

/* "host:port", "[v6]:port", ":port". */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, bool *loopback, lk_diag *d)
{
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || !colon[1])
    return lk_diag_set(d, LK_EINVAL, -1, "listen address \"%s\": expected host:port", listen);
  size_t hl = (size_t)(colon - listen);
  if (hl >= sizeof host)
    return lk_diag_set(d, LK_EINVAL, -1, "listen address \"%s\": host too long", listen);
  memcpy(host, listen, hl);
  host[hl] = 0;
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = 0;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535)
    return lk_diag_set(d, LK_EINVAL, -1, "listen address \"%s\": bad port", listen);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
  if (rc || !res)
    return lk_diag_set(d, LK_EINVAL, -1, "listen address \"%s\": %s", listen, gai_strerror(rc));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (!host[0]) { /* ":port" means every interface, IPv4 */
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
  }
  if (ss->ss_family == AF_INET)
    *loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  else
    *loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
  return 0;
}

static void server_free(lk_http_server *s)
{
  lk_tokens_free(s->tokens);
  pthread_cond_destroy(&s->reaper_wake);
  pthread_mutex_destroy(&s->conn_mu);
  free(s);
}

int lk_http_start(const lk_http_opts *o, const lk_http_route *routes, size_t nroutes, void *ctx,
                  lk_http_observer observe, lk_http_server **out, lk_diag *d)
{
  if ((o->tls_cert != NULL) != (o->tls_key != NULL))
    return lk_diag_set(d, LK_EINVAL, -1, "TLS needs both a certificate and a key");
  struct sockaddr_storage ss = {0};
  bool loopback = false;
  int rc = resolve_listen(o->listen ? o->listen : "127.0.0.1:9470", &ss, &loopback, d);
  if (rc)
    return rc;
  lk_http_server *s = lk_xcalloc(1, sizeof *s);
  s->routes = routes;
  s->nroutes = nroutes;
  s->ctx = ctx;
  s->observe = observe;
  if (o->token_file) {
    rc = lk_tokens_open(o->token_file, &s->tokens, d);
    if (rc) {
      free(s);
      return rc;
    }
  } else if (o->token && o->token[0]) {
    s->tokens = lk_tokens_single(o->token);
  }
  s->loopback = loopback;
  s->trust_loopback = loopback && !o->require_token;
  s->require_read_token = o->require_read_token;
  s->request_timeout_ns = (int64_t)(o->request_timeout_s ? o->request_timeout_s : 300) * 1000000000;
  atomic_init(&s->stopping, false);
  pthread_mutex_init(&s->conn_mu, NULL);
  pthread_cond_init(&s->reaper_wake, NULL);
  s->conns.next = s->conns.prev = &s->conns;
  unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (!o->threads)
    flags |= MHD_USE_THREAD_PER_CONNECTION;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (o->tls_cert)
    flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls[] = {
    {o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)o->tls_cert},
    {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key},
    {MHD_OPTION_END, 0, NULL},
  };
  /* Only when asked: MHD's value 0 turns SO_REUSEADDR off, and a restarted
   * server then cannot rebind its port while old connections linger. */
  struct MHD_OptionItem reuse[] = {
    {o->reuse_port ? MHD_OPTION_LISTENING_ADDRESS_REUSE : MHD_OPTION_END, 1, NULL},
    {MHD_OPTION_END, 0, NULL},
  };
  s->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->max_connections ? o->max_connections : 1024),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(o->max_connections_per_ip ? o->max_connections_per_ip : 256),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout_s ? o->timeout_s : 120),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads ? o->threads : 0),
      MHD_OPTION_ARRAY, reuse,
      MHD_OPTION_ARRAY, tls,
      MHD_OPTION_END);
  if (!s->mhd) {
    server_free(s);
    return lk_diag_set(d, LK_EIO, -1, "cannot listen on %s: %s", o->listen ? o->listen : "127.0.0.1:9470",
                       o->tls_cert ? "address in use or not permitted, or the TLS certificate/key is invalid"
                                   : "address in use or not permitted");
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  if (pthread_create(&s->reaper, NULL, reaper_main, s)) {
    MHD_stop_daemon(s->mhd);
    server_free(s);
    return lk_diag_set(d, LK_EIO, -1, "cannot start the HTTP request-timeout thread");
  }
  *out = s;
  return 0;
}

int lk_http_port(const lk_http_server *s) { return s->port; }
bool lk_http_is_loopback(const lk_http_server *s) { return s->loopback; }

void lk_http_stop(lk_http_server *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&s->conn_mu);
  atomic_store(&s->stopping, true);
  pthread_cond_signal(&s->reaper_wake);
  pthread_mutex_unlock(&s->conn_mu);
  pthread_join(s->reaper, NULL);
  MHD_stop_daemon(s->mhd);
  server_free(s);
}
