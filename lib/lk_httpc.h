/* lk_httpc.h — a small blocking HTTP/1.1 client (http://, and https:// over
 * GnuTLS: the server certificate is verified against the system's trusted
 * CAs or the request's ca_file, and its name or IP address against the URL's
 * host).
 *
 * One request per connection ("Connection: close"), so there is no pool to
 * manage. The body is either a buffer or pulled from a callback (sent with
 * Content-Length when the size is known, chunked otherwise). Responses with
 * Content-Length, chunked transfer encoding or close-delimited bodies are
 * read whole into memory, up to max_body. Every socket wait is bounded by the
 * time left until the request's deadline. Used by `lookout import`,
 * `lookout query`, the agent's push path and the tests. Thread-safe (no
 * shared state).
 */
#ifndef LK_HTTPC_H
#define LK_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/lk_buf.h"
#include "lib/lk_err.h"

/* Streaming request body: write up to max bytes into buf; return the count,
 * 0 at the end, or a negative LK_E* to abort the request. */
typedef ssize_t (*lk_httpc_body_fn)(void *ctx, uint8_t *buf, size_t max);

typedef struct lk_httpc_req {
  const char *method;          /* default "GET" (or "POST" when a body is set) */
  const char *url;             /* http(s)://host[:port]/path[?query] (required) */
  const char *ca_file;         /* https: PEM CA certificate(s) to trust instead of the system's */
  const char *const *headers;  /* "Name: value" lines, NULL-terminated; may be NULL */
  const void *body;            /* buffered body, body_len bytes */
  size_t body_len;
  lk_httpc_body_fn body_fn;    /* or a streamed body (then body is ignored) */
  void *body_ctx;
  int64_t body_fn_len;         /* size of the streamed body, or -1 for chunked */
  int timeout_ms;              /* whole request; 0 = 30 s */
  size_t max_body;             /* response body cap; 0 = 256 MiB */
} lk_httpc_req;

/* Zero-initialise; free with lk_httpc_resp_fini. */
typedef struct lk_httpc_resp {
  int status;
  lk_buf headers;  /* raw header block (after the status line) */
  lk_buf body;     /* de-chunked body, NUL-terminated */
} lk_httpc_resp;

/* Perform the request. Returns 0 when a complete response arrived (any
 * status), LK_EINVAL (bad URL), LK_EIO (connect/send/receive or the TLS
 * handshake failed, e.g. a certificate not signed by a trusted CA),
 * LK_ETIMEOUT, LK_ECORRUPT (malformed response) or LK_ETOOBIG; the diag
 * says which. On failure out is left empty. */
int lk_httpc_do(const lk_httpc_req *req, lk_httpc_resp *out, lk_diag *d);
/* Shorthand for a GET. */
int lk_httpc_get(const char *url, int timeout_ms, lk_httpc_resp *out, lk_diag *d);
/* Value of a response header (case-insensitive name), copied into buf;
 * returns buf, or NULL if absent. */
const char *lk_httpc_header(const lk_httpc_resp *r, const char *name, char *buf, size_t bufsz);
void lk_httpc_resp_fini(lk_httpc_resp *r);

#endif
