#!/usr/bin/env bash
# Runs the fault-injection tests ([faults]) and prints the figures they measure as one
# markdown table per fault, as docs/reliability.md shows them. Each test prints a
# "RELIABILITY: fault=<name> key=value ..." line; this collects them.
#   tests/reliability_figures.sh [path/to/meta_memcache_integration_tests]
# Without an argument it builds the dev preset and uses its binary. Run as root with
# iproute2 for the network-partition figures (otherwise that test is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
    cmake --preset dev >/dev/null
    cmake --build --preset dev --target meta_memcache_integration_tests >/dev/null
    bin=build/dev/tests/meta_memcache_integration_tests
fi
lines=$("$bin" "[faults]" | grep '^RELIABILITY: ' || true)
if [ -z "$lines" ]; then
    echo "no RELIABILITY: lines (did the [faults] tests run?)" >&2
    exit 1
fi
echo "$lines" | while IFS= read -r line; do
    name=$(sed -E 's/^RELIABILITY: fault=(.*) hold_ms=.*/\1/' <<<"$line")
    rest=$(sed -E 's/^RELIABILITY: fault=.* (hold_ms=.*)/\1/' <<<"$line")
    declare -A f=()
    for kv in $rest; do
        f[${kv%%=*}]=${kv#*=}
    done
    printf '\n### %s (fault held %s ms)\n\n' "$name" "${f[hold_ms]}"
    printf '| figure | measured |\n|---|---|\n'
    printf '| time to mark the server down | %s ms |\n' "${f[mark_down_ms]}"
    printf '| calls failed during the fault (of %s in the run) | %s |\n' "${f[calls]}" "${f[failed_calls]}"
    printf '| time to recover once the fault ended | %s ms |\n' "${f[recovery_ms]}"
    printf '| p99 of calls to healthy servers during the fault (before it) | %s ms (%s ms) |\n' \
        "${f[healthy_p99_ms]}" "${f[healthy_p99_before_ms]}"
    printf '| slowest call of the run | %s ms |\n' "${f[slowest_call_ms]}"
    printf '| errors callers saw | %s |\n' "${f[errors]//,/, }"
    printf '| faulted pool counters | timeouts %s, mark_downs %s, probes %s, fast_failures %s, total_errors %s, retries %s, connections opened %s |\n' \
        "${f[timeouts]}" "${f[mark_downs]}" "${f[probes]}" "${f[fast_failures]}" \
        "${f[total_errors]}" "${f[retries]}" "${f[connections_opened]}"
    unset f
done
