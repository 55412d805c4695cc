#!/usr/bin/env python3
"""crash_steps.py — kill -9 at every storage step, with concurrent writers.

A `lookout server` with a tiny block range, retention and log sizes (config
below) cuts its head, checkpoints the WAL, compacts, applies retention,
seals log blocks and deletes log segments within a few requests, while two
remote_write writers (disjoint series) and one Loki push writer run. Each
round ends with the process killed by SIGKILL:
  - crash-point rounds: LOOKOUT_CRASH_AT=NAME:N (lib/lk_crash.h) makes the
    server SIGKILL itself the Nth time it passes the named step, which random
    timing rarely hits (the steps last microseconds);
  - random rounds: the test sends SIGKILL at a random moment.
Before each restart the test counts the leftovers on disk (unfinished block
dirs, checkpoint tmp files, WAL files a checkpoint had retired); the start
must log one repair line for each and leave no .tmp behind. After every
restart each acknowledged series is listed; every 10 rounds and at the end
every acknowledged sample (tsdb_dump, the files read back) and every
acknowledged log line (Loki API) inside the retention window must be there
exactly once with its value, and nothing never sent may appear.

usage: crash_steps.py LOOKOUT TSDB_DUMP [ROUNDS]"""
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

CONFIG = """storage:
  retention: 40m
  block_range: 1m
  log_block_size: 4KiB
  log_wal_size: 16KiB
  log_segment_size: 8KiB
orchestrator:
  enabled: false
builtin_rules: false
"""
RETENTION_MS = 40 * 60 * 1000
STEP_MS = 120_000             # sample time advanced per request: a head cut every ~10 requests
T0 = 1_700_000_000_000
SERIES_PER_WRITER = 10
LINES_PER_PUSH = 10

# crash point → the step of the issue it exercises
POINTS = {
    "head_cut.tmp_block_written": "head cut",
    "head_cut.before_checkpoint": "head cut",
    "checkpoint.tmp_written": "WAL checkpoint",
    "checkpoint.renamed": "WAL checkpoint",
    "checkpoint.before_cleanup": "WAL checkpoint",
    "compact.tmp_block_written": "compaction",
    "compact.installed": "compaction",
    "block.delete_renamed": "compaction/retention delete",
    "retention.before_delete": "retention",
    "log.segment_created": "log seal",
    "log.seal_block_written": "log seal",
    "log.seal_all_before_wal_reset": "log seal",
    "log.wal_rewrite_before_rename": "log WAL restart",
    "log.retention_before_unlink": "log retention",
}
REPAIRS = {  # leftover kind → the line the next start logs for each
    "block_tmp": "removed incomplete block dir=",
    "ckpt_tmp": "wal: removed incomplete checkpoint",
    "wal_retired": "wal: removed a file an interrupted checkpoint had retired",
}


class State:
    """What the writers sent and what was acknowledged, across rounds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}       # series key → {t: v}
        self.sent = {}        # series key → {t: v} (acknowledged or not)
        self.t_next = T0       # shared: the writers' series stay within one step of each other
        self.lines_acked = {}  # line → ts_ns
        self.lines_sent = {}
        self.log_ts = T0 * 1_000_000
        self.requests = 0


def metric_writer(srv, st, w, rng, stop):
    while not stop.is_set():
        with st.lock:
            t = st.t_next
            st.t_next = t + STEP_MS
        batch = []
        for s in range(SERIES_PER_WRITER):
            labels = {"__name__": "crash_steps", "writer": str(w), "series": str(s)}
            batch.append((labels, [(t + k * 24_000, float(rng.randint(0, 1 << 40)) / 7) for k in range(5)]))
        with st.lock:
            for lb, smp in batch:
                st.sent.setdefault(tuple(sorted(lb.items())), {}).update(smp)
        try:
            code, body = lkt.remote_write(srv.base, batch, timeout=5)
        except OSError:
            return  # killed mid-request: not acknowledged
        if code // 100 != 2:
            raise RuntimeError(f"remote_write answered {code}: {body[:300]!r}")
        with st.lock:
            st.requests += 1
            for lb, smp in batch:
                st.acked.setdefault(tuple(sorted(lb.items())), {}).update(smp)


def log_writer(srv, st, rnd, stop):
    for b in range(100000):  # bounded; stop or the kill ends it much earlier
        if stop.is_set():
            return
        with st.lock:
            ts = st.log_ts
            st.log_ts += STEP_MS * 1_000_000
        streams, lines = [], {}
        for s in range(2):
            values = []
            for i in range(LINES_PER_PUSH):
                line = f"r{rnd} b{b} s{s} i{i} " + "x" * 60
                values.append([str(ts + i), line])
                lines[line] = ts + i
            streams.append({"stream": {"job": "crash_steps", "stream": str(s)}, "values": values})
        with st.lock:
            st.lines_sent.update(lines)
        try:
            code, body = lkt.http("POST", srv.base + "/loki/api/v1/push", json.dumps({"streams": streams}).encode(),
                                  {"Content-Type": "application/json"}, timeout=5)
        except OSError:
            return
        if code // 100 != 2:
            raise RuntimeError(f"Loki push answered {code}: {body[:300]!r}")
        with st.lock:
            st.requests += 1
            st.lines_acked.update(lines)


def leftovers(data):
    """Counts of the leftovers a start must repair (and log)."""
    tdir, wdir = os.path.join(data, "tsdb"), os.path.join(data, "tsdb", "wal")
    out = dict.fromkeys(REPAIRS, 0)
    if os.path.isdir(tdir):
        out["block_tmp"] = sum(1 for n in os.listdir(tdir) if n.startswith("b-") and n.endswith(".tmp"))
    if os.path.isdir(wdir):
        names = os.listdir(wdir)
        out["ckpt_tmp"] = sum(1 for n in names if n.endswith(".tmp"))
        gens = [int(n[5:], 16) for n in names if n.startswith("ckpt-") and not n.endswith(".tmp")]
        if gens:
            newest = max(gens)
            out["wal_retired"] = sum(1 for n in names if not n.endswith(".tmp") and
                                     (n.startswith("ckpt-") or n.startswith("seg-")) and
                                     int(n.split("-")[1], 16) < newest)
    return out


def tmp_left(data):
    """The .tmp files and dirs under data, by (path, inode, ctime): a new
    block or checkpoint being written under a reused name is not a leftover."""
    found = []
    for root, dirs, files in os.walk(data):
        for n in dirs + files:
            if n.endswith(".tmp"):
                try:
                    st = os.stat(os.path.join(root, n))
                except FileNotFoundError:
                    continue
                found.append((os.path.join(root, n), st.st_ino, st.st_ctime_ns))
    return found


def log_since(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read()


def start(srv, point):
    """Start the server (with a crash point or not): True if it is up,
    False if the crash point killed it during the start."""
    if point:
        os.environ["LOOKOUT_CRASH_AT"] = point
    try:
        srv.start()
        return True
    except RuntimeError:
        if srv.proc and srv.proc.returncode == -signal.SIGKILL:
            srv.proc = None
            return False
        raise
    finally:
        os.environ.pop("LOOKOUT_CRASH_AT", None)


def check_series(srv, st):
    code, j = lkt.get_json(srv.base + "/api/v1/series?match[]=crash_steps&start=0")
    if code != 200:
        raise RuntimeError(f"/api/v1/series answered {code}: {j}")
    have = {tuple(sorted(s.items())) for s in j["data"]}
    lost = [k for k in st.acked if k not in have]
    if lost:
        raise RuntimeError(f"{len(lost)} acknowledged series missing after restart, e.g. {lost[0]}")


def check_samples(dump_exe, data, st):
    """Every acknowledged sample within retention is stored with its value;
    nothing stored was never sent; per series the count within retention
    lies between acknowledged and sent (no double counting)."""
    stored = lkt.dump(dump_exe, data)
    newest = max(max(v) for v in st.sent.values())
    cutoff = newest - RETENTION_MS
    bad = 0
    for key, sent in st.sent.items():
        have = stored.get(key, {})
        acked = st.acked.get(key, {})
        for t, v in have.items():
            if sent.get(t) != v:
                bad += 1
                print(f"stored but never sent: {dict(key)} t={t} v={v!r}")
        for t, v in acked.items():
            if t >= cutoff and have.get(t) != v:
                bad += 1
                if bad <= 5:
                    print(f"acknowledged sample missing/wrong: {dict(key)} t={t} want={v!r} have={have.get(t)!r}")
        n_have = sum(1 for t in have if t >= cutoff)
        n_acked = sum(1 for t in acked if t >= cutoff)
        n_sent = sum(1 for t in sent if t >= cutoff)
        if not n_acked <= n_have <= n_sent:
            bad += 1
            print(f"count out of bounds: {dict(key)} acked={n_acked} stored={n_have} sent={n_sent}")
    if bad:
        raise RuntimeError(f"{bad} sample check(s) failed")
    return sum(len(v) for v in st.acked.values())


def check_lines(srv, st):
    """Every acknowledged line within retention reads back exactly once; no
    line reads back twice or was never sent."""
    if not st.lines_sent:
        return 0
    newest = max(st.lines_sent.values())
    cutoff = newest - RETENTION_MS * 1_000_000
    q = urllib.parse.urlencode({"query": '{job="crash_steps"}', "start": str(cutoff), "end": str(newest + 1),
                                "limit": "5000", "direction": "forward"})
    code, j = lkt.get_json(srv.base + "/loki/api/v1/query_range?" + q)
    if code != 200:
        raise RuntimeError(f"query_range answered {code}: {j}")
    seen = {}
    for stream in j["data"]["result"]:
        for ts, line in stream["values"]:
            seen[line] = seen.get(line, 0) + 1
    if sum(seen.values()) >= 5000:
        raise RuntimeError("more than 5000 lines in the retention window: the check would be partial")
    twice = [ln for ln, c in seen.items() if c > 1]
    unknown = [ln for ln in seen if ln not in st.lines_sent]
    missing = [ln for ln, ts in st.lines_acked.items() if ts >= cutoff and ln not in seen]
    if twice or unknown or missing:
        raise RuntimeError(f"log lines: {len(missing)} acknowledged missing (e.g. {missing[:2]}), "
                           f"{len(twice)} twice (e.g. {twice[:2]}), {len(unknown)} never sent")
    return sum(1 for ts in st.lines_acked.values() if ts >= cutoff)


def run_round(srv, st, rnd, rng, point, log_path):
    """One round: start, write concurrently, die. Returns (reached, repairs)."""
    before, tmp_before = leftovers(srv.data), tmp_left(srv.data)
    offset = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    up = start(srv, f"{point}:{rng.randint(1, 2)}" if point else None)
    text = log_since(log_path, offset)
    for kind, n in before.items():
        got = text.count(REPAIRS[kind])
        if got != n:
            raise RuntimeError(f"round {rnd}: {n} leftover(s) of kind {kind} but {got} repair line(s) "
                               f"'{REPAIRS[kind]}' logged")
    if not up:
        return True, before
    left = set(tmp_before) & set(tmp_left(srv.data))  # new ones may be a cut or compaction running now
    if left:
        raise RuntimeError(f"round {rnd}: .tmp left after the start: {sorted(left)[:3]}")
    try:
        check_series(srv, st)
    except OSError:  # a crash point may come right after the start (compaction runs then)
        if not point or srv.proc.wait(timeout=30) != -signal.SIGKILL:
            raise
    stop = threading.Event()
    errors = []

    def guard(fn, *args):
        try:
            fn(*args)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(metric_writer, srv, st, w, random.Random(rng.random()), stop))
               for w in range(2)]
    threads.append(threading.Thread(target=guard, args=(log_writer, srv, st, rnd, stop)))
    for t in threads:
        t.start()
    proc = srv.proc
    reached = False
    if point:
        try:
            proc.wait(timeout=6)
            reached = proc.returncode == -signal.SIGKILL
        except Exception:
            pass  # not reached in time: killed from outside below
    else:
        time.sleep(rng.uniform(0.05, 0.8))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    srv.proc = None
    if errors:
        raise errors[0]
    if point and proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"round {rnd}: the server exited with {proc.returncode}")
    return reached, before


def main():
    exe, dump_exe = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    seed = int(os.environ.get("SEED", "0")) or random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed={seed}")
    t_start = time.time()
    with lkt.workdir("lk-crash-steps-", tail=6000) as work:
        data, log = os.path.join(work, "data"), os.path.join(work, "server.log")
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        st = State()
        per_point = {p: [0, 0] for p in POINTS}  # point → [rounds, reached]
        repaired = dict.fromkeys(REPAIRS, 0)
        random_kills = 0
        names, order = list(POINTS), []
        with lkt.Server(exe, data, log, extra=["--config", cfg]) as srv:
            for rnd in range(rounds):
                if time.time() - t_start > 200:
                    raise RuntimeError(f"time budget exceeded after {rnd} rounds")
                if not order:  # every point in turn, in a random order
                    order = rng.sample(names, len(names))
                point = order.pop() if rnd % 5 < 3 else None
                reached, before = run_round(srv, st, rnd, rng, point, log)
                for k, n in before.items():
                    repaired[k] += n
                if point:
                    per_point[point][0] += 1
                    per_point[point][1] += reached
                else:
                    random_kills += 1
                if rnd % 10 == 9:
                    check_samples(dump_exe, data, st)
            before = leftovers(data)
            offset = os.path.getsize(log)
            srv.start()
            text = log_since(log, offset)
            for kind, n in before.items():
                if text.count(REPAIRS[kind]) != n:
                    raise RuntimeError(f"final start: {n} leftover(s) {kind}, repair lines: {text.count(REPAIRS[kind])}")
                repaired[kind] += n
            check_series(srv, st)
            lines = check_lines(srv, st)
            srv.kill(signal.SIGTERM)
        samples = check_samples(dump_exe, data, st)
        print(f"rounds={rounds} random_kills={random_kills} requests_acked={st.requests} "
              f"samples_acked={samples} lines_checked={lines} repairs={repaired} "
              f"took={time.time() - t_start:.0f}s")
        steps = {}
        for p, (n, hit) in per_point.items():
            print(f"  crash point {p:32s} rounds={n} reached={hit}")
            s = steps.setdefault(POINTS[p], [0, 0])
            s[0] += n
            s[1] += hit
        for name, (n, hit) in steps.items():
            print(f"  step {name:28s} crash-point rounds={n} reached={hit}")
        unreached = [name for name, (n, hit) in steps.items() if n and not hit]
        if unreached:
            raise RuntimeError(f"steps never reached: {unreached}")


if __name__ == "__main__":
    main()
