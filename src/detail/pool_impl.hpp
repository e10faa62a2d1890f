#pragma once

#include "detail/connection.hpp"
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/response_parser.hpp>

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
    };

    /// How a batch ended, for the pool's bookkeeping.
    enum class Outcome { ok, failed, timed_out };

    Impl(ServerAddress server, PoolOptions options);

    /// Hands out an idle connection or opens one (outside the lock).
    /// @throws TransportError: marked down, pool exhausted, connect failure.
    Lease acquire(detail::Clock::time_point deadline, bool force_new);
    /// Takes a connection back: kept when ok and there is room, closed otherwise.
    void release(Lease& lease, Outcome outcome, const std::string& reason);
    PoolCounters counters() const;

    ServerAddress server;
    std::string name;
    PoolOptions options;
    detail::ParserLimits limits;
    std::unique_ptr<detail::TlsContext> tls;

private:
    void check_fork_locked();
    void mark_down_locked(const std::string& reason,
                          std::vector<std::unique_ptr<detail::Connection>>& graveyard);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<detail::Connection>> idle_;
    std::size_t open_ = 0;  ///< connections open or being opened
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
