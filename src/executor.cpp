// The executor: runs request batches on pooled connections, all servers at once.
//
// Per server, every request line (and small value) is encoded into the connection's
// reusable write buffer and written with one sendmsg; large values are sent from the
// caller's memory. Answers are parsed from the connection's reusable read buffer as they
// arrive; a value that fits is copied once into the returned Value, a larger one is read
// straight into it. A single batch on a plain socket reads with one blocking recv (bounded
// by SO_RCVTIMEO), so a prompt small get costs two system calls; everything else waits in
// one poll() over all connections under each batch's deadline.

#include "detail/pool_impl.hpp"
#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <poll.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace meta_memcache {

using detail::Clock;
using detail::Connection;
using detail::IoStatus;
using detail::ParseStatus;
using detail::ResponseCode;
using Outcome = ConnectionPool::Impl::Outcome;

namespace {

/// Values up to this size are copied into the write buffer; larger ones are sent from the
/// caller's memory (writev).
constexpr std::size_t copy_value_threshold = 16 * 1024;
/// Item header overhead memcached adds to key and value (see the protocol notes).
constexpr std::size_t item_overhead = 63;

detail::MetaCommand to_detail(MetaCommand c) noexcept {
    switch (c) {
        case MetaCommand::get:
            return detail::MetaCommand::get;
        case MetaCommand::set:
            return detail::MetaCommand::set;
        case MetaCommand::del:
            return detail::MetaCommand::del;
        case MetaCommand::arithmetic:
            return detail::MetaCommand::arithmetic;
    }
    return detail::MetaCommand::get;
}

bool has_binary_byte(std::string_view a, std::string_view b) noexcept {
    for (std::string_view s : {a, b}) {
        for (char c : s) {
            if (detail::is_binary_key_byte(static_cast<unsigned char>(c)))
                return true;
        }
    }
    return false;
}

/// Validates one request as the encoder will send it. Throws InvalidInputError.
void validate(const Request& r, const ExecContext& ctx) {
    const auto cmd = to_detail(r.command);
    if (r.key.key.empty()) {
        throw InvalidInputError(std::string(detail::command_name(cmd)) + ": key is empty");
    }
    detail::validate_request(cmd, r.flags);
    const std::size_t total = ctx.key_prefix.size() + r.key.key.size();
    // Whether the key goes base64 (one more flag token, a longer wire key) is only looked
    // up when it could make a difference: the common request is within limits either way.
    const bool hashed = total >= detail::hashed_key_threshold;
    int base64_known = hashed ? 1 : -1;  // -1: not looked up yet
    const auto base64 = [&] {
        if (base64_known < 0)
            base64_known = has_binary_byte(ctx.key_prefix, r.key.key) ? 1 : 0;
        return base64_known == 1;
    };
    const std::size_t limit = cmd == detail::MetaCommand::set ? detail::max_flag_tokens_set
                                                              : detail::max_flag_tokens_other;
    detail::WireKey probe;
    const std::size_t tokens = detail::count_flag_tokens(probe, r.flags);  // without `b`
    if (tokens + 1 > limit && tokens + (base64() ? 1U : 0U) > limit) {
        throw InvalidInputError(std::string(detail::command_name(cmd)) +
                                ": too many flags for memcached (at most 16 on ms, 17 otherwise)");
    }
    if (r.command == MetaCommand::set) {
        const auto room_for = [&](std::size_t wire_key) {
            return ctx.max_item_size > wire_key + item_overhead
                       ? ctx.max_item_size - wire_key - item_overhead
                       : 0;
        };
        const std::size_t base64_key = hashed ? 24 : (total + 2) / 3 * 4;
        std::size_t room = room_for(std::max(total, base64_key));  // the longer of the two
        if (r.value.size() > room)
            room = room_for(base64() ? base64_key : total);
        if (r.value.size() > room || r.value.size() > detail::max_datalen) {
            throw InvalidInputError("ms: value of " + std::to_string(r.value.size()) +
                                    " bytes is over the item size limit (" +
                                    std::to_string(ctx.max_item_size) + " bytes per item leaves " +
                                    std::to_string(room) + " for the value of this key)");
        }
    } else if (!r.value.empty()) {
        throw InvalidInputError(std::string(detail::command_name(cmd)) +
                                ": only ms carries a value");
    }
}

/// A CLIENT_ERROR after which memcached is known to still be in step with us.
bool client_error_keeps_sync(std::string_view msg) noexcept {
    return msg.find("cannot increment or decrement non-numeric value") != std::string_view::npos;
}

/// True when sending the request twice does no harm (a retry after a dead connection).
bool idempotent(const Request& r) noexcept {
    switch (r.command) {
        case MetaCommand::get:
        case MetaCommand::del:
            return true;
        case MetaCommand::set:
            return !r.flags.mode || *r.flags.mode == Mode::set || *r.flags.mode == Mode::add ||
                   *r.flags.mode == Mode::replace;
        case MetaCommand::arithmetic:
            return false;
    }
    return false;
}

Response error_response(MetaCommand cmd, std::exception_ptr ep) {
    if (cmd == MetaCommand::get)
        return Miss{std::move(ep)};
    return NotStored{std::move(ep)};
}

/// One server's share of a call: its requests, its connection, and the progress of
/// writing and reading.
struct Batch {
    ConnectionPool::Impl* pool = nullptr;
    std::vector<std::uint32_t> idx;  ///< indices into the call's requests/responses
    std::size_t identity = 0;        ///< when idx is empty: slots 0..identity-1 map to 0..

    [[nodiscard]] std::size_t count() const noexcept { return idx.empty() ? identity : idx.size(); }
    [[nodiscard]] std::uint32_t at(std::size_t s) const noexcept {
        return idx.empty() ? static_cast<std::uint32_t>(s) : idx[s];
    }
    ConnectionPool::Impl::Lease lease;
    Clock::time_point started{};
    Clock::time_point deadline{};

    // write progress
    std::size_t seg = 0;
    std::size_t seg_off = 0;
    bool write_done = false;
    bool wrote_any = false;
    bool want_write_for_read = false;
    bool want_read_for_write = false;

    // read progress
    std::size_t next = 0;         ///< next slot (index into idx) to answer
    std::size_t read_until = 0;   ///< slots from here on are deferred quiet writes
    unsigned drain = 0;           ///< earlier no_reply fences to drain first
    bool awaiting_fence = false;  ///< the current quiet slot answered; its MN comes next
    bool awaiting_crlf = false;   ///< a large value is in; its "\r\n" comes next
    std::string* big = nullptr;   ///< a large value being read straight into its string
    std::size_t big_have = 0;
    bool got_bytes = false;
    bool done = false;
    bool ready = true;    ///< try to write/read now (first round, or poll said so)
    bool waited = false;  ///< it has waited in poll(): no blocking read any more

    // failure
    bool failed = false;
    bool retryable = false;
    Outcome outcome = Outcome::ok;
    std::exception_ptr error;
    std::string reason;
    std::vector<std::uint32_t> errored;  ///< slots answered with a server-reported error

    void reset_progress() {
        seg = seg_off = 0;
        write_done = wrote_any = want_write_for_read = want_read_for_write = false;
        next = read_until = 0;
        drain = 0;
        awaiting_fence = awaiting_crlf = false;
        big = nullptr;
        big_have = 0;
        got_bytes = done = failed = retryable = false;
        ready = true;
        waited = false;
        outcome = Outcome::ok;
        error = nullptr;
        reason.clear();
        errored.clear();
    }
};

class Executor {
public:
    Executor(std::span<const Request> requests,
             std::span<Response> responses,
             const ExecContext& ctx)
        : reqs_(requests), resps_(responses), ctx_(ctx) {}

    void run(std::span<Batch> batches) {
        attempt(batches, false);
        std::size_t retries = 0;
        for (Batch& b : batches) {
            if (b.failed && b.retryable) {
                ++retries;
            } else {
                finish(b);
            }
        }
        if (retries == 0)
            return;
        // A reused connection the server had closed before answering: once more, on a
        // fresh connection.
        std::vector<Batch> again;
        again.reserve(retries);
        for (Batch& b : batches) {
            if (!(b.failed && b.retryable))
                continue;
            b.pool->release(b.lease, Outcome::failed, b.reason);
            b.reset_progress();
            again.push_back(std::move(b));
        }
        attempt(again, true);
        for (Batch& b : again)
            finish(b);
    }

private:
    /// Acquires a connection for every batch, writes and reads them all. An exception
    /// never leaks a lease (its pool slot, or a probe's turn).
    void attempt(std::span<Batch> batches, bool fresh) {
        try {
            for (Batch& b : batches)
                begin(b, fresh);
            // Each request's deadline starts once every connection is there: connecting
            // to one slow server (up to connection_timeout) must not eat the time the
            // others' answers have, or a healthy server times out (and is marked down)
            // because another one does not accept.
            // (A lone batch uses the time its connection was handed out: no clock read.)
            const auto io_start =
                batches.size() == 1 && batches[0].lease.conn ? batches[0].lease.at : Clock::now();
            for (Batch& b : batches) {
                b.started = io_start;
                b.deadline = io_start + b.pool->options.recv_timeout;
            }
            loop(batches);
        } catch (...) {
            for (Batch& b : batches) {
                if (b.lease.conn)
                    b.pool->release(b.lease, Outcome::failed, "request abandoned");
            }
            throw;
        }
    }

    void fail(Batch& b, errc code, const std::string& msg, Outcome outcome, bool retryable) {
        if (b.failed)
            return;
        b.failed = true;
        b.done = true;
        b.outcome = outcome;
        b.reason = msg;
        bool all_idempotent = true;
        for (std::size_t s = 0; s < b.count(); ++s) {
            all_idempotent = all_idempotent && idempotent(reqs_[b.at(s)]);
        }
        b.retryable = retryable && b.lease.conn && !b.lease.fresh && !b.got_bytes &&
                      (all_idempotent || !b.wrote_any);
        try {
            throw_error(code, msg, b.pool->name);
        } catch (...) {
            b.error = std::current_exception();
        }
    }

    /// Acquires a connection and encodes the batch into its write buffer.
    void begin(Batch& b, bool fresh) {
        try {
            b.lease = b.pool->acquire(b.pool->options.recv_timeout, fresh);
        } catch (const TransportError& e) {
            b.failed = b.done = true;
            b.outcome = Outcome::ok;  // the pool has accounted for it already
            b.error = std::current_exception();
            b.reason = e.what();
            return;
        }
        Connection& c = *b.lease.conn;
        c.segments.clear();
        b.drain = c.pending_fences;
        c.pending_fences = 0;
        // Trailing quiet writes need no answer now: their fences are drained later.
        b.read_until = b.count();
        while (b.read_until > 0) {
            const Request& r = reqs_[b.at(b.read_until - 1)];
            if (!r.flags.no_reply || r.command == MetaCommand::get)
                break;
            --b.read_until;
        }
        // wbuf is a buffer that only grows: `len` bytes of it are this batch's.
        std::size_t len = 0;
        const auto room = [&c, &len](std::size_t n) {
            if (c.wbuf.size() < len + n)
                c.wbuf.resize(std::max(c.wbuf.size() * 2, len + n));
            return c.wbuf.data() + len;
        };
        const auto put = [&](std::string_view bytes) {
            std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
            len += bytes.size();
        };
        detail::WireKey key;
        std::size_t open_from = 0;  // start of the write-buffer bytes not yet in a segment
        for (std::size_t s = 0; s < b.count(); ++s) {
            const Request& r = reqs_[b.at(s)];
            detail::encode_key(r.key.key, key, ctx_.key_prefix);
            len += detail::encode_request_line(room(detail::max_request_line), to_detail(r.command),
                                               key, r.flags, r.value.size());
            if (r.command == MetaCommand::set) {
                if (r.value.size() > copy_value_threshold) {
                    c.segments.push_back({nullptr, open_from, len - open_from});
                    c.segments.push_back({r.value.data(), 0, r.value.size()});
                    open_from = len;
                } else {
                    put(r.value);
                }
                put("\r\n");
            }
            if (r.flags.no_reply)
                put("mn\r\n");
        }
        c.segments.push_back({nullptr, open_from, len - open_from});
    }

    bool reading_done(const Batch& b) const noexcept {
        return b.drain == 0 && b.next >= b.read_until && !b.awaiting_fence && !b.awaiting_crlf &&
               b.big == nullptr;
    }

    void loop(std::span<Batch> batches) {
        const bool single = batches.size() == 1;
        // Kept per thread so a call allocates nothing here once warm.
        thread_local std::vector<pollfd> fds;
        thread_local std::vector<Batch*> polled;
        fds.clear();
        polled.clear();
        for (;;) {
            // Only connections the kernel reported ready make progress (the first round
            // tries all): each batch writes and reads until it would block, so nothing is
            // left buffered that poll() cannot see.
            for (std::size_t k = 0; k < polled.size(); ++k)
                polled[k]->ready = fds[k].revents != 0;
            fds.clear();
            polled.clear();
            auto earliest = Clock::time_point::max();
            for (Batch& b : batches) {
                if (b.done)
                    continue;
                if (b.ready)
                    progress(b, single);
                b.ready = false;
                if (b.done)
                    continue;
                short ev = 0;
                if (!b.write_done)
                    ev |= b.want_read_for_write ? POLLIN : POLLOUT;
                if (!reading_done(b))
                    ev |= b.want_write_for_read ? POLLOUT : POLLIN;
                fds.push_back({b.lease.conn->fd(), ev, 0});
                polled.push_back(&b);
                b.waited = true;
                earliest = std::min(earliest, b.deadline);
            }
            if (polled.empty())
                return;
            const auto now = Clock::now();
            if (now >= earliest) {
                for (Batch* b : polled) {
                    if (now >= b->deadline)
                        timeout(*b);
                }
                polled.clear();  // the rest wait again, without a read in between
                continue;
            }
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(earliest - now).count();
            if (::poll(fds.data(), fds.size(), static_cast<int>(ms)) < 0 && errno != EINTR) {
                const std::string why =
                    std::string("poll failed: ") + std::generic_category().message(errno);
                for (Batch* b : polled)
                    fail(*b, errc::connection_closed, why, Outcome::failed, false);
            }
        }
    }

    void timeout(Batch& b) {
        fail(b, errc::timeout,
             "no complete answer within " + std::to_string(b.pool->options.recv_timeout.count()) +
                 " ms",
             Outcome::timed_out, false);
    }

    /// Writes and reads as far as the socket allows without waiting (a lone batch on a
    /// plain socket may block in its first read, bounded by SO_RCVTIMEO).
    void progress(Batch& b, bool single) {
        Connection& c = *b.lease.conn;
        if (!b.write_done)
            write(b, c);
        if (b.failed)
            return;
        // Read even while the write is blocked: the server may be waiting for us to read.
        while (!reading_done(b) && read(b, c, single)) {
        }
        if (!b.failed && b.write_done && reading_done(b))
            b.done = true;
    }

    void write(Batch& b, Connection& c) {
        while (b.seg < c.segments.size() && c.segments[b.seg].size == b.seg_off) {
            ++b.seg;
            b.seg_off = 0;
        }
        while (b.seg < c.segments.size()) {
            c.iov.clear();
            for (std::size_t s = b.seg; s < c.segments.size() && c.iov.size() < 64; ++s) {
                const detail::Segment& g = c.segments[s];
                const char* base = g.ext != nullptr ? g.ext : c.wbuf.data() + g.offset;
                const std::size_t skip = s == b.seg ? b.seg_off : 0;
                if (g.size > skip)
                    c.iov.push_back({const_cast<char*>(base + skip), g.size - skip});
            }
            const auto r = c.write_some(c.iov.data(), static_cast<int>(c.iov.size()));
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
            std::size_t n = r.bytes;
            while (b.seg < c.segments.size()) {
                const std::size_t left = c.segments[b.seg].size - b.seg_off;
                if (n < left) {
                    b.seg_off += n;
                    break;
                }
                n -= left;
                ++b.seg;
                b.seg_off = 0;
            }
        }
        b.write_done = true;
    }

    /// Parses what is buffered, or reads once. False when it would block or failed.
    bool read(Batch& b, Connection& c, bool single) {
        if (b.big != nullptr)
            return read_big(b, c, single);
        // (An empty buffer, as before the first read, has nothing to parse.)
        if (c.rpos != c.rend) {
            if (parse_one(b, c))
                return true;
            if (b.failed)
                return false;
        }
        if (c.rpos == c.rend) {
            c.rpos = c.rend = 0;
        } else if (c.rend == c.rbuf.size()) {
            std::memmove(c.rbuf.data(), c.rbuf.data() + c.rpos, c.rend - c.rpos);
            c.rend -= c.rpos;
            c.rpos = 0;
        }
        return fill(b, c, c.rbuf.data() + c.rend, c.rbuf.size() - c.rend, single, c.rend);
    }

    /// One read into [dst, dst + cap); what came is added to `counter`.
    bool fill(
        Batch& b, Connection& c, char* dst, std::size_t cap, bool single, std::size_t& counter) {
        // Only the first read of a lone batch blocks (in the kernel, bounded by SO_RCVTIMEO
        // = recv_timeout): a prompt answer then costs no poll() and no clock reading.
        const bool may_block = single && b.write_done && !b.got_bytes && !b.waited && !c.is_tls();
        const auto r = may_block ? c.read_wait(dst, cap) : c.read_some(dst, cap);
        if (r.status == IoStatus::ok) {
            counter += r.bytes;
            b.got_bytes = true;
            return true;
        }
        if (r.status == IoStatus::would_block) {
            b.want_write_for_read = r.want_write;
            if (may_block && Clock::now() >= b.deadline)
                timeout(b);
            return false;
        }
        fail(b, errc::connection_closed,
             r.status == IoStatus::eof
                 ? std::string("connection closed by the server")
                 : std::string("read failed: ") + std::generic_category().message(r.error),
             Outcome::failed, true);
        return false;
    }

    bool read_big(Batch& b, Connection& c, bool single) {
        std::string& dst = *b.big;
        std::size_t have = b.big_have;
        if (!fill(b, c, dst.data() + have, dst.size() - have, single, have))
            return false;
        b.big_have = have;
        if (b.big_have == dst.size()) {
            b.big = nullptr;
            b.awaiting_crlf = true;  // its "\r\n" comes through the read buffer
        }
        return true;
    }

    void protocol_error(Batch& b, const std::string& what) {
        fail(b, errc::protocol_error, what, Outcome::failed, false);
    }

    /// The slot's answer is complete: a quiet one still has its MN fence to come.
    void slot_answered(Batch& b) {
        if (reqs_[b.at(b.next)].flags.no_reply) {
            b.awaiting_fence = true;
        } else {
            ++b.next;
        }
    }

    void slot_error(Batch& b, errc code, std::string_view line) {
        const std::uint32_t i = b.at(b.next);
        std::exception_ptr ep;
        try {
            throw ServerError(code, std::string(line), b.pool->name);
        } catch (...) {
            ep = std::current_exception();
        }
        resps_[i] = error_response(reqs_[i].command, std::move(ep));
        b.errored.push_back(i);
    }

    /// Parses one whole answer from the read buffer. True when it consumed one.
    bool parse_one(Batch& b, Connection& c) {
        const std::string_view avail(c.rbuf.data() + c.rpos, c.rend - c.rpos);
        if (b.awaiting_crlf) {
            if (avail.size() < 2)
                return false;
            if (avail[0] != '\r' || avail[1] != '\n') {
                protocol_error(b, "value block not followed by \\r\\n");
                return false;
            }
            c.rpos += 2;
            b.awaiting_crlf = false;
            slot_answered(b);
            return true;
        }
        detail::ResponseHeader h;
        const auto pr = detail::parse_header_into_new(avail, h, b.pool->limits);
        if (pr.status == ParseStatus::incomplete)
            return false;
        if (pr.status == ParseStatus::invalid) {
            protocol_error(b, pr.error);
            return false;
        }
        std::string_view value;
        std::size_t consumed = pr.length;
        bool large = false;
        if (h.code == ResponseCode::value) {
            if (h.value_size > ctx_.max_item_size) {
                protocol_error(b, "VA of " + std::to_string(h.value_size) +
                                      " bytes is over the item size limit (max_item_size " +
                                      std::to_string(ctx_.max_item_size) + ")");
                return false;
            }
            const std::size_t total = pr.length + static_cast<std::size_t>(h.value_size) + 2;
            if (avail.size() >= total) {
                if (avail[total - 2] != '\r' || avail[total - 1] != '\n') {
                    protocol_error(b, "value block not followed by \\r\\n (lying length)");
                    return false;
                }
                value = avail.substr(pr.length, static_cast<std::size_t>(h.value_size));
                consumed = total;
            } else if (total <= c.rbuf.size() || b.drain > 0) {
                if (total > c.rbuf.size()) {
                    protocol_error(b, "unexpected large value while draining no_reply answers");
                    return false;
                }
                if (c.rpos + total > c.rbuf.size()) {
                    std::memmove(c.rbuf.data(), c.rbuf.data() + c.rpos, c.rend - c.rpos);
                    c.rend -= c.rpos;
                    c.rpos = 0;
                }
                return false;  // wait for the rest in the read buffer
            } else {
                large = true;
            }
        }

        if (b.drain > 0) {  // answers to earlier no_reply writes: only their fences matter
            if (h.code == ResponseCode::noop)
                --b.drain;
            c.rpos += consumed;
            return true;
        }
        if (b.next >= b.read_until) {
            protocol_error(b, "unexpected answer after the last request");
            return false;
        }
        const std::uint32_t i = b.at(b.next);
        const Request& req = reqs_[i];
        if (b.awaiting_fence) {
            if (h.code != ResponseCode::noop) {
                protocol_error(b, "expected MN after a quiet request's answer");
                return false;
            }
            b.awaiting_fence = false;
            ++b.next;
            c.rpos += consumed;
            return true;
        }
        if (req.flags.no_reply && h.code == ResponseCode::noop) {
            // Quiet and silent: the nominal result.
            if (req.command == MetaCommand::get) {
                resps_[i] = Miss{};
            } else {
                resps_[i] = Success{};
            }
            ++b.next;
            c.rpos += consumed;
            return true;
        }
        if (h.code == ResponseCode::client_error || h.code == ResponseCode::error ||
            h.code == ResponseCode::server_error) {
            const std::string line =
                (h.code == ResponseCode::server_error   ? std::string("SERVER_ERROR ")
                 : h.code == ResponseCode::client_error ? std::string("CLIENT_ERROR ")
                                                        : std::string("ERROR ")) +
                std::string(h.message);
            slot_error(
                b, h.code == ResponseCode::server_error ? errc::server_error : errc::client_error,
                line);
            c.rpos += consumed;
            if (h.code != ResponseCode::server_error && !client_error_keeps_sync(h.message)) {
                ++b.next;  // this slot has its answer; the rest cannot be trusted
                b.awaiting_fence = false;
                protocol_error(b, "connection out of step after \"" + line + "\"");
                return false;
            }
            slot_answered(b);
            return true;
        }
        Response& out = resps_[i];
        if (!convert(req.command, h, value, out)) {
            protocol_error(b, std::string("unexpected answer to ") +
                                  std::string(detail::command_name(to_detail(req.command))));
            return false;
        }
        if (large) {
            auto& v = std::get<Value>(out);
            v.data.resize(static_cast<std::size_t>(h.value_size));
            const std::size_t have = std::min(v.data.size(), avail.size() - pr.length);
            std::memcpy(v.data.data(), avail.data() + pr.length, have);
            c.rpos += pr.length + have;
            if (have == v.data.size()) {
                b.awaiting_crlf = true;
            } else {
                c.rpos = c.rend = 0;
                b.big = &v.data;
                b.big_have = have;
            }
            return true;
        }
        c.rpos += consumed;
        slot_answered(b);
        return true;
    }

    /// Fills `out` from a parsed answer to `cmd`; false when the code makes no sense.
    static bool convert(MetaCommand cmd,
                        detail::ResponseHeader& h,
                        std::string_view value,
                        Response& out) {
        auto flags = [&h]() {
            ResponseFlags f = std::move(h.flags);
            if (!h.key.empty()) {
                std::string k;
                if (h.key_base64 && detail::base64_decode(h.key, k)) {
                    f.key = std::move(k);
                } else {
                    f.key = std::string(h.key);
                }
            }
            return f;
        };
        switch (h.code) {
            case ResponseCode::value:
                if (cmd != MetaCommand::get && cmd != MetaCommand::arithmetic)
                    return false;
                // Braces, not emplace's parentheses: clang 14 lacks C++20 paren-init.
                out.emplace<Value>(Value{flags(), std::string(value)});
                return true;
            case ResponseCode::header:
                out.emplace<Success>(Success{flags()});
                return true;
            case ResponseCode::miss:
                if (cmd != MetaCommand::get)
                    return false;
                out = Miss{};
                return true;
            case ResponseCode::not_found:
                if (cmd == MetaCommand::get)
                    return false;
                out = Miss{};
                return true;
            case ResponseCode::not_stored:
                if (cmd == MetaCommand::get)
                    return false;
                out = NotStored{};
                return true;
            case ResponseCode::exists:
                if (cmd == MetaCommand::get)
                    return false;
                out = Conflict{};
                return true;
            default:
                return false;
        }
    }

    void finish(Batch& b) {
        const std::size_t n = b.count();
        if (b.failed) {
            // Slots before `next` have their answers; the rest (and the deferred) fail.
            for (std::size_t s = b.next; s < n; ++s) {
                const std::uint32_t i = b.at(s);
                resps_[i] = error_response(reqs_[i].command, b.error);
                b.errored.push_back(i);
            }
        } else {
            for (std::size_t s = b.read_until; s < n; ++s)
                resps_[b.at(s)] = Success{};
            if (b.lease.conn) {
                Connection& c = *b.lease.conn;
                c.pending_fences += static_cast<unsigned>(n - b.read_until);
                if (c.pending_fences == 0 && c.rpos != c.rend) {
                    // Bytes after the last answer, with no quiet write to account for them:
                    // the server is out of step, and the next request would read them as
                    // its answer. This call's answers came first and stand.
                    b.outcome = Outcome::failed;
                    b.reason = "unexpected bytes after the last answer";
                }
            }
        }
        if (b.lease.conn)
            b.pool->release(b.lease, b.outcome, b.reason);
        if (!b.errored.empty() && ctx_.track_write_failures && ctx_.on_write_failure != nullptr &&
            !ctx_.on_write_failure->empty()) {
            for (std::uint32_t i : b.errored) {
                if (is_tracked_write(reqs_[i]))
                    ctx_.on_write_failure->notify(reqs_[i].key.to_key());
            }
        }
    }

    std::span<const Request> reqs_;
    std::span<Response> resps_;
    const ExecContext& ctx_;
};

}  // namespace

void execute_on_pools(std::span<const Request> requests,
                      std::span<ConnectionPool* const> pools,
                      std::span<Response> responses,
                      const ExecContext& ctx) {
    if (requests.size() != pools.size() || requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pools: requests, pools and responses differ in size");
    }
    for (const Request& r : requests)
        validate(r, ctx);
    std::vector<Batch> batches;
    for (std::uint32_t i = 0; i < requests.size(); ++i) {
        ConnectionPool::Impl* p = &pools[i]->impl();
        auto it = std::find_if(batches.begin(), batches.end(),
                               [p](const Batch& b) { return b.pool == p; });
        if (it == batches.end()) {
            batches.emplace_back();
            batches.back().pool = p;
            it = batches.end() - 1;
        }
        it->idx.push_back(i);
    }
    Executor(requests, responses, ctx).run(batches);
}

void execute_on_pool(ConnectionPool& pool,
                     std::span<const Request> requests,
                     std::span<Response> responses,
                     const ExecContext& ctx) {
    if (requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pool: requests and responses differ in size");
    }
    for (const Request& r : requests)
        validate(r, ctx);
    Batch batch;
    batch.pool = &pool.impl();
    batch.identity = requests.size();
    Executor(requests, responses, ctx).run(std::span<Batch>(&batch, 1));
}

bool is_error_response(const Response& r) noexcept {
    if (const auto* m = std::get_if<Miss>(&r))
        return m->is_error();
    if (const auto* n = std::get_if<NotStored>(&r))
        return n->is_error();
    return false;
}

}  // namespace meta_memcache
