#!/usr/bin/env python3
"""crash.py — kill -9 durability test of the ingest path.

A child `lookout server` ingests through HTTP (alternating remote_write and
text import requests) while the test SIGKILLs it at a random moment; it is
restarted on the same data directory, over ROUNDS rounds. After every
restart, every series acknowledged so far must be listed by /api/v1/series;
at the end the data directory is read back with tsdb_dump (tsdb_open on the
files the killed servers left) and every sample acknowledged with a 2xx must
be there with its exact value.

usage: crash.py LOOKOUT TSDB_DUMP [ROUNDS]"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

SERIES = 20


def main():
    exe, dump_exe = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rng = random.Random(int(os.environ.get("SEED", "0")) or None)
    with lkt.workdir("lk-crash-", tail=4000) as work:
        data, log = os.path.join(work, "data"), os.path.join(work, "server.log")
        acked = {}          # series key → {t: v}
        t_next = 1_700_000_000_000
        batches = 0
        deadline = time.time() + 240
        with lkt.Server(exe, data, log) as srv:
            for rnd in range(rounds):
                if time.time() > deadline:
                    raise RuntimeError(f"time budget exceeded after {rnd} rounds")
                srv.start()
                check_series(srv, acked)
                pid = srv.proc.pid
                killer = threading.Timer(rng.uniform(0.05, 0.6), lambda: os.kill(pid, signal.SIGKILL))
                killer.start()
                for _ in range(10000):  # bounded; the kill ends the loop much earlier
                    batch = []
                    for s in range(SERIES):
                        labels = {"__name__": "crash_metric", "series": str(s), "round": str(rnd % 3)}
                        samples = [(t_next + k * 1000, float(rng.randint(0, 1 << 40)) / 7) for k in range(5)]
                        batch.append((labels, samples))
                    t_next += 5000
                    try:
                        if batches % 2 == 0:
                            st, body = lkt.remote_write(srv.base, batch, timeout=5)
                        else:
                            text = "".join(
                                f'crash_metric{{series="{lb["series"]}",round="{lb["round"]}"}} {v!r} {t}\n'
                                for lb, smp in batch for t, v in smp)
                            st, body = lkt.import_text(srv.base, text, timeout=5)
                    except OSError:
                        break  # killed mid-request: not acknowledged
                    batches += 1
                    if st // 100 != 2:
                        raise RuntimeError(f"ingest answered {st}: {body[:300]!r}")
                    for lb, smp in batch:
                        acked.setdefault(tuple(sorted(lb.items())), {}).update(smp)
                killer.join()
                srv.kill()
            srv.start()
            check_series(srv, acked)
            srv.kill(signal.SIGTERM)
            stored = lkt.dump(dump_exe, data)
            missing = 0
            for key, samples in acked.items():
                have = stored.get(key, {})
                for t, v in samples.items():
                    if have.get(t) != v:
                        missing += 1
                        if missing <= 5:
                            print(f"missing/wrong: {dict(key)} t={t} want={v!r} have={have.get(t)!r}")
            n = sum(len(s) for s in acked.values())
            print(f"rounds={rounds} batches={batches} acknowledged samples={n} missing={missing}")
            if missing or n == 0:
                sys.exit(1)


def check_series(srv, acked):
    st, j = lkt.get_json(srv.base + "/api/v1/series?match[]=crash_metric")
    if st != 200:
        raise RuntimeError(f"/api/v1/series answered {st}: {j}")
    have = {tuple(sorted(s.items())) for s in j["data"]}
    lost = [k for k in acked if k not in have]
    if lost:
        raise RuntimeError(f"{len(lost)} acknowledged series missing after restart, e.g. {lost[0]}")


if __name__ == "__main__":
    main()
