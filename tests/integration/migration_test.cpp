// MigratingCacheClient: the six modes of moving a cache to a new fleet, on a schedule.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

struct Fleets {
    mmtest::MemcachedServer origin;
    mmtest::MemcachedServer destination;
    double coin = 0.5;  // what the sampling sees
    Clock::time_point now = Clock::now();

    MigratingCacheClient client(MigrationSchedule schedule) {
        MigrationOptions o;
        o.clock = [this] { return now; };
        o.random = [this] { return coin; };
        return MigratingCacheClient(
            std::make_shared<ShardedRouter>(std::vector{origin.address()}),
            std::make_shared<ShardedRouter>(std::vector{destination.address()}),
            std::move(schedule), {}, o);
    }
    MigratingCacheClient client(MigrationMode mode) {
        return client(MigrationSchedule::fixed(mode));
    }
};

}  // namespace

TEST_CASE("the active mode is the latest one whose start has passed", "[router][migration]") {
    const auto t0 = Clock::now();
    MigrationSchedule s{{{MigrationMode::populate_writes, t0 + 10s},
                         {MigrationMode::use_destination_update_origin, t0 + 30s},
                         {MigrationMode::populate_writes_and_reads_10pct, t0 + 20s}}};
    CHECK(s.mode_at(t0) == MigrationMode::only_origin);
    CHECK(s.mode_at(t0 + 10s) == MigrationMode::populate_writes);
    CHECK(s.mode_at(t0 + 25s) == MigrationMode::populate_writes_and_reads_10pct);
    CHECK(s.mode_at(t0 + 1h) == MigrationMode::use_destination_update_origin);
}

TEST_CASE("the client follows its schedule as time passes", "[router][migration][integration]") {
    Fleets f;
    const auto t0 = f.now;
    auto c = f.client(MigrationSchedule{
        {{MigrationMode::populate_writes, t0 + 10s}, {MigrationMode::only_destination, t0 + 20s}}});
    const auto k = mmtest::unique_key("sched");
    CHECK(c.current_mode() == MigrationMode::only_origin);
    REQUIRE(c.set(k, "1", 60));
    CHECK(f.origin.raw_get(k) == "1");
    CHECK_FALSE(f.destination.raw_get(k));
    f.now = t0 + 15s;
    CHECK(c.current_mode() == MigrationMode::populate_writes);
    REQUIRE(c.set(k, "2", 60));
    CHECK(f.origin.raw_get(k) == "2");
    CHECK(f.destination.raw_get(k) == "2");
    f.now = t0 + 25s;
    REQUIRE(c.set(k, "3", 60));
    CHECK(f.origin.raw_get(k) == "2");
    CHECK(f.destination.raw_get(k) == "3");
}

TEST_CASE("each mode routes reads, writes, deletes, touches and counters",
          "[router][migration][integration]") {
    struct Expect {
        MigrationMode mode;
        bool write_origin, write_dest, read_dest;
    };
    const Expect table[] = {
        {MigrationMode::only_origin, true, false, false},
        {MigrationMode::populate_writes, true, true, false},
        {MigrationMode::populate_writes_and_reads_1pct, true, true, false},
        {MigrationMode::populate_writes_and_reads_10pct, true, true, false},
        {MigrationMode::use_destination_update_origin, true, true, true},
        {MigrationMode::only_destination, false, true, true},
    };
    for (const Expect& e : table) {
        DYNAMIC_SECTION("mode " << static_cast<int>(e.mode)) {
            Fleets f;
            auto c = f.client(e.mode);
            const auto k = mmtest::unique_key("route");
            REQUIRE(c.set(k, "w", 60));
            CHECK(f.origin.raw_get(k).has_value() == e.write_origin);
            CHECK(f.destination.raw_get(k).has_value() == e.write_dest);
            // Reads come from one side only: make the sides differ to tell.
            REQUIRE(f.origin.raw("ms " + k + " 1 T60\r\no\r\n") == "HD\r\n");
            REQUIRE(f.destination.raw("ms " + k + " 1 T60\r\nd\r\n") == "HD\r\n");
            CHECK(c.get(k) == (e.read_dest ? "d" : "o"));
            // Touch is a write: both sides in the dual modes.
            CHECK(c.touch(k, 500));
            const auto ttl = [&](const mmtest::MemcachedServer& s) {
                const std::string r = s.raw("mg " + k + " t\r\n");
                return std::stol(r.substr(r.find(" t") + 2));
            };
            CHECK((ttl(f.origin) > 400) == e.write_origin);
            CHECK((ttl(f.destination) > 400) == e.write_dest);
            // Counters live on the primary side only.
            const auto n = mmtest::unique_key("n");
            REQUIRE(c.delta_initialize(n, 1, 5, 60));
            CHECK(f.origin.raw_get(n).has_value() == !e.read_dest);
            CHECK(f.destination.raw_get(n).has_value() == e.read_dest);
            // Deletes go where writes go.
            CHECK(c.del(k));
            CHECK(f.origin.raw_get(k).has_value() == !e.write_origin);
            CHECK(f.destination.raw_get(k).has_value() == !e.write_dest);
        }
    }
}

TEST_CASE("sampled read calls copy their hits with the remaining TTL",
          "[router][migration][integration]") {
    Fleets f;
    auto c = f.client(MigrationMode::populate_writes_and_reads_10pct);
    const auto k = mmtest::unique_key("backfill");
    const auto forever = mmtest::unique_key("forever");
    REQUIRE(f.origin.raw("ms " + k + " 1 T100 F16\r\nv\r\n") == "HD\r\n");
    REQUIRE(f.origin.raw("ms " + forever + " 1 T0\r\nv\r\n") == "HD\r\n");
    f.coin = 0.5;  // not sampled
    CHECK(c.get(k) == "v");
    CHECK_FALSE(f.destination.raw_get(k));
    f.coin = 0.05;  // sampled (< 10 %)
    const auto got = c.multi_get({KeyView(k), KeyView(forever)});
    CHECK(got[0] == "v");
    // The copy is a quiet write on another connection: give the server a moment.
    const std::string copied = f.destination.raw_until(
        "mg " + k + " t f v\r\n", [](const std::string& a) { return a.rfind("VA", 0) == 0; });
    REQUIRE(copied.rfind("VA 1", 0) == 0);
    CHECK(copied.find(" f16") != std::string::npos);
    const long t = std::stol(copied.substr(copied.find(" t") + 2));
    CHECK(std::abs(t - 100) <= 1);
    CHECK(f.destination.raw_until("mg " + forever + " t\r\n", [](const std::string& a) {
        return a.rfind("HD", 0) == 0;
    }) == "HD t-1\r\n");
    // A lease placeholder on the origin is never copied.
    const auto lease = mmtest::unique_key("lease");
    auto origin_only = cache_client_from_servers({f.origin.address()});
    REQUIRE(origin_only.get_or_lease_cas(lease).won);
    c.get(lease);
    CHECK_FALSE(f.destination.raw_get(lease));
}

TEST_CASE("no CAS crosses fleets: a conditional write invalidates the other side",
          "[router][migration][integration]") {
    Fleets f;
    auto c = f.client(MigrationMode::populate_writes);
    const auto k = mmtest::unique_key("cas");
    REQUIRE(c.set(k, "v1", 60));
    const auto cas = c.get_cas(k).cas_token;  // the origin's token
    REQUIRE(cas);
    CHECK(c.set(k, "v2", 60, {.cas_token = *cas}));
    CHECK(f.origin.raw_get(k) == "v2");
    CHECK_FALSE(f.destination.raw_get(k));  // invalidated, not written with a foreign CAS
    // A failed conditional write changes nothing anywhere.
    REQUIRE(c.set(k, "v3", 60));
    CHECK_FALSE(c.set(k, "v4", 60, {.cas_token = *cas}));
    CHECK(f.origin.raw_get(k) == "v3");
    CHECK(f.destination.raw_get(k) == "v3");
}
