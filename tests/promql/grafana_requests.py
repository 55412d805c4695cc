#!/usr/bin/env python3
"""grafana_requests.py — the HTTP requests Grafana's Prometheus data source
(grafana/grafana pkg/promlib: client.go, healthcheck.go, heuristics.go, and
the query editor's resource calls) sends, against `lookout server` on a
loopback port, with the answers Grafana reads checked:

- "Save & test": POST /api/v1/query, form body query=1+1&time=4 → a scalar 2;
  then GET /api/v1/status/buildinfo (no `features` → treated as Prometheus);
- panels: POST /api/v1/query_range and /api/v1/query with form bodies
  (query, start, end, step as decimal seconds, timeout);
- the query editor: POST /api/v1/labels and /api/v1/series with start/end and
  match[], GET /api/v1/label/__name__/values and /api/v1/label/<l>/values with
  start/end (and match[]), GET /api/v1/metadata (Prometheus answers {} when it
  holds no metadata), POST /api/v1/query_exemplars (exemplars toggle; [] when
  none are stored).

usage: grafana_requests.py LOOKOUT"""
import json
import os
import sys
import tempfile
import time
import urllib.parse
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lkt import Server, http, import_text  # noqa: E402  (shared test helpers)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def post_form(base, path, fields):
    status, body = http("POST", base + path, urllib.parse.urlencode(fields, doseq=True).encode(), FORM)
    return status, json.loads(body)


def get(base, path, fields=None):
    q = "?" + urllib.parse.urlencode(fields, doseq=True) if fields else ""
    status, body = http("GET", base + path + q)
    return status, json.loads(body)


def success(status, doc):
    return status == 200 and doc.get("status") == "success"


def main():
    exe = sys.argv[1]
    work = tempfile.mkdtemp(prefix="grafana-requests-")
    with Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log")) as srv:
        srv.start()
        base = srv.base
        t0 = (int(time.time()) // 60 - 60) * 60
        lines = []
        for i in range(31):  # 30 minutes, one sample a minute
            ms = (t0 + 60 * i) * 1000
            lines.append(f'http_requests_total{{job="api",code="200"}} {10 * i} {ms}')
            lines.append(f'http_requests_total{{job="api",code="500"}} {i} {ms}')
            lines.append(f'node_load1{{job="node",instance="n1"}} {0.5 + i / 100} {ms}')
        status, body = import_text(base, "\n".join(lines) + "\n")
        check(status // 100 == 2, f"import accepted ({status} {body[:200]!r})")
        start, end = t0, t0 + 1800

        # Save & test: the health check, then the heuristics' buildinfo.
        st, doc = post_form(base, "/api/v1/query", {"query": "1+1", "time": "4"})
        check(success(st, doc) and doc["data"]["resultType"] == "scalar"
              and doc["data"]["result"][1] == "2", f"health check 1+1 is the scalar 2: {doc}")
        st, doc = get(base, "/api/v1/status/buildinfo")
        check(success(st, doc) and doc["data"].get("version") and not doc["data"].get("features"),
              f"buildinfo has a version and no features (Grafana: application Prometheus): {doc}")

        # Panels: range and instant queries as POST forms.
        st, doc = post_form(base, "/api/v1/query_range", {
            "query": 'sum by (code) (rate(http_requests_total{job="api"}[5m]))',
            "start": str(start + 600), "end": str(end), "step": "60", "timeout": "30s"})
        res = doc.get("data", {}).get("result", [])
        check(success(st, doc) and doc["data"]["resultType"] == "matrix" and
              sorted(s["metric"].get("code") for s in res) == ["200", "500"],
              "query_range form: a matrix with one series per code")
        rate200 = [float(v) for s in res if s["metric"]["code"] == "200" for _, v in s["values"]]
        check(len(rate200) == 21 and all(abs(v - 10 / 60) < 1e-9 for v in rate200),
              "query_range values: 21 steps of 10/60 per second")
        check(all(isinstance(p[0], (int, float)) and isinstance(p[1], str) for s in res for p in s["values"]),
              "points are [number seconds, \"string value\"] as Grafana's parser expects")
        st, doc = post_form(base, "/api/v1/query", {"query": "node_load1", "time": str(end - 0.5)})
        res = doc.get("data", {}).get("result", [])
        check(success(st, doc) and doc["data"]["resultType"] == "vector" and len(res) == 1
              and res[0]["metric"] == {"__name__": "node_load1", "job": "node", "instance": "n1"}
              and abs(float(res[0]["value"][1]) - 0.79) < 1e-9, f"instant query form: {res}")
        st, doc = post_form(base, "/api/v1/query", {"query": "sum(", "time": str(end)})
        check(st == 400 and doc.get("status") == "error" and doc.get("errorType") == "bad_data"
              and doc.get("error"), f"a bad query is a 400 with errorType and error: {doc}")

        # Query editor (metric browser, autocomplete).
        rng = {"start": str(start), "end": str(end)}
        st, doc = post_form(base, "/api/v1/labels", rng)
        check(success(st, doc) and set(doc["data"]) >= {"__name__", "job", "code", "instance"},
              f"labels: {doc.get('data')}")
        st, doc = get(base, "/api/v1/label/__name__/values", rng)
        check(success(st, doc) and doc["data"] == ["http_requests_total", "node_load1"],
              f"metric names: {doc.get('data')}")
        st, doc = get(base, "/api/v1/label/code/values", dict(rng, **{"match[]": "http_requests_total"}))
        check(success(st, doc) and doc["data"] == ["200", "500"], f"label values with match[]: {doc.get('data')}")
        st, doc = post_form(base, "/api/v1/series", dict(rng, **{"match[]": ['{job="node"}']}))
        check(success(st, doc) and doc["data"] == [{"__name__": "node_load1", "job": "node", "instance": "n1"}],
              f"series with match[]: {doc.get('data')}")
        st, doc = get(base, "/api/v1/metadata")
        check(success(st, doc) and doc["data"] == {}, f"metadata: {doc}")
        st, doc = get(base, "/api/v1/metadata", {"metric": "node_load1", "limit": "1"})
        check(success(st, doc) and doc["data"] == {}, f"metadata for one metric: {doc}")
        st, doc = post_form(base, "/api/v1/query_exemplars", dict(rng, query="http_requests_total"))
        check(success(st, doc) and doc["data"] == [], f"query_exemplars: {doc}")
    print("Grafana's Prometheus data source requests: all answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
