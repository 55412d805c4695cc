#!/usr/bin/env bash
# bench/cardinality/run.sh — 1 M series through remote_write into Lookout and
# VictoriaMetrics in one run, then the cardinality explorer's query (q9);
# see bench_cardinality.py. Builds the release binary first; prefers an
# interpreter with python3-snappy so the bodies are really compressed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >/dev/null
fi
ninja -C build lookout >/dev/null
export LOOKOUT_BIN="$root/build/lookout"
py=python3
for cand in $(type -ap python3); do
  if "$cand" -c 'import snappy' 2>/dev/null; then py=$cand; break; fi
done
exec "$py" bench/cardinality/bench_cardinality.py "$@"
