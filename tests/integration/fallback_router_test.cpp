// FallbackRouter: warming a new cluster from an old one without a cold cache.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <cstdint>
#include <ctime>
#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

struct Migration {
    mmtest::MemcachedServer old_server;
    mmtest::MemcachedServer new_server;
    CacheClient old_cache = cache_client_from_servers({old_server.address()});
    CacheClient cache{std::make_shared<FallbackRouter>(
        std::make_shared<ShardedRouter>(std::vector{new_server.address()},
                                        PoolOptions{.recv_timeout = 300ms}),
        std::make_shared<ShardedRouter>(std::vector{old_server.address()},
                                        PoolOptions{.recv_timeout = 300ms}))};
};

/// A raw mg on the server, once the warm-up copy (a quiet write on another connection)
/// has landed.
std::string raw_mg(const mmtest::MemcachedServer& s,
                   const std::string& key,
                   const std::string& flags) {
    return s.raw_until("mg " + key + " " + flags + "\r\n",
                       [](const std::string& a) { return a.rfind("EN", 0) != 0; });
}

long field(const std::string& line, char flag) {
    const auto at = line.find(std::string(" ") + flag);
    REQUIRE(at != std::string::npos);
    return std::stol(line.substr(at + 2));
}

}  // namespace

TEST_CASE(
    "a read that misses in the new cluster is served from the old one and copied with "
    "its TTL and flags",
    "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("warm");
    REQUIRE(std::holds_alternative<Success>(
        m.old_cache.meta_set(k, "old-value", 100, RequestFlags{.client_flag = 16})));
    CHECK(m.cache.get(k) == "old-value");
    const std::string copied = raw_mg(m.new_server, k, "v t f");
    INFO("raw answer: " << copied);
    REQUIRE(copied.rfind("VA 9", 0) == 0);
    CHECK(field(copied, 'f') == 16);
    CHECK(std::abs(field(copied, 't') - 100) <= 1);
    // A never-expiring value stays never-expiring.
    const auto forever = mmtest::unique_key("forever");
    REQUIRE(m.old_cache.set(forever, "x", 0));
    CHECK(m.cache.get(forever) == "x");
    CHECK(field(raw_mg(m.new_server, forever, "t"), 't') == -1);
}

TEST_CASE("a copied value with more than 30 days left keeps its TTL (not read as a Unix time)",
          "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("long-lived");
    // 40 days from now, as an absolute time (memcached reads T over 30 days as one).
    const std::int64_t forty_days = 40LL * 24 * 3600;
    const std::int64_t at = static_cast<std::int64_t>(std::time(nullptr)) + forty_days;
    REQUIRE(m.old_cache.set(k, "kept", at));
    CHECK(field(raw_mg(m.old_server, k, "t"), 't') > 30L * 24 * 3600);
    CHECK(m.cache.get(k) == "kept");
    // A T of 40 days' seconds would have been a time in 1970: expired at once.
    const std::string copied = raw_mg(m.new_server, k, "v t");
    INFO("raw answer: " << copied);
    REQUIRE(copied.rfind("VA 4", 0) == 0);
    CHECK(std::abs(field(copied, 't') - forty_days) <= 2);
}

TEST_CASE("writes go to the new cluster and remove the old copy",
          "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("write");
    REQUIRE(m.old_cache.set(k, "outdated", 100));
    CHECK(m.cache.set(k, "fresh", 100));
    CHECK(m.new_server.raw_get(k) == "fresh");
    CHECK_FALSE(m.old_server.raw_get(k));  // cannot come back stale later
    // Even after the new cluster loses the key, the old value does not resurface.
    REQUIRE(m.new_server.raw("md " + k + "\r\n") == "HD\r\n");
    CHECK_FALSE(m.cache.get(k));
}

TEST_CASE("deletes and invalidations go to both clusters", "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("del");
    REQUIRE(m.old_cache.set(k, "v", 100));
    REQUIRE(m.new_server.raw("ms " + k + " 1 T100\r\nv\r\n") == "HD\r\n");
    CHECK(m.cache.del(k));
    CHECK_FALSE(m.old_server.raw_get(k));
    CHECK_FALSE(m.new_server.raw_get(k));
    const auto k2 = mmtest::unique_key("inv");
    REQUIRE(m.old_cache.set(k2, "v", 100));
    CHECK(m.cache.invalidate(k2));
    CHECK_FALSE(m.old_server.raw_get(k2));
    CHECK_FALSE(m.cache.get(k2));
}

TEST_CASE("lease placeholders and stale values in the old cluster are never copied",
          "[router][fallback][integration]") {
    Migration m;
    const auto lease = mmtest::unique_key("placeholder");
    REQUIRE(m.old_cache.get_or_lease_cas(lease).won);  // an old client holds a lease
    CHECK_FALSE(m.cache.get(lease));
    CHECK_FALSE(m.new_server.raw_get(lease));
    const auto stale = mmtest::unique_key("stale");
    REQUIRE(m.old_cache.set(stale, "old", 100));
    REQUIRE(
        m.old_cache.del(stale, {.stale_policy = StalePolicy{.mark_stale_on_deletion_ttl = 30}}));
    CHECK_FALSE(m.cache.get(stale));
    CHECK_FALSE(m.new_server.raw_get(stale));
}

TEST_CASE("no CAS token crosses clusters", "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("cas");
    REQUIRE(m.old_cache.set(k, "v", 100));
    const CasValue got = m.cache.get_cas(k);
    CHECK(got.value == "v");
    CHECK_FALSE(got.cas_token);
    // Once copied, the new cluster answers with its own token.
    const CasValue again = m.cache.get_cas(k);
    CHECK(again.value == "v");
    CHECK(again.cas_token);
}

TEST_CASE("a lease is taken in the new cluster only when neither cluster has the value",
          "[router][fallback][integration]") {
    Migration m;
    const auto hit = mmtest::unique_key("lease-hit");
    REQUIRE(m.old_cache.set(hit, "from-old", 100));
    const CasValue a = m.cache.get_or_lease_cas(hit);
    CHECK_FALSE(a.won);
    CHECK(a.value == "from-old");
    const auto miss = mmtest::unique_key("lease-miss");
    const CasValue b = m.cache.get_or_lease_cas(miss);
    CHECK(b.won);
    REQUIRE(b.cas_token);
    CHECK(m.cache.set(miss, "computed", 100, {.cas_token = *b.cas_token}));
    CHECK(m.new_server.raw_get(miss) == "computed");
    CHECK_FALSE(m.old_server.raw_get(miss));
}

TEST_CASE("with the old cluster down, reads and writes on the new cluster go on",
          "[router][fallback][integration]") {
    Migration m;
    const auto k = mmtest::unique_key("old-down");
    std::vector<std::string> failed;
    m.cache.on_write_failure().subscribe([&](const Key& key) { failed.push_back(key.key()); });
    m.old_server.stop();
    CHECK_FALSE(m.cache.get(k));  // the old cluster's failure is just a miss
    CHECK(m.cache.set(k, "v", 60));
    CHECK(m.cache.get(k) == "v");
    CHECK(m.cache.del(k));
    // The deletes that could not reach the old cluster are reported for a later retry.
    CHECK(std::count(failed.begin(), failed.end(), k) == 2);
}
