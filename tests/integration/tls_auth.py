#!/usr/bin/env python3
"""tls_auth.py — `lookout server` with TLS (a self-signed certificate made
with openssl) and auth.require_token: reads are open over HTTPS, writes need
the bearer token from the token file the server creates, plain HTTP to the
HTTPS port gets no answer, and a bad certificate path stops the start with
one clear line.

usage: tls_auth.py LOOKOUT"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402


def main():
    exe = sys.argv[1]
    openssl = lkt.require("openssl")
    with lkt.workdir("lk-tls-") as work:
        crt, key = os.path.join(work, "server.crt"), os.path.join(work, "server.key")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(f"tls: {{ cert_file: {crt}, key_file: {key} }}\nauth: {{ require_token: true }}\n")
        data = os.path.join(work, "data")
        with lkt.Server(exe, data, os.path.join(work, "server.log"), ["--config", cfg], scheme="https") as srv:
            srv.start()
            token = open(os.path.join(data, "token")).read().strip()
            assert len(token) >= 32, token
            st, body = lkt.import_text(srv.base, "tls_metric 1\n")
            assert st == 401 and b"missing bearer token" in body, (st, body)
            st, body = lkt.import_text(srv.base, "tls_metric 1\n", headers={"Authorization": "Bearer nope"})
            assert st == 401 and b"invalid bearer token" in body, (st, body)
            st, body = lkt.import_text(srv.base, "tls_metric 1\n", headers={"Authorization": "Bearer " + token})
            assert st == 200, (st, body)
            st, j = lkt.get_json(srv.base + "/api/v1/series?match[]=tls_metric")
            assert st == 200 and j["data"] == [{"__name__": "tls_metric"}], j
            try:
                st, _ = lkt.http("GET", f"http://127.0.0.1:{srv.port}/-/healthy", timeout=5)
                plain_ok = st == 200
            except Exception:
                plain_ok = False
            assert not plain_ok, "plain HTTP answered on the HTTPS port"
            assert srv.kill(signal.SIGTERM) == 0
            bad = os.path.join(work, "bad.yaml")
            with open(bad, "w") as f:
                f.write(f"tls: {{ cert_file: {work}/missing.crt, key_file: {key} }}\n")
            p = subprocess.run([exe, "server", "--config", bad, "--data", data, "--listen", "127.0.0.1:0"],
                               capture_output=True, timeout=30)
            err = p.stderr.decode()
            assert p.returncode != 0 and "cannot read TLS certificate file" in err, (p.returncode, err)
            print("ok: https reads open, writes need the token, plain http refused, bad cert path reported")


if __name__ == "__main__":
    main()
