/* lk_rw_decode.c — remote_write WriteRequest decoding (snappy + protobuf).
 *
 * Why hand-written: this is the ingest hot path (~1000 series × ~9 labels per
 * request). protobuf-c's generic, descriptor-driven unpack allocated and
 * copied every message and string and ran at ~1.3 M samples/s per core; this
 * decoder reads the few fixed messages of lib/remote.proto directly and is
 * checked against protobuf-c's output in tests/lib/test_wire.c (same bodies,
 * including a differential fuzz).
 *
 * Memory: the snappy output lives in the caller's arena and label strings are
 * NUL-terminated IN PLACE: a string's field header (tag + length, ≥ 2 bytes)
 * precedes it and is consumed before the string is used, so the string is
 * moved one byte left over its header and the NUL written over its own last
 * byte. Bytes after the string (the next field) are never touched, and each
 * string is moved once. Every series is scanned twice: once to count labels
 * and samples (arrays are then allocated exactly), once to fill them; the
 * counting scan of a series ends before its filling scan starts, so it never
 * sees moved bytes.
 *
 * Protobuf rules followed: unknown fields of wire types 0, 1, 2, 5 are
 * skipped; groups (3, 4), a one-byte tag of field 0, varints over 10 bytes, lengths past
 * the end, and known fields with the wrong wire type are errors; a repeated
 * scalar field keeps its last value; absent strings are "" and absent numbers 0.
 * Exemplars, histograms and metadata are not decoded, but checked the same
 * way (a table of their fields), so exactly the bodies protobuf-c accepts are
 * accepted; the scan path counts histograms (one message = one sample).
 *
 * lk_rw_scan_expect: a series message that starts with the key the caller
 * expects at its index (whole label fields an earlier scan accepted) is
 * compared once and walked from the key's end, since the same bytes parse
 * as the same fields; its results equal lk_rw_scan's.
 * Varints: tags and lengths at most 5 bytes, values at most 10.
 */
#include <stdbool.h>
#include <string.h>

#include "lib/lk_wire.h"
#include "lib/lk_wire_int.h"

/* A string field as a C string, NUL-terminated in place (see file comment). */
static const char *terminate_in_place(const lk__pbfield *f)
{
  char *dst = (char *)f->data - 1;
  memmove(dst, f->data, f->len);
  dst[f->len] = 0;
  return dst;
}

/*---- messages we skip, checked as protobuf-c (and Prometheus) would ----*/

typedef struct msg_rule msg_rule;
typedef struct field_rule {
  uint32_t num;
  int wt;
  const msg_rule *sub; /* for LK__WT_LEN fields holding a message */
} field_rule;
struct msg_rule {
  const field_rule *fields;
  size_t n;
};

static const field_rule label_fields[] = {{1, LK__WT_LEN, NULL}, {2, LK__WT_LEN, NULL}};
static const msg_rule label_rule = {label_fields, 2};
static const field_rule exemplar_fields[] = {
  {1, LK__WT_LEN, &label_rule}, {2, LK__WT_I64, NULL}, {3, LK__WT_VARINT, NULL}};
static const msg_rule exemplar_rule = {exemplar_fields, 3};
static const msg_rule histogram_rule = {NULL, 0}; /* declared empty: any well-formed content */
static const field_rule metadata_fields[] = {
  {1, LK__WT_VARINT, NULL}, {2, LK__WT_LEN, NULL}, {4, LK__WT_LEN, NULL}, {5, LK__WT_LEN, NULL}};
static const msg_rule metadata_rule = {metadata_fields, 4};

/* Well-formed, and every known field has its declared wire type. */
static int valid_message(const uint8_t *data, size_t len, const msg_rule *m)
{
  lk__pbuf b = {(uint8_t *)data, (uint8_t *)data + len};
  lk__pbfield f = {0};
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return 0;
    for (size_t i = 0; i < m->n; i++) {
      const field_rule *r = &m->fields[i];
      if (r->num != f.num)
        continue;
      if (r->wt != f.wt || (r->sub && !valid_message(f.data, f.len, r->sub)))
        return 0;
    }
  }
  return 1;
}

typedef struct ctx {
  lk_arena *a;
  lk_diag *d;
  size_t series; /* index, for messages */
} ctx;

static int corrupt(ctx *c)
{
  return lk_diag_set(c->d, LK_ECORRUPT, -1, "protobuf: cannot decode WriteRequest");
}

static int parse_label(ctx *c, uint8_t *data, size_t len, lk_label *out)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  /* one scan of the whole message: without any 0 byte, no string holds a NUL */
  int may_hold_nul = memchr(data, 0, len) != NULL;
  out->name = out->value = "";
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return corrupt(c);
    if (f.num != 1 && f.num != 2)
      continue;
    if (f.wt != LK__WT_LEN)
      return corrupt(c);
    if (may_hold_nul && memchr(f.data, 0, f.len))
      return lk_diag_set(c->d, LK_EINVAL, -1, "series %zu: label %s contains a NUL byte",
                         c->series, f.num == 1 ? "name" : "value");
    *(f.num == 1 ? &out->name : &out->value) = terminate_in_place(&f);
  }
  return 0;
}

static int parse_sample(ctx *c, const uint8_t *data, size_t len, lk_sample *out)
{
  lk__pbuf b = {(uint8_t *)data, (uint8_t *)data + len};
  lk__pbfield f = {0};
  out->t = 0;
  out->v = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return corrupt(c);
    if (f.num == 1) {
      if (f.wt != LK__WT_I64)
        return corrupt(c);
      memcpy(&out->v, &f.v, 8);
    } else if (f.num == 2) {
      if (f.wt != LK__WT_VARINT)
        return corrupt(c);
      out->t = (int64_t)f.v;
    }
  }
  return 0;
}

/* Counting scan of a TimeSeries: label and sample fields, wire types checked. */
static int count_series(ctx *c, uint8_t *data, size_t len, size_t *nl, size_t *ns)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  *nl = *ns = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return corrupt(c);
    if (f.num >= 1 && f.num <= 4 && f.wt != LK__WT_LEN)
      return corrupt(c);
    if ((f.num == 3 && !valid_message(f.data, f.len, &exemplar_rule)) ||
        (f.num == 4 && !valid_message(f.data, f.len, &histogram_rule)))
      return corrupt(c);
    *nl += f.num == 1;
    *ns += f.num == 2;
  }
  return 0;
}

static inline int name_less(const char *a, const char *b)
{
  return *a != *b ? (unsigned char)*a < (unsigned char)*b : strcmp(a, b) < 0;
}

/* Sort by name if the sender did not; repeated names are an error. */
static int check_labels(ctx *c, lk_label *ls, size_t n)
{
  if (n == 0)
    return lk_diag_set(c->d, LK_EINVAL, -1, "series %zu: no labels", c->series);
  size_t i = 1;
  while (i < n && name_less(ls[i - 1].name, ls[i].name))
    i++;
  if (i == n)
    return 0;
  lk_labels_sort(ls, n);
  for (i = 1; i < n; i++)
    if (!strcmp(ls[i - 1].name, ls[i].name))
      return lk_diag_set(c->d, LK_EINVAL, -1, "series %zu: duplicate label name \"%s\"",
                         c->series, ls[i].name);
  return 0;
}

static int parse_series(ctx *c, uint8_t *data, size_t len, lk_series *out)
{
  size_t nl, ns;
  int rc = count_series(c, data, len, &nl, &ns);
  if (rc)
    return rc;
  lk_label *ls = lk_arena_alloc(c->a, (nl ? nl : 1) * sizeof *ls);
  lk_sample *ss = ns ? lk_arena_alloc(c->a, ns * sizeof *ss) : NULL;
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  size_t il = 0, is = 0;
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: count_series accepted these bytes */
    if (f.num == 1)
      rc = parse_label(c, f.data, f.len, &ls[il++]);
    else if (f.num == 2)
      rc = parse_sample(c, f.data, f.len, &ss[is++]);
    if (rc)
      return rc;
  }
  *out = (lk_series){ls, nl, ss, ns};
  return 0;
}

static int count_timeseries(ctx *c, uint8_t *data, size_t len, size_t *n)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  *n = 0;
  while (b.p < b.e) {
    if (lk__pb_next(&b, &f))
      return corrupt(c);
    if ((f.num == 1 || f.num == 3) && f.wt != LK__WT_LEN)
      return corrupt(c);
    if (f.num == 3 && !valid_message(f.data, f.len, &metadata_rule))
      return corrupt(c);
    *n += f.num == 1;
  }
  return 0;
}

/* Shared first steps of decode and scan: snappy into the arena (size checked
 * against max_decoded first), then a well-formedness pass that counts the
 * TimeSeries. Fills out-params only on success. */
static int unpack_body(const uint8_t *body, size_t len, size_t max_decoded, ctx *c,
                       uint8_t **buf, size_t *size, size_t *nts)
{
  size_t sz = 0;
  uint8_t *b = NULL;
  int rc = lk__snappy_arena(body, len, max_decoded, c->a, &b, &sz, c->d);
  if (rc || (rc = count_timeseries(c, b, sz, nts)))
    return rc;
  *buf = b;
  *size = sz;
  return 0;
}

int lk_rw_decode(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                 lk_series **out, size_t *n, lk_diag *d)
{
  ctx c = {.a = arena, .d = d};
  uint8_t *buf;
  size_t size, ns;
  int rc = unpack_body(body, len, max_decoded, &c, &buf, &size, &ns);
  if (rc)
    return rc;
  lk_series *ss = ns ? lk_arena_alloc(arena, ns * sizeof *ss) : NULL;
  lk__pbuf b = {buf, buf + size};
  lk__pbfield f = {0};
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: count_timeseries accepted these bytes */
    if (f.num != 1)
      continue;
    if ((rc = parse_series(&c, f.data, f.len, &ss[c.series])))
      return rc;
    c.series++;
  }
  /* label rules only once the whole body is known to be well-formed */
  for (c.series = 0; c.series < ns; c.series++)
    if ((rc = check_labels(&c, (lk_label *)ss[c.series].labels, ss[c.series].nlabels)))
      return rc;
  *out = ss;
  *n = ns;
  return 0;
}

/*---- scan: structure and samples now, labels on demand ----*/

/* Checks as count_series, the span of the label fields (key), the number of
 * histogram samples, and where the first sample field starts (*first; the
 * labels need not be read again). A message that starts with the expected
 * key xk (xlen bytes, whole label fields accepted before) is walked from its
 * end: the same bytes parse as the same fields. */
static int scan_series(ctx *c, uint8_t *data, size_t len, const uint8_t *xk, size_t xlen, lk_rw_series *out,
                       size_t *ns, uint8_t **first)
{
  lk__pbuf b = {data, data + len};
  lk__pbfield f = {0};
  const uint8_t *kstart = NULL, *kend = NULL;
  bool contiguous = true;
  bool skipped = xlen && xlen <= len && !memcmp(data, xk, xlen);
  if (skipped) {
    kstart = data;
    kend = b.p = data + xlen;
  }
  *ns = 0;
  *first = data + len;
  out->nhistograms = 0;
  while (b.p < b.e) {
    uint8_t *start = b.p;
    if (lk__pb_next(&b, &f))
      return corrupt(c);
    if (f.num >= 1 && f.num <= 4 && f.wt != LK__WT_LEN)
      return corrupt(c);
    if ((f.num == 3 && !valid_message(f.data, f.len, &exemplar_rule)) ||
        (f.num == 4 && !valid_message(f.data, f.len, &histogram_rule)))
      return corrupt(c);
    if (f.num == 1) {
      contiguous = contiguous && (!kstart || start == kend);
      kstart = kstart ? kstart : start;
      kend = b.p;
    }
    if (f.num == 2 && !*ns)
      *first = start;
    *ns += f.num == 2;
    out->nhistograms += f.num == 4;
  }
  out->key = contiguous ? kstart : NULL;
  out->key_len = contiguous && kstart ? (size_t)(kend - kstart) : 0;
  out->expected = skipped && out->key == data && out->key_len == xlen; /* no later label field */
  out->msg = data;
  out->msg_len = len;
  return 0;
}

static int scan_samples(ctx *c, uint8_t *from, uint8_t *end, lk_sample *ss)
{
  lk__pbuf b = {from, end};
  lk__pbfield f = {0};
  size_t is = 0;
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: scan_series accepted these bytes */
    if (f.num != 2)
      continue;
    int rc = parse_sample(c, f.data, f.len, &ss[is++]);
    if (rc)
      return rc;
  }
  return 0;
}

int lk_rw_scan(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
               lk_rw_series **out, size_t *n, lk_diag *d)
{
  return lk_rw_scan_expect(body, len, max_decoded, arena, NULL, NULL, out, n, d);
}

int lk_rw_scan_expect(const uint8_t *body, size_t len, size_t max_decoded, lk_arena *arena,
                      lk_rw_expect_fn expect, void *ectx, lk_rw_series **out, size_t *n, lk_diag *d)
{
  const lk_rw_expected *x = NULL;
  ctx c = {.a = arena, .d = d};
  uint8_t *buf;
  size_t size, nts;
  int rc = unpack_body(body, len, max_decoded, &c, &buf, &size, &nts);
  if (rc)
    return rc;
  lk_rw_series *rs = nts ? lk_arena_alloc(arena, nts * sizeof *rs) : NULL;
  lk__pbuf b = {buf, buf + size};
  lk__pbfield f = {0};
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: count_timeseries accepted these bytes */
    if (f.num != 1)
      continue;
    lk_rw_series *s = &rs[c.series];
    size_t ns;
    uint8_t *first;
    size_t i = c.series;
    bool have = x && i < x->n;
    if ((rc = scan_series(&c, f.data, f.len, have ? x->keys[i] : NULL, have ? x->lens[i] : 0, s, &ns, &first)))
      return rc;
    if (i == 0 && expect && s->key && (x = expect(ectx, s->key, s->key_len)) && x->n)
      s->expected = x->lens[0] == s->key_len && !memcmp(x->keys[0], s->key, s->key_len);
    lk_sample *ss = ns ? lk_arena_alloc(arena, ns * sizeof *ss) : NULL;
    if ((rc = scan_samples(&c, first, f.data + f.len, ss)))
      return rc;
    s->samples = ss;
    s->nsamples = ns;
    c.series++;
  }
  *out = rs;
  *n = nts;
  return 0;
}

int lk_rw_scan_labels(const lk_rw_series *s, size_t index, lk_arena *arena, lk_label **out,
                      size_t *n, lk_diag *d)
{
  ctx c = {.a = arena, .d = d, .series = index};
  size_t len = s->msg_len;
  uint8_t *copy = lk_arena_alloc(arena, len ? len : 1); /* parse_label works in place */
  memcpy(copy, s->msg, len);
  lk__pbuf b = {copy, copy + len};
  lk__pbfield f = {0};
  size_t nl = 0;
  while (b.p < b.e) {
    lk__pb_next(&b, &f); /* cannot fail: lk_rw_scan accepted these bytes */
    nl += f.num == 1;
  }
  lk_label *ls = lk_arena_alloc(arena, (nl ? nl : 1) * sizeof *ls);
  size_t il = 0;
  b = (lk__pbuf){copy, copy + len};
  while (b.p < b.e) {
    lk__pb_next(&b, &f);
    if (f.num != 1)
      continue;
    int rc = parse_label(&c, f.data, f.len, &ls[il++]);
    if (rc)
      return rc;
  }
  int rc = check_labels(&c, ls, nl);
  if (rc)
    return rc;
  *out = ls;
  *n = nl;
  return 0;
}
