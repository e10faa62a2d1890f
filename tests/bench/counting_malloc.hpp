#pragma once

// A counting allocator for the cost probes: malloc, calloc, realloc and the aligned forms
// are replaced (operator new goes through malloc), so C and C++ code alike is counted.
// Include it in exactly one translation unit of a program; read bench::allocations().

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

extern "C" {
void* __libc_malloc(std::size_t);                 // NOLINT(bugprone-reserved-identifier)
void* __libc_calloc(std::size_t, std::size_t);    // NOLINT(bugprone-reserved-identifier)
void* __libc_realloc(void*, std::size_t);         // NOLINT(bugprone-reserved-identifier)
void* __libc_memalign(std::size_t, std::size_t);  // NOLINT(bugprone-reserved-identifier)
void __libc_free(void*);                          // NOLINT(bugprone-reserved-identifier)
}

namespace bench {
namespace counting_malloc_detail {
inline std::atomic<std::uint64_t> g_allocations{0};
inline void counted() {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace counting_malloc_detail

/// Heap allocations made by the process so far.
inline std::uint64_t allocations() {
    return counting_malloc_detail::g_allocations.load();
}
}  // namespace bench

extern "C" {
void* malloc(std::size_t n) {
    bench::counting_malloc_detail::counted();
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) {
    bench::counting_malloc_detail::counted();
    return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) {
    bench::counting_malloc_detail::counted();
    return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
    bench::counting_malloc_detail::counted();
    return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    bench::counting_malloc_detail::counted();
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    bench::counting_malloc_detail::counted();
    void* p = __libc_memalign(a, n);
    if (p == nullptr)
        return ENOMEM;
    *out = p;
    return 0;
}
void free(void* p) {
    __libc_free(p);
}
}
