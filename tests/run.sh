#!/usr/bin/env bash
# Installs what is missing, then configures, builds and runs the whole suite:
#   1. formatting check (clang-format)
#   2. dev workflow: Debug, -Werror; unit, integration (real memcached) and package tests
#   3. asan workflow: the whole suite under AddressSanitizer + UBSan (the package tests
#      ran in step 2, and so did the million-key MD5 comparison; every length 0-200 of
#      it runs here)
#   4. tsan: the pool, client and thread-heavy tests ([concurrency], which includes the
#      [faults] tests under four-thread load) and the asynchronous client's ([async])
#      under ThreadSanitizer
#   5. clang: the library, every public header, the header-only mode and the examples
#      build with clang 14
#   6. tidy: clang-tidy over the library (.clang-tidy, warnings are errors)
#   7. fuzz: the batch-codec fuzzer and the encoder round-trip fuzzer, bounded time
# Exits non-zero on any failure. Usage: tests/run.sh [--quick]   (--quick: step 2 only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=tests/deps.sh
source tests/deps.sh
meta_memcache_install "${meta_memcache_core_packages[@]}" "${meta_memcache_test_packages[@]}"

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)
started=$(date +%s)
step_started=$started
# Each step header also says how long the previous step took.
step() {
    local now
    now=$(date +%s)
    [ "$now" -gt "$started" ] && printf '    (%d s)\n' $((now - step_started))
    step_started=$now
    printf '\n==> %s\n' "$*"
}

step "clang-format"
find include src tests examples -name '*.hpp' -o -name '*.ipp' -o -name '*.cpp' | grep -v '/build/' |
    xargs clang-format --dry-run --Werror

step "dev: configure, build, unit + integration + package tests"
cmake --workflow --preset dev

if [ "$quick" -eq 1 ]; then
    echo "quick run passed in $(( $(date +%s) - started )) s"
    exit 0
fi

step "asan: the whole suite under AddressSanitizer and UBSan"
cmake --workflow --preset asan

step "tsan: pool, client, concurrency and faults tests under ThreadSanitizer"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target meta_memcache_integration_tests
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    build/tsan/tests/meta_memcache_integration_tests "[pool],[client],[concurrency]"
# The asynchronous client: its io_context run from two threads (in [concurrency] above),
# and the rest of its tests, a few seconds.
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    build/tsan/tests/meta_memcache_integration_tests "[async]"

step "clang: the library, public headers, header-only mode and examples build with clang 14 (-Werror)"
cmake --preset clang >/dev/null
cmake --build --preset clang

step "tidy: clang-tidy over the library"
cmake --preset tidy >/dev/null
cmake --build --preset tidy

if [ -f tests/fuzz/CMakeLists.txt ]; then
    step "fuzz: batch codec (60 s) and encoder round trip (30 s)"
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz --target fuzz_batch_codec fuzz_request_roundtrip
    mkdir -p build/fuzz/corpus/codec build/fuzz/corpus/roundtrip
    # Side by side, one core each.
    build/fuzz/tests/fuzz/fuzz_request_roundtrip -max_total_time=30 -rss_limit_mb=1024 \
        -print_final_stats=1 build/fuzz/corpus/roundtrip > build/fuzz/roundtrip.log 2>&1 &
    roundtrip=$!
    build/fuzz/tests/fuzz/fuzz_batch_codec -max_total_time=60 -rss_limit_mb=1024 \
        -print_final_stats=1 build/fuzz/corpus/codec "$root/tests/fuzz/corpus/codec"
    rc=0
    wait "$roundtrip" || rc=$?
    tail -n 12 build/fuzz/roundtrip.log
    [ "$rc" -eq 0 ] || { echo "fuzz_request_roundtrip failed ($rc)"; cat build/fuzz/roundtrip.log; exit "$rc"; }
fi

step "done"
echo "all passed in $(( $(date +%s) - started )) s"
