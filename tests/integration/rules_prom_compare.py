#!/usr/bin/env python3
"""rules_prom_compare.py — /api/v1/rules and /api/v1/alerts have
Prometheus's shapes: Debian's `prometheus` and `lookout server` run on
loopback with the same rule file (expressions that need no data: a firing
alert with keep_firing_for, a pending one, an inactive one, a recording rule
with labels), and once both have evaluated, the answers are compared key by
key and value by value — except the values that depend on time
(evaluationTime, lastEvaluation, activeAt). Exit 77 (SKIP) without prometheus.

usage: rules_prom_compare.py LOOKOUT"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

RULES = """groups:
  - name: shapes
    interval: 1s
    rules:
      - record: job:answer:sum
        expr: label_replace(vector(42), "job", "api", "", "")
        labels:
          team: core
      - alert: Firing
        expr: label_replace(vector(15), "job", "api", "", "") > 10
        keep_firing_for: 5m
        labels:
          severity: page
        annotations:
          summary: value {{ $value }} on {{ $labels.job }}
      - alert: Pending
        expr: vector(0.25) > 0
        for: 1h
      - alert: Inactive
        expr: vector(0) > 1
        for: 10s
  - name: second
    interval: 2s
    limit: 10
    rules:
      - alert: Small
        expr: vector(1.5e-07) > 0
"""

TIME_KEYS = {"evaluationTime", "lastEvaluation", "activeAt"}


def compare(path, a, b, diffs):
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            diffs.append(f"{path}: keys {sorted(a)} (lookout) vs {sorted(b)} (prometheus)")
        for k in set(a) & set(b):
            if k not in TIME_KEYS:
                compare(f"{path}.{k}", a[k], b[k], diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: {len(a)} items (lookout) vs {len(b)} (prometheus)")
        for i, (x, y) in enumerate(zip(a, b)):
            compare(f"{path}[{i}]", x, y, diffs)
    elif a != b or type(a) is not type(b):
        diffs.append(f"{path}: {a!r} (lookout) vs {b!r} (prometheus)")


def evaluated(base):
    try:
        st, body = lkt.get_json(base + "/api/v1/rules")
    except OSError:  # not listening yet
        return False
    if st != 200:
        return False
    rules = [r for g in body["data"]["groups"] for r in g["rules"]]
    return all(r["health"] == "ok" for r in rules) and body


def main():
    exe = sys.argv[1]
    prom = lkt.require("prometheus")
    with lkt.workdir("lk-rulecmp-", logs=("server.log", "prometheus.log")) as work:
        rules = os.path.join(work, "rules.yml")
        with open(rules, "w") as f:
            f.write(RULES)
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write("rule_files: [ rules.yml ]\nevaluation_interval: 1s\nbuiltin_rules: false\n")
        pcfg = os.path.join(work, "prometheus.yml")
        with open(pcfg, "w") as f:
            f.write("global: { evaluation_interval: 1s }\nrule_files: [ rules.yml ]\n")
        port = lkt.free_port()
        plog = open(os.path.join(work, "prometheus.log"), "wb")
        p = subprocess.Popen([prom, f"--config.file={pcfg}", f"--web.listen-address=127.0.0.1:{port}",
                              f"--storage.tsdb.path={work}/prom"], stdout=plog, stderr=plog, cwd=work)
        try:
            with lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"),
                            ["--config", cfg]) as srv:
                srv.start()
                pbase = f"http://127.0.0.1:{port}"
                deadline = time.time() + 30
                ours = theirs = None
                while time.time() < deadline and not (ours and theirs):
                    ours, theirs = evaluated(srv.base), evaluated(pbase)
                    time.sleep(0.3)
                assert ours and theirs, f"not both evaluated in 30 s: lookout={ours} prometheus={theirs}"
                time.sleep(2.5)  # both groups evaluated at least once more
                diffs = []
                for route in ("/api/v1/rules", "/api/v1/alerts"):
                    a = lkt.get_json(srv.base + route)[1]
                    b = lkt.get_json(pbase + route)[1]
                    if route == "/api/v1/alerts":
                        for ans in (a, b):
                            ans["data"]["alerts"].sort(key=lambda x: x["labels"]["alertname"])
                    compare(route, a, b, diffs)
                assert not diffs, "\n".join(diffs)
                print("ok: /api/v1/rules and /api/v1/alerts match Prometheus's keys and values "
                      "(times excluded)")
        finally:
            p.terminate()
            p.wait(timeout=30)
            plog.close()


if __name__ == "__main__":
    main()
