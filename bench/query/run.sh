#!/usr/bin/env bash
# bench/query — PromQL query latency of Lookout beside Prometheus and
# VictoriaMetrics on the same generated dataset (../shared/bench), in one run.
#
# Reuses ../shared/bench/run_peers.sh for everything but the query list: the
# dataset is generated (or reused), each peer is started on loopback, fed,
# flushed and read back, then bench_query.py times these queries, median of
# REPEATS (default 5) HTTP round trips each:
#   q1 sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))  24 h, step 60 s
#   q2 max_over_time(container_memory_working_set_bytes{namespace="ns-1"}[1h])  24 h, step 60 s
#   q3 one series over the last 24 h at the scrape step (query_range)
#   q4 the same series as raw samples (instant query of series[24h])
#   q5 topk(10, rate(container_cpu_usage_seconds_total[5m]))  over all containers, 24 h, step 60 s
# and prints a table with Lookout's ratio to the fastest peer per query.
#
# Settings (environment): CONTAINERS HOURS INTERVAL SEED (default 200, 24, 15, 1),
# RUNS (default lookout:import,prometheus:remote_write,victoria-metrics:import),
# BENCH_WORK (keep/reuse the dataset), REPEATS, LOOKOUT_BIN (default: a release
# build in build/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$(cd "$root/../shared" && pwd)

if [ -z "${LOOKOUT_BIN:-}" ]; then
  [ -f "$root/build/build.ninja" ] || meson setup "$root/build" "$root" --buildtype=release >/dev/null
  ninja -C "$root/build" lookout >/dev/null
  LOOKOUT_BIN="$root/build/lookout"
fi
export LOOKOUT_BIN
export RUNS=${RUNS:-lookout:import,prometheus:remote_write,victoria-metrics:import}
shape="${CONTAINERS:-200}c-${HOURS:-24}h-${INTERVAL:-15}s-seed${SEED:-1}"
mkdir -p "$root/bench/results"
export OUT=${OUT:-$root/bench/results/query-$shape.json}
# run_peers.sh runs "$PYTHON bench_peers.py ..."; the shim swaps in our query list.
export PYTHON="$here/py_shim.sh"
echo "[bench/query] dataset $shape; runs: $RUNS" >&2
rc=0
"$shared/bench/run_peers.sh" >/dev/null || rc=$?
python3 "$here/bench_query.py" --report "$OUT"
exit "$rc"
