#!/usr/bin/env python3
"""gen_query_extra.py — the query bench's companion to ../shared/bench/gen_dataset.py.

Reads a dataset that gen_dataset.py wrote (text exposition, one block per
(node, scrape), meta in FILE.meta.json) and writes the same samples plus what
queries q6 and q8 need, in the same format and block order:

  - every container series gets cAdvisor's `id` label, the container's cgroup
    path `/kubepods/<qos>/pod<uid>/<container id>` (q6 runs a regex over it);
  - a classic histogram `http_request_duration_seconds` per (node, namespace)
    — 12 cumulative `_bucket` counters (le 0.005 … 10, +Inf) with `_sum` and
    `_count` — scraped with the node's block, at its timestamp (q8).

Deterministic for a given input and --seed. Writes OUT and OUT.meta.json (the
input's meta with series, samples and samples_per_metric updated).
Usage: gen_query_extra.py IN OUT [--seed N]
"""
import argparse
import hashlib
import json
import math
import random
import re

HIST = "http_request_duration_seconds"
LES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NAMESPACES = ["ns-%d" % i for i in range(10)]
POD_RE = re.compile(r'pod="([^"]*)"')
CONTAINER_RE = re.compile(r'container="([^"]*)"')
NODE_RE = re.compile(r'node="([^"]*)"')
INSTANCE_RE = re.compile(r'instance="([^"]*)"')


def cgroup_id(pod, container):
    uid = hashlib.md5(pod.encode()).hexdigest()
    qos = ("burstable", "besteffort", "guaranteed")[int(uid[0], 16) % 3]
    cid = hashlib.sha256((pod + "/" + container).encode()).hexdigest()[:12]  # a short container id
    return "/kubepods/%s/pod%s-%s-%s-%s-%s/%s" % (qos, uid[:8], uid[8:12], uid[12:16], uid[16:20], uid[20:], cid)


class Histogram:
    """One (node, namespace) histogram: request latencies lognormal around a
    median that drifts slowly, a request rate that varies per scrape."""

    def __init__(self, rng, node, instance, ns):
        self.rng = rng
        self.labels = 'instance="%s",job="ingress",namespace="%s",node="%s"' % (instance, ns, node)
        self.buckets = [0] * (len(LES) + 1)
        self.sum_ms = 0  # integer milliseconds: the _sum prints as an exact decimal
        self.rate = 5 + 60 * rng.random()
        self.median = 0.02 + 0.2 * rng.random()

    def scrape(self):
        rng = self.rng
        self.median = min(2.0, max(0.005, self.median * math.exp(rng.gauss(0, 0.02))))
        n = max(0, int(rng.gauss(self.rate, math.sqrt(self.rate))))
        mu = math.log(self.median)
        for _ in range(n):
            x = math.exp(rng.gauss(mu, 0.9))
            self.sum_ms += int(x * 1000)
            i = 0
            while i < len(LES) and x > LES[i]:
                i += 1
            self.buckets[i] += 1

    def lines(self, ts):
        out, cum = [], 0
        for i, c in enumerate(self.buckets):
            cum += c
            le = "+Inf" if i == len(LES) else repr(LES[i])
            out.append('%s_bucket{%s,le="%s"} %d %d\n' % (HIST, self.labels, le, cum, ts))
        out.append("%s_sum{%s} %d.%03d %d\n" % (HIST, self.labels, self.sum_ms // 1000, self.sum_ms % 1000, ts))
        out.append("%s_count{%s} %d %d\n" % (HIST, self.labels, cum, ts))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    meta = json.load(open(a.inp + ".meta.json"))
    rng = random.Random(a.seed)
    hists, ids, extra_series = {}, {}, 0
    per_metric = dict(meta["samples_per_metric"])
    added = 0

    def emit_block(dst, node, instance, ts):
        nonlocal added
        hs = hists.get(node)
        if hs is None:
            hs = hists[node] = [Histogram(rng, node, instance, ns) for ns in NAMESPACES]
        for h in hs:
            h.scrape()
            dst.writelines(h.lines(ts))
        added += len(hs) * (len(LES) + 3)

    with open(a.inp, "r", buffering=1 << 20) as src, open(a.out, "w", buffering=1 << 20) as dst:
        dst.write("# HELP %s Request latency at the ingress.\n# TYPE %s histogram\n" % (HIST, HIST))
        block = None  # (node, instance, ts) of the block being copied
        for line in src:
            if line[0] == "#" or line == "\n":
                dst.write(line)
                continue
            brace = line.index("{")
            close = line.index("}", brace)
            key = line[brace:close]
            ts = int(line[line.rindex(" ") + 1:])
            node = NODE_RE.search(key).group(1)
            if block and (block[0] != node or block[2] != ts):
                emit_block(dst, *block)
            if not block or block[0] != node or block[2] != ts:
                block = (node, INSTANCE_RE.search(key).group(1), ts)
            cid = ids.get(key)
            if cid is None:
                cid = ids[key] = cgroup_id(POD_RE.search(key).group(1), CONTAINER_RE.search(key).group(1))
            dst.write('%s{id="%s",%s' % (line[:brace], cid, line[brace + 1:]))
        if block:
            emit_block(dst, *block)
    extra_series = sum(len(hs) for hs in hists.values()) * (len(LES) + 3)
    per_hist = added // (len(LES) + 3)
    per_metric[HIST + "_bucket"] = per_hist * (len(LES) + 1)
    per_metric[HIST + "_sum"] = per_hist
    per_metric[HIST + "_count"] = per_hist
    meta.update(series=meta["series"] + extra_series, samples=meta["samples"] + added,
                samples_per_metric=per_metric,
                extra="gen_query_extra.py --seed %d: cAdvisor id label; %s per (node, namespace)" % (a.seed, HIST))
    with open(a.out + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
