#!/usr/bin/env python3
"""bench_alerting.py — the rule engine, Lookout beside Prometheus 2.42 (Debian),
whole processes on loopback, one after the other (never both at once).

(a) Latency: one alerting rule `bench_trigger > 0` with `for: 0s`, evaluation
    interval 1 s. For each of --alerts alerts, a new series
    bench_trigger{n="<i>"} 1 is sent through remote_write (the same bytes to
    both), after a random pause so the sample lands anywhere in the tick;
    the latency is from just before the send to the alert being seen
    "firing" by a sink:
      - ApiSink polls GET /api/v1/alerts every 10 ms (the default);
      - WebhookSink is a loopback HTTP receiver taking Alertmanager webhook
        bodies (alerts[].labels.n); it is used for Lookout when the build
        accepts `route`/`receivers` with a webhook (group_wait 0s), else the
        note says so and the API sink is used.
    Rows: Lookout; Prometheus to its /api/v1/alerts; and, when Debian's
    prometheus-alertmanager is installed, Prometheus → Alertmanager 0.25
    (group_wait 0s, group_interval 1s) → the same webhook receiver.
    p50 / p99 (nearest rank) / max in ms.
(b) Throughput: --rules alerting rules (10 groups, interval 1 s, five expression
    shapes over the bench dataset: rate/sum, max, topk, avg; some firing) over
    ../shared/bench/gen_dataset.py data (--containers, --minutes ending now),
    loaded through Lookout's /api/v1/import/prometheus and Prometheus's
    remote-write receiver (per-series, time-ordered batches). After --warmup s
    the window of --window s counts rule evaluations from each /metrics
    (lookout_rule_evaluations_total × rules per group;
    prometheus_rule_evaluations_total) and the process's CPU from /proc/PID/stat
    (utime+stime). Figures: rules/s, CPU s, rules per CPU second, missed
    iterations, failures (must be 0).

Writes bench/results/alerting.{json,txt}.

  bench/alerting/bench_alerting.py [--lookout build/lookout] [--alerts 100] [--rules 1000]
      [--containers 100] [--minutes 45] [--window 30] [--warmup 15]
"""
import argparse
import http.server
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import lkt  # noqa: E402  (remote_write encoding, HTTP helpers)
import shared  # noqa: E402
from results import Recorder  # noqa: E402

BP = shared.load("bench_peers")
log = BP.log


# ---------------------------------------------------------------- processes

class Proc:
    """A peer process on a free loopback port, its output in a log file."""

    def __init__(self, name, argv_fn, work):
        self.name, self.work = name, work
        self.port = BP.free_port()
        self.log_path = os.path.join(work, name + ".log")
        self.argv = argv_fn(self.port)
        self.p = None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60):
        with open(self.log_path, "ab") as log_f:
            self.p = subprocess.Popen(self.argv, stdout=log_f, stderr=log_f, cwd=self.work)

        def ready():
            if self.p.poll() is not None:
                raise BP.PeerDied("%s exited with %d: %s" % (self.name, self.p.returncode, self.tail()))
            return lkt.http("GET", self.base + "/-/ready", timeout=2)[0] == 200
        BP.wait_until(self.name + " ready", ready, timeout)

    def tail(self, n=1500):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def cpu_s(self):
        return BP.proc_cpu_s(self.p.pid)

    def metrics(self):
        return BP.metrics_text(self.port)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def lookout_proc(exe, work, cfg_text, name="lookout"):
    cfg = os.path.join(work, name + ".yaml")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    return Proc(name, lambda port: [exe, "server", "--config", cfg, "--data", os.path.join(work, name + "-data"),
                                    "--listen", "127.0.0.1:%d" % port], work)


def prometheus_proc(work, rules_file, name="prometheus", am_port=None):
    cfg = os.path.join(work, name + ".yml")
    with open(cfg, "w") as f:
        f.write("global: { evaluation_interval: 1s }\nrule_files: [ %s ]\n" % rules_file)
        if am_port:
            f.write("alerting: { alertmanagers: [ { static_configs: [ { targets: ['127.0.0.1:%d'] } ] } ] }\n"
                    % am_port)
    return Proc(name, lambda port: ["prometheus", "--config.file=" + cfg,
                                    "--storage.tsdb.path=" + os.path.join(work, name + "-data"),
                                    "--web.listen-address=127.0.0.1:%d" % port,
                                    "--web.enable-remote-write-receiver", "--log.level=warn"], work)


def alertmanager_proc(work, hook_url, name="alertmanager"):
    cfg = os.path.join(work, name + ".yml")
    with open(cfg, "w") as f:
        f.write("route: { receiver: bench, group_by: ['...'], group_wait: 0s, group_interval: 1s }\n"
                "receivers: [ { name: bench, webhook_configs: [ { url: '%s' } ] } ]\n" % hook_url)
    return Proc(name, lambda port: ["prometheus-alertmanager", "--config.file=" + cfg,
                                    "--storage.path=" + os.path.join(work, name + "-data"),
                                    "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=",
                                    "--log.level=warn"], work)


# ---------------------------------------------------------------- (a) latency

LATENCY_RULES = """groups:
  - name: latency
    interval: 1s
    rules:
      - alert: BenchTrigger
        expr: bench_trigger > 0
        for: 0s
"""


class ApiSink:
    """Sees alerts by polling GET /api/v1/alerts."""
    kind = "api"

    def __init__(self, base):
        self.base = base

    def wait_firing(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st, body = lkt.http("GET", self.base + "/api/v1/alerts", timeout=5)
            if st == 200:
                for a in json.loads(body)["data"]["alerts"]:
                    if a["labels"].get("n") == n and a["state"] == "firing":
                        return time.monotonic()
            time.sleep(0.01)
        raise RuntimeError("alert n=%s not firing after %ds" % (n, timeout))


class WebhookSink:
    """A loopback webhook receiver noting when each alert n first arrives firing."""
    kind = "webhook"

    def __init__(self):
        self.seen, self.cv = {}, threading.Condition()
        sink = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                now = time.monotonic()
                with sink.cv:
                    for a in body.get("alerts", []):
                        n = a.get("labels", {}).get("n")
                        if n and a.get("status") == "firing" and n not in sink.seen:
                            sink.seen[n] = now
                    sink.cv.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait_firing(self, n, timeout=30):
        with self.cv:
            if not self.cv.wait_for(lambda: n in self.seen, timeout):
                raise RuntimeError("webhook for n=%s not received after %ds" % (n, timeout))
            return self.seen[n]

    def close(self):
        self.srv.shutdown()


def latency_run(proc, sink, alerts, rng):
    """Latencies (ms) of `alerts` alerts through proc's remote_write and sink."""
    out = []
    for i in range(alerts):
        time.sleep(rng.uniform(0, 1.0))  # land anywhere in the evaluation tick
        n = "%d" % i
        t0 = time.monotonic()
        st, body = lkt.remote_write(proc.base, [({"__name__": "bench_trigger", "n": n},
                                                 [(int(time.time() * 1000), 1.0)])])
        if st not in (200, 204):
            raise RuntimeError("%s refused remote_write: %d %s" % (proc.name, st, body[:200]))
        out.append((sink.wait_firing(n) - t0) * 1000)
    return out


def percentiles(v):
    """Nearest-rank percentiles (p99 of 100 is the 99th smallest), and every latency."""
    s = sorted(v)
    return {"n": len(s), "p50_ms": statistics.median(s), "p99_ms": s[max(0, math.ceil(0.99 * len(s)) - 1)],
            "max_ms": s[-1], "min_ms": s[0], "latencies_ms": [round(x, 1) for x in v]}


def lookout_webhook_cfg(url):
    return ("route: { receiver: bench, group_by: ['...'], group_wait: 0s, group_interval: 1s }\n"
            "receivers: [ { name: bench, webhook_configs: [ { url: '%s' } ] } ]\n" % url)


def latency(args, work, rng):
    rules = os.path.join(work, "latency.rules.yml")
    with open(rules, "w") as f:
        f.write(LATENCY_RULES)
    base_cfg = "rule_files: [ %s ]\nevaluation_interval: 1s\nbuiltin_rules: false\n" % rules
    rows = []
    hook = WebhookSink()
    lk = lookout_proc(args.lookout, work, base_cfg + lookout_webhook_cfg(hook.url), "lookout-latency")
    sink, note = hook, "webhook (route/receivers, group_wait 0s)"
    try:
        lk.start()
    except BP.PeerDied as e:
        if "not supported yet" not in str(e):
            raise
        note = "GET /api/v1/alerts (this build refuses route/receivers: key route is not supported yet)"
        lk = lookout_proc(args.lookout, work, base_cfg, "lookout-latency-api")
        lk.start()
        sink = ApiSink(lk.base)
    try:
        log("latency: Lookout, %d alerts to %s" % (args.alerts, sink.kind))
        rows.append(dict(peer="lookout", sink=sink.kind, note=note, **percentiles(latency_run(lk, sink, args.alerts, rng))))
    finally:
        lk.stop()
        hook.close()
    pr = prometheus_proc(work, rules, "prometheus-latency")
    pr.start()
    try:
        log("latency: Prometheus, %d alerts to GET /api/v1/alerts" % args.alerts)
        rows.append(dict(peer="prometheus", sink="api", note="GET /api/v1/alerts (no Alertmanager)",
                         **percentiles(latency_run(pr, ApiSink(pr.base), args.alerts, rng))))
    finally:
        pr.stop()
    if shutil.which("prometheus-alertmanager"):
        rows.append(latency_prometheus_am(args, work, rules, rng))
    return rows


def latency_prometheus_am(args, work, rules, rng):
    """Prometheus → Alertmanager 0.25 → the same webhook receiver, with
    Alertmanager's group_wait 0s and group_interval 1s like Lookout's route
    (Prometheus's own send path at its defaults)."""
    hook = WebhookSink()
    am = alertmanager_proc(work, hook.url)
    am.start()
    pr = prometheus_proc(work, rules, "prometheus-am-latency", am.port)
    pr.start()

    def am_known():  # alerts fired before discovery finds the Alertmanager are dropped
        st, body = lkt.http("GET", pr.base + "/api/v1/alertmanagers", timeout=5)
        return st == 200 and json.loads(body)["data"]["activeAlertmanagers"]
    try:
        BP.wait_until("Prometheus to discover the Alertmanager", am_known, 60)
        log("latency: Prometheus + Alertmanager, %d alerts to a webhook" % args.alerts)
        return dict(peer="prometheus+alertmanager", sink="webhook",
                    note="webhook through Alertmanager %s (group_wait 0s)" % BP.package_version("prometheus-alertmanager"),
                    **percentiles(latency_run(pr, hook, args.alerts, rng)))
    finally:
        pr.stop()
        am.stop()
        hook.close()


# ---------------------------------------------------------------- (b) throughput

SHAPES = [
    'sum by (namespace) (rate(container_cpu_usage_seconds_total{namespace="ns-%(ns)d"}[5m])) > %(f).3f',
    'max by (pod) (container_memory_working_set_bytes{namespace="ns-%(ns)d"}) > %(mem)d',
    'topk(3, rate(container_network_receive_bytes_total{namespace="ns-%(ns)d"}[5m])) > %(net)d',
    'avg by (node) (container_processes{namespace="ns-%(ns)d"}) > %(p).1f',
    'sum by (container) (rate(container_fs_writes_bytes_total{namespace="ns-%(ns)d"}[2m])) > %(net)d',
]


def throughput_rules(n, groups=10):
    per = n // groups
    out = ["groups:"]
    for g in range(groups):
        out += ["  - name: bench-%02d" % g, "    interval: 1s", "    rules:"]
        for k in range(per):
            i = g * per + k
            p = {"ns": i % 10, "f": (i % 7) * 0.05, "mem": (i % 9) * 32 << 20, "net": (i % 11) * 2000,
                 "p": (i % 5) * 1.0}
            out += ["      - alert: Bench%04d" % i,
                    "        expr: '%s'" % (SHAPES[i % len(SHAPES)] % p),
                    "        labels: { severity: warning, shape: s%d }" % (i % len(SHAPES)),
                    "        annotations: { summary: 'value {{ $value | humanize }} on {{ $labels.namespace }}' }"]
    return "\n".join(out) + "\n", per


def dataset(args, work):
    path = os.path.join(work, "dataset.txt")
    start = int(time.time() * 1000) - args.minutes * 60000
    subprocess.run([sys.executable, os.path.join(shared.SHARED_BENCH, "gen_dataset.py"), "--containers",
                    str(args.containers), "--hours", str(args.minutes / 60), "--start-ms", str(start),
                    "--out", path], check=True, capture_output=True)
    with open(path + ".meta.json") as f:
        return path, json.load(f)


def load_lookout(proc, path):
    with open(path, "rb") as f:
        st, body = lkt.http("POST", proc.base + "/api/v1/import/prometheus", f.read(), timeout=300)
    if st != 200:
        raise RuntimeError("import refused: %d %s" % (st, body[:300]))


def series_of(path):
    """{labels-tuple: [(t, v)]} from the exposition file (time order kept); the
    dataset's lines are regular (no escapes), so a split does."""
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            series, v, t = line.rsplit(" ", 2)
            name, rest = series.split("{", 1)
            labels = {"__name__": name}
            for pair in rest.rstrip("}").split('",'):
                k, val = pair.split('="', 1)
                labels[k] = val.rstrip('"')
            out.setdefault(tuple(sorted(labels.items())), []).append((int(t), float(v)))
    return out


def load_prometheus(proc, path):
    items = list(series_of(path).items())
    for i in range(0, len(items), 50):
        batch = [(dict(k), v) for k, v in items[i:i + 50]]
        st, body = lkt.remote_write(proc.base, batch, timeout=120)
        if st not in (200, 204):
            raise RuntimeError("prometheus refused remote_write: %d %s" % (st, body[:300]))


def counters(proc, per_group):
    text = proc.metrics()
    if proc.name.startswith("lookout"):
        return (BP.metric_sum(text, "lookout_rule_evaluations_total") * per_group,
                BP.metric_sum(text, "lookout_rule_evaluation_failures_total"),
                BP.metric_sum(text, "lookout_rule_group_iterations_missed_total"))
    return (BP.metric_sum(text, "prometheus_rule_evaluations_total"),
            BP.metric_sum(text, "prometheus_rule_evaluation_failures_total"),
            BP.metric_sum(text, "prometheus_rule_group_iterations_missed_total"))


def firing(proc):
    st, body = lkt.http("GET", proc.base + "/api/v1/alerts", timeout=30)
    return sum(1 for a in json.loads(body)["data"]["alerts"] if a["state"] == "firing") if st == 200 else -1


def throughput_one(args, proc, path, loader, per_group):
    proc.start()
    try:
        t0 = time.monotonic()
        loader(proc, path)
        load_s = time.monotonic() - t0
        time.sleep(args.warmup)
        ev0, fail0, miss0 = counters(proc, per_group)
        cpu0, w0 = proc.cpu_s(), time.monotonic()
        time.sleep(args.window)
        cpu1, w1 = proc.cpu_s(), time.monotonic()
        ev1, fail1, miss1 = counters(proc, per_group)
        n_firing = firing(proc)
        wall, cpu, ev = w1 - w0, cpu1 - cpu0, ev1 - ev0
        return {"load_s": round(load_s, 1), "window_s": round(wall, 1), "rule_evals": ev,
                "rules_per_s": ev / wall, "cpu_s": cpu, "cpu_pct_of_one_core": 100 * cpu / wall,
                "rules_per_cpu_s": ev / cpu if cpu > 0 else None, "failures": fail1 - fail0,
                "missed_iterations": miss1 - miss0, "alerts_firing": n_firing}
    finally:
        proc.stop()


def throughput(args, work):
    text, per_group = throughput_rules(args.rules)
    rules = os.path.join(work, "throughput.rules.yml")
    with open(rules, "w") as f:
        f.write(text)
    rows = []
    path, meta = dataset(args, work)
    lk = lookout_proc(args.lookout, work, "rule_files: [ %s ]\nevaluation_interval: 1s\nbuiltin_rules: false\n"
                      % rules, "lookout-rules")
    log("throughput: Lookout, %d rules over %d series" % (args.rules, meta["series"]))
    rows.append(dict(peer="lookout", **throughput_one(args, lk, path, load_lookout, per_group)))
    path, meta = dataset(args, work)  # the same data again, ending now
    log("throughput: Prometheus, %d rules over %d series" % (args.rules, meta["series"]))
    rows.append(dict(peer="prometheus", **throughput_one(args, prometheus_proc(work, rules, "prometheus-rules"),
                                                         path, load_prometheus, per_group)))
    return rows, meta


# ---------------------------------------------------------------- report

def table(doc):
    out = ["(a) latency, first sample → alert firing, %d alerts, evaluation interval 1 s, for: 0s" % doc["alerts"],
           "peer        sink      p50 ms   p99 ms   max ms   note"]
    for r in doc["latency"]:
        out.append("%-11s %-8s %8.0f %8.0f %8.0f   %s" % (r["peer"], r["sink"], r["p50_ms"], r["p99_ms"], r["max_ms"],
                                                       r["note"]))
    out += ["", "(b) %d alerting rules, interval 1 s, %d series, %.0f s window" % (
        doc["rules"], doc["dataset"]["series"], doc["throughput"][0]["window_s"]),
        "peer        rules/s   CPU s   CPU %   rules/CPU s   missed   failures   firing"]
    for r in doc["throughput"]:
        out.append("%-11s %7.0f %7.2f %7.1f %13.0f %8.0f %10.0f %8d" % (
            r["peer"], r["rules_per_s"], r["cpu_s"], r["cpu_pct_of_one_core"], r["rules_per_cpu_s"] or 0,
            r["missed_iterations"], r["failures"], r["alerts_firing"]))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lookout", default=os.path.join(ROOT, "build", "lookout"))
    ap.add_argument("--alerts", type=int, default=100)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=45)
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rec = Recorder("alerting")
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="lk-bench-alerting-")
    lat = latency(args, work, rng)
    thr, meta = throughput(args, work)
    doc = {"alerts": args.alerts, "rules": args.rules, "latency": lat, "throughput": thr,
           "dataset": {"containers": args.containers, "minutes": args.minutes, "series": meta["series"],
                       "samples": meta["samples"]},
           "prometheus_version": BP.package_version("prometheus"),
           "data_loading": "Lookout: the dataset file through /api/v1/import/prometheus; Prometheus: the same "
                           "samples through its remote-write receiver, 50 series per request, each series' samples "
                           "in time order (loading is not timed)"}
    txt = table(doc)
    print(txt)
    print("wrote", rec.write(doc, txt))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
