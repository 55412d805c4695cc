/* hpatest.c — `hpatest FILE.jsonl …`: runs every HPA peer case
 * (../shared/peers/hpa/FORMAT.md) through the autoscaler's own code
 * (orchestrator/hpa*.c) and compares every field of `expected`; a field the
 * runner does not know is itself a failure, so nothing expected goes
 * unchecked. Prints each failure (id, field, got, want) and ends with
 * "N passed, N failed"; exit 1 on any failure or unreadable input. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/orchestrator/hpatest.h"

/* ---- comparing ---- */

typedef struct check {
  json_t *expected;
  json_t *seen;       /* expected keys compared so far */
  char diff[2048];    /* what differed, "; "-separated */
} check;

static void differ(check *ck, const char *field, const char *got, const char *want) {
  size_t len = strlen(ck->diff);
  snprintf(ck->diff + len, sizeof ck->diff - len, "%s%s: got %s, want %s", len ? "; " : "", field, got, want);
}

static json_t *want(check *ck, const char *field) {
  json_object_set_new(ck->seen, field, json_true());
  return json_object_get(ck->expected, field);
}

/* Compares a JSON rendering of what the code produced with `expected[field]`. */
static void check_json(check *ck, const char *field, json_t *got) {
  json_t *w = want(ck, field);
  if (!json_equal(got, w)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY), *x = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY);
    differ(ck, field, g ? g : "?", x ? x : "(absent)");
    free(g);
    free(x);
  }
  json_decref(got);
}

static void check_int(check *ck, const char *field, int64_t got) {
  check_json(ck, field, json_integer(got));
}

static void check_str(check *ck, const char *field, const char *got) {
  check_json(ck, field, got ? json_string(got) : json_null());
}

/* Every expected key must have been compared. */
static void check_all_seen(check *ck) {
  const char *k;
  json_t *v;
  json_object_foreach(ck->expected, k, v) {
    if (!json_object_get(ck->seen, k))
      differ(ck, k, "(not compared by the runner)", "a comparison");
  }
}

/* ---- kinds ---- */

static void run_replica_calc(hpatest_ctx *c, json_t *cs, check *ck) {
  orch__hpa_settings s;
  orch__hpa_metric m;
  orch__hpa_metric_out out;
  size_t npods;
  hpatest_settings(cs, &s);
  orch__hpa_pod *pods = hpatest_pods(c, json_object_get(cs, "pods"), &npods);
  hpatest_metric(c, json_object_get(cs, "metric"), json_object_get(cs, "metrics_api"), &m);
  int rc = orch__hpa_metric_replicas(&m, pods, npods, (int32_t)json_integer_value(json_object_get(cs, "current_replicas")),
                                     (int32_t)json_integer_value(json_object_get(cs, "status_replicas")),
                                     s.tolerance, &s, HPATEST_NOW, &out);
  json_t *werr = json_object_get(ck->expected, "error");
  if (werr) {
    want(ck, "error");
    if (rc == 0 || !strstr(out.error, json_string_value(werr)))
      differ(ck, "error", rc ? out.error : "(no error)", json_string_value(werr));
    return;
  }
  if (rc) {
    differ(ck, "error", out.error, "(none)");
    return;
  }
  check_int(ck, "replicas", out.replicas);
  if (json_object_get(ck->expected, "utilization"))
    check_int(ck, "utilization", out.has_utilization ? out.utilization : -1);
  if (json_object_get(ck->expected, "raw_value_milli"))
    check_int(ck, "raw_value_milli", out.value_milli);
  if (json_object_get(ck->expected, "usage_milli"))
    check_int(ck, "usage_milli", out.value_milli);
}

static json_t *names_in(const orch__hpa_pod *pods, size_t n, const int *group, int g) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    if (group[i] == g)
      json_array_append_new(a, json_string(pods[i].name));
  size_t len = json_array_size(a); /* insertion sort: the lists are short */
  for (size_t i = 1; i < len; i++)
    for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(a, j - 1)),
                                       json_string_value(json_array_get(a, j))) > 0; j--) {
      json_t *t = json_incref(json_array_get(a, j));
      json_array_set(a, j, json_array_get(a, j - 1));
      json_array_set_new(a, j - 1, t);
    }
  return a;
}

static void run_group_pods(hpatest_ctx *c, json_t *cs, check *ck) {
  orch__hpa_settings s;
  size_t npods, nsamples;
  hpatest_settings(cs, &s);
  orch__hpa_pod *pods = hpatest_pods(c, json_object_get(cs, "pods"), &npods);
  orch__hpa_sample *samples = hpatest_samples(c, json_object_get(cs, "pod_metrics"), &nsamples);
  int *group = lk_arena_zalloc(c->arena, (npods + 1) * sizeof *group);
  const char *res = json_string_value(json_object_get(cs, "resource"));
  size_t ready = orch__hpa_group_pods(pods, npods, samples, nsamples, res && strcmp(res, "cpu") == 0, &s,
                                      HPATEST_NOW, group);
  check_int(ck, "ready_count", (int64_t)ready);
  check_json(ck, "unready", names_in(pods, npods, group, ORCH__GROUP_UNREADY));
  check_json(ck, "missing", names_in(pods, npods, group, ORCH__GROUP_MISSING));
  check_json(ck, "ignored", names_in(pods, npods, group, ORCH__GROUP_IGNORED));
}

static int32_t geti(json_t *cs, const char *k) {
  return (int32_t)json_integer_value(json_object_get(cs, k));
}

static json_t *rec_values(const orch__hpa_history *h) {
  json_t *a = json_array();
  for (size_t i = 0; i < h->nrecs; i++)
    json_array_append_new(a, json_integer(h->recs[i].replicas));
  return a;
}

static void run_stage(json_t *cs, const char *stage, check *ck) {
  orch__hpa_behavior b;
  orch__hpa_history h;
  orch__hpa_settings s;
  const char *reason = NULL, *msg;
  hpatest_settings(cs, &s);
  hpatest_behavior(json_object_get(cs, "behavior"), &b);
  hpatest_history(cs, &h);
  int32_t cur = geti(cs, "current_replicas"), des = geti(cs, "desired_replicas");
  if (strcmp(stage, "rate") == 0) {
    check_int(ck, "replicas", orch__hpa_rate_limit(&b, &h, cur, des, geti(cs, "min_replicas"),
                                                   geti(cs, "max_replicas"), HPATEST_NOW, &reason, &msg, NULL));
    check_str(ck, "reason", reason);
  } else if (strcmp(stage, "stabilize") == 0) {
    check_int(ck, "replicas", orch__hpa_stabilize(&h, &b, cur, des, HPATEST_NOW, &reason));
    json_t *w = json_object_get(ck->expected, "recommendations_after");
    check_json(ck, "recommendations_after", json_is_null(w) ? json_null() : rec_values(&h));
  } else if (strcmp(stage, "legacy_stabilize") == 0) {
    int64_t window = (int64_t)json_integer_value(json_object_get(cs, "downscale_stabilization_s")) * 1000;
    check_int(ck, "replicas", orch__hpa_stabilize_legacy(&h, window, des, HPATEST_NOW));
    check_int(ck, "recommendations_after_count", (int64_t)h.nrecs);
  } else if (strcmp(stage, "legacy_rate") == 0) {
    check_int(ck, "replicas", orch__hpa_legacy_limit(cur, des, geti(cs, "min_replicas"), geti(cs, "max_replicas"),
                                                     json_number_value(json_object_get(cs, "legacy_scale_up_limit_factor")),
                                                     json_number_value(json_object_get(cs, "legacy_scale_up_limit_minimum")),
                                                     &reason, &msg));
    check_str(ck, "reason", reason);
  } else if (strcmp(stage, "scale_up_limit") == 0 || strcmp(stage, "scale_down_limit") == 0) {
    orch__hpa_rules r;
    hpatest_rules(json_object_get(cs, "rules"), &r);
    check_int(ck, "limit", stage[6] == 'u' ? orch__hpa_scale_up_limit(cur, &h, &r, HPATEST_NOW)
                                           : orch__hpa_scale_down_limit(cur, &h, &r, HPATEST_NOW));
  } else if (strcmp(stage, "store_event") == 0) {
    bool up = strcmp(json_string_value(json_object_get(cs, "direction")), "up") == 0;
    json_t *rules = json_object_get(cs, "rules");
    orch__hpa_behavior eb;
    hpatest_rules(rules, up ? &eb.up : &eb.down);
    hpatest_events(json_object_get(cs, "events"), &h, up);
    const orch__hpa_event *ev = up ? h.up : h.down;
    size_t n = up ? h.nup : h.ndown;
    check_int(ck, "change_in_last_60s", orch__hpa_change_in_period(ev, n, 60, HPATEST_NOW));
    orch__hpa_store_event(&h, json_is_null(rules) || !rules ? NULL : &eb, geti(cs, "prev_replicas"),
                          geti(cs, "new_replicas"), HPATEST_NOW);
    ev = up ? h.up : h.down;
    n = up ? h.nup : h.ndown;
    json_t *after = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(after, json_pack("[ib]", ev[i].change, ev[i].outdated));
    check_json(ck, "events_after", after);
  } else {
    differ(ck, "stage", stage, "a known stage");
  }
  orch__hpa_history_free(&h);
}

static json_t *conds_json(const orch__hpa_conds *cs) {
  json_t *a = json_array();
  for (size_t i = 0; i < cs->n; i++)
    json_array_append_new(a, json_pack("[sss]", orch__hpa_cond_name(cs->c[i].type), cs->c[i].status ? "True" : "False",
                                       cs->c[i].reason));
  return a;
}

static void run_reconcile(hpatest_ctx *c, json_t *cs, check *ck) {
  orch__hpa_settings s;
  orch__hpa_history h;
  orch__hpa_behavior b;
  hpatest_settings(cs, &s);
  hpatest_history(cs, &h);
  json_t *jb = json_object_get(cs, "behavior"), *jm = json_object_get(cs, "metrics");
  if (jb && !json_is_null(jb))
    hpatest_behavior(jb, &b);
  size_t nm = json_array_size(jm);
  orch__hpa_metric *metrics = lk_arena_zalloc(c->arena, (nm + 1) * sizeof *metrics);
  for (size_t i = 0; i < nm; i++)
    hpatest_metric(c, json_array_get(jm, i), json_object_get(cs, "metrics_api"), &metrics[i]);
  orch__hpa_input in = {.spec_replicas = geti(cs, "spec_replicas"), .status_replicas = geti(cs, "status_replicas"),
                        .min_replicas = geti(cs, "min_replicas"), .max_replicas = geti(cs, "max_replicas"),
                        .previous_desired = geti(cs, "previous_desired_replicas"),
                        .behavior = jb && !json_is_null(jb) ? &b : NULL, .metrics = metrics, .nmetrics = nm,
                        .settings = &s};
  in.pods = hpatest_pods(c, json_object_get(cs, "pods"), &in.npods);
  orch__hpa_outcome out = {.metric_out = lk_arena_zalloc(c->arena, (nm + 1) * sizeof *out.metric_out)};
  orch__hpa_reconcile(&in, &h, HPATEST_NOW, &out);
  check_int(ck, "desired_replicas", out.desired);
  check_json(ck, "conditions", conds_json(&out.conds));
  orch__hpa_history_free(&h);
}

/* ---- driver ---- */

/* Runs one case; returns true when it passed (else prints why). */
static bool run_case(json_t *cs, const char *where) {
  const char *id = json_string_value(json_object_get(cs, "id"));
  const char *kind = json_string_value(json_object_get(cs, "kind"));
  check ck = {.expected = json_object_get(cs, "expected"), .seen = json_object()};
  hpatest_ctx c = {.arena = lk_arena_new(4096)};
  if (!id || !kind || !json_is_object(ck.expected))
    differ(&ck, "case", "malformed", "id, kind and expected");
  else if (strcmp(kind, "replica_calc") == 0)
    run_replica_calc(&c, cs, &ck);
  else if (strcmp(kind, "group_pods") == 0)
    run_group_pods(&c, cs, &ck);
  else if (strcmp(kind, "behavior") == 0)
    run_stage(cs, json_string_value(json_object_get(cs, "stage")) ? json_string_value(json_object_get(cs, "stage")) : "",
              &ck);
  else if (strcmp(kind, "reconcile") == 0)
    run_reconcile(&c, cs, &ck);
  else
    differ(&ck, "kind", kind, "a known kind");
  if (json_is_object(ck.expected))
    check_all_seen(&ck);
  bool ok = ck.diff[0] == '\0';
  if (!ok)
    printf("FAIL %s (%s): %s\n", id ? id : "?", where, ck.diff);
  json_decref(ck.seen);
  lk_arena_free(c.arena);
  return ok;
}

static int run_file(const char *path, long *passed, long *failed) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "hpatest: cannot open %s\n", path);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  int rc = 0;
  while (getline(&line, &cap, f) > 0) {
    lineno++;
    if (strspn(line, " \t\r\n") == strlen(line))
      continue;
    json_error_t err;
    json_t *cs = json_loads(line, 0, &err);
    char where[512];
    snprintf(where, sizeof where, "%s:%ld", path, lineno);
    if (!cs) {
      fprintf(stderr, "hpatest: %s: not JSON: %s\n", where, err.text);
      rc = 1;
      continue;
    }
    if (run_case(cs, where))
      (*passed)++;
    else
      (*failed)++;
    json_decref(cs);
  }
  free(line);
  fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: hpatest FILE.jsonl ...\n");
    return 2;
  }
  long passed = 0, failed = 0;
  int bad = 0;
  for (int i = 1; i < argc; i++)
    bad |= run_file(argv[i], &passed, &failed);
  printf("%ld passed, %ld failed\n", passed, failed);
  return bad || failed || passed == 0 ? 1 : 0;
}
