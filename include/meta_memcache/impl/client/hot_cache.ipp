#pragma once

// The hot-key cache (see hot_cache.hpp).

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/client/hot_cache.hpp>
#include <meta_memcache/impl/client/large_values.hpp>

#include <ctime>

namespace meta_memcache {

META_MEMCACHE_DECL void HotCacheOptions::validate() const {
    auto bad = [](const std::string& what) { throw InvalidInputError("HotCacheOptions: " + what); };
    if (cache_ttl.count() <= 0)
        bad("cache_ttl must be positive");
    if (max_last_access_age.count() < 0)
        bad("max_last_access_age cannot be negative");
    if (probability_factor == 0)
        bad("probability_factor must be at least 1");
    if (max_stale_while_revalidate.count() < 0)
        bad("max_stale_while_revalidate cannot be negative");
    if (max_entries == 0)
        bad("max_entries must be at least 1");
    if (max_bytes == 0)
        bad("max_bytes must be at least 1");
}

namespace detail {

namespace hot_cache_impl {

/// Bytes an entry is counted for.
inline std::size_t footprint(std::string_view key, std::size_t value) noexcept {
    return key.size() + value + 64;
}

}  // namespace hot_cache_impl

/// Passes a call's answers on to the caller's sink, and keeps what the hot cache needs of
/// the reads it follows (`seen` by the forwarded request's index; `map` to the caller's).
class HotCapture final : public ResultSink {
public:
    HotCapture(const HotCacheRouter& router,
               ResultSink& inner,
               HotCacheRouter::Seen* seen,
               const HotCacheRouter::Probe* probes,
               const std::uint32_t* map) noexcept
        : router_(router), inner_(inner), seen_(seen), probes_(probes), map_(map) {}

    void answer(std::size_t i, const ResponseHeader& h, std::string_view v) override {
        const std::size_t to = map_ == nullptr ? i : map_[i];
        if (seen_ != nullptr && note(i, h, v.size()))
            seen_[i].value.assign(v);
        inner_.answer(to, h, v);
    }
    std::string& large_value(std::size_t i, const ResponseHeader& h) override {
        const std::size_t to = map_ == nullptr ? i : map_[i];
        std::string& out = inner_.large_value(to, h);
        if (seen_ != nullptr && note(i, h, h.value_size))
            seen_[i].large = &out;
        return out;
    }
    void fail(std::size_t i, const Failure& f) override {
        if (seen_ != nullptr)
            seen_[i].failed = true;
        inner_.fail(map_ == nullptr ? i : map_[i], f);
    }

private:
    /// Records the answer; true when its bytes are wanted.
    bool note(std::size_t i, const ResponseHeader& h, std::size_t size) {
        HotCacheRouter::Seen& s = seen_[i];
        s.code = h.code;
        if (!probes_[i].followed || h.code != ResponseCode::value)
            return false;
        const auto& f = h.flags;
        s.client_flag = f.client_flag.value_or(0);
        const bool withheld = f.win == true || (size == 0 && f.win == false);
        s.usable = !withheld && !f.stale && (s.client_flag & chunked_flag) == 0;
        if (!s.usable)
            return false;
        const auto& o = router_.options_;
        const HotCacheRouter::Probe& p = probes_[i];
        // (The coin was flipped before the read was sent: only winners are followed.)
        const bool candidate =
            f.fetched == true && f.last_access &&
            static_cast<std::int64_t>(*f.last_access) <= o.max_last_access_age.count() &&
            size + 64 <= o.max_bytes;
        s.want = p.followed && (p.kept || candidate);
        return s.want;
    }

    const HotCacheRouter& router_;
    ResultSink& inner_;
    HotCacheRouter::Seen* seen_;
    const HotCacheRouter::Probe* probes_;
    const std::uint32_t* map_;
};

META_MEMCACHE_DECL HotClock::time_point HotClock::now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
#else
    return time_point(std::chrono::steady_clock::now().time_since_epoch());
#endif
}

META_MEMCACHE_DECL double hot_ticks_per_ns() noexcept {
    static const double rate = [] {
        using Steady = std::chrono::steady_clock;
        // One pair of readings a millisecond apart, each pair taken close together.
        const auto pair = [] {
            for (;;) {
                const std::uint64_t a = hot_ticks();
                const Steady::time_point t = Steady::now();
                const std::uint64_t b = hot_ticks();
                if (b - a < 100000 || a == 0)
                    return std::pair{t, a + (b - a) / 2};
            }
        };
        const auto [t0, c0] = pair();
        if (c0 == 0)
            return 0.0;
        std::pair<Steady::time_point, std::uint64_t> end = pair();
        while (end.first - t0 < std::chrono::milliseconds(1))
            end = pair();
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end.first - t0);
        if (end.second <= c0 || ns.count() <= 0)
            return 0.0;
        const double per_ns =
            static_cast<double>(end.second - c0) / static_cast<double>(ns.count());
        return per_ns > 0.001 && per_ns < 1000 ? per_ns : 0.0;  // else not a usable counter
    }();
    return rate;
}

META_MEMCACHE_DECL HotCacheRouter::HotCacheRouter(std::shared_ptr<Router> inner,
                                                  HotCacheOptions options,
                                                  ClientObserver* observer)
    : inner_(std::move(inner)), options_(std::move(options)), observer_(observer) {
    options_.validate();
    static_cast<void>(hot_ticks_per_ns());  // measured now, not during a first promotion
}

META_MEMCACHE_DECL HotCacheRouter::Kind HotCacheRouter::kind(const Request& r) noexcept {
    switch (r.command) {
        case MetaCommand::get:
            if (!r.flags.return_value)
                return r.flags.cache_ttl ? Kind::write : Kind::other;  // a touch, or a probe
            if (r.flags.return_cas_token || r.flags.no_reply)
                return Kind::other;
            return Kind::read;
        case MetaCommand::set:
        case MetaCommand::del:
        case MetaCommand::arithmetic:
            return Kind::write;
        case MetaCommand::noop:
            return Kind::other;
    }
    return Kind::other;
}

META_MEMCACHE_DECL bool HotCacheRouter::servable(const Request& r) noexcept {
    const RequestFlags& f = r.flags;
    return !f.cache_ttl && !f.return_ttl && !f.return_size && !f.return_key && !f.return_fetched &&
           !f.return_last_access && !f.opaque && !f.mark_stale;
}

META_MEMCACHE_DECL bool HotCacheRouter::allowed(std::string_view key) const noexcept {
    if (options_.allowed_prefixes.empty())
        return true;
    for (const std::string& p : options_.allowed_prefixes) {
        if (key.substr(0, p.size()) == p)
            return true;
    }
    return false;
}

META_MEMCACHE_DECL bool HotCacheRouter::coin() const noexcept {
    if (options_.probability_factor <= 1)
        return true;
    thread_local std::uint64_t state = 0;
    if (state == 0) {
        state = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) |
                (reinterpret_cast<std::uintptr_t>(&state) << 1U) | 1U;
    }
    state ^= state << 13U;
    state ^= state >> 7U;
    state ^= state << 17U;
    return state % options_.probability_factor == 0;
}

META_MEMCACHE_DECL void HotCacheRouter::insert_locked(Lru::iterator it) {
    if ((lru_.size() + 1) * 2 > index_.size()) {
        // Grow: a power of two, at most half full, rebuilt from the list.
        std::size_t n = index_.empty() ? 16 : index_.size() * 2;
        while (n < (lru_.size() + 1) * 2)
            n *= 2;
        index_.assign(n, Slot{});
        slots_ = index_.data();
        mask_ = n - 1;
        for (auto e = lru_.begin(); e != lru_.end(); ++e) {
            if (e != it)
                insert_locked(e);
        }
    }
    const std::size_t mask = index_.size() - 1;
    std::size_t i = it->hash & mask;
    while (index_[i].hash != 0)
        i = (i + 1) & mask;
    index_[i] = Slot{it->hash, it};
}

META_MEMCACHE_DECL void HotCacheRouter::erase_locked(const Lru::iterator& it) noexcept {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = it->hash & mask;
    while (index_[i].it != it)
        i = (i + 1) & mask;
    // Backward shift: move later entries of the run into the hole when their home slot
    // is at or before it, so that no lookup stops early at an empty slot.
    for (std::size_t j = (i + 1) & mask; index_[j].hash != 0; j = (j + 1) & mask) {
        const std::size_t home = index_[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            index_[i] = index_[j];
            i = j;
        }
    }
    index_[i] = Slot{};
}

META_MEMCACHE_DECL void HotCacheRouter::switch_domain_locked(Entry& e, std::string_view domain) {
    if (e.domain_hits != 0) {
        auto at = dropped_hits_.find(e.domain);
        if (at == dropped_hits_.end())
            at = dropped_hits_.emplace(e.domain, 0).first;
        at->second += e.domain_hits;
        e.domain_hits = 0;
    }
    e.domain = std::string(domain);
}

META_MEMCACHE_DECL void HotCacheRouter::drop_locked(Lru::iterator it) {
    switch_domain_locked(*it, {});
    bytes_ -= hot_cache_impl::footprint(it->key, it->value->size());
    erase_locked(it);
    lru_.erase(it);
    size_.store(lru_.size(), std::memory_order_relaxed);
}

META_MEMCACHE_DECL void HotCacheRouter::refresh_locked(Entry& e,
                                                       Clock::time_point now) const noexcept {
    e.fresh_until = now + options_.cache_ttl;
    e.fresh_ticks = 0;
    if (const double per_ns = hot_ticks_per_ns(); per_ns > 0) {
        // 15/16 of cache_ttl in ticks: a rate a little off cannot serve past fresh_until.
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.cache_ttl);
        e.fresh_ticks = hot_ticks() + static_cast<std::uint64_t>(static_cast<double>(ns.count()) *
                                                                 per_ns * (15.0 / 16.0));
    }
}

namespace hot_cache_impl {
/// The hot cache whose direct_pool() this thread's read last won the coin in: its
/// execute() follows the read without tossing again (or counting the miss twice).
inline thread_local const HotCacheRouter* won_coin = nullptr;
}  // namespace hot_cache_impl

META_MEMCACHE_DECL ConnectionPool* HotCacheRouter::direct_pool(const KeyView& key,
                                                               bool plain_read) const {
    if (!plain_read || keeps_any())
        return nullptr;
    if (!allowed(key.key))
        return inner_->direct_pool(key, true);  // never promoted: sent as it is
    misses_.fetch_add(1, std::memory_order_relaxed);
    if (coin()) {
        hot_cache_impl::won_coin = this;
        return nullptr;
    }
    return inner_->direct_pool(key, true);
}

META_MEMCACHE_DECL HotCacheRouter::Probe HotCacheRouter::probe(const Request& r) {
    Probe p;
    // A read of a key not kept is followed (sent with h and l, its answer looked at) only
    // when it wins the promotion coin now: the others go out as they are (not even hashed).
    const auto not_kept = [&] {
        if (hot_cache_impl::won_coin == this) {
            hot_cache_impl::won_coin = nullptr;  // direct_pool() counted it and won
            p.followed = true;
        } else {
            misses_.fetch_add(1, std::memory_order_relaxed);
            p.followed = coin();
        }
        if (p.followed) {
            if (p.hash == 0)
                p.hash = hot_key_hash(r.key.key);
            p.generation = generation(p.hash).load(std::memory_order_acquire);
        }
        return p;
    };
    if (size_.load(std::memory_order_relaxed) == 0 || !servable(r))
        return not_kept();
    p.hash = hot_key_hash(r.key.key);
    p.generation = generation(p.hash).load(std::memory_order_acquire);
    const std::lock_guard lk(mu_);
    const Lru::iterator it = find_locked(r.key.key, p.hash);
    if (it == lru_.end() || it->routing != r.key.routing_key)
        return not_kept();
    p.kept = true;
    const auto now = Clock::now();
    if (now >= it->fresh_until) {
        if (now >= it->fresh_until + options_.max_stale_while_revalidate) {
            drop_locked(it);  // too old to serve: read and kept again only by chance
            p.kept = false;
            return not_kept();
        }
        if (!it->revalidating) {
            it->revalidating = true;  // this caller reads it again; the others keep serving
            revalidations_.fetch_add(1, std::memory_order_relaxed);
            return p;
        }
    }
    if (it != lru_.begin())
        lru_.splice(lru_.begin(), lru_, it);
    p.value = it->value;
    p.client_flag = it->client_flag;
    count_hit_locked();
    return p;
}

META_MEMCACHE_DECL void HotCacheRouter::invalidate(KeyView key) {
    const std::uint64_t hash = hot_key_hash(key.key);
    // Both seq_cst, paired with settle()'s store of size_ and second look at the generation:
    // either this sees the entry a concurrent read is keeping, or that read sees this write.
    generation(hash).fetch_add(1, std::memory_order_seq_cst);
    if (size_.load(std::memory_order_seq_cst) == 0)
        return;
    const std::lock_guard lk(mu_);
    const Lru::iterator it = find_locked(key.key, hash);
    if (it == lru_.end())
        return;
    drop_locked(it);
    invalidations_.fetch_add(1, std::memory_order_relaxed);
}

META_MEMCACHE_DECL void HotCacheRouter::settle(KeyView key, const Probe& p, Seen& seen) {
    if (seen.failed)
        return;  // a kept copy stays until its stale-while-revalidate window ends
    const bool hit = seen.code == ResponseCode::value && seen.usable;
    if (!hit && !p.kept) {
        if (size_.load(std::memory_order_relaxed) == 0)
            return;
    }
    if (hit && !seen.want)
        return;
    std::shared_ptr<const std::string> value;
    if (hit)
        value = std::make_shared<const std::string>(seen.large != nullptr ? *seen.large
                                                                          : std::move(seen.value));
    const std::size_t value_size = value ? value->size() : 0;
    bool promoted = false;
    {
        const std::lock_guard lk(mu_);
        const Lru::iterator found = find_locked(key.key, p.hash);
        const bool written = generation(p.hash).load(std::memory_order_acquire) != p.generation;
        if (!hit || written) {
            // A miss, a placeholder, a won recache or a stale item: nothing to keep.
            if (found != lru_.end()) {
                drop_locked(found);
                invalidations_.fetch_add(1, std::memory_order_relaxed);
            }
            return;
        }
        const auto now = Clock::now();
        if (found != lru_.end()) {
            Entry& e = *found;
            bytes_ -= hot_cache_impl::footprint(e.key, e.value->size());
            e.value = std::move(value);
            e.routing = std::string(key.routing_key);
            e.client_flag = seen.client_flag;
            refresh_locked(e, now);
            e.revalidating = false;
            bytes_ += hot_cache_impl::footprint(e.key, e.value->size());
            lru_.splice(lru_.begin(), lru_, found);
        } else {
            const std::size_t size = hot_cache_impl::footprint(key.key, value->size());
            if (size > options_.max_bytes)
                return;
            lru_.push_front(Entry{std::string(key.key),
                                  std::string(key.routing_key),
                                  std::move(value),
                                  seen.client_flag,
                                  {},
                                  0,
                                  p.hash,
                                  false});
            refresh_locked(lru_.front(), now);
            insert_locked(lru_.begin());
            bytes_ += size;
            promoted = true;
        }
        while (lru_.size() > 1 &&
               (lru_.size() > options_.max_entries || bytes_ > options_.max_bytes)) {
            drop_locked(std::prev(lru_.end()));
            evictions_.fetch_add(1, std::memory_order_relaxed);
        }
        size_.store(lru_.size(), std::memory_order_seq_cst);
        if (promoted) {
            // A write may have read size_ 0 just before this store and skipped the lock;
            // it bumped the generation first, so it shows now (the new entry is the front).
            if (generation(p.hash).load(std::memory_order_seq_cst) != p.generation) {
                drop_locked(lru_.begin());
                invalidations_.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            promotions_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (promoted && observer_ != nullptr) {
        try {
            observer_->on_hot_promotion(key, value_size);
        } catch (...) {  // NOLINT(bugprone-empty-catch): an observer must not break a read
        }
    }
}

META_MEMCACHE_DECL void HotCacheRouter::answer_local(std::size_t i,
                                                     const Request& r,
                                                     const Probe& p,
                                                     ResultSink& sink) {
    // One header per thread, reused (building one costs more than the rest of a hit); a
    // sink reads it before anything it calls could answer another request here.
    thread_local ResponseHeader h = [] {
        ResponseHeader first;
        first.code = ResponseCode::value;
        return first;
    }();
    h.value_size = p.value->size();
    if (r.flags.return_client_flag) {
        h.flags.client_flag = p.client_flag;
    } else {
        h.flags.client_flag.reset();
    }
    sink.answer(i, h, *p.value);
}

META_MEMCACHE_DECL void HotCacheRouter::execute(std::span<const Request> requests,
                                                ResultSink& sink,
                                                const ExecContext& ctx) {
    if (requests.size() != 1) {
        many(requests, sink, ctx);
        return;
    }
    const Request& r = requests[0];
    switch (kind(r)) {
        case Kind::other:
            inner_->execute(requests, sink, ctx);
            return;
        case Kind::write:
            invalidate(r.key);
            inner_->execute(requests, sink, ctx);
            invalidate(r.key);
            return;
        case Kind::read:
            break;
    }
    if (!allowed(r.key.key)) {
        inner_->execute(requests, sink, ctx);
        return;
    }
    const Probe p = probe(r);
    if (p.value) {
        answer_local(0, r, p, sink);
        return;
    }
    if (!p.followed) {  // not kept, and this read lost the coin: sent as it is
        inner_->execute(requests, sink, ctx);
        return;
    }
    Request fwd = r;
    fwd.flags.return_fetched = true;
    fwd.flags.return_last_access = true;
    Seen seen;
    HotCapture capture(*this, sink, &seen, &p, nullptr);
    inner_->execute(std::span<const Request>(&fwd, 1), capture, ctx);
    settle(r.key, p, seen);
}

META_MEMCACHE_DECL void HotCacheRouter::many(std::span<const Request> requests,
                                             ResultSink& sink,
                                             const ExecContext& ctx) {
    std::vector<Request> fwd;
    std::vector<std::uint32_t> map;
    std::vector<Probe> probes;
    std::vector<std::pair<std::uint32_t, Probe>> local;
    bool any_followed = false;
    fwd.reserve(requests.size());
    map.reserve(requests.size());
    probes.resize(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests[i];
        const Kind k = kind(r);
        if (k == Kind::write)
            invalidate(r.key);
        if (k == Kind::read && allowed(r.key.key)) {
            Probe p = probe(r);
            if (p.value) {
                local.emplace_back(static_cast<std::uint32_t>(i), std::move(p));
                continue;
            }
            const bool follow = p.followed;
            probes[fwd.size()] = std::move(p);
            fwd.push_back(r);
            if (follow) {
                fwd.back().flags.return_fetched = true;
                fwd.back().flags.return_last_access = true;
                any_followed = true;
            }
        } else {
            probes[fwd.size()].followed = false;
            fwd.push_back(r);
        }
        map.push_back(static_cast<std::uint32_t>(i));
    }
    for (const auto& [i, p] : local)
        answer_local(i, requests[i], p, sink);
    if (!fwd.empty()) {
        std::vector<Seen> seen(any_followed ? fwd.size() : 0);
        HotCapture capture(*this, sink, any_followed ? seen.data() : nullptr, probes.data(),
                           map.data());
        inner_->execute(fwd, capture, ctx);
        for (std::size_t j = 0; any_followed && j < fwd.size(); ++j) {
            if (probes[j].followed)
                settle(fwd[j].key, probes[j], seen[j]);
        }
    }
    for (const Request& r : requests) {
        if (kind(r) == Kind::write)
            invalidate(r.key);
    }
}

META_MEMCACHE_DECL HotCacheCounters HotCacheRouter::counters() const {
    HotCacheCounters c;
    c.hits = hits_.load(std::memory_order_relaxed);
    c.misses = misses_.load(std::memory_order_relaxed);
    c.promotions = promotions_.load(std::memory_order_relaxed);
    c.revalidations = revalidations_.load(std::memory_order_relaxed);
    c.evictions = evictions_.load(std::memory_order_relaxed);
    c.invalidations = invalidations_.load(std::memory_order_relaxed);
    const std::lock_guard lk(mu_);
    c.entries = lru_.size();
    c.bytes = bytes_;
    return c;
}

}  // namespace detail

}  // namespace meta_memcache
