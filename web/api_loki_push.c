/* api_loki_push.c — POST /loki/api/v1/push.
 *
 * JSON: {"streams":[{"stream":{..},"values":[["<ns>","line"(,{meta})],..]}]}
 * decoded with jansson. Protobuf (Content-Type application/x-protobuf):
 * a snappy block around logproto.PushRequest, decoded whole by
 * lk_loki_push_decode (lib/lk_wire.h; a corrupt body stores nothing).
 * Each stream is pushed to the store in one call; the first failure stops
 * the request (earlier streams stay stored, as in Loki) and answers 400.
 * Success is 204 No Content. Bounded: labels per stream, label name and
 * value lengths (the metrics defaults: 256 and 4096 bytes), decoded size.
 * `Content-Encoding: gzip` bodies (JSON or protobuf) are inflated first.
 * POST /api/v1/admin/logs/flush seals every stream's head into a segment
 * block and empties the WAL (logstore_flush): 204 once on disk, 500 if not.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_gzip.h"
#include "lib/lk_wire.h"
#include "logstore/logstore.h"
#include "web/api_loki.h"
#include "web/api_loki_int.h"

#define MAX_LABELS 64
#define MAX_NAME_LEN 256
#define MAX_VALUE_LEN 4096
#define MAX_DECODED (256u << 20)

static int push_stream(logstore *s, lk_label *ls, size_t nl, logstore_entry *e, size_t n,
                       lk_diag *d)
{
  for (size_t i = 0; i < nl; i++) {
    size_t name_len = strlen(ls[i].name), value_len = strlen(ls[i].value);
    if (name_len > MAX_NAME_LEN || value_len > MAX_VALUE_LEN)
      return lk_diag_set(d, LK_ELIMIT, -1, "stream label %.40s%s is %zu bytes long, over the limit of %d",
                         ls[i].name, name_len > 40 ? "…" : "", name_len > MAX_NAME_LEN ? name_len : value_len,
                         name_len > MAX_NAME_LEN ? MAX_NAME_LEN : MAX_VALUE_LEN);
  }
  return logstore_push(s, ls, nl, e, n, d);
}

/*---- JSON ----*/

static int json_ts(json_t *v, int64_t *out)
{
  const char *s = json_string_value(v);
  char *end;
  if (!s || !*s)
    return -1;
  long long x = strtoll(s, &end, 10);
  if (*end)
    return -1;
  *out = x;
  return 0;
}

static int push_json_stream(logstore *s, json_t *st, size_t idx, lk_diag *d)
{
  json_t *labels = json_object_get(st, "stream"), *values = json_object_get(st, "values");
  if (!json_is_object(labels) || !json_is_array(values))
    return lk_diag_set(d, LK_EPARSE, -1, "streams[%zu]: needs \"stream\" object and \"values\" array", idx);
  lk_label ls[MAX_LABELS];
  size_t nl = 0;
  const char *k;
  json_t *v;
  json_object_foreach(labels, k, v) {
    if (nl == MAX_LABELS || !json_is_string(v))
      return lk_diag_set(d, LK_EPARSE, -1, "streams[%zu]: too many or non-string labels", idx);
    ls[nl++] = (lk_label){k, json_string_value(v)};
  }
  size_t n = json_array_size(values);
  logstore_entry *e = lk_xmalloc((n ? n : 1) * sizeof *e);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    json_t *pair = json_array_get(values, i), *line = json_array_get(pair, 1);
    if (!json_is_array(pair) || json_ts(json_array_get(pair, 0), &e[i].ts) || !json_is_string(line))
      rc = lk_diag_set(d, LK_EPARSE, -1, "streams[%zu].values[%zu]: expected [\"<unix ns>\", \"<line>\"]",
                       idx, i);
    else
      e[i].line = json_string_value(line), e[i].len = json_string_length(line);
  }
  if (!rc)
    rc = push_stream(s, ls, nl, e, n, d);
  free(e);
  return rc;
}

static int push_json(logstore *s, const uint8_t *body, size_t len, lk_diag *d)
{
  json_error_t err;
  json_t *root = json_loadb((const char *)body, len, 0, &err);
  if (!root)
    return lk_diag_set(d, LK_EPARSE, err.position, "invalid JSON at byte %d: %s", err.position, err.text);
  json_t *streams = json_object_get(root, "streams");
  int rc = json_is_array(streams) ? 0 : lk_diag_set(d, LK_EPARSE, -1, "missing \"streams\" array");
  for (size_t i = 0; !rc && i < json_array_size(streams); i++)
    rc = push_json_stream(s, json_array_get(streams, i), i, d);
  json_decref(root);
  return rc;
}

/*---- protobuf ----*/

static int push_proto_stream(logstore *s, const lk_loki_stream *st, size_t idx, lk_arena *a, lk_diag *d)
{
  lk_label ls[MAX_LABELS];
  long nl = web__loki_parse_labels(st->labels, a, ls, MAX_LABELS, d);
  if (nl < 0)
    return lk_diag_set(d, LK_EPARSE, -1, "stream %zu: bad labels", idx);
  logstore_entry *e = lk_arena_alloc(a, (st->n ? st->n : 1) * sizeof *e);
  for (size_t i = 0; i < st->n; i++)
    e[i] = (logstore_entry){st->entries[i].ts, st->entries[i].line, st->entries[i].len};
  return push_stream(s, ls, (size_t)nl, e, st->n, d);
}

static int push_proto(logstore *s, const uint8_t *body, size_t len, lk_diag *d)
{
  lk_arena *a = lk_arena_new(1 << 16);
  lk_loki_stream *st = NULL;
  size_t n = 0;
  int rc = lk_loki_push_decode(body, len, MAX_DECODED, a, &st, &n, d);
  for (size_t i = 0; !rc && i < n; i++)
    rc = push_proto_stream(s, &st[i], i, a, d);
  lk_arena_free(a);
  return rc;
}

static int collect(void *ctx, const uint8_t *p, size_t n)
{
  lk_buf_append(ctx, p, n);
  return 0;
}

static int gunzip_body(const uint8_t *body, size_t len, lk_buf *out, lk_diag *d)
{
  lk_gunzip *z = lk_gunzip_new(MAX_DECODED, collect, out);
  int rc = lk_gunzip_feed(z, body, len, d);
  if (!rc)
    rc = lk_gunzip_finish(z, d);
  lk_gunzip_free(z);
  return rc;
}

int web__loki_push_body(logstore *s, const char *ct, const char *ce, const uint8_t *body, size_t len,
                        lk_diag *d)
{
  lk_buf inflated = {0};
  int rc = 0;
  if (ce && !strcasecmp(ce, "gzip")) {
    rc = gunzip_body(body, len, &inflated, d);
    body = inflated.data;
    len = inflated.len;
  }
  if (!rc)
    rc = ct && strstr(ct, "protobuf") ? push_proto(s, body, len, d) : push_json(s, body, len, d);
  lk_buf_fini(&inflated);
  return rc;
}

void web__loki_push(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  lk_diag d = {0};
  int rc = web__loki_push_body(s, lk_http_header(req, "Content-Type"), lk_http_header(req, "Content-Encoding"),
                               body, len, &d);
  if (rc) {
    web__fail_body(resp, rc, &d, "push");
    return;
  }
  resp->status = 204;
}

void web__loki_flush(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  (void)req;
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  int rc = logstore_flush(s);
  if (rc) /* the store could not seal: a server error, nothing acknowledged is lost (WAL kept) */
    lk_http_error(resp, 500, "internal", "log store flush: %s", lk_strerror(rc));
  else
    resp->status = 204;
}
