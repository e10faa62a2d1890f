// DrainingRouter: taking a server out of the ring without a burst of misses.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <atomic>
#include <chrono>
#include <random>
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
        const auto owner = drain->ring()->pool_for(k)->name();
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

TEST_CASE("building a DrainingRouter leaves the placement of its ring's other clients alone",
          "[router][drain][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto ring = std::make_shared<ShardedRouter>(cluster.addresses());
    CacheClient other(ring);
    for (int i = 0; i < 900; ++i)
        REQUIRE(other.set("keep:" + std::to_string(i), "v" + std::to_string(i), 600));
    const std::string drained = cluster[1].address().name();
    std::size_t on_drained = 0;
    for (int i = 0; i < 900; ++i) {
        if (ring->pool_for("keep:" + std::to_string(i))->name() == drained)
            ++on_drained;
    }
    REQUIRE(on_drained > 100);

    auto drain = std::make_shared<DrainingRouter>(ring, drained);
    CHECK(ring->servers().size() == 3);  // the given ring is unchanged
    CHECK(drain->ring()->servers().size() == 2);
    CHECK(drain->ring() != ring);
    // The drain's ring shares the pools of the servers that stay.
    CHECK(drain->ring()->pool_named(cluster[0].address().name()) ==
          ring->pool_named(cluster[0].address().name()));
    int misses = 0;
    for (int i = 0; i < 900; ++i) {
        if (other.get("keep:" + std::to_string(i)) != "v" + std::to_string(i))
            ++misses;
    }
    CHECK(misses == 0);
    // The drain's users route the drained server's keys elsewhere, and still read them all.
    CacheClient draining(drain);
    for (int i = 0; i < 900; ++i) {
        const std::string k = "keep:" + std::to_string(i);
        CHECK(drain->ring()->pool_for(k)->name() != drained);
        CHECK(draining.get(k) == "v" + std::to_string(i));
    }
    CHECK(drain->counters().pulled == on_drained);
}

TEST_CASE("a live client switched to a DrainingRouter while 4 threads run loses no call",
          "[router][drain][integration][concurrency]") {
    mmtest::MemcachedCluster cluster(3);
    auto ring = std::make_shared<ShardedRouter>(cluster.addresses());
    CacheClient cache(ring);
    constexpr int n = 300;
    for (int i = 0; i < n; ++i)
        REQUIRE(cache.set("live:" + std::to_string(i), "v" + std::to_string(i), 600));
    auto drain = std::make_shared<DrainingRouter>(ring, cluster[2].address().name());

    std::atomic<int> errors{0};
    std::atomic<int> wrong{0};
    std::atomic<int> misses{0};
    std::atomic<long> done{0};
    std::atomic<bool> switched{false};
    std::vector<std::thread> threads;
    constexpr int rounds = 4;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < rounds; ++round) {
                for (int i = t; i < n; i += 4) {
                    const std::string k = "live:" + std::to_string(i);
                    try {
                        if (i % 7 == round) {
                            if (!cache.set(k, "v" + std::to_string(i), 600))
                                ++errors;
                        } else if (const auto v = cache.get(k); !v) {
                            ++misses;
                        } else if (*v != "v" + std::to_string(i)) {
                            ++wrong;
                        }
                    } catch (const std::exception&) {
                        ++errors;
                    }
                    ++done;
                }
                // Half of the calls run before the switch, half after it.
                while (round == rounds / 2 - 1 && !switched.load())
                    std::this_thread::yield();
            }
        });
    }
    while (done.load() < static_cast<long>(n) * (rounds / 2))
        std::this_thread::yield();
    cache.set_router(drain);
    switched = true;
    for (auto& th : threads)
        th.join();
    CHECK(done == static_cast<long>(n) * rounds);
    CHECK(errors == 0);
    CHECK(wrong == 0);
    CHECK(misses == 0);
    CHECK(&cache.router() == drain.get());
    CHECK(drain->counters().reads > 0);  // the switched client read the drained server
    // Its counters now show the drain's servers: the two left and the drained one.
    CHECK(cache.get_counters().servers.size() == 3);
    CHECK_THROWS_AS(cache.set_router(nullptr), InvalidInputError);
}

namespace {

/// Forwards to `to`, counting the requests it sent; on its first use it may switch a
/// client to another router (in the middle of that client's call).
struct CountingRouter final : Router {
    std::shared_ptr<Router> to;
    std::atomic<int> executes{0};
    CacheClient* switch_client = nullptr;
    std::shared_ptr<Router> switch_to;

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override {
        if (executes++ == 0 && switch_client != nullptr)
            switch_client->set_router(switch_to);
        to->execute(requests, responses, ctx);
    }
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override {
        return to->get_counters();
    }
};

}  // namespace

TEST_CASE("a call keeps the router it began with when the client switches meanwhile",
          "[router][drain][integration]") {
    mmtest::MemcachedServer server;
    auto ring = std::make_shared<ShardedRouter>(std::vector{server.address()});
    auto first = std::make_shared<CountingRouter>();
    auto second = std::make_shared<CountingRouter>();
    first->to = ring;
    second->to = ring;
    ClientOptions options;
    options.large_values.enabled = true;
    options.large_values.chunk_size = 4096;
    CacheClient cache(first, options);
    first->switch_client = &cache;
    first->switch_to = second;
    // A value of 3 chunks: its chunks and then its index, two sends in one call.
    std::string big(10000, '\0');
    std::mt19937 rng(7);
    for (char& c : big)
        c = static_cast<char>('a' + rng() % 26);
    const std::string k = mmtest::unique_key("pinned");
    REQUIRE(cache.set(k, big, 600));
    CHECK(first->executes == 2);  // the whole set, though the switch came after its first send
    CHECK(second->executes == 0);
    CHECK(cache.get(k) == big);    // the next call: the new router
    CHECK(second->executes == 2);  // its index, then its chunks
    CHECK(&cache.router() == second.get());
}
