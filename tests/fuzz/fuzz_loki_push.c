/* fuzz_loki_push.c — libFuzzer target for the Loki push API's body decoding
 * (web/api_loki_push.c: JSON, protobuf in snappy, gzip around either; the
 * stream label string parser web__loki_parse_labels) and the store's
 * acceptance of what it decodes. The first byte picks JSON or protobuf and
 * whether the target snappy-compresses the rest first (so the protobuf
 * decoder sees inputs that get past snappy) and whether it then gzips the
 * body (sent with Content-Encoding: gzip); the rest is the body, pushed
 * into a log store in a scratch directory (recreated every RESET inputs to
 * bound its size). The body is also parsed as a label string on its own.
 * Seeds: tests/fuzz/corpus_loki_push.
 */
#include <stdio.h>
#include <zlib.h>

#include "lib/lk_wire.h"
#include "tests/fuzz/harness.h"
#include "web/api_loki_int.h"

#define RESET 2000

static const char *base;
static logstore *store;
static unsigned pushes;

static void open_store(void)
{
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/store", base);
  fuzz_rmtree(dir);
  lk_diag d = {0};
  if (logstore_open(&(logstore_opts){.dir = dir, .wal_bytes = 8u << 20}, &store, &d))
    abort();
}

static void cleanup(void)
{
  logstore_close(store);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  base = fuzz_scratch_dir("fuzz-loki");
  open_store();
  atexit(cleanup);
  return 0;
}

static void check_labels(const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr(data, size);
  lk_arena *a = lk_arena_new(1024);
  lk_label ls[16];
  lk_diag d = {0};
  long n = web__loki_parse_labels(s, a, ls, 16, &d);
  if (n > 16)
    abort();
  for (long i = 0; i < n; i++)
    if (!ls[i].name || !ls[i].value)
      abort();
  lk_arena_free(a);
  free(s);
}

/* body gzip-compressed, replacing it. */
static void gzip(lk_buf *body)
{
  z_stream z = {0};
  if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    abort();
  uLong cap = deflateBound(&z, body->len) + 32;
  uint8_t *out = lk_xmalloc(cap);
  z.next_in = body->data;
  z.avail_in = (uInt)body->len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END)
    abort();
  lk_buf_clear(body);
  lk_buf_append(body, out, z.total_out);
  deflateEnd(&z);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!size)
    return 0;
  if (++pushes % RESET == 0) {
    logstore_close(store);
    open_store();
  }
  bool proto = data[0] & 1, snappy = data[0] & 2, gz = data[0] & 4;
  lk_buf body = {0};
  if (proto && snappy)
    lk_snappy_compress(data + 1, size - 1, &body);
  else
    lk_buf_append(&body, data + 1, size - 1);
  if (gz)
    gzip(&body);
  /* An exact-size heap copy, so ASan sees any read past the body. */
  uint8_t *copy = lk_xmalloc(body.len ? body.len : 1);
  memcpy(copy, body.data, body.len);
  lk_diag d = {0};
  (void)web__loki_push_body(store, proto ? "application/x-protobuf" : "application/json", gz ? "gzip" : NULL, copy,
                            body.len, &d);
  free(copy);
  lk_buf_fini(&body);
  check_labels(data + 1, size - 1);
  return 0;
}
