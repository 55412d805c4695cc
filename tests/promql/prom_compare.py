#!/usr/bin/env python3
"""prom_compare.py — the same data in Debian's Prometheus (2.42, loaded by
`promtool tsdb create-blocks-from openmetrics`) and in Lookout (loaded through
/api/v1/import/prometheus); a list of everyday dashboard queries runs as
query_range through both HTTP APIs and the answers must agree: same series,
same timestamps, values within 1e-9 relative. A query both sides answer
with no data fails: two empty answers compare equal whatever the engines do.

Known 2.x vs 3.x differences are kept out of the comparison by construction:
- windows are closed [t-r, t] in 2.x and left-open (t-r, t] in 3.x: sample
  timestamps carry 1-400 ms of jitter, evaluation times sit at .700 s and
  subquery steps at whole seconds, so no sample lies on a window boundary;
- 3.x caps the extrapolation of counters towards zero after the
  average-interval rule, 2.x before it (rate/increase differ when a window
  starts near a counter's zero point): counters here start, and restart
  after their reset, far above their per-window increase;
- delayed __name__ removal (3.x) only differs when __name__ is relabelled
  after a name-dropping function, which no query here does.

usage: prom_compare.py LOOKOUT"""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lkt import free_port, http  # noqa: E402  (shared test helpers)

STEP_S = 60
QUERIES = [
    'rate(http_requests_total[5m])',
    'sum by (code) (rate(http_requests_total[5m]))',
    'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
    'irate(http_requests_total[1m])',
    'increase(http_requests_total[10m])',
    'sum by (code) (increase(http_requests_total[1h]))',
    'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.5, sum by (le, handler) (rate(request_duration_seconds_bucket[5m])))',
    'rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])',
    'sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))',
    'topk(3, sum by (pod) (rate(container_cpu_usage_seconds_total[5m])))',
    'sum without (pod, container) (rate(container_cpu_usage_seconds_total[5m]))',
    'resets(container_cpu_usage_seconds_total[30m])',
    'max_over_time(container_memory_working_set_bytes[10m])',
    'avg_over_time(container_memory_working_set_bytes[5m])',
    'min_over_time(container_memory_working_set_bytes{namespace="ns-1"}[15m])',
    'quantile_over_time(0.95, container_memory_working_set_bytes[15m])',
    'stddev_over_time(container_memory_working_set_bytes[10m])',
    'sum by (namespace) (container_memory_working_set_bytes) / 1024 / 1024',
    'container_memory_working_set_bytes / on(namespace) group_left() sum by (namespace) (container_memory_working_set_bytes)',
    'count by (namespace) (container_memory_working_set_bytes)',
    'avg by (namespace) (container_memory_working_set_bytes)',
    'stddev by (namespace) (container_memory_working_set_bytes)',
    'quantile(0.9, container_memory_working_set_bytes)',
    'bottomk(2, container_memory_working_set_bytes)',
    'delta(container_memory_working_set_bytes[10m])',
    'deriv(container_memory_working_set_bytes[10m])',
    'predict_linear(container_memory_working_set_bytes[30m], 3600)',
    'max by (namespace) (max_over_time(container_memory_working_set_bytes[1h]))',
    'round(avg by (namespace) (container_memory_working_set_bytes) / 1e6, 0.1)',
    'changes(up[10m])',
    'up == 0',
    'sum by (job) (up)',
    'count_over_time(up[5m])',
    'absent(nonexistent_metric{job="x"})',
    'clamp_max(rate(http_requests_total[5m]), 1)',
    'rate(http_requests_total[5m]) > 0.5',
    'avg_over_time(rate(http_requests_total[1m])[10m:1m])',
    'label_replace(up, "host", "$1", "instance", "([^:]*):.*")',
    'time() - timestamp(up)',
    'sum(rate(http_requests_total[5m])) by (method) and on() vector(1)',
    'http_requests_total offset 10m',
]


def wait_ready(url, proc, log_path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            tail = open(log_path, "rb").read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"{url}: process exited with {proc.returncode}:\n{tail}")
        try:
            if http("GET", url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def generate(t0_ms, minutes):
    """Deterministic series: (name, labels dict, [(ts_ms, value)]), counters
    with occasional resets, gauges, a classic histogram and an `up` gap."""
    rnd = random.Random(7)
    n = minutes * 4
    series = []

    def ts(i):
        return t0_ms + i * 15000 + rnd.randint(1, 400)

    for code in ("200", "404", "500"):
        for method in ("GET", "POST"):
            v, pts = float(rnd.randint(2000, 5000)), []
            for i in range(n):
                v += rnd.randint(0, 40 if code == "200" else 5)
                if i == n // 2 and method == "POST":
                    v = float(rnd.randint(1000, 1500))  # counter reset
                pts.append((ts(i), v))
            series.append(("http_requests_total", {"job": "api", "code": code, "method": method}, pts))
    for ns in range(3):
        for pod in range(3):
            lab = {"namespace": f"ns-{ns}", "pod": f"pod-{ns}-{pod}", "container": "app"}
            cpu, mem, cpts, mpts = 1000.0 * (1 + pod), 1e8 * (1 + pod), [], []
            for i in range(n):
                t = ts(i)
                cpu += rnd.random() * 3
                mem = max(1e6, mem + rnd.gauss(0, 2e6))
                cpts.append((t, round(cpu, 6)))
                mpts.append((t, round(mem)))
            series.append(("container_cpu_usage_seconds_total", dict(lab), cpts))
            series.append(("container_memory_working_set_bytes", dict(lab), mpts))
    bounds = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for handler in ("/a", "/b"):
        counts = [0] * len(bounds)
        total, cnt = 0.0, 0
        per = {b: [] for b in bounds}
        spts, cpts = [], []
        for i in range(n):
            t = ts(i)
            for _ in range(rnd.randint(0, 30)):
                x = rnd.expovariate(4)
                total += x
                cnt += 1
                for k, b in enumerate(bounds):
                    if b == "+Inf" or x <= float(b):
                        counts[k] += 1
            for k, b in enumerate(bounds):
                per[b].append((t, counts[k]))
            spts.append((t, round(total, 6)))
            cpts.append((t, cnt))
        for b in bounds:
            series.append(("request_duration_seconds_bucket", {"handler": handler, "le": b}, per[b]))
        series.append(("request_duration_seconds_sum", {"handler": handler}, spts))
        series.append(("request_duration_seconds_count", {"handler": handler}, cpts))
    for inst in ("h1:9100", "h2:9100"):
        pts = []
        for i in range(n):
            if inst == "h2:9100" and n // 3 <= i < n // 3 + 40:
                continue  # a 10-minute gap: the series goes missing
            pts.append((ts(i), 0.0 if inst == "h1:9100" and i % 50 < 3 else 1.0))
        series.append(("up", {"job": "node", "instance": inst}, pts))
    return series


def fmt_labels(labels):
    return ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))


def write_text(series, path):
    """Prometheus text format with ms timestamps (Lookout import)."""
    with open(path, "w") as f:
        for name, labels, pts in series:
            for t, v in pts:
                f.write(f"{name}{{{fmt_labels(labels)}}} {repr(float(v))} {t}\n")


def write_openmetrics(series, path):
    """OpenMetrics with second timestamps (promtool backfill)."""
    with open(path, "w") as f:
        for name in sorted({s[0] for s in series}):
            f.write(f"# TYPE {name} unknown\n")
            for n2, labels, pts in series:
                if n2 != name:
                    continue
                for t, v in pts:
                    f.write(f"{name}{{{fmt_labels(labels)}}} {repr(float(v))} {t / 1000:.3f}\n")
        f.write("# EOF\n")


def query_range(base, q, start, end):
    params = urllib.parse.urlencode({"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                     "step": str(STEP_S)})
    status, body = http("GET", f"{base}/api/v1/query_range?{params}", timeout=30)
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise RuntimeError(f"{base}: {q}: HTTP {status} {body[:300]!r}")
    return {json.dumps(s["metric"], sort_keys=True): s["values"] for s in doc["data"]["result"]}


def close(a, b):
    if a == b:
        return True
    x, y = float(a), float(b)
    if math.isnan(x) and math.isnan(y):
        return True
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def compare(q, lk, pr):
    if not lk and not pr:
        return ["both sides returned no data: an empty answer proves nothing, "
                "change the query or the data so it selects something"]
    problems = []
    if set(lk) != set(pr):
        problems.append(f"series differ: only lookout {sorted(set(lk) - set(pr))[:3]}, "
                        f"only prometheus {sorted(set(pr) - set(lk))[:3]}")
    for key in set(lk) & set(pr):
        a, b = lk[key], pr[key]
        if [p[0] for p in a] != [p[0] for p in b]:
            problems.append(f"{key}: timestamps differ ({len(a)} vs {len(b)} points)")
            continue
        for (t, x), (_, y) in zip(a, b):
            if not close(x, y):
                problems.append(f"{key} @{t}: lookout {x} prometheus {y}")
                break
    return problems


def main():
    exe = sys.argv[1]
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not promtool:
        print("prometheus/promtool not installed (Debian package prometheus)")
        return 77
    work = tempfile.mkdtemp(prefix="prom-compare-")
    procs = []
    try:
        minutes = 150
        t0_ms = (int(time.time()) // 3600 - 4) * 3600 * 1000
        series = generate(t0_ms, minutes)
        text, om = os.path.join(work, "data.prom"), os.path.join(work, "data.om")
        write_text(series, text)
        write_openmetrics(series, om)
        pdata = os.path.join(work, "prom")
        os.makedirs(pdata)
        r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, pdata],
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise RuntimeError("promtool backfill failed: " + r.stderr[-500:])
        cfg = os.path.join(work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        pport, lport = free_port(), free_port()
        plog = open(os.path.join(work, "prometheus.log"), "wb")
        procs.append(subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={pdata}",
                                       f"--web.listen-address=127.0.0.1:{pport}"],
                                      stdout=plog, stderr=plog))
        llog = open(os.path.join(work, "lookout.log"), "wb")
        procs.append(subprocess.Popen([exe, "server", "--data", os.path.join(work, "lookout"),
                                       "--listen", f"127.0.0.1:{lport}"], stdout=llog, stderr=llog))
        pbase, lbase = f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{lport}"
        plog.flush()
        llog.flush()
        wait_ready(pbase + "/-/ready", procs[0], os.path.join(work, "prometheus.log"))
        wait_ready(lbase + "/-/ready", procs[1], os.path.join(work, "lookout.log"))
        with open(text, "rb") as f:
            status, body = http("POST", lbase + "/api/v1/import/prometheus", f.read(), timeout=120)
        if status // 100 != 2:
            raise RuntimeError(f"lookout import: {status} {body[:300]!r}")
        start = t0_ms / 1000 + 600.7
        end = t0_ms / 1000 + minutes * 60 - 0.3
        failed = 0
        for q in QUERIES:
            lk, pr = query_range(lbase, q, start, end), query_range(pbase, q, start, end)
            problems = compare(q, lk, pr)
            points = sum(len(v) for v in pr.values())
            if problems:
                failed += 1
                print(f"FAIL {q}: " + "; ".join(problems[:3]))
            else:
                print(f"ok   {q}  ({len(pr)} series, {points} points)")
        print(f"{len(QUERIES) - failed} of {len(QUERIES)} queries agree")
        return 1 if failed else 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
