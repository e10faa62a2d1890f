// The vertical slice: a CacheClient built from the fixture's servers sets and gets over
// the meta protocol.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

using namespace meta_memcache;

TEST_CASE("set then get returns the value over the meta protocol", "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const std::string key = mmtest::unique_key("greeting");
    CHECK(cache.set(key, "hello", 60));
    CHECK(cache.get(key) == std::optional<std::string>("hello"));
    // The server holds exactly those bytes under that key.
    CHECK(server.raw_get(key) == std::optional<std::string>("hello"));
}

TEST_CASE("get of a missing key is a miss, not an error", "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    CHECK_FALSE(cache.get(mmtest::unique_key("missing")).has_value());
}

TEST_CASE("no connection exists until the first command", "[client][pool][integration]") {
    mmtest::MemcachedServer server;
    // Each stats query is a connection of its own: count accepted connections.
    const auto before = std::stoi(server.stat("total_connections"));
    auto cache = cache_client_from_servers({server.address()});
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 0);
    CHECK(std::stoi(server.stat("total_connections")) == before + 1);
    cache.get("x");
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 1);
    CHECK(std::stoi(server.stat("total_connections")) == before + 3);
}

TEST_CASE("del removes a key and reports whether it was there", "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const std::string key = mmtest::unique_key("del");
    REQUIRE(cache.set(key, "v", 0));
    CHECK(cache.del(key));
    CHECK_FALSE(cache.del(key));
    CHECK_FALSE(server.raw_get(key).has_value());
}
