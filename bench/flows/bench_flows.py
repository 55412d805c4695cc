#!/usr/bin/env python3
"""bench_flows.py — the flow meter beside softflowd and pmacctd on one capture file.

Generates (once, under --scratch, never in git) a pcap of --packets packets with
--conns TCP conversations open at once (2 x conns concurrent flows, gen_flows),
then reads it in the same run with:
  lookout flows FILE                    (release build, table to /dev/null)
  softflowd -r FILE -m N                (Debian; it waits on its control socket
                                         after the file, so it is measured once
                                         it has read the whole file and stopped)
  pmacctd with pcap_savefile: FILE      (Debian; print plugin, 5-tuple aggregate)
For each: CPU seconds (user + system, children included), packets per CPU second,
peak RSS of the whole process tree (pmacctd is a core and a plugin process).
Lookout's bytes per active flow = (peak RSS - its RSS on a 1,000-packet file) / flows.
Writes bench/results/flows.json (+ .txt). Run as root on a release build.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
from results import Recorder  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def rss_kb(pid):
    """Peak RSS (VmHWM) of pid so far: new at exec, unlike rusage's ru_maxrss,
    which keeps the forked interpreter's."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    """user + system seconds of pid (and its waited-for children)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in v[11:15]) / TICK
    except OSError:
        return 0.0


def rchar(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(argv, done=None, cwd=None):
    """Run argv sampling the tree's RSS every 20 ms. done(pid) -> True ends a
    process that does not exit by itself (measured before it is stopped)."""
    print("bench_flows: running %s" % " ".join(argv[:3]), file=sys.stderr)
    t0 = time.monotonic()
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
    peak, cpu = 0, None
    me = os.path.realpath(sys.executable)
    while True:
        try:  # not yet exec'd: the fork of this interpreter is not the tool
            forked = os.path.realpath("/proc/%d/exe" % p.pid) == me
        except OSError:
            forked = False
        if not forked:
            peak = max(peak, sum(rss_kb(x) for x in tree(p.pid)))
        if done and done(p.pid):
            cpu = sum(cpu_s(x) for x in tree(p.pid))
            wall = time.monotonic() - t0
            p.kill()  # measured; it would wait on its control socket
            break
        try:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            wall = time.monotonic() - t0
            cpu = ru.ru_utime + ru.ru_stime
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode:
                err.seek(0)
                raise RuntimeError("%s exited %d: %s" % (argv[0], p.returncode, err.read()[-500:]))
            break
        time.sleep(0.005)
    p.wait()
    err.close()
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "peak_rss_kb": peak}


def read_whole_file(size):
    """done() for softflowd: the whole file read and the CPU time still for 0.3 s."""
    last = {"cpu": -1.0, "since": 0.0}

    def done(pid):
        if rchar(pid) < size:
            return False
        c = cpu_s(pid)
        now = time.monotonic()
        if c != last["cpu"]:
            last["cpu"], last["since"] = c, now
            return False
        return now - last["since"] >= 0.3
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=10_000_000)
    ap.add_argument("--conns", type=int, default=50_000)
    ap.add_argument("--scratch", default="/var/tmp/lookout-bench-flows")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    os.makedirs(a.scratch, exist_ok=True)
    flows = 2 * a.conns
    pcap = os.path.join(a.scratch, "flows-%d-%d.pcap" % (a.packets, a.conns))
    gen = os.path.join(a.build, "bench", "flows", "gen_flows")
    if not os.path.exists(pcap):
        subprocess.run([gen, pcap + ".tmp", str(a.packets), str(a.conns)], check=True)
        os.rename(pcap + ".tmp", pcap)
    tiny = os.path.join(a.scratch, "flows-tiny.pcap")
    if not os.path.exists(tiny):
        subprocess.run([gen, tiny, "1000", "100"], check=True)
    size = os.path.getsize(pcap)
    lookout = os.path.join(a.build, "lookout")
    rec = Recorder("flows")

    base = run([lookout, "flows", tiny])
    res = {"lookout": run([lookout, "flows", pcap])}
    with tempfile.TemporaryDirectory() as tmp:
        # softflowd 1.1.0 reads the file only with a short control-socket path
        # (with others it blocked in accept() before reading): /tmp/sf.*
        for ext in ("ctl", "pid"):
            if os.path.exists("/tmp/sf." + ext):
                os.unlink("/tmp/sf." + ext)
        res["softflowd"] = run(["softflowd", "-r", pcap, "-d", "-m", str(2 * flows), "-n", "127.0.0.1:9",
                                "-p", "/tmp/sf.pid", "-c", "/tmp/sf.ctl"], done=read_whole_file(size))
        conf = os.path.join(tmp, "pmacctd.conf")
        with open(conf, "w") as f:
            f.write("daemonize: false\npcap_savefile: %s\npcap_savefile_wait: false\n"
                    "aggregate: src_host, dst_host, src_port, dst_port, proto\nplugins: print\n"
                    "print_output: csv\nprint_output_file: %s\nprint_refresh_time: 3600\n"
                    "print_cache_entries: %d\n" % (pcap, os.path.join(tmp, "pm.csv"), flows + 1))
        res["pmacctd"] = run(["pmacctd", "-f", conf])
    for r in res.values():
        r["packets_per_cpu_s"] = round(a.packets / r["cpu_s"]) if r["cpu_s"] else None
    lk = res["lookout"]
    lk["baseline_rss_kb"] = base["peak_rss_kb"]
    lk["bytes_per_active_flow"] = round((lk["peak_rss_kb"] - base["peak_rss_kb"]) * 1024 / flows)
    peer = max(res["softflowd"]["packets_per_cpu_s"], res["pmacctd"]["packets_per_cpu_s"])
    body = {"packets": a.packets, "concurrent_flows": flows, "file_bytes": size, "results": res,
            "ratio_vs_faster_peer": round(lk["packets_per_cpu_s"] / peer, 2),
            "targets": {"ratio_vs_faster_peer": 2.0, "packets_per_cpu_s": 1_500_000, "bytes_per_active_flow": 256}}
    lines = ["%-10s %10s %10s %16s %14s" % ("meter", "cpu_s", "wall_s", "packets/cpu_s", "peak_rss_MiB")]
    for name, r in res.items():
        lines.append("%-10s %10.2f %10.2f %16d %14.1f" % (name, r["cpu_s"], r["wall_s"], r["packets_per_cpu_s"],
                                                          r["peak_rss_kb"] / 1024))
    lines.append("lookout: %d bytes per active flow (%d flows); %.2fx the faster peer's packets per CPU second"
                 % (lk["bytes_per_active_flow"], flows, body["ratio_vs_faster_peer"]))
    table = "\n".join(lines) + "\n"
    print(table, end="")
    print(rec.write(body, table))


if __name__ == "__main__":
    main()
