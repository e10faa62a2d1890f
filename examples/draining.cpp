// draining: taking one server out of a ring without a burst of misses.
//
// DrainingRouter routes on a copy of the ring without the server (the ring itself, and its
// other clients, are left alone) and a live client switches to it with set_router; a read
// that misses at a key's new server reads the drained one and copies the value over. A KeyMover
// copies the keys nobody reads, at a bounded rate. Watch the mover's share moved and the drain's
// counters; then call finish() and stop the server.
//
// Needs three servers, named mc-1, mc-2 and mc-3 here; mc-3 is drained.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm = meta_memcache;

namespace {

void print_drain(const mm::DrainCounters& c) {
    std::printf("  drain counters: reads %llu, pulled %llu, misses %llu, deletes %llu\n",
                static_cast<unsigned long long>(c.reads), static_cast<unsigned long long>(c.pulled),
                static_cast<unsigned long long>(c.misses),
                static_cast<unsigned long long>(c.deletes));
}

std::size_t hits(const std::vector<std::optional<std::string>>& values) {
    std::size_t n = 0;
    for (const auto& v : values)
        if (v)
            ++n;
    return n;
}

}  // namespace

int main() try {
    auto servers = example::servers_from_env(3);
    servers.resize(3);
    for (std::size_t i = 0; i < 3; ++i)
        servers[i].alias = "mc-" + std::to_string(i + 1);
    auto ring = std::make_shared<mm::ShardedRouter>(servers);
    mm::CacheClient cache(ring);

    std::printf("1. 300 keys spread over three servers\n");
    std::vector<std::string> keys;
    std::map<std::string, int> owners;
    std::string first_of_mc3;
    for (int i = 0; i < 300; ++i) {
        keys.push_back(example::unique_key("drain:" + std::to_string(i)));
        cache.set(keys.back(), "value " + std::to_string(i), 600);
        const std::string owner = ring->pool_for(keys.back())->name();
        ++owners[owner];
        if (owner == "mc-3" && first_of_mc3.empty())
            first_of_mc3 = keys.back();
    }
    for (const auto& [name, n] : owners)
        std::printf("  %s holds %d keys\n", name.c_str(), n);
    const auto on_mc3 = static_cast<std::uint64_t>(owners["mc-3"]);
    // And keys on mc-3 that nobody will read during the drain.
    std::vector<std::string> cold;
    for (int i = 0; cold.size() < 20; ++i) {
        std::string k = example::unique_key("cold:" + std::to_string(i));
        if (ring->pool_for(k)->name() == "mc-3") {
            cache.set(k, "cold value", 600);
            cold.push_back(std::move(k));
        }
    }
    std::printf("  and mc-3 holds %zu keys nobody reads\n", cold.size());

    std::printf("2. drain mc-3: serve traffic through a DrainingRouter\n");
    auto drain = std::make_shared<mm::DrainingRouter>(ring, "mc-3");
    mm::CacheClient draining(ring);
    draining.set_router(drain);  // a live client switches over, other calls running or not
    std::vector<mm::KeyView> views(keys.begin(), keys.end());
    example::expect(drain->ring()->servers().size() == 2 && ring->servers().size() == 3,
                    "mc-3 left the drain's ring at once; the ring given is unchanged");
    example::expect(hits(draining.multi_get(views)) == keys.size(),
                    "every key is still readable, mc-3's included");
    print_drain(drain->counters());
    example::expect(drain->counters().reads == on_mc3 && drain->counters().pulled == on_mc3,
                    "only mc-3's keys were read from mc-3, and each was copied to its new server");

    example::expect(hits(draining.multi_get(views)) == keys.size(), "read again: all hits");
    example::expect(drain->counters().reads == on_mc3,
                    "and mc-3 was not read again: `reads` stopped growing");

    // A delete must reach the drained server too, or the old value could be pulled back.
    draining.del(first_of_mc3);
    example::expect(drain->counters().deletes == 1, "a delete of one of mc-3's keys reached mc-3");
    example::expect(!draining.get(first_of_mc3), "and the key stays deleted");
    for (const auto& s : draining.get_counters().servers) {
        std::printf("  %-8s %s: %llu connection(s), %llu error(s)\n", s.role.c_str(),
                    s.server.c_str(), static_cast<unsigned long long>(s.counters.total_created),
                    static_cast<unsigned long long>(s.counters.total_errors));
    }

    std::printf("3. copy the keys nobody read with a KeyMover (at most 1000 keys/s)\n");
    mm::KeyMover mover(drain->ring(), {.keys_per_second = 1000});
    mover.move_drained(*drain);
    const mm::KeyMoverCounters moved = mover.counters();
    std::printf(
        "  mover: listed %llu, copied %llu, present %llu, skipped %llu, failed %llu; "
        "%.0f%% moved\n",
        static_cast<unsigned long long>(moved.listed),
        static_cast<unsigned long long>(moved.copied),
        static_cast<unsigned long long>(moved.present),
        static_cast<unsigned long long>(moved.skipped()),
        static_cast<unsigned long long>(moved.failed), 100 * moved.share_moved());
    example::expect(
        moved.copied >= cold.size() && moved.present >= on_mc3 - 1,
        "the unread keys were copied; the keys reads had pulled were left as they were");
    example::expect(moved.share_moved() == 1.0, "every key of mc-3 is at its new owner");

    std::printf("4. finish: mc-3's connections close; it can be stopped\n");
    drain->finish();
    example::expect(drain->finished() && draining.get_counters().servers.size() == 2,
                    "the drained server is gone from the counters");
    cache.set_router(drain->ring());  // the ring without mc-3, for good
    example::expect(hits(cache.multi_get(views)) == keys.size() - 1,
                    "the ring without mc-3 alone serves every key that was not deleted");
    const std::vector<mm::KeyView> cold_views(cold.begin(), cold.end());
    example::expect(hits(cache.multi_get(cold_views)) == cold.size(),
                    "and every key nobody read during the drain");

    for (const auto& k : keys)
        cache.del(k);
    for (const auto& k : cold)
        cache.del(k);
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "draining: %s\n", e.what());
    return 2;
}
