// The hot cache's key lookup pieces: the byte compare and the hash a hit uses.

#include <meta_memcache/impl/client/hot_cache.hpp>

#include "catch.hpp"

#include <cstring>
#include <string>

using meta_memcache::detail::hot_key_hash;
using meta_memcache::detail::hot_same_bytes;

TEST_CASE("the hot cache's key compare agrees with memcmp at every length and position",
          "[hot_cache]") {
    for (std::size_t len = 0; len <= 48; ++len) {
        const std::string a(len, 'k');
        REQUIRE(hot_same_bytes(a.data(), std::string(a).data(), len));
        for (std::size_t at = 0; at < len; ++at) {
            std::string b = a;
            b[at] = 'x';
            INFO("length " << len << ", differing at " << at);
            REQUIRE_FALSE(hot_same_bytes(a.data(), b.data(), len));
            REQUIRE(std::memcmp(a.data(), b.data(), len) != 0);
        }
    }
}

TEST_CASE("the hot cache's key hash sees every byte of a key and is never zero", "[hot_cache]") {
    for (std::size_t len = 0; len <= 64; ++len) {
        const std::string key(len, 'k');
        const std::uint64_t h = hot_key_hash(key);
        REQUIRE(h != 0);
        REQUIRE((h >> 63U) == 1U);
        for (std::size_t at = 0; at < len; ++at) {
            std::string other = key;
            other[at] = 'x';
            INFO("length " << len << ", differing at " << at);
            REQUIRE(hot_key_hash(other) != h);
        }
        if (len > 0)  // a shorter key with the same bytes
            REQUIRE(hot_key_hash(std::string_view(key).substr(0, len - 1)) != h);
    }
}
