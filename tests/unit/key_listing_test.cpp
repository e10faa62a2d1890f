// The lines of a server's key listing (lru_crawler metadump), as memcached 1.6.18 writes them.

#include <meta_memcache/detail/key_listing.hpp>

#include "catch.hpp"

using meta_memcache::DumpedKey;
using meta_memcache::detail::parse_dump_line;
using meta_memcache::detail::url_decode;

TEST_CASE("a listing line gives the key's bytes, its expiry and its size", "[listing]") {
    DumpedKey k;
    REQUIRE(parse_dump_line(
        "key=space%20key exp=1796157668 la=1796157568 cas=1 fetch=no cls=1 size=74", k));
    CHECK(k.key == "space key");
    CHECK(k.expiry == 1796157668);
    CHECK(k.size == 74);
    REQUIRE(parse_dump_line("key=plain exp=-1 la=1796157568 cas=2 fetch=no cls=1 size=67", k));
    CHECK(k.key == "plain");
    CHECK(k.expiry == -1);
}

TEST_CASE("a listed key decodes every escaped byte, either case of hex", "[listing]") {
    std::string out;
    REQUIRE(url_decode("%FF%00a%2fb%2F", out));
    CHECK(out == std::string("\xff\0a/b/", 6));
    REQUIRE(url_decode("no-escape_.~", out));
    CHECK(out == "no-escape_.~");
}

TEST_CASE("a listing line without a key, or with a bad escape or number, is refused", "[listing]") {
    DumpedKey k;
    CHECK_FALSE(parse_dump_line("exp=-1 size=3", k));
    CHECK_FALSE(parse_dump_line("key= exp=-1", k));
    CHECK_FALSE(parse_dump_line("key=a%2 exp=-1", k));
    CHECK_FALSE(parse_dump_line("key=a%zz exp=-1", k));
    CHECK_FALSE(parse_dump_line("key=a exp=soon", k));
    CHECK_FALSE(parse_dump_line("key=a size=-3", k));
    std::string out;
    CHECK_FALSE(url_decode("%", out));
}
