// mirror: a hot standby. Every write goes to every replica in one round trip; reads go to
// the first replica and fall through to the next when it misses or is down.
//
// Needs three servers, one replica each; the example kills the first replica and shows
// that reads and writes go on, then that a replica that missed a key is repaired on read.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

int main() try {
    const auto servers = example::servers_from_env(3);
    mm::PoolOptions options;
    options.connection_timeout = 200ms;
    options.recv_timeout = 200ms;
    std::vector<std::shared_ptr<mm::Router>> replicas;
    std::vector<mm::CacheClient> direct;  // to look at each replica on its own
    for (const auto& s : servers) {
        replicas.push_back(std::make_shared<mm::ShardedRouter>(std::vector{s}, options));
        direct.push_back(mm::cache_client_from_servers({s}, options));
    }
    mm::CacheClient cache(std::make_shared<mm::MirrorRouter>(
        replicas, mm::MirrorOptions{.write_policy = mm::MirrorPolicy::majority}));

    const std::string key = example::unique_key("config:feature-flags");
    example::expect(cache.set(key, "v1", 600), "a write with the majority policy");
    bool everywhere = true;
    for (auto& d : direct)
        everywhere = everywhere && d.get(key) == "v1";
    example::expect(everywhere, "landed on all three replicas");

    // A replica that lost a key (evicted, restarted) is repaired when it is read.
    direct[0].del(key);
    example::expect(cache.get(key) == "v1", "replica 0 misses: the read falls through to 1");
    bool repaired = false;
    for (int i = 0; i < 100 && !repaired; ++i) {  // the repair is a quiet write
        repaired = direct[0].get(key) == "v1";
        if (!repaired)
            std::this_thread::sleep_for(10ms);
    }
    example::expect(repaired, "and the value is copied back into replica 0");

    example::kill_server(0);
    std::printf("replica 0 killed\n");
    example::expect(cache.set(key, "v2", 600), "writes still succeed: 2 of 3 is a majority");
    example::expect(cache.get(key) == "v2", "reads are served by the next replica");
    return example::exit_code();
} catch (const std::exception& e) {
    std::fprintf(stderr, "mirror: %s\n", e.what());
    return 2;
}
