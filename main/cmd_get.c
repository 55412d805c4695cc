/* cmd_get.c — `lookout get deployments|pods|autoscalers|replicasets|
 * namespaces [-w]`: the server-side Table of the Kubernetes API (the same
 * columns `kubectl get` shows), printed as aligned columns; -A adds the
 * NAMESPACE column; -w then polls once a second and prints each row whose
 * object changed. `get alerts` belongs to the alerting module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/lk_buf.h"
#include "main/cmd.h"
#include "main/kube.h"

#define TABLE_ACCEPT "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
#define WATCH_POLL_MS 1000

static void usage(FILE *f)
{
  fprintf(f, "usage: lookout get deployments|pods|autoscalers|replicasets|namespaces [-A] [-w]\n"
             "                  [--server URL] [--token-file FILE] [-n NS]\n\n"
             "Lists objects as `kubectl get` does. -A: every namespace; -w: keep printing\n"
             "rows as objects change (polled every second), until interrupted.\n\n%s", kube_flags_help);
}

static void cell_text(const json_t *c, char *out, size_t n)
{
  if (json_is_string(c))
    snprintf(out, n, "%s", json_string_value(c));
  else if (json_is_integer(c))
    snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(c));
  else
    snprintf(out, n, "<none>");
}

/* Rows as text, the header first; columns of priority 0 only. */
static json_t *table_rows(const json_t *table, bool all_ns, bool header)
{
  json_t *rows = json_array();
  const json_t *defs = json_object_get(table, "columnDefinitions");
  json_t *head = json_array();
  if (all_ns)
    json_array_append_new(head, json_string("NAMESPACE"));
  size_t i;
  json_t *def;
  json_array_foreach(defs, i, def) {
    if (json_integer_value(json_object_get(def, "priority")))
      continue;
    char name[64];
    snprintf(name, sizeof name, "%s", json_string_value(json_object_get(def, "name")));
    for (char *p = name; *p; p++)
      *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    json_array_append_new(head, json_string(name));
  }
  if (header)
    json_array_append_new(rows, head);
  else
    json_decref(head);
  json_t *row;
  json_array_foreach(json_object_get(table, "rows"), i, row) {
    json_t *line = json_array();
    if (all_ns) {
      const char *ns = json_string_value(
          json_object_get(json_object_get(json_object_get(row, "object"), "metadata"), "namespace"));
      json_array_append_new(line, json_string(ns ? ns : ""));
    }
    size_t j;
    json_t *c;
    json_array_foreach(json_object_get(row, "cells"), j, c) {
      if (json_integer_value(json_object_get(json_array_get(defs, j), "priority")))
        continue;
      char text[256];
      cell_text(c, text, sizeof text);
      json_array_append_new(line, json_string(text));
    }
    json_array_append_new(rows, line);
  }
  return rows;
}

static void print_rows(const json_t *rows)
{
  size_t width[32] = {0}, i, j;
  json_t *row, *c;
  json_array_foreach(rows, i, row) json_array_foreach(row, j, c) if (j < 32 && json_string_length(c) > width[j])
      width[j] = json_string_length(c);
  json_array_foreach(rows, i, row) {
    size_t n = json_array_size(row);
    json_array_foreach(row, j, c) {
      if (j + 1 < n)
        printf("%-*s   ", (int)(j < 32 ? width[j] : 0), json_string_value(c));
      else
        printf("%s\n", json_string_value(c));
    }
  }
  fflush(stdout);
}

static json_t *fetch(const kube *k, const char *path, int *rc)
{
  json_t *t = NULL;
  int st = 0;
  *rc = kube_call(k, "GET", path, NULL, NULL, TABLE_ACCEPT, &t, &st);
  if (!*rc && st != 200) {
    fprintf(stderr, "lookout get: %s\n", kube_message(t));
    *rc = 1;
  }
  if (*rc) {
    json_decref(t);
    return NULL;
  }
  return t;
}

/* uid → resourceVersion of each row's object. */
static json_t *versions_of(const json_t *table)
{
  json_t *v = json_object();
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(table, "rows"), i, row) {
    const json_t *meta = json_object_get(json_object_get(row, "object"), "metadata");
    const char *uid = json_string_value(json_object_get(meta, "uid"));
    if (uid)
      json_object_set(v, uid, json_object_get(meta, "resourceVersion"));
  }
  return v;
}

static int watch(const kube *k, const char *path, json_t *seen)
{
  for (;;) {
    struct timespec pause = {WATCH_POLL_MS / 1000, (WATCH_POLL_MS % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    int rc;
    json_t *t = fetch(k, path, &rc);
    if (!t)
      return 1;
    json_t *now = versions_of(t);
    json_t *rows = json_object_get(t, "rows");
    for (size_t i = json_array_size(rows); i-- > 0;) {
      const json_t *meta = json_object_get(json_object_get(json_array_get(rows, i), "object"), "metadata");
      const char *uid = json_string_value(json_object_get(meta, "uid"));
      if (uid && json_equal(json_object_get(seen, uid), json_object_get(meta, "resourceVersion")))
        json_array_remove(rows, i);
    }
    json_t *lines = table_rows(t, k->all_ns, false);
    print_rows(lines);
    json_decref(lines);
    json_decref(seen);
    seen = now;
    json_decref(t);
  }
}

int cmd_get(int argc, char **argv)
{
  kube k = {0};
  const char *what = NULL;
  bool follow = false;
  for (int i = 1; i < argc; i++) {
    int taken = kube_flag(&k, argc, argv, &i);
    const char *a = argv[i];
    if (taken < 0) {
      usage(stderr);
      return 2;
    } else if (taken) {
      continue;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "-w") || !strcmp(a, "--watch")) {
      follow = true;
    } else if (!strcmp(a, "-A") || !strcmp(a, "--all-namespaces")) {
      k.all_ns = true;
    } else if (a[0] != '-' && !what) {
      what = a;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!what) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(what, "alerts") || !strcmp(what, "alert")) {
    fprintf(stderr, "lookout get alerts: not yet available in this build (alerting)\n");
    return 2;
  }
  const orch_resource *r = kube_resource(what);
  if (!r) {
    fprintf(stderr, "lookout get: the server doesn't have a resource type \"%s\"\n", what);
    return 2;
  }
  kube_init(&k);
  char path[512];
  kube_path(r, NULL, k.all_ns ? NULL : k.ns, path, sizeof path);
  int rc;
  json_t *t = fetch(&k, path, &rc);
  if (!t)
    return 1;
  if (!json_array_size(json_object_get(t, "rows")) && !follow)
    fprintf(stderr, "No resources found%s%s.\n", k.all_ns || !r->namespaced ? "" : " in namespace ",
            k.all_ns || !r->namespaced ? "" : k.ns);
  else {
    json_t *lines = table_rows(t, k.all_ns, true);
    print_rows(lines);
    json_decref(lines);
  }
  json_t *seen = versions_of(t);
  json_decref(t);
  if (follow)
    return watch(&k, path, seen);
  json_decref(seen);
  return 0;
}
