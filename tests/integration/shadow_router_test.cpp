// ShadowRouter: a sample of keys also goes to a shadow pool the caller never waits for.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Router> ring(const mmtest::MemcachedServer& s, PoolOptions o = {}) {
    return std::make_shared<ShardedRouter>(std::vector{s.address()}, o);
}

}  // namespace

TEST_CASE("the shadowed fraction of 10,000 keys is within 2 % of the configured one",
          "[router][shadow]") {
    mmtest::MemcachedServer unused;  // routers need servers; nothing is sent here
    for (double fraction : {0.01, 0.1, 0.25, 0.5}) {
        ShadowRouter r(ring(unused), ring(unused), {.fraction = fraction});
        int shadowed = 0;
        for (int i = 0; i < 10000; ++i)
            shadowed += r.is_shadowed("key:" + std::to_string(i));
        CHECK(std::abs(shadowed / 10000.0 - fraction) <= 0.02);
    }
    ShadowRouter none(ring(unused), ring(unused), {.fraction = 0.0});
    CHECK_FALSE(none.is_shadowed("x"));
    ShadowRouter all(ring(unused), ring(unused), {.fraction = 1.0});
    CHECK(all.is_shadowed("x"));
    CHECK_THROWS_AS(ShadowRouter(ring(unused), ring(unused), {.fraction = 1.5}), InvalidInputError);
}

TEST_CASE("the same keys are shadowed every time, writes and reads, and the hit rate counts",
          "[router][shadow][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer shadow;
    auto router =
        std::make_shared<ShadowRouter>(ring(primary), ring(shadow), ShadowOptions{.fraction = 0.3});
    CacheClient cache(router);
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i)
        keys.push_back(mmtest::unique_key("sh"));
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i % 2 == 0)
            REQUIRE(cache.set(keys[i], "v", 60));
    }
    for (const auto& k : keys)
        cache.get(k);
    router->flush();
    int expected_writes = 0;
    int expected_hits = 0;
    int expected_misses = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const bool sh = router->is_shadowed(keys[i]);
        // Every key is on the primary as written; shadowed written keys also on the shadow.
        CHECK(primary.raw_get(keys[i]).has_value() == (i % 2 == 0));
        CHECK(shadow.raw_get(keys[i]).has_value() == (sh && i % 2 == 0));
        if (sh) {
            expected_writes += i % 2 == 0;
            (i % 2 == 0 ? expected_hits : expected_misses) += 1;
        }
    }
    const ShadowCounters c = router->shadow_counters();
    CHECK(c.hits == static_cast<std::uint64_t>(expected_hits));
    CHECK(c.misses == static_cast<std::uint64_t>(expected_misses));
    CHECK(c.requests ==
          static_cast<std::uint64_t>(expected_writes + expected_hits + expected_misses));
    CHECK(c.failures == 0);
    CHECK(c.hit_rate() == Approx(0.5).margin(0.15));
}

TEST_CASE("a shadow that is down or stalled never reaches the caller",
          "[router][shadow][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer shadow;
    auto router = std::make_shared<ShadowRouter>(
        ring(primary), ring(shadow, {.recv_timeout = 300ms}), ShadowOptions{.fraction = 1.0});
    CacheClient cache(router);
    shadow.pause();  // accepts, never answers
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        const auto k = mmtest::unique_key("stall");
        CHECK(cache.set(k, "v", 60));
        CHECK(cache.get(k) == "v");
    }
    // 40 calls would take 12 s if the caller waited for the stalled shadow.
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    router->flush();  // the worker meets the stall: timeouts, then a mark-down
    CHECK(router->shadow_counters().failures > 0);
    shadow.resume();
    shadow.stop();
    const auto k = mmtest::unique_key("down");
    CHECK(cache.set(k, "v", 60));
    CHECK(cache.get(k) == "v");
    router->flush();
    CHECK(router->shadow_counters().failures >= 2);
}

TEST_CASE("destroying a ShadowRouter while its shadow is stalled returns within the bound",
          "[router][shadow][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer shadow;
    std::chrono::steady_clock::duration took{};
    {
        auto router = std::make_shared<ShadowRouter>(
            ring(primary), ring(shadow, {.recv_timeout = 1s}), ShadowOptions{.fraction = 1.0});
        CacheClient cache(router);
        REQUIRE(cache.set(mmtest::unique_key("warm"), "v", 60));
        router->flush();  // the shadow has a connection: the next batch only waits on it
        shadow.pause();
        for (int i = 0; i < 50; ++i)
            REQUIRE(cache.set(mmtest::unique_key("stalled"), "v", 60));
        std::this_thread::sleep_for(50ms);  // the worker is inside a stalled batch
        const auto t0 = std::chrono::steady_clock::now();
        router.reset();
        cache = CacheClient(std::make_shared<ShardedRouter>(std::vector{primary.address()}));
        took = std::chrono::steady_clock::now() - t0;
    }
    CHECK(took < 600ms);  // shutdown_timeout (100 ms) plus a loaded machine's slack
    shadow.resume();
}
