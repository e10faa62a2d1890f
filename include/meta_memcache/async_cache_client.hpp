#pragma once

// The asynchronous client (target meta_memcache::async): every command as an asio
// asynchronous operation. Needs standalone asio (libasio-dev); the only public header of
// the library that includes asio. See docs/async.md.

#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/async_call.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/policies.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request_flags.hpp>
#include <meta_memcache/responses.hpp>
#include <meta_memcache/serializer.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace meta_memcache {

namespace detail {

class AsyncEngine;

/// Hands a built call to the client's strand, which routes and sends its requests.
void async_start(const std::shared_ptr<AsyncEngine>& engine, std::shared_ptr<AsyncCall> call);
/// Cancels `call` on the client's strand (when it is still in flight).
void async_cancel(const std::shared_ptr<AsyncEngine>& engine, const std::weak_ptr<AsyncCall>& call);

/// The caller's completion handler, posted to its associated executor (the client's when
/// it has none) with the outcome, or run inline after the read that brought it when that
/// executor is the single-threaded io_context the client runs on (AsyncInlineCompletions);
/// the handler's cancellation slot is cleared first. Its
/// memory comes from the handler's associated allocator (a per-thread block cache when it
/// has none) and is freed before the handler runs.
template <class T, class Handler>
class AsyncHandlerCompletion final : public AsyncCompletion<T> {
    using Allocator = typename std::allocator_traits<
        asio::associated_allocator_t<Handler, RecyclingAllocator<void>>>::
        template rebind_alloc<AsyncHandlerCompletion>;
    using Traits = std::allocator_traits<Allocator>;
    using Executor = asio::associated_executor_t<Handler, asio::any_io_executor>;

public:
    AsyncHandlerCompletion(Handler handler, const asio::any_io_executor& fallback)
        : alloc_(asio::get_associated_allocator(handler, RecyclingAllocator<void>())),
          executor_(asio::get_associated_executor(handler, fallback)),
          handler_(std::move(handler)) {
        // Work is counted on the handler's own executor; on the client's, the client's I/O
        // is that work until the handler is posted (as asio's own operations do).
        if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
            if (executor_ == fallback)
                return;
        }
        work_.emplace(executor_);
    }
    AsyncHandlerCompletion(const AsyncHandlerCompletion&) = delete;
    AsyncHandlerCompletion& operator=(const AsyncHandlerCompletion&) = delete;
    AsyncHandlerCompletion(AsyncHandlerCompletion&&) = delete;
    AsyncHandlerCompletion& operator=(AsyncHandlerCompletion&&) = delete;
    ~AsyncHandlerCompletion() = default;

    /// A completion for `handler`, in memory of its allocator.
    static AsyncCompletion<T>* make(Handler handler, const asio::any_io_executor& fallback) {
        Allocator a(asio::get_associated_allocator(handler, RecyclingAllocator<void>()));
        AsyncHandlerCompletion* p = Traits::allocate(a, 1);
        try {
            return ::new (static_cast<void*>(p))
                AsyncHandlerCompletion(std::move(handler), fallback);
        } catch (...) {
            Traits::deallocate(a, p, 1);
            throw;
        }
    }

    void complete(std::error_code ec, T&& value) override {
        if (AsyncInlineCompletions* list = AsyncInlineCompletions::current();
            list != nullptr && list->accepts(context_of(executor_))) {
            ec_ = ec;
            value_.emplace(std::move(value));
            list->push(this);
            return;
        }
        post(ec, std::move(value));
    }
    void run(bool now) override {
        if (!now) {
            post(ec_, std::move(*value_));
            return;
        }
        Handler h = std::move(handler_);
        auto work = std::move(work_);
        const std::error_code ec = ec_;
        T v = std::move(*value_);
        free_self();
        asio::get_associated_cancellation_slot(h).clear();
        std::move(h)(ec, std::move(v));
    }
    void discard() noexcept override { free_self(); }

private:
    /// Posts the handler with the outcome to its executor; frees the object first.
    void post(std::error_code ec, T&& value) {
        Handler h = std::move(handler_);
        auto work = std::move(work_);
        Executor ex = std::move(executor_);
        free_self();
        auto run = [h = std::move(h), ec, v = std::move(value), work = std::move(work)]() mutable {
            asio::get_associated_cancellation_slot(h).clear();
            std::move(h)(ec, std::move(v));
            work.reset();
        };
        // An io_context's executor is posted to without asio's type erasure (which copies
        // the executor for each property it sets).
        if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
            if (const auto* io = ex.template target<asio::io_context::executor_type>()) {
                asio::post(*io, std::move(run));
                return;
            }
        }
        asio::post(ex, std::move(run));
    }
    /// The io_context a handler on `ex` runs on, or null when `ex` is not an io_context's
    /// own executor (a strand, a thread pool: its handlers are posted).
    static const void* context_of(const Executor& ex) noexcept {
        if constexpr (std::is_same_v<Executor, asio::any_io_executor>) {
            if (const auto* io = ex.template target<asio::io_context::executor_type>())
                return &io->context();
            return nullptr;
        } else if constexpr (std::is_same_v<Executor, asio::io_context::executor_type>) {
            return &ex.context();
        } else {
            return nullptr;
        }
    }

    void free_self() noexcept {
        Allocator a = alloc_;
        this->~AsyncHandlerCompletion();
        Traits::deallocate(a, this, 1);
    }

    Allocator alloc_;
    Executor executor_;
    std::optional<asio::executor_work_guard<Executor>> work_;
    Handler handler_;
    std::error_code ec_{};  ///< the outcome, while kept (run())
    std::optional<T> value_;
};

/// What a cancellation slot calls: the call is cancelled on the client's strand.
struct AsyncCancel {
    std::shared_ptr<AsyncEngine> engine;
    std::weak_ptr<AsyncCall> call;

    void operator()(asio::cancellation_type_t type) const {
        if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                     asio::cancellation_type::total)) != asio::cancellation_type::none) {
            async_cancel(engine, call);
        }
    }
};

/// The initiation of every command: the completion goes into the call, the cancellation
/// slot (when the token has one) learns how to cancel it, and the call starts.
struct AsyncInitiation {
    std::shared_ptr<AsyncEngine> engine;
    asio::any_io_executor executor;

    template <class Handler, class T>
    void operator()(Handler&& handler, std::shared_ptr<AsyncResultCall<T>> call) const {
        auto slot = asio::get_associated_cancellation_slot(handler);
        call->completion = AsyncHandlerCompletion<T, std::decay_t<Handler>>::make(
            std::forward<Handler>(handler), executor);
        if (call->invalid) {
            call->finished = true;
            call->abort(call->invalid);  // nothing was sent
            return;
        }
        if (slot.is_connected())
            slot.template emplace<AsyncCancel>(AsyncCancel{engine, call});
        async_start(engine, std::move(call));
    }
};

}  // namespace detail

/// The asynchronous memcached client: the commands of CacheClient as asio asynchronous
/// operations (`async_` + the command's name), each taking a completion token and
/// completing with `void(std::error_code, T)`, T what the synchronous command returns.
/// Thread-safe: its I/O runs on one strand of the executor it was given; any thread may
/// start commands. Many commands in flight share one connection per server (pipelined, in
/// order, each answer checked with its O opaque); commands issued while a write is under
/// way go out together in the next one. Keys and values are copied when a command is called.
/// Cancellation through the token's cancellation slot completes a command with
/// asio::error::operation_aborted at once; its answer is read and dropped when it comes.
///
/// @code
/// asio::io_context io;
/// auto cache = meta_memcache::async_cache_client_from_servers(io.get_executor(),
///                                                             {{"127.0.0.1", 11211}});
/// asio::co_spawn(io, [&]() -> asio::awaitable<void> {
///     co_await cache.async_set("greeting", "hello", 60, asio::use_awaitable);
///     std::optional<std::string> v = co_await cache.async_get("greeting", asio::use_awaitable);
/// }, asio::detached);
/// io.run();
/// @endcode
class AsyncCacheClient {
public:
    using executor_type = asio::any_io_executor;

    /// A client over a ring of `servers` (see async_cache_client_from_servers); with
    /// `gutter` servers, requests that fail on the wire go to them with TTLs capped at
    /// `gutter_ttl` (see GutterRouter).
    /// @throws InvalidInputError on bad options (TLS and authentication are not supported
    /// by the asynchronous client yet).
    AsyncCacheClient(executor_type executor,
                     const std::vector<ServerAddress>& servers,
                     const std::vector<ServerAddress>& gutter,
                     std::chrono::seconds gutter_ttl,
                     PoolOptions pool_options,
                     ClientOptions client_options,
                     HashMode mode);
    /// Closes the connections: commands still in flight complete with an error.
    ~AsyncCacheClient();
    AsyncCacheClient(AsyncCacheClient&&) noexcept;
    AsyncCacheClient& operator=(AsyncCacheClient&&) noexcept;
    AsyncCacheClient(const AsyncCacheClient&) = delete;
    AsyncCacheClient& operator=(const AsyncCacheClient&) = delete;

    /// The executor the client was given.
    [[nodiscard]] executor_type get_executor() const noexcept;

    // ---- meta commands ------------------------------------------------------------------

    /// mg: ReadResponse.
    template <class Token>
    auto async_meta_get(KeyView key,
                        const RequestFlags& flags,
                        const FailureHandling& failure,
                        Token&& token) {
        return launch(meta_get_call(key, flags, failure), std::forward<Token>(token));
    }
    /// ms with `ttl` seconds: WriteResponse.
    template <class Token>
    auto async_meta_set(KeyView key,
                        std::string_view value,
                        std::int64_t ttl,
                        const RequestFlags& flags,
                        const FailureHandling& failure,
                        Token&& token) {
        return launch(meta_set_call(key, value, ttl, flags, failure), std::forward<Token>(token));
    }
    /// md: WriteResponse.
    template <class Token>
    auto async_meta_delete(KeyView key,
                           const RequestFlags& flags,
                           const FailureHandling& failure,
                           Token&& token) {
        return launch(meta_delete_call(key, flags, failure), std::forward<Token>(token));
    }
    /// ma: ArithmeticResponse.
    template <class Token>
    auto async_meta_arithmetic(KeyView key,
                               const RequestFlags& flags,
                               const FailureHandling& failure,
                               Token&& token) {
        return launch(meta_arithmetic_call(key, flags, failure), std::forward<Token>(token));
    }

    // ---- writes -------------------------------------------------------------------------

    /// set: bool (stored), the value encoded by the serializer as CacheClient::set does.
    template <class T, class Token>
    requires Encodable<codec_type_t<T>>
    auto async_set(
        KeyView key, const T& value, std::int64_t ttl, const SetOptions& options, Token&& token) {
        return launch(set_call(key, serializer().encode(key, value), ttl, options),
                      std::forward<Token>(token));
    }
    template <class T, class Token>
    requires Encodable<codec_type_t<T>>
    auto async_set(KeyView key, const T& value, std::int64_t ttl, Token&& token) {
        return async_set(key, value, ttl, SetOptions{}, std::forward<Token>(token));
    }
    /// refill (add, failures not tracked): bool.
    template <class T, class Token>
    requires Encodable<codec_type_t<T>>
    auto async_refill(KeyView key, const T& value, std::int64_t ttl, Token&& token) {
        return launch(set_call(key, serializer().encode(key, value), ttl, refill_options()),
                      std::forward<Token>(token));
    }
    /// del: bool (the key was there).
    template <class Token>
    auto async_del(KeyView key, const DeleteOptions& options, Token&& token) {
        return launch(delete_call(key, options, false), std::forward<Token>(token));
    }
    template <class Token>
    auto async_del(KeyView key, Token&& token) {
        return async_del(key, DeleteOptions{}, std::forward<Token>(token));
    }
    /// invalidate: bool (the key is not in the cache now).
    template <class Token>
    auto async_invalidate(KeyView key, const DeleteOptions& options, Token&& token) {
        return launch(delete_call(key, options, true), std::forward<Token>(token));
    }
    template <class Token>
    auto async_invalidate(KeyView key, Token&& token) {
        return async_invalidate(key, DeleteOptions{}, std::forward<Token>(token));
    }
    /// touch: bool (the key was there).
    template <class Token>
    auto async_touch(KeyView key, std::int64_t ttl, Token&& token) {
        return launch(touch_call(key, ttl, false, FailureHandling{}), std::forward<Token>(token));
    }
    template <class Token>
    auto async_touch(KeyView key,
                     std::int64_t ttl,
                     bool no_reply,
                     const FailureHandling& failure,
                     Token&& token) {
        return launch(touch_call(key, ttl, no_reply, failure), std::forward<Token>(token));
    }

    // ---- reads --------------------------------------------------------------------------

    /// get: std::optional<std::string>.
    template <class Token>
    auto async_get(KeyView key, const GetOptions& options, Token&& token) {
        return launch(get_call(key, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_get(KeyView key, Token&& token) {
        return async_get(key, GetOptions{}, std::forward<Token>(token));
    }
    /// get_cas: CasValue.
    template <class Token>
    auto async_get_cas(KeyView key, const GetOptions& options, Token&& token) {
        return launch(get_cas_call(key, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_get_cas(KeyView key, Token&& token) {
        return async_get_cas(key, GetOptions{}, std::forward<Token>(token));
    }
    /// multi_get: std::vector<std::optional<std::string>>, in the order of `keys`; every
    /// server's share goes out at once.
    template <class Token>
    auto async_multi_get(std::span<const KeyView> keys, const GetOptions& options, Token&& token) {
        return launch(multi_get_call(keys, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_multi_get(std::span<const KeyView> keys, Token&& token) {
        return async_multi_get(keys, GetOptions{}, std::forward<Token>(token));
    }
    template <class Token>
    auto async_multi_get(std::initializer_list<KeyView> keys, Token&& token) {
        return async_multi_get(std::span<const KeyView>(keys.begin(), keys.size()), GetOptions{},
                               std::forward<Token>(token));
    }
    /// get_or_lease: std::optional<std::string>; waits between attempts on an asio timer.
    template <class Token>
    auto async_get_or_lease(KeyView key,
                            const LeasePolicy& lease,
                            const GetOptions& options,
                            Token&& token) {
        return launch(lease_call(key, lease, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_get_or_lease(KeyView key, const LeasePolicy& lease, Token&& token) {
        return async_get_or_lease(key, lease, GetOptions{}, std::forward<Token>(token));
    }
    /// get_or_lease_cas: CasValue (won: this caller sets, with the CAS token).
    template <class Token>
    auto async_get_or_lease_cas(KeyView key,
                                const LeasePolicy& lease,
                                const GetOptions& options,
                                Token&& token) {
        return launch(lease_cas_call(key, lease, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_get_or_lease_cas(KeyView key, const LeasePolicy& lease, Token&& token) {
        return async_get_or_lease_cas(key, lease, GetOptions{}, std::forward<Token>(token));
    }

    // ---- counters -----------------------------------------------------------------------

    /// delta: bool (the key existed).
    template <class Token>
    auto async_delta(KeyView key, std::int64_t delta, const DeltaOptions& options, Token&& token) {
        return launch(delta_call(key, delta, std::nullopt, options), std::forward<Token>(token));
    }
    template <class Token>
    auto async_delta(KeyView key, std::int64_t delta, Token&& token) {
        return async_delta(key, delta, DeltaOptions{}, std::forward<Token>(token));
    }
    /// delta_initialize: bool.
    template <class Token>
    auto async_delta_initialize(KeyView key,
                                std::int64_t delta,
                                std::uint64_t initial_value,
                                std::int64_t initial_ttl,
                                const DeltaOptions& options,
                                Token&& token) {
        return launch(delta_call(key, delta, Initial{initial_value, initial_ttl}, options),
                      std::forward<Token>(token));
    }
    /// delta_and_get: std::optional<std::uint64_t> (nothing when the key does not exist).
    template <class Token>
    auto async_delta_and_get(KeyView key,
                             std::int64_t delta,
                             const DeltaOptions& options,
                             Token&& token) {
        return launch(delta_get_call(key, delta, std::nullopt, options),
                      std::forward<Token>(token));
    }
    template <class Token>
    auto async_delta_and_get(KeyView key, std::int64_t delta, Token&& token) {
        return async_delta_and_get(key, delta, DeltaOptions{}, std::forward<Token>(token));
    }
    /// delta_initialize_and_get: std::optional<std::uint64_t>.
    template <class Token>
    auto async_delta_initialize_and_get(KeyView key,
                                        std::int64_t delta,
                                        std::uint64_t initial_value,
                                        std::int64_t initial_ttl,
                                        const DeltaOptions& options,
                                        Token&& token) {
        return launch(delta_get_call(key, delta, Initial{initial_value, initial_ttl}, options),
                      std::forward<Token>(token));
    }
    template <class Token>
    auto async_delta_initialize_and_get(KeyView key,
                                        std::int64_t delta,
                                        std::uint64_t initial_value,
                                        std::int64_t initial_ttl,
                                        Token&& token) {
        return async_delta_initialize_and_get(key, delta, initial_value, initial_ttl,
                                              DeltaOptions{}, std::forward<Token>(token));
    }

    // ---- events and counters ------------------------------------------------------------

    /// Subscribers get the key of every write that failed on its server.
    WriteFailureEvent& on_write_failure() noexcept;
    /// Counters of every server ("primary", and "gutter" for the gutter servers).
    [[nodiscard]] ClientCounters get_counters() const;
    /// The options the client was built with.
    [[nodiscard]] const ClientOptions& options() const noexcept;
    /// The serializer values go through.
    [[nodiscard]] Serializer& serializer() const noexcept;

private:
    template <class T>
    using CallPtr = std::shared_ptr<detail::AsyncResultCall<T>>;
    struct Initial {
        std::uint64_t value = 0;
        std::int64_t ttl = 0;
    };

    template <class T, class Token>
    auto launch(CallPtr<T> call, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, T)>(
            detail::AsyncInitiation{e_, get_executor()}, token, std::move(call));
    }

    [[nodiscard]] static SetOptions refill_options() noexcept;
    [[nodiscard]] CallPtr<ReadResponse> meta_get_call(KeyView key,
                                                      const RequestFlags& flags,
                                                      const FailureHandling& failure) const;
    [[nodiscard]] CallPtr<WriteResponse> meta_set_call(KeyView key,
                                                       std::string_view value,
                                                       std::int64_t ttl,
                                                       const RequestFlags& flags,
                                                       const FailureHandling& failure) const;
    [[nodiscard]] CallPtr<WriteResponse> meta_delete_call(KeyView key,
                                                          const RequestFlags& flags,
                                                          const FailureHandling& failure) const;
    [[nodiscard]] CallPtr<ArithmeticResponse> meta_arithmetic_call(
        KeyView key, const RequestFlags& flags, const FailureHandling& failure) const;
    [[nodiscard]] CallPtr<bool> set_call(KeyView key,
                                         const EncodedValue& value,
                                         std::int64_t ttl,
                                         const SetOptions& options) const;
    [[nodiscard]] CallPtr<bool> delete_call(KeyView key,
                                            const DeleteOptions& options,
                                            bool invalidate) const;
    [[nodiscard]] CallPtr<bool> touch_call(KeyView key,
                                           std::int64_t ttl,
                                           bool no_reply,
                                           const FailureHandling& failure) const;
    [[nodiscard]] CallPtr<std::optional<std::string>> get_call(KeyView key,
                                                               const GetOptions& options) const;
    [[nodiscard]] CallPtr<CasValue> get_cas_call(KeyView key, const GetOptions& options) const;
    [[nodiscard]] CallPtr<std::vector<std::optional<std::string>>> multi_get_call(
        std::span<const KeyView> keys, const GetOptions& options) const;
    [[nodiscard]] CallPtr<std::optional<std::string>> lease_call(KeyView key,
                                                                 const LeasePolicy& lease,
                                                                 const GetOptions& options) const;
    [[nodiscard]] CallPtr<CasValue> lease_cas_call(KeyView key,
                                                   const LeasePolicy& lease,
                                                   const GetOptions& options) const;
    [[nodiscard]] CallPtr<bool> delta_call(KeyView key,
                                           std::int64_t delta,
                                           std::optional<Initial> initial,
                                           const DeltaOptions& options) const;
    [[nodiscard]] CallPtr<std::optional<std::uint64_t>> delta_get_call(
        KeyView key,
        std::int64_t delta,
        std::optional<Initial> initial,
        const DeltaOptions& options) const;

    std::shared_ptr<detail::AsyncEngine> e_;
};

/// An asynchronous client sharding over `servers` with a HashRing: the same placement as
/// cache_client_from_servers with the same servers and mode (uhashring by default).
AsyncCacheClient async_cache_client_from_servers(asio::any_io_executor executor,
                                                 const std::vector<ServerAddress>& servers,
                                                 PoolOptions pool_options = {},
                                                 ClientOptions client_options = {},
                                                 HashMode mode = HashMode::uhashring);

/// An asynchronous client whose requests fail over to `gutter` servers (their own ring)
/// while a primary server is down, with TTLs capped at `gutter_ttl` there: the
/// asynchronous form of cache_client_with_gutter_from_servers.
AsyncCacheClient async_cache_client_with_gutter_from_servers(
    asio::any_io_executor executor,
    const std::vector<ServerAddress>& servers,
    const std::vector<ServerAddress>& gutter,
    std::chrono::seconds gutter_ttl,
    PoolOptions pool_options = {},
    ClientOptions client_options = {},
    HashMode mode = HashMode::uhashring);

}  // namespace meta_memcache

#if defined(META_MEMCACHE_HEADER_ONLY)
#include <meta_memcache/impl/async/async_cache_client.ipp>
#endif
