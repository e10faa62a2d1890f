#!/usr/bin/env bash
# Runs every benchmark and cost probe, then regenerates docs/benchmarks.md and its plots.
#
#   tests/bench/run.sh            full run (about 10 minutes on a 2-vCPU VM)
#   tests/bench/run.sh --quick    fewer iterations, for checking the scripts (noisier)
#
# Builds the release preset's mm_bench and mm_cost, starts its own memcached servers on
# loopback (killed on exit, even on failure), and measures meta_memcache, libmemcached
# 1.1.4 and a raw socket loop in the same run. Results land in build/release/bench/;
# the report in docs/benchmarks.md and docs/benchmarks/*.png. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

quick=0
[ "${1:-}" = "--quick" ] && quick=1

# shellcheck source=tests/deps.sh
source tests/deps.sh
meta_memcache_install "${meta_memcache_core_packages[@]}" libmemcached-dev valgrind strace \
    gnuplot-nox python3 util-linux

cmake --preset release >/dev/null
cmake --build --preset release --target mm_bench mm_cost
bin=$root/build/release/tests/bench
out=$root/build/release/bench
rm -rf "$out"
mkdir -p "$out"

# ---- memcached servers -----------------------------------------------------------------

server_pids=()
servers=""
memcached_user=()
[ "$(id -u)" -eq 0 ] && memcached_user=(-u root)

stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${server_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
    servers=""
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# start_server CPU THREADS: one memcached on a free loopback port, pinned to CPU ("" for
# none), appended to $servers.
start_server() {
    local cpu=$1 threads=$2 port pid attempt wait
    local pin=()
    [ -n "$cpu" ] && pin=(taskset -c "$cpu")
    for attempt in $(seq 40); do
        port=$((20000 + RANDOM % 30000))
        "${pin[@]}" memcached -l 127.0.0.1 -p "$port" -U 0 -t "$threads" -m 512 -c 1024 \
            "${memcached_user[@]}" >/dev/null 2>&1 &
        pid=$!
        for wait in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break  # port taken: it exited
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                server_pids+=("$pid")
                servers="${servers:+$servers,}127.0.0.1:$port"
                return 0
            fi
            sleep 0.05
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    echo "cannot start memcached" >&2
    return 1
}

if [ "$quick" -eq 1 ]; then
    lat_ops=5000 big_ops=500 mget_iters=500 thread_ms=600 rounds=2
    cost_iters=2000 cg_iters=300 strace_iters=1000
else
    lat_ops=100000 big_ops=10000 mget_iters=10000 thread_ms=3000 rounds=5
    cost_iters=20000 cg_iters=2000 strace_iters=5000
fi

results=$out/results.tsv
echo -e "kind\tlabel\tclient\tservers\tthreads\tsize\tops\tmedian_us\tp99_us\tper_second" >"$results"

# ---- 1. latency: client and server pinned to the same core ------------------------------

echo "==> latency (pinned to CPU 0, memcached -t 1)"
start_server 0 1
for op in get set; do
    for size in 100 102400; do
        ops=$lat_ops
        [ "$size" -gt 100 ] && ops=$big_ops
        taskset -c 0 "$bin/mm_bench" latency --servers="$servers" --op=$op --size=$size \
            --ops=$ops --rounds=$rounds --label="$op-$size" --cdf="$out/cdf-$op-$size" \
            | tee -a "$results"
    done
done
stop_servers

# ---- 2. multi_get of 100 keys over 1, 2, 4 and 8 servers ---------------------------------

for layout in same split; do
    for n in 1 2 4 8; do
        if [ $layout = same ]; then
            echo "==> multi_get, $n server(s), client and servers on CPU 0"
            server_cpu=0
        else
            echo "==> multi_get, $n server(s), client on CPU 0, servers on CPU 1"
            server_cpu=1
        fi
        for _ in $(seq "$n"); do start_server $server_cpu 1; done
        taskset -c 0 "$bin/mm_bench" mget --servers="$servers" --keys=100 --iters=$mget_iters \
            --rounds=$rounds --label="mget-$layout-$n" | tee -a "$results"
        stop_servers
    done
done

# ---- 3. threads sharing one client (unpinned) ---------------------------------------------

echo "==> threads sharing one client (unpinned, memcached -t 2)"
start_server "" 2
for t in 1 2 8; do
    "$bin/mm_bench" threads --servers="$servers" --threads=$t --millis=$thread_ms \
        --rounds=$rounds --label="threads-$t" | tee -a "$results"
done
stop_servers

# ---- 4. per-op costs: instructions (callgrind), system calls (strace), allocations -------

costs=$out/costs.tsv
echo -e "probe\tclient\tmetric\tvalue\tdetail" >"$costs"
start_server "" 1
one=$servers
start_server "" 1
start_server "" 1
start_server "" 1
four=$servers

# probe NAME CLIENT PER ARGS...: PER is how many units one iteration is (1, or 100 keys).
probe() {
    local name=$1 client=$2 per=$3
    shift 3
    local tag="$out/cost-$name-$client"
    echo "==> cost: $name, $client"
    # heap allocations
    local allocs
    allocs=$("$bin/mm_cost" --client="$client" "$@" --iters=$cost_iters |
        awk '$1 == "allocations_per_op" { print $2 }')
    echo -e "$name\t$client\tallocations\t$(awk -v a="$allocs" -v p="$per" 'BEGIN { printf "%.3f", a / p }')\t" >>"$costs"
    # user-space instructions in the measured loop only
    valgrind --tool=callgrind --toggle-collect=mm_measured_loop \
        --callgrind-out-file="$tag.callgrind" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$cg_iters >/dev/null 2>"$tag.valgrind.log"
    local ir
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$tag.callgrind")
    echo -e "$name\t$client\tinstructions\t$(awk -v i="$ir" -v n=$cg_iters -v p="$per" 'BEGIN { printf "%.0f", i / n / p }')\t" >>"$costs"
    # system calls: 2N minus N iterations
    strace -f -c -o "$tag.strace1" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$strace_iters >/dev/null
    strace -f -c -o "$tag.strace2" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$((2 * strace_iters)) >/dev/null
    python3 - "$tag.strace1" "$tag.strace2" "$strace_iters" "$per" "$name" "$client" >>"$costs" <<'PY'
import sys

def calls(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and not line.startswith("-"):
            out[f[-1]] = int(f[3])
    return out

a, b = calls(sys.argv[1]), calls(sys.argv[2])
n, per = int(sys.argv[3]), float(sys.argv[4])
# A call the longer run made fewer times (a poll when an answer was late) is noise: 0.
diff = {k: max(0.0, (b.get(k, 0) - a.get(k, 0)) / n) for k in set(a) | set(b) if k != "total"}
shown = {k: v for k, v in diff.items() if v >= 0.005}
detail = ", ".join(f"{k} {v:.2f}".rstrip("0").rstrip(".") for k, v in sorted(shown.items()))
print(f"{sys.argv[5]}\t{sys.argv[6]}\tsyscalls\t{sum(diff.values()) / per:.3f}\t{detail}")
PY
}

for client in ours libmemcached raw; do
    probe get-100 $client 1 --servers="$one" --op=get --size=100
    probe set-100 $client 1 --servers="$one" --op=set --size=100
    probe mget-1 $client 100 --servers="$one" --op=mget --keys=100 --size=100
    probe mget-4 $client 100 --servers="$four" --op=mget --keys=100 --size=100
done
probe mget-4-xxhash ours 100 --servers="$four" --op=mget --keys=100 --size=100 --hash=xxhash
stop_servers

# ---- 5. the machine, then the report ---------------------------------------------------

{
    echo "cpu: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')"
    echo "vcpus: $(nproc)"
    echo "hypervisor: $(lscpu | awk -F: '/Hypervisor vendor/ { gsub(/^ +/, "", $2); print $2; exit }')"
    echo "kernel: $(uname -r)"
    echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "compiler: $(c++ --version | head -1)"
    echo "memcached: $(memcached -V)"
    echo "libmemcached: $(pkg-config --modversion libmemcached)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "date: $(date -u +%Y-%m-%d)"
    echo "quick: $quick"
} >"$out/machine.txt"

python3 tests/bench/report.py "$out" docs
echo "==> wrote docs/benchmarks.md and docs/benchmarks/*.png (raw results in $out)"
