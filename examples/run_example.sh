#!/usr/bin/env bash
# Runs an example program against a throwaway memcached on a free loopback port, and
# stops the server whatever happens. Usage: run_example.sh MEMCACHED PROGRAM [ARGS...]
set -euo pipefail
memcached=$1
shift
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$(( 20000 + RANDOM % 20000 ))
while ! port_free "$port"; do port=$(( port + 1 )); done
user=()
[ "$(id -u)" -eq 0 ] && user=(-u root)
"$memcached" -l 127.0.0.1 -p "$port" -U 0 -m 64 "${user[@]}" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
# Up to 30 s: on a loaded machine memcached can take seconds to listen.
for _ in $(seq 600); do
    port_free "$port" || break
    sleep 0.05
done
MEMCACHE_SERVERS="127.0.0.1:$port" "$@"
