#pragma once

#include <meta_memcache/request_flags.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace meta_memcache {

/// The flags a meta response carried. Fields the request did not ask for stay empty.
struct ResponseFlags {
    std::optional<std::uint64_t> cas_token{};    ///< c: 64-bit CAS of the item
    std::optional<bool> fetched{};               ///< h: fetched before this request
    std::optional<std::uint32_t> last_access{};  ///< l: seconds since last access
    std::optional<std::int64_t> ttl{};           ///< t: remaining TTL, -1 = never expires
    std::optional<std::uint32_t> client_flag{};  ///< f
    std::optional<bool> win{};                   ///< W (true) or Z (false): recache/lease token
    bool stale = false;                          ///< X: the item is stale
    std::optional<std::uint32_t> real_size{};    ///< s: size of the value
    std::optional<Opaque> opaque{};              ///< O: the request's opaque, echoed
    /// k: the wire key, base64-decoded when it travelled in base64: the key itself, but
    /// for a key of 187 bytes or more its BLAKE2b-18 digest (18 bytes), which is what the
    /// server knows it by.
    std::optional<std::string> key{};

    friend bool operator==(const ResponseFlags&, const ResponseFlags&) = default;
};

}  // namespace meta_memcache
