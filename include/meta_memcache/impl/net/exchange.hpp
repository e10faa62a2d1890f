#pragma once

// One classic-protocol exchange on a connection: the commands the meta protocol has no
// form of (authentication's `set auth`, `stats`, ElastiCache's `config get cluster`) are
// sent alone and their answer read to its end under one deadline. The one place that
// frames such answers; authentication, ConnectionPool::stats and the auto-discovery
// poller all go through it.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/net/connection.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meta_memcache::detail {

/// How a classic answer ends.
enum class AnswerEnd : std::uint8_t {
    line,      ///< one line ("STORED", "MN", "CLIENT_ERROR ...")
    end_line,  ///< at a line "END" ("STAT ..." lines, a VALUE or CONFIG block, or END
               ///< alone); an error line alone ends it too
};

/// How an exchange ended: the answer, or why there is none.
struct Exchanged {
    bool ok = false;
    std::string answer{};  ///< the whole answer, its last "\r\n" included
    errc code = errc::connection_closed;
    std::string message{};
    /// The connection can be reused (the answer was read to its end).
    [[nodiscard]] bool reusable() const noexcept { return ok; }
    /// The failure was the deadline.
    [[nodiscard]] bool timed_out() const noexcept { return !ok && code == errc::timeout; }
};

/// The length of the whole answer at the start of `in` that ends as `end` says, or 0 while
/// it is not all there.
[[nodiscard]] std::size_t answer_length(std::string_view in, AnswerEnd end) noexcept;

/// Sends `request` on `c`, alone, and reads its answer until `end`, before `deadline` (the
/// end of `budget`, which a timeout's message names); an answer over `max_size` bytes is a
/// protocol error. The answers to `fences` earlier quiet writes still on their way are read
/// and dropped first (meta answers, up to as many MN).
[[nodiscard]] Exchanged exchange(Connection& c,
                                 std::string_view request,
                                 AnswerEnd end,
                                 Clock::time_point deadline,
                                 std::chrono::milliseconds budget,
                                 std::size_t max_size,
                                 unsigned fences = 0,
                                 const ParserLimits& limits = {});

}  // namespace meta_memcache::detail
