"""query_limits.py — the config file's query limits on a real server over HTTP:
limits.max_query_samples answers 422 execution with Prometheus' message,
limits.query_timeout answers 503 timeout and a request's `timeout` cannot
raise it; and a key of a module not built yet stops the start with
`file:line: key X is not supported yet`, as a server-only key stops the agent.

usage: query_limits.py LOOKOUT_EXE"""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

TOO_MANY = "query processing would load too many samples into memory in query execution"
# ~1.8M subquery steps of a constant: well over 10 ms, little memory, no data.
SLOW = "count_over_time(vector(1)[30m:1ms])"


def query(base, path, **params):
    return lkt.get_json(base + path + "?" + urllib.parse.urlencode(params), timeout=60)


def expect_error(what, got, status, error_type, text):
    st, j = got
    assert st == status and j["status"] == "error" and j["errorType"] == error_type and text in j["error"], \
        (what, st, j)
    print(f"ok: {what}: {st} {error_type}")


def server_with(exe, work, name, config):
    cfg = os.path.join(work, name + ".yaml")
    with open(cfg, "w") as f:
        f.write(config)
    return lkt.Server(exe, os.path.join(work, name), os.path.join(work, "server.log"), ["--config", cfg])


def max_samples(exe, work):
    with server_with(exe, work, "samples", "limits:\n  max_query_samples: 100\n") as srv:
        srv.start()
        now = int(time.time()) * 1000
        text = "".join(f'lim_metric{{s="{s}"}} {k} {now - (9 - k) * 10000}\n' for s in range(20) for k in range(10))
        st, body = lkt.import_text(srv.base, text)
        assert st == 200, (st, body)
        t = str(now / 1000)
        st, j = query(srv.base, "/api/v1/query", query='lim_metric{s="3"}', time=t)
        assert st == 200 and j["data"]["result"][0]["value"][1] == "9", (st, j)  # 10 samples: under the cap
        expect_error("max_query_samples, instant", query(srv.base, "/api/v1/query", query="sum(lim_metric)", time=t),
                     422, "execution", TOO_MANY)
        expect_error("max_query_samples, range",
                     query(srv.base, "/api/v1/query_range", query="lim_metric", start=str(now / 1000 - 90), end=t,
                           step="10"), 422, "execution", TOO_MANY)


def timeout(exe, work):
    with server_with(exe, work, "timeout", "limits: { query_timeout: 10ms }\n") as srv:
        srv.start()
        expect_error("query_timeout", query(srv.base, "/api/v1/query", query=SLOW), 503, "timeout", "timed out")
        t0 = time.monotonic()
        expect_error("a request's timeout cannot raise query_timeout",
                     query(srv.base, "/api/v1/query", query=SLOW, timeout="10m"), 503, "timeout", "timed out")
        assert time.monotonic() - t0 < 30


def not_supported_yet(exe, work):
    cfg = os.path.join(work, "rules.yaml")
    err = lkt.refused_start(exe, cfg, "data: x\nscrape_configs:\n  - job_name: a\n    static_configs:\n"
                                      "      - targets: [h:1]\n        labels: { env: dev }\n",
                            ["up", "--data", os.path.join(work, "rules"), "--listen", "127.0.0.1:0"])
    assert f"{cfg}:6: key static_configs.labels is not supported yet" in err, err
    assert not os.path.exists(os.path.join(work, "rules")), "a refused config still created the data directory"
    print("ok: static_configs labels refused at their line, nothing created")
    err = lkt.refused_start(exe, cfg, "data: x\nlimits: { max_series: 5 }\n",
                            ["agent", "--server", "http://127.0.0.1:9", "--listen", "none"])
    assert f"{cfg}:2: key limits is not used by lookout agent" in err, err
    print("ok: a server-only key stops lookout agent")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-qlim-") as work:
        max_samples(exe, work)
        timeout(exe, work)
        not_supported_yet(exe, work)


if __name__ == "__main__":
    main()
