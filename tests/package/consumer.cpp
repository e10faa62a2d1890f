// A program a user writes: it only includes the umbrella header and links the target.
#include <meta_memcache/meta_memcache.hpp>

#include <cstdio>

int main() {
    const auto address = meta_memcache::ServerAddress::parse("10.0.0.1:11211 mc-1");
    meta_memcache::HashRing ring({"a:1", "b:2"});
    std::printf("meta_memcache %s: %s routes to %zu of %zu\n", meta_memcache::version_string,
                address.name().c_str(), ring.node_for("key"), ring.nodes().size());
    // A client is built lazily: no connection is made until the first command.
    auto client = meta_memcache::cache_client_from_servers({address});
    return client.get_counters().servers.size() == 1 && address.alias == "mc-1" ? 0 : 1;
}
