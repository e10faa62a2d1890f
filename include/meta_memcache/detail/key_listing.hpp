#pragma once

// The lines of a server's key listing (`lru_crawler metadump all`, memcached 1.6.18):
// "key=<URL-encoded key> exp=<Unix time or -1> la=... cas=... fetch=... cls=... size=<n>".
// Pure code on bytes, for KeyMover and dump_keys.

#include <meta_memcache/key_mover.hpp>

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

namespace meta_memcache::detail {

namespace listing_impl {

[[nodiscard]] inline int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

template <class T>
[[nodiscard]] bool parse_number(std::string_view text, T& out) noexcept {
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace listing_impl

/// Decodes memcached's URL encoding of a listed key (%XX for bytes that are not
/// alphanumerics or "-._~"); false on a bad escape.
[[nodiscard]] inline bool url_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size())
            return false;
        const int hi = listing_impl::hex_digit(in[i + 1]);
        const int lo = listing_impl::hex_digit(in[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        out.push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
    }
    return true;
}

/// Parses one item line of a metadump ("key=... exp=... la=... cas=... fetch=... cls=...
/// size=..."); false when it has no key or a malformed field.
[[nodiscard]] inline bool parse_dump_line(std::string_view line, DumpedKey& out) {
    bool has_key = false;
    while (!line.empty()) {
        const std::size_t space = line.find(' ');
        const std::string_view field = line.substr(0, space);
        line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        const std::size_t eq = field.find('=');
        if (eq == std::string_view::npos)
            continue;
        const std::string_view name = field.substr(0, eq);
        const std::string_view value = field.substr(eq + 1);
        if (name == "key") {
            if (value.empty() || !url_decode(value, out.key))
                return false;
            has_key = true;
        } else if (name == "exp") {
            if (!listing_impl::parse_number(value, out.expiry))
                return false;
        } else if (name == "size") {
            if (!listing_impl::parse_number(value, out.size))
                return false;
        }
    }
    return has_key;
}

}  // namespace meta_memcache::detail
