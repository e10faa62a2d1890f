#pragma once

// The parts of a CacheClient that ClientOptions turn on: the hot cache in front of the
// router, and the observer (with the per-server latency histograms) every call reports to;
// switching the router a live client sends through.

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/client_state.hpp>

namespace meta_memcache {

META_MEMCACHE_DECL void CacheClient::State::set_up_extras() {
    if (options.observer || options.latency_histograms)
        hub = std::make_unique<detail::ObserverHub>(options.observer);
}

META_MEMCACHE_DECL void CacheClient::State::switch_to(std::shared_ptr<Router> router) {
    std::lock_guard lk(switch_mutex);
    Router* front = router.get();
    std::shared_ptr<detail::HotCacheRouter> hot;
    if (options.hot_cache) {
        // A new, empty hot cache: none of the old placement's values is served from it.
        hot = std::make_shared<detail::HotCacheRouter>(router, *options.hot_cache, hub.get());
        front = hot.get();
    }
    kept.reserve(kept.size() + 2);
    kept.push_back(std::move(router));
    own_.store(kept.back().get(), std::memory_order_release);
    if (hot) {
        hot_.store(hot.get(), std::memory_order_release);
        kept.push_back(std::move(hot));
    }
    front_.store(front, std::memory_order_release);
}

META_MEMCACHE_DECL bool CacheClient::State::serve_hot(detail::HotCacheRouter& hot,
                                                      const KeyView& key,
                                                      const GetOptions& get,
                                                      std::optional<std::string>& out) {
    // Before any request is built or a router entered: a hit costs the lookup, the copy
    // into `out` and the domain's hit count.
    std::uint32_t flag = 0;
    if (get.touch_ttl || !hot.serve(key, out, flag))
        return false;  // (a hit is counted for its domain by the hot cache)
    if ((flag & value_flag::compression_mask) != 0) [[unlikely]]
        out = std::move(serializer->try_decode_bytes(*out, flag).value);
    return true;
}

META_MEMCACHE_DECL void CacheClient::State::add_extra_counters(ClientCounters& out) const {
    if (hub)
        hub->fill(out.servers);
    if (const detail::HotCacheRouter* hot = hot_.load(std::memory_order_acquire)) {
        out.hot_cache = hot->counters();
        hot->for_each_domain_hit([&](std::string_view domain, std::uint64_t n) {
            out.domains[std::string(domain)].hits += n;
        });
    }
}

}  // namespace meta_memcache
