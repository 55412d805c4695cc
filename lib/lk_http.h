/* lk_http.h — the HTTP server wrapper (libmicrohttpd) with one route table.
 *
 * A route names method(s), path, auth requirement and body limit, and either
 * a buffered handler (the body is collected up to body_limit, then the
 * handler runs) or streaming callbacks (begin/chunk/end, for bulk imports
 * whose bodies must not be held in memory). Bodies over the limit get 413,
 * unknown paths 404, wrong methods 405 — all as JSON error bodies in the
 * Prometheus shape {"status":"error","errorType":..,"error":..}.
 *
 * Threads: handlers run on libmicrohttpd's threads, concurrently (by
 * default one thread per connection, so a slow query or a long-lived event
 * stream never stalls other clients); the route table and ctx are borrowed
 * for the server's lifetime and must be safe for concurrent use.
 *
 * Auth: a route's requirement is checked before its body is read, against
 * the scoped tokens of lib/lk_token.h (the token file, re-read when it
 * changes). As Prometheus and Kubernetes answer: a missing or unknown
 * "Authorization: Bearer <token>" gets 401, a known token whose scope is too
 * low 403 (JSON errors naming the scope needed). A route that needs a token
 * on a server with none configured answers 401 saying one must be configured.
 *
 * Limits: max_connections in total and max_connections_per_ip are refused
 * at accept (the connection is closed at once, nothing is read); idle_timeout
 * closes a connection that sends nothing, request_timeout one whose request
 * line and headers have not arrived within it, or whose body is still
 * arriving after it at under 64 KiB/s on average (a client trickling a byte a
 * second; a bulk import is far faster). Over-limit bodies are refused by Content-Length before a
 * byte is read, and counted while streaming (never buffered past the limit).
 */
#ifndef LK_HTTP_H
#define LK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"

typedef struct lk_http_server lk_http_server;
typedef struct lk_http_req lk_http_req;

/* What a route needs ("beyond loopback": when the server listens beyond
 * loopback, or always with require_token). */
enum lk_http_auth {
  LK_AUTH_NONE = 0,    /* a read: open, or the read scope with require_read_token */
  LK_AUTH_OPEN,        /* always open (health probes) */
  LK_AUTH_REMOTE,      /* the write scope beyond loopback */
  LK_AUTH_ADMIN,       /* the admin scope beyond loopback */
  LK_AUTH_ALWAYS,      /* the admin scope, even on loopback (when tokens are configured) */
};

/* Request accessors; returned strings are borrowed for the handler call. */
const char *lk_http_method(const lk_http_req *r);
const char *lk_http_path(const lk_http_req *r);          /* decoded path, no query */
const char *lk_http_path_param(const lk_http_req *r);    /* what matched a trailing '*' in the route, or "" */
/* First value of a parameter from the query string or an
 * application/x-www-form-urlencoded body; NULL if absent. */
const char *lk_http_arg(const lk_http_req *r, const char *name);
/* All values of a repeated parameter (e.g. match[]); returns the count found,
 * fills up to max. */
size_t lk_http_args(const lk_http_req *r, const char *name, const char **out, size_t max);
const char *lk_http_header(const lk_http_req *r, const char *name);
const uint8_t *lk_http_body(const lk_http_req *r, size_t *len); /* buffered routes */

/* Streaming response body (Server-Sent Events, live feeds). read is called
 * repeatedly on the connection's thread: it writes up to max bytes into buf
 * and returns their count, 0 when nothing is ready yet (it may wait up to
 * ~100 ms first; the server then asks again), or -1 when the stream is done.
 * free(state) runs exactly once, when the response ends, the client leaves or
 * the server stops. A producer should emit something (an SSE comment line)
 * every few seconds so a departed client is noticed. */
typedef struct lk_http_body_stream {
  ssize_t (*read)(void *state, uint8_t *buf, size_t max);
  void (*free)(void *state);
  void *state;
} lk_http_body_stream;

/* Response filled by handlers. body is owned by the server after return.
 * When stream.read is set, body is ignored and the stream is sent chunked. */
typedef struct lk_http_resp {
  int status;                 /* default 200 */
  const char *content_type;   /* static string; default application/json */
  const char *content_encoding; /* static string or NULL */
  const char *cache_control;  /* static string or NULL: the Cache-Control header */
  const char *vary;           /* static string or NULL: the Vary header */
  char etag[64];              /* the ETag header (quotes included), or "" for none */
  lk_buf body;
  lk_http_body_stream stream;
} lk_http_resp;

/* Fill resp with a Prometheus-shaped JSON error. */
void lk_http_error(lk_http_resp *resp, int status, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef void (*lk_http_handler)(void *ctx, const lk_http_req *req, lk_http_resp *resp);

/* Streaming body: begin returns per-request state (or NULL and fills resp to
 * reject early); chunk may be called many times; end always runs once and
 * must free the state. A chunk returning nonzero stops reading, and end is
 * then called with the failure recorded in the state. When the body exceeds
 * the route's limit, chunk is not called again and end finds resp already
 * holding the 413 error (it may rewrite the message, e.g. to say what was
 * stored). When the client goes away mid-body, end runs with a scratch resp
 * that is discarded. */
typedef struct lk_http_stream {
  void *(*begin)(void *ctx, const lk_http_req *req, lk_http_resp *resp);
  int (*chunk)(void *state, const uint8_t *p, size_t n);
  void (*end)(void *state, const lk_http_req *req, lk_http_resp *resp);
} lk_http_stream;

typedef struct lk_http_route {
  const char *methods;   /* "GET", "POST", "GET|POST", ... */
  const char *path;      /* exact, or prefix when it ends with '*' */
  enum lk_http_auth auth;
  size_t body_limit;     /* bytes; 0 = no body accepted */
  lk_http_handler handle;        /* buffered handler, or NULL when stream is set */
  const lk_http_stream *stream;
  const char *name;      /* label for self-metrics, e.g. "/api/v1/write" */
} lk_http_route;

typedef struct lk_http_opts {
  const char *listen;      /* "127.0.0.1:9470", "[::1]:9470", ":9470" (all), port 0 = any */
  const char *token;       /* one admin bearer token (copied), or NULL */
  const char *token_file;  /* scoped token file (lib/lk_token.h), read at start and re-read
                              when it changes; wins over token */
  unsigned threads;        /* 0 = one thread per connection (default, needed for
                              streaming responses); N = a pool of N polling threads */
  unsigned max_connections; /* open connections in total; 0 = 1024 */
  unsigned max_connections_per_ip; /* open connections from one address; 0 = 256 */
  unsigned timeout_s;      /* idle connection timeout; 0 = 120 s */
  unsigned request_timeout_s; /* request headers must arrive within this (see above); 0 = 300 s */
  bool require_token;      /* LK_AUTH_REMOTE/ADMIN routes need a token even on loopback
                              (e.g. behind a reverse proxy that connects from 127.0.0.1) */
  bool require_read_token; /* LK_AUTH_NONE routes (reads) need a token with the read scope */
  const char *tls_cert;    /* PEM certificate (chain) text: serve HTTPS; NULL = plain HTTP */
  const char *tls_key;     /* PEM private key text, required with tls_cert */
  bool reuse_port;         /* SO_REUSEPORT: several processes share the port and the
                              kernel spreads connections (replicas on the host network) */
} lk_http_opts;

/* Request counter callback for self-metrics (route name, status, duration),
 * called once per answered request from the connection's thread; requests
 * that match no route report the name "unmatched". Optional. */
typedef void (*lk_http_observer)(void *ctx, const char *route, int status, int64_t micros);

/* Bind and start serving. Fails with LK_EINVAL (bad listen address), LK_EIO
 * (cannot bind: the diag names the address and the reason) or the token
 * file's error (lk_tokens_open). */
int lk_http_start(const lk_http_opts *o, const lk_http_route *routes, size_t nroutes, void *ctx,
                  lk_http_observer observe, lk_http_server **out, lk_diag *d);
/* Port actually bound (useful with port 0 in tests). */
int lk_http_port(const lk_http_server *s);
/* Whether the server listens on a loopback address only. */
bool lk_http_is_loopback(const lk_http_server *s);
/* Stop accepting, end open streams, wait for handlers, free. NULL is fine. */
void lk_http_stop(lk_http_server *s);

#endif
