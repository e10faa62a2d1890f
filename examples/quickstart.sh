#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running example: installs what is
# missing, builds, starts a throwaway memcached when MEMCACHE_SERVERS is not set, runs
# examples/quickstart against it, and stops the server it started.
#   examples/quickstart.sh                                  # local throwaway server
#   MEMCACHE_SERVERS=10.0.0.1:11211,10.0.0.2:11211 examples/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/deps.sh
source tests/deps.sh
meta_memcache_install "${meta_memcache_core_packages[@]}"

echo "==> building examples/quickstart"
cmake -S . -B build/quickstart -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMETA_MEMCACHE_BUILD_TESTS=OFF -DMETA_MEMCACHE_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/quickstart --target quickstart

if [ -n "${MEMCACHE_SERVERS:-}" ]; then
    echo "==> running against MEMCACHE_SERVERS=$MEMCACHE_SERVERS"
    exec build/quickstart/examples/quickstart
fi
echo "==> running against a throwaway local memcached"
exec bash examples/run_example.sh "$(command -v memcached || echo /usr/bin/memcached)" \
    build/quickstart/examples/quickstart
