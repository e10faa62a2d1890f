#pragma once

// What a CacheClient holds (its router, options, serializer, write-failure event and
// counters) and the helpers its commands share: request flags from options, answers into
// results. Private to the implementation files of the client (commands, read path,
// chunked values).

#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/client/domain_counters.hpp>
#include <meta_memcache/impl/client/hot_cache.hpp>
#include <meta_memcache/impl/client/large_values.hpp>
#include <meta_memcache/impl/client/read_sinks.hpp>
#include <meta_memcache/impl/observe/hub.hpp>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace meta_memcache {

namespace detail::cache_client_impl {

/// A read as the caller sees it, plus the client flag the value was stored with.
struct Fetched {
    CasValue cv;
    std::uint32_t client_flag = 0;
};

}  // namespace detail::cache_client_impl

struct CacheClient::State {
    using Fetched = detail::cache_client_impl::Fetched;

    std::shared_ptr<Router> router;
    ClientOptions options;
    std::shared_ptr<Serializer> serializer;
    WriteFailureEvent on_write_failure;
    detail::DomainTable domains;
    // The hot cache and the observer (client_extras.ipp): `router` is then the hot
    // cache's, in front of `own_router`.
    std::shared_ptr<Router> own_router;
    std::shared_ptr<detail::HotCacheRouter> hot;
    std::unique_ptr<detail::ObserverHub> hub;
    void set_up_extras();
    void add_extra_counters(ClientCounters& out) const;
    /// A get (no CAS) of a key the hot cache keeps: true with `out` set (and counted).
    bool served_hot(const KeyView& key, const GetOptions& get, std::optional<std::string>& out) {
        return hot && hot->keeps_any() && serve_hot(key, get, out);
    }
    bool serve_hot(const KeyView& key, const GetOptions& get, std::optional<std::string>& out);

    [[nodiscard]] ExecContext context(const FailureHandling& fh) const {
        ExecContext ctx;
        ctx.track_write_failures = fh.track_write_failures;
        ctx.on_write_failure = &on_write_failure;
        ctx.key_prefix = options.key_prefix;
        ctx.max_item_size = options.max_item_size;
        ctx.observer = hub.get();
        return ctx;
    }

    [[nodiscard]] bool raise(const FailureHandling& fh) const {
        if (fh.raise_on_server_error)
            return *fh.raise_on_server_error;
        if (options.raise_on_server_error)
            return *options.raise_on_server_error;
        return router->default_raise_on_server_error();
    }

    /// Throws the failure a response stands for, when the call raises.
    void check(const Response& r, const FailureHandling& fh) const {
        if (!is_error_response(r) || !raise(fh))
            return;
        if (const auto* m = std::get_if<Miss>(&r))
            std::rethrow_exception(m->error);
        std::rethrow_exception(std::get<NotStored>(r).error);
    }

    Response exec1(const Request& req, const FailureHandling& fh) {
        Response out;
        router->execute(std::span<const Request>(&req, 1), std::span<Response>(&out, 1),
                        context(fh));
        check(out, fh);
        return out;
    }

    /// Sends one request, its answer into `sink`; throws its failure when the call raises.
    template <class Sink>
    void run(const Request& req, Sink& sink, const FailureHandling& fh) {
        router->execute(std::span<const Request>(&req, 1), sink, context(fh));
        if (sink.failure.failed && raise(fh))
            sink.failure.raise();
    }

    void count(KeyView key, bool hit) { domains[key.domain].count(hit); }

    void wait(std::chrono::milliseconds d) const {
        if (options.lease_wait) {
            options.lease_wait(d);
        } else {
            std::this_thread::sleep_for(d);
        }
    }

    /// The value's bytes as stored (decompressed), or nothing when they cannot be decoded.
    [[nodiscard]] std::optional<std::string> bytes(detail::RawRead&& raw) const {
        if (!raw.data)
            return std::nullopt;
        if ((raw.client_flag & value_flag::compression_mask) == 0)
            return std::move(raw.data);
        DecodeResult<std::string> r = serializer->try_decode_bytes(*raw.data, raw.client_flag);
        return std::move(r.value);  // a decode error reads as a miss, as in meta-memcache-py
    }

    /// A read's last steps: joins a chunked value, counts the hit or miss.
    detail::RawRead finish_read(KeyView key, Fetched&& f, const GetOptions& get) {
        if ((f.client_flag & detail::chunked_flag) != 0) {
            resolve_chunks(std::span<const KeyView>(&key, 1), std::span<Fetched>(&f, 1),
                           get.touch_ttl, get.failure);
        }
        count(key, f.cv.value.has_value());
        return detail::RawRead{std::move(f.cv.value), f.client_flag, f.cv.cas_token, f.cv.won};
    }

    [[nodiscard]] std::size_t chunk_size() const noexcept {
        const auto& lv = options.large_values;
        return lv.chunk_size != 0 ? lv.chunk_size : options.max_item_size - 1024;
    }

    [[nodiscard]] bool splits(std::string_view value) const noexcept {
        return options.large_values.enabled && value.size() > chunk_size();
    }

    std::optional<std::uint64_t> set_large(KeyView key,
                                           std::string_view value,
                                           std::int64_t ttl,
                                           RequestFlags index_flags,
                                           const FailureHandling& failure,
                                           bool& stored);

    void resolve_chunks(std::span<const KeyView> keys,
                        std::span<Fetched> items,
                        std::optional<std::int64_t> touch_ttl,
                        const FailureHandling& failure);
};

namespace detail::cache_client_impl {

[[noreturn]] inline void unexpected(std::string_view what) {
    throw ProtocolError("unexpected answer: " + std::string(what), {});
}

inline WriteResponse to_write(Response&& r, std::string_view command) {
    return std::visit(
        [&](auto&& v) -> WriteResponse {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Value>) {
                unexpected(std::string("VA to ") + std::string(command));
            } else {
                return WriteResponse{std::forward<decltype(v)>(v)};
            }
        },
        std::move(r));
}

inline ReadResponse to_read(Response&& r) {
    return std::visit(
        [](auto&& v) -> ReadResponse {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Miss> || std::is_same_v<T, Value> ||
                          std::is_same_v<T, Success>) {
                return ReadResponse{std::forward<decltype(v)>(v)};
            } else if constexpr (std::is_same_v<T, NotStored>) {
                return ReadResponse{Miss{std::move(v.error)}};
            } else {
                unexpected("EX to mg");
            }
        },
        std::move(r));
}

inline Mode to_mode(SetMode m) noexcept {
    switch (m) {
        case SetMode::set:
            return Mode::set;
        case SetMode::add:
            return Mode::add;
        case SetMode::replace:
            return Mode::replace;
        case SetMode::append:
            return Mode::append;
        case SetMode::prepend:
            return Mode::prepend;
    }
    return Mode::set;
}

/// The reference client's read flags: f v t l h (+ c), plus touch and recache.
/// The flags of a high-level read: the value and its client flag (+ its CAS when the
/// caller gets one). meta-memcache-py also asks for t l h, which nothing here reads back:
/// leaving them out saves memcached work and bytes on every key (the server updates
/// last-access and fetched state either way).
inline RequestFlags read_flags(const GetOptions& o, bool cas) {
    RequestFlags f;
    f.return_client_flag = true;
    f.return_cas_token = cas;
    f.return_value = true;
    if (o.touch_ttl && *o.touch_ttl >= 0)
        f.cache_ttl = *o.touch_ttl;
    if (o.recache_policy)
        f.recache_ttl = o.recache_policy->ttl;
    return f;
}

/// What a read means to the caller: W -> won (no value), an empty value with Z -> a lease
/// placeholder (no value), anything else carrying data -> a hit (a stale value served
/// while someone else recomputes included).
inline Fetched interpret(ReadResponse&& r) {
    Fetched out;
    if (auto* v = std::get_if<Value>(&r)) {
        out.cv.cas_token = v->flags.cas_token;
        out.client_flag = v->flags.client_flag.value_or(0);
        if (v->flags.win == true) {
            out.cv.won = true;
        } else if (!(v->data.empty() && v->flags.win == false)) {
            out.cv.value = std::move(v->data);
        }
        return out;
    }
    if (std::holds_alternative<Success>(r))
        unexpected("HD to mg with v");
    return out;
}

inline RequestFlags set_flags(const SetOptions& o) {
    RequestFlags f;
    f.no_reply = o.no_reply;
    f.cas_token = o.cas_token;
    if (o.cas_token && o.stale_policy && o.stale_policy->mark_stale_on_cas_mismatch) {
        f.mark_stale = true;
    }
    if (o.mode != SetMode::set)
        f.mode = to_mode(o.mode);
    return f;
}

inline RequestFlags delete_flags(const DeleteOptions& o) {
    RequestFlags f;
    f.no_reply = o.no_reply;
    f.cas_token = o.cas_token;
    if (o.stale_policy && o.stale_policy->mark_stale_on_deletion_ttl > 0) {
        f.mark_stale = true;
        f.cache_ttl = o.stale_policy->mark_stale_on_deletion_ttl;
    }
    return f;
}

inline RequestFlags delta_flags(std::int64_t delta, const DeltaOptions& o) {
    RequestFlags f;
    f.no_reply = o.no_reply;
    f.ma_delta_value =
        delta < 0 ? 0 - static_cast<std::uint64_t>(delta) : static_cast<std::uint64_t>(delta);
    if (delta < 0)
        f.mode = Mode::decrement;
    if (o.refresh_ttl)
        f.cache_ttl = *o.refresh_ttl;
    f.cas_token = o.cas_token;
    return f;
}

inline std::optional<std::int64_t> counter_value(ArithmeticResponse&& r) {
    auto* v = std::get_if<Value>(&r);
    if (v == nullptr)
        return std::nullopt;
    std::uint64_t n = 0;
    if (!detail::parse_counter(v->data, n)) {
        throw ProtocolError("counter value \"" + v->data + "\" is not a number", {});
    }
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw ProtocolError("counter value " + v->data + " does not fit in int64", {});
    }
    return static_cast<std::int64_t>(n);
}

}  // namespace detail::cache_client_impl

}  // namespace meta_memcache
