#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/client/domain_counters.hpp>
#include <meta_memcache/impl/client/large_values.hpp>
#include <meta_memcache/impl/client/read_sinks.hpp>

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

    [[nodiscard]] ExecContext context(const FailureHandling& fh) const {
        ExecContext ctx;
        ctx.track_write_failures = fh.track_write_failures;
        ctx.on_write_failure = &on_write_failure;
        ctx.key_prefix = options.key_prefix;
        ctx.max_item_size = options.max_item_size;
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

META_MEMCACHE_DECL std::optional<std::uint64_t> CacheClient::State::set_large(
    KeyView key,
    std::string_view value,
    std::int64_t ttl,
    RequestFlags index_flags,
    const FailureHandling& failure,
    bool& stored) {
    stored = false;
    const auto& lv = options.large_values;
    if (value.size() > lv.max_value_size) {
        throw InvalidInputError("value of " + std::to_string(value.size()) +
                                " bytes is over large_values.max_value_size (" +
                                std::to_string(lv.max_value_size) + ")");
    }
    if (index_flags.mode &&
        (*index_flags.mode == Mode::append || *index_flags.mode == Mode::prepend)) {
        throw InvalidInputError("append and prepend cannot apply to a value split into chunks");
    }
    const std::size_t chunk = chunk_size();
    detail::ChunkIndex idx;
    idx.version = detail::new_chunk_version();
    idx.count = static_cast<std::uint32_t>((value.size() + chunk - 1) / chunk);
    idx.size = value.size();
    idx.checksum = detail::value_checksum(value);
    idx.chunk_size = chunk;

    // Chunks outlive their index by a minute so a reader never finds the index alive and
    // a chunk expired; they are unreachable without it, so their failures are not tracked.
    RequestFlags cf;
    cf.client_flag = 0;
    if (ttl != 0)
        cf.cache_ttl = std::min<std::int64_t>(ttl + 60, detail::max_ttl);
    else
        cf.cache_ttl = 0;
    std::vector<std::string> keys(idx.count);
    std::vector<Request> reqs(idx.count);
    for (std::uint32_t i = 0; i < idx.count; ++i) {
        keys[i] = detail::chunk_key(key.key, idx.version, i);
    }
    for (std::uint32_t i = 0; i < idx.count; ++i) {
        reqs[i] = Request{MetaCommand::set, KeyView(keys[i], key.route(), key.domain),
                          value.substr(static_cast<std::size_t>(i) * chunk, chunk), cf};
    }
    std::vector<Response> out(idx.count);
    FailureHandling untracked = failure;
    untracked.track_write_failures = false;
    router->execute(reqs, out, context(untracked));
    for (const Response& r : out) {
        check(r, failure);
        if (!std::holds_alternative<Success>(r))
            return std::nullopt;
    }
    index_flags.client_flag = index_flags.client_flag.value_or(0) | detail::chunked_flag;
    index_flags.cache_ttl = ttl;
    const std::string index = detail::encode_chunk_index(idx);
    Response r = exec1(Request{MetaCommand::set, key, index, index_flags}, failure);
    if (const auto* ok = std::get_if<Success>(&r)) {
        stored = true;
        return ok->flags.cas_token;
    }
    return std::nullopt;
}

META_MEMCACHE_DECL void CacheClient::State::resolve_chunks(std::span<const KeyView> keys,
                                                           std::span<Fetched> items,
                                                           std::optional<std::int64_t> touch_ttl,
                                                           const FailureHandling& failure) {
    struct Job {
        std::size_t item;
        detail::ChunkIndex index;
        std::size_t first;
    };
    std::vector<Job> jobs;
    std::vector<std::string> ckeys;
    for (std::size_t i = 0; i < items.size(); ++i) {
        Fetched& f = items[i];
        if (!f.cv.value || (f.client_flag & detail::chunked_flag) == 0)
            continue;
        auto idx = detail::parse_chunk_index(*f.cv.value);
        f.client_flag &= ~detail::chunked_flag;
        f.cv.value.reset();
        if (!idx)
            continue;  // not an index after all: a miss
        jobs.push_back(Job{i, std::move(*idx), ckeys.size()});
        for (std::uint32_t c = 0; c < jobs.back().index.count; ++c) {
            ckeys.push_back(detail::chunk_key(keys[i].key, jobs.back().index.version, c));
        }
    }
    if (jobs.empty())
        return;
    RequestFlags rf;
    rf.return_value = true;
    if (touch_ttl && *touch_ttl > 0)
        rf.cache_ttl = std::min<std::int64_t>(*touch_ttl + 60, detail::max_ttl);
    std::vector<Request> reqs;
    reqs.reserve(ckeys.size());
    for (const Job& j : jobs) {
        for (std::uint32_t c = 0; c < j.index.count; ++c) {
            reqs.push_back(
                Request{MetaCommand::get,
                        KeyView(ckeys[j.first + c], keys[j.item].route(), keys[j.item].domain),
                        {},
                        rf});
        }
    }
    std::vector<Response> out(reqs.size());
    FailureHandling untracked = failure;
    untracked.track_write_failures = false;
    router->execute(reqs, out, context(untracked));
    for (const Job& j : jobs) {
        std::string whole;
        whole.reserve(static_cast<std::size_t>(j.index.size));
        bool complete = true;
        for (std::uint32_t c = 0; c < j.index.count && complete; ++c) {
            const Response& r = out[j.first + c];
            check(r, failure);
            const auto* v = std::get_if<Value>(&r);
            complete = v != nullptr;
            if (complete)
                whole += v->data;
        }
        if (complete && whole.size() == j.index.size &&
            detail::value_checksum(whole) == j.index.checksum) {
            items[j.item].cv.value = std::move(whole);
        }
    }
}

META_MEMCACHE_DECL CacheClient::CacheClient(std::shared_ptr<Router> router, ClientOptions options)
    : s_(std::make_unique<State>()) {
    if (!router)
        throw InvalidInputError("CacheClient needs a router");
    if (options.max_item_size < 4096) {
        throw InvalidInputError("ClientOptions: max_item_size must be at least 4096 bytes");
    }
    if (options.large_values.chunk_size > options.max_item_size - 1024) {
        throw InvalidInputError(
            "ClientOptions: large_values.chunk_size must leave 1 KiB of "
            "max_item_size for the key and item header");
    }
    s_->router = std::move(router);
    s_->serializer = options.serializer ? options.serializer : std::make_shared<Serializer>();
    s_->options = std::move(options);
}
META_MEMCACHE_DECL CacheClient::~CacheClient() = default;
META_MEMCACHE_DECL CacheClient::CacheClient(CacheClient&&) noexcept = default;
META_MEMCACHE_DECL CacheClient& CacheClient::operator=(CacheClient&&) noexcept = default;

// ---- meta commands ----------------------------------------------------------------------

META_MEMCACHE_DECL ReadResponse CacheClient::meta_get(KeyView key,
                                                      const RequestFlags& flags,
                                                      const FailureHandling& failure) {
    using namespace detail::cache_client_impl;
    return to_read(s_->exec1(Request{MetaCommand::get, key, {}, flags}, failure));
}

META_MEMCACHE_DECL std::vector<ReadResponse> CacheClient::meta_multiget(
    std::span<const KeyView> keys, const RequestFlags& flags, const FailureHandling& failure) {
    using namespace detail::cache_client_impl;
    std::vector<Request> reqs;
    reqs.reserve(keys.size());
    for (const KeyView& k : keys)
        reqs.push_back(Request{MetaCommand::get, k, {}, flags});
    std::vector<Response> out(keys.size());
    s_->router->execute(reqs, out, s_->context(failure));
    std::vector<ReadResponse> result;
    result.reserve(out.size());
    for (auto& r : out) {
        s_->check(r, failure);
        result.push_back(to_read(std::move(r)));
    }
    return result;
}

META_MEMCACHE_DECL WriteResponse CacheClient::meta_set(KeyView key,
                                                       std::string_view value,
                                                       std::int64_t ttl,
                                                       const RequestFlags& flags,
                                                       const FailureHandling& failure) {
    using namespace detail::cache_client_impl;
    RequestFlags f = flags;
    f.cache_ttl = ttl;
    return to_write(s_->exec1(Request{MetaCommand::set, key, value, f}, failure), "ms");
}

META_MEMCACHE_DECL WriteResponse CacheClient::meta_delete(KeyView key,
                                                          const RequestFlags& flags,
                                                          const FailureHandling& failure) {
    using namespace detail::cache_client_impl;
    return to_write(s_->exec1(Request{MetaCommand::del, key, {}, flags}, failure), "md");
}

META_MEMCACHE_DECL ArithmeticResponse CacheClient::meta_arithmetic(KeyView key,
                                                                   const RequestFlags& flags,
                                                                   const FailureHandling& failure) {
    Response r = s_->exec1(Request{MetaCommand::arithmetic, key, {}, flags}, failure);
    return std::visit(
        [](auto&& v) -> ArithmeticResponse {
            return ArithmeticResponse{std::forward<decltype(v)>(v)};
        },
        std::move(r));
}

// ---- writes -------------------------------------------------------------------------------

META_MEMCACHE_DECL CacheClient::WriteResult CacheClient::set_encoded(KeyView key,
                                                                     const EncodedValue& value,
                                                                     std::int64_t ttl,
                                                                     const SetOptions& options,
                                                                     bool want_cas) {
    using namespace detail::cache_client_impl;
    if (want_cas && options.no_reply) {
        throw InvalidInputError("set_cas: no_reply cannot return a CAS token");
    }
    RequestFlags f = set_flags(options);
    f.client_flag = value.client_flag();
    f.return_cas_token = want_cas;
    WriteResult out;
    if (s_->splits(value.data())) {
        out.cas_token = s_->set_large(key, value.data(), ttl, f, options.failure, out.stored);
        return out;
    }
    f.cache_ttl = ttl;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::set, key, value.data(), f}, sink, options.failure);
    if (sink.code == detail::ResponseCode::header) {
        out.stored = true;
        out.cas_token = sink.cas;
    }
    return out;
}

META_MEMCACHE_DECL SetOptions CacheClient::refill_options(bool no_reply) noexcept {
    SetOptions o;
    o.mode = SetMode::add;
    o.no_reply = no_reply;
    o.failure.track_write_failures = false;
    return o;
}

META_MEMCACHE_DECL bool CacheClient::del(KeyView key, const DeleteOptions& options) {
    using namespace detail::cache_client_impl;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::del, key, {}, delete_flags(options)}, sink, options.failure);
    return sink.code == detail::ResponseCode::header;
}

META_MEMCACHE_DECL bool CacheClient::invalidate(KeyView key, const DeleteOptions& options) {
    using namespace detail::cache_client_impl;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::del, key, {}, delete_flags(options)}, sink, options.failure);
    return sink.code == detail::ResponseCode::header ||
           sink.code == detail::ResponseCode::not_found;
}

META_MEMCACHE_DECL bool CacheClient::touch(KeyView key,
                                           std::int64_t ttl,
                                           bool no_reply,
                                           const FailureHandling& failure) {
    RequestFlags f;
    f.cache_ttl = ttl;
    f.no_reply = no_reply;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::get, key, {}, f}, sink, failure);
    return sink.code == detail::ResponseCode::header;
}

// ---- reads --------------------------------------------------------------------------------

META_MEMCACHE_DECL std::optional<std::string> CacheClient::get(KeyView key,
                                                               const GetOptions& options) {
    using namespace detail::cache_client_impl;
    // get_cas(key, options).value without carrying the CAS along: the value goes from the
    // read buffer into `out`.
    std::optional<std::string> out;
    detail::ReadSink sink(out);
    s_->run(Request{MetaCommand::get, key, {}, read_flags(options, false)}, sink, options.failure);
    if (sink.code == detail::ResponseCode::header)
        unexpected("HD to mg with v");
    if ((sink.client_flag & detail::chunked_flag) != 0) {
        Fetched f;
        f.cv.value = std::move(out);
        f.client_flag = sink.client_flag;
        return s_->bytes(s_->finish_read(key, std::move(f), options));
    }
    s_->count(key, out.has_value());
    if (out && (sink.client_flag & value_flag::compression_mask) != 0)
        return s_->bytes(detail::RawRead{std::move(out), sink.client_flag, {}, false});
    return out;
}

META_MEMCACHE_DECL detail::RawRead CacheClient::read_raw(KeyView key, const GetOptions& options) {
    using namespace detail::cache_client_impl;
    return s_->finish_read(
        key, interpret(meta_get(key, read_flags(options, true), options.failure)), options);
}

META_MEMCACHE_DECL CasValue CacheClient::get_cas(KeyView key, const GetOptions& options) {
    detail::RawRead raw = read_raw(key, options);
    CasValue out;
    out.cas_token = raw.cas_token;
    out.won = raw.won;
    out.value = s_->bytes(std::move(raw));
    return out;
}

META_MEMCACHE_DECL std::vector<CasValue> CacheClient::multi_get_cas(std::span<const KeyView> keys,
                                                                    const GetOptions& options) {
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
    for (std::size_t i = 0; i < fetched.size(); ++i) {
        Fetched& f = fetched[i];
        s_->count(keys[i], f.cv.value.has_value());
        CasValue c;
        c.cas_token = f.cv.cas_token;
        c.won = f.cv.won;
        c.value = s_->bytes(detail::RawRead{std::move(f.cv.value), f.client_flag, {}, false});
        out.push_back(std::move(c));
    }
    return out;
}

META_MEMCACHE_DECL std::vector<std::optional<std::string>> CacheClient::multi_get(
    std::span<const KeyView> keys, const GetOptions& options) {
    using namespace detail::cache_client_impl;
    // multi_get_cas(keys, options) without the CAS: each value goes from the read buffer
    // into its slot (decompressed on the way); chunked values are joined afterwards.
    const RequestFlags flags = read_flags(options, false);
    std::vector<Request> reqs;
    reqs.reserve(keys.size());
    for (const KeyView& k : keys)
        reqs.push_back(Request{MetaCommand::get, k, {}, flags});
    std::vector<std::optional<std::string>> out(keys.size());
    detail::MultiReadSink sink(out, *s_->serializer);
    s_->router->execute(reqs, sink, s_->context(options.failure));
    if (sink.failure.failed && s_->raise(options.failure))
        sink.failure.raise();
    if (sink.unexpected_header)
        unexpected("HD to mg with v");
    if (!sink.flags.empty()) {
        std::vector<Fetched> chunked;
        std::vector<KeyView> chunked_keys;
        std::vector<std::size_t> at;
        for (std::size_t i = 0; i < out.size(); ++i) {
            const std::uint32_t flag = sink.flags[i];
            if (flag == 0 || !out[i])
                continue;
            if ((flag & detail::chunked_flag) == 0) {  // a large compressed value
                out[i] = s_->bytes(detail::RawRead{std::move(out[i]), flag, {}, false});
                continue;
            }
            Fetched f;
            f.cv.value = std::move(out[i]);
            f.client_flag = flag;
            chunked.push_back(std::move(f));
            chunked_keys.push_back(keys[i]);
            at.push_back(i);
        }
        if (!chunked.empty()) {
            s_->resolve_chunks(chunked_keys, chunked, options.touch_ttl, options.failure);
            for (std::size_t k = 0; k < chunked.size(); ++k) {
                out[at[k]] = s_->bytes(detail::RawRead{
                    std::move(chunked[k].cv.value), chunked[k].client_flag, {}, false});
            }
        }
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        s_->count(keys[i], out[i].has_value());
    return out;
}

META_MEMCACHE_DECL std::size_t CacheClient::visit_values(
    std::span<const KeyView> keys,
    detail::FunctionRef<void(std::size_t, std::string_view)> visit,
    const GetOptions& options) {
    using namespace detail::cache_client_impl;
    const RequestFlags flags = read_flags(options, false);
    std::vector<Request> reqs;
    reqs.reserve(keys.size());
    for (const KeyView& k : keys)
        reqs.push_back(Request{MetaCommand::get, k, {}, flags});
    const auto count = [&](std::size_t i, bool hit) { s_->count(keys[i], hit); };
    detail::VisitSink sink(visit, count, *s_->serializer);
    s_->router->execute(reqs, sink, s_->context(options.failure));
    if (sink.failure.failed && s_->raise(options.failure))
        sink.failure.raise();
    if (sink.unexpected_header)
        unexpected("HD to mg with v");
    // Values that were larger than the read buffer, or chunked: now.
    std::vector<Fetched> chunked;
    std::vector<KeyView> chunked_keys;
    std::vector<std::size_t> chunked_at;
    for (detail::VisitSink::Later& l : sink.later) {
        if (l.failed) {
            count(l.index, false);
        } else if ((l.flag & detail::chunked_flag) != 0) {
            Fetched f;
            f.cv.value = std::move(l.data);
            f.client_flag = l.flag;
            chunked.push_back(std::move(f));
            chunked_keys.push_back(keys[l.index]);
            chunked_at.push_back(l.index);
        } else if (auto v = s_->bytes(detail::RawRead{std::move(l.data), l.flag, {}, false})) {
            sink.hit(l.index, *v);
        } else {
            count(l.index, false);
        }
    }
    if (!chunked.empty()) {
        s_->resolve_chunks(chunked_keys, chunked, options.touch_ttl, options.failure);
        for (std::size_t k = 0; k < chunked.size(); ++k) {
            auto v = s_->bytes(
                detail::RawRead{std::move(chunked[k].cv.value), chunked[k].client_flag, {}, false});
            if (v) {
                sink.hit(chunked_at[k], *v);
            } else {
                count(chunked_at[k], false);
            }
        }
    }
    return sink.hits;
}

META_MEMCACHE_DECL CasValue CacheClient::get_or_lease_cas(KeyView key,
                                                          const LeasePolicy& lease,
                                                          const GetOptions& options) {
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
        s_->count(key, got.cv.value.has_value());
        CasValue out;
        out.cas_token = got.cv.cas_token;
        out.won = got.cv.won;
        out.value = s_->bytes(detail::RawRead{std::move(got.cv.value), got.client_flag, {}, false});
        return out;
    }
    s_->count(key, false);
    return {};
}

META_MEMCACHE_DECL std::optional<std::string> CacheClient::get_or_lease(KeyView key,
                                                                        const LeasePolicy& lease,
                                                                        const GetOptions& options) {
    return get_or_lease_cas(key, lease, options).value;
}

META_MEMCACHE_DECL bool CacheClient::release_lease(KeyView key, std::uint64_t cas_token) {
    DeleteOptions o;
    o.cas_token = cas_token;
    o.failure.track_write_failures = false;
    return del(key, o);
}

// ---- counters -----------------------------------------------------------------------------

META_MEMCACHE_DECL bool CacheClient::delta(KeyView key,
                                           std::int64_t delta,
                                           const DeltaOptions& options) {
    using namespace detail::cache_client_impl;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::arithmetic, key, {}, delta_flags(delta, options)}, sink,
            options.failure);
    return sink.code == detail::ResponseCode::header;
}

META_MEMCACHE_DECL bool CacheClient::delta_initialize(KeyView key,
                                                      std::int64_t delta,
                                                      std::uint64_t initial_value,
                                                      std::int64_t initial_ttl,
                                                      const DeltaOptions& options) {
    using namespace detail::cache_client_impl;
    RequestFlags f = delta_flags(delta, options);
    f.vivify_on_miss_ttl = initial_ttl;
    f.ma_initial_value = initial_value;
    const ArithmeticResponse r = meta_arithmetic(key, f, options.failure);
    // memcached 1.6.18 answers an auto-created item even under q (a VA or HD).
    return std::holds_alternative<Success>(r) || std::holds_alternative<Value>(r);
}

META_MEMCACHE_DECL std::optional<std::int64_t> CacheClient::delta_and_get(
    KeyView key, std::int64_t delta, const DeltaOptions& options) {
    using namespace detail::cache_client_impl;
    if (options.no_reply)
        throw InvalidInputError("delta_and_get: no_reply returns no value");
    RequestFlags f = delta_flags(delta, options);
    f.return_value = true;
    return counter_value(meta_arithmetic(key, f, options.failure));
}

META_MEMCACHE_DECL std::optional<std::int64_t> CacheClient::delta_initialize_and_get(
    KeyView key,
    std::int64_t delta,
    std::uint64_t initial_value,
    std::int64_t initial_ttl,
    const DeltaOptions& options) {
    using namespace detail::cache_client_impl;
    if (options.no_reply) {
        throw InvalidInputError("delta_initialize_and_get: no_reply returns no value");
    }
    RequestFlags f = delta_flags(delta, options);
    f.return_value = true;
    f.vivify_on_miss_ttl = initial_ttl;
    f.ma_initial_value = initial_value;
    return counter_value(meta_arithmetic(key, f, options.failure));
}

// ---- events and counters ----------------------------------------------------------------

META_MEMCACHE_DECL WriteFailureEvent& CacheClient::on_write_failure() noexcept {
    return s_->on_write_failure;
}

META_MEMCACHE_DECL ClientCounters CacheClient::get_counters() const {
    ClientCounters out;
    out.servers = s_->router->get_counters();
    for (const auto& [name, c] : s_->domains.read())
        out.domains[name] = DomainCounters{c.first, c.second};
    return out;
}

META_MEMCACHE_DECL Router& CacheClient::router() noexcept {
    return *s_->router;
}

META_MEMCACHE_DECL const Router& CacheClient::router() const noexcept {
    return *s_->router;
}

META_MEMCACHE_DECL Serializer& CacheClient::serializer() const noexcept {
    return *s_->serializer;
}

META_MEMCACHE_DECL const ClientOptions& CacheClient::options() const noexcept {
    return s_->options;
}

}  // namespace meta_memcache
