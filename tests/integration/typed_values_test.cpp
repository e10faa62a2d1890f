// Typed values through CacheClient against real memcached: client flags as meta-memcache-py
// writes them, compression, dictionaries, type mismatches.

#include <meta_memcache/meta_memcache.hpp>

#include "../unit/serializer_interop_vectors.hpp"
#include "catch.hpp"
#include "memcached_server.hpp"

using namespace meta_memcache;

namespace {

struct Point {
    int x = 0;
    int y = 0;
    friend bool operator==(const Point&, const Point&) = default;
};

/// The raw client flag and bytes a key holds on the server.
std::pair<std::uint32_t, std::string> stored(const mmtest::MemcachedServer& s,
                                             const std::string& key) {
    const std::string r = s.raw("mg " + key + " f v\r\n");
    REQUIRE(r.rfind("VA ", 0) == 0);
    const auto f = r.find(" f");
    const auto nl = r.find("\r\n");
    const auto size = std::stoul(r.substr(3, r.find(' ', 3) - 3));
    return {static_cast<std::uint32_t>(std::stoul(r.substr(f + 2, nl - f - 2))),
            r.substr(nl + 2, size)};
}

}  // namespace

template <>
struct meta_memcache::ValueCodec<Point> {
    static EncodedValue encode(const Point& p) {
        return EncodedValue::owned(std::to_string(p.x) + "," + std::to_string(p.y),
                                   value_flag::binary);
    }
    static std::optional<Point> decode(std::string_view bytes, std::uint32_t type_flag) {
        const auto comma = bytes.find(',');
        if (type_flag != value_flag::binary || comma == std::string_view::npos)
            return std::nullopt;
        return Point{std::stoi(std::string(bytes.substr(0, comma))),
                     std::stoi(std::string(bytes.substr(comma + 1)))};
    }
};

TEST_CASE("each value type is written with meta-memcache-py's flag and read back as itself",
          "[client][values][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const auto b = mmtest::unique_key("bytes");
    const auto i = mmtest::unique_key("int");
    const auto t = mmtest::unique_key("text");
    const auto p = mmtest::unique_key("point");
    REQUIRE(cache.set(b, "bar", 60));
    REQUIRE(cache.set(i, 123, 60));
    REQUIRE(cache.set(t, Text{"caf\xC3\xA9"}, 60));
    REQUIRE(cache.set(p, Point{3, -4}, 60));
    CHECK(stored(server, b) == std::pair<std::uint32_t, std::string>{16, "bar"});
    CHECK(stored(server, i) == std::pair<std::uint32_t, std::string>{2, "123"});
    CHECK(stored(server, t) == std::pair<std::uint32_t, std::string>{0, "caf\xC3\xA9"});
    CHECK(cache.get_typed<std::string>(b) == "bar");
    CHECK(cache.get_typed<int>(i) == 123);
    CHECK(cache.get_typed<std::int64_t>(i) == 123);
    CHECK(cache.get_typed<Text>(t) == Text{"caf\xC3\xA9"});
    CHECK(cache.get_typed<Point>(p) == Point{3, -4});
    CHECK(cache.get(i) == "123");  // a plain get hands back the bytes of any type
    const auto cas = cache.get_cas_typed<int>(i);
    CHECK(cas.value == 123);
    CHECK(cas.cas_token);
}

TEST_CASE("values written by a Python service read back in C++", "[client][values][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const auto s = mmtest::unique_key("py-str");
    const auto n = mmtest::unique_key("py-int");
    const auto pk = mmtest::unique_key("py-pickle");
    // Exactly what meta-memcache-py sends for "bar", 123 and a pickle.
    REQUIRE(server.raw("ms " + s + " 3 T60 F0\r\nbar\r\n") == "HD\r\n");
    REQUIRE(server.raw("ms " + n + " 3 T60 F2\r\n123\r\n") == "HD\r\n");
    REQUIRE(server.raw("ms " + pk + " 4 T60 F1\r\n\x80\x04K\x01\r\n") == "HD\r\n");
    CHECK(cache.get_typed<Text>(s) == Text{"bar"});
    CHECK(cache.get(s) == "bar");
    CHECK(cache.get_typed<long>(n) == 123L);
    CHECK(cache.get(pk).has_value());  // bytes of a pickle: readable as bytes only
    CHECK_FALSE(cache.get_typed<int>(pk).has_value());
    CHECK_THROWS_AS(cache.get_typed<int>(pk, {.error_on_type_mismatch = true}), TypeMismatchError);
    CHECK_FALSE(cache.get_typed<int>(s).has_value());  // "bar" is not an int
}

TEST_CASE("values are compressed with zlib over 128 bytes by default, with zstd when asked",
          "[client][values][integration]") {
    mmtest::MemcachedServer server;
    ClientOptions zstd_opts;
    zstd_opts.serializer =
        std::make_shared<Serializer>(SerializerOptions{.compression = Compression::zstd});
    auto cache = cache_client_from_servers({server.address()});
    auto zstd_cache = cache_client_from_servers({server.address()}, {}, zstd_opts);
    const auto small = mmtest::unique_key("small");
    const auto big = mmtest::unique_key("big");
    const auto big_zstd = mmtest::unique_key("big-zstd");
    const std::string json = R"({"name":"Ada","email":"ada@example.com","roles":["admin","dev"]})";
    std::string many;
    for (int i = 0; i < 20; ++i)
        many += json;
    REQUIRE(cache.set(small, json, 60));
    REQUIRE(cache.set(big, many, 60));
    REQUIRE(zstd_cache.set(big_zstd, many, 60));
    CHECK(stored(server, small).first == value_flag::binary);
    const auto [flag, bytes] = stored(server, big);
    CHECK(flag == (value_flag::binary | value_flag::zlib));
    CHECK(bytes.size() < many.size() / 4);
    CHECK(stored(server, big_zstd).first == (value_flag::binary | value_flag::zstd));
    // Either client reads both.
    for (CacheClient* c : {&cache, &zstd_cache}) {
        CHECK(c->get(big) == many);
        CHECK(c->multi_get({KeyView(small), KeyView(big), KeyView(big_zstd)}) ==
              std::vector<std::optional<std::string>>{json, many, many});
    }
}

TEST_CASE("a domain's zstd dictionary compresses its keys, and any reader decodes them",
          "[client][values][integration]") {
    mmtest::MemcachedServer server;
    auto with_dict =
        std::make_shared<Serializer>(SerializerOptions{.compression = Compression::zstd});
    with_dict->register_dictionary(interop::users_dictionary, {"users"});
    ClientOptions opts;
    opts.serializer = with_dict;
    auto writer = cache_client_from_servers({server.address()}, {}, opts);
    auto reader_without = cache_client_from_servers({server.address()});  // no dictionary
    auto reader_with = cache_client_from_servers({server.address()}, {}, opts);
    const auto k = mmtest::unique_key("user");
    const std::string value(interop::user_value);
    REQUIRE(value.size() >= 64);
    REQUIRE(writer.set(Key(k, "", "users"), value, 60));
    const auto [flag, bytes] = stored(server, k);
    CHECK(flag == (value_flag::binary | value_flag::zstd));
    // The dictionary id is in the frame: the reader with the dictionary decodes it
    // whatever the key's domain; a reader without it cannot (a miss, as in Python).
    CHECK(reader_with.get(k) == value);
    CHECK_FALSE(reader_without.get(k).has_value());
    // Python's frame for the same value decodes too.
    const auto py = mmtest::unique_key("py-user");
    const std::string frame(interop::user_zstd_users_dictionary);
    REQUIRE(server.raw("ms " + py + " " + std::to_string(frame.size()) + " T60 F48\r\n" + frame +
                       "\r\n") == "HD\r\n");
    CHECK(reader_with.get(py) == value);
}
