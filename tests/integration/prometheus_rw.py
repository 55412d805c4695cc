#!/usr/bin/env python3
"""prometheus_rw.py — a real Prometheus (Debian's 2.42, as the SENDER)
scrapes a static target with a known gauge and Lookout's own /metrics every
second and remote_writes to Lookout on loopback. The test waits (bounded)
until the series show up in Lookout's /api/v1/series, then stops both and
checks the stored values read back from the data directory.

Native histograms: Prometheus runs with --enable-feature=native-histograms
and send_native_histograms, and a third job (path /nh) serves a native
histogram in the protobuf exposition format. Lookout cannot store those
yet: it must answer 400 naming them (Prometheus logs the answer), count
them under reason="native_histogram", and still store the float samples
sent with them — while never creating the histogram's series.

usage: prometheus_rw.py LOOKOUT TSDB_DUMP"""
import http.server
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

TARGET = b'# HELP known_gauge A gauge with a known value.\n# TYPE known_gauge gauge\nknown_gauge{kind="test"} 42.5\n'


def _key(num, wire):
    return lkt._varint(num << 3 | wire)


def native_histogram_family():
    """io.prometheus.client.MetricFamily `nh_seconds` (type HISTOGRAM) whose one
    metric is a native histogram: schema 0, zero bucket 1, buckets (0.5,1]
    and (1,2] holding 1 each; length-delimited as a protobuf scrape sends it."""
    span = _key(1, 0) + lkt._varint(0) + _key(2, 0) + lkt._varint(2)  # offset 0, length 2
    hist = (_key(1, 0) + lkt._varint(3)                                # sample_count
            + _key(2, 1) + struct.pack("<d", 3.5)                      # sample_sum
            + _key(5, 0) + lkt._varint(0)                              # schema
            + _key(6, 1) + struct.pack("<d", 1e-128)                   # zero_threshold
            + _key(7, 0) + lkt._varint(1)                              # zero_count
            + lkt._field(12, span)                                     # positive_span
            + lkt._field(13, lkt._varint(2) + lkt._varint(0)))         # positive_delta 1, 0 (zigzag)
    metric = lkt._field(1, lkt._field(1, b"kind") + lkt._field(2, b"test")) + lkt._field(7, hist)
    fam = (lkt._field(1, b"nh_seconds") + lkt._field(2, b"A native histogram.")
           + _key(3, 0) + lkt._varint(4) + lkt._field(4, metric))
    return lkt._varint(len(fam)) + fam


NH_TYPE = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"


class Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, ctype = (native_histogram_family(), NH_TYPE) if self.path == "/nh" else \
            (TARGET, "text/plain; version=0.0.4")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def native_histograms_refused(base):
    st, body = lkt.http("GET", base + "/metrics")
    assert st == 200, st
    m = re.search(rb'^lookout_samples_rejected_total\{reason="native_histogram"\} (\S+)$', body, re.M)
    assert m, "no native_histogram reason in /metrics"
    return float(m.group(1))


def main():
    exe, dump_exe = sys.argv[1], sys.argv[2]
    prom = lkt.require("prometheus")
    with lkt.workdir("lk-prom-", logs=("lookout.log", "prometheus.log")) as work:
        data = os.path.join(work, "data")
        srv = lkt.Server(exe, data, os.path.join(work, "lookout.log"))
        target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
        threading.Thread(target=target.serve_forever, daemon=True).start()
        proc = None
        try:
            srv.start()
            cfg = os.path.join(work, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: static
    static_configs: [{{targets: ['127.0.0.1:{target.server_address[1]}']}}]
  - job_name: lookout
    static_configs: [{{targets: ['127.0.0.1:{srv.port}']}}]
  - job_name: nh
    metrics_path: /nh
    static_configs: [{{targets: ['127.0.0.1:{target.server_address[1]}']}}]
remote_write:
  - url: http://127.0.0.1:{srv.port}/api/v1/write
    send_native_histograms: true
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 500, min_backoff: 100ms, max_backoff: 1s}}
""")
            plog = open(os.path.join(work, "prometheus.log"), "wb")
            proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={work}/prom",
                                     f"--web.listen-address=127.0.0.1:{lkt.free_port()}",
                                     "--enable-feature=native-histograms"],
                                    stdout=plog, stderr=plog)
            want = {("known_gauge", "static"), ("lookout_build_info", "lookout"), ("up", "static"),
                    ("up", "nh")}
            deadline = time.time() + 90
            seen = set()
            refused = 0
            while time.time() < deadline and not (want <= seen and refused):
                if proc.poll() is not None:
                    raise RuntimeError("prometheus exited early")
                st, j = lkt.get_json(srv.base + "/api/v1/series?match[]={job=~%22static|lookout|nh%22}")
                assert st == 200, j
                seen = {(s["__name__"], s["job"]) for s in j["data"]}
                refused = native_histograms_refused(srv.base)
                time.sleep(0.5)
            if not want <= seen:
                raise RuntimeError(f"series not received in time: have {sorted(seen)}")
            assert refused > 0, "no native histogram sample reached Lookout"
            assert not any(n.startswith("nh_seconds") for n, _ in seen), seen  # never created
            time.sleep(2)  # a few more scrapes
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            proc = None
            assert srv.kill(signal.SIGTERM) == 0, "lookout did not stop cleanly"
            stored = lkt.dump(dump_exe, data)
            gauge = [v for k, s in stored.items() for v in s.values()
                     if dict(k).get("__name__") == "known_gauge" and dict(k).get("kind") == "test"]
            ups = [v for k, s in stored.items() for v in s.values()
                   if dict(k).get("__name__") == "up" and dict(k).get("job") == "static"]
            real = [v for v in gauge if v == v]  # stale markers are NaN
            print(f"known_gauge samples={len(gauge)} up samples={len(ups)}")
            assert real and all(v == 42.5 for v in real), gauge
            assert ups and all(v == 1.0 for v in ups if v == v), ups
            key = [dict(k) for k in stored if dict(k).get("__name__") == "known_gauge"][0]
            assert key.get("instance", "").startswith("127.0.0.1:"), key
            with open(os.path.join(work, "prometheus.log"), errors="replace") as f:
                plog_text = f.read()
            assert "native histograms are not supported yet: refused" in plog_text, \
                "Prometheus did not log Lookout's refusal"
            print(f"native histogram samples refused: {refused}")
        finally:
            if proc:
                proc.kill()
                proc.wait()
            srv.kill()
            target.shutdown()


if __name__ == "__main__":
    main()
