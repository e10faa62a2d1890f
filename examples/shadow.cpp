// shadow: try a new pool under real traffic without the callers noticing.
//
// ShadowRouter sends a fixed sample of keys (by a hash of the key, so always the same
// ones) to a shadow pool as well. The callers only see the primary: the shadow's requests
// run on a background thread, and its hit rate, failures and latency are counted. Point
// it at a new memcached version, a new configuration or new hardware, and compare.
//
// Needs two servers: the primary and the shadow.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <cstdio>
#include <memory>
#include <string>

namespace mm = meta_memcache;

int main() try {
    const auto servers = example::servers_from_env(2);
    auto primary = std::make_shared<mm::ShardedRouter>(std::vector{servers[0]});
    auto shadow_pool = std::make_shared<mm::ShardedRouter>(std::vector{servers[1]});
    auto router = std::make_shared<mm::ShadowRouter>(primary, shadow_pool,
                                                     mm::ShadowOptions{.fraction = 0.25});
    mm::CacheClient cache(router);

    int shadowed = 0;
    for (int i = 0; i < 400; ++i) {
        const std::string key = example::unique_key("page:" + std::to_string(i));
        cache.set(key, "<html>...</html>", 600);
        cache.get(key);
        shadowed += router->is_shadowed(key) ? 1 : 0;
    }
    router->flush();  // wait for the background worker (a service never needs to)
    const mm::ShadowCounters c = router->shadow_counters();
    std::printf("shadowed keys: %d of 400; shadow requests: %llu, hit rate %.2f, failures %llu\n",
                shadowed, static_cast<unsigned long long>(c.requests), c.hit_rate(),
                static_cast<unsigned long long>(c.failures));
    example::expect(shadowed > 60 && shadowed < 140, "about a quarter of the keys are shadowed");
    example::expect(c.requests == static_cast<std::uint64_t>(2 * shadowed),
                    "each shadowed key's set and get went to the shadow too");
    example::expect(c.hit_rate() == 1.0,
                    "the shadow, warmed by the shadowed writes, hits every read");
    return example::exit_code();
} catch (const std::exception& e) {
    std::fprintf(stderr, "shadow: %s\n", e.what());
    return 2;
}
