#!/usr/bin/env python3
"""bench_query.py — PromQL query latency of Lookout beside Prometheus and
VictoriaMetrics on one generated dataset, cold and warm, in one run.

Peers are started, fed and flushed with ../shared/bench/bench_peers.py's own
code (loaded as a module, not copied), then for each peer:

  cold  for each query: stop the server, start it again with every cache
        off, wait until it is idle (no background compaction or merges), drop
        the OS page cache (as root; every side equally), run the query once. Lookout: `storage.query_cache_size: 0` in a config file;
        VictoriaMetrics: -search.disableCache; Prometheus has no result or
        sample cache to turn off.
  warm  one fresh start with every cache on (Lookout's defaults,
        VictoriaMetrics without -search.disableCache), idle as above; per
        query one discarded run, then the median of REPEATS (5).
  warm while ingesting (WARM_INGEST=1, the default): right after, the same
        runs while live_ingest.py keeps remote_write-ing the next scrapes of
        every series (after the queried range) to the peer, each timed run
        after one more acknowledged write — a warm server as it lives.

The dataset is gen_dataset.py's plus what gen_query_extra.py adds: cAdvisor's
`id` label on every container series and a classic histogram per (node,
namespace). Queries (q1-q4 are bench_peers.py's, q5, q6 and q8 are added here):
  q1 sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))  24 h, step 60 s
  q2 max_over_time(container_memory_working_set_bytes{namespace="ns-1"}[1h])  24 h, step 60 s
  q3 one series over the last 24 h at the scrape step (query_range)
  q4 the same series as raw samples (instant query of series[24h])
  q5 topk(10, rate(container_cpu_usage_seconds_total[5m]))  24 h, step 60 s
  q6 sum by (namespace) (rate(container_cpu_usage_seconds_total{id=~".*pod.*"}[5m]))  24 h, step 60 s
     (a regex over every series' cgroup path)
  q8 histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))  24 h, step 60 s

Settings (environment): CONTAINERS HOURS INTERVAL SEED (default 200, 24, 15, 1),
RUNS (default lookout:import,prometheus:remote_write,victoria-metrics:import),
REPEATS (5), BENCH_WORK (keep/reuse the dataset there), LOOKOUT_BIN, WARM_INGEST.
Writes bench/results/query-<shape>.{json,txt} through bench/lib/results.py.
"""
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, HERE)
import shared  # noqa: E402
from results import Recorder  # noqa: E402
import live_ingest  # noqa: E402

SHARED = shared.SHARED_BENCH

ENV_KEYS = ("CONTAINERS", "HOURS", "INTERVAL", "SEED", "RUNS", "REPEATS", "BENCH_WORK", "LOOKOUT_BIN",
            "WARM_INGEST")
NAMES = ["q1_sum_rate_cpu", "q2_max_mem_ns1", "q3_raw_series", "q4_raw_samples", "q5_topk_cpu",
         "q6_regex_cpu", "q8_hist_p99"]


BP = shared.load("bench_peers")
log = BP.log


class CacheToggle:
    """Mixin: `cache` says whether the next start runs with the peer's caches on."""
    cache = False


class Prometheus(CacheToggle, BP.Prometheus):
    cache_note = "no result or sample cache exists to turn off"


class VictoriaMetrics(CacheToggle, BP.VictoriaMetrics):
    cache_note = "cold: -search.disableCache; warm: without it (rollup result cache on)"

    def command(self):
        cmd = super().command()
        return [a for a in cmd if a != "-search.disableCache"] if self.cache else cmd


class Lookout(CacheToggle, BP.Lookout):
    cache_note = ("cold: storage.query_cache_size: 0 (config file); warm: the default 64 MiB "
                  "(decoded chunks, and a quarter for whole results)")
    ready_path = "/-/ready"  # not /api/v1/labels: readiness must not touch the index

    def command(self):
        cmd = super().command()
        if self.cache:
            return cmd
        cfg = os.path.join(self.workdir, "no-cache.yaml")
        with open(cfg, "w") as f:
            f.write("storage:\n  query_cache_size: 0\n")
        return cmd + ["--config", cfg]


PEERS = {"prometheus": Prometheus, "victoria-metrics": VictoriaMetrics, "lookout": Lookout}


def queries(meta):
    qs = BP.queries_for(meta)
    start = meta["min_ts_ms"] // 1000
    end = -(-meta["max_ts_ms"] // 1000)
    qs.append(("q5_topk_cpu", "/api/v1/query_range",
               {"query": "topk(10, rate(container_cpu_usage_seconds_total[5m]))",
                "start": start, "end": end, "step": 60}))
    qs.append(("q6_regex_cpu", "/api/v1/query_range",
               {"query": 'sum by (namespace) (rate(container_cpu_usage_seconds_total{id=~".*pod.*"}[5m]))',
                "start": start, "end": end, "step": 60}))
    qs.append(("q8_hist_p99", "/api/v1/query_range",
               {"query": "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
                "start": start, "end": end, "step": 60}))
    return qs


def drop_page_cache():
    """Drop the OS page cache; False when not allowed (not root)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def wait_idle(pid, quiet_s=3, busy_cpu_s=0.02, timeout_s=600):
    """Wait until the process has used less than busy_cpu_s of CPU in each of
    quiet_s consecutive seconds (Prometheus compacts blocks and
    VictoriaMetrics merges parts after a start); returns the seconds waited."""
    t0 = time.monotonic()
    quiet, last = 0, BP.proc_cpu_s(pid)
    while quiet < quiet_s:
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError("still busy after %d s" % timeout_s)
        time.sleep(1.0)
        now = BP.proc_cpu_s(pid)
        quiet = quiet + 1 if now - last < busy_cpu_s else 0
        last = now
    return round(time.monotonic() - t0, 1)


def restart(peer, cache, drop):
    """Stop and start the peer, wait until it is idle, then drop the page cache
    (when asked). Returns (page cache dropped, seconds it took to go idle)."""
    peer.stop()
    peer.cache = cache
    peer.start()
    settle = wait_idle(peer.proc.pid)
    return (drop_page_cache() if drop else False), settle


def one_query(port, path, params):
    r = BP.timed_query(port, path, params, 1)
    return {"ms": r["median_ms"], "series": r["series"], "points": r["points"]}


def ingest(peer, path, meta, dataset, bodies, bodies_info):
    info = {}
    if path == "import":
        secs, status, body = BP.ingest_import(peer.port, dataset)
        if status // 100 != 2:
            raise RuntimeError("import: HTTP %d %s" % (status, body[:300]))
    elif path == "remote_write":
        secs, r = BP.ingest_remote_write(peer.port, bodies, bodies_info["shards"])
        if r["err"]:
            raise RuntimeError("remote_write: " + r["err"])
    else:
        raise RuntimeError("unknown ingest path " + path)
    info["ingest_s"] = round(secs, 3)
    peer.flush(info)
    samples, series, _ = BP.read_back_counts(peer.port, meta)
    info.update(samples_stored=samples, series_stored=series)
    if samples != meta["samples"] or series != meta["series"]:
        raise RuntimeError("read back %d samples / %d series, dataset has %d / %d"
                           % (samples, series, meta["samples"], meta["series"]))
    return info


def run_peer(name, path, meta, qs, work, dataset, bodies, bodies_info, repeats):
    workdir = tempfile.mkdtemp(prefix="bench-query-%s-" % name, dir=work)
    peer = PEERS[name](workdir)
    info = {"peer": name, "path": path, "caches": peer.cache_note}
    with peer_run(info, name, peer, workdir):
        info["version"] = peer.version()
        peer.start()
        log("%s: ingest via %s" % (name, path))
        info.update(ingest(peer, path, meta, dataset, bodies, bodies_info))
        info["cold"], info["page_cache_dropped"], info["idle_after_start_s"] = {}, True, []
        for qname, qpath, params in qs:
            dropped, settle = restart(peer, cache=False, drop=True)
            info["page_cache_dropped"] &= dropped
            info["idle_after_start_s"].append(settle)
            info["cold"][qname] = one_query(peer.port, qpath, params)
        log("%s: cold %s" % (name, " ".join("%.1f" % info["cold"][q]["ms"] for q, _, _ in qs)))
        info["idle_after_start_s"].append(restart(peer, cache=True, drop=False)[1])
        warm_phases(info, name, peer, meta, dataset, qs, repeats)
    return info


@contextlib.contextmanager
def peer_run(info, name, peer, workdir):
    """Runs one peer's steps: a failure is recorded in the result (never hidden)
    and ends that peer's run; the peer is stopped and its directory removed."""
    try:
        yield
    except Exception as e:
        info["error"] = repr(e)
        info["log_tail"] = peer.log_tail()
        log("%s: FAILED %r" % (name, e))
    finally:
        peer.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def warm_phases(info, name, peer, meta, dataset, qs, repeats):
    """After a restart with caches on: each query once (discarded), then the
    median of REPEATS (warm); the same while remote_write keeps adding samples
    (WARM_INGEST=1, the default); then the peak RSS of the whole run."""
    info["warm"] = {}
    for qname, qpath, params in qs:
        first = one_query(peer.port, qpath, params)
        r = BP.timed_query(peer.port, qpath, params, repeats)
        info["warm"][qname] = {"median_ms": r["median_ms"], "all_ms": r["all_ms"],
                               "discarded_first_ms": first["ms"],
                               "series": r["series"], "points": r["points"]}
    log("%s: warm %s" % (name, " ".join("%.1f" % info["warm"][q]["median_ms"] for q, _, _ in qs)))
    if os.environ.get("WARM_INGEST", "1") == "1":
        info["warm_ingest"], info["warm_ingest_writes"] = live_ingest.warm_while_ingesting(
            BP, peer, meta, dataset, qs, repeats)
        log("%s: warm while ingesting %s" % (
            name, " ".join("%.1f" % info["warm_ingest"][q]["median_ms"] for q, _, _ in qs)))
    info["peak_rss_kb"] = BP.proc_status_kb(peer.proc.pid, "VmHWM")


def snappy_python():
    """An interpreter with python3-snappy, so remote_write bodies are really compressed."""
    for py in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([py, "-c", "import snappy"], capture_output=True).returncode == 0:
            return py
    return sys.executable


def ensure_dataset(work, shape, env):
    dataset = os.path.join(work, "dataset-%s.prom" % shape)
    if not os.path.exists(dataset + ".meta.json"):
        log("generating dataset " + shape)
        subprocess.run([sys.executable, os.path.join(SHARED, "gen_dataset.py"), "--containers", env["CONTAINERS"],
                        "--hours", env["HOURS"], "--interval", env["INTERVAL"], "--seed", env["SEED"],
                        "--out", dataset], check=True)
    base, dataset = dataset, os.path.join(work, "dataset-%s-q.prom" % shape)
    if not os.path.exists(dataset + ".meta.json"):
        log("adding the id label and the histograms (q6, q8)")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_query_extra.py"), base, dataset,
                        "--seed", env["SEED"]], check=True)
    bodies = dataset + ".rw-2sh-1sc-2000"
    if not os.path.exists(bodies + ".json"):
        log("encoding remote_write bodies")
        subprocess.run([snappy_python(), os.path.join(SHARED, "rw_encode.py"), dataset, "--out", bodies,
                        "--shards", "2", "--scrapes", "1", "--batch", "2000"], check=True)
    return dataset, bodies


def mismatches(results):
    """Queries whose returned series/point counts differ between peers (warm
    runs), or for one peer between warm and warm while ingesting (the samples
    written lie after every queried range)."""
    out = []
    ok = [r for r in results if "warm" in r]
    for q in NAMES:
        seen = {(r["warm"][q]["series"], r["warm"][q]["points"]) for r in ok if q in r["warm"]}
        if len(seen) > 1:
            out.append("%s: %s" % (q, ", ".join("%s %d series/%d points" % (r["peer"], r["warm"][q]["series"],
                                                                         r["warm"][q]["points"]) for r in ok)))
        for r in ok:
            live = r.get("warm_ingest", {}).get(q)
            if live and (live["series"], live["points"]) != (r["warm"][q]["series"], r["warm"][q]["points"]):
                out.append("%s: %s answered %d series/%d points while ingesting, %d/%d before" % (
                    q, r["peer"], live["series"], live["points"], r["warm"][q]["series"], r["warm"][q]["points"]))
    return out


def table(doc):
    rows = [r for r in doc["results"] if "warm" in r]
    lines = ["dataset: %d series, %d samples; cold = first run after a fresh start, caches off%s; "
             "warm = median of %d, caches on" % (doc["dataset"]["series"], doc["dataset"]["samples"],
                                                 ", page cache dropped" if doc["page_cache_dropped"] else "",
                                                 doc["repeats"])]
    head = "%-18s %-13s %-5s" % ("peer", "path", "") + "".join("%10s ms" % n[:2] for n in NAMES)
    lines.append(head)
    for kind, label in (("cold", "cold"), ("warm", "warm"), ("warm_ingest", "live")):
        for r in rows:
            if kind not in r:
                continue
            key = "ms" if kind == "cold" else "median_ms"
            lines.append("%-18s %-13s %-5s" % (r["peer"], r["path"], label) +
                         "".join("%13.1f" % r[kind][n][key] for n in NAMES))
    if any("warm_ingest" in r for r in rows):
        lines.append("live = warm while remote_write keeps adding samples after the queried range (live_ingest.py)")
        for r in rows:
            if "warm_ingest_writes" in r:
                lines.append("  %s: %s" % (r["peer"], json.dumps(r["warm_ingest_writes"])))
    for r in doc["results"]:
        if "error" in r:
            lines.append("%s %s: ERROR %s" % (r["peer"], r["path"], r["error"][:200]))
    lines += ["MISMATCH " + m for m in doc["mismatches"]]
    return "\n".join(lines)


def main():
    env = {k: os.environ.get(k, d) for k, d in
           (("CONTAINERS", "200"), ("HOURS", "24"), ("INTERVAL", "15"), ("SEED", "1"))}
    runs = os.environ.get("RUNS", "lookout:import,prometheus:remote_write,victoria-metrics:import")
    repeats = int(os.environ.get("REPEATS", "5"))
    shape = "%sc-%sh-%ss-seed%s" % (env["CONTAINERS"], env["HOURS"], env["INTERVAL"], env["SEED"])
    rec = Recorder("query-" + shape, argv=["bench/query/run.sh"], env_keys=ENV_KEYS)  # run.sh builds, then runs this
    if not os.environ.get("LOOKOUT_BIN"):
        os.environ["LOOKOUT_BIN"] = os.path.join(ROOT, "build", "lookout")
    work = os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="bench-query-")
    os.makedirs(work, exist_ok=True)
    try:
        dataset, bodies_path = ensure_dataset(work, shape, env)
        meta = json.load(open(dataset + ".meta.json"))
        pairs = [r.split(":", 1) for r in runs.split(",") if r]
        bodies = bodies_info = None
        if any(p == "remote_write" for _, p in pairs):
            bodies = BP.load_bodies(bodies_path)
            bodies_info = json.load(open(bodies_path + ".json"))
        qs = queries(meta)
        results = [run_peer(n, p, meta, qs, work, dataset, bodies, bodies_info, repeats) for n, p in pairs]
    finally:
        if not os.environ.get("BENCH_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    doc = {"dataset": {k: meta[k] for k in ("containers", "nodes", "series", "samples", "probe_series")},
           "repeats": repeats,
           "page_cache_dropped": all(r.get("page_cache_dropped") for r in results if "cold" in r),
           "queries": {q: {"path": p, "params": params} for q, p, params in qs},
           "results": results}
    doc["mismatches"] = mismatches(results)
    text = table(doc)
    print(text)
    print("results: " + rec.write(doc, text))
    return 1 if any("error" in r for r in results) else 0  # mismatches are in the table


if __name__ == "__main__":
    sys.exit(main())
