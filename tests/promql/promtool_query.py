#!/usr/bin/env python3
"""promtool_query.py — Debian's promtool (Go client_golang) as a real client
of Lookout's query API: `promtool query instant|range|series|labels` against
`lookout server` on a loopback port, with data imported over HTTP first.
Checks the printed answers (values, labels, timestamps) and the error path;
then the same server through `lookout query` / `lookout query-range`
(table and -o json).

usage: promtool_query.py LOOKOUT"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lkt import free_port, http  # noqa: E402  (shared test helpers)


def promtool(*args):
    r = subprocess.run(["promtool", "query"] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def main():
    exe = sys.argv[1]
    if not shutil.which("promtool"):
        print("promtool not installed (Debian package prometheus)")
        return 77
    work = tempfile.mkdtemp(prefix="promtool-query-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen([exe, "server", "--data", os.path.join(work, "data"),
                             "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if http("GET", base + "/-/ready", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                log.flush()
                tail = open(os.path.join(work, "server.log"), "rb").read()[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"server exited early with {proc.returncode}:\n{tail}")
            time.sleep(0.05)
        else:
            raise RuntimeError("server not ready")
        # 30 minutes of data ending an hour ago: two counters (+30 and +15 per
        # 15 s scrape) and a gauge.
        t0 = (int(time.time()) // 60 - 90) * 60
        lines = []
        for i in range(121):
            ts = (t0 + 15 * i) * 1000
            lines.append(f'req_total{{job="api",instance="a"}} {30 * i} {ts}')
            lines.append(f'req_total{{job="api",instance="b"}} {15 * i} {ts}')
            lines.append(f'temp_celsius{{job="api",room="lab"}} {20 + (i % 4) * 0.5} {ts}')
        status, body = http("POST", base + "/api/v1/import/prometheus", ("\n".join(lines) + "\n").encode())
        check(status // 100 == 2, f"import accepted ({status} {body[:200]!r})")
        t_end = t0 + 1800

        rc, out, err = promtool("instant", f"--time={t_end}", base, "sum by (job) (rate(req_total[5m]))")
        check(rc == 0, f"instant query ran ({err.strip()})")
        lhs, _, rhs = out.strip().partition(" => ")
        val, _, at = rhs.partition(" @")
        check(lhs == '{job="api"}' and abs(float(val) - 3) < 1e-9 and at == f"[{t_end}]",
              f"instant sum(rate) printed: {out.strip()!r}")

        rc, out, err = promtool("instant", f"--time={t_end}", base, 'req_total{instance="b"} / 15')
        check(out.strip() == f'{{instance="b", job="api"}} => 120 @[{t_end}]', f"instant arithmetic: {out.strip()!r}")

        rc, out, err = promtool("instant", f"--time={t_end}", "-o", "json", base, "scalar(count(req_total))")
        doc = json.loads(out)
        check(doc == [t_end, "2"], f"scalar as JSON: {out.strip()!r}")

        rc, out, err = promtool("range", f"--start={t_end - 120}", f"--end={t_end}", "--step=60s", base,
                                'max_over_time(temp_celsius[1m])')
        want = [f'{{job="api", room="lab"}} =>', f"21.5 @[{t_end - 120}]", f"21.5 @[{t_end - 60}]",
                f"21.5 @[{t_end}]"]
        got = [ln.strip() for ln in out.strip().splitlines()]
        check(rc == 0 and got == want, f"range query printed: {got!r}")

        rc, out, err = promtool("series", "--match=req_total", base)
        got = sorted(ln.strip() for ln in out.strip().splitlines())
        check(got == ['{__name__="req_total", instance="a", job="api"}',
                      '{__name__="req_total", instance="b", job="api"}'], f"series: {got!r}")

        rc, out, err = promtool("labels", base, "instance")
        check(out.split() == ["a", "b"], f"label values: {out.split()!r}")

        rc, out, err = promtool("instant", base, "sum(rate(req_total[5m])")
        check(rc != 0 and "bad_data" in err and "unclosed left parenthesis" in err,
              f"parse error reported: {err.strip()!r}")

        rc, out, err = promtool("instant", f"--time={t_end}", base, "req_total + on() req_total")
        check(rc != 0 and "execution" in err and "many-to-many" in err,
              f"execution error reported: {err.strip()!r}")

        def lookout(*args):
            r = subprocess.run([exe] + list(args) + ["--server", base], capture_output=True, text=True,
                               timeout=60)
            return r.returncode, r.stdout, r.stderr

        rc, out, err = lookout("query", 'req_total{instance="b"} / 15', "--time", str(t_end))
        rows = out.strip().splitlines()
        check(rc == 0 and rows[0].split() == ["SERIES", "VALUE"] and
              rows[1].split() == ['{instance="b",', 'job="api"}', "120"], f"lookout query table: {rows!r}")
        rc, out, err = lookout("query", "scalar(count(req_total))", "--time", str(t_end), "-o", "json")
        doc = json.loads(out)
        check(rc == 0 and doc["data"] == {"resultType": "scalar", "result": [t_end, "2"]},
              f"lookout query -o json: {out.strip()!r}")
        rc, out, err = lookout("query-range", "max_over_time(temp_celsius[1m])", "--start", str(t_end - 120),
                               "--end", str(t_end), "--step", "60s")
        rows = out.strip().splitlines()
        check(rc == 0 and len(rows) == 4 and rows[0].split() == ["SERIES", "TIME", "VALUE"] and
              all(r.split()[-1] == "21.5" for r in rows[1:]), f"lookout query-range table: {rows!r}")
        rc, out, err = lookout("query", "sum(")
        check(rc == 1 and "bad_data" in err and "unclosed left parenthesis" in err,
              f"lookout query error: {err.strip()!r}")
        rc, out, err = lookout("query")
        check(rc == 2 and "usage" in err, "lookout query without EXPR is a usage error")
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
