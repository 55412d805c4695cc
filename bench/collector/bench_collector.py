#!/usr/bin/env python3
"""bench_collector.py — what a node agent costs on the shared cgroup farm:
the whole `lookout up` process beside Netdata 1.37's whole process, same farm
(../shared/bench/cgroup_farm.sh, FARM_HOLD_PCT=100: a process in every
container), same 1 s interval, same measurement code.

Rows, all in one run (as root):
  1. `lookout up` (collector + storage + log tailer + HTTP server, one
     process) with `collector.interval: 1s` and `collector.detail_interval: 1s`:
     every cgroup file read every second. CPU = utime+stime of the process
     from /proc/PID/stat over the window, peak RSS = VmHWM. Then again with
     the default detail mode (core files every cycle, detail files every 10 s
     per container, staggered).
  2. The collector alone (build/bench/bench_collector --existing-farm
     --detail-ms 1): every cgroup file read every cycle, in the bench process;
     and again with --detail-ms 0 (the default detail mode, as in row 1), so
     the difference to row 1 is what storage, tailer and server add.
  3. Netdata 1.37, whole process, measured by ../shared/bench/collector_peers.py's
     run_netdata (its own farm of the same N and seed, created after ours is
     destroyed), when --netdata is given. Without it, Netdata's figure is
     taken from ../shared/bench/results/collector-peers.json and labelled as
     that reference run, with its date.

Window: --warmup s after every container is known, then --window s with a
/proc snapshot every 5 s (collector_peers.py's snapshot(): process, threads,
children). Writes bench/results/collector-<N>.{json,txt}.

--rss-minutes M instead measures whether memory stays bounded past that
window: only `lookout up` with every file every cycle, RSS read once a minute
for M minutes (head chunks seal after 2 min and stay in memory until a head
cut), with each --compare BIN (another `lookout` build, e.g. main's) run side
by side on the same farm. Writes bench/results/collector-<N>-rss.{json,txt}.

  bench/collector/bench_collector.py [--n 1000] [--window 60] [--warmup 20] [--netdata [--netdata-timeout S]]
  bench/collector/bench_collector.py [--n 1000] --rss-minutes 25 [--compare [LABEL=]BIN ...]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
import shared  # noqa: E402
from results import Recorder  # noqa: E402

SHARED = shared.SHARED_BENCH
REFERENCE = os.path.join(SHARED, "results", "collector-peers.json")


CP = shared.load("collector_peers")
log = CP.log


def api(port, path, params):
    url = "http://127.0.0.1:%d%s?%s" % (port, path, urllib.parse.urlencode(params, doseq=True))
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def named_containers(port, ids):
    """Farm containers (by cgroup path) that have a CPU series with pod, namespace and container labels."""
    d = api(port, "/api/v1/series", {"match[]": "container_cpu_usage_seconds_total"})
    seen = set()
    for s in d["data"]:
        if s.get("pod") and s.get("namespace") and s.get("container") and s.get("id") in ids:
            seen.add(s["id"])
    return len(seen)


def window_all(pids, seconds, step):
    """A snapshot of each process now and every step over seconds: one list per pid."""
    snaps = [[CP.snapshot(p)] for p in pids]
    t0 = time.monotonic()
    for i in range(max(1, int(round(seconds / step)))):
        time.sleep(max(0.0, t0 + step * (i + 1) - time.monotonic()))
        for p, ss in zip(pids, snaps):
            ss.append(CP.snapshot(p))
    return snaps


def window(pid, seconds, step=5.0):
    return window_all([pid], seconds, step)[0]


def window_figures(snaps):
    """CPU, per-step CPU %, per-thread CPU and RSS of one process's snapshots."""
    a, b = snaps[0], snaps[-1]
    wall = b["t"] - a["t"]
    cpu = b["self"] - a["self"]
    threads = {k: round(v - a["threads"].get(k, 0.0), 3) for k, v in b["threads"].items()}
    return {
        "window_s": round(wall, 2), "cpu_s": round(cpu, 3),
        "cpu_pct_of_one_core": round(100.0 * cpu / wall, 3),
        "cpu_ms_per_cycle": round(1000.0 * cpu / wall, 3),
        "cpu_pct_per_step": [round(100.0 * (y["self"] - x["self"]) / (y["t"] - x["t"]), 2)
                             for x, y in zip(snaps, snaps[1:])],
        "threads_cpu_s": dict(sorted(threads.items(), key=lambda kv: -kv[1])),
        "rss_mib": round(b["rss_kb"] / 1024.0, 1),
        "peak_rss_mib": round(b["hwm_kb"] / 1024.0, 1),
    }


class UpProcess:
    """`lookout up` (binary lookout) with collector.interval 1s and the given detail_interval, in a fresh dir."""

    def __init__(self, lookout, detail):
        self.dir = tempfile.mkdtemp(prefix="bench-collector-up.")
        self.port = CP.free_port()
        cfg = os.path.join(self.dir, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write("collector:\n  interval: 1s\n  detail_interval: %s\n" % detail)
        self.cmd = [lookout, "up", "--config", cfg, "--data", os.path.join(self.dir, "data"),
                    "--listen", "127.0.0.1:%d" % self.port]
        self.version = subprocess.run([lookout, "version"], capture_output=True, text=True).stdout.strip()
        self.out = open(os.path.join(self.dir, "lookout.log"), "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def wait_named(self, ids):
        """Seconds until every farm container has a named CPU series (or 300 s), and how many have."""
        CP.wait_http(self.port, "/-/ready", self.proc, 60)
        deadline = time.monotonic() + 300
        known = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("lookout up exited (%s)" % self.proc.returncode)
            known = named_containers(self.port, ids)
            if known >= len(ids):
                break
            time.sleep(2)
        discovery_s = time.monotonic() - self.t0
        log("lookout up: %d/%d containers named after %.0f s" % (known, len(ids), discovery_s))
        return discovery_s

    def stop(self):
        CP.stop_pid(self.proc, "lookout up")
        self.out.close()
        subprocess.run(["rm", "-rf", self.dir])


def run_lookout_up(args, ids, detail):
    """detail: the collector.detail_interval key ('1s': every file every cycle; '10s': the default)."""
    up = UpProcess(args.lookout, detail)
    try:
        discovery_s = up.wait_named(ids)
        log("lookout up: warm-up %d s" % args.warmup)
        time.sleep(args.warmup)
        snaps = window(up.proc.pid, args.window)
        res = window_figures(snaps)
        res.update({
            "row": ("lookout up, whole process, every cgroup file every cycle" if detail == "1s" else
                    "lookout up, whole process, detail files every %s, staggered" % detail),
            "command": " ".join(up.cmd[:2]) + " --config lookout.yaml (collector.interval: 1s, detail_interval: %s)"
                       % detail,
            "version": up.version,
            "discovery_s": round(discovery_s, 1),
            "discovered": named_containers(up.port, ids), "expected": len(ids),
        })
        log("lookout up: %.2f %% of a core, %.1f ms per cycle, peak RSS %.1f MiB"
            % (res["cpu_pct_of_one_core"], res["cpu_ms_per_cycle"], res["peak_rss_mib"]))
        return res
    finally:
        up.stop()


def run_rss_curve(args, ids):
    """`lookout up` (every file every cycle) from this tree and each --compare binary, side by side on the
    farm: RSS once a minute for --rss-minutes after every container is named."""
    bins = [("this tree", args.lookout)] + args.compare
    ups = []
    try:
        for _, b in bins:
            ups.append(UpProcess(b, "1s"))
        discovery = [up.wait_named(ids) for up in ups]
        snaps = window_all([up.proc.pid for up in ups], 60.0 * args.rss_minutes, 60.0)
        rows = []
        for (label, b), up, d, ss in zip(bins, ups, discovery, snaps):
            res = window_figures(ss)
            res.update({
                "row": "lookout up (%s), every cgroup file every cycle" % label,
                "binary": label, "path": repo_path(b), "version": up.version,
                "rss_mib_per_min": [round(x["rss_kb"] / 1024.0, 1) for x in ss],
                "discovery_s": round(d, 1),
                "discovered": named_containers(up.port, ids), "expected": len(ids),
            })
            log("%s: RSS %s MiB" % (res["row"], res["rss_mib_per_min"]))
            rows.append(res)
        return rows
    finally:
        for up in ups:
            up.stop()


def repo_path(p):
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


def run_collector_alone(args, detail_ms):
    """build/bench/bench_collector on the farm that is up; detail_ms 1 = every file every cycle, 0 = default."""
    jf = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    jf.close()
    cmd = [args.bench_bin, "--existing-farm", "--detail-ms", str(detail_ms), "--window", str(int(args.window)),
           "--json", jf.name]
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stdout + r.stderr)
    try:
        with open(jf.name) as f:
            res = json.load(f)
    finally:
        os.unlink(jf.name)
    res["row"] = ("collector alone, every cgroup file every cycle" if detail_ms == 1 else
                  "collector alone, detail files every 10 s, staggered")
    res["command"] = " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd[:-1]) + " FILE"
    res["cpu_pct_of_one_core"] = round(res["cpu_ms_per_cycle"] / 10.0, 3)
    if r.returncode:
        res["error"] = "exit %d" % r.returncode
    return res


def run_netdata(args):
    nargs = argparse.Namespace(discovery_timeout=args.netdata_timeout, stall=60.0, warmup=args.warmup, window=args.window,
                               samples=12, max_cgroups=5000, unified="no", k8s_cache=True,
                               keep_logs="", update_every=1.0)
    r = CP.run_netdata(args.n, False, 100, nargs)
    return {"row": "Netdata %s, whole process (every file every 1 s)" % CP.package_version("netdata-core"),
            "source": "this run",
            "cpu_pct_of_one_core": r["cpu_pct_of_one_core"]["process"],
            "cpu_ms_per_cycle": r["cpu_ms_per_cycle"]["process"],
            "peak_rss_mib": r["rss_peak_mib"], "rss_mib": r["rss_mib"],
            "discovered": r["discovered"]["k8s_containers"], "expected": args.n, "netdata": r}


def netdata_reference(n):
    doc = json.load(open(REFERENCE))
    for r in doc["netdata"]:
        if r["n_containers"] == n and r["max_cgroups_to_allow"] == 5000 and r["farm_hold_pct"] == 100:
            return {"row": "Netdata %s, whole process (every file every 1 s)" % doc["versions"]["netdata"],
                    "source": "reference run %s, %s %s (%s)" % (doc["when"], doc["machine"]["cpu_model"],
                                                               doc["machine"]["cpus"],
                                                               "../" + os.path.relpath(REFERENCE, os.path.dirname(ROOT))),
                    "cpu_pct_of_one_core": r["cpu_pct_of_one_core"]["process"],
                    "cpu_ms_per_cycle": r["cpu_ms_per_cycle"]["process"],
                    "peak_rss_mib": r["rss_peak_mib"], "rss_mib": r["rss_mib"],
                    "discovered": r["discovered"]["k8s_containers"], "expected": n}
    return None


def table(rows):
    lines = ["%-62s %9s %9s %9s %12s" % ("row", "CPU %", "ms/cycle", "peak MiB", "discovered")]
    for r in rows:
        if "error" in r and "cpu_ms_per_cycle" not in r:
            lines.append("%-62s ERROR %s" % (r["row"], r["error"][:100]))
            continue
        lines.append("%-62s %9.2f %9.1f %9.1f %7d/%d" % (r["row"][:62], r["cpu_pct_of_one_core"],
                     r["cpu_ms_per_cycle"], r["peak_rss_mib"], r["discovered"], r["expected"]))
        if r.get("source") and r["source"] != "this run":
            lines.append("    (%s)" % r["source"])
    return "\n".join(lines)


def rss_table(rows):
    ok = [r for r in rows if "rss_mib_per_min" in r]
    lines = ["%-8s" % "minute" + "".join(" %14s" % ("RSS MiB " + str(i + 1)) for i in range(len(ok)))]
    for m in range(max((len(r["rss_mib_per_min"]) for r in ok), default=0)):
        lines.append("%-8d" % m + "".join(" %14.1f" % r["rss_mib_per_min"][m] for r in ok))
    for i, r in enumerate(ok):
        lines.append("%d: %s; peak %.1f MiB, %.2f %% of a core" % (i + 1, r["row"], r["peak_rss_mib"],
                                                                  r["cpu_pct_of_one_core"]))
    lines += ["%s ERROR %s" % (r["row"], r["error"][:100]) for r in rows if "error" in r]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--netdata", action="store_true", help="measure Netdata in this run (about 7 min more)")
    ap.add_argument("--netdata-timeout", type=float, default=900.0,
                    help="longest wait for Netdata to chart every container (then it is measured as it is)")
    ap.add_argument("--lookout", default=os.path.join(ROOT, "build", "lookout"))
    ap.add_argument("--bench-bin", default=os.path.join(ROOT, "build", "bench", "bench_collector"))
    ap.add_argument("--rss-minutes", type=float, default=0,
                    help="only the RSS curve of lookout up over this many minutes (bench/results/collector-N-rss)")
    ap.add_argument("--compare", action="append", default=[], metavar="BIN",
                    help="with --rss-minutes: another lookout binary ([LABEL=]BIN) measured side by side")
    args = ap.parse_args()
    args.compare = [(c.split("=", 1)[0], os.path.abspath(c.split("=", 1)[1])) if "=" in c else (repo_path(c), os.path.abspath(c))
                    for c in args.compare]
    if os.geteuid() != 0:
        sys.exit("needs root (cgroup farm)")
    state = os.environ.get("FARM_STATE", "/run/cgroup-farm")
    if os.path.exists(state):
        sys.exit("%s exists: a farm is already up; not touching it" % state)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    rec = Recorder("collector-%d%s" % (args.n, "-rss" if args.rss_minutes else ""))
    rows = []
    runs = ((lambda: run_rss_curve(args, ids),) if args.rss_minutes else
            (lambda: [run_lookout_up(args, ids, "1s")], lambda: [run_lookout_up(args, ids, "10s")],
             lambda: [run_collector_alone(args, 1)], lambda: [run_collector_alone(args, 0)]))
    try:
        t0 = time.monotonic()
        CP.farm("create", args.n, {"FARM_HOLD_PCT": "100"})
        farm_s = time.monotonic() - t0
        ids = {r["path"] for r in CP.farm_manifest()}
        log("farm of %d containers up in %.0f s" % (len(ids), farm_s))
        for run in runs:
            try:
                rows += run()
            except Exception as e:  # recorded, never hidden
                rows.append({"row": "failed", "error": repr(e)})
                log("FAILED %r" % e)
    finally:
        if os.path.exists(state):
            CP.farm("destroy")
    if args.rss_minutes:
        doc = {"n_containers": args.n, "interval_s": 1, "rss_minutes": args.rss_minutes, "step_s": 60}
        text = rss_table(rows)
    else:
        nd = run_netdata(args) if args.netdata else netdata_reference(args.n)
        if nd:
            rows.append(nd)
        doc = {"n_containers": args.n, "interval_s": 1, "window_s": args.window, "warmup_s": args.warmup}
        text = table(rows)
    doc.update({"farm": {"script": "../shared/bench/cgroup_farm.sh", "hold_pct": 100, "create_s": round(farm_s, 1)},
                "rows": rows})
    print(text)
    print("results: " + rec.write(doc, text))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
