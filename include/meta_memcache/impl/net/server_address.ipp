// ServerAddress: parsing "host:port alias", "[v6]:port", "unix:/path", and the names.

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/server_address.hpp>

#include <arpa/inet.h>

#include <charconv>

namespace meta_memcache {

namespace detail::server_address_impl {

[[noreturn]] inline void bad(std::string_view text, std::string_view why) {
    throw InvalidInputError("bad server address \"" + std::string(text) +
                            "\": " + std::string(why));
}

inline std::uint16_t parse_port(std::string_view text, std::string_view port) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
        bad(text, "port must be a number in 1..65535");
    }
    return static_cast<std::uint16_t>(value);
}

/// A bare IPv6 literal (a zone "%eth0" allowed), as inet_pton reads it.
inline bool is_ipv6_literal(std::string_view host) {
    const std::string address(host.substr(0, host.find('%')));
    in6_addr out{};
    return inet_pton(AF_INET6, address.c_str(), &out) == 1;
}

}  // namespace detail::server_address_impl

META_MEMCACHE_DECL ServerAddress ServerAddress::parse(std::string_view text) {
    using namespace detail::server_address_impl;
    ServerAddress a;
    std::string_view s = text;
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    if (s.empty()) {
        bad(text, "empty");
    }
    if (const auto sp = s.find(' '); sp != std::string_view::npos) {
        std::string_view alias = s.substr(sp + 1);
        while (!alias.empty() && alias.front() == ' ')
            alias.remove_prefix(1);
        if (alias.find(' ') != std::string_view::npos) {
            bad(text, "expected \"host:port alias\"; the alias cannot contain spaces");
        }
        a.alias = std::string(alias);
        s = s.substr(0, sp);
    }
    if (s.find("://") != std::string_view::npos) {
        bad(text, "a URL; give host:port, without a scheme");
    }
    if (s.substr(0, 5) == "unix:") {
        s.remove_prefix(5);
        if (s.empty())
            bad(text, "empty unix socket path");
        a.unix_path = std::string(s);
        a.port = 0;
        return a;
    }
    if (s.front() == '/') {
        a.unix_path = std::string(s);
        a.port = 0;
        return a;
    }
    if (s.find_first_of(",;") != std::string_view::npos) {
        bad(text, "a list of servers; parse each address on its own");
    }
    if (s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos)
            bad(text, "unterminated [IPv6] literal");
        a.host = std::string(s.substr(1, close - 1));
        if (a.host.empty())
            bad(text, "empty host");
        const std::string_view rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                bad(text, "expected :port after ]");
            a.port = parse_port(text, rest.substr(1));
        }
        return a;
    }
    const auto colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') != colon) {
        // Several colons without brackets: a bare IPv6 address, default port. Anything else
        // (an address with a port, say) must be bracketed to be told apart.
        if (!is_ipv6_literal(s)) {
            bad(text,
                "not an IPv6 address; an IPv6 address with a port is written [address]:port, "
                "e.g. [::1]:11211");
        }
        a.host = std::string(s);
        return a;
    }
    if (colon == std::string_view::npos) {
        a.host = std::string(s);
        return a;
    }
    a.host = std::string(s.substr(0, colon));
    if (a.host.empty())
        bad(text, "empty host");
    a.port = parse_port(text, s.substr(colon + 1));
    return a;
}

META_MEMCACHE_DECL std::string ServerAddress::endpoint() const {
    if (!unix_path.empty()) {
        return unix_path;
    }
    std::string out;
    if (host.find(':') != std::string::npos) {
        out = "[" + host + "]";
    } else {
        out = host;
    }
    out += ':';
    out += std::to_string(port);
    return out;
}

META_MEMCACHE_DECL std::string ServerAddress::name() const {
    return alias.empty() ? endpoint() : alias;
}

}  // namespace meta_memcache
