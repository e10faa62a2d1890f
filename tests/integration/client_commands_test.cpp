// Every high-level command against real memcached, with the reference client's semantics.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <atomic>
#include <limits>
#include <span>
#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

std::string show(const DomainCounters& c) {
    return std::to_string(c.hits) + "/" + std::to_string(c.misses) + "/" +
           std::to_string(c.undecodable);
}

struct Fixture {
    mmtest::MemcachedServer server;
    CacheClient cache = cache_client_from_servers({server.address()});
};

}  // namespace

TEST_CASE("set modes: add fails on an existing key, replace/append/prepend on a missing one",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("modes");
    CHECK_FALSE(f.cache.set(k, "x", 60, {.mode = SetMode::replace}));
    CHECK_FALSE(f.cache.set(k, "x", 60, {.mode = SetMode::append}));
    CHECK_FALSE(f.cache.set(k, "x", 60, {.mode = SetMode::prepend}));
    CHECK(f.cache.set(k, "mid", 60, {.mode = SetMode::add}));
    CHECK_FALSE(f.cache.set(k, "other", 60, {.mode = SetMode::add}));
    CHECK(f.cache.set(k, "<", 60, {.mode = SetMode::prepend}));
    CHECK(f.cache.set(k, ">", 60, {.mode = SetMode::append}));
    CHECK(f.cache.get(k) == "<mid>");
    CHECK(f.cache.set(k, "new", 60, {.mode = SetMode::replace}));
    CHECK(f.cache.get(k) == "new");
}

TEST_CASE("a write with a stale CAS token is a conflict and stores nothing",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("cas");
    const auto cas = f.cache.set_cas(k, "v1", 60);
    REQUIRE(cas.has_value());
    const auto got = f.cache.get_cas(k);
    CHECK(got.value == "v1");
    CHECK(got.cas_token == cas);
    CHECK(f.cache.set(k, "v2", 60, {.cas_token = *cas}));
    CHECK_FALSE(f.cache.set(k, "v3", 60, {.cas_token = *cas}));  // the CAS moved on
    CHECK(f.cache.get(k) == "v2");
    const auto r = f.cache.meta_set(k, "v4", 60, RequestFlags{.cas_token = *cas});
    CHECK(std::holds_alternative<Conflict>(r));
}

TEST_CASE("CAS tokens are 64-bit end to end", "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("cas64");
    // memcached only hands out its own counter values; check the type carries them whole.
    const auto cas = f.cache.set_cas(k, "v", 60);
    REQUIRE(cas);
    static_assert(std::is_same_v<decltype(*cas), const std::uint64_t&> ||
                  std::is_same_v<std::remove_cvref_t<decltype(*cas)>, std::uint64_t>);
    CHECK_FALSE(f.cache.set(k, "w", 60, {.cas_token = *cas + (1ull << 40)}));
    CHECK(f.cache.get(k) == "v");
}

TEST_CASE("stale on delete: the first reader recomputes, the others get the stale value",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("stale-del");
    REQUIRE(f.cache.set(k, "old", 100));
    const StalePolicy stale{.mark_stale_on_deletion_ttl = 30};
    CHECK(f.cache.del(k, {.stale_policy = stale}));
    const CasValue first = f.cache.get_cas(k);
    CHECK(first.won);
    CHECK_FALSE(first.value);
    REQUIRE(first.cas_token);
    const CasValue second = f.cache.get_cas(k);
    CHECK_FALSE(second.won);
    CHECK(second.value == "old");  // served stale while the winner recomputes
    CHECK(f.cache.set(k, "new", 100, {.cas_token = *first.cas_token}));
    const CasValue after = f.cache.get_cas(k);
    CHECK(after.value == "new");
    CHECK_FALSE(after.won);
}

TEST_CASE("stale on CAS mismatch: a late writer's value is stored marked stale",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("stale-cas");
    const auto old_cas = f.cache.set_cas(k, "v1", 100);
    REQUIRE(old_cas);
    REQUIRE(f.cache.set(k, "v2", 100));  // someone else wrote meanwhile
    const StalePolicy stale{.mark_stale_on_cas_mismatch = true};
    CHECK(f.cache.set(k, "late", 100, {.cas_token = *old_cas, .stale_policy = stale}));
    const auto r = f.cache.meta_get(k, RequestFlags{.return_value = true});
    REQUIRE(std::holds_alternative<Value>(r));
    CHECK(std::get<Value>(r).data == "late");
    CHECK(std::get<Value>(r).flags.stale);
    // Without the policy the same late write is a conflict.
    CHECK_FALSE(f.cache.set(k, "later", 100, {.cas_token = *old_cas}));
}

TEST_CASE("invalidate is true whether or not the key was there; del only when it was",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("inv");
    CHECK(f.cache.invalidate(k));
    CHECK_FALSE(f.cache.del(k));
    REQUIRE(f.cache.set(k, "v", 60));
    CHECK(f.cache.invalidate(k));
    CHECK_FALSE(f.cache.get(k));
}

TEST_CASE("touch sets a new TTL and reports whether the key exists", "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("touch");
    CHECK_FALSE(f.cache.touch(k, 100));
    REQUIRE(f.cache.set(k, "v", 10));
    CHECK(f.cache.touch(k, 500));
    const auto r = f.cache.meta_get(k, RequestFlags{.return_ttl = true});
    REQUIRE(std::holds_alternative<Success>(r));
    const auto ttl = std::get<Success>(r).flags.ttl;
    REQUIRE(ttl);
    CHECK(*ttl > 400);
}

TEST_CASE("refill adds only when absent and never reports a write failure",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {.recv_timeout = 200ms});
    const auto k = mmtest::unique_key("refill");
    CHECK(cache.refill(k, "first", 60));
    CHECK_FALSE(cache.refill(k, "second", 60));
    CHECK(cache.get(k) == "first");
    std::atomic<int> failures{0};
    cache.on_write_failure().subscribe([&](const Key&) { ++failures; });
    server.stop();
    CHECK_THROWS_AS(cache.refill(mmtest::unique_key("refill2"), "x", 60), TransportError);
    CHECK(failures == 0);
}

TEST_CASE("counters: delta on a missing key, initialized counters, decrement floors at 0",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("counter");
    CHECK_FALSE(f.cache.delta(k, 1));
    CHECK_FALSE(f.cache.delta_and_get(k, 1).has_value());
    CHECK(f.cache.delta_initialize(k, 1, 10, 60));  // created with 10; delta not applied
    CHECK(f.cache.delta_and_get(k, 5) == 15);
    CHECK(f.cache.delta(k, -3));
    CHECK(f.cache.delta_and_get(k, 0) == 12);
    CHECK(f.cache.delta_and_get(k, -100) == 0);  // memcached stops at 0
    const auto k2 = mmtest::unique_key("counter2");
    CHECK(f.cache.delta_initialize_and_get(k2, 1, 7, 60) == 7);
    CHECK(f.cache.delta_initialize_and_get(k2, 1, 7, 60) == 8);
    // A decrement that shrinks the number leaves space padding: reading still works.
    const auto k3 = mmtest::unique_key("counter3");
    REQUIRE(f.cache.meta_set(k3, "100", 60).index() == 0);
    CHECK(f.cache.delta_and_get(k3, -95) == 5);
    CHECK(f.cache.delta_and_get(k3, 0) == 5);
}

TEST_CASE("counters are unsigned 64-bit: values from 2^63 to 2^64-1 round-trip",
          "[client][integration]") {
    Fixture f;
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    constexpr std::uint64_t half = std::uint64_t{1} << 63;
    const auto k = mmtest::unique_key("u64");
    REQUIRE(f.server.raw_set(k, std::to_string(half - 1), 2));
    CHECK(f.cache.delta_and_get(k, 1) == half);
    const FailureHandling soft{.raise_on_server_error = false};
    CHECK(f.cache.delta_and_get(k, 1, {.failure = soft}) == half + 1);
    REQUIRE(f.server.raw_set(k, std::to_string(max - 1), 2));
    CHECK(f.cache.delta_and_get(k, 1) == max);
    CHECK(f.cache.delta_and_get(k, 1) == 0);  // memcached wraps at 2^64
    CHECK(f.cache.delta_and_get(k, -1) == 0);
    const auto k2 = mmtest::unique_key("u64-init");
    CHECK(f.cache.delta_initialize_and_get(k2, 1, max, 60) == max);
    CHECK(f.cache.delta_initialize_and_get(k2, -2, max, 60) == max - 2);
    CHECK(f.cache.get_typed<std::uint64_t>(k2) == max - 2);
}

TEST_CASE("a counter on a non-numeric value is a server error, not a desync",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("text");
    REQUIRE(f.cache.set(k, "abc", 60));
    CHECK_THROWS_AS(f.cache.delta(k, 1), ServerError);
    try {
        (void)f.cache.delta_and_get(k, 1);
        FAIL("no error");
    } catch (const ServerError& e) {
        CHECK(e.server() == f.server.address().name());
    }
    CHECK(f.cache.get(k) == "abc");  // the connection is still in step
}

TEST_CASE("a no_reply write the server answers with an error fires on_write_failure with its key",
          "[client][integration]") {
    mmtest::ServerOptions so;
    so.extra_args = {"-I", "2k", "-o", "slab_chunk_max=1024"};  // smaller than the client thinks
    mmtest::MemcachedServer server(so);
    auto cache =
        cache_client_from_servers({server.address()}, {.max_pool_size = 1, .max_connections = 1});
    std::vector<std::string> failed;
    cache.on_write_failure().subscribe([&](const Key& k) { failed.push_back(k.key()); });
    const auto k = mmtest::unique_key("quiet-too-big");
    const auto k2 = mmtest::unique_key("quiet-too-big-2");
    const std::string big = mmtest::random_bytes(8 * 1024, 3);
    const FailureHandling soft{.raise_on_server_error = false};
    // SERVER_ERROR object too large for cache, before the mn fence.
    CHECK_FALSE(cache.set(k, big, 60, {.no_reply = true, .failure = soft}));
    CHECK(failed == std::vector<std::string>{k});
    CHECK_THROWS_AS(cache.set(k2, big, 60, {.no_reply = true}), ServerError);
    CHECK(failed == std::vector<std::string>{k, k2});
    // Untracked quiet writes stay fire-and-forget; the connection stays in step.
    CHECK(cache.refill(k, big, 60, true));
    CHECK(cache.set(k, "small", 60, {.no_reply = true}));
    CHECK(cache.get(k) == "small");
    CHECK(failed == std::vector<std::string>{k, k2});
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 1);
}

TEST_CASE("no_reply writes followed by reads on the same connection stay in step",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    // One connection only: every command shares it.
    auto cache =
        cache_client_from_servers({server.address()}, {.max_pool_size = 1, .max_connections = 1});
    const auto k = mmtest::unique_key("noreply");
    for (int i = 0; i < 50; ++i) {
        CHECK(cache.set(k, "v" + std::to_string(i), 60, {.no_reply = true}));
        CHECK(cache.get(k) == "v" + std::to_string(i));
    }
    // A failing quiet write (add on an existing key answers NS) does not shift answers.
    CHECK(cache.set(k, "ignored", 60, {.mode = SetMode::add, .no_reply = true}));
    CHECK(cache.del(mmtest::unique_key("absent"), {.no_reply = true}));
    CHECK(cache.delta(mmtest::unique_key("absent"), 1, {.no_reply = true}));
    CHECK(cache.get(k) == "v49");
    CHECK(cache.get_counters().servers.at(0).counters.total_created == 1);
}

TEST_CASE("values of 0 and 1 bytes, just under the item limit, and over it",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("sizes");
    CHECK(f.cache.set(k, "", 60));
    CHECK(f.cache.get(k) == std::optional<std::string>(""));
    CHECK(f.cache.set(k, "x", 60));
    CHECK(f.cache.get(k) == "x");
    // memcached 1.6.18 with -I 1m stores up to 1048576 - key - 63 bytes with client flags.
    const std::string big = mmtest::random_bytes(1024 * 1024 - k.size() - 63);
    CHECK(f.cache.set(k, big, 60));
    CHECK(f.cache.get(k) == big);
    const std::string too_big = mmtest::random_bytes(1024 * 1024, 2);
    CHECK_THROWS_AS(f.cache.set(k, too_big, 60), InvalidInputError);
    CHECK_THROWS_WITH(f.cache.set(k, too_big, 60), Catch::Contains("over the item size limit"));
    CHECK(f.cache.get(k) == big);  // nothing was sent: the old value is intact
}

TEST_CASE("an empty key is rejected before anything is sent", "[client][integration]") {
    Fixture f;
    CHECK_THROWS_AS(f.cache.set("", "v", 60), InvalidInputError);
    CHECK_THROWS_AS(f.cache.get(""), InvalidInputError);
    CHECK(f.cache.get_counters().servers.at(0).counters.total_created == 0);
}

TEST_CASE("early recache: one caller refreshes while the others keep the old value",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("recache");
    REQUIRE(f.cache.set(k, "old", 10));  // remaining TTL 10 < 30
    const GetOptions recache{.recache_policy = RecachePolicy{.ttl = 30}};
    const CasValue first = f.cache.get_cas(k, recache);
    CHECK(first.won);
    CHECK_FALSE(first.value);
    for (int i = 0; i < 5; ++i)
        CHECK(f.cache.get(k, recache) == "old");
    CHECK(f.cache.set(k, "fresh", 100, {.cas_token = *first.cas_token}));
    CHECK(f.cache.get(k, recache) == "fresh");  // TTL 100 > 30: no win handed out
}

TEST_CASE("lease stampede: 32 callers, exactly one computes, the others get its value",
          "[client][integration][concurrency]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {.max_connections = 32});
    const auto k = mmtest::unique_key("stampede");
    const LeasePolicy lease{.ttl = 30,
                            .miss_retries = 20,
                            .miss_retry_wait = 20ms,
                            .wait_backoff_factor = 1.2,
                            .miss_max_retry_wait = 100ms};
    std::atomic<int> loads{0};
    std::atomic<int> got_value{0};
    std::atomic<int> wrong_value{0};
    std::atomic<int> misses{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t) {
        threads.emplace_back([&] {
            const CasValue r = cache.get_or_lease_cas(k, lease);
            if (r.won) {
                ++loads;
                std::this_thread::sleep_for(100ms);  // compute the value
                cache.set(k, "computed", 60, {.cas_token = r.cas_token});
            } else if (r.value) {
                // Checked after the join: Catch's assertions are not thread-safe.
                (*r.value == "computed" ? got_value : wrong_value).fetch_add(1);
            } else {
                ++misses;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(loads == 1);
    CHECK(got_value == 31);
    CHECK(wrong_value == 0);
    CHECK(misses == 0);
}

TEST_CASE("a lease winner that fails can release the lease for the next caller",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("release");
    const CasValue won = f.cache.get_or_lease_cas(k);
    REQUIRE(won.won);
    REQUIRE(won.cas_token);
    CHECK(f.cache.release_lease(k, *won.cas_token));
    const CasValue again = f.cache.get_or_lease_cas(k);
    CHECK(again.won);  // not blocked for the lease TTL
}

TEST_CASE("get_or_lease losers wait with back-off and give up after miss_retries",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    std::vector<std::chrono::milliseconds> waits;
    ClientOptions opts;
    opts.lease_wait = [&](std::chrono::milliseconds d) { waits.push_back(d); };
    auto cache = cache_client_from_servers({server.address()}, {}, opts);
    const auto k = mmtest::unique_key("loser");
    REQUIRE(cache.get_or_lease_cas(k).won);  // someone holds the lease and never fills it
    const LeasePolicy lease{.miss_retries = 4,
                            .miss_retry_wait = 1000ms,
                            .wait_backoff_factor = 10,
                            .miss_max_retry_wait = 15000ms};
    CHECK_FALSE(cache.get_or_lease(k, lease).has_value());
    REQUIRE(waits.size() == 3);
    CHECK(waits[0] == 1000ms);
    CHECK(waits[1] == 10000ms);
    CHECK(waits[2] == 15000ms);
    CHECK_THROWS_AS(cache.get_or_lease(k, LeasePolicy{.miss_retries = 0}), InvalidInputError);
}

TEST_CASE("multi_get returns values in key order, misses included", "[client][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto cache = cache_client_from_servers(cluster.addresses());
    std::vector<std::string> keys;
    for (int i = 0; i < 200; ++i)
        keys.push_back(mmtest::unique_key("mg"));
    for (std::size_t i = 0; i < 200; i += 2)
        REQUIRE(cache.set(keys[i], "v" + std::to_string(i), 60));
    std::vector<KeyView> views(keys.begin(), keys.end());
    const auto got = cache.multi_get(views);
    REQUIRE(got.size() == 200);
    for (std::size_t i = 0; i < 200; ++i) {
        if (i % 2 == 0) {
            CHECK(got[i] == "v" + std::to_string(i));
        } else {
            CHECK_FALSE(got[i]);
        }
    }
}

TEST_CASE("multi_get of 1,000 keys over 4 servers with one stopped", "[client][integration]") {
    mmtest::MemcachedCluster cluster(4);
    auto cache = cache_client_from_servers(cluster.addresses(), {.recv_timeout = 300ms});
    auto& sharded = dynamic_cast<ShardedRouter&>(cache.router());
    std::vector<std::string> keys;
    for (int i = 0; i < 1000; ++i)
        keys.push_back(mmtest::unique_key("mg4"));
    for (const auto& k : keys)
        REQUIRE(cache.set(k, "v:" + k, 60));
    cluster[2].stop();
    const std::string dead = cluster[2].address().name();
    std::vector<KeyView> views(keys.begin(), keys.end());

    SECTION("raising off: the stopped server's keys miss, marked as errors; the rest return") {
        const FailureHandling soft{.raise_on_server_error = false};
        const auto got = cache.multi_get(views, {.failure = soft});
        const auto raw = cache.meta_multiget(views, RequestFlags{.return_value = true}, soft);
        int on_dead = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const bool is_dead = sharded.pool_for(keys[i])->name() == dead;
            if (is_dead) {
                ++on_dead;
                CHECK_FALSE(got[i]);
                REQUIRE(std::holds_alternative<Miss>(raw[i]));
                CHECK(std::get<Miss>(raw[i]).is_error());
            } else {
                CHECK(got[i] == "v:" + keys[i]);
            }
        }
        CHECK(on_dead > 100);
    }
    SECTION("raising on: the call throws the server's failure") {
        CHECK_THROWS_AS(cache.multi_get(views), TransportError);
    }
}

TEST_CASE("failed writes are reported to on_write_failure; a throwing subscriber is isolated",
          "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {.recv_timeout = 200ms});
    std::vector<std::string> failed;
    cache.on_write_failure().subscribe([](const Key&) { throw std::runtime_error("boom"); });
    cache.on_write_failure().subscribe([&](const Key& k) { failed.push_back(k.key()); });
    server.stop();
    const FailureHandling soft{.raise_on_server_error = false};
    CHECK_FALSE(cache.set("w1", "v", 60, {.failure = soft}));
    CHECK_FALSE(cache.del("w2", {.failure = soft}));
    CHECK_FALSE(cache.touch("w3", 30, false, soft));    // a short touch counts as a write
    CHECK_FALSE(cache.touch("w4", 3000, false, soft));  // a long one does not
    CHECK_FALSE(cache.get("r1", {.failure = soft}));    // reads never do
    CHECK_THROWS_AS(cache.set("w5", "v", 60), TransportError);
    CHECK_FALSE(
        cache.set("w6", "v", 60,
                  {.failure = {.raise_on_server_error = false, .track_write_failures = false}}));
    CHECK(failed == std::vector<std::string>{"w1", "w2", "w3", "w5"});
}

TEST_CASE("hits and misses are counted per key domain", "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("dom");
    REQUIRE(f.cache.set(Key(k, "", "users"), "v", 60));
    f.cache.get(Key(k, "", "users"));
    f.cache.get(Key(mmtest::unique_key("nope"), "", "users"));
    f.cache.get(Key(mmtest::unique_key("nope"), "", "users"));
    f.cache.get(mmtest::unique_key("nope"));
    const auto c = f.cache.get_counters();
    CHECK(c.domains.at("users") == DomainCounters{1, 2, 0});
    CHECK(c.domains.at("") == DomainCounters{0, 1, 0});
}

TEST_CASE("a value that cannot be decoded is counted as an undecodable miss, an error if strict",
          "[client][values][integration]") {
    Fixture f;
    // Bytes flagged compressed that are no zlib stream / zstd frame (48: a zstd frame whose
    // dictionary this client never registered would read the same).
    const auto users = [](const std::string& k) { return Key(k, "", "users"); };
    const std::string bad_zlib = mmtest::unique_key("bad-zlib");
    const std::string bad_zstd = mmtest::unique_key("bad-zstd");
    const std::string good = mmtest::unique_key("good");
    REQUIRE(f.server.raw_set(bad_zlib, "garbage", 24));
    REQUIRE(f.server.raw_set(bad_zstd, "garbage", 48));
    REQUIRE(f.cache.set(users(good), std::string(1000, 'g'), 60));  // compressed, fine
    const auto none = DomainCounters{};

    CHECK_FALSE(f.cache.get(users(bad_zlib)).has_value());
    CHECK_FALSE(f.cache.get_cas(users(bad_zstd)).value.has_value());
    CHECK_FALSE(f.cache.get_typed<std::string>(users(bad_zlib)).has_value());
    CHECK(f.cache.get(users(good)) == std::string(1000, 'g'));
    CHECK(show(f.cache.get_counters().domains.at("users")) == "1/3/3");

    const std::vector<Key> in_users{users(bad_zlib), users(good), users(bad_zstd)};
    const std::vector<KeyView> keys(in_users.begin(), in_users.end());
    CHECK(f.cache.multi_get(keys) == std::vector<std::optional<std::string>>{
                                         std::nullopt, std::string(1000, 'g'), std::nullopt});
    CHECK_FALSE(f.cache.multi_get_cas(keys)[2].value.has_value());
    std::size_t visited = 0;
    CHECK(f.cache.multi_get_visit(keys, [&](std::size_t i, std::string_view) {
        CHECK(i == 1);
        ++visited;
    }) == 1);
    CHECK(visited == 1);
    CHECK(show(f.cache.get_counters().domains.at("users")) == "4/9/9");
    CHECK(show(f.cache.get_counters().domains.at("")) == show(none));

    // Strict reads see it as an error naming the key; counted all the same.
    const GetOptions strict{.error_on_undecodable = true};
    CHECK_THROWS_WITH(f.cache.get(bad_zlib, strict), Catch::Contains(bad_zlib));
    CHECK_THROWS_AS(f.cache.get_typed<std::string>(bad_zstd, strict), DecodeError);
    CHECK_THROWS_AS(f.cache.multi_get({KeyView(good), KeyView(bad_zstd)}, strict), DecodeError);
    CHECK_THROWS_AS(f.cache.multi_get_cas(std::vector<KeyView>{bad_zlib}, strict), DecodeError);
    CHECK_THROWS_AS(
        f.cache.multi_get_visit(
            std::vector<KeyView>{bad_zlib}, [](std::size_t, std::string_view) {}, strict),
        DecodeError);
    CHECK(show(f.cache.get_counters().domains.at("")) == "1/5/5");
    CHECK(f.cache.get(good, strict) == std::string(1000, 'g'));
}

TEST_CASE("a negative mark_stale_on_deletion_ttl is rejected, not a hard delete",
          "[client][integration]") {
    Fixture f;
    const auto k = mmtest::unique_key("stale-neg");
    REQUIRE(f.cache.set(k, "v", 60));
    for (const std::int64_t ttl : {-1, -30}) {
        const DeleteOptions o{.stale_policy = StalePolicy{.mark_stale_on_deletion_ttl = ttl}};
        CHECK_THROWS_WITH(f.cache.del(k, o),
                          Catch::Contains("mark_stale_on_deletion_ttl is " + std::to_string(ttl)));
        CHECK_THROWS_AS(f.cache.invalidate(k, o), InvalidInputError);
    }
    CHECK(f.cache.get(k) == "v");
}

TEST_CASE("multi-key reads take any range of key-likes", "[client][integration]") {
    Fixture f;
    const std::vector<std::string> keys{mmtest::unique_key("r1"), mmtest::unique_key("r2"),
                                        mmtest::unique_key("r3")};
    REQUIRE(f.cache.set(keys[0], "a", 60));
    REQUIRE(f.cache.set(keys[2], "c", 60));
    const std::vector<std::optional<std::string>> want{"a", std::nullopt, "c"};
    const std::vector<Key> as_keys(keys.begin(), keys.end());
    const std::vector<std::string_view> as_views(keys.begin(), keys.end());
    const std::vector<KeyView> key_views(keys.begin(), keys.end());
    CHECK(f.cache.multi_get(keys) == want);
    CHECK(f.cache.multi_get(as_keys) == want);
    CHECK(f.cache.multi_get(as_views) == want);
    CHECK(f.cache.multi_get(std::span<const KeyView>(key_views)) == want);
    CHECK(f.cache.multi_get({keys[0], keys[1], keys[2]}) == want);
    CHECK(f.cache.multi_get_cas(keys)[2].value == "c");
    CHECK(f.cache.multi_get_cas(as_keys)[0].cas_token.has_value());
    CHECK(f.cache.multi_get_cas({keys[1]})[0].value == std::nullopt);
    CHECK(std::holds_alternative<Value>(
        f.cache.meta_multiget(as_views, RequestFlags{.return_value = true})[0]));
    std::string seen;
    CHECK(f.cache.multi_get_visit(keys, [&](std::size_t, std::string_view v) { seen += v; }) == 2);
    CHECK(seen.size() == 2);
}

TEST_CASE("a key prefix is prepended on the wire", "[client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, {}, {.key_prefix = "app1:"});
    REQUIRE(cache.set("k", "v", 60));
    CHECK(server.raw_get("app1:k") == "v");
    CHECK_FALSE(server.raw_get("k"));
    CHECK(cache.get("k") == "v");
}
