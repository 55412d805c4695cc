#!/usr/bin/env python3
"""soak.py — hours-long behaviour in minutes-long runs: `lookout up`
collecting this node every second, a remote_write client at a steady rate,
a Loki push client, and several query clients (PromQL and LogQL, instant and
range) against one server for DURATION. Every 10 s it samples the server's
RSS, open file descriptors and malloc's bytes in use (`/metrics`,
`lookout_malloc_in_use_bytes`); at the end it reports their slopes (least
squares over the run after a warm-up third), the request errors, and the
query latency p50/p99, and fails on any error or a growth that is not flat.
RSS moves by tens of MiB with each query and compaction (pooled query
slabs, malloc's free pages), so "flat" compares medians: the second half of
the steady part against the first half.
Not in the default test run (scripts/soak runs it; README).

usage: soak.py LOOKOUT_EXE DURATION [--result NAME]   (DURATION: 90s, 30m, 2h)
"""
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
from lkt import free_port, http, remote_write, wait_for, workdir  # noqa: E402

SERIES = 1000          # remote_write: one sample per series per second
LINES = 100            # Loki push: lines per second
QUERY_CLIENTS = 4
FIXTURE_CGROUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "cgroup", "v2")
SAMPLE_EVERY = 10.0    # seconds between RSS/fd samples
QUERIES = [
    ("promql", "sum(rate(soak_requests_total[1m]))"),
    ("promql", "topk(5, soak_requests_total)"),
    ("promql", "sum by (namespace) (rate(container_cpu_usage_seconds_total[1m]))"),
    ("promql", "max_over_time(process_resident_memory_bytes[5m])"),
    ("logql", '{app="soak"} |= "id=7"'),
    ("logql", 'sum by (level) (count_over_time({app="soak"}[1m]))'),
]


def parse_duration(s):
    m = re.fullmatch(r"(\d+)([smh])", s)
    if not m:
        raise SystemExit(f"bad duration {s!r} (use e.g. 90s, 30m, 2h)")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class Soak:
    def __init__(self, server, seconds):
        self.srv, self.until = server, time.time() + seconds
        self.errors, self.latency, self.lock = [], {"promql": [], "logql": []}, threading.Lock()
        self.sent_samples = self.sent_lines = 0

    def running(self):
        return time.time() < self.until

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def paced(self, period, fn):
        """Calls fn every period seconds until the end; a slow call is not made up for."""
        nxt = time.time()
        while self.running():
            try:
                fn()
            except Exception as e:  # a refused or broken request is an error of the run
                self.error(f"{fn.__name__}: {e!r}")
            nxt += period
            time.sleep(max(0, nxt - time.time()))

    def write_metrics(self):
        t = int(time.time() * 1000)
        series = [({"__name__": "soak_requests_total", "i": str(i), "namespace": f"ns-{i % 10}"},
                   [(t, float(t // 1000 * (i + 1)))]) for i in range(SERIES)]
        st, body = remote_write(self.srv.base, series)
        if st != 204 and st != 200:
            self.error(f"remote_write {st}: {body[:200]!r}")
        else:
            self.sent_samples += SERIES

    def push_logs(self):
        now = time.time_ns()
        values = [[str(now + k), f"level={'error' if k % 10 == 0 else 'info'} id={k} msg=\"soak line\""]
                  for k in range(LINES)]
        body = json.dumps({"streams": [{"stream": {"app": "soak", "level": "mixed"}, "values": values}]})
        st, resp = http("POST", self.srv.base + "/loki/api/v1/push", body.encode(),
                        {"Content-Type": "application/json"})
        if st != 204:
            self.error(f"loki push {st}: {resp[:200]!r}")
        else:
            self.sent_lines += LINES

    def query_once(self, rng):
        kind, q = rng.choice(QUERIES)
        end = time.time()
        args = {"query": q, "start": end - 300, "end": end, "step": 15} if rng.random() < 0.5 \
            else {"query": q, "time": end}
        path = "/api/v1/query_range" if "step" in args else "/api/v1/query"
        if kind == "logql":
            path = "/loki" + path
            if "step" in args:
                args.update(start=int(args["start"] * 1e9), end=int(end * 1e9), limit=100)
            else:
                args.update(time=int(end * 1e9), limit=100)
        t0 = time.perf_counter()
        st, body = http("GET", self.srv.base + path + "?" + urllib.parse.urlencode(args), timeout=30)
        ms = (time.perf_counter() - t0) * 1000
        if st != 200:
            self.error(f"{kind} {q} {st}: {body[:200]!r}")
        with self.lock:
            self.latency[kind].append(ms)

    def query_client(self, seed):
        rng = random.Random(seed)
        while self.running():
            try:
                self.query_once(rng)
            except Exception as e:
                self.error(f"query: {e!r}")
            time.sleep(rng.uniform(0.1, 0.5))


def process_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def heap_in_use_mib(base):
    st, body = http("GET", base + "/metrics")
    if st != 200:
        raise RuntimeError(f"/metrics {st}")
    m = re.search(rb"^lookout_malloc_in_use_bytes (\S+)$", body, re.M)
    if not m:
        raise RuntimeError("/metrics has no lookout_malloc_in_use_bytes")
    return float(m.group(1)) / (1 << 20)


def half_medians(values):
    """Medians of the first and the second half of values."""
    h = len(values) // 2
    return statistics.median(values[:h]), statistics.median(values[h:])


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    exe, seconds = sys.argv[1], parse_duration(sys.argv[2])
    result_name = sys.argv[sys.argv.index("--result") + 1] if "--result" in sys.argv else None
    recorder = None
    if result_name:
        from results import Recorder
        recorder = Recorder(result_name)
    with workdir("lookout-soak-") as work:
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            # 2-minute blocks and 6 minutes of retention: head cuts, compactions
            # and deletions happen many times within the run, so a steady state
            # exists to be measured. The collector reads the committed cgroup
            # fixture and an empty log dir, so containers other programs start
            # on this machine (a bench's cgroup farm, test pods) do not leak in.
            logs = os.path.join(work, "pods")
            os.mkdir(logs)
            f.write(f"collector: {{ interval: 1s, cgroup_root: {FIXTURE_CGROUP}, log_paths: [{logs}/*.log] }}\n"
                    "evaluation_interval: 5s\n"
                    "storage: { block_range: 2m, retention: 6m, query_cache_size: 16MiB }\n")
        srv = Up(exe, work, cfg)
        wait_for("lookout up ready", lambda: ready(srv), 60, 0.2)
        soak = Soak(srv, seconds)
        threads = [threading.Thread(target=soak.paced, args=(1.0, soak.write_metrics)),
                   threading.Thread(target=soak.paced, args=(1.0, soak.push_logs))]
        threads += [threading.Thread(target=soak.query_client, args=(k,)) for k in range(QUERY_CLIENTS)]
        for t in threads:
            t.start()
        samples, t0 = [], time.time()
        print(f"soak: {seconds} s against lookout up (pid {srv.proc.pid}); a line every minute", flush=True)
        while soak.running():
            if srv.proc.poll() is not None:
                soak.error(f"lookout up exited with {srv.proc.returncode}")
                break
            rss, fds = process_sample(srv.proc.pid)
            heap = heap_in_use_mib(srv.base)
            el = time.time() - t0
            samples.append((el, rss, fds, heap))
            if len(samples) % 6 == 1:
                print(f"soak: {el / 60:5.1f} min  rss {rss:6.1f} MiB  heap {heap:6.1f} MiB  fds {fds}  "
                      f"samples {soak.sent_samples}  "
                      f"lines {soak.sent_lines}  queries {sum(map(len, soak.latency.values()))}  "
                      f"errors {len(soak.errors)}", flush=True)
            time.sleep(min(SAMPLE_EVERY, max(0, soak.until - time.time())))
        for t in threads:
            t.join(60)
        alive = srv.proc.poll() is None
        srv.stop()
    steady = [s for s in samples if s[0] >= samples[-1][0] / 3] if samples else []
    rss_slope = slope_per_hour([(s[0], s[1]) for s in steady])
    fd_slope = slope_per_hour([(s[0], s[2]) for s in steady])
    heap_slope = slope_per_hour([(s[0], s[3]) for s in steady])
    rss_halves = half_medians([s[1] for s in steady]) if len(steady) > 1 else (0, 0)
    heap_halves = half_medians([s[3] for s in steady]) if len(steady) > 1 else (0, 0)
    body = {"seconds": seconds, "remote_write_samples_per_second": SERIES, "log_lines_per_second": LINES,
            "query_clients": QUERY_CLIENTS, "samples_sent": soak.sent_samples, "lines_sent": soak.sent_lines,
            "errors": len(soak.errors), "first_errors": soak.errors[:5],
            "rss_mib_start": steady[0][1] if steady else None, "rss_mib_end": samples[-1][1] if samples else None,
            "rss_mib_max": max(s[1] for s in samples) if samples else None,
            "rss_slope_mib_per_hour": round(rss_slope, 2),
            "rss_median_mib_halves": [round(v, 1) for v in rss_halves],
            "heap_in_use_mib_start": round(steady[0][3], 1) if steady else None,
            "heap_in_use_mib_end": round(samples[-1][3], 1) if samples else None,
            "heap_in_use_slope_mib_per_hour": round(heap_slope, 2),
            "heap_in_use_median_mib_halves": [round(v, 1) for v in heap_halves],
            "fds_start": steady[0][2] if steady else None, "fds_end": samples[-1][2] if samples else None,
            "fd_slope_per_hour": round(fd_slope, 2),
            "queries": {k: {"n": len(v), "p50_ms": pct(v, 50), "p99_ms": pct(v, 99)} for k, v in soak.latency.items()},
            "samples_seconds_rss_fds_heap": [[round(s[0]), round(s[1], 1), s[2], round(s[3], 1)] for s in samples]}
    table = (f"soak {seconds} s: errors {body['errors']}, RSS {body['rss_mib_start']:.1f} → {body['rss_mib_end']:.1f} MiB "
             f"(slope {rss_slope:+.2f} MiB/h, max {body['rss_mib_max']:.1f}, medians of the steady halves "
             f"{rss_halves[0]:.1f} → {rss_halves[1]:.1f}), malloc in use {body['heap_in_use_mib_start']:.1f} → "
             f"{body['heap_in_use_mib_end']:.1f} MiB (slope {heap_slope:+.2f} MiB/h, medians {heap_halves[0]:.1f} → "
             f"{heap_halves[1]:.1f}), fds {body['fds_start']} → {body['fds_end']} (slope {fd_slope:+.2f}/h)\n" +
             "\n".join(f"{k}: {q['n']} queries, p50 {q['p50_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms"
                       for k, q in body["queries"].items() if q["n"]))
    print(table)
    if recorder:
        print("wrote", recorder.write(body, table))
    # flat: after the warm-up, the median RSS and malloc's bytes in use of the
    # second half may not exceed the first half's by more than 10 % (1 MiB at
    # least), and descriptors may not grow by more than 5 over the run
    span_h = (steady[-1][0] - steady[0][0]) / 3600 if len(steady) > 1 else 0
    problems = [f"{len(soak.errors)} errors, first: {soak.errors[:3]}"] if soak.errors else []
    if not alive:
        problems.append("lookout up died")
    for what, (first, second) in (("RSS", rss_halves), ("malloc in use", heap_halves)):
        if second - first > max(1.0, 0.10 * first):
            problems.append(f"{what} grows: median {first:.1f} → {second:.1f} MiB")
    if steady and fd_slope * span_h > 5:
        problems.append(f"file descriptors grow {fd_slope:+.2f}/h")
    if problems:
        raise SystemExit("soak FAILED: " + "; ".join(problems))
    print("soak PASS")


class Up:
    """`lookout up` (server and node agent in one process) on a free loopback port."""

    def __init__(self, exe, work, cfg):
        self.base = f"http://127.0.0.1:{free_port()}"
        with open(os.path.join(work, "server.log"), "ab") as log:
            self.proc = subprocess.Popen([exe, "up", "--data", os.path.join(work, "data"), "--listen",
                                          self.base[len("http://"):], "--config", cfg], stdout=log, stderr=log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def ready(srv):
    try:
        return http("GET", srv.base + "/-/ready", timeout=1)[0] == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
