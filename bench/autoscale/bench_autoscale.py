#!/usr/bin/env python3
"""bench_autoscale.py — how fast the autoscaler and the orchestrator react,
on a fresh `lookout up` with runc containers (needs root and runc).

1. Load step → HPA decision and → new replica Ready, over --steps steps.
   A Deployment runs `lookout demo-app` (requests cpu 100m, limit 300m,
   readiness probe every 1 s) with an HPA (50 % CPU, 1..3 replicas,
   scale-down stabilization --down-window s). Each step starts settled at one
   Ready replica, starts `lookout loadgen` at t0, and polls every 100 ms:
   t_decision = "timeMs" of the first decision event after t0 with rescale
   true (GET /api/v1/autoscaling/events?after=SEQ), t_ready = when a pod that
   was not there at t0 first shows Ready in the pods list. Then the load
   stops and the step waits until the Deployment is back to one pod.
2. Containers started per second: a Deployment of --pods pods (`sleep 600`,
   image host, requests cpu 1m), time from the POST to all of them Ready;
   then the `lookout up` process's own CPU (utime+stime of the process from
   /proc/PID/stat, children not counted) over --window s and its RSS, with
   the shims (`lookout shim`) and their `runc run` processes summed apart.
   Then the Deployment is deleted (grace period 1 s: `sleep` as PID 1
   ignores SIGTERM) and the bench waits until
   `runc --root DATA/orchestrator/runc list` is empty.

Every wait is bounded. Writes bench/results/autoscale-<steps>steps-<pods>pods.{json,txt}.

  bench/autoscale/bench_autoscale.py [--steps 10] [--pods 100] [--window 30]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import lkt  # noqa: E402
from lkt import wait_for  # noqa: E402
from results import Recorder  # noqa: E402

SETTINGS = {"collector.interval": "1s", "orchestrator.sync_period": "1s", "orchestrator.hpa_sync_period": "1s",
            "orchestrator.hpa_metric_window": "3s", "orchestrator.hpa_cpu_initialization_period": "2s",
            "orchestrator.hpa_initial_readiness_delay": "1s"}
CONFIG = ("collector: { interval: 1s }\n"
          "orchestrator: { sync_period: 1s, hpa_sync_period: 1s, hpa_metric_window: 3s,\n"
          "                hpa_cpu_initialization_period: 2s, hpa_initial_readiness_delay: 1s }\n")
POLL_S = 0.1
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write(time.strftime("%H:%M:%S ") + msg + "\n")
    sys.stderr.flush()




class Node:
    """`lookout up` on a fresh data dir, and its HTTP API."""

    def __init__(self, exe, work):
        self.exe, self.data = exe, os.path.join(work, "data")
        self.port = lkt.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        self.log_path = os.path.join(work, "server.log")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([exe, "up", "--config", cfg, "--data", self.data,
                                          "--listen", "127.0.0.1:%d" % self.port], stdout=out, stderr=out)
        wait_for("lookout up ready", self.ready, 60, 0.1)
        with open(os.path.join(self.data, "token")) as f:
            self.token = f.read().strip()
        self.runc_root = os.path.join(self.data, "orchestrator", "runc")

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("lookout up exited with %s" % self.proc.returncode)
        try:
            return lkt.http("GET", self.base + "/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    def api(self, method, path, body=None, ok=(200, 201)):
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        st, raw = lkt.http(method, self.base + path, json.dumps(body).encode() if body is not None else None,
                           headers, timeout=30)
        if st not in ok:
            raise RuntimeError("%s %s: %d %s" % (method, path, st, raw[:300]))
        return json.loads(raw) if raw else None

    def pods(self, app):
        """(live pod names, names of the live pods that are Ready)."""
        items = self.api("GET", "/api/v1/namespaces/default/pods?labelSelector=app=" + app)["items"]
        live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        ready = {p["metadata"]["name"] for p in live
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))}
        return {p["metadata"]["name"] for p in live}, ready

    def events(self, after):
        return self.api("GET", "/api/v1/autoscaling/events?after=%d" % after)["data"]

    def containers(self):
        out = subprocess.run(["runc", "--root", self.runc_root, "list", "-q"], capture_output=True, text=True)
        return [x for x in out.stdout.split() if x]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def deployment(name, command, requests, limits=None, probe_port=None):
    ctr = {"name": name, "image": "host", "command": command, "resources": {"requests": requests}}
    if limits:
        ctr["resources"]["limits"] = limits
    if probe_port:
        ctr["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": probe_port}, "periodSeconds": 1}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [ctr]}}}}


def hpa(name, down_window_s):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": 1, "maxReplicas": 3,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": down_window_s}}}}


def percentile(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, -(-len(s) * p // 100) - 1))]


def summary(xs):
    return {"n": len(xs), "median_s": round(statistics.median(xs), 3), "p95_s": round(percentile(xs, 95), 3),
            "min_s": round(min(xs), 3), "max_s": round(max(xs), 3)} if xs else {"n": 0}


# ---------------------------------------------------------------- 1. load steps

def settle(node, quiet_s):
    """One live pod, Ready, the Deployment at 1 replica; then quiet_s without load."""
    wait_for("back to one Ready pod", lambda: (lambda l, r: len(l) == 1 and len(r) == 1)(*node.pods("burn"))
             and node.api("GET", "/apis/apps/v1/namespaces/default/deployments/burn")["spec"]["replicas"] == 1, 180)
    time.sleep(quiet_s)


def one_step(node, args, app_port, work, i):
    settle(node, args.quiet)
    seq = max([e["seq"] for e in node.events(0)] or [0])
    before, _ = node.pods("burn")
    with open(os.path.join(work, "load.log"), "a") as out:
        t0 = time.time()
        load = subprocess.Popen([args.lookout, "loadgen", "--url", "http://127.0.0.1:%d/" % app_port,
                                 "--concurrency", "3", "--duration", "%ds" % args.step_timeout],
                                stdout=out, stderr=subprocess.STDOUT)
    t_dec = t_ready = None
    decision = None
    try:
        deadline = t0 + args.step_timeout
        while time.time() < deadline and (t_dec is None or t_ready is None):
            if t_dec is None:
                for e in node.events(seq):
                    seq = max(seq, e["seq"])
                    if e.get("rescale") and e["timeMs"] / 1000.0 >= t0 and e["desiredReplicas"] > e["currentReplicas"]:
                        t_dec, decision = e["timeMs"] / 1000.0, e
                        break
            if t_ready is None:
                _, ready = node.pods("burn")
                if ready - before:
                    t_ready = time.time()
            time.sleep(POLL_S)
    finally:
        load.send_signal(signal.SIGTERM)
        try:
            load.wait(timeout=10)
        except subprocess.TimeoutExpired:
            load.kill()
    res = {"step": i + 1, "decision_s": round(t_dec - t0, 3) if t_dec else None,
           "ready_s": round(t_ready - t0, 3) if t_ready else None}
    if decision:
        m = decision["metrics"][0]
        res.update({"desired": decision["desiredReplicas"], "utilization_pct": m.get("utilization")})
    log("step %d: decision %s s, new replica Ready %s s" % (i + 1, res["decision_s"], res["ready_s"]))
    return res


def load_steps(node, args, work):
    app_port = lkt.free_port()
    node.api("POST", "/apis/apps/v1/namespaces/default/deployments",
             deployment("burn", [args.lookout, "demo-app", "--listen", "127.0.0.1:%d" % app_port, "--work-ms", "20"],
                        {"cpu": "100m"}, {"cpu": "300m"}, app_port))
    node.api("POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", hpa("burn", args.down_window))
    steps = [one_step(node, args, app_port, work, i) for i in range(args.steps)]
    node.api("DELETE", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burn")
    node.api("DELETE", "/apis/apps/v1/namespaces/default/deployments/burn")
    wait_for("the burn pods gone", lambda: not node.pods("burn")[0] and not node.containers(), 120)
    return {"steps": steps,
            "decision": summary([s["decision_s"] for s in steps if s["decision_s"] is not None]),
            "ready": summary([s["ready_s"] for s in steps if s["ready_s"] is not None])}


# ---------------------------------------------------------------- 2. many pods

def proc_cpu_rss(pid):
    """(utime+stime seconds of the process itself, RSS KiB)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return cpu, rss


def helpers(runc_root):
    """pids of the shims and of their `runc run` processes (by command line naming this runc root)."""
    shims, runcs = [], []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if runc_root not in argv:
            continue
        if len(argv) > 1 and argv[1] == "shim":
            shims.append(int(d))
        elif os.path.basename(argv[0]) == "runc" and "run" in argv:
            runcs.append(int(d))
    return shims, runcs


def group_usage(pids):
    cpu = rss = 0
    for p in pids:
        try:
            c, r = proc_cpu_rss(p)
        except OSError:
            continue
        cpu, rss = cpu + c, rss + r
    return cpu, rss


def many_pods(node, args):
    dep = deployment("fleet", [shutil.which("sleep"), "600"], {"cpu": "1m"})
    dep["spec"]["replicas"] = args.pods
    dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1  # sleep as PID 1 ignores SIGTERM
    t0 = time.time()
    node.api("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    wait_for("%d pods Ready" % args.pods, lambda: len(node.pods("fleet")[1]) >= args.pods, 600, 0.25)
    start_s = time.time() - t0
    log("%d pods Ready %.1f s after the POST (%.1f per s)" % (args.pods, start_s, args.pods / start_s))
    time.sleep(5)
    shims, runcs = helpers(node.runc_root)
    pid = node.proc.pid
    c0, _ = proc_cpu_rss(pid)
    s0, r0 = group_usage(shims), group_usage(runcs)
    w0 = time.monotonic()
    time.sleep(args.window)
    c1, rss = proc_cpu_rss(pid)
    s1, r1 = group_usage(shims), group_usage(runcs)
    wall = time.monotonic() - w0
    pct = lambda a, b: round(100.0 * (b - a) / wall, 2)  # noqa: E731
    res = {"pods": args.pods, "start_s": round(start_s, 2), "pods_per_s": round(args.pods / start_s, 2),
           "window_s": round(wall, 1), "lookout_cpu_pct": pct(c0, c1), "lookout_rss_mib": round(rss / 1024, 1),
           "shims": len(shims), "shims_cpu_pct": pct(s0[0], s1[0]), "shims_rss_mib": round(s1[1] / 1024, 1),
           "runc_run": len(runcs), "runc_cpu_pct": pct(r0[0], r1[0]), "runc_rss_mib": round(r1[1] / 1024, 1)}
    log("lookout up with %d pods: %.2f %% of a core, RSS %.1f MiB; %d shims %.2f %%, %.1f MiB; %d runc %.2f %%, %.1f MiB"
        % (args.pods, res["lookout_cpu_pct"], res["lookout_rss_mib"], res["shims"], res["shims_cpu_pct"],
           res["shims_rss_mib"], res["runc_run"], res["runc_cpu_pct"], res["runc_rss_mib"]))
    t1 = time.time()
    node.api("DELETE", "/apis/apps/v1/namespaces/default/deployments/fleet")
    wait_for("no containers left", lambda: not node.containers(), 600, 0.5)
    res["delete_s"] = round(time.time() - t1, 2)
    log("deleted; no container left %.1f s after the DELETE" % res["delete_s"])
    return res


def table(doc):
    s, p = doc["load_steps"], doc["many_pods"]
    lines = ["settings: " + ", ".join("%s %s" % kv for kv in SETTINGS.items()),
             "HPA: 50 %% CPU of requests 100m, 1..3 replicas, scale-down stabilization %d s; loadgen concurrency 3"
             % doc["down_window_s"], "",
             "%-44s %8s %8s %8s %8s  %s" % ("load step (%d steps)" % len(s["steps"]), "median s", "p95 s", "min s",
                                            "max s", "target")]
    for key, label, target in (("decision", "-> HPA decision (event timeMs)", "<= 2 intervals + 1 sync = 3 s"),
                               ("ready", "-> new replica Ready (pods list, 100 ms)", "p95 <= 10 s")):
        x = s[key]
        if x["n"]:
            lines.append("%-44s %8.2f %8.2f %8.2f %8.2f  %s (%d/%d steps)" % (
                label, x["median_s"], x["p95_s"], x["min_s"], x["max_s"], target, x["n"], len(s["steps"])))
        else:
            lines.append("%-44s none within the step timeout" % label)
    lines += ["Kubernetes default (documented, not measured here): 15 s HPA sync on top of 15-60 s "
              "metrics-server resolution, ~30 s typical", "",
              "%d pods (sleep 600, cpu 1m, grace 1 s): all Ready %.1f s after the POST = %.1f pods/s; deleted, no container "
              "left after %.1f s" % (p["pods"], p["start_s"], p["pods_per_s"], p["delete_s"]),
              "with %d pods, over %.0f s: lookout up %.2f %% of a core, RSS %.1f MiB; summed RSS: %d shims %.2f %%, %.1f MiB; "
              "%d runc run %.2f %%, %.1f MiB" % (p["pods"], p["window_s"], p["lookout_cpu_pct"], p["lookout_rss_mib"],
                                               p["shims"], p["shims_cpu_pct"], p["shims_rss_mib"], p["runc_run"],
                                               p["runc_cpu_pct"], p["runc_rss_mib"])]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--window", type=float, default=30.0, help="CPU window with the pods running, s")
    ap.add_argument("--down-window", type=int, default=5, help="HPA scale-down stabilization, s")
    ap.add_argument("--quiet", type=float, default=4.0, help="s without load before each step")
    ap.add_argument("--step-timeout", type=int, default=60, help="longest wait for decision and Ready, s")
    ap.add_argument("--lookout", default=os.path.join(ROOT, "build", "lookout"))
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("runc"):
        sys.exit("bench_autoscale: needs root and runc (containers)")
    if not os.access(args.lookout, os.X_OK):
        sys.exit("bench_autoscale: no %s (ninja -C build)" % args.lookout)
    args.lookout = os.path.abspath(args.lookout)
    rec = Recorder("autoscale-%dsteps-%dpods" % (args.steps, args.pods))
    work = tempfile.mkdtemp(prefix="bench-autoscale.")
    node = None
    try:
        node = Node(args.lookout, work)
        if "pods cannot run" in open(node.log_path, errors="replace").read():
            sys.exit("bench_autoscale: the runtime cannot run pods here (see %s)" % node.log_path)
        doc = {"settings": SETTINGS, "down_window_s": args.down_window, "quiet_s": args.quiet,
               "poll_s": POLL_S, "hpa": {"target_cpu_pct": 50, "min": 1, "max": 3, "requests_cpu": "100m",
                                         "limits_cpu": "300m", "loadgen_concurrency": 3},
               "targets": {"decision_s": 3.0, "ready_p95_s": 10.0},
               "kubernetes_default": "15 s HPA sync on top of 15-60 s metrics-server resolution, ~30 s typical "
                                     "(documented default, not measured here)",
               "version": subprocess.run([args.lookout, "version"], capture_output=True, text=True).stdout.strip()}
        doc["load_steps"] = load_steps(node, args, work)
        doc["many_pods"] = many_pods(node, args)
    except BaseException:
        if node:
            sys.stderr.write(open(node.log_path, errors="replace").read()[-3000:])
        raise
    finally:
        if node:
            node.stop()
            for c in node.containers():  # only after a failure: containers outlive `lookout up`
                subprocess.run(["runc", "--root", node.runc_root, "delete", "-f", c], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
    text = table(doc)
    print(text)
    print("results: " + rec.write(doc, text))
    return 0 if doc["load_steps"]["ready"]["n"] == args.steps else 1


if __name__ == "__main__":
    sys.exit(main())
