#include "detail/pool_impl.hpp"
#include <meta_memcache/error.hpp>

#include <algorithm>

namespace meta_memcache {

using detail::Clock;
using detail::Connection;

void PoolOptions::validate() const {
    auto bad = [](const std::string& what) { throw InvalidInputError("PoolOptions: " + what); };
    if (max_connections == 0)
        bad("max_connections must be at least 1");
    if (max_pool_size > max_connections)
        bad("max_pool_size cannot exceed max_connections");
    if (initial_pool_size > max_connections)
        bad("initial_pool_size cannot exceed max_connections");
    if (read_buffer_size < 1024)
        bad("read_buffer_size must be at least 1024 bytes");
    if (connection_timeout.count() <= 0)
        bad("connection_timeout must be positive");
    if (recv_timeout.count() <= 0)
        bad("recv_timeout must be positive");
    if (mark_down_period.count() < 0)
        bad("mark_down_period cannot be negative");
    if (pool_wait_timeout.count() < 0)
        bad("pool_wait_timeout cannot be negative");
    if (idle_check_after.count() < 0)
        bad("idle_check_after cannot be negative");
    if (timeouts_to_mark_down == 0)
        bad("timeouts_to_mark_down must be at least 1");
    if (!auth.username.empty() && (auth.username.find_first_of(" \r\n") != std::string::npos ||
                                   auth.password.find_first_of(" \r\n") != std::string::npos)) {
        bad("auth username and password cannot contain spaces or line breaks");
    }
    if (tls.enabled && !tls.key_file.empty() && tls.cert_file.empty()) {
        bad("tls.key_file given without tls.cert_file");
    }
}

ConnectionPool::Impl::Impl(ServerAddress server_, PoolOptions options_)
    : server(std::move(server_)), name(server.name()), options(std::move(options_)) {
    options.validate();
    limits.max_line = std::min<std::size_t>(2048, options.read_buffer_size);
    if (options.tls.enabled) {
        tls = std::make_unique<detail::TlsContext>(options.tls);
    }
    generation_ = detail::fork_generation();
}

void ConnectionPool::Impl::check_fork_locked() {
    const std::uint64_t gen = detail::fork_generation();
    if (gen == generation_) {
        return;
    }
    // A child after fork(): the parent's sockets are closed here (only the child's copies)
    // and never used; the pool starts again as if new.
    generation_ = gen;
    idle_.clear();
    open_ = 0;
    started_ = false;
    down_ = false;
    probing_ = false;
    consecutive_timeouts_ = 0;
    c_ = PoolCounters{};
}

void ConnectionPool::Impl::mark_down_locked(const std::string& reason,
                                            std::vector<std::unique_ptr<Connection>>& graveyard) {
    down_ = true;
    probing_ = false;
    down_until_ = Clock::now() + options.mark_down_period;
    down_reason_ = reason;
    ++c_.mark_downs;
    // Idle connections to a failed server are most likely dead too.
    open_ -= idle_.size();
    for (auto& conn : idle_)
        graveyard.push_back(std::move(conn));
    idle_.clear();
    cv_.notify_all();
}

ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire(Clock::time_point deadline,
                                                          bool force_new) {
    std::unique_lock lk(mu_);
    check_fork_locked();
    Lease lease;
    const auto now = Clock::now();
    if (down_) {
        if (now < down_until_ || probing_) {
            ++c_.fast_failures;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
            throw ServerMarkedDownError("server marked down (" +
                                            std::to_string(std::max<long long>(left, 0)) +
                                            " ms left, after: " + down_reason_ + ")",
                                        name);
        }
        probing_ = true;  // exactly one caller probes; the others keep failing fast
        lease.probe = true;
        ++c_.probes;
    }
    std::size_t warm_extra = 0;
    if (!started_) {
        started_ = true;
        const std::size_t initial =
            generation_ == 0 ? options.initial_pool_size : options.after_fork_initial_pool_size;
        warm_extra = initial > 1 ? initial - 1 : 0;
    }
    while (!force_new && !idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        if (now - conn->last_used >= options.idle_check_after) {
            lk.unlock();
            const bool dead = conn->looks_dead();
            lk.lock();
            if (dead) {
                --open_;
                lk.unlock();
                conn.reset();
                lk.lock();
                continue;
            }
        }
        lease.conn = std::move(conn);
        return lease;
    }
    if (open_ >= options.max_connections) {
        ++c_.pool_waits;
        const auto wait_until = std::min(deadline, now + options.pool_wait_timeout);
        while (open_ >= options.max_connections && idle_.empty()) {
            if (cv_.wait_until(lk, wait_until) == std::cv_status::timeout) {
                break;
            }
        }
        if (!idle_.empty()) {
            lease.conn = std::move(idle_.back());
            idle_.pop_back();
            return lease;
        }
        if (open_ >= options.max_connections) {
            if (lease.probe)
                probing_ = false;
            throw TransportError(errc::pool_exhausted,
                                 "all " + std::to_string(options.max_connections) +
                                     " connections busy for " +
                                     std::to_string(options.pool_wait_timeout.count()) + " ms",
                                 name);
        }
    }
    ++open_;
    lk.unlock();
    try {
        lease.conn = Connection::open(server, name, options, tls.get(),
                                      Clock::now() + options.connection_timeout);
    } catch (const TransportError& e) {
        std::vector<std::unique_ptr<Connection>> graveyard;
        lk.lock();
        --open_;
        ++c_.total_errors;
        mark_down_locked(e.what(), graveyard);
        lk.unlock();
        throw;
    }
    lease.fresh = true;
    lk.lock();
    ++c_.total_created;
    // initial_pool_size: open the rest of the first connections now, best effort.
    while (warm_extra > 0 && open_ < options.max_connections && !down_) {
        --warm_extra;
        ++open_;
        lk.unlock();
        std::unique_ptr<Connection> extra;
        try {
            extra = Connection::open(server, name, options, tls.get(),
                                     Clock::now() + options.connection_timeout);
        } catch (const TransportError&) {
        }
        lk.lock();
        if (!extra) {
            --open_;
            ++c_.total_errors;
            break;
        }
        ++c_.total_created;
        extra->last_used = Clock::now();
        idle_.push_back(std::move(extra));
    }
    return lease;
}

void ConnectionPool::Impl::release(Lease& lease, Outcome outcome, const std::string& reason) {
    std::vector<std::unique_ptr<Connection>> graveyard;
    {
        std::lock_guard lk(mu_);
        if (!lease.conn || lease.conn->fork_generation != detail::fork_generation()) {
            graveyard.push_back(std::move(lease.conn));  // the parent's: never reused
        } else if (outcome == Outcome::ok) {
            consecutive_timeouts_ = 0;
            if (lease.probe) {
                down_ = false;
                probing_ = false;
            }
            if (idle_.size() < options.max_pool_size && !down_) {
                lease.conn->last_used = Clock::now();
                idle_.push_back(std::move(lease.conn));
            } else {
                --open_;
                graveyard.push_back(std::move(lease.conn));
            }
        } else {
            --open_;
            ++c_.total_errors;
            graveyard.push_back(std::move(lease.conn));
            if (outcome == Outcome::timed_out) {
                ++c_.timeouts;
                ++consecutive_timeouts_;
                if (consecutive_timeouts_ >= options.timeouts_to_mark_down || lease.probe) {
                    mark_down_locked(std::to_string(consecutive_timeouts_) +
                                         " consecutive timeouts (" + reason + ")",
                                     graveyard);
                }
            } else if (lease.probe) {
                mark_down_locked(reason, graveyard);
            }
        }
        cv_.notify_one();
    }
    lease = Lease{};
    // graveyard closes its sockets here, outside the lock
}

PoolCounters ConnectionPool::Impl::counters() const {
    std::lock_guard lk(mu_);
    PoolCounters out = c_;
    out.available = idle_.size();
    out.established = open_;
    out.active = open_ - idle_.size();
    out.marked_down = down_ && (Clock::now() < down_until_ || probing_);
    return out;
}

ConnectionPool::ConnectionPool(ServerAddress server, PoolOptions options)
    : impl_(std::make_unique<Impl>(std::move(server), std::move(options))) {}
ConnectionPool::~ConnectionPool() = default;
const ServerAddress& ConnectionPool::server() const noexcept {
    return impl_->server;
}
const std::string& ConnectionPool::name() const noexcept {
    return impl_->name;
}
const PoolOptions& ConnectionPool::options() const noexcept {
    return impl_->options;
}
PoolCounters ConnectionPool::counters() const {
    return impl_->counters();
}
bool ConnectionPool::is_marked_down() const {
    return impl_->counters().marked_down;
}

}  // namespace meta_memcache
