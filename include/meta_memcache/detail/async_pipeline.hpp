#pragma once

// One connection's requests in flight, without sockets (sans-io): the state machine the
// asio driver runs each connection with. Requests are queued as they are issued; the
// driver takes everything queued as one batch (one write), and batches written one after
// another are answered in order, so the batch codec (batch_codec.hpp) decodes them one at a
// time. Each request carries an O opaque of its own, checked against its answer.
//
//   push()            a request of a call, with its deadline
//   encode_queued()   every queued request still wanted, as one batch: the bytes to write
//   read_space()      where the next read goes (the read buffer, or a large value's string)
//   received(n)       n bytes came: answers go to their calls' sinks, in order
//   expire(now)       requests past their deadline fail with errc::timeout; their answers
//                     are read and dropped when they come, so the connection stays in step
//   fail_all()        the connection is gone: what was sent fails, what was not stays queued
//   retry_or_fail_all()  the same, but what the server closed on before answering anything
//                     (on a connection that had answered before) is queued again when it is
//                     idempotent and was not retried yet
//
// A request whose call completed already (cancelled, timed out) is dropped: not sent when
// still queued, its answer read and thrown away when in flight.

#include <meta_memcache/detail/async_call.hpp>
#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/request.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

using AsyncClock = std::chrono::steady_clock;

/// Where the pipeline hands a request that failed (a server's error line, a transport
/// failure, a timeout): the driver fails it in its call, or sends it elsewhere (a gutter).
class AsyncFailureRoute {
public:
    virtual void failed(const std::shared_ptr<AsyncCall>& call,
                        std::uint32_t index,
                        const Failure& f) = 0;

protected:
    AsyncFailureRoute() = default;
    ~AsyncFailureRoute() = default;
    AsyncFailureRoute(const AsyncFailureRoute&) = default;
    AsyncFailureRoute& operator=(const AsyncFailureRoute&) = default;
    AsyncFailureRoute(AsyncFailureRoute&&) = default;
    AsyncFailureRoute& operator=(AsyncFailureRoute&&) = default;
};

inline constexpr std::string_view opaque_mismatch = "an answer's opaque (O) is not its request's";

class AsyncPipeline {
public:
    /// `server` names the connection's server in failures; `max_value` is the item size
    /// limit (a larger VA is a desync).
    AsyncPipeline(std::string server,
                  std::size_t read_buffer_size,
                  std::size_t max_value,
                  const ParserLimits& limits)
        : server_(std::move(server)),
          rbuf_(std::max<std::size_t>(read_buffer_size, 1024), '\0'),
          max_value_(max_value),
          limits_(limits) {}

    /// Queues request `index` of `call`, to fail with errc::timeout at `deadline`.
    void push(std::shared_ptr<AsyncCall> call,
              std::uint32_t index,
              AsyncClock::time_point deadline) {
        queue_.push_back(Item{std::move(call), index, deadline, false});
    }
    /// Requests are queued (maybe all dropped already; encode_queued() tells).
    [[nodiscard]] bool has_queued() const noexcept { return !queue_.empty(); }
    /// Nothing queued and nothing awaited.
    [[nodiscard]] bool idle() const noexcept { return queue_.empty() && flight_.empty(); }
    /// Requests written (or being written) whose answer has not come yet, dropped ones
    /// included.
    [[nodiscard]] std::size_t in_flight() const noexcept {
        std::size_t n = 0;
        for (const Batch& b : flight_)
            n += b.items.size() - b.done_upto;
        return n;
    }

    /// Moves every queued request still wanted into one batch and encodes it (with its
    /// opaque) into the write buffer: the bytes to write, empty when nothing is wanted.
    /// The buffer stays valid until the next call.
    WriteBuffer& encode_queued(std::string_view key_prefix) {
        wbuf_.clear();
        Batch b = spare_batch();
        for (Item& it : queue_) {
            if (dropped(it))
                continue;
            b.reqs.push_back(it.call->requests[it.index]);
            Request& r = b.reqs.back();
            if (!r.flags.opaque)
                r.flags.opaque = next_opaque();
            if (it.call->plain_reads && !r.key.key.empty()) [[likely]] {
                // (The bytes encode() writes for it, as the one-key path writes them.)
                char* p = wbuf_.room(max_request_line + plain_read_opaque_room);
                wbuf_.commit(static_cast<std::size_t>(put_plain_read(p, key_prefix, r.key.key,
                                                                     plain_read_tail,
                                                                     r.flags.opaque->view()) -
                                                      p));
            } else {
                encode(r, key_prefix, wbuf_);
            }
            b.items.push_back(std::move(it));
        }
        queue_.clear();
        b.received_before = received_;
        wbuf_.finish();
        if (b.items.empty()) {
            spare_.push_back(std::move(b));
        } else {
            flight_.push_back(std::move(b));
            if (flight_.size() == 1)
                start_front();
        }
        return wbuf_;
    }

    /// Where the next read goes.
    [[nodiscard]] std::span<char> read_space() noexcept {
        if (dec_.reading_large())
            return dec_.large_target();
        return {rbuf_.data() + rend_, rbuf_.size() - rend_};
    }

    /// `n` bytes were read into read_space(): hands every whole answer to its call. False
    /// when the server is out of step (error() says how): the connection must go.
    [[nodiscard]] bool received(std::size_t n, AsyncFailureRoute& route) {
        if (dec_.reading_large()) {
            dec_.large_filled(n);
            if (dec_.reading_large())
                return true;
        } else {
            rend_ += n;
        }
        received_ += n;
        return feed(route);
    }
    /// What made received() return false.
    [[nodiscard]] std::string_view error() const noexcept { return error_; }

    /// The connection is gone: every request written fails with `f`; queued ones stay for
    /// the next connection (they were never sent). The read buffer is emptied.
    void fail_all(const Failure& f, AsyncFailureRoute& route) {
        if (!flight_.empty() && front_started_) {
            Dispatch d(*this, flight_.front(), route);
            dec_.fail_rest(d, f);
            settle(flight_.front(), flight_.front().items.size());
            pop_front();
        }
        for (Batch& b : flight_) {
            for (Item& it : b.items)
                fail_item(it, f, route);
        }
        flight_.clear();
        front_started_ = false;
        fences_ = 0;
        rpos_ = rend_ = 0;
        mismatch_ = false;
        error_.clear();
    }
    /// The connection was closed under its requests (by the server, or a read or write
    /// failed): as fail_all(), except that the requests of batches written after the last
    /// byte came, on a connection that had answered before (a reused connection the server
    /// closed before answering), are queued again, ahead of the others, when sending them
    /// twice does no harm (idempotent()) and they were not sent again already. Returns how
    /// many were queued again.
    std::size_t retry_or_fail_all(const Failure& f, AsyncFailureRoute& route) {
        std::vector<Item> again;
        while (!flight_.empty()) {
            Batch& b = flight_.back();
            if (b.received_before == 0 || b.received_before != received_)
                break;  // bytes came after it was written: it may have been answered in part
            for (std::size_t s = b.items.size(); s-- > b.done_upto;) {
                Item& it = b.items[s];
                if (dropped(it))
                    continue;
                if (it.retried || !idempotent(it.call->requests[it.index])) {
                    fail_item(it, f, route);
                    continue;
                }
                it.retried = true;
                again.push_back(std::move(it));
            }
            flight_.pop_back();
        }
        if (flight_.empty())
            front_started_ = false;
        fail_all(f, route);
        const std::size_t n = again.size();
        if (n > 0) {
            std::reverse(again.begin(), again.end());  // in the order they were sent
            again.insert(again.end(), std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.end()));
            queue_.swap(again);
        }
        return n;
    }
    /// Fails the queued requests too (the server is marked down, the client shuts down).
    void fail_queued(const Failure& f, AsyncFailureRoute& route) {
        std::vector<Item> q;
        q.swap(queue_);
        for (Item& it : q)
            fail_item(it, f, route);
    }

    /// The earliest deadline of a request still wanted (deadlines grow in push order).
    [[nodiscard]] std::optional<AsyncClock::time_point> next_deadline() const noexcept {
        for (const Batch& b : flight_) {
            for (std::size_t s = b.done_upto; s < b.items.size(); ++s) {
                if (!dropped(b.items[s]))
                    return b.items[s].deadline;
            }
        }
        for (const Item& it : queue_) {
            if (!dropped(it))
                return it.deadline;
        }
        return std::nullopt;
    }

    /// Fails every request past its deadline with errc::timeout (`why` the message) and
    /// returns how many. `close` is set when the value being read belongs to one of them:
    /// its string goes with its call, so the connection must go instead.
    std::size_t expire(AsyncClock::time_point now,
                       std::string_view why,
                       AsyncFailureRoute& route,
                       bool& close) {
        close = false;
        std::size_t n = 0;
        const Failure f{errc::timeout, why, server_};
        for (std::size_t k = 0; k < flight_.size(); ++k) {
            Batch& b = flight_[k];
            for (std::size_t s = b.done_upto; s < b.items.size(); ++s) {
                Item& it = b.items[s];
                if (dropped(it))
                    continue;
                if (it.deadline > now)
                    return n;
                if (k == 0 && front_started_ && s == dec_.answered() && dec_.reading_large()) {
                    close = true;
                    return n;
                }
                fail_item(it, f, route);
                ++n;
            }
        }
        for (Item& it : queue_) {
            if (dropped(it))
                continue;
            if (it.deadline > now)
                return n;
            fail_item(it, f, route);
            ++n;
        }
        return n;
    }

private:
    struct Item {
        std::shared_ptr<AsyncCall> call;
        std::uint32_t index = 0;
        AsyncClock::time_point deadline{};
        bool done = false;     ///< answered or failed here
        bool retried = false;  ///< sent again after its connection closed unanswered
    };
    /// One write's requests, answered in order.
    struct Batch {
        std::vector<Request> reqs;  ///< as sent (with their opaque)
        std::vector<Item> items;
        std::size_t done_upto = 0;        ///< items before this are settled
        std::size_t received_before = 0;  ///< bytes the connection had received when written
    };

    /// Hands the decoder's results to the calls, dropping those nobody waits for.
    class Dispatch final : public ResultSink {
    public:
        Dispatch(AsyncPipeline& p, Batch& b, AsyncFailureRoute& route) noexcept
            : p_(p), b_(b), route_(route) {}

        void answer(std::size_t s, const ResponseHeader& h, std::string_view value) override {
            Item& it = b_.items[s];
            const auto& sent = b_.reqs[s].flags.opaque;
            if (!p_.mismatch_ && h.flags.opaque && sent && h.flags.opaque->view() != sent->view())
                p_.mismatch_ = true;  // the answer is not this request's: out of step
            if (p_.mismatch_) {
                // No answer from here on can be trusted: each fails.
                p_.fail_item(it, Failure{errc::protocol_error, opaque_mismatch, p_.server_},
                             route_);
                return;
            }
            if (dropped(it))
                return;
            it.call->sink().answer(it.index, h, value);
        }
        std::string& large_value(std::size_t s, const ResponseHeader& h) override {
            Item& it = b_.items[s];
            if (p_.mismatch_ || dropped(it))
                return p_.scratch_;
            return it.call->sink().large_value(it.index, h);
        }
        void fail(std::size_t s, const Failure& f) override {
            p_.fail_item(b_.items[s], f, route_);
        }

    private:
        AsyncPipeline& p_;
        Batch& b_;
        AsyncFailureRoute& route_;
    };

    /// A batch to fill: one written before, its vectors' memory kept.
    Batch spare_batch() {
        if (spare_.empty())
            return {};
        Batch b = std::move(spare_.back());
        spare_.pop_back();
        return b;
    }
    /// The front batch is answered: its vectors are kept for a later batch.
    void pop_front() {
        Batch& b = flight_.front();
        b.reqs.clear();
        b.items.clear();
        b.done_upto = 0;
        if (spare_.size() < 4)
            spare_.push_back(std::move(b));
        flight_.pop_front();
    }

    [[nodiscard]] static bool dropped(const Item& it) noexcept {
        return it.done || it.call->finished;
    }

    void fail_item(Item& it, const Failure& f, AsyncFailureRoute& route) {
        if (dropped(it))
            return;
        it.done = true;
        route.failed(it.call, it.index, f);
    }

    /// Items of `b` before `upto` have their answers: their calls hear so.
    static void settle(Batch& b, std::size_t upto) {
        for (; b.done_upto < upto; ++b.done_upto) {
            Item& it = b.items[b.done_upto];
            if (!dropped(it))
                it.call->request_done();
            it.done = true;
            it.call.reset();  // the call's memory goes as soon as nothing else needs it
        }
    }

    Opaque next_opaque() noexcept {
        std::array<char, 12> digits{};
        std::size_t n = 0;
        std::uint32_t v = ++opaque_;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        // The digits come reversed: unique all the same.
        return Opaque::unchecked(std::string_view(digits.data(), n));
    }

    void start_front() {
        Batch& b = flight_.front();
        dec_.start(b.reqs, nullptr, b.reqs.size(), fences_, max_value_, limits_, server_,
                   hit_.get());
        fences_ = 0;
        front_started_ = true;
    }

    /// Feeds the buffered bytes to the batches in order.
    bool feed(AsyncFailureRoute& route) {
        while (!flight_.empty()) {
            Batch& b = flight_.front();
            Dispatch d(*this, b, route);
            const auto fed =
                dec_.feed(std::string_view(rbuf_.data() + rpos_, rend_ - rpos_), rbuf_.size(), d);
            rpos_ += fed.consumed;
            if (mismatch_) {
                error_ = opaque_mismatch;
                return false;
            }
            settle(b, dec_.answered());
            if (fed.status == BatchDecoder::Status::desync) {
                error_ = std::string(dec_.error());
                return false;
            }
            if (fed.status != BatchDecoder::Status::done)
                break;
            fences_ = dec_.finish_deferred(d);
            settle(b, b.items.size());
            pop_front();
            front_started_ = false;
            if (!flight_.empty()) {
                start_front();
            } else if (fences_ > 0) {
                // Fences of trailing quiet writes: drained by an empty batch.
                flight_.emplace_back();
                start_front();
            }
        }
        if (flight_.empty() && rpos_ != rend_) {
            error_ = "unexpected bytes after the last answer";
            return false;
        }
        compact();
        return true;
    }

    void compact() noexcept {
        if (rpos_ == rend_) {
            rpos_ = rend_ = 0;
        } else if (rpos_ > 0 && rend_ == rbuf_.size()) {
            std::memmove(rbuf_.data(), rbuf_.data() + rpos_, rend_ - rpos_);
            rend_ -= rpos_;
            rpos_ = 0;
        }
    }

    std::string server_;
    std::vector<Item> queue_;
    std::deque<Batch> flight_;
    std::vector<Batch> spare_;  ///< answered batches, their memory kept
    bool front_started_ = false;
    unsigned fences_ = 0;  ///< fences of earlier quiet writes the next batch drains first
    BatchDecoder dec_;
    WriteBuffer wbuf_;
    std::string rbuf_;
    std::size_t rpos_ = 0;
    std::size_t rend_ = 0;
    std::size_t max_value_;
    ParserLimits limits_;
    std::uint32_t opaque_ = 0;
    std::size_t received_ = 0;  ///< bytes received on the connection
    bool mismatch_ = false;
    std::string scratch_;  ///< where a dropped large value is read
    /// The header the decoder describes plain hits in, kept from batch to batch.
    std::unique_ptr<ResponseHeader> hit_ =
        std::make_unique<ResponseHeader>(BatchDecoder::hit_header());
    std::string error_;
};

}  // namespace meta_memcache::detail
