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
    maybe_down_.store(false, std::memory_order_relaxed);
    probing_ = false;
    consecutive_timeouts_ = 0;
    c_ = PoolCounters{};
}

void ConnectionPool::Impl::admit_locked(Lease& lease, Clock::time_point now) {
    if (!down_ || lease.probe) {
        return;
    }
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

void ConnectionPool::Impl::mark_down_locked(const std::string& reason,
                                            Conns& to_close,
                                            bool probe_failed) {
    if (down_ && !probe_failed) {
        return;
    }
    down_ = true;
    maybe_down_.store(true, std::memory_order_relaxed);
    probing_ = false;
    down_until_ = Clock::now() + options.mark_down_period;
    down_reason_ = reason;
    ++c_.mark_downs;
    // Idle connections to a failed server are most likely dead too.
    for (auto& conn : idle_)
        to_close.push_back(std::move(conn));
    idle_.clear();
    cv_.notify_all();  // waiters fail fast now
}

void ConnectionPool::Impl::close_counted(Conns& conns) {
    if (conns.empty()) {
        return;
    }
    const std::size_t n = conns.size();
    conns.clear();  // closes the sockets
    std::lock_guard lk(mu_);
    open_ -= std::min(n, open_);
    if (n == 1) {
        cv_.notify_one();
    } else {
        cv_.notify_all();
    }
}

void ConnectionPool::Impl::warm_up_locked(std::unique_lock<std::mutex>& lk, std::size_t extra) {
    while (extra > 0 && open_ < options.max_connections && !down_) {
        --extra;
        ++open_;
        lk.unlock();
        std::unique_ptr<Connection> conn;
        try {
            conn = Connection::open(server, name, options, tls.get(),
                                    Clock::now() + options.connection_timeout);
        } catch (const TransportError&) {
        }
        lk.lock();
        if (!conn) {
            --open_;
            ++c_.total_errors;
            cv_.notify_one();
            return;
        }
        ++c_.total_created;
        conn->last_used = Clock::now();
        idle_.push_back(std::move(conn));
        cv_.notify_one();
    }
}

ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire(std::chrono::milliseconds wait_budget,
                                                          bool force_new) {
    std::unique_lock lk(mu_);
    check_fork_locked();
    Lease lease;
    auto now = Clock::now();
    admit_locked(lease, now);
    // From here on, a probe that ends without a connection lets the next caller probe.
    auto give_up_probe = [&] {
        if (lease.probe) {
            probing_ = false;
        }
    };
    if (force_new) {
        ++c_.retries;
    }
    std::size_t warm_extra = 0;
    if (!started_) {
        started_ = true;
        const std::size_t initial =
            generation_ == 0 ? options.initial_pool_size : options.after_fork_initial_pool_size;
        warm_extra = initial > 1 ? initial - 1 : 0;
    }
    bool waited = false;
    Clock::time_point wait_until{};
    for (;;) {
        if (!force_new) {
            while (!idle_.empty()) {
                std::unique_ptr<Connection> conn = std::move(idle_.back());
                idle_.pop_back();
                if (now - conn->last_used >= options.idle_check_after) {
                    lk.unlock();
                    const bool dead = conn->looks_dead();
                    if (dead) {
                        conn.reset();  // closed before it is uncounted
                    }
                    lk.lock();
                    if (dead) {
                        --open_;
                        ++c_.closed_idle;
                        continue;
                    }
                }
                lease.conn = std::move(conn);
                lease.at = now;
                return lease;
            }
        } else if (!idle_.empty() && open_ >= options.max_connections) {
            // Full: the retry's fresh connection takes the place of the oldest idle one.
            std::unique_ptr<Connection> old = std::move(idle_.front());
            idle_.erase(idle_.begin());
            lk.unlock();
            old.reset();
            lk.lock();
            break;  // its slot, still counted in open_, is ours
        }
        if (open_ < options.max_connections) {
            ++open_;
            break;
        }
        if (!waited) {
            waited = true;
            ++c_.pool_waits;
            wait_until = now + std::min(wait_budget, options.pool_wait_timeout);
        }
        ++waiters_;
        const std::cv_status waited_out = cv_.wait_until(lk, wait_until);
        --waiters_;
        if (waited_out == std::cv_status::timeout && open_ >= options.max_connections &&
            idle_.empty()) {
            give_up_probe();
            throw TransportError(errc::pool_exhausted,
                                 "all " + std::to_string(options.max_connections) +
                                     " connections busy for " +
                                     std::to_string(options.pool_wait_timeout.count()) + " ms",
                                 name);
        }
        now = Clock::now();
        admit_locked(lease, now);  // marked down while we waited: fail fast
    }
    lk.unlock();
    try {
        lease.conn = Connection::open(server, name, options, tls.get(),
                                      Clock::now() + options.connection_timeout);
    } catch (const TransportError& e) {
        Conns to_close;
        lk.lock();
        --open_;
        ++c_.total_errors;
        cv_.notify_one();
        mark_down_locked(e.what(), to_close, lease.probe);
        lk.unlock();
        close_counted(to_close);
        throw;
    } catch (...) {
        lk.lock();
        --open_;
        give_up_probe();
        cv_.notify_one();
        throw;
    }
    lease.fresh = true;
    lease.at = Clock::now();  // connecting had its own budget (connection_timeout)
    lk.lock();
    ++c_.total_created;
    warm_up_locked(lk, warm_extra);
    return lease;
}

void ConnectionPool::Impl::release(Lease& lease, Outcome outcome, const std::string& reason) {
    Conns to_close;  // counted in open_ until closed
    Conns foreign;   // a parent process's: not counted in this process
    {
        std::lock_guard lk(mu_);
        if (!lease.conn || lease.conn->fork_generation != detail::fork_generation()) {
            foreign.push_back(std::move(lease.conn));  // the parent's: never reused
        } else if (outcome == Outcome::ok) {
            consecutive_timeouts_ = 0;
            if (lease.probe) {
                down_ = false;  // the probe worked: the server is back
                maybe_down_.store(false, std::memory_order_relaxed);
                probing_ = false;
            }
            if (idle_.size() < options.max_pool_size && !down_) {
                // The request's start stands in for "now": close enough for idle checks,
                // and it saves reading the clock on every request.
                lease.conn->last_used = lease.at;
                idle_.push_back(std::move(lease.conn));
                if (waiters_ > 0)
                    cv_.notify_one();
            } else {
                to_close.push_back(std::move(lease.conn));
            }
        } else {
            ++c_.total_errors;
            to_close.push_back(std::move(lease.conn));
            if (outcome == Outcome::timed_out) {
                ++c_.timeouts;
                ++consecutive_timeouts_;
                if (consecutive_timeouts_ >= options.timeouts_to_mark_down || lease.probe) {
                    mark_down_locked(std::to_string(consecutive_timeouts_) +
                                         " consecutive timeouts (" + reason + ")",
                                     to_close, lease.probe);
                }
            } else if (lease.probe) {
                mark_down_locked(reason, to_close, true);
            }
        }
    }
    lease = Lease{};
    if (!to_close.empty())  // (the common case, a connection kept, skips the call)
        close_counted(to_close);
}

PoolCounters ConnectionPool::Impl::counters() {
    std::lock_guard lk(mu_);
    check_fork_locked();
    PoolCounters out = c_;
    out.available = idle_.size();
    out.established = open_;
    out.active = open_ - idle_.size();
    out.marked_down = down_ && (Clock::now() < down_until_ || probing_);
    return out;
}

bool ConnectionPool::Impl::is_marked_down() {
    if (!maybe_down_.load(std::memory_order_relaxed))
        return false;
    std::lock_guard lk(mu_);
    check_fork_locked();
    return down_ && (Clock::now() < down_until_ || probing_);
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
    return impl_->is_marked_down();
}

}  // namespace meta_memcache
