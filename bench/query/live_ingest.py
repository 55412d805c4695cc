"""live_ingest.py — warm queries while samples keep arriving, as on a node
that is being scraped.

A result cache that answers only while nothing is written looks fast in a
warm run over a quiet server and rarely helps a live one. So in this mode a
background thread sends one remote_write request every EVERY_S seconds to
the peer under test: one sample for each series of the dataset (labels read
from the dataset's first lines), at times after the dataset's end that
advance with the wall clock — the next scrapes of the same targets. Every
sample is new data after the queried range (the answers must not change);
every timed run of a query waits until one more write was acknowledged
first, so no two timed runs see the same stored data.

Used by bench_query.py (q1–q8) and bench/longrange (q7): warm_while_ingesting().
"""
import http.client
import statistics
import threading
import time

import shared

RW = shared.load("rw_encode")
EVERY_S = 0.5
HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "bench-live-ingest"}


def dataset_series(dataset, want, max_lines=2000000):
    """[(encoded labels, last value)] for up to `want` distinct series among
    the dataset's first max_lines samples."""
    seen = {}
    with open(dataset) as f:
        for i, line in enumerate(f):
            if i >= max_lines or len(seen) >= want:
                break
            if line.startswith("#") or not line.strip():
                continue
            key, value, _ts = line.rsplit(" ", 2)
            seen[key] = float(value)
    return [(RW.encode_labels(k), v) for k, v in seen.items()]


class LiveWriter:
    """The background sender; `done` counts acknowledged requests."""

    def __init__(self, port, series, first_ms):
        self.port, self.series, self.first_ms = port, series, first_ms
        self.done = self.samples_ok = self.samples_bad = 0
        self.err = None
        self.cv = threading.Condition()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def body(self, t_ms):
        tv = RW.varint(t_ms)
        parts = []
        for labels, v in self.series:
            sample = RW.SAMPLE_HEAD.pack(0x09, v, 0x10) + tv
            msg = labels + b"\x12" + RW.varint(len(sample)) + sample
            parts.append(b"\x0a" + RW.varint(len(msg)) + msg)
        return RW.compress(b"".join(parts))

    def run(self):
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            while not self.stopping.is_set():
                tick = time.monotonic()
                conn.request("POST", "/api/v1/write", body=self.body(self.first_ms + int((tick - t0) * 1000)),
                             headers=HEADERS)
                resp = conn.getresponse()
                data = resp.read()
                with self.cv:
                    if resp.status // 100 == 2:
                        self.samples_ok += len(self.series)
                    else:
                        self.samples_bad += len(self.series)
                        self.err = self.err or "HTTP %d: %s" % (resp.status, data[:200].decode("utf-8", "replace"))
                    self.done += 1
                    self.cv.notify_all()
                self.stopping.wait(max(0.0, EVERY_S - (time.monotonic() - tick)))
        except Exception as e:  # recorded in the result
            with self.cv:
                self.err = self.err or repr(e)
                self.cv.notify_all()
        finally:
            conn.close()

    def wait_next(self, timeout_s=30):
        """Block until one more request than now has been acknowledged."""
        with self.cv:
            n = self.done
            if not self.cv.wait_for(lambda: self.done > n or self.err, timeout=timeout_s) or self.err:
                raise RuntimeError("live ingest stalled: %s" % (self.err or "no write in %d s" % timeout_s))

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=60)


def warm_while_ingesting(bp, peer, meta, dataset, qs, repeats):
    """Per query: one discarded run, then `repeats` timed runs, each after a
    newly acknowledged write. Returns (per-query results, what was written)."""
    series = dataset_series(dataset, meta["series"])
    first_ms = (-(-meta["max_ts_ms"] // 1000) + 60) * 1000  # past every query's end
    w = LiveWriter(peer.port, series, first_ms)
    w.thread.start()
    out = {}
    try:
        for qname, qpath, params in qs:
            w.wait_next()
            bp.timed_query(peer.port, qpath, params, 1)
            runs = []
            for _ in range(repeats):
                w.wait_next()
                runs.append(bp.timed_query(peer.port, qpath, params, 1))
            out[qname] = {"median_ms": statistics.median(r["all_ms"][0] for r in runs),
                          "all_ms": [r["all_ms"][0] for r in runs],
                          "series": runs[-1]["series"], "points": runs[-1]["points"]}
    finally:
        w.stop()
    writes = {"series": len(series), "every_s": EVERY_S, "requests": w.done,
              "samples_accepted": w.samples_ok, "samples_refused": w.samples_bad}
    if w.err:
        writes["error"] = w.err
    return out, writes
