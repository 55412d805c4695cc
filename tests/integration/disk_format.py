#!/usr/bin/env python3
"""disk_format.py — the stores' on-disk format rules, through the real binary.

A data directory is filled by a real `lookout server` (samples flushed into a
block plus samples left in the WAL; a sealed log segment plus lines left in
the log WAL) and stopped. Then, each on a fresh copy of that directory:

* a file with a bumped version or a wrong magic (what a downgrade after a
  format change finds): `lookout server` and `lookout up` exit non-zero, the
  file's path is in the one level=error line they print, and the file's
  bytes are unchanged (sha256 before and after);
* a byte flipped in the body of a tsdb chunks file or a log segment (valid
  header): the server starts, the query reading it answers HTTP 500 with
  errorType "internal", and the server log names the file.

usage: disk_format.py LOOKOUT"""
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

T0 = 1_700_000_000_000  # ms
SERIES = 5


def samples(base, t_from, n):
    batch = [({"__name__": "fmt_metric", "s": str(i)}, [(t_from + k * 15000, float(k)) for k in range(n)])
             for i in range(SERIES)]
    st, body = lkt.remote_write(base, batch)
    assert st == 204, (st, body)


def push_logs(base, t_ns, count, width):
    values = [[str(t_ns + k), f"line {k} " + "x" * width] for k in range(count)]
    body = json.dumps({"streams": [{"stream": {"app": "fmt"}, "values": values}]}).encode()
    st, resp = lkt.http("POST", base + "/loki/api/v1/push", body, {"Content-Type": "application/json"})
    assert st == 204, (st, resp)


def fill(exe, data, log):
    with lkt.Server(exe, data, log) as srv:
        srv.start()
        samples(srv.base, T0, 240)
        st, body = lkt.http("POST", srv.base + "/api/v1/admin/flush")
        assert st == 204, (st, body)
        samples(srv.base, T0 + 3_600_000, 40)  # stays in the WAL
        for i in range(6):  # 2.4 MB for one stream: past block_bytes, sealed
            push_logs(srv.base, T0 * 1_000_000 + i * 1_000_000_000, 2000, 190)
        push_logs(srv.base, T0 * 1_000_000 + 10_000_000_000, 10, 10)  # stays in the log WAL
        assert srv.kill(signal.SIGTERM) == 0


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def patch(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x5A]))


def one(pattern):
    found = glob.glob(pattern)
    assert len(found) == 1, (pattern, found)
    return found[0]


def expect_refused(exe, pristine, work, cmd, rel, off, data):
    data_dir = os.path.join(work, "case")
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(pristine, data_dir)
    path = one(os.path.join(data_dir, rel))
    patch(path, off, data)
    before = sha256(path)
    out = subprocess.run([exe, cmd, "--data", data_dir, "--listen", f"127.0.0.1:{lkt.free_port()}"],
                         capture_output=True, timeout=60)
    err = out.stderr.decode(errors="replace")
    what = f"{cmd} with {rel} patched at {off}"
    assert out.returncode != 0, f"{what}: exit status 0\n{err}"
    errors = [line for line in err.splitlines() if "level=error" in line]
    assert len(errors) == 1, f"{what}: expected one error line\n{err}"
    assert path in errors[0] and "unknown file format" in errors[0], f"{what}: {errors[0]}"
    assert sha256(path) == before, f"{what}: the file was changed"
    print(f"ok: {what}: refused, file unchanged")


def expect_internal_error(exe, pristine, work, rel, offset_of, query_path):
    data_dir, log = os.path.join(work, "case"), os.path.join(work, "server.log")
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(pristine, data_dir)
    open(log, "w").close()
    path = one(os.path.join(data_dir, rel))
    flip(path, offset_of(os.path.getsize(path)))
    with lkt.Server(exe, data_dir, log) as srv:
        srv.start()
        st, body = lkt.http("GET", srv.base + query_path)
    assert st == 500, (rel, st, body)
    assert json.loads(body)["errorType"] == "internal", body
    with open(log, errors="replace") as f:
        lines = [line for line in f if "level=error" in line and path in line]
    assert lines, f"no error line naming {path} in the server log"
    print(f"ok: damaged {rel}: HTTP 500 internal, log names the file")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-format-") as work:
        pristine = os.path.join(work, "pristine")
        fill(exe, pristine, os.path.join(work, "server.log"))
        bump32, magic = (2).to_bytes(4, "little"), b"XYZW"
        cases = [("tsdb/wal/seg-*", 4, b"\x02"), ("tsdb/wal/seg-*", 0, magic),
                 ("tsdb/wal/ckpt-*", 4, b"\x02"),
                 ("tsdb/b-*/index", 4, b"\x02"), ("tsdb/b-*/chunks", 0, magic),
                 ("logs/wal.log", 4, bump32), ("logs/seg-*.lks", 0, magic), ("logs/seg-*.lks", 4, bump32)]
        for rel, off, data in cases:
            expect_refused(exe, pristine, work, "server", rel, off, data)
        expect_refused(exe, pristine, work, "up", "tsdb/wal/seg-*", 4, b"\x02")
        expect_refused(exe, pristine, work, "up", "logs/seg-*.lks", 4, bump32)
        q = urllib.parse.urlencode({"query": "fmt_metric", "start": T0 // 1000, "end": T0 // 1000 + 3600,
                                    "step": 60})
        expect_internal_error(exe, pristine, work, "tsdb/b-*/chunks", lambda n: n // 2, "/api/v1/query_range?" + q)
        q = urllib.parse.urlencode({"query": '{app="fmt"}', "start": T0 * 1_000_000,
                                    "end": T0 * 1_000_000 + 20_000_000_000, "limit": 5000})
        expect_internal_error(exe, pristine, work, "logs/seg-*.lks", lambda n: n - 5,
                              "/loki/api/v1/query_range?" + q)
    print("disk_format: all cases passed")


if __name__ == "__main__":
    main()
