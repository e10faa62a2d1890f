#pragma once

// The client's reads: get, get_cas, multi_get (and _cas, _visit), get_or_lease; each
// answer goes from the read buffer straight into what the caller gets (read_sinks.hpp).

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/client_state.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meta_memcache {

namespace detail::cache_client_impl {

/// Where multi_get reads its values before it allocates the vector it returns, kept by
/// each thread between calls. The order is for glibc's malloc: a block as large as that
/// vector, allocated while small freed blocks wait for reuse (the previous call's values,
/// typically), first merges them all, and this call's values then come from the merged
/// memory the slow way; allocated after the values, it finds those blocks reused already.
/// And the caller freeing the vector must not merge it with free memory beside it into a
/// block of 64 KiB or more either (glibc then merges every small freed block, the values
/// freed just before it among them): a guard block, held by the thread, sits right after
/// the vector's block. A vector carved from the front of free memory (or from the heap's
/// unused top) has the rest of it after it, and the guard, larger than the small blocks
/// freed about the heap, is carved there next rather than taken from one of them; a vector
/// that is a freed block of its size reused has blocks in use on both sides. So the guard
/// is kept while it is right after the vector; otherwise up to two are taken (the first
/// may be a guard freed earlier), and when neither lands there the vector's block is taken
/// to be bordered already, and no more are tried while the vector stays in it. (Elsewhere
/// this is 8 KiB per thread, and an allocation or two when the vector moves.)
struct MultiGetSlots {
    static constexpr std::size_t guard_size = 8192;

    std::vector<std::optional<std::string>> values;
    std::unique_ptr<char[]> end_mark;
    const void* bordered = nullptr;  ///< a vector block no guard landed after
    bool busy = false;

    /// Puts the guard right after `out`'s block, unless it is there (or cannot be).
    template <class T>
    void mark_end(const std::vector<T>& out) {
        // (Addresses of separate blocks compared as integers.)
        const auto end = reinterpret_cast<std::uintptr_t>(out.data() + out.capacity());
        const auto after = [&](const std::unique_ptr<char[]>& g) {
            const auto at = reinterpret_cast<std::uintptr_t>(g.get());
            return g != nullptr && at >= end && at - end < 64;
        };
        if (end_mark != nullptr && (after(end_mark) || bordered == out.data()))
            return;
        // (The previous guard goes once the new one is taken: it would take its place.)
        auto guard = std::make_unique_for_overwrite<char[]>(guard_size);
        if (!after(guard)) {
            auto second = std::make_unique_for_overwrite<char[]>(guard_size);
            if (after(second))
                guard = std::move(second);
        }
        bordered = after(guard) ? nullptr : out.data();
        end_mark = std::move(guard);
    }

    /// Marks the slots in use for one call, and empties them when it ends.
    class Use {
    public:
        explicit Use(MultiGetSlots& s) noexcept : slots_(s) { slots_.busy = true; }
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;
        Use(Use&&) = delete;
        Use& operator=(Use&&) = delete;
        ~Use() {
            slots_.values.clear();
            slots_.busy = false;
        }

    private:
        MultiGetSlots& slots_;
    };
};

inline MultiGetSlots& multi_get_slots() {
    thread_local MultiGetSlots s;
    return s;
}

}  // namespace detail::cache_client_impl

// ---- reads --------------------------------------------------------------------------------

/// get() past its one-key attempt, with the call's router pinned: the read itself unless it
/// was `sent`, then what the bytes need (joining chunks, decompressing).
META_MEMCACHE_DECL void CacheClient::State::finish_get(KeyView key,
                                                       const GetOptions& get,
                                                       std::optional<std::string>& out,
                                                       detail::ReadSink& sink,
                                                       detail::cache_client_impl::GetStart start) {
    using namespace detail::cache_client_impl;
    const Pin pin(*this);
    State& s = *this;  // (as the other commands name it)
    if (start == GetStart::declined) {
        s.run(Request{MetaCommand::get, key, {}, read_flags(get, false)}, sink, get.failure);
    }
    if (sink.code == detail::ResponseCode::header)
        unexpected("HD to mg with v");
    if ((sink.client_flag & (detail::chunked_flag | value_flag::compression_mask)) == 0) {
        s.count(key, out.has_value());  // the bytes as they are: nothing to decode
        return;
    }
    if ((sink.client_flag & detail::chunked_flag) != 0) {
        Fetched f;
        f.cv.value = std::move(out);
        f.client_flag = sink.client_flag;
        out = s.finish_read(key, std::move(f), get).data;
    } else {
        out = s.deliver(key, std::move(out), sink.client_flag, get);
    }
}

// (Not inlined into get(), whose frame stays that of a read without a hot cache.)
[[gnu::noinline]] META_MEMCACHE_DECL void CacheClient::State::get_hot(
    detail::HotCacheRouter& hot,
    const KeyView& key,
    const GetOptions& get,
    std::optional<std::string>& out) {
    using namespace detail::cache_client_impl;
    // The hot cache's copy: no router is entered, so nothing is pinned for it.
    std::uint32_t flag = 0;
    if (!get.touch_ttl && hot.serve(key, out, flag)) [[likely]] {
        if ((flag & value_flag::compression_mask) != 0) [[unlikely]]
            out = std::move(serializer->try_decode_bytes(*out, flag).value);
        return;
    }
    // Else the read, all through the pinned router.
    const Pin pin(*this);
    detail::ReadSink sink(out);
    finish_get(key, get, out, sink,
               run_plain_read(key, get, sink) ? GetStart::sent : GetStart::declined);
}

META_MEMCACHE_DECL std::optional<std::string> CacheClient::get(KeyView key,
                                                               const GetOptions& options) {
    using namespace detail::cache_client_impl;
    // get_cas(key, options).value without carrying the CAS along: the value goes from the
    // read buffer into `out`. A plain read of plain bytes is done without pinning the
    // router (it is used once, by run_plain_read); anything else goes on in finish_get.
    std::optional<std::string> out;
    if (detail::HotCacheRouter* hot = s_->hot_keeping_keys()) [[unlikely]] {
        s_->get_hot(*hot, key, options, out);
        return out;
    }
    detail::ReadSink sink(out);
    const GetStart start =
        s_->run_plain_read(key, options, sink) ? GetStart::sent : GetStart::declined;
    if (start == GetStart::sent && sink.code != detail::ResponseCode::header &&
        (sink.client_flag & (detail::chunked_flag | value_flag::compression_mask)) == 0) {
        s_->count(key, out.has_value());
        return out;
    }
    s_->finish_get(key, options, out, sink, start);
    return out;  // (one object returned on every path: no move out of it)
}

META_MEMCACHE_DECL detail::RawRead CacheClient::read_raw(KeyView key, const GetOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    return s_->finish_read(
        key, interpret(meta_get(key, read_flags(options, true), options.failure)), options);
}

META_MEMCACHE_DECL CasValue CacheClient::get_cas(KeyView key, const GetOptions& options) {
    const State::Pin pin(*s_);
    detail::RawRead raw = read_raw(key, options);
    CasValue out;
    out.cas_token = raw.cas_token;
    out.won = raw.won;
    out.value = std::move(raw.data);  // decompressed by finish_read
    return out;
}

META_MEMCACHE_DECL std::vector<CasValue> CacheClient::multi_get_cas(std::span<const KeyView> keys,
                                                                    const GetOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    std::vector<ReadResponse> rs = meta_multiget(keys, read_flags(options, true), options.failure);
    std::vector<Fetched> fetched;
    fetched.reserve(rs.size());
    bool chunked = false;
    for (auto& r : rs) {
        fetched.push_back(interpret(std::move(r)));
        chunked = chunked || (fetched.back().client_flag & detail::chunked_flag) != 0;
    }
    if (chunked)
        s_->resolve_chunks(keys, fetched, options.touch_ttl, options.failure);
    std::vector<CasValue> out;
    out.reserve(fetched.size());
    State::Undecodable bad;
    for (std::size_t i = 0; i < fetched.size(); ++i) {
        Fetched& f = fetched[i];
        CasValue c;
        c.cas_token = f.cv.cas_token;
        c.won = f.cv.won;
        c.value = s_->deliver(keys[i], std::move(f.cv.value), f.client_flag, bad);
        out.push_back(std::move(c));
    }
    bad.raise(options);
    return out;
}

META_MEMCACHE_DECL std::vector<std::optional<std::string>> CacheClient::multi_get(
    std::span<const KeyView> keys, const GetOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    // multi_get_cas(keys, options) without the CAS: each value goes from the read buffer
    // into its slot (decompressed on the way); chunked values are joined afterwards.
    const Request shape{MetaCommand::get, {}, {}, read_flags(options, false)};
    // The values are read into this thread's slots, and the vector returned is allocated
    // after them (see MultiGetSlots).
    MultiGetSlots& mine = multi_get_slots();
    MultiGetSlots nested;  // a call from inside this one (a serializer's) uses its own
    MultiGetSlots& slots = mine.busy ? nested : mine;
    const MultiGetSlots::Use use(slots);
    slots.values.resize(keys.size());
    detail::MultiReadSink sink(slots.values, *s_->serializer);
    s_->front().execute_keys(shape, keys, sink, s_->context(options.failure));
    if (sink.failure.failed && s_->raise(options.failure))
        sink.failure.raise();
    std::vector<std::optional<std::string>> out(keys.size());
    slots.mark_end(out);
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (slots.values[i])
            out[i].emplace(std::move(*slots.values[i]));
    }
    if (sink.unexpected_header)
        unexpected("HD to mg with v");
    if (sink.flags.empty()) {  // every value is in its slot as the caller gets it
        detail::DomainTally tally(s_->domains);
        for (std::size_t i = 0; i < out.size(); ++i)
            tally.count(keys[i].domain, out[i].has_value());
        return out;
    }
    State::Undecodable bad;
    std::vector<Fetched> chunked;
    std::vector<KeyView> chunked_keys;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::uint32_t flag = sink.flags[i];
        if (flag == 0 || !out[i]) {
            s_->count(keys[i], out[i].has_value());
        } else if ((flag & detail::chunked_flag) == 0) {
            // A large compressed value, or one the sink could not decode.
            out[i] = s_->deliver(keys[i], std::move(out[i]), flag, bad);
        } else {
            Fetched f;
            f.cv.value = std::move(out[i]);
            f.client_flag = flag;
            chunked.push_back(std::move(f));
            chunked_keys.push_back(keys[i]);
            at.push_back(i);
        }
    }
    if (!chunked.empty()) {
        s_->resolve_chunks(chunked_keys, chunked, options.touch_ttl, options.failure);
        for (std::size_t k = 0; k < chunked.size(); ++k) {
            out[at[k]] = s_->deliver(chunked_keys[k], std::move(chunked[k].cv.value),
                                     chunked[k].client_flag, bad);
        }
    }
    bad.raise(options);
    return out;
}

META_MEMCACHE_DECL std::size_t CacheClient::visit_values(
    std::span<const KeyView> keys,
    detail::FunctionRef<void(std::size_t, std::string_view)> visit,
    const GetOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    const Request shape{MetaCommand::get, {}, {}, read_flags(options, false)};
    detail::DomainTally tally(s_->domains);
    detail::VisitSink sink(visit, keys, tally, *s_->serializer);
    s_->front().execute_keys(shape, keys, sink, s_->context(options.failure));
    if (sink.failure.failed && s_->raise(options.failure))
        sink.failure.raise();
    if (sink.unexpected_header)
        unexpected("HD to mg with v");
    // Values that were larger than the read buffer, chunked, or undecodable: now.
    State::Undecodable bad;
    std::vector<Fetched> chunked;
    std::vector<KeyView> chunked_keys;
    std::vector<std::size_t> chunked_at;
    const auto deliver = [&](std::size_t i, std::optional<std::string>&& data, std::uint32_t flag) {
        // Counts the read (a failed one, or undecodable bytes, as a miss).
        const std::optional<std::string> v = s_->deliver(keys[i], std::move(data), flag, bad);
        if (v)
            sink.visit_counted(i, *v);
    };
    for (detail::VisitSink::Later& l : sink.later) {
        if (!l.failed && (l.flag & detail::chunked_flag) != 0) {
            Fetched f;
            f.cv.value = std::move(l.data);
            f.client_flag = l.flag;
            chunked.push_back(std::move(f));
            chunked_keys.push_back(keys[l.index]);
            chunked_at.push_back(l.index);
            continue;
        }
        deliver(l.index, l.failed ? std::nullopt : std::optional<std::string>(std::move(l.data)),
                l.flag);
    }
    if (!chunked.empty()) {
        s_->resolve_chunks(chunked_keys, chunked, options.touch_ttl, options.failure);
        for (std::size_t k = 0; k < chunked.size(); ++k)
            deliver(chunked_at[k], std::move(chunked[k].cv.value), chunked[k].client_flag);
    }
    bad.raise(options);
    return sink.hits;
}

META_MEMCACHE_DECL CasValue CacheClient::get_or_lease_cas(KeyView key,
                                                          const LeasePolicy& lease,
                                                          const GetOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    if (lease.miss_retries == 0) {
        throw InvalidInputError("LeasePolicy: miss_retries must be at least 1");
    }
    if (lease.ttl <= 0)
        throw InvalidInputError("LeasePolicy: ttl must be positive");
    if (lease.wait_backoff_factor < 1.0) {
        throw InvalidInputError("LeasePolicy: wait_backoff_factor must be at least 1");
    }
    RequestFlags f = read_flags(options, true);
    f.vivify_on_miss_ttl = lease.ttl;
    for (unsigned attempt = 1; attempt <= lease.miss_retries; ++attempt) {
        if (attempt > 1) {
            const double ms = static_cast<double>(lease.miss_retry_wait.count()) *
                              std::pow(lease.wait_backoff_factor, static_cast<double>(attempt - 2));
            const auto wait = std::min(lease.miss_max_retry_wait,
                                       std::chrono::milliseconds(static_cast<std::int64_t>(ms)));
            s_->wait(wait);
        }
        ReadResponse r = meta_get(key, f, options.failure);
        if (const auto* m = std::get_if<Miss>(&r)) {
            if (m->is_error())
                break;  // the server failed and raising is off: no lease
            continue;   // cannot happen with N; try again
        }
        auto* v = std::get_if<Value>(&r);
        if (v == nullptr)
            unexpected("HD to mg with v");
        const bool placeholder = v->data.empty() && v->flags.win == false;
        if (placeholder && attempt < lease.miss_retries)
            continue;  // someone else fills it
        Fetched got = interpret(std::move(r));
        if ((got.client_flag & detail::chunked_flag) != 0) {
            s_->resolve_chunks(std::span<const KeyView>(&key, 1), std::span<Fetched>(&got, 1),
                               options.touch_ttl, options.failure);
        }
        CasValue out;
        out.cas_token = got.cv.cas_token;
        out.won = got.cv.won;
        out.value = s_->deliver(key, std::move(got.cv.value), got.client_flag, options);
        return out;
    }
    s_->count(key, false);
    return {};
}

META_MEMCACHE_DECL std::optional<std::string> CacheClient::get_or_lease(KeyView key,
                                                                        const LeasePolicy& lease,
                                                                        const GetOptions& options) {
    const State::Pin pin(*s_);
    // A kept key is a hit: served from memory (a bad policy still throws, below).
    std::optional<std::string> out;
    if (lease.miss_retries != 0 && lease.ttl > 0 && lease.wait_backoff_factor >= 1.0 &&
        s_->served_hot(key, options, out))
        return out;
    return get_or_lease_cas(key, lease, options).value;
}

META_MEMCACHE_DECL bool CacheClient::release_lease(KeyView key, std::uint64_t cas_token) {
    const State::Pin pin(*s_);
    DeleteOptions o;
    o.cas_token = cas_token;
    o.failure.track_write_failures = false;
    return del(key, o);
}

}  // namespace meta_memcache
