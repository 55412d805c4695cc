/* test_wire.c — remote_write bodies (lib/lk_wire.c, lib/lk_rw_decode.c):
 * encode/decode round trip with special floats bit-exact, an independently
 * built body (python3-snappy + hand-rolled protobuf,
 * tests/lib/fixtures/rw_python.bin), label checks, corrupt snappy and
 * protobuf, size limits, guard-page reads, and a bounded mutation fuzz that
 * compares the hand-written decoder with protobuf-c (code generated from
 * lib/remote.proto) on every input. argv[1] = the fixtures directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_wire.h"
#include "lib/remote.pb-c.h"
#include "tests/lib/guard.h"

static const char *fixtures_dir = "tests/lib/fixtures";

static uint64_t bits_of(double v)
{
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}

static double from_bits(uint64_t b)
{
  double v;
  memcpy(&v, &b, 8);
  return v;
}

static void assert_same_series(const lk_series *got, const lk_series *want)
{
  assert_int_equal(got->nlabels, want->nlabels);
  for (size_t i = 0; i < want->nlabels; i++) {
    assert_string_equal(got->labels[i].name, want->labels[i].name);
    assert_string_equal(got->labels[i].value, want->labels[i].value);
  }
  assert_int_equal(got->nsamples, want->nsamples);
  for (size_t i = 0; i < want->nsamples; i++) {
    assert_int_equal(got->samples[i].t, want->samples[i].t);
    assert_int_equal(bits_of(got->samples[i].v), bits_of(want->samples[i].v));
  }
}


/*---- reference: protobuf-c ----*/

static void *ref_alloc(void *ctx, size_t n) { return lk_arena_alloc(ctx, n ? n : 1); }
static void ref_free(void *ctx, void *p) {}

/* Decode raw protobuf with protobuf-c into lk_series, applying the label rules
 * of lk_rw_decode. Returns 0, LK_ECORRUPT or LK_EINVAL. (Strings holding a NUL
 * byte are truncated by protobuf-c; lk_rw_decode rejects them instead.) */
static int ref_decode(const uint8_t *raw, size_t n, lk_arena *a, lk_series **out, size_t *ns)
{
  ProtobufCAllocator alloc = {.alloc = ref_alloc, .free = ref_free, .allocator_data = a};
  Lkrw__WriteRequest *wr = lkrw__write_request__unpack(&alloc, n, raw);
  if (!wr)
    return LK_ECORRUPT;
  lk_series *ss = lk_arena_alloc(a, (wr->n_timeseries + 1) * sizeof *ss);
  for (size_t i = 0; i < wr->n_timeseries; i++) {
    const Lkrw__TimeSeries *ts = wr->timeseries[i];
    lk_label *ls = lk_arena_alloc(a, (ts->n_labels + 1) * sizeof *ls);
    for (size_t j = 0; j < ts->n_labels; j++)
      ls[j] = (lk_label){ts->labels[j]->name, ts->labels[j]->value};
    lk_sample *sm = lk_arena_alloc(a, (ts->n_samples + 1) * sizeof *sm);
    for (size_t j = 0; j < ts->n_samples; j++)
      sm[j] = (lk_sample){ts->samples[j]->timestamp, ts->samples[j]->value};
    if (ts->n_labels == 0)
      return LK_EINVAL;
    lk_labels_sort(ls, ts->n_labels);
    for (size_t j = 1; j < ts->n_labels; j++)
      if (!strcmp(ls[j - 1].name, ls[j].name))
        return LK_EINVAL;
    ss[i] = (lk_series){ls, ts->n_labels, sm, ts->n_samples};
  }
  *out = ss;
  *ns = wr->n_timeseries;
  return 0;
}


/* lk_rw_decode's result (rc, out, n, msg) must match protobuf-c's on raw[0..len). */
static void compare_with_reference(const uint8_t *raw, size_t len, int rc, const lk_series *out,
                                   size_t n, const char *msg, lk_arena *a, int *agree)
{
  lk_series *ref = NULL;
  size_t nref = 0;
  int rref = ref_decode(raw, len, a, &ref, &nref);
  if (rc == LK_EINVAL && strstr(msg, "NUL byte"))
    return; /* protobuf-c would truncate the string instead */
  if (rc != rref)
    fail_msg("lk_rw_decode %d (%s), protobuf-c %d", rc, msg, rref);
  if (rc == 0) {
    assert_int_equal(n, nref);
    for (size_t i = 0; i < n; i++)
      assert_same_series(&out[i], &ref[i]);
  }
  ++*agree;
}

static void test_roundtrip_special_values(void **state)
{
  (void)state;
  const lk_label l0[] = {{"__name__", "m"}, {"job", "j\"q\\\n"}, {"zone", "Zürich"}};
  const lk_label l1[] = {{"__name__", "n"}};
  const lk_sample s0[] = {
    {INT64_MIN, 1.5},
    {-1, from_bits(0x7ff0000000000002ull)}, /* stale marker */
    {0, from_bits(0x7ff8000000000001ull)},  /* Go NaN */
    {1, INFINITY},
    {2, -INFINITY},
    {3, -0.0},
    {4, 4.9e-324},
    {INT64_MAX, 1.7976931348623157e308},
  };
  const lk_series in[] = {{l0, 3, s0, sizeof s0 / sizeof *s0}, {l1, 1, NULL, 0}};
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(in, 2, &body), 0);
  lk_arena *a = lk_arena_new(4096);
  lk_series *out = NULL;
  size_t n = 0;
  lk_diag d = {0};
  assert_int_equal(lk_rw_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), 0);
  assert_int_equal(n, 2);
  assert_same_series(&out[0], &in[0]);
  assert_same_series(&out[1], &in[1]);
  /* decoded strings live in the arena, not in the body */
  memset(body.data, 0, body.len);
  assert_string_equal(out[0].labels[2].value, "Zürich");
  lk_arena_free(a);
  lk_buf_fini(&body);
}

static void test_empty_request(void **state)
{
  (void)state;
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(NULL, 0, &body), 0);
  lk_arena *a = lk_arena_new(1024);
  lk_series *out = (lk_series *)1;
  size_t n = 99;
  assert_int_equal(lk_rw_decode(body.data, body.len, 100, a, &out, &n, NULL), 0);
  assert_int_equal(n, 0);
  lk_arena_free(a);
  lk_buf_fini(&body);
}

static void test_labels_sorted_and_checked(void **state)
{
  (void)state;
  const lk_label unsorted[] = {{"zz", "1"}, {"__name__", "m"}, {"aa", "2"}};
  const lk_label dup[] = {{"b", "1"}, {"__name__", "m"}, {"b", "2"}};
  const lk_sample s = {1, 1};
  lk_arena *a = lk_arena_new(4096);
  lk_buf body = {0};
  lk_series *out;
  size_t n;
  lk_diag d = {0};

  lk_series one = {unsorted, 3, &s, 1};
  assert_int_equal(lk_rw_encode(&one, 1, &body), 0);
  assert_int_equal(lk_rw_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), 0);
  assert_string_equal(out[0].labels[0].name, "__name__");
  assert_string_equal(out[0].labels[1].name, "aa");
  assert_string_equal(out[0].labels[2].name, "zz");

  lk_series two[] = {{unsorted, 3, &s, 1}, {dup, 3, &s, 1}};
  lk_buf_clear(&body);
  assert_int_equal(lk_rw_encode(two, 2, &body), 0);
  out = NULL;
  assert_int_equal(lk_rw_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), LK_EINVAL);
  assert_null(out);
  assert_non_null(strstr(d.msg, "series 1: duplicate label name \"b\""));

  lk_series nolabels[] = {{NULL, 0, &s, 1}};
  lk_buf_clear(&body);
  assert_int_equal(lk_rw_encode(nolabels, 1, &body), 0);
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_rw_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), LK_EINVAL);
  assert_non_null(strstr(d.msg, "series 0: no labels"));

  /* a NUL inside a string: protobuf allows it, C strings cannot carry it */
  const uint8_t nul_value[] = {0x0a, 0x0b, 0x0a, 0x09, 0x0a, 0x01, 'a', 0x12, 0x04, 'x', 0, 'y', 'z'};
  lk_buf_clear(&body);
  assert_int_equal(lk_snappy_compress(nul_value, sizeof nul_value, &body), 0);
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_rw_decode(body.data, body.len, 1 << 20, a, &out, &n, &d), LK_EINVAL);
  assert_string_equal(d.msg, "series 0: label value contains a NUL byte");

  const lk_label null_value[] = {{"__name__", NULL}};
  lk_series bad = {null_value, 1, &s, 1};
  assert_int_equal(lk_rw_encode(&bad, 1, &body), LK_EINVAL);
  lk_arena_free(a);
  lk_buf_fini(&body);
}

static uint8_t *read_fixture(const char *name, size_t *n)
{
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  uint8_t *buf = lk_xmalloc(1 << 20);
  *n = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

/* See fixtures/make_rw_fixture.py for what the body holds. */
static void test_python_body(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_arena *a = lk_arena_new(1 << 16);
  lk_series *out;
  size_t n;
  lk_diag d = {0};
  assert_int_equal(lk_rw_decode(body, len, 1 << 20, a, &out, &n, &d), 0);
  assert_int_equal(n, 202);
  lk_buf raw = {0};
  int agree = 0;
  assert_int_equal(lk_snappy_uncompress(body, len, 1 << 20, &raw, NULL), 0);
  compare_with_reference(raw.data, raw.len, 0, out, n, "", a, &agree);
  assert_int_equal(agree, 1);
  lk_buf_fini(&raw);

  const lk_label want0[] = {{"__name__", "up"}, {"instance", "a:1"}, {"job", "api"}};
  const lk_sample samp0[] = {{1000, 1.0},
                             {2000, from_bits(0x7ff8000000000001ull)},
                             {3000, from_bits(0x7ff0000000000002ull)}};
  lk_series w0 = {want0, 3, samp0, 3};
  assert_same_series(&out[0], &w0);

  const lk_label want1[] = {{"__name__", "temp_celsius"}, {"loc", "Zürich \"x\"\n"}};
  const lk_sample samp1[] = {{-5, -0.0}, {-1000000000000LL, INFINITY}};
  lk_series w1 = {want1, 2, samp1, 2};
  assert_same_series(&out[1], &w1);

  for (size_t i = 0; i < 200; i++) {
    char num[16];
    snprintf(num, sizeof num, "%zu", i);
    const lk_series *s = &out[2 + i];
    assert_int_equal(s->nlabels, 2);
    assert_string_equal(s->labels[1].value, num);
    assert_int_equal(s->nsamples, 1);
    assert_int_equal(s->samples[0].t, 1700000000000LL + (int64_t)i);
    assert_true(s->samples[0].v == (double)i * 0.5);
  }
  lk_arena_free(a);
  free(body);
}

static void test_corrupt_inputs(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_arena *a = lk_arena_new(1 << 16);
  lk_series *out = NULL;
  size_t n = 0;
  lk_diag d = {0};

  /* truncated snappy */
  assert_int_equal(lk_rw_decode(body, len / 2, 1 << 20, a, &out, &n, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "snappy: corrupt input");
  assert_null(out);

  /* not snappy at all */
  memset(&d, 0, sizeof d);
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  assert_int_equal(lk_rw_decode(garbage, sizeof garbage, 1 << 20, a, &out, &n, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "snappy: corrupt input");

  /* decoded size over the limit: refused before decompressing */
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_rw_decode(body, len, 1000, a, &out, &n, &d), LK_ETOOBIG);
  assert_non_null(strstr(d.msg, "exceeds limit 1000"));

  /* valid snappy around a truncated protobuf */
  lk_buf raw = {0}, bad = {0};
  assert_int_equal(lk_snappy_uncompress(body, len, 1 << 20, &raw, NULL), 0);
  assert_int_equal(lk_snappy_compress(raw.data, raw.len - 3, &bad), 0);
  memset(&d, 0, sizeof d);
  assert_int_equal(lk_rw_decode(bad.data, bad.len, 1 << 20, a, &out, &n, &d), LK_ECORRUPT);
  assert_string_equal(d.msg, "protobuf: cannot decode WriteRequest");

  /* valid snappy around protobuf with a wrong wire type for field 1 */
  const uint8_t wrong_type[] = {0x08, 0x01};
  lk_buf_clear(&bad);
  assert_int_equal(lk_snappy_compress(wrong_type, sizeof wrong_type, &bad), 0);
  assert_int_equal(lk_rw_decode(bad.data, bad.len, 1 << 20, a, &out, &n, NULL), LK_ECORRUPT);
  assert_null(out);

  lk_buf_fini(&raw);
  lk_buf_fini(&bad);
  lk_arena_free(a);
  free(body);
}

static void test_snappy_helpers(void **state)
{
  (void)state;
  lk_buf in = {0}, z = {0}, back = {0};
  for (int i = 0; i < 10000; i++)
    lk_buf_printf(&in, "line %d of some repetitive text\n", i % 97);
  assert_int_equal(lk_snappy_compress(in.data, in.len, &z), 0);
  assert_true(z.len < in.len / 4);
  lk_buf_puts(&back, "prefix");
  assert_int_equal(lk_snappy_uncompress(z.data, z.len, in.len, &back, NULL), 0);
  assert_int_equal(back.len, 6 + in.len);
  assert_memory_equal(back.data + 6, in.data, in.len);
  lk_diag d = {0};
  assert_int_equal(lk_snappy_uncompress(z.data, z.len, in.len - 1, &back, &d), LK_ETOOBIG);
  assert_int_equal(back.len, 6 + in.len); /* unchanged on failure */
  assert_int_equal(lk_snappy_uncompress(z.data, z.len - 1, in.len, &back, &d), LK_ECORRUPT);
  assert_int_equal(back.len, 6 + in.len);
  lk_buf_fini(&in);
  lk_buf_fini(&z);
  lk_buf_fini(&back);
}

/* Every prefix of a real body, placed right before a PROT_NONE page. */
static void test_guard_page(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_arena *a = lk_arena_new(1 << 16);
  for (size_t cut = 0; cut <= len; cut++) {
    guard_buf g;
    assert_int_equal(guard_init(&g, body, cut), 0);
    lk_series *out;
    size_t n;
    int rc = lk_rw_decode(g.data, cut, 1 << 20, a, &out, &n, NULL);
    assert_int_equal(rc, cut == len ? 0 : LK_ECORRUPT);
    guard_fini(&g);
    lk_arena_reset(a);
  }
  lk_arena_free(a);
  free(body);
}

/* Mutations of the snappy body and of the protobuf inside it: any result but
 * a crash or an over-read (ASan) is fine; results must be self-consistent. */
static void test_mutation_fuzz(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_buf raw = {0}, mut = {0}, z = {0};
  assert_int_equal(lk_snappy_uncompress(body, len, 1 << 20, &raw, NULL), 0);
  lk_arena *a = lk_arena_new(1 << 16);
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  int ok = 0, bad = 0, agree = 0;
  for (int iter = 0; iter < 6000; iter++) {
    int on_raw = iter & 1;
    const lk_buf src = on_raw ? raw : (lk_buf){body, len, len};
    test_mutate(&mut, src.data, src.len, &seed);
    const uint8_t *in = mut.data;
    size_t inlen = mut.len;
    if (on_raw) {
      lk_buf_clear(&z);
      lk_snappy_compress(mut.data, mut.len, &z);
      in = z.data;
      inlen = z.len;
    }
    guard_buf g;
    assert_int_equal(guard_init(&g, in, inlen), 0);
    lk_series *out;
    size_t n;
    lk_diag d = {0};
    int rc = lk_rw_decode(g.data, inlen, 1 << 20, a, &out, &n, &d);
    if (rc == 0) {
      ok++;
      for (size_t i = 0; i < n; i++)
        assert_true(out[i].nlabels > 0);
    } else {
      bad++;
      assert_true(rc == LK_ECORRUPT || rc == LK_EINVAL || rc == LK_ETOOBIG);
    }
    if (on_raw)
      compare_with_reference(mut.data, mut.len, rc, out, n, d.msg, a, &agree);
    guard_fini(&g);
    lk_arena_reset(a);
  }
  print_message("fuzz: %d decoded, %d rejected, %d compared with protobuf-c\n", ok, bad, agree);
  assert_true(ok > 0 && bad > 0);
  lk_arena_free(a);
  lk_buf_fini(&raw);
  lk_buf_fini(&mut);
  lk_buf_fini(&z);
  free(body);
}

int main(int argc, char **argv)
{
  if (argc > 1)
    fixtures_dir = argv[1];
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_roundtrip_special_values),
    cmocka_unit_test(test_empty_request),
    cmocka_unit_test(test_labels_sorted_and_checked),
    cmocka_unit_test(test_python_body),
    cmocka_unit_test(test_corrupt_inputs),
    cmocka_unit_test(test_snappy_helpers),
    cmocka_unit_test(test_guard_page),
    cmocka_unit_test(test_mutation_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
