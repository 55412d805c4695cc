#!/usr/bin/env python3
"""prometheus_rw.py — a real Prometheus (Debian's 2.42, as the SENDER)
scrapes a static target with a known gauge and Lookout's own /metrics every
second and remote_writes to Lookout on loopback. The test waits (bounded)
until the series show up in Lookout's /api/v1/series, then stops both and
checks the stored values read back from the data directory.

usage: prometheus_rw.py LOOKOUT TSDB_DUMP"""
import http.server
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

TARGET = b'# HELP known_gauge A gauge with a known value.\n# TYPE known_gauge gauge\nknown_gauge{kind="test"} 42.5\n'


class Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(TARGET)))
        self.end_headers()
        self.wfile.write(TARGET)

    def log_message(self, *a):
        pass


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
remote_write:
  - url: http://127.0.0.1:{srv.port}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 500, min_backoff: 100ms, max_backoff: 1s}}
""")
            plog = open(os.path.join(work, "prometheus.log"), "wb")
            proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={work}/prom",
                                     f"--web.listen-address=127.0.0.1:{lkt.free_port()}"],
                                    stdout=plog, stderr=plog)
            want = {("known_gauge", "static"), ("lookout_build_info", "lookout"), ("up", "static")}
            deadline = time.time() + 90
            seen = set()
            while time.time() < deadline and not want <= seen:
                if proc.poll() is not None:
                    raise RuntimeError("prometheus exited early")
                st, j = lkt.get_json(srv.base + "/api/v1/series?match[]={job=~%22static|lookout%22}")
                assert st == 200, j
                seen = {(s["__name__"], s["job"]) for s in j["data"]}
                time.sleep(0.5)
            if not want <= seen:
                raise RuntimeError(f"series not received in time: have {sorted(seen)}")
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
        finally:
            if proc:
                proc.kill()
                proc.wait()
            srv.kill()
            target.shutdown()


if __name__ == "__main__":
    main()
