// A program a user writes: it only includes the umbrella header and links one target
// (meta_memcache::meta_memcache, or meta_memcache::header_only). Given a server address,
// it also stores, reads back and deletes a key there.
#include <meta_memcache/meta_memcache.hpp>

#include <cstdio>
#include <optional>
#include <string>

namespace {

/// set, get, del on `server`; true when each did what it should.
bool round_trip(const meta_memcache::ServerAddress& server) {
    auto client = meta_memcache::cache_client_from_servers({server});
    const std::string key = "package-consumer";
    if (!client.set(key, "it works", 60))
        return false;
    const std::optional<std::string> value = client.get(key);
    std::printf("%s: get -> %s\n", server.name().c_str(), value ? value->c_str() : "(miss)");
    return value == "it works" && client.del(key) && !client.get(key);
}

}  // namespace

int main(int argc, char** argv) {
    const auto address = meta_memcache::ServerAddress::parse("10.0.0.1:11211 mc-1");
    meta_memcache::HashRing ring({"a:1", "b:2"});
    std::printf("meta_memcache %s: %s routes to %zu of %zu\n", meta_memcache::version_string,
                address.name().c_str(), ring.node_for("key"), ring.nodes().size());
    // A client is built lazily: no connection is made until the first command.
    auto client = meta_memcache::cache_client_from_servers({address});
    if (client.get_counters().servers.size() != 1 || address.alias != "mc-1")
        return 1;
    if (argc > 1 && !round_trip(meta_memcache::ServerAddress::parse(argv[1])))
        return 2;
    return 0;
}
