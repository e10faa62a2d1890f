// leases: stampede protection with get_or_lease.
//
// Eight threads miss the same key at the same moment. Exactly one of them wins the lease
// and computes the value; the others wait (memcached holds a placeholder for the key) and
// get the winner's value, so the expensive computation runs once, not eight times.
// A winner that fails to compute gives the lease back with release_lease(), so the next
// caller wins at once instead of everyone waiting until the placeholder expires.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

int main() try {
    const auto servers = example::servers_from_env();

    // Retry quickly for the demo; the defaults (1 s, x1.2, 3 attempts) suit a service.
    const mm::LeasePolicy lease{.ttl = 10,  // the placeholder lives at most 10 s
                                .miss_retries = 50,
                                .miss_retry_wait = 20ms,
                                .wait_backoff_factor = 1.2,
                                .miss_max_retry_wait = 100ms};
    auto cache = mm::cache_client_from_servers(servers);

    std::printf("1. eight threads miss the same key at once\n");
    const std::string key = example::unique_key("leases:report");
    std::atomic<int> computations{0};  // how many callers won the lease and computed
    std::mutex results_mutex;
    std::vector<std::string> results;

    auto read_through = [&] {
        // The usual read path: the value, or the lease to compute it.
        mm::CasValue got = cache.get_or_lease_cas(key, lease);
        std::string value;
        if (got.value) {
            value = *got.value;  // someone else computed it (possibly while we waited)
        } else if (got.won) {
            ++computations;
            std::this_thread::sleep_for(200ms);  // the expensive query
            value = "report computed once";
            // The CAS token guards the set: it only fills the placeholder we were leased.
            cache.set(key, value, 300, {.cas_token = got.cas_token});
        } else {
            value = "(gave up waiting)";  // out of retries: compute without caching, or fail
        }
        std::lock_guard lock(results_mutex);
        results.push_back(value);
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back(read_through);
    for (auto& t : threads)
        t.join();

    int served = 0;
    for (const auto& r : results)
        if (r == "report computed once")
            ++served;
    std::printf("  %d caller(s) won the lease and computed; %d of 8 callers got the value\n",
                computations.load(), served);
    example::expect(computations == 1, "exactly one caller won the lease: computed once");
    example::expect(served == 8, "all eight callers got the winner's value");

    std::printf("2. a winner that fails gives the lease back\n");
    // Count the waits of get_or_lease through ClientOptions::lease_wait.
    std::atomic<int> waits{0};
    mm::ClientOptions counting;
    counting.lease_wait = [&](std::chrono::milliseconds d) {
        ++waits;
        std::this_thread::sleep_for(d);
    };
    auto other = mm::cache_client_from_servers(servers, {}, counting);
    const mm::LeasePolicy patient{.ttl = 10, .miss_retries = 3, .miss_retry_wait = 20ms};

    const std::string failing = example::unique_key("leases:failing");
    const mm::CasValue first = cache.get_or_lease_cas(failing, lease);
    example::expect(first.won && first.cas_token.has_value(), "the first caller won the lease");
    // ... its query fails: give the lease back instead of leaving the placeholder.
    example::expect(cache.release_lease(failing, *first.cas_token),
                    "release_lease removed the placeholder");
    const mm::CasValue next = other.get_or_lease_cas(failing, patient);
    example::expect(next.won && waits == 0, "the next caller won at once, without waiting");
    other.release_lease(failing, next.cas_token.value_or(0));

    // Without release_lease the next caller waits out its retries and gets nothing.
    const std::string abandoned = example::unique_key("leases:abandoned");
    const mm::CasValue holder = cache.get_or_lease_cas(abandoned, lease);
    waits = 0;
    const mm::CasValue late = other.get_or_lease_cas(abandoned, patient);
    std::printf("  without release_lease: the next caller waited %d times and got %s\n",
                waits.load(), late.value ? "a value" : "nothing");
    example::expect(holder.won && !late.won && !late.value && waits == 2,
                    "an abandoned lease makes the next caller wait, then give up");
    cache.release_lease(abandoned, holder.cas_token.value_or(0));
    cache.del(key);
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "leases: %s\n", e.what());
    return 2;
}
