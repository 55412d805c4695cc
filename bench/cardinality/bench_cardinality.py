#!/usr/bin/env python3
"""bench_cardinality.py — many series, few samples: Lookout beside VictoriaMetrics.

Generates SERIES series (default 1,000,000) with the label shapes of a
Kubernetes cluster scraped by cAdvisor/kube-state-metrics (a few hundred
metric names; namespace, pod, container, node, instance, job labels), one
sample each, encodes them once as Prometheus remote_write bodies (protobuf +
snappy, 2,000 series per request, 2 connections; ../shared/bench/rw_encode.py's
encoding) and, in the same run, pushes the same bytes to each peer started on
127.0.0.1 with a fresh data dir. Per peer it reports the ingest (series/s, the
server's CPU seconds, peak RSS = VmHWM at the end of the ingest, and again
after the flush that makes everything durable and searchable: VictoriaMetrics
/internal/force_flush + force_merge, Lookout /api/v1/admin/flush) and q9, the
cardinality explorer's instant query
`count by (__name__)({__name__=~".+"})`:
  cold: the first q9 after a restart with every cache off (VictoriaMetrics
        -search.disableCache, Lookout storage.query_cache_size 0);
  warm: median of REPEATS q9 after one priming q9, restarted with every
        cache on (both sides' defaults).
Both peers must give the same answer (same names, same counts); a differing
answer is an error in the result file.

Writes bench/results/cardinality-<N>.{json,txt} through bench/lib/results.py.
Settings (environment): SERIES, REPEATS (5), BENCH_WORK (keep the encoded
bodies there for reuse), PEERS (victoria-metrics,lookout), LOOKOUT_BIN.
"""
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import results  # noqa: E402
import shared  # noqa: E402

peers = shared.load("bench_peers")
rw = shared.load("rw_encode")

NAMES = 250            # metric names
SERIES_PER_POD = NAMES  # every pod exposes every name once
NAMESPACES = 100
NODES = 400
BATCH = 2000
SHARDS = 2
Q9 = 'count by (__name__)({__name__=~".+"})'
FAMILIES = ["container_cpu", "container_memory", "container_fs", "container_network", "kube_pod",
            "kube_deployment", "node_disk", "node_network", "process", "http_server"]
THINGS = ["usage", "limit", "requests", "reads", "writes", "errors", "drops", "bytes", "packets",
          "seconds", "cache", "rss", "swap", "inodes", "failures", "restarts", "status", "info",
          "duration", "size", "active", "waiting", "open", "max", "ratio"]


def metric_names():
    out = []
    for f in FAMILIES:
        for t in THINGS:
            out.append("%s_%s_total" % (f, t) if len(out) % 3 == 0 else "%s_%s" % (f, t))
    return out[:NAMES]


def pod_labels(p, rnd):
    deploy = "svc-%d" % (p // 4)
    return [("container", deploy), ("instance", "10.%d.%d.%d:10250" % (p // 65536, (p // 256) % 256, p % 256)),
            ("job", "kubernetes-cadvisor"), ("namespace", "ns-%d" % (p // 4 % NAMESPACES)),
            ("node", "node-%d" % (p % NODES)),
            ("pod", "%s-%08x-%05x" % (deploy, rnd.getrandbits(32), rnd.getrandbits(20)))]


def encode(path, nseries, ts_ms):
    """Write the remote_write records (bench_peers' file format) and FILE.json."""
    rnd = random.Random(1)
    names = metric_names()
    sample_tail = b"\x10" + rw.varint(ts_ms)
    requests, body_bytes, parts, shard = 0, 0, [], 0
    with open(path + ".tmp", "wb") as out:
        def emit():
            nonlocal requests, body_bytes, parts, shard
            comp = rw.compress(b"".join(parts))
            out.write(rw.RECORD.pack(0, shard, len(parts), len(comp)))
            out.write(comp)
            requests += 1
            body_bytes += len(comp)
            parts, shard = [], (shard + 1) % SHARDS
        for p in range(-(-nseries // SERIES_PER_POD)):
            common = pod_labels(p, rnd)
            for m in range(min(SERIES_PER_POD, nseries - p * SERIES_PER_POD)):
                ls = sorted(common + [("__name__", names[m])])
                lb = b"".join(rw.field_bytes(0x0A, rw.field_bytes(0x0A, k.encode()) + rw.field_bytes(0x12, v.encode()))
                              for k, v in ls)
                sample = rw.SAMPLE_HEAD.pack(0x09, rnd.random() * 1000, 0x10)[:-1] + sample_tail
                msg = lb + b"\x12" + rw.varint(len(sample)) + sample
                parts.append(b"\x0a" + rw.varint(len(msg)) + msg)
                if len(parts) == BATCH:
                    emit()
        if parts:
            emit()
    os.rename(path + ".tmp", path)
    info = {"series": nseries, "samples": nseries, "timestamp_ms": ts_ms, "names": min(NAMES, nseries),
            "requests": requests, "body_bytes": body_bytes, "shards": SHARDS, "max_batch": BATCH,
            "snappy": rw.SNAPPY}
    with open(path + ".json", "w") as f:
        json.dump(info, f)
    return info


def bodies_for(work, nseries):
    path = os.path.join(work, "cardinality-%d.rw" % nseries)
    if os.path.exists(path + ".json") and os.path.exists(path):
        peers.log("reusing " + path)
        return path, json.load(open(path + ".json"))
    peers.log("encoding %d series into %s" % (nseries, path))
    t0 = time.perf_counter()
    info = encode(path, nseries, (int(time.time()) - 600) * 1000)
    peers.log("encoded in %.0f s, %d requests, %.1f MB" % (time.perf_counter() - t0, info["requests"],
                                                           info["body_bytes"] / 1e6))
    return path, info


class VM(peers.VictoriaMetrics):
    caches = False

    def command(self):
        # q9 touches every series: lift the 300,000-series default of one query
        cmd = super().command() + ["-search.maxUniqueTimeseries=10000000",
                                   "-search.maxQueryDuration=600s"]
        return cmd if not self.caches else [a for a in cmd if a != "-search.disableCache"]


class Lookout(peers.Lookout):
    caches = False

    def command(self):
        cfg = os.path.join(self.workdir, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write("storage:\n  retention: 3650d\n  query_cache_size: %s\n" % ("64MiB" if self.caches else "0"))
        return super().command() + ["--config", cfg]


PEER_CLASSES = {"victoria-metrics": VM, "lookout": Lookout}


def q9(port, t_s):
    t0 = time.perf_counter()
    status, body = peers.http_call(port, "GET", "/api/v1/query?" + urllib.parse.urlencode({"query": Q9, "time": t_s}))
    secs = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError("q9 -> %d %s" % (status, body[:300]))
    res = json.loads(body)["data"]["result"]
    return secs * 1000, {r["metric"].get("__name__", ""): int(float(r["value"][1])) for r in res}


def restart(peer, caches):
    peer.stop()
    peer.caches = caches
    peer.start()


def run_peer(name, path, info, work, repeats):
    r = {"peer": name}
    workdir = tempfile.mkdtemp(prefix="card-%s-" % name, dir=work)
    peer = PEER_CLASSES[name](workdir)
    t_s = info["timestamp_ms"] // 1000 + 1
    try:
        r["version"] = peer.version()
        peer.start()
        cpu0 = peers.proc_cpu_s(peer.proc.pid)
        secs, res = peers.ingest_remote_write(peer.port, peers.load_bodies(path), SHARDS)
        if res["err"] or res["bad"]:
            raise RuntimeError("ingest: %s (%d series refused)" % (res["err"], res["bad"]))
        r["ingest_s"] = round(secs, 3)
        r["ingest_cpu_s"] = round(peers.proc_cpu_s(peer.proc.pid) - cpu0, 2)
        r["series_per_s"] = round(info["series"] / secs)
        r["peak_rss_ingest_kb"] = peers.proc_status_kb(peer.proc.pid, "VmHWM")
        r["rss_after_ingest_kb"] = peers.proc_status_kb(peer.proc.pid, "VmRSS")
        peers.log("%s: %d series in %.1f s (%.0f/s), CPU %.1f s, peak RSS %.0f MiB" % (
            name, info["series"], secs, r["series_per_s"], r["ingest_cpu_s"], r["peak_rss_ingest_kb"] / 1024))
        peer.flush({})
        r["peak_rss_kb"] = peers.proc_status_kb(peer.proc.pid, "VmHWM")
        restart(peer, caches=False)
        r["q9_cold_ms"], answer = q9(peer.port, t_s)
        r["q9_cold_ms"] = round(r["q9_cold_ms"], 1)
        if sum(answer.values()) != info["series"]:
            raise RuntimeError("q9 counts %d series, %d were sent" % (sum(answer.values()), info["series"]))
        restart(peer, caches=True)
        q9(peer.port, t_s)
        warm = [q9(peer.port, t_s)[0] for _ in range(repeats)]
        r["q9_warm_ms"] = round(statistics.median(warm), 1)
        r["q9_warm_all_ms"] = [round(x, 1) for x in warm]
        r["q9_peak_rss_kb"] = peers.proc_status_kb(peer.proc.pid, "VmHWM")
        r["q9_names"] = len(answer)
        r["q9_series"] = sum(answer.values())
        r["q9_answer"] = answer
        peers.log("%s: q9 cold %.1f ms, warm %.1f ms, %d names / %d series" % (
            name, r["q9_cold_ms"], r["q9_warm_ms"], r["q9_names"], r["q9_series"]))
    except Exception as e:
        r["error"] = repr(e)
        r["log_tail"] = peer.log_tail()
        peers.log("%s: FAILED %r" % (name, e))
    finally:
        peer.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return r


def table(rows):
    head = ["peer", "series", "ingest s", "series/s", "CPU s", "peak RSS MiB", "+flush", "q9 cold ms", "q9 warm ms"]
    lines = ["  ".join(head)]
    for r in rows:
        if "error" in r:
            lines.append("%s  ERROR %s" % (r["peer"], r["error"][:100]))
            continue
        lines.append("  ".join([r["peer"], str(r["q9_series"]), "%.1f" % r["ingest_s"], "{:,}".format(r["series_per_s"]),
                                "%.1f" % r["ingest_cpu_s"], "%.0f" % (r["peak_rss_ingest_kb"] / 1024),
                                "%.0f" % (r["peak_rss_kb"] / 1024),
                                "%.1f" % r["q9_cold_ms"], "%.1f" % r["q9_warm_ms"]]))
    by = {r["peer"]: r for r in rows if "error" not in r}
    if "lookout" in by and "victoria-metrics" in by:
        lk, vm = by["lookout"], by["victoria-metrics"]
        lines.append("lookout / victoria-metrics: series/s %.2fx, peak RSS %.2fx, q9 cold %.2fx, q9 warm %.2fx" % (
            lk["series_per_s"] / vm["series_per_s"], lk["peak_rss_ingest_kb"] / vm["peak_rss_ingest_kb"],
            lk["q9_cold_ms"] / vm["q9_cold_ms"], lk["q9_warm_ms"] / vm["q9_warm_ms"]))
    return "\n".join(lines)


def on_term(signum, frame):
    raise KeyboardInterrupt  # unwinds through run_peer, which stops the peer


def main():
    signal.signal(signal.SIGTERM, on_term)
    nseries = int(os.environ.get("SERIES", "1000000"))
    repeats = int(os.environ.get("REPEATS", "5"))
    names = os.environ.get("PEERS", "victoria-metrics,lookout").split(",")
    label = "1m" if nseries == 1000000 else str(nseries)
    rec = results.Recorder("cardinality-" + label, env_keys=("SERIES", "REPEATS", "PEERS"))
    own = not os.environ.get("BENCH_WORK")
    work = tempfile.mkdtemp(prefix="bench-card-") if own else os.environ["BENCH_WORK"]
    os.makedirs(work, exist_ok=True)
    try:
        path, info = bodies_for(work, nseries)
        rows = [run_peer(n, path, info, work, repeats) for n in names]
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    answers = {r["peer"]: r.get("q9_answer") for r in rows if "error" not in r}
    if len({json.dumps(a, sort_keys=True) for a in answers.values()}) > 1:
        for r in rows:
            r.setdefault("error", "q9 answers differ between peers")
    for r in rows:
        r.pop("q9_answer", None)
    text = table(rows)
    print(text)
    rec.write({"dataset": info, "query": Q9, "repeats": repeats, "results": rows}, text)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
