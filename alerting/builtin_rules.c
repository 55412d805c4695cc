/* builtin_rules.c — Lookout's own health as a Prometheus rule file, built
 * into the binary. The server writes it to <data>/rules/ and loads it beside
 * rule_files unless `builtin_rules: false` (so the API lists it under a real
 * file name and `promtool check rules` can read the same bytes; the test
 * tests/alerting/builtin_rules.sh does).
 *
 * The rules read Lookout's own metrics, which the rule manager scrapes into
 * this group's in-memory store before each evaluation (job="lookout",
 * selfmon.c): lookout_tsdb_wal_errors_total,
 * lookout_data_filesystem_{avail,size}_bytes,
 * lookout_rule_evaluation_failures_total, lookout_notifications_pending (the
 * durable webhook queue) and lookout_notifier_queue_length (alerts waiting
 * for a real Alertmanager), both from alerting/am_api.c, and the collector's
 * lookout_collector_*_errors_total as the tsdb holds them (`lookout up`'s
 * own collector, or agents).
 */
#include "alerting/alerting.h"

static const char builtin[] =
    "# Lookout's own health (built in; switch off with `builtin_rules: false`).\n"
    "groups:\n"
    "  - name: lookout-health\n"
    "    rules:\n"
    "      - alert: LookoutWALErrors\n"
    "        expr: increase(lookout_tsdb_wal_errors_total[5m]) > 0\n"
    "        labels:\n"
    "          severity: critical\n"
    "        annotations:\n"
    "          summary: 'Lookout cannot write its write-ahead log'\n"
    "          description: '{{ $value | humanize }} WAL writes or syncs failed in the last 5 minutes on "
    "{{ $labels.instance }}; samples are being refused.'\n"
    "      - alert: LookoutDiskNearlyFull\n"
    "        expr: lookout_data_filesystem_avail_bytes / lookout_data_filesystem_size_bytes < 0.1\n"
    "        for: 5m\n"
    "        labels:\n"
    "          severity: warning\n"
    "        annotations:\n"
    "          summary: 'Lookout data disk nearly full'\n"
    "          description: 'Only {{ $value | humanizePercentage }} of the filesystem holding the data "
    "directory is free on {{ $labels.instance }}.'\n"
    "      - alert: LookoutDiskFull\n"
    "        expr: lookout_data_filesystem_avail_bytes / lookout_data_filesystem_size_bytes < 0.02\n"
    "        for: 1m\n"
    "        labels:\n"
    "          severity: critical\n"
    "        annotations:\n"
    "          summary: 'Lookout data disk full'\n"
    "          description: '{{ $value | humanizePercentage }} free on {{ $labels.instance }}; writes will "
    "fail.'\n"
    "      - alert: LookoutNotificationQueueBackingUp\n"
    "        expr: lookout_notifications_pending > 1000 or lookout_notifier_queue_length > 1000\n"
    "        for: 10m\n"
    "        labels:\n"
    "          severity: warning\n"
    "        annotations:\n"
    "          summary: 'Lookout notifications are not being delivered'\n"
    "          description: '{{ $value | humanize }} notifications or alerts wait in a queue on "
    "{{ $labels.instance }}.'\n"
    "      - alert: LookoutCollectorErrors\n"
    "        expr: >-\n"
    "          increase(lookout_collector_read_errors_total[10m]) +\n"
    "          increase(lookout_collector_parse_errors_total[10m]) +\n"
    "          increase(lookout_collector_sink_errors_total[10m]) > 0\n"
    "        for: 10m\n"
    "        labels:\n"
    "          severity: warning\n"
    "        annotations:\n"
    "          summary: 'The Lookout collector keeps failing'\n"
    "          description: '{{ $value | humanize }} collector errors (unreadable or malformed cgroup "
    "files, storage refusals) in the last 10 minutes.'\n"
    "      - alert: LookoutRuleEvaluationFailures\n"
    "        expr: increase(lookout_rule_evaluation_failures_total[5m]) > 0\n"
    "        labels:\n"
    "          severity: warning\n"
    "        annotations:\n"
    "          summary: 'Lookout rules fail to evaluate'\n"
    "          description: 'Rule group {{ $labels.rule_group }} had {{ $value | humanize }} failed "
    "evaluations in the last 5 minutes.'\n";

const char *alerting_builtin_rules(void) { return builtin; }
