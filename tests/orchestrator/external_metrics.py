"""external_metrics.py — `lookout server` with `external_metrics` in its
config, over HTTP on loopback: samples imported through the import API are
served by external.metrics.k8s.io as the HPA reads them (exact JSON, with a
labelSelector), metrics.k8s.io answers `kubectl top` from the container
series, KEDA's query form answers one element, and a query that does not
parse stops the start naming it, nothing created.

usage: external_metrics.py LOOKOUT_EXE"""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import lkt  # noqa: E402

CONFIG = """external_metrics:
  - name: orders_queue
    query: sum by (queue) (rabbitmq_queue_messages)
"""


def strip_times(items):
    for it in items:
        assert it.pop("timestamp").endswith("Z"), it
    return items


def serve(exe, work):
    cfg = os.path.join(work, "lookout.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    srv = lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"), ["--config", cfg])
    with srv:
        srv.start()
        now = int(time.time()) * 1000
        text = "".join(
            f'rabbitmq_queue_messages{{queue="{q}",vhost="{v}"}} {n} {now - 1000}\n'
            for q, v, n in (("orders", "a", 12), ("orders", "b", 0.25), ("mails", "a", 3)))
        text += "".join(
            f'container_cpu_usage_seconds_total{{namespace="shop",pod="web-0",container="app"}} {100 + 0.5 * k * 15} '
            f'{now - (8 - k) * 15000}\n' for k in range(9))
        text += f'container_memory_working_set_bytes{{namespace="shop",pod="web-0",container="app"}} 1048576 {now - 1000}\n'
        st, body = lkt.import_text(srv.base, text)
        assert st == 200, (st, body)

        sel = urllib.parse.quote("queue in (orders)")
        st, j = lkt.get_json(f"{srv.base}/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/orders_queue"
                             f"?labelSelector={sel}")
        assert st == 200, (st, j)
        assert j["kind"] == "ExternalMetricValueList" and j["apiVersion"] == "external.metrics.k8s.io/v1beta1", j
        assert strip_times(j["items"]) == [{"metricName": "orders_queue", "metricLabels": {"queue": "orders"},
                                            "window": 60, "value": "12250m"}], j
        print("ok: ExternalMetricValueList from the configured query, selector applied")

        st, j = lkt.get_json(f"{srv.base}/apis/external.metrics.k8s.io/v1beta1")
        assert st == 200 and [r["name"] for r in j["resources"]] == ["orders_queue"], (st, j)
        st, j = lkt.get_json(f"{srv.base}/apis/external.metrics.k8s.io/v1beta1/namespaces/shop/unknown")
        assert st == 404 and j["kind"] == "Status" and j["reason"] == "NotFound", (st, j)
        print("ok: discovery lists the configured metric; an unknown one is a 404 Status")

        st, j = lkt.get_json(f"{srv.base}/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web-0")
        assert st == 200, (st, j)
        j.pop("timestamp"), j["metadata"].pop("creationTimestamp")
        assert j == {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                     "metadata": {"name": "web-0", "namespace": "shop"}, "window": "1m0s",
                     "containers": [{"name": "app", "usage": {"cpu": "500000000n", "memory": "1024Ki"}}]}, j
        print("ok: PodMetrics for kubectl top")

        q = urllib.parse.quote_plus('sum(rabbitmq_queue_messages{queue="orders"}) / 2')
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        st, j = lkt.get_json(f"{srv.base}/api/v1/query?query={q}&time={t}&namespace=shop")
        assert st == 200 and j["status"] == "success" and len(j["data"]["result"]) == 1, (st, j)
        assert float(j["data"]["result"][0]["value"][1]) == 6.125, j
        print("ok: KEDA's Prometheus scaler request")


def bad_query(exe, work):
    err = lkt.refused_start(exe, os.path.join(work, "bad.yaml"),
                            "external_metrics:\n  - { name: broken, query: 'sum(x' }\n",
                            ["server", "--data", os.path.join(work, "bad"), "--listen", "127.0.0.1:0"])
    assert "external_metrics: broken: " in err and "parse error" in err, err
    print("ok: a query that does not parse stops the start, naming the metric")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-extm-") as work:
        serve(exe, work)
        bad_query(exe, work)


if __name__ == "__main__":
    main()
