#!/usr/bin/env python3
"""rules.py — the rule engine inside a real `lookout server` on loopback,
with 1 s evaluation intervals (every wait bounded):

- a rule's alert reaches a webhook through the in-process Alertmanager,
  with a graph_image_url annotation that renders the rule's PNG;
- a broken rule file stops the start, naming file:line; an evaluation
  longer than the interval counts missed ticks;
- a recording rule and an alerting rule with `for` over samples pushed
  through /api/v1/import/prometheus: /api/v1/alerts and /api/v1/rules show
  the alert pending, then firing; the recorded series is queryable;
- POST /-/reload with a broken file → 400 naming file:line, and the old rules
  keep evaluating; with a good changed file → the new rule appears and the
  firing alert keeps its activeAt (state of unchanged rules kept);
- SIGHUP: the same two cases (the refusal goes to the log with file:line);
- a reload re-reads rule_files from the config file (a broken config is
  refused with its file:line);
- restart: a pending alert with a long `for` comes back with its activeAt
  (restored from ALERTS_FOR_STATE);
- ticks aligned to the interval; a built-in health rule fires over
  Lookout's own metrics (self-scraped, kept out of the tsdb);
- a log rule (`type: logql`) fires from lines pushed through the Loki push
  API, and its alert carries the matching lines (annotation log_lines);
- alert history: every state change (pending, firing, resolved, and
  keep_firing when keep_firing_for starts holding an alert) is a JSON
  line in the log stream {__alerts__="lookout", alertname=...}, found by
  {__alerts__="lookout"} |= "firing" through /loki/api/v1/query_range.

usage: rules.py LOOKOUT"""
import datetime
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

RULES = """groups:
  - name: cpu
    interval: 1s
    rules:
      - record: job:cpu:sum
        expr: sum by (job) (cpu_usage)
      - alert: HighCPU
        expr: job:cpu:sum > 10
        for: 3s
        labels:
          severity: page
        annotations:
          summary: "cpu at {{ $value }} on {{ $labels.job }}"
      - alert: SlowBurn
        expr: job:cpu:sum > 1
        for: 1h
      - alert: Sticky
        expr: job:cpu:sum > 10
        keep_firing_for: 5m
%(extra)s  - name: broken
    interval: 1s
    rules:
      - alert: Duplicates
        expr: label_replace(cpu_usage, "cpu", "", "", "")
  - name: shop-logs
    type: logql
    interval: 1s
    rules:
      - alert: ShopErrors
        expr: sum by (app) (count_over_time({app="shop"} |= "error" [1m])) > 2
        annotations:
          summary: "{{ $value }} errors"
"""

NEW_RULE = """      - record: job:cpu:max
        expr: max by (job) (cpu_usage)
"""

BROKEN = """groups:
  - name: cpu
    interval: 1s
    rules:
      - record: job:cpu:sum
        expr: sum by (job) (cpu_usage
"""


def wait_for(what, pred, timeout=20, step=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")



def alerts(base):
    st, body = lkt.get_json(base + "/api/v1/alerts")
    assert st == 200, (st, body)
    return body["data"]["alerts"]


def alert(base, name, state=None):
    for a in alerts(base):
        if a["labels"]["alertname"] == name and (state is None or a["state"] == state):
            return a
    return None


def rules(base, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    st, body = lkt.get_json(base + "/api/v1/rules" + ("?" + q if q else ""))
    assert st == 200, (st, body)
    return body["data"]["groups"]


def rule(base, name):
    for g in rules(base):
        for r in g["rules"]:
            if r["name"] == name:
                return g, r
    return None, None


def write_rules(path, extra=""):
    with open(path, "w") as f:
        f.write(RULES % {"extra": extra})


def push_cpu(base, value):
    now_ms = int(time.time() * 1000)
    st, body = lkt.import_text(base, f'cpu_usage{{job="api",cpu="0"}} {value} {now_ms}\n'
                                     f'cpu_usage{{job="api",cpu="1"}} {value} {now_ms}\n')
    assert st == 200 and b'"accepted":2' in body, (st, body)


def query(base, expr):
    st, body = lkt.get_json(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert st == 200, (st, body)
    return body["data"]["result"]


def loki_lines(base, logql, since_s=600):
    now = time.time_ns()
    q = urllib.parse.urlencode({"query": logql, "start": now - since_s * 10**9, "end": now + 10**9,
                                "limit": 1000})
    st, body = lkt.get_json(base + "/loki/api/v1/query_range?" + q)
    assert st == 200, (st, body)
    return [(s["stream"], v[1]) for s in body["data"]["result"] for v in s["values"]]


def last_eval(base, group):
    for g in rules(base):
        if g["name"] == group:
            return g["lastEvaluation"]
    return None


def advances(base, group):
    before = last_eval(base, group)
    wait_for(f"group {group} to evaluate again", lambda: last_eval(base, group) != before, timeout=10)


def firing_and_pending(srv):
    base = srv.base
    push_cpu(base, 7.5)  # job:cpu:sum = 15
    a = wait_for("HighCPU pending", lambda: alert(base, "HighCPU", "pending"))
    assert a["labels"] == {"alertname": "HighCPU", "job": "api", "severity": "page"}, a
    assert a["annotations"] == {"summary": "cpu at 15 on api"}, a
    assert a["value"] == "1.5e+01", a
    g, r = rule(base, "HighCPU")
    assert r["state"] == "pending" and r["duration"] == 3 and r["health"] == "ok", r
    assert [x["state"] for x in r["alerts"]] == ["pending"], r
    fired = wait_for("HighCPU firing", lambda: alert(base, "HighCPU", "firing"))
    assert fired["activeAt"] == a["activeAt"], (a, fired)
    print("ok: HighCPU pending, then firing after its for: 3s")
    res = query(base, "job:cpu:sum")
    assert len(res) == 1 and res[0]["metric"] == {"__name__": "job:cpu:sum", "job": "api"}, res
    assert res[0]["value"][1] == "15", res
    res = query(base, 'ALERTS{alertname="HighCPU"}')
    assert res and res[0]["metric"]["alertstate"] in ("pending", "firing"), res
    print("ok: recorded series and ALERTS queryable")
    # filters
    assert [r["name"] for g in rules(base, type="record") for r in g["rules"]] == ["job:cpu:sum"]
    assert [g["name"] for g in rules(base, **{"rule_group[]": "shop-logs"})] == ["shop-logs"]
    assert all("alerts" not in r for g in rules(base, exclude_alerts="true") for r in g["rules"])
    return fired


def history(base):
    lines = wait_for("history lines", lambda: loki_lines(base, '{__alerts__="lookout"} |= "firing"'))
    high = [(s, json.loads(l)) for s, l in lines if s.get("alertname") == "HighCPU"]
    assert high, lines
    stream, line = high[0]
    assert stream == {"__alerts__": "lookout", "alertname": "HighCPU"}, stream
    assert line["state"] == "firing" and line["from"] == "pending", line
    assert line["labels"]["severity"] == "page" and line["labels"]["job"] == "api", line
    pend = loki_lines(base, '{__alerts__="lookout", alertname="HighCPU"} | json | state="pending"')
    assert pend, "no pending line in the history"
    print("ok: history stream holds pending and firing lines (JSON, labels included)")


def scheduling_and_self_metrics(base, path):
    """Ticks aligned as Prometheus aligns them (same offset in every
    interval); the built-in health rules read Lookout's own metrics: a rule
    that fails at every evaluation (two alerts with one label set) raises
    lookout_rule_evaluation_failures_total, and LookoutRuleEvaluationFailures
    fires. Those self-metrics stay out of the tsdb (whose retention counts
    from the newest sample)."""
    t1 = ts(last_eval(base, "cpu"))
    wait_for("another cpu evaluation", lambda: ts(last_eval(base, "cpu")) >= t1 + 1, timeout=10)
    t2 = ts(last_eval(base, "cpu"))
    assert abs((t2 - t1) - round(t2 - t1)) < 0.002, (t1, t2)
    g, r = rule(base, "Duplicates")
    assert r["health"] == "err" and "same labelset" in r["lastError"], r
    a = wait_for("LookoutRuleEvaluationFailures firing", lambda: alert(base, "LookoutRuleEvaluationFailures", "firing"))
    assert a["labels"]["rule_group"] == path + ";broken" and a["labels"]["job"] == "lookout", a
    health = [r["health"] for g in rules(base, **{"rule_group[]": "lookout-health"}) for r in g["rules"]]
    assert health == ["ok"] * 6, health
    assert not query(base, '{job="lookout"}'), "self-metrics were written to the tsdb"
    st, page = lkt.http("GET", base + "/metrics")
    want = ('lookout_rule_group_iterations_missed_total{rule_group="%s;cpu"} 0' % path).encode()
    assert st == 200 and want in page, want
    print("ok: ticks aligned; built-in health rules fire over the self-scraped metrics (kept out of the tsdb)")


def reload_http(srv, path, fired):
    base = srv.base
    with open(path, "w") as f:
        f.write(BROKEN)
    st, body = lkt.http("POST", base + "/-/reload")
    body = json.loads(body)
    assert st == 400 and body["errorType"] == "bad_data", (st, body)
    assert f"{path}:6:" in body["error"], body
    assert "previous rules keep running" in body["error"], body
    advances(base, "cpu")
    assert alert(base, "HighCPU", "firing")["activeAt"] == fired["activeAt"]
    print("ok: broken reload refused with file:line, old rules keep evaluating")
    write_rules(path, NEW_RULE)
    st, body = lkt.http("POST", base + "/-/reload")
    assert st == 200, (st, body)
    g, r = rule(base, "job:cpu:max")
    assert r is not None and g["name"] == "cpu", rules(base)
    wait_for("job:cpu:max recorded", lambda: query(base, "job:cpu:max"))
    assert alert(base, "HighCPU", "firing")["activeAt"] == fired["activeAt"], "state not carried over"
    print("ok: good reload adds the new rule, HighCPU keeps its state")


def reload_sighup(srv, path, log_path):
    base = srv.base
    write_rules(path)  # drops job:cpu:max
    srv.proc.send_signal(signal.SIGHUP)
    wait_for("job:cpu:max gone after SIGHUP", lambda: rule(base, "job:cpu:max")[1] is None, timeout=10)
    with open(path, "w") as f:
        f.write(BROKEN)
    srv.proc.send_signal(signal.SIGHUP)

    def refused():
        with open(log_path) as f:
            return [ln for ln in f if "reload refused" in ln and f"{path}:6:" in ln]
    assert len(wait_for("SIGHUP refusal in the log", refused, timeout=10)) >= 1
    advances(base, "cpu")
    assert rule(base, "HighCPU")[1] is not None
    write_rules(path)
    print("ok: SIGHUP reloads; a broken file is refused in the log with file:line")


def ts(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def restart_restores(srv):
    """Prometheus's RestoreForState: the `for` time an alert had spent pending
    before the outage still counts after it (activeAt moves by the outage)."""
    base = srv.base
    before = wait_for("SlowBurn pending", lambda: alert(base, "SlowBurn", "pending"))
    wait_for("SlowBurn pending for 6 s", lambda: time.time() - ts(before["activeAt"]) >= 6)
    pending_s = time.time() - ts(before["activeAt"])
    srv.kill(signal.SIGTERM)
    srv.start()
    push_cpu(srv.base, 7.5)
    first = wait_for("SlowBurn back", lambda: alert(srv.base, "SlowBurn", "pending"))

    def restored():
        a = alert(srv.base, "SlowBurn")
        return a and ts(first["activeAt"]) - ts(a["activeAt"]) >= pending_s - 3 and a
    a = wait_for(f"SlowBurn restored (pending {pending_s:.1f}s before the restart)", restored, timeout=15)
    print(f"ok: after a restart SlowBurn keeps its {pending_s:.0f}s of pending time "
          f"(activeAt {a['activeAt']}, a fresh alert would say {first['activeAt']})")


def resolved(base):
    wait_for("HighCPU firing again after the restart", lambda: alert(base, "HighCPU", "firing"))
    push_cpu(base, 1)  # job:cpu:sum = 2: HighCPU resolves
    wait_for("HighCPU gone", lambda: alert(base, "HighCPU") is None)
    lines = wait_for("resolved history line", lambda: loki_lines(
        base, '{__alerts__="lookout", alertname="HighCPU"} | json | state="resolved"'))
    line = json.loads(lines[0][1])
    assert line["from"] == "firing" and line["resolvedAt"] and line["labels"]["job"] == "api", line
    g, r = rule(base, "HighCPU")
    assert r["state"] == "inactive" and r["alerts"] == [], r
    sticky = loki_lines(base, '{__alerts__="lookout", alertname="Sticky"} | json | state="keep_firing"')
    assert len(sticky) == 1, sticky
    assert alert(base, "Sticky", "firing"), "keep_firing_for did not hold Sticky"
    print("ok: HighCPU resolved, Sticky held by keep_firing_for; both written to the history")


def reload_config(srv, cfg, work):
    """A reload re-reads rule_files from the config file; a broken config
    refuses the reload with its file:line."""
    base = srv.base
    os.makedirs(os.path.join(work, "more"))
    with open(os.path.join(work, "more", "extra.yaml"), "w") as f:
        f.write("groups:\n  - name: extra\n    rules:\n      - record: one\n        expr: vector(1)\n")
    with open(cfg, "w") as f:
        f.write("rule_files: [ '*.yml', 'more/*.yaml' ]\nevaluation_interval: 1s\n")
    st, body = lkt.http("POST", base + "/-/reload")
    assert st == 200, (st, body)
    g = [g for g in rules(base) if g["name"] == "extra"]
    assert g and g[0]["interval"] == 1 and g[0]["file"].endswith("/more/extra.yaml"), rules(base)
    with open(cfg, "w") as f:
        f.write("rule_files: [ '*.yml' ]\nevaluation_interval: 1s\nrule_filez: []\n")
    st, body = lkt.http("POST", base + "/-/reload")
    assert st == 400 and f"{cfg}:3: unknown key" in json.loads(body)["error"], (st, body)
    assert [g for g in rules(base) if g["name"] == "extra"], "a refused reload changed the rules"
    print("ok: reload re-reads rule_files from the config; a broken config is refused with file:line")


def log_rule(base):
    now = time.time_ns()
    values = [[str(now + k), f"order {k} failed: error code {500 + k}"] for k in range(3)]
    values.append([str(now + 3), "order 9 ok"])
    body = json.dumps({"streams": [{"stream": {"app": "shop"}, "values": values}]}).encode()
    st, resp = lkt.http("POST", base + "/loki/api/v1/push", body, {"Content-Type": "application/json"})
    assert st == 204, (st, resp)
    a = wait_for("ShopErrors firing", lambda: alert(base, "ShopErrors", "firing"))
    assert a["labels"] == {"alertname": "ShopErrors", "app": "shop"}, a
    lines = a["annotations"].get("log_lines", "")
    assert "error code 500" in lines and "error code 502" in lines and "order 9 ok" not in lines, a
    print("ok: log rule fired from pushed lines, carrying them")


def bad_start(exe, work):
    """A broken rule file stops the start with file:line; nothing is served."""
    bad = os.path.join(work, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "rules.yml"), "w") as f:
        f.write(BROKEN)
    cfg = os.path.join(bad, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write("rule_files: [ rules.yml ]\n")
    p = subprocess.run([exe, "server", "--config", cfg, "--data", os.path.join(bad, "data"),
                        "--listen", "127.0.0.1:0"], capture_output=True, timeout=60)
    err = p.stderr.decode()
    assert p.returncode != 0 and f"{bad}/rules.yml:6: " in err and "cannot load the rules" in err, (p.returncode, err)
    print("ok: a broken rule file stops the start with file:line")


def missed_ticks(exe, work):
    """An evaluation longer than its group's interval (10 ms here, over
    100,000 series) skips the ticks it covered and counts them."""
    d = os.path.join(work, "missed")
    os.makedirs(d)
    with open(os.path.join(d, "rules.yml"), "w") as f:
        f.write("groups:\n  - name: busy\n    interval: 10ms\n    rules:\n"
                "      - record: busy:count\n        expr: count(many)\n")
    cfg = os.path.join(d, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write("rule_files: [ rules.yml ]\nbuiltin_rules: false\n")
    with lkt.Server(exe, os.path.join(d, "data"), os.path.join(d, "server.log"), ["--config", cfg]) as srv:
        srv.start()
        lines = [f"many{{i=\"{i}\"}} 1\n" for i in range(100000)]
        st, body = lkt.import_text(srv.base, "".join(lines), timeout=60)
        assert st == 200, (st, body)

        def missed():
            page = lkt.http("GET", srv.base + "/metrics")[1].decode()
            for line in page.splitlines():
                if line.startswith("lookout_rule_group_iterations_missed_total{") and ";busy\"}" in line:
                    return float(line.rsplit(" ", 1)[1]) > 0
            return False
        wait_for("missed iterations counted", missed, timeout=20)
    print("ok: evaluations longer than the interval skip ticks and count them")


def webhook(exe, work):
    """End to end: an alerting rule's alert reaches a webhook receiver through
    the in-process Alertmanager (route/receivers in the same config file)."""
    got, cv = [], threading.Condition()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with cv:
                got.append(body)
                cv.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass
    srv_hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv_hook.serve_forever, daemon=True).start()
    d = os.path.join(work, "hook")
    os.makedirs(d)
    with open(os.path.join(d, "rules.yml"), "w") as f:
        f.write("groups:\n  - name: hook\n    interval: 1s\n    rules:\n      - alert: Always\n"
                "        expr: vector(1) > 0\n        labels: { team: db }\n"
                "        annotations: { summary: 'value {{ $value }}' }\n")
    cfg = os.path.join(d, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write("rule_files: [ rules.yml ]\nbuiltin_rules: false\n"
                "route: { receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s }\n"
                "receivers: [ { name: hook, webhook_configs: [ { url: 'http://127.0.0.1:%d/' } ] } ]\n"
                % srv_hook.server_address[1])
    try:
        with lkt.Server(exe, os.path.join(d, "data"), os.path.join(d, "server.log"), ["--config", cfg]) as srv:
            srv.start()
            with cv:
                assert cv.wait_for(lambda: got, 20), "no webhook within 20 s"
            body = got[0]
            a = body["alerts"][0]
            assert body["status"] == "firing" and body["groupLabels"] == {"alertname": "Always"}, body
            assert a["labels"] == {"alertname": "Always", "team": "db"}, a
            image = a["annotations"].pop("graph_image_url", "")
            assert a["annotations"] == {"summary": "value 1"} and a["status"] == "firing", a
            assert a["generatorURL"].startswith("http://127.0.0.1:%d/" % srv.port), a
            # the graph image link: the rule's expression over the hour before, drawn by the server
            url = urllib.parse.urlsplit(image)
            q = urllib.parse.parse_qs(url.query)
            assert image.startswith("http://127.0.0.1:%d/api/v1/render?" % srv.port), image
            assert q["query"] == ["vector(1) > 0"] and q["title"] == ["Always"] and q["step"] == ["60"], q
            assert int(q["end"][0]) - int(q["start"][0]) == 3600 and abs(int(q["end"][0]) - time.time()) < 60, q
            st, png = lkt.http("GET", image)
            assert st == 200 and png.startswith(b"\x89PNG\r\n\x1a\n"), (st, png[:200])
    finally:
        srv_hook.shutdown()
    print("ok: a rule's alert reaches a webhook through the in-process Alertmanager, "
          "with a graph_image_url that renders a PNG")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-rules-") as work:
        bad_start(exe, work)
        missed_ticks(exe, work)
        webhook(exe, work)
        path = os.path.join(work, "rules.yml")
        write_rules(path)
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write("rule_files: [ '*.yml' ]\nevaluation_interval: 1s\n")
        log_path = os.path.join(work, "server.log")
        with lkt.Server(exe, os.path.join(work, "data"), log_path, ["--config", cfg]) as srv:
            srv.start()
            fired = firing_and_pending(srv)
            history(srv.base)
            scheduling_and_self_metrics(srv.base, path)
            reload_http(srv, path, fired)
            reload_sighup(srv, path, log_path)
            log_rule(srv.base)
            restart_restores(srv)
            resolved(srv.base)
            reload_config(srv, cfg, work)
    print("rules: all cases passed")


if __name__ == "__main__":
    main()
