/* am_send.c — test driver standing in for the rule engine: opens the
 * notifier with a Lookout config, hands it one batch of alerts through
 * alerting_am_send (the alerting_send_fn the rule engine will call), and
 * closes it, which lets the forwarder send its queue to the configured
 * Alertmanagers first. Used by tests/integration/alertmanager_tools.py.
 *
 * usage: am_send CONFIG DATA_DIR ALERTS_JSON
 * ALERTS_JSON: [{"labels": {…}, "annotations": {…}, "startsAt": ms,
 *                "endsAt": ms, "generatorURL": "…"}, …]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "alerting/alerting.h"
#include "lib/lk_time.h"

/* Label sets from a JSON object, sorted (the alerting_alert contract). */
static lk_label *labels(json_t *o, size_t *n)
{
  *n = json_object_size(o);
  lk_label *v = calloc(*n + 1, sizeof *v);
  const char *k;
  json_t *val;
  size_t i = 0;
  json_object_foreach(o, k, val) v[i++] = (lk_label){k, json_string_value(val)};
  lk_labels_sort(v, *n);
  return v;
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: am_send CONFIG DATA_DIR ALERTS_JSON\n");
    return 2;
  }
  json_error_t e;
  json_t *arr = json_loads(argv[3], 0, &e);
  if (!json_is_array(arr)) {
    fprintf(stderr, "am_send: bad alerts JSON: %s\n", e.text);
    return 2;
  }
  alerting_am_opts o = {.config_path = argv[1], .data_dir = argv[2], .external_url = "http://lookout:9470"};
  alerting_am *am = NULL;
  lk_diag d = {0};
  if (alerting_am_open(&o, &am, &d)) {
    fprintf(stderr, "am_send: %s\n", d.msg);
    json_decref(arr);
    return 1;
  }
  size_t n = json_array_size(arr);
  alerting_alert *alerts = calloc(n + 1, sizeof *alerts);
  for (size_t i = 0; i < n; i++) {
    json_t *a = json_array_get(arr, i);
    alerts[i].labels = labels(json_object_get(a, "labels"), &alerts[i].nlabels);
    alerts[i].annotations = labels(json_object_get(a, "annotations"), &alerts[i].nannotations);
    alerts[i].starts_at_ms = json_integer_value(json_object_get(a, "startsAt"));
    alerts[i].ends_at_ms = json_integer_value(json_object_get(a, "endsAt"));
    alerts[i].generator_url = json_string_value(json_object_get(a, "generatorURL"));
  }
  alerting_send_fn send = alerting_am_send;
  send(am, alerts, n, lk_now_ms());
  alerting_am_close(am);
  for (size_t i = 0; i < n; i++) {
    free((void *)alerts[i].labels);
    free((void *)alerts[i].annotations);
  }
  free(alerts);
  json_decref(arr);
  return 0;
}
