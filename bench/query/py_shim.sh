#!/bin/sh
# Python for ../shared/bench/run_peers.sh: bench_peers.py runs through
# bench_query.py (same harness, our query list); anything else runs as is.
case "$1" in
  */bench_peers.py) script=$1; shift; exec python3 "$(dirname "$0")/bench_query.py" --harness "$script" "$@" ;;
  *) exec python3 "$@" ;;
esac
