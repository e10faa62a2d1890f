#!/usr/bin/env bash
# Runs every benchmark and cost probe, then regenerates docs/benchmarks.md and its plots.
#
#   tests/bench/run.sh            full run (about 12 minutes on a 2-vCPU VM)
#   tests/bench/run.sh --quick    fewer iterations, for checking the scripts (noisier)
#
# Builds the release preset's mm_bench, mm_cost, mm_async and libmm_io_count.so, starts its own
# memcached servers on loopback (killed on exit, even on failure), and measures
# meta_memcache, libmemcached 1.1.4 and a raw socket loop in the same run: wall clock
# (mm_bench), and per operation instructions (callgrind), system calls (strace), heap
# allocations and reads that found nothing (mm_cost, in-process), memcached's own system
# calls (strace attached to the servers). Results land in build/release/bench/; the report
# in docs/benchmarks.md and docs/benchmarks/*.png. Not part of the test suite.
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
cmake --build --preset release --target mm_bench mm_cost mm_async mm_io_count
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

# start_server CPU THREADS [OPTION...]: one memcached on a free loopback port, pinned to CPU
# ("" for none), with memcached's OPTIONs, appended to $servers.
start_server() {
    local cpu=$1 threads=$2 port pid attempt wait
    shift 2
    local pin=()
    [ -n "$cpu" ] && pin=(taskset -c "$cpu")
    for attempt in $(seq 40); do
        port=$((20000 + RANDOM % 30000))
        "${pin[@]}" memcached -l 127.0.0.1 -p "$port" -U 0 -t "$threads" -m 512 -c 1024 \
            "${memcached_user[@]}" "$@" >/dev/null 2>&1 &
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
    lat_ops=5000 big_ops=500 mget_iters=500 thread_ms=600 rounds=2 share_ms=300 share_runs=3
    cost_iters=2000 cg_iters=300 strace_iters=1000 io_iters=1000 server_iters=200
else
    lat_ops=100000 big_ops=10000 mget_iters=10000 thread_ms=3000 rounds=5 share_ms=1000
    share_runs=7 cost_iters=20000 cg_iters=2000 strace_iters=5000 io_iters=5000 server_iters=1000
fi

results=$out/results.tsv
echo -e "kind\tlabel\tclient\tservers\tthreads\tsize\tops\tmedian_us\tp99_us\tper_second" >"$results"
costs=$out/costs.tsv
echo -e "probe\tclient\tmetric\tvalue\tdetail" >"$costs"

# ---- counting helpers (2N runs minus N runs, tests/bench/counts.py) ----------------------

# io_probe NAME CLIENT CPU ARGS...: reads, and reads that returned EAGAIN, per call of
# `mm_cost ARGS`, counted inside the process by libmm_io_count.so (not strace, which slows
# the client until the servers have always answered first); client pinned to CPU ("": none).
io_probe() {
    local name=$1 client=$2 cpu=$3 n
    shift 3
    local tag="$out/io-$name-$client" pin=()
    [ -n "$cpu" ] && pin=(taskset -c "$cpu")
    for n in $io_iters $((2 * io_iters)); do
        "${pin[@]}" env LD_PRELOAD="$bin/libmm_io_count.so" MM_IO_COUNT_OUT="$tag.$n" \
            "$bin/mm_cost" --client="$client" "$@" --iters="$n" >/dev/null
    done
    python3 tests/bench/counts.py io "$tag.$io_iters" "$tag.$((2 * io_iters))" "$io_iters" \
        "$name" "$client" >>"$costs"
}

# wait_traced: until every thread of every running server has a tracer attached.
wait_traced() {
    local pid statuses=()
    for pid in "${server_pids[@]}"; do
        statuses+=(/proc/"$pid"/task/*/status)
    done
    for _ in $(seq 200); do
        grep -qs '^TracerPid:[[:space:]]*0$' "${statuses[@]}" || return 0
        sleep 0.025
    done
    echo "strace did not attach to the servers" >&2
    return 1
}

# server_syscalls NAME CLIENT ARGS...: memcached's own system calls per call of
# `mm_cost ARGS` (client on CPU 0), every running server together: strace is attached to the
# servers only, never to the client.
server_syscalls() {
    local name=$1 client=$2 n pid tracer
    shift 2
    local tag="$out/server-$name-$client" attach=()
    for pid in "${server_pids[@]}"; do
        attach+=(-p "$pid")
    done
    for n in $server_iters $((2 * server_iters)); do
        strace -c -f -o "$tag.$n" "${attach[@]}" 2>/dev/null &
        tracer=$!
        wait_traced
        taskset -c 0 "$bin/mm_cost" --client="$client" "$@" --iters="$n" >/dev/null
        kill -INT "$tracer"
        wait "$tracer" || true
    done
    python3 tests/bench/counts.py strace "$tag.$server_iters" "$tag.$((2 * server_iters))" \
        "$server_iters" 1 "$name" "$client" server_syscalls >>"$costs"
}

# ---- 1. latency: client and server pinned to the same core ------------------------------

echo "==> latency (pinned to CPU 0, memcached -t 1) (t=${SECONDS}s)"
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

# ---- 1b. the asynchronous client: 1, 8 and 64 gets in flight, one io_context thread -----

echo "==> async gets in flight against one-at-a-time gets (pinned to CPU 0) (t=${SECONDS}s)"
start_server 0 1
taskset -c 0 "$bin/mm_async" bench --servers="$servers" --size=100 --ops=$lat_ops \
    --rounds=$rounds --inflight=1,8,64 --label=async-get-100 | tee -a "$results"
stop_servers

# ---- 2. multi_get of 100 keys over 1, 2, 4 and 8 servers ---------------------------------

mget_args=(--op=mget --keys=100 --size=100)
for layout in same split; do
    for n in 1 2 4 8; do
        if [ $layout = same ]; then
            echo "==> multi_get, $n server(s), client and servers on CPU 0 (t=${SECONDS}s)"
            server_cpu=0
        else
            echo "==> multi_get, $n server(s), client on CPU 0, servers on CPU 1 (t=${SECONDS}s)"
            server_cpu=1
        fi
        for _ in $(seq "$n"); do start_server $server_cpu 1; done
        taskset -c 0 "$bin/mm_bench" mget --servers="$servers" --keys=100 --iters=$mget_iters \
            --rounds=$rounds --label="mget-$layout-$n" | tee -a "$results"
        if [ "$n" -eq 4 ]; then
            for client in ours libmemcached raw; do
                io_probe "mget-4-$layout" $client 0 --servers="$servers" "${mget_args[@]}"
                if [ $layout = same ]; then
                    server_syscalls mget-4-same $client --servers="$servers" "${mget_args[@]}"
                fi
            done
        fi
        stop_servers
    done
done

# memcached serves at most 20 requests of one connection per event (-R, default 20), then
# yields: 25 mg requests per server and call cost it a yield; a text get k1 ... k25 is one.
echo "==> multi_get, 4 servers started with -R 1000, client and servers on CPU 0 (t=${SECONDS}s)"
for _ in 1 2 3 4; do start_server 0 1 -R 1000; done
taskset -c 0 "$bin/mm_bench" mget --servers="$servers" --keys=100 --iters=$mget_iters \
    --rounds=$rounds --label="mget-same-4-R1000" | tee -a "$results"
for client in ours libmemcached raw; do
    io_probe mget-4-same-R1000 $client 0 --servers="$servers" "${mget_args[@]}"
    server_syscalls mget-4-same-R1000 $client --servers="$servers" "${mget_args[@]}"
done
stop_servers

# ---- 3. threads ------------------------------------------------------------------------

echo "==> threads sharing one client (unpinned, memcached -t 2) (t=${SECONDS}s)"
start_server "" 2
for t in 1 2 8; do
    "$bin/mm_bench" threads --servers="$servers" --threads=$t --millis=$thread_ms \
        --rounds=$rounds --label="threads-$t" | tee -a "$results"
done
# T threads on one CacheClient against T threads with a CacheClient each, thread t pinned
# to CPU t % CPUs, best of $share_runs alternating runs of each.
for t in 2 8; do
    echo "==> $t threads: one shared client against a client each (pinned) (t=${SECONDS}s)"
    "$bin/mm_bench" sharing --servers="$servers" --threads=$t --millis=$share_ms \
        --runs=$share_runs --label="sharing-$t" 2>>"$out/sharing-runs.txt" | tee -a "$results"
done
cat "$out/sharing-runs.txt"
stop_servers

# ---- 4. per-op costs: instructions (callgrind), system calls (strace), allocations, reads -

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
    echo "==> cost: $name, $client (t=${SECONDS}s)"
    # A multi_get is 100 keys: a fifth of the iterations is as exact for what is counted.
    local cost_n=$cost_iters cg_n=$cg_iters strace_n=$strace_iters
    if [ "$per" -gt 1 ]; then
        cost_n=$((cost_iters / 5)) cg_n=$((cg_iters / 5)) strace_n=$((strace_iters / 5))
    fi
    # heap allocations (for multi_get also per call, besides the values handed out)
    local report
    report=$("$bin/mm_cost" --client="$client" "$@" --iters=$cost_n)
    echo "$report" | awk -v p="$per" -v probe="$name" -v client="$client" '
        $1 == "allocations_per_op" { printf "%s\t%s\tallocations\t%.3f\t\n", probe, client, $2 / p }
        $1 == "values_per_call" { values = $2 }
        $1 == "allocations_per_call_besides_values" {
            printf "%s\t%s\tallocations_besides_values\t%.3f\t%d values\n",
                probe, client, $2, values
        }' >>"$costs"
    # user-space instructions in the measured loop only
    valgrind --tool=callgrind --toggle-collect=mm_measured_loop \
        --callgrind-out-file="$tag.callgrind" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$cg_n >/dev/null 2>"$tag.valgrind.log"
    local ir
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$tag.callgrind")
    echo -e "$name\t$client\tinstructions\t$(awk -v i="$ir" -v n=$cg_n -v p="$per" 'BEGIN { printf "%.0f", i / n / p }')\t" >>"$costs"
    # system calls: 2N minus N iterations
    strace -f -c -o "$tag.strace1" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$strace_n >/dev/null
    strace -f -c -o "$tag.strace2" "$bin/mm_cost" --client="$client" "$@" \
        --iters=$((2 * strace_n)) >/dev/null
    python3 tests/bench/counts.py strace "$tag.strace1" "$tag.strace2" "$strace_n" "$per" \
        "$name" "$client" syscalls >>"$costs"
    # reads, and reads that found nothing yet, counted inside the process
    io_probe "$name" "$client" "" "$@"
}

for client in ours libmemcached raw; do
    probe get-100 $client 1 --servers="$one" --op=get --size=100
    probe set-100 $client 1 --servers="$one" --op=set --size=100
    probe mget-1 $client 100 --servers="$one" "${mget_args[@]}"
    probe mget-4 $client 100 --servers="$four" "${mget_args[@]}"
done
# The asynchronous client: user instructions per get with K in flight (asio's share
# included), callgrind on mm_async_measured_loop over 2N gets minus N; allocations per get.
for k in 1 8 64; do
    echo "==> cost: async get, $k in flight (t=${SECONDS}s)"
    tag="$out/cost-async-$k"
    "$bin/mm_async" cost --servers="$one" --inflight=$k --iters=$cost_iters | awk -v k=$k '
        $1 == "allocations_per_op" { printf "async-get-%s\tasync\tallocations\t%.3f\t\n", k, $2 }' \
        >>"$costs"
    for n in $cg_iters $((2 * cg_iters)); do
        valgrind --tool=callgrind --toggle-collect=mm_async_measured_loop \
            --callgrind-out-file="$tag.$n.callgrind" "$bin/mm_async" cost --servers="$one" \
            --inflight=$k --iters=$n >/dev/null 2>"$tag.valgrind.log"
    done
    python3 tests/bench/counts.py callgrind "$tag.$cg_iters.callgrind" \
        "$tag.$((2 * cg_iters)).callgrind" "$cg_iters" "async-get-$k" async >>"$costs"
done
probe mget-4-visit ours 100 --servers="$four" --op=mget_visit --keys=100 --size=100
probe mget-4-xxhash ours 100 --servers="$four" "${mget_args[@]}" --hash=xxhash
probe mget-4-xxhash-visit ours 100 --servers="$four" --op=mget_visit --keys=100 --size=100 \
    --hash=xxhash
# The hot cache: on, the key a candidate that is never kept (every read still goes to the
# server, with h and l); on, the key served from memory. And a get with an observer.
probe get-100-hot-cold ours 1 --servers="$one" --op=get --size=100 --hot=cold
probe get-100-hot ours 1 --servers="$one" --op=get --size=100 --hot=hot
probe get-100-observer ours 1 --servers="$one" --op=get --size=100 --observer=counting
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
    echo "share_runs: $share_runs"
} >"$out/machine.txt"

python3 tests/bench/report.py "$out" docs
echo "==> wrote docs/benchmarks.md and docs/benchmarks/*.png (raw results in $out) (t=${SECONDS}s)"
