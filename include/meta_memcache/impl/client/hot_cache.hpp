#pragma once

// The hot-key cache (HotCacheOptions): a Router in front of the client's own, so that
// every request the client sends passes it. Reads it may answer (mg with v, no CAS, no
// touch, no other returned flag) are answered from memory when the key is kept; the
// others go on with h and l added, and their answers decide what is kept. Every ms, md,
// ma and touching mg drops the key's local copy before it is sent and again once it is
// answered; a per-key generation stops a read that began before the write from keeping
// the value it fetched.

#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/hot_cache.hpp>
#include <meta_memcache/observer.hpp>
#include <meta_memcache/router.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace meta_memcache::detail {

/// A quick hash of a key (8 bytes at a time), for the hot cache's table and generations.
struct HotKeyHash {
    [[nodiscard]] std::size_t operator()(std::string_view k) const noexcept {
        std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ k.size();
        const char* p = k.data();
        std::size_t n = k.size();
        for (; n >= 8; p += 8, n -= 8) {
            std::uint64_t w = 0;
            std::memcpy(&w, p, 8);
            h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
            h ^= h >> 32U;
        }
        if (n > 0) {
            std::uint64_t w = 0;
            std::memcpy(&w, p, n);
            h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
            h ^= h >> 29U;
        }
        return static_cast<std::size_t>(h);
    }
};

/// A lock for the few instructions a hit holds it: a flag, spinning briefly, then yielding.
class HotLock {
public:
    void lock() noexcept {
        while (flag_.test_and_set(std::memory_order_acquire)) {
            while (flag_.test(std::memory_order_relaxed))
                std::this_thread::yield();
        }
    }
    void unlock() noexcept { flag_.clear(std::memory_order_release); }

private:
    std::atomic_flag flag_{};
};

class HotCacheRouter final : public Router {
public:
    using Clock = std::chrono::steady_clock;

    /// `observer` (may be null) is told of promotions.
    HotCacheRouter(std::shared_ptr<Router> inner,
                   HotCacheOptions options,
                   ClientObserver* observer);

    using Router::execute;
    void execute(std::span<const Request> requests,
                 ResultSink& sink,
                 const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override {
        return inner_->get_counters();
    }
    [[nodiscard]] bool default_raise_on_server_error() const override {
        return inner_->default_raise_on_server_error();
    }
    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_for_key(KeyView key) const override {
        return inner_->pool_for_key(key);
    }

    [[nodiscard]] HotCacheCounters counters() const;
    [[nodiscard]] const std::shared_ptr<Router>& inner() const noexcept { return inner_; }

    /// What a read found here.
    struct Probe {
        std::shared_ptr<const std::string> value{};  ///< set: answer from memory
        std::uint32_t client_flag = 0;
        std::uint64_t generation = 0;  ///< of the key's slot, when looked up
        bool kept = false;             ///< the key is kept (its answer refreshes or drops it)
        bool followed = true;          ///< the answer is looked at (a read this cache serves)
    };
    /// What the server said to a read this router follows.
    struct Seen {
        ResponseCode code = ResponseCode::error;
        bool usable = false;  ///< a hit that may be kept (not withheld, stale, or chunked)
        bool want = false;    ///< its bytes are wanted (kept key, or a promotion chosen)
        bool failed = false;
        std::uint32_t client_flag = 0;
        std::string value{};
        std::string* large = nullptr;  ///< where a large value was read
    };

private:
    enum class Kind { other, read, write };
    struct Entry {
        std::string key;
        std::string routing;
        std::shared_ptr<const std::string> value;
        std::uint32_t client_flag = 0;
        Clock::time_point fresh_until{};
        bool revalidating = false;
    };
    using Lru = std::list<Entry>;

    [[nodiscard]] static Kind kind(const Request& r) noexcept;
    [[nodiscard]] static bool servable(const Request& r) noexcept;
    [[nodiscard]] bool allowed(std::string_view key) const noexcept;
    [[nodiscard]] std::atomic<std::uint64_t>& generation(std::string_view key) noexcept;
    [[nodiscard]] bool coin() const noexcept;

    Probe probe(const Request& r);
    void invalidate(KeyView key);
    void settle(KeyView key, const Probe& p, Seen& seen);
    void drop_locked(Lru::iterator it);
    void answer_local(std::size_t i, const Request& r, const Probe& p, ResultSink& sink);
    void many(std::span<const Request> requests, ResultSink& sink, const ExecContext& ctx);

    friend class HotCapture;

    std::shared_ptr<Router> inner_;
    HotCacheOptions options_;
    ClientObserver* observer_;

    mutable HotLock mu_;
    Lru lru_;  ///< most recently used first
    std::unordered_map<std::string_view, Lru::iterator, HotKeyHash> index_;
    std::size_t bytes_ = 0;
    std::atomic<std::size_t> size_{0};  ///< index_.size(), readable without the lock
    std::array<std::atomic<std::uint64_t>, 64> generations_{};

    std::atomic<std::uint64_t> hits_{0};
    std::atomic<std::uint64_t> misses_{0};
    std::atomic<std::uint64_t> promotions_{0};
    std::atomic<std::uint64_t> revalidations_{0};
    std::atomic<std::uint64_t> evictions_{0};
    std::atomic<std::uint64_t> invalidations_{0};
};

}  // namespace meta_memcache::detail
