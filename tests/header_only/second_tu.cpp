// Header-only mode, second translation unit (see first_tu.cpp): the same definitions again,
// and main.
#include <meta_memcache/meta_memcache.hpp>

#include <cstdio>

bool first_tu_works();

int main() {
    const auto address = meta_memcache::ServerAddress::parse("10.0.0.1:11211 mc-1");
    const meta_memcache::HashRing ring({"a:1", "b:2"});
    // A client is built lazily: no connection is made until the first command.
    auto client = meta_memcache::cache_client_from_servers({address});
    const bool second = address.name() == "mc-1" && ring.node_for("key") < 2 &&
                        client.get_counters().servers.size() == 1;
    const bool first = first_tu_works();
    std::printf("header-only: first TU %s, second TU %s\n", first ? "ok" : "FAILED",
                second ? "ok" : "FAILED");
    return first && second ? 0 : 1;
}
