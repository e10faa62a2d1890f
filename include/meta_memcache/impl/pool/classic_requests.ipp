#pragma once

// Classic-protocol requests over a pooled connection: ConnectionPool::stats and the
// pool-level exchange the auto-discovery poller uses. Each takes a connection from the
// pool (mark-down and its probe apply), runs one exchange (impl/net/exchange) under the
// pool's recv_timeout, and gives the connection back with the outcome.

#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/net/exchange.hpp>
#include <meta_memcache/impl/pool/pool.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace meta_memcache {

namespace detail::classic_impl {

/// A stats answer larger than this is a protocol error (`stats items` with every slab
/// class in use is a few tens of KiB).
inline constexpr std::size_t max_stats_answer = std::size_t{4} * 1024 * 1024;

inline void validate_group(std::string_view group) {
    if (group.size() > 32) {
        throw InvalidInputError("stats: group name longer than 32 bytes");
    }
    for (char c : group) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            throw InvalidInputError("stats: group \"" + std::string(group) +
                                    "\" must be one word of a-z, 0-9 and _");
        }
    }
    if (group == "reset") {
        throw InvalidInputError("stats: \"reset\" clears the server's counters; not a read");
    }
}

}  // namespace detail::classic_impl

META_MEMCACHE_DECL std::string ConnectionPool::Impl::classic(std::string_view request,
                                                             detail::AnswerEnd end,
                                                             std::size_t max_size) {
    // A reused connection the server had closed meanwhile fails before any answer: once
    // more then, on a fresh connection (these requests are reads, safe to send twice).
    for (bool fresh = false;; fresh = true) {
        detail::AcquireError error;
        Lease lease = acquire(options.recv_timeout, fresh, error);
        if (lease.conn == nullptr)
            throw_error(error.code, error.message, name);
        detail::Connection& c = *lease.conn;
        const unsigned fences = std::exchange(c.pending_fences, 0);
        detail::Exchanged x =
            detail::exchange(c, request, end, detail::Clock::now() + options.recv_timeout,
                             options.recv_timeout, max_size, fences, limits);
        if (x.ok) {
            lease.done(Outcome::ok);
            return std::move(x.answer);
        }
        const bool retry = !fresh && !lease.fresh && x.code == errc::connection_closed;
        lease.done(x.timed_out() ? Outcome::timed_out : Outcome::failed, x.message);
        if (!retry)
            throw_error(x.code, x.message, name);
    }
}

META_MEMCACHE_DECL ServerStats ConnectionPool::stats(std::string_view group) {
    detail::classic_impl::validate_group(group);
    const std::string request =
        group.empty() ? std::string("stats\r\n") : "stats " + std::string(group) + "\r\n";
    const std::string answer = impl_->classic(request, detail::AnswerEnd::end_line,
                                              detail::classic_impl::max_stats_answer);
    ServerStats out;
    std::string_view rest = answer;
    while (!rest.empty()) {
        const std::size_t eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        rest.remove_prefix(eol + 2);
        if (line == "END")
            break;
        if (line.starts_with("STAT ")) {
            const std::string_view stat = line.substr(5);
            const auto space = stat.find(' ');
            out.entries.emplace_back(std::string(stat.substr(0, space)),
                                     space == std::string_view::npos
                                         ? std::string()
                                         : std::string(stat.substr(space + 1)));
            continue;
        }
        if (line.starts_with("SERVER_ERROR") || line.starts_with("CLIENT_ERROR") ||
            line.starts_with("ERROR")) {
            // The server is in step: the connection went back to the pool as it was.
            throw ServerError(
                line.starts_with("SERVER_ERROR") ? errc::server_error : errc::client_error,
                "stats: " + std::string(line), impl_->name);
        }
        throw ProtocolError("stats: unexpected line \"" + std::string(line.substr(0, 64)) + "\"",
                            impl_->name);
    }
    return out;
}

META_MEMCACHE_DECL void ConnectionPool::flush_all() {
    const std::string answer = impl_->classic("flush_all\r\n", detail::AnswerEnd::line, 1024);
    if (answer != "OK\r\n") {
        throw ServerError(errc::client_error, "flush_all: " + answer.substr(0, answer.size() - 2),
                          impl_->name);
    }
}

}  // namespace meta_memcache
