"""render.py — GET /api/v1/render on a real server over loopback HTTP:
- a known query draws a valid PNG (signature, IHDR of the requested size,
  IDAT inflating to exactly height scanlines) with one line per series: the
  layout rrd_graph reports (format=json) lists one legend per series with
  its label set, and each series' colour is in the decoded pixels, the next
  unused colour is not;
- a query matching nothing still draws a valid, empty graph;
- bad queries and parameters answer 400 JSON (bad_data), never an image; a
  query with more series than limits.max_render_series (20, or the config
  file's) answers 422 JSON;
- concurrent requests of different sizes and queries each get their own
  image (librrd is serialised by the server's render lock);
- the server answers /-/healthy afterwards.

usage: render.py LOOKOUT_EXE"""
import json
import os
import struct
import sys
import threading
import time
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lkt  # noqa: E402

# The first line colours of web/api_render.c, in series order.
COLORS = [(0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c), (0xd6, 0x27, 0x28)]
MAX_SERIES = 20  # limits.max_render_series' default


def png_decode(data):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB/RGBA PNG,
    checking its signature, chunk CRCs and scanline count on the way."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, chunks = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    stride = w * bpp
    assert len(raw) == h * (stride + 1), (len(raw), w, h)
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            else:
                assert ftype == 0, ftype
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def render(base, timeout=30, **params):
    st, body = lkt.http("GET", base + "/api/v1/render?" + urllib.parse.urlencode(params), timeout=timeout)
    return st, body


def expect_json_error(what, got, status, error_type, text):
    st, body = got
    assert not body.startswith(b"\x89PNG"), (what, st)
    j = json.loads(body)
    assert st == status and j["status"] == "error" and j["errorType"] == error_type and text in j["error"], \
        (what, st, j)
    print(f"ok: {what}: {st} {error_type}: {j['error']}")


def load(base, now):
    """render_cpu{core="0".."2"} and render_many{i="0".."20"}: an hour at 60 s."""
    lines = [f'render_cpu{{core="{c}",host="a:b"}} {c * 10 + k % 7} {(now - 3600 + k * 60) * 1000}\n'
             for c in range(3) for k in range(61)]
    lines += [f'render_many{{i="{i}"}} {i} {(now - 3600 + k * 60) * 1000}\n'
              for i in range(MAX_SERIES + 1) for k in range(61)]
    st, body = lkt.import_text(base, "".join(lines))
    assert st == 200, (st, body)


def known_query(base, win):
    st, body = render(base, query="render_cpu", width=640, height=320, title="cpu", **win)
    assert st == 200, (st, body[:300])
    w, h, rows = png_decode(body)
    assert (w, h) == (640, 320), (w, h)
    present = {px for row in rows for px in row}
    assert all(c in present for c in COLORS[:3]), [c in present for c in COLORS]
    assert COLORS[3] not in present, "a fourth series colour in a three-series graph"
    print("ok: 3 series → valid 640x320 PNG with the three series' colours, not a fourth")
    st, j = lkt.get_json(base + "/api/v1/render?" + urllib.parse.urlencode(
        dict(query="render_cpu", width=640, height=320, format="json", **win)))
    assert st == 200 and j["status"] == "success", (st, j)
    d = j["data"]
    assert d["series"] == 3 and (d["image_width"], d["image_height"]) == (640, 320), d
    assert d["legend"] == [f'render_cpu{{core="{c}", host="a:b"}}' for c in range(3)], d["legend"]
    assert d["value_max"] >= 26, d  # core 2 reaches 20 + 6
    print("ok: rrd_graph's layout lists 3 legend entries with the label sets")
    st, body = render(base, query="render_cpu", width=200, height=100, **win)
    assert st == 200 and png_decode(body)[:2] == (200, 100), st
    st, body = render(base, query="render_nothing", **win)
    assert st == 200, (st, body[:300])
    w, h, rows = png_decode(body)
    assert (w, h) == (800, 300), (w, h)
    assert not any(c in {px for row in rows for px in row} for c in COLORS), "a series colour in an empty graph"
    print("ok: no series → a valid empty 800x300 graph")


def bad_requests(base, win):
    expect_json_error("bad query", render(base, query="render_cpu{", **win), 400, "bad_data",
                      'invalid parameter "query"')
    expect_json_error("no start", render(base, query="render_cpu", end=win["end"], step="60"), 400, "bad_data",
                      'invalid parameter "start"')
    expect_json_error("end before start", render(base, query="render_cpu", start=win["end"], end=win["start"],
                                                 step="60"), 400, "bad_data", 'invalid parameter "end"')
    expect_json_error("width too big", render(base, query="render_cpu", width=100000, **win), 400, "bad_data",
                      'invalid parameter "width"')
    expect_json_error("height not a number", render(base, query="render_cpu", height="tall", **win), 400,
                      "bad_data", 'invalid parameter "height"')
    expect_json_error("fractional step", render(base, query="render_cpu", start=win["start"], end=win["end"],
                                                step="1.5"), 400, "bad_data", 'invalid parameter "step"')
    expect_json_error("string expression", render(base, query='"text"', **win), 400, "bad_data", "string")
    expect_json_error("bad format", render(base, query="render_cpu", format="gif", **win), 400, "bad_data",
                      'invalid parameter "format"')
    expect_json_error("too many series", render(base, query="render_many", **win), 422, "execution",
                      "returned 21 series; a graph draws at most 20")
    st, body = render(base, query='render_many{i!="0"}', **win)
    assert st == 200 and png_decode(body)[:2] == (800, 300), st
    print("ok: exactly the series limit still draws")


def concurrent(base, win, nthreads=6, each=4):
    """Threads with their own size and query; every answer must be its own."""
    errors = []

    def worker(k):
        try:
            for n in range(each):
                width, core = 300 + 50 * k, (k + n) % 3
                st, body = render(base, timeout=60, query=f'render_cpu{{core="{core}"}}', width=width, height=150,
                                  **win)
                assert st == 200, (st, body[:200])
                w, h, rows = png_decode(body)
                present = {px for row in rows for px in row}
                assert (w, h) == (width, 150) and COLORS[0] in present and COLORS[1] not in present, (k, n, w, h)
                st, j = lkt.get_json(base + "/api/v1/render?" + urllib.parse.urlencode(
                    dict(query=f'render_cpu{{core="{core}"}}', format="json", **win)), timeout=60)
                assert st == 200 and j["data"]["legend"] == [f'render_cpu{{core="{core}", host="a:b"}}'], (k, n, j)
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a render thread hung"
    assert not errors, errors
    print(f"ok: {nthreads}x{each} concurrent renders of different sizes, each its own "
          f"({time.monotonic() - t0:.1f} s)")


def main():
    exe = sys.argv[1]
    with lkt.workdir("lk-render-") as work:
        with lkt.Server(exe, os.path.join(work, "data"), os.path.join(work, "server.log")) as srv:
            srv.start()
            now = int(time.time())
            load(srv.base, now)
            win = {"start": str(now - 3600), "end": str(now), "step": "60"}
            known_query(srv.base, win)
            bad_requests(srv.base, win)
            concurrent(srv.base, win)
            assert lkt.http("GET", srv.base + "/-/healthy")[0] == 200
            print("ok: the server is healthy after the renders")
        configured_limit(exe, work)


def configured_limit(exe, work):
    """limits.max_render_series from the config file."""
    cfg = os.path.join(work, "limit.yaml")
    with open(cfg, "w") as f:
        f.write("limits: { max_render_series: 2 }\n")
    with lkt.Server(exe, os.path.join(work, "data2"), os.path.join(work, "server.log"), ["--config", cfg]) as srv:
        srv.start()
        now = int(time.time())
        load(srv.base, now)
        win = {"start": str(now - 3600), "end": str(now), "step": "60"}
        expect_json_error("limits.max_render_series: 2", render(srv.base, query="render_cpu", **win), 422,
                          "execution", "returned 3 series; a graph draws at most 2")
        st, body = render(srv.base, query='render_cpu{core!="0"}', **win)
        assert st == 200 and png_decode(body)[:2] == (800, 300), st


if __name__ == "__main__":
    main()
