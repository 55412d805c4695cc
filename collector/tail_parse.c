/* tail_parse.c — decoding container log records and joining partial lines.
 *
 * CRI: `<RFC3339Nano> <stream> <tags> <content>`, tags split on ':', P =
 * partial, F = full. Docker json-file: {"log","stream",...,"time"}, decoded
 * with jansson (a real JSON string decoder); a `log` without a trailing \n is
 * partial. Plain: the record is the line, stamped with the read time.
 * Partials are joined per stream (stdout and stderr interleave), capped at
 * max_line (a longer line is emitted in max_line pieces). Finished lines
 * lose a trailing \r, and invalid UTF-8 bytes become U+FFFD one per byte.
 * The entry keeps the timestamp and file of its first fragment.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/tail.h"
#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"

typedef struct pending {
  lk_buf buf;
  int64_t ts;
  char *file;
  bool active;
} pending;

struct collector_log_joiner {
  enum collector_log_format fmt;
  size_t max_line;
  collector_joined_fn fn;
  void *ctx;
  pending p[2]; /* stdout, stderr */
  lk_buf out;   /* UTF-8 sanitised line */
};

static int digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

int collector_parse_rfc3339_ns(const char *s, size_t n, int64_t *out)
{
  int Y, M, D, h, m, sec;
  if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':' || digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
      digits(s + 11, 2, &h) || digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
    return LK_EPARSE;
  size_t i = 19;
  int64_t frac = 0;
  int nd = 0;
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
      if (nd < 9)
        frac = frac * 10 + (s[i] - '0');
    if (!nd)
      return LK_EPARSE;
  }
  for (int k = nd < 9 ? nd : 9; k < 9; k++)
    frac *= 10;
  int64_t off = 0;
  if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 <= n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
      return LK_EPARSE;
    off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return LK_EPARSE;
  }
  if (i != n || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
    return LK_EPARSE;
  struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                  .tm_min = m, .tm_sec = sec};
  int64_t t = (int64_t)timegm(&tm) - off, ns;
  if (t < 0 && frac) { /* so that t·10⁹ stays in range down to INT64_MIN */
    t++;
    frac -= 1000000000LL;
  }
  if (__builtin_mul_overflow(t, 1000000000LL, &ns) || __builtin_add_overflow(ns, frac, &ns))
    return LK_EPARSE; /* outside 1677-09-21 .. 2262-04-11, what int64 ns can hold */
  *out = ns;
  return 0;
}

collector_log_joiner *collector_joiner_new(enum collector_log_format f, size_t max_line,
                                           collector_joined_fn fn, void *ctx)
{
  collector_log_joiner *j = lk_xcalloc(1, sizeof *j);
  j->fmt = f;
  j->max_line = max_line ? max_line : 256u << 10;
  j->fn = fn;
  j->ctx = ctx;
  return j;
}

void collector_joiner_free(collector_log_joiner *j)
{
  if (!j)
    return;
  for (int i = 0; i < 2; i++) {
    lk_buf_fini(&j->p[i].buf);
    free(j->p[i].file);
  }
  lk_buf_fini(&j->out);
  free(j);
}

/* Length of a valid UTF-8 sequence at p, or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
  unsigned char c = p[0];
  size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (!len || len > n || (len == 2 && c < 0xc2))
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  if (len == 3) {
    unsigned cp = (c & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu);
    if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
  } else if (len == 4) {
    unsigned cp = (c & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu);
    if (cp < 0x10000 || cp > 0x10ffff)
      return 0;
  }
  return len;
}

static void emit(collector_log_joiner *j, const char *file, int64_t ts, int stream,
                 const char *p, size_t n)
{
  if (n && p[n - 1] == '\r')
    n--;
  lk_buf_clear(&j->out);
  const unsigned char *u = (const unsigned char *)p;
  size_t run = 0; /* start of the pending run of valid bytes */
  for (size_t i = 0; i < n;) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    size_t l = utf8_seq(u + i, n - i);
    if (l) {
      i += l;
      continue;
    }
    lk_buf_append(&j->out, u + run, i - run);
    lk_buf_append(&j->out, "\xef\xbf\xbd", 3);
    run = ++i;
  }
  lk_buf_append(&j->out, u + run, n - run);
  j->fn(j->ctx, file, ts, stream ? "stderr" : "stdout", j->out.data ? (char *)j->out.data : "",
        j->out.len);
}

static void flush_one(collector_log_joiner *j, int s)
{
  pending *pd = &j->p[s];
  if (!pd->active)
    return;
  emit(j, pd->file, pd->ts, s, (const char *)pd->buf.data, pd->buf.len);
  pd->active = false;
  lk_buf_clear(&pd->buf);
}

/* One fragment; partial ones wait for the rest of their stream's line. */
static void fragment(collector_log_joiner *j, const char *file, int64_t ts, int s, const char *p,
                     size_t n, bool partial)
{
  pending *pd = &j->p[s];
  if (!pd->active && !partial && n <= j->max_line) {
    emit(j, file, ts, s, p, n);
    return;
  }
  if (!pd->active) {
    pd->active = true;
    pd->ts = ts;
    free(pd->file);
    pd->file = lk_xstrdup(file);
  }
  while (pd->buf.len + n > j->max_line) { /* split an over-long line */
    size_t take = j->max_line - pd->buf.len;
    lk_buf_append(&pd->buf, p, take);
    flush_one(j, s);
    p += take, n -= take;
    pd->active = true;
    pd->ts = ts;
  }
  lk_buf_append(&pd->buf, p, n);
  if (!partial)
    flush_one(j, s);
}

static int feed_cri(collector_log_joiner *j, const char *file, const char *r, size_t n)
{
  const char *end = r + n, *sp1 = memchr(r, ' ', n);
  if (!sp1)
    return LK_EPARSE;
  int64_t ts;
  if (collector_parse_rfc3339_ns(r, (size_t)(sp1 - r), &ts))
    return LK_EPARSE;
  const char *st = sp1 + 1, *sp2 = memchr(st, ' ', (size_t)(end - st));
  if (!sp2)
    return LK_EPARSE;
  int s;
  if (sp2 - st == 6 && !memcmp(st, "stdout", 6))
    s = 0;
  else if (sp2 - st == 6 && !memcmp(st, "stderr", 6))
    s = 1;
  else
    return LK_EPARSE;
  const char *tag = sp2 + 1, *sp3 = memchr(tag, ' ', (size_t)(end - tag));
  const char *tend = sp3 ? sp3 : end; /* "F" with nothing after it: an empty line */
  if (tend == tag)
    return LK_EPARSE;
  bool partial = false;
  for (const char *t = tag; t < tend;) {
    const char *c = memchr(t, ':', (size_t)(tend - t));
    const char *te = c ? c : tend;
    if (te - t == 1 && *t == 'P')
      partial = true;
    else if (!(te - t == 1 && *t == 'F'))
      return LK_EPARSE;
    t = c ? c + 1 : tend;
  }
  const char *content = sp3 ? sp3 + 1 : end;
  fragment(j, file, ts, s, content, (size_t)(end - content), partial);
  return 0;
}

static int feed_docker(collector_log_joiner *j, const char *file, const char *r, size_t n)
{
  json_t *o = json_loadb(r, n, JSON_ALLOW_NUL, NULL);
  json_t *log = json_object_get(o, "log"), *st = json_object_get(o, "stream"),
         *tm = json_object_get(o, "time");
  int64_t ts;
  int rc = LK_EPARSE;
  if (json_is_string(log) && json_is_string(st) && json_is_string(tm) &&
      !collector_parse_rfc3339_ns(json_string_value(tm), json_string_length(tm), &ts)) {
    const char *sv = json_string_value(st);
    int s = !strcmp(sv, "stderr");
    if (s || !strcmp(sv, "stdout")) {
      const char *p = json_string_value(log);
      size_t len = json_string_length(log);
      bool partial = !len || p[len - 1] != '\n';
      fragment(j, file, ts, s, p, partial ? len : len - 1, partial);
      rc = 0;
    }
  }
  json_decref(o);
  return rc;
}

static bool looks_cri(const char *r, size_t n)
{
  const char *sp = memchr(r, ' ', n < 40 ? n : 40);
  int64_t ts;
  return sp && !collector_parse_rfc3339_ns(r, (size_t)(sp - r), &ts) &&
         (size_t)(sp - r) + 9 <= n && (!memcmp(sp + 1, "stdout ", 7) || !memcmp(sp + 1, "stderr ", 7));
}

int collector_joiner_feed(collector_log_joiner *j, const char *file, const char *rec, size_t n,
                          int64_t now_ns)
{
  enum collector_log_format f = j->fmt;
  if (f == COLLECTOR_LOG_AUTO)
    f = n > 7 && !memcmp(rec, "{\"log\":", 7) ? COLLECTOR_LOG_DOCKER
        : looks_cri(rec, n)                   ? COLLECTOR_LOG_CRI
                                              : COLLECTOR_LOG_PLAIN;
  switch (f) {
  case COLLECTOR_LOG_CRI: return feed_cri(j, file, rec, n);
  case COLLECTOR_LOG_DOCKER: return feed_docker(j, file, rec, n);
  default: fragment(j, file, now_ns, 0, rec, n, false); return 0;
  }
}

void collector_joiner_flush(collector_log_joiner *j)
{
  flush_one(j, 0);
  flush_one(j, 1);
}

bool collector_joiner_pending(const collector_log_joiner *j)
{
  return j->p[0].active || j->p[1].active;
}
