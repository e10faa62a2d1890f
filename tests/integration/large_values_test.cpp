// Values larger than one item, split into chunks (ClientOptions::large_values).

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <atomic>
#include <thread>

using namespace meta_memcache;

namespace {

ClientOptions splitting() {
    ClientOptions o;
    o.large_values.enabled = true;
    return o;
}

/// Incompressible bytes, so the value is as large on the wire as in memory.
std::string pattern(std::size_t n, char seed) {
    return mmtest::random_bytes(n, static_cast<unsigned>(seed));
}

/// A user type whose codec (wrongly) writes the chunked-value bit.
struct ClaimsChunkBit {};

}  // namespace

template <>
struct meta_memcache::ValueCodec<ClaimsChunkBit> {
    static EncodedValue encode(const ClaimsChunkBit&) {
        return EncodedValue::borrowed("x", value_flag::chunked | value_flag::binary);
    }
};

TEST_CASE("a value over the item size is split into chunks and read back whole",
          "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {}, splitting());
    const auto k = mmtest::unique_key("large");
    const std::string value = pattern(5 * 1024 * 1024 + 123, 'a');
    CHECK(cache.set(k, value, 60));
    CHECK(cache.get(k) == value);
    // A client that does not split can still read it.
    auto plain = cache_client_from_servers({server.address()});
    CHECK(plain.get(k) == value);
    // The key itself holds only a small index.
    const auto index = server.raw_get(k);
    REQUIRE(index);
    CHECK(index->size() < 100);
    CHECK(index->rfind("MMCHUNK1 ", 0) == 0);
}

TEST_CASE("a large value works with CAS and in multi_get", "[client][large][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto cache = cache_client_from_servers(cluster.addresses(), {}, splitting());
    const auto k = mmtest::unique_key("large-cas");
    const std::string v1 = pattern(2 * 1024 * 1024, 'x');
    const auto cas = cache.set_cas(k, v1, 60);
    REQUIRE(cas);
    const CasValue got = cache.get_cas(k);
    CHECK(got.value == v1);
    CHECK(got.cas_token == cas);
    const std::string v2 = pattern(3 * 1024 * 1024, 'y');
    CHECK(cache.set(k, v2, 60, {.cas_token = *cas}));
    CHECK_FALSE(cache.set(k, v1, 60, {.cas_token = *cas}));
    const auto small = mmtest::unique_key("small");
    REQUIRE(cache.set(small, "s", 60));
    const auto many = cache.multi_get({KeyView(k), KeyView(small), KeyView("absent-key")});
    CHECK(many[0] == v2);
    CHECK(many[1] == "s");
    CHECK_FALSE(many[2]);
}

TEST_CASE("a missing chunk reads as a miss", "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {}, splitting());
    const auto k = mmtest::unique_key("large-miss");
    REQUIRE(cache.set(k, pattern(3 * 1024 * 1024, 'm'), 60));
    const auto index = server.raw_get(k);
    REQUIRE(index);
    const std::string version = index->substr(9, index->find(' ', 9) - 9);
    const std::string chunk1 = k + '\x1f' + version + '\x1f' + "1";
    REQUIRE(std::holds_alternative<Success>(cache.meta_delete(chunk1)));
    CHECK_FALSE(cache.get(k).has_value());
}

TEST_CASE("a concurrent overwrite is never read as a mix of two writes",
          "[client][large][integration][concurrency]") {
    mmtest::MemcachedServer server;
    ClientOptions opts = splitting();
    opts.serializer =
        std::make_shared<Serializer>(SerializerOptions{.compression = Compression::none});
    auto cache = cache_client_from_servers({server.address()}, {.max_connections = 8}, opts);
    const auto k = mmtest::unique_key("large-race");
    const std::size_t n = 2 * 1024 * 1024 + 7;
    REQUIRE(cache.set(k, std::string(n, 'a'), 60));
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::atomic<int> mixed{0};
    std::thread writer([&] {
        for (int i = 0; i < 30; ++i)
            cache.set(k, std::string(n, i % 2 ? 'b' : 'a'), 60);
        stop = true;
    });
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            while (!stop) {
                const auto v = cache.get(k);
                if (!v)
                    continue;
                ++reads;
                if (v->size() != n || v->find_first_not_of((*v)[0]) != std::string::npos)
                    ++mixed;
            }
        });
    }
    writer.join();
    for (auto& t : readers)
        t.join();
    CHECK(reads > 0);
    CHECK(mixed == 0);
}

TEST_CASE("without splitting a value over the item size is rejected; with it, the cap holds",
          "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto plain = cache_client_from_servers({server.address()});
    CHECK_THROWS_AS(plain.set("big", pattern(2 * 1024 * 1024, 'z'), 60), InvalidInputError);
    ClientOptions capped = splitting();
    capped.large_values.max_value_size = 3 * 1024 * 1024;
    auto cache = cache_client_from_servers({server.address()}, {}, capped);
    CHECK_THROWS_WITH(cache.set("big", pattern(4 * 1024 * 1024, 'z'), 60),
                      Catch::Contains("large_values.max_value_size"));
    CHECK_THROWS_WITH(
        cache.set("big", pattern(2 * 1024 * 1024, 'z'), 60, {.mode = SetMode::append}),
        Catch::Contains("append and prepend"));
}

TEST_CASE("values are compressed before they are split", "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {}, splitting());
    const auto k = mmtest::unique_key("compressible");
    const std::string value(5 * 1024 * 1024, 'a');  // zlib makes this about 5 KiB
    REQUIRE(cache.set(k, value, 60));
    const auto stored =
        cache.meta_get(k, RequestFlags{.return_client_flag = true, .return_value = true});
    REQUIRE(std::holds_alternative<Value>(stored));
    CHECK(std::get<Value>(stored).flags.client_flag == (value_flag::binary | value_flag::zlib));
    CHECK(std::get<Value>(stored).data.size() < 16 * 1024);  // one small item, no chunks
    CHECK(cache.get(k) == value);
}

TEST_CASE("a compressible value over max_value_size is rejected before it is compressed or sent",
          "[client][large][integration]") {
    mmtest::MemcachedServer server;
    const auto k = mmtest::unique_key("huge-compressible");
    // 65 MiB of one byte compresses to a few KiB, which would fit an item; a get could never
    // decompress it past 64 MiB. The limit counts the bytes before compression.
    auto cache = cache_client_from_servers({server.address()});
    CHECK_THROWS_WITH(cache.set(k, std::string(std::size_t{65} << 20, 'h'), 0),
                      Catch::Contains("max_value_size") && Catch::Contains("before compression"));
    CHECK_FALSE(server.raw_get(k).has_value());
    // The connection is still in step, splitting or not.
    ClientOptions capped = splitting();
    capped.large_values.max_value_size = 256 * 1024;
    auto split = cache_client_from_servers({server.address()}, {}, capped);
    CHECK_THROWS_AS(split.set(k, std::string(300 * 1024, 'h'), 0), InvalidInputError);
    CHECK_FALSE(server.raw_get(k).has_value());
    REQUIRE(split.set(k, std::string(256 * 1024, 'h'), 0));
    CHECK(split.get(k) == std::string(256 * 1024, 'h'));
    CHECK(cache.get(k) == std::string(256 * 1024, 'h'));
    // A limit no get could read back is refused when the client is built.
    ClientOptions unreadable;
    unreadable.serializer =
        std::make_shared<Serializer>(SerializerOptions{.max_decompressed_size = 1024 * 1024});
    CHECK_THROWS_WITH(cache_client_from_servers({server.address()}, {}, unreadable),
                      Catch::Contains("max_decompressed_size"));
}

TEST_CASE("a value another client stored with flag bit 4096 reads as its bytes",
          "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto plain = cache_client_from_servers({server.address()});
    auto split = cache_client_from_servers({server.address()}, {}, splitting());
    const auto k = mmtest::unique_key("foreign-4096");
    const auto k2 = mmtest::unique_key("foreign-4112");
    const auto like = mmtest::unique_key("foreign-like-index");
    REQUIRE(server.raw_set(k, "hello", 4096));
    REQUIRE(server.raw_set(k2, "world", 4096 | 16));
    REQUIRE(server.raw_set(like, "MMCHUNK1 x y z", 4096));  // starts like an index, is none
    for (CacheClient* c : {&plain, &split}) {
        CHECK(c->get(k) == "hello");
        CHECK(c->get(k2) == "world");
        CHECK(c->get(like) == "MMCHUNK1 x y z");
        CHECK(c->get_cas(k).value == "hello");
        CHECK(c->multi_get({KeyView(k), KeyView(k2)}) ==
              std::vector<std::optional<std::string>>{"hello", "world"});
        CHECK(c->multi_get_cas(std::vector<KeyView>{k2})[0].value == "world");
        std::string seen;
        CHECK(c->multi_get_visit(std::vector<KeyView>{k},
                                 [&](std::size_t, std::string_view v) { seen = v; }) == 1);
        CHECK(seen == "hello");
        CHECK(c->get_counters().domains.at("").misses == 0);
    }
    // A user codec cannot claim the bit: refused before anything is sent.
    const auto mine = mmtest::unique_key("codec-4096");
    CHECK_THROWS_WITH(plain.set(mine, ClaimsChunkBit{}, 60), Catch::Contains("4096"));
    CHECK_FALSE(server.raw_get(mine).has_value());
    CHECK(plain.get(k) == "hello");  // the connection is still in step
}

TEST_CASE("append or prepend to a chunked value is refused and the value kept",
          "[client][large][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {}, splitting());
    const auto big = mmtest::unique_key("big-append");
    const std::string value = pattern(2 * 1024 * 1024 + 7, 'p');
    REQUIRE(cache.set(big, value, 0));
    for (const SetMode mode : {SetMode::append, SetMode::prepend}) {
        CHECK_THROWS_WITH(cache.set(big, "tail", 0, {.mode = mode}),
                          Catch::Contains("append and prepend") && Catch::Contains("chunks"));
    }
    CHECK(cache.get(big) == value);
    // Values that are not split append as usual, a missing key is not stored, and another
    // client's value with bit 4096 is no index.
    const auto small = mmtest::unique_key("small-append");
    REQUIRE(cache.set(small, "mid", 0));
    CHECK(cache.set(small, "-end", 0, {.mode = SetMode::append}));
    CHECK(cache.set(small, "start-", 0, {.mode = SetMode::prepend}));
    CHECK(cache.get(small) == "start-mid-end");
    CHECK_FALSE(cache.set(mmtest::unique_key("absent"), "x", 0, {.mode = SetMode::append}));
    const auto foreign = mmtest::unique_key("foreign-append");
    REQUIRE(server.raw_set(foreign, "ab", 4096));
    CHECK(cache.set(foreign, "c", 0, {.mode = SetMode::append}));
    CHECK(cache.get(foreign) == "abc");
}
