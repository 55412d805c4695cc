"""webhook_sink.py — a webhook receiver on 127.0.0.1 for the alerting tests:
records every POST (arrival time, path, headers, decoded JSON body) and
answers each path with a status the test chooses (200 by default; 503 to
play a receiver that is down, 400 for one that refuses). It can stop and
start again on the same port (connection refused in between). Also the
test-side Alertmanager facts: the fingerprint algorithm and Go's time text."""
import datetime
import http.server
import json
import threading
import time


def fingerprint(labels):
    """Alertmanager's: FNV-1a 64 over names and values sorted by name, each
    followed by a 0xff byte, as 16 hex digits."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for part in (name.encode(), labels[name].encode()):
            for byte in part + b"\xff":
                h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def go_time(ts):
    """A Unix time (float seconds) as Go marshals a UTC time.Time (ms precision)."""
    d = datetime.datetime.fromtimestamp(round(ts, 3), datetime.timezone.utc)
    text = d.strftime("%Y-%m-%dT%H:%M:%S")
    ms = d.microsecond // 1000
    if ms:
        text += (".%03d" % ms).rstrip("0")
    return text + "Z"


class Sink:
    def __init__(self, port=0):
        self.port = port
        self.lock = threading.Lock()
        self.got = []          # (time, path, headers dict, body)
        self.status = {}       # path -> status code to answer
        self.server = None
        self.thread = None

    def start(self):
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                with sink.lock:
                    sink.got.append((time.time(), self.path, dict(self.headers), body))
                    code = sink.status.get(self.path, 200)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path):
        with self.lock:
            return [(t, b) for t, p, _, b in self.got if p == path]

    def requests(self, path):
        with self.lock:
            return [(t, h, b) for t, p, h, b in self.got if p == path]

    def wait(self, path, count, timeout):
        """The first `count` bodies posted to path, waiting up to timeout s."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.bodies(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: wanted {count} notifications in {timeout}s, got {self.bodies(path)}")
