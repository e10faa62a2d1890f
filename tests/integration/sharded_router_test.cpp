// ShardedRouter server-list changes on a live client: requests from several threads keep
// working while servers are added, removed and replaced.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
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

std::vector<ServerAddress> pick(const std::vector<ServerAddress>& all,
                                const std::vector<std::size_t>& which) {
    std::vector<ServerAddress> out;
    for (std::size_t i : which)
        out.push_back(all[i]);
    return out;
}

}  // namespace

TEST_CASE("requests keep working while servers are added and removed",
          "[router][ring][integration]") {
    mmtest::MemcachedCluster cluster(6);
    const auto all = cluster.addresses();
    PoolOptions options;
    options.recv_timeout = 2000ms;
    options.connection_timeout = 2000ms;
    auto router =
        std::make_shared<ShardedRouter>(pick(all, topologies[0]), options, HashMode::uhashring);
    CacheClient cache(router);

    // Keys whose server is the same in every topology: none of their requests may fail.
    // The others move; their requests still succeed (every server keeps running), but a
    // get after a move may miss, so they only count.
    constexpr int per_thread = 150;
    constexpr int threads = 4;
    std::vector<std::string> keys;
    std::vector<bool> stable;
    std::vector<std::size_t> home;  // cluster index of a stable key's server
    for (int i = 0; i < per_thread * threads; ++i) {
        keys.push_back(mmtest::unique_key("churn:" + std::to_string(i)));
        std::size_t owner = 0;
        bool same = true;
        for (std::size_t t = 0; t < topologies.size(); ++t) {
            const HashRing ring(pick(all, topologies[t]), HashMode::uhashring);
            const std::size_t o = topologies[t][ring.node_for(keys.back())];
            if (t == 0)
                owner = o;
            same = same && o == owner;
        }
        stable.push_back(same);
        home.push_back(owner);
    }
    const auto stable_count = std::count(stable.begin(), stable.end(), true);
    REQUIRE(stable_count > 100);
    REQUIRE(stable_count < per_thread * threads);

    const std::size_t first_stable =
        static_cast<std::size_t>(std::find(stable.begin(), stable.end(), true) - stable.begin());
    const auto stable_pool = router->pool_for(keys[first_stable]);
    std::atomic<bool> done{false};
    std::atomic<long> ops{0};
    std::atomic<long> stable_failures{0};
    std::atomic<long> moving_ops{0};
    std::atomic<long> errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            // Each thread owns its keys, so a get must return that thread's last set.
            for (long round = 0; round < 100000 && !done.load(); ++round) {
                for (int j = 0; j < per_thread; ++j) {
                    const auto i = static_cast<std::size_t>(t * per_thread + j);
                    const std::string value = std::to_string(round) + ":" + keys[i];
                    try {
                        const bool stored = cache.set(keys[i], value, 300);
                        const auto got = cache.get(keys[i]);
                        if (stable[i]) {
                            if (!stored || got != value)
                                ++stable_failures;
                        } else {
                            ++moving_ops;
                        }
                    } catch (const Error&) {
                        ++errors;
                        if (stable[i])
                            ++stable_failures;
                    }
                    ++ops;
                }
            }
        });
    }

    // Each change waits until the workers have made progress since the previous one, so
    // requests are in flight across every change (bounded: at most 10 s per step).
    const auto wait_for_progress = [&] {
        const long start = ops.load();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (ops.load() < start + 400 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
    };
    for (int cycle = 0; cycle < 3; ++cycle) {
        wait_for_progress();
        router->add_server(all[4]);
        wait_for_progress();
        router->add_server(all[5]);
        wait_for_progress();
        REQUIRE(router->remove_server(all[1].name()));
        wait_for_progress();
        router->set_servers(pick(all, topologies[4]));
        wait_for_progress();
        router->add_server(all[5]);
        wait_for_progress();
        router->set_servers(pick(all, topologies[6]));
    }
    wait_for_progress();
    done = true;
    for (auto& w : workers)
        w.join();

    CHECK(stable_failures.load() == 0);
    CHECK(errors.load() == 0);
    CHECK(moving_ops.load() > 0);
    CHECK(ops.load() > 18 * 400);
    CHECK(router->servers() == pick(all, topologies[0]));
    // A pool whose server never left is the same object, with its connections.
    CHECK(router->pool_for(keys[first_stable]) == stable_pool);
    // Every stable key's last value sits on its own server (read around the client).
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!stable[i])
            continue;
        const auto raw = cluster[home[i]].raw_get(keys[i]);
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
        std::make_shared<ShardedRouter>(pick(all, {0, 1}), PoolOptions{}, HashMode::ketama);
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
