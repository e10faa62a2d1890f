#pragma once

// CacheClient: construction, the meta commands, the writes, the counters and accessors
// (the reads are in read_path.ipp, large values in chunked_values.ipp).

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/client_state.hpp>

namespace meta_memcache {

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
    s_->serializer = options.serializer ? options.serializer : std::make_shared<Serializer>();
    const std::size_t readable = s_->serializer->options().max_decompressed_size;
    if (options.large_values.max_value_size > readable) {
        throw InvalidInputError("ClientOptions: large_values.max_value_size (" +
                                std::to_string(options.large_values.max_value_size) +
                                ") is over the serializer's max_decompressed_size (" +
                                std::to_string(readable) +
                                "): values between the two would be stored but never read");
    }
    s_->options = std::move(options);
    s_->set_up_extras();
    s_->switch_to(std::move(router));
}
META_MEMCACHE_DECL CacheClient::~CacheClient() = default;
META_MEMCACHE_DECL CacheClient::CacheClient(CacheClient&&) noexcept = default;
META_MEMCACHE_DECL CacheClient& CacheClient::operator=(CacheClient&&) noexcept = default;

// ---- meta commands ----------------------------------------------------------------------

META_MEMCACHE_DECL ReadResponse CacheClient::meta_get(KeyView key,
                                                      const RequestFlags& flags,
                                                      const FailureHandling& failure) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    return to_read(s_->exec1(Request{MetaCommand::get, key, {}, flags}, failure));
}

META_MEMCACHE_DECL std::vector<ReadResponse> CacheClient::meta_multiget(
    std::span<const KeyView> keys, const RequestFlags& flags, const FailureHandling& failure) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    std::vector<Request> reqs;
    reqs.reserve(keys.size());
    for (const KeyView& k : keys)
        reqs.push_back(Request{MetaCommand::get, k, {}, flags});
    std::vector<Response> out(keys.size());
    s_->front().execute(reqs, out, s_->context(failure));
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
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    RequestFlags f = flags;
    f.cache_ttl = ttl;
    return to_write(s_->exec1(Request{MetaCommand::set, key, value, f}, failure), "ms");
}

META_MEMCACHE_DECL WriteResponse CacheClient::meta_delete(KeyView key,
                                                          const RequestFlags& flags,
                                                          const FailureHandling& failure) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    return to_write(s_->exec1(Request{MetaCommand::del, key, {}, flags}, failure), "md");
}

META_MEMCACHE_DECL ArithmeticResponse CacheClient::meta_arithmetic(KeyView key,
                                                                   const RequestFlags& flags,
                                                                   const FailureHandling& failure) {
    const State::Pin pin(*s_);
    Response r = s_->exec1(Request{MetaCommand::arithmetic, key, {}, flags}, failure);
    return std::visit(
        [](auto&& v) -> ArithmeticResponse {
            return ArithmeticResponse{std::forward<decltype(v)>(v)};
        },
        std::move(r));
}

// ---- writes -------------------------------------------------------------------------------

META_MEMCACHE_DECL void CacheClient::compress_checked(KeyView key, EncodedValue& encoded) const {
    const std::size_t limit = s_->options.large_values.max_value_size;
    const std::size_t size = encoded.data().size();
    if (size > limit) {
        throw InvalidInputError("value of " + std::to_string(size) +
                                " bytes is over large_values.max_value_size (" +
                                std::to_string(limit) +
                                " bytes, counted before compression): a get could not read "
                                "it back");
    }
    if ((encoded.client_flag() & value_flag::reserved_mask) == 0 &&
        !s_->serializer->may_compress(key, size))
        return;  // as compress() would return it
    encoded = s_->serializer->compress(key, std::move(encoded));
}

META_MEMCACHE_DECL CacheClient::WriteResult CacheClient::set_encoded(KeyView key,
                                                                     const EncodedValue& value,
                                                                     std::int64_t ttl,
                                                                     const SetOptions& options,
                                                                     bool want_cas) {
    using namespace detail::cache_client_impl;
    WriteResult out;
    // A plain set uses the router once (run_plain_set): it needs no pin.
    if (!want_cas && !s_->splits(value.data())) {
        detail::StatusSink sink;
        if (s_->run_plain_set(key, value.data(), value.client_flag(), ttl, options, sink)) {
            out.stored = sink.code == detail::ResponseCode::header;
            return out;
        }
    }
    const State::Pin pin(*s_);
    if (want_cas && options.no_reply) {
        throw InvalidInputError("set_cas: no_reply cannot return a CAS token");
    }
    RequestFlags f = set_flags(options);
    f.client_flag = value.client_flag();
    f.return_cas_token = want_cas;
    if (s_->splits(value.data())) {
        out.cas_token = s_->set_large(key, value.data(), ttl, f, options.failure, out.stored);
        return out;
    }
    if (s_->options.large_values.enabled &&
        (options.mode == SetMode::append || options.mode == SetMode::prepend)) {
        // The key may hold a chunked value's index, which the write would destroy: refused;
        // otherwise the write is guarded by the CAS read, so a chunked value written
        // meanwhile is not touched either.
        const std::optional<std::uint64_t> cas = s_->cas_if_unsplit(key, options.failure);
        if (!cas)
            return out;
        f.cas_token = f.cas_token.value_or(*cas);
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
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::del, key, {}, delete_flags(options)}, sink, options.failure);
    return sink.code == detail::ResponseCode::header;
}

META_MEMCACHE_DECL bool CacheClient::invalidate(KeyView key, const DeleteOptions& options) {
    const State::Pin pin(*s_);
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
    const State::Pin pin(*s_);
    RequestFlags f;
    f.cache_ttl = ttl;
    f.no_reply = no_reply;
    detail::StatusSink sink;
    s_->run(Request{MetaCommand::get, key, {}, f}, sink, failure);
    return sink.code == detail::ResponseCode::header;
}

// ---- counters -----------------------------------------------------------------------------

META_MEMCACHE_DECL bool CacheClient::delta(KeyView key,
                                           std::int64_t delta,
                                           const DeltaOptions& options) {
    const State::Pin pin(*s_);
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
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    RequestFlags f = delta_flags(delta, options);
    f.vivify_on_miss_ttl = initial_ttl;
    f.ma_initial_value = initial_value;
    const ArithmeticResponse r = meta_arithmetic(key, f, options.failure);
    // memcached 1.6.18 answers an auto-created item even under q (a VA or HD).
    return std::holds_alternative<Success>(r) || std::holds_alternative<Value>(r);
}

META_MEMCACHE_DECL std::optional<std::uint64_t> CacheClient::delta_and_get(
    KeyView key, std::int64_t delta, const DeltaOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    if (options.no_reply)
        throw InvalidInputError("delta_and_get: no_reply returns no value");
    RequestFlags f = delta_flags(delta, options);
    f.return_value = true;
    return s_->counter_value(key, meta_arithmetic(key, f, options.failure), options.failure);
}

META_MEMCACHE_DECL std::optional<std::uint64_t> CacheClient::delta_initialize_and_get(
    KeyView key,
    std::int64_t delta,
    std::uint64_t initial_value,
    std::int64_t initial_ttl,
    const DeltaOptions& options) {
    const State::Pin pin(*s_);
    using namespace detail::cache_client_impl;
    if (options.no_reply) {
        throw InvalidInputError("delta_initialize_and_get: no_reply returns no value");
    }
    RequestFlags f = delta_flags(delta, options);
    f.return_value = true;
    f.vivify_on_miss_ttl = initial_ttl;
    f.ma_initial_value = initial_value;
    return s_->counter_value(key, meta_arithmetic(key, f, options.failure), options.failure);
}

META_MEMCACHE_DECL void CacheClient::set_router(std::shared_ptr<Router> router) {
    if (!router)
        throw InvalidInputError("CacheClient::set_router needs a router");
    s_->switch_to(std::move(router));
}

// ---- events and counters ----------------------------------------------------------------

META_MEMCACHE_DECL WriteFailureEvent& CacheClient::on_write_failure() noexcept {
    return s_->on_write_failure;
}

META_MEMCACHE_DECL ClientCounters CacheClient::get_counters() const {
    const State::Pin pin(*s_);
    ClientCounters out;
    out.servers = s_->front().get_counters();
    for (const auto& [name, c] : s_->domains.read())
        out.domains[name] = DomainCounters{c.hits, c.misses, c.undecodable};
    s_->add_extra_counters(out);
    return out;
}

META_MEMCACHE_DECL Router& CacheClient::router() noexcept {
    return s_->own();
}

META_MEMCACHE_DECL const Router& CacheClient::router() const noexcept {
    return s_->own();
}

META_MEMCACHE_DECL Serializer& CacheClient::serializer() const noexcept {
    return *s_->serializer;
}

META_MEMCACHE_DECL const ClientOptions& CacheClient::options() const noexcept {
    return s_->options;
}

}  // namespace meta_memcache
