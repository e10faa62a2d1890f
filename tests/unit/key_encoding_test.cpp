#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/error.hpp>

#include "catch.hpp"

#include <string>

using meta_memcache::detail::encode_key;
using meta_memcache::detail::WireKey;

namespace {

WireKey enc(std::string_view key, std::string_view prefix = {}) {
    WireKey w;
    encode_key(key, w, prefix);
    return w;
}

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
        out += s;
    return out;
}

}  // namespace

TEST_CASE("a key of 187 bytes or more becomes its BLAKE2b-18 digest in base64", "[key]") {
    const auto w = enc(repeat("large_key", 50));
    CHECK(w.view() == "4gCNJuSyOJPGW8kRddioRlPx");
    CHECK(w.base64);
    CHECK(enc(std::string(187, 'a')).view() == "3RYRDUwKBvrsDEBVMYiNQm/k");
    CHECK(enc(std::string(10000, 'q')).view() == "t5P+8VXXv18xjt9iut7gj33s");
}

TEST_CASE("a non-ASCII key goes base64 with the b flag", "[key]") {
    // U+00FA n U+00ED U+00E7 o d U+2377 in UTF-8: 12 bytes
    const std::string key = "\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7";
    REQUIRE(key.size() == 12);
    const auto w = enc(key);
    CHECK(w.view() == "w7puw63Dp29k4o23");
    CHECK(w.base64);
}

TEST_CASE("keys with spaces or control bytes go base64", "[key]") {
    CHECK(enc("foo bar").view() == "Zm9vIGJhcg==");
    CHECK(enc("foo bar").base64);
    const std::string binary(
        "\x00\x01\x02"
        "binary"
        "\xff"
        "key",
        13);
    CHECK(enc(binary).view() == "AAECYmluYXJ5/2tleQ==");
    CHECK(enc("a\r\nflush_all\r\n").base64);
    CHECK(enc(std::string("tab\tkey")).base64);
    CHECK(enc(std::string("del\x7f")).base64);
}

TEST_CASE("a printable key of up to 186 bytes passes through unchanged", "[key]") {
    const std::string k(186, 'k');
    const auto w = enc(k);
    CHECK(w.view() == k);
    CHECK_FALSE(w.base64);
    CHECK(enc("plain:key~1").view() == "plain:key~1");
}

TEST_CASE("a binary key of 186 bytes fits in 248 base64 characters", "[key]") {
    const std::string k(186, ' ');
    const auto w = enc(k);
    CHECK(w.base64);
    CHECK(w.size == 248);
}

TEST_CASE("an empty key is rejected as invalid input", "[key]") {
    WireKey w;
    CHECK_THROWS_AS(encode_key("", w), meta_memcache::InvalidInputError);
    CHECK_THROWS_WITH(encode_key("", w), Catch::Contains("key is empty"));
}

TEST_CASE("the key prefix is part of the encoded key", "[key]") {
    CHECK(enc("k", "app:").view() == "app:k");
    CHECK(enc("b", "foo ").view() == "Zm9vIGI=");
    // The hash threshold counts prefix and key together.
    CHECK(enc(std::string(100, 'x'), std::string(87, 'p')).size == 24);
    CHECK(enc(std::string(100, 'x'), std::string(86, 'p')).size == 186);
}

TEST_CASE("base64 helpers round-trip and reject bad input", "[key]") {
    std::string out;
    meta_memcache::detail::base64_encode(std::string("\x00\xff\x10", 3), out);
    CHECK(out == "AP8Q");
    std::string back;
    REQUIRE(meta_memcache::detail::base64_decode(out, back));
    CHECK(back == std::string("\x00\xff\x10", 3));
    std::string bad;
    CHECK_FALSE(meta_memcache::detail::base64_decode("not base64!", bad));
    CHECK(bad.empty());
}

TEST_CASE("a single binary byte anywhere in a key makes it base64", "[key]") {
    // Every position of keys long enough to be scanned eight bytes at a time, with the
    // bytes on each side of the printable range.
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            for (const int c : {0x00, 0x01, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF}) {
                std::string key(len, 'k');
                key[at] = static_cast<char>(c);
                const bool binary = c <= 0x20 || c > 0x7E;
                INFO("length " << len << ", byte " << c << " at " << at);
                REQUIRE(enc(key).base64 == binary);
            }
        }
    }
}

TEST_CASE(
    "copying a key and checking it for bytes that need base64 in one pass agrees with "
    "doing each on its own",
    "[key]") {
    using meta_memcache::detail::any_binary;
    using meta_memcache::detail::copy_short_checked;
    // Every length up to past the two-load sizes, every position, the bytes on each side of
    // the printable range; the bytes around the copy must stay untouched.
    for (std::size_t len = 1; len <= 40; ++len) {
        for (std::size_t at = 0; at < len; ++at) {
            for (const int c : {0x00, 0x20, 0x21, 0x61, 0x7E, 0x7F, 0xFF}) {
                std::string key(len, 'k');
                key[at] = static_cast<char>(c);
                std::string dst(len + 32, '#');
                INFO("length " << len << ", byte " << c << " at " << at);
                const bool binary = copy_short_checked(dst.data() + 16, key.data(), len);
                REQUIRE(binary == any_binary(key.data(), len));
                REQUIRE(binary == (c <= 0x20 || c > 0x7E));
                REQUIRE(dst.substr(16, len) == key);
                REQUIRE(dst.substr(0, 16) == std::string(16, '#'));
                REQUIRE(dst.substr(16 + len) == std::string(16, '#'));
            }
        }
    }
}
