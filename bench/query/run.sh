#!/usr/bin/env bash
# bench/query — PromQL query latency, cold and warm, of Lookout beside
# Prometheus and VictoriaMetrics on one generated dataset (../shared/bench),
# in one run. Builds the release binary, then runs bench_query.py (which
# says what cold and warm mean); result: bench/results/query-<shape>.{json,txt}.
#
# Settings (environment): CONTAINERS HOURS INTERVAL SEED (default 200, 24, 15, 1),
# RUNS (default lookout:import,prometheus:remote_write,victoria-metrics:import),
# BENCH_WORK (keep/reuse the dataset), REPEATS, LOOKOUT_BIN (default: a release
# build in build/). Run as root so the OS page cache can be dropped for cold runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -z "${LOOKOUT_BIN:-}" ]; then
  [ -f "$root/build/build.ninja" ] || meson setup "$root/build" "$root" --buildtype=release >/dev/null
  ninja -C "$root/build" lookout >/dev/null   # bench_query.py's default LOOKOUT_BIN
fi
for bin in prometheus victoria-metrics; do
  command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install prometheus victoria-metrics)" >&2; exit 1; }
done
cd "$root"
exec python3 bench/query/bench_query.py
