/* promqltest.h — shared pieces of the PromQL conformance runner: the
 * script's value/label syntax and an eval block's expectations, parsed and
 * checked the way Prometheus's promql/promqltest harness checks them.
 * promqltest.c drives storage and evaluation; promqltest_expect.c parses
 * and compares.
 */
#ifndef PROMQLTEST_H
#define PROMQLTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lk_alloc.h"
#include "lib/lk_buf.h"
#include "lib/lk_regex.h"
#include "promql/promql.h"

/* Slot states of a parsed value sequence (promql_parse_series_values). */
enum { SLOT_EMPTY = PROMQL_SLOT_EMPTY, SLOT_FLOAT = PROMQL_SLOT_FLOAT, SLOT_HIST = PROMQL_SLOT_HIST };
/* A duration, optionally negative, in ms. */
int ptest_parse_time(const char *s, int64_t *out);
char *ptest_trim(char *s);
char *ptest_next_tok(char **p);
bool ptest_float_eq(double a, double b);
void ptest_describe_result(lk_buf *b, const promql_result *r);

/* A text check: exact text, an unanchored regex, or (neither) anything. */
typedef struct ptest_match {
  const char *exact;
  lk_regex *re;          /* unanchored, as upstream matches; NULL = none */
} ptest_match;

typedef struct exp_series {
  lk_label *ls;
  size_t nls;
  double *v;       /* per slot */
  uint8_t *ok;     /* per slot: SLOT_* */
  size_t n;
} exp_series;

#define PTEST_MAX_ANNOS 16

/* Everything an eval block expects. Parsed strings live in the arena. */
typedef struct expect {
  bool fail, ordered, is_scalar, is_string, range_vec;
  ptest_match fail_msg;          /* with fail: expect fail msg:/regex:, expected_fail_* */
  bool has_fail_msg;
  bool warn_any, info_any;       /* eval_warn / eval_info: at least one */
  ptest_match warn[PTEST_MAX_ANNOS], info[PTEST_MAX_ANNOS];
  size_t nwarn, ninfo;
  bool no_warn, no_info;
  double scalar;
  char *string;
  int64_t rv_start, rv_end, rv_step;
  exp_series *s;
  size_t ns;
  bool hist;                     /* a histogram literal in the expected values */
} expect;

/* One line of an eval block into ex. Returns 0, or -1 with a reason in why. */
int ptest_parse_body_line(char *l, expect *ex, lk_arena *a, lk_buf *why);
void ptest_expect_fini(expect *ex);
/* The result against the expected values (ordering, sortedness included). */
bool ptest_compare(const expect *ex, const promql_result *r, bool range, int64_t start,
                   int64_t end, int64_t step, lk_buf *why);
/* Upstream insists that a matrix is sorted by label set. */
bool ptest_matrix_sorted(const promql_result *r, lk_buf *why);
/* expect warn/info/no_warn/no_info and eval_warn/eval_info. */
bool ptest_annotations_ok(const expect *ex, const promql_result *r, lk_buf *why);
/* For an expected failure: the error text against msg:/regex:. */
bool ptest_fail_msg_ok(const expect *ex, const char *err, lk_buf *why);

#endif
