/* test_template.c — the alerting template subset: a table of templates run
 * against one alert's data (and a fake query engine) with the exact outputs
 * Prometheus gives, and a table of templates outside the subset that must be
 * refused at parse time with the offset of the offending construct.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerting/alerting.h"

static const lk_label alert_labels[] = {
  {"alertname", "HighLatency"}, {"instance", "web-1:9090"}, {"job", "api"}, {"severity", "page"},
};
static const lk_label ext_labels[] = {{"cluster", "eu-west"}};
static const lk_label up1[] = {{"__name__", "up"}, {"instance", "a:1"}};
static const lk_label up2[] = {{"__name__", "up"}, {"instance", "b:2"}};

/* Fake engine: "up" has two samples, "empty" none, "fail" fails; every
 * other expression is refused so a misrouted query cannot pass silently. */
static int fake_query(void *ctx, const char *expr, alerting_sample **res, size_t *n, lk_diag *d)
{
  (void)ctx;
  *res = NULL;
  *n = 0;
  if (!strcmp(expr, "empty"))
    return 0;
  if (strcmp(expr, "up"))
    return lk_diag_set(d, LK_EEXEC, -1, "fake engine: unexpected query %s", expr);
  *res = calloc(2, sizeof **res);
  (*res)[0] = (alerting_sample){up1, 2, 1};
  (*res)[1] = (alerting_sample){up2, 2, 0.25};
  *n = 2;
  return 0;
}

static alerting_template_data data_with(double value)
{
  return (alerting_template_data){
    .labels = alert_labels, .nlabels = 4, .value = value,
    .external_url = "http://lookout:9090", .external_labels = ext_labels, .nexternal_labels = 1,
    .query = fake_query,
  };
}

typedef struct row {
  const char *tmpl;
  double value;
  const char *want;
} row;

static const row rows[] = {
  /* data access */
  {"plain text", 1, "plain text"},
  {"{{ $labels.instance }} is down", 1, "web-1:9090 is down"},
  {"{{ $labels.missing }}|", 1, "|"},
  {"{{ .Labels.job }}/{{ .Value }}", 2.5, "api/2.5"},
  {"{{ $externalURL }}/alerts", 1, "http://lookout:9090/alerts"},
  {"{{ $externalLabels.cluster }}", 1, "eu-west"},
  {"{{ .ExternalURL }} {{ .ExternalLabels.cluster }}", 1, "http://lookout:9090 eu-west"},
  {"{{ $.Labels.severity }}", 1, "page"},
  /* $value as Go prints a float64 */
  {"{{ $value }}", 1234567, "1.234567e+06"},
  {"{{ $value }}", 123456, "123456"},
  {"{{ $value }}", 0.0001, "0.0001"},
  {"{{ $value }}", 0.00001, "1e-05"},
  {"{{ $value }}", NAN, "NaN"},
  {"{{ $value }}", INFINITY, "+Inf"},
  {"{{ $value }}", -INFINITY, "-Inf"},
  {"{{ $value }}", 0.1, "0.1"},
  /* trimming */
  {"a  {{- 1 -}}  b", 1, "a1b"},
  {"a \n {{- \"x\" }} \n b", 1, "ax \n b"},
  {"{{ 1 }}  {{- 2 }}", 1, "12"},
  /* literals */
  {"{{ \"tab\\there\" }}", 1, "tab\there"},
  {"{{ `raw\\n` }}", 1, "raw\\n"},
  {"{{ \"\\u00e9\" }}", 1, "\xc3\xa9"},
  {"{{ 0x10 }} {{ 1.5 }} {{ -3 }} {{ true }}", 1, "16 1.5 -3 true"},
  /* humanize family */
  {"{{ humanize 1234567.0 }}", 1, "1.235M"},
  {"{{ $value | humanize }}", 0.00123, "1.23m"},
  {"{{ humanize 0 }} {{ humanize 999 }} {{ humanize 1000 }}", 1, "0 999 1k"},
  {"{{ humanize \"2.5e9\" }}", 1, "2.5G"},
  {"{{ $value | humanize }}", NAN, "NaN"},
  {"{{ $value | humanize }}", -INFINITY, "-Inf"},
  {"{{ humanize1024 1048576 }}", 1, "1Mi"},
  {"{{ humanize1024 1 }} {{ humanize1024 1536 }} {{ humanize1024 0.5 }}", 1, "1 1.5ki 0.5"},
  {"{{ $value | humanize1024 }}", INFINITY, "+Inf"},
  {"{{ humanizeDuration 899.99 }}", 1, "14m 59s"},
  {"{{ humanizePercentage 0.1234567 }}", 1, "12.35%"},
  {"{{ title \"aa bb CC\" }}", 1, "Aa Bb CC"},
  {"{{ printf \"%d %s\" 1.5 2 }}", 1, "%!d(float64=1.5) %!s(int=2)"},
  {"{{ printf \"%d\" 1 2 }}", 1, "1%!(EXTRA int=2)"},
  {"{{ humanizeDuration 3661 }}", 1, "1h 1m 1s"},
  {"{{ humanizeDuration 0.5 }}", 1, "500ms"},
  {"{{ humanizeDuration 90061 }}", 1, "1d 1h 1m 1s"},
  {"{{ humanizeDuration 61 }} {{ humanizeDuration 1.5 }}", 1, "1m 1s 1.5s"},
  {"{{ humanizeDuration 0 }} {{ humanizeDuration -3661 }}", 1, "0s -1h 1m 1s"},
  {"{{ humanizeDuration 0.000002 }}", 1, "2us"},
  {"{{ humanizePercentage 0.1234 }}", 1, "12.34%"},
  {"{{ $value | humanizePercentage }}", 1, "100%"},
  {"{{ humanizeTimestamp 1435065584.128 }}", 1, "2015-06-23 13:19:44.128 +0000 UTC"},
  {"{{ humanizeTimestamp 0 }}", 1, "1970-01-01 00:00:00 +0000 UTC"},
  /* printf */
  {"{{ printf \"%s=%d\" \"n\" 42 }}", 1, "n=42"},
  {"{{ printf \"%.2f\" $value }}", 3.14159, "3.14"},
  {"{{ printf \"%f\" 1.5 }}", 1, "1.500000"},
  {"{{ printf \"%v %v %v\" $value 7 \"s\" }}", 1e21, "1e+21 7 s"},
  {"{{ printf \"%g\" $value }}", 1234567, "1.234567e+06"},
  {"{{ printf \"%q\" \"a\\\"b\" }}", 1, "\"a\\\"b\""},
  {"{{ printf \"%5d|%-4s|\" 7 \"ab\" }}", 1, "    7|ab  |"},
  {"{{ printf \"%d\" $value }}", 1.5, "%!d(float64=1.5)"},
  {"{{ printf \"%d %d\" 1 }}", 1, "1 %!d(MISSING)"},
  {"{{ printf \"%d%%\" 5 }}", 1, "5%"},
  {"{{ printf \"%.1f\" $value }}", NAN, "NaN"},
  /* strings */
  {"{{ title \"hello wide-world\" }}", 1, "Hello Wide-World"},
  {"{{ toUpper \"abc\" }} {{ \"ABC\" | toLower }}", 1, "ABC abc"},
  {"{{ len \"abcd\" }} {{ len $labels }}", 1, "4 4"},
  /* if / else and Go truthiness */
  {"{{ if gt $value 10.0 }}high{{ else }}low{{ end }}", 11, "high"},
  {"{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", 7, "mid"},
  {"{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", 1, "low"},
  {"{{ if $value }}t{{ else }}f{{ end }}", 0, "f"},
  {"{{ if $value }}t{{ else }}f{{ end }}", NAN, "t"},
  {"{{ if \"\" }}t{{ else }}f{{ end }}{{ if \"x\" }}t{{ end }}", 1, "ft"},
  {"{{ if 0 }}t{{ else }}f{{ end }}{{ if nil }}t{{ else }}f{{ end }}", 1, "ff"},
  {"{{ if $labels.missing }}t{{ else }}f{{ end }}", 1, "f"},
  {"{{ if and $value (eq $labels.job \"api\") }}yes{{ end }}", 1, "yes"},
  {"{{ or \"\" \"fallback\" }} {{ and 1 0 }} {{ not false }}", 1, "fallback 0 true"},
  {"{{ eq $labels.severity \"warn\" \"page\" }} {{ ne 1 2 }} {{ le 2 2 }} {{ lt \"a\" \"b\" }}", 1,
   "true true true true"},
  {"{{ ge 1.5 2.5 }}", 1, "false"},
  /* variables */
  {"{{ $x := \"v\" }}{{ $x }}{{ $x = \"w\" }}{{ $x }}", 1, "vw"},
  {"{{ $v := $value | humanize }}[{{ $v }}]", 2000, "[2k]"},
  /* query, range, first, value, label */
  {"{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}", 1, "a:1=1;b:2=0.25;"},
  {"{{ range $i, $s := query \"up\" }}{{ $i }}:{{ $s | value }}:{{ label \"instance\" $s }} {{ end }}",
   1, "0:1:a:1 1:0.25:b:2 "},
  {"{{ range query \"empty\" }}x{{ else }}none{{ end }}", 1, "none"},
  {"{{ query \"up\" | first | value | humanizePercentage }}", 1, "100%"},
  {"{{ (query \"up\" | first).Value }}", 1, "1"},
  {"{{ if query \"empty\" }}t{{ else }}f{{ end }}", 1, "f"},
  {"{{ len (query \"up\") }}", 1, "2"},
  {"{{ range $s := query \"up\" }}{{ $s.Labels.instance }} {{ end }}", 1, "a:1 b:2 "},
};

static void test_outputs(void **state)
{
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    alerting_template *t = NULL;
    lk_diag d = {0};
    int rc = alerting_template_parse(rows[i].tmpl, &t, &d);
    if (rc) {
      print_error("row %zu %s: parse failed: %s\n", i, rows[i].tmpl, d.msg);
      failures++;
      continue;
    }
    alerting_template_data data = data_with(rows[i].value);
    lk_buf out = {0};
    rc = alerting_template_exec(t, &data, &out, &d);
    const char *got = out.data ? (const char *)out.data : "";
    if (rc || strcmp(got, rows[i].want)) {
      print_error("row %zu %s: rc %d (%s) got [%s] want [%s]\n", i, rows[i].tmpl, rc, d.msg, got,
                  rows[i].want);
      failures++;
    }
    lk_buf_fini(&out);
    alerting_template_free(t);
  }
  assert_int_equal(failures, 0);
}

typedef struct bad_row {
  const char *tmpl;
  long offset;
  const char *msg; /* a substring of the diag */
} bad_row;

static const bad_row bad_rows[] = {
  {"{{ $labels.x | toLowr }}", 15, "template: 1:16: function \"toLowr\" not defined"},
  {"ab {{ $value ", 13, "unclosed action"},
  {"{{ end }}", 3, "unexpected {{end}}"},
  {"x{{ else }}", 4, "unexpected {{else}}"},
  {"{{ $nope }}", 3, "undefined variable \"$nope\""},
  {"{{ humanize 1 2 }}", 3, "wrong number of args for humanize: want 1 got 2"},
  {"{{ 1 | humanize 2 }}", 7, "wrong number of args for humanize: want 1 got 2"},
  {"{{ label \"x\" }}", 3, "wrong number of args for label: want 2 got 1"},
  {"{{ printf }}", 3, "wrong number of args for printf"},
  {"{{ printf \"%s\" humanize }}", 15, "wrong number of args for humanize: want 1 got 0"},
  {"{{ if $value }}x", 3, "if has no end"},
  {"{{ range query \"up\" }}x{{ else }}y", 34, "unexpected EOF"},
  {"{{ with $value }}x{{ end }}", 3, "unexpected keyword \"with\""},
  {"{{ template \"x\" }}", 3, "unexpected keyword \"template\""},
  {"{{ \"abc }}", 3, "unterminated quoted string"},
  {"{{ \"\\z\" }}", 5, "bad escape"},
  {"{{ 1 2 }}", 3, "can't give argument to non-function"},
  {"{{ 1 | 2 }}", 7, "can't give argument to non-function"},
  {"{{ }}", 3, "missing value for command"},
  {"{{ range $i := query \"up\" }}{{ end }}{{ $i }}", 40, "undefined variable \"$i\""},
  {"line1\n{{ nope }}", 9, "template: 2:4: function \"nope\" not defined"},
  {"{{ $x = 1 }}", 3, "undefined variable \"$x\""},
  {"{{ 'a' }}", 3, "character constants"},
  {"{{ (humanize 1 }}", 15, "unclosed left paren"},
  {"{{ 1.2.3 }}", 3, "bad number syntax"},
};

static void test_parse_errors(void **state)
{
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
    alerting_template *t = (alerting_template *)&failures; /* must be reset to NULL */
    lk_diag d = {0};
    int rc = alerting_template_parse(bad_rows[i].tmpl, &t, &d);
    if (rc != LK_EPARSE || t || d.offset != bad_rows[i].offset || !strstr(d.msg, bad_rows[i].msg)) {
      print_error("bad row %zu %s: rc %d offset %ld msg [%s], want offset %ld [%s]\n", i,
                  bad_rows[i].tmpl, rc, d.offset, d.msg, bad_rows[i].offset, bad_rows[i].msg);
      failures++;
    }
    if (!rc)
      alerting_template_free(t);
  }
  assert_int_equal(failures, 0);
}

/* Errors Go reports while executing: the output stops, the code says why. */
static void test_exec_errors(void **state)
{
  (void)state;
  static const struct {
    const char *tmpl;
    int code;
    const char *msg;
  } cases[] = {
    {"{{ gt $value 1 }}", LK_EEXEC, "incompatible types for comparison"},
    {"{{ query \"empty\" | first }}", LK_EEXEC, "first() called on vector with no elements"},
    {"{{ query \"boom\" }}", LK_EEXEC, "fake engine: unexpected query boom"},
    {"{{ humanize \"abc\" }}", LK_EEXEC, "invalid syntax"},
    {"{{ toUpper 1 }}", LK_EEXEC, "expected string; got int"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    alerting_template *t = NULL;
    lk_diag d = {0};
    assert_int_equal(alerting_template_parse(cases[i].tmpl, &t, &d), 0);
    alerting_template_data data = data_with(2);
    lk_buf out = {0};
    int rc = alerting_template_exec(t, &data, &out, &d);
    if (rc != cases[i].code || !strstr(d.msg, cases[i].msg))
      fail_msg("case %zu %s: rc %d msg [%s]", i, cases[i].tmpl, rc, d.msg);
    lk_buf_fini(&out);
    alerting_template_free(t);
  }
}

/* No query engine: the query function fails instead of yielding nothing. */
static void test_no_engine(void **state)
{
  (void)state;
  alerting_template *t = NULL;
  lk_diag d = {0};
  assert_int_equal(alerting_template_parse("{{ range query \"up\" }}x{{ end }}", &t, &d), 0);
  alerting_template_data data = data_with(1);
  data.query = NULL;
  lk_buf out = {0};
  assert_int_equal(alerting_template_exec(t, &data, &out, &d), LK_EEXEC);
  assert_non_null(strstr(d.msg, "no query engine"));
  lk_buf_fini(&out);
  alerting_template_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_outputs),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_exec_errors),
    cmocka_unit_test(test_no_engine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
