#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meta_memcache {

/// Where a memcached server listens, and the name it is known by.
///
/// The name (`alias` when set, else "host:port", "[v6]:port" or the unix path) is what hash
/// rings hash, so a server given an alias can move to a new address and keep its keys.
struct ServerAddress {
    std::string host;            ///< host name, IPv4 or IPv6 literal (without brackets)
    std::uint16_t port = 11211;  ///< TCP port
    std::string alias;           ///< optional identity used for hashing and in errors/counters
    std::string unix_path;       ///< when set, connect to this unix socket instead of host:port
    /// The server's share of the keys on a hash ring, relative to the others (1 and up).
    /// Honoured by HashMode::uhashring, ketama and xxhash; the other modes require 1 (see
    /// docs/routers.md). Not part of the text form: set it in code.
    std::uint32_t weight = 1;

    /// Parses "host:port", "host", "[v6]:port", a bare IPv6 address ("::1", port 11211),
    /// "/path/to.sock" or "unix:/path", each optionally followed by a space and an alias
    /// ("10.0.0.1:11211 mc-1"). One server only: a list ("a:11211,b:11211"), a URL
    /// ("http://host:11211") and an IPv6 address with a port not in brackets ("::1:11300";
    /// write "[::1]:11300") are rejected.
    /// @throws InvalidInputError naming the text and what is wrong with it.
    static ServerAddress parse(std::string_view text);

    /// "host:port" ("[v6]:port" for IPv6) or the unix path, without the alias.
    [[nodiscard]] std::string endpoint() const;
    /// The alias if set, else endpoint(): the identity rings hash and counters report.
    [[nodiscard]] std::string name() const;

    friend bool operator==(const ServerAddress&, const ServerAddress&) = default;
};

}  // namespace meta_memcache
