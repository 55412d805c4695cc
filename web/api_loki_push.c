/* api_loki_push.c — POST /loki/api/v1/push.
 *
 * JSON: {"streams":[{"stream":{..},"values":[["<ns>","line"(,{meta})],..]}]}
 * decoded with jansson. Protobuf (Content-Type application/x-protobuf):
 * a snappy block around logproto.PushRequest, decoded by hand — streams = 1
 * {labels = 1 (string `{a="b"}`), entries = 2 {timestamp = 1
 * {seconds = 1, nanos = 2}, line = 2}} — so no generated code is needed.
 * Each stream is pushed to the store in one call; the first failure stops
 * the request (earlier streams stay stored, as in Loki) and answers 400.
 * Success is 204 No Content. Bounded: labels per stream, decoded size.
 * `Content-Encoding: gzip` bodies (JSON or protobuf) are inflated first.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_gzip.h"
#include "lib/lk_varint.h"
#include "lib/lk_wire.h"
#include "logstore/logstore.h"
#include "web/api_loki.h"
#include "web/api_loki_int.h"

#define MAX_LABELS 64
#define MAX_DECODED (256u << 20)

static int push_stream(logstore *s, lk_label *ls, size_t nl, logstore_entry *e, size_t n,
                       lk_diag *d)
{
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

/* A length-delimited field's bytes, or a varint's value. */
typedef struct pbf {
  uint32_t num, type;
  uint64_t v;
  const uint8_t *p;
  size_t n;
} pbf;

static int pb_next(lk_dec *dc, pbf *f)
{
  uint64_t key = lk_dec_uvarint(dc);
  f->num = (uint32_t)(key >> 3);
  f->type = (uint32_t)(key & 7);
  if (f->type == 0) {
    f->v = lk_dec_uvarint(dc);
  } else if (f->type == 2) {
    f->n = (size_t)lk_dec_uvarint(dc);
    if (f->n > lk_dec_left(dc))
      return LK_ECORRUPT;
    f->p = lk_dec_bytes(dc, f->n);
  } else if (f->type == 1) {
    lk_dec_u64le(dc);
  } else if (f->type == 5) {
    lk_dec_u32le(dc);
  } else {
    return LK_ECORRUPT;
  }
  return dc->err;
}

static int pb_entry(const uint8_t *p, size_t n, logstore_entry *e)
{
  lk_dec dc;
  lk_dec_init(&dc, p, n);
  pbf f;
  e->ts = 0;
  e->line = "";
  e->len = 0;
  while (lk_dec_left(&dc)) {
    if (pb_next(&dc, &f))
      return LK_ECORRUPT;
    if (f.num == 1 && f.type == 2) {
      lk_dec t;
      lk_dec_init(&t, f.p, f.n);
      int64_t sec = 0, nanos = 0;
      pbf g;
      while (lk_dec_left(&t)) {
        if (pb_next(&t, &g))
          return LK_ECORRUPT;
        if (g.num == 1 && g.type == 0)
          sec = (int64_t)g.v;
        else if (g.num == 2 && g.type == 0)
          nanos = (int64_t)g.v;
      }
      e->ts = sec * 1000000000LL + nanos;
    } else if (f.num == 2 && f.type == 2) {
      e->line = (const char *)f.p; /* borrowed from the decoded body */
      e->len = f.n;
    }
  }
  return 0;
}

static int pb_stream(logstore *s, const uint8_t *p, size_t n, size_t idx, lk_arena *a, lk_diag *d)
{
  lk_dec dc;
  lk_dec_init(&dc, p, n);
  pbf f;
  const char *labels = NULL;
  logstore_entry *e = NULL;
  size_t ne = 0, cap = 0;
  int rc = 0;
  while (!rc && lk_dec_left(&dc)) {
    if (pb_next(&dc, &f)) {
      rc = LK_ECORRUPT;
    } else if (f.num == 1 && f.type == 2) {
      labels = lk_arena_strndup(a, (const char *)f.p, f.n);
    } else if (f.num == 2 && f.type == 2) {
      e = lk_xgrow(e, &cap, ne + 1, sizeof *e);
      rc = pb_entry(f.p, f.n, &e[ne++]);
    }
  }
  lk_label ls[MAX_LABELS];
  long nl = 0;
  if (rc)
    rc = lk_diag_set(d, LK_EPARSE, -1, "protobuf: cannot decode PushRequest stream %zu", idx);
  else if (!labels || (nl = web__loki_parse_labels(labels, a, ls, MAX_LABELS, d)) < 0)
    rc = lk_diag_set(d, LK_EPARSE, -1, "stream %zu: bad labels", idx);
  else
    rc = push_stream(s, ls, (size_t)nl, e, ne, d);
  free(e);
  return rc;
}

static int push_proto(logstore *s, const uint8_t *body, size_t len, lk_diag *d)
{
  lk_buf raw = {0};
  int rc = lk_snappy_uncompress(body, len, MAX_DECODED, &raw, d);
  lk_arena *a = lk_arena_new(1 << 16);
  lk_dec dc;
  lk_dec_init(&dc, raw.data, raw.len);
  for (size_t i = 0; !rc && lk_dec_left(&dc); i++) {
    pbf f;
    if (pb_next(&dc, &f))
      rc = lk_diag_set(d, LK_EPARSE, -1, "protobuf: cannot decode PushRequest");
    else if (f.num == 1 && f.type == 2)
      rc = pb_stream(s, f.p, f.n, i, a, d);
  }
  lk_arena_free(a);
  lk_buf_fini(&raw);
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

void web__loki_push(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  logstore *s = web__loki_store(ctx, resp);
  if (!s)
    return;
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  const char *ct = lk_http_header(req, "Content-Type"), *ce = lk_http_header(req, "Content-Encoding");
  lk_diag d = {0};
  lk_buf inflated = {0};
  int rc = 0;
  if (ce && !strcasecmp(ce, "gzip")) {
    rc = gunzip_body(body, len, &inflated, &d);
    body = inflated.data;
    len = inflated.len;
  }
  if (!rc)
    rc = ct && strstr(ct, "protobuf") ? push_proto(s, body, len, &d) : push_json(s, body, len, &d);
  lk_buf_fini(&inflated);
  if (rc) {
    web__fail_body(resp, rc, &d, "push");
    return;
  }
  resp->status = 204;
}
