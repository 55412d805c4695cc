#!/usr/bin/env python3
"""bench_query.py — run ../shared/bench/bench_peers.py with Lookout's query
list (see run.sh), or print the query table of a results file.

  bench_query.py --harness PATH/bench_peers.py ARGS...   (called by py_shim.sh)
  bench_query.py --report RESULTS.json"""
import importlib.util
import json
import sys

NAMES = ["q1_sum_rate_cpu", "q2_max_mem_ns1", "q3_raw_series", "q4_raw_samples", "q5_topk_cpu"]


def queries_for(harness_queries_for):
    def patched(meta):
        qs = harness_queries_for(meta)
        start = meta["min_ts_ms"] // 1000
        end = -(-meta["max_ts_ms"] // 1000)
        qs.append(("q5_topk_cpu", "/api/v1/query_range",
                   {"query": "topk(10, rate(container_cpu_usage_seconds_total[5m]))",
                    "start": start, "end": end, "step": 60}))
        return qs
    return patched


def run_harness(path, args):
    spec = importlib.util.spec_from_file_location("bench_peers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.queries_for = queries_for(mod.queries_for)
    sys.argv = [path] + args
    return mod.main()


def report(path):
    doc = json.load(open(path))
    rows = [r for r in doc["results"] if "queries" in r]
    print("dataset: %d series, %d samples" % (doc["dataset"]["series"], doc["dataset"]["samples"]))
    head = "%-18s %-13s" % ("peer", "path") + "".join("%12s" % n[:2] + " ms" for n in NAMES)
    print(head)
    for r in rows:
        print("%-18s %-13s" % (r["peer"], r["path"]) +
              "".join("%15.1f" % r["queries"][n]["median_ms"] if n in r["queries"] else "%15s" % "-"
                      for n in NAMES))
    lk = [r for r in rows if r["peer"] == "lookout"]
    peers = [r for r in rows if r["peer"] != "lookout"]
    for r in lk:
        cells = []
        for n in NAMES:
            best = min((p["queries"][n]["median_ms"] for p in peers if n in p["queries"]), default=None)
            cells.append("%15s" % ("%.2fx" % (r["queries"][n]["median_ms"] / best) if best else "-"))
        print("%-32s" % "lookout / fastest peer" + "".join(cells))
    for r in doc["results"]:
        if "error" in r:
            print("%s %s: ERROR %s" % (r["peer"], r["path"], r["error"][:200]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--harness":
        sys.exit(run_harness(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        sys.exit(report(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
