"""orch_flows.py — pod networking and the service map end to end on real
containers: `lookout up` (orchestrator + local agent + flow meter on the pods'
veths) runs two pods with hostNetwork: false; each gets an address of the
pod CIDR (status.podIP, the IP column of `kubectl get pods -o wide`); the client streams
~100 KB/s over TCP to the server's pod IP, and GET /api/v1/flows/graph shows
the edge client → server:8080/tcp with a byte rate of that order and TCP
health; after a restart of Lookout both pods keep their addresses; deleting
them removes their veths. Needs root and runc (else SKIP)."""
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
CIDR = "10.89.1.0/24"
RATE = 100_000  # bytes per second the client sends

SERVER = ("import socket\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('0.0.0.0', 8080)); s.listen()\n"
          "while True:\n"
          "    c, _ = s.accept()\n"
          "    while c.recv(65536): pass\n"
          "    c.close()\n")
CLIENT = ("import socket, sys, time\n"
          "while True:\n"
          "    try:\n"
          "        s = socket.create_connection((sys.argv[1], 8080), 2)\n"
          "        t = time.time()\n"
          "        for i in range(10):\n"
          "            s.sendall(b'x' * (RATE // 10)); time.sleep(0.1)\n"
          "        s.close(); time.sleep(max(0, 1 - (time.time() - t)))\n"
          "    except OSError:\n"
          "        time.sleep(0.2)\n").replace("RATE", str(RATE))


def pod(name, code, *args):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"hostNetwork": False, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "host",
                                     "command": ["python3", "-c", code, *args]}]}}


def api(node, method, path, body=None):
    with open(os.path.join(node.data, "token")) as f:
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + f.read().strip()}
    st, raw = lkt.http(method, node.base + path, json.dumps(body).encode() if body is not None else None,
                       headers, timeout=10)
    return st, json.loads(raw) if raw else None


def pod_ip(node, name):
    st, p = api(node, "GET", f"/api/v1/namespaces/default/pods/{name}")
    assert st == 200, p
    s = p.get("status", {})
    return s.get("phase") == "Running" and s.get("podIP")


def veth(uid):
    return "lkv" + uid.replace("-", "")[:8]


def graph(node, window_s):
    end = time.time()
    st, body = lkt.get_json(f"{node.base}/api/v1/flows/graph?start={end - window_s:.3f}&end={end:.3f}")
    assert st == 200, body
    return body["data"]


def edge(data, src, dst, port):
    for e in data["edges"]:
        if e["source"] == src and e["target"] == dst and e["dst_port"] == port:
            return e
    return None


def main():
    if os.geteuid() != 0 or not shutil.which("runc"):
        print("SKIP: containers need root and runc")
        sys.exit(lkt.SKIP)
    with lkt.workdir("lk-flows-") as work:
        config = os.path.join(work, "lookout.yaml")
        with open(config, "w") as f:
            f.write("collector: { interval: 1s }\n"
                    f"orchestrator: {{ sync_period: 1s, pod_cidr: {CIDR} }}\n")
        node = lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"),
                          ["--config", config], cmd="up")
        node.start(60)
        try:
            if "pods cannot run" in open(os.path.join(work, "server.log"), errors="replace").read():
                print("SKIP: the runtime cannot run pods here")
                sys.exit(lkt.SKIP)
            st, body = api(node, "POST", "/api/v1/namespaces/default/pods", pod("srv", SERVER))
            assert st == 201, body
            srv_ip = wait_for("srv's pod IP", lambda: pod_ip(node, "srv"), 60)
            st, body = api(node, "POST", "/api/v1/namespaces/default/pods", pod("cli", CLIENT, srv_ip))
            assert st == 201, body
            cli_ip = wait_for("cli's pod IP", lambda: pod_ip(node, "cli"), 60)
            assert srv_ip.startswith("10.89.1.") and cli_ip.startswith("10.89.1.") and srv_ip != cli_ip
            # the Table `kubectl get pods -o wide` prints: its IP column
            st, raw = lkt.http("GET", node.base + "/api/v1/namespaces/default/pods",
                               headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
            table = json.loads(raw)
            col = [c["name"] for c in table["columnDefinitions"]].index("IP")
            ips = {r["cells"][0]: r["cells"][col] for r in table["rows"]}
            assert ips == {"srv": srv_ip, "cli": cli_ip}, ips

            def streaming():
                e = edge(graph(node, 15), "default/cli", "default/srv", "8080")
                return e if e and e["bytes_per_second"] > RATE / 4 else None
            e = wait_for("the cli → srv:8080 edge at its rate", streaming, 60, 1)
            print(f"graph edge cli → srv: {e}")
            assert e["proto"] == "tcp", e
            assert RATE / 4 < e["bytes_per_second"] < RATE * 4, e
            assert e["tcp"] is not None and e["tcp"]["connections_per_second"] > 0, e
            # a full window of steady traffic: each packet counted once (a
            # packet seen at both pods' veths doubled the bytes and counted
            # its second sighting as a retransmit), about one connection a second
            time.sleep(12)
            e = edge(graph(node, 10), "default/cli", "default/srv", "8080")
            print(f"steady edge cli → srv: {e}")
            assert 0.7 * RATE < e["bytes_per_second"] < 1.3 * RATE, e
            assert e["tcp"]["retransmits_per_second"] == 0, e
            assert 0.5 < e["tcp"]["connections_per_second"] < 1.5, e
            nodes = {n["id"] for n in graph(node, 15)["nodes"]}
            assert {"default/cli", "default/srv"} <= nodes, nodes

            uids = {}
            for name in ("srv", "cli"):
                st, p = api(node, "GET", f"/api/v1/namespaces/default/pods/{name}")
                uids[name] = p["metadata"]["uid"]
                assert os.path.exists(f"/sys/class/net/{veth(uids[name])}"), name
            assert node.kill(signal.SIGTERM) == 0
            node.start(60)
            assert wait_for("srv adopted", lambda: pod_ip(node, "srv"), 60) == srv_ip
            assert wait_for("cli adopted", lambda: pod_ip(node, "cli"), 60) == cli_ip

            for name in ("srv", "cli"):
                st, _ = api(node, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
                assert st == 200, st
            for name in ("srv", "cli"):
                wait_for(f"{name}'s veth gone", lambda: not os.path.exists(f"/sys/class/net/{veth(uids[name])}"), 60)
            ipam = os.path.join(node.data, "orchestrator", "ipam")
            wait_for("the pods' addresses freed", lambda: os.listdir(ipam) == [], 30)
        finally:
            if node.proc and node.proc.poll() is None:  # a failure above: Lookout removes the pods
                for name in ("srv", "cli"):             # (containers, veths, namespaces)
                    api(node, "DELETE", f"/api/v1/namespaces/default/pods/{name}")
                try:
                    wait_for("the pods gone", lambda: all(
                        api(node, "GET", f"/api/v1/namespaces/default/pods/{n}")[0] == 404 for n in ("srv", "cli")), 60)
                except AssertionError as e:
                    print(e, file=sys.stderr)
            node.kill(signal.SIGTERM)
            runc_root = os.path.join(node.data, "orchestrator", "runc")
            for cid in subprocess.run(["runc", "--root", runc_root, "list", "-q"], capture_output=True,
                                      text=True).stdout.split():
                subprocess.run(["runc", "--root", runc_root, "delete", "--force", cid], capture_output=True)
    print("orch_flows: ok")


main()
