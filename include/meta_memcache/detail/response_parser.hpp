#pragma once

#include <meta_memcache/response_flags.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace meta_memcache::detail {

/// The status line of a meta response.
enum class ResponseCode : std::uint8_t {
    value,         ///< VA <size> <flags>*: a value block follows
    header,        ///< HD: success, no value
    miss,          ///< EN: mg miss
    not_found,     ///< NF
    not_stored,    ///< NS
    exists,        ///< EX: CAS mismatch
    noop,          ///< MN
    debug,         ///< ME <key> <k=v>*
    error,         ///< ERROR: unknown command
    client_error,  ///< CLIENT_ERROR <message>
    server_error,  ///< SERVER_ERROR <message>
};

/// Limits the parser enforces; a response over them is a protocol error.
struct ParserLimits {
    std::size_t max_line = 2048;              ///< longest status line, "\r\n" included
    std::uint64_t max_value_size = 1u << 30;  ///< largest VA size accepted
    std::size_t max_flags = 32;               ///< most flag tokens on one line
};

/// A parsed status line. Views point into the parsed buffer and die with it.
struct ResponseHeader {
    ResponseCode code = ResponseCode::error;
    std::uint64_t value_size = 0;  ///< VA only
    ResponseFlags flags;           ///< every flag but k (left empty; see `key`)
    std::string_view key;          ///< the k flag's value, raw (base64 when key_base64)
    bool key_base64 = false;       ///< a bare `b` flag came with k
    std::string_view message;      ///< error text, or the rest of an ME line
};

/// Result of one parse attempt.
enum class ParseStatus : std::uint8_t {
    complete,    ///< a whole line was parsed; `length` bytes were consumed
    incomplete,  ///< no "\r\n" yet and the line is under the limit: read more
    invalid,     ///< protocol error; `error` says what
};

struct ParseResult {
    ParseStatus status = ParseStatus::incomplete;
    std::size_t length = 0;       ///< bytes of the status line, "\r\n" included
    const char* error = nullptr;  ///< static description when invalid
};

namespace parser_impl {

template <class Int>
inline bool parse_uint(std::string_view s, Int& out) noexcept {
    if (s.empty() || s[0] < '0' || s[0] > '9') {
        return false;
    }
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc{} && ptr == end;
}

inline ParseResult fail(const char* why) noexcept {
    return {ParseStatus::invalid, 0, why};
}

inline bool parse_flag(std::string_view tok, ResponseHeader& h) noexcept {
    const char f = tok[0];
    const std::string_view v = tok.substr(1);
    ResponseFlags& fl = h.flags;
    switch (f) {
        case 'c': {
            std::uint64_t x = 0;
            if (!parse_uint(v, x))
                return false;
            fl.cas_token = x;
            return true;
        }
        case 'f': {
            std::uint32_t x = 0;
            if (!parse_uint(v, x))
                return false;
            fl.client_flag = x;
            return true;
        }
        case 'l': {
            std::uint32_t x = 0;
            if (!parse_uint(v, x))
                return false;
            fl.last_access = x;
            return true;
        }
        case 's': {
            std::uint32_t x = 0;
            if (!parse_uint(v, x))
                return false;
            fl.real_size = x;
            return true;
        }
        case 't': {
            if (!v.empty() && v[0] == '-') {
                std::uint64_t x = 0;
                if (!parse_uint(v.substr(1), x))
                    return false;
                fl.ttl = -1;  // any negative TTL means "never expires"
                return true;
            }
            std::uint64_t x = 0;
            if (!parse_uint(v, x) ||
                x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                return false;
            }
            fl.ttl = static_cast<std::int64_t>(x);
            return true;
        }
        case 'h':
            if (v == "0") {
                fl.fetched = false;
            } else if (v == "1") {
                fl.fetched = true;
            } else {
                return false;
            }
            return true;
        case 'W':
            fl.win = true;
            return v.empty();
        case 'Z':
            fl.win = false;
            return v.empty();
        case 'X':
            fl.stale = true;
            return v.empty();
        case 'b':
            h.key_base64 = true;
            return v.empty();
        case 'k':
            h.key = v;
            return true;
        case 'O': {
            if (v.size() > Opaque::max_size)
                return false;
            // The checked constructor throws; the parser must not, so the token (already
            // bounded above) is copied unchecked.
            fl.opaque = Opaque::unchecked(v);
            return true;
        }
        default:
            return true;  // unknown flags are skipped, for forward compatibility
    }
}

}  // namespace parser_impl

/// Parses one status line at the start of `in`. Never reads past `in`, never allocates,
/// never throws. Tolerates repeated and trailing spaces (memcached before 1.6.18 sent them).
[[nodiscard]] inline ParseResult parse_header(std::string_view in,
                                              ResponseHeader& h,
                                              const ParserLimits& limits = {}) noexcept {
    using parser_impl::fail;
    const std::size_t scan = std::min(in.size(), limits.max_line);
    const void* nl = scan ? std::memchr(in.data(), '\n', scan) : nullptr;
    if (nl == nullptr) {
        if (in.size() >= limits.max_line) {
            return fail("response line longer than the limit");
        }
        return {ParseStatus::incomplete, 0, nullptr};
    }
    const std::size_t nl_pos = static_cast<std::size_t>(static_cast<const char*>(nl) - in.data());
    if (nl_pos == 0 || in[nl_pos - 1] != '\r') {
        return fail("response line not terminated by \\r\\n");
    }
    const std::size_t length = nl_pos + 1;
    std::string_view line = in.substr(0, nl_pos - 1);
    h = ResponseHeader{};

    // Error lines first: they carry free text. The word stands alone or ends at a space.
    auto error_line = [&](std::string_view word, ResponseCode code) {
        if (line.substr(0, word.size()) != word ||
            (line.size() > word.size() && line[word.size()] != ' ')) {
            return false;
        }
        h.code = code;
        h.message = line.size() > word.size() ? line.substr(word.size() + 1) : std::string_view{};
        return true;
    };
    if (error_line("CLIENT_ERROR", ResponseCode::client_error) ||
        error_line("SERVER_ERROR", ResponseCode::server_error) ||
        error_line("ERROR", ResponseCode::error)) {
        return {ParseStatus::complete, length, nullptr};
    }
    if (line.size() < 2 || (line.size() > 2 && line[2] != ' ')) {
        return fail("unknown response code");
    }
    const char a = line[0];
    const char b = line[1];
    if (a == 'V' && b == 'A') {
        h.code = ResponseCode::value;
    } else if (a == 'H' && b == 'D') {
        h.code = ResponseCode::header;
    } else if (a == 'E' && b == 'N') {
        h.code = ResponseCode::miss;
    } else if (a == 'N' && b == 'F') {
        h.code = ResponseCode::not_found;
    } else if (a == 'N' && b == 'S') {
        h.code = ResponseCode::not_stored;
    } else if (a == 'E' && b == 'X') {
        h.code = ResponseCode::exists;
    } else if (a == 'M' && b == 'N') {
        h.code = ResponseCode::noop;
    } else if (a == 'M' && b == 'E') {
        h.code = ResponseCode::debug;
        h.message = line.size() > 3 ? line.substr(3) : std::string_view{};
        return {ParseStatus::complete, length, nullptr};
    } else {
        return fail("unknown response code");
    }

    std::size_t pos = 2;
    auto next_token = [&]() -> std::string_view {
        while (pos < line.size() && line[pos] == ' ')
            ++pos;
        const std::size_t start = pos;
        while (pos < line.size() && line[pos] != ' ')
            ++pos;
        return line.substr(start, pos - start);
    };
    if (h.code == ResponseCode::value) {
        const std::string_view size_tok = next_token();
        if (!parser_impl::parse_uint(size_tok, h.value_size)) {
            return fail("VA without a valid size");
        }
        if (h.value_size > limits.max_value_size) {
            return fail("VA size over the value size limit");
        }
    }
    std::size_t nflags = 0;
    for (std::string_view tok = next_token(); !tok.empty(); tok = next_token()) {
        if (++nflags > limits.max_flags) {
            return fail("too many flags on a response line");
        }
        if (!parser_impl::parse_flag(tok, h)) {
            return fail("malformed response flag");
        }
    }
    return {ParseStatus::complete, length, nullptr};
}

/// Parses one whole response at the start of `in`: the status line and, for VA, the value
/// block and its "\r\n". `value` views the value inside `in`. Incomplete until every byte
/// is there; invalid when the block is not followed by "\r\n" (a lying length).
[[nodiscard]] inline ParseResult parse_response(std::string_view in,
                                                ResponseHeader& h,
                                                std::string_view& value,
                                                const ParserLimits& limits = {}) noexcept {
    ParseResult r = parse_header(in, h, limits);
    value = {};
    if (r.status != ParseStatus::complete || h.code != ResponseCode::value) {
        return r;
    }
    // Compared without adding to value_size, which may be near 2^64 under loose limits.
    const std::size_t after_header = in.size() - r.length;
    if (after_header < 2 || h.value_size > after_header - 2) {
        return {ParseStatus::incomplete, 0, nullptr};
    }
    const auto size = static_cast<std::size_t>(h.value_size);
    const std::size_t end = r.length + size;
    if (in[end] != '\r' || in[end + 1] != '\n') {
        return parser_impl::fail("value block not followed by \\r\\n (lying length)");
    }
    value = in.substr(r.length, size);
    return {ParseStatus::complete, end + 2, nullptr};
}

/// Parses a counter value as memcached stores it: decimal digits, possibly followed by
/// the spaces memcached pads with after a decrement shrank the number. False otherwise.
[[nodiscard]] inline bool parse_counter(std::string_view v, std::uint64_t& out) noexcept {
    while (!v.empty() && v.back() == ' ')
        v.remove_suffix(1);
    return parser_impl::parse_uint(v, out);
}

}  // namespace meta_memcache::detail
