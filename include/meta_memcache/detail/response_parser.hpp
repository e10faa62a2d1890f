#pragma once

#include <meta_memcache/response_flags.hpp>

#include <algorithm>
#include <bit>
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

/// Decimal digits only, the whole of `s`, no overflow. `out` is left alone on failure.
template <class Int>
inline bool parse_uint(std::string_view s, Int& out) noexcept {
    if (s.empty()) {
        return false;
    }
    Int v = 0;
    for (const char c : s) {
        const auto d = static_cast<unsigned char>(static_cast<unsigned char>(c) - '0');
        if (d > 9 || __builtin_mul_overflow(v, Int{10}, &v) ||
            __builtin_add_overflow(v, static_cast<Int>(d), &v)) {
            return false;
        }
    }
    out = v;
    return true;
}

/// Reads the token at `p` as decimal digits (at least one, up to a space or `end`), no
/// greater than `max`; leaves `p` after it. False (and `out` alone) on anything else.
[[gnu::always_inline]] inline bool scan_uint(const char*& p,
                                             const char* end,
                                             std::uint64_t max,
                                             std::uint64_t& out) noexcept {
    const char* q = p;
    std::uint64_t v = 0;
    for (; q != end; ++q) {
        const auto d = static_cast<unsigned>(static_cast<unsigned char>(*q)) - unsigned{'0'};
        if (d > 9)
            break;
        v = v * 10 + d;  // cannot wrap before the 20th digit
    }
    const auto digits = static_cast<std::size_t>(q - p);
    if (digits - 1 >= 19) [[unlikely]] {  // none, or enough to have wrapped: count again
        if (digits == 0)
            return false;
        v = 0;
        for (const char* c = p; c != q; ++c) {
            if (__builtin_mul_overflow(v, std::uint64_t{10}, &v) ||
                __builtin_add_overflow(v, std::uint64_t(static_cast<unsigned char>(*c) - '0'), &v))
                return false;
        }
    }
    if ((q != end && *q != ' ') || v > max)
        return false;
    p = q;
    out = v;
    return true;
}

/// True when `p` is at the end of a token.
[[nodiscard]] inline bool token_end(const char* p, const char* end) noexcept {
    return p == end || *p == ' ';
}

inline ParseResult fail(const char* why) noexcept {
    return {ParseStatus::invalid, 0, why};
}

}  // namespace parser_impl

namespace parser_impl {

/// The answers nearly every request gets (VA <size> with c f s l t W Z X O flags, HD with the
/// same, EN), read in one pass without looking for the line's end first. True when `in`
/// starts with a whole such line that the general parser would read the same way; false,
/// with `h` untouched, for anything else (another code or flag, a negative TTL, a partial
/// line, a limit reached), which the general parser then judges.
[[gnu::always_inline]] inline bool parse_common(std::string_view in,
                                                ResponseHeader& h,
                                                const ParserLimits& limits,
                                                std::size_t& length) noexcept {
    if (in.size() < 4)
        return false;
    const char* p = in.data();
    const char* const end = p + in.size();
    ResponseCode code = ResponseCode::value;
    switch ((static_cast<unsigned>(static_cast<unsigned char>(p[0])) << 8) |
            static_cast<unsigned char>(p[1])) {
        case ('V' << 8) | 'A':
            break;
        case ('H' << 8) | 'D':
            code = ResponseCode::header;
            break;
        case ('E' << 8) | 'N':
            code = ResponseCode::miss;
            break;
        default:
            return false;
    }
    p += 2;
    // Digits of a number: at most 18, so they cannot overflow (longer: the general parser).
    const auto digits = [&p, end](std::uint64_t& v) {
        const char* const start = p;
        v = 0;
        for (; p != end; ++p) {
            const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p)) - unsigned{'0'};
            if (d > 9)
                break;
            v = v * 10 + d;
        }
        return p != start && p - start <= 18;
    };
    std::uint64_t size = 0;
    if (code == ResponseCode::value) {
        if (*p++ != ' ' || !digits(size) || size > limits.max_value_size)
            return false;
    }
    enum : unsigned {
        seen_c = 1,
        seen_f = 2,
        seen_s = 4,
        seen_l = 8,
        seen_t = 16,
        seen_w = 32,
        seen_o = 64
    };
    unsigned seen = 0;
    std::uint64_t cas = 0;
    std::uint64_t client_flag = 0;
    std::uint64_t real_size = 0;
    std::uint64_t last_access = 0;
    std::uint64_t ttl = 0;
    bool win = false;
    bool stale = false;
    std::string_view opaque;
    std::size_t nflags = 0;
    constexpr std::uint64_t u32 = std::numeric_limits<std::uint32_t>::max();
    for (;;) {
        if (p == end)
            return false;
        if (*p == '\r')
            break;
        // One space, then a flag (a token ends at a space or the line's end).
        if (*p++ != ' ' || p == end || ++nflags > limits.max_flags)
            return false;
        switch (*p++) {
            case 'c':
                if (!digits(cas))
                    return false;
                seen |= seen_c;
                break;
            case 'f':
                if (!digits(client_flag) || client_flag > u32)
                    return false;
                seen |= seen_f;
                break;
            case 's':
                if (!digits(real_size) || real_size > u32)
                    return false;
                seen |= seen_s;
                break;
            case 'l':
                if (!digits(last_access) || last_access > u32)
                    return false;
                seen |= seen_l;
                break;
            case 't':
                if (!digits(ttl))
                    return false;
                seen |= seen_t;
                break;
            case 'W':
            case 'Z':
                win = p[-1] == 'W';
                seen |= seen_w;
                break;
            case 'X':
                stale = true;
                break;
            case 'O': {  // the opaque token the request carried (the asynchronous client's)
                const char* const token = p;
                // A token ends at a space or the line's end; a bare \n ends the line for
                // the general parser, so it stops here too (and the general parser judges).
                while (p != end && *p != ' ' && *p != '\r' && *p != '\n')
                    ++p;
                opaque = std::string_view(token, static_cast<std::size_t>(p - token));
                if (opaque.size() > Opaque::max_size)
                    return false;
                seen |= seen_o;
                break;
            }
            default:
                return false;
        }
    }
    // At the '\r': the '\n' must be here too, within the line limit.
    if (p + 1 == end || p[1] != '\n')
        return false;
    length = static_cast<std::size_t>(p + 2 - in.data());
    if (length > limits.max_line)
        return false;
    h.code = code;
    h.value_size = size;
    ResponseFlags& fl = h.flags;
    if ((seen & seen_c) != 0)
        fl.cas_token = cas;
    if ((seen & seen_f) != 0)
        fl.client_flag = static_cast<std::uint32_t>(client_flag);
    if ((seen & seen_s) != 0)
        fl.real_size = static_cast<std::uint32_t>(real_size);
    if ((seen & seen_l) != 0)
        fl.last_access = static_cast<std::uint32_t>(last_access);
    if ((seen & seen_t) != 0)
        fl.ttl = static_cast<std::int64_t>(ttl);
    if ((seen & seen_w) != 0)
        fl.win = win;
    if ((seen & seen_o) != 0)
        fl.opaque = Opaque::unchecked(opaque);
    fl.stale = stale;
    return true;
}

/// Up to eight decimal digits at `p` (eight bytes readable), then a byte that is not a
/// digit: their number in `count` (0 when `p` is not a digit; 8 when all are) and their
/// value, eight bytes at a time.
[[gnu::always_inline]] inline std::uint64_t swar_digits(const char* p, unsigned& count) noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    // A byte below '0', or above '9' (or not ASCII), sets its high bit. (A borrow or a carry
    // only crosses out of such a byte, so the first one flagged is the first non-digit.)
    const std::uint64_t below = (w - ones * '0') & ~w & highs;
    const std::uint64_t above = ((w + ones * (0x80 - ':')) | w) & highs;
    const std::uint64_t stop = below | above;
    count = stop == 0 ? 8U : static_cast<unsigned>(std::countr_zero(stop)) / 8U;
    if (count == 0)
        return 0;
    // The digits' values, moved to the high bytes (zeros before them change nothing), then
    // combined in pairs, fours and eights.
    std::uint64_t v = (w - ones * '0') << (8U * (8U - count));
    v = ((v & 0x0F0F0F0F0F0F0F0FULL) * 2561U) >> 8U;
    v = ((v & 0x00FF00FF00FF00FFULL) * 6553601U) >> 16U;
    return ((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32U;
}

/// Where a plain answer's line that has reached byte `i` ends: right there ("\r\n"), or,
/// when `opaque` is given, after " O<token>\r\n" (a token of 1 to 31 bytes of 0x21..0x7E,
/// viewed in *opaque, and counted in `flags`). 0 for anything else.
[[gnu::always_inline]] inline std::size_t plain_line_end(const char* s,
                                                         std::size_t n,
                                                         std::size_t i,
                                                         std::string_view* opaque,
                                                         unsigned& flags) noexcept {
    if (i + 2 <= n && s[i] == '\r' && s[i + 1] == '\n')
        return i + 2;
    if (opaque == nullptr || i + 5 > n || s[i] != ' ' || s[i + 1] != 'O')
        return 0;
    const std::size_t start = i + 2;
    const std::size_t stop = std::min(n, start + 32);
    std::size_t j = start;
    while (j < stop && static_cast<unsigned char>(s[j] - 0x21) <= 0x7E - 0x21)
        ++j;
    if (j == start || j - start > 31 || j + 2 > n || s[j] != '\r' || s[j + 1] != '\n')
        return 0;
    *opaque = std::string_view(s + start, j - start);
    ++flags;
    return j + 2;
}

/// The answers of high-level reads and writes, read with the fewest steps: "EN\r\n",
/// "HD\r\n" and "VA <size> f<flag>\r\n" (each number of one to seven digits, with eight bytes
/// readable from its start), and, when `opaque` is given, the same lines with " O<token>"
/// before the "\r\n" (the pipelined client's). True when `in` starts with a whole such line,
/// with `code`, `size`, `client_flag` and `*opaque` (empty when there was none) set and
/// `length` its bytes; false, with nothing set, for anything else (parse_common and the
/// general parser judge it then, as they do a line over `limits`).
[[gnu::always_inline]] inline bool parse_hit_or_miss(std::string_view in,
                                                     const ParserLimits& limits,
                                                     ResponseCode& code,
                                                     std::uint64_t& size,
                                                     std::uint32_t& client_flag,
                                                     std::size_t& length,
                                                     std::string_view* opaque = nullptr) noexcept {
    const std::size_t n = in.size();
    const char* const s = in.data();
    if (n < 4)
        return false;
    std::uint32_t head = 0;
    std::memcpy(&head, s, 4);
    if (limits.max_line < 4)
        return false;
    unsigned flags = 0;
    std::string_view seen{};
    if (head == ('E' | 'N' << 8 | '\r' << 16 | unsigned{'\n'} << 24)) {
        code = ResponseCode::miss;
        length = 4;
        if (opaque != nullptr)
            *opaque = {};
        return true;
    }
    if (head == ('H' | 'D' << 8 | '\r' << 16 | unsigned{'\n'} << 24)) {
        code = ResponseCode::header;
        length = 4;
        if (opaque != nullptr)
            *opaque = {};
        return true;
    }
    if (opaque != nullptr && ((head == ('E' | 'N' << 8 | ' ' << 16 | unsigned{'O'} << 24)) ||
                              (head == ('H' | 'D' << 8 | ' ' << 16 | unsigned{'O'} << 24)))) {
        const std::size_t end = plain_line_end(s, n, 2, &seen, flags);
        if (end == 0 || end > limits.max_line || limits.max_flags < flags)
            return false;
        code = s[0] == 'E' ? ResponseCode::miss : ResponseCode::header;
        length = end;
        *opaque = seen;
        return true;
    }
    if ((head & 0xFFFFFFU) != ('V' | 'A' << 8 | ' ' << 16) || n < 3 + 8)
        return false;
    unsigned digits = 0;
    const std::uint64_t value_size = swar_digits(s + 3, digits);
    std::size_t i = 3 + digits;  // at the byte after the size
    if (digits == 0 || digits == 8 || n < i + 2 + 8 || s[i] != ' ' || s[i + 1] != 'f')
        return false;
    i += 2;
    // One or two digits, as client flags mostly have (the serializer's flags are below 100).
    const auto d0 = static_cast<unsigned char>(s[i] - '0');
    const auto d1 = static_cast<unsigned char>(s[i + 1] - '0');
    std::uint64_t flag = 0;
    // (What may follow the flag: the line's end, or with an opaque its space.)
    const auto after_flag = [&](char c) { return c == '\r' || (opaque != nullptr && c == ' '); };
    if (d0 <= 9 && after_flag(s[i + 1])) {
        flag = d0;
        digits = 1;
    } else if (d0 <= 9 && d1 <= 9 && after_flag(s[i + 2])) {
        flag = d0 * 10U + d1;
        digits = 2;
    } else {
        flag = swar_digits(s + i, digits);
    }
    i += digits;  // after the flag
    flags = 1;
    const std::size_t end =
        digits == 0 || digits == 8
            ? 0
            : plain_line_end(s, n, i, opaque != nullptr ? &seen : nullptr, flags);
    if (end == 0 || end > limits.max_line || value_size > limits.max_value_size ||
        limits.max_flags < flags)
        return false;
    code = ResponseCode::value;
    size = value_size;
    client_flag = static_cast<std::uint32_t>(flag);  // (seven digits at most)
    length = end;
    if (opaque != nullptr)
        *opaque = seen;
    return true;
}

/// parse_header_into_new for every line: the general parser.
[[nodiscard]] inline ParseResult parse_header_general(std::string_view in,
                                                      ResponseHeader& h,
                                                      const ParserLimits& limits) noexcept {
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

    // The two-letter codes first (the common case), then the error lines, which carry
    // free text (none of them has a space as its third byte).
    if (line.size() >= 2 && (line.size() == 2 || line[2] == ' ')) {
        switch ((static_cast<unsigned>(static_cast<unsigned char>(line[0])) << 8) |
                static_cast<unsigned char>(line[1])) {
            case ('V' << 8) | 'A':
                h.code = ResponseCode::value;
                break;
            case ('H' << 8) | 'D':
                h.code = ResponseCode::header;
                break;
            case ('E' << 8) | 'N':
                h.code = ResponseCode::miss;
                break;
            case ('N' << 8) | 'F':
                h.code = ResponseCode::not_found;
                break;
            case ('N' << 8) | 'S':
                h.code = ResponseCode::not_stored;
                break;
            case ('E' << 8) | 'X':
                h.code = ResponseCode::exists;
                break;
            case ('M' << 8) | 'N':
                h.code = ResponseCode::noop;
                break;
            case ('M' << 8) | 'E':
                h.code = ResponseCode::debug;
                h.message = line.size() > 3 ? line.substr(3) : std::string_view{};
                return {ParseStatus::complete, length, nullptr};
            default:
                return fail("unknown response code");
        }
    } else {
        // Error lines: the word stands alone or is followed by a space and the message.
        auto error_line = [&](std::string_view word, ResponseCode code) {
            if (line.substr(0, word.size()) != word ||
                (line.size() > word.size() && line[word.size()] != ' ')) {
                return false;
            }
            h.code = code;
            h.message =
                line.size() > word.size() ? line.substr(word.size() + 1) : std::string_view{};
            return true;
        };
        if (error_line("CLIENT_ERROR", ResponseCode::client_error) ||
            error_line("SERVER_ERROR", ResponseCode::server_error) ||
            error_line("ERROR", ResponseCode::error)) {
            return {ParseStatus::complete, length, nullptr};
        }
        return fail("unknown response code");
    }

    // One pass over the tokens; the numeric flags are read as they are scanned.
    const char* pos = line.data() + 2;
    const char* const end = line.data() + line.size();
    const auto skip_spaces = [&pos, end] {
        // memcached 1.6.18 sends one space; older ones sent runs of them.
        if (pos != end && *pos == ' ') [[likely]] {
            ++pos;
            while (pos != end && *pos == ' ')
                [[unlikely]]++ pos;
        }
    };
    if (h.code == ResponseCode::value) {
        skip_spaces();
        if (!parser_impl::scan_uint(pos, end, std::numeric_limits<std::uint64_t>::max(),
                                    h.value_size)) {
            return fail("VA without a valid size");
        }
        if (h.value_size > limits.max_value_size) {
            return fail("VA size over the value size limit");
        }
    }
    using parser_impl::scan_uint;
    using parser_impl::token_end;
    constexpr std::uint64_t u32 = std::numeric_limits<std::uint32_t>::max();
    constexpr std::uint64_t u64 = std::numeric_limits<std::uint64_t>::max();
    constexpr auto i64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::size_t nflags = 0;
    ResponseFlags& fl = h.flags;
    for (;;) {
        skip_spaces();
        if (pos == end) {
            break;
        }
        if (++nflags > limits.max_flags) {
            return fail("too many flags on a response line");
        }
        const char letter = *pos++;
        std::uint64_t x = 0;
        bool ok = true;
        switch (letter) {
            case 'c':
                ok = scan_uint(pos, end, u64, x);
                fl.cas_token = x;
                break;
            case 'f':
                ok = scan_uint(pos, end, u32, x);
                fl.client_flag = static_cast<std::uint32_t>(x);
                break;
            case 'l':
                ok = scan_uint(pos, end, u32, x);
                fl.last_access = static_cast<std::uint32_t>(x);
                break;
            case 's':
                ok = scan_uint(pos, end, u32, x);
                fl.real_size = static_cast<std::uint32_t>(x);
                break;
            case 't':
                if (pos != end && *pos == '-') {
                    ++pos;
                    ok = scan_uint(pos, end, u64, x);
                    fl.ttl = -1;  // any negative TTL means "never expires"
                } else {
                    ok = scan_uint(pos, end, i64, x);
                    fl.ttl = static_cast<std::int64_t>(x);
                }
                break;
            case 'h':
                ok = pos != end && (*pos == '0' || *pos == '1') && token_end(pos + 1, end);
                if (ok)
                    fl.fetched = *pos++ == '1';
                break;
            case 'W':
            case 'Z':
                fl.win = letter == 'W';
                ok = token_end(pos, end);
                break;
            case 'X':
                fl.stale = true;
                ok = token_end(pos, end);
                break;
            case 'b':
                h.key_base64 = true;
                ok = token_end(pos, end);
                break;
            case 'k':
            case 'O': {
                const char* const value = pos;
                while (!token_end(pos, end))
                    ++pos;
                const std::string_view v(value, static_cast<std::size_t>(pos - value));
                if (letter == 'k') {
                    h.key = v;
                } else if (v.size() > Opaque::max_size) {
                    ok = false;
                } else {
                    // The checked constructor throws; the parser must not, so the token
                    // (bounded above) is copied unchecked.
                    fl.opaque = Opaque::unchecked(v);
                }
                break;
            }
            default:  // unknown flags are skipped, for forward compatibility
                while (!token_end(pos, end))
                    ++pos;
                break;
        }
        if (!ok) {
            return fail("malformed response flag");
        }
    }
    return {ParseStatus::complete, length, nullptr};
}

}  // namespace parser_impl

/// parse_header into a header that is still as default-constructed (it is not reset: the
/// codec saves that on every answer).
[[nodiscard]] inline ParseResult parse_header_into_new(std::string_view in,
                                                       ResponseHeader& h,
                                                       const ParserLimits& limits) noexcept {
    std::size_t length = 0;
    if (parser_impl::parse_common(in, h, limits, length))
        return {ParseStatus::complete, length, nullptr};
    return parser_impl::parse_header_general(in, h, limits);
}

/// Parses one status line at the start of `in` into `h` (reset first). Never reads past
/// `in`, never allocates, never throws. Tolerates repeated and trailing spaces (memcached
/// before 1.6.18 sent them).
[[nodiscard]] inline ParseResult parse_header(std::string_view in,
                                              ResponseHeader& h,
                                              const ParserLimits& limits = {}) noexcept {
    h = ResponseHeader{};
    return parse_header_into_new(in, h, limits);
}

/// Whether the value block of a VA line of `header_len` bytes is all in `in`.
enum class FrameResult : std::uint8_t {
    incomplete,  ///< the value or its "\r\n" is still to come
    complete,    ///< `size` value bytes and "\r\n" follow the line
    lying,       ///< the bytes after the value are not "\r\n" (a lying length)
};

/// The framing of a value block: `size` bytes after the `header_len`-byte status line at
/// the start of `in`, then "\r\n". The one place that frames a value; parse_response and
/// the batch codec both use it.
[[nodiscard, gnu::always_inline]] inline FrameResult frame_value(std::string_view in,
                                                                 std::size_t header_len,
                                                                 std::uint64_t size) noexcept {
    // Compared without adding to size, which may be near 2^64 under loose limits.
    const std::size_t after_header = in.size() - header_len;
    if (after_header < 2 || size > after_header - 2)
        return FrameResult::incomplete;
    const std::size_t end = header_len + static_cast<std::size_t>(size);
    return in[end] == '\r' && in[end + 1] == '\n' ? FrameResult::complete : FrameResult::lying;
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
    switch (frame_value(in, r.length, h.value_size)) {
        case FrameResult::incomplete:
            return {ParseStatus::incomplete, 0, nullptr};
        case FrameResult::lying:
            return parser_impl::fail("value block not followed by \\r\\n (lying length)");
        case FrameResult::complete:
            break;
    }
    const auto size = static_cast<std::size_t>(h.value_size);
    value = in.substr(r.length, size);
    return {ParseStatus::complete, r.length + size + 2, nullptr};
}

/// Parses a counter value as memcached stores it: decimal digits, possibly followed by
/// the spaces memcached pads with after a decrement shrank the number. False otherwise.
[[nodiscard]] inline bool parse_counter(std::string_view v, std::uint64_t& out) noexcept {
    while (!v.empty() && v.back() == ' ')
        v.remove_suffix(1);
    return parser_impl::parse_uint(v, out);
}

}  // namespace meta_memcache::detail
