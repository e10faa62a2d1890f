// The hot-key cache against a real memcached: promotion by the h and l flags, serving from
// memory, stale-while-revalidate with one revalidating caller, a miss or a placeholder
// dropping a kept key, invalidation by every write path of the client, the memory bounds,
// and the staleness bound under concurrent writes.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

HotCacheOptions always(std::chrono::milliseconds ttl = 5s, std::chrono::milliseconds swr = 5s) {
    HotCacheOptions o;
    o.cache_ttl = ttl;
    o.max_stale_while_revalidate = swr;
    o.probability_factor = 1;
    o.max_last_access_age = 5s;
    return o;
}

CacheClient hot_client(const mmtest::MemcachedServer& server,
                       HotCacheOptions hot,
                       PoolOptions pool = {}) {
    ClientOptions o;
    o.hot_cache = std::move(hot);
    return cache_client_from_servers({server.address()}, pool, std::move(o));
}

HotCacheCounters hot_of(const CacheClient& c) {
    return c.get_counters().hot_cache;
}

/// Reads `key` until the hot cache keeps it (a set item's first read says "not fetched
/// before", so the second read promotes it).
void promote(CacheClient& cache, KeyView key) {
    const auto before = hot_of(cache).promotions;
    for (int i = 0; i < 4 && hot_of(cache).promotions == before; ++i)
        static_cast<void>(cache.get(key));
    REQUIRE(hot_of(cache).promotions == before + 1);
}

/// A new key holding `value`, stored through `cache` and then kept by it.
std::string kept_key(CacheClient& cache, std::string_view base, std::string_view value) {
    std::string key = mmtest::unique_key(base);
    REQUIRE(cache.set(key, value, 0));
    promote(cache, key);
    return key;
}

/// Stores `value` under `key` behind the client's back (no invalidation).
void set_behind(const mmtest::MemcachedServer& server,
                const std::string& key,
                std::string_view value) {
    const std::string req = "ms " + key + " " + std::to_string(value.size()) + " T0 F16\r\n" +
                            std::string(value) + "\r\n";
    REQUIRE(server.raw(req) == "HD\r\n");
}

}  // namespace

TEST_CASE("a key fetched before and accessed recently is promoted and then served from memory",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always());
    const std::string key = mmtest::unique_key("hot");
    REQUIRE(cache.set(key, "v1", 0));

    // First read after the set: h0 (not fetched before), not a candidate.
    CHECK(cache.get(key) == "v1");
    CHECK(hot_of(cache).promotions == 0);
    // Second: h1 l0, promoted (probability 1).
    CHECK(cache.get(key) == "v1");
    CHECK(hot_of(cache).promotions == 1);
    CHECK(hot_of(cache).entries == 1);

    // Changed behind the client's back: the client keeps serving its copy, without asking.
    set_behind(server, key, "v2");
    const auto gets_before = std::stoull(server.stat("cmd_get"));
    CHECK(cache.get(key) == "v1");
    CHECK(cache.get(key) == "v1");
    CHECK(std::stoull(server.stat("cmd_get")) == gets_before);
    CHECK(hot_of(cache).hits == 2);

    // multi_get mixes kept and fetched keys, in order.
    const std::string other = mmtest::unique_key("cold");
    REQUIRE(cache.set(other, "o", 0));
    const std::string absent = "absent-" + other;  // (a view of a temporary would dangle)
    const std::vector<KeyView> keys{other, key, absent};
    const auto got = cache.multi_get(keys);
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "o");
    CHECK(got[1] == "v1");
    CHECK_FALSE(got[2].has_value());
    std::size_t visited = 0;
    cache.multi_get_visit(keys, [&](std::size_t i, std::string_view v) {
        ++visited;
        CHECK((i == 1 ? v == "v1" : v == "o"));
    });
    CHECK(visited == 2);

    // CAS reads bypass the cache: they see the server's value.
    CHECK(cache.get_cas(key).value == "v2");
}

TEST_CASE("a hit last accessed longer ago than max_last_access_age is not promoted",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    HotCacheOptions o = always();
    o.max_last_access_age = 0s;
    auto cache = hot_client(server, o);
    const std::string key = mmtest::unique_key("slow");
    REQUIRE(cache.set(key, "v", 0));
    CHECK(cache.get(key) == "v");
    std::this_thread::sleep_for(2100ms);  // memcached's clock ticks once a second
    CHECK(cache.get(key) == "v");         // h1 but l >= 1: not a candidate
    CHECK(hot_of(cache).promotions == 0);
}

TEST_CASE("candidates are promoted with probability 1 / probability_factor",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    HotCacheOptions o = always();
    o.probability_factor = 1U << 30U;
    auto cache = hot_client(server, o);
    const std::string key = mmtest::unique_key("rare");
    REQUIRE(cache.set(key, "v", 0));
    for (int i = 0; i < 50; ++i)
        CHECK(cache.get(key) == "v");
    CHECK(hot_of(cache).promotions == 0);
    CHECK(hot_of(cache).misses == 50);

    HotCacheOptions p = always();
    p.allowed_prefixes = {"allowed:"};
    auto prefixed = hot_client(server, p);
    const std::string outside = mmtest::unique_key("outside");
    REQUIRE(prefixed.set(outside, "v", 0));
    for (int i = 0; i < 5; ++i)
        CHECK(prefixed.get(outside) == "v");
    CHECK(hot_of(prefixed).promotions == 0);
    const std::string inside = "allowed:" + mmtest::unique_key("inside");
    REQUIRE(prefixed.set(inside, "v", 0));
    promote(prefixed, inside);
}

TEST_CASE("after cache_ttl one caller revalidates while the others keep the local value",
          "[hot_cache][integration][concurrency]") {
    mmtest::MemcachedServer server;
    PoolOptions pool;
    pool.recv_timeout = 3s;
    auto cache = hot_client(server, always(300ms, 10s), pool);
    const std::string key = mmtest::unique_key("swr");
    REQUIRE(cache.set(key, "old", 0));
    promote(cache, key);
    set_behind(server, key, "new");
    std::this_thread::sleep_for(400ms);  // past cache_ttl, inside the stale window

    const auto before = hot_of(cache);
    server.pause();  // the revalidating read waits for the server; the others must not
    std::vector<std::string> got(8);
    std::atomic<int> returned{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            got[t] = cache.get(key).value_or("<miss>");
            returned.fetch_add(1);
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (returned.load() < 7 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    CHECK(returned.load() == 7);  // everyone but the revalidating caller, at once
    server.resume();
    for (auto& th : threads)
        th.join();
    CHECK(std::count(got.begin(), got.end(), "old") == 7);
    CHECK(std::count(got.begin(), got.end(), "new") == 1);
    const auto after = hot_of(cache);
    CHECK(after.revalidations == before.revalidations + 1);
    CHECK(after.hits == before.hits + 7);
    // The revalidated value is kept and served from memory now.
    CHECK(cache.get(key) == "new");
    CHECK(hot_of(cache).hits == after.hits + 1);
}

TEST_CASE("a kept key past its stale window is read from the server again",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always(100ms, 100ms));
    const std::string key = mmtest::unique_key("expired");
    REQUIRE(cache.set(key, "old", 0));
    promote(cache, key);
    set_behind(server, key, "new");
    std::this_thread::sleep_for(300ms);
    CHECK(cache.get(key) == "new");
}

TEST_CASE("a server miss for a kept key drops the local entry", "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always(100ms, 5s));
    const std::string key = mmtest::unique_key("gone");
    REQUIRE(cache.set(key, "v", 0));
    promote(cache, key);
    REQUIRE(server.raw("md " + key + "\r\n") == "HD\r\n");
    std::this_thread::sleep_for(200ms);
    CHECK_FALSE(cache.get(key).has_value());  // the revalidating read misses
    CHECK(hot_of(cache).entries == 0);
    CHECK(hot_of(cache).invalidations == 1);
    CHECK_FALSE(cache.get(key).has_value());
}

TEST_CASE("lease placeholders and stale items are never promoted", "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always());
    const std::string key = mmtest::unique_key("placeholder");
    // Another client takes the lease: an empty item with Z for every later reader.
    REQUIRE(server.raw("mg " + key + " N30 v\r\n").substr(0, 4) == "VA 0");
    for (int i = 0; i < 5; ++i)
        CHECK_FALSE(cache.get(key).has_value());
    CHECK(hot_of(cache).promotions == 0);

    const std::string stale = mmtest::unique_key("stale");
    set_behind(server, stale, "old");
    REQUIRE(server.raw("md " + stale + " I T30\r\n") == "HD\r\n");
    for (int i = 0; i < 5; ++i)
        static_cast<void>(cache.get(stale));
    CHECK(hot_of(cache).promotions == 0);

    // get_or_lease winners (and every get_or_lease, a CAS read) go to the server.
    const std::string leased = mmtest::unique_key("leased");
    const auto won = cache.get_or_lease_cas(leased, LeasePolicy{});
    CHECK(won.won);
    CHECK(hot_of(cache).entries == 0);
}

TEST_CASE("every write of a key through the client drops its local copy at once",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    ClientOptions co;
    co.hot_cache = always();
    co.large_values.enabled = true;
    auto cache = cache_client_from_servers({server.address()}, {}, co);
    struct Path {
        const char* name;
        std::function<void(CacheClient&, const std::string&)> write;
    };
    const std::vector<Path> paths = {
        {"set", [](CacheClient& c, const std::string& k) { CHECK(c.set(k, "9", 0)); }},
        {"set no_reply",
         [](CacheClient& c, const std::string& k) {
             SetOptions o;
             o.no_reply = true;
             CHECK(c.set(k, "9", 0, o));
         }},
        {"set_cas", [](CacheClient& c, const std::string& k) { CHECK(c.set_cas(k, "9", 0)); }},
        {"set large (chunked)",
         [](CacheClient& c, const std::string& k) {
             CHECK(c.set(k, std::string(2 * 1024 * 1024, 'x'), 0));
         }},
        {"refill", [](CacheClient& c, const std::string& k) { CHECK_FALSE(c.refill(k, "9", 0)); }},
        {"del", [](CacheClient& c, const std::string& k) { CHECK(c.del(k)); }},
        {"invalidate", [](CacheClient& c, const std::string& k) { CHECK(c.invalidate(k)); }},
        {"del marking stale",
         [](CacheClient& c, const std::string& k) {
             DeleteOptions o;
             o.stale_policy = StalePolicy{30, false};
             CHECK(c.del(k, o));
         }},
        {"touch", [](CacheClient& c, const std::string& k) { CHECK(c.touch(k, 100)); }},
        {"delta", [](CacheClient& c, const std::string& k) { CHECK(c.delta(k, 1)); }},
        {"delta_initialize",
         [](CacheClient& c, const std::string& k) { CHECK(c.delta_initialize(k, 1, 0, 60)); }},
        {"delta_and_get",
         [](CacheClient& c, const std::string& k) { CHECK(c.delta_and_get(k, -1) == 4); }},
        {"delta_initialize_and_get",
         [](CacheClient& c, const std::string& k) {
             CHECK(c.delta_initialize_and_get(k, 2, 0, 60) == 7);
         }},
        {"meta_set",
         [](CacheClient& c, const std::string& k) {
             CHECK(std::holds_alternative<Success>(c.meta_set(k, "9", 0)));
         }},
        {"meta_delete",
         [](CacheClient& c, const std::string& k) {
             CHECK(std::holds_alternative<Success>(c.meta_delete(k)));
         }},
        {"meta_arithmetic",
         [](CacheClient& c, const std::string& k) {
             RequestFlags f;
             f.ma_delta_value = 1;
             CHECK(std::holds_alternative<Success>(c.meta_arithmetic(k, f)));
         }},
        {"release_lease",
         [](CacheClient& c, const std::string& k) {
             const auto cas = c.get_cas(k).cas_token;
             REQUIRE(cas);
             CHECK(c.release_lease(k, *cas));
         }},
    };
    for (const Path& p : paths) {
        INFO(p.name);
        const std::string key = mmtest::unique_key("write");
        REQUIRE(cache.set(key, "5", 0));
        promote(cache, key);
        const auto before = hot_of(cache);
        set_behind(server, key, "5");  // what the write sees on the server
        p.write(cache, key);
        const auto after = hot_of(cache);
        CHECK(after.entries == before.entries - 1);
        CHECK(after.invalidations == before.invalidations + 1);
        // The next read asks the server (it is no local hit).
        static_cast<void>(cache.get(key));
        CHECK(hot_of(cache).hits == after.hits);
    }
}

TEST_CASE("the hot cache keeps at most max_entries keys and max_bytes, least recently used out",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    HotCacheOptions o = always();
    o.max_entries = 3;
    auto cache = hot_client(server, o);
    std::vector<std::string> keys;
    for (int i = 0; i < 4; ++i) {
        keys.push_back(mmtest::unique_key("lru" + std::to_string(i)));
        REQUIRE(cache.set(keys.back(), "v", 0));
    }
    promote(cache, keys[0]);
    promote(cache, keys[1]);
    promote(cache, keys[2]);
    const auto hits = hot_of(cache).hits;
    CHECK(cache.get(keys[0]) == "v");  // keys[0] is now the most recently used
    CHECK(hot_of(cache).hits == hits + 1);
    promote(cache, keys[3]);  // evicts keys[1], the least recently used
    auto c = hot_of(cache);
    CHECK(c.entries == 3);
    CHECK(c.evictions == 1);
    CHECK(cache.get(keys[0]) == "v");
    CHECK(cache.get(keys[2]) == "v");
    CHECK(cache.get(keys[3]) == "v");
    CHECK(hot_of(cache).hits == c.hits + 3);
    CHECK(cache.get(keys[1]) == "v");
    CHECK(hot_of(cache).hits == c.hits + 3);  // keys[1] came from the server

    HotCacheOptions b = always();
    const std::string value = mmtest::random_bytes(1000);
    b.max_bytes = 2 * (1000 + 64 + 64);  // two such entries (keys under 64 bytes)
    auto small = hot_client(server, b);
    for (int i = 0; i < 4; ++i) {
        const std::string key = mmtest::unique_key("bytes" + std::to_string(i));
        REQUIRE(small.set(key, value, 0, SetOptions{}));
        promote(small, key);
        CHECK(hot_of(small).bytes <= b.max_bytes);
    }
    CHECK(hot_of(small).entries == 2);
    CHECK(hot_of(small).evictions == 2);
    // A value larger than max_bytes is never kept.
    const std::string big = mmtest::unique_key("big");
    REQUIRE(small.set(big, mmtest::random_bytes(5000, 2), 0));
    for (int i = 0; i < 3; ++i)
        static_cast<void>(small.get(big));
    CHECK(hot_of(small).promotions == 4);
}

TEST_CASE("readers never see a value older than cache_ttl + max_stale_while_revalidate",
          "[hot_cache][integration][concurrency]") {
    mmtest::MemcachedServer server;
    constexpr auto ttl = 150ms;
    constexpr auto swr = 150ms;
    constexpr auto margin = 250ms;  // a loaded 2-core machine, sanitizers included
    using Clock = std::chrono::steady_clock;
    const bool same_client = GENERATE(false, true);
    INFO((same_client ? "writes through the same client" : "writes through another client"));
    auto cache = hot_client(server, always(ttl, swr));
    auto writer = cache_client_from_servers({server.address()});
    CacheClient& writes = same_client ? cache : writer;
    const std::string key = mmtest::unique_key("fresh");

    // superseded[n]: when value n stopped being current (value n + 1 was written).
    constexpr std::size_t max_writes = 4096;
    std::vector<std::atomic<std::int64_t>> superseded(max_writes + 1);
    std::vector<std::atomic<std::int64_t>> written(max_writes + 1);
    for (auto& s : superseded)
        s.store(0);
    for (auto& s : written)
        s.store(0);
    const auto t0 = Clock::now();
    const auto since = [&] {
        return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    };
    REQUIRE(writes.set(key, std::to_string(0), 0));
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> served_stale{0};
    std::atomic<std::size_t> reads{0};
    std::atomic<std::int64_t> worst_us{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 8; ++t) {
        readers.emplace_back([&] {
            while (!stop.load()) {
                const auto start = since();
                const auto v = cache.get(key);
                if (!v)
                    continue;
                reads.fetch_add(1);
                const auto n = std::stoul(*v);
                const auto gone = superseded[n].load();
                if (gone == 0)
                    continue;  // still current when the read began
                if (same_client) {
                    // A write through this client drops the copy at once: a read that
                    // began after write n + 1 returned cannot see n.
                    if (written[n + 1].load() != 0 && written[n + 1].load() < start)
                        served_stale.fetch_add(1);
                    continue;
                }
                const auto age = start - gone;
                auto w = worst_us.load();
                while (age > w && !worst_us.compare_exchange_weak(w, age)) {
                }
                if (std::chrono::microseconds(age) > ttl + swr + margin)
                    served_stale.fetch_add(1);
            }
        });
    }
    std::size_t n = 0;
    while (Clock::now() - t0 < 1200ms && n + 1 < max_writes) {
        std::this_thread::sleep_for(10ms);
        superseded[n].store(since());
        REQUIRE(writes.set(key, std::to_string(n + 1), 0));
        written[n + 1].store(since());
        ++n;
    }
    stop = true;
    for (auto& th : readers)
        th.join();
    INFO("writes " << n << ", reads " << reads.load() << ", oldest value served " << worst_us.load()
                   << " us after it was superseded");
    CHECK(served_stale.load() == 0);
    CHECK(reads.load() > 100);
    CHECK(hot_of(cache).promotions > 0);
}

TEST_CASE("get_or_lease of a kept key is served from memory; a lease winner goes to the server",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always());
    const std::string key = kept_key(cache, "lease-kept", "v1");
    set_behind(server, key, "v2");

    const auto before = hot_of(cache);
    CHECK(cache.get_or_lease(key, LeasePolicy{}) == "v1");  // from memory
    CHECK(hot_of(cache).hits == before.hits + 1);
    // get_or_lease_cas is a CAS read: always the server's value and token.
    const CasValue cas = cache.get_or_lease_cas(key, LeasePolicy{});
    CHECK(cas.value == "v2");
    CHECK(cas.cas_token.has_value());
    CHECK(hot_of(cache).hits == before.hits + 1);
    // A bad policy is refused even when the key is kept.
    LeasePolicy bad;
    bad.miss_retries = 0;
    CHECK_THROWS_AS(cache.get_or_lease(key, bad), InvalidInputError);

    // A key not kept: the first reader wins the lease (nothing to serve, nothing kept), and
    // the placeholder it leaves is never kept either.
    const std::string missing = mmtest::unique_key("lease-winner");
    CHECK_FALSE(cache.get_or_lease(missing, LeasePolicy{}).has_value());
    const std::string seen = server.raw("mg " + missing + " v c\r\n");
    CHECK(seen.substr(0, 4) == "VA 0");  // the winner's placeholder, on the server
    auto after = hot_of(cache);
    CHECK(after.hits == before.hits + 1);
    CHECK(after.promotions == before.promotions);
    CHECK(after.entries == 1);
    LeasePolicy once;
    once.miss_retries = 1;
    for (int i = 0; i < 3; ++i)
        CHECK_FALSE(cache.get(missing).has_value());  // a placeholder reads as a miss
    CHECK(hot_of(cache).promotions == before.promotions);
    // The winner fills it; later readers get the value and may keep it.
    REQUIRE(cache.set(missing, "filled", 0));
    CHECK(cache.get_or_lease(missing, once) == "filled");
    promote(cache, missing);
    set_behind(server, missing, "changed");
    CHECK(cache.get_or_lease(missing, once) == "filled");
    CHECK(hot_of(cache).hits == after.hits + 1);
}

TEST_CASE("reads served from memory count as hits of the key's domain",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always());
    const Key key(mmtest::unique_key("dom"), "", "users");
    REQUIRE(cache.set(key, "v", 0));
    promote(cache, key);
    const auto domain_hits = [&](const std::string& d) {
        const auto c = cache.get_counters();
        const auto at = c.domains.find(d);
        return at == c.domains.end() ? std::uint64_t{0} : at->second.hits;
    };
    const auto users = domain_hits("users");
    const auto hits = hot_of(cache).hits;
    for (int i = 0; i < 5; ++i)
        CHECK(cache.get(key) == "v");
    CHECK(hot_of(cache).hits == hits + 5);
    CHECK(domain_hits("users") == users + 5);
    // The same key read under another domain counts there.
    const Key other(key.key(), "", "other");
    CHECK(cache.get(other) == "v");
    CHECK(cache.get(other) == "v");
    CHECK(domain_hits("other") == 2);
    CHECK(domain_hits("users") == users + 5);
    // Dropping the copy keeps what was counted.
    REQUIRE(cache.del(key));
    CHECK(hot_of(cache).entries == 0);
    CHECK(domain_hits("users") == users + 5);
    CHECK(domain_hits("other") == 2);
    CHECK_FALSE(cache.get(other).has_value());
    CHECK(cache.get_counters().domains.at("other").misses == 1);
}

TEST_CASE("many kept keys, some dropped, are each still found or read from the server",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto cache = hot_client(server, always());
    std::vector<std::string> keys;
    for (int i = 0; i < 60; ++i)  // the table grows several times
        keys.push_back(kept_key(cache, "many" + std::to_string(i), "v" + std::to_string(i)));
    REQUIRE(hot_of(cache).entries == 60);
    for (std::size_t i = 0; i < keys.size(); i += 3)
        REQUIRE(cache.del(keys[i]));  // dropped in the middle of runs of the table
    CHECK(hot_of(cache).entries == 40);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto hits = hot_of(cache).hits;
        if (i % 3 == 0) {
            CHECK_FALSE(cache.get(keys[i]).has_value());
            CHECK(hot_of(cache).hits == hits);
        } else {
            CHECK(cache.get(keys[i]) == "v" + std::to_string(i));
            CHECK(hot_of(cache).hits == hits + 1);
        }
    }
    for (std::size_t i = 0; i < keys.size(); i += 3) {
        REQUIRE(cache.set(keys[i], "again", 0));
        promote(cache, keys[i]);
    }
    CHECK(hot_of(cache).entries == 60);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto hits = hot_of(cache).hits;
        CHECK(cache.get(keys[i]) == (i % 3 == 0 ? "again" : "v" + std::to_string(i)));
        CHECK(hot_of(cache).hits == hits + 1);
    }
}

TEST_CASE("a kept key is served from memory until cache_ttl (its last part checked on the clock)",
          "[hot_cache][integration]") {
    mmtest::MemcachedServer server;
    // The tick counter vouches for 15/16 of cache_ttl (3 s here); the clock for the rest.
    auto cache = hot_client(server, always(3200ms, 0ms));
    const std::string key = kept_key(cache, "last-part", "v");
    std::this_thread::sleep_for(3050ms);
    const auto hits = hot_of(cache).hits;
    CHECK(cache.get(key) == "v");
    CHECK(hot_of(cache).hits == hits + 1);  // past the counter's part, inside cache_ttl
    std::this_thread::sleep_for(300ms);
    const auto promotions = hot_of(cache).promotions;
    CHECK(cache.get(key) == "v");
    // Past cache_ttl (no stale window): dropped, read from the server (and kept anew).
    CHECK(hot_of(cache).hits == hits + 1);
    CHECK(hot_of(cache).promotions == promotions + 1);
}
