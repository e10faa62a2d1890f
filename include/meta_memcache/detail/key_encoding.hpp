#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace meta_memcache::detail {

/// Keys of this many bytes or more go on the wire as their 18-byte BLAKE2b digest
/// (meta-memcache-py's rule: 250 * 3 / 4, so a base64'd key always fits in 250).
inline constexpr std::size_t hashed_key_threshold = 187;
/// memcached's key length limit (on the wire, after base64).
inline constexpr std::size_t max_wire_key_size = 250;
/// Size of the BLAKE2b digest that stands in for a long key.
inline constexpr std::size_t key_digest_size = 18;

/// A key as it goes on the wire: raw, or base64 with the `b` flag.
struct WireKey {
    /// Not zero-filled (it is built on every request): only the first `size` bytes count.
    std::array<char, max_wire_key_size> data;
    std::size_t size = 0;
    bool base64 = false;  ///< send the `b` flag

    /// The key bytes (never past `data`, even if `size` was set too large by hand).
    [[nodiscard]] std::string_view view() const noexcept {
        return {data.data(), size < data.size() ? size : data.size()};
    }
};

/// True when a key byte must not appear in a raw (non-base64) wire key.
[[nodiscard]] constexpr bool is_binary_key_byte(unsigned char c) noexcept {
    return c <= 0x20 || c > 0x7E;
}

namespace key_impl {
/// Whether any byte of the word is below 0x21 or above 0x7E (0x7F..0xFF).
[[nodiscard]] constexpr bool word_has_binary(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    const std::uint64_t below = (w - ones * 0x21) & ~w & highs;
    const std::uint64_t above = ((w + ones * (127 - 0x7E)) | w) & highs;
    return (below | above) != 0;
}
/// Copies 8 to 16 bytes as two overlapping words, `a` the first and `b` the last.
[[gnu::always_inline]] inline void copy_ends(
    char* dst, const char* src, std::size_t n, std::uint64_t& a, std::uint64_t& b) noexcept {
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
}
#if defined(__SSE2__)
/// Each of the sixteen bytes of `v` that may appear in a raw wire key, as 0xFF (signed
/// bytes: 0x80..0xFF are negative, so "> 0x20 and < 0x7F" is the raw range).
[[gnu::always_inline]] inline __m128i raw_key_bytes(__m128i v) noexcept {
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                         _mm_cmplt_epi8(v, _mm_set1_epi8(0x7F)));
}
#endif
}  // namespace key_impl

/// True when any of the `n` bytes at `p` must not appear in a raw wire key; sixteen bytes
/// at a time where SSE2 is there (every x86-64), else eight (the last block overlapping the
/// ones before).
[[nodiscard, gnu::always_inline]] inline bool any_binary(const char* p, std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16) {
        const auto raw = [](const char* q) {
            return key_impl::raw_key_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
        };
        __m128i all = raw(p + n - 16);
        for (std::size_t i = 0; i + 16 < n; i += 16)
            all = _mm_and_si128(all, raw(p + i));
        return _mm_movemask_epi8(all) != 0xFFFF;
    }
#endif
    if (n < 8) {
        for (std::size_t i = 0; i < n; ++i) {
            if (is_binary_key_byte(static_cast<unsigned char>(p[i])))
                return true;
        }
        return false;
    }
    std::uint64_t w = 0;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
        std::memcpy(&w, p + i, 8);
        if (key_impl::word_has_binary(w))
            return true;
    }
    std::memcpy(&w, p + n - 8, 8);
    return key_impl::word_has_binary(w);
}

/// memcpy for the few bytes of a key: two overlapping moves up to 32 bytes.
[[gnu::always_inline]] inline void copy_short(char* dst, const char* src, std::size_t n) noexcept {
    if (n > 32) {
        std::memcpy(dst, src, n);
    } else if (n >= 16) {
        std::array<char, 16> a;  // NOLINT(cppcoreguidelines-pro-type-member-init)
        std::array<char, 16> b;  // NOLINT(cppcoreguidelines-pro-type-member-init)
        std::memcpy(a.data(), src, 16);
        std::memcpy(b.data(), src + n - 16, 16);
        std::memcpy(dst, a.data(), 16);
        std::memcpy(dst + n - 16, b.data(), 16);
    } else if (n >= 8) {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        key_impl::copy_ends(dst, src, n, a, b);
    } else if (n >= 4) {
        std::uint32_t a = 0;
        std::uint32_t b = 0;
        std::memcpy(&a, src, 4);
        std::memcpy(&b, src + n - 4, 4);
        std::memcpy(dst, &a, 4);
        std::memcpy(dst + n - 4, &b, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i)
            dst[i] = src[i];
    }
}

/// copy_short() and any_binary() in one pass over the bytes, for keys of 8 to 32 bytes (the
/// common ones); both in turn otherwise. True when a copied byte must not appear raw.
[[nodiscard, gnu::always_inline]] inline bool copy_short_checked(char* dst,
                                                                 const char* src,
                                                                 std::size_t n) noexcept {
#if defined(__SSE2__)
    if (n >= 16 && n <= 32) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), a);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16), b);
        return _mm_movemask_epi8(
                   _mm_and_si128(key_impl::raw_key_bytes(a), key_impl::raw_key_bytes(b))) != 0xFFFF;
    }
#endif
    if (n >= 8 && n < 16) {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        key_impl::copy_ends(dst, src, n, a, b);
        return key_impl::word_has_binary(a) || key_impl::word_has_binary(b);
    }
    copy_short(dst, src, n);
    return any_binary(dst, n);
}

/// Encodes `prefix + key` exactly as meta-memcache-py does: an empty key is rejected; 187
/// bytes or more become the BLAKE2b-18 digest; any byte <= 0x20 or > 0x7E makes it binary,
/// sent as standard padded base64 with `b`; otherwise the bytes go unchanged.
/// Allocates nothing. @throws InvalidInputError for an empty key.
void encode_key(std::string_view key, WireKey& out, std::string_view prefix = {});

/// Standard padded base64 (RFC 4648). Appends to `out`.
void base64_encode(std::string_view in, std::string& out);
/// Decodes standard padded base64; false if `in` is not valid base64.
[[nodiscard]] bool base64_decode(std::string_view in, std::string& out);

}  // namespace meta_memcache::detail
