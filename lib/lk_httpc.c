/* lk_httpc.c — blocking HTTP/1.1 client over a socket, see lk_httpc.h.
 *
 * The socket is non-blocking and every send/recv waits in poll() for at most
 * the time left until the request deadline, so no call can hang. A server
 * may answer before it has read the whole body (413, 401): when sending
 * fails, the client still tries to read that response and returns it.
 * https:// runs the same code over a GnuTLS session on that socket (the
 * handshake and each record wait in poll() the same way).
 */
#include "lib/lk_httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lk_time.h"

#define MAX_LINE 65536
#define STREAM_CHUNK 65536

typedef struct conn {
  int fd;
  gnutls_session_t tls;              /* NULL for plain http */
  gnutls_certificate_credentials_t cred;
  int64_t deadline; /* lk_mono_ns */
  uint8_t buf[16384];
  size_t pos, len;
  lk_diag *d;
} conn;

typedef struct url_parts {
  char host[256];
  char port[8];
  bool https;
  const char *path; /* borrowed from the URL */
} url_parts;

static int parse_url(const char *url, url_parts *u, lk_diag *d)
{
  u->https = !strncmp(url, "https://", 8);
  if (strncmp(url, "http://", 7) && !u->https)
    return lk_diag_set(d, LK_EINVAL, -1, "unsupported URL \"%s\" (http:// or https://)", url);
  const char *h = url + (u->https ? 8 : 7), *end = h + strcspn(h, "/?");
  const char *hend = end, *colon = NULL;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (!rb)
      return lk_diag_set(d, LK_EINVAL, -1, "bad URL \"%s\"", url);
    colon = rb[1] == ':' ? rb + 1 : NULL;
    hend = rb + 1;
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
    hend = colon ? colon : end;
  }
  size_t hl = (size_t)(hend - h);
  if (*h == '[') { /* strip brackets for getaddrinfo */
    h++;
    hl -= 2;
  }
  size_t pl = colon ? (size_t)(end - colon - 1) : 0;
  if (!hl || hl >= sizeof u->host || pl >= sizeof u->port)
    return lk_diag_set(d, LK_EINVAL, -1, "bad URL \"%s\"", url);
  memcpy(u->host, h, hl);
  u->host[hl] = 0;
  if (pl) {
    memcpy(u->port, colon + 1, pl);
    u->port[pl] = 0;
  } else {
    strcpy(u->port, u->https ? "443" : "80");
  }
  u->path = *end ? end : "/";
  return 0;
}

static int wait_fd(conn *c, short ev)
{
  int64_t left_ms = (c->deadline - lk_mono_ns()) / 1000000;
  if (left_ms <= 0)
    return lk_diag_set(c->d, LK_ETIMEOUT, -1, "HTTP request timed out");
  struct pollfd p = {.fd = c->fd, .events = ev};
  int rc;
  do
    rc = poll(&p, 1, (int)(left_ms > 60000 ? 60000 : left_ms));
  while (rc < 0 && errno == EINTR);
  if (rc == 0)
    return wait_fd(c, ev);
  return rc < 0 ? lk_diag_set(c->d, LK_EIO, -1, "poll: %s", strerror(errno)) : 0;
}

static int dial(const url_parts *u, conn *c)
{
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int rc = getaddrinfo(u->host, u->port, &hints, &res);
  if (rc || !res)
    return lk_diag_set(c->d, LK_EIO, -1, "cannot resolve %s: %s", u->host, gai_strerror(rc));
  int err = ECONNREFUSED;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    c->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
      continue;
    if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0 ||
        (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0)) {
      socklen_t sl = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0) {
        freeaddrinfo(res);
        return 0;
      }
    } else {
      err = errno ? errno : ETIMEDOUT;
    }
    close(c->fd);
    c->fd = -1;
  }
  freeaddrinfo(res);
  return lk_diag_set(c->d, LK_EIO, -1, "cannot connect to %s:%s: %s", u->host, u->port, strerror(err));
}

/*---- TLS ----*/

/* Wait for what a GnuTLS call that answered GNUTLS_E_AGAIN needs. */
static int wait_tls(conn *c)
{
  return wait_fd(c, gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN);
}

static int tls_fail(conn *c, const char *what, int err)
{
  return lk_diag_set(c->d, LK_EIO, -1, "TLS %s: %s", what, gnutls_strerror(err));
}

static int tls_handshake(conn *c, const url_parts *u, const char *ca_file)
{
  int rc = gnutls_certificate_allocate_credentials(&c->cred);
  if (rc >= 0)
    rc = ca_file ? gnutls_certificate_set_x509_trust_file(c->cred, ca_file, GNUTLS_X509_FMT_PEM)
                 : gnutls_certificate_set_x509_system_trust(c->cred);
  if (rc <= 0)
    return ca_file ? lk_diag_set(c->d, LK_EIO, -1, "cannot read a CA certificate from %s", ca_file)
                   : tls_fail(c, "trust store", rc);
  if ((rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0) {
    c->tls = NULL;
    return tls_fail(c, "init", rc);
  }
  struct in6_addr ip;
  bool is_ip = inet_pton(AF_INET, u->host, &ip) == 1 || inet_pton(AF_INET6, u->host, &ip) == 1;
  if (!is_ip)
    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, u->host, strlen(u->host));
  gnutls_set_default_priority(c->tls);
  gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred);
  gnutls_session_set_verify_cert(c->tls, u->host, 0);
  gnutls_transport_set_int(c->tls, c->fd);
  gnutls_handshake_set_timeout(c->tls, 0);
  while ((rc = gnutls_handshake(c->tls)) < 0) {
    if (gnutls_error_is_fatal(rc))
      break;
    int w = rc == GNUTLS_E_AGAIN ? wait_tls(c) : 0;
    if (w)
      return w;
  }
  if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
    gnutls_datum_t why = {0};
    gnutls_certificate_verification_status_print(gnutls_session_get_verify_cert_status(c->tls),
                                                 GNUTLS_CRT_X509, &why, 0);
    int e = lk_diag_set(c->d, LK_EIO, -1, "TLS: the certificate of %s is not trusted: %s%s", u->host,
                        why.data ? (const char *)why.data : "",
                        ca_file ? "" : " (pass the CA that signed it with --ca-file)");
    gnutls_free(why.data);
    return e;
  }
  return rc < 0 ? tls_fail(c, "handshake", rc) : 0;
}

static void conn_close(conn *c)
{
  if (c->tls)
    gnutls_deinit(c->tls);
  if (c->cred)
    gnutls_certificate_free_credentials(c->cred);
  if (c->fd >= 0)
    close(c->fd);
}

/* send(2) or a TLS record: bytes written, or -1 with errno (EAGAIN: wait). */
static ssize_t send_some(conn *c, const uint8_t *b, size_t n)
{
  if (!c->tls)
    return send(c->fd, b, n, MSG_NOSIGNAL);
  ssize_t w = gnutls_record_send(c->tls, b, n);
  if (w >= 0)
    return w;
  errno = w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED ? EAGAIN : EPIPE;
  return -1;
}

/* recv(2) or a TLS record: bytes read, 0 at the end, or -1 with errno. */
static ssize_t recv_some(conn *c, uint8_t *b, size_t n)
{
  if (!c->tls)
    return recv(c->fd, b, n, 0);
  ssize_t r = gnutls_record_recv(c->tls, b, n);
  if (r >= 0 || r == GNUTLS_E_PREMATURE_TERMINATION)
    return r < 0 ? 0 : r;
  errno = r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ? EAGAIN : ECONNRESET;
  return -1;
}

/*---- plain I/O ----*/

static int send_all(conn *c, const void *p, size_t n)
{
  const uint8_t *b = p;
  while (n) {
    ssize_t w = send_some(c, b, n);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR)
      return lk_diag_set(c->d, LK_EIO, -1, "send: %s", strerror(errno));
    int rc = wait_fd(c, POLLOUT);
    if (rc)
      return rc;
  }
  return 0;
}

/* Refill the read buffer; 0 ok, 1 at EOF, negative on error. */
static int fill(conn *c)
{
  for (;;) {
    ssize_t r = recv_some(c, c->buf, sizeof c->buf);
    if (r > 0) {
      c->pos = 0;
      c->len = (size_t)r;
      return 0;
    }
    if (r == 0)
      return 1;
    if (errno != EAGAIN && errno != EINTR)
      return lk_diag_set(c->d, LK_EIO, -1, "recv: %s", strerror(errno));
    int rc = wait_fd(c, POLLIN);
    if (rc)
      return rc;
  }
}

/* One CRLF- (or LF-) terminated line without the terminator. */
static int read_line(conn *c, lk_buf *line)
{
  lk_buf_clear(line);
  for (;;) {
    if (c->pos == c->len) {
      int rc = fill(c);
      if (rc)
        return rc > 0 ? lk_diag_set(c->d, LK_ECORRUPT, -1, "connection closed mid-response") : rc;
    }
    uint8_t ch = c->buf[c->pos++];
    if (ch == '\n')
      break;
    if (line->len >= MAX_LINE)
      return lk_diag_set(c->d, LK_ECORRUPT, -1, "response line too long");
    lk_buf_putc(line, ch);
  }
  if (line->len && line->data[line->len - 1] == '\r')
    line->data[--line->len] = 0;
  if (!line->data)
    lk_buf_puts(line, "");
  return 0;
}

/* Read exactly n bytes into out (n < 0: until EOF). */
static int read_body(conn *c, lk_buf *out, int64_t n, size_t max)
{
  while (n != 0) {
    if (c->pos == c->len) {
      int rc = fill(c);
      if (rc > 0 && n < 0)
        return 0;
      if (rc)
        return rc > 0 ? lk_diag_set(c->d, LK_ECORRUPT, -1, "connection closed mid-body") : rc;
    }
    size_t take = c->len - c->pos;
    if (n > 0 && (uint64_t)n < take)
      take = (size_t)n;
    if (out->len + take > max)
      return lk_diag_set(c->d, LK_ETOOBIG, -1, "response body exceeds %zu bytes", max);
    lk_buf_append(out, c->buf + c->pos, take);
    c->pos += take;
    if (n > 0)
      n -= (int64_t)take;
  }
  return 0;
}

static int read_chunked(conn *c, lk_buf *out, size_t max)
{
  lk_buf line = {0};
  int rc;
  for (;;) {
    if ((rc = read_line(c, &line)))
      break;
    char *end;
    unsigned long long sz = strtoull((char *)line.data, &end, 16);
    if (end == (char *)line.data) {
      rc = lk_diag_set(c->d, LK_ECORRUPT, -1, "bad chunk size line");
      break;
    }
    if (sz == 0) { /* trailers until the empty line */
      do
        rc = read_line(c, &line);
      while (!rc && line.len);
      break;
    }
    if (sz > max || out->len + sz > max) {
      rc = lk_diag_set(c->d, LK_ETOOBIG, -1, "response body exceeds %zu bytes", max);
      break;
    }
    if ((rc = read_body(c, out, (int64_t)sz, max)) || (rc = read_line(c, &line)))
      break;
  }
  lk_buf_fini(&line);
  return rc;
}

const char *lk_httpc_header(const lk_httpc_resp *r, const char *name, char *buf, size_t bufsz)
{
  size_t nl = strlen(name);
  const char *p = r->headers.data ? (const char *)r->headers.data : "";
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t ll = eol ? (size_t)(eol - p) : strlen(p);
    if (ll > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      size_t vl = (size_t)(p + ll - v);
      if (vl >= bufsz)
        vl = bufsz - 1;
      memcpy(buf, v, vl);
      buf[vl] = 0;
      return buf;
    }
    p += ll + (eol ? 1 : 0);
  }
  return NULL;
}

static int read_response(conn *c, const char *method, lk_httpc_resp *out, size_t max)
{
  lk_buf line = {0};
  int rc;
  do { /* skip interim 1xx responses */
    lk_buf_clear(&out->headers);
    if ((rc = read_line(c, &line)))
      goto done;
    int status = 0;
    if (sscanf((char *)line.data, "HTTP/%*d.%*d %d", &status) != 1 || status < 100 || status > 999) {
      rc = lk_diag_set(c->d, LK_ECORRUPT, -1, "bad HTTP status line");
      goto done;
    }
    out->status = status;
    for (;;) {
      if ((rc = read_line(c, &line)))
        goto done;
      if (!line.len)
        break;
      lk_buf_append(&out->headers, line.data, line.len);
      lk_buf_putc(&out->headers, '\n');
    }
  } while (out->status < 200);
  char v[64];
  if (!strcmp(method, "HEAD") || out->status == 204 || out->status == 304)
    rc = 0;
  else if (lk_httpc_header(out, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked"))
    rc = read_chunked(c, &out->body, max);
  else if (lk_httpc_header(out, "Content-Length", v, sizeof v))
    rc = read_body(c, &out->body, (int64_t)strtoll(v, NULL, 10), max);
  else
    rc = read_body(c, &out->body, -1, max);
  if (!out->body.data)
    lk_buf_puts(&out->body, "");
done:
  lk_buf_fini(&line);
  return rc;
}

static int send_request(conn *c, const lk_httpc_req *q, const url_parts *u, const char *method)
{
  lk_buf h = {0};
  lk_buf_printf(&h, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nUser-Agent: lookout\r\n",
                method, u->path, u->host, u->port);
  for (size_t i = 0; q->headers && q->headers[i]; i++)
    lk_buf_printf(&h, "%s\r\n", q->headers[i]);
  bool chunked = q->body_fn && q->body_fn_len < 0;
  if (chunked)
    lk_buf_puts(&h, "Transfer-Encoding: chunked\r\n");
  else if (q->body_fn)
    lk_buf_printf(&h, "Content-Length: %lld\r\n", (long long)q->body_fn_len);
  else if (q->body || strcmp(method, "GET"))
    lk_buf_printf(&h, "Content-Length: %zu\r\n", q->body_len);
  lk_buf_puts(&h, "\r\n");
  int rc = send_all(c, h.data, h.len);
  lk_buf_fini(&h);
  if (rc || !q->body_fn)
    return rc ? rc : q->body_len ? send_all(c, q->body, q->body_len) : 0;
  uint8_t *chunk = malloc(STREAM_CHUNK + 32);
  for (;;) {
    ssize_t n = q->body_fn(q->body_ctx, chunk + 16, STREAM_CHUNK);
    if (n < 0) {
      rc = lk_diag_set(c->d, (int)n, -1, "request body source failed: %s", lk_strerror((int)n));
      break;
    }
    if (chunked) {
      int hl = snprintf((char *)chunk, 16, "%zx\r\n", (size_t)n);
      memmove(chunk + 16 - hl, chunk, (size_t)hl);
      memcpy(chunk + 16 + n, "\r\n", 2);
      rc = send_all(c, chunk + 16 - hl, (size_t)hl + (size_t)n + 2); /* n == 0: "0\r\n\r\n" */
    } else {
      rc = n ? send_all(c, chunk + 16, (size_t)n) : 0;
    }
    if (rc || n == 0)
      break;
  }
  free(chunk);
  return rc;
}

int lk_httpc_do(const lk_httpc_req *q, lk_httpc_resp *out, lk_diag *d)
{
  url_parts u;
  int rc = parse_url(q->url, &u, d);
  if (rc)
    return rc;
  const char *method = q->method ? q->method : (q->body || q->body_fn) ? "POST" : "GET";
  conn c = {.fd = -1, .d = d};
  c.deadline = lk_mono_ns() + (int64_t)(q->timeout_ms ? q->timeout_ms : 30000) * 1000000;
  if ((rc = dial(&u, &c)) || (u.https && (rc = tls_handshake(&c, &u, q->ca_file)))) {
    conn_close(&c);
    return rc;
  }
  lk_httpc_resp r = {0};
  lk_diag sd = {0};
  c.d = &sd;
  int src = send_request(&c, q, &u, method);
  c.d = src ? NULL : d; /* after a failed send, a response (e.g. 413) still wins */
  rc = read_response(&c, method, &r, q->max_body ? q->max_body : (size_t)256 << 20);
  conn_close(&c);
  if (rc && src) {
    rc = src;
    if (sd.set)
      lk_diag_set(d, rc, -1, "%s", sd.msg);
  }
  if (rc) {
    lk_httpc_resp_fini(&r);
    return rc;
  }
  *out = r;
  return 0;
}

int lk_httpc_get(const char *url, int timeout_ms, lk_httpc_resp *out, lk_diag *d)
{
  lk_httpc_req q = {.url = url, .timeout_ms = timeout_ms};
  return lk_httpc_do(&q, out, d);
}

void lk_httpc_resp_fini(lk_httpc_resp *r)
{
  lk_buf_fini(&r->headers);
  lk_buf_fini(&r->body);
  r->status = 0;
}
