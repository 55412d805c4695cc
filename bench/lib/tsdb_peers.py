#!/usr/bin/env python3
"""tsdb_peers.py — ../shared/bench/run_peers.sh's steps with one more figure:
each peer's peak RSS during the ingest (VmHWM read when the ingest ends,
before the flush and the read-back queries), beside the whole run's peak
that bench_peers.py reports (which includes what the flush, the read-back
and the timed queries add: for Lookout its query sample cache).

Generates (or reuses, under BENCH_WORK) the dataset with gen_dataset.py,
encodes the remote_write bodies with rw_encode.py (same file names and
arguments as run_peers.sh, so both reuse each other's files), then runs
bench_peers.py's main with Peer.flush wrapped to note the VmHWM first.
Settings: CONTAINERS HOURS INTERVAL SEED RUNS REPEATS BENCH_WORK OUT
(as run_peers.sh; the peers must be installed).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import shared  # noqa: E402


def env(k, default):
    return os.environ.get(k) or default


def snappy_python():
    """An interpreter that has python3-snappy, so bodies are really compressed."""
    for cand in [sys.executable, "/usr/bin/python3"]:
        if subprocess.run([cand, "-c", "import snappy"], capture_output=True).returncode == 0:
            return cand
    return sys.executable


def prepare(work):
    shape = "%sc-%sh-%ss-seed%s" % (env("CONTAINERS", "200"), env("HOURS", "24"), env("INTERVAL", "15"),
                                    env("SEED", "1"))
    dataset = os.path.join(work, "dataset-%s.prom" % shape)
    if not os.path.exists(dataset + ".meta.json"):
        subprocess.run([sys.executable, os.path.join(shared.SHARED_BENCH, "gen_dataset.py"),
                        "--containers", env("CONTAINERS", "200"), "--hours", env("HOURS", "24"),
                        "--interval", env("INTERVAL", "15"), "--seed", env("SEED", "1"), "--out", dataset],
                       check=True)
    bodies = dataset + ".rw-2sh-1sc-2000"
    if not os.path.exists(bodies + ".json"):
        subprocess.run([snappy_python(), os.path.join(shared.SHARED_BENCH, "rw_encode.py"), dataset,
                        "--out", bodies, "--shards", "2", "--scrapes", "1", "--batch", "2000"], check=True)
    return dataset, bodies


def note_ingest_hwm(peer_class):
    flush = peer_class.flush

    def flush_noting_hwm(self, info):
        info["peak_rss_ingest_kb"] = peers.proc_status_kb(self.proc.pid, "VmHWM")
        return flush(self, info)
    peer_class.flush = flush_noting_hwm


peers = shared.load("bench_peers")


def main():
    own = not os.environ.get("BENCH_WORK")
    work = tempfile.mkdtemp(prefix="peer-bench.") if own else os.environ["BENCH_WORK"]
    os.makedirs(work, exist_ok=True)
    try:
        dataset, bodies = prepare(work)
        for cls in peers.PEERS.values():
            note_ingest_hwm(cls)
        sys.argv = [os.path.join(shared.SHARED_BENCH, "bench_peers.py"), "--dataset", dataset, "--bodies", bodies,
                    "--runs", env("RUNS", "prometheus:remote_write,victoria-metrics:import,"
                                  "victoria-metrics:remote_write"),
                    "--repeats", env("REPEATS", "5"), "--out", os.environ["OUT"], "--tmp", work]
        return peers.main()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
