/* test_store.c — the orchestrator's objects without containers (run_pods
 * off): Kubernetes defaults and metadata, 409 on a stale resourceVersion,
 * generation bumped on spec changes only, 422 causes with field paths and
 * nothing stored, persistence across a reopen, the three patch kinds, HPA
 * v1 ↔ v2, selectors, watch events, and the controllers turning a
 * Deployment into a ReplicaSet and Pods (Pending, saying why) and cascading
 * a delete. Every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orchestrator/orch_int.h"

static const char deployment[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
    "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
    "{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"sleep\",\"9\"],"
    "\"ports\":[{\"containerPort\":80}]},{\"name\":\"b\",\"image\":\"host\"}]}}}}";

typedef struct fx {
  char dir[64];
  orch *o;
} fx;

static orch *open_in(const char *dir)
{
  orch_opts oo = {.data_dir = dir, .run_pods = false, .sync_period_ms = 50};
  orch *o = NULL;
  lk_diag d = {0};
  assert_int_equal(orch_open(&oo, &o, &d), 0);
  return o;
}

static int setup(void **state)
{
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/lk-orch-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->o = open_in(f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx *f = *state;
  orch_close(f->o);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static json_t *parse(const char *text)
{
  json_t *v = json_loads(text, 0, NULL);
  assert_non_null(v);
  return v;
}

static json_t *create(orch *o, enum orch_kind k, const char *text)
{
  json_t *in = parse(text), *out = NULL;
  orch_err e = {0};
  int rc = orch_create(o, k, "default", in, ORCH_MAIN, &out, &e);
  if (rc)
    fprintf(stderr, "create: %s\n", e.msg);
  assert_int_equal(rc, 0);
  orch_err_fini(&e);
  json_decref(in);
  return out;
}

static void test_defaults_and_metadata(void **state)
{
  fx *f = *state;
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment);
  assert_string_equal(orch__str(d, "spec.strategy.type"), "RollingUpdate");
  assert_string_equal(orch__str(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
  assert_int_equal(orch__int(d, "spec.revisionHistoryLimit", -1), 10);
  assert_int_equal(orch__int(d, "spec.progressDeadlineSeconds", -1), 600);
  assert_string_equal(orch__str(d, "spec.template.spec.restartPolicy"), "Always");
  assert_int_equal(orch__int(d, "spec.template.spec.terminationGracePeriodSeconds", -1), 30);
  assert_string_equal(orch__str(d, "spec.template.spec.dnsPolicy"), "ClusterFirst");
  json_t *c0 = json_array_get(orch__at(d, "spec.template.spec.containers"), 0);
  assert_string_equal(orch__str(c0, "imagePullPolicy"), "Always");
  assert_string_equal(orch__str(json_array_get(json_object_get(c0, "ports"), 0), "protocol"), "TCP");
  assert_int_equal(orch__int(d, "metadata.generation", 0), 1);
  assert_int_equal(strlen(orch__str(d, "metadata.uid")), 36);
  assert_non_null(orch__str(d, "metadata.creationTimestamp"));
  assert_string_equal(orch__str(d, "metadata.namespace"), "default");
  json_decref(d);
}

static void test_dry_run(void **state)
{
  fx *f = *state;
  json_t *in = parse(deployment), *out = NULL;
  orch_err e = {0};
  assert_int_equal(orch_create(f->o, ORCH_DEPLOYMENT, "default", in, ORCH_DRY_RUN, &out, &e), 0);
  assert_string_equal(orch__str(out, "spec.strategy.type"), "RollingUpdate"); /* defaulted, as it would be */
  json_decref(out);
  assert_int_equal(orch_get(f->o, ORCH_DEPLOYMENT, "default", "web", &out, &e), LK_ENOENT);
  orch_err_fini(&e);
  memset(&e, 0, sizeof e);
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment);
  static const char patch[] = "{\"spec\":{\"replicas\":9}}";
  assert_int_equal(orch_patch(f->o, ORCH_DEPLOYMENT, "default", "web", ORCH_PATCH_MERGE, patch, strlen(patch),
                              ORCH_MAIN | ORCH_DRY_RUN, false, &out, &e), 0);
  assert_int_equal(orch__int(out, "spec.replicas", 0), 9);
  json_decref(out);
  assert_int_equal(orch_get(f->o, ORCH_DEPLOYMENT, "default", "web", &out, &e), 0);
  assert_int_equal(orch__int(out, "spec.replicas", 0), 2);
  assert_string_equal(orch__str(out, "metadata.resourceVersion"), orch__str(d, "metadata.resourceVersion"));
  json_decref(out);
  json_decref(d);
  json_decref(in);
}

static void test_conflict_and_generation(void **state)
{
  fx *f = *state;
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment), *out = NULL;
  orch_err e = {0};
  json_t *next = json_deep_copy(d);
  orch__set_str(next, "metadata.labels.tier", "front"); /* metadata only: generation stays */
  assert_int_equal(orch_update(f->o, ORCH_DEPLOYMENT, "default", "web", next, ORCH_MAIN, &out, &e), 0);
  assert_int_equal(orch__int(out, "metadata.generation", 0), 1);
  assert_string_not_equal(orch__str(out, "metadata.resourceVersion"), orch__str(d, "metadata.resourceVersion"));
  json_decref(out);
  orch__set_int(next, "spec.replicas", 5); /* next still carries the old, now stale, resourceVersion */
  assert_int_equal(orch_update(f->o, ORCH_DEPLOYMENT, "default", "web", next, ORCH_MAIN, &out, &e), LK_EAGAIN);
  assert_int_equal(e.http, 409);
  assert_string_equal(e.reason, "Conflict");
  orch_err_fini(&e);
  memset(&e, 0, sizeof e);
  json_object_del(json_object_get(next, "metadata"), "resourceVersion"); /* unconditional */
  assert_int_equal(orch_update(f->o, ORCH_DEPLOYMENT, "default", "web", next, ORCH_MAIN, &out, &e), 0);
  assert_int_equal(orch__int(out, "metadata.generation", 0), 2);
  assert_int_equal(orch__int(out, "spec.replicas", 0), 5);
  json_decref(out);
  json_decref(next);
  json_decref(d);
}

/* The object is refused with a cause naming field, and nothing is stored. */
static void expect_invalid(orch *o, const char *text, const char *field, const char *msg_part)
{
  json_t *in = parse(text), *out = NULL;
  orch_err e = {0};
  assert_int_equal(orch_create(o, ORCH_DEPLOYMENT, "default", in, ORCH_MAIN, &out, &e), LK_EINVAL);
  assert_int_equal(e.http, 422);
  assert_string_equal(e.reason, "Invalid");
  bool found = false;
  size_t i;
  json_t *c;
  json_array_foreach(e.causes, i, c) found = found || (!strcmp(orch__str(c, "field"), field) &&
                                                       strstr(orch__str(c, "message"), msg_part));
  if (!found)
    fprintf(stderr, "no cause %s (%s) in: %s\n", field, msg_part, e.msg);
  assert_true(found);
  orch_err_fini(&e);
  memset(&e, 0, sizeof e);
  assert_int_equal(orch_get(o, ORCH_DEPLOYMENT, "default", orch__str(in, "metadata.name"), &out, &e), LK_ENOENT);
  json_decref(in);
}

static void test_invalid(void **state)
{
  fx *f = *state;
  static const char head[] = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bad\"},\"spec\":{";
  static const char tmpl[] = "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":{\"labels\":"
                             "{\"app\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"c\",%s}]}}}}";
  char text[1024], body[512];
  struct { const char *spec_extra, *container, *field, *msg; } cases[] = {
    {"\"replicas\":-1,", "\"image\":\"host\"", "spec.replicas", "greater than or equal to 0"},
    {"", "\"image\":\"host\",\"bogus\":1", "spec.template.spec.containers[0].bogus", "unknown field"},
    {"", "\"image\":\"busybox:1\"", "spec.template.spec.containers[0].image", "registry images are not supported"},
    {"", "\"image\":\"/nonexistent/rootfs\"", "spec.template.spec.containers[0].image", "does not exist"},
    {"", "\"image\":\"host\",\"resources\":{\"requests\":{\"cpu\":\"100000\"}}",
     "spec.template.spec.containers[0].resources.requests[cpu]", "Insufficient cpu"},
    {"", "\"image\":\"host\",\"resources\":{\"requests\":{\"memory\":\"1Pi\"}}",
     "spec.template.spec.containers[0].resources.requests[memory]", "Insufficient memory"},
    {"", "\"image\":\"host\",\"resources\":{\"limits\":{\"cpu\":\"lots\"}}",
     "spec.template.spec.containers[0].resources.limits[cpu]", "quantities must match"},
    {"", "\"image\":\"host\",\"resources\":7", "spec.template.spec.containers[0].resources", "must be a object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(body, sizeof body, tmpl, cases[i].container);
    snprintf(text, sizeof text, "%s%s%s", head, cases[i].spec_extra, body);
    expect_invalid(f->o, text, cases[i].field, cases[i].msg);
  }
  expect_invalid(f->o,
                 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bad\"},\"spec\":{"
                 "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"y\"}},"
                 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"host\"}]}}}}",
                 "spec.template.metadata.labels", "does not match");
}

static void test_persisted_and_reloaded(void **state)
{
  fx *f = *state;
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment);
  orch_close(f->o);
  f->o = open_in(f->dir);
  json_t *again = NULL;
  orch_err e = {0};
  assert_int_equal(orch_get(f->o, ORCH_DEPLOYMENT, "default", "web", &again, &e), 0);
  assert_string_equal(orch__str(again, "metadata.uid"), orch__str(d, "metadata.uid"));
  assert_true(json_equal(orch__at(again, "spec"), orch__at(d, "spec")));
  /* resourceVersions keep growing after a reopen */
  json_t *ns = create(f->o, ORCH_HPA,
                      "{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":\"h\"},"
                      "\"spec\":{\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":3}}");
  assert_true(strtoull(orch__str(ns, "metadata.resourceVersion"), NULL, 10) >
              strtoull(orch__str(again, "metadata.resourceVersion"), NULL, 10));
  json_decref(ns);
  json_decref(again);
  json_decref(d);
}

static void test_patches(void **state)
{
  (void)state;
  json_t *target = parse(deployment), *patch, *out;
  orch_err e = {0};
  /* strategic: containers merged by name; the one not named is kept */
  patch = parse("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"/srv/root\"}]}}}}");
  out = orch__strategic_patch(target, patch, &e);
  json_t *cs = orch__at(out, "spec.template.spec.containers");
  assert_int_equal(json_array_size(cs), 2);
  assert_string_equal(orch__str(json_array_get(cs, 0), "image"), "host");
  assert_string_equal(orch__str(json_array_get(cs, 1), "image"), "/srv/root");
  json_decref(patch);
  json_decref(out);
  /* $patch: delete of one item, $setElementOrder, null removes a field */
  patch = parse("{\"metadata\":{\"labels\":null},\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":"
                "[{\"name\":\"b\"}],\"containers\":[{\"name\":\"a\",\"$patch\":\"delete\"}]}}}}");
  out = orch__strategic_patch(target, patch, &e);
  cs = orch__at(out, "spec.template.spec.containers");
  assert_int_equal(json_array_size(cs), 1);
  assert_string_equal(orch__str(json_array_get(cs, 0), "name"), "b");
  assert_null(orch__at(out, "metadata.labels"));
  json_decref(patch);
  json_decref(out);
  /* $retainKeys: RollingUpdate → Recreate drops rollingUpdate */
  json_t *ru = parse("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}}");
  patch = parse("{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}");
  out = orch__strategic_patch(ru, patch, &e);
  assert_string_equal(orch__str(out, "spec.strategy.type"), "Recreate");
  assert_null(orch__at(out, "spec.strategy.rollingUpdate"));
  json_decref(patch);
  json_decref(out);
  json_decref(ru);
  /* merge patch replaces lists whole */
  patch = parse("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"z\"}]}}}}");
  out = orch__merge_patch(target, patch);
  assert_int_equal(json_array_size(orch__at(out, "spec.template.spec.containers")), 1);
  json_decref(patch);
  json_decref(out);
  /* JSON patch: replace, add, a failing test refuses the whole patch */
  patch = parse("[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":7},"
                "{\"op\":\"add\",\"path\":\"/metadata/labels/x~1y\",\"value\":\"1\"}]");
  out = orch__json_patch(target, patch, &e);
  assert_int_equal(orch__int(out, "spec.replicas", 0), 7);
  assert_string_equal(json_string_value(json_object_get(orch__at(out, "metadata.labels"), "x/y")), "1");
  json_decref(patch);
  json_decref(out);
  patch = parse("[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":3}]");
  assert_null(orch__json_patch(target, patch, &e));
  assert_int_equal(e.http, 422);
  json_decref(patch);
  json_decref(target);
}

static void test_hpa_versions(void **state)
{
  (void)state;
  json_t *v1 = parse("{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":"
                     "\"h\"},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":"
                     "\"web\"},\"minReplicas\":1,\"maxReplicas\":10,\"targetCPUUtilizationPercentage\":50}}");
  json_t *v2 = orch_hpa_v1_to_v2(v1);
  assert_string_equal(orch__str(v2, "apiVersion"), "autoscaling/v2");
  json_t *m = json_array_get(orch__at(v2, "spec.metrics"), 0);
  assert_string_equal(orch__str(m, "resource.name"), "cpu");
  assert_int_equal(orch__int(m, "resource.target.averageUtilization", 0), 50);
  assert_null(orch__at(v2, "spec.targetCPUUtilizationPercentage"));
  json_t *back = orch_hpa_v2_to_v1(v2);
  assert_int_equal(orch__int(back, "spec.targetCPUUtilizationPercentage", 0), 50);
  assert_true(json_equal(orch__at(back, "spec.scaleTargetRef"), orch__at(v1, "spec.scaleTargetRef")));
  json_decref(back);
  json_decref(v2);
  json_decref(v1);
}

static void test_selectors(void **state)
{
  (void)state;
  json_t *labels = parse("{\"app\":\"web\",\"tier\":\"front\"}");
  orch_err e = {0};
  assert_true(orch__labels_match(labels, "app=web", &e));
  assert_true(orch__labels_match(labels, "app=web,tier!=back", &e));
  assert_true(orch__labels_match(labels, "tier in (front, back),!missing", &e));
  assert_false(orch__labels_match(labels, "app notin (web)", &e));
  assert_false(orch__labels_match(labels, "missing", &e));
  assert_null(e.reason);
  assert_false(orch__labels_match(labels, "app in web", &e));
  assert_int_equal(e.http, 400);
  json_t *sel = parse("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\","
                      "\"values\":[\"front\"]}]}");
  assert_true(orch__selector_match(sel, labels));
  json_decref(sel);
  json_decref(labels);
}

static void test_watch_events(void **state)
{
  fx *f = *state;
  orch_watch *w = NULL;
  orch_err e = {0};
  assert_int_equal(orch_watch_open(f->o, ORCH_DEPLOYMENT, NULL, 0, &w, &e), 0);
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment);
  json_t *ev = NULL;
  assert_int_equal(orch_watch_next(w, 2000, &ev), 0);
  assert_string_equal(orch__str(ev, "type"), "ADDED");
  assert_string_equal(orch__str(ev, "object.metadata.name"), "web");
  json_decref(ev);
  orch_watch_close(w);
  json_decref(d);
}

/* Polls list(k) until it has n items (bounded: 10 s). */
static json_t *wait_items(orch *o, enum orch_kind k, size_t n)
{
  for (int i = 0; i < 200; i++) {
    json_t *items = NULL;
    uint64_t rv;
    orch_err e = {0};
    orch_list_opts lo = {.ns = "default"};
    assert_int_equal(orch_list(o, k, &lo, &items, &rv, &e), 0);
    if (json_array_size(items) == n)
      return items;
    json_decref(items);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  fail_msg("kind %d never had %zu objects", (int)k, n);
  return NULL;
}

static void test_controllers(void **state)
{
  fx *f = *state;
  json_t *d = create(f->o, ORCH_DEPLOYMENT, deployment);
  json_t *rs = wait_items(f->o, ORCH_REPLICASET, 1);
  json_t *r0 = json_array_get(rs, 0);
  assert_true(orch__owned_by(r0, orch__str(d, "metadata.uid")));
  assert_non_null(json_object_get(orch__at(r0, "spec.selector.matchLabels"), "pod-template-hash"));
  json_t *pods = wait_items(f->o, ORCH_POD, 2);
  json_t *p0 = json_array_get(pods, 0);
  char prefix[300];
  snprintf(prefix, sizeof prefix, "%s-", orch__str(r0, "metadata.name"));
  assert_memory_equal(orch__str(p0, "metadata.name"), prefix, strlen(prefix));
  assert_int_equal(strlen(orch__str(p0, "metadata.name")), strlen(prefix) + 5);
  assert_true(orch__owned_by(p0, orch__str(r0, "metadata.uid")));
  json_decref(pods);
  /* without a runtime the pods say why they are Pending */
  for (int i = 0; i < 100; i++) {
    pods = wait_items(f->o, ORCH_POD, 2);
    const char *why = orch__str(json_array_get(orch__at(json_array_get(pods, 0), "status.containerStatuses"), 0),
                                "state.waiting.reason");
    bool done = why && !strcmp(why, "RuntimeUnavailable");
    json_decref(pods);
    if (done)
      break;
    assert_true(i < 99);
    usleep(50000);
  }
  json_t *out = NULL;
  orch_err e = {0};
  assert_int_equal(orch_scale(f->o, ORCH_DEPLOYMENT, "default", "web", 3, NULL, &out, &e), 0);
  json_decref(out);
  json_decref(wait_items(f->o, ORCH_POD, 3));
  /* settled: the controllers write nothing more (pass after pass, 50 ms apart) */
  usleep(500000);
  uint64_t rv = orch__store_rv(f->o->st);
  usleep(1300000);
  assert_int_equal(orch__store_rv(f->o->st), rv);
  assert_int_equal(orch_scale(f->o, ORCH_DEPLOYMENT, "default", "web", -1, NULL, &out, &e), LK_EINVAL);
  assert_int_equal(e.http, 422);
  orch_err_fini(&e);
  memset(&e, 0, sizeof e);
  assert_int_equal(orch_delete(f->o, ORCH_DEPLOYMENT, "default", "web", NULL, -1, &out, &e), 0);
  json_decref(out);
  json_decref(wait_items(f->o, ORCH_REPLICASET, 0));
  json_decref(wait_items(f->o, ORCH_POD, 0));
  json_decref(rs);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_defaults_and_metadata, setup, teardown),
    cmocka_unit_test_setup_teardown(test_conflict_and_generation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
    cmocka_unit_test_setup_teardown(test_persisted_and_reloaded, setup, teardown),
    cmocka_unit_test(test_patches),
    cmocka_unit_test(test_hpa_versions),
    cmocka_unit_test(test_selectors),
    cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
    cmocka_unit_test_setup_teardown(test_controllers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
