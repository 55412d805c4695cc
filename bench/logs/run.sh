#!/usr/bin/env bash
# bench/logs — log pipeline figures (bench_logs.c: push protobuf, push JSON,
# tailer, compression, searches beside `rg -c`), stored with the common
# header through bench/lib/results.py as bench/results/logs-<MB>mb.{json,txt}.
#
#   bench/logs/run.sh [--mb 1024] [--work DIR]     # needs rg (Debian: ripgrep)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mb=1024
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) mb=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
command -v rg >/dev/null || { echo "missing rg (apt-get install ripgrep)" >&2; exit 1; }
[ -f "$root/build/build.ninja" ] || meson setup "$root/build" "$root" --buildtype=release >/dev/null
ninja -C "$root/build" bench/logs/bench_logs >/dev/null
json=$(mktemp "${TMPDIR:-/tmp}/bench-logs.XXXXXX.json")
trap 'rm -f "$json"' EXIT
cd "$root"
python3 bench/lib/results.py run "logs-${mb}mb" --json-file "$json" --as "bench/logs/run.sh --mb $mb" -- \
  build/bench/logs/bench_logs --mb "$mb" "${args[@]}" --json "$json"
