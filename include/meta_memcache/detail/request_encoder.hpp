#pragma once

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/request_flags.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace meta_memcache::detail {

using meta_memcache::command_name;
using meta_memcache::MetaCommand;

/// Upper bound of an encoded request line (command, key, size and every flag, "\r\n").
inline constexpr std::size_t max_request_line = 512;
// The longest line encode_request_line can write, even for flags that were never validated:
// "ms", key, datalen (any size_t), b, 11 bare flags, T R N (any int64), F (u32),
// J D C (u64), O with 31 bytes, M, "\r\n".
static_assert(2 + (1 + max_wire_key_size) + (1 + 20) + 2 + 11 * 2 + 3 * (2 + 20) + (2 + 10) +
                      3 * (2 + 20) + (2 + 31) + 3 + 2 <=
                  max_request_line,
              "max_request_line must hold the longest request line");
/// The largest datalen memcached 1.6.18 accepts on ms.
inline constexpr std::uint64_t max_datalen = 2'147'483'645;
/// The largest TTL memcached parses (a 32-bit signed integer).
inline constexpr std::int64_t max_ttl = std::numeric_limits<std::int32_t>::max();
/// memcached's limit for relative TTLs: a larger T is read as a Unix time.
inline constexpr std::int64_t max_relative_ttl = 60LL * 60 * 24 * 30;

/// The T that stores an item for the `remaining` seconds an `mg ... t` reported (-1:
/// never expires): relative up to 30 days, an absolute Unix time beyond, as memcached
/// reads a larger T. For copying an item from one server to another with its TTL.
[[nodiscard]] inline std::int64_t ttl_to_store(std::int64_t remaining) noexcept {
    if (remaining < 0)
        return 0;
    if (remaining <= max_relative_ttl)
        return remaining;
    return static_cast<std::int64_t>(std::time(nullptr)) + remaining;
}
/// memcached 1.6.18 accepts at most 16 flag tokens on ms and 17 on mg, md and ma.
inline constexpr std::size_t max_flag_tokens_set = 16;
inline constexpr std::size_t max_flag_tokens_other = 17;

/// Writes `v` in decimal and returns the end: its digits counted, then written from the
/// last, with no call (to_chars costs about 70 instructions for a three-digit number).
[[gnu::always_inline]] inline char* put_decimal(char* p, std::uint64_t v) noexcept {
    if (v < 10) {
        *p = static_cast<char>('0' + v);
        return p + 1;
    }
    std::size_t n = 2;
    for (std::uint64_t bound = 100; n < 20 && v >= bound; bound *= 10)
        ++n;
    char* const end = p + n;
    for (char* q = end; q != p; v /= 10)
        *--q = static_cast<char>('0' + v % 10);
    return end;
}

namespace encoder_impl {

struct Writer {
    char* p;

    void put(char c) noexcept { *p++ = c; }
    void put(std::string_view s) noexcept {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    template <class Int>
    void number(Int v) noexcept {
        p = std::to_chars(p, p + 24, v).ptr;
    }
    void flag(char f) noexcept {
        put(' ');
        put(f);
    }
    template <class Int>
    void flag(char f, Int v) noexcept {
        flag(f);
        number(v);
    }
};

[[noreturn]] inline void invalid(MetaCommand cmd, std::string_view what) {
    std::string msg(command_name(cmd));
    msg += ": ";
    msg += what;
    throw InvalidInputError(msg);
}

inline void check_ttl(MetaCommand cmd, const std::optional<std::int64_t>& ttl, char flag) {
    if (ttl && (*ttl < 0 || *ttl > max_ttl)) {
        std::string what = "TTL flag ";
        what += flag;
        what += " is ";
        what += std::to_string(*ttl);
        what += ", outside 0..2147483647 seconds";
        invalid(cmd, what);
    }
}

inline void forbid(MetaCommand cmd, bool present, std::string_view flag_desc) {
    if (present) {
        std::string what(flag_desc);
        what += " does not apply to this command";
        invalid(cmd, what);
    }
}

/// Opaque::unchecked can hold any bytes; a space, \r or \n would split the request line.
inline void check_opaque(MetaCommand cmd, const std::optional<Opaque>& opaque) {
    if (!opaque)
        return;
    for (char c : opaque->view()) {
        if (is_binary_key_byte(static_cast<unsigned char>(c))) {
            invalid(cmd, "opaque (O) must be printable ASCII without spaces");
        }
    }
}

[[nodiscard]] constexpr bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

}  // namespace encoder_impl

/// One bit per request flag, in the order flags go on the wire (q f c v t s l h k u I T R N
/// F J D C O M): the request's flags in one word, for validation and encoding.
namespace flag_bit {
enum : std::uint32_t {
    no_reply = 1U << 0,
    return_client_flag = 1U << 1,
    return_cas_token = 1U << 2,
    return_value = 1U << 3,
    return_ttl = 1U << 4,
    return_size = 1U << 5,
    return_last_access = 1U << 6,
    return_fetched = 1U << 7,
    return_key = 1U << 8,
    no_update_lru = 1U << 9,
    mark_stale = 1U << 10,
    cache_ttl = 1U << 11,
    recache_ttl = 1U << 12,
    vivify_on_miss_ttl = 1U << 13,
    client_flag = 1U << 14,
    ma_initial_value = 1U << 15,
    ma_delta_value = 1U << 16,
    cas_token = 1U << 17,
    opaque = 1U << 18,
    mode = 1U << 19,  ///< a mode that is sent (not set or increment, the defaults)
};
/// The flag letters, by bit number.
inline constexpr char letters[] = "qfcvtslhkuITRNFJDCOM";
}  // namespace flag_bit

/// The number of a flag_bit bit (its place on the wire).
[[nodiscard]] constexpr unsigned bit_number(std::uint32_t bit) noexcept {
    return static_cast<unsigned>(std::countr_zero(bit));
}

/// How many bits `mask` has (inline: baseline x86-64 has no popcnt instruction, and the
/// library call costs more than this).
[[nodiscard]] constexpr std::size_t count_bits(std::uint32_t mask) noexcept {
    mask = mask - ((mask >> 1) & 0x55555555U);
    mask = (mask & 0x33333333U) + ((mask >> 2) & 0x33333333U);
    return static_cast<std::size_t>((((mask + (mask >> 4)) & 0x0F0F0F0FU) * 0x01010101U) >> 24);
}

namespace encoder_impl {
/// The eleven bool flags lie side by side at the start of RequestFlags, in wire order, so
/// flag_mask() can read them as bytes; where a standard library lays the struct out
/// otherwise, it reads them one by one.
inline constexpr bool bools_side_by_side =
    std::is_standard_layout_v<RequestFlags> && offsetof(RequestFlags, no_reply) == 0 &&
    offsetof(RequestFlags, mark_stale) == 10 && std::endian::native == std::endian::little;

/// The low bit of each of the (up to eight) bytes of `w` (each 0 or 1), gathered.
[[nodiscard]] constexpr std::uint32_t gather_bits(std::uint64_t w) noexcept {
    return static_cast<std::uint32_t>((w * 0x0102040810204080ULL) >> 56);
}
}  // namespace encoder_impl

/// The flags `f` sends, as flag_bit bits.
[[nodiscard]] inline std::uint32_t flag_mask(const RequestFlags& f) noexcept {
    const auto b = [](bool x, unsigned bit) { return static_cast<std::uint32_t>(x) << bit; };
    std::uint32_t mask = 0;
    if constexpr (encoder_impl::bools_side_by_side) {
        std::uint64_t low = 0;
        std::uint64_t high = 0;
        const auto* bytes = reinterpret_cast<const unsigned char*>(&f);
        std::memcpy(&low, bytes, 8);
        std::memcpy(&high, bytes + 8, 3);
        mask = encoder_impl::gather_bits(low) | (encoder_impl::gather_bits(high) << 8);
    } else {
        mask = b(f.no_reply, 0) | b(f.return_client_flag, 1) | b(f.return_cas_token, 2) |
               b(f.return_value, 3) | b(f.return_ttl, 4) | b(f.return_size, 5) |
               b(f.return_last_access, 6) | b(f.return_fetched, 7) | b(f.return_key, 8) |
               b(f.no_update_lru, 9) | b(f.mark_stale, 10);
    }
    return mask | b(f.cache_ttl.has_value(), 11) | b(f.recache_ttl.has_value(), 12) |
           b(f.vivify_on_miss_ttl.has_value(), 13) | b(f.client_flag.has_value(), 14) |
           b(f.ma_initial_value.has_value(), 15) | b(f.ma_delta_value.has_value(), 16) |
           b(f.cas_token.has_value(), 17) | b(f.opaque.has_value(), 18) |
           b(f.mode && *f.mode != Mode::set && *f.mode != Mode::increment, 19);
}

/// Writes the flags of `mask` (from flag_mask(f)), each as " <letter>[value]", at `p`;
/// returns the end. Allocates nothing.
inline char* put_flags(char* p, const RequestFlags& f, std::uint32_t mask) noexcept {
    const auto num = [&p](auto v) { p = std::to_chars(p, p + 24, v).ptr; };
    while (mask != 0) {
        const auto bit = static_cast<unsigned>(std::countr_zero(mask));
        mask &= mask - 1;
        *p++ = ' ';
        *p++ = flag_bit::letters[bit];
        switch (bit) {  // the bit's number: a jump table
            case bit_number(flag_bit::cache_ttl):
                num(*f.cache_ttl);
                break;
            case bit_number(flag_bit::recache_ttl):
                num(*f.recache_ttl);
                break;
            case bit_number(flag_bit::vivify_on_miss_ttl):
                num(*f.vivify_on_miss_ttl);
                break;
            case bit_number(flag_bit::client_flag):
                num(*f.client_flag);
                break;
            case bit_number(flag_bit::ma_initial_value):
                num(*f.ma_initial_value);
                break;
            case bit_number(flag_bit::ma_delta_value):
                num(*f.ma_delta_value);
                break;
            case bit_number(flag_bit::cas_token):
                num(*f.cas_token);
                break;
            case bit_number(flag_bit::opaque): {
                const std::string_view o = f.opaque->view();
                std::memcpy(p, o.data(), o.size());
                p += o.size();
                break;
            }
            case bit_number(flag_bit::mode):
                *p++ = static_cast<char>(*f.mode);
                break;
            default:
                break;
        }
    }
    return p;
}

/// Checks that `flags` make sense for `cmd` as memcached 1.6.18 reads them: TTLs within
/// 0..2^31-1, an opaque that cannot split the line, no flag the command would reject or
/// silently ignore, a mode that belongs to the command, no CAS that the mode would ignore,
/// I only with what it needs. (T and F stay allowed in append/prepend mode, where memcached
/// ignores them, because the reference client sends them there.)
/// @throws InvalidInputError naming the command and the offending flag.
inline void validate_request(MetaCommand cmd, const RequestFlags& f) {
    using encoder_impl::check_ttl;
    using encoder_impl::forbid;
    check_ttl(cmd, f.cache_ttl, 'T');
    check_ttl(cmd, f.recache_ttl, 'R');
    check_ttl(cmd, f.vivify_on_miss_ttl, 'N');
    encoder_impl::check_opaque(cmd, f.opaque);

    const bool any_return = f.return_client_flag || f.return_value || f.return_ttl ||
                            f.return_size || f.return_last_access || f.return_fetched;
    switch (cmd) {
        case MetaCommand::get:
            forbid(cmd, f.mark_stale, "mark_stale (I)");
            forbid(cmd, f.client_flag.has_value(), "client_flag (F)");
            forbid(cmd, f.ma_initial_value.has_value(), "ma_initial_value (J)");
            forbid(cmd, f.ma_delta_value.has_value(), "ma_delta_value (D)");
            forbid(cmd, f.cas_token.has_value(), "cas_token (C)");
            forbid(cmd, f.mode.has_value(), "mode (M)");
            break;
        case MetaCommand::set:
            forbid(cmd, any_return, "return flags other than c and k (f v t s l h)");
            forbid(cmd, f.no_update_lru, "no_update_lru (u)");
            forbid(cmd, f.recache_ttl.has_value(), "recache_ttl (R)");
            forbid(cmd, f.vivify_on_miss_ttl.has_value(), "vivify_on_miss_ttl (N)");
            forbid(cmd, f.ma_initial_value.has_value(), "ma_initial_value (J)");
            forbid(cmd, f.ma_delta_value.has_value(), "ma_delta_value (D)");
            if (f.mode && (*f.mode == Mode::increment || *f.mode == Mode::decrement)) {
                encoder_impl::invalid(cmd, "mode (M) must be set, add, append, prepend or replace");
            }
            if (f.mark_stale && !f.cas_token) {
                encoder_impl::invalid(cmd, "mark_stale (I) needs a cas_token (C)");
            }
            if (f.cas_token && f.mode == Mode::add) {
                encoder_impl::invalid(cmd, "cas_token (C) is ignored by memcached in add mode");
            }
            break;
        case MetaCommand::del:
            forbid(cmd, any_return, "return flags other than k (f c v t s l h)");
            forbid(cmd, f.return_cas_token, "return_cas_token (c)");
            forbid(cmd, f.no_update_lru, "no_update_lru (u)");
            forbid(cmd, f.recache_ttl.has_value(), "recache_ttl (R)");
            forbid(cmd, f.vivify_on_miss_ttl.has_value(), "vivify_on_miss_ttl (N)");
            forbid(cmd, f.client_flag.has_value(), "client_flag (F)");
            forbid(cmd, f.ma_initial_value.has_value(), "ma_initial_value (J)");
            forbid(cmd, f.ma_delta_value.has_value(), "ma_delta_value (D)");
            forbid(cmd, f.mode.has_value(), "mode (M)");
            if (f.cache_ttl && !f.mark_stale) {
                encoder_impl::invalid(cmd, "cache_ttl (T) only applies with mark_stale (I)");
            }
            break;
        case MetaCommand::arithmetic:
            forbid(
                cmd,
                f.return_client_flag || f.return_size || f.return_last_access || f.return_fetched,
                "return flags f s l h");
            forbid(cmd, f.no_update_lru, "no_update_lru (u)");
            forbid(cmd, f.mark_stale, "mark_stale (I)");
            forbid(cmd, f.recache_ttl.has_value(), "recache_ttl (R)");
            forbid(cmd, f.client_flag.has_value(), "client_flag (F)");
            if (f.mode && *f.mode != Mode::increment && *f.mode != Mode::decrement) {
                encoder_impl::invalid(cmd, "mode (M) must be increment or decrement");
            }
            if (f.ma_initial_value && !f.vivify_on_miss_ttl) {
                encoder_impl::invalid(
                    cmd, "ma_initial_value (J) only applies with vivify_on_miss_ttl (N)");
            }
            break;
        case MetaCommand::noop:
            if (f != RequestFlags{}) {
                encoder_impl::invalid(cmd, "mn takes no flags");
            }
            break;
    }
}

/// validate_request(cmd, f) for flags whose `mask` is flag_mask(f): the common flag sets
/// of mg and ms are judged from the mask, everything else by validate_request itself (so
/// the verdict and its message are always validate_request's).
inline void validate_flags(MetaCommand cmd, const RequestFlags& f, std::uint32_t mask) {
    using namespace flag_bit;
    const auto ttl_ok = [](const std::optional<std::int64_t>& ttl) {
        return !ttl || (*ttl >= 0 && *ttl <= max_ttl);
    };
    const auto opaque_ok = [&f] {
        if (!f.opaque)
            return true;
        for (char c : f.opaque->view()) {
            if (is_binary_key_byte(static_cast<unsigned char>(c)))
                return false;
        }
        return true;
    };
    const bool common = (mask & (cache_ttl | recache_ttl | vivify_on_miss_ttl | opaque)) == 0 ||
                        (ttl_ok(f.cache_ttl) && ttl_ok(f.recache_ttl) &&
                         ttl_ok(f.vivify_on_miss_ttl) && opaque_ok());
    if (cmd == MetaCommand::get) {
        constexpr std::uint32_t allowed =
            no_reply | return_client_flag | return_cas_token | return_value | return_ttl |
            return_size | return_last_access | return_fetched | return_key | no_update_lru |
            cache_ttl | recache_ttl | vivify_on_miss_ttl | opaque;
        if ((mask & ~allowed) == 0 && !f.mode && common)
            return;
    } else if (cmd == MetaCommand::set) {
        constexpr std::uint32_t allowed = no_reply | return_cas_token | return_key | cache_ttl |
                                          client_flag | cas_token | opaque | mode | mark_stale;
        const bool mode_ok = !f.mode || (*f.mode != Mode::increment && *f.mode != Mode::decrement);
        if ((mask & ~allowed) == 0 && mode_ok && common && (!f.mark_stale || f.cas_token) &&
            !(f.cas_token && f.mode == Mode::add))
            return;
    }
    validate_request(cmd, f);
}

// The pieces of a request line, in order: "mg", " <key>", then [" <datalen>"] [" b"]
// <flags> "\r\n". encode_request_line and the batch codec both build lines from these.

/// Writes the command's two letters.
inline char* put_command(char* p, MetaCommand cmd) noexcept {
    const std::string_view name = command_name(cmd);
    p[0] = name[0];
    p[1] = name[1];
    return p + 2;
}

inline char* put_line_end(char* p) noexcept {
    p[0] = '\r';
    p[1] = '\n';
    return p + 2;
}

namespace encoder_impl {
/// The flags without values (q f c v t s l h k u I) of one mask, as they go on the wire,
/// with the line's "\r\n": a high-level command sends the same few sets again and again,
/// so each thread keeps the last one it wrote.
struct BareFlagsText {
    std::uint32_t mask = ~0U;
    std::uint8_t size = 0;
    std::array<char, 2 * 11 + 2> text{};
};
inline constexpr std::uint32_t valued_flags =
    flag_bit::cache_ttl | flag_bit::recache_ttl | flag_bit::vivify_on_miss_ttl |
    flag_bit::client_flag | flag_bit::ma_initial_value | flag_bit::ma_delta_value |
    flag_bit::cas_token | flag_bit::opaque | flag_bit::mode;
}  // namespace encoder_impl

/// Writes what follows the key: the datalen (ms), `b`, the flags of `mask`, "\r\n".
inline char* put_line_rest(char* p,
                           MetaCommand cmd,
                           bool base64,
                           const RequestFlags& f,
                           std::uint32_t mask,
                           std::size_t value_size) noexcept {
    if (cmd == MetaCommand::set) {
        *p++ = ' ';
        p = put_decimal(p, value_size);
    }
    if (base64) {
        *p++ = ' ';
        *p++ = 'b';
    }
    if ((mask & encoder_impl::valued_flags) != 0)
        return put_line_end(put_flags(p, f, mask));
    thread_local encoder_impl::BareFlagsText last;
    if (last.mask != mask) {
        last.size = static_cast<std::uint8_t>(put_line_end(put_flags(last.text.data(), f, mask)) -
                                              last.text.data());
        last.mask = mask;
    }
    std::memcpy(p, last.text.data(), last.text.size());  // (a fixed size: one or two moves)
    return p + last.size;
}

namespace encoder_impl {
/// put_key() of a key that is not sent as it is (hashed or base64), after the space.
[[gnu::noinline]] inline std::pair<char*, bool> put_encoded_key(char* p,
                                                                std::string_view prefix,
                                                                std::string_view key) {
    WireKey w;
    encode_key(key, w, prefix);
    std::memcpy(p, w.data.data(), w.size);
    return {p + w.size, w.base64};
}
}  // namespace encoder_impl

/// Writes " " and `prefix + key` as it goes on the wire (see encode_key): raw, straight
/// into place, or base64 (the return's `second` says so). `p` must have room for
/// 1 + max_wire_key_size bytes.
[[gnu::always_inline]] inline std::pair<char*, bool> put_key(char* p,
                                                             std::string_view prefix,
                                                             std::string_view key) {
    *p++ = ' ';
    const std::size_t total = prefix.size() + key.size();
    if (total < hashed_key_threshold && !key.empty()) [[likely]] {
        if (prefix.empty()) {
            if (!copy_short_checked(p, key.data(), key.size())) [[likely]]
                return {p + total, false};
        } else {
            copy_short(p, prefix.data(), prefix.size());
            copy_short(p + prefix.size(), key.data(), key.size());
            if (!any_binary(p, total)) [[likely]]
                return {p + total, false};
        }
    }
    return encoder_impl::put_encoded_key(p, prefix, key);
}

/// The flag text put_line_rest writes after a read's key (no b), made once for a flag set
/// that does not change (the one-key path's plain read).
struct LineTail {
    std::array<char, 32> text{};
    std::size_t size = 0;

    /// For an mg with `f`, which must have no valued flag (T, R, N, O...).
    static LineTail of_read(const RequestFlags& f) {
        LineTail t;
        const std::uint32_t mask = flag_mask(f);
        validate_flags(MetaCommand::get, f, mask);
        if ((mask & encoder_impl::valued_flags) != 0)
            throw InvalidInputError("LineTail: a valued flag does not stay the same");
        t.size = static_cast<std::size_t>(put_line_end(put_flags(t.text.data(), f, mask)) -
                                          t.text.data());
        return t;
    }
};

/// The one-key path's plain read, "mg <prefix><key>[ b]" and `tail` (LineTail::of_read of
/// its flags): the bytes encode() writes for that request. Room: max_request_line.
/// Returns the end.
[[gnu::always_inline]] inline char* put_plain_read(char* p,
                                                   std::string_view prefix,
                                                   std::string_view key,
                                                   const LineTail& tail) {
    p[0] = 'm';
    p[1] = 'g';
    const auto [after_key, base64] = put_key(p + 2, prefix, key);
    p = after_key;
    if (base64) {
        *p++ = ' ';
        *p++ = 'b';
    }
    std::memcpy(p, tail.text.data(), tail.text.size());  // (a fixed size: two moves)
    return p + tail.size;
}

/// put_plain_read with an O flag, last as encode() puts it: "mg <prefix><key>[ b]", `tail`
/// and " O<opaque>" before its "\r\n" (the pipelined client's plain read). Room:
/// max_request_line + plain_read_opaque_room. Returns the end.
inline constexpr std::size_t plain_read_opaque_room = 2 + Opaque::max_size;
[[gnu::always_inline]] inline char* put_plain_read(char* p,
                                                   std::string_view prefix,
                                                   std::string_view key,
                                                   const LineTail& tail,
                                                   std::string_view opaque) {
    char* end = put_plain_read(p, prefix, key, tail) - 2;  // at the tail's "\r\n"
    end[0] = ' ';
    end[1] = 'O';
    std::memcpy(end + 2, opaque.data(), opaque.size());
    end += 2 + opaque.size();
    end[0] = '\r';
    end[1] = '\n';
    return end + 2;
}

/// The flags of a plain read: the value and its client flag (mg <key> f v).
[[nodiscard]] inline const RequestFlags& plain_read_flags() {
    static const RequestFlags flags = [] {
        RequestFlags f;
        f.return_client_flag = true;
        f.return_value = true;
        return f;
    }();
    return flags;
}

/// The flag text of a plain read, made once, at start-up (no guard to test per read).
inline const LineTail plain_read_tail = LineTail::of_read(plain_read_flags());

/// The one-key path's plain set, "ms <prefix><key> <size>[ b] T<ttl> F<client_flag>",
/// value and "\r\n": the bytes encode() writes for an ms with only T and F. Room:
/// max_request_line + value.size() + 2. Returns the end.
[[gnu::always_inline]] inline char* put_plain_set(char* p,
                                                  std::string_view prefix,
                                                  std::string_view key,
                                                  std::string_view value,
                                                  std::uint32_t client_flag,
                                                  std::int64_t ttl) {
    p[0] = 'm';
    p[1] = 's';
    const auto [after_key, base64] = put_key(p + 2, prefix, key);
    p = after_key;
    *p++ = ' ';
    p = put_decimal(p, value.size());
    if (base64) {
        *p++ = ' ';
        *p++ = 'b';
    }
    p[0] = ' ';
    p[1] = 'T';
    p = put_decimal(p + 2, static_cast<std::uint64_t>(ttl));  // (0..max_ttl: checked before)
    p[0] = ' ';
    p[1] = 'F';
    p = put_decimal(p + 2, client_flag);
    p[0] = '\r';
    p[1] = '\n';
    std::memcpy(p + 2, value.data(), value.size());
    p += 2 + value.size();
    p[0] = '\r';
    p[1] = '\n';
    return p + 2;
}

/// Writes the request line of `cmd` for `key` with `flags` into `out`, which must hold
/// max_request_line bytes, and returns the number of bytes written (ending in "\r\n").
/// For ms, `value_size` is the datalen; the caller sends the value and "\r\n" after it.
/// Does not validate (see validate_request) and allocates nothing.
inline std::size_t encode_request_line(char* out,
                                       MetaCommand cmd,
                                       const WireKey& key,
                                       const RequestFlags& f,
                                       std::size_t value_size = 0) noexcept {
    char* p = put_command(out, cmd);
    if (cmd == MetaCommand::noop)
        return static_cast<std::size_t>(put_line_end(p) - out);
    *p++ = ' ';
    const std::string_view k = key.view();
    std::memcpy(p, k.data(), k.size());
    p += k.size();
    return static_cast<std::size_t>(put_line_rest(p, cmd, key.base64, f, flag_mask(f), value_size) -
                                    out);
}

/// Number of flag tokens (including `b`) a request line carries; memcached limits it.
[[nodiscard]] inline std::size_t count_flag_tokens(const WireKey& key,
                                                   const RequestFlags& f) noexcept {
    return count_bits(flag_mask(f)) + (key.base64 ? 1U : 0U);
}

/// Checks a key as it will go on the wire: 1..250 bytes, printable ASCII without spaces,
/// or the base64 alphabet when `b` is sent. encode_key never produces anything else; this
/// guards a WireKey filled by hand from splitting or overrunning the request line.
/// @throws InvalidInputError naming the problem.
inline void validate_wire_key(MetaCommand cmd, const WireKey& key) {
    if (cmd == MetaCommand::noop)
        return;
    if (key.size == 0) {
        encoder_impl::invalid(cmd, "key is empty");
    }
    if (key.size > max_wire_key_size) {
        encoder_impl::invalid(cmd, "key of " + std::to_string(key.size) +
                                       " bytes on the wire is over memcached's 250-byte limit");
    }
    for (char c : key.view()) {
        if (key.base64 ? !encoder_impl::is_base64_char(c)
                       : is_binary_key_byte(static_cast<unsigned char>(c))) {
            encoder_impl::invalid(cmd, key.base64 ? "base64 key has a byte outside base64"
                                                  : "raw key has a space, control or non-ASCII "
                                                    "byte (encode it with encode_key)");
        }
    }
}

/// Validates (see validate_request and validate_wire_key, plus the flag-count and datalen
/// limits and the item size limit when `max_value_size` is given) and encodes a request line.
/// @throws InvalidInputError naming the problem; nothing has been written to the wire.
inline std::size_t encode_request(char* out,
                                  MetaCommand cmd,
                                  const WireKey& key,
                                  const RequestFlags& f,
                                  std::size_t value_size = 0,
                                  std::size_t max_value_size = max_datalen) {
    validate_request(cmd, f);
    validate_wire_key(cmd, key);
    const std::size_t limit = cmd == MetaCommand::set ? max_flag_tokens_set : max_flag_tokens_other;
    if (count_flag_tokens(key, f) > limit) {
        encoder_impl::invalid(cmd, "too many flags for memcached (at most 16 on ms, 17 otherwise)");
    }
    if (cmd == MetaCommand::set && (value_size > max_value_size || value_size > max_datalen)) {
        encoder_impl::invalid(
            cmd,
            "value of " + std::to_string(value_size) + " bytes is over the item size limit of " +
                std::to_string(std::min<std::uint64_t>(max_value_size, max_datalen)) + " bytes");
    }
    return encode_request_line(out, cmd, key, f, value_size);
}

}  // namespace meta_memcache::detail
