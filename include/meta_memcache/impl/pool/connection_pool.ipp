#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/observe/events.hpp>
#include <meta_memcache/impl/pool/pool.hpp>

#include <algorithm>

namespace meta_memcache {

using detail::Clock;
using detail::Connection;

META_MEMCACHE_DECL void PoolOptions::validate() const {
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

META_MEMCACHE_DECL ConnectionPool::Impl::Impl(ServerAddress server_, PoolOptions options_)
    : server(std::move(server_)), name(server.name()), options(std::move(options_)) {
    options.validate();
    limits.max_line = std::min<std::size_t>(2048, options.read_buffer_size);
    if (options.tls.enabled) {
        tls = std::make_unique<detail::TlsContext>(options.tls);
    }
    generation_ = detail::fork_generation();
}

// The parked slots hold raw pointers into all_, which closes every socket.
META_MEMCACHE_DECL ConnectionPool::Impl::~Impl() = default;

META_MEMCACHE_DECL void ConnectionPool::Impl::check_fork_locked() {
    const std::uint64_t gen = detail::fork_generation();
    if (gen == generation_) {
        return;
    }
    // A child after fork(): the parent's sockets are closed here (only the child's copies)
    // and never used; the pool starts again as if new.
    generation_ = gen;
    parked_.for_each([](Parked& p) { p.conn.store(nullptr, std::memory_order_relaxed); });
    idle_.clear();
    all_.clear();
    open_ = 0;
    bound_ = 0;
    started_ = false;
    down_ = false;
    maybe_down_.store(retired_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    probing_ = false;
    consecutive_timeouts_ = 0;
    c_ = PoolCounters{};
}

META_MEMCACHE_DECL bool ConnectionPool::Impl::admit_locked(bool& probe,
                                                           Clock::time_point now,
                                                           detail::AcquireError& error) {
    if (!down_ || probe) {
        return true;
    }
    if (now < down_until_ || probing_) {
        ++c_.fast_failures;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(down_until_ - now).count();
        error.code = errc::marked_down;
        error.message = "server marked down (" + std::to_string(std::max<long long>(left, 0)) +
                        " ms left, after: " + down_reason_ + ")";
        return false;
    }
    probing_ = true;  // exactly one caller probes; the others keep failing fast
    probe = true;
    ++c_.probes;
    return true;
}

META_MEMCACHE_DECL void ConnectionPool::Impl::take_locked(Connection* c, Conns& to_close) {
    if (c->bound) {
        c->bound = false;
        --bound_;
    }
    const auto it =
        std::find_if(all_.begin(), all_.end(),
                     [c](const std::unique_ptr<Connection>& p) { return p.get() == c; });
    if (it == all_.end())
        return;
    to_close.push_back(std::move(*it));
    *it = std::move(all_.back());
    all_.pop_back();
}

META_MEMCACHE_DECL void ConnectionPool::Impl::close_idle_locked(Conns& to_close) {
    parked_.for_each([&](Parked& p) {
        if (Connection* c = p.conn.exchange(nullptr, std::memory_order_acquire))
            take_locked(c, to_close);
    });
    for (Connection* c : idle_)
        take_locked(c, to_close);
    idle_.clear();
}

META_MEMCACHE_DECL Connection* ConnectionPool::Impl::steal_parked_locked() {
    Connection* got = nullptr;
    parked_.for_each([&](Parked& p) {
        if (got == nullptr)
            got = p.conn.exchange(nullptr, std::memory_order_acquire);
    });
    if (got != nullptr) {
        got->bound = false;
        --bound_;
    }
    return got;
}

META_MEMCACHE_DECL void ConnectionPool::Impl::mark_down_locked(std::string_view reason,
                                                               Conns& to_close,
                                                               bool probe_failed) {
    if (down_ && !probe_failed) {
        return;
    }
    down_ = true;
    maybe_down_.store(true, std::memory_order_relaxed);
    probing_ = false;
    down_until_ = Clock::now() + options.mark_down_period;
    down_reason_ = std::string(reason);
    ++c_.mark_downs;
    detail::note_pool_event(true, name, reason);  // for an observed call's observer
    // Idle connections to a failed server are most likely dead too.
    close_idle_locked(to_close);
    cv_.notify_all();  // waiters fail fast now
}

META_MEMCACHE_DECL void ConnectionPool::Impl::close_counted(Conns& conns) {
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

META_MEMCACHE_DECL void ConnectionPool::Impl::warm_up_locked(std::unique_lock<std::mutex>& lk,
                                                             std::size_t extra) {
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
        idle_.push_back(conn.get());
        all_.push_back(std::move(conn));
        cv_.notify_one();
    }
}

META_MEMCACHE_DECL ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire_or_throw(
    std::chrono::milliseconds wait_budget) {
    detail::AcquireError error;
    Lease lease = acquire(wait_budget, false, error);
    if (lease.conn == nullptr)
        throw_error(error.code, error.message, name);
    return lease;
}

META_MEMCACHE_DECL ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire_idle(
    Connection* c,
    Parked* p,
    Clock::time_point now,
    std::chrono::milliseconds wait_budget,
    detail::AcquireError& error) {
    if (!c->looks_dead())
        return Lease(this, c, now, p);
    Conns to_close;
    {
        std::lock_guard lk(mu_);
        take_locked(c, to_close);
        ++c_.closed_idle;
    }
    close_counted(to_close);
    return acquire_shared(wait_budget, false, error);
}

META_MEMCACHE_DECL ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire_shared(
    std::chrono::milliseconds wait_budget, bool force_new, detail::AcquireError& error) {
    std::unique_lock lk(mu_);
    return acquire_locked(lk, wait_budget, force_new, error);
}

META_MEMCACHE_DECL ConnectionPool::Impl::Lease ConnectionPool::Impl::acquire_locked(
    std::unique_lock<std::mutex>& lk,
    std::chrono::milliseconds wait_budget,
    bool force_new,
    detail::AcquireError& error) {
    check_fork_locked();
    bool probe = false;
    auto now = Clock::now();
    if (!admit_locked(probe, now, error))
        return {};
    // From here on, a probe that ends without a connection lets the next caller probe.
    auto give_up_probe = [&] {
        if (probe) {
            probing_ = false;
        }
    };
    const auto lease = [&](Connection* c, Clock::time_point at) {
        Lease l(this, c, at);
        l.probe = probe;
        return l;
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
                Connection* c = idle_.back();
                idle_.pop_back();
                if (now - c->last_used >= options.idle_check_after) {
                    lk.unlock();  // (c is in no idle list now: nobody else closes it)
                    const bool dead = c->looks_dead();
                    lk.lock();
                    if (dead) {
                        Conns to_close;
                        take_locked(c, to_close);
                        ++c_.closed_idle;
                        lk.unlock();
                        to_close.clear();  // closed before it is uncounted
                        lk.lock();
                        --open_;
                        continue;
                    }
                }
                return lease(c, now);
            }
        } else if (!idle_.empty() && open_ >= options.max_connections) {
            // Full: the retry's fresh connection takes the place of the oldest idle one.
            Connection* old = idle_.front();
            idle_.erase(idle_.begin());
            Conns to_close;
            take_locked(old, to_close);
            lk.unlock();
            to_close.clear();
            lk.lock();
            break;  // its slot, still counted in open_, is ours
        }
        // More threads than max_pool_size: a new connection would not be kept past this
        // request, so take one another thread keeps (it will find another, or open one)
        // instead of connecting for every request.
        if (!force_new && idle_.empty() && bound_ >= options.max_pool_size) {
            if (Connection* c = steal_parked_locked()) {
                idle_.push_back(c);  // (checked for a server-side close as idle ones are)
                continue;
            }
        }
        if (open_ < options.max_connections) {
            ++open_;
            break;
        }
        // At the cap: a connection parked in another thread's slot is idle too.
        if (!force_new) {
            if (Connection* c = steal_parked_locked())
                return lease(c, now);
        }
        if (!waited) {
            waited = true;
            ++c_.pool_waits;
            wait_until = now + std::min(wait_budget, options.pool_wait_timeout);
        }
        waiters_.fetch_add(1, std::memory_order_relaxed);
        const std::cv_status waited_out = cv_.wait_until(lk, wait_until);
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        if (waited_out == std::cv_status::timeout && open_ >= options.max_connections &&
            idle_.empty()) {
            give_up_probe();
            error.code = errc::pool_exhausted;
            error.message = "all " + std::to_string(options.max_connections) +
                            " connections busy for " +
                            std::to_string(options.pool_wait_timeout.count()) + " ms";
            return {};
        }
        now = Clock::now();
        if (!admit_locked(probe, now, error))  // marked down while we waited: fail fast
            return {};
    }
    lk.unlock();
    std::unique_ptr<Connection> conn;
    try {
        conn = Connection::open(server, name, options, tls.get(),
                                Clock::now() + options.connection_timeout);
    } catch (const TransportError& e) {
        Conns to_close;
        lk.lock();
        --open_;
        ++c_.total_errors;
        cv_.notify_one();
        mark_down_locked(e.message(), to_close, probe);
        lk.unlock();
        close_counted(to_close);
        error.code = e.error();
        error.message = e.message();
        return {};
    } catch (...) {
        lk.lock();
        --open_;
        give_up_probe();
        cv_.notify_one();
        throw;
    }
    Connection* c = conn.get();
    lk.lock();
    ++c_.total_created;
    all_.push_back(std::move(conn));
    Lease out = lease(c, Clock::now());  // connecting had its own budget (connection_timeout)
    out.fresh = true;
    warm_up_locked(lk, warm_extra);
    return out;
}

META_MEMCACHE_DECL void ConnectionPool::Impl::release_shared(Lease& lease,
                                                             Outcome outcome,
                                                             std::string_view reason) noexcept {
    Connection* c = std::exchange(lease.conn, nullptr);
    Conns to_close;  // counted in open_ until closed
    {
        std::lock_guard lk(mu_);
        release_locked(c, lease, outcome, reason, to_close);
    }
    if (!to_close.empty())
        close_counted(to_close);
}

META_MEMCACHE_DECL void ConnectionPool::Impl::release_locked(
    Connection* c, const Lease& lease, Outcome outcome, std::string_view reason, Conns& to_close) {
    if (c->fork_generation != detail::fork_generation()) {
        check_fork_locked();  // the parent's connection: forgotten with the rest of its pool
        return;
    }
    if (outcome != Outcome::ok) {
        ++c_.total_errors;
        take_locked(c, to_close);
        if (outcome == Outcome::timed_out) {
            ++c_.timeouts;
            ++consecutive_timeouts_;
            if (consecutive_timeouts_ >= options.timeouts_to_mark_down || lease.probe) {
                mark_down_locked(std::to_string(consecutive_timeouts_) + " consecutive timeouts (" +
                                     std::string(reason) + ")",
                                 to_close, lease.probe);
            }
        } else if (lease.probe) {
            mark_down_locked(reason, to_close, true);
        }
        return;
    }
    consecutive_timeouts_ = 0;
    if (lease.probe) {
        down_ = false;  // the probe worked: the server is back
        detail::note_pool_event(false, name, {});
        maybe_down_.store(retired_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        probing_ = false;
    }
    if (down_ || retired_.load(std::memory_order_relaxed)) {
        take_locked(c, to_close);
        return;
    }
    c->last_used = lease.at;
    Parked* p = parked_.mine();
    const bool slot_free = p != nullptr && p->conn.load(std::memory_order_relaxed) == nullptr;
    if (waiters_.load(std::memory_order_relaxed) > 0) {
        if (c->bound) {
            c->bound = false;
            --bound_;
        }
        idle_.push_back(c);
        cv_.notify_one();
        return;
    }
    if (c->bound) {
        if (slot_free) {
            p->conn.store(c, std::memory_order_release);
            return;
        }
        c->bound = false;  // the thread holds another connection of this pool in its slot
        --bound_;
    }
    if (bound_ + idle_.size() < options.max_pool_size) {
        if (slot_free) {
            c->bound = true;
            ++bound_;
            p->conn.store(c, std::memory_order_release);
        } else {
            idle_.push_back(c);
        }
        return;
    }
    take_locked(c, to_close);
}

META_MEMCACHE_DECL void ConnectionPool::Impl::retire() {
    retired_.store(true, std::memory_order_relaxed);
    maybe_down_.store(true, std::memory_order_relaxed);
    Conns to_close;
    {
        std::lock_guard lk(mu_);
        close_idle_locked(to_close);
    }
    close_counted(to_close);
}

META_MEMCACHE_DECL PoolCounters ConnectionPool::Impl::counters() {
    std::lock_guard lk(mu_);
    check_fork_locked();
    std::uint64_t parked = 0;
    parked_.for_each(
        [&](Parked& p) { parked += p.conn.load(std::memory_order_relaxed) != nullptr ? 1U : 0U; });
    PoolCounters out = c_;
    out.available = idle_.size() + parked;
    out.established = open_;
    out.active = open_ - std::min<std::uint64_t>(open_, out.available);
    out.marked_down = down_ && (Clock::now() < down_until_ || probing_);
    return out;
}

META_MEMCACHE_DECL bool ConnectionPool::Impl::is_marked_down() {
    if (!maybe_down_.load(std::memory_order_relaxed))
        return false;
    std::lock_guard lk(mu_);
    check_fork_locked();
    return down_ && (Clock::now() < down_until_ || probing_);
}

META_MEMCACHE_DECL ConnectionPool::ConnectionPool(ServerAddress server, PoolOptions options)
    : impl_(std::make_unique<Impl>(std::move(server), std::move(options))) {}
META_MEMCACHE_DECL ConnectionPool::~ConnectionPool() = default;
META_MEMCACHE_DECL const ServerAddress& ConnectionPool::server() const noexcept {
    return impl_->server;
}
META_MEMCACHE_DECL const std::string& ConnectionPool::name() const noexcept {
    return impl_->name;
}
META_MEMCACHE_DECL const PoolOptions& ConnectionPool::options() const noexcept {
    return impl_->options;
}
META_MEMCACHE_DECL PoolCounters ConnectionPool::counters() const {
    return impl_->counters();
}
META_MEMCACHE_DECL bool ConnectionPool::is_marked_down() const {
    return impl_->is_marked_down();
}

}  // namespace meta_memcache
