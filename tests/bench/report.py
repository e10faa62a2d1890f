#!/usr/bin/env python3
"""Writes docs/benchmarks.md and docs/benchmarks/*.png from a tests/bench/run.sh result
directory. Standard library only; plots with gnuplot.

    python3 tests/bench/report.py build/release/bench docs
"""

import csv
import math
import os
import subprocess
import sys
import textwrap

CLIENTS = ["meta_memcache", "libmemcached", "raw"]
COST_CLIENT = {"ours": "meta_memcache", "libmemcached": "libmemcached", "raw": "raw",
               "async": "meta_memcache_async"}
ASYNC_LABEL = "async-get-100"
ASYNC_INFLIGHT = (1, 8, 64)


def read_tsv(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_machine(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


NAN = float("nan")


def measured(x):
    return not math.isnan(x)


def fmt_int(x):
    return f"{float(x):,.0f}" if measured(float(x)) else "n/a"


def fmt_us(x):
    return f"{float(x):.1f}" if measured(float(x)) else "n/a"


def fmt_2(x, suffix=""):
    return f"{x:.2f}{suffix}" if measured(x) else "n/a"


def fmt_3(x):
    return f"{x:.3f}" if measured(x) else "n/a"


class Results:
    def __init__(self, rows, costs):
        self.rows = rows
        self.costs = costs

    def row(self, label, client):
        for r in self.rows:
            if r["label"] == label and r["client"] == client:
                return r
        return None

    def cost(self, probe, client, metric):
        for c in self.costs:
            if c["probe"] == probe and COST_CLIENT[c["client"]] == client and c["metric"] == metric:
                return c
        return None

    def cost_value(self, probe, client, metric):
        c = self.cost(probe, client, metric)
        return float(c["value"]) if c else NAN

    def value(self, label, client, field):
        r = self.row(label, client)
        return float(r[field]) if r else NAN

    def ratio(self, label, a, b, field):
        """label's field of client a over client b's (NaN when either is missing)."""
        return self.value(label, a, field) / self.value(label, b, field)


# ---- plots --------------------------------------------------------------------------------


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot_latency(res_dir, img_dir):
    panels = [("get-100", "get, 100 B"), ("set-100", "set, 100 B"),
              ("get-102400", "get, 100 KiB"), ("set-102400", "set, 100 KiB")]
    s = [f"set terminal pngcairo size 1200,900 font ',10'",
         f"set output '{img_dir}/latency.png'", "set termoption noenhanced",
         "set multiplot layout 2,2 title 'Latency distribution, client and memcached pinned to one core'",
         "set logscale x", "set xlabel 'microseconds per operation (log)'",
         "set ylabel 'fraction of operations'", "set grid", "set key bottom right",
         "set yrange [0:1]"]
    for label, title in panels:
        s.append(f"set title '{title}'")
        plots = []
        for c in CLIENTS:
            path = f"{res_dir}/cdf-{label}_{c}.dat"
            if os.path.exists(path):
                plots.append(f"'{path}' using 1:2 with lines lw 2 title '{c}'")
        s.append("plot " + ", ".join(plots))
    s.append("unset multiplot")
    gnuplot("\n".join(s) + "\n")


def plot_mget(res, res_dir, img_dir):
    s = [f"set terminal pngcairo size 1200,450 font ',10'",
         f"set output '{img_dir}/multi_get.png'", "set termoption noenhanced",
         "set multiplot layout 1,2 title 'multi_get of 100 keys: keys per second against servers'",
         "set xlabel 'memcached servers'", "set ylabel 'keys per second'", "set grid",
         "set key top right", "set xtics (1, 2, 4, 8)", "set logscale x 2", "set xrange [0.8:10]",
         "set yrange [0:*]",
         "set format y '%.0s%c'"]
    for layout, title in [("same", "client and servers on one core"),
                          ("split", "client on core 0, servers on core 1")]:
        plots = []
        for c in CLIENTS:
            path = f"{res_dir}/mget-{layout}-{c}.dat"
            with open(path, "w") as f:
                for n in (1, 2, 4, 8):
                    r = res.row(f"mget-{layout}-{n}", c)
                    if r:
                        f.write(f"{n} {r['per_second']}\n")
            plots.append(f"'{path}' using 1:2 with linespoints lw 2 pt 7 title '{c}'")
        s.append(f"set title '{title}'")
        s.append("plot " + ", ".join(plots))
    s.append("unset multiplot")
    gnuplot("\n".join(s) + "\n")


# ---- targets ------------------------------------------------------------------------------


class Target:
    """One row of the Targets table: what meta_memcache measured against its target."""

    def __init__(self, metric, value, shown, target, limit, higher_is_better=False, lm="",
                 raw="", listed=None):
        self.metric, self.shown, self.target, self.lm, self.raw = metric, shown, target, lm, raw
        self.listed = listed or metric  # its name out of the table's context
        values = value if isinstance(value, tuple) else (value,)
        if not all(measured(v) for v in values):
            self.status = "not measured"
        elif higher_is_better:
            self.status = "met" if all(v >= limit for v in values) else "missed"
        else:
            self.status = "met" if all(v <= limit for v in values) else "missed"


def targets(res, share_runs):
    def c(probe, metric, client="meta_memcache"):
        return res.cost_value(probe, client, metric)

    def instr(probe, client="meta_memcache"):
        x = c(probe, "instructions", client)
        return round(x) if measured(x) else x

    def two(x):
        return round(x, 2)

    def wall(label, client):
        return two(res.ratio(label, client, "raw", "median_us"))

    def share(t):
        shared = res.value(f"sharing-{t}-shared", "meta_memcache", "per_second")
        private = res.value(f"sharing-{t}-private", "meta_memcache", "per_second")
        runs = "" if share_runs == "7" else f", best of {share_runs}"
        rel = shared / private
        shown = f"{fmt_2(rel, 'x')} ({fmt_int(shared)} vs {fmt_int(private)} ops/s{runs})"
        return two(rel), shown

    get_sc, set_sc = two(c("get-100", "syscalls")), two(c("set-100", "syscalls"))
    mget_al = two(c("mget-4", "allocations_besides_values"))
    visit_al = two(c("mget-4-visit", "allocations_besides_values"))
    eagain = round(c("mget-4", "eagain_reads"), 3)
    mget_wall = wall("mget-same-4", "meta_memcache")
    big_wall = wall("get-102400", "meta_memcache")
    share2, share2_shown = share(2)
    share8, share8_shown = share(8)
    hot_cold = (two(c("get-100-hot-cold", "instructions") / c("get-100", "instructions"))
                if measured(c("get-100-hot-cold", "instructions")) and
                measured(c("get-100", "instructions")) else float("nan"))

    def async_instr(k):
        return instr(f"async-get-{k}", "meta_memcache_async")

    async_ins = tuple(async_instr(k) for k in ASYNC_INFLIGHT)
    async_64 = two(res.ratio(ASYNC_LABEL, "async-64", "meta_memcache", "per_second"))
    async_1 = two(res.ratio(ASYNC_LABEL, "async-1", "meta_memcache", "median_us"))

    def lm_raw(probe, metric, fmt):
        return {"lm": fmt(c(probe, metric, "libmemcached")), "raw": fmt(c(probe, metric, "raw"))}

    def both(probe_a, probe_b, metric, client):
        return f"{fmt_2(c(probe_a, metric, client))} / {fmt_2(c(probe_b, metric, client))}"

    return [
        Target("user instructions per get, 100 B, 1 server", instr("get-100"),
               fmt_int(instr("get-100")), "<= 800", 800,
               **lm_raw("get-100", "instructions", fmt_int)),
        Target("user instructions per set, 100 B", instr("set-100"), fmt_int(instr("set-100")),
               "<= 800", 800, **lm_raw("set-100", "instructions", fmt_int)),
        Target("system calls per get / per set", (get_sc, set_sc),
               f"{fmt_2(get_sc)} / {fmt_2(set_sc)}", "2", 2,
               lm=both("get-100", "set-100", "syscalls", "libmemcached"),
               raw=both("get-100", "set-100", "syscalls", "raw")),
        Target("heap allocations per get", two(c("get-100", "allocations")),
               fmt_2(c("get-100", "allocations")), "<= 1", 1,
               **lm_raw("get-100", "allocations", fmt_2)),
        Target("instructions per key, multi_get of 100 over 4 servers, xxhash ring, values "
               "handed out without a string each (multi_get_visit)",
               instr("mget-4-xxhash-visit"), fmt_int(instr("mget-4-xxhash-visit")), "<= 500", 500,
               **lm_raw("mget-4", "instructions", fmt_int)),
        Target("the same with the default uhashring ring", instr("mget-4-visit"),
               fmt_int(instr("mget-4-visit")), "<= 700", 700,
               **lm_raw("mget-4", "instructions", fmt_int),
               listed="instructions per key, multi_get_visit of 100 over 4 servers, uhashring"),
        Target("the same, xxhash ring, returning std::optional<std::string> per key (multi_get)",
               instr("mget-4-xxhash"), fmt_int(instr("mget-4-xxhash")), "<= 900", 900,
               **lm_raw("mget-4", "instructions", fmt_int),
               listed="instructions per key, multi_get of 100 over 4 servers, xxhash ring"),
        Target("heap allocations per multi_get call besides the values (i.e. per call, minus one "
               "per returned value; report for multi_get and for multi_get_visit)",
               (mget_al, visit_al),
               f"multi_get {fmt_2(mget_al)} / multi_get_visit {fmt_2(visit_al)}", "<= 2", 2,
               **lm_raw("mget-4", "allocations_besides_values", fmt_2),
               listed="heap allocations per multi_get call besides the values"),
        Target("reads returning EAGAIN per 4-server multi_get, counted inside the process",
               eagain, fmt_3(eagain), "<= 0.1", 0.1, **lm_raw("mget-4", "eagain_reads", fmt_3)),
        Target("multi_get of 100 over 4 servers, one core, wall vs the raw mg pipeline loop",
               mget_wall, fmt_2(mget_wall, "x"), "<= 1.10x", 1.10,
               lm=fmt_2(wall("mget-same-4", "libmemcached"), "x"), raw="1.00x"),
        Target("get of 100 KiB, pinned, wall vs raw", big_wall, fmt_2(big_wall, "x"), "<= 1.10x",
               1.10, lm=fmt_2(wall("get-102400", "libmemcached"), "x"), raw="1.00x"),
        Target("ops/s with 2 threads sharing one client vs 2 threads with a client each (one "
               "server, memcached -t 2, each client thread pinned to a core of its own, best of "
               "7 runs of each)", share2, share2_shown, ">= 0.90x", 0.90, higher_is_better=True,
               listed="ops/s, 2 threads sharing one client vs 2 threads with a client each"),
        Target("8 threads sharing one client, max_pool_size 8: ops/s vs 8 private clients",
               share8, share8_shown, ">= 0.90x", 0.90, higher_is_better=True),
        Target("user instructions per get served by the hot cache", instr("get-100-hot"),
               fmt_int(instr("get-100-hot")), "<= 300", 300, lm="n/a", raw="n/a"),
        Target("system calls per get served by the hot cache", two(c("get-100-hot", "syscalls")),
               fmt_2(c("get-100-hot", "syscalls")), "0", 0, lm="n/a", raw="n/a"),
        Target("instructions per get with the hot cache on, key not kept, vs off", hot_cold,
               fmt_2(hot_cold, "x"), "<= 1.10x", 1.10, lm="n/a", raw="n/a"),
        Target("AsyncCacheClient, user instructions per get with 1 / 8 / 64 in flight, asio's "
               "share included", async_ins, " / ".join(fmt_int(x) for x in async_ins),
               "<= 1,200", 1200,
               listed="AsyncCacheClient, user instructions per get with 1 / 8 / 64 in flight"),
        Target("AsyncCacheClient, 64 gets in flight on one io_context thread: ops/s vs the "
               "synchronous client doing one get at a time", async_64, fmt_2(async_64, "x"),
               ">= 4x", 4.0, higher_is_better=True,
               lm=fmt_2(res.ratio(ASYNC_LABEL, "libmemcached", "meta_memcache", "per_second"),
                        "x"),
               listed="AsyncCacheClient, ops/s with 64 gets in flight vs the synchronous client"),
        Target("AsyncCacheClient, 1 get in flight: median wall time vs the synchronous get",
               async_1, fmt_2(async_1, "x"), "<= 1.25x", 1.25,
               lm=fmt_2(res.ratio(ASYNC_LABEL, "libmemcached", "meta_memcache", "median_us"),
                        "x")),
    ]


def targets_table(rows):
    out = ["| measurement | meta_memcache | target | | libmemcached 1.1.4 | raw loop |",
           "|---|---:|---|---|---:|---:|"]
    for t in rows:
        status = t.status if t.status == "met" else f"**{t.status}**"
        out.append(f"| {t.metric} | {t.shown} | {t.target} | {status} | {t.lm or '-'} | "
                   f"{t.raw or '-'} |")
    return "\n".join(out)


def missed_section(rows):
    missed = [t for t in rows if t.status != "met"]
    if not missed:
        return ""
    out = ["## Targets not met", "",
           f"{len(missed)} of the {len(rows)} targets above were not met in this run:", ""]
    for t in missed:
        beside = [f"{name} {v}" for name, v in (("libmemcached", t.lm), ("raw", t.raw))
                  if v and v != "1.00x"]
        extra = f"; {', '.join(beside)}" if beside else ""
        out.append(f"- {t.listed}: {t.shown} ({t.status}; target {t.target}{extra}).")
    return "\n".join(out) + "\n"


# ---- tables -------------------------------------------------------------------------------


def latency_table(res):
    out = ["| operation | client | median µs | p99 µs | ops/s | median vs raw |",
           "|---|---|---:|---:|---:|---:|"]
    for label, name in [("get-100", "get 100 B"), ("set-100", "set 100 B"),
                        ("get-102400", "get 100 KiB"), ("set-102400", "set 100 KiB")]:
        for c in CLIENTS:
            r = res.row(label, c)
            if not r:
                continue
            rel = res.ratio(label, c, "raw", "median_us")
            out.append(f"| {name} | {c} | {fmt_us(r['median_us'])} | {fmt_us(r['p99_us'])} | "
                       f"{fmt_int(r['per_second'])} | {fmt_2(rel, 'x')} |")
    return "\n".join(out)


def async_table(res):
    out = ["| client | gets in flight | median µs (start to completion) | p99 µs | ops/s | "
           "ops/s vs meta_memcache one at a time | user instructions per get | "
           "heap allocations per get |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [("meta_memcache", "CacheClient", 1, ("get-100", "meta_memcache")),
            ("libmemcached", "libmemcached", 1, ("get-100", "libmemcached"))]
    rows += [(f"async-{k}", "AsyncCacheClient", k, (f"async-get-{k}", "meta_memcache_async"))
             for k in ASYNC_INFLIGHT]
    for client, name, k, (probe, cost_client) in rows:
        r = res.row(ASYNC_LABEL, client)
        if not r:
            continue
        rel = res.ratio(ASYNC_LABEL, client, "meta_memcache", "per_second")
        out.append(f"| {name} | {k} | {fmt_us(r['median_us'])} | {fmt_us(r['p99_us'])} | "
                   f"{fmt_int(r['per_second'])} | {fmt_2(rel, 'x')} | "
                   f"{fmt_int(res.cost_value(probe, cost_client, 'instructions'))} | "
                   f"{fmt_2(res.cost_value(probe, cost_client, 'allocations'))} |")
    return "\n".join(out)


def mget_rows(res, labels):
    out = ["| layout | servers | client | µs per call (median) | p99 µs | keys/s | "
           "median vs raw | keys/s vs libmemcached |",
           "|---|---:|---|---:|---:|---:|---:|---:|"]
    for label, name, n in labels:
        for c in CLIENTS:
            r = res.row(label, c)
            if not r:
                continue
            vs_raw = res.ratio(label, c, "raw", "median_us")
            vs_lm = res.ratio(label, c, "libmemcached", "per_second")
            out.append(f"| {name} | {n} | {c} | {fmt_us(r['median_us'])} | "
                       f"{fmt_us(r['p99_us'])} | {fmt_int(r['per_second'])} | "
                       f"{fmt_2(vs_raw, 'x')} | {fmt_2(vs_lm, 'x')} |")
    return "\n".join(out)


def mget_table(res):
    labels = [(f"mget-{layout}-{n}", name, n)
              for layout, name in [("same", "one core"), ("split", "servers on the other core")]
              for n in (1, 2, 4, 8)]
    return mget_rows(res, labels)


def reqs_per_event_table(res):
    return mget_rows(res, [("mget-same-4", "one core, -R 20 (default)", 4),
                           ("mget-same-4-R1000", "one core, -R 1000", 4)])


def reqs_per_event_text(res):
    def srv(probe, client):
        return fmt_int(res.cost_value(probe, client, "server_syscalls"))

    def reads(probe):
        return fmt_2(res.cost_value(probe, "meta_memcache", "reads"))

    text = (
        "memcached serves at most 20 requests from one connection each time its event loop "
        "turns to that connection (`-R`, default 20), then yields to the other connections. A "
        "multi_get of 100 keys over 4 servers sends each server its share of the keys, about "
        "25 `mg` requests, and every server that gets more than 20 stops after 20 in every "
        "call: it goes back to its event loop (more `epoll_ctl` and `epoll_wait` calls) and "
        "writes the answers in two pieces, so the client also reads more often. libmemcached "
        "sends each server one classic `get k1 k2 ...`: one request, which never reaches the "
        "limit. Counted "
        "with `strace -c -f` attached to the four servers (never to the client) over a run of "
        "2N calls minus a run of N, timer threads left out: with the default, memcached makes "
        f"{srv('mget-4-same', 'meta_memcache')} system calls per call for meta_memcache's "
        f"multi_get and {srv('mget-4-same', 'libmemcached')} for libmemcached's; with "
        f"`-R 1000`, {srv('mget-4-same-R1000', 'meta_memcache')} and "
        f"{srv('mget-4-same-R1000', 'libmemcached')}. meta_memcache reads "
        f"{reads('mget-4-same')} times per call with the default and "
        f"{reads('mget-4-same-R1000')} with `-R 1000`. The same multi_get on one core, "
        "against servers started with the default and with `-R 1000`:")
    return textwrap.fill(text, width=92, break_on_hyphens=False, break_long_words=False)


def server_syscalls_table(res):
    out = ["| memcached | client | requests per server and call | memcached system calls per "
           "call (4 servers) | of which |", "|---|---|---|---:|---|"]
    requests = {"meta_memcache": "about 25 `mg`", "libmemcached": "one `get k1 k2 ...`",
                "raw": "about 25 `mg` (our bytes)"}
    for probe, name in [("mget-4-same", "-R 20 (default)"), ("mget-4-same-R1000", "-R 1000")]:
        for c in CLIENTS:
            r = res.cost(probe, c, "server_syscalls")
            if r:
                out.append(f"| {name} | {c} | {requests[c]} | {fmt_2(float(r['value']))} | "
                           f"{r['detail']} |")
    return "\n".join(out)


def threads_table(res):
    out = ["| threads | client | ops/s (all threads) | median µs | p99 µs |",
           "|---:|---|---:|---:|---:|"]
    for t in (1, 2, 8):
        for c in CLIENTS:
            r = res.row(f"threads-{t}", c)
            if r:
                out.append(f"| {t} | {c} | {fmt_int(r['per_second'])} | {fmt_us(r['median_us'])} | "
                           f"{fmt_us(r['p99_us'])} |")
    return "\n".join(out)


def sharing_table(res):
    out = ["| threads | meta_memcache clients | best ops/s (all threads) | median µs | p99 µs | "
           "shared vs private |", "|---:|---|---:|---:|---:|---:|"]
    for t in (2, 8):
        rel = res.value(f"sharing-{t}-shared", "meta_memcache", "per_second") / \
            res.value(f"sharing-{t}-private", "meta_memcache", "per_second")
        for mode, name in [("shared", "one, shared"), ("private", f"{t}, one per thread")]:
            r = res.row(f"sharing-{t}-{mode}", "meta_memcache")
            if r:
                shown = fmt_2(rel, "x") if mode == "shared" else "1.00x"
                out.append(f"| {t} | {name} | {fmt_int(r['per_second'])} | "
                           f"{fmt_us(r['median_us'])} | {fmt_us(r['p99_us'])} | {shown} |")
    return "\n".join(out)


COST_PROBES = {
    "get-100": "get 100 B (per get)",
    "set-100": "set 100 B (per set)",
    "mget-1": "multi_get 100 keys, 1 server (per key)",
    "mget-4": "multi_get 100 keys, 4 servers (per key)",
    "mget-4-visit": "multi_get_visit 100 keys, 4 servers (per key)",
    "mget-4-xxhash": "multi_get 100 keys, 4 servers, xxhash ring (per key)",
    "mget-4-xxhash-visit": "multi_get_visit 100 keys, 4 servers, xxhash ring (per key)",
    "get-100-hot-cold": "get 100 B, hot cache on, key not kept (per get)",
    "get-100-hot": "get 100 B served by the hot cache (per get)",
    "get-100-observer": "get 100 B with a counting observer (per get)",
}


def costs_table(res):
    out = ["| operation | client | user instructions | system calls | heap allocations | "
           "reads per call (EAGAIN) |", "|---|---|---:|---:|---:|---:|"]
    for probe, name in COST_PROBES.items():
        for c in CLIENTS:
            ins = res.cost(probe, c, "instructions")
            if not ins:
                continue
            multi = probe.startswith("mget")
            sc = res.cost(probe, c, "syscalls")
            per_call = "per call: " if multi else ""
            calls = "n/a"
            if sc:
                detail = f" ({per_call}{sc['detail']})" if sc["detail"] else ""
                calls = f"{float(sc['value']):.2f}{detail}"
            allocs = fmt_2(res.cost_value(probe, c, "allocations"))
            besides = res.cost(probe, c, "allocations_besides_values")
            if besides:
                allocs += f"; per call {float(besides['value']):.2f} besides {besides['detail']}"
            reads = fmt_2(res.cost_value(probe, c, "reads"))
            eagain = fmt_3(res.cost_value(probe, c, "eagain_reads"))
            out.append(f"| {name} | {c} | {fmt_int(ins['value'])} | {calls} | {allocs} | "
                       f"{reads} ({eagain}) |")
    return "\n".join(out)


def reads_table(res):
    out = ["| multi_get of 100 keys, 4 servers | client | reads per call | of which EAGAIN | "
           "EAGAIN per call over the whole 2N run (set-up included) |",
           "|---|---|---:|---:|---:|"]
    layouts = [("mget-4", "unpinned (the per-op cost servers)"),
               ("mget-4-same", "client and servers on CPU 0"),
               ("mget-4-split", "client on CPU 0, servers on CPU 1"),
               ("mget-4-same-R1000", "client and servers on CPU 0, -R 1000")]
    for probe, name in layouts:
        for c in CLIENTS:
            reads = res.cost(probe, c, "reads")
            eagain = res.cost(probe, c, "eagain_reads")
            if not (reads and eagain):
                continue
            whole = eagain["detail"].rpartition("whole 2N run ")[2]
            out.append(f"| {name} | {c} | {float(reads['value']):.2f} | "
                       f"{float(eagain['value']):.3f} | {whole} |")
    return "\n".join(out)


def main():
    res_dir, docs = os.path.abspath(sys.argv[1]), sys.argv[2]
    img_dir = os.path.join(docs, "benchmarks")
    os.makedirs(img_dir, exist_ok=True)
    res = Results(read_tsv(f"{res_dir}/results.tsv"), read_tsv(f"{res_dir}/costs.tsv"))
    m = read_machine(f"{res_dir}/machine.txt")
    plot_latency(res_dir, img_dir)
    plot_mget(res, res_dir, img_dir)

    share_runs = m.get("share_runs", "7")
    rows = targets(res, share_runs)

    quick = " (a `--quick` run: few iterations, noisy)" if m.get("quick") == "1" else ""
    doc = f"""# Benchmarks

<!-- Generated by tests/bench/run.sh (tests/bench/report.py); do not edit by hand. -->

How fast meta_memcache is, next to libmemcached 1.1.4 and a raw socket loop that sends the
same bytes as meta_memcache (the floor: what the kernel and memcached cost), all measured in
one run on one machine{quick}. Regenerate everything on this page (tables and plots) with:

```sh
tests/bench/run.sh          # about 12 minutes; --quick for a fast, noisy check
```

It builds the `release` preset's `mm_bench`, `mm_cost`, `mm_async` and `libmm_io_count.so`
(tests/bench/), starts its own memcached servers on loopback (and kills them on exit), and
writes this page. The benchmarks are not part of the test suite.

## Machine

| | |
|---|---|
| CPU | {m.get('cpu', '?')}, {m.get('vcpus', '?')} vCPUs ({m.get('hypervisor', 'bare metal') or 'bare metal'} guest) |
| OS | {m.get('os', '?')}, kernel {m.get('kernel', '?')} |
| compiler | {m.get('compiler', '?')}, `release` preset (RelWithDebInfo: -O2 -g) |
| memcached | {m.get('memcached', '?')} |
| libmemcached | {m.get('libmemcached', '?')} |
| measured | {m.get('date', '?')}, commit {m.get('commit', '?')} |

## Targets

Each figure is measured below, in this run: instructions, system calls, allocations and
reads in [Per-operation costs](#per-operation-costs) (multi_get over the 4 unpinned cost
servers), the wall-clock ratios in [Latency](#latency-one-operation-at-a-time) and
[multi_get](#multi_get-of-100-keys-100-byte-values), the thread figures in
[Threads](#threads). libmemcached's multi_get figures are for its own ring (ketama, MD5) and
its only way to hand out values, one reused result.

{targets_table(rows)}

{missed_section(rows)}
## Per-operation costs

Independent of machine noise: user-space instructions counted by callgrind in the measured
loop only (`--toggle-collect=mm_measured_loop`, after warm-up), system calls by
`strace -f -c` (a run of 2N operations minus a run of N, divided by N), heap allocations by
a counting `malloc` (every malloc, calloc, realloc and aligned allocation, C and C++ alike).
Every figure includes what the caller does with the answer: freeing the returned value
(meta_memcache's `get` and `multi_get`, libmemcached's `get`), adding up the value sizes
(`multi_get_visit`), nothing for the raw loop. For a multi_get, "besides" is the
allocations per call minus the values handed out in an allocation of their own (one
`std::string` per hit for `multi_get`; none for `multi_get_visit`, libmemcached's reused
result or the raw loop).

Reads are counted inside the process, at full speed, by `libmm_io_count.so` (an
`LD_PRELOAD` object that wraps `recv`, `recvfrom`, `recvmsg`, `read` and `readv` and counts
the calls that returned `EAGAIN`), again as a run of 2N minus a run of N; strace would slow
the client until the servers had always answered first. An `EAGAIN` read is a system call
spent finding nothing to read.

{costs_table(res)}

Reads per 4-server multi_get in each layout (client unpinned or on CPU 0):

{reads_table(res)}

## Latency: one operation at a time

Client and memcached (`-t 1`) pinned to the same core with `taskset`: across cores,
loopback adds 40-100 µs of scheduling noise on these VMs. The clients run interleaved in
rounds, so drift hits all of them alike. p99 on a shared 2-vCPU VM mostly measures the
neighbours. meta_memcache runs with compression off here (`Compression::none`), so all three
send the same value bytes; with the default (zlib over 128 bytes) a compressible 100 KiB
value costs the zlib time and saves the bytes.

{latency_table(res)}

![latency distribution](benchmarks/latency.png)

## The asynchronous client: gets in flight

`AsyncCacheClient` ([async.md](async.md)) on one thread running an `io_context`
(`tests/bench/mm_async.cpp`), against one memcached (`-t 1`), client and server pinned to
the same core, 100-byte values: K gets of one key in flight (each completion starts the
next get), interleaved in rounds with the synchronous `CacheClient` and libmemcached doing
one get at a time. The latency of a get is from its start to its completion handler, so
with K in flight it includes the wait behind the K - 1 others. User instructions per get
are counted by callgrind in `mm_async_measured_loop` (the io_context runs inside it, so
asio's work is counted with the client's), a run of 2N gets minus a run of N, divided by N;
the synchronous rows repeat the get-100 figures of
[Per-operation costs](#per-operation-costs).

{async_table(res)}

## multi_get of 100 keys (100-byte values)

meta_memcache: `multi_get` (one `mg` per key, all servers written first, then read as they
answer). libmemcached: `memcached_mget` + `memcached_fetch_result` into one reused result.
Raw floor: write every server's batch (our client's bytes), then read every answer.
Placement: meta_memcache and the raw loop use the uhashring ring (MD5 per key, as
meta-memcache-py); libmemcached uses `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` (MD5 per key).

{mget_table(res)}

![multi_get keys per second](benchmarks/multi_get.png)

### memcached's 20 requests per event (`-R`)

{reqs_per_event_text(res)}

{reqs_per_event_table(res)}

{server_syscalls_table(res)}

## Threads

Small gets (100 B) from 1, 2 and 8 threads, unpinned, against one memcached `-t 2`.
meta_memcache: one `CacheClient` shared by every thread (`max_pool_size = 8`, so each
thread's connection stays open). libmemcached: one `memcached_st` per thread (its fastest
way to share; a `memcached_pool` would add a lock per call). Raw: one socket per thread.
With 2 vCPUs, 8 threads measure contention, not parallelism.

{threads_table(res)}

What sharing one client costs: T threads on one `CacheClient` (`max_pool_size = 8`) against
T threads with a `CacheClient` each, against the same memcached `-t 2`, thread t pinned to
core t mod {m.get('vcpus', '?')} (`pthread_setaffinity_np`). Runs alternate (shared, private,
shared, ...); the best of {share_runs} runs of each is shown.

{sharing_table(res)}

## Where the time goes

How a request travels (its system calls, buffers and the one allocation of a `get`) is
described in [architecture.md](architecture.md#the-request-path); the changes made for
speed are in [CHANGELOG.md](../CHANGELOG.md). To see where instructions go, run
`valgrind --tool=callgrind --toggle-collect=mm_measured_loop
build/release/tests/bench/mm_cost ...` and `callgrind_annotate --inclusive=yes`.
"""
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
