"""demo_app.py — the demo's workload and load generator, as real processes:
two `lookout demo-app` replicas share one loopback port (SO_REUSEPORT) and
both receive requests from `lookout loadgen`; every request burns the CPU it
was asked to and logs one line; loadgen stops by itself after --duration;
demo-app stops on SIGTERM and refuses bad flags."""
import os
import re
import resource
import signal
import subprocess
import sys
import time

import lkt

exe = sys.argv[1]


def wait_listening(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            status, body = lkt.http("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)
            if status == 200 and body == b"ok\n":
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("demo-app did not answer /healthz")


def main():
    port = lkt.free_port()
    with lkt.workdir("lk-demoapp-", logs=("app0.log", "app1.log", "load.log")) as work:
        apps = []
        for i in range(2):
            log = open(os.path.join(work, f"app{i}.log"), "w")
            apps.append(subprocess.Popen([exe, "demo-app", "--listen", f"127.0.0.1:{port}", "--work-ms", "15"],
                                         stdout=log, stderr=subprocess.STDOUT))
        try:
            wait_listening(port)
            t0 = time.time()
            with open(os.path.join(work, "load.log"), "w") as log:
                rc = subprocess.run([exe, "loadgen", "--url", f"http://127.0.0.1:{port}/", "--concurrency", "4",
                                     "--duration", "3s"], stdout=log, stderr=subprocess.STDOUT, timeout=30).returncode
            took = time.time() - t0
            assert rc == 0, rc
            assert 2.5 < took < 10, f"loadgen ran {took:.1f}s for --duration 3s"
            load = open(os.path.join(work, "load.log")).read()
            done = re.search(r'msg="load finished" ok=(\d+) failed=(\d+)', load)
            assert done, load
            ok, failed = int(done.group(1)), int(done.group(2))
            assert ok >= 20 and failed == 0, load
            assert load.count("msg=progress") >= 2, load
        finally:
            for p in apps:
                p.send_signal(signal.SIGTERM)
            for p in apps:
                assert p.wait(timeout=10) == 0
        served = []
        for i in range(2):
            lines = open(os.path.join(work, f"app{i}.log")).read().splitlines()
            reqs = [l for l in lines if "msg=request" in l]
            for l in reqs:
                m = re.fullmatch(r"level=info msg=request method=GET path=/ status=200 work_ms=15 duration_ms=(\d+)", l)
                assert m, l
                assert int(m.group(1)) >= 15, l
            assert lines[-1].startswith("level=info msg=stopping"), lines[-1:]
            served.append(len(reqs))
        # each counted answer was served; a request cut off by the end of the
        # run (at most one per worker) may have been served but not counted
        assert ok <= sum(served) <= ok + 4, (served, ok)
        assert min(served) >= 1, f"the kernel spread no request to one replica: {served}"
        # the CPU was really burned: >= 15 ms of CPU per request across both children
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert cpu.ru_utime + cpu.ru_stime >= 0.015 * ok, (cpu.ru_utime, ok)
    bad = subprocess.run([exe, "demo-app", "--work-ms", "-1"], capture_output=True, timeout=10)
    assert bad.returncode == 2 and b"--work-ms" in bad.stderr, bad
    bad = subprocess.run([exe, "loadgen", "--duration", "forever"], capture_output=True, timeout=10)
    assert bad.returncode == 2 and b"usage" in bad.stderr, bad
    print("demo_app: ok")


main()
