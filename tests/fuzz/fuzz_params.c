/* fuzz_params.c — libFuzzer target for the HTTP API's query parameters:
 * durations, steps, times and sizes (lib/lk_time, lib/lk_config), the
 * `{name op "value", ...}` matcher list in both dialects (lib/lk_selector),
 * the match[] series selector (web/selector.c) and the Kubernetes
 * labelSelector (orchestrator/hpa_selector.c). The input is one
 * parameter value and goes to every parser. A time that parses must format
 * and parse back to itself; every matcher a selector yields must lie inside
 * the input. Seeds: tests/fuzz/corpus_params.
 */
#include "lib/lk_config.h"
#include "lib/lk_selector.h"
#include "lib/lk_time.h"
#include "orchestrator/orchestrator.h"
#include "tests/fuzz/harness.h"
#include "web/selector.h"

static void check_time(const char *s)
{
  int64_t ms;
  lk_diag d = {0};
  if (lk_parse_time(s, &ms, &d))
    return;
  char buf[64];
  lk_fmt_rfc3339(buf, ms);
  int64_t back;
  /* Years past 9999 do not format as RFC 3339; everything else must come back. */
  if (ms >= -62135596800000LL && ms < 253402300800000LL && (lk_parse_time(buf, &back, &d) || back != ms))
    abort();
}

static int count_matcher(void *ctx, const lk_sel_matcher *m)
{
  if (!m->name || !m->value)
    abort();
  ++*(size_t *)ctx;
  return 0;
}

static void check_braces(enum lk_sel_dialect dl, const char *s)
{
  lk_arena *a = lk_arena_new(1024);
  const char *p = lk_sel_skip_ws(dl, s);
  size_t n = 0;
  lk_sel_err e = {0};
  if (*p == '{' && lk_sel_braces(dl, &p, 64, a, count_matcher, &n, &e) &&
      (!e.at || e.at < s || e.at > s + strlen(s)))
    abort();
  lk_arena_free(a);
}

static void check_selector(const char *s)
{
  lk_arena *a = lk_arena_new(1024);
  tsdb_matcher *m = NULL;
  size_t n = 0;
  lk_diag d = {0};
  (void)web__selector_parse(s, a, &m, &n, &d);
  lk_arena_free(a);
}

static void check_label_selector(const char *s)
{
  orch_selector *sel = NULL;
  lk_diag d = {0};
  if (orch_selector_parse(s, &sel, &d))
    return;
  static const lk_label ls[] = {{"app", "web"}, {"tier", "front"}};
  (void)orch_selector_matches(sel, ls, 2);
  orch_selector_free(sel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = fuzz_cstr(data, size);
  int64_t ms;
  uint64_t bytes;
  lk_diag d = {0};
  (void)lk_parse_duration(s, &ms, &d);
  (void)lk_parse_step(s, &ms, &d);
  (void)lk_parse_size(s, &bytes, &d);
  check_time(s);
  check_braces(LK_SEL_PROMQL, s);
  check_braces(LK_SEL_LOGQL, s);
  check_selector(s);
  check_label_selector(s);
  free(s);
  return 0;
}
