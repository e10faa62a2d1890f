#!/usr/bin/env bash
# Soak run (not part of CI): builds the release preset's soak program and runs it for
# N minutes (default 10). Mixed operations (get, set, multi_get, delete, counters,
# get_or_lease) from four threads over four private memcached servers; one server is
# stopped and started again on the same port every minute. Prints a SOAK: line every 10 s
# and a summary at the end; exits non-zero on a crossed or stale answer, or when resident
# memory grows by more than 20 % after warm-up.
#   tests/soak/run.sh [minutes]
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-10}
cmake --preset release >/dev/null
cmake --build --preset release --target soak
exec build/release/tests/soak/soak "$minutes"
