#!/usr/bin/env python3
"""alertmanager_tools.py — Lookout's Alertmanager side against the real
tools of Debian's prometheus-alertmanager 0.25:

- amtool pointed at Lookout: `alert add`, `alert query`, `silence add`,
  `silence query`, `silence expire` (and the silenced alert is muted);
- the real prometheus-alertmanager, on a free loopback port with a temp
  config, receives the alerts Lookout forwards (Prometheus's notifier
  shape, handed over through alerting_am_send by the am_send driver that
  stands in for the rule engine) and routes them to the test receiver;
- the webhook body the real Alertmanager sends and the one Lookout sends for
  the same alert and route agree field by field (fingerprint, groupKey,
  receiver, statuses, zero endsAt), as do their GET /api/v2/alerts shapes.
Skips (77) without amtool or prometheus-alertmanager.

usage: alertmanager_tools.py LOOKOUT AM_SEND"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402
from webhook_sink import Sink, fingerprint, go_time  # noqa: E402

ROUTE = "route: {{ receiver: hook, group_by: [alertname], group_wait: {wait}, group_interval: 1s, " \
        "repeat_interval: 1h }}\nreceivers: [ {{ name: hook, webhook_configs: [ {{ url: '{url}' }} ] }} ]\n"


def amtool(exe, base, *args):
    p = subprocess.run([exe, f"--alertmanager.url={base}", *args], capture_output=True, timeout=60)
    assert p.returncode == 0, (args, p.returncode, p.stderr.decode())
    return p.stdout.decode()


def check_amtool(amt, srv, sink):
    amtool(amt, srv.base, "alert", "add", "alertname=ToolAlert", "severity=page", "--annotation=summary=hi",
           "--generator-url=http://gen/x")
    alerts = json.loads(amtool(amt, srv.base, "-o", "json", "alert", "query"))
    tool = [a for a in alerts if a["labels"]["alertname"] == "ToolAlert"]
    assert len(tool) == 1 and tool[0]["annotations"] == {"summary": "hi"}, alerts
    assert tool[0]["fingerprint"] == fingerprint({"alertname": "ToolAlert", "severity": "page"}), tool
    assert tool[0]["receivers"] == [{"name": "hook"}] and tool[0]["status"]["state"] == "active", tool
    sid = amtool(amt, srv.base, "silence", "add", "alertname=ToolAlert", "-c", "maintenance", "-a", "tester",
                 "-d", "1h").strip()
    assert len(sid) == 36, sid
    sil = json.loads(amtool(amt, srv.base, "-o", "json", "silence", "query"))
    assert [s["id"] for s in sil] == [sid], sil
    assert sil[0]["createdBy"] == "tester" and sil[0]["comment"] == "maintenance", sil
    assert sil[0]["matchers"] == [{"name": "alertname", "value": "ToolAlert", "isRegex": False,
                                   "isEqual": True}], sil
    assert sil[0]["status"]["state"] == "active", sil
    silenced = json.loads(amtool(amt, srv.base, "-o", "json", "alert", "query", "-s", "alertname=ToolAlert"))
    assert len(silenced) == 1 and silenced[0]["status"]["silencedBy"] == [sid], silenced
    active = json.loads(amtool(amt, srv.base, "-o", "json", "alert", "query", "-a", "alertname=ToolAlert"))
    assert active == [], active
    amtool(amt, srv.base, "silence", "expire", sid)
    assert json.loads(amtool(amt, srv.base, "-o", "json", "silence", "query")) == []
    expired = json.loads(amtool(amt, srv.base, "-o", "json", "silence", "query", "--expired"))
    assert [s["id"] for s in expired] == [sid] and expired[0]["status"]["state"] == "expired", expired
    simple = amtool(amt, srv.base, "alert", "query")
    assert "ToolAlert" in simple, simple
    print("ok: amtool alert add/query, silence add/query/expire against Lookout")


def start_alertmanager(binary, work, sink):
    port = lkt.free_port()
    cfg = os.path.join(work, "alertmanager.yml")
    with open(cfg, "w") as f:
        f.write(ROUTE.format(wait="0s", url=sink.url("/real")))
    log = open(os.path.join(work, "alertmanager.log"), "wb")
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.path={work}/am-data",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=log)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, "prometheus-alertmanager exited; see alertmanager.log"
        try:
            if lkt.http("GET", base + "/-/ready", timeout=1)[0] == 200:
                return proc, base, port
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("prometheus-alertmanager did not become ready")


def check_forwarding(am_send, srv, sink, work, am_base, am_port):
    now = time.time()
    labels = {"alertname": "Forwarded", "job": "api", "severity": "page"}
    cfg = os.path.join(work, "forward.yaml")
    with open(cfg, "w") as f:
        f.write(f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [ '127.0.0.1:{am_port}' ]\n"
                f"      timeout: 5s\n")
    alert = {"labels": labels, "annotations": {"summary": "from the rule engine"},
             "startsAt": int((now - 5) * 1000), "endsAt": int((now + 300) * 1000),
             "generatorURL": "http://lookout:9470/graph?g0.expr=up"}
    p = subprocess.run([am_send, cfg, os.path.join(work, "send-data"), json.dumps([alert])],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    (_, real), = sink.wait("/real", 1, 10)
    got = real["alerts"][0]
    assert got["labels"] == labels and got["annotations"] == alert["annotations"], real
    assert got["generatorURL"] == alert["generatorURL"] and got["fingerprint"] == fingerprint(labels), real
    assert got["startsAt"].startswith(go_time(now - 5)[:19]), (got["startsAt"], go_time(now - 5))
    st, am_alerts = lkt.get_json(am_base + "/api/v2/alerts")
    assert [a["labels"] for a in am_alerts] == [labels], am_alerts
    print("ok: prometheus-alertmanager received the forwarded alert and routed it to the receiver")

    # The same alert through Lookout's own routing (same route): the bodies agree.
    body = [{"labels": labels, "annotations": alert["annotations"], "startsAt": go_time(now - 5),
             "endsAt": go_time(now + 300), "generatorURL": alert["generatorURL"]}]
    st, resp = lkt.http("POST", srv.base + "/api/v2/alerts", json.dumps(body).encode())
    assert st == 200, resp
    (_, mine), = sink.wait("/lookout", 1, 10)
    assert sorted(mine) == sorted(real), (sorted(mine), sorted(real))
    for key in ("receiver", "status", "groupLabels", "commonLabels", "commonAnnotations", "version", "groupKey",
                "truncatedAlerts"):
        assert mine[key] == real[key], (key, mine[key], real[key])
    assert len(mine["alerts"]) == 1 and sorted(mine["alerts"][0]) == sorted(got), (mine["alerts"], got)
    for key in ("status", "labels", "annotations", "endsAt", "generatorURL", "fingerprint"):
        assert mine["alerts"][0][key] == got[key], (key, mine["alerts"][0][key], got[key])
    st, lk_alerts = lkt.get_json(srv.base + "/api/v2/alerts?filter=alertname%3D%22Forwarded%22")
    assert sorted(lk_alerts[0]) == sorted(am_alerts[0]), (sorted(lk_alerts[0]), sorted(am_alerts[0]))
    assert sorted(lk_alerts[0]["status"]) == sorted(am_alerts[0]["status"]), (lk_alerts, am_alerts)
    assert lk_alerts[0]["fingerprint"] == am_alerts[0]["fingerprint"], (lk_alerts, am_alerts)
    st, real_status = lkt.get_json(am_base + "/api/v2/status")
    st, my_status = lkt.get_json(srv.base + "/api/v2/status")
    assert sorted(my_status) == sorted(real_status), (sorted(my_status), sorted(real_status))
    print("ok: Lookout's webhook body and /api/v2/alerts match prometheus-alertmanager's for the same alert")


def main():
    exe, am_send = sys.argv[1], sys.argv[2]
    amt = lkt.require("amtool")
    real_am = lkt.require("prometheus-alertmanager")
    with lkt.workdir("lk-amt-", logs=("server.log", "alertmanager.log")) as work:
        sink = Sink().start()
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(ROUTE.format(wait="0s", url=sink.url("/lookout")))
        am_proc, am_base, am_port = start_alertmanager(real_am, work, sink)
        try:
            with lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"),
                            ["--config", cfg]) as srv:
                srv.start()
                check_forwarding(am_send, srv, sink, work, am_base, am_port)
                check_amtool(amt, srv, sink)
        finally:
            am_proc.kill()
            am_proc.wait(timeout=30)
            sink.stop()


if __name__ == "__main__":
    main()
