#!/usr/bin/env bash
# Runs an example program against throwaway memcached servers on free loopback ports, and
# stops them whatever happens (exit, error, Ctrl-C, a CTest timeout).
#   run_example.sh MEMCACHED [--servers N] PROGRAM [ARGS...]
# The program gets MEMCACHE_SERVERS="127.0.0.1:P1,127.0.0.1:P2,..." (N servers, 1 by
# default) and MEMCACHE_PIDS="pid1,pid2,..." in the same order, so it can kill one.
set -euo pipefail
memcached=$1
shift
count=1
while [ $# -gt 0 ]; do
    case $1 in
        --servers) count=$2; shift 2 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: run_example.sh MEMCACHED [--servers N] PROGRAM [ARGS...]" >&2; exit 2; }

pids=()
child=
cleanup() {
    trap - EXIT INT TERM HUP
    [ -n "$child" ] && kill "$child" 2>/dev/null
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done  # throwaway: no grace
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
user=()
[ "$(id -u)" -eq 0 ] && user=(-u root)
used=" "
# Starts one memcached on a free port; retries on another port if it lost a race for it.
start_one() {
    local port pid
    for _ in 1 2 3 4 5; do
        port=$(( 20000 + RANDOM % 20000 ))
        while ! port_free "$port" || [[ $used == *" $port "* ]]; do port=$(( port + 1 )); done
        "$memcached" -l 127.0.0.1 -p "$port" -U 0 -m 64 "${user[@]}" >/dev/null 2>&1 &
        pid=$!
        pids+=("$pid")
        # Up to 30 s: on a loaded machine memcached can take seconds to listen.
        for _ in $(seq 600); do
            port_free "$port" || break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null && ! port_free "$port"; then
            used+="$port "
            servers+="${servers:+,}127.0.0.1:$port"
            server_pids+="${server_pids:+,}$pid"
            return 0
        fi
        kill "$pid" 2>/dev/null || true
    done
    echo "run_example.sh: could not start memcached" >&2
    exit 1
}
servers=
server_pids=
for _ in $(seq "$count"); do start_one; done

# The program runs in the background so a signal reaches the traps at once.
MEMCACHE_SERVERS=$servers MEMCACHE_PIDS=$server_pids "$@" <&0 &
child=$!
rc=0
wait "$child" 2>/dev/null || rc=$?  # (quiet about servers the program killed)
child=
exit "$rc"
