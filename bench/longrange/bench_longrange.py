#!/usr/bin/env python3
"""bench_longrange.py — q7: bench/query's q1 and q2 over a 30-day range at a
1 h step, Lookout (rollups) beside VictoriaMetrics, cold, in one run; and
what the rollups cost on disk.

Dataset: gen_longrange (bench/longrange/gen_longrange.c) extends the series
of a short ../shared/bench/gen_dataset.py run (the seed) over HOURS at
INTERVAL seconds — 2,000 series × 30 days at 60 s ≈ 86 M samples by default
— in seconds instead of the hours the Python model takes.

Both peers ingest the same file through /api/v1/import/prometheus and flush
(bench/query's code, imported), then for each query: stop, start with every
cache off, wait until idle, drop the OS page cache, run the query once
(cold, as bench/query). COLD_RUNS (default 3) such runs per query; the
median is reported. Then one fresh start with caches on: one discarded
run and the median of REPEATS (warm).

Warm while ingesting ("live"): the warm runs again while remote_write keeps
adding samples after the range (bench/query/live_ingest.py).

Lookout answers rate(…[5m]) at a 1 h step from the 5-minute tails of the
hourly rollup records (each step's window is the last 5 m of an hour) and
max_over_time(…[1h]) from the hourly records themselves.
Disk: the data directory after the flush, and the bytes of the blocks'
rollup files within it.

Settings (environment): CONTAINERS HOURS INTERVAL SEED (default 200, 720,
60, 1), RUNS (default lookout:import,victoria-metrics:import), COLD_RUNS,
REPEATS (5), BENCH_WORK (keep/reuse the dataset there), LOOKOUT_BIN,
GEN_LONGRANGE. Writes bench/results/longrange-<shape>.{json,txt}.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "bench", "query"))
import bench_query as BQ  # noqa: E402  (its peers, restart/idle/page-cache and ingest code)
from results import Recorder  # noqa: E402

BP = BQ.BP
log = BP.log
ENV_KEYS = ("CONTAINERS", "HOURS", "INTERVAL", "SEED", "RUNS", "COLD_RUNS", "REPEATS", "BENCH_WORK",
            "LOOKOUT_BIN")
NAMES = ["q7_q1_sum_rate_cpu_30d", "q7_q2_max_mem_ns1_30d"]


class Lookout(BQ.Lookout):
    """bench/query's Lookout with a retention that keeps the whole dataset."""

    def command(self):
        cmd = BP.Lookout.command(self)
        cfg = os.path.join(self.workdir, "longrange.yaml")
        with open(cfg, "w") as f:
            # the 20 GB import outlasts the default 5 min request timeout on a loaded machine
            f.write("server:\n  request_timeout: 1h\nstorage:\n  retention: 3650d\n" +
                    ("" if self.cache else "  query_cache_size: 0\n"))
        return cmd + ["--config", cfg]


PEERS = {"lookout": Lookout, "victoria-metrics": BQ.VictoriaMetrics}


def queries(meta):
    start = -(-meta["min_ts_ms"] // 3600000) * 3600 + 3600  # the first whole hour with a full window
    end = meta["max_ts_ms"] // 3600000 * 3600
    rng = "/api/v1/query_range"
    return [
        (NAMES[0], rng, {"query": "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))",
                         "start": start, "end": end, "step": 3600}),
        (NAMES[1], rng, {"query": 'max_over_time(container_memory_working_set_bytes{namespace="ns-1"}[1h])',
                         "start": start, "end": end, "step": 3600}),
    ]


def ensure_dataset(work, shape, env):
    dataset = os.path.join(work, "dataset-%s.prom" % shape)
    if os.path.exists(dataset + ".meta.json"):
        return dataset
    seed = os.path.join(work, "seed-%sc-%ss-seed%s.prom" % (env["CONTAINERS"], env["INTERVAL"], env["SEED"]))
    log("generating the seed with gen_dataset.py, then " + shape)
    subprocess.run([sys.executable, os.path.join(BQ.SHARED, "gen_dataset.py"), "--containers", env["CONTAINERS"],
                    "--hours", "0.05", "--interval", env["INTERVAL"], "--seed", env["SEED"], "--out", seed],
                   check=True)
    gen = os.environ.get("GEN_LONGRANGE") or os.path.join(ROOT, "build", "bench", "gen_longrange")
    subprocess.run([gen, seed, env["HOURS"], env["INTERVAL"], dataset], check=True)
    return dataset


def rollup_bytes(data_dir):
    total = 0
    for d, _, files in os.walk(data_dir):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files if f == "rollup")
    return total


def run_peer(name, meta, qs, work, dataset, cold_runs, repeats):
    workdir = tempfile.mkdtemp(prefix="bench-longrange-%s-" % name, dir=work)
    peer = PEERS[name](workdir)
    info = {"peer": name, "path": "import", "caches": peer.cache_note}
    with BQ.peer_run(info, name, peer, workdir):
        info["version"] = peer.version()
        peer.start()
        log("%s: ingest" % name)
        info.update(BQ.ingest(peer, "import", meta, dataset, None, None))
        if name == "lookout":
            info["rollup_bytes"] = rollup_bytes(peer.data)
            raw = info["data_dir_bytes"] - info["rollup_bytes"]
            info["rollup_extra_disk"] = round(info["rollup_bytes"] / raw, 4) if raw else None
        info["cold"], info["page_cache_dropped"] = {}, True
        for qname, qpath, params in qs:
            runs = []
            for _ in range(cold_runs):
                dropped, _settle = BQ.restart(peer, cache=False, drop=True)
                info["page_cache_dropped"] &= dropped
                runs.append(BQ.one_query(peer.port, qpath, params))
            info["cold"][qname] = {"ms": statistics.median(r["ms"] for r in runs), "all_ms": [r["ms"] for r in runs],
                                   "series": runs[0]["series"], "points": runs[0]["points"]}
        log("%s: cold %s" % (name, " ".join("%.1f" % info["cold"][q]["ms"] for q, _, _ in qs)))
        BQ.restart(peer, cache=True, drop=False)
        BQ.warm_phases(info, name, peer, meta, dataset, qs, repeats)
    return info


def mismatches(results):
    out = []
    ok = [r for r in results if "cold" in r and len(r["cold"]) == len(NAMES)]
    for q in NAMES:
        seen = {(r["cold"][q]["series"], r["cold"][q]["points"]) for r in ok}
        if len(seen) > 1:
            out.append("%s: %s" % (q, ", ".join("%s %d series/%d points" % (
                r["peer"], r["cold"][q]["series"], r["cold"][q]["points"]) for r in ok)))
    return out


def table(doc):
    lines = ["dataset: %d series, %d samples, %s h at %s s; cold = median of %d first runs after a fresh start, "
             "caches off%s" % (doc["dataset"]["series"], doc["dataset"]["samples"], doc["dataset"]["hours"],
                               doc["dataset"]["interval"], doc["cold_runs"],
                               ", page cache dropped" if doc["page_cache_dropped"] else "")]
    lines.append("%-18s %-5s %14s %14s" % ("peer", "", "q7 q1 ms", "q7 q2 ms"))
    for kind, key, label in (("cold", "ms", "cold"), ("warm", "median_ms", "warm"), ("warm_ingest", "median_ms", "live")):
        for r in doc["results"]:
            if kind in r:
                lines.append("%-18s %-5s %14.1f %14.1f" % (r["peer"], label, r[kind][NAMES[0]][key],
                                                           r[kind][NAMES[1]][key]))
    for r in doc["results"]:
        if "rollup_bytes" in r:
            lines.append("lookout disk: %.1f MiB, of which rollups %.1f MiB (+%.1f %% over the raw blocks)" % (
                r["data_dir_bytes"] / 2**20, r["rollup_bytes"] / 2**20, 100 * r["rollup_extra_disk"]))
        if "error" in r:
            lines.append("%s: ERROR %s" % (r["peer"], r["error"][:200]))
    lines += ["MISMATCH " + m for m in doc["mismatches"]]
    return "\n".join(lines)


def main():
    env = {k: os.environ.get(k, d) for k, d in
           (("CONTAINERS", "200"), ("HOURS", "720"), ("INTERVAL", "60"), ("SEED", "1"))}
    runs = os.environ.get("RUNS", "lookout:import,victoria-metrics:import")
    cold_runs = int(os.environ.get("COLD_RUNS", "3"))
    repeats = int(os.environ.get("REPEATS", "5"))
    shape = "%sc-%sh-%ss-seed%s" % (env["CONTAINERS"], env["HOURS"], env["INTERVAL"], env["SEED"])
    rec = Recorder("longrange-" + shape, argv=["bench/longrange/run.sh"], env_keys=ENV_KEYS)
    if not os.environ.get("LOOKOUT_BIN"):
        os.environ["LOOKOUT_BIN"] = os.path.join(ROOT, "build", "lookout")
    work = os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="bench-longrange-")
    os.makedirs(work, exist_ok=True)
    try:
        dataset = ensure_dataset(work, shape, env)
        meta = json.load(open(dataset + ".meta.json"))
        qs = queries(meta)
        results = [run_peer(n, meta, qs, work, dataset, cold_runs, repeats)
                   for n, _ in (r.split(":", 1) for r in runs.split(",") if r)]
    finally:
        if not os.environ.get("BENCH_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    doc = {"dataset": {"series": meta["series"], "samples": meta["samples"], "hours": float(env["HOURS"]),
                       "interval": int(env["INTERVAL"]), "generator": "bench/longrange/gen_longrange.c"},
           "cold_runs": cold_runs, "repeats": repeats,
           "page_cache_dropped": all(r.get("page_cache_dropped") for r in results if "cold" in r),
           "queries": {q: {"path": p, "params": params} for q, p, params in qs},
           "results": results}
    doc["mismatches"] = mismatches(results)
    text = table(doc)
    print(text)
    print("results: " + rec.write(doc, text))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
