#pragma once

// What a CacheClient holds (its router, options, serializer, write-failure event and
// counters) and the helpers its commands share: request flags from options, answers into
// results. Private to the implementation files of the client (commands, read path,
// chunked values).

#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/client/domain_counters.hpp>
#include <meta_memcache/impl/client/hot_cache.hpp>
#include <meta_memcache/impl/client/large_values.hpp>
#include <meta_memcache/impl/client/read_sinks.hpp>
#include <meta_memcache/impl/io/one_key.hpp>
#include <meta_memcache/impl/observe/hub.hpp>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace meta_memcache {

namespace detail::cache_client_impl {

/// The router a call running on this thread pinned (CacheClient::State::Pin): the client
/// state it belongs to and the router all of that call's requests go through.
struct PinnedCall {
    const void* state = nullptr;
    Router* front = nullptr;
};
inline thread_local PinnedCall pinned_call{};

/// How far get() went before State::finish_get.
enum class GetStart : std::uint8_t {
    declined,  ///< the one-key path declined: nothing sent
    sent,      ///< the one-key path read it: its answer is in the sink
};

/// A read as the caller sees it, plus the client flag the value was stored with.
struct Fetched {
    CasValue cv;
    std::uint32_t client_flag = 0;
};

}  // namespace detail::cache_client_impl

struct CacheClient::State {
    using Fetched = detail::cache_client_impl::Fetched;

    ClientOptions options;
    std::shared_ptr<Serializer> serializer;
    WriteFailureEvent on_write_failure;
    detail::DomainTable domains;
    // What calls send through: the router, or the hot cache in front of it. Read with one
    // atomic load of a raw pointer (no reference count, no shared write); switch_to()
    // replaces them, and every router they ever pointed to stays alive in `kept` until
    // the client is destroyed, so a call that loaded one may use it to its end.
    std::atomic<Router*> front_{nullptr};
    std::atomic<Router*> own_{nullptr};
    std::atomic<detail::HotCacheRouter*> hot_{nullptr};
    std::mutex switch_mutex;
    std::vector<std::shared_ptr<Router>> kept;  // guarded by switch_mutex
    // The observer (client_extras.ipp).
    std::unique_ptr<detail::ObserverHub> hub;
    void set_up_extras();
    /// Sends every call that starts from now on through `router` (behind a new hot cache
    /// when the options have one).
    void switch_to(std::shared_ptr<Router> router);
    void add_extra_counters(ClientCounters& out) const;
    /// The hot cache when it keeps any key (a read may be served from it), else null.
    [[nodiscard]] detail::HotCacheRouter* hot_keeping_keys() const noexcept {
        detail::HotCacheRouter* hot = hot_.load(std::memory_order_acquire);
        return hot != nullptr && hot->keeps_any() ? hot : nullptr;
    }
    /// A get (no CAS) of a key the hot cache keeps: true with `out` set (and counted).
    bool served_hot(const KeyView& key, const GetOptions& get, std::optional<std::string>& out) {
        detail::HotCacheRouter* hot = hot_keeping_keys();
        return hot != nullptr && serve_hot(*hot, key, get, out);
    }
    bool serve_hot(detail::HotCacheRouter& hot,
                   const KeyView& key,
                   const GetOptions& get,
                   std::optional<std::string>& out);
    /// get() while `hot` keeps keys: its copy, else the read (read_path.ipp).
    void get_hot(detail::HotCacheRouter& hot,
                 const KeyView& key,
                 const GetOptions& get,
                 std::optional<std::string>& out);

    /// The router this thread's call pinned, or the current one outside of a call.
    [[nodiscard]] Router& front() const noexcept {
        const detail::cache_client_impl::PinnedCall& p = detail::cache_client_impl::pinned_call;
        if (p.state == this)
            return *p.front;
        return *front_.load(std::memory_order_acquire);
    }
    [[nodiscard]] Router& own() const noexcept { return *own_.load(std::memory_order_acquire); }

    /// For the length of one public call: every request of it goes through the router that
    /// was current when it began (nested calls of the same client keep it).
    class Pin {
    public:
        explicit Pin(const State& s) noexcept : saved_(detail::cache_client_impl::pinned_call) {
            if (saved_.state != &s) {
                detail::cache_client_impl::pinned_call = {&s,
                                                          s.front_.load(std::memory_order_acquire)};
            }
        }
        ~Pin() { detail::cache_client_impl::pinned_call = saved_; }
        Pin(const Pin&) = delete;
        Pin& operator=(const Pin&) = delete;
        Pin(Pin&&) = delete;
        Pin& operator=(Pin&&) = delete;

    private:
        detail::cache_client_impl::PinnedCall saved_;
    };

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
        return front().default_raise_on_server_error();
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
        front().execute(std::span<const Request>(&req, 1), std::span<Response>(&out, 1),
                        context(fh));
        check(out, fh);
        return out;
    }

    /// Sends one request, its answer into `sink`; throws its failure when the call raises.
    template <class Sink>
    void run(const Request& req, Sink& sink, const FailureHandling& fh) {
        front().execute(std::span<const Request>(&req, 1), sink, context(fh));
        raise_if_failed(sink, fh);
    }

    /// Throws the failure `sink` holds, when there is one and the call raises.
    template <class Sink>
    void raise_if_failed(const Sink& sink, const FailureHandling& fh) const {
        if (sink.failure.failed && raise(fh))
            sink.failure.raise();
    }

    /// A get with nothing but a plain read to it (no touch, recache or observer) of a key
    /// the router sends to one pool as it is: on the one-key path (impl/io/one_key.hpp).
    /// False when nothing was sent: run it as any other request.
    template <class Sink>
    bool run_plain_read(const KeyView& key, const GetOptions& get, Sink& sink) {
        if (get.touch_ttl || get.recache_policy || hub)
            return false;
        ConnectionPool* pool = front().direct_pool(key, true);
        if (pool == nullptr ||
            detail::read_one(*pool, key, sink, options.key_prefix, options.max_item_size,
                             [&] { return context(get.failure); }) == detail::OneKey::declined)
            return false;
        raise_if_failed(sink, get.failure);
        return true;
    }

    /// get() past its one-key attempt, with the call's router pinned (read_path.ipp).
    void finish_get(KeyView key,
                    const GetOptions& get,
                    std::optional<std::string>& out,
                    detail::ReadSink& sink,
                    detail::cache_client_impl::GetStart start);

    /// The same for a plain set (no mode, CAS, no_reply, chunking or observer).
    template <class Sink>
    bool run_plain_set(const KeyView& key,
                       std::string_view value,
                       std::uint32_t client_flag,
                       std::int64_t ttl,
                       const SetOptions& set,
                       Sink& sink) {
        if (set.mode != SetMode::set || set.cas_token || set.no_reply || hub)
            return false;
        ConnectionPool* pool = front().direct_pool(key, false);
        if (pool == nullptr || detail::set_one(*pool, key, value, client_flag, ttl, sink,
                                               options.key_prefix, options.max_item_size, [&] {
                                                   return context(set.failure);
                                               }) == detail::OneKey::declined)
            return false;
        raise_if_failed(sink, set.failure);
        return true;
    }

    [[gnu::always_inline]] void count(const KeyView& key, bool hit) {
        domains[key.domain].count(hit ? detail::ReadOutcome::hit : detail::ReadOutcome::miss);
    }

    void wait(std::chrono::milliseconds d) const {
        if (options.lease_wait) {
            options.lease_wait(d);
        } else {
            std::this_thread::sleep_for(d);
        }
    }

    /// The first value of a read whose bytes could not be decoded.
    struct Undecodable {
        std::optional<std::string> message{};

        void note(KeyView key, std::string_view why) {
            if (!message) {
                message = "the value of key \"" + std::string(key.key) +
                          "\" cannot be decoded: " + std::string(why);
            }
        }
        /// Throws DecodeError for it when the read is strict.
        void raise(const GetOptions& get) const {
            if (message && get.error_on_undecodable)
                throw DecodeError(*message);
        }
    };

    /// A read's value as the caller gets it: the stored bytes, decompressed, counted as a
    /// hit or a miss. Bytes that cannot be decoded read as a miss (as in meta-memcache-py),
    /// counted as undecodable too and noted in `bad`.
    [[nodiscard]] std::optional<std::string> deliver(KeyView key,
                                                     std::optional<std::string>&& data,
                                                     std::uint32_t client_flag,
                                                     Undecodable& bad) {
        if (!data || (client_flag & value_flag::compression_mask) == 0) {
            count(key, data.has_value());
            return std::move(data);
        }
        DecodeResult<std::string> r = serializer->try_decode_bytes(*data, client_flag);
        if (!r) {
            domains[key.domain].count(detail::ReadOutcome::undecodable);
            bad.note(key, r.error);
            return std::nullopt;
        }
        count(key, true);
        return std::move(r.value);
    }

    /// deliver() for a read of one key, throwing for undecodable bytes when it is strict.
    [[nodiscard]] std::optional<std::string> deliver(KeyView key,
                                                     std::optional<std::string>&& data,
                                                     std::uint32_t client_flag,
                                                     const GetOptions& get) {
        Undecodable bad;
        std::optional<std::string> out = deliver(key, std::move(data), client_flag, bad);
        bad.raise(get);
        return out;
    }

    /// A read's last steps: joins a chunked value, decompresses it, counts the outcome. The
    /// result carries the type flag (no compression bits: its bytes are decompressed).
    detail::RawRead finish_read(KeyView key, Fetched&& f, const GetOptions& get) {
        if ((f.client_flag & detail::chunked_flag) != 0) {
            resolve_chunks(std::span<const KeyView>(&key, 1), std::span<Fetched>(&f, 1),
                           get.touch_ttl, get.failure);
        }
        std::optional<std::string> value = deliver(key, std::move(f.cv.value), f.client_flag, get);
        return detail::RawRead{std::move(value), f.client_flag & ~value_flag::compression_mask,
                               f.cv.cas_token, f.cv.won};
    }

    [[nodiscard]] std::size_t chunk_size() const noexcept {
        const auto& lv = options.large_values;
        return lv.chunk_size != 0 ? lv.chunk_size : options.max_item_size - 1024;
    }

    [[nodiscard]] bool splits(std::string_view value) const noexcept {
        return options.large_values.enabled && value.size() > chunk_size();
    }

    /// Before an append or prepend with large values on: the CAS of the key's value, to
    /// guard the write with; nothing on a miss. @throws InvalidInputError when the key
    /// holds the index of a chunked value (the write would destroy it).
    std::optional<std::uint64_t> cas_if_unsplit(KeyView key, const FailureHandling& failure);

    std::optional<std::uint64_t> set_large(KeyView key,
                                           std::string_view value,
                                           std::int64_t ttl,
                                           RequestFlags index_flags,
                                           const FailureHandling& failure,
                                           bool& stored);

    [[nodiscard]] std::optional<std::uint64_t> counter_value(KeyView key,
                                                             ArithmeticResponse&& r,
                                                             const FailureHandling& failure) const;

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
    RequestFlags f = plain_read_flags();  // f v: what the one-key path sends
    f.return_cas_token = cas;
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
    if (o.stale_policy && o.stale_policy->mark_stale_on_deletion_ttl < 0) {
        // Not a hard delete in disguise: a negative TTL is a mistake, as everywhere else.
        throw InvalidInputError("StalePolicy: mark_stale_on_deletion_ttl is " +
                                std::to_string(o.stale_policy->mark_stale_on_deletion_ttl) +
                                "; it must be 0 (delete) or a positive number of seconds");
    }
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

}  // namespace detail::cache_client_impl

/// The new value a counter command answered: nothing on a miss. An answer that is no
/// number is a ProtocolError naming the key's server, or nothing when the call does not
/// raise.
inline std::optional<std::uint64_t> CacheClient::State::counter_value(
    KeyView key, ArithmeticResponse&& r, const FailureHandling& failure) const {
    auto* v = std::get_if<Value>(&r);
    if (v == nullptr)
        return std::nullopt;
    std::uint64_t n = 0;
    if (detail::parse_counter(v->data, n))
        return n;
    if (!raise(failure))
        return std::nullopt;
    const std::shared_ptr<ConnectionPool> pool = front().pool_for_key(key);
    throw ProtocolError("counter value \"" + v->data + "\" is not a number",
                        pool ? pool->name() : std::string());
}

namespace detail::cache_client_impl {}  // namespace detail::cache_client_impl

}  // namespace meta_memcache
