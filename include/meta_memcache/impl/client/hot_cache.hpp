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
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace meta_memcache::detail {

/// The clock of kept keys' freshness: CLOCK_MONOTONIC_COARSE where there is one (its few
/// milliseconds of resolution are well inside any cache_ttl), else steady_clock.
struct HotClock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<HotClock>;
    static constexpr bool is_steady = true;
    static time_point now() noexcept;
};

/// The CPU's time-stamp counter (one instruction, no system call), which lets a hit skip
/// the clock: 0 where there is none. Its rate is measured once (hot_ticks_per_ns).
[[nodiscard]] inline std::uint64_t hot_ticks() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
    std::uint64_t v = 0;
    asm volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return 0;
#endif
}

/// Ticks of hot_ticks() per nanosecond, measured against steady_clock the first time it is
/// asked for (about a millisecond); 0 when there is no usable counter.
[[nodiscard]] double hot_ticks_per_ns() noexcept;

/// The eight bytes at q, as one word.
[[nodiscard, gnu::always_inline]] inline std::uint64_t hot_word(const char* q) noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, q, sizeof w);
    return w;
}

/// Whether n bytes at a and b are the same: 8 to 32 of them in two overlapping loads each
/// (sixteen bytes wide where SSE2 is there), others by memcmp.
[[nodiscard, gnu::always_inline]] inline bool hot_same_bytes(const char* a,
                                                             const char* b,
                                                             std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16 && n <= 32) {
        const auto load = [](const char* q) {
            return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        };
        const __m128i same = _mm_and_si128(_mm_cmpeq_epi8(load(a), load(b)),
                                           _mm_cmpeq_epi8(load(a + n - 16), load(b + n - 16)));
        return _mm_movemask_epi8(same) == 0xFFFF;
    }
#endif
    if (n >= 8 && n <= 16)
        return hot_word(a) == hot_word(b) && hot_word(a + n - 8) == hot_word(b + n - 8);
    return std::memcmp(a, b, n) == 0;
}

/// A key's hash for the hot cache's table and its generations: its first and last eight
/// bytes and, past sixteen, the ones between eight at a time (no byte-wise tail, no loop
/// up to 24 bytes); the top bit set, so never 0.
[[nodiscard, gnu::always_inline]] inline std::uint64_t hot_key_hash(std::string_view k) noexcept {
    const char* p = k.data();
    const std::size_t n = k.size();
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t middle = 0;
    if (n >= 8) {
        first = hot_word(p);
        last = hot_word(p + n - 8);
        if (n > 16) {
            middle = hot_word(p + 8);
            for (std::size_t i = 16; i + 8 < n; i += 8)
                middle = (middle ^ hot_word(p + i)) * 0xFF51AFD7ED558CCDULL;
        }
    } else if (n >= 4) {
        std::uint32_t lo = 0;
        std::uint32_t hi = 0;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + n - 4, 4);
        first = (std::uint64_t{hi} << 32U) | lo;
    } else if (n > 0) {
        first = (std::uint64_t{static_cast<unsigned char>(p[0])} << 16U) |
                (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8U) |
                static_cast<unsigned char>(p[n - 1]);
    }
    std::uint64_t h = (first ^ (0x9E3779B97F4A7C15ULL * (n + 1))) * 0xFF51AFD7ED558CCDULL;
    h ^= std::rotl(last * 0xC4CEB9FE1A85EC53ULL, 31) ^ middle;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32U;
    return h | (std::uint64_t{1} << 63U);
}

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
    using Clock = HotClock;

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
    /// A plain read goes to the inner router's pool as it is when nothing is kept (a kept
    /// key that serve() did not answer is execute()'s to decide) and the read loses the
    /// promotion coin (a winner goes through execute(), which follows it without tossing
    /// again). Writes go through execute(), which invalidates.
    [[nodiscard]] ConnectionPool* direct_pool(const KeyView& key, bool plain_read) const override;

    /// A get of `key` (no CAS, no touch) answered from memory: true, with `out` and
    /// `client_flag` set, when the key is kept and fresh. Anything else (not kept, due for
    /// revalidation, too old) is left to execute(), which decides it. Inline: a hit is a
    /// hash, a lock, a probe of the table, the tick counter and the copy into `out`.
    [[gnu::always_inline]] bool serve(const KeyView& key,
                                      std::optional<std::string>& out,
                                      std::uint32_t& client_flag) {
        if (!keeps_any())
            return false;
        const std::uint64_t hash = hot_key_hash(key.key);
        const std::lock_guard lk(mu_);
        const Lru::iterator it = find_locked(key.key, hash);
        if (it == lru_.end() || it->routing.size() != key.routing_key.size() ||
            (!key.routing_key.empty() && it->routing != key.routing_key))
            return false;
        // The clock is read only in the last part of cache_ttl the counter cannot vouch for.
        if (hot_ticks() >= it->fresh_ticks && Clock::now() >= it->fresh_until)
            return false;
        if (it != lru_.begin())
            lru_.splice(lru_.begin(), lru_, it);
        out.emplace(it->value->data(), it->value->size());  // the only allocation of a hit
        client_flag = it->client_flag;
        count_hit_locked();
        // The client's per-domain hit, counted here (for_each_domain_hit adds it).
        if (it->domain.size() != key.domain.size() ||
            (!key.domain.empty() && it->domain != key.domain))
            switch_domain_locked(*it, key.domain);
        ++it->domain_hits;
        return true;
    }

    /// Calls f(domain, hits) for the hits serve() counted, by domain (some domains twice).
    template <class F>
    void for_each_domain_hit(F&& f) const {
        const std::lock_guard lk(mu_);
        for (const auto& [domain, hits] : dropped_hits_)
            f(std::string_view(domain), hits);
        for (const Entry& e : lru_) {
            if (e.domain_hits != 0)
                f(std::string_view(e.domain), e.domain_hits);
        }
    }

    /// False while nothing is kept (a read then only flips the promotion coin).
    [[nodiscard]] bool keeps_any() const noexcept {
        return size_.load(std::memory_order_relaxed) != 0;
    }

    [[nodiscard]] HotCacheCounters counters() const;
    [[nodiscard]] const std::shared_ptr<Router>& inner() const noexcept { return inner_; }

    /// What a read found here.
    struct Probe {
        std::shared_ptr<const std::string> value{};  ///< set: answer from memory
        std::uint32_t client_flag = 0;
        std::uint64_t hash = 0;        ///< of the key (table slot and generation)
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
        std::uint64_t fresh_ticks = 0;  ///< hot_ticks() surely before fresh_until (0: none)
        std::uint64_t hash = 0;
        bool revalidating = false;
        std::string domain{};           ///< of the reads serve() counts in domain_hits
        std::uint64_t domain_hits = 0;  ///< reads serve() answered
    };
    using Lru = std::list<Entry>;
    /// A slot of the index: open addressing with linear probing; `hash` 0 is empty (a key's
    /// hash has its top bit set).
    struct Slot {
        std::uint64_t hash = 0;
        Lru::iterator it{};
    };

    [[nodiscard]] static Kind kind(const Request& r) noexcept;
    [[nodiscard]] static bool servable(const Request& r) noexcept;
    [[nodiscard]] bool allowed(std::string_view key) const noexcept;
    [[nodiscard]] std::atomic<std::uint64_t>& generation(std::uint64_t hash) noexcept {
        return generations_[hash % generations_.size()];
    }
    /// The key's entry, or lru_.end(); with mu_ held.
    [[nodiscard, gnu::always_inline]] Lru::iterator find_locked(std::string_view key,
                                                                std::uint64_t hash) noexcept {
        if (slots_ == nullptr)
            return lru_.end();
        for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.hash == 0)
                return lru_.end();
            if (s.hash == hash && s.it->key.size() == key.size() &&
                hot_same_bytes(s.it->key.data(), key.data(), key.size()))
                return s.it;
        }
    }
    /// Sets the entry's deadlines: fresh for cache_ttl from `now`.
    void refresh_locked(Entry& e, Clock::time_point now) const noexcept;
    /// Moves the entry's counted hits to dropped_hits_ and counts `domain`'s from now on.
    void switch_domain_locked(Entry& e, std::string_view domain);
    void insert_locked(Lru::iterator it);
    void erase_locked(const Lru::iterator& it) noexcept;
    [[nodiscard]] bool coin() const noexcept;

    Probe probe(const Request& r);
    void invalidate(KeyView key);
    void count_hit_locked() noexcept {
        hits_.store(hits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void settle(KeyView key, const Probe& p, Seen& seen);
    void drop_locked(Lru::iterator it);
    void answer_local(std::size_t i, const Request& r, const Probe& p, ResultSink& sink);
    void many(std::span<const Request> requests, ResultSink& sink, const ExecContext& ctx);

    friend class HotCapture;

    std::shared_ptr<Router> inner_;
    HotCacheOptions options_;
    ClientObserver* observer_;

    mutable HotLock mu_;
    Lru lru_;                  ///< most recently used first
    std::vector<Slot> index_;  ///< the entries by key: a power of two, at most half full
    Slot* slots_ = nullptr;    ///< index_.data(), or null while it is empty
    std::size_t mask_ = 0;     ///< index_.size() - 1
    std::size_t bytes_ = 0;
    /// serve()'s hits of entries since dropped (or switched to another domain), by domain.
    std::map<std::string, std::uint64_t, std::less<>> dropped_hits_;
    std::atomic<std::size_t> size_{0};  ///< lru_.size(), readable without the lock
    std::array<std::atomic<std::uint64_t>, 64> generations_{};

    std::atomic<std::uint64_t> hits_{0};  ///< written with mu_ held
    mutable std::atomic<std::uint64_t> misses_{0};
    std::atomic<std::uint64_t> promotions_{0};
    std::atomic<std::uint64_t> revalidations_{0};
    std::atomic<std::uint64_t> evictions_{0};
    std::atomic<std::uint64_t> invalidations_{0};
};

}  // namespace meta_memcache::detail
