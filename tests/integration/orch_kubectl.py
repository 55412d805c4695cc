"""orch_kubectl.py — the real kubectl on PATH against `lookout up`.

kubectl sends credentials only over TLS (client-go drops the token for an
http:// server), and the orchestrator's writes always need the bearer token,
so the node serves HTTPS with a throw-away certificate and the generated
kubeconfig carries the token. Checked: discovery; apply without
--validate=false (the server's OpenAPI v3 declares server-side field
validation; unknown fields are its 422) and with it (create, unchanged,
configure) of a 2-replica deployment whose pods run as containers (or, where
containers cannot run, stay Pending saying why); get deploy,rs,pods,hpa,ns
-o json|yaml|wide; describe; scale; autoscale (the HPA kubectl creates with a
protobuf body); rollout status and restart; a rolling update of 3 replicas
with maxUnavailable 1 never below 2 ready (sampled); logs --tail from the log
store; bad manifests, unknown kinds, negative replicas, a request larger than
the node, a missing image directory → kubectl's exit 1 with the field named
and nothing created; 409 on a stale resourceVersion; 401 without the token;
a restart of Lookout adopts the running containers (same pods, no
duplicates); delete → objects and containers gone.

Usage: orch_kubectl.py LOOKOUT_EXE
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402
from lkt import wait_for  # noqa: E402

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: 1, maxUnavailable: 1}}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        image: host
        command: ["/bin/sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
        resources:
          requests: {{cpu: 10m, memory: 16Mi}}
"""

BAD = {
    "unknown field": ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-field}
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers: [{name: main, image: host, command: [sleep, "9"], bogus: 1}]
""", 'spec.template.spec.containers[0].bogus'),
    "negative replicas": ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-replicas}
spec:
  replicas: -2
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers: [{name: main, image: host, command: [sleep, "9"]}]
""", "spec.replicas: Invalid value: -2"),
    "selector mismatch": ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-selector}
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: c}}
    spec:
      containers: [{name: main, image: host, command: [sleep, "9"]}]
""", "`selector` does not match template `labels`"),
    "request larger than the node": ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-quota}
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers:
      - {name: main, image: host, command: [sleep, "9"], resources: {requests: {cpu: "4096", memory: 64Ti}}}
""", "Insufficient cpu"),
    "missing image directory": ("""apiVersion: apps/v1
kind: Deployment
metadata: {name: bad-image}
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers: [{name: main, image: /nonexistent/rootfs, command: [sleep, "9"]}]
""", "image directory does not exist"),
    "registry image": ("""apiVersion: v1
kind: Pod
metadata: {name: bad-registry}
spec:
  containers: [{name: main, image: "nginx:1.25"}]
""", "registry images are not supported"),
    "unknown kind": ("""apiVersion: v1
kind: Service
metadata: {name: bad-kind}
spec: {}
""", 'no matches for kind "Service"'),
}


class Node:
    def __init__(self, exe, work):
        self.exe, self.work = exe, work
        self.data = os.path.join(work, "data")
        self.port = lkt.free_port()
        self.proc = None
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
        self.config = os.path.join(work, "lookout.yaml")
        with open(self.config, "w") as f:
            f.write(f"tls: {{ cert_file: {cert}, key_file: {key} }}\n"
                    "collector: { interval: 1s }\norchestrator: { sync_period: 1s }\n")
        self.base = f"https://127.0.0.1:{self.port}"

    def start(self, timeout=60):
        log = open(os.path.join(self.work, "server.log"), "ab")
        self.proc = subprocess.Popen([self.exe, "up", "--config", self.config, "--data", self.data, "--listen",
                                      f"127.0.0.1:{self.port}"], stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lookout up exited with {self.proc.returncode}")
            try:
                if lkt.http("GET", self.base + "/-/ready", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("lookout up did not become ready")
        with open(os.path.join(self.data, "token")) as f:
            self.token = f.read().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None

    def api(self, method, path, body=None, token=True, ctype="application/json"):
        headers = {"Content-Type": ctype}
        if token:
            headers["Authorization"] = "Bearer " + self.token
        data = json.dumps(body).encode() if body is not None else None
        st, raw = lkt.http(method, self.base + path, data, headers, timeout=10)
        return st, json.loads(raw) if raw else None

    def runtime_ok(self):
        with open(os.path.join(self.work, "server.log"), errors="replace") as f:
            return "pods cannot run on this node" not in f.read()


def kubeconfig(node, path, with_token=True):
    user = f"    token: {node.token}\n" if with_token else "    username: nobody\n"
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: lookout
  cluster:
    server: {node.base}
    insecure-skip-tls-verify: true
users:
- name: me
  user:
{user}contexts:
- name: lookout
  context: {{cluster: lookout, user: me, namespace: default}}
current-context: lookout
""")


def kubectl(cfg, *args, input_text=None, timeout=60, check=True):
    env = dict(os.environ, KUBECONFIG=cfg)
    p = subprocess.run(["kubectl", *args], input=input_text, capture_output=True, text=True, env=env,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p




def pods(node, selector="app=web"):
    st, body = node.api("GET", "/api/v1/namespaces/default/pods?labelSelector=" + selector)
    assert st == 200, body
    return [p for p in body["items"] if not p["metadata"].get("deletionTimestamp")]


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def containers(node):
    runc = shutil.which("runc")
    if not runc:
        return []
    out = subprocess.run([runc, "--root", os.path.join(node.data, "orchestrator", "runc"), "list", "-q"],
                         capture_output=True, text=True, timeout=30)
    return sorted(out.stdout.split())


def check_apply_and_pods(node, cfg, manifest, runs):
    out = kubectl(cfg, "apply", "-f", manifest).stdout  # field validation is the server's (OpenAPI v3 says so)
    assert "deployment.apps/web created" in out, out
    assert "unchanged" in kubectl(cfg, "apply", "--validate=false", "-f", manifest).stdout
    if runs:
        wait_for("2 Running pods", lambda: len([p for p in pods(node) if ready(p)]) == 2)
        table = kubectl(cfg, "get", "pods").stdout
        assert table.count("Running") == 2, table
    else:
        got = wait_for("2 Pending pods", lambda: len(pods(node)) == 2 and pods(node))
        assert all(p["status"]["phase"] == "Pending" for p in got), got
        assert "RuntimeUnavailable" in kubectl(cfg, "get", "pods").stdout


def check_get_forms(cfg, runs):
    j = json.loads(kubectl(cfg, "get", "deploy,rs,pods,hpa,ns", "-o", "json").stdout)
    kinds = sorted({i["kind"] for i in j["items"]})
    assert {"Deployment", "ReplicaSet", "Pod", "Namespace"} <= set(kinds), kinds
    dep = [i for i in j["items"] if i["kind"] == "Deployment"][0]
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate" and dep["spec"]["revisionHistoryLimit"] == 10, dep
    assert dep["metadata"]["generation"] >= 1 and dep["metadata"]["uid"], dep
    yml = kubectl(cfg, "get", "deploy", "web", "-o", "yaml").stdout
    assert "progressDeadlineSeconds: 600" in yml and "terminationGracePeriodSeconds: 5" in yml, yml
    wide = kubectl(cfg, "get", "pods", "-o", "wide").stdout
    assert "NODE" in wide.splitlines()[0] and "IP" in wide.splitlines()[0], wide
    deploy_table = kubectl(cfg, "get", "deployments").stdout
    assert deploy_table.split("\n")[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], deploy_table
    nodes = kubectl(cfg, "get", "nodes").stdout.splitlines()
    assert len(nodes) == 2 and nodes[1].split()[1] == ("Ready" if runs else "NotReady"), nodes
    ns = kubectl(cfg, "get", "ns").stdout
    assert "default" in ns and "kube-system" in ns and "Active" in ns, ns
    desc = kubectl(cfg, "describe", "deployment", "web").stdout
    assert "Replicas:" in desc and "RollingUpdateStrategy:  1 max unavailable, 1 max surge" in desc, desc


def check_scale_autoscale(node, cfg, runs):
    kubectl(cfg, "scale", "deployment", "web", "--replicas", "3")
    wait_for("3 pods", lambda: len(pods(node)) == 3)
    kubectl(cfg, "rollout", "status", "deployment/web", "--timeout=60s" if runs else "--timeout=1s", check=runs)
    out = kubectl(cfg, "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=10").stdout
    assert "autoscaled" in out, out
    hpa = json.loads(kubectl(cfg, "get", "hpa", "web", "-o", "json").stdout)
    assert hpa["spec"]["maxReplicas"] == 10 and hpa["spec"]["minReplicas"] == 1, hpa
    metric = hpa["spec"]["metrics"][0]["resource"]
    assert metric["name"] == "cpu" and metric["target"]["averageUtilization"] == 50, hpa
    st, v1 = node.api("GET", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web")
    assert st == 200 and v1["spec"]["targetCPUUtilizationPercentage"] == 50, v1
    assert "Deployment/web" in kubectl(cfg, "get", "hpa").stdout


def check_diff(cfg, work, manifest):
    """kubectl diff: the server's dry run shows the change and stores nothing."""
    changed = os.path.join(work, "web5.yaml")
    with open(manifest) as f, open(changed, "w") as g:
        g.write(f.read().replace("replicas: 2", "replicas: 5"))
    p = kubectl(cfg, "diff", "-f", changed, check=False)
    assert p.returncode == 1 and "+  replicas: 5" in p.stdout, (p.returncode, p.stdout, p.stderr)
    assert json.loads(kubectl(cfg, "get", "deploy", "web", "-o", "json").stdout)["spec"]["replicas"] == 3


def check_edits(cfg):
    """Merge-patch commands and the protobuf body of `create namespace`."""
    assert "labeled" in kubectl(cfg, "label", "deployment", "web", "tier=front").stdout
    assert "annotated" in kubectl(cfg, "annotate", "deployment", "web", "note=hello").stdout
    d = json.loads(kubectl(cfg, "get", "deployment", "web", "-o", "json").stdout)
    assert d["metadata"]["labels"]["tier"] == "front" and d["metadata"]["annotations"]["note"] == "hello", d
    assert "namespace/scratch created" in kubectl(cfg, "create", "namespace", "scratch").stdout
    assert "scratch" in kubectl(cfg, "get", "ns").stdout
    kubectl(cfg, "delete", "namespace", "scratch")


def check_rolling_update(node, cfg):
    """3 replicas, maxUnavailable 1: never fewer than 2 ready while it rolls."""
    kubectl(cfg, "rollout", "restart", "deployment/web")
    lowest, seen_new = 3, False
    deadline = time.time() + 90
    while time.time() < deadline:
        st, d = node.api("GET", "/apis/apps/v1/namespaces/default/deployments/web")
        live = pods(node)
        lowest = min(lowest, len([p for p in live if ready(p)]))
        s = d["status"]
        if s.get("observedGeneration") == d["metadata"]["generation"] and s.get("updatedReplicas") == 3 and \
                s.get("availableReplicas") == 3 and s.get("replicas") == 3:
            seen_new = True
            break
        time.sleep(0.1)
    assert seen_new, "the rollout did not finish within 90 s"
    assert lowest >= 2, f"ready pods dropped to {lowest} during the rolling update"
    print(f"rolling update: fewest ready pods seen {lowest} of 3 (maxUnavailable 1)")
    kubectl(cfg, "rollout", "status", "deployment/web", "--timeout=30s")
    rs = json.loads(kubectl(cfg, "get", "rs", "-o", "json").stdout)["items"]
    assert len(rs) == 2 and sorted(r["spec"]["replicas"] for r in rs) == [0, 3], rs


def check_logs(node, cfg):
    name = kubectl(cfg, "get", "pods", "-o", "name").stdout.split()[0]
    def two_lines():
        out = kubectl(cfg, "logs", name, "--tail", "2", check=False).stdout.strip()
        return out if len(out.splitlines()) >= 2 else None  # the container may have ticked once so far
    got = wait_for("two log lines", two_lines, timeout=30)
    lines = got.splitlines()
    assert len(lines) == 2 and all(line.startswith("tick ") for line in lines), got
    # a since longer than the epoch means every line, not an overflowed start
    ancient = kubectl(cfg, "logs", name, "--since", "2000000h").stdout.splitlines()
    assert len(ancient) >= 2 and ancient[0].startswith("tick "), ancient
    pod = name.split("/", 1)[1]
    st, raw = lkt.http("GET", f"{node.base}/api/v1/namespaces/default/pods/{pod}/log?sinceSeconds=99999999999999999",
                       None, {"Authorization": "Bearer " + node.token}, timeout=10)
    assert st == 200 and raw.decode().startswith("tick "), (st, raw[:200])


def check_self_healing(node, cfg):
    """kill -9 of a container: restarted within 5 s (restarts shown); a deleted
    pod is replaced by its ReplicaSet."""
    victim = pods(node)[0]
    uid, name = victim["metadata"]["uid"], victim["metadata"]["name"]
    root = os.path.join(node.data, "orchestrator", "runc")
    state = json.loads(subprocess.run(["runc", "--root", root, "state", f"{uid}-main"], capture_output=True,
                                      text=True, timeout=30, check=True).stdout)
    os.kill(state["pid"], signal.SIGKILL)
    t0 = time.time()

    def restarted():
        st, p = node.api("GET", "/api/v1/namespaces/default/pods/" + name)
        cs = p["status"].get("containerStatuses", [{}])[0]
        return cs.get("restartCount", 0) >= 1 and "running" in cs.get("state", {}) and ready(p)
    wait_for("the killed container back", restarted, timeout=5)
    print(f"killed container running again after {time.time() - t0:.1f} s")
    row = [line for line in kubectl(cfg, "get", "pods").stdout.splitlines() if line.startswith(name)][0]
    assert row.split()[3] == "1", row
    kubectl(cfg, "delete", "pod", name, "--timeout=30s")
    wait_for("a replacement pod", lambda: len([p for p in pods(node) if ready(p)]) == 3 and
             name not in [p["metadata"]["name"] for p in pods(node)], timeout=30)


def check_bad_input(node, cfg, work):
    before = kubectl(cfg, "get", "deploy,pods", "-o", "name").stdout
    for what, (text, want) in BAD.items():
        path = os.path.join(work, "bad.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = kubectl(cfg, "apply", "-f", path, check=False)
        assert p.returncode == 1, (what, p.stdout, p.stderr)
        if what == "unknown kind":
            # kubectl validates a kind no OpenAPI document names on the client, and finds
            # no schema to do it with; without validation it reports the unknown kind
            assert "error validating" in p.stderr, p.stderr
            p = kubectl(cfg, "apply", "--validate=false", "-f", path, check=False)
            assert p.returncode == 1, (what, p.stdout, p.stderr)
        assert want in p.stderr, (what, p.stderr)
    time.sleep(1.5)  # a controller pass: nothing may have been started
    assert kubectl(cfg, "get", "deploy,pods", "-o", "name").stdout == before


def check_conflict_and_auth(node, cfg, work):
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    st, d = node.api("GET", path)
    d["metadata"]["labels"]["try"] = "1"
    st1, _ = node.api("PUT", path, d)
    d["metadata"]["labels"]["try"] = "2"
    st2, body = node.api("PUT", path, d)  # same, now stale, resourceVersion
    assert st1 == 200 and st2 == 409 and body["reason"] == "Conflict", (st1, st2, body)
    st, body = node.api("DELETE", path, token=False)
    assert st == 401, (st, body)
    st, body = node.api("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "x"}}, token=False)
    assert st == 401, (st, body)
    anon = os.path.join(work, "anon.kubeconfig")
    kubeconfig(node, anon, with_token=False)
    p = kubectl(anon, "scale", "deployment", "web", "--replicas", "1", check=False)
    assert p.returncode != 0 and "credentials" in p.stderr, p.stderr
    assert kubectl(anon, "get", "deploy", "web").returncode == 0  # reads are open


def check_restart_adopts(node, cfg, runs):
    names = sorted(p["metadata"]["name"] for p in pods(node))
    ctrs = containers(node)
    node.stop()
    node.start()
    time.sleep(3)  # a few controller passes
    assert sorted(p["metadata"]["name"] for p in pods(node)) == names
    if runs:
        assert containers(node) == ctrs, (ctrs, containers(node))
        wait_for("pods ready again", lambda: len([p for p in pods(node) if ready(p)]) == 3)


def check_delete(node, cfg, runs):
    assert "deleted" in kubectl(cfg, "delete", "deployment", "web", "--timeout=60s").stdout
    wait_for("pods gone", lambda: not pods(node) and not json.loads(
        kubectl(cfg, "get", "rs", "-o", "json").stdout)["items"], timeout=60)
    kubectl(cfg, "delete", "hpa", "web")
    if runs:
        wait_for("containers gone", lambda: containers(node) == [], timeout=30)


def main():
    exe = sys.argv[1]
    lkt.require("kubectl")
    lkt.require("openssl")
    with lkt.workdir("lookout-kubectl-") as work:
        node = Node(exe, work)
        node.start()
        try:
            cfg = os.path.join(work, "kubeconfig")
            kubeconfig(node, cfg)
            res = kubectl(cfg, "api-resources").stdout
            for word in ("deployments", "replicasets", "pods", "horizontalpodautoscalers", "namespaces", "hpa"):
                assert word in res, res
            time.sleep(0.5)
            runs = node.runtime_ok()
            manifest = os.path.join(work, "web.yaml")
            with open(manifest, "w") as f:
                f.write(DEPLOY.format(replicas=2))
            check_apply_and_pods(node, cfg, manifest, runs)
            check_get_forms(cfg, runs)
            check_scale_autoscale(node, cfg, runs)
            check_edits(cfg)
            check_diff(cfg, work, manifest)
            if runs:
                check_rolling_update(node, cfg)
                check_logs(node, cfg)
                check_self_healing(node, cfg)
            check_bad_input(node, cfg, work)
            check_conflict_and_auth(node, cfg, work)
            check_restart_adopts(node, cfg, runs)
            check_delete(node, cfg, runs)
            print(f"ok (containers {'ran' if runs else 'could not run: pods stayed Pending'})")
        finally:
            node.stop()
            if node.runtime_ok():
                for c in containers(node):  # never leave containers behind a failed run
                    subprocess.run(["runc", "--root", os.path.join(node.data, "orchestrator", "runc"), "delete",
                                    "--force", c], capture_output=True, timeout=30)


if __name__ == "__main__":
    main()
