/* test_rw_scan.c — the remote_write scan path (lk_rw_scan +
 * lk_rw_scan_labels in lib/lk_rw_decode.c) checked against lk_rw_decode on
 * the same bodies: the independently built fixture, every prefix of it
 * before a guard page, and a bounded mutation fuzz. Also: keys are the raw
 * label fields (equal keys ⇔ same bytes ⇒ same labels), scanning leaves them
 * intact, and non-contiguous label fields give no key. lk_rw_scan_expect
 * gives the same results as lk_rw_scan whatever it expects (fixture,
 * prefixes, fuzz), and `expected` only on a whole-key match.
 * argv[1] = the fixtures directory (tests/lib/fixtures). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_wire.h"
#include "tests/lib/guard.h"

static const char *fixtures_dir = "tests/lib/fixtures";

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

static const lk_rw_expected *expect_given(void *ctx, const uint8_t *key0, size_t len0)
{
  (void)key0;
  (void)len0;
  return ctx;
}

/* lk_rw_scan_expect with the expected keys x: the same rc and series as
 * lk_rw_scan's, `expected` set exactly on the series whose key is x's. */
static void expect_matches_scan(const uint8_t *body, size_t len, const lk_rw_expected *x, lk_arena *b)
{
  lk_rw_series *rs = NULL, *xs = NULL;
  size_t n = 0, nx = 0;
  int rc = lk_rw_scan(body, len, 1 << 20, b, &rs, &n, NULL);
  int rcx = lk_rw_scan_expect(body, len, 1 << 20, b, expect_given, (void *)x, &xs, &nx, NULL);
  assert_int_equal(rc, rcx);
  if (rc)
    return;
  assert_int_equal(n, nx);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(rs[i].key == NULL, xs[i].key == NULL);
    assert_int_equal(rs[i].key_len, xs[i].key_len);
    if (rs[i].key)
      assert_memory_equal(rs[i].key, xs[i].key, rs[i].key_len);
    assert_int_equal(rs[i].nsamples, xs[i].nsamples);
    if (rs[i].nsamples)
      assert_memory_equal(rs[i].samples, xs[i].samples, rs[i].nsamples * sizeof *rs[i].samples);
    assert_int_equal(rs[i].nhistograms, xs[i].nhistograms);
    assert_int_equal(rs[i].msg_len, xs[i].msg_len);
    int want = i < x->n && x->lens[i] && xs[i].key && xs[i].key_len == x->lens[i] &&
               !memcmp(xs[i].key, x->keys[i], x->lens[i]);
    assert_int_equal(xs[i].expected, want);
    assert_int_equal(rs[i].expected, 0);
  }
}

/* The fixture's keys as expectations (copied: they point into the arena). */
typedef struct fixture_keys {
  lk_rw_expected x;
  uint8_t **keys;
  size_t *lens;
} fixture_keys;

static void fixture_keys_init(fixture_keys *fk, const uint8_t *body, size_t len)
{
  lk_arena *a = lk_arena_new(1 << 16);
  lk_rw_series *rs;
  size_t n;
  assert_int_equal(lk_rw_scan(body, len, 1 << 20, a, &rs, &n, NULL), 0);
  fk->keys = lk_xcalloc(n, sizeof *fk->keys);
  fk->lens = lk_xcalloc(n, sizeof *fk->lens);
  for (size_t i = 0; i < n; i++) {
    fk->lens[i] = rs[i].key ? rs[i].key_len : 0;
    fk->keys[i] = lk_xmalloc(fk->lens[i] + 1);
    memcpy(fk->keys[i], rs[i].key ? rs[i].key : (const uint8_t *)"", fk->lens[i]);
  }
  fk->x = (lk_rw_expected){(const uint8_t *const *)fk->keys, fk->lens, n};
  lk_arena_free(a);
}

static void fixture_keys_fini(fixture_keys *fk)
{
  for (size_t i = 0; i < fk->x.n; i++)
    free(fk->keys[i]);
  free(fk->keys);
  free(fk->lens);
}

/* Scan + labels of every series; 0 and the same series as lk_rw_decode's,
 * or an error exactly when lk_rw_decode fails; with expectations x (may be
 * NULL) also lk_rw_scan_expect as lk_rw_scan. Returns the scan path's rc. */
static int scan_all_and_compare(const uint8_t *body, size_t len, const lk_rw_expected *x, lk_arena *a,
                                lk_arena *b)
{
  if (x) {
    expect_matches_scan(body, len, x, b);
    lk_arena_reset(b);
  }
  lk_series *want = NULL;
  size_t nwant = 0;
  int rc_dec = lk_rw_decode(body, len, 1 << 20, a, &want, &nwant, NULL);
  lk_rw_series *rs = NULL;
  size_t n = 0;
  lk_diag d = {0};
  int rc = lk_rw_scan(body, len, 1 << 20, b, &rs, &n, &d);
  for (size_t i = 0; i < n && !rc; i++) {
    uint8_t *key_before = rs[i].key ? lk_xmalloc(rs[i].key_len) : NULL;
    if (key_before)
      memcpy(key_before, rs[i].key, rs[i].key_len);
    lk_label *ls;
    size_t nl;
    rc = lk_rw_scan_labels(&rs[i], i, b, &ls, &nl, &d);
    if (key_before) {
      assert_memory_equal(key_before, rs[i].key, rs[i].key_len); /* left intact */
      free(key_before);
    }
    if (rc || rc_dec)
      continue;
    assert_true(rs[i].key != NULL); /* lk_rw_encode writes labels first, together */
    assert_int_equal(nl, want[i].nlabels);
    for (size_t j = 0; j < nl; j++) {
      assert_string_equal(ls[j].name, want[i].labels[j].name);
      assert_string_equal(ls[j].value, want[i].labels[j].value);
    }
    assert_int_equal(rs[i].nsamples, want[i].nsamples);
    for (size_t j = 0; j < want[i].nsamples; j++) {
      assert_int_equal(rs[i].samples[j].t, want[i].samples[j].t);
      assert_memory_equal(&rs[i].samples[j].v, &want[i].samples[j].v, 8);
    }
  }
  assert_int_equal(rc == 0, rc_dec == 0);
  if (!rc)
    assert_int_equal(n, nwant);
  else
    assert_true(rc == LK_ECORRUPT || rc == LK_EINVAL || rc == LK_ETOOBIG);
  lk_arena_reset(a);
  lk_arena_reset(b);
  return rc;
}

static void test_fixture_matches_decode(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_arena *a = lk_arena_new(1 << 16), *b = lk_arena_new(1 << 16);
  fixture_keys fk;
  fixture_keys_init(&fk, body, len);
  assert_int_equal(scan_all_and_compare(body, len, &fk.x, a, b), 0);
  lk_rw_series *rs;
  size_t n;
  assert_int_equal(lk_rw_scan_expect(body, len, 1 << 20, b, expect_given, &fk.x, &rs, &n, NULL), 0);
  for (size_t i = 0; i < n; i++) /* its own keys: every series expected */
    assert_int_equal(rs[i].expected, 1);
  fixture_keys_fini(&fk);
  assert_int_equal(lk_rw_scan(body, len, 1 << 20, b, &rs, &n, NULL), 0);
  assert_int_equal(n, 202);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) /* the fixture's series are all distinct */
      assert_false(rs[i].key_len == rs[j].key_len && !memcmp(rs[i].key, rs[j].key, rs[i].key_len));
  assert_int_equal(lk_rw_scan(body, len, 1000, b, &rs, &n, NULL), LK_ETOOBIG);
  lk_arena_free(a);
  lk_arena_free(b);
  free(body);
}

static const uint8_t LSL_LABEL_A[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x12, 0x00}; /* a="" */

/* A series of label a="", sample (t=1000), label b="x", snappy'd into *body
 * (cleared first): a label after the samples, so the series has no key. */
static void label_sample_label(lk_buf *body)
{
  const uint8_t sample[] = {0x12, 0x03, 0x10, 0xe8, 0x07};
  const uint8_t lb[] = {0x0a, 0x06, 0x0a, 0x01, 'b', 0x12, 0x01, 'x'};
  uint8_t hdr[] = {0x0a, (uint8_t)(sizeof LSL_LABEL_A + sizeof sample + sizeof lb)};
  lk_buf pb = {0};
  lk_buf_append(&pb, hdr, 2);
  lk_buf_append(&pb, LSL_LABEL_A, sizeof LSL_LABEL_A);
  lk_buf_append(&pb, sample, sizeof sample);
  lk_buf_append(&pb, lb, sizeof lb);
  lk_buf_clear(body);
  lk_snappy_compress(pb.data, pb.len, body);
  lk_buf_fini(&pb);
}

static void test_keys(void **state)
{
  (void)state;
  lk_label l1[] = {{"__name__", "m"}, {"job", "a"}};
  lk_label l2[] = {{"job", "a"}, {"__name__", "m"}}; /* same set, other bytes */
  lk_sample s[] = {{1000, 1}, {2000, 2}};
  lk_series in[] = {{l1, 2, s, 2}, {l1, 2, s, 1}, {l2, 2, s, 1}};
  lk_buf body = {0};
  assert_int_equal(lk_rw_encode(in, 3, &body), 0);
  lk_arena *a = lk_arena_new(1 << 12);
  lk_rw_series *rs;
  size_t n;
  assert_int_equal(lk_rw_scan(body.data, body.len, 1 << 20, a, &rs, &n, NULL), 0);
  assert_int_equal(n, 3);
  assert_int_equal(rs[0].key_len, rs[1].key_len);
  assert_memory_equal(rs[0].key, rs[1].key, rs[0].key_len);
  assert_int_equal(rs[0].key_len, rs[2].key_len);
  assert_true(memcmp(rs[0].key, rs[2].key, rs[0].key_len) != 0);
  assert_int_equal(rs[0].nsamples, 2);
  lk_label *ls;
  size_t nl;
  assert_int_equal(lk_rw_scan_labels(&rs[2], 2, a, &ls, &nl, NULL), 0);
  assert_int_equal(nl, 2);
  assert_string_equal(ls[0].name, "__name__"); /* sorted */
  lk_buf_fini(&body);

  /* label, sample, label: no key, but the labels still decode */
  label_sample_label(&body);
  assert_int_equal(lk_rw_scan(body.data, body.len, 1 << 20, a, &rs, &n, NULL), 0);
  assert_int_equal(n, 1);
  assert_null(rs[0].key);
  assert_int_equal(rs[0].nsamples, 1);
  assert_int_equal(rs[0].samples[0].t, 1000);
  assert_int_equal(lk_rw_scan_labels(&rs[0], 0, a, &ls, &nl, NULL), 0);
  assert_int_equal(nl, 2);
  assert_string_equal(ls[1].name, "b");
  assert_string_equal(ls[1].value, "x");
  lk_buf_fini(&body);
  lk_arena_free(a);
}

/* A series is expected only when its whole key equals the expected one:
 * not when the expected key is a prefix of its labels (one more label), nor
 * when a label field follows its samples (no key). */
static void test_expected_keys(void **state)
{
  (void)state;
  lk_label l1[] = {{"__name__", "m"}, {"job", "a"}};
  lk_label l2[] = {{"__name__", "m"}, {"job", "a"}, {"x", "y"}};
  lk_label l3[] = {{"__name__", "m"}, {"job", "b"}};
  lk_sample s[] = {{1000, 1}};
  lk_series first[] = {{l1, 2, s, 1}, {l3, 2, s, 1}};
  lk_series next[] = {{l1, 2, s, 1}, {l2, 3, s, 1}, {l3, 2, s, 1}};
  lk_buf body = {0};
  lk_arena *a = lk_arena_new(1 << 12);
  assert_int_equal(lk_rw_encode(first, 2, &body), 0);
  fixture_keys fk;
  fixture_keys_init(&fk, body.data, body.len);
  lk_buf_clear(&body);
  assert_int_equal(lk_rw_encode(next, 3, &body), 0);
  expect_matches_scan(body.data, body.len, &fk.x, a);
  lk_rw_series *rs;
  size_t n;
  fk.lens[1] = fk.lens[0]; /* expect l1's key at index 1 too: a prefix of l2's */
  memcpy(fk.keys[1], fk.keys[0], fk.lens[0]);
  assert_int_equal(lk_rw_scan_expect(body.data, body.len, 1 << 20, a, expect_given, &fk.x, &rs, &n, NULL), 0);
  assert_int_equal(n, 3);
  assert_int_equal(rs[0].expected, 1);
  assert_int_equal(rs[1].expected, 0);
  assert_true(rs[1].key_len > fk.lens[1]);
  assert_int_equal(rs[2].expected, 0); /* beyond what is expected */
  lk_rw_series *plain;
  assert_int_equal(lk_rw_scan(body.data, body.len, 1 << 20, a, &plain, &n, NULL), 0);
  assert_int_equal(rs[1].key_len, plain[1].key_len);
  fixture_keys_fini(&fk);

  /* label, sample, label with the first label expected: no key, not expected */
  label_sample_label(&body);
  const uint8_t *keys[] = {LSL_LABEL_A};
  size_t lens[] = {sizeof LSL_LABEL_A};
  lk_rw_expected x = {keys, lens, 1};
  expect_matches_scan(body.data, body.len, &x, a);
  assert_int_equal(lk_rw_scan_expect(body.data, body.len, 1 << 20, a, expect_given, &x, &rs, &n, NULL), 0);
  assert_null(rs[0].key);
  assert_int_equal(rs[0].expected, 0);
  lk_buf_fini(&body);
  lk_arena_free(a);
}

static void test_guard_page_prefixes(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_arena *a = lk_arena_new(1 << 16), *b = lk_arena_new(1 << 16);
  fixture_keys fk;
  fixture_keys_init(&fk, body, len);
  for (size_t cut = 0; cut <= len; cut++) {
    guard_buf g;
    assert_int_equal(guard_init(&g, body, cut), 0);
    assert_int_equal(scan_all_and_compare(g.data, cut, &fk.x, a, b), cut == len ? 0 : LK_ECORRUPT);
    guard_fini(&g);
  }
  fixture_keys_fini(&fk);
  lk_arena_free(a);
  lk_arena_free(b);
  free(body);
}

static void test_mutation_fuzz(void **state)
{
  (void)state;
  size_t len;
  uint8_t *body = read_fixture("rw_python.bin", &len);
  lk_buf raw = {0}, mut = {0}, z = {0};
  assert_int_equal(lk_snappy_uncompress(body, len, 1 << 20, &raw, NULL), 0);
  lk_arena *a = lk_arena_new(1 << 16), *b = lk_arena_new(1 << 16);
  fixture_keys fk; /* the unmutated body's keys: what a sender's memo holds */
  fixture_keys_init(&fk, body, len);
  uint64_t seed = 0x5ca1ab1e12345678ull;
  int ok = 0, bad = 0;
  for (int iter = 0; iter < 4000; iter++) {
    test_mutate(&mut, raw.data, raw.len, &seed);
    lk_buf_clear(&z);
    lk_snappy_compress(mut.data, mut.len, &z);
    guard_buf g;
    assert_int_equal(guard_init(&g, z.data, z.len), 0);
    if (scan_all_and_compare(g.data, z.len, &fk.x, a, b))
      bad++;
    else
      ok++;
    guard_fini(&g);
  }
  fixture_keys_fini(&fk);
  print_message("scan fuzz: %d accepted, %d rejected, all as lk_rw_decode\n", ok, bad);
  assert_true(ok > 0 && bad > 0);
  lk_arena_free(a);
  lk_arena_free(b);
  lk_buf_fini(&raw);
  lk_buf_fini(&mut);
  lk_buf_fini(&z);
  free(body);
}

/* Native histograms (TimeSeries field 4, one message per sample) are
 * counted per series, not decoded; the series' float samples are unaffected. */
static void test_histograms_counted(void **state)
{
  (void)state;
  const uint8_t label[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x12, 0x00};
  const uint8_t sample[] = {0x12, 0x03, 0x10, 0xe8, 0x07};
  const uint8_t hist_empty[] = {0x22, 0x00};
  const uint8_t hist_count[] = {0x22, 0x02, 0x08, 0x03}; /* count_int 3 */
  lk_buf pb = {0}, body = {0};
  uint8_t hdr1[] = {0x0a, (uint8_t)(sizeof label + sizeof hist_empty + sizeof sample + sizeof hist_count)};
  lk_buf_append(&pb, hdr1, 2);
  lk_buf_append(&pb, label, sizeof label);
  lk_buf_append(&pb, hist_empty, sizeof hist_empty);
  lk_buf_append(&pb, sample, sizeof sample);
  lk_buf_append(&pb, hist_count, sizeof hist_count);
  uint8_t hdr2[] = {0x0a, (uint8_t)(sizeof label + sizeof sample)};
  lk_buf_append(&pb, hdr2, 2);
  lk_buf_append(&pb, label, sizeof label);
  lk_buf_append(&pb, sample, sizeof sample);
  lk_snappy_compress(pb.data, pb.len, &body);
  lk_arena *a = lk_arena_new(1 << 12);
  lk_rw_series *rs;
  size_t n;
  assert_int_equal(lk_rw_scan(body.data, body.len, 1 << 20, a, &rs, &n, NULL), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rs[0].nhistograms, 2);
  assert_int_equal(rs[0].nsamples, 1);
  assert_int_equal(rs[0].samples[0].t, 1000);
  assert_int_equal(rs[1].nhistograms, 0);
  assert_int_equal(rs[1].nsamples, 1);
  lk_buf_fini(&pb);
  lk_buf_fini(&body);
  lk_arena_free(a);
}

int main(int argc, char **argv)
{
  if (argc > 1)
    fixtures_dir = argv[1];
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fixture_matches_decode),
    cmocka_unit_test(test_keys),
    cmocka_unit_test(test_expected_keys),
    cmocka_unit_test(test_histograms_counted),
    cmocka_unit_test(test_guard_page_prefixes),
    cmocka_unit_test(test_mutation_fuzz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
