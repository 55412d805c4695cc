#!/usr/bin/env python3
"""bad_input.py — the ingest endpoints of a running `lookout server` against
bad input: garbage and truncated snappy/protobuf, malformed exposition lines,
oversized bodies, invalid label names, wrong encodings. Each must get the
right 4xx with a clear message, nothing from a rejected request may be
stored, and the server must keep serving (and keep earlier data).
Also checks `promtool check metrics` on /metrics (SKIP without promtool).

usage: bad_input.py LOOKOUT"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402


def expect(what, got, status, needle=None):
    st, body = got
    text = body.decode(errors="replace")
    ok = st == status and (needle is None or needle in text)
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {st} {text[:160]}")
    if not ok:
        raise AssertionError(f"{what}: want {status} containing {needle!r}")


def series(base, sel):
    st, j = lkt.get_json(base + "/api/v1/series?match[]=" + sel)
    assert st == 200, j
    return j["data"]


def main():
    exe = sys.argv[1]
    promtool = lkt.require("promtool")
    with lkt.workdir("lk-bad-") as work:
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write("limits: { max_body_size: 64KiB }\n")
        with lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"), ["--config", cfg]) as srv:
            srv.start()
            b = srv.base
            now = int(time.time() * 1000)  # imports without timestamps use "now"; keep within retention
            good = [({"__name__": "bad_good", "a": "1"}, [(now, 1.0)])]
            expect("valid remote_write", lkt.remote_write(b, good), 204)
            rw = lambda body, h=lkt.RW_HEADERS: lkt.http("POST", b + "/api/v1/write", body, h)  # noqa: E731
            expect("garbage snappy", rw(b"\xff\xfe\xfd not snappy"), 400, "snappy")
            body = lkt.snappy_block(lkt.write_request([({"__name__": "bad_trunc"}, [(1000, 1.0)])]))
            expect("truncated snappy", rw(body[:-4]), 400, "snappy")
            expect("garbage protobuf", rw(lkt.snappy_block(b"\x0a\x7f\x0a\x02ab")), 400, "protobuf")
            expect("empty body", rw(b""), 400)
            expect("gzip remote_write", rw(body, dict(lkt.RW_HEADERS, **{"Content-Encoding": "gzip"})), 415,
                   "snappy")
            bad_label = [({"__name__": "bad_stored", "ok": "1"}, [(1000, 1.0)]),
                         ({"__name__": "bad_stored", "0bad": "x"}, [(1000, 1.0)])]
            expect("invalid label name", lkt.remote_write(b, bad_label), 400, "0bad")
            empty_value = [({"__name__": "bad_stored", "a": ""}, [(1000, 1.0)])]
            expect("empty label value", lkt.remote_write(b, empty_value), 400)
            expect("series without labels", rw(lkt.snappy_block(bytes([0x0a, 0x0b, 0x12, 0x09, 0x09]) + bytes(8))), 400)
            expect("oversized remote_write", rw(b"\0" * (100 << 10)), 413, "exceeds")
            expect("malformed exposition line", lkt.import_text(b, "bad_imp 1\nbad_imp{a=\"1\" 2\nbad_imp2 3\n"),
                   400, "line 2")
            expect("bad value", lkt.import_text(b, "bad_val one\n"), 400, "line 1")
            expect("bad import label", lkt.import_text(b, 'bad_val{1a="x"} 1\n'), 400, "line 1")
            expect("unknown import encoding", lkt.import_text(b, "x 1\n", headers={"Content-Encoding": "zstd"}),
                   415)
            expect("garbage gzip", lkt.import_text(b, "not gzip", headers={"Content-Encoding": "gzip"}), 400,
                   "gzip")
            expect("unknown path", lkt.http("GET", b + "/api/v1/nope"), 404, "not_found")
            expect("wrong method", lkt.http("GET", b + "/api/v1/write"), 405)
            # nothing from rejected requests; everything accepted before is still there
            assert series(b, "bad_stored") == [], "rejected remote_write stored data"
            assert series(b, "bad_trunc") == [], "truncated body stored data"
            assert series(b, "bad_val") == [], "rejected import stored data"
            assert series(b, "bad_imp2") == [], "import stored lines after the bad one"
            assert series(b, "bad_good") == [{"__name__": "bad_good", "a": "1"}]
            # promtool lints our own metrics
            st, metrics = lkt.http("GET", b + "/metrics")
            assert st == 200
            p = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True, timeout=60)
            print("promtool check metrics:", p.returncode, p.stderr.decode()[:500])
            assert p.returncode == 0, p.stderr.decode()
            assert b'lookout_ingest_requests_rejected_total{path="remote_write"}' in metrics
            assert srv.kill(signal.SIGTERM) == 0, "server did not stop cleanly"


if __name__ == "__main__":
    main()
