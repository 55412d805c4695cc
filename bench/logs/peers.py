#!/usr/bin/env python3
"""bench/logs/peers.py — the log store beside Grafana Loki and beside plain files, one corpus, one run.

Runs ../shared/bench/logs_peers.py (imported, not copied: its corpus, push,
server peers, queries, checks and table) with two changes and two more peers:

* Lookout is flushed before its bytes are counted: POST /api/v1/admin/logs/flush
  seals every stream's head into segment blocks and empties the WAL, so the
  store is measured sealed (as Loki is after its /flush);
* `rg-zstd`: the corpus as one file per stream, each compressed with `zstd -3`,
  searched with `rg -z -c`;
* `rg`: the same files uncompressed, searched with `rg -c` — the physical
  limit of a scan.

The file peers answer the line queries as matching-line counts over every
file (ripgrep reads all of them; it has no newest-1,000 cut and no metric
query), first run "cold" (right after writing, no cache drop, as the servers),
then the median of --repeats. Their counts are compared with the corpus and
with the servers'. "Ingest" for them is writing the files (and compressing
them: the CPU seconds are zstd's).

    flock /work/notes/bench.lock python3 bench/logs/peers.py --mb 1024

Every option of logs_peers.py is accepted (see ../shared/bench/logs_peers.md);
--peers defaults to lookout,loki,rg-zstd,rg. Writes
bench/results/logs-peers-<MB>mb.{json,txt} through bench/lib/results.py.
Needs rg (Debian: ripgrep) and zstd.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench"))
FLUSH_PATH = "/api/v1/admin/logs/flush"
DEFAULT_PEERS = "lookout,loki,rg-zstd,rg"

# logs_peers.py pushes protobuf+snappy; Debian's python3-snappy is in
# /usr/bin/python3's path only: re-run there once when this one lacks it.
try:
    import snappy  # noqa: F401
except ImportError:
    if (not os.environ.get("LOGS_PEERS_REEXEC") and os.path.exists("/usr/bin/python3")
            and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3")):
        os.environ["LOGS_PEERS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])

sys.path.insert(0, SHARED)
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
import logs_peers as lp  # noqa: E402
from results import Recorder  # noqa: E402


class LookoutSealed(lp.Lookout):
    """Lookout with its log store sealed through the admin API before bytes are counted."""

    def settings(self):
        return {"config": "defaults (no config file); every head sealed by POST %s after the push" % FLUSH_PATH}

    def flush(self):
        status, body = lp.http_call(self.port, "POST", FLUSH_PATH)
        if status != 204:
            raise RuntimeError("%s -> %d %s" % (FLUSH_PATH, status, body[:300]))
        return "POST %s: every head sealed into segment blocks, WAL emptied" % FLUSH_PATH


# ---------------------------------------------------------------- file peers

def run_child(cmd):
    """Run cmd; returns (exit code, stdout bytes, wall s, CPU s, max RSS KiB) from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


class FilePeer:
    """The corpus as one file per stream (its lines in time order, LF-terminated)."""
    name = "?"
    zstd = False

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "files")

    def file_name(self, lab):
        return os.path.join(self.dir, lab["system"], "%s%s.log" % (lab["host"], "-" + lab["level"]
                                                                     if "level" in lab else ""))

    def write(self, corpus):
        """Writes every stream's file; returns {system: [paths]}."""
        per_stream = [[] for _ in corpus.stream_labels]
        for g, sid in enumerate(corpus.stream):
            per_stream[sid].append(corpus.lines[g])
        paths = {}
        for sid, lines in enumerate(per_stream):
            lab = corpus.stream_labels[sid]
            p = self.file_name(lab)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(b"\n".join(lines) + b"\n")
            paths.setdefault(lab["system"], []).append(p)
        return paths

    def rg(self, pattern, fixed, root=None):
        """Matching lines over the files under root (default: all), with rg -c."""
        cmd = ["rg", "-c", "--no-filename", "--no-ignore", "--hidden", "-a"]
        cmd += (["-z"] if self.zstd else []) + (["-F"] if fixed else []) + ["-e", pattern, root or self.dir]
        rc, out, wall, cpu, rss = run_child(cmd)
        if rc not in (0, 1):
            raise RuntimeError("%s exited %d" % (" ".join(cmd), rc))
        return sum(int(x) for x in out.split()), wall, cpu, rss


class RawFiles(FilePeer):
    name = "rg"

    def version(self):
        return subprocess.run(["rg", "--version"], capture_output=True, text=True).stdout.splitlines()[0]

    def compress(self, paths):
        return "none", 0.0, 0.0, 0


class ZstdFiles(FilePeer):
    name = "rg-zstd"
    zstd = True

    def version(self):
        rg = RawFiles.version(self)
        z = subprocess.run(["zstd", "--version"], capture_output=True, text=True).stdout.strip()
        return "%s, %s" % (rg, z)

    def compress(self, paths):
        files = [p for ps in paths.values() for p in ps]
        rc, _, wall, cpu, rss = run_child(["zstd", "-3", "-q", "--rm", "-T1"] + files)
        if rc:
            raise RuntimeError("zstd -3 exited %d" % rc)
        return "zstd -3 -T1, one file per stream", wall, cpu, rss


FILE_PEERS = {"rg": RawFiles, "rg-zstd": ZstdFiles}


def query_pattern(gt):
    """The ground-truth spec of a line query ("sub"|"re", text) as rg arguments."""
    kind, text = gt
    return text, kind == "sub"


def time_query(peer, gt, repeats):
    pattern, fixed = query_pattern(gt)
    runs = [peer.rg(pattern, fixed) for _ in range(repeats + 1)]
    counts = {r[0] for r in runs}
    if len(counts) != 1:
        raise RuntimeError("rg counted %s on repeats of %r" % (sorted(counts), pattern))
    ms = [round(r[1] * 1000, 2) for r in runs]
    return {"cold_ms": ms[0], "warm_median_ms": round(statistics.median(ms[1:]), 2), "warm_ms": ms[1:],
            "matching_lines": runs[0][0], "cpu_s": [round(r[2], 3) for r in runs]}, max(r[3] for r in runs)


def run_file_peer(name, args, corpus, queries):
    info = {"peer": name}
    workdir = tempfile.mkdtemp(prefix="logs-peers-%s-" % name, dir=args.tmp)
    peer = FILE_PEERS[name](workdir)
    try:
        info["version"] = peer.version()
        t0 = time.perf_counter()
        paths = peer.write(corpus)
        write_s = time.perf_counter() - t0
        how, zwall, zcpu, zrss = peer.compress(paths)
        info.update(push_s=round(write_s + zwall, 3), write_s=round(write_s, 3), compress=how,
                    compress_s=round(zwall, 3), compress_cpu_s=round(zcpu, 2),
                    mb_per_s_wall=round(corpus.bytes / 1e6 / (write_s + zwall), 2),
                    mb_per_cpu_s=round(corpus.bytes / 1e6 / zcpu, 2) if zcpu else None)
        du = info["disk_after_flush"] = lp.dir_usage(peer.dir, lambda rel: "files")
        info["store_bytes"] = info["disk_bytes"] = du["files"][0]
        info["store_line_bytes"] = corpus.bytes
        info["raw_over_store"] = round(corpus.bytes / info["store_bytes"], 2)
        lp.log("%s: %d files, %.1f MB (%s in %.1f s)" % (name, du["files"][2], info["store_bytes"] / 1e6, how,
                                                         zwall))
        per_sys = {}
        for system in paths:
            per_sys[system] = peer.rg("^", False, os.path.join(peer.dir, system))[0]
        info["readback_per_system"] = per_sys
        info["readback_lines"] = sum(per_sys.values())
        qres = info["queries"] = {}
        peak = zrss
        for qname, expr, gt in queries:
            qres[qname], rss = time_query(peer, gt, args.repeats)
            qres[qname]["query"] = "rg -c%s%s %r" % (" -z" if peer.zstd else "", " -F" if gt[0] == "sub" else "",
                                                      gt[1])
            peak = max(peak, rss)
        info["peak_rss_kb"] = peak
    except Exception as e:  # recorded in the JSON and the notes, as the server peers' failures
        info["error"] = repr(e)
        lp.log("%s: FAILED %r" % (name, e))
    finally:
        if args.keep:
            lp.log("kept " + workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return info


# ---------------------------------------------------------------- hooks into logs_peers.py

_run_server_peer = lp.run_peer
_compare_servers = lp.compare
_table_servers = lp.fmt_table


def run_peer(name, args, corpus, bodies, queries):
    if name in FILE_PEERS:
        return run_file_peer(name, args, corpus, queries)
    return _run_server_peer(name, args, corpus, bodies, queries)


def split(results):
    servers = [r for r in results if r["peer"] not in FILE_PEERS]
    files = [r for r in results if r["peer"] in FILE_PEERS]
    return servers, files


def compare(results, queries, truth, corpus):
    servers, files = split(results)
    notes = _compare_servers(servers, queries, truth, corpus)
    for r in files:
        if "error" in r:
            notes.append("%s FAILED: %s" % (r["peer"], r["error"]))
            continue
        for qname, _, _ in queries:
            got = r["queries"][qname]["matching_lines"]
            if got != truth[qname]:
                notes.append("MISMATCH %s: corpus has %d matching lines; %s counted %d" % (
                    qname, truth[qname], r["peer"], got))
        if r["readback_per_system"] != corpus.lines_per_system:
            notes.append("MISMATCH read-back %s: %d lines in the files, %d in the corpus" % (
                r["peer"], r["readback_lines"], corpus.n))
    return notes


def fmt_table(results, corpus, queries, truth):
    servers, files = split(results)
    parts = [_table_servers(servers, corpus, queries, truth)]
    ok = [r for r in results if "error" not in r]
    rows = []
    for r in ok:
        rows.append([r["peer"], "%.1f" % (r["store_bytes"] / 1e6),
                     "%.2f" % r["raw_over_store"] if r.get("raw_over_store") else "-",
                     "%.1f" % r["mb_per_cpu_s"] if r.get("mb_per_cpu_s") else "-",
                     "%.0f" % (r["peak_rss_kb"] / 1024)])
    parts.append(lp.fmt_rows(["all peers", "store MB (sealed / files)", "raw/store", "MB/CPU s",
                              "peak RSS MiB"], rows))
    qcols = ["query", "corpus lines"]
    for r in ok:
        qcols += ["%s lines" % r["peer"], "%s cold ms" % r["peer"], "%s warm ms" % r["peer"]]
    qrows = []
    for qn in [q[0] for q in queries] + ["metric_sum_by_system"]:
        row = [qn, str(truth.get(qn, "-"))]
        for r in ok:
            q = r["queries"].get(qn)
            if not q:
                row += ["-", "-", "-"]
                continue
            n = q.get("matching_lines")
            row += ["-" if n is None else str(n) + ("" if n == truth.get(qn) else " (!)"),
                    "%.1f" % q["cold_ms"], "%.1f" % q["warm_median_ms"]]
        qrows.append(row)
    parts.append(lp.fmt_rows(qcols, qrows))
    return "\n\n".join(parts)


def install_hooks():
    lp.PEERS["lookout"] = LookoutSealed
    lp.PEERS.update(FILE_PEERS)
    lp.run_peer = run_peer
    lp.compare = compare
    lp.fmt_table = fmt_table


def arg_value(argv, name, default):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def main():
    for tool in ("rg", "zstd"):
        if not shutil.which(tool):
            sys.exit("missing %s (Debian: %s)" % (tool, "ripgrep" if tool == "rg" else "zstd"))
    argv = sys.argv[1:]
    if arg_value(argv, "--out", None) is not None:
        sys.exit("--out: the result goes to bench/results/logs-peers-<MB>mb.{json,txt} (bench/lib/results.py)")
    if arg_value(argv, "--peers", None) is None:
        argv += ["--peers", DEFAULT_PEERS]
    mb = int(arg_value(argv, "--mb", 256))
    os.chdir(ROOT)  # LOOKOUT_BIN defaults to build/lookout
    rec = Recorder("logs-peers-%dmb" % mb, argv=["bench/logs/peers.py"] + sys.argv[1:],
                   env_keys=("LOOKOUT_BIN", "LOKI_BIN"))
    tmp = tempfile.mkdtemp(prefix="logs-peers-out-")
    out = os.path.join(tmp, "out.json")
    install_hooks()
    sys.argv = [os.path.join(SHARED, "logs_peers.py")] + argv + ["--out", out]
    try:
        rc = lp.main()
        if os.path.exists(out):
            with open(out) as f:
                doc = json.load(f)
            with open(os.path.splitext(out)[0] + ".txt") as f:
                table = f.read()
            doc["driver"] = "bench/logs/peers.py over ../shared/bench/logs_peers.py"
            print("results: " + rec.write(doc, table))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        lp.log("interrupted")
        sys.exit(130)
