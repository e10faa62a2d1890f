// The 32-bit hash functions other clients' rings use to place keys and points.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/md5.hpp>
#include <meta_memcache/impl/ring/hash_functions.hpp>

#include <zlib.h>

#include <cstdint>
#include <string_view>

namespace meta_memcache::detail {

namespace hash_functions_impl {

inline constexpr std::uint32_t fnv32_offset = 2166136261U;
inline constexpr std::uint32_t fnv32_prime = 16777619U;

}  // namespace hash_functions_impl

META_MEMCACHE_DECL std::uint32_t hash_md5_le32(std::string_view data) noexcept {
    return md5_words(data)[0];
}

META_MEMCACHE_DECL std::uint32_t hash_crc32(std::string_view data) noexcept {
    return static_cast<std::uint32_t>(
        crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

META_MEMCACHE_DECL std::uint32_t hash_fnv1_32(std::string_view data) noexcept {
    std::uint32_t h = hash_functions_impl::fnv32_offset;
    for (const char ch : data) {
        h *= hash_functions_impl::fnv32_prime;
        h ^= static_cast<unsigned char>(ch);
    }
    return h;
}

META_MEMCACHE_DECL std::uint32_t hash_fnv1a_32(std::string_view data) noexcept {
    std::uint32_t h = hash_functions_impl::fnv32_offset;
    for (const char ch : data) {
        h ^= static_cast<unsigned char>(ch);
        h *= hash_functions_impl::fnv32_prime;
    }
    return h;
}

META_MEMCACHE_DECL std::uint32_t hash_one_at_a_time(std::string_view data) noexcept {
    std::uint32_t h = 0;
    for (const char ch : data) {
        // libhashkit reads `const char` (signed on x86 and most ABIs) into a uint32_t.
        h += static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<signed char>(ch)));
        h += h << 10;
        h ^= h >> 6;
    }
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
    return h;
}

}  // namespace meta_memcache::detail
