#!/usr/bin/env python3
"""attack_limits.py — `lookout server` under hostile clients, with small
connection limits (server.*) so every case is fast; after each case a normal
query from 127.0.0.1 must still answer quickly:

- 10,000 idle connections from one address (127.0.0.2, opened with
  non-blocking sockets): all but max_connections_per_ip are closed at once;
- idle connections from many addresses up to max_connections: a new client
  is refused while they stay, and request_timeout frees the slots;
- slow clients, one byte at a time in the headers or in the body: closed
  after request_timeout while others are served;
- a 1 GB body: refused by its Content-Length before a byte is read (413),
  and streamed chunked it is cut off after the limit plus a bounded discard,
  without the server's memory growing by the body;
- huge label values, 10,000 labels (remote_write, import, Loki push), 10,000
  nested parentheses and regex bombs: clear 400s.

usage: attack_limits.py LOOKOUT"""
import json
import os
import resource
import select
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

PER_IP, TOTAL, REQUEST_TIMEOUT = 50, 200, 2
IDLE = 10000
CONFIG = (f"server: {{ max_connections: {TOTAL}, max_connections_per_ip: {PER_IP}, idle_timeout: 60s, "
          f"request_timeout: {REQUEST_TIMEOUT}s }}\nlimits: {{ max_body_size: 1MiB }}\n")


def quick_query(srv, what, limit_s=2.0):
    t0 = time.time()
    st, j = lkt.get_json(srv.base + "/api/v1/query?query=1%2B1", timeout=limit_s)
    took = time.time() - t0
    assert st == 200 and j["data"]["result"][1] == "2", (what, st, j)
    assert took < limit_s, f"{what}: a normal query took {took:.2f}s"
    return took


def open_idle(port, source, n, deadline_s):
    """n non-blocking connections from source; returns the sockets."""
    socks = []
    t0 = time.time()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        assert time.time() - t0 < deadline_s, f"opening {n} connections took over {deadline_s}s"
    return socks


def count_open(socks, wait_s):
    """Of socks, how many the server has not closed after wait_s seconds."""
    closed = set()
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        for fd, _ in poller.poll(100):
            if fd not in closed:
                closed.add(fd)
                poller.unregister(fd)
    return len(socks) - len(closed)


def close_all(socks):
    for s in socks:
        s.close()


def check_idle_flood(srv):
    socks = open_idle(srv.port, "127.0.0.2", IDLE, deadline_s=10)
    try:
        took = quick_query(srv, f"{IDLE} idle connections from 127.0.0.2")
        still = count_open(socks, 2.0)
        assert still <= PER_IP + 5, f"{still} of {IDLE} connections from one address stayed open"
        quick_query(srv, "after the flood")
    finally:
        close_all(socks)
    print(f"ok: {IDLE} idle connections from one address, {still} kept, a query answered in {took * 1000:.0f} ms")


def check_total_limit(srv):
    socks = []
    for i in range(TOTAL // PER_IP + 1):
        socks += open_idle(srv.port, f"127.0.1.{i + 1}", PER_IP, deadline_s=5)
    try:
        time.sleep(0.5)
        t0 = time.time()
        try:
            st, _ = lkt.http("GET", srv.base + "/-/healthy", timeout=1)
            refused = st != 200
        except OSError:
            refused = True
        assert refused, "a new client was served with max_connections idle connections open"
        # the idle ones are cut at request_timeout (the reaper runs every second)
        lkt.wait_for("slots freed by request_timeout", lambda: count_open(socks, 0.2) == 0,
                     timeout=REQUEST_TIMEOUT + 4, interval=0.1)
        quick_query(srv, "after the idle connections were reaped")
        print(f"ok: max_connections full refuses new clients; freed by request_timeout in "
              f"{time.time() - t0:.1f}s")
    finally:
        close_all(socks)


def trickle(port, head, body_bytes, interval):
    """Sends head, then body_bytes one byte per interval until the server
    closes; returns seconds until it did (bounded)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    t0 = time.time()
    try:
        s.sendall(head)
        for i in range(int((REQUEST_TIMEOUT + 6) / interval)):
            try:
                s.sendall(body_bytes[i % len(body_bytes):][:1])
            except (BrokenPipeError, ConnectionResetError):
                return time.time() - t0
            try:
                if s.recv(4096) == b"":
                    return time.time() - t0
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.time() - t0
            time.sleep(max(0.0, interval - 1))
        return None
    finally:
        s.close()


def check_slow_clients(srv):
    head = b"GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n"
    took = trickle(srv.port, head, b"X-Slow: " + b"a" * 64, 1.0)
    assert took is not None and took < REQUEST_TIMEOUT + 3, f"a header trickle was not cut off ({took})"
    head = (b"POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    took2 = trickle(srv.port, head, b"slow_metric 1\n", 1.0)
    assert took2 is not None and took2 < REQUEST_TIMEOUT + 3, f"a body trickle was not cut off ({took2})"
    quick_query(srv, "after slow clients")
    print(f"ok: one byte a second in headers / body closed after {took:.1f}s / {took2:.1f}s")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def check_big_bodies(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 413") and b"1073741824 bytes exceeds the limit" in head, head[:300]
    before = rss_kib(srv.proc.pid)
    sent = 0
    chunk = b"%x\r\n" % (1 << 20) + b"x" * (1 << 20) + b"\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 1 << 30:
                s.sendall(chunk)
                sent += 1 << 20
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
    assert sent < 200 << 20, f"a 1 GB chunked body was read up to {sent >> 20} MiB"
    grew = rss_kib(srv.proc.pid) - before
    assert grew < 64 << 10, f"the server grew by {grew} KiB reading a refused body"
    quick_query(srv, "after 1 GB bodies")
    print(f"ok: 1 GB by Content-Length refused at once; chunked cut after {sent >> 20} MiB, RSS +{grew} KiB")


def post_query(srv, expr):
    return lkt.http("POST", srv.base + "/api/v1/query", urllib.parse.urlencode({"query": expr}).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"})


def check_bad_input(srv):
    t = int(time.time() * 1000)
    cases = [
        ("huge label value (remote_write)", lkt.remote_write(srv.base, [({"__name__": "big", "a": "x" * 300000},
                                                                          [(t, 1)])]), b"label value too long"),
        ("10,000 labels (remote_write)", lkt.remote_write(srv.base, [({"__name__": "many", **{
            f"l{i}": "v" for i in range(10000)}}, [(t, 1)])]), b"too many labels"),
        ("10,000 labels (import)", lkt.import_text(srv.base, "many{" + ",".join(
            f'l{i}="v"' for i in range(10000)) + "} 1\n"), b"too many labels"),
        ("huge label value (Loki push)", lkt.http("POST", srv.base + "/loki/api/v1/push", json.dumps(
            {"streams": [{"stream": {"a": "x" * 300000}, "values": [["1", "x"]]}]}).encode(),
            {"Content-Type": "application/json"}), b"over the limit of 4096"),
        ("10,000 nested parentheses", post_query(srv, "(" * 10000 + "1" + ")" * 10000), b"too deeply nested"),
        ("10,000 unary minus", post_query(srv, "-" * 10000 + "1"), b"too deeply nested"),
        ("a 10,000-term sum", post_query(srv, "1" + "+1" * 10000), b"too deeply nested"),
        ("10,000 nested calls", post_query(srv, "abs(" * 10000 + "up" + ")" * 10000), b"too deeply nested"),
        ("regex repeat bomb", post_query(srv, 'up{a=~"((a{1000}){1000}){1000}"}'), b"invalid repeat count"),
    ]
    for what, (st, body), want in cases:
        assert st == 400 and want in body, (what, st, body[:300])
    st, body = post_query(srv, 'up{a=~"' + "(a*)*" * 200 + 'b"}')
    assert st == 200, ("nested stars are linear in RE2", st, body[:300])
    st, body = post_query(srv, "(" * 200 + "1" + ")" * 200)
    assert st == 200, ("200 parentheses are fine", st, body[:300])
    quick_query(srv, "after bad input")
    print(f"ok: {len(cases)} hostile inputs answered 400 with clear errors")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + TOTAL + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        print(f"SKIP: the fd hard limit {hard} is below {want}")
        sys.exit(lkt.SKIP)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main():
    exe = sys.argv[1]
    raise_fd_limit()
    with lkt.workdir("lk-attack-") as work:
        cfg = os.path.join(work, "lookout.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        with lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log"),
                        ["--config", cfg]) as srv:
            srv.start()
            check_bad_input(srv)
            check_big_bodies(srv)
            check_slow_clients(srv)
            check_idle_flood(srv)
            check_total_limit(srv)
            assert srv.proc.poll() is None, "the server died"


if __name__ == "__main__":
    main()
