// ShardedRouter server-list changes on a live client: requests from several threads keep
// working while servers are added, removed and replaced.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "churn_load.hpp"
#include "memcached_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

/// The server lists the test goes through, by index into the cluster.
const std::vector<std::vector<std::size_t>> topologies{
    {0, 1, 2, 3},        // start
    {0, 1, 2, 3, 4},     // add 4
    {0, 1, 2, 3, 4, 5},  // add 5
    {0, 2, 3, 4, 5},     // remove 1
    {0, 2, 3, 4},        // set_servers without 5
    {0, 2, 3, 4, 5},     // add 5 back
    {0, 1, 2, 3},        // set_servers back to the start
};

}  // namespace

TEST_CASE("requests keep working while servers are added and removed",
          "[router][ring][integration]") {
    mmtest::MemcachedCluster cluster(6);
    const auto all = cluster.addresses();
    PoolOptions options;
    options.recv_timeout = 2000ms;
    options.connection_timeout = 2000ms;
    auto router = std::make_shared<ShardedRouter>(mmtest::pick(all, topologies[0]), options,
                                                  HashMode::uhashring);
    CacheClient cache(router);

    // Keys whose server is the same in every topology: none of their requests may fail.
    // The others move; their requests still succeed (every server keeps running), but a
    // get after a move may miss, so they only count.
    const auto churn = mmtest::churn_keys("churn:", 600, all, topologies, HashMode::uhashring);
    const auto& keys = churn.keys;
    REQUIRE(churn.stable_count() > 100);
    REQUIRE(churn.stable_count() < 600);

    const std::size_t first_stable = static_cast<std::size_t>(
        std::find(churn.stable.begin(), churn.stable.end(), true) - churn.stable.begin());
    const auto stable_pool = router->pool_for(keys[first_stable]);
    mmtest::ChurnLoad load(cache, churn, 4);
    for (int cycle = 0; cycle < 3; ++cycle) {
        load.wait_for_progress();
        router->add_server(all[4]);
        load.wait_for_progress();
        router->add_server(all[5]);
        load.wait_for_progress();
        REQUIRE(router->remove_server(all[1].name()));
        load.wait_for_progress();
        router->set_servers(mmtest::pick(all, topologies[4]));
        load.wait_for_progress();
        router->add_server(all[5]);
        load.wait_for_progress();
        router->set_servers(mmtest::pick(all, topologies[6]));
    }
    load.wait_for_progress();
    load.stop();

    CHECK(load.stable_failures() == 0);
    CHECK(load.errors() == 0);
    CHECK(load.moving_ops() > 0);
    CHECK(load.ops() > 18 * 400);
    CHECK(router->servers() == mmtest::pick(all, topologies[0]));
    // A pool whose server never left is the same object, with its connections.
    CHECK(router->pool_for(keys[first_stable]) == stable_pool);
    // Every stable key's last value sits on its own server (read around the client).
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!churn.stable[i])
            continue;
        const auto raw = cluster[churn.home[i]].raw_get(keys[i]);
        INFO(keys[i]);
        REQUIRE(raw.has_value());
        CHECK(raw->ends_with(":" + keys[i]));
    }
}

TEST_CASE("a server added at runtime takes keys and connections of its own",
          "[router][ring][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    auto router =
        std::make_shared<ShardedRouter>(mmtest::pick(all, {0, 1}), PoolOptions{}, HashMode::ketama);
    CacheClient cache(router);
    for (int i = 0; i < 60; ++i)
        REQUIRE(cache.set(mmtest::unique_key("before:" + std::to_string(i)), "v", 300));
    const auto counters_before = router->get_counters();
    router->add_server(all[2]);
    int on_new = 0;
    for (int i = 0; i < 60; ++i) {
        const auto k = mmtest::unique_key("after:" + std::to_string(i));
        REQUIRE(cache.set(k, "w", 300));
        if (cluster[2].raw_get(k) == std::optional<std::string>("w"))
            ++on_new;
    }
    CHECK(on_new > 0);
    const auto counters_after = router->get_counters();
    REQUIRE(counters_after.size() == 3);
    // The first two pools kept their connections: none was opened again.
    for (std::size_t s = 0; s < 2; ++s) {
        CHECK(counters_after[s].server == counters_before[s].server);
        CHECK(counters_after[s].counters.total_created ==
              counters_before[s].counters.total_created);
    }
    CHECK(counters_after[2].counters.total_created >= 1);
}
