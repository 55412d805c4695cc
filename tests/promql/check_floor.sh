#!/bin/sh
# Run the PromQL conformance scripts and fail if the number of passing evals
# dropped below the checked-in floor (tests/promql/floor.txt, only ever raised).
# Instant evals are also re-run in range mode (--cross-check).
# usage: check_floor.sh PROMQLTEST FLOOR_FILE TEST_DIR
set -u
runner=$1 floor_file=$2 dir=$3
floor=$(tr -dc '0-9' < "$floor_file")
out=$("$runner" --cross-check "$dir"/*.test)
summary=$(printf '%s\n' "$out" | tail -n 1)
passed=$(printf '%s\n' "$summary" | sed -n 's/^\([0-9][0-9]*\) passed, [0-9][0-9]* failed$/\1/p')
printf '%s\n' "$out" | grep -E '^(float evals|.*: float )' || true
if [ -z "$passed" ]; then
  echo "promqltest did not finish (no summary line): $summary"
  exit 1
fi
echo "passed $passed evals, floor $floor"
if [ "$passed" -lt "$floor" ]; then
  echo "FAIL: conformance pass count dropped below the floor"
  exit 1
fi
