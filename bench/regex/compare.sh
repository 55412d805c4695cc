#!/usr/bin/env bash
# compare.sh — bench_regex on a BEFORE tree and on this tree, release builds,
# in one run; writes bench/results/regex-<date>.json (+ .txt with the output).
# The two binaries alternate for ROUNDS rounds (default 3) and each figure is
# the median over rounds, so load from other work on the machine hits both.
# The bench source is copied into BEFORE (a scratch checkout, e.g.
# `git worktree add --detach ../wt-before main`) so both builds run the same code.
#
# usage: bench/regex/compare.sh BEFORE_TREE [bench_regex args, e.g. --reps 16 --runs 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
before=$(cd "${1:?usage: compare.sh BEFORE_TREE [args]}" && pwd)
shift

build_bench() { # tree
  local t=$1
  [ -f "$t/build/build.ninja" ] || meson setup "$t/build" "$t" --buildtype=release >/dev/null
  ninja -C "$t/build" bench/regex/bench_regex >/dev/null
}

mkdir -p "$before/bench/regex"
cp bench/regex/bench_regex.c bench/regex/meson.build "$before/bench/regex/"
grep -q "subdir('regex')" "$before/bench/meson.build" || echo "subdir('regex')" >>"$before/bench/meson.build"
build_bench "$before"
build_bench "$root"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rounds=${ROUNDS:-3}
: >"$tmp/out.txt"
for r in $(seq 1 "$rounds"); do
  "$before/build/bench/regex/bench_regex" --label before --json "$tmp/before-$r.json" "$@" | tee -a "$tmp/out.txt"
  "$root/build/bench/regex/bench_regex" --label after --json "$tmp/after-$r.json" "$@" | tee -a "$tmp/out.txt"
done

day=$(date -u +%Y%m%d)
out="bench/results/regex-$day"
python3 - "$tmp" "$out.json" "$before" "$root" "ROUNDS=$rounds bench/regex/compare.sh $*" "$rounds" <<'PY'
import json, os, platform, statistics, subprocess, sys, datetime
tmp, out, before, after, command, rounds = sys.argv[1:7]
def merged(label):
    runs = [json.load(open(os.path.join(tmp, f"{label}-{r}.json"))) for r in range(1, int(rounds) + 1)]
    doc = dict(runs[0])
    for key, field in (("log_filters", "ms"), ("tsdb_selectors", "us")):
        for i, row in enumerate(doc[key]):
            per = [run[key][i][field] for run in runs]
            row[field] = statistics.median(per)
            row[field + "_rounds"] = per
            if field == "ms":
                row["mb_per_s"] = round(doc["log_corpus_bytes"] / 1e6 / (row["ms"] / 1e3), 1)
    doc["rounds"] = len(runs)
    return doc
def commit(tree):
    return subprocess.run(["git", "-C", tree, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
doc = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "command": command,
    "machine": {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "mem_total_kb": mem},
    "build": "meson --buildtype=release",
    "before": dict(merged("before"), commit=commit(before),
                   engine="POSIX regcomp (glibc) after RE2-to-ERE translation"),
    "after": dict(merged("after"), commit=commit(after),
                  engine="RE2 (libre2 20220601)"),
}
json.dump(doc, open(out, "w"), indent=1)
PY
cp "$tmp/out.txt" "$out.txt"
echo "wrote $out.json"
