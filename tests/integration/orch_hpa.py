"""orch_hpa.py — the autoscaler end to end on real containers: `lookout up`
runs the demo workload (requests cpu 100m) as runc containers, an HPA
(target 50 % CPU, 1..5 replicas, short windows) reads the collector's cgroup
series from the tsdb; load from `lookout loadgen` makes it scale up, the
decision event carries the observed utilization; when the load stops it
scales back down after the stabilization window; deleting the deployment
leaves no container behind. Needs root and runc (else SKIP)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import lkt
from lkt import wait_for

exe = os.path.abspath(sys.argv[1])

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "burn", "labels": {"app": "burn"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "burn"}},
        "template": {
            "metadata": {"labels": {"app": "burn"}},
            "spec": {"containers": [{
                "name": "burn", "image": "host",
                "command": [exe, "demo-app", "--listen", "127.0.0.1:PORT", "--work-ms", "20"],
                "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "300m"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 0}, "periodSeconds": 1},
            }]},
        },
    },
}

HPA = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "burn"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burn"},
        "minReplicas": 1, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                      "target": {"type": "Utilization", "averageUtilization": 50}}}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}},
    },
}




class Node:
    def __init__(self, work):
        self.work, self.data = work, os.path.join(work, "data")
        self.port = lkt.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(work, "lookout.yaml")
        with open(self.config, "w") as f:
            f.write("collector: { interval: 1s }\n"
                    "orchestrator: { sync_period: 1s, hpa_sync_period: 2s, hpa_metric_window: 6s,\n"
                    "                hpa_cpu_initialization_period: 10s, hpa_initial_readiness_delay: 2s }\n")
        log = open(os.path.join(work, "server.log"), "ab")
        self.proc = subprocess.Popen([exe, "up", "--config", self.config, "--data", self.data,
                                      "--listen", f"127.0.0.1:{self.port}"], stdout=log, stderr=log)
        log.close()
        wait_for("lookout up ready", self.ready, 60, 0.1)
        with open(os.path.join(self.data, "token")) as f:
            self.token = f.read().strip()

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"lookout up exited with {self.proc.returncode}")
        try:
            return lkt.http("GET", self.base + "/-/ready", timeout=1)[0] == 200
        except OSError:
            return False

    def api(self, method, path, body=None):
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        st, raw = lkt.http(method, self.base + path, json.dumps(body).encode() if body is not None else None,
                           headers, timeout=10)
        return st, json.loads(raw) if raw else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def ready_pods(node):
    st, body = node.api("GET", "/api/v1/namespaces/default/pods?labelSelector=app=burn")
    assert st == 200, body
    live = [p for p in body["items"] if not p["metadata"].get("deletionTimestamp")]
    return [p for p in live if any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in p.get("status", {}).get("conditions", []))]


def replicas(node):
    st, d = node.api("GET", "/apis/apps/v1/namespaces/default/deployments/burn")
    assert st == 200, d
    return d["spec"]["replicas"]


def events(node):
    st, raw = lkt.http("GET", node.base + "/api/v1/autoscaling/events", timeout=10)
    assert st == 200, raw
    body = json.loads(raw)
    return body["data"] if isinstance(body.get("data"), list) else body["data"]["events"]


def main():
    if os.geteuid() != 0 or not shutil.which("runc"):
        print("SKIP: containers need root and runc")
        sys.exit(lkt.SKIP)
    app_port = lkt.free_port()
    ctr = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]
    ctr["command"][3] = f"127.0.0.1:{app_port}"
    ctr["readinessProbe"]["httpGet"]["port"] = app_port
    with lkt.workdir("lk-hpa-", logs=("server.log", "load.log")) as work:
        node = Node(work)
        load = None
        try:
            if "pods cannot run" in open(os.path.join(work, "server.log"), errors="replace").read():
                print("SKIP: the runtime cannot run pods here")
                sys.exit(lkt.SKIP)
            st, body = node.api("POST", "/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT)
            assert st == 201, body
            st, body = node.api("POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", HPA)
            assert st == 201, body
            wait_for("the first replica ready", lambda: len(ready_pods(node)) == 1, 60)

            t_load = time.time()
            with open(os.path.join(work, "load.log"), "w") as log:
                load = subprocess.Popen([exe, "loadgen", "--url", f"http://127.0.0.1:{app_port}/", "--concurrency", "3",
                                         "--duration", "120s"], stdout=log, stderr=subprocess.STDOUT)
            up = wait_for("a scale-up", lambda: replicas(node) > 1 and replicas(node), 90)
            print(f"scale-up to {up} replicas {time.time() - t_load:.1f}s after the load started")
            scaled = [e for e in events(node) if e.get("rescale") and e["desiredReplicas"] > e["currentReplicas"]]
            assert scaled, events(node)[-3:]
            m = scaled[0]["metrics"][0]
            assert m["type"] == "Resource" and m["name"] == "cpu", m
            assert m["utilization"] > 50 and m["ratio"] > 1.1, m  # observed usage over requests, in percent
            assert 1 < scaled[0]["desiredReplicas"] <= 5, scaled[0]
            st, hpa = node.api("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burn")
            cur = hpa["status"]["currentMetrics"][0]["resource"]["current"]
            assert cur["averageUtilization"] > 0, hpa["status"]
            assert any(c["type"] == "ScalingActive" and c["status"] == "True" for c in hpa["status"]["conditions"])

            load.send_signal(signal.SIGTERM)
            load.wait(timeout=10)
            t_stop = time.time()
            wait_for("the scale-down to 1", lambda: replicas(node) == 1, 120)
            took = time.time() - t_stop
            print(f"scale-down to 1 replica {took:.1f}s after the load stopped (stabilization window 10s)")
            assert took >= 8, f"scaled down after {took:.1f}s, inside the 10 s stabilization window"
            down = [e for e in events(node) if e.get("rescale") and e["desiredReplicas"] < e["currentReplicas"]]
            assert down and down[-1]["desiredReplicas"] == 1, events(node)[-3:]

            st, _ = node.api("DELETE", "/apis/apps/v1/namespaces/default/deployments/burn")
            assert st == 200, st
            runc_root = os.path.join(node.data, "orchestrator", "runc")
            wait_for("no containers left", lambda: subprocess.run(
                ["runc", "--root", runc_root, "list", "-q"], capture_output=True, text=True).stdout.strip() == "", 60)
        finally:
            if load and load.poll() is None:
                load.kill()
            node.stop()
    print("orch_hpa: ok")


main()
