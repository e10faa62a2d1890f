#pragma once

// The parts of a CacheClient that ClientOptions turn on: the hot cache in front of the
// router, and the observer (with the per-server latency histograms) every call reports to.

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/client_state.hpp>

namespace meta_memcache {

META_MEMCACHE_DECL void CacheClient::State::set_up_extras() {
    own_router = router;
    if (options.observer || options.latency_histograms)
        hub = std::make_unique<detail::ObserverHub>(options.observer);
    if (options.hot_cache) {
        hot = std::make_shared<detail::HotCacheRouter>(router, *options.hot_cache, hub.get());
        router = hot;
    }
}

META_MEMCACHE_DECL bool CacheClient::State::serve_hot(const KeyView& key,
                                                      const GetOptions& get,
                                                      std::optional<std::string>& out) {
    // Before any request is built or a router entered: a hit costs the lookup, the copy
    // into `out` and the domain's hit count.
    std::uint32_t flag = 0;
    if (get.touch_ttl || !hot->serve(key, out, flag))
        return false;  // (a hit is counted for its domain by the hot cache)
    if ((flag & value_flag::compression_mask) != 0) [[unlikely]]
        out = bytes(detail::RawRead{std::move(out), flag, {}, false});
    return true;
}

META_MEMCACHE_DECL void CacheClient::State::add_extra_counters(ClientCounters& out) const {
    if (hub)
        hub->fill(out.servers);
    if (hot) {
        out.hot_cache = hot->counters();
        hot->for_each_domain_hit([&](std::string_view domain, std::uint64_t n) {
            out.domains[std::string(domain)].hits += n;
        });
    }
}

}  // namespace meta_memcache
