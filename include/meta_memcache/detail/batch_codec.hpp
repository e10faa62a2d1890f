#pragma once

// One server's batch of meta requests, without sockets (sans-io):
//
//   encode_batch()  validated requests -> bytes in a WriteBuffer (lines and small values
//                   copied; large values referenced in place, sent from the caller's memory)
//   BatchDecoder    the server's bytes, fed in any split -> each request's result, handed
//                   to a ResultSink in request order: values (a value larger than the read
//                   buffer is read straight into the caller's string), statuses, quiet-mode
//                   nominal results and `mn` fences, error lines, and desync (a protocol
//                   error that condemns the connection).
//
// Built on the one encoder (request_encoder.hpp) and the one parser (response_parser.hpp);
// the drivers (synchronous and asio) only move bytes between a socket and this.

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/request.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache::detail {

/// Values up to this size are copied into the write buffer; larger ones are sent from the
/// caller's memory.
inline constexpr std::size_t copy_value_threshold = 16 * 1024;
/// Item header overhead memcached adds to key and value (see the protocol notes).
inline constexpr std::size_t item_overhead = 63;

/// The bytes of one batch: the buffer's own bytes (request lines, small values, fences)
/// and, between them in order, large values that stay in the caller's memory.
class WriteBuffer {
public:
    /// A run of bytes to write: `size` bytes of the buffer at `offset` (ext == nullptr), or
    /// of the caller's memory at `ext`.
    struct Segment {
        const char* ext = nullptr;
        std::size_t offset = 0;
        std::size_t size = 0;
    };

    /// Starts a new batch (the memory is kept).
    void clear() noexcept {
        len_ = 0;
        open_from_ = 0;
        segments_.clear();
    }
    /// Room for `n` bytes at the end; commit() what was written.
    [[nodiscard, gnu::always_inline]] char* room(std::size_t n) {
        if (buf_.size() < len_ + n) [[unlikely]]
            grow(n);
        return buf_.data() + len_;
    }
    void commit(std::size_t n) noexcept { len_ += n; }
    void put(std::string_view bytes) {
        std::memcpy(room(bytes.size()), bytes.data(), bytes.size());
        len_ += bytes.size();
    }
    /// `bytes` go out from the caller's memory, after what was put so far.
    void put_external(std::string_view bytes) {
        close_segment();
        segments_.push_back({bytes.data(), 0, bytes.size()});
    }
    /// Ends the batch: what to write is segments() (or, when contiguous(), the first
    /// total() bytes of data()).
    void finish() {
        if (!segments_.empty())
            close_segment();
    }

    /// The segments to write, in order. Call after finish().
    [[nodiscard]] std::span<const Segment> segments() {
        if (segments_.empty() && len_ > 0)
            segments_.push_back({nullptr, 0, len_});
        return segments_;
    }
    /// The buffer's own bytes (for a Segment with ext == nullptr).
    [[nodiscard]] const char* data() const noexcept { return buf_.data(); }
    /// The whole batch is the buffer's first total() bytes (no large value: the common
    /// case, written with one send()).
    [[nodiscard]] bool contiguous() const noexcept { return segments_.empty(); }
    [[nodiscard]] std::size_t total() const noexcept {
        if (segments_.empty())
            return len_;
        std::size_t n = 0;
        for (const Segment& s : segments_)
            n += s.size;
        return n;
    }

private:
    [[gnu::noinline]] void grow(std::size_t n) { buf_.resize(std::max(buf_.size() * 2, len_ + n)); }

    void close_segment() {
        if (len_ > open_from_)
            segments_.push_back({nullptr, open_from_, len_ - open_from_});
        open_from_ = len_;
    }

    std::string buf_;  ///< only grows
    std::size_t len_ = 0;
    std::size_t open_from_ = 0;  ///< start of the own bytes not yet in a segment
    /// Empty while the batch is one run of own bytes; otherwise every segment.
    std::vector<Segment> segments_;
};

/// The requests of one call, as the codec and the drivers read them: a span of Requests,
/// or one request's command and flags for each of many keys (a multi-key read, where no
/// Request is built per key and the flags are validated and encoded once: see SharedLine).
/// Views only, valid for the call.
class CallRequests {
public:
    CallRequests(std::span<const Request> requests) noexcept  // NOLINT(google-explicit-constructor)
        : list_(requests.data()), size_(requests.size()) {}
    CallRequests(
        const std::vector<Request>& requests) noexcept  // NOLINT(google-explicit-constructor)
        : CallRequests(std::span<const Request>(requests)) {}
    /// `shape` (whose own key is not used) for each of `keys`. `shape` carries no value.
    CallRequests(const Request& shape, std::span<const KeyView> keys) noexcept
        : shape_(&shape), keys_(keys.data()), size_(keys.size()) {}

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// The request every key shares, or null for a span of Requests.
    [[nodiscard]] const Request* shared() const noexcept { return shape_; }
    /// Request `i`'s command, flags and value (its key is key(i)).
    [[nodiscard]] const Request& shape(std::size_t i) const noexcept {
        return shape_ != nullptr ? *shape_ : list_[i];
    }
    [[nodiscard]] const KeyView& key(std::size_t i) const noexcept {
        return shape_ != nullptr ? keys_[i] : list_[i].key;
    }
    /// The keys, for shared(); null otherwise.
    [[nodiscard]] const KeyView* keys() const noexcept { return keys_; }

private:
    const Request* list_ = nullptr;
    const Request* shape_ = nullptr;
    const KeyView* keys_ = nullptr;
    std::size_t size_ = 0;
};

/// Checks that `r` can be sent as it is: a key, flags that make sense for the command
/// (validate_request), memcached's flag-token limit, and a value that fits an item of
/// `max_item_size` beside its key. The one validation of a request; the drivers call it for
/// every request of a call before any byte is sent (for CallRequests::shared, its parts:
/// validate_shape once, validate_key per key).
/// Returns the flags the request sends (flag_mask), for encode().
/// @throws InvalidInputError naming the command and the problem.
std::uint32_t validate(const Request& r, std::string_view key_prefix, std::size_t max_item_size);
/// validate() of a request known to be a plain read (mg with plain_read_flags(), whose
/// flags are checked once): its key alone.
/// @throws InvalidInputError naming the problem.
void validate_plain_read(const Request& r, std::string_view key_prefix);

/// The part of validate() that depends on the key: not empty, and within memcached's
/// flag-token limit with the `b` that its wire form may add to flags `mask`.
/// @throws InvalidInputError naming the command and the problem.
void validate_key(MetaCommand cmd,
                  std::string_view key,
                  std::string_view key_prefix,
                  std::uint32_t mask);

/// The end of a request line that requests of one command and flags share, as
/// put_line_rest() writes it for a key that needs no `b`: computed once for a call's
/// CallRequests::shared, copied after each key.
struct SharedLine {
    std::uint32_t mask = 0;  ///< flag_mask of the shape's flags
    /// A key's `b` may take the line over memcached's flag-token limit: validate_key() must
    /// look at each key (otherwise it only has to be non-empty).
    bool check_tokens = false;
    std::size_t size = 0;
    std::array<char, max_request_line> text{};  ///< only the first `size` bytes count
};

/// validate() of everything in `shape` but its key, for CallRequests::shared: its flags,
/// and no value (a shared request has none); returns the line end its keys share.
/// @throws InvalidInputError naming the command and the problem.
SharedLine validate_shape(const Request& shape);

/// Appends the wire form of validated `r` (line, value, and an `mn` fence when quiet);
/// `mask` is what validate(r) returned.
void encode(const Request& r, std::string_view key_prefix, WriteBuffer& out, std::uint32_t mask);
/// encode() for a request whose mask is not at hand.
inline void encode(const Request& r, std::string_view key_prefix, WriteBuffer& out) {
    encode(r, key_prefix, out, flag_mask(r.flags));
}
/// encode() of `shape` with each key of one batch instead of its own: `keys[slots[s]]` for
/// s < `count` (slots null: the first `count`). `line` (from validate_shape) supplies the
/// end of each line whose key needs no `b`.
void encode_keys(const Request& shape,
                 const KeyView* keys,
                 const std::uint32_t* slots,
                 std::size_t count,
                 std::string_view key_prefix,
                 WriteBuffer& out,
                 const SharedLine& line);

/// True when sending the request twice does no harm (a retry after a dead connection).
[[nodiscard]] constexpr bool idempotent(const Request& r) noexcept {
    switch (r.command) {
        case MetaCommand::get:
        case MetaCommand::del:
        case MetaCommand::noop:
            return true;
        case MetaCommand::set:
            return !r.flags.mode || *r.flags.mode == Mode::set || *r.flags.mode == Mode::add ||
                   *r.flags.mode == Mode::replace;
        case MetaCommand::arithmetic:
            return false;
    }
    return false;
}

/// The answers of one batch, fed as they arrive. Requests are named by their index in the
/// call (`slots`, or 0..n-1); answers go to a ResultSink in request order.
class BatchDecoder {
public:
    enum class Status : std::uint8_t {
        more,    ///< read more; bytes from `consumed` on are a partial answer to keep
        large,   ///< read the rest of a large value into large_target()
        done,    ///< every awaited answer is in; later bytes belong to the next batch
        desync,  ///< the server is out of step (error()); the connection must go
    };
    struct Fed {
        std::size_t consumed = 0;
        Status status = Status::more;
    };

    /// A new batch: `requests` of the call, this batch's `slots` into them (null: the
    /// first `count`), `fences` mn fences of earlier quiet writes still to come on the
    /// connection, values over `max_value` as a desync, and `server` (the pool's name) for
    /// the failures it reports. `await_tracked_writes`: trailing quiet writes that are
    /// tracked (is_tracked_write) are answered in this batch, not deferred, so that an
    /// error the server answers them with reaches the sink. `hit_header`, when given, is a
    /// header kept across batches (as hit_header() makes it) that plain hits are described
    /// in, so that no header is built per answer.
    void start(CallRequests requests,
               const std::uint32_t* slots,
               std::size_t count,
               unsigned fences,
               std::size_t max_value,
               const ParserLimits& limits,
               std::string_view server,
               bool await_tracked_writes = false,
               ResponseHeader* hit_header = nullptr) noexcept;

    /// A header for start()'s `hit_header`.
    [[nodiscard]] static ResponseHeader hit_header() noexcept {
        ResponseHeader h;
        h.code = ResponseCode::value;
        return h;
    }

    /// Consumes what whole answers `in` holds; `capacity` is the read buffer's size (an
    /// answer that cannot fit it is a large value).
    Fed feed(std::string_view in, std::size_t capacity, ResultSink& sink);

    /// True while a large value is read into large_target() (after Status::large).
    [[nodiscard]] bool reading_large() const noexcept { return phase_ == Phase::large; }
    /// Where the rest of a large value goes (empty when none is being read).
    [[nodiscard]] std::span<char> large_target() noexcept {
        if (big_ == nullptr)
            return {};
        return {big_->data() + big_have_, big_->size() - big_have_};
    }
    /// `n` bytes were read into large_target().
    void large_filled(std::size_t n) noexcept {
        big_have_ += n;
        if (big_have_ == big_->size()) {
            big_ = nullptr;
            phase_ = Phase::crlf;
        }
    }

    [[nodiscard]] bool done() const noexcept {
        return drain_ == 0 && next_ >= read_until_ && phase_ == Phase::line;
    }
    /// Requests answered so far (slots before this have their result).
    [[nodiscard]] std::size_t answered() const noexcept { return next_; }
    /// Number of requests in the batch.
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    /// The call index of the batch's request `s`.
    [[nodiscard]] std::uint32_t slot(std::size_t s) const noexcept {
        return slots_ == nullptr ? static_cast<std::uint32_t>(s) : slots_[s];
    }
    /// What made the batch desync.
    [[nodiscard]] std::string_view error() const noexcept { return error_; }

    /// Once done(): the trailing quiet writes, whose answers are not awaited (their fences
    /// are drained by the connection's next batch), are nominal successes. Returns their
    /// number (the fences the connection still owes).
    unsigned finish_deferred(ResultSink& sink);
    /// Fails every request not answered yet (a transport failure, or after a desync).
    void fail_rest(ResultSink& sink, const Failure& f);

private:
    enum class Phase : std::uint8_t {
        line,   ///< a status line comes next
        fence,  ///< a quiet request was answered; its MN comes next
        crlf,   ///< a large value is in; its "\r\n" comes next
        large,  ///< a large value is being read into big_
    };

    [[nodiscard]] const Request& request(std::size_t s) const noexcept {
        return requests_.shape(slot(s));
    }
    Status desync(std::string_view why) noexcept {
        error_ = why;
        return Status::desync;
    }
    /// The current request's answer is complete: a quiet one still has its fence to come.
    void answered_current() noexcept {
        if (request(next_).flags.no_reply) {
            phase_ = Phase::fence;
        } else {
            ++next_;
        }
    }
    /// One plain answer at the start of `in` (parse_hit_or_miss: a VA with only f, a bare
    /// EN or HD, with the request's opaque echoed when `Opaque`) to the current request, a
    /// hit described in `hit`; false, with nothing consumed, for anything else (one() judges
    /// it then).
    template <bool Opaque>
    [[gnu::always_inline]] bool plain(std::string_view in,
                                      ResultSink& sink,
                                      ResponseHeader& hit,
                                      std::size_t& consumed);
    /// One status line (and value) at the start of `in`; consumed 0 when incomplete.
    Status one(std::string_view in, std::size_t capacity, ResultSink& sink, std::size_t& consumed);

    CallRequests requests_{std::span<const Request>{}};
    const std::uint32_t* slots_ = nullptr;
    std::size_t count_ = 0;
    std::size_t next_ = 0;        ///< next request to answer
    std::size_t read_until_ = 0;  ///< requests from here on are deferred quiet writes
    unsigned drain_ = 0;          ///< earlier quiet writes' fences still to drain
    std::size_t max_value_ = 0;
    ParserLimits limits_{};
    Phase phase_ = Phase::line;
    std::string* big_ = nullptr;  ///< the large value being read
    std::size_t big_have_ = 0;
    std::string_view server_{};
    ResponseHeader* hit_ = nullptr;  ///< see start()
    std::string_view error_{};
    std::string error_text_{};  ///< backs error_ when it is not a static string
};

}  // namespace meta_memcache::detail

#include <meta_memcache/detail/impl/batch_codec.ipp>
