#pragma once

#include <meta_memcache/error.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meta_memcache {

/// An opaque token (the O flag): at most 31 bytes of 0x21..0x7E, echoed back by the server.
class Opaque {
public:
    static constexpr std::size_t max_size = 31;

    Opaque() = default;
    /// @throws InvalidInputError when longer than 31 bytes or not printable ASCII.
    explicit Opaque(std::string_view token) {
        if (token.size() > max_size) {
            throw InvalidInputError("opaque token of " + std::to_string(token.size()) +
                                    " bytes is over the 31-byte limit");
        }
        for (char c : token) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u > 0x7E) {
                throw InvalidInputError("opaque token must be printable ASCII without spaces");
            }
        }
        *this = unchecked(token);
    }

    /// Copies a token already known to be at most max_size bytes, without checks.
    static Opaque unchecked(std::string_view token) noexcept {
        Opaque o{};
        o.size_ = static_cast<std::uint8_t>(token.size() < max_size ? token.size() : max_size);
        for (std::size_t i = 0; i < o.size_; ++i)
            o.data_[i] = token[i];
        return o;
    }

    [[nodiscard]] std::string_view view() const noexcept { return {data_.data(), size_}; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    friend bool operator==(const Opaque& a, const Opaque& b) noexcept {
        return a.view() == b.view();
    }

private:
    std::array<char, max_size> data_{};
    std::uint8_t size_ = 0;
};

/// The M flag. For ms: set (default, not sent), add, append, prepend, replace.
/// For ma: increment (default, not sent), decrement.
enum class Mode : char {
    set = 'S',
    add = 'E',
    append = 'A',
    prepend = 'P',
    replace = 'R',
    increment = '+',
    decrement = '-',
};

/// Every flag a meta request can carry. Flags go on the wire in the reference client's
/// order `q f c v t s l h k u I T R N F J D C O M`, so captures compare byte for byte.
/// TTLs are seconds (0 = never expires; above 30 days memcached reads a Unix time).
struct RequestFlags {
    bool no_reply = false;            ///< q: the server sends no nominal answer
    bool return_client_flag = false;  ///< f
    bool return_cas_token = false;    ///< c
    bool return_value = false;        ///< v
    bool return_ttl = false;          ///< t
    bool return_size = false;         ///< s
    bool return_last_access = false;  ///< l
    bool return_fetched = false;      ///< h
    bool return_key = false;          ///< k
    bool no_update_lru = false;       ///< u
    bool mark_stale = false;          ///< I: invalidate (md) or store stale on CAS mismatch (ms)
    std::optional<std::int64_t> cache_ttl{};           ///< T: TTL to set (ms), touch (mg, ma)
    std::optional<std::int64_t> recache_ttl{};         ///< R: win a recache below this TTL
    std::optional<std::int64_t> vivify_on_miss_ttl{};  ///< N: lease/auto-create with this TTL
    std::optional<std::uint32_t> client_flag{};        ///< F: 32-bit client flags (ms)
    std::optional<std::uint64_t> ma_initial_value{};   ///< J: initial value for ma with N
    std::optional<std::uint64_t> ma_delta_value{};     ///< D: delta for ma
    std::optional<std::uint64_t> cas_token{};          ///< C: compare-and-swap token
    std::optional<Opaque> opaque{};                    ///< O
    std::optional<Mode> mode{};                        ///< M (set/increment are not sent)

    friend bool operator==(const RequestFlags&, const RequestFlags&) = default;
};

}  // namespace meta_memcache
