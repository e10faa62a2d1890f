#include <meta_memcache/error.hpp>
#include <meta_memcache/server_address.hpp>

#include "catch.hpp"

using meta_memcache::InvalidInputError;
using meta_memcache::ServerAddress;

TEST_CASE("server addresses parse host, port, IPv6, unix paths and aliases", "[address]") {
    auto a = ServerAddress::parse("10.0.0.1:11211");
    CHECK(a.host == "10.0.0.1");
    CHECK(a.port == 11211);
    CHECK(a.name() == "10.0.0.1:11211");
    a = ServerAddress::parse("10.0.0.1:11212 mc-1");
    CHECK(a.alias == "mc-1");
    CHECK(a.name() == "mc-1");
    CHECK(a.endpoint() == "10.0.0.1:11212");
    a = ServerAddress::parse("cache.local");
    CHECK(a.port == 11211);
    a = ServerAddress::parse("[::1]:22122");
    CHECK(a.host == "::1");
    CHECK(a.port == 22122);
    CHECK(a.name() == "[::1]:22122");
    a = ServerAddress::parse("/run/memcached.sock local");
    CHECK(a.unix_path == "/run/memcached.sock");
    CHECK(a.name() == "local");
    CHECK(ServerAddress::parse("unix:/tmp/m.sock").unix_path == "/tmp/m.sock");
}

TEST_CASE("bad server addresses are rejected with the reason", "[address]") {
    CHECK_THROWS_AS(ServerAddress::parse(""), InvalidInputError);
    CHECK_THROWS_WITH(ServerAddress::parse("host:0"), Catch::Contains("1..65535"));
    CHECK_THROWS_WITH(ServerAddress::parse("host:99999"), Catch::Contains("1..65535"));
    CHECK_THROWS_WITH(ServerAddress::parse("host:abc"), Catch::Contains("port"));
    CHECK_THROWS_WITH(ServerAddress::parse("[::1:22"), Catch::Contains("unterminated"));
    CHECK_THROWS_WITH(ServerAddress::parse("h:1 a b"), Catch::Contains("alias"));
}
