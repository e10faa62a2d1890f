#pragma once

#include "detail/connection.hpp"
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/response_parser.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace meta_memcache {

/// The state behind a ConnectionPool (see connection_pool.cpp).
struct ConnectionPool::Impl {
    /// A connection checked out for one request batch.
    struct Lease {
        std::unique_ptr<detail::Connection> conn;
        bool fresh = false;  ///< opened for this request (not reused from the pool)
        bool probe = false;  ///< this request probes a server whose mark-down period ended
        detail::Clock::time_point at{};  ///< when it was handed out (after any connect)
    };

    /// How a batch ended, for the pool's bookkeeping.
    enum class Outcome { ok, failed, timed_out };

    Impl(ServerAddress server, PoolOptions options);

    /// Hands out an idle connection or opens one (outside the lock). `force_new`: a retry
    /// after a reused connection died; never reuses one.
    /// @throws TransportError: marked down, pool exhausted, connect failure.
    /// `wait_budget` bounds a wait for a free connection (with pool_wait_timeout).
    Lease acquire(std::chrono::milliseconds wait_budget, bool force_new);
    /// Takes a connection back: kept when ok and there is room, closed otherwise.
    void release(Lease& lease, Outcome outcome, const std::string& reason);
    /// A snapshot (a fresh pool's in a child process after fork()).
    PoolCounters counters();
    /// True while calls fail fast (marked down, period not over or a probe under way).
    /// Lock-free while the server is up.
    bool is_marked_down();

    ServerAddress server;
    std::string name;
    PoolOptions options;
    detail::ParserLimits limits;
    std::unique_ptr<detail::TlsContext> tls;

private:
    using Conns = std::vector<std::unique_ptr<detail::Connection>>;

    void check_fork_locked();
    /// Lets the call through (as the probe when the mark-down period is over) or throws
    /// ServerMarkedDownError.
    void admit_locked(Lease& lease, detail::Clock::time_point now);
    /// Marks the server down; idle connections go to `to_close`. A failure arriving while
    /// the server is already down (a request sent before) changes nothing unless it is
    /// the probe's.
    void mark_down_locked(const std::string& reason, Conns& to_close, bool probe_failed);
    /// Closes connections still counted in open_, then uncounts them: the cap holds for
    /// sockets, not only for the count. Call without the lock.
    void close_counted(Conns& conns);
    /// Opens the first connections beyond the caller's (initial_pool_size), best effort.
    void warm_up_locked(std::unique_lock<std::mutex>& lk, std::size_t extra);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::size_t waiters_ = 0;  ///< callers waiting on cv_ for a connection
    std::vector<std::unique_ptr<detail::Connection>> idle_;
    std::size_t open_ = 0;  ///< connections open or being opened
    bool started_ = false;
    std::uint64_t generation_ = 0;
    bool down_ = false;
    /// down_, readable without the lock: false means "up" for certain, true is checked
    /// under the lock (the period may be over).
    std::atomic<bool> maybe_down_{false};
    bool probing_ = false;
    detail::Clock::time_point down_until_{};
    std::string down_reason_;
    unsigned consecutive_timeouts_ = 0;
    PoolCounters c_;
};

}  // namespace meta_memcache
