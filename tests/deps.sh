# Sourced by tests/run.sh and examples/quickstart.sh: installs the Debian packages that are
# missing (apt-get update first), as root or through sudo.

meta_memcache_core_packages=(
    cmake ninja-build g++ pkg-config
    libasio-dev libxxhash-dev libsodium-dev libssl-dev libzstd-dev zlib1g-dev
    memcached
)
# What the whole test suite needs on top: Catch2, fmt (the serializer tests format with it),
# clang for the fuzzers, libmemcached to compare placement and speed against, openssl to
# make test certificates, iproute2 for network-partition tests, strace/valgrind for the
# per-op cost figures.
meta_memcache_test_packages=(
    catch2 libfmt-dev clang clang-format libclang-rt-14-dev libmemcached-dev openssl iproute2
    strace valgrind gnuplot-nox
)

meta_memcache_install() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "==> installing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: missing packages (${missing[*]}) and not root; install them first" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}
