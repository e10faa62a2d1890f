// What one small get costs: heap allocations (counted by a replaced operator new) and,
// run under `strace -c -f`, system calls. Pinned to one CPU, one thread.
//
//   get_cost [host:port] [gets]        (default 127.0.0.1:11211, 100000 gets)
//   strace -c -f get_cost 127.0.0.1:11211 100000
//
// Prints allocations per get for a 100-byte value; the target is 1 (the returned string).

#include <meta_memcache/meta_memcache.hpp>

#include <sched.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

namespace {

std::atomic<std::uint64_t> g_allocations{0};

}  // namespace

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    return ::operator new(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

int main(int argc, char** argv) {
    const std::string server = argc > 1 ? argv[1] : "127.0.0.1:11211";
    const long gets = argc > 2 ? std::atol(argv[2]) : 100000;

    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        std::perror("sched_setaffinity (continuing unpinned)");

    try {
        auto cache =
            meta_memcache::cache_client_from_servers({meta_memcache::ServerAddress::parse(server)});
        const std::string key = "get_cost:100";
        const std::string value(100, 'v');
        if (!cache.set(key, value, 0)) {
            std::fprintf(stderr, "set failed\n");
            return 1;
        }
        for (int i = 0; i < 1000; ++i)  // warm: connection, buffers, thread-locals
            (void)cache.get(key);

        const std::uint64_t before = g_allocations.load();
        std::size_t bytes = 0;
        for (long i = 0; i < gets; ++i) {
            const auto v = cache.get(key);
            bytes += v ? v->size() : 0;
        }
        const std::uint64_t after = g_allocations.load();
        if (bytes != value.size() * static_cast<std::size_t>(gets)) {
            std::fprintf(stderr, "wrong answers\n");
            return 1;
        }
        std::printf("%ld gets of a %zu-byte value: %.3f allocations per get\n", gets, value.size(),
                    static_cast<double>(after - before) / static_cast<double>(gets));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "get_cost: %s\n", e.what());
        return 1;
    }
    return 0;
}
