#pragma once

// The state behind a ConnectionPool: which connections are open, which are idle, mark-down
// and probing, counters.
//
// The hand-off takes no lock in the common case and keeps a connection with its thread: a
// thread's connection is parked in that thread's own slot (PerThread) between its requests
// and taken back with one atomic exchange, so a thread talks to the same memcached worker
// every time and writes nothing other threads' requests write. A connection that is kept
// that way is "bound" to its thread; bound plus shared-idle connections never exceed
// max_pool_size. Everything else (opening, closing, mark-down, waiting for a free
// connection, counters) goes through the mutex, as before.

#include <meta_memcache/config.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/per_thread.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/impl/net/connection.hpp>
#include <meta_memcache/impl/net/exchange.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache {

namespace detail {
/// Why a pool handed out no connection (marked down, exhausted, connect failed).
struct AcquireError {
    errc code = errc::connection_failed;
    std::string message{};
};
}  // namespace detail

struct ConnectionPool::Impl {
    /// How a batch ended, for the pool's bookkeeping.
    enum class Outcome { ok, failed, timed_out };
    struct Parked;

    /// A connection checked out for one request batch. Move-only; it always goes back to
    /// its pool: with the outcome given to done(), or as failed when destroyed before
    /// (an exception, an abandoned request).
    class Lease {
    public:
        Lease() = default;
        Lease(Lease&& o) noexcept
            : conn(std::exchange(o.conn, nullptr)),
              fresh(o.fresh),
              probe(o.probe),
              at(o.at),
              pool_(o.pool_),
              slot_(o.slot_) {}
        Lease& operator=(Lease&& o) noexcept {
            if (this != &o) {
                done(Outcome::failed, "request abandoned");
                conn = std::exchange(o.conn, nullptr);
                fresh = o.fresh;
                probe = o.probe;
                at = o.at;
                pool_ = o.pool_;
                slot_ = o.slot_;
            }
            return *this;
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            if (conn != nullptr) [[unlikely]]
                abandon();
        }

        /// Gives the connection back (no-op when there is none).
        [[gnu::always_inline]] void done(Outcome outcome, std::string_view reason = {}) noexcept {
            if (conn != nullptr)
                pool_->release(*this, outcome, reason);
        }

        detail::Connection* conn = nullptr;
        bool fresh = false;  ///< opened for this request (not reused from the pool)
        bool probe = false;  ///< this request probes a server whose mark-down period ended
        detail::Clock::time_point at{};  ///< when it was handed out (after any connect)

    private:
        friend struct Impl;
        /// done(Outcome::failed) for a lease dropped before it was done with.
        [[gnu::noinline]] void abandon() noexcept { done(Outcome::failed, "request abandoned"); }
        Lease(Impl* pool,
              detail::Connection* c,
              detail::Clock::time_point when,
              Parked* slot = nullptr) noexcept
            : conn(c), at(when), pool_(pool), slot_(slot) {}
        Impl* pool_ = nullptr;
        Parked* slot_ = nullptr;  ///< the thread's slot it was taken from, if it was
    };

    Impl(ServerAddress server, PoolOptions options);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    Impl(Impl&&) = delete;
    Impl& operator=(Impl&&) = delete;

    /// Hands out this thread's connection, an idle one, or opens one (outside the lock).
    /// `force_new`: a retry after a reused connection died; never reuses one.
    /// `wait_budget` bounds a wait for a free connection (with pool_wait_timeout).
    /// An empty lease when there is none (marked down, pool exhausted, connect failure):
    /// `error` says why, and the pool has counted it.
    [[gnu::always_inline]] Lease acquire(std::chrono::milliseconds wait_budget,
                                         bool force_new,
                                         detail::AcquireError& error) {
        // The common case: this thread's own connection, parked in its slot since its last
        // request. No lock, and nothing written that another thread's request writes.
        if (!force_new && !maybe_down_.load(std::memory_order_relaxed)) {
            if (Parked* p = parked_.mine()) {
                if (detail::Connection* c = p->conn.exchange(nullptr, std::memory_order_acquire)) {
                    // (A parent's connection after fork() is forgotten by the locked path.)
                    if (c->fork_generation == detail::known_fork_generation()) [[likely]] {
                        const auto now = detail::clock_now();
                        if (now - c->last_used < options.idle_check_after) [[likely]]
                            return Lease(this, c, now, p);
                        return acquire_idle(c, p, now, wait_budget, error);
                    }
                }
            }
        }
        return acquire_shared(wait_budget, force_new, error);
    }
    /// acquire()'s common case alone: this thread's parked connection when it is there and
    /// needs no idle check, else an empty lease with nothing taken (acquire() does the rest).
    [[gnu::always_inline]] Lease take_parked() noexcept {
        if (!maybe_down_.load(std::memory_order_relaxed)) {
            if (Parked* p = parked_.mine()) {
                if (detail::Connection* c = p->conn.exchange(nullptr, std::memory_order_acquire)) {
                    const auto now = detail::clock_now();
                    if (c->fork_generation == detail::known_fork_generation() &&
                        now - c->last_used < options.idle_check_after) [[likely]]
                        return Lease(this, c, now, p);
                    p->conn.store(c, std::memory_order_release);  // for acquire() to judge
                }
            }
        }
        return {};
    }
    /// acquire(), throwing the TransportError instead (for the classic-protocol exchanges).
    Lease acquire_or_throw(std::chrono::milliseconds wait_budget);
    /// One classic-protocol request on a pooled connection (classic_requests.ipp): its
    /// whole answer, error lines included (the caller judges them).
    /// @throws TransportError (marked down, timeout, connection lost, an answer over
    /// `max_size` bytes or out of step).
    std::string classic(std::string_view request, detail::AnswerEnd end, std::size_t max_size);
    /// A snapshot (a fresh pool's in a child process after fork()).
    PoolCounters counters();
    /// True while calls fail fast (marked down, period not over or a probe under way).
    /// Lock-free while the server is up.
    bool is_marked_down();
    /// The server left its router: idle connections close now, the others when released.
    void retire();

    ServerAddress server;
    std::string name;
    PoolOptions options;
    detail::ParserLimits limits;
    std::unique_ptr<detail::TlsContext> tls;

private:
    using Conns = std::vector<std::unique_ptr<detail::Connection>>;

public:
    /// A thread's parked connection (null when it has none there).
    struct Parked {
        std::atomic<detail::Connection*> conn{nullptr};
    };

private:
    /// Takes a connection back: kept when ok and there is room, closed otherwise.
    [[gnu::always_inline]] void release(Lease& lease,
                                        Outcome outcome,
                                        std::string_view reason) noexcept {
        detail::Connection* c = lease.conn;
        // The common case: this thread keeps its connection, parked in its own slot.
        if (outcome == Outcome::ok && c->bound && !lease.probe &&
            !maybe_down_.load(std::memory_order_relaxed) &&
            waiters_.load(std::memory_order_relaxed) == 0 &&
            c->fork_generation == detail::known_fork_generation()) [[likely]] {
            // (The lease was taken on this thread: its slot, when it came from one, is
            // this thread's.)
            Parked* p = lease.slot_ != nullptr ? lease.slot_ : parked_.mine();
            if (p != nullptr && p->conn.load(std::memory_order_relaxed) == nullptr) [[likely]] {
                // The request's start stands in for "now": close enough for idle checks,
                // and it saves reading the clock on every request.
                lease.conn = nullptr;
                c->last_used = lease.at;
                p->conn.store(c, std::memory_order_release);
                return;
            }
        }
        release_shared(lease, outcome, reason);
    }
    /// release() when the connection does not go back to this thread's slot.
    void release_shared(Lease& lease, Outcome outcome, std::string_view reason) noexcept;
    /// acquire() of a parked connection idle for idle_check_after: kept when it looks
    /// alive, else closed (and another one taken).
    Lease acquire_idle(detail::Connection* c,
                       Parked* p,
                       detail::Clock::time_point now,
                       std::chrono::milliseconds wait_budget,
                       detail::AcquireError& error);
    /// acquire() from the shared idle list (or a new connection), under the lock.
    Lease acquire_shared(std::chrono::milliseconds wait_budget,
                         bool force_new,
                         detail::AcquireError& error);
    void release_locked(detail::Connection* c,
                        const Lease& lease,
                        Outcome outcome,
                        std::string_view reason,
                        Conns& to_close);
    Lease acquire_locked(std::unique_lock<std::mutex>& lk,
                         std::chrono::milliseconds wait_budget,
                         bool force_new,
                         detail::AcquireError& error);
    void check_fork_locked();
    /// Lets the call through (as the probe when the mark-down period is over), or says
    /// why not in `error` and returns false.
    bool admit_locked(bool& probe, detail::Clock::time_point now, detail::AcquireError& error);
    /// Marks the server down; idle and parked connections go to `to_close`. A failure
    /// arriving while the server is already down (a request sent before) changes nothing
    /// unless it is the probe's.
    void mark_down_locked(std::string_view reason, Conns& to_close, bool probe_failed);
    /// Moves `c` out of the open set into `to_close` (still counted in open_).
    void take_locked(detail::Connection* c, Conns& to_close);
    /// Every parked connection, and every idle one, into `to_close`.
    void close_idle_locked(Conns& to_close);
    /// A parked connection of any thread, unbound, or null: for a caller that would
    /// otherwise wait while connections sit unused in other threads' slots.
    detail::Connection* steal_parked_locked();
    /// Closes connections still counted in open_, then uncounts them: the cap holds for
    /// sockets, not only for the count. Call without the lock.
    void close_counted(Conns& conns);
    /// Opens the first connections beyond the caller's (initial_pool_size), best effort.
    void warm_up_locked(std::unique_lock<std::mutex>& lk, std::size_t extra);

    detail::PerThread<Parked> parked_;
    /// down_ or retired_, readable without the lock: false means "up" for certain.
    std::atomic<bool> maybe_down_{false};
    std::atomic<bool> retired_{false};
    std::atomic<std::size_t> waiters_{0};  ///< callers waiting on cv_ for a connection

    mutable std::mutex mu_;
    std::condition_variable cv_;
    Conns all_;                              ///< every open connection (owner)
    std::vector<detail::Connection*> idle_;  ///< idle and not bound to a thread
    std::size_t open_ = 0;                   ///< connections open or being opened
    std::size_t bound_ = 0;                  ///< connections bound to a thread (parked or in use)
    bool started_ = false;
    std::uint64_t generation_ = 0;
    bool down_ = false;
    bool probing_ = false;
    detail::Clock::time_point down_until_{};
    std::string down_reason_;
    unsigned consecutive_timeouts_ = 0;
    PoolCounters c_;
};

}  // namespace meta_memcache
