#!/usr/bin/env python3
"""disk_full.py — a full disk under ingest: the server and the agent.

Server: its data directory is a small tmpfs (mounted here; needs root, else
SKIP). Remote_write and Loki push run until a filler file takes every free
byte; then both must answer 507 Insufficient Storage while queries keep
answering 200. Each refused request is retried (as Prometheus and Promtail
do) until it is acknowledged, which must happen by itself once the filler is
deleted. Then the server is killed with SIGKILL: the WAL must replay without
a torn or corrupt record (ENOSPC must not leave partial records), every
acknowledged sample must read back with its value (tsdb_dump), every
acknowledged log line exactly once (Loki API after a restart), and no
half-written block or segment may be left (.tmp).

Agent: `lookout agent` with its data (queues, positions) on another full
tmpfs, tailing a log file and collecting node metrics: it logs one line when
its queue cannot be written (metrics requests are dropped; log batches stay
in the file and are retried by the tailer), and once space returns it logs
that too and every line written meanwhile reaches the server exactly once.

usage: disk_full.py LOOKOUT TSDB_DUMP"""
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

CONFIG = """storage:
  block_range: 1m
  retention: 400d
  log_block_size: 2KiB
  log_wal_size: 8KiB
  log_segment_size: 16KiB
orchestrator:
  enabled: false
builtin_rules: false
"""
T0 = 1_700_000_000_000


@contextlib.contextmanager
def tmpfs(path, size):
    os.makedirs(path)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    if p.returncode != 0:
        print(f"SKIP: cannot mount a tmpfs ({p.stderr.decode().strip()})")
        sys.exit(lkt.SKIP)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


def fill(path):
    """Write a filler file until the filesystem is full; returns its path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 1):
            for _ in range(1 << 16):  # bounded: the tmpfs is a few MiB
                try:
                    f.write(b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return filler


class Writer:
    """Remote_write and Loki push requests with increasing time stamps; the
    acknowledged ones are recorded."""

    def __init__(self, base):
        self.base = base
        self.t = T0
        self.batch_no = 0
        self.acked = {}       # series key → {t: v}
        self.lines = set()    # acknowledged lines
        self.statuses = {}    # (kind, status) → count

    def metrics(self):
        batch = []
        for s in range(20):
            labels = {"__name__": "disk_full", "series": str(s)}
            batch.append((labels, [(self.t + k * 1000, float(self.batch_no * 1000 + s * 10 + k)) for k in range(10)]))
        self.t += 15_000
        return batch

    def logs(self):
        self.batch_no += 1
        lines = [f"batch {self.batch_no} line {i} " + "y" * 100 for i in range(20)]
        ts = (self.t * 1_000_000)
        body = {"streams": [{"stream": {"job": "disk_full"},
                             "values": [[str(ts + i), ln] for i, ln in enumerate(lines)]}]}
        return lines, json.dumps(body).encode()

    def send(self, kind, payload, retry=False):
        """POST it; 2xx records it as acknowledged. A remote_write retry of
        a refused request may answer 400 "out of order": the refused attempt
        had stored its samples in memory (as a re-sent batch to Prometheus's
        own receiver), so they count as acknowledged and must read back."""
        if kind == "rw":
            code, body = lkt.remote_write(self.base, payload, timeout=10)
        else:
            code, body = lkt.http("POST", self.base + "/loki/api/v1/push", payload[1],
                                  {"Content-Type": "application/json"}, timeout=10)
        self.statuses[(kind, code)] = self.statuses.get((kind, code), 0) + 1
        if retry and code == 400 and kind == "rw" and b"out of order" in body:
            code = 200  # stored by the refused attempt: kept in memory, written once space returned
        if code // 100 == 2:
            if kind == "rw":
                for lb, smp in payload:
                    self.acked.setdefault(tuple(sorted(lb.items())), {}).update(smp)
            else:
                self.lines.update(payload[0])
        elif code != 507:
            raise AssertionError(f"{kind} answered {code} (want 2xx or 507): {body[:300]!r}")
        return code

    def round(self):
        """One remote_write and one push; the codes."""
        return self.send("rw", self.metrics()), self.send("loki", self.logs())


def reads_work(base):
    code, _ = lkt.get_json(base + "/api/v1/query?query=count(disk_full)&time=" + str(T0 // 1000 + 60))
    q = urllib.parse.urlencode({"query": '{job="disk_full"}', "start": str(T0 * 1_000_000),
                                "end": str((T0 + 10**9) * 1_000_000), "limit": "10"})
    code2, _ = lkt.get_json(base + "/loki/api/v1/query_range?" + q)
    return code == 200 and code2 == 200


def server_part(exe, dump_exe, work):
    mnt = os.path.join(work, "mnt")
    log, cfg = os.path.join(work, "server.log"), os.path.join(work, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    with tmpfs(mnt, "6m"):
        data = os.path.join(mnt, "data")
        with lkt.Server(exe, data, log, extra=["--config", cfg]) as srv:
            srv.start()
            w = Writer(srv.base)
            for _ in range(20):
                assert w.round() == (204, 204), w.statuses
            filler = fill(mnt)
            # Full: both write paths must answer 507 (bounded: each request
            # adds data, so the few bytes the filler could not take go fast).
            # Like Prometheus and Promtail, a refused request is retried
            # before anything newer of its kind is sent.
            pending = {}
            for _ in range(200):
                for kind, make in (("rw", w.metrics), ("loki", w.logs)):
                    if kind not in pending:
                        payload = make()
                        if w.send(kind, payload) == 507:
                            pending[kind] = payload
                if len(pending) == 2:
                    break
            assert len(pending) == 2, f"no 507 from both while full: {w.statuses}"
            assert reads_work(srv.base), "queries failed while the disk was full"
            for kind, payload in pending.items():  # still full: refused, or stored for good
                w.send(kind, payload, retry=True)
            os.unlink(filler)
            # Space is back: the retries go through by themselves.
            for kind, payload in pending.items():
                lkt.wait_for(f"{kind} accepted again", lambda: w.send(kind, payload, retry=True) // 100 == 2,
                             timeout=30)
            for _ in range(20):
                assert w.round() == (204, 204), w.statuses
            print(f"server: statuses={sorted(w.statuses.items())} refused_then_acked={len(pending)}")
            srv.kill(signal.SIGKILL)
            text = open(log, errors="replace").read()
            dump = subprocess.run([dump_exe, os.path.join(data, "tsdb")], capture_output=True, timeout=120)
            err = dump.stderr.decode()
            assert dump.returncode == 0, err
            assert "torn" not in err, f"the WAL held a partial record after ENOSPC: {err}"
            stored = lkt.dump(dump_exe, data)
            missing = [(k, t) for k, smp in w.acked.items() for t, v in smp.items()
                       if stored.get(k, {}).get(t) != v]
            assert not missing, f"{len(missing)} acknowledged samples lost, e.g. {missing[:3]}"
            srv.start()
            text = open(log, errors="replace").read()
            for bad in ("torn tail", "removed incomplete block", "header written again"):
                assert bad not in text, f"after ENOSPC the restart had to repair: {bad}"
            q = urllib.parse.urlencode({"query": '{job="disk_full"}', "start": str(T0 * 1_000_000),
                                        "end": str((w.t + 1) * 1_000_000), "limit": "5000",
                                        "direction": "forward"})
            code, j = lkt.get_json(srv.base + "/loki/api/v1/query_range?" + q)
            assert code == 200, j
            seen = {}
            for st in j["data"]["result"]:
                for _, ln in st["values"]:
                    seen[ln] = seen.get(ln, 0) + 1
            lost = w.lines - set(seen)
            twice = [ln for ln, c in seen.items() if c > 1]
            assert not lost and not twice, f"log lines: {len(lost)} lost, {len(twice)} twice (e.g. {twice[:2]})"
            srv.kill(signal.SIGTERM)
            left = [os.path.join(r, n) for r, ds, fs in os.walk(data) for n in ds + fs if n.endswith(".tmp")]
            assert not left, f"half-written files left: {left}"
            print(f"server: samples={sum(len(s) for s in w.acked.values())} lines={len(w.lines)} all back, "
                  f"wal warnings={text.count('wal: write failed')}")


def agent_part(exe, work):
    mnt = os.path.join(work, "agent-mnt")
    log, alog = os.path.join(work, "server2.log"), os.path.join(work, "agent.log")
    app_log = os.path.join(work, "app.log")
    acfg = os.path.join(work, "agent.yaml")
    with tmpfs(mnt, "2m"):
        with open(acfg, "w") as f:
            f.write(f"data: {mnt}/agent\ncollector:\n  interval: 1s\n  log_paths: [\"{app_log}\"]\n")
        with lkt.Server(exe, os.path.join(work, "data2"), log) as srv:
            srv.start()
            open(app_log, "w").close()
            cgroups = os.path.join(work, "cgroup")
            os.makedirs(cgroups)
            with open(alog, "ab") as out:
                agent = subprocess.Popen([exe, "agent", "--server", srv.base, "--config", acfg, "--listen", "none",
                                          "--cgroup-root", cgroups], stdout=out, stderr=out)
            try:
                def write_lines(tag, n):
                    with open(app_log, "a") as f:
                        for i in range(n):
                            f.write(f"{tag} line {i}\n")
                    return {f"{tag} line {i}" for i in range(n)}

                def server_lines():
                    q = urllib.parse.urlencode({"query": '{filename=~".+"} |= "line"', "limit": "5000",
                                                "start": str(int((time.time() - 3600) * 1e9)),
                                                "end": str(int((time.time() + 60) * 1e9))})
                    code, j = lkt.get_json(srv.base + "/loki/api/v1/query_range?" + q)
                    assert code == 200, j
                    return [ln for s in j["data"]["result"] for _, ln in s["values"]]

                want = write_lines("before", 50)
                lkt.wait_for("lines before the disk fills", lambda: want <= set(server_lines()), timeout=60)
                filler = fill(mnt)
                want |= write_lines("full", 50)
                lkt.wait_for("the agent's queue warning", lambda: "push queue: cannot write" in
                             open(alog, errors="replace").read(), timeout=30)
                time.sleep(2)
                os.unlink(filler)
                want |= write_lines("after", 50)
                lkt.wait_for("every line after space returned", lambda: want <= set(server_lines()), timeout=60)
                lkt.wait_for("the agent's recovery line", lambda: "works again" in
                             open(alog, errors="replace").read(), timeout=30)
                got = server_lines()
                twice = {ln for ln in got if got.count(ln) > 1}
                assert not twice, f"lines stored twice: {sorted(twice)[:3]}"
                text = open(alog, errors="replace").read()
                warns = text.count("push queue: cannot write")
                assert warns <= 2, f"the queue warning was logged {warns} times (one per episode and queue)"
                assert agent.poll() is None, "the agent died on the full disk"
                print(f"agent: lines={len(want)} all arrived once, queue warnings={warns}")
            finally:
                agent.send_signal(signal.SIGTERM)
                try:
                    agent.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait()


def main():
    exe, dump_exe = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("SKIP: mounting a small tmpfs needs root")
        sys.exit(lkt.SKIP)
    with lkt.workdir("lk-disk-full-", logs=("server.log", "server2.log", "agent.log"), tail=4000) as work:
        server_part(exe, dump_exe, work)
        agent_part(exe, work)


if __name__ == "__main__":
    main()
