/* api_write.c — POST /api/v1/write: Prometheus remote_write 1.0 receiver.
 *
 * The whole request is decoded first (snappy block + protobuf, into a
 * per-request arena) and handed to tsdb_append as one batch, which validates
 * every series before storing anything. So a corrupt body or an invalid
 * series stores nothing (400, never retried by senders); individual samples
 * storage refuses (out of order, too old, conflicting value) are counted and
 * answered with 400 naming how many were accepted and rejected and why —
 * never dropped silently. Storage failures are 500 so senders retry.
 * Content-Encoding other than snappy and remote-write 2.0 bodies get 415.
 */
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_wire.h"
#include "web/web_int.h"

static int check_headers(const lk_http_req *req, lk_http_resp *resp)
{
  const char *ce = lk_http_header(req, "Content-Encoding");
  if (ce && strcasecmp(ce, "snappy")) {
    lk_http_error(resp, 415, "bad_data",
                  "unsupported Content-Encoding \"%s\": remote_write bodies must be snappy-compressed", ce);
    return -1;
  }
  const char *ct = lk_http_header(req, "Content-Type");
  if (ct && strstr(ct, "io.prometheus.write.v2")) {
    lk_http_error(resp, 415, "bad_data",
                  "remote write 2.0 (%s) is not supported; send remote write 1.0 (application/x-protobuf)", ct);
    return -1;
  }
  return 0;
}

static void report_rejections(lk_http_resp *resp, const tsdb_append_stats *st, const lk_diag *d)
{
  uint64_t rejected = st->out_of_order + st->too_old + st->conflicts;
  lk_http_error(resp, 400, "bad_data",
                "accepted %llu samples, rejected %llu: %llu out of order, %llu too old (outside "
                "retention), %llu with a different value at an existing timestamp%s%s",
                (unsigned long long)st->accepted, (unsigned long long)rejected,
                (unsigned long long)st->out_of_order, (unsigned long long)st->too_old,
                (unsigned long long)st->conflicts, d->set ? "; first: " : "", d->set ? d->msg : "");
}

void web__write(void *ctx, const lk_http_req *req, lk_http_resp *resp)
{
  web_server *w = ctx;
  if (check_headers(req, resp)) {
    atomic_fetch_add(&w->stats.bad_requests[WEB_IN_WRITE], 1);
    return;
  }
  size_t len;
  const uint8_t *body = lk_http_body(req, &len);
  lk_arena *a = lk_arena_new(len * 4 + 4096 < ((size_t)1 << 24) ? len * 4 + 4096 : (size_t)1 << 24);
  lk_series *series = NULL;
  size_t n = 0;
  lk_diag d = {0};
  int rc = lk_rw_decode(body, len, w->limits.max_decoded_body, a, &series, &n, &d);
  tsdb_append_stats st = {0};
  if (!rc)
    rc = tsdb_append(w->db, series, n, &st, &d);
  lk_arena_free(a);
  if (rc) {
    if (rc == LK_ELIMIT || rc == LK_EINVAL || rc == LK_ECORRUPT || rc == LK_EPARSE)
      lk_http_error(resp, 400, "bad_data", "%s", d.set ? d.msg : lk_strerror(rc));
    else if (rc == LK_ETOOBIG)
      lk_http_error(resp, 413, "bad_data", "%s", d.set ? d.msg : lk_strerror(rc));
    else
      web__fail(resp, rc, &d, "storage");
    atomic_fetch_add(&w->stats.bad_requests[WEB_IN_WRITE], 1);
    return;
  }
  web__count_append(w, WEB_IN_WRITE, &st);
  if (st.out_of_order + st.too_old + st.conflicts)
    report_rejections(resp, &st, &d);
  else
    resp->status = 204;
}
