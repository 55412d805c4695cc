/* promqltest.c — the PromQL conformance runner (build/promqltest).
 *
 * Runs Prometheus's engine test scripts (format: ../shared/peers/promql/
 * FORMAT.md) against Lookout's engine over the real tsdb: every file starts
 * from an empty database in a temporary directory, `load` appends, `clear`
 * closes, deletes and reopens. Each eval is classified float or native
 * (native-histogram data or functions, which Lookout does not support) and
 * reported; one line per failing eval, then `N passed, N failed`.
 *
 * Annotation expectations (expect warn/info/no_warn/no_info) are checked
 * only with --annotations, and then for presence, not text; `expect fail`
 * checks that the query fails, not the message. --cross-check re-runs every
 * instant eval as a range query around t, as the upstream harness does.
 *
 * usage: promqltest [-v] [--store=tsdb|mem] [--annotations] [--cross-check] FILE.test ...
 */
#include <ctype.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_time.h"
#include "promql/promql.h"

/*---- Storage: a fresh store per file, reset by `clear` ----*/

typedef struct ptest_store {
  bool use_mem;          /* --store=mem: the in-memory queryable instead of tsdb */
  promql_mem *mem;
  tsdb_t *db;
  char dir[64];
  promql_queryable q;
} ptest_store;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static int store_open(ptest_store *st)
{
  if (st->use_mem) {
    st->mem = promql_mem_new();
    st->q = promql_mem_queryable(st->mem);
    return 0;
  }
  snprintf(st->dir, sizeof st->dir, "/tmp/promqltest-XXXXXX");
  if (!mkdtemp(st->dir))
    return -1;
  tsdb_opts o = {.dir = st->dir, .ooo_window_ms = INT64_MAX / 4, .fsync = TSDB_FSYNC_NEVER};
  lk_diag d = {0};
  if (tsdb_open(&o, &st->db, &d)) {
    fprintf(stderr, "promqltest: tsdb_open %s: %s\n", st->dir, d.msg);
    return -1;
  }
  st->q = promql_queryable_tsdb(st->db);
  return 0;
}

static void store_close(ptest_store *st)
{
  promql_mem_free(st->mem);
  st->mem = NULL;
  if (st->db) {
    tsdb_close(st->db);
    st->db = NULL;
    nftw(st->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
}

static int ptest_store_add(ptest_store *st, const lk_label *ls, size_t n, const lk_sample *s,
                           size_t ns)
{
  lk_diag d = {0};
  if (st->mem)
    return promql_mem_add(st->mem, ls, n, s, ns, &d);
  if (!ns)
    return 0;
  tsdb_series_in in = {ls, n, s, ns};
  tsdb_append_stats stats = {0};
  int rc = tsdb_append(st->db, &in, 1, &stats, &d);
  if (rc)
    fprintf(stderr, "promqltest: append: %s\n", d.msg);
  else if (tsdb_rejected_sum(&stats))
    fprintf(stderr, "promqltest: append rejected %llu samples\n",
            (unsigned long long)tsdb_rejected_sum(&stats));
  return rc;
}

typedef struct counts {
  unsigned pass, fail, native_pass, native_fail;
} counts;

typedef struct exp_series {
  lk_label *ls;
  size_t nls;
  double *v;       /* per slot */
  uint8_t *ok;     /* per slot: 1 = value expected */
  size_t n;
} exp_series;

typedef struct script {
  const char *file;
  char **lines;
  size_t n;
  size_t i;            /* next line */
  ptest_store *st;
  lk_buf hist_names;   /* "\n"-separated metric names carrying native histograms */
  bool verbose;
  bool annotations;    /* --annotations: also check expect warn/info/no_warn/no_info */
  bool cross_check;    /* --cross-check: re-run instant evals in range mode */
  counts c;
} script;

static char *trim(char *s)
{
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = 0;
  return s;
}

static bool blank(const char *s) { return !*s || *s == '#'; }

/*---- Value sequences ----*/

static bool parse_num(const char **p, double *out)
{
  const char *s = *p;
  if (!strncasecmp(s, "stale", 5))
    return false;
  /* no hex in sequences: "0x5" is 0 repeated */
  const char *d = s + (*s == '+' || *s == '-');
  if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
    *out = *s == '-' ? -0.0 : 0;
    *p = d + 1;
    return true;
  }
  char *end;
  double v = strtod(s, &end);
  if (end == s)
    return false;
  *out = v;
  *p = end;
  return true;
}

static void push(double **v, uint8_t **ok, size_t *n, size_t *cap, double x, bool present)
{
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *v = lk_xrealloc(*v, *cap * sizeof **v);
    *ok = lk_xrealloc(*ok, *cap);
  }
  (*v)[*n] = x;
  (*ok)[(*n)++] = present;
}

static double stale_nan(void)
{
  uint64_t bits = TSDB_STALE_NAN_BITS;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* Expand a value sequence into slots. Histogram items become empty slots
 * and set *hist. Returns 0, or -1 on a syntax error. */
static int parse_seq(const char *s, double **v, uint8_t **ok, size_t *n, bool *hist)
{
  size_t cap = 0;
  *v = NULL;
  *ok = NULL;
  *n = 0;
  while (*s) {
    while (isspace((unsigned char)*s))
      s++;
    if (!*s)
      break;
    if (s[0] == '{' && s[1] == '{') {
      *hist = true;
      const char *e = strstr(s, "}}");
      if (!e)
        return -1;
      s = e + 2;
      long times = 1;
      if (*s == '+' || *s == '-') {
        e = strstr(s, "}}");
        if (!e)
          return -1;
        s = e + 2;
      }
      if (*s == 'x')
        times = strtol(s + 1, (char **)&s, 10) + 1;
      for (long k = 0; k < times; k++)
        push(v, ok, n, &cap, 0, false);
      continue;
    }
    if (*s == '_') {
      s++;
      long times = 1;
      if (*s == 'x')
        times = strtol(s + 1, (char **)&s, 10);
      for (long k = 0; k < times; k++)
        push(v, ok, n, &cap, 0, false);
      continue;
    }
    if (!strncasecmp(s, "stale", 5)) {
      s += 5;
      push(v, ok, n, &cap, stale_nan(), true);
      continue;
    }
    double a, b = 0;
    if (!parse_num(&s, &a))
      return -1;
    if ((*s == '+' || *s == '-') && s[1] != 0) {
      bool neg = *s == '-';
      s++;
      if (!parse_num(&s, &b))
        return -1;
      if (neg)
        b = -b;
    }
    if (*s == 'x') {
      char *end;
      long times = strtol(s + 1, &end, 10);
      if (end == s + 1)
        return -1;
      s = end;
      for (long k = 0; k <= times; k++)
        push(v, ok, n, &cap, a + (double)k * b, true);
    } else {
      push(v, ok, n, &cap, a, true);
    }
    if (*s && !isspace((unsigned char)*s))
      return -1;
  }
  return 0;
}

/*---- Label sets ----*/

static const char *parse_quoted(const char **p, lk_arena *a)
{
  const char *s = *p;
  char q = *s++;
  lk_buf b = {0};
  lk_buf_reserve(&b, 1);
  b.data[0] = 0;
  while (*s && *s != q) {
    if (*s == '\\' && s[1]) {
      s++;
      char c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      lk_buf_putc(&b, (uint8_t)c);
    } else {
      lk_buf_putc(&b, (uint8_t)*s);
    }
    s++;
  }
  if (*s == q)
    s++;
  *p = s;
  const char *r = lk_arena_strndup(a, (const char *)b.data, b.len);
  lk_buf_fini(&b);
  return r;
}

/* `name{a="b",...}` / `{...}` / `name`; returns the rest of the line. */
static const char *parse_labels(const char *s, lk_arena *a, lk_label **out, size_t *out_n)
{
  lk_label *ls = lk_arena_alloc(a, 64 * sizeof *ls);
  size_t n = 0;
  const char *p = s;
  while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
    p++;
  if (p > s)
    ls[n++] = (lk_label){"__name__", lk_arena_strndup(a, s, (size_t)(p - s))};
  if (*p == '{') {
    p++;
    while (*p && *p != '}' && n < 64) {
      while (isspace((unsigned char)*p) || *p == ',')
        p++;
      if (*p == '}')
        break;
      const char *name;
      if (*p == '"') {
        name = parse_quoted(&p, a);
      } else {
        const char *ns = p;
        while (isalnum((unsigned char)*p) || *p == '_')
          p++;
        name = lk_arena_strndup(a, ns, (size_t)(p - ns));
      }
      while (isspace((unsigned char)*p))
        p++;
      if (*p != '=') { /* a quoted metric name */
        ls[n++] = (lk_label){"__name__", name};
        continue;
      }
      p++;
      while (isspace((unsigned char)*p))
        p++;
      if (*p != '"' && *p != '\'' && *p != '`')
        return NULL;
      ls[n++] = (lk_label){name, parse_quoted(&p, a)};
    }
    if (*p != '}')
      return NULL;
    p++;
  } else if (p == s) {
    return NULL;
  }
  lk_labels_sort(ls, n);
  *out = ls;
  *out_n = n;
  return p;
}

/*---- Commands ----*/

static void note_hist_name(script *sc, const char *name)
{
  lk_buf_printf(&sc->hist_names, "%s\n", name);
}

/* One series of a load block; repeated label sets within a block are
 * merged, a later line overriding earlier values at the same slot. */
typedef struct load_series {
  lk_label *ls;
  size_t nls;
  double *v;
  uint8_t *ok;
  size_t n;
} load_series;

static void merge_into(load_series *dst, const double *v, const uint8_t *ok, size_t n)
{
  if (n > dst->n) {
    dst->v = lk_xrealloc(dst->v, n * sizeof *dst->v);
    dst->ok = lk_xrealloc(dst->ok, n);
    memset(dst->ok + dst->n, 0, n - dst->n);
    dst->n = n;
  }
  for (size_t k = 0; k < n; k++)
    if (ok[k]) {
      dst->v[k] = v[k];
      dst->ok[k] = 1;
    }
}

static void note_names(script *sc, lk_arena *a, const char *name, bool hist, bool nhcb)
{
  if (hist)
    note_hist_name(sc, name);
  if (!nhcb)
    return;
  size_t nl = strlen(name);
  static const char *const suf[] = {"_bucket", "_count", "_sum"};
  for (size_t k = 0; k < 3; k++)
    if (nl > strlen(suf[k]) && !strcmp(name + nl - strlen(suf[k]), suf[k]))
      note_hist_name(sc, lk_arena_strndup(a, name, nl - strlen(suf[k])));
}

static void append_block(script *sc, load_series *ls, size_t n, int64_t step)
{
  for (size_t i = 0; i < n; i++) {
    lk_sample *s = lk_xmalloc((ls[i].n ? ls[i].n : 1) * sizeof *s);
    size_t ns = 0;
    for (size_t k = 0; k < ls[i].n; k++)
      if (ls[i].ok[k])
        s[ns++] = (lk_sample){(int64_t)k * step, ls[i].v[k]};
    if (ptest_store_add(sc->st, ls[i].ls, ls[i].nls, s, ns))
      fprintf(stderr, "%s: load failed\n", sc->file);
    free(s);
    free(ls[i].v);
    free(ls[i].ok);
  }
}

static int cmd_load(script *sc, const char *args, size_t line, bool nhcb)
{
  int64_t step;
  lk_diag d = {0};
  if (lk_parse_duration(trim((char *)args), &step, &d)) {
    fprintf(stderr, "%s:%zu: bad load step: %s\n", sc->file, line, d.msg);
    return -1;
  }
  lk_arena *a = lk_arena_new(4096);
  load_series *blk = NULL;
  size_t nblk = 0, cap = 0;
  int rc = 0;
  for (; sc->i < sc->n && !blank(trim(sc->lines[sc->i])); sc->i++) {
    char *l = trim(sc->lines[sc->i]);
    lk_label *ls;
    size_t nls;
    const char *rest = parse_labels(l, a, &ls, &nls);
    if (rest && !strncmp(rest, "@st", 3))
      continue; /* start timestamps: not used */
    double *v;
    uint8_t *ok;
    size_t n;
    bool hist = false;
    if (!rest || parse_seq(rest, &v, &ok, &n, &hist)) {
      fprintf(stderr, "%s:%zu: bad load line\n", sc->file, sc->i + 1);
      rc = -1;
      continue;
    }
    const char *name = lk_labels_get(ls, nls, "__name__");
    if (name)
      note_names(sc, a, name, hist, nhcb);
    size_t j = 0;
    while (j < nblk && !lk_labels_equal(blk[j].ls, blk[j].nls, ls, nls))
      j++;
    if (j == nblk) {
      blk = lk_xgrow(blk, &cap, nblk + 1, sizeof *blk);
      blk[nblk++] = (load_series){ls, nls, NULL, NULL, 0};
    }
    merge_into(&blk[j], v, ok, n);
    free(v);
    free(ok);
  }
  append_block(sc, blk, nblk, step);
  free(blk);
  lk_arena_free(a);
  return rc;
}

/* Whether the expression or expectations involve native histograms. */
static bool is_native(script *sc, const char *expr, bool body_hist)
{
  if (body_hist || strstr(sc->file, "native_histograms"))
    return true;
  if (strstr(expr, "info("))
    return true;
  if (!sc->hist_names.len)
    return false;
  char *names = lk_xstrdup((const char *)sc->hist_names.data);
  bool found = false;
  for (char *tok = strtok(names, "\n"); tok && !found; tok = strtok(NULL, "\n")) {
    const char *p = expr;
    size_t tl = strlen(tok);
    while ((p = strstr(p, tok))) {
      bool start = p == expr || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == ':');
      bool end = !(isalnum((unsigned char)p[tl]) || p[tl] == '_' || p[tl] == ':');
      if (start && end) {
        found = true;
        break;
      }
      p += tl;
    }
  }
  free(names);
  return found;
}


/*---- Expectations and comparison ----*/

typedef struct expect {
  bool fail, ordered, is_scalar, is_string, range_vec;
  int warn, info;      /* +1 expected, -1 expected none, 0 unchecked */
  double scalar;
  char *string;
  int64_t rv_start, rv_end, rv_step;
  exp_series *s;
  size_t ns;
  bool hist;
} expect;

static bool is_stale(double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits == TSDB_STALE_NAN_BITS;
}

static bool float_eq(double a, double b)
{
  bool sa = is_stale(a), sb = is_stale(b);
  if (sa || sb)
    return sa && sb;
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  if (a == b)
    return true;
  if (isinf(a) || isinf(b))
    return false;
  return fabs(a - b) / (fabs(a) + fabs(b)) < 1e-6;
}

static void fmt_labels(lk_buf *b, const lk_label *ls, size_t n)
{
  lk_labels_format(b, ls, n);
  if (!n)
    lk_buf_puts(b, "{}");
}

static int parse_time(const char *s, int64_t *out)
{
  lk_diag d = {0};
  bool neg = *s == '-';
  if (lk_parse_duration(neg ? s + 1 : s, out, &d))
    return -1;
  if (neg)
    *out = -*out;
  return 0;
}

static char *next_tok(char **p)
{
  while (isspace((unsigned char)**p))
    (*p)++;
  char *s = *p;
  while (**p && !isspace((unsigned char)**p))
    (*p)++;
  if (**p)
    *(*p)++ = 0;
  return s;
}

static int parse_body_line(char *l, expect *ex, lk_arena *a)
{
  if (!strncmp(l, "expected_fail_", 14))
    return 0;
  if (!strncmp(l, "expect ", 7)) {
    char *p = l + 7;
    char *kind = next_tok(&p);
    if (!strcmp(kind, "fail"))
      ex->fail = true;
    else if (!strcmp(kind, "ordered"))
      ex->ordered = true;
    else if (!strcmp(kind, "string")) {
      ex->is_string = true;
      while (isspace((unsigned char)*p))
        p++;
      char q = *p;
      char *e = strrchr(p + 1, q);
      ex->string = lk_arena_strndup(a, p + 1, e ? (size_t)(e - p - 1) : strlen(p + 1));
    } else if (!strcmp(kind, "range")) {
      next_tok(&p); /* vector */
      next_tok(&p); /* from */
      char *s = next_tok(&p);
      next_tok(&p); /* to */
      char *e = next_tok(&p);
      next_tok(&p); /* step */
      char *st = next_tok(&p);
      ex->range_vec = true;
      if (parse_time(s, &ex->rv_start) || parse_time(e, &ex->rv_end) || parse_time(st, &ex->rv_step))
        return -1;
    }
    if (!strcmp(kind, "warn") || !strcmp(kind, "no_warn"))
      ex->warn = kind[0] == 'n' ? -1 : 1;
    else if (!strcmp(kind, "info") || !strcmp(kind, "no_info"))
      ex->info = kind[0] == 'n' ? -1 : 1;
    return 0; /* message texts are not compared */
  }
  char *end;
  double v = strtod(l, &end);
  if (end != l && !*trim(end)) {
    ex->is_scalar = true;
    ex->scalar = v;
    return 0;
  }
  lk_label *ls;
  size_t nls;
  const char *rest = parse_labels(l, a, &ls, &nls);
  if (!rest)
    return -1;
  double *vals;
  uint8_t *ok;
  size_t n;
  if (parse_seq(rest, &vals, &ok, &n, &ex->hist))
    return -1;
  exp_series *ns = lk_arena_alloc(a, (ex->ns + 1) * sizeof *ns);
  if (ex->ns)
    memcpy(ns, ex->s, ex->ns * sizeof *ns);
  ns[ex->ns] = (exp_series){ls, nls, lk_arena_alloc(a, (n ? n : 1) * sizeof(double)),
                            lk_arena_alloc(a, n ? n : 1), n};
  memcpy(ns[ex->ns].v, vals, n * sizeof *vals);
  memcpy(ns[ex->ns].ok, ok, n);
  free(vals);
  free(ok);
  ex->s = ns;
  ex->ns++;
  return 0;
}

static const promql_series *find_series(const promql_result *r, const exp_series *e, bool *used)
{
  for (size_t k = 0; k < r->nseries; k++)
    if (!used[k] && lk_labels_equal(r->series[k].labels, r->series[k].nlabels, e->ls, e->nls)) {
      used[k] = true;
      return &r->series[k];
    }
  return NULL;
}

static void describe_result(lk_buf *b, const promql_result *r)
{
  if (r->type == PROMQL_SCALAR) {
    lk_buf_printf(b, "scalar %g", r->scalar);
    return;
  }
  if (r->type == PROMQL_STRING) {
    lk_buf_printf(b, "string \"%s\"", r->string);
    return;
  }
  lk_buf_printf(b, "%s of %zu series", r->type == PROMQL_VECTOR ? "vector" : "matrix", r->nseries);
  for (size_t k = 0; k < r->nseries && k < 6; k++) {
    lk_buf_puts(b, k ? "; " : ": ");
    fmt_labels(b, r->series[k].labels, r->series[k].nlabels);
    for (size_t i = 0; i < r->series[k].n && i < 8; i++)
      lk_buf_printf(b, " %g@%lld", r->series[k].v[i], (long long)r->series[k].t[i]);
    if (r->series[k].n > 8)
      lk_buf_puts(b, " ...");
  }
}

/* Compare points of a matrix series against expected slots at start+k*step. */
static bool match_points(const promql_series *s, const exp_series *e, int64_t start, int64_t step,
                         size_t nslots, lk_buf *why)
{
  size_t j = 0;
  for (size_t k = 0; k < nslots; k++) {
    int64_t t = start + (int64_t)k * step;
    bool want = k < e->n && e->ok[k];
    bool have = j < s->n && s->t[j] == t;
    if (want != have || (want && !float_eq(s->v[j], e->v[k]))) {
      lk_buf_printf(why, "at t=%lld expected %s%g, got %s%g", (long long)t, want ? "" : "none ",
                    want ? e->v[k] : 0, have ? "" : "none ", have ? s->v[j] : 0);
      return false;
    }
    if (have)
      j++;
  }
  if (j != s->n) {
    lk_buf_printf(why, "unexpected point at t=%lld", (long long)s->t[j]);
    return false;
  }
  return true;
}

static bool compare(const expect *ex, const promql_result *r, bool range, int64_t start,
                    int64_t end, int64_t step, lk_buf *why)
{
  if (ex->is_string)
    return r->type == PROMQL_STRING && !strcmp(r->string, ex->string);
  if (ex->is_scalar) {
    if (r->type != PROMQL_SCALAR)
      return false;
    if (!float_eq(r->scalar, ex->scalar)) {
      lk_buf_printf(why, "expected scalar %g", ex->scalar);
      return false;
    }
    return true;
  }
  if (r->type == PROMQL_SCALAR || r->type == PROMQL_STRING)
    return false;
  if (r->nseries != ex->ns) {
    lk_buf_printf(why, "expected %zu series; ", ex->ns);
    return false;
  }
  bool *used = lk_xcalloc(r->nseries ? r->nseries : 1, 1);
  bool ok = true;
  for (size_t i = 0; ok && i < ex->ns; i++) {
    const exp_series *e = &ex->s[i];
    const promql_series *s = find_series(r, e, used);
    if (!s) {
      lk_buf_puts(why, "missing ");
      fmt_labels(why, e->ls, e->nls);
      lk_buf_puts(why, "; ");
      ok = false;
    } else if (ex->ordered && s != &r->series[i]) {
      lk_buf_puts(why, "wrong order; ");
      ok = false;
    } else if (range || ex->range_vec) {
      int64_t s0 = range ? start : ex->rv_start, s1 = range ? end : ex->rv_end;
      int64_t st = range ? step : ex->rv_step;
      if (r->type != PROMQL_MATRIX || !match_points(s, e, s0, st, (size_t)((s1 - s0) / st) + 1, why))
        ok = false;
    } else if (r->type != PROMQL_VECTOR || e->n != 1 || !e->ok[0] || !float_eq(s->v[0], e->v[0])) {
      fmt_labels(why, e->ls, e->nls);
      lk_buf_printf(why, " expected %g; ", e->n ? e->v[0] : 0);
      ok = false;
    }
  }
  free(used);
  return ok;
}

/* expect warn / no_warn / info / no_info: presence only, not the text. */
static bool annotations_ok(const expect *ex, const promql_result *r, lk_buf *why)
{
  if ((ex->warn > 0 && !r->nwarnings) || (ex->info > 0 && !r->ninfos)) {
    lk_buf_printf(why, "expected a%s annotation; ", ex->warn > 0 && !r->nwarnings ? " warning" : "n info");
    return false;
  }
  if ((ex->warn < 0 && r->nwarnings) || (ex->info < 0 && r->ninfos)) {
    lk_buf_printf(why, "unexpected annotation: %s; ", ex->warn < 0 && r->nwarnings ? r->warnings[0] : r->infos[0]);
    return false;
  }
  return true;
}

/* Upstream's range-mode cross-check: an instant eval is re-run as a range
 * query t−1m..t+1m step 1m and its point at t must equal the instant
 * result. Skipped where upstream skips it. Returns true when consistent. */
static bool cross_check_range(script *sc, const expect *ex, const promql_expr *pe,
                              const char *expr, int64_t t, const promql_result *ir, lk_buf *why)
{
  static const char *const skip[] = {"start()", "end()", "range()", "step()"};
  if (ex->ordered || ex->is_string || ex->range_vec || ir->type == PROMQL_MATRIX ||
      ir->type == PROMQL_STRING)
    return true;
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
    if (strstr(expr, skip[i]))
      return true;
  promql_result *rr = NULL;
  lk_diag d = {0};
  if (promql_eval_range(&sc->st->q, NULL, pe, t - 60000, t + 60000, 60000, &rr, &d)) {
    lk_buf_printf(why, "range-mode re-run failed: %s", d.msg);
    return false;
  }
  bool ok = true;
  size_t at_t = 0;
  for (size_t k = 0; k < rr->nseries; k++)
    for (size_t j = 0; j < rr->series[k].n; j++)
      at_t += rr->series[k].t[j] == t;
  if (ir->type == PROMQL_SCALAR) {
    ok = rr->nseries == 1 && at_t == 1;
    for (size_t j = 0; ok && j < rr->series[0].n; j++)
      if (rr->series[0].t[j] == t)
        ok = float_eq(rr->series[0].v[j], ir->scalar);
  } else {
    ok = at_t == ir->nseries;
    for (size_t k = 0; ok && k < ir->nseries; k++) {
      bool found = false;
      for (size_t m = 0; !found && m < rr->nseries; m++) {
        const promql_series *s = &rr->series[m];
        if (!lk_labels_equal(s->labels, s->nlabels, ir->series[k].labels, ir->series[k].nlabels))
          continue;
        for (size_t j = 0; j < s->n; j++)
          if (s->t[j] == t)
            found = float_eq(s->v[j], ir->series[k].v[0]);
      }
      ok = found;
    }
  }
  if (!ok) {
    lk_buf_puts(why, "range-mode re-run disagrees at t: ");
    describe_result(why, rr);
  }
  promql_result_free(rr);
  return ok;
}

/*---- eval ----*/

static int parse_eval_header(char *p, bool *range, int64_t *start, int64_t *end, int64_t *step,
                             char **expr)
{
  char *mode = next_tok(&p);
  if (!strcmp(mode, "instant")) {
    *range = false;
    if (strcmp(next_tok(&p), "at") || parse_time(next_tok(&p), start))
      return -1;
    *end = *start;
    *step = 1;
  } else if (!strcmp(mode, "range")) {
    *range = true;
    if (strcmp(next_tok(&p), "from") || parse_time(next_tok(&p), start) ||
        strcmp(next_tok(&p), "to") || parse_time(next_tok(&p), end) ||
        strcmp(next_tok(&p), "step") || parse_time(next_tok(&p), step))
      return -1;
  } else {
    return -1;
  }
  *expr = trim(p);
  return 0;
}

static void record(script *sc, bool native, bool pass)
{
  if (native)
    pass ? sc->c.native_pass++ : sc->c.native_fail++;
  else
    pass ? sc->c.pass++ : sc->c.fail++;
}

static void cmd_eval(script *sc, const char *kw, char *args, size_t line)
{
  lk_arena *a = lk_arena_new(4096);
  expect ex = {0};
  ex.fail = !strcmp(kw, "eval_fail");
  ex.ordered = !strcmp(kw, "eval_ordered");
  bool bad = false;
  for (; sc->i < sc->n && !blank(trim(sc->lines[sc->i])); sc->i++)
    if (parse_body_line(trim(sc->lines[sc->i]), &ex, a))
      bad = true;
  bool range;
  int64_t start, end, step;
  char *expr;
  if (bad || parse_eval_header(args, &range, &start, &end, &step, &expr)) {
    printf("%s:%zu: FAIL: cannot parse eval block\n", sc->file, line);
    sc->c.fail++;
    lk_arena_free(a);
    return;
  }
  bool native = is_native(sc, expr, ex.hist);
  lk_diag d = {0};
  promql_expr *pe = NULL;
  promql_result *r = NULL;
  int rc = promql_parse(expr, &pe, &d);
  if (!rc)
    rc = range ? promql_eval_range(&sc->st->q, NULL, pe, start, end, step, &r, &d)
               : promql_eval_instant(&sc->st->q, NULL, pe, start, &r, &d);
  lk_buf why = {0};
  bool pass;
  if (ex.fail) {
    pass = rc != 0;
    if (!pass)
      lk_buf_puts(&why, "expected failure, got success");
  } else if (rc) {
    pass = false;
    lk_buf_printf(&why, "error: %s", d.msg);
  } else {
    pass = compare(&ex, r, range, start, end, step, &why);
    if (pass && sc->annotations && !annotations_ok(&ex, r, &why))
      pass = false;
    if (pass && sc->cross_check && !range && !cross_check_range(sc, &ex, pe, expr, start, r, &why))
      pass = false;
    if (!pass) {
      lk_buf_puts(&why, " got ");
      describe_result(&why, r);
    }
  }
  record(sc, native, pass);
  if (!pass && (!native || sc->verbose))
    printf("%s:%zu: FAIL%s: %s — %s\n", sc->file, line, native ? " (native)" : "", expr,
           why.data ? (const char *)why.data : "");
  lk_buf_fini(&why);
  promql_result_free(r);
  promql_expr_free(pe);
  lk_arena_free(a);
}

/*---- Files ----*/

static int read_lines(const char *path, char ***out, size_t *n)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0, lcap = 0;
  *out = NULL;
  *n = 0;
  while (getline(&line, &lcap, f) >= 0) {
    *out = lk_xgrow(*out, &cap, *n + 1, sizeof **out);
    (*out)[(*n)++] = lk_xstrdup(line);
  }
  free(line);
  fclose(f);
  return 0;
}

static void run_file(script *sc, bool use_mem)
{
  ptest_store st = {.use_mem = use_mem};
  if (store_open(&st)) {
    printf("%s: FAIL: cannot open storage\n", sc->file);
    sc->c.fail++;
    return;
  }
  sc->st = &st;
  while (sc->i < sc->n) {
    size_t line = sc->i + 1;
    char *l = trim(sc->lines[sc->i++]);
    if (blank(l))
      continue;
    char *p = l;
    char *kw = next_tok(&p);
    if (!strcmp(kw, "load") || !strcmp(kw, "load_with_nhcb")) {
      cmd_load(sc, p, line, !strcmp(kw, "load_with_nhcb"));
    } else if (!strcmp(kw, "clear")) {
      store_close(&st);
      lk_buf_clear(&sc->hist_names);
      if (store_open(&st)) {
        printf("%s:%zu: FAIL: cannot reopen storage\n", sc->file, line);
        sc->c.fail++;
        return;
      }
    } else if (!strncmp(kw, "eval", 4)) {
      cmd_eval(sc, kw, p, line);
    } else {
      printf("%s:%zu: FAIL: unknown command %s\n", sc->file, line, kw);
      sc->c.fail++;
      while (sc->i < sc->n && !blank(trim(sc->lines[sc->i])))
        sc->i++;
    }
  }
  store_close(&st);
}

int main(int argc, char **argv)
{
  counts total = {0};
  bool verbose = false, use_mem = false, annotations = false, cross_check = false;
  int files = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--store=mem") || !strcmp(argv[i], "--store=tsdb") ||
        !strcmp(argv[i], "--annotations") || !strcmp(argv[i], "--cross-check")) {
      verbose |= !strcmp(argv[i], "-v");
      annotations |= !strcmp(argv[i], "--annotations");
      cross_check |= !strcmp(argv[i], "--cross-check");
      use_mem = !strcmp(argv[i], "--store=mem") || (use_mem && strcmp(argv[i], "--store=tsdb"));
      continue;
    }
    script sc = {.file = argv[i], .verbose = verbose, .annotations = annotations,
                 .cross_check = cross_check};
    if (read_lines(argv[i], &sc.lines, &sc.n)) {
      fprintf(stderr, "promqltest: cannot read %s\n", argv[i]);
      return 2;
    }
    run_file(&sc, use_mem);
    printf("%s: float %u passed, %u failed; native %u passed, %u failed\n", sc.file, sc.c.pass,
           sc.c.fail, sc.c.native_pass, sc.c.native_fail);
    total.pass += sc.c.pass;
    total.fail += sc.c.fail;
    total.native_pass += sc.c.native_pass;
    total.native_fail += sc.c.native_fail;
    for (size_t k = 0; k < sc.n; k++)
      free(sc.lines[k]);
    free(sc.lines);
    lk_buf_fini(&sc.hist_names);
    files++;
  }
  if (!files) {
    fprintf(stderr, "usage: promqltest [-v] [--store=tsdb|mem] [--annotations] [--cross-check] FILE.test ...\n");
    return 2;
  }
  printf("float evals: %u passed, %u failed; native-histogram evals: %u passed, %u failed\n",
         total.pass, total.fail, total.native_pass, total.native_fail);
  printf("%u passed, %u failed\n", total.pass + total.native_pass, total.fail + total.native_fail);
  return total.fail + total.native_fail ? 1 : 0;
}
