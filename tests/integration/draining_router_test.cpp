// DrainingRouter: taking a server out of the ring without a burst of misses.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <atomic>
#include <thread>

using namespace meta_memcache;

TEST_CASE("draining a server under load keeps every key readable and moves its keys",
          "[router][drain][integration]") {
    mmtest::MemcachedCluster cluster(4);
    std::vector<ServerAddress> servers;
    for (std::size_t i = 0; i < 4; ++i)
        servers.push_back(cluster[i].address("mc-" + std::to_string(i)));
    auto ring = std::make_shared<ShardedRouter>(servers);
    {
        CacheClient before(ring);
        for (int i = 0; i < 400; ++i) {
            REQUIRE(before.set("drain:" + std::to_string(i), "v" + std::to_string(i), 600));
        }
    }
    // Which keys live on mc-2 before the drain.
    std::vector<int> on_drained;
    for (int i = 0; i < 400; ++i) {
        if (ring->pool_for("drain:" + std::to_string(i))->name() == "mc-2")
            on_drained.push_back(i);
    }
    REQUIRE(on_drained.size() > 40);

    auto drain = std::make_shared<DrainingRouter>(ring, "mc-2");
    CacheClient cache(drain);
    // Four threads keep reading (and some writing) every key while the drain runs.
    std::atomic<int> wrong{0};
    std::atomic<int> misses{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 3; ++round) {
                for (int i = t; i < 400; i += 4) {
                    const std::string k = "drain:" + std::to_string(i);
                    if (i % 10 == 0 && round == 1) {
                        if (!cache.set(k, "v" + std::to_string(i), 600))
                            ++wrong;
                        continue;
                    }
                    const auto v = cache.get(k);
                    if (!v) {
                        ++misses;
                    } else if (*v != "v" + std::to_string(i)) {
                        ++wrong;
                    }
                }
            }
        });
    }
    for (auto& th : threads)
        th.join();
    CHECK(wrong == 0);
    CHECK(misses == 0);
    const DrainCounters c = drain->counters();
    CHECK(c.pulled >= on_drained.size());  // each drained key pulled once (a few twice, racing)
    CHECK(c.misses == 0);
    // The drained keys now live on their new servers; the drained server is out of the ring.
    for (int i : on_drained) {
        const std::string k = "drain:" + std::to_string(i);
        const auto owner = ring->pool_for(k)->name();
        CHECK(owner != "mc-2");
        const std::size_t idx = static_cast<std::size_t>(owner.back() - '0');
        CHECK(cluster[idx]
                  .raw_until("get " + k + "\r\n",
                             [](const std::string& a) { return a.rfind("VALUE", 0) == 0; })
                  .rfind("VALUE", 0) == 0);
    }
    // Finished: the drained server can go; every key is still there.
    drain->finish();
    cluster[2].stop();
    for (int i = 0; i < 400; ++i) {
        const std::string k = "drain:" + std::to_string(i);
        CHECK(cache.get(k) == "v" + std::to_string(i));
    }
}

TEST_CASE("a delete during a drain also removes the drained server's copy",
          "[router][drain][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto ring = std::make_shared<ShardedRouter>(cluster.addresses());
    CacheClient before(ring);
    std::string k;
    for (int i = 0; k.empty(); ++i) {
        const auto candidate = mmtest::unique_key("d" + std::to_string(i));
        if (ring->pool_for(candidate)->name() == cluster[1].address().name())
            k = candidate;
    }
    REQUIRE(before.set(k, "old", 600));
    auto drain = std::make_shared<DrainingRouter>(ring, cluster[1].address().name());
    CacheClient cache(drain);
    CHECK(cache.del(k));  // not at the new owner yet, but gone from the drained server too
    CHECK_FALSE(cluster[1].raw_get(k));
    CHECK_FALSE(cache.get(k));
    CHECK(drain->counters().deletes == 1);
}

TEST_CASE("draining an unknown or the last server is refused", "[router][drain][integration]") {
    mmtest::MemcachedServer server;
    auto ring = std::make_shared<ShardedRouter>(std::vector{server.address()});
    CHECK_THROWS_AS(DrainingRouter(ring, "nope:1"), InvalidInputError);
    CHECK_THROWS_AS(DrainingRouter(ring, server.address().name()), InvalidInputError);
    CHECK(ring->servers().size() == 1);
}
