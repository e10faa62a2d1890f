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

TEST_CASE("lists, URLs and bare IPv6 addresses with a port are rejected, naming the text",
          "[address]") {
    CHECK_THROWS_WITH(
        ServerAddress::parse("10.0.0.1:11211,10.0.0.2:11211"),
        Catch::Contains("\"10.0.0.1:11211,10.0.0.2:11211\"") && Catch::Contains("list"));
    CHECK_THROWS_WITH(ServerAddress::parse("a:1;b:2"), Catch::Contains("list"));
    CHECK_THROWS_WITH(ServerAddress::parse("http://host:11211"),
                      Catch::Contains("\"http://host:11211\"") && Catch::Contains("URL"));
    CHECK_THROWS_WITH(ServerAddress::parse("memcached://host"), Catch::Contains("URL"));
    CHECK_THROWS_WITH(ServerAddress::parse("::1:11300"),
                      Catch::Contains("\"::1:11300\"") && Catch::Contains("[::1]:11211"));
    CHECK_THROWS_WITH(ServerAddress::parse("fe80::1:x"), Catch::Contains("IPv6"));
    // Bare IPv6 addresses without a port still parse (default port).
    CHECK(ServerAddress::parse("::1").host == "::1");
    CHECK(ServerAddress::parse("fe80::1%eth0").host == "fe80::1%eth0");
    CHECK(ServerAddress::parse("2001:db8::7 mc-6").port == 11211);
    CHECK(ServerAddress::parse("[::1]:11300").port == 11300);
}
