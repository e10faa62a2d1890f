#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

/// MD5 (RFC 1321) of one message, or of eight messages at once, for the hash rings: header
/// only, no allocation, no library. The one-lane form is constexpr. The eight-lane form
/// runs the same rounds on vectors of eight 32-bit lanes (the GCC/Clang vector extension),
/// which the compiler maps onto pairs of SSE2 registers on baseline x86-64 and onto AVX2
/// registers where it may (see md5x8_words()). GCC and Clang only (vector extension). MD5
/// serves here to place keys as other clients do, never for security.
namespace meta_memcache::detail {

/// An MD5 digest: the 16 bytes that RFC 1321 prints in hex.
using Md5Digest = std::array<std::uint8_t, 16>;

/// An MD5 result as its four state words A, B, C, D. The digest is their bytes, each word
/// little-endian, so word A is the digest's first 4 bytes read as a little-endian number.
using Md5Words = std::array<std::uint32_t, 4>;

/// Eight MD5 results at once: `[w][i]` is state word w (A, B, C, D) of message i.
using Md5x8Words = std::array<std::array<std::uint32_t, 8>, 4>;

/// Eight 32-bit lanes, one per message. May alias other types, as the intrinsics' vector
/// types do.
using Md5Lanes = std::uint32_t __attribute__((vector_size(32), may_alias));

/// Four 32-bit lanes: half an Md5Lanes, one SSE2 or NEON register.
using Md5Lanes4 = std::uint32_t __attribute__((vector_size(16), may_alias));

// ---- the rounds, shared by both forms --------------------------------------------------

/// The state before the first block.
inline constexpr Md5Words md5_initial_state = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

/// The additive constant of each of the 64 steps (RFC 1321's T[i], 2^32 * |sin(i + 1)|).
inline constexpr std::array<std::uint32_t, 64> md5_step_constants = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

/// The left rotation of each step: 4 per round, repeated 4 times within the round.
inline constexpr std::array<int, 16> md5_rotations = {7, 12, 17, 22, 5, 9,  14, 20,
                                                      4, 11, 16, 23, 6, 10, 15, 21};

/// md5_step_constants, each repeated in 8 lanes, for the eight-lane rounds to add from
/// memory.
alignas(Md5Lanes) inline constexpr auto md5_lane_constants = [] {
    std::array<std::array<std::uint32_t, 8>, 64> lanes{};
    for (std::size_t i = 0; i < 64; ++i)
        lanes[i].fill(md5_step_constants[i]);
    return lanes;
}();

/// Which message word step `i` adds.
[[nodiscard]] constexpr std::size_t md5_message_word(std::size_t i) noexcept {
    switch (i / 16) {
        case 0:
            return i;
        case 1:
            return (5 * i + 1) % 16;
        case 2:
            return (3 * i + 5) % 16;
        default:
            return (7 * i) % 16;
    }
}

/// Step `I` of the 64 on `s` = (A, B, C, D), the names rotated by I % 4 so the state never
/// moves between variables; adds k[I] and message word m[...]. `V` is std::uint32_t (one
/// message) or Md5Lanes (eight): the same operators serve both.
template <std::size_t I, class V>
[[gnu::always_inline]] constexpr void md5_step(V (&s)[4], const V* m, const V* k) noexcept {
    V& a = s[(4 - I % 4) % 4];
    const V b = s[(5 - I % 4) % 4];
    const V c = s[(6 - I % 4) % 4];
    const V d = s[(7 - I % 4) % 4];
    V f = b;
    if constexpr (I < 16) {
        f = d ^ (b & (c ^ d));  // (b & c) | (~b & d)
    } else if constexpr (I < 32) {
        f = c ^ (d & (b ^ c));  // (b & d) | (c & ~d)
    } else if constexpr (I < 48) {
        f = b ^ c ^ d;
    } else {
        f = c ^ (b | ~d);
    }
    constexpr int r = md5_rotations[(I / 16) * 4 + I % 4];
    a += f + k[I] + m[md5_message_word(I)];
    a = b + ((a << r) | (a >> (32 - r)));
}

/// The 64 steps over one block `m` (16 words) from state `s`, with the step constants `k`.
/// The caller adds the result to the state it started from.
template <class V, std::size_t... I>
[[gnu::always_inline]] constexpr void md5_rounds(V (&s)[4],
                                                 const V* m,
                                                 const V* k,
                                                 std::index_sequence<I...> /*steps*/) noexcept {
    (md5_step<I>(s, m, k), ...);
}

// ---- padding ----------------------------------------------------------------------------

/// How many 64-byte blocks a message of `size` bytes takes once padded (RFC 1321 3.1-3.2).
[[nodiscard]] constexpr std::size_t md5_block_count(std::size_t size) noexcept {
    return (size + 8) / 64 + 1;
}

/// Copies n bytes (n < 64) with a few fixed-size, overlapping copies instead of a call.
[[gnu::always_inline]] constexpr void md5_copy_short(char* to,
                                                     const char* from,
                                                     std::size_t n) noexcept {
    if (std::is_constant_evaluated() || n < 4) {
        for (std::size_t i = 0; i < n; ++i)
            to[i] = from[i];
        return;
    }
    const auto two = [&](auto width) {  // [0, width) and [n - width, n)
        std::memcpy(to, from, width);
        std::memcpy(to + n - width, from + n - width, width);
    };
    if (n >= 32) {
        two(std::integral_constant<std::size_t, 32>{});
    } else if (n >= 16) {
        two(std::integral_constant<std::size_t, 16>{});
    } else if (n >= 8) {
        two(std::integral_constant<std::size_t, 8>{});
    } else {
        two(std::integral_constant<std::size_t, 4>{});
    }
}

/// Block `block` of `data`'s padded message (RFC 1321 3.1-3.2) into out[0..64): the data,
/// the byte 0x80, zeros, and in the last block the length in bits, little-endian, at 56.
[[gnu::always_inline]] constexpr void md5_pad_block(std::string_view data,
                                                    std::size_t block,
                                                    char* out) noexcept {
    const std::size_t size = data.size();
    const std::size_t start = block * 64;
    const std::size_t left = start < size ? size - start : 0;
    if (left >= 64) {
        if (std::is_constant_evaluated()) {
            md5_copy_short(out, data.data() + start, 32);
            md5_copy_short(out + 32, data.data() + start + 32, 32);
        } else {
            std::memcpy(out, data.data() + start, 64);
        }
        return;
    }
    if (std::is_constant_evaluated()) {
        for (std::size_t i = 0; i < 64; ++i)
            out[i] = 0;
    } else {
        std::memset(out, 0, 64);
    }
    if (left > 0)
        md5_copy_short(out, data.data() + start, left);
    if (start <= size)
        out[left] = static_cast<char>(0x80);
    if (block + 1 == md5_block_count(size)) {
        const std::uint64_t bits = static_cast<std::uint64_t>(size) * 8;
        if (std::is_constant_evaluated() || std::endian::native != std::endian::little) {
            for (std::size_t i = 0; i < 8; ++i)
                out[56 + i] = static_cast<char>(bits >> (8 * i));
        } else {
            std::memcpy(out + 56, &bits, sizeof bits);
        }
    }
}

/// Bytes p[0..4) as a little-endian word (one load where the compiler can).
[[nodiscard]] constexpr std::uint32_t md5_load_le32(const char* p) noexcept {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(p[1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(p[2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(p[3])) << 24;
}

// ---- one message --------------------------------------------------------------------------

/// MD5 of `data` (any length) as its four state words.
[[nodiscard]] constexpr Md5Words md5_words(std::string_view data) noexcept {
    Md5Words state = md5_initial_state;
    const std::size_t blocks = md5_block_count(data.size());
    for (std::size_t b = 0; b < blocks; ++b) {
        char bytes[64] = {};
        md5_pad_block(data, b, bytes);
        std::uint32_t m[16] = {};
        for (std::size_t w = 0; w < 16; ++w)
            m[w] = md5_load_le32(bytes + 4 * w);
        std::uint32_t s[4] = {state[0], state[1], state[2], state[3]};
        md5_rounds(s, m, md5_step_constants.data(), std::make_index_sequence<64>{});
        for (std::size_t i = 0; i < 4; ++i)
            state[i] += s[i];
    }
    return state;
}

/// The digest bytes of `words` (each word little-endian, A first).
[[nodiscard]] constexpr Md5Digest md5_digest(const Md5Words& words) noexcept {
    Md5Digest out{};
    for (std::size_t i = 0; i < 16; ++i)
        out[i] = static_cast<std::uint8_t>(words[i / 4] >> (8 * (i % 4)));
    return out;
}

/// MD5 of `data` (any length), as RFC 1321 defines it.
[[nodiscard]] constexpr Md5Digest md5(std::string_view data) noexcept {
    return md5_digest(md5_words(data));
}

// ---- eight messages ---------------------------------------------------------------------

/// 8 staged blocks (rows[i] = message i's block) as 16 lane vectors: out[w] holds word w
/// of every message. `Wide`: with 8-lane shuffles (one AVX2 instruction each), else with
/// 4-lane ones (one SSE2 or NEON instruction each; 8-lane shuffles would be split up).
template <bool Wide>
[[gnu::always_inline]] inline void md5_transpose(const char (&rows)[8][64],
                                                 Md5Lanes (&out)[16]) noexcept {
    if constexpr (Wide) {
#pragma GCC unroll 2
        for (std::size_t half = 0; half < 2; ++half) {
            Md5Lanes r[8];
#pragma GCC unroll 8
            for (std::size_t i = 0; i < 8; ++i)
                std::memcpy(&r[i], rows[i] + 32 * half, sizeof r[i]);
            Md5Lanes t[8];
#pragma GCC unroll 4
            for (std::size_t i = 0; i < 8; i += 2) {  // interleave the words of row pairs
                t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
                t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
            }
            Md5Lanes u[8];
#pragma GCC unroll 4
            for (std::size_t j = 0; j < 4; ++j) {  // then pairs of words
                const std::size_t i = (j / 2) * 4 + j % 2;
                u[2 * j] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
                u[2 * j + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
            }
            Md5Lanes* o = out + 8 * half;
#pragma GCC unroll 4
            for (std::size_t w = 0; w < 4; ++w) {  // then halves
                o[w] = __builtin_shufflevector(u[w], u[w + 4], 0, 1, 2, 3, 8, 9, 10, 11);
                o[w + 4] = __builtin_shufflevector(u[w], u[w + 4], 4, 5, 6, 7, 12, 13, 14, 15);
            }
        }
    } else {
        // out as 4-lane halves: word w of messages 4g..4g+3 at quarter 2 * w + g.
        char* quarters = reinterpret_cast<char*>(out);
        const auto put = [quarters](std::size_t at, Md5Lanes4 v) {
            std::memcpy(quarters + sizeof v * at, &v, sizeof v);
        };
#pragma GCC unroll 8
        for (std::size_t q = 0; q < 8; ++q) {  // 4 x 4 blocks: messages 4g.., words 4v..
            const std::size_t g = q % 2;
            const std::size_t v = q / 2;
            Md5Lanes4 r[4];
#pragma GCC unroll 4
            for (std::size_t j = 0; j < 4; ++j)
                std::memcpy(&r[j], rows[4 * g + j] + 16 * v, sizeof r[j]);
            const Md5Lanes4 t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5);
            const Md5Lanes4 t1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);
            const Md5Lanes4 t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5);
            const Md5Lanes4 t3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);
            put(2 * (4 * v + 0) + g, __builtin_shufflevector(t0, t2, 0, 1, 4, 5));
            put(2 * (4 * v + 1) + g, __builtin_shufflevector(t0, t2, 2, 3, 6, 7));
            put(2 * (4 * v + 2) + g, __builtin_shufflevector(t1, t3, 0, 1, 4, 5));
            put(2 * (4 * v + 3) + g, __builtin_shufflevector(t1, t3, 2, 3, 6, 7));
        }
    }
}

/// md5x8_words() as the target compiles it: one definition, inlined into each
/// instruction-set variant below (`Wide`: the target has 8-lane registers).
template <bool Wide>
[[gnu::always_inline]] inline Md5x8Words md5x8_words_body(
    std::span<const std::string_view, 8> data) noexcept {
    std::size_t blocks[8] = {};
    std::size_t most = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        blocks[i] = md5_block_count(data[i].size());
        most = std::max(most, blocks[i]);
    }
    Md5Lanes state[4];
#pragma GCC unroll 4
    for (std::size_t w = 0; w < 4; ++w) {
        const std::uint32_t v = md5_initial_state[w];
        state[w] = Md5Lanes{v, v, v, v, v, v, v, v};
    }
    // Read from memory: left visible, GCC rebuilds each constant in three instructions.
    const auto* k = reinterpret_cast<const Md5Lanes*>(md5_lane_constants.data());
    __asm__("" : "+r"(k));
    for (std::size_t b = 0; b < most; ++b) {
        char rows[8][64];  // message i's block b (read with unaligned loads)
        if (most == 1) {   // all messages <= 55 bytes: what the compiler may assume here
#pragma GCC unroll 8
            for (std::size_t i = 0; i < 8; ++i) {
                if (data[i].size() > 55)
                    __builtin_unreachable();
                md5_pad_block(data[i], 0, rows[i]);
            }
        } else {
            for (std::size_t i = 0; i < 8; ++i) {
                if (b < blocks[i]) {
                    md5_pad_block(data[i], b, rows[i]);
                } else {
                    std::memset(rows[i], 0, sizeof rows[i]);
                }
            }
        }
        Md5Lanes m[16];
        md5_transpose<Wide>(rows, m);
        Md5Lanes s[4] = {state[0], state[1], state[2], state[3]};
        md5_rounds(s, m, k, std::make_index_sequence<64>{});
        if (most == 1) {  // every message has exactly this block: the common case for keys
            for (std::size_t w = 0; w < 4; ++w)
                state[w] += s[w];
        } else {
            Md5Lanes live{};  // all ones where message i has block b
            for (std::size_t i = 0; i < 8; ++i)
                live[i] = b < blocks[i] ? ~std::uint32_t{0} : 0;
            for (std::size_t w = 0; w < 4; ++w)
                state[w] += s[w] & live;
        }
    }
    Md5x8Words out;
    std::memcpy(out.data(), state, sizeof state);
    return out;
}

/// md5x8_words() for the compile target: on baseline x86-64, two SSE2 registers a vector.
[[nodiscard]] inline Md5x8Words md5x8_words_baseline(
    std::span<const std::string_view, 8> data) noexcept {
    if constexpr (std::endian::native != std::endian::little) {
        // The lanes read the staged bytes as little-endian words: elsewhere, one at a time.
        Md5x8Words out{};
        for (std::size_t i = 0; i < 8; ++i) {
            const Md5Words one = md5_words(data[i]);
            for (std::size_t w = 0; w < 4; ++w)
                out[w][i] = one[w];
        }
        return out;
    } else {
        return md5x8_words_body<false>(data);
    }
}

#if defined(__x86_64__) && !defined(__AVX2__)
/// Defined when md5x8_words() chooses at run time between md5x8_words_baseline() and
/// md5x8_words_avx2() (x86-64 built without -mavx2).
#define META_MEMCACHE_MD5X8_DISPATCH 1

/// md5x8_words() with AVX2: one register a vector and three-operand instructions, about
/// 2.5 times fewer instructions than SSE2. Only where md5x8_avx2_available().
[[nodiscard, gnu::target("avx2")]] inline Md5x8Words md5x8_words_avx2(
    std::span<const std::string_view, 8> data) noexcept {
    return md5x8_words_body<true>(data);
}

/// True when this CPU runs AVX2 (asked once).
[[nodiscard]] inline bool md5x8_avx2_available() noexcept {
    static const bool available = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return available;
}
#endif

/// MD5 of eight independent messages of any lengths at once: result[w][i] ==
/// md5_words(data[i])[w]. A call runs as many blocks as its longest message needs; a
/// message that needs fewer keeps its state from its last block on. On x86-64 built
/// without -mavx2, runs md5x8_words_avx2() when the CPU has AVX2.
[[nodiscard]] inline Md5x8Words md5x8_words(std::span<const std::string_view, 8> data) noexcept {
#ifdef META_MEMCACHE_MD5X8_DISPATCH
    if (md5x8_avx2_available())
        return md5x8_words_avx2(data);
#endif
    return md5x8_words_baseline(data);
}

/// MD5 of eight independent messages of any lengths at once: out[i] == md5(data[i]).
inline void md5x8(std::span<const std::string_view, 8> data, std::span<Md5Digest, 8> out) noexcept {
    const Md5x8Words words = md5x8_words(data);
    for (std::size_t i = 0; i < 8; ++i)
        out[i] = md5_digest({words[0][i], words[1][i], words[2][i], words[3][i]});
}

}  // namespace meta_memcache::detail
