#!/usr/bin/env python3
"""tls_tokens.py — `lookout server` over TLS with a certificate signed by a CA
made here with openssl, and scoped tokens (auth.require_token and
auth.require_read_token):

- a client trusting the CA connects; one trusting another CA fails the
  handshake; plain HTTP to the TLS port gets no HTTP answer, promptly, and the
  server keeps serving;
- read/write/admin scopes: 401 without or with an unknown token, 403 with a
  known token whose scope is too low, 200 otherwise;
- the token file is re-read on change: a new token works and a removed one is
  refused within a few seconds, without a restart;
- `lookout query|logs|import|agent` over https with --ca-file and --token-file
  (and a clear error without the CA or with the wrong one).

usage: tls_tokens.py LOOKOUT"""
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

TOKENS = "# scoped tokens\nr3adtoken read\nwr1tetoken write\nadm1ntoken admin\n"


def make_ca(openssl, work, name):
    key, crt = os.path.join(work, name + ".key"), os.path.join(work, name + ".crt")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "1", "-subj", "/CN=" + name], check=True, capture_output=True, timeout=60)
    return key, crt


def make_server_cert(openssl, work, ca_key, ca_crt):
    key, csr, crt = (os.path.join(work, "server." + e) for e in ("key", "csr", "crt"))
    subprocess.run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    ext = os.path.join(work, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run([openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-out", crt, "-days", "1", "-extfile", ext], check=True, capture_output=True, timeout=60)
    return key, crt


def call(ctx, method, url, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check_tls(srv, ca_crt, wrong_crt):
    good = ssl.create_default_context(cafile=ca_crt)
    st, _ = call(good, "GET", srv.base + "/-/healthy")
    assert st == 200, st
    wrong = ssl.create_default_context(cafile=wrong_crt)
    try:
        call(wrong, "GET", srv.base + "/-/healthy")
        raise AssertionError("a client trusting another CA completed the handshake")
    except urllib.error.URLError as e:
        assert isinstance(e.reason, ssl.SSLCertVerificationError), e
    # plain HTTP to the TLS port: no HTTP answer, the connection ends promptly
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        try:
            while len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert not got.startswith(b"HTTP/"), got[:100]
    assert time.time() - t0 < 5, "plain HTTP to the TLS port hung"
    st, _ = call(good, "GET", srv.base + "/-/healthy")
    assert st == 200, "the server stopped serving after a plain-HTTP client"
    return good


def check_scopes(ctx, base):
    q = base + "/api/v1/query?query=1"
    cases = [
        ("GET", "/-/healthy", None, 200),
        ("GET", "/api/v1/query?query=1", None, 401),
        ("GET", "/api/v1/query?query=1", "nope", 401),
        ("GET", "/api/v1/query?query=1", "r3adtoken", 200),
        ("GET", "/metrics", None, 401),
        ("GET", "/metrics", "wr1tetoken", 200),
        ("POST", "/api/v1/import/prometheus", "r3adtoken", 403),
        ("POST", "/api/v1/import/prometheus", "wr1tetoken", 200),
        ("POST", "/api/v1/admin/flush", "wr1tetoken", 403),
        ("POST", "/api/v1/admin/flush", "adm1ntoken", 204),
        ("POST", "/-/reload", "r3adtoken", 403),
        ("POST", "/-/reload", "adm1ntoken", 200),
        ("POST", "/api/v2/silences", None, 401),
        ("POST", "/apis/apps/v1/namespaces/default/deployments", "wr1tetoken", 403),
    ]
    for method, path, token, want in cases:
        body = b"scoped_metric 1\n" if path.startswith("/api/v1/import") else (b"" if method == "POST" else None)
        st, out = call(ctx, method, base + path, token, body)
        assert st == want, (method, path, token, st, want, out[:200])
    st, out = call(ctx, "POST", base + "/api/v1/admin/flush", "wr1tetoken", b"")
    assert b"needs a token with the admin scope; this token has write" in out, out
    st, out = call(ctx, "GET", q, "r3adtoken")
    assert json.loads(out)["status"] == "success", out


def check_reload(ctx, base, token_file):
    tmp = token_file + ".new"
    with open(tmp, "w") as f:
        f.write("r3adtoken read\nn3wtoken write\nadm1ntoken admin\n")
    os.rename(tmp, token_file)
    imp = base + "/api/v1/import/prometheus"
    lkt.wait_for("the new token to be accepted",
                 lambda: call(ctx, "POST", imp, "n3wtoken", b"reload_metric 1\n")[0] == 200, timeout=5, interval=0.2)
    st, _ = call(ctx, "POST", imp, "wr1tetoken", b"reload_metric 1\n")
    assert st == 401, st


def run(exe, *args):
    return subprocess.run([exe] + list(args), capture_output=True, timeout=60)


def check_clients(exe, base, work, ca_crt, wrong_crt):
    read_tok, write_tok = os.path.join(work, "read.tok"), os.path.join(work, "write.tok")
    with open(read_tok, "w") as f:
        f.write("# mine\nr3adtoken read\n")
    with open(write_tok, "w") as f:
        f.write("n3wtoken\n")
    prom = os.path.join(work, "in.prom")
    with open(prom, "w") as f:
        f.write("cli_tls_metric{k=\"v\"} 42\n")
    p = run(exe, "import", prom, "--server", base, "--ca-file", ca_crt, "--token-file", write_tok)
    assert p.returncode == 0, p.stderr.decode()
    p = run(exe, "import", prom, "--server", base, "--ca-file", ca_crt, "--token-file", read_tok)
    assert p.returncode != 0 and b"write scope" in p.stderr, p.stderr.decode()
    p = run(exe, "query", "cli_tls_metric", "--server", base, "--ca-file", ca_crt, "--token-file", read_tok)
    assert p.returncode == 0 and b"42" in p.stdout, (p.stdout, p.stderr)
    p = run(exe, "query", "cli_tls_metric", "--server", base, "--ca-file", ca_crt)
    assert p.returncode != 0 and b"missing bearer token" in p.stderr, p.stderr.decode()
    p = run(exe, "query", "cli_tls_metric", "--server", base, "--ca-file", wrong_crt, "--token-file", read_tok)
    assert p.returncode != 0 and b"not trusted" in p.stderr, p.stderr.decode()
    p = run(exe, "query", "cli_tls_metric", "--server", base, "--token-file", read_tok)
    assert p.returncode != 0 and b"--ca-file" in p.stderr, p.stderr.decode()
    p = run(exe, "logs", "{job=\"none\"}", "--server", base, "--ca-file", ca_crt, "--token-file", read_tok)
    assert p.returncode == 0, p.stderr.decode()
    p = run(exe, "logs", "{job=\"none\"}", "--server", base, "--ca-file", ca_crt)
    assert p.returncode != 0 and b"missing bearer token" in p.stderr, p.stderr.decode()
    return write_tok


def check_agent(exe, base, work, ca_crt, write_tok, ctx):
    """The agent remote-writes its own metrics over https with the CA and token."""
    cg = os.path.join(work, "cgroup")
    os.makedirs(cg, exist_ok=True)
    agent_data = os.path.join(work, "agent")
    os.makedirs(agent_data, exist_ok=True)
    log = open(os.path.join(work, "agent.log"), "ab")
    p = subprocess.Popen([exe, "agent", "--server", base, "--ca-file", ca_crt, "--token-file", write_tok,
                          "--interval", "1s", "--cgroup-root", cg, "--log-root", os.path.join(work, "nolog"),
                          "--listen", "none", "--no-node-metrics", "--queue-dir", agent_data + "/q"],
                         stdout=log, stderr=log, cwd=agent_data)
    log.close()
    try:
        def arrived():
            st, out = call(ctx, "GET", base + "/api/v1/series?match[]={__name__=~\"lookout_collector_cycles_total\"}", "r3adtoken")
            return st == 200 and json.loads(out)["data"]
        lkt.wait_for("the agent's metrics over https", arrived, timeout=30, interval=0.5)
    finally:
        p.terminate()
        p.wait(timeout=30)


def main():
    exe = os.path.abspath(sys.argv[1])
    openssl = lkt.require("openssl")
    with lkt.workdir("lk-tlstok-", logs=("server.log", "agent.log")) as work:
        ca_key, ca_crt = make_ca(openssl, work, "ca")
        _, wrong_crt = make_ca(openssl, work, "wrongca")
        key, crt = make_server_cert(openssl, work, ca_key, ca_crt)
        token_file = os.path.join(work, "tokens")
        with open(token_file, "w") as f:
            f.write(TOKENS)
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(f"tls: {{ cert_file: {crt}, key_file: {key} }}\n"
                    f"auth: {{ token_file: {token_file}, require_token: true, require_read_token: true }}\n")
        data = os.path.join(work, "data")
        with lkt.Server(exe, data, os.path.join(work, "server.log"), ["--config", cfg], scheme="https") as srv:
            srv.start()
            ctx = check_tls(srv, ca_crt, wrong_crt)
            check_scopes(ctx, srv.base)
            check_reload(ctx, srv.base, token_file)
            write_tok = check_clients(exe, srv.base, work, ca_crt, wrong_crt)
            check_agent(exe, srv.base, work, ca_crt, write_tok, ctx)
        print("ok: CA-signed TLS (wrong CA and plain HTTP refused), scopes 401/403, token reload, "
              "query/logs/import/agent with --ca-file and --token-file")


if __name__ == "__main__":
    main()
