#pragma once

// Definitions of batch_codec.hpp (inline: the codec is header-only, as the protocol is).

#include <meta_memcache/detail/batch_codec.hpp>

namespace meta_memcache::detail {

namespace codec_impl {

[[nodiscard]] inline bool has_binary_byte(std::string_view a, std::string_view b) noexcept {
    for (std::string_view s : {a, b}) {
        for (char c : s) {
            if (is_binary_key_byte(static_cast<unsigned char>(c)))
                return true;
        }
    }
    return false;
}

/// A CLIENT_ERROR after which memcached is known to still be in step with us.
[[nodiscard]] inline bool client_error_keeps_sync(std::string_view msg) noexcept {
    return msg.find("cannot increment or decrement non-numeric value") != std::string_view::npos;
}

/// Whether `code` is an answer `cmd` can get (anything else is a desync).
[[nodiscard, gnu::always_inline]] constexpr bool answers(MetaCommand cmd,
                                                         ResponseCode code) noexcept {
    switch (code) {
        case ResponseCode::value:
            return cmd == MetaCommand::get || cmd == MetaCommand::arithmetic;
        case ResponseCode::header:
            return cmd != MetaCommand::noop;
        case ResponseCode::miss:
            return cmd == MetaCommand::get;
        case ResponseCode::not_found:
        case ResponseCode::not_stored:
        case ResponseCode::exists:
            return cmd != MetaCommand::get && cmd != MetaCommand::noop;
        case ResponseCode::noop:
            return cmd == MetaCommand::noop;
        default:
            return false;
    }
}

[[nodiscard]] constexpr std::string_view unexpected_answer(MetaCommand cmd) noexcept {
    switch (cmd) {
        case MetaCommand::get:
            return "unexpected answer to mg";
        case MetaCommand::set:
            return "unexpected answer to ms";
        case MetaCommand::del:
            return "unexpected answer to md";
        case MetaCommand::arithmetic:
            return "unexpected answer to ma";
        case MetaCommand::noop:
            return "unexpected answer to mn";
    }
    return "unexpected answer";
}

[[nodiscard]] constexpr ResponseHeader header_of(ResponseCode code) noexcept {
    ResponseHeader h;
    h.code = code;
    return h;
}
inline constexpr ResponseHeader nominal_miss = header_of(ResponseCode::miss);
inline constexpr ResponseHeader nominal_success = header_of(ResponseCode::header);

/// The result of a quiet request the server stayed silent about: EN for mg, HD otherwise.
[[nodiscard, gnu::always_inline]] inline const ResponseHeader& nominal(MetaCommand cmd) noexcept {
    return cmd == MetaCommand::get ? nominal_miss : nominal_success;
}

}  // namespace codec_impl

inline void validate_key(MetaCommand cmd,
                         std::string_view key,
                         std::string_view key_prefix,
                         std::uint32_t mask) {
    if (key.empty())
        encoder_impl::invalid(cmd, "key is empty");
    // Whether the key goes base64 (one more flag token) is only looked up when it could
    // make a difference: the common request is within the limit either way.
    const std::size_t limit = cmd == MetaCommand::set ? max_flag_tokens_set : max_flag_tokens_other;
    const std::size_t tokens = count_bits(mask);  // without `b`
    if (tokens + 1 > limit && tokens + (key_prefix.size() + key.size() >= hashed_key_threshold ||
                                                codec_impl::has_binary_byte(key_prefix, key)
                                            ? 1U
                                            : 0U) >
                                  limit) {
        encoder_impl::invalid(cmd, "too many flags for memcached (at most 16 on ms, 17 otherwise)");
    }
}

inline void validate_plain_read(const Request& r, std::string_view key_prefix) {
    static const std::uint32_t mask = [] {
        const std::uint32_t m = flag_mask(plain_read_flags());
        validate_flags(MetaCommand::get, plain_read_flags(), m);
        return m;
    }();
    validate_key(MetaCommand::get, r.key.key, key_prefix, mask);
}

inline std::uint32_t validate(const Request& r,
                              std::string_view key_prefix,
                              std::size_t max_item_size) {
    const MetaCommand cmd = r.command;
    if (cmd == MetaCommand::noop) {
        validate_request(cmd, r.flags);
        if (!r.key.key.empty() || !r.value.empty())
            encoder_impl::invalid(cmd, "mn takes no key and no value");
        return 0;
    }
    if (r.key.key.empty())
        encoder_impl::invalid(cmd, "key is empty");
    const std::uint32_t mask = flag_mask(r.flags);
    validate_flags(cmd, r.flags, mask);
    validate_key(cmd, r.key.key, key_prefix, mask);
    if (cmd == MetaCommand::set) {
        const std::size_t total = key_prefix.size() + r.key.key.size();
        const bool hashed = total >= hashed_key_threshold;
        const auto room_for = [&](std::size_t wire_key) {
            return max_item_size > wire_key + item_overhead
                       ? max_item_size - wire_key - item_overhead
                       : 0;
        };
        const std::size_t base64_key = hashed ? 24 : (total + 2) / 3 * 4;
        std::size_t room = room_for(std::max(total, base64_key));  // the longer of the two
        if (r.value.size() > room) {
            // Only now is it worth knowing which wire form the key takes.
            const bool base64 = hashed || codec_impl::has_binary_byte(key_prefix, r.key.key);
            room = room_for(base64 ? base64_key : total);
        }
        if (r.value.size() > room || r.value.size() > max_datalen) {
            throw InvalidInputError("ms: value of " + std::to_string(r.value.size()) +
                                    " bytes is over the item size limit (" +
                                    std::to_string(max_item_size) + " bytes per item leaves " +
                                    std::to_string(room) + " for the value of this key)");
        }
    } else if (!r.value.empty()) {
        encoder_impl::invalid(cmd, "only ms carries a value");
    }
    return mask;
}

inline SharedLine validate_shape(const Request& shape) {
    const MetaCommand cmd = shape.command;
    if (cmd == MetaCommand::noop || cmd == MetaCommand::set || !shape.value.empty())
        encoder_impl::invalid(cmd, "a request shared by many keys carries no value");
    SharedLine line;
    line.mask = flag_mask(shape.flags);
    validate_flags(cmd, shape.flags, line.mask);
    line.check_tokens = count_bits(line.mask) + 1 > max_flag_tokens_other;
    line.size = static_cast<std::size_t>(
        put_line_rest(line.text.data(), cmd, false, shape.flags, line.mask, 0) - line.text.data());
    return line;
}

inline void encode(const Request& r,
                   std::string_view key_prefix,
                   WriteBuffer& out,
                   std::uint32_t mask) {
    if (r.command == MetaCommand::noop) {
        out.put("mn\r\n");
        return;
    }
    char* const line = out.room(max_request_line);
    const auto [after_key, base64] = put_key(put_command(line, r.command), key_prefix, r.key.key);
    char* const end = put_line_rest(after_key, r.command, base64, r.flags, mask, r.value.size());
    out.commit(static_cast<std::size_t>(end - line));
    if (r.command == MetaCommand::set) {
        if (r.value.size() > copy_value_threshold) {
            out.put_external(r.value);
        } else {
            out.put(r.value);
        }
        out.put("\r\n");
    }
    if (r.flags.no_reply)
        out.put("mn\r\n");
}

inline void encode_keys(const Request& shape,
                        const KeyView* keys,
                        const std::uint32_t* slots,
                        std::size_t count,
                        std::string_view key_prefix,
                        WriteBuffer& out,
                        const SharedLine& line) {
    // encode() of each key, from the same pieces (put_command, put_key, put_line_rest's
    // text): a shape has no value (validate_shape), so each request is its line and, when
    // quiet, its fence. Everything the loop reads is in locals: the lines are written
    // through a char*, which the compiler must assume may change any memory it points to.
    const MetaCommand cmd = shape.command;
    std::array<char, 2> name{};
    put_command(name.data(), cmd);
    const bool quiet = shape.flags.no_reply;
    const std::size_t tail = line.size;
    const char* const text = line.text.data();
    // Room for this many requests at a time (each at most a line and a fence).
    constexpr std::size_t per_room = 16;
    constexpr std::size_t max_request = max_request_line + 4;
    // After a key, 32 bytes of room are always there (the longest line holds the longest
    // key and more than 32 bytes of flags): short tails are copied as 32.
    constexpr std::size_t fixed = 32;
    static_assert(2 + 1 + max_wire_key_size + fixed <= max_request_line);
    for (std::size_t first = 0; first < count; first += per_room) {
        const std::size_t last = std::min(count, first + per_room);
        char* const start = out.room((last - first) * max_request);
        char* p = start;
        for (std::size_t s = first; s < last; ++s) {
            const std::string_view key = keys[slots == nullptr ? s : slots[s]].key;
            std::memcpy(p, name.data(), 2);
            const auto [after_key, base64] = put_key(p + 2, key_prefix, key);
            if (base64) [[unlikely]] {
                p = put_line_rest(after_key, cmd, true, shape.flags, line.mask, 0);
            } else if (tail <= fixed) {
                std::memcpy(after_key, text, fixed);
                p = after_key + tail;
            } else {
                std::memcpy(after_key, text, tail);
                p = after_key + tail;
            }
            if (quiet) {
                static constexpr std::array<char, 4> fence{'m', 'n', '\r', '\n'};
                std::memcpy(p, fence.data(), fence.size());
                p += fence.size();
            }
        }
        out.commit(static_cast<std::size_t>(p - start));
    }
}

inline void BatchDecoder::start(CallRequests requests,
                                const std::uint32_t* slots,
                                std::size_t count,
                                unsigned fences,
                                std::size_t max_value,
                                const ParserLimits& limits,
                                std::string_view server,
                                bool await_tracked_writes,
                                ResponseHeader* hit_header) noexcept {
    server_ = server;
    hit_ = hit_header;
    requests_ = requests;
    slots_ = slots;
    count_ = count;
    next_ = 0;
    drain_ = fences;
    max_value_ = max_value;
    limits_ = limits;
    phase_ = Phase::line;
    big_ = nullptr;
    big_have_ = 0;
    error_ = {};
    // Trailing quiet writes need no answer now: their fences are drained later.
    read_until_ = count;
    while (read_until_ > 0) {
        const Request& r = request(read_until_ - 1);
        if (!r.flags.no_reply || r.command == MetaCommand::get || r.command == MetaCommand::noop ||
            (await_tracked_writes && is_tracked_write(r)))
            break;
        --read_until_;
    }
}

inline BatchDecoder::Fed BatchDecoder::feed(std::string_view in,
                                            std::size_t capacity,
                                            ResultSink& sink) {
    std::size_t pos = 0;
    // The header plain hits are described in (see start()).
    ResponseHeader* hit = hit_;
    std::optional<ResponseHeader> own_hit;
    while (!done()) {
        if (phase_ == Phase::large)
            return {pos, Status::large};
        if (phase_ == Phase::line && drain_ == 0) {
            // Plain answers, as nearly every one comes, one after another.
            if (hit == nullptr)
                hit = &own_hit.emplace(hit_header());
            std::size_t used = 0;
            while (next_ < read_until_) {
                const std::string_view rest(in.data() + pos, in.size() - pos);
                if (!(request(next_).flags.opaque ? plain<true>(rest, sink, *hit, used)
                                                  : plain<false>(rest, sink, *hit, used)))
                    break;
                pos += used;
            }
            if (done())
                break;
        }
        std::size_t used = 0;
        const Status st = one(in.substr(pos), capacity, sink, used);
        pos += used;
        if (st != Status::more)
            return {pos, st};
        if (used == 0)
            return {pos, Status::more};
    }
    return {pos, Status::done};
}

template <bool Opaque>
inline bool BatchDecoder::plain(std::string_view in,
                                ResultSink& sink,
                                ResponseHeader& hit,
                                std::size_t& consumed) {
    using codec_impl::nominal;
    // The answers of a plain mg with f v, and a bare HD, as nearly every call gets them;
    // `Opaque`: the request sent an opaque (the pipelined client's), whose echo is checked
    // here: anything else, a missing or different opaque included, is one()'s to judge.
    ResponseCode code{};
    std::uint64_t size = 0;
    std::uint32_t flag = 0;
    std::size_t len = 0;
    std::string_view echoed{};
    const Request& req = request(next_);
    if (req.flags.no_reply || req.command == MetaCommand::noop ||
        !parser_impl::parse_hit_or_miss(in, limits_, code, size, flag, len,
                                        Opaque ? &echoed : nullptr) ||
        size > max_value_ || !codec_impl::answers(req.command, code) ||
        (Opaque && echoed != req.flags.opaque->view()))
        return false;
    if (code != ResponseCode::value) {  // EN or HD: as nominal() says (with the opaque)
        const MetaCommand as = code == ResponseCode::miss ? MetaCommand::get : MetaCommand::set;
        if constexpr (Opaque) {
            ResponseHeader h = nominal(as);
            h.flags.opaque = *req.flags.opaque;
            sink.answer(slot(next_), h, {});
        } else {
            sink.answer(slot(next_), nominal(as), {});
        }
        ++next_;
        consumed = len;
        return true;
    }
    if (frame_value(in, len, size) != FrameResult::complete)
        return false;
    const auto n = static_cast<std::size_t>(size);
    hit.value_size = size;
    hit.flags.client_flag = flag;
    if constexpr (Opaque)
        hit.flags.opaque = *req.flags.opaque;
    sink.answer(slot(next_), hit, std::string_view(in.data() + len, n));
    if constexpr (Opaque)
        hit.flags.opaque.reset();  // (the header is kept for answers without one)
    ++next_;
    consumed = len + n + 2;
    return true;
}

inline BatchDecoder::Status BatchDecoder::one(std::string_view in,
                                              std::size_t capacity,
                                              ResultSink& sink,
                                              std::size_t& consumed) {
    using codec_impl::nominal;
    consumed = 0;
    if (phase_ == Phase::crlf) {
        if (in.size() < 2)
            return Status::more;
        if (in[0] != '\r' || in[1] != '\n')
            return desync("value block not followed by \\r\\n");
        consumed = 2;
        phase_ = Phase::line;
        answered_current();
        return Status::more;
    }
    ResponseHeader h;
    const ParseResult pr = parse_header_into_new(in, h, limits_);
    if (pr.status == ParseStatus::incomplete)
        return Status::more;
    if (pr.status == ParseStatus::invalid)
        return desync(pr.error);
    std::string_view value;
    std::size_t total = pr.length;
    bool large = false;
    if (h.code == ResponseCode::value) {
        if (h.value_size > max_value_) {
            error_text_ = "VA of " + std::to_string(h.value_size) +
                          " bytes is over the item size limit (max_item_size " +
                          std::to_string(max_value_) + ")";
            return desync(error_text_);
        }
        const auto size = static_cast<std::size_t>(h.value_size);
        const FrameResult fr = frame_value(in, pr.length, size);
        if (fr == FrameResult::lying)
            return desync("value block not followed by \\r\\n (lying length)");
        if (fr == FrameResult::complete) {
            value = in.substr(pr.length, size);
            total = pr.length + size + 2;
        } else if (pr.length + size + 2 <= capacity) {
            return Status::more;  // the rest comes into the read buffer
        } else if (drain_ > 0) {
            return desync("unexpected large value while draining no_reply answers");
        } else {
            large = true;
        }
    }
    if (drain_ > 0) {  // answers to earlier quiet writes: only their fences matter
        if (h.code == ResponseCode::noop)
            --drain_;
        consumed = total;
        return Status::more;
    }
    if (next_ >= read_until_)
        return desync("unexpected answer after the last request");
    const std::uint32_t i = slot(next_);
    const Request& req = request(next_);
    if (phase_ == Phase::fence) {
        if (h.code != ResponseCode::noop)
            return desync("expected MN after a quiet request's answer");
        phase_ = Phase::line;
        ++next_;
        consumed = total;
        return Status::more;
    }
    if (req.flags.no_reply && h.code == ResponseCode::noop && req.command != MetaCommand::noop) {
        sink.answer(i, nominal(req.command), {});  // quiet and silent: the nominal result
        ++next_;
        consumed = total;
        return Status::more;
    }
    if (h.code == ResponseCode::client_error || h.code == ResponseCode::error ||
        h.code == ResponseCode::server_error) {
        const std::string_view line = in.substr(0, pr.length - 2);
        const errc code =
            h.code == ResponseCode::server_error ? errc::server_error : errc::client_error;
        sink.fail(i, Failure{code, line, server_});
        consumed = total;
        if (h.code != ResponseCode::server_error &&
            !codec_impl::client_error_keeps_sync(h.message)) {
            ++next_;  // this request has its answer; the rest cannot be trusted
            error_text_ = "connection out of step after \"" + std::string(line) + "\"";
            return desync(error_text_);
        }
        answered_current();
        return Status::more;
    }
    if (!codec_impl::answers(req.command, h.code))
        return desync(codec_impl::unexpected_answer(req.command));
    if (large) {
        std::string& dst = sink.large_value(i, h);
        const auto size = static_cast<std::size_t>(h.value_size);
        resize_for_overwrite(dst, size);
        const std::size_t have = std::min(size, in.size() - pr.length);
        std::memcpy(dst.data(), in.data() + pr.length, have);
        consumed = pr.length + have;
        if (have == size) {
            phase_ = Phase::crlf;
            return Status::more;
        }
        big_ = &dst;
        big_have_ = have;
        phase_ = Phase::large;
        return Status::large;
    }
    sink.answer(i, h, value);
    consumed = total;
    answered_current();
    return Status::more;
}

inline unsigned BatchDecoder::finish_deferred(ResultSink& sink) {
    for (std::size_t s = read_until_; s < count_; ++s)
        sink.answer(slot(s), codec_impl::nominal(request(s).command), {});
    return static_cast<unsigned>(count_ - read_until_);
}

inline void BatchDecoder::fail_rest(ResultSink& sink, const Failure& f) {
    // A quiet request awaiting only its fence has its answer already.
    const std::size_t from = next_ + (phase_ == Phase::fence ? 1 : 0);
    for (std::size_t s = from; s < count_; ++s)
        sink.fail(slot(s), f);
    next_ = count_;
    read_until_ = count_;
    drain_ = 0;
    phase_ = Phase::line;
    big_ = nullptr;
}

}  // namespace meta_memcache::detail
