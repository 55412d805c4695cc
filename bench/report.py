#!/usr/bin/env python3
"""report.py — render the figure tables of README.md and bench/README.md from
committed result files, so no figure is typed by hand.

Each table sits between marker comments naming a renderer and a result file
(relative to the repository root):

    <!-- bench:query bench/results/query-200c-24h-15s-seed1.json -->
    ...generated...
    <!-- /bench -->

Everything between the markers is replaced; each table says which command
produced it and from which file, with the run's date, commit, machine and load.

    bench/report.py            rewrite the files in place
    bench/report.py --check    exit 1 if a file is not what the results give
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["README.md", "bench/README.md"]
BLOCK = re.compile(r"(<!-- bench:(\S+) (\S+) -->\n)(.*?)(<!-- /bench -->)", re.S)
QUERY_NAMES = [("q1_sum_rate_cpu", "q1 `sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))`, 24 h at 60 s"),
               ("q2_max_mem_ns1", "q2 `max_over_time(container_memory_working_set_bytes{namespace=\"ns-1\"}[1h])`, 24 h at 60 s"),
               ("q3_raw_series", "q3 one series over 24 h at the scrape step (`query_range`)"),
               ("q4_raw_samples", "q4 the same series as raw samples (instant `series[24h]`)"),
               ("q5_topk_cpu", "q5 `topk(10, rate(container_cpu_usage_seconds_total[5m]))`, 24 h at 60 s"),
               ("q6_regex_cpu", "q6 `sum by (namespace) (rate(container_cpu_usage_seconds_total{id=~\".*pod.*\"}[5m]))`, "
                "24 h at 60 s"),
               ("q8_hist_p99", "q8 `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`, "
                "24 h at 60 s")]
PEER_NAMES = {"lookout": "Lookout", "prometheus": "Prometheus 2.42", "victoria-metrics": "VictoriaMetrics 1.79"}


def fnum(v, nd=1):
    return "{:,.{}f}".format(v, nd)


def ratio(x):
    return "%.0f×" % x if x >= 10 else "%.2f×" % x


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def source_line(doc, path, command=None):
    """Where a table comes from: command, file, date, commit, machine, load."""
    cmd = command or doc.get("command")
    if "git_commit" in doc:
        m = doc["machine"]
        when = doc["date"].replace("T", " ").replace("Z", " UTC")
        return ("Source: `%s` → `%s`; run %s, commit `%s`%s, %s (%d cores), kernel %s; "
                "load average %s at start, %s at end." % (
                    cmd, path, when, doc["git_commit"][:10], " + uncommitted changes" if doc["git_dirty"] else "",
                    m["cpu_model"], m["cores"], m["kernel"],
                    "/".join("%.1f" % x for x in m["loadavg_start"]),
                    "/".join("%.1f" % x for x in m["loadavg_end"])))
    when = doc.get("when", doc.get("date", "?")).replace("T", " ").replace("Z", " UTC")
    m = doc.get("machine", {})
    cpu = m.get("cpu_model", m.get("cpu", ""))
    return ("Source: `%s` → `%s`; run %s, %s%s cores, kernel %s (written before result files carried the "
            "commit, CPU model and load average)." % (cmd or "?", path, when, cpu + ", " if cpu else "",
                                                       m.get("cpus", "?"), m.get("kernel", "?")))


# ---------------------------------------------------------------- tsdb

def tsdb_rows(doc):
    return [r for r in doc["results"] if "error" not in r]


def ingest_rss_mib(r):
    """Peak RSS at the end of the ingest (results written before it was recorded: None)."""
    if "peak_rss_ingest_kb" not in r:
        return None
    return max(r["peak_rss_ingest_kb"], r.get("ingest_tool_peak_rss_kb") or 0) / 1024


def render_tsdb(doc, path):
    rows = []
    during = all(ingest_rss_mib(r) is not None for r in tsdb_rows(doc))
    for r in tsdb_rows(doc):
        rss = max(r["peak_rss_kb"], r.get("ingest_tool_peak_rss_kb") or 0) / 1024
        rows.append([("**%s**" if r["peer"] == "lookout" else "%s") % PEER_NAMES[r["peer"]], r["path"],
                     "{:,}".format(r["samples_stored"]), fnum(r["ingest_s"]), "{:,}".format(r["samples_per_s"]),
                     fnum(r["ingest_cpu_s"]), "%.2f" % r["bytes_per_sample"]]
                    + (["%.0f" % ingest_rss_mib(r)] if during else []) + ["%.0f" % rss])
    out = [table(["peer", "path", "samples", "ingest s", "samples/s", "CPU s", "B/sample"]
                 + (["peak RSS MiB, ingest"] if during else []) + ["peak RSS MiB" + (", whole run" if during else "")],
                 rows), ""]
    vm = {r["path"]: r for r in tsdb_rows(doc) if r["peer"] == "victoria-metrics"}
    for r in tsdb_rows(doc):
        if r["peer"] == "lookout" and r["path"] in vm:
            v = vm[r["path"]]
            rss = ("peak RSS during the ingest %.0f vs %.0f MiB (%.2f×), whole run %.0f vs %.0f MiB" % (
                ingest_rss_mib(r), ingest_rss_mib(v), ingest_rss_mib(r) / ingest_rss_mib(v),
                r["peak_rss_kb"] / 1024, v["peak_rss_kb"] / 1024) if during else
                "peak RSS %.0f vs %.0f MiB" % (r["peak_rss_kb"] / 1024, v["peak_rss_kb"] / 1024))
            out.append("- Lookout / VictoriaMetrics, %s: %.2f× the samples/s, %.2f vs %.2f bytes/sample, %s." % (
                r["path"], r["samples_per_s"] / v["samples_per_s"], r["bytes_per_sample"], v["bytes_per_sample"], rss))
    out += ["", "Every sample sent was read back (`count_over_time` per metric). Query latency: bench/query.",
            "", source_line(doc, path, "bench/tsdb")]
    return "\n".join(out)


def render_summary_tsdb(doc, path):
    by = {(r["peer"], r["path"]): r for r in tsdb_rows(doc)}

    def cell(peer, p, fmt):
        r = by.get((peer, p))
        return fmt(r) if r else "—"
    rate = lambda r: "%.2f M samples/s" % (r["samples_per_s"] / 1e6)  # noqa: E731
    rows = [["import, %s M samples" % fnum(doc["dataset"]["samples"] / 1e6, 1)] +
            [cell(p, "import", rate) for p in ("lookout", "victoria-metrics", "prometheus")],
            ["remote_write, same data"] + [cell(p, "remote_write", rate) for p in
                                           ("lookout", "victoria-metrics", "prometheus")]]
    bps = lambda peer: ", ".join(sorted({"%.2f" % r["bytes_per_sample"] for (p, _), r in by.items() if p == peer})) or "—"  # noqa: E731,E501
    rss = lambda peer: ", ".join("%.0f" % (max(r["peak_rss_kb"], r.get("ingest_tool_peak_rss_kb") or 0) / 1024)  # noqa: E731
                                 for (p, _), r in sorted(by.items()) if p == peer) or "—"
    rows.append(["bytes per sample on disk, after flush"] + [bps(p) for p in ("lookout", "victoria-metrics", "prometheus")])
    rows.append(["peak RSS MiB (per ingest path)"] + [rss(p) for p in ("lookout", "victoria-metrics", "prometheus")])
    return "\n".join([table(["ingest (bench/tsdb)", "Lookout", "VictoriaMetrics 1.79", "Prometheus 2.42"], rows), "",
                      source_line(doc, path, "bench/tsdb")])


# ---------------------------------------------------------------- query

def query_peers(doc):
    return [r for r in doc["results"] if "warm" in r]


def render_query(doc, path, compact=False):
    peers = query_peers(doc)
    order = sorted(peers, key=lambda r: ["lookout", "victoria-metrics", "prometheus"].index(r["peer"]))
    live = all("warm_ingest" in r for r in order)
    kinds = [("cold", "cold", "ms"), ("warm", "warm", "median_ms")]
    kinds += [("warm_ingest", "warm while ingesting", "median_ms")] if live else []
    head = ["query"]
    for _, name, _ in kinds:
        head += ["%s %s ms" % (PEER_NAMES[r["peer"]], name) for r in order]
    head += ["Lookout / fastest peer, %s" % name for _, name, _ in kinds]
    rows = []
    lk = next((r for r in order if r["peer"] == "lookout"), None)
    others = [r for r in order if r["peer"] != "lookout"]
    for q, label in QUERY_NAMES:
        if not all(q in r["cold"] for r in order):
            continue
        row = [label if not compact else label.split(" ", 1)[1]]
        for kind, _, key in kinds:
            row += [fnum(r[kind][q][key]) for r in order]
        for kind, _, key in kinds:
            row.append("%.2f×" % (lk[kind][q][key] / min(r[kind][q][key] for r in others)) if lk and others else "—")
        rows.append(row)
    out = [table(head, rows), ""]
    if not compact:
        out.append("Cold: the first run of each query after a fresh start of the server, every cache off "
                   "(%s), once the server is idle (no background compaction or merges), OS page cache %s. "
                   "Warm: one fresh start with every cache on, one discarded run, then the median of %d.%s "
                   "Caches: %s." % (
                       "Lookout `storage.query_cache_size: 0`, VictoriaMetrics `-search.disableCache`, "
                       "Prometheus has no result cache",
                       "dropped right before every cold run (every side)" if doc["page_cache_dropped"]
                       else "not dropped (not root): the data sits in page cache for every side",
                       doc["repeats"], LIVE_NOTE if live else "",
                       "; ".join("%s — %s" % (PEER_NAMES[r["peer"]], r["caches"]) for r in order)))
        out.append("")
        out.append("Dataset: %s series, %s samples. Ingest paths: %s. %s" % (
            "{:,}".format(doc["dataset"]["series"]), "{:,}".format(doc["dataset"]["samples"]),
            ", ".join("%s %s" % (PEER_NAMES[r["peer"]], r["path"]) for r in order),
            "Returned series and points match across peers." if not doc["mismatches"] else
            "Mismatches: " + "; ".join(doc["mismatches"])))
        errs = [r for r in doc["results"] if "error" in r]
        if errs:
            out.append("Failed runs: " + "; ".join("%s %s: %s" % (r["peer"], r["path"], r["error"][:120]) for r in errs))
        out.append("")
    out.append(source_line(doc, path))
    return "\n".join(out)


LIVE_NOTE = (" Warm while ingesting: the same runs right after, while remote_write keeps adding the next "
             "scrapes of every series (after the queried range) every 0.5 s, each timed run after one more "
             "acknowledged write (`bench/query/live_ingest.py`).")


def render_summary_query(doc, path):
    return render_query(doc, path, compact=True)


def render_longrange(doc, path):
    """q7 (bench/longrange): Lookout with rollups beside VictoriaMetrics, cold and warm, and the disk
    the rollups take."""
    peers = sorted([r for r in doc["results"] if "cold" in r],
                   key=lambda r: ["lookout", "victoria-metrics"].index(r["peer"]))
    names = [("q7_q1_sum_rate_cpu_30d", "q7·q1 `sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))`"),
             ("q7_q2_max_mem_ns1_30d", "q7·q2 `max_over_time(container_memory_working_set_bytes{namespace=\"ns-1\"}[1h])`")]
    head = ["query, %g days at a 1 h step" % (doc["dataset"]["hours"] / 24)]
    live = bool(peers) and all("warm_ingest" in r for r in peers)
    head += ["%s cold ms" % PEER_NAMES[r["peer"]] for r in peers] + ["%s warm ms" % PEER_NAMES[r["peer"]] for r in peers]
    head += ["%s warm while ingesting ms" % PEER_NAMES[r["peer"]] for r in peers] if live else []
    lk = next((r for r in peers if r["peer"] == "lookout"), None)
    vm = next((r for r in peers if r["peer"] == "victoria-metrics"), None)
    head += ["Lookout / VictoriaMetrics, cold"]
    rows = []
    for q, label in names:
        row = [label] + [fnum(r["cold"][q]["ms"]) for r in peers] + [fnum(r["warm"][q]["median_ms"]) for r in peers]
        row += [fnum(r["warm_ingest"][q]["median_ms"]) for r in peers] if live else []
        row.append("%.2f×" % (lk["cold"][q]["ms"] / vm["cold"][q]["ms"]) if lk and vm else "—")
        rows.append(row)
    out = [table(head, rows), ""]
    if lk and "rollup_bytes" in lk:
        out.append("Lookout's data directory after the flush: %s MiB, of which the hourly rollups (with their 5 m tails) take %s MiB "
                   "(+%.1f %% over the raw blocks)." % (fnum(lk["data_dir_bytes"] / 2**20),
                                                         fnum(lk["rollup_bytes"] / 2**20), 100 * lk["rollup_extra_disk"]))
    out.append("Cold: median of %d first runs, each after a fresh start with every cache off, idle, OS page cache %s.%s "
               "Dataset: %s series, %s samples at %d s (%s)%s." % (
                   doc["cold_runs"], "dropped" if doc["page_cache_dropped"] else "not dropped (not root)",
                   LIVE_NOTE if live else "",
                   "{:,}".format(doc["dataset"]["series"]), "{:,}".format(doc["dataset"]["samples"]),
                   doc["dataset"]["interval"], doc["dataset"]["generator"],
                   "" if not doc["mismatches"] else "; mismatches: " + "; ".join(doc["mismatches"])))
    errs = [r for r in doc["results"] if "error" in r]
    if errs:
        out.append("Failed runs: " + "; ".join("%s: %s" % (r["peer"], r["error"][:120]) for r in errs))
    out += ["", source_line(doc, path)]
    return "\n".join(out)


# ---------------------------------------------------------------- collector

def render_collector(doc, path):
    rows = []
    for r in doc["rows"]:
        if "cpu_ms_per_cycle" not in r:
            rows.append([r["row"], "failed: " + r.get("error", "?")[:80], "", "", ""])
            continue
        src = r.get("source")
        name = r["row"] + ("" if not src or src == "this run" else " — " + src)
        rows.append([name, "%.2f" % r["cpu_pct_of_one_core"], fnum(r["cpu_ms_per_cycle"]),
                     fnum(r["peak_rss_mib"]), "%d / %d" % (r["discovered"], r["expected"])])
    out = [table(["%d containers, 1 s interval" % doc["n_containers"], "CPU % of one core",
                  "CPU ms per 1 s cycle", "peak RSS MiB", "containers named"], rows), "",
           "CPU: utime+stime from /proc/PID/stat over a %g s window after a %g s warm-up (collector-alone "
           "rows: getrusage of the bench process); farm: `../shared/bench/cgroup_farm.sh create %d` with "
           "FARM_HOLD_PCT=100 (a process in every container), created in %.0f s." % (
               doc["window_s"], doc["warmup_s"], doc["n_containers"], doc["farm"]["create_s"]), "",
           source_line(doc, path)]
    return "\n".join(out)


def render_collector_rss(doc, path):
    runs = [r for r in doc["rows"] if "rss_mib_per_min" in r]
    head = ["minute after every container was named"] + ["%s: RSS MiB" % r["binary"] for r in runs]
    n = max(len(r["rss_mib_per_min"]) for r in runs)
    rows = [[str(m)] + [fnum(r["rss_mib_per_min"][m]) if m < len(r["rss_mib_per_min"]) else "" for r in runs]
            for m in range(0, n, 1 if n <= 31 else 5)]
    rows.append(["peak (VmHWM)"] + [fnum(r["peak_rss_mib"]) for r in runs])
    rows.append(["CPU % of one core"] + ["%.2f" % r["cpu_pct_of_one_core"] for r in runs])
    out = [table(head, rows), "",
           "`lookout up` with every cgroup file read every second (collector.interval and detail_interval 1s) on "
           "`../shared/bench/cgroup_farm.sh create %d` (FARM_HOLD_PCT=100); the builds run side by side on the same "
           "farm; RSS (VmRSS) once a minute for %g minutes (\"this tree\": the commit below)." % (
               doc["n_containers"], doc["rss_minutes"]), "",
           source_line(doc, path)]
    return "\n".join(out)


# ---------------------------------------------------------------- logs

def render_logs(doc, path):
    mb = doc["corpus"]["line_bytes"] / 1e6
    ing = table(["ingest path", "MB/s per core", "MB/s wall", "CPU s (the push client's own not counted)"],
                [[r["path"], fnum(r["mb_per_cpu_s"], 0), fnum(r["mb_per_s_wall"], 0), fnum(r["cpu_s"])]
                 for r in doc["ingest"]])
    d = doc["disk"]
    srch = table(["search over the whole range", "LogQL", "Lookout ms (first run)", "lines", "`rg -c` ms (first run)",
                  "rg count", "rg / Lookout"],
                 [[s["what"], "`%s`" % s["logql"].replace("|", "\\|"),
                   "%s (%s)" % (fnum(s["lookout"]["median_ms"], 2), fnum(s["lookout"]["first_ms"], 2)),
                   "{:,}".format(s["lookout_lines"]),
                   "%s (%s)" % (fnum(s["rg"]["median_ms"]), fnum(s["rg"]["first_ms"])),
                   "{:,}".format(s["rg_count"]) + ("" if s["counts_match"] else " (counts differ)"),
                   ratio(s["rg"]["median_ms"] / s["lookout"]["median_ms"])] for s in doc["searches"]])
    return "\n".join([
        "Corpus: %s MB of lines (%s lines, %d loghub files repeated with shifted ids)." % (
            fnum(mb, 0), "{:,}".format(doc["corpus"]["lines"]), doc["corpus"]["files"]), "", ing, "",
        "On disk after the protobuf push: %s MB in %d blocks (%d streams, skip-index blooms %s MB): "
        "compression %.1f× (raw line bytes / all bytes on disk)." % (
            fnum(d["bytes"] / 1e6), d["blocks"], d["streams"], fnum(d["bloom_bytes"] / 1e6), d["compression_ratio"]),
        "", srch, "",
        "Medians of 5 after a first run; Lookout queries the store in-process (no HTTP), `rg -c` reads the raw "
        "files; both have their data in the OS page cache.", "", source_line(doc, path)])


def render_summary_logs(doc, path):
    ing = {r["path"]: r for r in doc["ingest"]}
    rows = [["log ingest, MB/s per core: " + p.replace("POST /loki/api/v1/push, ", "push ").replace(
        "the tailer (plain files, one thread)", "tailer"), fnum(r["mb_per_cpu_s"], 0), "—"] for p, r in ing.items()]
    rows.append(["log compression (raw / on disk)", "%.1f×" % doc["disk"]["compression_ratio"], "—"])
    for s in doc["searches"]:
        rows.append(["%s search over %s MB, ms" % (s["what"], fnum(doc["corpus"]["line_bytes"] / 1e6, 0)),
                     fnum(s["lookout"]["median_ms"], 2), "`rg -c`: %s" % fnum(s["rg"]["median_ms"])])
    return "\n".join([table(["logs (bench/logs)", "Lookout", "beside it"], rows), "", source_line(doc, path)])


def render_loki_reference(doc, path):
    """Lookout and Loki from ../shared/bench/logs_peers.py's run: a reference, not this repository's bench."""
    res = {r["peer"]: r for r in doc["results"]}
    peers = [p for p in ("lookout", "loki") if p in res]
    rows = [["push protobuf, MB per CPU s"] + [fnum(res[p]["mb_per_cpu_s"]) for p in peers],
            ["raw / sealed store"] + ["%.2f×" % res[p]["raw_over_store"] for p in peers],
            ["peak RSS MiB"] + ["%.0f" % (res[p]["peak_rss_kb"] / 1024) for p in peers]]
    for q, qd in doc["queries"].items():
        cells = []
        for p in peers:
            r = res[p]["queries"].get(q, {})
            wrong = r.get("matching_lines") != qd["corpus_matching_lines"]
            cells.append("%s / %s" % (fnum(r["cold_ms"]), fnum(r["warm_median_ms"]))
                         + (" (found %s of %s lines)" % ("{:,}".format(r.get("matching_lines", 0)),
                                                        "{:,}".format(qd["corpus_matching_lines"])) if wrong else ""))
        rows.append(["`%s`, cold / warm ms" % qd["expr"].replace("|", "\\|")] + cells)
    when = doc["when"].replace("T", " ").replace("Z", " UTC")
    return "\n".join([
        table(["reference run, not this repository's bench"] + [res[p]["version"].split(" (")[0] for p in peers], rows),
        "", "Reference: `python3 ../shared/bench/logs_peers.py --mb %d` → `%s` (run %s, %s %s cores): a different "
        "harness — HTTP, all %d streams, `limit=1000`, cold = first run in the process without dropping the page "
        "cache, warm = median of %d. Loki was not re-run here." % (
            doc["corpus"]["mib"], path, when, doc["machine"].get("cpu", ""), doc["machine"].get("cpus", "?"),
            doc["corpus"]["streams"], doc.get("repeats", 5))])


LOGS_PEERS = [("lookout", "Lookout"), ("loki", "Loki 2.4.2"), ("rg-zstd", "`zstd -3` files + `rg -z -c`"),
              ("rg", "raw files + `rg -c`")]


def logs_peers_rows(doc):
    """Rows of the four-peer log table: (label, cells per peer, Lookout/Loki ratio, target text, met)."""
    res = {r["peer"]: r for r in doc["results"] if "error" not in r}
    peers = [(p, n) for p, n in LOGS_PEERS if p in res]
    lk, lo = res.get("lookout"), res.get("loki")

    def ratio_to(x, y):
        return x / y if x is not None and y else None

    rows = []
    ing = {p: res[p].get("mb_per_cpu_s") for p, _ in peers}
    r = ratio_to(ing.get("lookout"), ing.get("loki"))
    rows.append(("ingest, MB of lines per CPU second (files: zstd's CPU)",
                 [fnum(ing[p]) if ing[p] else "—" for p, _ in peers], r, "≥ 5×", r is not None and r >= 5))
    store = {p: res[p]["store_bytes"] for p, _ in peers}
    r = ratio_to(store.get("lookout"), store.get("loki"))
    rz = ratio_to(store.get("lookout"), store.get("rg-zstd"))
    rows.append(("sealed store MB (raw / store)",
                 ["%s (%.1f×)" % (fnum(store[p] / 1e6), res[p]["raw_over_store"]) for p, _ in peers], r,
                 "≤ 0.4× Loki, ≤ 0.8× zstd files (%s)" % ("%.2f×" % rz if rz else "—"),
                 r is not None and r <= 0.4 and (rz is None or rz <= 0.8)))
    rss = {p: res[p].get("peak_rss_kb") for p, _ in peers}
    r = ratio_to(rss.get("lookout"), rss.get("loki"))
    rows.append(("peak RSS MiB", ["%.0f" % (rss[p] / 1024) for p, _ in peers], r, "≤ 0.5×", r is not None and r <= 0.5))
    for q, qd in doc["queries"].items():
        want = qd["corpus_matching_lines"]
        cells = []
        for p, _ in peers:
            x = res[p]["queries"][q]
            got = x.get("matching_lines")
            cells.append("%s / %s%s" % (fnum(x["cold_ms"]), fnum(x["warm_median_ms"]),
                                        "" if got == want else " (found %s of %s lines)" % (
                                            "{:,}".format(got or 0), "{:,}".format(want))))
        r = ratio_to(lk["queries"][q]["cold_ms"], lo["queries"][q]["cold_ms"]) if lk and lo else None
        same = all(res[p]["queries"][q].get("matching_lines") == want for p, _ in peers)
        target, met = "≤ 0.1×, same lines", r is not None and r <= 0.1 and same
        if q == "common_word" and "rg" in res and lk:
            target += ", ≤ raw `rg`"
            met = met and lk["queries"][q]["cold_ms"] <= res["rg"]["queries"][q]["cold_ms"]
        rows.append(("`%s` (%s lines), cold / warm ms" % (qd["expr"].replace("|", "\\|"), "{:,}".format(want)),
                     cells, r, target, met))
    m = "metric_sum_by_system"
    if lk and lo:
        cells = ["%s / %s" % (fnum(res[p]["queries"][m]["cold_ms"]), fnum(res[p]["queries"][m]["warm_median_ms"]))
                 if m in res[p]["queries"] else "—" for p, _ in peers]
        r = ratio_to(lk["queries"][m]["cold_ms"], lo["queries"][m]["cold_ms"])
        rows.append(("`%s`, 6 h at 60 s, cold / warm ms" % lk["queries"][m]["query"].replace("|", "\\|"),
                     cells, r, "≤ 0.1×", r is not None and r <= 0.1))
    return peers, rows


def render_logs_peers(doc, path):
    peers, rows = logs_peers_rows(doc)
    head = [""] + [n for _, n in peers] + ["Lookout / Loki (cold)", "target", "met"]
    body = [[label] + cells + ["%.2f×" % r if r is not None else "—", target, "yes" if met else "**no**"]
            for label, cells, r, target, met in rows]
    c = doc["corpus"]
    notes = [n for n in doc.get("notes", [])]
    return "\n".join([
        "Corpus: %s MiB of loghub lines (%s lines, %d streams), pushed as protobuf+snappy by %d clients; "
        "line queries over all streams and the 6 h, `limit=1000` backward; cold = first run in the process "
        "(page cache not dropped), warm = median of %d. Lookout is sealed by `POST /api/v1/admin/logs/flush`, "
        "Loki by `/flush`; the file peers hold one file per stream and count every match (no newest-1,000 cut)."
        % (c["mib"], "{:,}".format(c["lines"]), c["streams"], doc["push"]["clients"], doc["repeats"]), "",
        table(head, body), "",
        ("Checks: " + "; ".join(notes)) if notes else "Checks: every peer counted the corpus' matching lines on "
        "every query, and Lookout and Loki returned the same newest lines and metric points.", "",
        source_line(doc, path)])


def render_summary_logs_peers(doc, path):
    peers, rows = logs_peers_rows(doc)
    head = ["logs beside Loki and files"] + [n for _, n in peers]
    return "\n".join([table(head, [[label] + cells for label, cells, _, _, _ in rows]), "", source_line(doc, path)])


# ---------------------------------------------------------------- regex

def render_regex(doc, path):
    """bench/regex: the same figures from the tree before RE2 and this one."""
    b, a = doc["before"], doc["after"]
    logs = table(["regex", "matches before", "matches after", "before ms", "after ms"],
                 [["`%s`" % x["regex"].replace("|", "\\|"), fnum(x["matches"], 0), fnum(y["matches"], 0),
                   fnum(x["ms"]), fnum(y["ms"])] for x, y in zip(b["log_filters"], a["log_filters"])])
    sel = table(["matcher", "series", "before ms", "after ms"],
                [["`%s`" % x["matcher"].replace("|", "\\|"), fnum(y["series"], 0), fnum(x["us"] / 1000),
                  fnum(y["us"] / 1000)] for x, y in zip(b["tsdb_selectors"], a["tsdb_selectors"])])
    return "\n".join([
        "(a) `sum(count_over_time({job=\"loghub\"} |~ `re` [range]))` over %.1f MB of loghub lines, "
        "median over %d rounds:" % (a["log_corpus_bytes"] / 1e6, a["rounds"]), "", logs, "",
        "(b) `tsdb_select` of one metric plus one regex matcher over %s head series, labels only:"
        % fnum(a["tsdb_series"], 0), "", sel, "",
        "Before: `%s` (%s); after: `%s` (%s)." % (b["commit"][:10], b["engine"], a["commit"][:10], a["engine"]),
        source_line(doc, path)])


# ---------------------------------------------------------------- alerting

def render_alerting(doc, path):
    """bench/alerting: latency to a firing alert and rule throughput, beside Prometheus."""
    names = {"lookout": "**Lookout**", "prometheus": "Prometheus %s" % doc.get("prometheus_version", ""),
             "prometheus+alertmanager": "Prometheus %s + Alertmanager" % doc.get("prometheus_version", "")}
    lat = table(["peer", "seen through", "p50 ms", "p99 ms", "max ms"],
                [[names[r["peer"]], r["note"], fnum(r["p50_ms"], 0), fnum(r["p99_ms"], 0), fnum(r["max_ms"], 0)]
                 for r in doc["latency"]])
    thr = table(["peer", "rules/s", "CPU % of one core", "rules per CPU second", "missed iterations",
                 "failed evaluations", "alerts firing"],
                [[names[r["peer"]], fnum(r["rules_per_s"], 0), "%.1f" % r["cpu_pct_of_one_core"],
                  fnum(r["rules_per_cpu_s"] or 0, 0), fnum(r["missed_iterations"], 0), fnum(r["failures"], 0),
                  fnum(r["alerts_firing"], 0)] for r in doc["throughput"]])
    by = {r["peer"]: r for r in doc["throughput"]}
    ds = doc["dataset"]
    out = ["Latency from the remote_write of the first sample that makes `bench_trigger > 0` true "
           "(`for: 0s`, evaluation interval 1 s) to the alert seen firing, %d alerts:" % doc["alerts"], "", lat, "",
           "%s alerting rules in 10 groups at a 1 s interval over %s series (`gen_dataset.py`, %d containers, "
           "the %d minutes before the run), CPU of the whole process over a %.0f s window:" % (
               fnum(doc["rules"], 0), fnum(ds["series"], 0), ds["containers"], ds["minutes"],
               doc["throughput"][0]["window_s"]), "", thr, ""]
    if "lookout" in by and "prometheus" in by and by["prometheus"]["rules_per_cpu_s"]:
        out.append("- Lookout / Prometheus: %s the rules per CPU second." % ratio(
            by["lookout"]["rules_per_cpu_s"] / by["prometheus"]["rules_per_cpu_s"]))
    out += ["- Data: %s." % doc["data_loading"], "", source_line(doc, path)]
    return "\n".join(out)


# ---------------------------------------------------------------- autoscale

def render_autoscale(doc, path):
    """bench/autoscale: load step to HPA decision and to new replica Ready; pods started per second."""
    st, p = doc["load_steps"], doc["many_pods"]
    n = len(st["steps"])

    def row(label, x, target):
        if not x["n"]:
            return [label, "none within the step timeout", "", "", "", target]
        return [label + ("" if x["n"] == n else " (%d of %d steps)" % (x["n"], n)), "%.2f" % x["median_s"],
                "%.2f" % x["p95_s"], "%.2f" % x["min_s"], "%.2f" % x["max_s"], target]
    steps = table(["load step, %d steps" % n, "median s", "p95 s", "min s", "max s", "target"],
                  [row("→ HPA decision (event `timeMs`)", st["decision"],
                       "≤ %g s (2 collection intervals + 1 sync)" % doc["targets"]["decision_s"]),
                   row("→ new replica Ready (pods list every %g ms)" % (doc["poll_s"] * 1000), st["ready"],
                       "p95 ≤ %g s" % doc["targets"]["ready_p95_s"])])
    pods = table(["%d pods (`sleep 600`, cpu 1m)" % p["pods"], "figure"],
                 [["POST → all Ready", "%.1f s = %.1f pods/s" % (p["start_s"], p["pods_per_s"])],
                  ["`lookout up` own CPU (utime+stime, children not counted), over %.0f s" % p["window_s"],
                   "%.2f %% of a core" % p["lookout_cpu_pct"]],
                  ["`lookout up` RSS", "%.1f MiB" % p["lookout_rss_mib"]],
                  ["%d shims: CPU, summed RSS" % p["shims"], "%.2f %%, %.1f MiB" % (p["shims_cpu_pct"], p["shims_rss_mib"])],
                  ["%d `runc run`: CPU, summed RSS" % p["runc_run"],
                   "%.2f %%, %.1f MiB" % (p["runc_cpu_pct"], p["runc_rss_mib"])],
                  ["DELETE → no container in `runc list` (grace 1 s)", "%.1f s" % p["delete_s"]]])
    h = doc["hpa"]
    return "\n".join([
        "Settings: " + ", ".join("`%s: %s`" % kv for kv in doc["settings"].items()) + "; HPA %d %% CPU of requests "
        "%s (limit %s), %d..%d replicas, scale-down stabilization %d s; `lookout loadgen --concurrency %d`." % (
            h["target_cpu_pct"], h["requests_cpu"], h["limits_cpu"], h["min"], h["max"], doc["down_window_s"],
            h["loadgen_concurrency"]), "", steps, "",
        "Kubernetes: %s." % doc["kubernetes_default"], "", pods, "", source_line(doc, path)])


def render_summary_autoscale(doc, path):
    st, p = doc["load_steps"], doc["many_pods"]
    ms = lambda x: "%.1f / %.1f s" % (x["median_s"], x["p95_s"]) if x["n"] else "none"  # noqa: E731
    rows = [["load step → HPA decision, median / p95", ms(st["decision"]), "15 s sync on top of 15–60 s metrics"],
            ["load step → new replica Ready, median / p95", ms(st["ready"]), "~30 s typical"],
            ["%d pods started (POST → all Ready)" % p["pods"], "%.1f pods/s" % p["pods_per_s"], "—"],
            ["`lookout up` own CPU / RSS with %d pods" % p["pods"],
             "%.2f %% of a core / %.0f MiB" % (p["lookout_cpu_pct"], p["lookout_rss_mib"]), "—"]]
    return "\n".join([table(["autoscaling (bench/autoscale), 1 s interval and sync", "Lookout",
                              "Kubernetes default (documented, not measured)"], rows), "", source_line(doc, path)])


def render_scaleout(doc, path):
    rows = [["metric samples (a scrape every %g s) → %s" % (doc["scrape_interval_seconds"], doc["peer"]),
             fnum(doc["samples"], 0), fnum(doc["samples"], 0), doc["duplicates"], doc["missing"]],
            ["log lines (%d per s) → a second `lookout server`" % doc["log_lines_per_second"],
             fnum(doc["lines"], 0), fnum(doc["lines"], 0), doc["duplicates"], doc["missing"]]]
    head = ["`lookout agent`, each target down %.0f s mid-run" % doc["outage_seconds"], "produced",
            "read back", "duplicates", "missing"]
    return "\n".join([table(head, rows), "", source_line(doc, path)])


# ---------------------------------------------------------------- render

def render_render(doc, path):
    """bench/render: GET /api/v1/render latency for one graph, beside its target."""
    row = ["%d series × %s points (%d h at %d s), %d×%d PNG" % (
        doc["series"], fnum(doc["points_per_series"], 0), doc["hours"], doc["step_s"], doc["width"], doc["height"]),
        fnum(doc["p50_ms"]), fnum(doc["p99_ms"]), fnum(doc["max_ms"]), fnum(doc["server_cpu_ms_per_render"]),
        "≤ %.0f ms" % doc["target_ms"]]
    return "\n".join([
        table(["render (query + rrd_graph + HTTP)", "p50 ms", "p99 ms", "max ms", "server CPU ms per render",
               "target"], [row]), "",
        "%d renders one after another on a kept-alive loopback connection after %d discarded; each answer "
        "checked to be a PNG of the requested size (%s bytes), with %d legend entries." % (
            doc["runs"], doc["warmup"], fnum(doc["png_bytes"], 0), doc["legend"]), "",
        source_line(doc, path)])


# ---------------------------------------------------------------- flows

FLOW_PEERS = {"lookout": "Lookout (`lookout flows`)", "softflowd": "softflowd 1.1.0 (`-r`)",
              "pmacctd": "pmacctd 1.7.7 (pcap_savefile, print plugin)"}


def render_flows(doc, path):
    rows = []
    for name, r in doc["results"].items():
        rows.append([FLOW_PEERS.get(name, name), fnum(r["packets_per_cpu_s"] / 1e6, 2), "%.2f" % r["cpu_s"],
                     fnum(r["peak_rss_kb"] / 1024)])
    lk = doc["results"]["lookout"]
    out = [table(["%s packets, %s concurrent flows" % (fnum(doc["packets"], 0), fnum(doc["concurrent_flows"], 0)),
                  "M packets per CPU s", "CPU s", "peak RSS MiB"], rows), "",
           "Lookout: %s× the faster peer's packets per CPU second (target ≥ 2×), %s bytes per active flow "
           "(peak RSS minus its RSS on a 1,000-packet file, over the flows; target ≤ 256)." % (
               "%.2f" % doc["ratio_vs_faster_peer"], fnum(lk["bytes_per_active_flow"], 0)), "",
           source_line(doc, path)]
    return "\n".join(out)


# ---------------------------------------------------------------- cardinality

def render_cardinality(doc, path):
    rows, ok = [], {r["peer"]: r for r in doc["results"] if "error" not in r}
    for r in doc["results"]:
        name = ("**%s**" if r["peer"] == "lookout" else "%s") % PEER_NAMES[r["peer"]]
        if r["peer"] not in ok:
            rows.append([name, "error: " + r["error"][:80]] + [""] * 7)
            continue
        rows.append([name, "{:,}".format(r["q9_series"]), fnum(r["ingest_s"]), "{:,}".format(r["series_per_s"]),
                     fnum(r["ingest_cpu_s"]), fnum(r["peak_rss_ingest_kb"] / 1024, 0),
                     fnum(r["peak_rss_kb"] / 1024, 0), fnum(r["q9_cold_ms"], 0),
                     fnum(r["q9_warm_ms"], 0)])
    ds = doc["dataset"]
    out = [table(["peer", "series", "ingest s", "series/s", "CPU s", "peak RSS MiB, ingest",
                  "peak RSS MiB, ingest + flush", "q9 cold ms",
                  "q9 warm ms"], rows), ""]
    if "lookout" in ok and "victoria-metrics" in ok:
        lk, vm = ok["lookout"], ok["victoria-metrics"]
        out.append("- Lookout / VictoriaMetrics: %.2f× the series/s, peak RSS %.2f×, q9 %.2f× the time cold and "
                   "%.2f× warm (same answer: %d names, %s series)." % (
                       lk["series_per_s"] / vm["series_per_s"], lk["peak_rss_ingest_kb"] / vm["peak_rss_ingest_kb"],
                       lk["q9_cold_ms"] / vm["q9_cold_ms"], lk["q9_warm_ms"] / vm["q9_warm_ms"], lk["q9_names"],
                       "{:,}".format(lk["q9_series"])))
    out += ["", "%s series (%d metric names, one sample each) in %d remote_write requests of %s series on %d "
            "connections; q9 `%s`, instant. Cold: first query after a restart with every cache off; warm: median "
            "of %d after one, caches on." % ("{:,}".format(ds["series"]), ds["names"], ds["requests"],
                                             "{:,}".format(ds["max_batch"]), ds["shards"], doc["query"],
                                             doc["repeats"]),
            "", source_line(doc, path, "bench/cardinality/run.sh")]
    return "\n".join(out)


RENDERERS = {"cardinality": render_cardinality, "flows": render_flows, "tsdb": render_tsdb, "summary-tsdb": render_summary_tsdb, "query": render_query,
             "summary-query": render_summary_query, "collector": render_collector, "collector-rss": render_collector_rss, "logs": render_logs,
             "summary-logs": render_summary_logs, "loki-reference": render_loki_reference,
             "regex": render_regex, "alerting": render_alerting, "autoscale": render_autoscale,
             "summary-autoscale": render_summary_autoscale, "scaleout": render_scaleout,
             "render": render_render, "logs-peers": render_logs_peers,
             "summary-logs-peers": render_summary_logs_peers, "longrange": render_longrange}


def render_file(text):
    def sub(m):
        kind, rel = m.group(2), m.group(3)
        if kind not in RENDERERS:
            raise SystemExit("unknown renderer %r" % kind)
        full = os.path.normpath(os.path.join(ROOT, rel))
        with open(full) as f:
            doc = json.load(f)
        return m.group(1) + RENDERERS[kind](doc, rel) + "\n" + m.group(5)
    return BLOCK.sub(sub, text)


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for rel in FILES:
        p = os.path.join(ROOT, rel)
        with open(p) as f:
            old = f.read()
        new = render_file(old)
        if new != old:
            stale.append(rel)
            if not check:
                with open(p, "w") as f:
                    f.write(new)
    if check and stale:
        print("out of date (run bench/report.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    if not check:
        print("rewrote: " + (", ".join(stale) or "nothing (up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
