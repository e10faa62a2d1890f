#pragma once

// zstd and zlib behind plain functions, so nothing else includes their headers and the
// rest of the library builds the same with either compiled out. Each function says what
// it does when its library is not built in.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace meta_memcache::detail {

[[nodiscard]] bool zstd_built_in() noexcept;
[[nodiscard]] bool zlib_built_in() noexcept;

/// True when `level` is a zstd compression level (false without zstd).
[[nodiscard]] bool valid_zstd_level(int level) noexcept;

/// A registered zstd dictionary: prepared for compression at one level and for
/// decompression. Immutable, so any number of threads use one at once.
class ZstdDictionary;
struct ZstdDictionaryDeleter {
    void operator()(ZstdDictionary* dictionary) const noexcept;
};
using ZstdDictionaryPtr = std::unique_ptr<ZstdDictionary, ZstdDictionaryDeleter>;

/// The id a zstd dictionary declares; 0 when `bytes` is not one (or without zstd).
[[nodiscard]] std::uint32_t zstd_dictionary_id(std::string_view bytes) noexcept;
/// Prepares a dictionary. @throws InvalidInputError if zstd rejects it or is not built in.
[[nodiscard]] ZstdDictionaryPtr make_zstd_dictionary(std::string_view bytes, int level);

/// Compresses `src` into one magicless frame with its content size, no checksum and the
/// dictionary's id (none without a dictionary): meta-memcache-py's frame settings.
/// `level` applies without a dictionary; a dictionary carries its own.
[[nodiscard]] std::string zstd_compress(std::string_view src,
                                        int level,
                                        const ZstdDictionary* dictionary);

/// What a magicless frame header declares.
struct ZstdFrameHeader {
    std::uint64_t content_size = 0;
    std::uint32_t dictionary_id = 0;  ///< 0: no dictionary
};
/// Reads the header of a magicless frame. False (with `error`) for anything that is not
/// one with a declared content size.
[[nodiscard]] bool read_zstd_frame_header(std::string_view frame,
                                          ZstdFrameHeader& header,
                                          std::string& error);
/// Decompresses a frame whose header was read into `out` (exactly header.content_size
/// bytes). False (with `error`) for corrupt data or the wrong dictionary.
[[nodiscard]] bool zstd_decompress(std::string_view frame,
                                   const ZstdFrameHeader& header,
                                   const ZstdDictionary* dictionary,
                                   std::string& out,
                                   std::string& error);

/// A zlib stream (with header) of `src`, what Python's zlib.compress(src, level) writes.
[[nodiscard]] std::string zlib_compress(std::string_view src, int level);
/// Inflates a zlib stream into `out`, failing (with `error`) as soon as the output would
/// pass `max_size`, on corrupt or truncated input, or on bytes after the stream's end.
[[nodiscard]] bool zlib_decompress(std::string_view src,
                                   std::size_t max_size,
                                   std::string& out,
                                   std::string& error);

}  // namespace meta_memcache::detail
