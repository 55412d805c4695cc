/* lk_regex.c — the C side of lib/lk_regex.h: pattern preparation for RE2
 * ((?<n>…) spelled as (?P<n>…), which this RE2 release predates), Go's
 * error texts with the offending part and its offset, the fast paths of
 * label matchers (literal alternatives compared as strings, a literal prefix
 * checked before RE2 runs), group names, and the required-literal walker used
 * by LogQL prefilters. RE2 itself sits behind lk_regex_re2.cc.
 */
#include "lib/lk_regex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_regex_re2.h"

/* RE2's bound on one program plus its DFA caches. Past the bound a pattern
 * fails to compile (LK_ELIMIT) or a search falls back to the NFA, still in
 * linear time. Prometheus/Loki patterns are small; 8 MiB is RE2's default. */
#define LK_REGEX_MAX_MEM (8L << 20)

struct lk_regex {
  lk__re2 *re;
  bool anchored;
  bool empty;     /* matches "" */
  char **alts;    /* literal alternatives (anchored, no metacharacters) */
  size_t *alt_lens;
  size_t nalts;
  char prefix[32]; /* anchored: bytes every matching value starts with */
  size_t prefix_len;
  size_t ngroups;
  char **names;   /* [ngroups + 1], NULL for unnamed groups */
};

/*---- Pattern scanning shared by preparation and the literal walker ----*/

/* Bytes the escape sequence at p ('\\') spans: \pL \p{Greek} \x41 \x{263a}
 * \123 and two-byte escapes. */
static size_t escape_len(const char *p)
{
  char c = p[1];
  if (!c)
    return 1;
  if ((c == 'p' || c == 'P' || c == 'x') && p[2] == '{') {
    const char *e = strchr(p + 2, '}');
    return e ? (size_t)(e - p) + 1 : strlen(p);
  }
  if (c == 'p' || c == 'P')
    return p[2] ? 3 : 2;
  size_t n = 2;
  if (c == 'x')
    while (n < 4 && p[n])
      n++;
  if (c >= '0' && c <= '7')
    while (n < 4 && p[n] >= '0' && p[n] <= '7')
      n++;
  return n;
}

/* p at '[': the closing ']' of the class (or the NUL). A leading ']' (after
 * an optional '^') is a member; [:alpha:] and escapes are skipped whole. */
static const char *class_end(const char *p)
{
  p++;
  p += *p == '^';
  p += *p == ']';
  while (*p && *p != ']') {
    if (*p == '\\' && p[1]) {
      p += escape_len(p);
    } else if (*p == '[' && p[1] == ':') {
      const char *e = strstr(p + 2, ":]");
      p = e ? e + 2 : p + 1;
    } else {
      p++;
    }
  }
  return p;
}

/* p at '\\' followed by 'Q': the byte after the closing \E (or the NUL). */
static const char *quote_end(const char *p)
{
  const char *e = strstr(p + 2, "\\E");
  return e ? e + 2 : p + strlen(p);
}

/* Bytes of the atom at p that is not a group: an escape, a class, a quote or
 * one (possibly multibyte UTF-8) character. */
static size_t atom_len(const char *p)
{
  if (*p == '\\' && p[1] == 'Q')
    return (size_t)(quote_end(p) - p);
  if (*p == '\\')
    return escape_len(p);
  if (*p == '[') {
    const char *e = class_end(p);
    return (size_t)(e - p) + (*e != 0);
  }
  size_t n = 1;
  if ((unsigned char)*p >= 0xc0)
    while (((unsigned char)p[n] & 0xc0) == 0x80)
      n++;
  return n;
}

/*---- Compilation ----*/

/* Copy pattern into b with every "(?<name>" spelled "(?P<name>"; ins
 * records where the first maxins 'P's went in (error offsets past more
 * rewrites than that come out a few bytes late). */
static void prepare(const char *pattern, lk_buf *b, size_t *ins, size_t *nins, size_t maxins)
{
  *nins = 0;
  for (const char *p = pattern; *p;) {
    if (!strncmp(p, "(?<", 3) && p[3] != '=' && p[3] != '!') {
      lk_buf_puts(b, "(?P<");
      if (*nins < maxins)
        ins[(*nins)++] = (size_t)(p - pattern) + 2;
      p += 3;
      continue;
    }
    size_t n = *p == '(' ? 1 : atom_len(p);
    lk_buf_append(b, p, n);
    p += n;
  }
  if (!b->data)
    lk_buf_puts(b, "");
}

/* Go's regexp/syntax texts for RE2's error codes. */
static const char *error_text(int code)
{
  static const char *const texts[] = {
      "regexp/syntax: internal error", "regexp/syntax: internal error",
      "invalid escape sequence", "invalid character class", "invalid character class range",
      "missing closing ]", "missing closing )", "unexpected )", "trailing backslash at end of expression",
      "missing argument to repetition operator", "invalid repeat count",
      "invalid nested repetition operator", "invalid or unsupported Perl syntax", "invalid UTF-8",
      "invalid named capture", "expression too large"};
  return code > 0 && (size_t)code < sizeof texts / sizeof texts[0] ? texts[code] : texts[0];
}

/* Offset in the user's pattern of prepared-pattern offset off. */
static size_t source_offset(size_t off, const size_t *ins, size_t nins)
{
  size_t shift = 0;
  for (size_t i = 0; i < nins && ins[i] + shift < off; i++)
    shift++;
  return off - shift;
}

static int compile_error(const char *pattern, const char *prepared, const size_t *ins, size_t nins,
                         int code, const char *arg, lk_diag *d)
{
  const char *at = *arg ? strstr(prepared, arg) : NULL;
  size_t start = at ? source_offset((size_t)(at - prepared), ins, nins) : 0;
  size_t end = at ? source_offset((size_t)(at - prepared) + strlen(arg), ins, nins) : strlen(pattern);
  int rc = code == LK__RE2_ETOOLARGE ? LK_ELIMIT : LK_EPARSE;
  return lk_diag_set(d, rc, (long)start,
                     "invalid regular expression \"%s\": error parsing regexp: %s: `%.*s` (at offset %zu)",
                     pattern, error_text(code), (int)(end - start), pattern + start, start);
}

static bool is_meta(char c) { return strchr(".[]{}()\\*+?^$", c) != NULL; }

/* Anchored patterns made only of literal alternatives keep them split. */
static void split_alternatives(lk_regex *r, const char *pattern)
{
  for (const char *p = pattern; *p; p++)
    if (is_meta(*p))
      return;
  size_t n = 1;
  for (const char *p = pattern; *p; p++)
    n += *p == '|';
  r->alts = lk_xmalloc(n * sizeof *r->alts);
  r->alt_lens = lk_xmalloc(n * sizeof *r->alt_lens);
  for (const char *s = pattern;; ) {
    const char *e = strchr(s, '|');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    r->alt_lens[r->nalts] = len;
    r->alts[r->nalts++] = lk_xstrndup(s, len);
    if (!e)
      break;
    s = e + 1;
  }
}

static size_t literal_prefix(const char *pattern, char *out, size_t cap);

static void keep_name(void *ctx, size_t g, const char *name)
{
  lk_regex *r = ctx;
  if (g <= r->ngroups)
    r->names[g] = lk_xstrndup(name, strlen(name));
}

int lk_regex_compile(const char *pattern, enum lk_regex_mode mode, lk_regex **out, lk_diag *d)
{
  *out = NULL;
  lk_buf b = {0};
  size_t ins[64], nins;
  prepare(pattern, &b, ins, &nins, sizeof ins / sizeof ins[0]);
  int code = 0;
  char arg[256];
  bool anchored = mode == LK_REGEX_ANCHORED;
  lk__re2 *re = lk__re2_new((const char *)b.data, b.len, anchored, LK_REGEX_MAX_MEM, &code, arg, sizeof arg);
  if (!re) {
    int rc = compile_error(pattern, (const char *)b.data, ins, nins, code, arg, d);
    lk_buf_fini(&b);
    return rc;
  }
  lk_buf_fini(&b);
  lk_regex *r = lk_xcalloc(1, sizeof *r);
  r->re = re;
  r->anchored = anchored;
  r->ngroups = lk__re2_ngroups(re);
  r->names = lk_xcalloc(r->ngroups + 1, sizeof *r->names);
  lk__re2_names(re, keep_name, r);
  if (anchored)
    split_alternatives(r, pattern);
  if (anchored && !r->alts)
    r->prefix_len = literal_prefix(pattern, r->prefix, sizeof r->prefix);
  r->empty = lk_regex_match(r, "", 0);
  *out = r;
  return 0;
}

void lk_regex_free(lk_regex *re)
{
  if (!re)
    return;
  lk__re2_free(re->re);
  for (size_t i = 0; i < re->nalts; i++)
    free(re->alts[i]);
  free(re->alts);
  free(re->alt_lens);
  for (size_t i = 0; i <= re->ngroups; i++)
    free(re->names[i]);
  free(re->names);
  free(re);
}

int lk_regex_check(const char *pattern, bool *empty, lk_diag *d)
{
  lk_regex *re;
  int rc = lk_regex_compile(pattern, LK_REGEX_ANCHORED, &re, d);
  if (rc)
    return rc;
  if (empty)
    *empty = re->empty;
  lk_regex_free(re);
  return 0;
}

/*---- Matching ----*/

static bool alternative_match(const lk_regex *re, const char *s, size_t n)
{
  for (size_t i = 0; i < re->nalts; i++)
    if (re->alt_lens[i] == n && !memcmp(re->alts[i], s, n))
      return true;
  return false;
}

bool lk_regex_match(const lk_regex *re, const char *s, size_t n)
{
  if (re->alts)
    return alternative_match(re, s, n);
  if (n < re->prefix_len || (re->prefix_len && memcmp(s, re->prefix, re->prefix_len)))
    return false;
  return lk__re2_match(re->re, s ? s : "", n, re->anchored, NULL, NULL, 0);
}

bool lk_regex_find(const lk_regex *re, const char *s, size_t n, lk_regex_span *m, size_t nm)
{
  if (!nm)
    return lk_regex_match(re, s, n);
  size_t want = nm < re->ngroups + 1 ? nm : re->ngroups + 1;
  long stack[2][16], *start = stack[0], *end = stack[1];
  if (want > 16) {
    start = lk_xmalloc(2 * want * sizeof *start);
    end = start + want;
  }
  bool ok = lk__re2_match(re->re, s ? s : "", n, re->anchored, start, end, want);
  for (size_t i = 0; ok && i < nm; i++)
    m[i] = i < want ? (lk_regex_span){start[i], end[i]} : (lk_regex_span){-1, -1};
  if (start != stack[0])
    free(start);
  return ok;
}

bool lk_regex_matches_empty(const lk_regex *re) { return re->empty; }

size_t lk_regex_groups(const lk_regex *re) { return re->ngroups; }

const char *lk_regex_group_name(const lk_regex *re, size_t g)
{
  return g >= 1 && g <= re->ngroups ? re->names[g] : NULL;
}

size_t lk_regex_group_index(const lk_regex *re, const char *name)
{
  for (size_t g = 1; g <= re->ngroups; g++)
    if (re->names[g] && !strcmp(re->names[g], name))
      return g;
  return 0;
}

const char *const *lk_regex_alternatives(const lk_regex *re, size_t *n)
{
  *n = re->nalts;
  return re->alts ? (const char *const *)re->alts : NULL;
}

/*---- Required literals ----*/

/* p at '(': the byte after its matching ')' (or the NUL). */
static const char *group_end(const char *p)
{
  int depth = 0;
  while (*p) {
    if (*p == '(') {
      depth++;
      p++;
    } else if (*p == ')') {
      p++;
      if (--depth == 0)
        return p;
    } else {
      p += atom_len(p);
    }
  }
  return p;
}

/* Whether the group at p ('(') sets flags that include case folding. */
static bool folds_case(const char *p)
{
  if (p[1] != '?' || p[2] == 'P' || p[2] == '<')
    return false;
  for (p += 2; *p && *p != ')' && *p != ':'; p++)
    if (*p == 'i')
      return true;
  return false;
}

/* Literals cannot be trusted under top-level alternation or case folding. */
static bool literals_apply(const char *pattern)
{
  int depth = 0;
  for (const char *p = pattern; *p;) {
    if (*p == '(' && folds_case(p))
      return false;
    if (*p == '|' && depth == 0)
      return false;
    depth += (*p == '(') - (*p == ')');
    p += *p == '(' || *p == ')' ? 1 : atom_len(p);
  }
  return true;
}

typedef struct lit_run {
  char b[256];
  size_t n;
  void (*fn)(void *ctx, const char *p, size_t n);
  void *ctx;
} lit_run;

static void run_flush(lit_run *r)
{
  if (r->n)
    r->fn(r->ctx, r->b, r->n);
  r->n = 0;
}

/* The literal bytes atom p[0..n) stands for, or 0 when it is no literal. */
static size_t atom_literal(const char *p, size_t n, const char **lit)
{
  *lit = p;
  if (*p == '\\') {
    bool punct = n == 2 && (unsigned char)p[1] < 0x80 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", p[1]);
    *lit = p + 1;
    return punct ? 1 : 0;
  }
  return *p == '[' || is_meta(*p) || *p == '|' ? 0 : n;
}

/* Bytes of the repetition {n}, {n,} or {n,m} at p, or 0 when p does not
 * start one (RE2 then reads the '{' as a literal). */
static size_t repeat_len(const char *p)
{
  if (*p != '{')
    return 0;
  size_t i = 1, digits = strspn(p + 1, "0123456789");
  if (!digits)
    return 0;
  i += digits;
  if (p[i] == ',')
    i += 1 + strspn(p + i + 1, "0123456789");
  return p[i] == '}' ? i + 1 : 0;
}

void lk_regex_literals(const char *pattern, void (*fn)(void *ctx, const char *p, size_t n), void *ctx)
{
  if (!literals_apply(pattern))
    return;
  lit_run r = {.n = 0, .fn = fn, .ctx = ctx};
  for (const char *p = pattern; *p;) {
    size_t n = *p == '(' ? (size_t)(group_end(p) - p) : atom_len(p);
    const char *lit;
    size_t ln = *p == '(' ? 0 : atom_literal(p, n, &lit);
    char q = p[n];
    size_t rep = repeat_len(p + n);
    bool optional = q == '*' || q == '?' || rep;
    if (ln && !optional && r.n + ln <= sizeof r.b) {
      memcpy(r.b + r.n, lit, ln);
      r.n += ln;
      if (q == '+')
        run_flush(&r);
    } else {
      run_flush(&r);
    }
    p += n + rep;
  }
  run_flush(&r);
}

/* The literal atoms an anchored pattern starts with (none under top-level
 * alternation or case folding; a quantified atom ends the prefix). */
static size_t literal_prefix(const char *pattern, char *out, size_t cap)
{
  if (!literals_apply(pattern))
    return 0;
  size_t n = 0;
  for (const char *p = pattern; *p && *p != '(';) {
    size_t len = atom_len(p);
    const char *lit;
    size_t ln = atom_literal(p, len, &lit);
    char q = p[len];
    if (!ln || q == '*' || q == '?' || repeat_len(p + len) || n + ln > cap)
      break;
    memcpy(out + n, lit, ln);
    n += ln;
    if (q == '+')
      break;
    p += len;
  }
  return n;
}
