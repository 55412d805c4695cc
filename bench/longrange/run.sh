#!/usr/bin/env bash
# bench/longrange — q7 (q1 and q2 of bench/query over 30 days at a 1 h step)
# of Lookout (rollups) beside VictoriaMetrics, cold, and the rollups' disk
# cost. Builds the release binary and gen_longrange, then runs
# bench_longrange.py (which says what it measures); result:
# bench/results/longrange-<shape>.{json,txt}. Run as root so the OS page
# cache can be dropped; wrap the measured run in `flock /work/notes/bench.lock`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

[ -f "$root/build/build.ninja" ] || meson setup "$root/build" "$root" --buildtype=release >/dev/null
ninja -C "$root/build" lookout bench/gen_longrange >/dev/null
command -v victoria-metrics >/dev/null || { echo "missing victoria-metrics (apt-get install victoria-metrics)" >&2; exit 1; }
cd "$root"
exec python3 bench/longrange/bench_longrange.py
