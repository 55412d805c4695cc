/* test_loki_wire.c — Loki push bodies (lib/lk_wire_loki.c): encode → decode
 * round trip (times before 1970 and at the int64 ends, binary lines, empty
 * streams), our bodies read by protobuf-c and protobuf-c's bodies read by
 * us (code generated from lib/loki_push.proto), corrupt and out-of-range
 * input, the size limit, every prefix before a guard page, and a bounded
 * mutation fuzz that must agree with protobuf-c on every input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_wire.h"
#include "lib/loki_push.pb-c.h"
#include "tests/lib/guard.h"

#define NS 1000000000LL

static const lk_loki_entry entries0[] = {
  {1714564800123456789LL, "first line", 10},
  {-1, "before 1970", 11},               /* Timestamp {-1 s, 999999999 ns} */
  {0, "", 0},
  {INT64_MAX, "bin\0ary", 7},
  {INT64_MIN, "min", 3},
};
static const lk_loki_entry entries1[] = {{42, "x", 1}};
static const lk_loki_stream streams[] = {
  {"{app=\"shop\", env=\"a \\\"q\\\" \\\\ \\n\", zone=\"Zürich\"}", entries0, 5},
  {"{}", NULL, 0},
  {"{app=\"other\"}", entries1, 1},
};
enum { NSTREAMS = 3 };

static void *ref_alloc(void *ctx, size_t n) { return lk_arena_alloc(ctx, n ? n : 1); }
static void ref_free(void *ctx, void *p) {}

/* protobuf-c's reading of raw (NULL when it refuses it), in the arena. */
static Lkloki__PushRequest *ref_unpack(const uint8_t *raw, size_t n, lk_arena *a)
{
  ProtobufCAllocator alloc = {.alloc = ref_alloc, .free = ref_free, .allocator_data = a};
  return lkloki__push_request__unpack(&alloc, n, raw);
}

/* seconds·1e9 + nanos, wrapping (exact whenever the result fits int64) */
static int64_t ref_ts(const Lkloki__EntryAdapter *e)
{
  if (!e->timestamp)
    return 0;
  return (int64_t)((uint64_t)e->timestamp->seconds * (uint64_t)NS + (uint64_t)(int64_t)e->timestamp->nanos);
}

/* Our decoding equals protobuf-c's (strings compared up to a NUL byte, where
 * protobuf-c's C strings end). */
static void assert_same_as_ref(const lk_loki_stream *got, size_t n, const Lkloki__PushRequest *ref)
{
  assert_int_equal(n, ref->n_streams);
  for (size_t i = 0; i < n; i++) {
    const Lkloki__StreamAdapter *rs = ref->streams[i];
    assert_string_equal(got[i].labels, rs->labels);
    assert_int_equal(got[i].n, rs->n_entries);
    for (size_t j = 0; j < got[i].n; j++) {
      const lk_loki_entry *e = &got[i].entries[j];
      size_t rlen = strlen(rs->entries[j]->line);
      assert_int_equal(e->ts, ref_ts(rs->entries[j]));
      assert_true(e->len >= rlen && (e->len == rlen || e->line[rlen] == 0));
      assert_memory_equal(e->line, rs->entries[j]->line, rlen);
    }
  }
}

static void assert_same_streams(const lk_loki_stream *got, size_t n, const lk_loki_stream *want,
                                size_t nwant)
{
  assert_int_equal(n, nwant);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(got[i].labels, want[i].labels);
    assert_int_equal(got[i].n, want[i].n);
    for (size_t j = 0; j < got[i].n; j++) {
      assert_int_equal(got[i].entries[j].ts, want[i].entries[j].ts);
      assert_int_equal(got[i].entries[j].len, want[i].entries[j].len);
      assert_memory_equal(got[i].entries[j].line, want[i].entries[j].line, want[i].entries[j].len);
    }
  }
}

static void test_roundtrip_and_reference(void **state)
{
  (void)state;
  lk_buf body = {0}, raw = {0};
  assert_int_equal(lk_loki_push_encode(streams, NSTREAMS, &body), 0);
  lk_arena *a = lk_arena_new(4096);
  lk_loki_stream *out = NULL;
  size_t n = 0;
  lk_diag d = {0};
  assert_int_equal(lk_loki_push_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), 0);
  assert_same_streams(out, n, streams, NSTREAMS);

  /* protobuf-c reads our body the same way; nanos stay in [0, 1e9) */
  assert_int_equal(lk_snappy_uncompress(body.data, body.len, 1 << 20, &raw, NULL), 0);
  Lkloki__PushRequest *ref = ref_unpack(raw.data, raw.len, a);
  assert_non_null(ref);
  assert_int_equal(ref->streams[0]->entries[1]->timestamp->seconds, -1);
  assert_int_equal(ref->streams[0]->entries[1]->timestamp->nanos, 999999999);
  assert_string_equal(ref->streams[0]->entries[3]->line, "bin"); /* C string: ends at the NUL */
  assert_same_as_ref(out, n, ref);
  lk_buf_fini(&body);
  lk_buf_fini(&raw);
  lk_arena_free(a);
}

/* A body packed by protobuf-c: absent timestamp and labels, an unknown
 * field (the stream hash, 3); then a stream whose entry holds two
 * Timestamps, of which protobuf-c keeps the last. */
static void test_protobuf_c_body(void **state)
{
  (void)state;
  Lkloki__Timestamp t1 = LKLOKI__TIMESTAMP__INIT;
  t1.seconds = 1700000000;
  t1.nanos = 5;
  Lkloki__EntryAdapter e1 = LKLOKI__ENTRY_ADAPTER__INIT, e2 = LKLOKI__ENTRY_ADAPTER__INIT;
  e1.timestamp = &t1;
  e1.line = "with time";
  e2.line = "without time";
  Lkloki__EntryAdapter *es[] = {&e1, &e2};
  static const uint8_t hash[] = {0x2a};
  ProtobufCMessageUnknownField uf = {3, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *)hash};
  Lkloki__StreamAdapter s1 = LKLOKI__STREAM_ADAPTER__INIT, s2 = LKLOKI__STREAM_ADAPTER__INIT;
  s1.labels = "{job=\"pb\"}";
  s1.n_entries = 2;
  s1.entries = es;
  s1.base.n_unknown_fields = 1;
  s1.base.unknown_fields = &uf;
  Lkloki__StreamAdapter *ss[] = {&s1, &s2};
  Lkloki__PushRequest pr = LKLOKI__PUSH_REQUEST__INIT;
  pr.n_streams = 2;
  pr.streams = ss;
  size_t len = lkloki__push_request__get_packed_size(&pr);
  uint8_t *raw = malloc(len + 32);
  assert_int_equal(lkloki__push_request__pack(&pr, raw), len);
  lk_buf twice = {0}, body = {0};
  lk_buf_append(&twice, raw, len);
  const uint8_t st3[] = {0x0a, 0x0a,                   /* a third stream, 10 bytes: */
                         0x12, 0x08,                   /* one entry, 8 bytes: */
                         0x0a, 0x02, 0x08, 0x01,       /* Timestamp {seconds: 1} */
                         0x0a, 0x02, 0x10, 0x07};      /* Timestamp {nanos: 7}: replaces */
  lk_buf_append(&twice, st3, sizeof st3);
  assert_int_equal(lk_snappy_compress(twice.data, twice.len, &body), 0);
  lk_arena *a = lk_arena_new(4096);
  lk_loki_stream *out = NULL;
  size_t n = 0;
  assert_int_equal(lk_loki_push_decode(body.data, body.len, 1 << 20, a, &out, &n, NULL), 0);
  Lkloki__PushRequest *ref = ref_unpack(twice.data, twice.len, a);
  assert_non_null(ref);
  assert_same_as_ref(out, n, ref);
  assert_int_equal(n, 3);
  assert_int_equal(out[0].entries[0].ts, 1700000000 * NS + 5);
  assert_int_equal(out[0].entries[1].ts, 0);
  assert_string_equal(out[1].labels, "");
  assert_int_equal(out[2].entries[0].ts, 7);
  free(raw);
  lk_buf_fini(&twice);
  lk_buf_fini(&body);
  lk_arena_free(a);
}

static int decode_raw(const uint8_t *raw, size_t len, lk_arena *a, lk_loki_stream **out, size_t *n,
                      lk_diag *d)
{
  lk_buf body = {0};
  lk_snappy_compress(raw, len, &body);
  int rc = lk_loki_push_decode(body.data, body.len, 1 << 20, a, out, n, d);
  lk_buf_fini(&body);
  return rc;
}

static void test_bad_bodies(void **state)
{
  (void)state;
  lk_arena *a = lk_arena_new(4096);
  lk_loki_stream *out = NULL;
  size_t n = 0;
  lk_diag d = {0};
  assert_int_equal(lk_loki_push_decode((const uint8_t *)"\x05junk", 5, 1 << 20, a, &out, &n, &d),
                   LK_ECORRUPT);
  assert_string_equal(d.msg, "snappy: corrupt input");
  /* labels (string) sent as a varint: protobuf-c refuses it too */
  const uint8_t wrong_type[] = {0x0a, 0x02, 0x08, 0x01};
  d = (lk_diag){0};
  assert_int_equal(decode_raw(wrong_type, sizeof wrong_type, a, &out, &n, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "protobuf: cannot decode PushRequest stream 0");
  assert_null(ref_unpack(wrong_type, sizeof wrong_type, a));
  const uint8_t truncated[] = {0x0a, 0x09, 0x0a};
  d = (lk_diag){0};
  assert_int_equal(decode_raw(truncated, sizeof truncated, a, &out, &n, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "protobuf: cannot decode PushRequest");
  /* seconds = 2^62: beyond int64 nanoseconds */
  const uint8_t far[] = {0x0a, 0x10, 0x12, 0x0e, 0x0a, 0x0c, 0x08, 0x80, 0x80, 0x80, 0x80,
                         0x80, 0x80, 0x80, 0x80, 0x40, 0x10, 0x00};
  d = (lk_diag){0};
  assert_int_equal(decode_raw(far, sizeof far, a, &out, &n, &d), LK_EINVAL);
  assert_string_equal(d.msg, "stream 0: entry 0: timestamp out of range");
  /* the size limit is checked before decoding */
  lk_buf body = {0};
  assert_int_equal(lk_loki_push_encode(streams, NSTREAMS, &body), 0);
  d = (lk_diag){0};
  assert_int_equal(lk_loki_push_decode(body.data, body.len, 10, a, &out, &n, &d), LK_ETOOBIG);
  lk_buf_clear(&body);
  const lk_loki_stream no_labels = {NULL, NULL, 0};
  assert_int_equal(lk_loki_push_encode(&no_labels, 1, &body), LK_EINVAL);
  lk_buf_fini(&body);
  lk_arena_free(a);
}

/* Every prefix of the raw message, compressed, with the compressed bytes
 * right before a PROT_NONE page: no over-read, and as protobuf-c decides. */
static void test_prefixes_guard_page(void **state)
{
  (void)state;
  lk_buf body = {0}, raw = {0}, z = {0};
  assert_int_equal(lk_loki_push_encode(streams, NSTREAMS, &body), 0);
  assert_int_equal(lk_snappy_uncompress(body.data, body.len, 1 << 20, &raw, NULL), 0);
  lk_arena *a = lk_arena_new(1 << 14);
  for (size_t cut = 0; cut <= raw.len; cut++) {
    lk_buf_clear(&z);
    lk_snappy_compress(raw.data, cut, &z);
    guard_buf g;
    assert_int_equal(guard_init(&g, z.data, z.len), 0);
    lk_loki_stream *out;
    size_t n;
    int rc = lk_loki_push_decode(g.data, z.len, 1 << 20, a, &out, &n, NULL);
    assert_int_equal(rc == 0, ref_unpack(raw.data, cut, a) != NULL);
    guard_fini(&g);
    lk_arena_reset(a);
  }
  lk_arena_free(a);
  lk_buf_fini(&body);
  lk_buf_fini(&raw);
  lk_buf_fini(&z);
}

static void test_mutation_fuzz_vs_protobuf_c(void **state)
{
  (void)state;
  lk_buf body = {0}, raw = {0}, mut = {0}, z = {0};
  assert_int_equal(lk_loki_push_encode(streams + 1, 2, &body), 0); /* no int64-edge times */
  assert_int_equal(lk_snappy_uncompress(body.data, body.len, 1 << 20, &raw, NULL), 0);
  lk_arena *a = lk_arena_new(1 << 14);
  uint64_t seed = 0x5eed10c1ull;
  int ok = 0, bad = 0, skipped = 0;
  for (int iter = 0; iter < 4000; iter++) {
    test_mutate(&mut, raw.data, raw.len, &seed);
    lk_buf_clear(&z);
    lk_snappy_compress(mut.data, mut.len, &z);
    lk_loki_stream *out = NULL;
    size_t n = 0;
    lk_diag d = {0};
    int rc = lk_loki_push_decode(z.data, z.len, 1 << 20, a, &out, &n, &d);
    Lkloki__PushRequest *ref = ref_unpack(mut.data, mut.len, a);
    if (rc == LK_EINVAL) { /* a time beyond int64 ns, which protobuf-c has no view on */
      skipped++;
    } else if (rc == 0) {
      ok++;
      assert_non_null(ref);
      assert_same_as_ref(out, n, ref);
    } else {
      bad++;
      assert_int_equal(rc, LK_ECORRUPT);
      if (ref) {
        for (size_t i = 0; i < mut.len; i++)
          fprintf(stderr, "%02x ", mut.data[i]);
        fprintf(stderr, "\n%s\n", d.msg);
      }
      assert_null(ref);
    }
    lk_arena_reset(a);
  }
  print_message("loki fuzz: %d decoded, %d refused, %d out of range; all as protobuf-c\n", ok, bad,
                skipped);
  assert_true(ok > 0 && bad > 0);
  lk_arena_free(a);
  lk_buf_fini(&body);
  lk_buf_fini(&raw);
  lk_buf_fini(&mut);
  lk_buf_fini(&z);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_roundtrip_and_reference),
    cmocka_unit_test(test_protobuf_c_body),
    cmocka_unit_test(test_bad_bodies),
    cmocka_unit_test(test_prefixes_guard_page),
    cmocka_unit_test(test_mutation_fuzz_vs_protobuf_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
