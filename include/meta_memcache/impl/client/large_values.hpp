#pragma once

// Values larger than one item (ClientOptions::large_values): the key holds an index
// "MMCHUNK1 <version> <count> <size> <xxh3> <chunk_size>" under client flag bit 4096 (the
// bit libmc uses for split values); chunk i lives under "<key>\x1f<version>\x1f<i>" on the
// key's server. Chunk keys name the version, so a reader only ever reads chunks of the
// write its index names, never a mix of two writes.

#include <meta_memcache/value_codec.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meta_memcache::detail {

inline constexpr std::uint32_t chunked_flag = value_flag::chunked;

struct ChunkIndex {
    std::string version;
    std::uint32_t count = 0;
    std::uint64_t size = 0;
    std::uint64_t checksum = 0;
    std::uint64_t chunk_size = 0;
};

[[nodiscard]] std::string encode_chunk_index(const ChunkIndex& index);
[[nodiscard]] std::optional<ChunkIndex> parse_chunk_index(std::string_view text);
[[nodiscard]] std::string chunk_key(std::string_view key,
                                    std::string_view version,
                                    std::uint32_t i);
[[nodiscard]] std::uint64_t value_checksum(std::string_view data) noexcept;
/// A fresh random version stamp (16 hex digits).
[[nodiscard]] std::string new_chunk_version();

}  // namespace meta_memcache::detail
