#!/usr/bin/env python3
"""bench_render.py — GET /api/v1/render (a PromQL range query drawn as a PNG
by librrd) on a release `lookout server` over loopback.

Data: --series series `bench_render{i="<k>"}` over the --hours before now at
a --step s scrape (smooth daily curves with noise, so every line has detail
in every pixel column), loaded through /api/v1/import/prometheus. Then
--runs renders of `bench_render` over the whole range at --step (each series
is --hours × 3600 / --step points), --width × --height, one at a time on a
kept-alive connection after --warmup discarded ones. Each answer must be a
PNG of the requested size (IHDR). The time is the client's, from sending
the request to the last byte: query evaluation, rrd_graph and HTTP.
Figures: p50 / p99 (nearest rank) / min / max ms, beside the target, and
the server's CPU (utime+stime from /proc) per render, which a loaded
machine inflates less than the wall time.

Writes bench/results/render.{json,txt}.

  bench/render/bench_render.py [--lookout build/lookout] [--runs 200] [--warmup 5]
      [--series 10] [--hours 24] [--step 60] [--width 800] [--height 300]
"""
import argparse
import http.client
import math
import os
import random
import struct
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import lkt  # noqa: E402  (server start, import)
from results import Recorder  # noqa: E402

TARGET_MS = 50.0


def dataset(series, hours, step, now, seed=1):
    """Exposition text: one smooth daily curve per series, with noise."""
    rnd = random.Random(seed)
    n = hours * 3600 // step + 1
    start = now - (n - 1) * step
    out = []
    for k in range(series):
        phase, base = rnd.uniform(0, 2 * math.pi), 20 + 10 * k
        for j in range(n):
            t = start + j * step
            v = base + 15 * math.sin(2 * math.pi * t / 86400 + phase) + rnd.gauss(0, 2)
            out.append('bench_render{i="%d"} %.3f %d\n' % (k, v, t * 1000))
    return "".join(out), n


def nearest_rank(sorted_v, p):
    return sorted_v[max(0, math.ceil(p / 100 * len(sorted_v)) - 1)]


def png_size(body):
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR", body[:32]
    return struct.unpack(">II", body[16:24])


def cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port, pid, path, runs, warmup, size):
    """Client wall ms per render, the PNG's size in bytes, and the server's CPU s over the measured runs."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, nbytes, cpu0 = [], 0, None
    for i in range(warmup + runs):
        if i == warmup:
            cpu0 = cpu_s(pid)
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1000
        assert r.status == 200 and r.getheader("Content-Type") == "image/png", (r.status, body[:300])
        assert png_size(body) == size, png_size(body)
        if i >= warmup:
            times.append(ms)
            nbytes = len(body)
    cpu = cpu_s(pid) - cpu0
    conn.close()
    return times, nbytes, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookout", default=os.path.join(ROOT, "build", "lookout"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--series", type=int, default=10)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--step", type=int, default=60)
    ap.add_argument("--width", type=int, default=800)
    ap.add_argument("--height", type=int, default=300)
    a = ap.parse_args()
    rec = Recorder("render")
    with lkt.workdir("lk-bench-render-") as work:
        with lkt.Server(a.lookout, os.path.join(work, "data"), os.path.join(work, "server.log")) as srv:
            srv.start()
            now = int(time.time()) // a.step * a.step
            text, points = dataset(a.series, a.hours, a.step, now)
            st, body = lkt.import_text(srv.base, text, timeout=120)
            assert st == 200, (st, body)
            q = {"query": "bench_render", "start": now - a.hours * 3600, "end": now, "step": a.step,
                 "width": a.width, "height": a.height, "title": "bench_render"}
            path = "/api/v1/render?" + urllib.parse.urlencode(q)
            st, info = lkt.get_json(srv.base + path + "&format=json")
            assert st == 200 and info["data"]["series"] == a.series, (st, info)
            times, png_bytes, cpu = measure(srv.port, srv.proc.pid, path, a.runs, a.warmup, (a.width, a.height))
    s = sorted(times)
    fig = {"p50_ms": nearest_rank(s, 50), "p99_ms": nearest_rank(s, 99), "min_ms": s[0], "max_ms": s[-1],
           "mean_ms": sum(s) / len(s), "server_cpu_ms_per_render": cpu * 1000 / a.runs}
    body = {"series": a.series, "hours": a.hours, "step_s": a.step, "points_per_series": points,
            "width": a.width, "height": a.height, "runs": a.runs, "warmup": a.warmup, "png_bytes": png_bytes,
            "target_ms": TARGET_MS, "legend": len(info["data"]["legend"]), **fig,
            "times_ms": [round(t, 2) for t in times]}
    table = ("%d series x %d points (%d h at %d s), %dx%d PNG (%d bytes), %d runs after %d warm-up\n"
             "p50 %.1f ms  p99 %.1f ms  min %.1f ms  max %.1f ms  (target <= %.0f ms); "
             "server CPU %.1f ms per render\n" % (
                 a.series, points, a.hours, a.step, a.width, a.height, png_bytes, a.runs, a.warmup,
                 fig["p50_ms"], fig["p99_ms"], fig["min_ms"], fig["max_ms"], TARGET_MS,
                 fig["server_cpu_ms_per_render"]))
    sys.stdout.write(table)
    print("results: " + rec.write(body, table))


if __name__ == "__main__":
    main()
