// GutterRouter and EphemeralRouter against real memcached.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

TEST_CASE("gutter takes over for a killed primary with TTLs clamped to gutter_ttl",
          "[router][gutter][integration]") {
    mmtest::MemcachedCluster primary(3);
    mmtest::MemcachedServer gutter;
    auto cache =
        cache_client_with_gutter_from_servers(primary.addresses(), {gutter.address()}, 60s,
                                              {.mark_down_period = 500ms, .recv_timeout = 300ms});
    auto& ring =
        dynamic_cast<ShardedRouter&>(dynamic_cast<GutterRouter&>(cache.router()).primary());

    // One key on the server we will kill, one on a healthy server.
    const std::string dead_name = primary[1].address().name();
    std::string on_dead;
    std::string on_live;
    for (int i = 0; on_dead.empty() || on_live.empty(); ++i) {
        const auto k = mmtest::unique_key("g" + std::to_string(i));
        (ring.pool_for(k)->name() == dead_name ? on_dead : on_live) = k;
    }
    std::vector<std::string> failed_writes;
    cache.on_write_failure().subscribe([&](const Key& k) { failed_writes.push_back(k.key()); });

    primary[1].stop();
    CHECK(cache.set(on_dead, "via-gutter", 1000));
    CHECK(cache.set(on_live, "on-primary", 1000));
    CHECK(cache.get(on_dead) == "via-gutter");
    CHECK(cache.get(on_live) == "on-primary");
    // The gutter holds the dead server's key with the TTL capped; the healthy key keeps its.
    const auto gutter_ttl = gutter.raw_ttl(on_dead);
    REQUIRE(gutter_ttl);
    CHECK(*gutter_ttl <= 60);
    CHECK_FALSE(gutter.raw_ttl(on_live));
    bool live_checked = false;
    for (std::size_t s = 0; s < 3; ++s) {
        if (s == 1)
            continue;
        if (const auto t = primary[s].raw_ttl(on_live)) {
            CHECK(*t > 900);
            live_checked = true;
        }
    }
    CHECK(live_checked);
    // A TTL of 0 (never) is capped too.
    CHECK(cache.set(on_dead, "forever?", 0));
    CHECK(gutter.raw_ttl(on_dead) <= 60);
    // The primary's failure was reported, so it can be invalidated later.
    CHECK(std::count(failed_writes.begin(), failed_writes.end(), on_dead) == 2);
    CHECK(std::count(failed_writes.begin(), failed_writes.end(), on_live) == 0);
    const auto counters = cache.get_counters().servers;
    CHECK(counters.size() == 4);
    CHECK(std::count_if(counters.begin(), counters.end(),
                        [](const ServerCounters& c) { return c.role == "gutter"; }) == 1);

    // The primary comes back: after the mark-down period its keys are served by it again.
    primary[1].start();
    std::this_thread::sleep_for(600ms);
    CHECK(cache.set(on_dead, "back-on-primary", 1000));
    CHECK(primary[1].raw_get(on_dead) == "back-on-primary");
    CHECK(primary[1].raw_ttl(on_dead) > 900);
}

TEST_CASE("with both the primary and the gutter down the call fails per FailureHandling",
          "[router][gutter][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer gutter;
    auto cache = cache_client_with_gutter_from_servers({primary.address()}, {gutter.address()}, 60s,
                                                       {.recv_timeout = 200ms});
    primary.stop();
    gutter.stop();
    CHECK_THROWS_AS(cache.get("k"), TransportError);
    CHECK_FALSE(cache.get("k", {.failure = {.raise_on_server_error = false}}));
}

TEST_CASE("server-reported errors are not failed over to the gutter",
          "[router][gutter][integration]") {
    mmtest::MemcachedServer primary;
    mmtest::MemcachedServer gutter;
    auto cache =
        cache_client_with_gutter_from_servers({primary.address()}, {gutter.address()}, 60s);
    const auto k = mmtest::unique_key("txt");
    REQUIRE(cache.set(k, "abc", 60));
    CHECK_THROWS_AS(cache.delta(k, 1), ServerError);  // non-numeric: a CLIENT_ERROR
    CHECK_FALSE(gutter.raw_get(k));
}

TEST_CASE("an ephemeral client caps every TTL, never-expiring ones included",
          "[router][ephemeral][integration]") {
    mmtest::MemcachedServer server;
    auto cache = ephemeral_cache_client_from_servers({server.address()}, 60s);
    const auto a = mmtest::unique_key("eph");
    const auto b = mmtest::unique_key("eph");
    REQUIRE(cache.set(a, "v", 1000));
    REQUIRE(cache.set(b, "v", 0));
    CHECK(server.raw_ttl(a) <= 60);
    CHECK(server.raw_ttl(b) <= 60);
    CHECK(server.raw_ttl(b) > 0);
    CHECK(cache.touch(a, 5000));
    CHECK(server.raw_ttl(a) <= 60);
    const auto c = mmtest::unique_key("eph");
    REQUIRE(cache.set(c, "v", 30));
    CHECK(server.raw_ttl(c) <= 30);  // under the cap: unchanged
    CHECK(server.raw_ttl(c) > 20);
}

TEST_CASE("cap_ttls follows the reference rule: 0 or above the cap becomes the cap",
          "[router][ephemeral]") {
    RequestFlags f;
    f.cache_ttl = 0;
    f.recache_ttl = 500;
    cap_ttls(f, 60);
    CHECK(f.cache_ttl == 60);
    CHECK(f.recache_ttl == 60);
    CHECK_FALSE(f.vivify_on_miss_ttl);
    f.vivify_on_miss_ttl = 30;
    cap_ttls(f, 60);
    CHECK(f.vivify_on_miss_ttl == 30);
}
