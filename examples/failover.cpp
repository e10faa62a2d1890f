// failover: while a server is down, its keys are served by the next server on the ring.
//
// FailoverRouter (libmc's auto failover) keeps a dead server's keys cached somewhere else
// without a gutter pool: requests for them go to the next live server clockwise on the
// ring, with TTLs capped (60 s by default), and come home when the server is back. The
// price is consistency: during the outage two servers may hold different values for a
// key, so use it for data that tolerates that (and let on_write_failure invalidate the
// home server's copies when it returns).
//
// Needs three servers; the example kills the second (by the pid run_example.sh exports).

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

int main() try {
    auto servers = example::servers_from_env(3);
    for (std::size_t i = 0; i < servers.size(); ++i)
        servers[i].alias = "mc-" + std::to_string(i + 1);

    mm::PoolOptions options;
    options.connection_timeout = 200ms;
    options.recv_timeout = 200ms;
    auto ring = std::make_shared<mm::ShardedRouter>(servers, options);
    auto failover =
        std::make_shared<mm::FailoverRouter>(ring, mm::FailoverOptions{.failover_ttl = 60s});
    mm::CacheClient cache(failover);

    // A key whose home is mc-2.
    std::string key;
    for (int i = 0; key.empty(); ++i) {
        const std::string k = example::unique_key("profile:" + std::to_string(i));
        if (ring->pool_for(k)->name() == "mc-2")
            key = k;
    }
    example::expect(cache.set(key, "v1", 3600), "set " + key + " on its home, mc-2");

    example::kill_server(1);  // mc-2 dies
    std::printf("mc-2 killed\n");
    example::expect(!cache.get(key).has_value(),
                    "a read after the crash misses (mc-2's data is gone with it)");
    const std::string substitute = failover->pool_for(key)->name();
    example::expect(substitute != "mc-2",
                    "the key now goes to the next live server on the ring: " + substitute);
    example::expect(cache.set(key, "v2", 3600), "a write during the outage lands there");
    example::expect(cache.get(key) == "v2", "and is read back from there");
    const mm::ReadResponse r = cache.meta_get(key, {.return_ttl = true});
    const auto* hit = std::get_if<mm::Success>(&r);
    example::expect(hit != nullptr && hit->flags.ttl && *hit->flags.ttl <= 60,
                    "with its TTL capped at 60 s, so it does not outlive the outage long");
    std::printf("requests failed over so far: %llu\n",
                static_cast<unsigned long long>(failover->failed_over_requests()));
    return example::exit_code();
} catch (const std::exception& e) {
    std::fprintf(stderr, "failover: %s\n", e.what());
    return 2;
}
