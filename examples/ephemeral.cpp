// ephemeral: cap every TTL, for a cache whose invalidation is not trusted yet.
//
// While a new read path or a partial rollout is being tried, the writes that should
// invalidate cached values may not all go through the cache yet. EphemeralRouter caps
// every TTL (T, R, N; 0 = "never" included) so nothing cached outlives the cap.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

int main() try {
    const auto servers = example::servers_from_env(1);
    auto cache = mm::ephemeral_cache_client_from_servers(servers, 60s);
    auto plain = mm::cache_client_from_servers(servers);

    const auto ttl_of = [&](const std::string& key) {
        const mm::ReadResponse r = plain.meta_get(key, {.return_ttl = true});
        const auto* hit = std::get_if<mm::Success>(&r);
        return hit != nullptr && hit->flags.ttl ? *hit->flags.ttl : -2;
    };
    const std::string a = example::unique_key("report:2026");
    const std::string b = example::unique_key("profile:7");
    cache.set(a, "...", 86400);  // asks for a day
    cache.set(b, "...", 0);      // asks for "never"
    std::printf("TTLs on the server: %lld s and %lld s\n", static_cast<long long>(ttl_of(a)),
                static_cast<long long>(ttl_of(b)));
    example::expect(ttl_of(a) <= 60 && ttl_of(a) > 0, "a day became 60 s");
    example::expect(ttl_of(b) <= 60 && ttl_of(b) > 0, "never became 60 s");
    return example::exit_code();
} catch (const std::exception& e) {
    std::fprintf(stderr, "ephemeral: %s\n", e.what());
    return 2;
}
