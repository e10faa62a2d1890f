#pragma once

// The synchronous driver (see driver.hpp): when to write, read and wait; the batch codec
// does everything else.

#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/io/driver.hpp>
#include <meta_memcache/impl/observe/events.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <poll.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace meta_memcache::detail {

namespace driver_impl {

using Outcome = ConnectionPool::Impl::Outcome;
using Lease = ConnectionPool::Impl::Lease;

/// One server's share of a call: its requests, its connection, the progress of both
/// directions, and how it ended.
struct Batch {
    ConnectionPool::Impl* pool = nullptr;
    const std::uint32_t* slots = nullptr;  ///< into the call's requests; null: 0..count-1
    std::size_t count = 0;
    Lease lease;
    BatchDecoder dec;
    Clock::time_point deadline{};
    std::size_t sent = 0;   ///< bytes of the batch written
    std::size_t total = 0;  ///< bytes to write
    bool write_done = false;
    bool read_done = false;
    bool got_bytes = false;
    bool wrote_any = false;
    bool last_read_full = false;       ///< the last read filled its space: more is likely there
    bool want_read_for_write = false;  ///< TLS: the write waits for the socket to be readable
    bool want_write_for_read = false;  ///< TLS: the read waits for the socket to be writable
    bool failed = false;
    bool retryable = false;
    bool closed = false;  ///< finish() ran: results final, connection back
    Outcome outcome = Outcome::ok;
    errc code = errc::connection_closed;
    std::string reason{};
    std::size_t received = 0;  ///< bytes read (for an observer)

    [[nodiscard]] bool finished() const noexcept { return failed || (write_done && read_done); }
    [[nodiscard]] std::uint32_t slot(std::size_t s) const noexcept {
        return slots == nullptr ? static_cast<std::uint32_t>(s) : slots[s];
    }
    void reset_progress() {
        sent = total = 0;
        write_done = read_done = got_bytes = wrote_any = last_read_full = false;
        want_read_for_write = want_write_for_read = false;
        failed = retryable = false;
        outcome = Outcome::ok;
        reason.clear();
    }
};

/// Passes results on, and remembers the tracked writes that failed (reported once the
/// connections are back in their pools).
class Reporting final : public ResultSink {
public:
    Reporting(ResultSink& inner, const CallRequests& requests, bool track) noexcept
        : inner_(inner), requests_(requests), track_(track) {}

    void answer(std::size_t i, const ResponseHeader& h, std::string_view value) override {
        inner_.answer(i, h, value);
    }
    std::string& large_value(std::size_t i, const ResponseHeader& h) override {
        return inner_.large_value(i, h);
    }
    void fail(std::size_t i, const Failure& f) override {
        inner_.fail(i, f);
        if (track_ && is_tracked_write(requests_.shape(i)))
            failed_writes.push_back(static_cast<std::uint32_t>(i));
    }

    std::vector<std::uint32_t> failed_writes;

private:
    ResultSink& inner_;
    CallRequests requests_;
    bool track_;
};

/// One call: its batches, written and read to the end.
class Call {
public:
    /// `tracked`: some request is a tracked write (its failure goes to on_write_failure);
    /// otherwise answers go to `sink` without the reporting step.
    Call(const CallRequests& requests,
         const std::uint32_t* masks,
         const SharedLine* shared,
         ResultSink& sink,
         const ExecContext& ctx,
         bool tracked)
        : reqs_(requests),
          masks_(masks),
          shared_(shared),
          reporting_(sink, requests, ctx.track_write_failures),
          sink_(tracked ? static_cast<ResultSink&>(reporting_) : sink),
          ctx_(ctx),
          await_tracked_(tracked && ctx.on_write_failure != nullptr &&
                         !ctx.on_write_failure->empty()) {}
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;
    Call(Call&&) = delete;
    Call& operator=(Call&&) = delete;
    ~Call() = default;

    void run(std::span<Batch> batches) {
        const ObservedCall observed(ctx_.observer);  // nothing without an observer
        attempt(batches, false);
        settle(batches);
    }

    /// The rest of a one-key request the caller began (see one_key.hpp) on the connection
    /// it leased: `err` when the pool gave none; else `encoded` when the request is in the
    /// connection's write buffer, `sent` bytes of it written, and `last` the outcome of a
    /// read into the (otherwise empty) read buffer, if one was made.
    void take_over(Batch& b, const AcquireError* err, bool encoded, const IoResult* last) {
        prepare(b, err, !encoded);
        if (last != nullptr && !b.finished())
            after_blocking_read(b, took(b, *last, false, b.lease.conn->rbuf.size()));
        const std::span<Batch> one(&b, 1);
        loop(one);
        settle(one);
    }

private:
    /// After the first attempt: retries what can be retried, then makes every result final.
    void settle(std::span<Batch> batches) {
        bool retry = false;
        for (Batch& b : batches) {
            if (b.failed && b.retryable) {
                retry = true;
            } else {
                finish(b);
            }
        }
        if (retry) {
            // A reused connection the server had closed before answering: once more, on a
            // fresh connection.
            for (Batch& b : batches) {
                if (!(b.failed && b.retryable))
                    continue;
                b.lease.done(Outcome::failed, b.reason);
                b.reset_progress();
                begin(b, true);
            }
            loop(batches);
            for (Batch& b : batches)
                finish(b);
        }
        report_failed_writes();
    }

    [[gnu::always_inline]] void attempt(std::span<Batch> batches, bool fresh) {
        for (Batch& b : batches)
            begin(b, fresh);
        if (batches.size() > 1) {
            // Each server's deadline starts once every connection is there: connecting to
            // one slow server (up to connection_timeout) must not eat the time the others'
            // answers have, or a healthy server times out (and is marked down) because
            // another one does not accept. (A lone batch keeps the time its connection was
            // handed out: no clock read.)
            const auto io_start = Clock::now();
            for (Batch& b : batches)
                b.deadline = io_start + b.pool->options.recv_timeout;
        }
        loop(batches);
    }

    /// Takes a connection and encodes the batch into its write buffer.
    [[gnu::always_inline]] void begin(Batch& b, bool fresh) {
        ConnectionPool::Impl& pool = *b.pool;
        AcquireError err;
        b.lease = pool.acquire(pool.options.recv_timeout, fresh, err);
        prepare(b, &err, true);
    }

    /// Starts the batch's decoder on its leased connection (or fails the batch with `err`
    /// when it has none), encoding the batch first when `encode_first`.
    [[gnu::always_inline]] void prepare(Batch& b, const AcquireError* err, bool encode_first) {
        ConnectionPool::Impl& pool = *b.pool;
        Connection* c = b.lease.conn;
        b.dec.start(reqs_, b.slots, b.count, c != nullptr ? c->pending_fences : 0,
                    ctx_.max_item_size, pool.limits, pool.name, await_tracked_,
                    c != nullptr ? &c->hit_header : nullptr);
        if (c == nullptr) {
            b.failed = true;
            b.outcome = Outcome::ok;  // the pool has accounted for it already
            b.code = err->code;
            b.reason = err->message;
            return;
        }
        c->pending_fences = 0;
        b.deadline = b.lease.at + pool.options.recv_timeout;  // (see attempt())
        if (encode_first) {
            c->wbuf.clear();
            if (shared_ != nullptr) {
                encode_keys(*reqs_.shared(), reqs_.keys(), b.slots, b.count, ctx_.key_prefix,
                            c->wbuf, *shared_);
            } else {
                for (std::size_t s = 0; s < b.count; ++s) {
                    const std::uint32_t i = b.slot(s);
                    encode(reqs_.shape(i), ctx_.key_prefix, c->wbuf, masks_[i]);
                }
            }
            c->wbuf.finish();
        }
        b.total = c->wbuf.total();
        b.wrote_any = b.sent > 0;
        // Answers to earlier quiet writes may be buffered already.
        if (c->rpos != c->rend)
            feed(b);
        b.read_done = b.read_done || b.dec.done();
    }

    [[gnu::always_inline]] void loop(std::span<Batch> batches) {
        std::size_t active = 0;
        Batch* lone = nullptr;
        for (Batch& b : batches) {
            if (!b.finished()) {
                ++active;
                lone = &b;
            }
        }
        if (active == 0)
            return;
        if (active == 1) {
            // One server: write, then one blocking receive bounded by SO_RCVTIMEO (the
            // request's recv_timeout), so a prompt answer costs no poll() and no clock.
            Batch& b = *lone;
            write(b);
            if (!b.failed && b.write_done && !b.read_done && !b.lease.conn->is_tls()) {
                after_blocking_read(b, read(b, true));
            }
            if (b.finished())
                return;
        } else {
            // Every server's batch goes out before any answer is read.
            for (Batch& b : batches) {
                if (!b.finished())
                    write(b);
            }
        }
        wait(batches);
    }

    /// Waits in one poll() over every unfinished batch until all are done or past their
    /// deadlines; reads a socket only when poll() says it has bytes.
    void wait(std::span<Batch> batches) {
        constexpr std::size_t small = 16;
        std::array<pollfd, small> fixed_fds{};
        std::array<Batch*, small> fixed_map{};
        std::vector<pollfd> more_fds;
        std::vector<Batch*> more_map;
        pollfd* fds = fixed_fds.data();
        Batch** map = fixed_map.data();
        if (batches.size() > small) {
            more_fds.resize(batches.size());
            more_map.resize(batches.size());
            fds = more_fds.data();
            map = more_map.data();
        }
        for (;;) {
            std::size_t n = 0;
            auto earliest = Clock::time_point::max();
            for (Batch& b : batches) {
                if (b.finished())
                    continue;
                short ev = 0;
                if (!b.write_done)
                    ev |= b.want_read_for_write ? POLLIN : POLLOUT;
                if (!b.read_done)
                    ev |= b.want_write_for_read ? POLLOUT : POLLIN;
                fds[n] = pollfd{b.lease.conn->fd(), ev, 0};
                map[n] = &b;
                ++n;
                earliest = std::min(earliest, b.deadline);
            }
            if (n == 0)
                return;
            const auto now = Clock::now();
            if (now >= earliest) {
                for (std::size_t k = 0; k < n; ++k) {
                    if (now >= map[k]->deadline)
                        timeout(*map[k]);
                }
                continue;
            }
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(earliest - now).count();
            if (::poll(fds, static_cast<nfds_t>(n), static_cast<int>(ms)) < 0 && errno != EINTR) {
                const std::string why =
                    std::string("poll failed: ") + std::generic_category().message(errno);
                for (std::size_t k = 0; k < n; ++k)
                    fail(*map[k], errc::connection_closed, why, Outcome::failed, false);
                return;
            }
            for (std::size_t k = 0; k < n; ++k) {
                if (fds[k].revents != 0)
                    step(*map[k], fds[k].revents);
            }
        }
    }

    /// What poll() reported ready for `b`.
    void step(Batch& b, short revents) {
        constexpr short broken = POLLERR | POLLHUP | POLLNVAL;
        if (!b.write_done &&
            (revents & (b.want_read_for_write ? POLLIN : POLLOUT) || revents & broken))
            write(b);
        if (b.failed || b.read_done)
            return;
        if ((revents & (b.want_write_for_read ? POLLOUT : POLLIN)) || (revents & broken)) {
            if (read(b, false))
                drain(b);
        }
    }

    /// After a blocking read (`got`: bytes came): reads on while more is likely there, or
    /// times the batch out when the read waited out the socket's receive timeout past the
    /// deadline.
    void after_blocking_read(Batch& b, bool got) {
        if (got) {
            drain(b);
        } else if (!b.failed && Clock::now() >= b.deadline) {
            timeout(b);
        }
    }

    /// After a read that filled its space, reads on while more is likely there.
    void drain(Batch& b) {
        while (!b.failed && !b.read_done && b.last_read_full && read(b, false)) {
        }
    }

    [[gnu::always_inline]] void write(Batch& b) {
        Connection& c = *b.lease.conn;
        while (b.sent < b.total) {
            IoResult r;
            if (c.wbuf.contiguous()) {
                r = c.write_some(c.wbuf.data() + b.sent, b.total - b.sent);
            } else {
                std::array<iovec, 64> iov{};
                int n = 0;
                std::size_t skip = b.sent;
                for (const WriteBuffer::Segment& g : c.wbuf.segments()) {
                    if (skip >= g.size) {
                        skip -= g.size;
                        continue;
                    }
                    const char* base = g.ext != nullptr ? g.ext : c.wbuf.data() + g.offset;
                    iov[static_cast<std::size_t>(n)] = {const_cast<char*>(base + skip),
                                                        g.size - skip};
                    skip = 0;
                    if (++n == static_cast<int>(iov.size()))
                        break;
                }
                r = c.write_some(iov.data(), n);
            }
            if (r.status == IoStatus::would_block) {
                b.want_read_for_write = r.want_read;
                return;
            }
            if (r.status != IoStatus::ok) {
                fail(b, errc::connection_closed,
                     std::string("write failed: ") +
                         (r.status == IoStatus::eof ? "connection closed"
                                                    : std::generic_category().message(r.error)),
                     Outcome::failed, true);
                return;
            }
            b.wrote_any = b.wrote_any || r.bytes > 0;
            b.sent += r.bytes;
        }
        b.write_done = true;
    }

    /// One read: into the read buffer, or straight into a large value's string. True when
    /// bytes came.
    [[gnu::always_inline]] bool read(Batch& b, bool blocking) {
        Connection& c = *b.lease.conn;
        const bool large = b.dec.reading_large();
        char* dst = nullptr;
        std::size_t cap = 0;
        if (large) {
            const auto target = b.dec.large_target();
            dst = target.data();
            cap = target.size();
        } else {
            dst = c.rbuf.data() + c.rend;
            cap = c.rbuf.size() - c.rend;
        }
        const IoResult r = blocking ? c.read_wait(dst, cap) : c.read_some(dst, cap);
        return took(b, r, large, cap);
    }

    /// What one read into `cap` bytes (of a large value when `large`) brought.
    [[gnu::always_inline]] bool took(Batch& b, const IoResult& r, bool large, std::size_t cap) {
        Connection& c = *b.lease.conn;
        if (r.status == IoStatus::would_block) {
            b.want_write_for_read = r.want_write;
            b.last_read_full = false;
            return false;
        }
        if (r.status != IoStatus::ok) {
            fail(b, errc::connection_closed,
                 r.status == IoStatus::eof
                     ? std::string("connection closed by the server")
                     : std::string("read failed: ") + std::generic_category().message(r.error),
                 Outcome::failed, true);
            return false;
        }
        b.got_bytes = true;
        b.received += r.bytes;
        b.last_read_full = r.bytes == cap;
        if (large) {
            b.dec.large_filled(r.bytes);
            if (b.dec.reading_large())
                return true;
        } else {
            c.rend += r.bytes;
        }
        feed(b);
        return true;
    }

    /// Hands the buffered bytes to the decoder.
    [[gnu::always_inline]] void feed(Batch& b) {
        Connection& c = *b.lease.conn;
        const auto fed = b.dec.feed(std::string_view(c.rbuf.data() + c.rpos, c.rend - c.rpos),
                                    c.rbuf.size(), sink_);
        c.rpos += fed.consumed;
        switch (fed.status) {
            case BatchDecoder::Status::done:
                b.read_done = true;
                break;
            case BatchDecoder::Status::desync:
                fail(b, errc::protocol_error, std::string(b.dec.error()), Outcome::failed, false);
                return;
            case BatchDecoder::Status::large:
            case BatchDecoder::Status::more:
                break;
        }
        if (c.rpos == c.rend) {
            c.rpos = c.rend = 0;
        } else if (c.rend == c.rbuf.size() && c.rpos > 0) {
            // A partial answer at the end of a full buffer: move it to the front.
            std::memmove(c.rbuf.data(), c.rbuf.data() + c.rpos, c.rend - c.rpos);
            c.rend -= c.rpos;
            c.rpos = 0;
        }
    }

    void fail(Batch& b, errc code, std::string msg, Outcome outcome, bool retryable) {
        if (b.failed)
            return;
        b.failed = true;
        b.code = code;
        b.reason = std::move(msg);
        b.outcome = outcome;
        bool all_idempotent = true;
        for (std::size_t s = 0; s < b.count && all_idempotent; ++s)
            all_idempotent = idempotent(reqs_.shape(b.slot(s)));
        b.retryable = retryable && b.lease.conn != nullptr && !b.lease.fresh && !b.got_bytes &&
                      (all_idempotent || !b.wrote_any);
    }

    void timeout(Batch& b) {
        fail(b, errc::timeout,
             "no complete answer within " + std::to_string(b.pool->options.recv_timeout.count()) +
                 " ms",
             Outcome::timed_out, false);
    }

    /// The batch's results are final: failures into their slots, the connection back.
    [[gnu::always_inline]] void finish(Batch& b) {
        if (b.closed)
            return;
        b.closed = true;
        if (b.failed) {
            b.dec.fail_rest(sink_, Failure{b.code, b.reason, b.pool->name});
        } else if (Connection* c = b.lease.conn) {
            c->pending_fences += b.dec.finish_deferred(sink_);
            if (c->pending_fences == 0 && c->rpos != c->rend) {
                // Bytes after the last answer, with no quiet write to account for them:
                // the server is out of step, and the next request would read them as its
                // answer. This call's answers came first and stand.
                b.outcome = Outcome::failed;
                b.reason = "unexpected bytes after the last answer";
            }
        }
        if (ctx_.observer != nullptr) {
            observe_batch_end(*ctx_.observer, b.pool->server, b.pool->name,
                              reqs_.shape(b.slot(0)).command, b.count, b.failed, b.code, b.reason,
                              b.lease.at, b.lease.conn != nullptr, b.sent, b.received);
        }
        b.lease.done(b.outcome, b.reason);
    }

    void report_failed_writes() {
        if (reporting_.failed_writes.empty() || ctx_.on_write_failure == nullptr ||
            ctx_.on_write_failure->empty())
            return;
        for (std::uint32_t i : reporting_.failed_writes)
            ctx_.on_write_failure->notify(reqs_.key(i).to_key());
    }

    CallRequests reqs_;
    const std::uint32_t* masks_;  ///< each request's flag_mask, from validate() (not shared)
    const SharedLine* shared_;    ///< for CallRequests::shared, from validate_shape()
    Reporting reporting_;
    ResultSink& sink_;  ///< reporting_, or the caller's sink when nothing is tracked
    const ExecContext& ctx_;
    /// Tracked quiet writes wait for their answer: someone listens for their failures.
    bool await_tracked_;
};

/// Per-thread memory of the calls, so a warm call allocates nothing here. A call made
/// from inside another on the same thread (a visitor that reads the cache) gets its own.
struct Scratch {
    std::vector<Batch> batches;
    std::vector<std::uint32_t> masks;
    std::vector<std::uint32_t> slots;
    std::vector<std::uint32_t> nodes;     ///< run_on_pools: each request's pool, numbered
    std::vector<ConnectionPool*> pools;   ///< run_on_pools: the pools, by that number
    std::vector<std::uint32_t> node_pos;  ///< per node: see run_grouped
    bool busy = false;
};

inline Scratch& thread_scratch() {
    thread_local Scratch s;
    return s;
}

/// Empties the batches (giving back any connection still leased) when the call ends,
/// however it ends.
struct ScratchUse {
    Scratch& s;
    bool owned;
    ScratchUse(Scratch& scratch, bool own) noexcept : s(scratch), owned(own) {}
    ScratchUse(const ScratchUse&) = delete;
    ScratchUse& operator=(const ScratchUse&) = delete;
    ScratchUse(ScratchUse&&) = delete;
    ScratchUse& operator=(ScratchUse&&) = delete;
    ~ScratchUse() {
        s.batches.clear();
        if (owned)
            s.busy = false;
    }
};

/// The call's validation, before any byte is sent: every request, its flag mask into
/// `masks`, or for CallRequests::shared the shape once (into `shared`) and each key.
/// `tracked` is set when some request is a tracked write (see Call).
inline void validate_all(const CallRequests& requests,
                         const ExecContext& ctx,
                         std::uint32_t* masks,
                         SharedLine& shared,
                         bool& tracked) {
    tracked = false;
    if (const Request* shape = requests.shared()) {
        shared = validate_shape(*shape);
        const KeyView* keys = requests.keys();
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (keys[i].key.empty() || shared.check_tokens) [[unlikely]]
                validate_key(shape->command, keys[i].key, ctx.key_prefix, shared.mask);
        }
        tracked = is_tracked_write(*shape) && ctx.track_write_failures;
        return;
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const Request& r = requests.shape(i);
        masks[i] = validate(r, ctx.key_prefix, ctx.max_item_size);
        tracked = tracked || is_tracked_write(r);
    }
    tracked = tracked && ctx.track_write_failures;
}

/// Validates the call, then runs it on `batches` (masks: room for one per request, unless
/// the requests are shared).
inline void validate_and_run(const CallRequests& requests,
                             std::uint32_t* masks,
                             ResultSink& sink,
                             const ExecContext& ctx,
                             std::span<Batch> batches) {
    SharedLine shared;
    bool tracked = false;
    validate_all(requests, ctx, masks, shared, tracked);
    Call(requests, masks, requests.shared() != nullptr ? &shared : nullptr, sink, ctx, tracked)
        .run(batches);
}

/// Groups the call's requests into one batch per pool (a counting sort on `node`, the
/// number of each request's pool, keeping each pool's requests in order) and runs them.
/// `pool_of(k)` is pool number `k` of `node_count`.
template <class PoolOf>
void run_grouped(const CallRequests& requests,
                 const std::uint32_t* node,
                 std::size_t node_count,
                 PoolOf&& pool_of,
                 Scratch& s,
                 ResultSink& sink,
                 const ExecContext& ctx) {
    const std::size_t n = requests.size();
    // Per node: its number of requests, then where its next slot goes.
    s.node_pos.assign(node_count, 0);
    std::uint32_t* const pos = s.node_pos.data();
    for (std::size_t i = 0; i < n; ++i)
        ++pos[node[i]];
    s.slots.resize(n);
    std::uint32_t* const slots = s.slots.data();
    std::uint32_t offset = 0;
    for (std::size_t k = 0; k < node_count; ++k) {
        if (pos[k] == 0)
            continue;
        Batch& b = s.batches.emplace_back();
        b.pool = &pool_of(static_cast<std::uint32_t>(k)).impl();
        b.count = pos[k];
        b.slots = slots + offset;
        pos[k] = offset;
        offset += static_cast<std::uint32_t>(b.count);
    }
    if (s.batches.size() > 1) {
        for (std::size_t i = 0; i < n; ++i)
            slots[pos[node[i]]++] = static_cast<std::uint32_t>(i);
    } else if (!s.batches.empty()) {
        s.batches[0].slots = nullptr;  // identity: 0..n-1
    }
    if (requests.shared() == nullptr)
        s.masks.resize(n);
    validate_and_run(requests, s.masks.data(), sink, ctx, s.batches);
}

}  // namespace driver_impl

META_MEMCACHE_DECL void run_on_pool(ConnectionPool& pool,
                                    const CallRequests& requests,
                                    ResultSink& sink,
                                    const ExecContext& ctx) {
    using namespace driver_impl;
    Batch batch;
    batch.pool = &pool.impl();
    batch.count = requests.size();
    constexpr std::size_t few = 4;
    if (requests.size() <= few || requests.shared() != nullptr) {
        std::array<std::uint32_t, few> masks;  // NOLINT(cppcoreguidelines-pro-type-member-init)
        validate_and_run(requests, masks.data(), sink, ctx, std::span<Batch>(&batch, 1));
        return;
    }
    Scratch& shared = thread_scratch();
    Scratch local;
    Scratch& s = shared.busy ? local : shared;
    const ScratchUse use(s, !shared.busy);
    s.busy = true;
    s.masks.resize(requests.size());
    validate_and_run(requests, s.masks.data(), sink, ctx, std::span<Batch>(&batch, 1));
}

META_MEMCACHE_DECL void run_on_pools(std::span<const Request> requests,
                                     std::span<ConnectionPool* const> pools,
                                     ResultSink& sink,
                                     const ExecContext& ctx) {
    using namespace driver_impl;
    if (requests.size() != pools.size())
        throw InvalidInputError("run_on_pools: requests and pools differ in size");
    Scratch& shared = thread_scratch();
    Scratch local;
    Scratch& s = shared.busy ? local : shared;
    const ScratchUse use(s, !shared.busy);
    s.busy = true;
    // Number the pools in the order they first appear.
    s.nodes.resize(requests.size());
    s.pools.clear();
    for (std::size_t i = 0; i < requests.size(); ++i) {
        std::size_t k = 0;
        while (k < s.pools.size() && s.pools[k] != pools[i])
            ++k;
        if (k == s.pools.size())
            s.pools.push_back(pools[i]);
        s.nodes[i] = static_cast<std::uint32_t>(k);
    }
    run_grouped(
        requests, s.nodes.data(), s.pools.size(),
        [&](std::uint32_t k) -> ConnectionPool& { return *s.pools[k]; }, s, sink, ctx);
}

META_MEMCACHE_DECL void run_on_nodes(const CallRequests& requests,
                                     const std::uint32_t* nodes,
                                     std::span<const std::shared_ptr<ConnectionPool>> node_pools,
                                     ResultSink& sink,
                                     const ExecContext& ctx) {
    using namespace driver_impl;
    Scratch& shared = thread_scratch();
    Scratch local;
    Scratch& s = shared.busy ? local : shared;
    const ScratchUse use(s, !shared.busy);
    s.busy = true;
    run_grouped(
        requests, nodes, node_pools.size(),
        [&](std::uint32_t k) -> ConnectionPool& { return *node_pools[k]; }, s, sink, ctx);
}

}  // namespace meta_memcache::detail
