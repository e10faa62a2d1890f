#!/usr/bin/env python3
"""Per-operation counts from two runs of the same program, one of N operations and one of
2N: (second - first) / N, so start-up and set-up cancel out. Prints one costs.tsv row
("probe client metric value detail"). Used by tests/bench/run.sh.

    counts.py strace A B N PER PROBE CLIENT METRIC   strace -c summaries; value divided by
                                                     PER (keys per call), detail per call
    counts.py io A B N PROBE CLIENT                  mm_io_count files: two rows, reads and
                                                     eagain_reads per call
    counts.py callgrind A B N PROBE CLIENT           callgrind outputs: instructions per
                                                     call
"""

import sys

# Server threads that sleep or wait on a timer (memcached's LRU maintainer, crawler,
# logger): what they do depends on how long a run takes, not on how many calls it makes.
TIMED = {"clock_nanosleep", "nanosleep", "futex", "restart_syscall"}


def strace_calls(path):
    out = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and fields[0][0].isdigit():
                out[fields[-1]] = int(fields[3])
    out.pop("total", None)
    return out


def io_calls(path):
    """name -> (calls, would_block)"""
    out = {}
    with open(path) as f:
        for line in f:
            name, calls, would_block = line.split()
            out[name] = (int(calls), int(would_block))
    return out


def callgrind_instructions(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    sys.exit(f"{path}: no callgrind totals")


def per_op(a, b, n):
    # A count the longer run made fewer times (a poll when an answer was late) is noise: 0.
    return {k: max(0.0, (b.get(k, 0) - a.get(k, 0)) / n) for k in set(a) | set(b)}


def detail(counts):
    shown = {k: v for k, v in counts.items() if v >= 0.005}
    return ", ".join(f"{k} {v:.2f}".rstrip("0").rstrip(".") for k, v in sorted(shown.items()))


def main():
    mode = sys.argv[1]
    if mode == "strace":
        a, b, n, per, probe, client, metric = sys.argv[2:9]
        counts = per_op(strace_calls(a), strace_calls(b), int(n))
        counts = {k: v for k, v in counts.items() if k not in TIMED}
        total = sum(counts.values()) / float(per)
        print(f"{probe}\t{client}\t{metric}\t{total:.3f}\t{detail(counts)}")
    elif mode == "io":
        a, b, n, probe, client = sys.argv[2:7]
        first, second = io_calls(a), io_calls(b)
        calls = per_op({k: v[0] for k, v in first.items()}, {k: v[0] for k, v in second.items()},
                       int(n))
        blocked = per_op({k: v[1] for k, v in first.items()},
                         {k: v[1] for k, v in second.items()}, int(n))
        print(f"{probe}\t{client}\treads\t{sum(calls.values()):.3f}\t{detail(calls)}")
        # The longer run alone, set-up and warm-up included: a bound that no noise lowers.
        whole = sum(v[1] for v in second.values()) / (2.0 * int(n))
        note = f"{detail(blocked) or 'none'}; whole 2N run {whole:.3f}"
        print(f"{probe}\t{client}\teagain_reads\t{sum(blocked.values()):.3f}\t{note}")
    elif mode == "callgrind":
        a, b, n, probe, client = sys.argv[2:7]
        ins = (callgrind_instructions(b) - callgrind_instructions(a)) / float(n)
        print(f"{probe}\t{client}\tinstructions\t{ins:.0f}\t2N minus N runs")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
