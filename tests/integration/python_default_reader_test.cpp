// What a C++ client with its defaults writes, read the way meta-memcache-py's default
// serializer (MixedSerializer) reads it: a decoder written here from its rules, sharing no
// code with the library (zlib's own inflate, the flag dispatch of MixedSerializer).

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"
#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using namespace meta_memcache;

namespace {

/// What MixedSerializer.unserialize returns: the Python type and the value's bytes, or
/// nothing when it would fail (it then logs the error and the read is a miss).
struct PythonValue {
    std::string type;  ///< "str", "int", "bytes"
    std::string bytes;
};

std::optional<std::string> zlib_decompress(std::string_view in) {
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK)
        return std::nullopt;
    std::string out;
    std::string chunk(64 * 1024, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(chunk.data(), chunk.size() - zs.avail_out);
    }
    const bool ok = rc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    return ok ? std::optional<std::string>(std::move(out)) : std::nullopt;
}

/// MixedSerializer's rules: bit 8 is zlib (zlib.decompress), then 0 str, 2 and 4 int,
/// 16 bytes; any other flag (1, and 32 or 48, which it does not know) goes to pickle.loads,
/// which fails on anything a C++ client writes.
std::optional<PythonValue> mixed_serializer_read(std::string data, std::uint32_t flag) {
    constexpr std::uint32_t zlib_bit = 8;
    if ((flag & zlib_bit) != 0) {
        auto inflated = zlib_decompress(data);
        if (!inflated)
            return std::nullopt;
        data = std::move(*inflated);
        flag &= ~zlib_bit;
    }
    switch (flag) {
        case 0:
            return PythonValue{"str", std::move(data)};
        case 2:
        case 4:
            return PythonValue{"int", std::move(data)};
        case 16:
            return PythonValue{"bytes", std::move(data)};
        default:
            return std::nullopt;  // pickle.loads: UnpicklingError
    }
}

std::optional<PythonValue> python_get(CacheClient& cache, const std::string& key) {
    const ReadResponse r =
        cache.meta_get(key, RequestFlags{.return_client_flag = true, .return_value = true});
    const auto* v = std::get_if<Value>(&r);
    REQUIRE(v != nullptr);
    return mixed_serializer_read(v->data, v->flags.client_flag.value_or(0));
}

}  // namespace

TEST_CASE("meta-memcache-py's default serializer reads every value a default client writes",
          "[client][values][interop][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    std::string json;
    for (int i = 0; i < 50; ++i)
        json += R"({"id":)" + std::to_string(i) + R"(,"name":"Ada","roles":["admin","dev"]})";
    const std::string short_bytes = "short";
    const std::string exactly_128(128, 'x');
    const std::string long_text = "caf\xc3\xa9 " + json;
    const std::string random = mmtest::random_bytes(4096, 7);  // incompressible: stays plain

    const auto k = [](const char* name) { return mmtest::unique_key(name); };
    const std::string k_short = k("short"), k_128 = k("128"), k_json = k("json"),
                      k_text = k("text"), k_int = k("int"), k_random = k("random");
    REQUIRE(cache.set(k_short, short_bytes, 60));
    REQUIRE(cache.set(k_128, exactly_128, 60));
    REQUIRE(cache.set(k_json, json, 60));
    REQUIRE(cache.set(k_text, Text{long_text}, 60));
    REQUIRE(cache.set(k_int, 1234567, 60));
    REQUIRE(cache.set(k_random, random, 60));

    const auto expect = [&](const std::string& key, const char* type, const std::string& bytes) {
        INFO(key);
        const auto got = python_get(cache, key);
        REQUIRE(got);
        CHECK(got->type == type);
        CHECK(got->bytes == bytes);
    };
    expect(k_short, "bytes", short_bytes);
    expect(k_128, "bytes", exactly_128);
    expect(k_json, "bytes", json);
    expect(k_text, "str", long_text);
    expect(k_int, "int", "1234567");
    expect(k_random, "bytes", random);
    // Byte for byte what MixedSerializer writes: 128 bytes stay plain, more is zlib at F24.
    const auto raw_flag = [&](const std::string& key) {
        const ReadResponse r = cache.meta_get(key, RequestFlags{.return_client_flag = true});
        return std::get<Success>(r).flags.client_flag.value_or(0);
    };
    CHECK(raw_flag(k_128) == 16);
    CHECK(raw_flag(k_json) == 24);
    CHECK(raw_flag(k_text) == 8);
}
