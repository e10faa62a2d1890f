// multi_get_visit: every hit handed to the caller from the read buffer, against real
// memcached: plain, compressed, larger than the read buffer, chunked, over several servers,
// with misses, placeholders and a stopped server.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <map>
#include <string>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

/// What the visitor saw, by key index.
std::map<std::size_t, std::string> visit_all(CacheClient& cache,
                                             const std::vector<KeyView>& keys,
                                             std::size_t& hits,
                                             const GetOptions& options = {}) {
    std::map<std::size_t, std::string> seen;
    hits = cache.multi_get_visit(
        keys,
        [&](std::size_t i, std::string_view v) {
            CHECK(seen.count(i) == 0);  // each hit once
            seen[i] = std::string(v);
        },
        options);
    return seen;
}

}  // namespace

TEST_CASE("multi_get_visit hands every hit once, by index, and skips misses",
          "[client][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto cache = cache_client_from_servers(cluster.addresses());
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i)
        keys.push_back(mmtest::unique_key("visit"));
    // Plain small values, compressible ones (zlib by default over 128 bytes), and values
    // larger than the 4 KiB read buffer, every third key left missing.
    std::map<std::size_t, std::string> expected;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i % 3 == 2)
            continue;
        std::string v = "v" + std::to_string(i);
        if (i % 5 == 0)
            v += std::string(500, 'c');  // compressed on the wire
        if (i % 7 == 0)
            v += std::string(20000, static_cast<char>('a' + i % 26));  // > read buffer
        REQUIRE(cache.set(keys[i], v, 60));
        expected[i] = v;
    }
    const std::vector<KeyView> views(keys.begin(), keys.end());
    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits);
    CHECK(hits == expected.size());
    CHECK(seen == expected);
    // The same answers as multi_get's.
    const auto got = cache.multi_get(views);
    for (std::size_t i = 0; i < keys.size(); ++i)
        CHECK(got[i] ==
              (expected.count(i) != 0 ? std::optional<std::string>(expected[i]) : std::nullopt));
}

TEST_CASE("multi_get_visit counts hits and misses per domain, as multi_get does",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const Key a(mmtest::unique_key("dom"), "", "users");
    const Key b(mmtest::unique_key("dom"), "", "users");
    const Key c(mmtest::unique_key("dom"));
    REQUIRE(cache.set(a, "x", 60));
    const std::vector<KeyView> views{a, b, c};
    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits);
    CHECK(hits == 1);
    CHECK(seen == std::map<std::size_t, std::string>{{0, "x"}});
    const auto counters = cache.get_counters();
    CHECK(counters.domains.at("users") == DomainCounters{1, 1});
    CHECK(counters.domains.at("") == DomainCounters{0, 1});
}

TEST_CASE("multi_get_visit joins chunked large values before handing them out",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    ClientOptions options;
    options.large_values.enabled = true;
    auto cache = cache_client_from_servers({server.address()}, {}, std::move(options));
    const auto big_key = mmtest::unique_key("visit-big");
    const auto small_key = mmtest::unique_key("visit-small");
    std::string big(3 * 1024 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4093)
        big[i] = static_cast<char>('a' + i % 26);
    REQUIRE(cache.set(big_key, big, 60));
    REQUIRE(cache.set(small_key, "s", 60));
    const std::vector<KeyView> views{KeyView(big_key), KeyView(small_key)};
    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits);
    CHECK(hits == 2);
    REQUIRE(seen.count(0) == 1);
    CHECK(seen.at(0) == big);
    CHECK(seen.at(1) == "s");
}

TEST_CASE("multi_get_visit skips a lease placeholder and a won recache", "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    const auto leased = mmtest::unique_key("visit-lease");
    const auto plain = mmtest::unique_key("visit-plain");
    REQUIRE(cache.get_or_lease_cas(leased).won);  // leaves a placeholder
    REQUIRE(cache.set(plain, "p", 60));
    const std::vector<KeyView> views{KeyView(leased), KeyView(plain)};
    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits);
    CHECK(hits == 1);
    CHECK(seen == std::map<std::size_t, std::string>{{1, "p"}});
}

TEST_CASE("multi_get_visit with a stopped server: its keys are not visited, or the call throws",
          "[client][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto cache = cache_client_from_servers(cluster.addresses(), {.recv_timeout = 300ms});
    auto& sharded = dynamic_cast<ShardedRouter&>(cache.router());
    std::vector<std::string> keys;
    for (int i = 0; i < 200; ++i)
        keys.push_back(mmtest::unique_key("visit-down"));
    for (const auto& k : keys)
        REQUIRE(cache.set(k, "v:" + k, 60));
    cluster[1].stop();
    const std::string dead = cluster[1].address().name();
    const std::vector<KeyView> views(keys.begin(), keys.end());

    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits, {.failure = {.raise_on_server_error = false}});
    std::size_t live = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (sharded.pool_for(keys[i])->name() == dead) {
            CHECK(seen.count(i) == 0);
        } else {
            ++live;
            REQUIRE(seen.count(i) == 1);
            CHECK(seen.at(i) == "v:" + keys[i]);
        }
    }
    CHECK(hits == live);
    CHECK(live < keys.size());
    CHECK_THROWS_AS(cache.multi_get_visit(views, [](std::size_t, std::string_view) {}),
                    TransportError);
}

TEST_CASE("an exception from the visitor ends the call and leaves the client usable",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    std::vector<std::string> keys;
    for (int i = 0; i < 50; ++i) {
        keys.push_back(mmtest::unique_key("visit-throw"));
        REQUIRE(cache.set(keys.back(), "v", 60));
    }
    const std::vector<KeyView> views(keys.begin(), keys.end());
    CHECK_THROWS_WITH(cache.multi_get_visit(views,
                                            [](std::size_t, std::string_view) {
                                                throw std::runtime_error("visitor gave up");
                                            }),
                      "visitor gave up");
    // The connection that was mid-answer is gone; the next call reads every value.
    std::size_t hits = 0;
    CHECK(visit_all(cache, views, hits).size() == 50);
    CHECK(hits == 50);
}

namespace {

/// A router of the simplest kind: only the Response form of execute(), forwarding to a
/// ring, so multi-key reads reach it through Router::execute_keys' default.
struct ResponseOnlyRouter final : Router {
    std::shared_ptr<Router> to;
    std::size_t requests = 0;

    using Router::execute;
    void execute(std::span<const Request> reqs,
                 std::span<Response> responses,
                 const ExecContext& ctx) override {
        requests += reqs.size();
        to->execute(reqs, responses, ctx);
    }
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override {
        return to->get_counters();
    }
};

}  // namespace

TEST_CASE("multi_get and multi_get_visit through a router that knows only Requests",
          "[client][router][integration]") {
    mmtest::MemcachedCluster cluster(2);
    auto router = std::make_shared<ResponseOnlyRouter>();
    router->to = std::make_shared<ShardedRouter>(cluster.addresses());
    ClientOptions options;
    options.key_prefix = "p:";
    CacheClient cache(router, options);
    // Plain keys, a binary one (base64 on the wire) and a long one (hashed).
    std::vector<std::string> keys = {mmtest::unique_key("ro"), mmtest::unique_key("ro") + "\x01",
                                     mmtest::unique_key("ro") + std::string(200, 'k'),
                                     mmtest::unique_key("ro")};
    for (std::size_t i = 0; i + 1 < keys.size(); ++i)
        REQUIRE(cache.set(keys[i], "v" + std::to_string(i), 60));
    const std::vector<KeyView> views(keys.begin(), keys.end());
    const auto got = cache.multi_get(views);
    REQUIRE(got.size() == keys.size());
    CHECK(got[0] == "v0");
    CHECK(got[1] == "v1");
    CHECK(got[2] == "v2");
    CHECK(got[3] == std::nullopt);
    std::size_t hits = 0;
    const auto seen = visit_all(cache, views, hits);
    CHECK(hits == 3);
    CHECK(seen == std::map<std::size_t, std::string>{{0, "v0"}, {1, "v1"}, {2, "v2"}});
    CHECK(router->requests >= 3 + 2 * keys.size());  // a Request per key, each time
    // An empty key is refused before anything is sent, as it is one key at a time.
    const std::vector<KeyView> with_empty = {views[0], KeyView("")};
    CHECK_THROWS_AS(cache.multi_get(with_empty), InvalidInputError);
}

TEST_CASE("multi_get over a ring: binary, long and prefixed keys, and an empty one refused",
          "[client][integration]") {
    std::vector<std::string> keys;
    for (int i = 0; i < 40; ++i) {
        std::string k = mmtest::unique_key("mix");
        if (i % 4 == 1)
            k += " with space";
        if (i % 4 == 2)
            k += std::string(190, 'L');
        keys.push_back(k);
    }
    mmtest::MemcachedCluster cluster(3);
    ClientOptions options;
    options.key_prefix = "pre:";
    auto cache = cache_client_from_servers(cluster.addresses(), {}, options);
    for (std::size_t i = 0; i < keys.size(); i += 2)
        REQUIRE(cache.set(keys[i], "x" + std::to_string(i), 60));
    const std::vector<KeyView> views(keys.begin(), keys.end());
    const auto got = cache.multi_get(views);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        CHECK(got[i] ==
              (i % 2 == 0 ? std::optional<std::string>("x" + std::to_string(i)) : std::nullopt));
        CHECK(cache.get(keys[i]) == got[i]);  // as the single-key path reads it
    }
    std::vector<KeyView> with_empty = views;
    with_empty[7] = KeyView("");
    CHECK_THROWS_AS(cache.multi_get(with_empty), InvalidInputError);
    std::size_t hits = 0;
    CHECK_THROWS_AS(visit_all(cache, with_empty, hits), InvalidInputError);
}
