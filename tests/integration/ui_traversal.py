#!/usr/bin/env python3
"""ui_traversal.py — the dashboard's static files (`lookout server --ui-dir`)
cannot escape their root: `..` segments, percent-encoded dots and slashes,
backslashes, absolute paths and symlinks that point out of the root all get
404 (never the secret file beside the root, never /etc/passwd), while files
inside the root, and a symlink that stays inside it, are served. Requests
are sent over a raw socket so no client normalises the path first.

usage: ui_traversal.py LOOKOUT"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

SECRET = b"TOP-SECRET-beside-the-root"


def raw_get(port, target):
    """Status and body of GET target, sent byte for byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while len(data) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def make_root(work):
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "ui", "sub"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<html>index</html>")
    with open(os.path.join(root, "ui", "app.js"), "w") as f:
        f.write("console.log('app')")
    with open(os.path.join(work, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(work, "outside"))
    with open(os.path.join(work, "outside", "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink(os.path.join(work, "secret.txt"), os.path.join(root, "ui", "leak.txt"))
    os.symlink("../../secret.txt", os.path.join(root, "ui", "relleak.txt"))
    os.symlink(os.path.join(work, "outside"), os.path.join(root, "ui", "outdir"))
    os.symlink("/etc/passwd", os.path.join(root, "ui", "passwd.txt"))
    os.symlink("../app.js", os.path.join(root, "ui", "sub", "inside.js"))
    return root


ESCAPES = [
    "/ui/../../secret.txt",
    "/ui/../../../../../../etc/passwd",
    "/ui/%2e%2e/%2e%2e/secret.txt",
    "/ui/%2E%2E/%2E%2E/secret.txt",
    "/ui/..%2f..%2fsecret.txt",
    "/ui/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/ui/%252e%252e/%252e%252e/secret.txt",
    "/ui/..\\..\\secret.txt",
    "/ui/..%5c..%5csecret.txt",
    "/ui//etc/passwd",
    "/ui/%2fetc%2fpasswd",
    "/ui/./../../secret.txt",
    "/ui/sub/../../../secret.txt",
    "/ui/leak.txt",
    "/ui/relleak.txt",
    "/ui/outdir/secret.txt",
    "/ui/passwd.txt",
]


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-uitrav-") as work:
        root = make_root(work)
        data = os.path.join(work, "data")
        with lkt.Server(exe, data, os.path.join(work, "server.log"), ["--ui-dir", root]) as srv:
            srv.start()
            st, body = raw_get(srv.port, "/ui/app.js")
            assert st == 200 and body == b"console.log('app')", (st, body)
            st, body = raw_get(srv.port, "/")
            assert st == 200 and b"index" in body, (st, body)
            st, body = raw_get(srv.port, "/ui/sub/inside.js")
            assert st == 200 and body == b"console.log('app')", ("a symlink inside the root", st, body)
            for target in ESCAPES:
                st, body = raw_get(srv.port, target)
                assert SECRET not in body and b"root:" not in body, (target, st, body[:200])
                assert st in (400, 404), (target, st, body[:200])
            # a NUL ends the decoded path: at most the file before it is served
            st, body = raw_get(srv.port, "/ui/app.js%00/../../../secret.txt")
            assert SECRET not in body and st in (200, 400, 404), (st, body[:200])
            st, _ = raw_get(srv.port, "/-/healthy")
            assert st == 200
        print(f"ok: {len(ESCAPES)} escape attempts refused, files and an inside symlink served")


if __name__ == "__main__":
    main()
