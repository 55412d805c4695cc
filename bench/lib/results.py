#!/usr/bin/env python3
"""results.py — the one writer of bench result files (bench/results/NAME.{json,txt}).

Every result carries the same header: date (UTC), git commit of the tree that
was measured, the machine (CPU model, cores, kernel, memory, load average at
the start and at the end of the run) and the exact command. Python drivers use
it as a module:

    from results import Recorder
    rec = Recorder("query-200c-24h-15s-seed1")     # notes the load average now
    ...measure...
    rec.write(body_dict, table_text)               # adds the header, writes both files

C benches print or write their JSON and are stored through the CLI, which runs
the command itself so the header sees its start and end:

    bench/lib/results.py run NAME [--json-file F] [--env K ...] [--as CMD] -- CMD ARGS...

With --json-file the command writes its JSON to F (its stdout becomes the
.txt); without it the command's stdout is the JSON and the .txt is its stderr.
--env K records the named environment variables in the command line; --as
records a wrapper's command line instead of CMD (CMD is kept as "ran").
"""
import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS_DIR = os.path.join(ROOT, "bench", "results")


def loadavg():
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def mem_total_mib():
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) // 1024


def machine():
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release(),
            "os": os_name(), "mem_total_mib": mem_total_mib()}


def git_commit():
    """HEAD of the measured tree, and whether tracked files other than the
    result files (which earlier benches of the same session rewrite) differed from it."""
    def git(*args):
        out = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""
    head = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"))
    return head, dirty


def repo_relative(arg):
    """An absolute path inside the repository (or a sibling such as ../shared), made relative to its root."""
    parent = os.path.dirname(ROOT)
    if arg.startswith(ROOT + os.sep):
        return os.path.relpath(arg, ROOT)
    if arg.startswith(parent + os.sep):
        return os.path.join("..", os.path.relpath(arg, parent))
    return arg


def command_line(argv, env_keys=()):
    """The command as one shell line, with the environment settings that shaped it."""
    env = ["%s=%s" % (k, shlex.quote(repo_relative(os.environ[k]))) for k in env_keys if k in os.environ]
    return " ".join(env + [shlex.quote(repo_relative(a)) for a in argv])


class Recorder:
    """One bench run: created when measuring starts, write() when it ends."""

    def __init__(self, name, argv=None, env_keys=()):
        self.name = name
        self.command = command_line(argv if argv is not None else _script_argv(), env_keys)
        self.started = time.gmtime()
        self.load_start = loadavg()
        self.commit, self.dirty = git_commit()

    def header(self):
        m = machine()
        m["loadavg_start"] = self.load_start
        m["loadavg_end"] = loadavg()
        return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", self.started),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "git_commit": self.commit, "git_dirty": self.dirty,
                "machine": m, "command": self.command}

    def write(self, body, table):
        """Write RESULTS_DIR/NAME.json (header + body) and NAME.txt (header lines + table).
        Returns the JSON path."""
        os.makedirs(RESULTS_DIR, exist_ok=True)
        head = self.header()
        doc = dict(head)
        for k, v in body.items():  # the header wins; a tool's own key of that name is kept aside
            doc[("tool_" + k) if k in head else k] = v
        path = os.path.join(RESULTS_DIR, self.name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        with open(os.path.join(RESULTS_DIR, self.name + ".txt"), "w") as f:
            f.write(header_text(head) + "\n" + table.rstrip("\n") + "\n")
        return path


def header_text(h):
    m = h["machine"]
    return ("# %s  commit %s%s\n# %s, %d cores, kernel %s, %s\n"
            "# load average (1/5/15 min) at start %s, at end %s\n# command: %s\n") % (
        h["date"], h["git_commit"][:12], " (uncommitted changes)" if h["git_dirty"] else "",
        m["cpu_model"], m["cores"], m["kernel"], m["os"],
        "/".join("%.2f" % x for x in m["loadavg_start"]),
        "/".join("%.2f" % x for x in m["loadavg_end"]), h["command"])


def _script_argv():
    """sys.argv with the script as a path (relative to the repository root when inside it)."""
    return [os.path.abspath(sys.argv[0])] + sys.argv[1:] if sys.argv else []


def run_cli(argv):
    ap = argparse.ArgumentParser(prog="results.py run", description="run a bench and store its result")
    ap.add_argument("name")
    ap.add_argument("--json-file", help="the command writes its JSON here (else: its stdout)")
    ap.add_argument("--env", action="append", default=[], help="record this environment variable")
    ap.add_argument("--as", dest="as_cmd", help="the user-facing command to record (the wrapper script and "
                    "its arguments); the command run is then kept as 'ran' in the JSON")
    if "--" not in argv:
        ap.error("the command goes after --")
    cut = argv.index("--")
    a, cmd = ap.parse_args(argv[:cut]), argv[cut + 1:]
    if not cmd:
        ap.error("no command")
    rec = Recorder(a.name, argv=shlex.split(a.as_cmd) if a.as_cmd else cmd, env_keys=a.env)
    if a.json_file:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(out.stdout)
        table = out.stdout
        try:
            with open(a.json_file) as f:
                body = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("results.py: no JSON from the command in %s: %s\n" % (a.json_file, e))
            return out.returncode or 1
    else:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(out.stderr)
        table = out.stderr
        try:
            body = json.loads(out.stdout)
        except ValueError as e:
            sys.stderr.write("results.py: the command printed no JSON: %s\n" % e)
            return out.returncode or 1
    body["exit_status"] = out.returncode
    if a.as_cmd:
        body["ran"] = command_line(cmd)
    print("results: " + rec.write(body, table))
    return out.returncode


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        sys.exit(run_cli(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
