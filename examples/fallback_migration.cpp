// fallback_migration: moving a cache from an old cluster to a new one without a cold start.
//
// FallbackRouter: services switch to the new cluster at once; a read that misses there
// reads the old cluster and copies the hit over, keeping its remaining TTL and client
// flags, so the new cluster warms up with the keys that are really read.
// MigratingCacheClient: meta-memcache-py's step-by-step rollout (write to both, then read
// from the new one, then drop the old one) on a schedule configured once.
//
// Needs two servers: the first plays the old cluster, the second the new one.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

namespace {

/// The remaining TTL and client flag of `key` in one cluster, looked at directly.
struct Entry {
    bool present = false;
    std::int64_t ttl = 0;  ///< -1: never expires
    std::uint32_t client_flag = 0;
};

Entry look(mm::CacheClient& cluster, const std::string& key) {
    const mm::ReadResponse r =
        cluster.meta_get(key, {.return_client_flag = true, .return_ttl = true});
    const auto* hit = std::get_if<mm::Success>(&r);  // HD: there, no value asked for
    if (hit == nullptr)
        return {};
    return {true, hit->flags.ttl.value_or(0), hit->flags.client_flag.value_or(0)};
}

}  // namespace

int main() try {
    const auto servers = example::servers_from_env(2);
    auto old_ring = std::make_shared<mm::ShardedRouter>(std::vector{servers[0]});
    auto new_ring = std::make_shared<mm::ShardedRouter>(std::vector{servers[1]});
    mm::CacheClient old_cluster(old_ring);  // to look at each cluster directly
    mm::CacheClient new_cluster(new_ring);

    std::printf("1. the old cluster is warm; the new one is empty\n");
    const std::string profile = example::unique_key("profile:7");
    const std::string hits = example::unique_key("hits:7");
    old_cluster.set(profile, mm::Text{"Ada Lovelace"}, 600);  // Python str, 10 minutes
    old_cluster.set(hits, 1815, 0);                           // an integer, never expires

    std::printf("2. services switch to FallbackRouter(new, old)\n");
    mm::CacheClient cache(std::make_shared<mm::FallbackRouter>(new_ring, old_ring));
    const std::optional<mm::Text> name = cache.get_typed<mm::Text>(profile);
    example::expect(name && name->value == "Ada Lovelace",
                    "a read misses in the new cluster and is served by the old one");
    example::expect(cache.get_typed<int>(hits) == 1815, "so is the integer");

    const Entry copied = look(new_cluster, profile);
    std::printf("  new cluster now: %s, ttl %lld s, client flag %u\n",
                copied.present ? "present" : "absent", static_cast<long long>(copied.ttl),
                copied.client_flag);
    example::expect(copied.present && copied.ttl > 590 && copied.ttl <= 600,
                    "the hit was copied into the new cluster with its remaining TTL");
    example::expect(copied.client_flag == mm::value_flag::str, "... and its client flag (str)");
    const Entry forever = look(new_cluster, hits);
    example::expect(
        forever.present && forever.ttl == -1 && forever.client_flag == mm::value_flag::integer,
        "a value that never expires still never expires");

    cache.set(profile, mm::Text{"Augusta Ada King"}, 600);
    example::expect(
        new_cluster.get_typed<mm::Text>(profile).value_or(mm::Text{}).value == "Augusta Ada King",
        "a write goes to the new cluster");
    example::expect(!look(old_cluster, profile).present,
                    "and deletes the key in the old one, so it cannot come back stale");
    example::expect(!cache.get(example::unique_key("never-cached")), "a key in neither is a miss");
    for (const auto& s : cache.get_counters().servers) {
        std::printf("  %-4s %s: %llu connection(s)\n", s.role.c_str(), s.server.c_str(),
                    static_cast<unsigned long long>(s.counters.total_created));
    }

    std::printf("3. MigratingCacheClient: the whole rollout on one schedule\n");
    // A fake clock stands in for the hours between the steps.
    const auto t0 = std::chrono::system_clock::now();
    auto now = t0;
    mm::MigrationOptions clock;
    clock.clock = [&now] { return now; };
    mm::MigratingCacheClient migrating(
        old_ring, new_ring,
        mm::MigrationSchedule{{{mm::MigrationMode::populate_writes, t0},
                               {mm::MigrationMode::use_destination_update_origin, t0 + 1h},
                               {mm::MigrationMode::only_destination, t0 + 24h}}},
        {}, clock);

    const std::string cart = example::unique_key("cart:7");
    migrating.set(cart, "3 items", 300);
    example::expect(old_cluster.get(cart) && new_cluster.get(cart),
                    "populate_writes: a write reaches both clusters");
    old_cluster.set(cart, "only in the old cluster", 300);
    example::expect(migrating.get(cart) == std::optional<std::string>("only in the old cluster"),
                    "populate_writes: reads still come from the old cluster");

    now = t0 + 2h;
    example::expect(migrating.current_mode() == mm::MigrationMode::use_destination_update_origin,
                    "two hours later: use_destination_update_origin");
    example::expect(migrating.get(cart) == std::optional<std::string>("3 items"),
                    "reads now come from the new cluster");

    now = t0 + 25h;
    migrating.set(cart, "4 items", 300);
    example::expect(
        new_cluster.get(cart) == std::optional<std::string>("4 items") &&
            old_cluster.get(cart) == std::optional<std::string>("only in the old cluster"),
        "only_destination: the old cluster is no longer written");

    for (const std::string& k : {profile, hits, cart}) {
        old_cluster.del(k);
        new_cluster.del(k);
    }
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "fallback_migration: %s\n", e.what());
    return 2;
}
