#pragma once

#include <meta_memcache/key.hpp>
#include <meta_memcache/request_flags.hpp>

#include <cstdint>
#include <string_view>

namespace meta_memcache {

/// The meta command of a request (the one command vocabulary of the library).
enum class MetaCommand : std::uint8_t {
    get,         ///< mg
    set,         ///< ms
    del,         ///< md
    arithmetic,  ///< ma
    noop,        ///< mn (the quiet-mode fence; no key)
};

/// The two-letter name of a command ("mg", "ms", "md", "ma", "mn").
[[nodiscard]] constexpr std::string_view command_name(MetaCommand c) noexcept {
    switch (c) {
        case MetaCommand::get:
            return "mg";
        case MetaCommand::set:
            return "ms";
        case MetaCommand::del:
            return "md";
        case MetaCommand::arithmetic:
            return "ma";
        case MetaCommand::noop:
            return "mn";
    }
    return "??";
}

/// One meta request as routers see it: views only, valid for the call that carries it.
struct Request {
    MetaCommand command = MetaCommand::get;
    KeyView key{};
    std::string_view value{};  ///< the bytes to store (ms only)
    RequestFlags flags{};
};

/// True for the requests whose failure `on_write_failure` reports: every ms and md, and an
/// mg that touches with 0 < T <= 50 (a short touch is used as a soft invalidation).
[[nodiscard]] constexpr bool is_tracked_write(const Request& r) noexcept {
    switch (r.command) {
        case MetaCommand::set:
        case MetaCommand::del:
            return true;
        case MetaCommand::get:
            return r.flags.cache_ttl && *r.flags.cache_ttl > 0 && *r.flags.cache_ttl <= 50;
        case MetaCommand::arithmetic:
        case MetaCommand::noop:
            return false;
    }
    return false;
}

}  // namespace meta_memcache
