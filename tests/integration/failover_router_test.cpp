// FailoverRouter against real memcached: a dead server's keys go to its ring successor.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <algorithm>
#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

struct Keys {
    std::vector<std::string> on_dead;    ///< keys of the server that will be killed
    std::vector<std::size_t> successor;  ///< the ring successor of each of those
    std::vector<std::string> on_live;    ///< keys of the other servers
    std::vector<std::size_t> owner;      ///< their servers
};

/// Keys of server `dead` and of the others, with where each should go during the outage.
Keys pick_keys(const ShardedRouter& ring, std::size_t dead, std::size_t per_side) {
    Keys out;
    const auto topo = ring.topology();
    for (int i = 0; out.on_dead.size() < per_side || out.on_live.size() < per_side; ++i) {
        const auto k = mmtest::unique_key("fo" + std::to_string(i));
        const std::size_t home = topo->ring.node_for(k);
        if (home == dead && out.on_dead.size() < per_side) {
            out.on_dead.push_back(k);
            out.successor.push_back(
                *topo->ring.find_node_for(k, [&](std::size_t n) { return n != dead; }));
        } else if (home != dead && out.on_live.size() < per_side) {
            out.on_live.push_back(k);
            out.owner.push_back(home);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("a killed server's keys are served by their ring successor until it is back",
          "[router][failover][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    auto router = std::make_shared<FailoverRouter>(
        all, FailoverOptions{.failover_ttl = 30s},
        PoolOptions{.mark_down_period = 500ms, .recv_timeout = 300ms});
    CacheClient cache(router);
    constexpr std::size_t dead = 1;
    const Keys keys = pick_keys(*router->sharded(), dead, 20);
    // The dead server's keys spread over both other servers, not onto one.
    CHECK(std::count(keys.successor.begin(), keys.successor.end(), 0) > 0);
    CHECK(std::count(keys.successor.begin(), keys.successor.end(), 2) > 0);
    std::vector<std::string> missed;
    cache.on_write_failure().subscribe([&](const Key& k) { missed.push_back(k.key()); });

    for (const auto& k : keys.on_live)
        REQUIRE(cache.set(k, "live:" + k, 1000));
    cluster[dead].stop();

    // Writes during the outage land on the successor, TTL capped; nothing fails.
    for (std::size_t i = 0; i < keys.on_dead.size(); ++i) {
        const auto& k = keys.on_dead[i];
        INFO(k);
        REQUIRE(cache.set(k, "moved:" + k, 1000));
        CHECK(cluster[keys.successor[i]].raw_get(k) == "moved:" + k);
        const auto ttl = cluster[keys.successor[i]].raw_ttl(k);
        REQUIRE(ttl);
        CHECK(*ttl <= 30);
        CHECK(*ttl > 20);
        CHECK(cache.get(k) == "moved:" + k);
        CHECK(router->pool_for(k)->name() == all[keys.successor[i]].name());
    }
    CHECK(router->failed_over_requests() >= 2 * keys.on_dead.size());
    // Every write that missed its own server was reported, and only those.
    std::sort(missed.begin(), missed.end());
    auto expected = keys.on_dead;
    std::sort(expected.begin(), expected.end());
    CHECK(missed == expected);

    // The other keys are where they were, with their own TTL, and one multi_get reads all.
    for (std::size_t i = 0; i < keys.on_live.size(); ++i) {
        const auto& k = keys.on_live[i];
        CHECK(cluster[keys.owner[i]].raw_ttl(k) > 900);
        CHECK(router->pool_for(k)->name() == all[keys.owner[i]].name());
    }
    std::vector<KeyView> everything;
    for (const auto& k : keys.on_dead)
        everything.emplace_back(k);
    for (const auto& k : keys.on_live)
        everything.emplace_back(k);
    const auto values = cache.multi_get(everything);
    for (std::size_t i = 0; i < keys.on_dead.size(); ++i)
        CHECK(values[i] == "moved:" + keys.on_dead[i]);
    for (std::size_t i = 0; i < keys.on_live.size(); ++i)
        CHECK(values[keys.on_dead.size() + i] == "live:" + keys.on_live[i]);

    // The server comes back (empty): once its mark-down period is over, its keys go home.
    cluster[dead].start();
    std::this_thread::sleep_for(600ms);
    const auto& k = keys.on_dead.front();
    CHECK_FALSE(cache.get(k));  // read at home, which lost everything: the documented gap
    REQUIRE(cache.set(k, "home:" + k, 1000));
    CHECK(cluster[dead].raw_get(k) == "home:" + k);
    CHECK(cluster[dead].raw_ttl(k) > 900);
    CHECK(router->pool_for(k)->name() == all[dead].name());
    CHECK(cluster[keys.successor.front()].raw_get(k) == "moved:" + k);  // until it expires
}

TEST_CASE("a request that times out on its server is answered by the successor",
          "[router][failover][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    auto router = std::make_shared<FailoverRouter>(
        all, FailoverOptions{}, PoolOptions{.mark_down_period = 2s, .recv_timeout = 200ms});
    CacheClient cache(router);
    const Keys keys = pick_keys(*router->sharded(), 0, 3);
    // Connections are open before the pause, so the failure is a timeout on the wire.
    for (const auto& k : keys.on_dead)
        REQUIRE(cache.set(k, "before", 1000));
    cluster[0].pause();
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(cache.set(keys.on_dead[0], "during", 1000));
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 180ms);  // waited for the deadline, then failed over
    CHECK(cluster[keys.successor[0]].raw_get(keys.on_dead[0]) == "during");
    CHECK(cluster[keys.successor[0]].raw_ttl(keys.on_dead[0]) <= 60);  // the default cap
    // A multi-key call fails over the keys that timed out, together.
    std::vector<KeyView> some{keys.on_dead[1], keys.on_dead[2], keys.on_live[0]};
    REQUIRE(cache.set(keys.on_live[0], "live", 1000));
    const auto values = cache.multi_get(some);
    CHECK_FALSE(values[0]);  // nothing was written on the successor for these
    CHECK_FALSE(values[1]);
    CHECK(values[2] == "live");
    cluster[0].resume();
}

TEST_CASE("failover does not hide server-reported errors or a fleet that is all down",
          "[router][failover][integration]") {
    mmtest::MemcachedCluster cluster(2);
    auto router = std::make_shared<FailoverRouter>(cluster.addresses(), FailoverOptions{},
                                                   PoolOptions{.recv_timeout = 200ms});
    CacheClient cache(router);
    const auto k = mmtest::unique_key("txt");
    REQUIRE(cache.set(k, "abc", 60));
    CHECK_THROWS_AS(cache.delta(k, 1), ServerError);  // non-numeric: a CLIENT_ERROR
    CHECK(router->failed_over_requests() == 0);
    cluster[0].stop();
    cluster[1].stop();
    CHECK_THROWS_AS(cache.get(k), TransportError);
    CHECK_FALSE(cache.get(k, {.failure = {.raise_on_server_error = false}}));
    const std::vector<KeyView> two{k, "other"};
    CHECK_THROWS_AS(cache.multi_get(two), TransportError);
}

TEST_CASE("FailoverRouter rejects a null ring and a negative TTL cap", "[router][failover]") {
    CHECK_THROWS_AS(FailoverRouter(std::shared_ptr<ShardedRouter>{}), InvalidInputError);
    CHECK_THROWS_AS(
        FailoverRouter({ServerAddress::parse("127.0.0.1:1")}, FailoverOptions{.failover_ttl = -1s}),
        InvalidInputError);
}
