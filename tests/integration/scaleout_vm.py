"""scaleout_vm.py — the scale-out path against a real engine: `lookout agent`
remote-writes its metrics into Debian's victoria-metrics (the protocol
VictoriaMetrics cluster's vminsert speaks) and pushes its container logs into
a second `lookout server`, each named separately (--metrics-url,
--logs-url). Each target is stopped for OUTAGE seconds mid-run (default 60,
env LOOKOUT_SCALEOUT_OUTAGE; the two outages overlap by most of their
length, so each one is also seen while the other target is up). Afterwards
every scraped sample and every written log line must be there exactly once,
read back through VictoriaMetrics's own export API and the second server's
Loki API.

The probe metric is a target the test serves: its value is the scrape's
ordinal, so the values VictoriaMetrics holds must be exactly 1..N. The log
lines carry a sequence number the same way. victoria-metrics is stopped with
SIGTERM (it acknowledges remote_write before persisting, and flushes on
SIGTERM: its own documented durability), Lookout's log server with SIGKILL.

usage: scaleout_vm.py LOOKOUT_EXE [RESULT.json]
(README's fleet figures: bench/lib/results.py run scaleout --json-file F --
 python3 tests/integration/scaleout_vm.py build/lookout F)
"""
from http.server import BaseHTTPRequestHandler, HTTPServer
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

from lkt import Server, free_port, get_json, http, require, wait_for, workdir

OUTAGE = float(os.environ.get("LOOKOUT_SCALEOUT_OUTAGE", "60"))
LINES_PER_SEC = 10  # stays under the query limit of 5,000 lines


class Probe:
    """A scrape target whose one sample is the ordinal of the scrape."""

    def __init__(self):
        self.served = 0
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                probe.served += 1
                body = f"# TYPE scaleout_probe gauge\nscaleout_probe {probe.served}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class LogWriter:
    """Appends CRI-format lines `seq=N` to a pod log file at a steady rate."""

    def __init__(self, path):
        self.path, self.written, self.stopping = path, 0, threading.Event()
        os.makedirs(os.path.dirname(path))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        with open(self.path, "a") as f:
            while not self.stopping.wait(1 / LINES_PER_SEC):
                self.written += 1
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z"
                f.write(f"{ts} stdout F seq={self.written}\n")
                f.flush()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


class Victoria:
    def __init__(self, work):
        self.exe = require("victoria-metrics")
        self.data, self.log = os.path.join(work, "vm"), os.path.join(work, "vm.log")
        self.port, self.proc = free_port(), None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.exe, f"-storageDataPath={self.data}", f"-httpListenAddr=127.0.0.1:{self.port}",
                 "-retentionPeriod=1y", "-loggerLevel=WARN"], stdout=log, stderr=log)
        wait_for("victoria-metrics /health", lambda: self.healthy(), 30, 0.1)

    def healthy(self):
        try:
            return http("GET", self.base + "/health", timeout=1)[0] == 200
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None

    def probe_values(self):
        """Every stored scaleout_probe value, stale markers (NaN) left out."""
        http("GET", self.base + "/internal/force_flush", timeout=10)
        st, body = http("GET", self.base + "/api/v1/export?match[]=scaleout_probe", timeout=30)
        assert st == 200, (st, body[:300])
        values = []
        for line in body.decode().splitlines():
            values += [v for v in json.loads(line)["values"] if not (isinstance(v, float) and math.isnan(v))]
        return sorted(int(v) for v in values)


def log_seqs(server, start_ns):
    q = urllib.parse.urlencode({"query": '{namespace="scale", pod="probe"}', "start": start_ns,
                                "end": time.time_ns() + 10**9, "limit": 5000, "direction": "forward"})
    st, body = get_json(server.base + "/loki/api/v1/query_range?" + q, timeout=30)
    assert st == 200, (st, body)
    seqs = []
    for stream in body["data"]["result"]:
        seqs += [int(line.split("seq=")[1]) for _, line in stream["values"]]
    return sorted(seqs)


def agent_queue_empty(port):
    try:
        st, body = http("GET", f"http://127.0.0.1:{port}/metrics", timeout=2)
    except OSError:
        return False
    return st == 200 and b"\nlookout_agent_queued_requests 0\n" in body


def exactly_once(what, got, want_n):
    dup = len(got) - len(set(got))
    missing = sorted(set(range(1, want_n + 1)) - set(got))
    assert not dup and not missing and len(got) == want_n, \
        f"{what}: {len(got)} stored for {want_n} produced, {dup} duplicates, missing {missing[:20]}"
    print(f"ok: {what}: all {want_n} arrived exactly once")


def write_result(path, vm, samples, lines):
    """The figures as JSON, for `bench/lib/results.py run scaleout --json-file`."""
    # Debian's build prints no -version: the package's version names it
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "victoria-metrics"], capture_output=True, text=True)
    version = "victoria-metrics " + (out.stdout.split("+")[0] or "(version unknown)")
    result = {"peer": version, "outage_seconds": OUTAGE, "scrape_interval_seconds": 1,
              "log_lines_per_second": LINES_PER_SEC, "samples": samples, "lines": lines,
              "duplicates": 0, "missing": 0}
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


def main():
    exe = sys.argv[1]
    with workdir("lookout-scaleout-", logs=("server.log", "agent.log", "vm.log")) as work:
        vm, probe = Victoria(work), Probe()
        logsrv = Server(exe, os.path.join(work, "logsrv"), os.path.join(work, "server.log"))
        cgroups = os.path.join(work, "cgroup")  # no containers: the probe and the logs are the data
        os.makedirs(cgroups)
        # the metrics URL comes from the config key, the logs URL from the flag
        cfg = os.path.join(work, "agent.yaml")
        with open(cfg, "w") as f:
            f.write(f"data: {work}/agent\n"
                    f"collector: {{ interval: 1s, log_paths: ['{work}/log/pods/*/*/*.log'] }}\n"
                    f"agent: {{ metrics_url: '{vm.base}/api/v1/write' }}\n"
                    "scrape_configs:\n"
                    f"  - {{ job_name: probe, scrape_interval: 1s, "
                    f"static_configs: [ {{ targets: ['127.0.0.1:{probe.port}'] }} ] }}\n")
        vm.start()
        logsrv.start()
        agent_port = free_port()
        writer = LogWriter(os.path.join(work, "log/pods/scale_probe_0f0f/app/0.log"))
        start_ns = time.time_ns() - 10**9
        with open(os.path.join(work, "agent.log"), "ab") as log:
            agent = subprocess.Popen([exe, "agent", "--config", cfg, "--cgroup-root", cgroups,
                                      "--log-root", os.path.join(work, "log"), "--no-node-metrics",
                                      "--logs-url", logsrv.base, "--listen", f"127.0.0.1:{agent_port}"],
                                     stdout=log, stderr=log)
        try:
            wait_for("first samples in victoria-metrics", lambda: len(vm.probe_values()) >= 3, 30, 0.5)
            wait_for("first lines in the log server", lambda: len(log_seqs(logsrv, start_ns)) >= 20, 30, 0.5)
            print(f"ok: flowing; stopping victoria-metrics, then the log server, {OUTAGE:.0f} s each")
            t_vm = time.time()
            vm.stop()
            time.sleep(OUTAGE / 6)
            t_logs, port = time.time(), logsrv.port
            logsrv.kill(signal.SIGKILL)
            time.sleep(max(0, t_vm + OUTAGE - time.time()))
            vm.start()
            time.sleep(max(0, t_logs + OUTAGE - time.time()))
            logsrv.start(port=port)
            time.sleep(3)
            probe.stop()
            writer.stop()
            n, m = probe.served, writer.written
            print(f"ok: produced {n} samples and {m} lines; draining the agent's queues")
            wait_for("the agent's metrics queue to drain", lambda: agent_queue_empty(agent_port), 90, 0.5)
            wait_for(f"{n} samples in victoria-metrics", lambda: len(vm.probe_values()) >= n, 60, 0.5)
            wait_for(f"{m} lines in the log server", lambda: len(log_seqs(logsrv, start_ns)) >= m, 90, 0.5)
            time.sleep(2)  # anything sent twice would land by now
            exactly_once("samples through victoria-metrics", vm.probe_values(), n)
            exactly_once("log lines through the second server", log_seqs(logsrv, start_ns), m)
            if len(sys.argv) > 2:
                write_result(sys.argv[2], vm, n, m)
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
            vm.stop()
            logsrv.kill()
        assert agent.returncode == 0, f"agent exited {agent.returncode}"
    print("PASS")


if __name__ == "__main__":
    main()
