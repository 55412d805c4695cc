/* promqltest.c — the PromQL conformance runner (build/promqltest).
 *
 * Runs Prometheus's engine test scripts (format: ../shared/peers/promql/
 * FORMAT.md) against Lookout's engine over the real tsdb: every file starts
 * from an empty database in a temporary directory, `load` appends, `clear`
 * closes, deletes and reopens. Each eval is checked as Prometheus's own
 * harness checks it by default (promqltest_expect.c): values, annotations
 * named by expect lines, error texts, ordering, every instant eval re-run
 * as a range query around t, and re-run with `@ t` pinned on its selectors
 * at other evaluation times (promql_expr_pin_at).
 *
 * Lookout stores no native histograms. Histogram samples of a `load` (and
 * the series load_with_nhcb would convert) go into a shadow store instead;
 * an eval whose selectors touch that shadow data (or, when the engine cannot
 * parse it, that names a metric with such data), or whose expected values
 * hold a histogram, is counted "not run (native histograms)", never passed.
 *
 * Output: `file:line: FAIL: …` per failing eval (`NOT RUN` lines with -v),
 * a summary per file, then `float evals: N passed, N failed; native-histogram
 * evals: N not run`. Exit 1 when any eval failed.
 *
 * usage: promqltest [-v] [--store=tsdb|mem] FILE.test ...
 */
#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_time.h"
#include "promql/promql.h"
#include "tests/promql/promqltest.h"

/*---- Storage: a fresh store per file, reset by `clear` ----*/

typedef struct ptest_store {
  bool use_mem;          /* --store=mem: the in-memory queryable instead of tsdb */
  promql_mem *mem;
  tsdb *db;
  char dir[64];
  promql_queryable data; /* mem or tsdb */
  promql_mem *hist;      /* shadow: series carrying native-histogram samples */
  bool touched_hist;     /* an evaluation selected shadow data */
  promql_queryable q;    /* data, noting selections that touch the shadow */
} ptest_store;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

/* The select of st->q: the real selection, plus a look at the shadow store
 * with the same matchers and time range. */
static int probe_select(void *ctx, const tsdb_matcher *m, size_t nm, int64_t mint, int64_t maxt,
                        uint64_t max_series, uint64_t max_samples, void **out_set, lk_diag *d)
{
  ptest_store *st = ctx;
  promql_queryable h = promql_mem_queryable(st->hist);
  void *set = NULL;
  lk_diag hd = {0};
  if (!h.select(h.ctx, m, nm, mint, maxt, 0, 0, &set, &hd)) {
    for (size_t i = 0; i < h.count(set); i++)
      st->touched_hist |= h.get(set, i)->n > 0;
    h.release(set);
  }
  return st->data.select(st->data.ctx, m, nm, mint, maxt, max_series, max_samples, out_set, d);
}

static int store_open(ptest_store *st)
{
  st->hist = promql_mem_new();
  if (st->use_mem) {
    st->mem = promql_mem_new();
    st->data = promql_mem_queryable(st->mem);
  } else {
    snprintf(st->dir, sizeof st->dir, "/tmp/promqltest-XXXXXX");
    if (!mkdtemp(st->dir))
      return -1;
    tsdb_opts o = {.dir = st->dir, .ooo_window_ms = INT64_MAX / 4, .fsync = TSDB_FSYNC_NEVER};
    lk_diag d = {0};
    if (tsdb_open(&o, &st->db, &d)) {
      fprintf(stderr, "promqltest: tsdb_open %s: %s\n", st->dir, d.msg);
      return -1;
    }
    st->data = promql_queryable_tsdb(st->db);
  }
  st->q = st->data;
  st->q.ctx = st;
  st->q.select = probe_select;
  st->q.rollups = NULL; /* every selection goes through the probe */
  return 0;
}

static void store_close(ptest_store *st)
{
  promql_mem_free(st->mem);
  promql_mem_free(st->hist);
  st->mem = st->hist = NULL;
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
  unsigned pass, fail, native;
} counts;

typedef struct script {
  const char *file;
  char **lines;
  size_t n;
  size_t i;            /* next line */
  ptest_store *st;
  bool verbose;
  counts c;
} script;

static bool blank(const char *s) { return !*s || *s == '#'; }

/*---- load ----*/

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
    memset(dst->ok + dst->n, SLOT_EMPTY, n - dst->n);
    dst->n = n;
  }
  for (size_t k = 0; k < n; k++)
    if (ok[k] != SLOT_EMPTY) {
      dst->v[k] = v[k];
      dst->ok[k] = ok[k];
    }
}

/* The native histogram load_with_nhcb makes of a classic histogram series
 * (`x_bucket{le=…}`, `x_count`, `x_sum` → `x` without `le`), or 0. */
static size_t nhcb_labels(const load_series *s, lk_arena *a, lk_label *out)
{
  static const char *const suf[] = {"_bucket", "_count", "_sum"};
  const char *name = lk_labels_get(s->ls, s->nls, "__name__");
  size_t nl = name ? strlen(name) : 0, n = 0;
  const char *base = NULL;
  for (size_t k = 0; k < 3 && !base; k++)
    if (nl > strlen(suf[k]) && !strcmp(name + nl - strlen(suf[k]), suf[k]))
      base = lk_arena_strndup(a, name, nl - strlen(suf[k]));
  if (!base)
    return 0;
  for (size_t i = 0; i < s->nls; i++)
    if (strcmp(s->ls[i].name, "le"))
      out[n++] = strcmp(s->ls[i].name, "__name__") ? s->ls[i] : (lk_label){"__name__", base};
  return n;
}

/* Float slots go to storage; histogram slots (and, with nhcb, the classic
 * histogram's samples) to the shadow store, at the same times. */
static void append_series(script *sc, const load_series *s, int64_t step, bool nhcb, lk_arena *a)
{
  lk_sample *fl = lk_xmalloc((s->n ? s->n : 1) * sizeof *fl);
  lk_sample *hi = lk_xmalloc((s->n ? s->n : 1) * sizeof *hi);
  size_t nf = 0, nh = 0;
  for (size_t k = 0; k < s->n; k++) {
    if (s->ok[k] == SLOT_FLOAT)
      fl[nf++] = (lk_sample){(int64_t)k * step, s->v[k]};
    if (s->ok[k] == SLOT_HIST)
      hi[nh++] = (lk_sample){(int64_t)k * step, 0};
  }
  lk_diag d = {0};
  if (ptest_store_add(sc->st, s->ls, s->nls, fl, nf))
    fprintf(stderr, "%s: load failed\n", sc->file);
  if (nh && promql_mem_add(sc->st->hist, s->ls, s->nls, hi, nh, &d))
    fprintf(stderr, "%s: shadow load failed: %s\n", sc->file, d.msg);
  lk_label *base = lk_arena_alloc(a, (s->nls ? s->nls : 1) * sizeof *base);
  size_t nb = nhcb ? nhcb_labels(s, a, base) : 0;
  if (nb && nf && promql_mem_add(sc->st->hist, base, nb, fl, nf, &d))
    fprintf(stderr, "%s: shadow load failed: %s\n", sc->file, d.msg);
  free(fl);
  free(hi);
}

static int cmd_load(script *sc, const char *args, size_t line, bool nhcb)
{
  int64_t step;
  lk_diag d = {0};
  if (lk_parse_duration(ptest_trim((char *)args), &step, &d)) {
    fprintf(stderr, "%s:%zu: bad load step: %s\n", sc->file, line, d.msg);
    return -1;
  }
  lk_arena *a = lk_arena_new(4096);
  load_series *blk = NULL;
  size_t nblk = 0, cap = 0;
  int rc = 0;
  for (; sc->i < sc->n && !blank(ptest_trim(sc->lines[sc->i])); sc->i++) {
    char *l = ptest_trim(sc->lines[sc->i]);
    lk_label *ls;
    size_t nls;
    const char *rest = promql_parse_series_labels(l, a, &ls, &nls);
    if (rest && !strncmp(rest, "@st", 3))
      continue; /* start timestamps: not used */
    double *v;
    uint8_t *ok;
    size_t n;
    bool hist = false;
    if (!rest || promql_parse_series_values(rest, &v, &ok, &n, &hist, NULL)) {
      fprintf(stderr, "%s:%zu: bad load line\n", sc->file, sc->i + 1);
      rc = -1;
      continue;
    }
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
  for (size_t i = 0; i < nblk; i++) {
    append_series(sc, &blk[i], step, nhcb, a);
    free(blk[i].v);
    free(blk[i].ok);
  }
  free(blk);
  lk_arena_free(a);
  return rc;
}

/*---- eval ----*/

typedef struct eval_cmd {
  const char *expr;
  bool range;
  int64_t start, end, step;
  expect ex;
} eval_cmd;

static int parse_eval_header(char *p, eval_cmd *ev)
{
  char *mode = ptest_next_tok(&p);
  if (!strcmp(mode, "instant")) {
    ev->range = false;
    if (strcmp(ptest_next_tok(&p), "at") || ptest_parse_time(ptest_next_tok(&p), &ev->start))
      return -1;
    ev->end = ev->start;
    ev->step = 1;
  } else if (!strcmp(mode, "range")) {
    ev->range = true;
    if (strcmp(ptest_next_tok(&p), "from") || ptest_parse_time(ptest_next_tok(&p), &ev->start) ||
        strcmp(ptest_next_tok(&p), "to") || ptest_parse_time(ptest_next_tok(&p), &ev->end) ||
        strcmp(ptest_next_tok(&p), "step") || ptest_parse_time(ptest_next_tok(&p), &ev->step) ||
        ev->step <= 0 || ev->end < ev->start)
      return -1;
  } else {
    return -1;
  }
  ev->expr = ptest_trim(p);
  return 0;
}

/* Upstream skips the range-mode re-run for these. */
static bool uses_query_context(const char *expr)
{
  static const char *const fn[] = {"start()", "end()", "range()", "step()"};
  for (size_t i = 0; i < sizeof fn / sizeof fn[0]; i++)
    if (strstr(expr, fn[i]))
      return true;
  return false;
}

/* Upstream's range-mode cross-check: an instant eval is re-run as a range
 * query t−1m..t+1m step 1m; the result must be sorted by labels and its
 * points at t must meet the same expectations. */
static bool cross_check_range(script *sc, const eval_cmd *ev, const promql_expr *pe, int64_t t,
                              const promql_result *ir, lk_buf *why)
{
  const expect *ex = &ev->ex;
  if (ex->range_vec || ex->is_string || uses_query_context(ev->expr))
    return true;
  promql_result *rr = NULL;
  lk_diag d = {0};
  if (promql_eval_range(&sc->st->q, NULL, pe, t - 60000, t + 60000, 60000, &rr, &d)) {
    lk_buf_printf(why, "range-mode re-run failed: %s", d.msg);
    return false;
  }
  bool ok = true;
  if (!ex->ordered) {
    promql_series *at = lk_xcalloc(rr->nseries ? rr->nseries : 1, sizeof *at);
    promql_result vec = {.type = PROMQL_VECTOR, .t = t, .series = at};
    for (size_t k = 0; k < rr->nseries; k++)
      for (size_t j = 0; j < rr->series[k].n; j++)
        if (rr->series[k].t[j] == t)
          at[vec.nseries++] = (promql_series){rr->series[k].labels, rr->series[k].nlabels,
                                              &rr->series[k].t[j], &rr->series[k].v[j], 1};
    if (ir->type == PROMQL_SCALAR) {
      vec.type = PROMQL_SCALAR;
      vec.scalar = vec.nseries ? at[0].v[0] : 0;
      ok = vec.nseries == 1;
    }
    ok = ok && ptest_matrix_sorted(rr, why);
    ok = ok && ptest_compare(ex, &vec, false, t, t, 1, why);
    free(at);
  }
  if (!ok) {
    lk_buf_puts(why, " range-mode re-run: ");
    ptest_describe_result(why, rr);
  }
  promql_result_free(rr);
  return ok;
}

/* One query (at t, for an instant eval) with upstream's checks: an error
 * against `expect fail`, else annotations, values, the range-mode re-run. */
static bool check_query(script *sc, const eval_cmd *ev, const promql_expr *pe, int64_t t,
                        lk_buf *why)
{
  const expect *ex = &ev->ex;
  lk_diag d = {0};
  promql_result *r = NULL;
  int rc = ev->range ? promql_eval_range(&sc->st->q, NULL, pe, ev->start, ev->end, ev->step, &r, &d)
                     : promql_eval_instant(&sc->st->q, NULL, pe, t, &r, &d);
  bool pass;
  if (rc) {
    pass = ex->fail && ptest_fail_msg_ok(ex, d.msg, why);
    if (!ex->fail)
      lk_buf_printf(why, "error: %s", d.msg);
  } else if (ex->fail) {
    pass = false;
    lk_buf_puts(why, "expected an error, got none");
  } else {
    pass = ptest_annotations_ok(ex, r, why) &&
           ptest_compare(ex, r, ev->range, ev->start, ev->end, ev->step, why);
    if (!pass) {
      lk_buf_puts(why, " got ");
      ptest_describe_result(why, r);
    } else if (!ev->range) {
      pass = cross_check_range(sc, ev, pe, t, r, why);
    }
  }
  promql_result_free(r);
  return pass;
}

/* Upstream's @-invariance check: the query with `@ t` on its selectors and
 * subqueries, evaluated at -10t, 0, t/5, t and 10t (-1s, 0, 1s when t = 0),
 * must meet the same expectations. */
static bool check_pinned(script *sc, const eval_cmd *ev, const promql_expr *pe, lk_buf *why)
{
  int64_t t = ev->start;
  promql_expr *pinned = NULL;
  lk_diag d = {0};
  if (promql_expr_pin_at(pe, t, &pinned, &d)) {
    lk_buf_printf(why, "pinning @ %lld failed: %s", (long long)t, d.msg);
    return false;
  }
  if (!pinned)
    return true; /* calls a function that follows the evaluation time */
  int64_t at[5] = {-10 * t, 0, t / 5, t, 10 * t}, at0[3] = {-1000, 0, 1000};
  const int64_t *times = t ? at : at0;
  size_t n = t ? 5 : 3;
  bool pass = true;
  for (size_t i = 0; pass && i < n; i++) {
    size_t mark = why->len;
    lk_buf_printf(why, "with @ %lld on every selector, evaluated at %lld: ", (long long)t,
                  (long long)times[i]);
    pass = check_query(sc, ev, pinned, times[i], why);
    if (pass && why->data) {
      why->len = mark;
      why->data[mark] = 0;
    }
  }
  promql_expr_free(pinned);
  return pass;
}

/* For a query the engine cannot parse: whether a name in it is a metric
 * carrying native-histogram data (e.g. the trim operators `</` `>/`, which
 * exist for histograms only). */
static void note_hist_names(ptest_store *st, const char *expr)
{
  promql_queryable h = promql_mem_queryable(st->hist);
  for (const char *p = expr; *p;) {
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
      n++;
    if (!n) {
      p++;
      continue;
    }
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)n, p);
    tsdb_matcher m = {TSDB_EQ, "__name__", name};
    void *set = NULL;
    lk_diag d = {0};
    if (!h.select(h.ctx, &m, 1, INT64_MIN / 2, INT64_MAX / 2, 0, 0, &set, &d)) {
      st->touched_hist |= h.count(set) > 0;
      h.release(set);
    }
    p += n;
  }
}

static bool run_eval(script *sc, const eval_cmd *ev, lk_buf *why)
{
  const expect *ex = &ev->ex;
  lk_diag d = {0};
  promql_expr *pe = NULL;
  if (promql_parse(ev->expr, &pe, &d)) {
    note_hist_names(sc->st, ev->expr);
    if (!ex->fail)
      lk_buf_printf(why, "error: %s", d.msg);
    return ex->fail && ptest_fail_msg_ok(ex, d.msg, why);
  }
  bool pass = check_query(sc, ev, pe, ev->start, why);
  if (pass && !ev->range)
    pass = check_pinned(sc, ev, pe, why);
  promql_expr_free(pe);
  return pass;
}

static void cmd_eval(script *sc, const char *kw, char *args, size_t line)
{
  lk_arena *a = lk_arena_new(4096);
  eval_cmd ev = {0};
  expect *ex = &ev.ex;
  ex->fail = !strcmp(kw, "eval_fail");
  ex->ordered = !strcmp(kw, "eval_ordered");
  ex->warn_any = !strcmp(kw, "eval_warn");
  ex->info_any = !strcmp(kw, "eval_info");
  lk_buf why = {0};
  bool bad = strcmp(kw, "eval") && !ex->fail && !ex->ordered && !ex->warn_any && !ex->info_any;
  for (; sc->i < sc->n && !blank(ptest_trim(sc->lines[sc->i])); sc->i++)
    if (!bad && ptest_parse_body_line(ptest_trim(sc->lines[sc->i]), ex, a, &why))
      bad = true;
  if (bad || parse_eval_header(args, &ev)) {
    printf("%s:%zu: FAIL: cannot parse eval block: %s\n", sc->file, line,
           why.len ? (const char *)why.data : "bad eval line");
    sc->c.fail++;
  } else {
    if (ex->range_vec && !ev.range)
      ev.start = ev.end = ex->rv_end; /* upstream evaluates at the range's end */
    sc->st->touched_hist = false;
    bool pass = run_eval(sc, &ev, &why);
    if (ex->hist || sc->st->touched_hist) {
      sc->c.native++;
      if (sc->verbose)
        printf("%s:%zu: NOT RUN (native histograms): %s\n", sc->file, line, ev.expr);
    } else if (pass) {
      sc->c.pass++;
    } else {
      sc->c.fail++;
      printf("%s:%zu: FAIL: %s — %s\n", sc->file, line, ev.expr, why.data ? (const char *)why.data : "");
    }
  }
  ptest_expect_fini(ex);
  lk_buf_fini(&why);
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
    store_close(&st);
    return;
  }
  sc->st = &st;
  while (sc->i < sc->n) {
    size_t line = sc->i + 1;
    char *l = ptest_trim(sc->lines[sc->i++]);
    if (blank(l))
      continue;
    char *p = l;
    char *kw = ptest_next_tok(&p);
    if (!strcmp(kw, "load") || !strcmp(kw, "load_with_nhcb")) {
      cmd_load(sc, p, line, !strcmp(kw, "load_with_nhcb"));
    } else if (!strcmp(kw, "clear")) {
      store_close(&st);
      if (store_open(&st)) {
        printf("%s:%zu: FAIL: cannot reopen storage\n", sc->file, line);
        sc->c.fail++;
        store_close(&st);
        return;
      }
    } else if (!strncmp(kw, "eval", 4)) {
      cmd_eval(sc, kw, p, line);
    } else {
      printf("%s:%zu: FAIL: unknown command %s\n", sc->file, line, kw);
      sc->c.fail++;
      while (sc->i < sc->n && !blank(ptest_trim(sc->lines[sc->i])))
        sc->i++;
    }
  }
  store_close(&st);
}

int main(int argc, char **argv)
{
  counts total = {0};
  bool verbose = false, use_mem = false;
  int files = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--store=mem") || !strcmp(argv[i], "--store=tsdb")) {
      verbose |= !strcmp(argv[i], "-v");
      use_mem = !strcmp(argv[i], "--store=mem") || (use_mem && strcmp(argv[i], "--store=tsdb"));
      continue;
    }
    script sc = {.file = argv[i], .verbose = verbose};
    if (read_lines(argv[i], &sc.lines, &sc.n)) {
      fprintf(stderr, "promqltest: cannot read %s\n", argv[i]);
      return 2;
    }
    run_file(&sc, use_mem);
    printf("%s: float %u passed, %u failed; native-histogram %u not run\n", sc.file, sc.c.pass,
           sc.c.fail, sc.c.native);
    total.pass += sc.c.pass;
    total.fail += sc.c.fail;
    total.native += sc.c.native;
    for (size_t k = 0; k < sc.n; k++)
      free(sc.lines[k]);
    free(sc.lines);
    files++;
  }
  if (!files) {
    fprintf(stderr, "usage: promqltest [-v] [--store=tsdb|mem] FILE.test ...\n");
    return 2;
  }
  printf("float evals: %u passed, %u failed; native-histogram evals: %u not run\n", total.pass,
         total.fail, total.native);
  return total.fail ? 1 : 0;
}
