#pragma once

// KeyMover and dump_keys: a server's key listing (lru_crawler metadump, streamed over a
// pooled connection) and the rate-limited copy of keys to their new owner.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/key_listing.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/draining_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/net/exchange.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/key_mover.hpp>

#include <ctime>
#include <string_view>
#include <thread>
#include <vector>

namespace meta_memcache {

namespace detail::mover_impl {

/// Keys of this many bytes or more cannot be addressed through the library (they travel
/// as their digest), so a listed key that long cannot be copied.
inline constexpr std::size_t max_copyable_key = 187;

/// What is left of `in` after its complete lines went to `on_line`; lines end in '\n' (a
/// trailing '\r' is kept, it marks the listing's last line).
[[nodiscard]] inline std::size_t take_lines(std::string_view in,
                                            const std::function<bool(std::string_view)>& on_line) {
    std::size_t pos = 0;
    for (;;) {
        const std::size_t eol = in.find('\n', pos);
        if (eol == std::string_view::npos)
            return pos;
        const bool more = on_line(in.substr(pos, eol - pos));
        pos = eol + 1;
        if (!more)
            return pos;
    }
}

}  // namespace detail::mover_impl

META_MEMCACHE_DECL void dump_keys(ConnectionPool& server,
                                  const std::function<void(DumpedKey&&)>& on_key,
                                  std::chrono::milliseconds timeout) {
    using Outcome = ConnectionPool::Impl::Outcome;
    ConnectionPool::Impl& pool = server.impl();
    constexpr std::string_view request = "lru_crawler metadump all\r\n";
    const auto give_up = detail::Clock::now() + timeout;
    for (;;) {
        ConnectionPool::Impl::Lease lease = pool.acquire_or_throw(pool.options.recv_timeout);
        detail::Connection& c = *lease.conn;
        if (c.pending_fences > 0) {
            // Answers of earlier quiet writes are on their way: read them (and an MN of
            // ours) first, for metadump must be alone on the connection.
            const unsigned fences = std::exchange(c.pending_fences, 0);
            detail::Exchanged x = detail::exchange(
                c, "mn\r\n", detail::AnswerEnd::line,
                detail::Clock::now() + pool.options.recv_timeout, pool.options.recv_timeout,
                pool.options.read_buffer_size, fences, pool.limits);
            if (!x.ok) {
                lease.done(x.timed_out() ? Outcome::timed_out : Outcome::failed, x.message);
                throw_error(x.code, x.message, pool.name);
            }
        }
        const detail::IoResult w =
            c.write_all(request, detail::Clock::now() + pool.options.recv_timeout);
        if (w.status != detail::IoStatus::ok) {
            lease.done(Outcome::failed, "lru_crawler metadump: write failed");
            throw_error(errc::connection_closed, "lru_crawler metadump: write failed", pool.name);
        }
        std::string in(c.rbuf.data() + c.rpos, c.rend - c.rpos);
        c.rpos = c.rend = 0;
        std::string last;  // the listing's last line (END, BUSY, an error)
        bool ended = false;
        bool bad = false;
        DumpedKey item;
        const auto on_line = [&](std::string_view line) {
            if (!line.empty() && line.back() == '\r') {
                last = line.substr(0, line.size() - 1);
                ended = true;
                return false;
            }
            item = DumpedKey{};
            if (!detail::parse_dump_line(line, item)) {
                last = line.substr(0, 64);
                bad = true;
                return false;
            }
            on_key(std::move(item));
            return true;
        };
        while (!ended && !bad) {
            const detail::IoResult r = c.read_more(in, detail::Clock::now() + timeout);
            if (r.status != detail::IoStatus::ok) {
                const bool timed_out = r.status == detail::IoStatus::would_block;
                const std::string why = timed_out ? "lru_crawler metadump: no answer within " +
                                                        std::to_string(timeout.count()) + " ms"
                                                  : "lru_crawler metadump: the connection was lost";
                lease.done(timed_out ? Outcome::timed_out : Outcome::failed, why);
                throw_error(timed_out ? errc::timeout : errc::connection_closed, why, pool.name);
            }
            in.erase(0, detail::mover_impl::take_lines(in, on_line));
        }
        if (bad) {
            lease.done(Outcome::failed, "lru_crawler metadump: bad line");
            throw ProtocolError("lru_crawler metadump: unexpected line \"" + last + "\"",
                                pool.name);
        }
        lease.done(Outcome::ok);
        if (last == "END")
            return;
        // BUSY: another crawl (the server's own expiry crawl, another dump) is under way.
        if (last.starts_with("BUSY") && detail::Clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        throw ServerError(errc::client_error, "lru_crawler metadump: " + last, pool.name);
    }
}

META_MEMCACHE_DECL KeyMover::KeyMover(std::shared_ptr<Router> to, KeyMoverOptions options)
    : to_(std::move(to)), options_(options) {
    if (!to_)
        throw InvalidInputError("KeyMover: needs a router to copy to");
    if (!(options_.keys_per_second >= 0) || !(options_.bytes_per_second >= 0)) {
        throw InvalidInputError(
            "KeyMover: keys_per_second and bytes_per_second must be 0 (no limit) or more");
    }
    if (options_.batch_size < 1 || options_.batch_size > 10000)
        throw InvalidInputError("KeyMover: batch_size must be 1 to 10000");
    if (options_.max_item_size < 1024)
        throw InvalidInputError("KeyMover: max_item_size must be at least 1024 bytes");
    if (options_.dump_timeout <= std::chrono::milliseconds::zero())
        throw InvalidInputError("KeyMover: dump_timeout must be positive");
}

META_MEMCACHE_DECL void KeyMover::stop() noexcept {
    {
        const std::lock_guard lk(mu_);
        stop_.store(true);
    }
    wake_.notify_all();
}

META_MEMCACHE_DECL KeyMoverCounters KeyMover::counters() const noexcept {
    // The outcomes first, the keys listed last: a snapshot taken while keys are listed and
    // copied never has more outcomes than keys.
    KeyMoverCounters c;
    c.copied = copied_.load();
    c.present = present_.load();
    c.gone = gone_.load();
    c.skipped_lease = lease_.load();
    c.skipped_stale = stale_.load();
    c.skipped_expiring = expiring_.load();
    c.skipped_unplaced = unplaced_.load();
    c.skipped_too_large = too_large_.load();
    c.failed = failed_.load();
    c.bytes = bytes_.load();
    c.listed = listed_.load();
    return c;
}

META_MEMCACHE_DECL std::size_t KeyMover::batch_size() const noexcept {
    if (options_.keys_per_second <= 0)
        return options_.batch_size;
    const auto tenth = static_cast<std::size_t>(options_.keys_per_second / 10);
    return std::max<std::size_t>(1, std::min(options_.batch_size, tenth));
}

META_MEMCACHE_DECL bool KeyMover::pace(double rate,
                                       double amount,
                                       std::chrono::steady_clock::time_point& next) {
    if (stop_.load())
        return false;
    if (rate <= 0 || amount <= 0)
        return true;
    // A schedule (each amount due `amount / rate` after the one before) that keeps the
    // average over a run at the rate: time lost to a slow round trip is made up, but never
    // more than a second of it (a burst of at most a second's worth after a stall), and
    // the first amount waits its share too (no burst at the start).
    const auto now = std::chrono::steady_clock::now();
    if (next == std::chrono::steady_clock::time_point{})
        next = now;
    else if (next < now - std::chrono::seconds(1))
        next = now - std::chrono::seconds(1);
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(amount / rate));
    std::unique_lock lk(mu_);
    return !wake_.wait_until(lk, next, [&] { return stop_.load(); });
}

META_MEMCACHE_DECL void KeyMover::copy_batch(std::span<const KeyView> keys, const ReadFn& read) {
    if (!pace(options_.keys_per_second, static_cast<double>(keys.size()), next_keys_))
        return;
    const ExecContext ctx = request_context();
    std::vector<Request> requests;
    std::vector<Response> responses;
    std::vector<KeyView> todo;
    // Resuming (or following a drain's reads): a key already at its new owner is neither
    // read nor sent again. A bare mg answers HD or EN, without the value.
    if (!options_.overwrite) {
        requests.assign(keys.size(), Request{});
        for (std::size_t i = 0; i < keys.size(); ++i)
            requests[i].key = keys[i];
        responses.assign(keys.size(), Response{});
        to_->execute(requests, responses, ctx);
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (is_error_response(responses[i]))
                failed_.fetch_add(1);
            else if (std::holds_alternative<Miss>(responses[i]))
                todo.push_back(keys[i]);
            else
                present_.fetch_add(1);
        }
    } else {
        todo.assign(keys.begin(), keys.end());
    }
    if (todo.empty())
        return;
    requests.assign(todo.size(), Request{});
    for (std::size_t i = 0; i < todo.size(); ++i) {
        requests[i].key = todo[i];
        requests[i].flags = RequestFlags{.return_client_flag = true,
                                         .return_value = true,
                                         .return_ttl = true,
                                         .no_update_lru = true};
    }
    responses.assign(todo.size(), Response{});
    read(requests, responses);

    std::vector<Request> writes;
    writes.reserve(todo.size());
    double bytes = 0;
    for (std::size_t i = 0; i < todo.size(); ++i) {
        const auto* v = std::get_if<Value>(&responses[i]);
        if (v == nullptr) {
            (is_error_response(responses[i]) ? failed_ : gone_).fetch_add(1);
            continue;
        }
        // X (with W or Z): stale. W or Z alone: a lease placeholder being filled.
        if (v->flags.stale) {
            stale_.fetch_add(1);
            continue;
        }
        if (v->flags.win.has_value()) {
            lease_.fetch_add(1);
            continue;
        }
        const std::int64_t ttl = v->flags.ttl.value_or(-1);
        if (ttl == 0 || ttl < -1) {
            expiring_.fetch_add(1);
            continue;
        }
        if (v->data.size() + todo[i].key.size() + 63 > options_.max_item_size) {
            too_large_.fetch_add(1);
            continue;
        }
        Request w;
        w.command = MetaCommand::set;
        w.key = todo[i];
        w.value = v->data;
        w.flags.cache_ttl = detail::ttl_to_store(ttl);
        w.flags.client_flag = v->flags.client_flag.value_or(0);
        if (!options_.overwrite)
            w.flags.mode = Mode::add;
        writes.push_back(w);
        bytes += static_cast<double>(v->data.size());
    }
    if (writes.empty())
        return;
    if (!pace(options_.bytes_per_second, bytes, next_bytes_)) {
        // Stopped before writing: these keys were read but not copied.
        failed_.fetch_add(writes.size());
        return;
    }
    std::vector<Response> stored(writes.size());
    to_->execute(writes, stored, ctx);
    for (std::size_t i = 0; i < writes.size(); ++i) {
        if (std::holds_alternative<Success>(stored[i])) {
            copied_.fetch_add(1);
            bytes_.fetch_add(writes[i].value.size());
        } else if (std::holds_alternative<NotStored>(stored[i]) && !is_error_response(stored[i])) {
            present_.fetch_add(1);  // written there meanwhile: the newer value stays
        } else {
            failed_.fetch_add(1);
        }
    }
}

META_MEMCACHE_DECL void KeyMover::copy_all(std::span<const KeyView> keys,
                                           const ReadFn& read,
                                           bool count_listed) {
    const std::size_t n = batch_size();
    for (std::size_t at = 0; at < keys.size() && !stop_.load(); at += n) {
        const std::span<const KeyView> batch = keys.subspan(at, std::min(n, keys.size() - at));
        if (count_listed)
            listed_.fetch_add(batch.size());
        copy_batch(batch, read);
    }
}

META_MEMCACHE_DECL void KeyMover::copy_keys(Router& from, std::span<const KeyView> keys) {
    const ExecContext ctx = request_context();
    copy_all(
        keys,
        [&](std::span<const Request> r, std::span<Response> out) { from.execute(r, out, ctx); },
        true);
}

META_MEMCACHE_DECL void KeyMover::move_server(ConnectionPool& server,
                                              const HashRing* placement,
                                              std::size_t node) {
    if (placement != nullptr && node >= placement->nodes().size())
        throw InvalidInputError("KeyMover: node " + std::to_string(node) + " is not in the ring");
    if (stop_.load())
        return;
    std::vector<std::string> keys;
    dump_keys(
        server,
        [&](DumpedKey&& k) {
            listed_.fetch_add(1);
            if (k.key.size() >= detail::mover_impl::max_copyable_key ||
                (placement != nullptr && placement->node_for(k.key) != node)) {
                unplaced_.fetch_add(1);
                return;
            }
            keys.push_back(std::move(k.key));
        },
        options_.dump_timeout);
    const std::vector<KeyView> views(keys.begin(), keys.end());
    const ExecContext ctx = request_context();
    copy_all(
        views,
        [&](std::span<const Request> r, std::span<Response> out) {
            execute_on_pool(server, r, out, ctx);
        },
        false);
}

META_MEMCACHE_DECL void KeyMover::move_drained(const DrainingRouter& drain) {
    const std::shared_ptr<ConnectionPool> pool = drain.drained_pool();
    if (!pool)
        throw InvalidInputError("KeyMover: the drain is finished; nothing to copy from");
    move_server(*pool, drain.old_ring().get(), drain.drained_node());
}

}  // namespace meta_memcache
