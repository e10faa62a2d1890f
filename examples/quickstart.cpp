// quickstart: set, get and delete against the servers in MEMCACHE_SERVERS
// ("host:port[ alias],..."; 127.0.0.1:11211 when unset).

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <cstdio>
#include <string>

namespace mm = meta_memcache;

int main() {
    try {
        auto cache = mm::cache_client_from_servers(example::servers_from_env());

        cache.set("quickstart:greeting", "hello from meta-memcache-cpp", 60);
        const std::optional<std::string> greeting = cache.get("quickstart:greeting");
        std::printf("get quickstart:greeting -> %s\n", greeting ? greeting->c_str() : "(miss)");

        const bool deleted = cache.del("quickstart:greeting");
        std::printf("del quickstart:greeting -> %s\n", deleted ? "deleted" : "not found");
        std::printf("get quickstart:greeting -> %s\n",
                    cache.get("quickstart:greeting") ? "(hit?!)" : "(miss)");

        for (const auto& s : cache.get_counters().servers) {
            std::printf("server %s: %llu connection(s) opened, %llu error(s)\n", s.server.c_str(),
                        static_cast<unsigned long long>(s.counters.total_created),
                        static_cast<unsigned long long>(s.counters.total_errors));
        }
        return greeting && deleted ? 0 : 1;
    } catch (const mm::Error& e) {
        std::fprintf(stderr, "quickstart: %s\n", e.what());
        return 2;
    }
}
