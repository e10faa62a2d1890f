// gutter: a primary server dies; a small gutter pool takes its traffic with capped TTLs.
//
// Without a gutter, every key of a dead server is a miss that goes to the database until
// the server is replaced. With GutterRouter, the requests of a primary that is down (or
// fails on the wire) go to the gutter instead, where every TTL is capped (60 s here), so
// values recomputed during the outage are cached briefly and never outlive the cap.
// The primary's failed writes are reported to on_write_failure, to invalidate them there
// once it is back.
//
// Needs three servers: mc-1 and mc-2 are the primaries, the third the gutter. The example
// kills mc-2 (by the pid run_example.sh exports).

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

namespace {

/// The remaining TTL of `key` in `cluster`, or nothing when it is not there.
std::optional<std::int64_t> ttl_in(mm::CacheClient& cluster, const std::string& key) {
    const mm::ReadResponse r = cluster.meta_get(key, {.return_ttl = true});
    const auto* hit = std::get_if<mm::Success>(&r);
    return hit != nullptr ? hit->flags.ttl : std::nullopt;
}

/// A key the ring places on server `name`.
std::string key_on(const mm::ShardedRouter& ring, const std::string& name) {
    for (int i = 0;; ++i) {
        std::string key = example::unique_key("user:" + std::to_string(i));
        if (ring.pool_for(key)->name() == name)
            return key;
    }
}

}  // namespace

int main() try {
    const auto servers = example::servers_from_env(3);
    mm::ServerAddress mc1 = servers[0], mc2 = servers[1], gutter_server = servers[2];
    mc1.alias = "mc-1";
    mc2.alias = "mc-2";
    gutter_server.alias = "gutter-1";

    mm::PoolOptions options;
    options.connection_timeout = 200ms;  // how long a dead server can hold a request up
    options.recv_timeout = 200ms;
    options.mark_down_period = 5s;  // then calls to it fail fast, straight to the gutter
    auto primary = std::make_shared<mm::ShardedRouter>(std::vector{mc1, mc2}, options);
    auto gutter = std::make_shared<mm::ShardedRouter>(std::vector{gutter_server}, options);
    mm::CacheClient cache(std::make_shared<mm::GutterRouter>(primary, gutter, 60));
    mm::CacheClient gutter_only(gutter);  // to look at the gutter directly

    std::mutex failed_mutex;
    std::vector<std::string> failed_writes;
    cache.on_write_failure().subscribe([&](const mm::Key& key) {
        std::lock_guard lock(failed_mutex);
        failed_writes.push_back(key.key());
    });

    std::printf("1. both primaries up\n");
    const std::string on_mc1 = key_on(*primary, "mc-1");
    const std::string on_mc2 = key_on(*primary, "mc-2");
    cache.set(on_mc1, "profile A", 3600);
    cache.set(on_mc2, "profile B", 3600);
    example::expect(cache.get(on_mc2) == std::optional<std::string>("profile B"),
                    "a key of mc-2 is served by mc-2");

    std::printf("2. mc-2 dies\n");
    example::kill_server(1);
    const auto t0 = std::chrono::steady_clock::now();
    const std::optional<std::string> during = cache.get(on_mc2);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    std::printf("  get of mc-2's key: %s in %lld ms\n", during ? during->c_str() : "miss",
                static_cast<long long>(took.count()));
    example::expect(!during, "its keys miss (in the gutter) instead of throwing");

    // The application recomputes and stores as usual: the value lands in the gutter.
    cache.set(on_mc2, "profile B (recomputed)", 3600);
    const std::optional<std::int64_t> capped = ttl_in(gutter_only, on_mc2);
    std::printf("  stored in the gutter with ttl %lld s (asked for 3600)\n",
                static_cast<long long>(capped.value_or(-2)));
    example::expect(capped && *capped > 0 && *capped <= 60, "the gutter capped its TTL at 60 s");
    example::expect(cache.get(on_mc2) == std::optional<std::string>("profile B (recomputed)"),
                    "reads of mc-2's keys are now served by the gutter");
    example::expect(cache.get(on_mc1) == std::optional<std::string>("profile A"),
                    "mc-1's keys are untouched");
    {
        std::lock_guard lock(failed_mutex);
        example::expect(failed_writes == std::vector<std::string>{on_mc2},
                        "the write mc-2 missed was reported to on_write_failure");
    }

    for (const auto& s : cache.get_counters().servers) {
        std::printf("  %-7s %-8s marked down: %-3s fast failures: %llu, errors: %llu\n",
                    s.role.c_str(), s.server.c_str(), s.counters.marked_down ? "yes" : "no",
                    static_cast<unsigned long long>(s.counters.fast_failures),
                    static_cast<unsigned long long>(s.counters.total_errors));
    }
    const auto counters = cache.get_counters().servers;
    bool mc2_down = false;
    for (const auto& s : counters)
        mc2_down = mc2_down || (s.server == "mc-2" && s.counters.marked_down);
    example::expect(mc2_down, "mc-2 is marked down: later calls skip it without waiting");

    cache.del(on_mc1);
    gutter_only.del(on_mc2);
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "gutter: %s\n", e.what());
    return 2;
}
