#pragma once

#include <meta_memcache/key.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace meta_memcache {

/// Subscribers receive the key of every write that failed on its server (so the caller
/// can invalidate it later, for eventual consistency). Thread-safe. A subscriber that
/// throws is isolated: the exception is swallowed and the failure path goes on.
class WriteFailureEvent {
public:
    using Handler = std::function<void(const Key&)>;
    using Subscription = std::size_t;

    WriteFailureEvent() = default;
    WriteFailureEvent(const WriteFailureEvent&) = delete;
    WriteFailureEvent& operator=(const WriteFailureEvent&) = delete;
    WriteFailureEvent(WriteFailureEvent&&) = delete;
    WriteFailureEvent& operator=(WriteFailureEvent&&) = delete;
    ~WriteFailureEvent() = default;

    /// Adds a handler; returns a handle for unsubscribe().
    Subscription subscribe(Handler handler);
    /// Removes a handler; false when the handle is unknown.
    bool unsubscribe(Subscription id);
    /// Number of handlers.
    [[nodiscard]] std::size_t size() const;
    /// Calls every handler with `key`, in subscription order. Never throws.
    void notify(const Key& key) const noexcept;
    /// True when nobody listens (the failure path then builds no Key). No lock: one load.
    [[nodiscard]] bool empty() const noexcept {
        return count_.load(std::memory_order_acquire) == 0;
    }

private:
    mutable std::mutex mutex_;
    std::atomic<std::size_t> count_{0};  ///< handlers_.size(), readable without the lock
    std::vector<std::pair<Subscription, std::shared_ptr<const Handler>>> handlers_;
    Subscription next_ = 1;
};

}  // namespace meta_memcache
