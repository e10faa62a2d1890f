#pragma once

// AsyncCacheClient: its commands as calls (what each sends, and what its caller gets from
// the answers), over the asio driver (engine.ipp). The answers go through the result sinks
// of the synchronous client (read_sinks.hpp, response_sink.hpp), and the flags come from
// the same helpers, so a command means the same in both clients.

#include <meta_memcache/async_cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/response_sink.hpp>
#include <meta_memcache/impl/async/engine.hpp>
#include <meta_memcache/impl/async/engine.ipp>
#include <meta_memcache/impl/client/client_state.hpp>
#include <meta_memcache/impl/client/read_sinks.hpp>

#include <asio/steady_timer.hpp>

#include <cmath>
#include <limits>
#include <type_traits>

namespace meta_memcache {

namespace detail {

/// The entry points the public header's templates call.
META_MEMCACHE_DECL void async_start(const std::shared_ptr<AsyncEngine>& engine,
                                    std::shared_ptr<AsyncCall> call) {
    engine->start(std::move(call));
}

META_MEMCACHE_DECL void async_cancel(const std::shared_ptr<AsyncEngine>& engine,
                                     const std::weak_ptr<AsyncCall>& call) {
    asio::post(engine->io, [call] {
        if (auto c = call.lock())
            AsyncEngine::cancel(c);
    });
}

namespace async_commands {

/// A stored value's bytes, decompressed (an undecodable value reads as a miss, as in the
/// synchronous client). Chunked values (LargeValueOptions) are not read by the asynchronous
/// client: they read as a miss.
inline std::optional<std::string> value_bytes(const Serializer& serializer,
                                              std::optional<std::string>&& data,
                                              std::uint32_t flag) {
    if (!data || (flag & chunked_flag) != 0)
        return std::nullopt;
    if ((flag & value_flag::compression_mask) == 0)
        return std::move(data);
    return serializer.try_decode_bytes(*data, flag).value;
}

/// What every call of a client knows: its engine and whether failures complete with
/// their error.
template <class T>
class ClientCall : public AsyncResultCall<T> {
public:
    ClientCall(const std::shared_ptr<AsyncEngine>& engine, const FailureHandling& failure)
        : engine_(engine), raise_(engine->raise(failure)) {
        this->track_write_failures = failure.track_write_failures;
    }

    /// Adds request `r` for `key` (copied into `keys`, reserved first; the request views
    /// the copy).
    void add(MetaCommand cmd, KeyView key, const RequestFlags& flags) {
        this->requests.push_back(Request{cmd, this->keys.copy(key), {}, flags});
    }
    /// Validates the requests once all are added.
    void seal() {
        if (!this->value.empty())
            this->requests.front().value = this->value;
        this->invalid = engine_->validate(*this);
    }

protected:
    /// The error a failure stored in `f` completes with, or none (not raised).
    [[nodiscard]] std::error_code error_of(const StoredFailure& f) const noexcept {
        if (f.failed && raise_)
            return make_error_code(f.code);
        return {};
    }

    std::shared_ptr<AsyncEngine> engine_;
    bool raise_;
};

/// A command answered by a status (set, del, touch, delta...): true for `yes` codes.
class StatusCall final : public ClientCall<bool> {
public:
    StatusCall(const std::shared_ptr<AsyncEngine>& e,
               const FailureHandling& failure,
               ResponseCode yes,
               std::optional<ResponseCode> also = std::nullopt)
        : ClientCall(e, failure), yes_(yes), also_(also) {}

    ResultSink& sink() noexcept override { return sink_; }

protected:
    void finish() override {
        deliver(error_of(sink_.failure), sink_.code == yes_ || (also_ && sink_.code == *also_));
    }

private:
    StatusSink sink_;
    ResponseCode yes_;
    std::optional<ResponseCode> also_;
};

/// A counter read back (delta_and_get and delta_initialize_and_get).
class CounterCall final : public ClientCall<std::optional<std::uint64_t>> {
public:
    using ClientCall::ClientCall;
    ResultSink& sink() noexcept override { return sink_; }

protected:
    void finish() override {
        if (const auto ec = error_of(sink_.failure)) {
            deliver(ec, std::nullopt);
            return;
        }
        if (sink_.code != ResponseCode::value) {
            deliver({}, std::nullopt);
            return;
        }
        std::uint64_t n = 0;
        if (!parse_counter(sink_.value, n)) {
            deliver(make_error_code(errc::protocol_error), std::nullopt);
            return;
        }
        deliver({}, n);  // memcached's counters are unsigned 64-bit, as delta_and_get's
    }

private:
    StatusSink sink_;
};

/// One read (get, get_cas, and each attempt of get_or_lease): T is
/// std::optional<std::string> or CasValue.
template <class T>
class ReadCall final : public ClientCall<T> {
public:
    ReadCall(const std::shared_ptr<AsyncEngine>& e,
             const FailureHandling& failure,
             std::optional<LeasePolicy> lease = std::nullopt)
        : ClientCall<T>(e, failure), lease_(lease) {}

    ResultSink& sink() noexcept override { return *sink_; }
    void abort(std::error_code ec) override {
        if (timer_)
            timer_->cancel();
        ClientCall<T>::abort(ec);
    }

protected:
    void finish() override {
        if (const auto ec = this->error_of(sink_->failure)) {
            this->deliver(ec, T{});
            return;
        }
        if (sink_->code == ResponseCode::header)
            cache_client_impl::unexpected("HD to mg with v");
        const bool placeholder = sink_->code == ResponseCode::value && !sink_->won && !value_;
        if (lease_ && (sink_->code == ResponseCode::miss || placeholder) &&
            !sink_->failure.failed && attempt_ < lease_->miss_retries) {
            retry();
            return;
        }
        if constexpr (std::is_same_v<T, std::optional<std::string>>) {
            // Plain bytes (as nearly every value is) go to the caller as they were read.
            if ((sink_->client_flag & (chunked_flag | value_flag::compression_mask)) == 0) {
                this->deliver({}, std::move(value_));
                return;
            }
        }
        auto bytes = value_bytes(*this->engine_->serializer, std::move(value_), sink_->client_flag);
        if constexpr (std::is_same_v<T, CasValue>) {
            this->deliver({}, CasValue{std::move(bytes), sink_->cas, sink_->won});
        } else {
            this->deliver({}, std::move(bytes));
        }
    }

private:
    /// get_or_lease: someone else holds the lease; read again after the policy's wait, on
    /// an asio timer (the thread goes on with other work meanwhile).
    void retry() {
        const double ms = static_cast<double>(lease_->miss_retry_wait.count()) *
                          std::pow(lease_->wait_backoff_factor, static_cast<double>(attempt_ - 1));
        const auto wait = std::min(lease_->miss_max_retry_wait,
                                   std::chrono::milliseconds(static_cast<std::int64_t>(ms)));
        ++attempt_;
        this->finished = false;
        value_.reset();
        sink_.emplace(value_);
        if (!timer_)
            timer_ = std::make_unique<AsyncTimer>(this->engine_->io);
        timer_->expires_after(wait);
        timer_->async_wait([self = this->shared_from_this_call()](const std::error_code& ec) {
            if (ec || self->finished)
                return;
            self->reset_remaining();
            self->engine_->send(self, 0, false);
        });
    }
    std::shared_ptr<ReadCall> shared_from_this_call() {
        return std::static_pointer_cast<ReadCall>(self_.lock());
    }

public:
    /// The call's own weak pointer (for the retry timer).
    std::weak_ptr<AsyncCall> self_;

private:
    std::optional<std::string> value_;
    std::optional<ReadSink> sink_{std::in_place, value_};
    std::optional<LeasePolicy> lease_;
    unsigned attempt_ = 1;
    std::unique_ptr<AsyncTimer> timer_;
};

/// multi_get.
class MultiReadCall final : public ClientCall<std::vector<std::optional<std::string>>> {
public:
    MultiReadCall(const std::shared_ptr<AsyncEngine>& e,
                  const FailureHandling& failure,
                  std::size_t n)
        : ClientCall(e, failure), out_(n), sink_(out_, *e->serializer) {}

    ResultSink& sink() noexcept override { return sink_; }

protected:
    void finish() override {
        if (const auto ec = error_of(sink_.failure)) {
            deliver(ec, {});
            return;
        }
        if (sink_.unexpected_header)
            cache_client_impl::unexpected("HD to mg with v");
        for (std::size_t i = 0; i < sink_.flags.size(); ++i) {
            if (sink_.flags[i] != 0)  // large and compressed, or chunked
                out_[i] = value_bytes(*engine_->serializer, std::move(out_[i]), sink_.flags[i]);
        }
        deliver({}, std::move(out_));
    }

private:
    std::vector<std::optional<std::string>> out_;
    MultiReadSink sink_;
};

/// A meta command: its Response as the synchronous meta command gives it.
template <class T>
class MetaCall final : public ClientCall<T> {
public:
    using ClientCall<T>::ClientCall;
    ResultSink& sink() noexcept override {
        if (!sink_)  // once the request is in place
            sink_.emplace(std::span<const Request>(this->requests.data(), this->requests.size()),
                          std::span<Response>(&out_, 1));
        return *sink_;
    }

protected:
    void finish() override {
        if (is_error_response(out_) && this->raise_) {
            const errc code = std::holds_alternative<Miss>(out_) ? std::get<Miss>(out_).code
                                                                 : std::get<NotStored>(out_).code;
            this->deliver(make_error_code(code), T{});
            return;
        }
        const MetaCommand cmd = this->requests.front().command;
        if constexpr (std::is_same_v<T, ReadResponse>) {
            this->deliver({}, cache_client_impl::to_read(std::move(out_)));
        } else if constexpr (std::is_same_v<T, WriteResponse>) {
            this->deliver({}, cache_client_impl::to_write(std::move(out_), command_name(cmd)));
        } else {
            this->deliver({}, std::visit([](auto&& v) { return T{std::forward<decltype(v)>(v)}; },
                                         std::move(out_)));
        }
    }

private:
    Response out_;
    std::optional<ResponseSink> sink_;
};

/// Builds a call of type C for one request; `PlainReads`: the request is a plain read
/// (flags plain_read_flags()), whose flags need no checking per call.
template <class C, bool PlainReads = false, class... A>
std::shared_ptr<C> one(const std::shared_ptr<AsyncEngine>& e,
                       MetaCommand cmd,
                       KeyView key,
                       const RequestFlags& flags,
                       std::string_view value,
                       A&&... args) {
    auto c = std::allocate_shared<C>(RecyclingAllocator<C>(), e, std::forward<A>(args)...);
    c->keys.reserve(KeyBytes::size_of(key));
    c->add(cmd, key, flags);
    if (!value.empty())
        c->value.assign(value);
    c->plain_reads = PlainReads;
    c->seal();
    return c;
}

/// The same, with an error found before the request was built (a bad option).
template <class C>
std::shared_ptr<C> with_invalid(std::shared_ptr<C> c, bool bad) {
    if (bad)
        c->invalid = make_error_code(errc::invalid_input);
    return c;
}

}  // namespace async_commands

}  // namespace detail

// ---- the client -------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient::AsyncCacheClient(executor_type executor,
                                                      const std::vector<ServerAddress>& servers,
                                                      const std::vector<ServerAddress>& gutter,
                                                      std::chrono::seconds gutter_ttl,
                                                      PoolOptions pool_options,
                                                      ClientOptions client_options,
                                                      HashMode mode)
    : e_(std::make_shared<detail::AsyncEngine>(std::move(executor),
                                               servers,
                                               gutter,
                                               gutter_ttl.count(),
                                               std::move(pool_options),
                                               std::move(client_options),
                                               mode)) {}

namespace detail::async_commands {

/// Closes the engine's connections on its strand (the client is gone). Handlers still
/// pending keep the engine alive until they have run.
inline void shut_down(const std::shared_ptr<AsyncEngine>& e) noexcept {
    if (!e)
        return;
    try {
        asio::post(e->io, [e] { e->shutdown(); });
    } catch (...) {  // no memory for the handler: the connections close with the engine
    }
}

}  // namespace detail::async_commands

META_MEMCACHE_DECL AsyncCacheClient::~AsyncCacheClient() {
    detail::async_commands::shut_down(e_);
}
META_MEMCACHE_DECL AsyncCacheClient::AsyncCacheClient(AsyncCacheClient&&) noexcept = default;
META_MEMCACHE_DECL AsyncCacheClient& AsyncCacheClient::operator=(AsyncCacheClient&& o) noexcept {
    if (this != &o) {
        detail::async_commands::shut_down(e_);
        e_ = std::move(o.e_);
    }
    return *this;
}

META_MEMCACHE_DECL AsyncCacheClient::executor_type AsyncCacheClient::get_executor() const noexcept {
    return e_->executor;
}

META_MEMCACHE_DECL WriteFailureEvent& AsyncCacheClient::on_write_failure() noexcept {
    return e_->on_write_failure;
}

META_MEMCACHE_DECL ClientCounters AsyncCacheClient::get_counters() const {
    ClientCounters out;
    out.servers = e_->counters();
    return out;
}

META_MEMCACHE_DECL const ClientOptions& AsyncCacheClient::options() const noexcept {
    return e_->options;
}

META_MEMCACHE_DECL Serializer& AsyncCacheClient::serializer() const noexcept {
    return *e_->serializer;
}

META_MEMCACHE_DECL SetOptions AsyncCacheClient::refill_options() noexcept {
    SetOptions o;
    o.mode = SetMode::add;
    o.failure.track_write_failures = false;
    return o;
}

// ---- meta commands ----------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<ReadResponse> AsyncCacheClient::meta_get_call(
    KeyView key, const RequestFlags& flags, const FailureHandling& failure) const {
    using namespace detail::async_commands;
    return one<MetaCall<ReadResponse>>(e_, MetaCommand::get, key, flags, {}, failure);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<WriteResponse> AsyncCacheClient::meta_set_call(
    KeyView key,
    std::string_view value,
    std::int64_t ttl,
    const RequestFlags& flags,
    const FailureHandling& failure) const {
    using namespace detail::async_commands;
    RequestFlags f = flags;
    f.cache_ttl = ttl;
    return one<MetaCall<WriteResponse>>(e_, MetaCommand::set, key, f, value, failure);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<WriteResponse> AsyncCacheClient::meta_delete_call(
    KeyView key, const RequestFlags& flags, const FailureHandling& failure) const {
    using namespace detail::async_commands;
    return one<MetaCall<WriteResponse>>(e_, MetaCommand::del, key, flags, {}, failure);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<ArithmeticResponse>
AsyncCacheClient::meta_arithmetic_call(KeyView key,
                                       const RequestFlags& flags,
                                       const FailureHandling& failure) const {
    using namespace detail::async_commands;
    return one<MetaCall<ArithmeticResponse>>(e_, MetaCommand::arithmetic, key, flags, {}, failure);
}

// ---- writes -------------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<bool> AsyncCacheClient::set_call(
    KeyView key, const EncodedValue& value, std::int64_t ttl, const SetOptions& options) const {
    using namespace detail::async_commands;
    RequestFlags f = detail::cache_client_impl::set_flags(options);
    f.client_flag = value.client_flag();
    f.cache_ttl = ttl;
    return one<StatusCall>(e_, MetaCommand::set, key, f, value.data(), options.failure,
                           detail::ResponseCode::header);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<bool> AsyncCacheClient::delete_call(
    KeyView key, const DeleteOptions& options, bool invalidate) const {
    using namespace detail::async_commands;
    const auto also = invalidate ? std::optional(detail::ResponseCode::not_found) : std::nullopt;
    return one<StatusCall>(e_, MetaCommand::del, key,
                           detail::cache_client_impl::delete_flags(options), {}, options.failure,
                           detail::ResponseCode::header, also);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<bool> AsyncCacheClient::touch_call(
    KeyView key, std::int64_t ttl, bool no_reply, const FailureHandling& failure) const {
    using namespace detail::async_commands;
    RequestFlags f;
    f.cache_ttl = ttl;
    f.no_reply = no_reply;
    return one<StatusCall>(e_, MetaCommand::get, key, f, {}, failure, detail::ResponseCode::header);
}

// ---- reads --------------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<std::optional<std::string>> AsyncCacheClient::get_call(
    KeyView key, const GetOptions& options) const {
    using namespace detail::async_commands;
    using Call = ReadCall<std::optional<std::string>>;
    if (!options.touch_ttl && !options.recache_policy)  // (read_flags: plain_read_flags())
        return one<Call, true>(e_, MetaCommand::get, key, detail::plain_read_flags(), {},
                               options.failure);
    return one<Call>(e_, MetaCommand::get, key,
                     detail::cache_client_impl::read_flags(options, false), {}, options.failure);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<CasValue> AsyncCacheClient::get_cas_call(
    KeyView key, const GetOptions& options) const {
    using namespace detail::async_commands;
    return one<ReadCall<CasValue>>(e_, MetaCommand::get, key,
                                   detail::cache_client_impl::read_flags(options, true), {},
                                   options.failure);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<std::vector<std::optional<std::string>>>
AsyncCacheClient::multi_get_call(std::span<const KeyView> keys, const GetOptions& options) const {
    using namespace detail::async_commands;
    auto c = std::allocate_shared<MultiReadCall>(detail::RecyclingAllocator<MultiReadCall>(), e_,
                                                 options.failure, keys.size());
    const RequestFlags f = detail::cache_client_impl::read_flags(options, false);
    std::size_t bytes = 0;
    for (const KeyView& k : keys)
        bytes += detail::KeyBytes::size_of(k);
    c->keys.reserve(bytes);
    c->requests.reserve(keys.size());
    for (const KeyView& k : keys)
        c->add(MetaCommand::get, k, f);
    c->seal();
    return c;
}

namespace detail::async_commands {

template <class T>
std::shared_ptr<ReadCall<T>> lease(const std::shared_ptr<AsyncEngine>& e,
                                   KeyView key,
                                   const LeasePolicy& lease,
                                   const GetOptions& options) {
    RequestFlags f = cache_client_impl::read_flags(options, true);
    f.vivify_on_miss_ttl = lease.ttl;
    auto c =
        one<ReadCall<T>>(e, MetaCommand::get, key, f, {}, options.failure, std::optional(lease));
    c->self_ = c;
    return with_invalid(
        std::move(c), lease.miss_retries == 0 || lease.ttl <= 0 || lease.wait_backoff_factor < 1.0);
}

}  // namespace detail::async_commands

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<std::optional<std::string>>
AsyncCacheClient::lease_call(KeyView key,
                             const LeasePolicy& lease,
                             const GetOptions& options) const {
    return detail::async_commands::lease<std::optional<std::string>>(e_, key, lease, options);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<CasValue> AsyncCacheClient::lease_cas_call(
    KeyView key, const LeasePolicy& lease, const GetOptions& options) const {
    return detail::async_commands::lease<CasValue>(e_, key, lease, options);
}

// ---- counters -----------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<bool> AsyncCacheClient::delta_call(
    KeyView key,
    std::int64_t delta,
    std::optional<Initial> initial,
    const DeltaOptions& options) const {
    using namespace detail::async_commands;
    RequestFlags f = detail::cache_client_impl::delta_flags(delta, options);
    std::optional<detail::ResponseCode> also;
    if (initial) {
        f.vivify_on_miss_ttl = initial->ttl;
        f.ma_initial_value = initial->value;
        also = detail::ResponseCode::value;  // memcached answers an auto-created item with VA
    }
    return one<StatusCall>(e_, MetaCommand::arithmetic, key, f, {}, options.failure,
                           detail::ResponseCode::header, also);
}

META_MEMCACHE_DECL AsyncCacheClient::CallPtr<std::optional<std::uint64_t>>
AsyncCacheClient::delta_get_call(KeyView key,
                                 std::int64_t delta,
                                 std::optional<Initial> initial,
                                 const DeltaOptions& options) const {
    using namespace detail::async_commands;
    RequestFlags f = detail::cache_client_impl::delta_flags(delta, options);
    f.return_value = true;
    if (initial) {
        f.vivify_on_miss_ttl = initial->ttl;
        f.ma_initial_value = initial->value;
    }
    return with_invalid(one<CounterCall>(e_, MetaCommand::arithmetic, key, f, {}, options.failure),
                        options.no_reply);
}

// ---- factories ----------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncCacheClient
async_cache_client_from_servers(asio::any_io_executor executor,
                                const std::vector<ServerAddress>& servers,
                                PoolOptions pool_options,
                                ClientOptions client_options,
                                HashMode mode) {
    return AsyncCacheClient(std::move(executor), servers, {}, std::chrono::seconds(0),
                            std::move(pool_options), std::move(client_options), mode);
}

META_MEMCACHE_DECL AsyncCacheClient
async_cache_client_with_gutter_from_servers(asio::any_io_executor executor,
                                            const std::vector<ServerAddress>& servers,
                                            const std::vector<ServerAddress>& gutter,
                                            std::chrono::seconds gutter_ttl,
                                            PoolOptions pool_options,
                                            ClientOptions client_options,
                                            HashMode mode) {
    if (gutter.empty())
        throw InvalidInputError("async_cache_client_with_gutter_from_servers: no gutter servers");
    return AsyncCacheClient(std::move(executor), servers, gutter, gutter_ttl,
                            std::move(pool_options), std::move(client_options), mode);
}

}  // namespace meta_memcache
