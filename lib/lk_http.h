/* lk_http.h — the HTTP server wrapper (libmicrohttpd) with one route table.
 *
 * A route names method(s), path, auth requirement and body limit, and either
 * a buffered handler (the body is collected up to body_limit, then the
 * handler runs) or streaming callbacks (begin/chunk/end, for bulk imports
 * whose bodies must not be held in memory). Bodies over the limit get 413,
 * unknown paths 404, wrong methods 405 — all as JSON error bodies in the
 * Prometheus shape {"status":"error","errorType":..,"error":..}.
 *
 * Threads: handlers run on libmicrohttpd's worker threads, concurrently;
 * the route table and ctx are borrowed for the server's lifetime and must be
 * safe for concurrent use.
 */
#ifndef LK_HTTP_H
#define LK_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"

typedef struct lk_http_server lk_http_server;
typedef struct lk_http_req lk_http_req;

enum lk_http_auth {
  LK_AUTH_NONE = 0,    /* open */
  LK_AUTH_REMOTE,      /* bearer token required when the server listens beyond loopback */
  LK_AUTH_ALWAYS,      /* bearer token always required (when a token is configured) */
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

/* Response filled by handlers. body is owned by the server after return. */
typedef struct lk_http_resp {
  int status;                 /* default 200 */
  const char *content_type;   /* static string; default application/json */
  const char *content_encoding; /* static string or NULL */
  lk_buf body;
} lk_http_resp;

/* Fill resp with a Prometheus-shaped JSON error. */
void lk_http_error(lk_http_resp *resp, int status, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef void (*lk_http_handler)(void *ctx, const lk_http_req *req, lk_http_resp *resp);

/* Streaming body: begin returns per-request state (or NULL and fills resp to
 * reject early); chunk may be called many times; end always runs once and
 * must free the state. A chunk returning nonzero stops reading, and end is
 * then called with the failure recorded in the state. */
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
  const char *listen;      /* "127.0.0.1:9470" */
  const char *token;       /* bearer token, or NULL */
  unsigned threads;        /* worker threads; 0 = number of CPUs */
} lk_http_opts;

/* Request counter callback for self-metrics (route name, status). Optional. */
typedef void (*lk_http_observer)(void *ctx, const char *route, int status, int64_t micros);

int lk_http_start(const lk_http_opts *o, const lk_http_route *routes, size_t nroutes, void *ctx,
                  lk_http_observer observe, lk_http_server **out, lk_diag *d);
/* Port actually bound (useful with port 0 in tests). */
int lk_http_port(const lk_http_server *s);
void lk_http_stop(lk_http_server *s); /* NULL is fine */

#endif
