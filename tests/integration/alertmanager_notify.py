#!/usr/bin/env python3
"""alertmanager_notify.py — Lookout's in-process Alertmanager against a real
webhook receiver on loopback (webhook_sink.py), alerts fed through
POST /api/v2/alerts:

- exact webhook bodies and timing at short intervals: the first notification
  after group_wait, an update one group_interval later, a repeat after
  repeat_interval, the resolved notification (send_resolved);
- inhibition (a firing critical mutes warnings with the same cluster);
- a silence created through the API mutes, its expiry un-mutes;
- a receiver answering 503 gets the notification once it is back; a 400 is
  logged and dropped;
- `lookout server` killed with -9 while notifications wait for a dead
  receiver delivers each exactly once after the restart;
- bad Alertmanager config sections stop the start with file:line; a bad
  silence or alert body is a 400 that changes nothing.

usage: alertmanager_notify.py LOOKOUT"""
import glob
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402
from webhook_sink import Sink, fingerprint, go_time  # noqa: E402

CONFIG = """\
route:
  receiver: timing
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
  routes:
    - receiver: inhib
      matchers: [ 'test="inhibit"' ]
      group_by: [alertname, cluster]
    - receiver: silence
      matchers: [ test="silence" ]
    - receiver: flaky
      match: {{ test: flaky }}
      repeat_interval: 1h
    - receiver: reject
      matchers: [ test=~"rej.*" ]
receivers:
  - name: timing
    webhook_configs: [ {{ url: "{timing}", http_config: {{ bearer_token: s3cret }} }} ]
  - name: inhib
    webhook_configs: [ {{ url: "{inhib}" }} ]
  - name: silence
    webhook_configs: [ {{ url: "{silence}" }} ]
  - name: flaky
    webhook_configs: [ {{ url: "{flaky}", max_alerts: 1 }} ]
  - name: reject
    webhook_configs: [ {{ url: "{reject}" }} ]
inhibit_rules:
  - source_matchers: [ severity="critical" ]
    target_matchers: [ severity="warning" ]
    equal: [ cluster ]
"""


def post_alerts(base, alerts, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    st, body = lkt.http("POST", base + "/api/v2/alerts", json.dumps(alerts).encode(), headers)
    assert st == 200, (st, body)


def alert(labels, start, end=None, annotations=None):
    a = {"labels": labels, "annotations": annotations or {}, "startsAt": go_time(start),
         "generatorURL": "http://prom/graph"}
    if end is not None:
        a["endsAt"] = go_time(end)
    return a


def expected_alert(labels, start, status="firing", end=None, annotations=None):
    return {"status": status, "labels": labels, "annotations": annotations or {}, "startsAt": go_time(start),
            "endsAt": go_time(end) if end is not None else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph", "fingerprint": fingerprint(labels)}


def check_timing(srv, sink):
    """group_wait 1s, group_interval 2s, repeat_interval 4s, send_resolved."""
    t0 = time.time()
    a1 = {"alertname": "Timing", "instance": "a"}
    a2 = {"alertname": "Timing", "instance": "b"}
    post_alerts(srv.base, [alert(a1, t0, annotations={"summary": "s"})])
    (t1, first), = sink.wait("/timing", 1, 5)
    assert 0.8 <= t1 - t0 <= 2.0, f"first notification after {t1 - t0:.2f}s, want group_wait 1s"
    want = {
        "receiver": "timing", "status": "firing",
        "alerts": [expected_alert(a1, t0, annotations={"summary": "s"})],
        "groupLabels": {"alertname": "Timing"}, "commonLabels": a1, "commonAnnotations": {"summary": "s"},
        "externalURL": srv.base, "version": "4", "groupKey": '{}:{alertname="Timing"}', "truncatedAlerts": 0,
    }
    assert first == want, f"\n got {first}\nwant {want}"
    headers = sink.requests("/timing")[0][1]
    assert headers.get("Authorization") == "Bearer s3cret", headers
    t_a2 = time.time()
    post_alerts(srv.base, [alert(a2, t_a2)])
    (t2, second) = sink.wait("/timing", 2, 5)[1]
    assert 1.5 <= t2 - t1 <= 2.6, f"update {t2 - t1:.2f}s after the first, want group_interval 2s"
    assert [a["labels"] for a in second["alerts"]] == [a1, a2], second
    assert second["commonLabels"] == {"alertname": "Timing"} and second["commonAnnotations"] == {}, second
    (t3, third) = sink.wait("/timing", 3, 9)[2]
    assert 3.5 <= t3 - t2 <= 6.6, f"repeat {t3 - t2:.2f}s after the update, want repeat_interval 4s"
    assert third["alerts"] == second["alerts"], third
    t_end = time.time()
    post_alerts(srv.base, [alert(a1, t0, t_end, {"summary": "s"}), alert(a2, t_a2, t_end)])
    (t4, resolved) = sink.wait("/timing", 4, 5)[3]
    assert t4 - t3 <= 2.6, f"resolved {t4 - t3:.2f}s after the repeat, want within group_interval"
    assert resolved["status"] == "resolved", resolved
    assert resolved["alerts"] == [expected_alert(a1, t0, "resolved", t_end, {"summary": "s"}),
                                  expected_alert(a2, t_a2, "resolved", t_end)], resolved
    time.sleep(4.5)
    assert len(sink.bodies("/timing")) == 4, "notified again after everything resolved"
    print(f"ok: timing first={t1 - t0:.2f}s update=+{t2 - t1:.2f}s repeat=+{t3 - t2:.2f}s "
          f"resolved=+{t4 - t3:.2f}s, exact bodies")


def check_inhibition(srv, sink):
    now = time.time()
    crit = {"alertname": "Disk", "test": "inhibit", "severity": "critical", "cluster": "a"}
    warn_a = {"alertname": "Disk", "test": "inhibit", "severity": "warning", "cluster": "a"}
    warn_b = {"alertname": "Disk", "test": "inhibit", "severity": "warning", "cluster": "b"}
    post_alerts(srv.base, [alert(crit, now), alert(warn_a, now), alert(warn_b, now)])
    got = sink.wait("/inhib", 2, 5)
    time.sleep(1.5)
    bodies = [b for _, b in sink.bodies("/inhib")]
    sent = sorted(tuple(sorted(a["labels"].items())) for b in bodies for a in b["alerts"])
    assert sent == sorted([tuple(sorted(crit.items())), tuple(sorted(warn_b.items()))]), (sent, got)
    st, listed = lkt.get_json(srv.base + '/api/v2/alerts?filter=test="inhibit"')
    by_fp = {a["fingerprint"]: a for a in listed}
    status = by_fp[fingerprint(warn_a)]["status"]
    assert status == {"state": "suppressed", "inhibitedBy": [fingerprint(crit)], "silencedBy": []}, status
    assert by_fp[fingerprint(warn_b)]["status"]["state"] == "active", listed
    st, listed = lkt.get_json(srv.base + '/api/v2/alerts?filter=test="inhibit"&inhibited=false')
    assert fingerprint(warn_a) not in [a["fingerprint"] for a in listed], listed
    print("ok: inhibition mutes the warning with the critical's cluster only")


def check_silence(srv, sink):
    now = time.time()
    sil = {"matchers": [{"name": "alertname", "value": "Sil.*", "isRegex": True, "isEqual": True}],
           "startsAt": go_time(now), "endsAt": go_time(now + 3.5), "createdBy": "test", "comment": "quiet"}
    st, body = lkt.http("POST", srv.base + "/api/v2/silences", json.dumps(sil).encode())
    assert st == 200, (st, body)
    sid = json.loads(body)["silenceID"]
    labels = {"alertname": "Silenced", "test": "silence"}
    post_alerts(srv.base, [alert(labels, time.time())])
    st, listed = lkt.get_json(srv.base + '/api/v2/alerts?filter=alertname="Silenced"')
    assert listed[0]["status"]["silencedBy"] == [sid] and listed[0]["status"]["state"] == "suppressed", listed
    time.sleep(2.5)
    assert sink.bodies("/silence") == [], "a silenced alert was notified"
    (t, body), = sink.wait("/silence", 1, 6)
    assert t >= now + 3.4, f"notified {t - now:.2f}s after the silence started, before it expired"
    assert body["alerts"][0]["labels"] == labels, body
    st, got = lkt.get_json(srv.base + "/api/v2/silence/" + sid)
    assert st == 200 and got["status"]["state"] == "expired", got
    check_silence_update(srv)
    print(f"ok: a silence mutes, its expiry un-mutes ({t - now:.2f}s); updates keep or replace the id")


def post_silence(base, sil):
    st, body = lkt.http("POST", base + "/api/v2/silences", json.dumps(sil).encode())
    assert st == 200, (st, body)
    return json.loads(body)["silenceID"]


def check_silence_update(srv):
    """Alertmanager's upsert: same matchers and start keep the id; new matchers
    expire the old silence and make a new one."""
    now = time.time()
    sil = {"matchers": [{"name": "alertname", "value": "Upd", "isRegex": False}], "startsAt": go_time(now),
           "endsAt": go_time(now + 60), "createdBy": "t", "comment": "one"}
    sid = post_silence(srv.base, sil)
    st, got = lkt.get_json(srv.base + "/api/v2/silence/" + sid)
    sil.update(id=sid, comment="two", startsAt=got["startsAt"])
    assert post_silence(srv.base, sil) == sid
    st, got = lkt.get_json(srv.base + "/api/v2/silence/" + sid)
    assert got["comment"] == "two" and got["status"]["state"] == "active", got
    sil["matchers"][0]["value"] = "Other"
    new = post_silence(srv.base, sil)
    assert new != sid
    st, old = lkt.get_json(srv.base + "/api/v2/silence/" + sid)
    st, cur = lkt.get_json(srv.base + "/api/v2/silence/" + new)
    assert old["status"]["state"] == "expired" and cur["status"]["state"] == "active", (old, cur)
    assert cur["matchers"][0]["value"] == "Other", cur
    sil["id"] = "no-such-silence"
    st, body = lkt.http("POST", srv.base + "/api/v2/silences", json.dumps(sil).encode())
    assert st == 404, (st, body)


def check_flaky(srv, sink):
    """503 until the receiver recovers: the same notification arrives once, retried."""
    sink.status["/flaky"] = 503
    now = time.time()
    post_alerts(srv.base, [alert({"alertname": "Flaky", "test": "flaky", "n": str(i)}, now) for i in range(3)])
    sink.wait("/flaky", 3, 8)  # three failed attempts (backoff 0.5 s, 0.75 s, …)
    t_up = time.time()
    sink.status["/flaky"] = 200
    deadline = time.time() + 10
    while time.time() < deadline and not [t for t, _ in sink.bodies("/flaky") if t > t_up]:
        time.sleep(0.05)
    time.sleep(3)
    assert len([t for t, _ in sink.bodies("/flaky") if t > t_up]) == 1, "not delivered exactly once after recovery"
    bodies = [b for _, b in sink.bodies("/flaky")]
    assert len(bodies) >= 4 and all(b == bodies[0] for b in bodies), bodies
    assert len(bodies[0]["alerts"]) == 1 and bodies[0]["truncatedAlerts"] == 2, bodies[0]  # max_alerts: 1
    st, metrics = lkt.http("GET", srv.base + "/metrics")
    text = metrics.decode()
    assert "lookout_notifications_failed_total" in text and "lookout_notifications_sent_total" in text, text[-2000:]
    print(f"ok: a receiver down (503) then up gets the notification once it recovers "
          f"({len(bodies) - 1} failed attempts), max_alerts truncates")
    return len(bodies)


def check_reject(srv, sink, log_path):
    sink.status["/reject"] = 400
    post_alerts(srv.base, [alert({"alertname": "Rejected", "test": "reject"}, time.time())])
    sink.wait("/reject", 1, 5)
    time.sleep(2.5)
    assert len(sink.bodies("/reject")) == 1, "a 4xx answer was retried"
    log = open(log_path).read()
    assert "level=error" in log and "answered 400, notification dropped" in log, log[-2000:]
    print("ok: a 400 answer is logged and dropped, not retried")


def check_bad_input(srv):
    st, before = lkt.get_json(srv.base + "/api/v2/silences")
    bad = {"matchers": [{"name": "a", "value": "(", "isRegex": True}], "startsAt": go_time(time.time()),
           "endsAt": go_time(time.time() + 60), "createdBy": "t", "comment": "c"}
    st, body = lkt.http("POST", srv.base + "/api/v2/silences", json.dumps(bad).encode())
    assert st == 400 and b"invalid label matcher 0" in body and b"missing closing )" in body, (st, body)
    st, after = lkt.get_json(srv.base + "/api/v2/silences")
    assert after == before, "a refused silence changed the silences"
    st, alerts_before = lkt.get_json(srv.base + "/api/v2/alerts")
    for payload, want in [(b'[{"labels":{}}]', b"at least one label pair required"),
                          (b'{"labels":{"a":"b"}}', b"expected a JSON array"),
                          (b'[{"labels":{"ok":"1"}},{"labels":{"bad-name":"x"}}]', b"invalid name"),
                          (b'[{"labels":{"a":"b"},"startsAt":"yesterday"}]', b"startsAt")]:
        st, body = lkt.http("POST", srv.base + "/api/v2/alerts", payload)
        assert st == 400 and want in body, (payload, st, body)
    st, alerts_after = lkt.get_json(srv.base + "/api/v2/alerts")
    assert alerts_after == alerts_before, "a refused alert batch changed the alerts"
    st, body = lkt.http("GET", srv.base + "/api/v2/alerts?filter=a%3D~%22(%22")
    assert st == 400, (st, body)
    st, body = lkt.http("DELETE", srv.base + "/api/v2/silence/no-such-id")
    assert st == 404, (st, body)
    print("ok: bad silences, alert bodies and filters are 400s that change nothing")


def check_kill9(exe, work):
    """Notifications pending for a dead receiver survive kill -9 and arrive once."""
    sink = Sink().start()
    port = sink.port
    sink.stop()  # nothing listens: connection refused
    cfg = os.path.join(work, "kill9.yaml")
    with open(cfg, "w") as f:
        f.write(f"route: {{ receiver: r, group_by: [alertname], group_wait: 0s, group_interval: 1s, "
                f"repeat_interval: 1h }}\nreceivers: [ {{ name: r, webhook_configs: "
                f"[ {{ url: 'http://127.0.0.1:{port}/k' }} ] }} ]\nauth: {{ require_token: true }}\n")
    data = os.path.join(work, "kill9-data")
    log = os.path.join(work, "kill9.log")
    srv = lkt.Server(exe, data, log, ["--config", cfg])
    srv.start()
    now = time.time()
    token = open(os.path.join(data, "token")).read().strip()
    st, body = lkt.http("POST", srv.base + "/api/v2/alerts", b'[{"labels":{"alertname":"K0"}}]')
    assert st == 401, (st, body)  # alerts in and silences are write routes
    sil = {"matchers": [{"name": "alertname", "value": "K0", "isRegex": False}], "startsAt": go_time(now),
           "endsAt": go_time(now + 60), "createdBy": "t", "comment": "c"}
    st, body = lkt.http("POST", srv.base + "/api/v2/silences", json.dumps(sil).encode())
    assert st == 401, (st, body)
    st, body = lkt.http("DELETE", srv.base + "/api/v2/silence/x")
    assert st == 401, (st, body)
    post_alerts(srv.base, [alert({"alertname": "K1"}, now - 10), alert({"alertname": "K2"}, now - 10)], token)
    queue = os.path.join(data, "alerting", "queue")
    deadline = time.time() + 5
    while time.time() < deadline and len(glob.glob(queue + "/*.json")) < 2:
        time.sleep(0.05)
    assert len(glob.glob(queue + "/*.json")) == 2, os.listdir(queue)
    while time.time() < deadline and "will retry" not in open(log).read():
        time.sleep(0.05)
    assert srv.kill(signal.SIGKILL) == -signal.SIGKILL
    # As if the crash came between queueing and writing the log: the queued
    # files carry their log entries, so nothing is notified twice.
    os.remove(os.path.join(data, "alerting", "nflog.json"))
    sink = Sink(port).start()
    try:
        srv.start()
        got = sink.wait("/k", 2, 10)
        time.sleep(3)
        got = sink.bodies("/k")
        names = sorted(b["alerts"][0]["labels"]["alertname"] for _, b in got)
        assert names == ["K1", "K2"], f"want each notification exactly once, got {names}"
        assert glob.glob(queue + "/*.json") == [], os.listdir(queue)
        srv.kill(signal.SIGTERM)
    finally:
        srv.kill()
        sink.stop()
    print("ok: kill -9 with two notifications pending (and the log lost): each delivered exactly once after the "
          "restart")


BAD_CONFIGS = [
    ("route:\n  receiver: nobody\nreceivers:\n  - name: r\n", 'bad.yaml:2: undefined receiver "nobody" used in route'),
    ("receivers:\n  - name: r\n  - name: r\nroute: { receiver: r }\n",
     'bad.yaml:3: notification config name "r" is not unique'),
    ("route:\n  receiver: r\n  routes:\n    - matchers: [ 'a=~\"(\"' ]\nreceivers: [ { name: r } ]\n",
     "bad.yaml:4: route.matchers: invalid regular expression"),
    ("route: { receiver: r }\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: 'ftp://x'\n",
     "bad.yaml:5: unsupported scheme or invalid URL"),
    ("route:\n  receiver: r\n  group_wiat: 1s\nreceivers: [ { name: r } ]\n", "bad.yaml:3: field group_wiat not found in route"),
    ("route: { receiver: r }\nreceivers: [ { name: r } ]\ninhibit_rules:\n  - source_matchers: [ 'a' ]\n",
     "bad.yaml:4: inhibit_rules.source_matchers: bad matcher format: a"),
    ("route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [ nights ]\nreceivers: [ { name: r } ]\n",
     'bad.yaml:4: undefined time interval "nights" used in route'),
    ("time_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: [ 'funday' ]\nroute: { receiver: r }\n"
     "receivers: [ { name: r } ]\n", "bad.yaml:4: weekdays: invalid value"),
    ("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [ 'nohost' ]\n",
     "bad.yaml:4: target \"nohost\": expected host:port"),
]


def check_bad_configs(exe, work):
    bad = os.path.join(work, "bad.yaml")
    for text, want in BAD_CONFIGS:
        with open(bad, "w") as f:
            f.write(text)
        p = subprocess.run([exe, "server", "--config", bad, "--data", os.path.join(work, "bad-data"),
                            "--listen", "127.0.0.1:0"], capture_output=True, timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 2 and want in err, f"{text!r}: rc={p.returncode} stderr={err!r}, want {want!r}"
    print(f"ok: {len(BAD_CONFIGS)} bad Alertmanager sections refused at start with file:line")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-amn-", logs=("server.log", "kill9.log")) as work:
        sink = Sink().start()
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(**{k: sink.url("/" + k) for k in ("timing", "inhib", "silence", "flaky", "reject")}))
        log = os.path.join(work, "server.log")
        with lkt.Server(exe, os.path.join(work, "data"), log, ["--config", cfg]) as srv:
            srv.start()
            check_bad_input(srv)
            check_inhibition(srv, sink)
            check_reject(srv, sink, log)
            check_silence(srv, sink)
            check_flaky(srv, sink)
            check_timing(srv, sink)
            st, text = lkt.http("GET", srv.base + "/api/v2/status")
            assert st == 200 and b"bearer_token: <secret>" in text and b"s3cret" not in text, text
        sink.stop()
        check_kill9(exe, work)
        check_bad_configs(exe, work)


if __name__ == "__main__":
    main()
