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

  bench/collector/bench_collector.py [--n 1000] [--window 60] [--warmup 20] [--netdata [--netdata-timeout S]]
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


def window(pid, seconds, step=5.0):
    """Snapshots every step over seconds; returns the first, the last and the per-step CPU %."""
    snaps = [CP.snapshot(pid)]
    n = max(1, int(round(seconds / step)))
    for i in range(n):
        time.sleep(max(0.0, snaps[0]["t"] + step * (i + 1) - time.monotonic()))
        snaps.append(CP.snapshot(pid))
    per = [round(100.0 * (b["self"] - a["self"]) / (b["t"] - a["t"]), 2) for a, b in zip(snaps, snaps[1:])]
    return snaps[0], snaps[-1], per


def run_lookout_up(args, ids, detail):
    """detail: the collector.detail_interval key ('1s': every file every cycle; '10s': the default)."""
    d = tempfile.mkdtemp(prefix="bench-collector-up.")
    port = CP.free_port()
    cfg = os.path.join(d, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write("collector:\n  interval: 1s\n  detail_interval: %s\n" % detail)
    cmd = [args.lookout, "up", "--config", cfg, "--data", os.path.join(d, "data"),
           "--listen", "127.0.0.1:%d" % port]
    out = open(os.path.join(d, "lookout.log"), "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=d, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        CP.wait_http(port, "/-/ready", proc, 60)
        deadline = time.monotonic() + 300
        known = 0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("lookout up exited (%s)" % proc.returncode)
            known = named_containers(port, ids)
            if known >= len(ids):
                break
            time.sleep(2)
        discovery_s = time.monotonic() - t0
        log("lookout up: %d/%d containers named after %.0f s; warm-up %d s"
            % (known, len(ids), discovery_s, args.warmup))
        time.sleep(args.warmup)
        a, b, per = window(proc.pid, args.window)
        wall = b["t"] - a["t"]
        cpu = b["self"] - a["self"]
        threads = {k: round(v - a["threads"].get(k, 0.0), 3) for k, v in b["threads"].items()}
        res = {
            "row": ("lookout up, whole process, every cgroup file every cycle" if detail == "1s" else
                    "lookout up, whole process, detail files every %s, staggered" % detail),
            "command": " ".join(cmd[:2]) + " --config lookout.yaml (collector.interval: 1s, detail_interval: %s)"
                       % detail,
            "version": subprocess.run([args.lookout, "version"], capture_output=True, text=True).stdout.strip(),
            "window_s": round(wall, 2), "cpu_s": round(cpu, 3),
            "cpu_pct_of_one_core": round(100.0 * cpu / wall, 3),
            "cpu_ms_per_cycle": round(1000.0 * cpu / wall, 3),
            "cpu_pct_per_5s": per,
            "threads_cpu_s": dict(sorted(threads.items(), key=lambda kv: -kv[1])),
            "rss_mib": round(b["rss_kb"] / 1024.0, 1),
            "peak_rss_mib": round(b["hwm_kb"] / 1024.0, 1),
            "discovery_s": round(discovery_s, 1),
            "discovered": named_containers(port, ids), "expected": len(ids),
        }
        log("lookout up: %.2f %% of a core, %.1f ms per cycle, peak RSS %.1f MiB"
            % (res["cpu_pct_of_one_core"], res["cpu_ms_per_cycle"], res["peak_rss_mib"]))
        return res
    finally:
        CP.stop_pid(proc, "lookout up")
        out.close()
        subprocess.run(["rm", "-rf", d])


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
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (cgroup farm)")
    state = os.environ.get("FARM_STATE", "/run/cgroup-farm")
    if os.path.exists(state):
        sys.exit("%s exists: a farm is already up; not touching it" % state)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    rec = Recorder("collector-%d" % args.n)
    rows = []
    try:
        t0 = time.monotonic()
        CP.farm("create", args.n, {"FARM_HOLD_PCT": "100"})
        farm_s = time.monotonic() - t0
        ids = {r["path"] for r in CP.farm_manifest()}
        log("farm of %d containers up in %.0f s" % (len(ids), farm_s))
        for run in (lambda: run_lookout_up(args, ids, "1s"), lambda: run_lookout_up(args, ids, "10s"),
                    lambda: run_collector_alone(args, 1),
                    lambda: run_collector_alone(args, 0)):
            try:
                rows.append(run())
            except Exception as e:  # recorded, never hidden
                rows.append({"row": "failed", "error": repr(e)})
                log("FAILED %r" % e)
    finally:
        if os.path.exists(state):
            CP.farm("destroy")
    nd = run_netdata(args) if args.netdata else netdata_reference(args.n)
    if nd:
        rows.append(nd)
    doc = {"n_containers": args.n, "interval_s": 1, "window_s": args.window, "warmup_s": args.warmup,
           "farm": {"script": "../shared/bench/cgroup_farm.sh", "hold_pct": 100, "create_s": round(farm_s, 1)},
           "rows": rows}
    text = table(rows)
    print(text)
    print("results: " + rec.write(doc, text))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
