#include <meta_memcache/error.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/impl/ring/hash_functions.hpp>
#include <meta_memcache/key.hpp>

#include "catch.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED  // MD5(): the reference the ring's own MD5 is checked against
#include <openssl/md5.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

using meta_memcache::HashMode;
using meta_memcache::HashRing;
using meta_memcache::RingNode;
using meta_memcache::ServerAddress;

namespace {

ServerAddress server(std::string_view text, std::uint32_t weight = 1) {
    auto s = ServerAddress::parse(text);
    s.weight = weight;
    return s;
}

}  // namespace

// ---- uhashring (meta-memcache-py) -----------------------------------------------------

TEST_CASE("uhashring placement matches meta-memcache-py's vectors", "[ring]") {
    HashRing ring({"1.1.1.1:11211", "2.2.2.2:11211", "3.3.3.3:11211"}, HashMode::uhashring);
    CHECK(ring.identity_for("foo") == "2.2.2.2:11211");
    CHECK(ring.identity_for("bar") == "1.1.1.1:11211");
    HashRing reordered({"3.3.3.3:11211", "1.1.1.1:11211", "2.2.2.2:11211"});
    CHECK(reordered.identity_for("foo") == "2.2.2.2:11211");
    CHECK(reordered.identity_for("bar") == "1.1.1.1:11211");
}

TEST_CASE("python_bytes_repr writes bytes as Python's repr() does", "[ring][key]") {
    using meta_memcache::python_bytes_repr;
    // Vectors from Python 3.11's repr(bytes).
    CHECK(python_bytes_repr("user:42") == "b'user:42'");
    CHECK(python_bytes_repr("") == "b''");
    CHECK(python_bytes_repr("it's") == "b\"it's\"");                    // ' alone: "..."
    CHECK(python_bytes_repr("say \"hi\"") == "b'say \"hi\"'");          // " alone: '...'
    CHECK(python_bytes_repr("both ' and \"") == "b'both \\' and \"'");  // both: ' escaped
    CHECK(python_bytes_repr("back\\slash") == "b'back\\\\slash'");
    CHECK(python_bytes_repr(std::string_view("\x00\x01\x7f\x80\xff", 5)) ==
          "b'\\x00\\x01\\x7f\\x80\\xff'");
    CHECK(python_bytes_repr("tab\there\nnew\rret") == "b'tab\\there\\nnew\\rret'");
    CHECK(python_bytes_repr("caf\xc3\xa9") == "b'caf\\xc3\\xa9'");
    CHECK(python_bytes_repr("\x1f") == "b'\\x1f'");
}

TEST_CASE("python_bytes_key places a key where meta-memcache-py places it given as bytes",
          "[ring][key]") {
    // uhashring 2.1 (Debian's python3-uhashring): HashRing([...]).get_node(b'...'), which
    // hashes str(key); the same text given as str often lands elsewhere.
    HashRing ring({"1.1.1.1:11211", "2.2.2.2:11211", "3.3.3.3:11211"}, HashMode::uhashring);
    const std::vector<std::pair<std::string, std::string>> vectors{
        {"user:42", "1.1.1.1:11211"},
        {"it's", "2.2.2.2:11211"},
        {"caf\xc3\xa9", "1.1.1.1:11211"},
        {"tab\tk\n", "2.2.2.2:11211"},
        {"k\\1", "2.2.2.2:11211"},
        {"user:44", "3.3.3.3:11211"},
        {"say \"x\"", "3.3.3.3:11211"},
        {"a\rb", "2.2.2.2:11211"},
        {std::string("\x00\xff", 2), "2.2.2.2:11211"},
    };
    for (const auto& [bytes, node] : vectors) {
        const meta_memcache::Key k = meta_memcache::python_bytes_key(bytes);
        CHECK(k.key() == bytes);  // the wire key is unchanged
        CHECK(ring.identity_for(meta_memcache::KeyView(k).route()) == node);
    }
    CHECK(ring.identity_for("user:42") == "3.3.3.3:11211");  // as str: another server
}

TEST_CASE("uhashring placement for other upstream and derived vectors", "[ring]") {
    HashRing ok({"ok1:11211", "ko2:11211", "ok3:11211"});
    CHECK(ok.identity_for("foo") == "ko2:11211");
    CHECK(ok.identity_for("bar") == "ok1:11211");
    HashRing ids({"1", "2"});
    CHECK(ids.identity_for("foo") == "1");
    HashRing four({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211"});
    auto at = [&](std::string_view k) { return four.identity_for(k); };
    CHECK(at("user:1") == "10.0.0.4:11211");
    CHECK(at("user:2") == "10.0.0.3:11211");
    CHECK(at("user:3") == "10.0.0.1:11211");
    CHECK(at("a") == "10.0.0.4:11211");
    CHECK(at("b") == "10.0.0.3:11211");
    CHECK(at("c") == "10.0.0.4:11211");
    CHECK(at("\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7") == "10.0.0.2:11211");
}

TEST_CASE("uhashring weights give 160 points per unit, as uhashring does", "[ring]") {
    // Vectors from uhashring 2.1 itself (Debian's python3-uhashring):
    // HashRing({'1.1.1.1:11211': 1, '2.2.2.2:11211': 3, '3.3.3.3:11211': 2}).get_node(k)
    HashRing ring(std::vector<ServerAddress>{server("1.1.1.1:11211", 1), server("2.2.2.2:11211", 3),
                                             server("3.3.3.3:11211", 2)},
                  HashMode::uhashring);
    CHECK(ring.points_per_node() == std::vector<std::size_t>{160, 480, 320});
    const std::array<std::pair<const char*, const char*>, 12> expected{{
        {"foo", "2.2.2.2:11211"},
        {"bar", "2.2.2.2:11211"},
        {"user:1", "3.3.3.3:11211"},
        {"user:2", "3.3.3.3:11211"},
        {"user:3", "3.3.3.3:11211"},
        {"a", "3.3.3.3:11211"},
        {"b", "2.2.2.2:11211"},
        {"c", "1.1.1.1:11211"},
        {"d", "3.3.3.3:11211"},
        {"e", "3.3.3.3:11211"},
        {"f", "2.2.2.2:11211"},
        {"g", "2.2.2.2:11211"},
    }};
    for (const auto& [key, node] : expected) {
        INFO(key);
        CHECK(ring.identity_for(key) == node);
    }
}

// ---- ketama (libmemcached KETAMA_WEIGHTED) ---------------------------------------------

TEST_CASE("ketama places libmemcached's weighted ketama test set", "[ring][ketama]") {
    // Servers and vectors from libmemcached's test/tests/memcached/ketama.cpp and
    // test/fixtures/ketama.hpp (the classic libketama set; KETAMA_WEIGHTED + MD5):
    // "10.0.1.1:11211 600,10.0.1.2:11211 300,...", key -> server.
    std::vector<ServerAddress> servers{
        server("10.0.1.1:11211", 600),  server("10.0.1.2:11211", 300),
        server("10.0.1.3:11211", 200),  server("10.0.1.4:11211", 350),
        server("10.0.1.5:11211", 1000), server("10.0.1.6:11211", 800),
        server("10.0.1.7:11211", 950),  server("10.0.1.8:11211", 100),
    };
    HashRing ring(servers, HashMode::ketama);
    // The point names leave out port 11211, as libmemcached does.
    CHECK(ring.identity(0) == "10.0.1.1");
    const std::array<std::pair<const char*, const char*>, 17> expected{{
        {"SVa_]_V41)", "10.0.1.7"},
        {"*/Z;?V(.\\8", "10.0.1.1"},
        {"30C1*Z*S/_", "10.0.1.2"},
        {"ERR:EC58G>", "10.0.1.7"},
        {"1I=cTMNTKF", "10.0.1.5"},
        {"]VG<`I*Z8)", "10.0.1.5"},
        {"UUTC`-V159", "10.0.1.5"},
        {"@7RU6C6T+Z", "10.0.1.5"},
        {"/XLN0@+36;", "10.0.1.1"},
        {"4(`X;\\V.^c", "10.0.1.1"},
        {"726bW=9*a4", "10.0.1.7"},
        {"\\`)<B)UE,c", "10.0.1.1"},
        {"P1[Ma3=K1/", "10.0.1.8"},
        {"C89I.-V?cT", "10.0.1.8"},
        {"D[HE+cFXDK", "10.0.1.3"},
        {"P1L?NAB[)K", "10.0.1.1"},
        {"cDT0)Z5P6,", "10.0.1.5"},
    }};
    for (const auto& [key, node] : expected) {
        INFO(key);
        CHECK(ring.identity_for(key) == node);
    }
    // "VDEAAAAA hashes to fffcd1b5, after the last continuum point" (same libmemcached
    // test): it wraps around to the first point.
    CHECK(meta_memcache::detail::hash_md5_le32("VDEAAAAA") == 0xfffcd1b5U);
}

TEST_CASE("ketama gives 160 points per server when weights are equal", "[ring][ketama]") {
    for (std::size_t n : {2U, 3U, 5U, 7U, 10U, 33U}) {
        std::vector<std::string> names;
        for (std::size_t i = 0; i < n; ++i)
            names.push_back("10.0.0." + std::to_string(i + 1));
        HashRing ring(names, HashMode::ketama);
        INFO(n);
        for (std::size_t count : ring.points_per_node())
            CHECK(count == 160);
    }
}

// ---- libmemcached_ketama (MEMCACHED_BEHAVIOR_KETAMA alone) ------------------------------

TEST_CASE("one-at-a-time matches libhashkit's vectors", "[ring][hash]") {
    // From libmemcached's test/fixtures/hashes.hpp (input[] and output[0], one_at_a_time).
    CHECK(meta_memcache::detail::hash_one_at_a_time("apple") == 2297466611U);
    CHECK(meta_memcache::detail::hash_one_at_a_time("beat") == 3902465932U);
    CHECK(meta_memcache::detail::hash_one_at_a_time("zip") == 2509838425U);
    CHECK(meta_memcache::detail::hash_one_at_a_time(
              "The quick brown fox jumps over the lazy dog") == 1369346549U);
    // And md5 (output[1]), fnv1_32 (output[5]), fnv1a_32 (output[6]) of the same inputs.
    CHECK(meta_memcache::detail::hash_md5_le32("apple") == 3195025439U);
    CHECK(meta_memcache::detail::hash_md5_le32("zip") == 2042482093U);
    CHECK(meta_memcache::detail::hash_fnv1_32("apple") == 67176023U);
    CHECK(meta_memcache::detail::hash_fnv1_32("zip") == 1180552018U);
    CHECK(meta_memcache::detail::hash_fnv1a_32("apple") == 280767167U);
    CHECK(meta_memcache::detail::hash_fnv1a_32("zip") == 2877453236U);
}

// ---- libmc ------------------------------------------------------------------------------

TEST_CASE("libmc's hash functions match libmc's own vectors", "[ring][hash][libmc]") {
    // From douban/libmc tests/test_hashkit.cpp (fnv132/fnv1a32 reference tools, zlib crc32).
    using namespace meta_memcache::detail;
    const std::string zhong = "\xe4\xb8\xad";  // "中" in UTF-8
    CHECK(hash_fnv1_32("") == 0x811c9dc5U);
    CHECK(hash_fnv1_32("123456") == 0xeb008bb8U);
    CHECK(hash_fnv1_32("abcdef") == 0x9f2d4718U);
    CHECK(hash_fnv1_32(zhong) == 0x6cd2e676U);
    CHECK(hash_fnv1_32(std::string_view("\x01\x47\x6c\x10\xf3", 5)) == 0U);
    CHECK(hash_fnv1a_32("") == 0x811c9dc5U);
    CHECK(hash_fnv1a_32("123456") == 0x9995b6aaU);
    CHECK(hash_fnv1a_32("abcdef") == 0xff478a2aU);
    CHECK(hash_fnv1a_32(zhong) == 0xb846d3f4U);
    CHECK(hash_fnv1a_32(std::string_view("\xcc\x24\x31\xc4", 4)) == 0U);
    CHECK(hash_crc32("") == 0U);
    CHECK(hash_crc32("123456") == 0x972d361U);
    CHECK(hash_crc32("abcdef") == 0x4b8e39efU);
    CHECK(hash_crc32(zhong) == 0xd5d15a8bU);
    // md5: libmc checks hex digests (e10adc39... for "123456"); its ring uses bytes 0..3
    // little-endian, so 0x39dc0ae1.
    CHECK(hash_md5_le32("123456") == 0x39dc0ae1U);
}

TEST_CASE("libmc rings place keys as libmc's KetamaSelector does", "[ring][libmc]") {
    // Servers as libmc's Python client takes them: "10.0.0.1:11211", "10.0.0.2:11212",
    // "cache-3.example:11211 mc-3" (alias), "/tmp/mc.sock". Vectors generated by compiling
    // douban/libmc 1069477's src/HashkitKetama.cpp (KetamaSelector::addServers/getServer,
    // check_alive=false) with each setHashFunction(), for the keys below.
    const std::vector<ServerAddress> servers{server("10.0.0.1:11211"), server("10.0.0.2:11212"),
                                             server("cache-3.example:11211 mc-3"),
                                             server("/tmp/mc.sock")};
    const std::array<std::string, 12> keys{
        "foo", "bar", "user:1", "user:2", "user:3",     "a",
        "b",   "c",   "d",      "e",      "session:42", "\xc3\xba\xc3\xb1\xc3\xad"};
    struct Case {
        HashMode mode;
        std::array<std::size_t, 12> nodes;
    };
    const std::array<Case, 4> cases{{
        {HashMode::libmc_md5, {3, 1, 1, 0, 2, 3, 2, 1, 1, 0, 1, 1}},
        {HashMode::libmc_crc32, {3, 2, 3, 3, 0, 3, 0, 1, 2, 1, 0, 0}},
        {HashMode::libmc_fnv1_32, {3, 1, 3, 3, 3, 3, 3, 3, 3, 3, 1, 0}},
        {HashMode::libmc_fnv1a_32, {1, 2, 2, 2, 1, 0, 0, 3, 1, 3, 3, 3}},
    }};
    for (const auto& c : cases) {
        HashRing ring(servers, c.mode);
        CHECK(ring.identity(0) == "10.0.0.1");
        CHECK(ring.identity(1) == "10.0.0.2:11212");
        CHECK(ring.identity(2) == "mc-3");
        CHECK(ring.identity(3) == "/tmp/mc.sock");
        CHECK(ring.points_per_node() == std::vector<std::size_t>{100, 100, 100, 100});
        for (std::size_t i = 0; i < keys.size(); ++i) {
            INFO(std::string(to_string(c.mode)) + " key " + keys[i]);
            CHECK(ring.node_for(keys[i]) == c.nodes[i]);
        }
    }
}

// ---- xxhash and common rules ------------------------------------------------------------

TEST_CASE("xxhash placement is stable across releases", "[ring]") {
    // Derived with this implementation when the mode was introduced; a change here
    // re-shards every xxhash fleet and must not happen silently.
    HashRing ring({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}, HashMode::xxhash);
    CHECK(ring.points_per_node() == std::vector<std::size_t>{160, 160, 160});
    std::vector<std::size_t> got;
    for (const char* k : {"foo", "bar", "user:1", "user:2", "user:3", "a", "b", "c"})
        got.push_back(ring.node_for(k));
    CHECK(got == std::vector<std::size_t>{1, 2, 1, 0, 1, 2, 0, 1});
}

TEST_CASE("the points' names follow each client's rules", "[ring]") {
    using meta_memcache::ring_identity;
    const auto plain = server("10.0.0.1:11211");
    const auto other_port = server("10.0.0.1:11300");
    const auto aliased = server("10.0.0.1:11300 mc-1");
    const auto v6 = server("[::1]:11300");
    const auto sock = server("/run/mc.sock");
    CHECK(ring_identity(plain, HashMode::uhashring) == "10.0.0.1:11211");
    CHECK(ring_identity(plain, HashMode::xxhash) == "10.0.0.1:11211");
    CHECK(ring_identity(plain, HashMode::ketama) == "10.0.0.1");
    CHECK(ring_identity(plain, HashMode::libmc_md5) == "10.0.0.1");
    CHECK(ring_identity(other_port, HashMode::ketama) == "10.0.0.1:11300");
    CHECK(ring_identity(other_port, HashMode::libmc_crc32) == "10.0.0.1:11300");
    for (auto mode : {HashMode::uhashring, HashMode::ketama, HashMode::libmemcached_ketama,
                      HashMode::libmc_md5, HashMode::xxhash}) {
        CHECK(ring_identity(aliased, mode) == "mc-1");
    }
    CHECK(ring_identity(v6, HashMode::uhashring) == "[::1]:11300");
    CHECK(ring_identity(v6, HashMode::ketama) == "::1:11300");
    CHECK(ring_identity(sock, HashMode::uhashring) == "/run/mc.sock");
    CHECK(ring_identity(sock, HashMode::ketama) == "/run/mc.sock:0");
    CHECK(ring_identity(sock, HashMode::libmc_fnv1a_32) == "/run/mc.sock");
}

TEST_CASE("a ring needs servers, no duplicates and weights its mode honours", "[ring]") {
    using meta_memcache::InvalidInputError;
    CHECK_THROWS_AS(HashRing(std::vector<std::string>{}), InvalidInputError);
    CHECK_THROWS_WITH(HashRing({"a:1", "a:1"}), Catch::Contains("listed twice"));
    CHECK_THROWS_WITH(HashRing(std::vector<RingNode>{{"a", 0}, {"b", 1}}, HashMode::ketama),
                      Catch::Contains("weight 0"));
    CHECK_THROWS_WITH(HashRing(std::vector<RingNode>{{"a", 2}, {"b", 1}}, HashMode::libmc_md5),
                      Catch::Contains("HashMode::libmc_md5 has no weights"));
    CHECK_THROWS_WITH(
        HashRing(std::vector<RingNode>{{"a", 2}, {"b", 1}}, HashMode::libmemcached_ketama),
        Catch::Contains("no weights"));
    CHECK_THROWS_WITH(HashRing(std::vector<RingNode>{{"a", 100000}, {"b", 1}}, HashMode::xxhash),
                      Catch::Contains("weights too large"));
    // Two addresses that name the same point ("host" for port 11211 under ketama).
    CHECK_THROWS_WITH(HashRing(std::vector<ServerAddress>{server("10.0.0.1:11211"),
                                                          server("10.0.0.9:11211 10.0.0.1")},
                               HashMode::ketama),
                      Catch::Contains("listed twice"));
    CHECK(meta_memcache::honours_weights(HashMode::ketama));
    CHECK_FALSE(meta_memcache::honours_weights(HashMode::libmc_crc32));
}

TEST_CASE("weights shift keys in proportion", "[ring]") {
    for (auto mode : {HashMode::uhashring, HashMode::ketama, HashMode::xxhash}) {
        HashRing ring(std::vector<RingNode>{{"a", 1}, {"b", 3}}, mode);
        std::array<int, 2> counts{};
        for (int i = 0; i < 20000; ++i)
            ++counts.at(ring.node_for("key:" + std::to_string(i)));
        INFO(to_string(mode));
        // b has 3/4 of the ring: allow the spread of 160-point rings.
        CHECK(counts[1] > counts[0] * 2);
        CHECK(counts[1] < counts[0] * 5);
    }
}

// ---- the lookup against a plain search over OpenSSL's MD5 --------------------------------

namespace {

std::array<unsigned char, 16> openssl_md5(std::string_view s) {
    std::array<unsigned char, 16> d{};
    MD5(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
    return d;
}

std::uint64_t big_endian(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | p[i];
    return v;
}

std::uint32_t little_endian(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace

TEST_CASE("MD5 of short and long inputs matches OpenSSL's", "[ring][hash]") {
    std::string data;
    for (int n = 0; n <= 130; ++n) {
        const auto d = openssl_md5(data);
        INFO("length " << n);
        CHECK(meta_memcache::detail::hash_md5_le32(data) == little_endian(d.data()));
        data += static_cast<char>('a' + n % 26);
        if (n % 7 == 0)
            data.back() = static_cast<char>(0x80 + n);  // bytes above 0x7F too
    }
}

TEST_CASE("ring lookups agree with a plain search over every point", "[ring]") {
    const std::vector<std::string> ids = {"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211",
                                          "10.0.0.4:11211", "10.0.0.5:11211"};
    SECTION("uhashring: 128-bit positions, first point strictly after the key") {
        struct P {
            std::uint64_t hi, lo;
            std::size_t node;
        };
        std::vector<P> points;
        for (std::size_t n = 0; n < ids.size(); ++n) {
            for (int i = 0; i < 160; ++i) {
                const auto d = openssl_md5(ids[n] + "-" + std::to_string(i));
                points.push_back({big_endian(d.data()), big_endian(d.data() + 8), n});
            }
        }
        std::sort(points.begin(), points.end(),
                  [](const P& a, const P& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; });
        const HashRing ring(ids, HashMode::uhashring);
        for (int k = 0; k < 20000; ++k) {
            const std::string key = "key:" + std::to_string(k * 7919);
            const auto d = openssl_md5(key);
            const std::uint64_t hi = big_endian(d.data());
            const std::uint64_t lo = big_endian(d.data() + 8);
            auto it = std::find_if(points.begin(), points.end(),
                                   [&](const P& p) { return p.hi != hi ? p.hi > hi : p.lo > lo; });
            if (it == points.end())
                it = points.begin();
            REQUIRE(ring.node_for(key) == it->node);
        }
    }
    SECTION("libmc_md5: 32-bit positions, first point at or after the key") {
        std::vector<std::pair<std::uint32_t, std::size_t>> points;
        for (std::size_t n = 0; n < ids.size(); ++n) {
            for (int i = 0; i < 100; ++i) {
                const auto d = openssl_md5(ids[n] + "-" + std::to_string(i));
                points.emplace_back(little_endian(d.data()), n);
            }
        }
        std::stable_sort(points.begin(), points.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        const HashRing ring(ids, HashMode::libmc_md5);
        for (int k = 0; k < 20000; ++k) {
            const std::string key = "key:" + std::to_string(k * 7919);
            const std::uint32_t h = little_endian(openssl_md5(key).data());
            auto it = std::find_if(points.begin(), points.end(),
                                   [&](const auto& p) { return p.first >= h; });
            if (it == points.end())
                it = points.begin();
            REQUIRE(ring.node_for(key) == it->second);
        }
    }
}
