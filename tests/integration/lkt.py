"""lkt.py — shared helpers for Lookout's integration tests: start/stop a
`lookout server` on a free loopback port, HTTP calls, remote_write encoding
(protobuf by hand + python3-snappy block format), and reading a data
directory back with the tsdb_dump helper, and a work directory that shows
the logs in it when a test fails. Every wait is bounded."""
import contextlib
import json
import os
import shutil
import ssl
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


SKIP = 77  # meson reports this exit code as SKIP


def require(program):
    """The path of an installed program; without it, say so and exit 77 (SKIP):
    a test whose point needs the program must not report OK."""
    path = shutil.which(program)
    if not path:
        print(f"SKIP: {program} not installed")
        sys.exit(SKIP)
    return path


@contextlib.contextmanager
def workdir(prefix, logs=("server.log",), tail=3000):
    """A fresh temporary directory, removed afterwards. When the block raises,
    the last `tail` characters of each named log file in it go to stderr."""
    work = tempfile.mkdtemp(prefix=prefix)
    try:
        yield work
    except Exception:
        for name in logs:
            path = os.path.join(work, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    sys.stderr.write(f"--- {name}\n" + f.read()[-tail:])
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def wait_for(what, fn, timeout=60, interval=0.25):
    """Calls fn until it returns something true (returned), for at most
    timeout seconds; then fails naming what was awaited and fn's last answer."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """`lookout server` (or cmd, e.g. "up") on a data dir; start() again restarts it on a new port."""

    def __init__(self, exe, data, log_path, extra=(), scheme="http", cmd="server"):
        self.exe, self.data, self.log_path, self.extra = exe, data, log_path, list(extra)
        self.scheme, self.cmd = scheme, cmd
        self.proc = None
        self.port = None

    @property
    def base(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout=30, port=None):
        """Starts on a free port, or on `port` (a restart keeping its address)."""
        self.port = port or free_port()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.exe, self.cmd, "--data", self.data, "--listen", f"127.0.0.1:{self.port}"] + self.extra,
            stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if http("GET", self.base + "/-/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def kill(self, sig=signal.SIGKILL, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc


def refused_start(exe, cfg, config_text, args, timeout=30):
    """Writes config_text to cfg and runs `lookout ARGS --config cfg`, which
    must stop with a non-zero exit: returns what it printed on stderr."""
    with open(cfg, "w") as f:
        f.write(config_text)
    p = subprocess.run([exe] + list(args) + ["--config", cfg], capture_output=True, timeout=timeout)
    err = p.stderr.decode()
    assert p.returncode != 0, (p.returncode, err)
    return err


# Test servers use self-signed certificates.
_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_INSECURE) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_json(url, timeout=10):
    st, body = http("GET", url, timeout=timeout)
    return st, json.loads(body) if body else None


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, data):
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def write_request(series):
    """series: list of (labels dict, [(t_ms, value), ...]) → protobuf bytes."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            ts += _field(1, _field(1, name.encode()) + _field(2, labels[name].encode()))
        for t, v in samples:
            ts += _field(2, b"\x09" + struct.pack("<d", v) + b"\x10" + _varint(t))
        out += _field(1, bytes(ts))
    return bytes(out)


RW_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
              "X-Prometheus-Remote-Write-Version": "0.1.0"}


def snappy_block(data):
    """Snappy block format made of literals only: valid for any decoder, no
    compression, and no dependency on a snappy module."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + n.to_bytes(2, "little")
        out += chunk
    return bytes(out)


def remote_write(base, series, timeout=10):
    return http("POST", base + "/api/v1/write", snappy_block(write_request(series)), RW_HEADERS, timeout)


def import_text(base, text, timeout=10, headers=None):
    return http("POST", base + "/api/v1/import/prometheus", text.encode(), headers or {}, timeout)


def dump(dump_exe, data_dir):
    """{labels-tuple: {t: value}} read straight from the data directory."""
    out = subprocess.run([dump_exe, os.path.join(data_dir, "tsdb")], capture_output=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("tsdb_dump failed: " + out.stderr.decode())
    res = {}
    for line in out.stdout.decode().splitlines():
        o = json.loads(line)
        key = tuple(sorted(o["labels"].items()))
        res[key] = {t: float(v) for t, v in zip(o["t"], o["v"])}
    return res
