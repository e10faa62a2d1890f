// ConnectionPool::stats: the classic `stats` command over a pooled connection.
//
// Answers to earlier no_reply writes may still be on their way on the connection (their
// MN fences are counted in pending_fences); they are read and dropped first, then the
// STAT lines are collected until END.

#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/pool/pool.hpp>

#include <chrono>
#include <system_error>

namespace meta_memcache {

using detail::Clock;
using detail::IoStatus;
using Outcome = ConnectionPool::Impl::Outcome;

namespace {

/// A stats answer larger than this is a protocol error (`stats items` with every slab
/// class in use is a few tens of KiB).
constexpr std::size_t max_stats_answer = std::size_t{4} * 1024 * 1024;

void validate_group(std::string_view group) {
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

/// What went wrong while reading the answer.
struct Failure {
    errc code;
    std::string message;
    Outcome outcome;
};

/// Reads and parses the answer. Returns the failure, if any; `out` is filled on success.
std::optional<Failure> read_stats(detail::Connection& c,
                                  unsigned fences,
                                  const detail::ParserLimits& limits,
                                  Clock::time_point deadline,
                                  std::chrono::milliseconds budget,
                                  ServerStats& out) {
    std::string in(c.rbuf.data() + c.rpos, c.rend - c.rpos);
    c.rpos = c.rend = 0;
    std::size_t pos = 0;
    for (;;) {
        const std::string_view avail = std::string_view(in).substr(pos);
        if (fences > 0) {  // an earlier no_reply write's answer, or its MN fence
            detail::ResponseHeader h;
            std::string_view value;
            const auto pr = detail::parse_response(avail, h, value, limits);
            if (pr.status == detail::ParseStatus::invalid) {
                return Failure{errc::protocol_error, pr.error, Outcome::failed};
            }
            if (pr.status == detail::ParseStatus::complete) {
                pos += pr.length;
                if (h.code == detail::ResponseCode::noop)
                    --fences;
                continue;
            }
        } else if (const auto eol = avail.find("\r\n"); eol != std::string_view::npos) {
            const std::string_view line = avail.substr(0, eol);
            pos += eol + 2;
            if (line == "END") {
                return std::nullopt;
            }
            if (line.substr(0, 5) == "STAT ") {
                const std::string_view rest = line.substr(5);
                const auto space = rest.find(' ');
                out.entries.emplace_back(std::string(rest.substr(0, space)),
                                         space == std::string_view::npos
                                             ? std::string()
                                             : std::string(rest.substr(space + 1)));
                continue;
            }
            if (line == "ERROR" || line.substr(0, 6) == "ERROR " ||
                line.substr(0, 13) == "CLIENT_ERROR " || line.substr(0, 13) == "SERVER_ERROR ") {
                const errc code =
                    line.substr(0, 13) == "SERVER_ERROR " ? errc::server_error : errc::client_error;
                return Failure{code, "stats: " + std::string(line), Outcome::ok};
            }
            return Failure{errc::protocol_error,
                           "stats: unexpected line \"" + std::string(line.substr(0, 64)) + "\"",
                           Outcome::failed};
        }
        // Not a whole answer (or line) yet: read more.
        if (in.size() > max_stats_answer) {
            return Failure{errc::protocol_error, "stats: answer over 4 MiB", Outcome::failed};
        }
        in.erase(0, pos);
        pos = 0;
        const detail::IoResult r = c.read_more(in, deadline);
        if (r.status == IoStatus::would_block) {
            return Failure{
                errc::timeout,
                "stats: no complete answer within " + std::to_string(budget.count()) + " ms",
                Outcome::timed_out};
        }
        if (r.status != IoStatus::ok) {
            return Failure{
                errc::connection_closed,
                std::string("stats: read failed: ") +
                    (r.status == IoStatus::eof ? "connection closed"
                                               : std::generic_category().message(r.error)),
                Outcome::failed};
        }
    }
}

}  // namespace

ServerStats ConnectionPool::stats(std::string_view group) {
    validate_group(group);
    Impl& p = *impl_;
    Impl::Lease lease = p.acquire_or_throw(p.options.recv_timeout);
    const Clock::time_point deadline = Clock::now() + p.options.recv_timeout;
    detail::Connection& c = *lease.conn;
    const unsigned fences = c.pending_fences;
    c.pending_fences = 0;

    const std::string request =
        group.empty() ? std::string("stats\r\n") : "stats " + std::string(group) + "\r\n";
    ServerStats out;
    std::optional<Failure> failure;
    const detail::IoResult w = c.write_all(request, deadline);
    if (w.status == IoStatus::would_block) {
        failure =
            Failure{errc::timeout, "stats: could not send within the deadline", Outcome::timed_out};
    } else if (w.status != IoStatus::ok) {
        failure = Failure{errc::connection_closed, "stats: write failed", Outcome::failed};
    } else {
        failure = read_stats(c, fences, p.limits, deadline, p.options.recv_timeout, out);
    }
    if (!failure) {
        lease.done(Outcome::ok);
        return out;
    }
    lease.done(failure->outcome, failure->message);
    throw_error(failure->code, failure->message, p.name);
}

}  // namespace meta_memcache
