#pragma once

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/request_flags.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

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
/// memcached 1.6.18 accepts at most 16 flag tokens on ms and 17 on mg, md and ma.
inline constexpr std::size_t max_flag_tokens_set = 16;
inline constexpr std::size_t max_flag_tokens_other = 17;

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

/// Writes the request line of `cmd` for `key` with `flags` into `out`, which must hold
/// max_request_line bytes, and returns the number of bytes written (ending in "\r\n").
/// For ms, `value_size` is the datalen; the caller sends the value and "\r\n" after it.
/// Does not validate (see validate_request) and allocates nothing.
inline std::size_t encode_request_line(char* out,
                                       MetaCommand cmd,
                                       const WireKey& key,
                                       const RequestFlags& f,
                                       std::size_t value_size = 0) noexcept {
    encoder_impl::Writer w{out};
    w.put(command_name(cmd));
    if (cmd == MetaCommand::noop) {
        w.put("\r\n");
        return static_cast<std::size_t>(w.p - out);
    }
    w.put(' ');
    w.put(key.view());
    if (cmd == MetaCommand::set) {
        w.put(' ');
        w.number(value_size);
    }
    if (key.base64) {
        w.flag('b');
    }
    if (f.no_reply)
        w.flag('q');
    if (f.return_client_flag)
        w.flag('f');
    if (f.return_cas_token)
        w.flag('c');
    if (f.return_value)
        w.flag('v');
    if (f.return_ttl)
        w.flag('t');
    if (f.return_size)
        w.flag('s');
    if (f.return_last_access)
        w.flag('l');
    if (f.return_fetched)
        w.flag('h');
    if (f.return_key)
        w.flag('k');
    if (f.no_update_lru)
        w.flag('u');
    if (f.mark_stale)
        w.flag('I');
    if (f.cache_ttl)
        w.flag('T', *f.cache_ttl);
    if (f.recache_ttl)
        w.flag('R', *f.recache_ttl);
    if (f.vivify_on_miss_ttl)
        w.flag('N', *f.vivify_on_miss_ttl);
    if (f.client_flag)
        w.flag('F', *f.client_flag);
    if (f.ma_initial_value)
        w.flag('J', *f.ma_initial_value);
    if (f.ma_delta_value)
        w.flag('D', *f.ma_delta_value);
    if (f.cas_token)
        w.flag('C', *f.cas_token);
    if (f.opaque) {
        w.flag('O');
        w.put(f.opaque->view());
    }
    if (f.mode && *f.mode != Mode::set && *f.mode != Mode::increment) {
        w.flag('M');
        w.put(static_cast<char>(*f.mode));
    }
    w.put("\r\n");
    return static_cast<std::size_t>(w.p - out);
}

/// Number of flag tokens (including `b`) a request line carries; memcached limits it.
[[nodiscard]] inline std::size_t count_flag_tokens(const WireKey& key,
                                                   const RequestFlags& f) noexcept {
    const auto one = [](bool b) { return b ? std::size_t{1} : std::size_t{0}; };
    return one(key.base64) + one(f.no_reply) + one(f.return_client_flag) + one(f.return_cas_token) +
           one(f.return_value) + one(f.return_ttl) + one(f.return_size) +
           one(f.return_last_access) + one(f.return_fetched) + one(f.return_key) +
           one(f.no_update_lru) + one(f.mark_stale) + one(f.cache_ttl.has_value()) +
           one(f.recache_ttl.has_value()) + one(f.vivify_on_miss_ttl.has_value()) +
           one(f.client_flag.has_value()) + one(f.ma_initial_value.has_value()) +
           one(f.ma_delta_value.has_value()) + one(f.cas_token.has_value()) +
           one(f.opaque.has_value()) +
           one(f.mode && *f.mode != Mode::set && *f.mode != Mode::increment);
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
