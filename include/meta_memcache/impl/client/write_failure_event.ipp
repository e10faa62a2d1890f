// WriteFailureEvent: the subscribers to failed writes, called without holding the lock.

#include <meta_memcache/config.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL WriteFailureEvent::Subscription WriteFailureEvent::subscribe(Handler handler) {
    std::lock_guard lk(mutex_);
    const Subscription id = next_++;
    handlers_.emplace_back(id, std::make_shared<const Handler>(std::move(handler)));
    count_.store(handlers_.size(), std::memory_order_release);
    return id;
}

META_MEMCACHE_DECL bool WriteFailureEvent::unsubscribe(Subscription id) {
    std::lock_guard lk(mutex_);
    const auto it = std::find_if(handlers_.begin(), handlers_.end(),
                                 [id](const auto& h) { return h.first == id; });
    if (it == handlers_.end())
        return false;
    handlers_.erase(it);
    count_.store(handlers_.size(), std::memory_order_release);
    return true;
}

META_MEMCACHE_DECL std::size_t WriteFailureEvent::size() const {
    std::lock_guard lk(mutex_);
    return handlers_.size();
}

META_MEMCACHE_DECL void WriteFailureEvent::notify(const Key& key) const noexcept {
    std::vector<std::shared_ptr<const Handler>> copy;
    try {
        std::lock_guard lk(mutex_);
        copy.reserve(handlers_.size());
        for (const auto& h : handlers_)
            copy.push_back(h.second);
    } catch (...) {
        return;
    }
    for (const auto& h : copy) {
        try {
            (*h)(key);
        } catch (...) {
            // A subscriber's failure must not break the failure path.
        }
    }
}

}  // namespace meta_memcache
