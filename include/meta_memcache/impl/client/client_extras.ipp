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

META_MEMCACHE_DECL void CacheClient::State::add_extra_counters(ClientCounters& out) const {
    if (hub)
        hub->fill(out.servers);
    if (hot)
        out.hot_cache = hot->counters();
}

}  // namespace meta_memcache
