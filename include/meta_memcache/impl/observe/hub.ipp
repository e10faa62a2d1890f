#pragma once

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/observe/hub.hpp>

#include <algorithm>

namespace meta_memcache::detail {

META_MEMCACHE_DECL void ObserverHub::record(Shard& shard, const RequestEvent& event) {
    const std::lock_guard lk(shard.mu);
    for (auto& [name, h] : shard.by_server) {
        if (name == event.server) {
            h.record(event.duration);
            return;
        }
    }
    shard.by_server.emplace_back(std::string(event.server), LatencyHistogram{});
    shard.by_server.back().second.record(event.duration);
}

META_MEMCACHE_DECL void ObserverHub::on_request_end(const RequestEvent& event) {
    // A call failed fast (marked down, no connection) took no time worth a bucket.
    if ((!event.error || event.duration.count() > 0)) {
        Shard* mine = shards_.mine();
        record(mine != nullptr ? *mine : shared_, event);
    }
    if (user_)
        user_->on_request_end(event);
}

META_MEMCACHE_DECL void ObserverHub::fill(std::vector<ServerCounters>& servers) const {
    Named all;
    const auto add = [&all](Shard& shard) {
        const std::lock_guard lk(shard.mu);
        for (const auto& [name, h] : shard.by_server) {
            auto it = std::find_if(all.begin(), all.end(),
                                   [&name = name](const auto& p) { return p.first == name; });
            if (it == all.end()) {
                all.emplace_back(name, h);
            } else {
                it->second.merge(h);
            }
        }
    };
    shards_.for_each(add);
    add(shared_);
    for (ServerCounters& s : servers) {
        for (const auto& [name, h] : all) {
            if (name == s.server)
                s.latency = h;
        }
    }
}

}  // namespace meta_memcache::detail
