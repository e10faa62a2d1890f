// Counts the reads a process makes, from inside it: load with
//
//   LD_PRELOAD=build/release/tests/bench/libmm_io_count.so MM_IO_COUNT_OUT=FILE program ...
//
// recv, recvfrom, recvmsg, read and readv (and the _FORTIFY_SOURCE forms of the first three)
// are wrapped: each call is counted, and so is each that returned -1 with errno EAGAIN or
// EWOULDBLOCK (a non-blocking read that found nothing yet). At exit one line per function,
// "<name> <calls> <would_block>", goes to FILE (stderr when MM_IO_COUNT_OUT is unset).
// Unlike strace, this does not slow the program's system calls, so how often a client reads
// before the server has answered is what it would be without the probe.
//
// tests/bench/run.sh runs mm_cost with N and with 2N iterations under it; the difference
// divided by N is the reads per operation (start-up and set-up cancel out).

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

enum Fn : std::size_t { fn_recv, fn_recvfrom, fn_recvmsg, fn_read, fn_readv, fn_count };

constexpr std::array<const char*, fn_count> names = {"recv", "recvfrom", "recvmsg", "read",
                                                     "readv"};

struct Counter {
    std::atomic<std::uint64_t> calls{0};
    std::atomic<std::uint64_t> would_block{0};
};

std::array<Counter, fn_count> counters;

/// Counts one call of `fn` that returned `r`; leaves errno as the call set it.
ssize_t counted(Fn fn, ssize_t r) {
    const int saved = errno;
    counters[fn].calls.fetch_add(1, std::memory_order_relaxed);
    if (r < 0 && (saved == EAGAIN || saved == EWOULDBLOCK))
        counters[fn].would_block.fetch_add(1, std::memory_order_relaxed);
    errno = saved;
    return r;
}

/// The next definition of `name` after this object (libc's).
template <class F>
F next(const char* name) {
    void* p = ::dlsym(RTLD_NEXT, name);
    if (p == nullptr) {
        std::fprintf(stderr, "mm_io_count: no %s to wrap\n", name);
        std::abort();
    }
    return reinterpret_cast<F>(p);
}

__attribute__((destructor)) void report() {
    const char* path = std::getenv("MM_IO_COUNT_OUT");
    std::FILE* out = path != nullptr ? std::fopen(path, "w") : stderr;
    if (out == nullptr)
        return;
    for (std::size_t i = 0; i < fn_count; ++i) {
        std::fprintf(out, "%s %llu %llu\n", names[i],
                     static_cast<unsigned long long>(counters[i].calls.load()),
                     static_cast<unsigned long long>(counters[i].would_block.load()));
    }
    if (out != stderr)
        std::fclose(out);
}

}  // namespace

// NOLINTBEGIN(bugprone-reserved-identifier): the names are libc's.
extern "C" {

ssize_t recv(int fd, void* buf, size_t n, int flags) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, int)>("recv");
    return counted(fn_recv, real(fd, buf, n, flags));
}

ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, size_t, int)>("__recv_chk");
    return counted(fn_recv, real(fd, buf, n, buflen, flags));
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* from, socklen_t* len) {
    static const auto real =
        next<ssize_t (*)(int, void*, size_t, int, sockaddr*, socklen_t*)>("recvfrom");
    return counted(fn_recvfrom, real(fd, buf, n, flags, from, len));
}

ssize_t __recvfrom_chk(
    int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* from, socklen_t* len) {
    static const auto real =
        next<ssize_t (*)(int, void*, size_t, size_t, int, sockaddr*, socklen_t*)>("__recvfrom_chk");
    return counted(fn_recvfrom, real(fd, buf, n, buflen, flags, from, len));
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
    static const auto real = next<ssize_t (*)(int, msghdr*, int)>("recvmsg");
    return counted(fn_recvmsg, real(fd, msg, flags));
}

ssize_t read(int fd, void* buf, size_t n) {
    static const auto real = next<ssize_t (*)(int, void*, size_t)>("read");
    return counted(fn_read, real(fd, buf, n));
}

ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, size_t)>("__read_chk");
    return counted(fn_read, real(fd, buf, n, buflen));
}

ssize_t readv(int fd, const iovec* iov, int count) {
    static const auto real = next<ssize_t (*)(int, const iovec*, int)>("readv");
    return counted(fn_readv, real(fd, iov, count));
}

}  // extern "C"
// NOLINTEND(bugprone-reserved-identifier)
