// MirrorRouter: every write to every replica, reads from the first that has the key.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

struct Replicas {
    mmtest::MemcachedCluster servers{3};

    CacheClient client(MirrorOptions options) {
        std::vector<std::shared_ptr<Router>> replicas;
        for (std::size_t i = 0; i < 3; ++i) {
            replicas.push_back(std::make_shared<ShardedRouter>(
                std::vector{servers[i].address()},
                PoolOptions{.mark_down_period = 300ms, .recv_timeout = 300ms}));
        }
        return CacheClient(std::make_shared<MirrorRouter>(std::move(replicas), options));
    }
};

}  // namespace

TEST_CASE("a mirrored write lands on every replica", "[router][mirror][integration]") {
    Replicas r;
    auto cache = r.client({});
    const auto k = mmtest::unique_key("m");
    CHECK(cache.set(k, "v", 60));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(r.servers[i].raw_get(k) == "v");
    CHECK(cache.del(k));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK_FALSE(r.servers[i].raw_get(k));
}

TEST_CASE("with one replica down reads and writes succeed, and it is repaired on its next write",
          "[router][mirror][integration]") {
    Replicas r;
    auto cache = r.client({.write_policy = MirrorPolicy::majority});
    const auto k = mmtest::unique_key("down");
    REQUIRE(cache.set(k, "v1", 60));
    r.servers[0].stop();  // the replica reads go to first
    CHECK(cache.set(k, "v2", 60));
    CHECK(cache.get(k) == "v2");         // served by the next replica
    r.servers[0].start();                // back, empty
    std::this_thread::sleep_for(400ms);  // past its mark-down period
    CHECK(cache.get(k) == "v2");         // a miss there falls through (and is repaired)
    CHECK(cache.set(k, "v3", 60));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(r.servers[i].raw_get(k) == "v3");
}

TEST_CASE("the write policy decides whether a partial write succeeded",
          "[router][mirror][integration]") {
    Replicas r;
    auto all = r.client({.write_policy = MirrorPolicy::all});
    auto majority = r.client({.write_policy = MirrorPolicy::majority});
    auto first = r.client({.write_policy = MirrorPolicy::first});
    const FailureHandling soft{.raise_on_server_error = false};
    r.servers[2].stop();
    CHECK_FALSE(all.set(mmtest::unique_key("a"), "v", 60, {.failure = soft}));
    CHECK(majority.set(mmtest::unique_key("b"), "v", 60));
    CHECK(first.set(mmtest::unique_key("c"), "v", 60));
    r.servers[1].stop();
    CHECK_FALSE(majority.set(mmtest::unique_key("d"), "v", 60, {.failure = soft}));
    CHECK(first.set(mmtest::unique_key("e"), "v", 60));
}

TEST_CASE("a read served by a later replica is copied back to the ones that missed it",
          "[router][mirror][integration]") {
    Replicas r;
    auto cache = r.client({.repair_on_read = true});
    const auto k = mmtest::unique_key("repair");
    REQUIRE(cache.set(k, "v", 60));
    REQUIRE(r.servers[0].raw("md " + k + "\r\n") == "HD\r\n");  // replica 0 lost it
    CHECK(cache.get(k) == "v");
    CHECK(r.servers[0].raw_until("mg " + k + " v\r\n", [](const std::string& a) {
        return a.rfind("VA", 0) == 0;
    }) == "VA 1\r\nv\r\n");
}

TEST_CASE("conditional writes decide on the first replica; no CAS crosses replicas",
          "[router][mirror][integration]") {
    Replicas r;
    auto cache = r.client({});
    const auto k = mmtest::unique_key("cas");
    REQUIRE(cache.set(k, "v1", 60));
    const auto cas = cache.get_cas(k).cas_token;  // replica 0's token
    REQUIRE(cas);
    CHECK(cache.set(k, "v2", 60, {.cas_token = *cas}));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(r.servers[i].raw_get(k) == "v2");
    CHECK_FALSE(cache.set(k, "v3", 60, {.cas_token = *cas}));  // stale token: nothing changes
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(r.servers[i].raw_get(k) == "v2");
    CHECK_FALSE(cache.set(k, "v4", 60, {.mode = SetMode::add}));
    CHECK(cache.set(k, "!", 60, {.mode = SetMode::append}));
    CHECK(r.servers[0].raw_get(k) == "v2!");
    CHECK_FALSE(r.servers[1].raw_get(k));  // an append cannot be replayed: dropped there
}

TEST_CASE("counters run on every replica", "[router][mirror][integration]") {
    Replicas r;
    auto cache = r.client({});
    const auto k = mmtest::unique_key("n");
    REQUIRE(cache.delta_initialize(k, 1, 10, 60));
    CHECK(cache.delta(k, 5));
    for (std::size_t i = 0; i < 3; ++i)
        CHECK(r.servers[i].raw_get(k) == "15");
}
