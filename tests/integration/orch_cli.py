"""orch_cli.py — `lookout apply|get|scale` against `lookout server` over
plain http: a multi-document manifest (Namespace, Deployment, autoscaling/v1
HPA) applied (created, then unchanged, then configured), `get` tables with
kubectl's columns (-A adds NAMESPACE), `scale` (and a negative count refused
with the server's message), a manifest with an unknown kind or an invalid
field refused before or by the server with exit 1 and nothing created, and
every write refused (401) without the token.

Usage: orch_cli.py LOOKOUT_EXE
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

MANIFEST = """apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  replicas: 0
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - {name: main, image: host, command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: cart, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  minReplicas: 1
  maxReplicas: 4
  targetCPUUtilizationPercentage: 60
"""


def run(exe, server, *args, token=True):
    flags = ["--server", server.base, "--token-file", os.path.join(server.data, "token") if token else "/nonexistent"]
    return subprocess.run([exe, *args, *flags], capture_output=True, text=True, timeout=60)


def main():
    exe = sys.argv[1]
    with lkt.workdir("lookout-orch-cli-") as work:
        server = lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"))
        server.start()
        try:
            path = os.path.join(work, "shop.yaml")
            with open(path, "w") as f:
                f.write(MANIFEST)
            p = run(exe, server, "apply", "-f", path)
            assert p.returncode == 0, p.stderr
            assert p.stdout.splitlines() == ["namespace/shop created", "deployment.apps/cart created",
                                             "horizontalpodautoscaler.autoscaling/cart created"], p.stdout
            p = run(exe, server, "apply", "-f", path)
            assert p.stdout.count("unchanged") == 3, p.stdout
            with open(path, "w") as f:
                f.write(MANIFEST.replace("maxReplicas: 4", "maxReplicas: 5"))
            p = run(exe, server, "apply", "-f", path)
            assert "horizontalpodautoscaler.autoscaling/cart configured" in p.stdout, p.stdout
            st, hpa = lkt.get_json(server.base + "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/cart")
            assert hpa["spec"]["maxReplicas"] == 5 and \
                hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60, hpa

            p = run(exe, server, "get", "deployments", "-n", "shop")
            head = p.stdout.splitlines()[0].split()
            assert head == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], p.stdout
            p = run(exe, server, "get", "autoscalers", "-A")
            assert p.stdout.splitlines()[0].split()[:3] == ["NAMESPACE", "NAME", "REFERENCE"], p.stdout
            assert "Deployment/cart" in p.stdout and "cpu: <unknown>/60%" in p.stdout, p.stdout

            p = run(exe, server, "scale", "cart", "1", "-n", "shop")
            assert p.returncode == 0 and p.stdout.strip() == "deployment.apps/cart scaled", (p.stdout, p.stderr)
            deadline = time.time() + 30
            while time.time() < deadline and "cart-" not in run(exe, server, "get", "pods", "-n", "shop").stdout:
                time.sleep(0.2)
            assert "cart-" in run(exe, server, "get", "pods", "-n", "shop").stdout
            p = run(exe, server, "scale", "cart", "-3", "-n", "shop")
            assert p.returncode == 1 and "spec.replicas: Invalid value: -3" in p.stderr, p.stderr

            bad = os.path.join(work, "bad.yaml")
            with open(bad, "w") as f:
                f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
            p = run(exe, server, "apply", "-f", bad)
            assert p.returncode == 1 and 'bad.yaml:1: no matches for kind "ConfigMap"' in p.stderr, p.stderr
            with open(bad, "w") as f:
                f.write(MANIFEST.split("---")[1].replace("name: cart,", "name: other,").replace(
                    "replicas: 0", "replicas: 0\n  bogus: true"))
            p = run(exe, server, "apply", "-f", bad)
            assert p.returncode == 1 and 'unknown field "spec.bogus"' in p.stderr, p.stderr
            st, body = lkt.get_json(server.base + "/apis/apps/v1/namespaces/shop/deployments/other")
            assert st == 404, body

            p = run(exe, server, "scale", "cart", "2", "-n", "shop", token=False)
            assert p.returncode == 1 and "missing bearer token" in p.stderr, p.stderr
            st, body = lkt.http("DELETE", server.base + "/apis/apps/v1/namespaces/shop/deployments/cart")
            assert st == 401, body
        finally:
            token = open(os.path.join(server.data, "token")).read().strip()
            lkt.http("DELETE", server.base + "/api/v1/namespaces/shop", headers={"Authorization": "Bearer " + token})
            deadline = time.time() + 30
            while time.time() < deadline:
                st, body = lkt.get_json(server.base + "/api/v1/pods")
                if st == 200 and not body["items"]:
                    break
                time.sleep(0.2)
            server.kill()
    print("ok")


if __name__ == "__main__":
    main()
