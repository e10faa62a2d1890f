// HashMode: the names of the placement modes, which of them honour weights, and the text
// each hashes for a server's points.

#include <meta_memcache/config.hpp>
#include <meta_memcache/hash_ring.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace meta_memcache {

namespace detail::hash_modes_impl {

inline constexpr std::uint16_t default_port = 11211;

/// "host" for the default port, else "host:port": the libmemcached/libmc point name.
inline std::string host_maybe_port(const ServerAddress& s) {
    if (s.port == default_port)
        return s.host;
    return s.host + ':' + std::to_string(s.port);
}

}  // namespace detail::hash_modes_impl

META_MEMCACHE_DECL std::string_view to_string(HashMode mode) noexcept {
    switch (mode) {
        case HashMode::uhashring:
            return "uhashring";
        case HashMode::ketama:
            return "ketama";
        case HashMode::libmemcached_ketama:
            return "libmemcached_ketama";
        case HashMode::libmc_md5:
            return "libmc_md5";
        case HashMode::libmc_crc32:
            return "libmc_crc32";
        case HashMode::libmc_fnv1_32:
            return "libmc_fnv1_32";
        case HashMode::libmc_fnv1a_32:
            return "libmc_fnv1a_32";
        case HashMode::xxhash:
            return "xxhash";
    }
    return "unknown";
}

META_MEMCACHE_DECL bool honours_weights(HashMode mode) noexcept {
    return mode == HashMode::uhashring || mode == HashMode::ketama || mode == HashMode::xxhash;
}

META_MEMCACHE_DECL std::string ring_identity(const ServerAddress& server, HashMode mode) {
    using detail::hash_modes_impl::host_maybe_port;
    if (!server.alias.empty())
        return server.alias;
    switch (mode) {
        case HashMode::uhashring:
        case HashMode::xxhash:
            return server.endpoint();
        case HashMode::ketama:
        case HashMode::libmemcached_ketama:
            // memcached_server_add_unix_socket() stores the path with port 0.
            if (!server.unix_path.empty())
                return server.unix_path + ":0";
            return host_maybe_port(server);
        case HashMode::libmc_md5:
        case HashMode::libmc_crc32:
        case HashMode::libmc_fnv1_32:
        case HashMode::libmc_fnv1a_32:
            // libmc parses "/path" with no port, so the socket gets port 11211.
            if (!server.unix_path.empty())
                return server.unix_path;
            return host_maybe_port(server);
    }
    return server.name();
}

}  // namespace meta_memcache
