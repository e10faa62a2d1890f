#pragma once

// The asio driver of AsyncCacheClient: the second driver over the batch codec (the first is
// the synchronous one, impl/io/driver.ipp). Everything here runs on the client's strand:
//
//   AsyncEngine      routes each request of a call to its server (the HashRing of the
//                    synchronous client), sends failures to the gutter ring, reports
//                    failed writes;
//   AsyncServer      one server: its connections (PoolOptions::async_connections), mark-down
//                    and probing as ConnectionPool does them, counters;
//   AsyncConnection  a socket under an AsyncPipeline (detail/async_pipeline.hpp): connect,
//                    write what is queued, read, time requests out. The I/O loop only; the
//                    pipeline and the codec under it do the protocol.

#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/detail/async_call.hpp>
#include <meta_memcache/detail/async_pipeline.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/serializer.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

class AsyncEngine;
class AsyncServer;

using AsyncStrand = asio::strand<asio::any_io_executor>;

/// The executor of the client's sockets and timers, chosen when the client is built: the
/// io_context's own executor when the client was given an io_context's executor and that
/// io_context is run by one thread (its concurrency hint is 1), so that the client's
/// handlers run as asio's native ones do, with no strand; otherwise a strand of the given
/// executor. A concrete type either way, so that asio does not type-erase (and allocate) an
/// executor per operation.
class AsyncExecutor {
public:
    explicit AsyncExecutor(asio::io_context& io) noexcept : io_(&io) {}
    explicit AsyncExecutor(AsyncStrand strand) noexcept : strand_(std::move(strand)) {}
    // asio wants executors copied without exceptions (a strand's copy throws none).
    AsyncExecutor(const AsyncExecutor&) noexcept = default;
    AsyncExecutor(AsyncExecutor&&) noexcept = default;
    AsyncExecutor& operator=(const AsyncExecutor&) = default;
    AsyncExecutor& operator=(AsyncExecutor&&) noexcept = default;
    ~AsyncExecutor() = default;

    /// The io_context's executor itself (no strand).
    [[nodiscard]] bool direct() const noexcept { return io_ != nullptr; }
    /// That io_context (null on a strand).
    [[nodiscard]] asio::io_context* direct_context() const noexcept { return io_; }
    /// True on the thread running the client's handlers now (direct: any thread running
    /// the io_context, which is one thread).
    [[nodiscard]] bool running_in_this_thread() const noexcept {
        return io_ != nullptr ? io_->get_executor().running_in_this_thread()
                              : strand_->running_in_this_thread();
    }

    /// The execution context (asio's query customisation point).
    [[nodiscard]] asio::execution_context& query(asio::execution::context_t) const noexcept {
        if (io_ != nullptr)
            return *io_;
        return asio::query(*strand_, asio::execution::context);
    }
    [[nodiscard]] asio::execution::blocking_t query(asio::execution::blocking_t) const noexcept {
        if (never_)
            return asio::execution::blocking.never;
        return asio::execution::blocking.possibly;
    }
    /// An executor that never runs a function inside execute() (asio::post).
    [[nodiscard]] AsyncExecutor require(asio::execution::blocking_t::never_t) const {
        return with_blocking_never(true);
    }
    /// An executor that may run a function inside execute() (asio::dispatch).
    [[nodiscard]] AsyncExecutor prefer(asio::execution::blocking_t::possibly_t) const {
        return with_blocking_never(false);
    }

    template <class Function>
    void execute(Function&& f) const {
        if (io_ == nullptr) {
            asio::execution::execute(*strand_, std::forward<Function>(f));
        } else if (never_) {
            asio::execution::execute(
                asio::require(io_->get_executor(), asio::execution::blocking.never),
                std::forward<Function>(f));
        } else {
            asio::execution::execute(io_->get_executor(), std::forward<Function>(f));
        }
    }

    friend bool operator==(const AsyncExecutor& a, const AsyncExecutor& b) noexcept {
        return a.io_ == b.io_ && a.never_ == b.never_ && a.strand_ == b.strand_;
    }
    friend bool operator!=(const AsyncExecutor& a, const AsyncExecutor& b) noexcept {
        return !(a == b);
    }

private:
    [[nodiscard]] AsyncExecutor with_blocking_never(bool never) const {
        AsyncExecutor e = *this;
        e.never_ = never;
        if (e.strand_ && never)
            e.strand_ = asio::require(*e.strand_, asio::execution::blocking.never);
        else if (e.strand_)
            e.strand_ = asio::prefer(*e.strand_, asio::execution::blocking.possibly);
        return e;
    }

    asio::io_context* io_ = nullptr;
    std::optional<AsyncStrand> strand_;
    bool never_ = false;
};

/// TCP or a unix-domain socket, one type for both.
using AsyncSocket = asio::basic_stream_socket<asio::generic::stream_protocol, AsyncExecutor>;
using AsyncResolver = asio::ip::basic_resolver<asio::ip::tcp, AsyncExecutor>;
using AsyncTimer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                              asio::wait_traits<std::chrono::steady_clock>,
                                              AsyncExecutor>;

/// One connection to a server. On the strand only.
class AsyncConnection final : public std::enable_shared_from_this<AsyncConnection>,
                              public AsyncFailureRoute {
public:
    explicit AsyncConnection(AsyncServer& server);

    /// Sends request `index` of `call` (connecting first when needed).
    void push(std::shared_ptr<AsyncCall> call, std::uint32_t index);
    /// Writes everything queued now (unless a write is under way: then after it).
    void flush();
    /// Closes the connection: every request on it, queued ones too, fails with `code`.
    void close(errc code, std::string_view why);
    /// Requests written and not answered.
    [[nodiscard]] std::size_t in_flight() const noexcept { return pipe_.in_flight(); }

    void failed(const std::shared_ptr<AsyncCall>& call,
                std::uint32_t index,
                const Failure& f) override;

private:
    enum class State : std::uint8_t { closed, connecting, open };

    void connect();
    /// Connects to the first of `endpoints` that accepts.
    void connect_to(std::vector<asio::generic::stream_protocol::endpoint> endpoints);
    void connected();
    void connect_failed(const std::string& why);
    /// Writes what is queued (at once, or at the end of the call being started).
    void flush_soon();
    /// Writes `out_` from byte `done` on, in the background (what a direct write left).
    void write_rest(std::size_t done);
    /// Reads when the socket has bytes (the reactor's read, into the pipeline's space).
    void read();
    /// `n` bytes came: hands them to the pipeline (reading on at once while reads fill the
    /// space), runs the completions they brought, reads again.
    void on_read(std::size_t n);
    void arm_timer();
    void on_timer();
    /// The connection failed under its requests: what was sent fails, the rest is sent
    /// again on a new connection.
    void broken(errc code, const std::string& why);
    void shut_socket();

    AsyncServer& server_;
    AsyncEngine& engine_;
    AsyncSocket socket_;
    AsyncResolver resolver_;
    AsyncTimer connect_timer_;
    AsyncTimer timer_;  ///< the earliest deadline of a request still awaited
    AsyncPipeline pipe_;
    std::vector<asio::const_buffer> out_;
    State state_ = State::closed;
    bool writing_ = false;
    bool flush_deferred_ = false;  ///< in the engine's list of connections to flush
    bool timer_armed_ = false;
    AsyncClock::time_point timer_at_{};
    std::uint64_t generation_ = 0;  ///< a new one per socket: old handlers know they are old
};

/// One server: its connections, mark-down and counters. Counters are read from any thread.
class AsyncServer {
public:
    AsyncServer(AsyncEngine& engine, ServerAddress address, PoolOptions options, bool gutter);

    /// True when a request may go out now (as the probe, after a mark-down period);
    /// otherwise `why` says why not.
    [[nodiscard]] bool admit(std::string& why);
    /// The connection a request goes out on.
    [[nodiscard]] AsyncConnection& pick() noexcept;
    /// An answer came: the server is up.
    void answered() noexcept;
    /// `n` requests timed out.
    void timed_out(std::size_t n, std::string_view why);
    /// A connection failed (connecting when `connecting`).
    void connection_failed(bool connecting, std::string_view why);
    /// Closes every connection; their requests fail with `code`.
    void close_all(errc code, std::string_view why);
    [[nodiscard]] PoolCounters counters() const noexcept;

    AsyncEngine& engine;
    ServerAddress address;
    std::string name;
    PoolOptions options;
    ParserLimits limits{};
    bool gutter = false;

    /// Counters (written on the strand, read anywhere).
    std::atomic<std::uint64_t> established{0};
    std::atomic<std::uint64_t> total_created{0};
    std::atomic<std::uint64_t> total_errors{0};
    std::atomic<std::uint64_t> timeouts{0};
    std::atomic<std::uint64_t> mark_downs{0};
    std::atomic<std::uint64_t> probes{0};
    std::atomic<std::uint64_t> fast_failures{0};
    std::atomic<std::uint64_t> retries{0};  ///< requests sent again on a new connection
    std::atomic<bool> marked_down{false};

private:
    void mark_down(errc code, std::string_view why);

    std::vector<std::shared_ptr<AsyncConnection>> conns_;
    std::size_t next_ = 0;
    bool down_ = false;
    bool probing_ = false;
    AsyncClock::time_point down_until_{};
    std::string down_reason_;
    unsigned consecutive_timeouts_ = 0;
};

/// What an AsyncCacheClient holds.
class AsyncEngine : public std::enable_shared_from_this<AsyncEngine> {
public:
    /// A ring of servers.
    struct Group {
        HashRing ring;
        std::vector<std::unique_ptr<AsyncServer>> servers;
    };

    AsyncEngine(asio::any_io_executor executor,
                const std::vector<ServerAddress>& servers,
                const std::vector<ServerAddress>& gutter,
                std::int64_t gutter_ttl,
                PoolOptions pool_options,
                ClientOptions client_options,
                HashMode mode);
    AsyncEngine(const AsyncEngine&) = delete;
    AsyncEngine& operator=(const AsyncEngine&) = delete;
    AsyncEngine(AsyncEngine&&) = delete;
    AsyncEngine& operator=(AsyncEngine&&) = delete;
    ~AsyncEngine() = default;

    /// From any thread: the call's requests go out on the client's executor (at once when
    /// called on it, running directly on a single-threaded io_context).
    void start(std::shared_ptr<AsyncCall> call);
    /// On the strand: request `i` of `call` to its server in the primary ring or the gutter.
    void send(const std::shared_ptr<AsyncCall>& call, std::uint32_t i, bool to_gutter);
    /// On the strand: request `i` failed (on a gutter server when `from_gutter`).
    void failed(const std::shared_ptr<AsyncCall>& call,
                std::uint32_t i,
                const Failure& f,
                bool from_gutter);
    /// On the strand: completes `call` with operation_aborted if it is still in flight.
    static void cancel(const std::shared_ptr<AsyncCall>& call);
    /// Whether a call with `fh` completes with the error of a server failure (or reads it
    /// as a miss / false).
    [[nodiscard]] bool raise(const FailureHandling& fh) const noexcept;
    /// Validates the requests of a call just built: the invalid-input error in `invalid`.
    [[nodiscard]] std::error_code validate(const AsyncCall& call) const;
    /// On the strand: `c` has requests queued by the call being started; written when all
    /// of that call's requests are queued (false: no call is being started, write now).
    [[nodiscard]] bool defer_flush(AsyncConnection& c);
    /// On the executor: runs the completions a read collected (in `completions`), then
    /// writes what their handlers queued, one write per connection.
    void run_completions();
    /// On the strand: closes everything (the client is gone).
    void shutdown();
    [[nodiscard]] std::vector<ServerCounters> counters() const;

    asio::any_io_executor executor;
    /// Where the client's I/O runs: the io_context itself, or a strand.
    AsyncExecutor io;
    /// Completions run inline after each read (running directly on an io_context only).
    AsyncInlineCompletions completions;
    ClientOptions options;
    std::shared_ptr<Serializer> serializer;
    WriteFailureEvent on_write_failure;

private:
    Group primary_;
    std::unique_ptr<Group> gutter_;
    std::int64_t gutter_ttl_ = 0;
    bool stopped_ = false;
    unsigned starting_ = 0;  ///< calls being started (their requests written together)
    std::vector<std::shared_ptr<AsyncConnection>> to_flush_;

    /// Runs `call`'s requests (on the executor).
    void begin(const std::shared_ptr<AsyncCall>& call);
    /// The end of a batch of starts: each connection deferred writes once.
    void end_batch();
};

}  // namespace meta_memcache::detail
