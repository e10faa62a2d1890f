#pragma once

#include <cstdint>
#include <string_view>

/// The 32-bit hash functions other clients' rings use (not API; the tests check each
/// against the vectors of the client it comes from).
namespace meta_memcache::detail {

/// MD5(data)'s first 4 bytes as a little-endian number (libhashkit's and libmc's "md5").
[[nodiscard]] std::uint32_t hash_md5_le32(std::string_view data) noexcept;

/// CRC-32 by zlib's crc32() (reflected, polynomial 0xEDB88320, all 32 bits), as libmc's
/// "crc_32" computes it. libmemcached's "crc" keeps only 15 of these bits and is not this.
[[nodiscard]] std::uint32_t hash_crc32(std::string_view data) noexcept;

/// FNV-1, 32-bit (multiply, then xor each byte).
[[nodiscard]] std::uint32_t hash_fnv1_32(std::string_view data) noexcept;

/// FNV-1a, 32-bit (xor each byte, then multiply).
[[nodiscard]] std::uint32_t hash_fnv1a_32(std::string_view data) noexcept;

/// Jenkins' one-at-a-time hash as libhashkit computes it (libmemcached's default hash):
/// each byte is read as a *signed* char and sign-extended, so bytes >= 0x80 differ from
/// the textbook version.
[[nodiscard]] std::uint32_t hash_one_at_a_time(std::string_view data) noexcept;

}  // namespace meta_memcache::detail
