#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/large_values.hpp>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // NOLINT(readability-identifier-naming): xxHash's switch
#endif
#include <xxhash.h>

#include <charconv>
#include <random>

namespace meta_memcache::detail {

namespace large_values_impl {

inline constexpr std::string_view magic = "MMCHUNK1";

template <class Int>
inline bool parse_field(std::string_view& s, Int& out, int base = 10) {
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    if (ec != std::errc{} || p == s.data())
        return false;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
    return true;
}

}  // namespace large_values_impl

META_MEMCACHE_DECL std::string encode_chunk_index(const ChunkIndex& index) {
    using namespace large_values_impl;
    char sum[17];
    auto end = std::to_chars(sum, sum + 16, index.checksum, 16).ptr;
    return std::string(magic) + " " + index.version + " " + std::to_string(index.count) + " " +
           std::to_string(index.size) + " " + std::string(sum, end) + " " +
           std::to_string(index.chunk_size);
}

META_MEMCACHE_DECL std::optional<ChunkIndex> parse_chunk_index(std::string_view s) {
    using namespace large_values_impl;
    if (s.substr(0, magic.size()) != magic)
        return std::nullopt;
    s.remove_prefix(magic.size());
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    const auto sp = s.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 32)
        return std::nullopt;
    ChunkIndex idx;
    idx.version = std::string(s.substr(0, sp));
    s.remove_prefix(sp);
    if (!parse_field(s, idx.count) || !parse_field(s, idx.size) ||
        !parse_field(s, idx.checksum, 16) || !parse_field(s, idx.chunk_size) || !s.empty()) {
        return std::nullopt;
    }
    if (idx.count == 0 || idx.chunk_size == 0 ||
        idx.size > static_cast<std::uint64_t>(idx.count) * idx.chunk_size ||
        idx.size <= static_cast<std::uint64_t>(idx.count - 1) * idx.chunk_size) {
        return std::nullopt;
    }
    return idx;
}

META_MEMCACHE_DECL std::string chunk_key(std::string_view key,
                                         std::string_view version,
                                         std::uint32_t i) {
    std::string k(key);
    k += '\x1f';
    k += version;
    k += '\x1f';
    k += std::to_string(i);
    return k;
}

META_MEMCACHE_DECL std::uint64_t value_checksum(std::string_view data) noexcept {
    return XXH3_64bits(data.data(), data.size());
}

META_MEMCACHE_DECL std::string new_chunk_version() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[17];
    auto end = std::to_chars(buf, buf + 16, rng(), 16).ptr;
    return std::string(buf, end);
}

}  // namespace meta_memcache::detail
