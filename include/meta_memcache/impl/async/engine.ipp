#pragma once

// The asio driver (see engine.hpp).

#include <meta_memcache/config.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/async/engine.hpp>

#include <asio/bind_executor.hpp>
#include <asio/connect.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <span>
#include <string>

namespace meta_memcache::detail {

// ---- AsyncConnection ---------------------------------------------------------------------

META_MEMCACHE_DECL AsyncConnection::AsyncConnection(AsyncServer& server)
    : server_(server),
      engine_(server.engine),
      socket_(server.engine.io),
      resolver_(server.engine.io),
      connect_timer_(server.engine.io),
      timer_(server.engine.io),
      pipe_(server.name,
            server.options.read_buffer_size,
            server.engine.options.max_item_size,
            server.limits) {}

META_MEMCACHE_DECL void AsyncConnection::push(std::shared_ptr<AsyncCall> call,
                                              std::uint32_t index) {
    const auto deadline = AsyncClock::now() + server_.options.recv_timeout;
    pipe_.push(std::move(call), index, deadline);
    if (!timer_armed_)
        arm_timer();
    switch (state_) {
        case State::closed:
            connect();
            break;
        case State::connecting:
            break;
        case State::open:
            flush_soon();
            break;
    }
}

META_MEMCACHE_DECL void AsyncConnection::failed(const std::shared_ptr<AsyncCall>& call,
                                                std::uint32_t index,
                                                const Failure& f) {
    engine_.failed(call, index, f, server_.gutter);
}

META_MEMCACHE_DECL void AsyncConnection::connect() {
    state_ = State::connecting;
    const std::uint64_t gen = ++generation_;
    connect_timer_.expires_after(server_.options.connection_timeout);
    connect_timer_.async_wait([self = shared_from_this(), gen](const std::error_code& ec) {
        if (ec || gen != self->generation_ || self->state_ != State::connecting)
            return;
        self->connect_failed("no connection within " +
                             std::to_string(self->server_.options.connection_timeout.count()) +
                             " ms");
    });
    if (!server_.address.unix_path.empty()) {
        connect_to({asio::local::stream_protocol::endpoint(server_.address.unix_path)});
        return;
    }
    resolver_.async_resolve(
        server_.address.host, std::to_string(server_.address.port),
        [self = shared_from_this(), gen](const std::error_code& ec,
                                         const AsyncResolver::results_type& results) {
            if (gen != self->generation_)
                return;
            if (ec) {
                self->connect_failed("resolve failed: " + ec.message());
                return;
            }
            std::vector<asio::generic::stream_protocol::endpoint> endpoints;
            for (const auto& r : results)
                endpoints.emplace_back(r.endpoint());
            self->connect_to(std::move(endpoints));
        });
}

META_MEMCACHE_DECL void AsyncConnection::connect_to(
    std::vector<asio::generic::stream_protocol::endpoint> endpoints) {
    auto shared = std::make_shared<std::vector<asio::generic::stream_protocol::endpoint>>(
        std::move(endpoints));
    const auto& range = *shared;
    asio::async_connect(
        socket_, range,
        [self = shared_from_this(), gen = generation_, shared](
            const std::error_code& ec, const asio::generic::stream_protocol::endpoint&) {
            if (gen != self->generation_)
                return;
            if (ec) {
                self->connect_failed("connect failed: " + ec.message());
                return;
            }
            self->connected();
        });
}

META_MEMCACHE_DECL void AsyncConnection::connected() {
    connect_timer_.cancel();
    state_ = State::open;
    ++server_.total_created;
    ++server_.established;
    std::error_code ignored;
    if (server_.options.no_delay && server_.address.unix_path.empty())
        socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    // Reads and writes are tried straight on the socket first (flush(), on_readable()); the
    // reactor is used only when the kernel has nothing to read or no room to write.
    socket_.non_blocking(true, ignored);
    read();
    flush();
}

META_MEMCACHE_DECL void AsyncConnection::connect_failed(const std::string& why) {
    shut_socket();
    // Nothing was sent: every queued request fails (the server is marked down).
    server_.connection_failed(true, why);
    const Failure f{errc::connection_failed, why, server_.name};
    pipe_.fail_all(f, *this);
    pipe_.fail_queued(f, *this);
}

META_MEMCACHE_DECL void AsyncConnection::flush_soon() {
    if (writing_ || flush_deferred_)
        return;  // goes out with the write under way's successor, or the call's requests
    // The requests of one call go out in one write (a multi_get's share of this server);
    // otherwise a request to an idle connection goes out at once, and requests issued while
    // a write is under way go out together in the next one.
    if (engine_.defer_flush(*this)) {
        flush_deferred_ = true;
        return;
    }
    flush();
}

META_MEMCACHE_DECL void AsyncConnection::flush() {
    flush_deferred_ = false;
    if (state_ != State::open || writing_ || !pipe_.has_queued())
        return;
    WriteBuffer& w = pipe_.encode_queued(engine_.options.key_prefix);
    if (w.total() == 0)
        return;
    out_.clear();
    for (const WriteBuffer::Segment& s : w.segments())
        out_.emplace_back(s.ext != nullptr ? s.ext : w.data() + s.offset, s.size);
    // Straight to the socket (non-blocking): one sendmsg, and no reactor operation, when the
    // kernel takes it all, as it does unless its buffer is full.
    std::error_code ec;
    const std::size_t n = out_.size() == 1
                              ? socket_.write_some(out_.front(), ec)
                              : socket_.write_some(std::span<const asio::const_buffer>(out_), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        broken(errc::connection_closed, "write failed: " + ec.message());
        return;
    }
    if (n < w.total())
        write_rest(n);
}

META_MEMCACHE_DECL void AsyncConnection::write_rest(std::size_t done) {
    std::size_t skip = done;
    std::size_t first = 0;
    while (skip >= out_[first].size()) {
        skip -= out_[first].size();
        ++first;
    }
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(first));
    out_.front() += skip;
    writing_ = true;
    auto done_writing = [self = shared_from_this(), gen = generation_](const std::error_code& ec,
                                                                       std::size_t) {
        self->writing_ = false;
        if (gen == self->generation_ && ec) {
            self->broken(errc::connection_closed, "write failed: " + ec.message());
            return;
        }
        self->flush();
    };
    // A view of the buffers, not a copy of the vector (asio's write keeps its sequence).
    asio::async_write(socket_, std::span<const asio::const_buffer>(out_), std::move(done_writing));
}

META_MEMCACHE_DECL void AsyncConnection::read() {
    const std::span<char> space = pipe_.read_space();
    socket_.async_read_some(
        asio::buffer(space.data(), space.size()),
        [self = shared_from_this(), gen = generation_](const std::error_code& ec, std::size_t n) {
            if (gen != self->generation_)
                return;
            if (ec) {
                self->broken(errc::connection_closed, ec == asio::error::eof
                                                          ? "connection closed by the server"
                                                          : "read failed: " + ec.message());
                return;
            }
            self->on_read(n);
        });
}

META_MEMCACHE_DECL void AsyncConnection::on_read(std::size_t n) {
    const std::uint64_t gen = generation_;
    for (;;) {
        const std::size_t room = pipe_.read_space().size();
        bool ok = false;
        if (engine_.io.direct()) {
            // The answers' completions run once the answers are all handed out (below).
            const AsyncInlineCompletions::Collect collect(engine_.completions);
            ok = pipe_.received(n, *this);
        } else {
            ok = pipe_.received(n, *this);
        }
        if (!ok) {
            broken(errc::protocol_error, std::string(pipe_.error()));
            break;
        }
        server_.answered();
        if (n < room)
            break;  // the socket had no more: the reactor says when there is
        // The read filled the buffer: more is likely there, read at once.
        const std::span<char> space = pipe_.read_space();
        std::error_code ec;
        n = socket_.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again)
            break;
        if (ec) {
            broken(errc::connection_closed, ec == asio::error::eof
                                                ? "connection closed by the server"
                                                : "read failed: " + ec.message());
            break;
        }
    }
    if (gen == generation_)
        read();
    engine_.run_completions();
}

META_MEMCACHE_DECL void AsyncConnection::arm_timer() {
    const auto next = pipe_.next_deadline();
    if (!next)
        return;
    timer_armed_ = true;
    timer_at_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        self->timer_armed_ = false;
        if (!ec)
            self->on_timer();
    });
}

META_MEMCACHE_DECL void AsyncConnection::on_timer() {
    bool must_close = false;
    const std::string why =
        "no answer within " + std::to_string(server_.options.recv_timeout.count()) + " ms";
    const std::size_t n = pipe_.expire(AsyncClock::now(), why, *this, must_close);
    if (must_close) {
        broken(errc::timeout, why);
    } else if (n > 0) {
        server_.timed_out(n, why);  // may close this connection (mark-down)
    }
    if (!timer_armed_)
        arm_timer();
}

META_MEMCACHE_DECL void AsyncConnection::broken(errc code, const std::string& why) {
    shut_socket();
    const Failure f{code, why, server_.name};
    if (code == errc::connection_closed) {
        // What a reused connection carried unanswered goes out again on a new one, once,
        // when that is safe.
        server_.retries += pipe_.retry_or_fail_all(f, *this);
    } else {
        pipe_.fail_all(f, *this);
    }
    server_.connection_failed(false, why);  // may mark the server down (a probe)
    if (state_ == State::closed && pipe_.has_queued())
        connect();  // the requests not sent yet, on a new connection
}

META_MEMCACHE_DECL void AsyncConnection::close(errc code, std::string_view why) {
    shut_socket();
    const Failure f{code, why, server_.name};
    pipe_.fail_all(f, *this);
    pipe_.fail_queued(f, *this);
}

META_MEMCACHE_DECL void AsyncConnection::shut_socket() {
    if (state_ == State::open)
        --server_.established;
    ++generation_;
    state_ = State::closed;
    std::error_code ignored;
    socket_.close(ignored);
    connect_timer_.cancel();
    resolver_.cancel();
}

// ---- AsyncServer -------------------------------------------------------------------------

META_MEMCACHE_DECL AsyncServer::AsyncServer(AsyncEngine& e,
                                            ServerAddress addr,
                                            PoolOptions opts,
                                            bool in_gutter)
    : engine(e),
      address(std::move(addr)),
      name(address.name()),
      options(std::move(opts)),
      gutter(in_gutter) {
    limits.max_value_size = e.options.max_item_size;
    const std::size_t n = std::max<std::size_t>(options.async_connections, 1);
    for (std::size_t i = 0; i < n; ++i)
        conns_.push_back(std::make_shared<AsyncConnection>(*this));
}

META_MEMCACHE_DECL bool AsyncServer::admit(std::string& why) {
    if (!down_)
        return true;
    const auto now = AsyncClock::now();
    if (now < down_until_ || probing_) {
        ++fast_failures;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
        why = "server marked down (" + std::to_string(std::max<long long>(left, 0)) +
              " ms left, after: " + down_reason_ + ")";
        return false;
    }
    probing_ = true;  // this request probes; the others keep failing fast
    ++probes;
    return true;
}

META_MEMCACHE_DECL AsyncConnection& AsyncServer::pick() noexcept {
    if (conns_.size() == 1)
        return *conns_.front();
    return *conns_[next_++ % conns_.size()];
}

META_MEMCACHE_DECL void AsyncServer::answered() noexcept {
    consecutive_timeouts_ = 0;
    if (down_) {
        down_ = false;  // the probe was answered: the server is back
        probing_ = false;
        marked_down = false;
    }
}

META_MEMCACHE_DECL void AsyncServer::timed_out(std::size_t n, std::string_view why) {
    timeouts += n;
    consecutive_timeouts_ += static_cast<unsigned>(n);
    if (consecutive_timeouts_ >= options.timeouts_to_mark_down || probing_) {
        mark_down(errc::timeout, std::to_string(consecutive_timeouts_) + " consecutive timeouts (" +
                                     std::string(why) + ")");
    }
}

META_MEMCACHE_DECL void AsyncServer::connection_failed(bool connecting, std::string_view why) {
    ++total_errors;
    if (connecting || probing_)
        mark_down(connecting ? errc::connection_failed : errc::connection_closed, why);
}

META_MEMCACHE_DECL void AsyncServer::mark_down(errc code, std::string_view why) {
    if (down_ && !probing_)
        return;  // a request sent before the mark-down: nothing changes
    down_ = true;
    probing_ = false;
    down_until_ = AsyncClock::now() + options.mark_down_period;
    down_reason_ = std::string(why);
    consecutive_timeouts_ = 0;
    ++mark_downs;
    marked_down = true;
    close_all(code, why);
}

META_MEMCACHE_DECL void AsyncServer::close_all(errc code, std::string_view why) {
    for (const auto& c : conns_)
        c->close(code, why);
}

META_MEMCACHE_DECL PoolCounters AsyncServer::counters() const noexcept {
    PoolCounters c;
    c.established = established.load(std::memory_order_relaxed);
    c.active = c.established;
    c.total_created = total_created.load(std::memory_order_relaxed);
    c.total_errors = total_errors.load(std::memory_order_relaxed);
    c.timeouts = timeouts.load(std::memory_order_relaxed);
    c.mark_downs = mark_downs.load(std::memory_order_relaxed);
    c.probes = probes.load(std::memory_order_relaxed);
    c.fast_failures = fast_failures.load(std::memory_order_relaxed);
    c.retries = retries.load(std::memory_order_relaxed);
    c.marked_down = marked_down.load(std::memory_order_relaxed);
    return c;
}

// ---- AsyncEngine -------------------------------------------------------------------------

namespace async_impl {

inline void add_servers(AsyncEngine& e,
                        AsyncEngine::Group& g,
                        const std::vector<ServerAddress>& servers,
                        const PoolOptions& options,
                        bool gutter) {
    for (const ServerAddress& s : servers)
        g.servers.push_back(std::make_unique<AsyncServer>(e, s, options, gutter));
}

/// True when `io` is run by one thread: its concurrency hint is 1 (asio's "one thread"),
/// or one that turns asio's own locking off. asio keeps the hint in its scheduler, which
/// io_context exposes as a service.
inline bool runs_on_one_thread(asio::io_context& io) {
    const int hint = asio::use_service<asio::detail::io_context_impl>(io).concurrency_hint();
    return hint == 1 || !ASIO_CONCURRENCY_HINT_IS_LOCKING(SCHEDULER, hint) ||
           !ASIO_CONCURRENCY_HINT_IS_LOCKING(REACTOR_IO, hint);
}

/// The io_context itself when `ex` is its executor and one thread runs it; otherwise a
/// strand of `ex`.
inline AsyncExecutor executor_for(const asio::any_io_executor& ex) {
    if (const auto* io = ex.target<asio::io_context::executor_type>()) {
        if (runs_on_one_thread(io->context()))
            return AsyncExecutor(io->context());
    }
    return AsyncExecutor(asio::make_strand(ex));
}

/// The io_context whose handlers may complete inline, or null (a strand).
inline const void* context_of(const AsyncExecutor& io) noexcept {
    return io.direct_context();
}

inline PoolOptions checked(PoolOptions o) {
    o.validate();
    if (o.tls.enabled)
        throw InvalidInputError("AsyncCacheClient: TLS is not supported yet");
    if (!o.auth.username.empty())
        throw InvalidInputError("AsyncCacheClient: authentication is not supported yet");
    return o;
}

}  // namespace async_impl

META_MEMCACHE_DECL AsyncEngine::AsyncEngine(asio::any_io_executor ex,
                                            const std::vector<ServerAddress>& servers,
                                            const std::vector<ServerAddress>& gutter,
                                            std::int64_t gutter_ttl,
                                            PoolOptions pool_options,
                                            ClientOptions client_options,
                                            HashMode mode)
    : executor(std::move(ex)),
      io(async_impl::executor_for(executor)),
      completions(async_impl::context_of(io)),
      options(std::move(client_options)),
      primary_{HashRing(servers, mode), {}},
      gutter_ttl_(gutter_ttl) {
    const PoolOptions pool = async_impl::checked(std::move(pool_options));
    if (options.max_item_size < 4096)
        throw InvalidInputError("ClientOptions: max_item_size must be at least 4096 bytes");
    serializer = options.serializer ? options.serializer : std::make_shared<Serializer>();
    async_impl::add_servers(*this, primary_, servers, pool, false);
    if (!gutter.empty()) {
        if (gutter_ttl <= 0)
            throw InvalidInputError("gutter_ttl must be positive");
        gutter_ = std::make_unique<Group>(Group{HashRing(gutter, mode), {}});
        async_impl::add_servers(*this, *gutter_, gutter, pool, true);
    }
}

META_MEMCACHE_DECL void AsyncEngine::start(std::shared_ptr<AsyncCall> call) {
    if (io.direct() && io.running_in_this_thread()) {
        begin(call);  // on the io_context's one thread: nothing to hop onto
        return;
    }
    asio::dispatch(io, [self = shared_from_this(), call = std::move(call)] { self->begin(call); });
}

META_MEMCACHE_DECL void AsyncEngine::begin(const std::shared_ptr<AsyncCall>& call) {
    if (call->finished)
        return;  // cancelled before it started
    call->reset_remaining();
    const auto n = static_cast<std::uint32_t>(call->requests.size());
    ++starting_;
    try {
        for (std::uint32_t i = 0; i < n && !call->finished; ++i)
            send(call, i, false);
    } catch (...) {
        --starting_;
        throw;
    }
    end_batch();  // every server's share of the call in one write each
}

META_MEMCACHE_DECL void AsyncEngine::end_batch() {
    if (--starting_ != 0)
        return;
    std::vector<std::shared_ptr<AsyncConnection>> conns;
    conns.swap(to_flush_);
    for (const auto& c : conns)
        c->flush();
    conns.clear();
    if (to_flush_.empty())
        conns.swap(to_flush_);  // keeps the vector's memory
}

META_MEMCACHE_DECL void AsyncEngine::run_completions() {
    if (completions.empty())
        return;
    // The requests their handlers start go out together: one write per connection.
    ++starting_;
    try {
        completions.run_all();
    } catch (...) {
        end_batch();
        throw;
    }
    end_batch();
}

META_MEMCACHE_DECL bool AsyncEngine::defer_flush(AsyncConnection& c) {
    if (starting_ == 0)
        return false;
    to_flush_.push_back(c.shared_from_this());
    return true;
}

META_MEMCACHE_DECL void AsyncEngine::send(const std::shared_ptr<AsyncCall>& call,
                                          std::uint32_t i,
                                          bool to_gutter) {
    if (stopped_) {
        failed(call, i, Failure{errc::connection_closed, "the client was destroyed", {}}, true);
        return;
    }
    Group& g = to_gutter ? *gutter_ : primary_;
    const Request& r = call->requests[i];
    AsyncServer& s = *g.servers[g.servers.size() == 1 ? 0 : g.ring.node_for(r.key.route())];
    std::string why;
    if (!s.admit(why)) {
        failed(call, i, Failure{errc::marked_down, why, s.name}, to_gutter);
        return;
    }
    s.pick().push(call, i);
}

META_MEMCACHE_DECL void AsyncEngine::failed(const std::shared_ptr<AsyncCall>& call,
                                            std::uint32_t i,
                                            const Failure& f,
                                            bool from_gutter) {
    if (call->finished)
        return;
    Request& r = call->requests[i];
    if (!from_gutter && call->track_write_failures && is_tracked_write(r) &&
        !on_write_failure.empty()) {
        on_write_failure.notify(r.key.to_key());
    }
    if (!from_gutter && gutter_ && f.is_transport() && !stopped_) {
        cap_ttls(r.flags, gutter_ttl_);
        send(call, i, true);
        return;
    }
    call->sink().fail(i, f);
    call->request_done();
}

META_MEMCACHE_DECL void AsyncEngine::cancel(const std::shared_ptr<AsyncCall>& call) {
    if (call->finished)
        return;
    call->finished = true;
    call->abort(asio::error::operation_aborted);
}

META_MEMCACHE_DECL bool AsyncEngine::raise(const FailureHandling& fh) const noexcept {
    if (fh.raise_on_server_error)
        return *fh.raise_on_server_error;
    if (options.raise_on_server_error)
        return *options.raise_on_server_error;
    return true;  // as the ring and gutter routers of the synchronous client
}

META_MEMCACHE_DECL std::error_code AsyncEngine::validate(const AsyncCall& call) const {
    try {
        for (const Request& r : call.requests) {
            if (call.plain_reads)
                detail::validate_plain_read(r, options.key_prefix);
            else
                detail::validate(r, options.key_prefix, options.max_item_size);
        }
    } catch (const InvalidInputError& e) {
        return e.code();
    }
    return {};
}

META_MEMCACHE_DECL void AsyncEngine::shutdown() {
    stopped_ = true;
    for (Group* g : {&primary_, gutter_.get()}) {
        if (g == nullptr)
            continue;
        for (const auto& s : g->servers)
            s->close_all(errc::connection_closed, "the client was destroyed");
    }
}

META_MEMCACHE_DECL std::vector<ServerCounters> AsyncEngine::counters() const {
    std::vector<ServerCounters> out;
    for (const Group* g : {&primary_, static_cast<const Group*>(gutter_.get())}) {
        if (g == nullptr)
            continue;
        for (const auto& s : g->servers)
            out.push_back(ServerCounters{s->name, s->gutter ? "gutter" : "primary", s->counters()});
    }
    return out;
}

}  // namespace meta_memcache::detail
