#pragma once

#include <meta_memcache/impl/net/exchange.hpp>

#include <system_error>

namespace meta_memcache::detail {

namespace exchange_impl {

[[nodiscard]] inline bool is_error_line(std::string_view line) noexcept {
    return line == "ERROR" || line.starts_with("ERROR ") || line.starts_with("CLIENT_ERROR") ||
           line.starts_with("SERVER_ERROR");
}

[[nodiscard]] inline Exchanged failed(errc code, std::string message) {
    Exchanged out;
    out.code = code;
    out.message = std::move(message);
    return out;
}

[[nodiscard]] inline Exchanged lost(const IoResult& r,
                                    std::string_view what,
                                    std::chrono::milliseconds budget) {
    if (r.status == IoStatus::would_block) {
        return failed(errc::timeout, std::string(what) + ": no complete answer within " +
                                         std::to_string(budget.count()) + " ms");
    }
    return failed(errc::connection_closed,
                  std::string(what) + ": " +
                      (r.status == IoStatus::eof ? std::string("the server closed the connection")
                                                 : std::generic_category().message(r.error)));
}

}  // namespace exchange_impl

META_MEMCACHE_DECL std::size_t answer_length(std::string_view in, AnswerEnd end) noexcept {
    const std::size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos)
        return 0;
    const std::string_view first = in.substr(0, eol);
    if (end == AnswerEnd::line || first == "END" || exchange_impl::is_error_line(first))
        return eol + 2;
    // A payload (a CONFIG block) may hold bare \n line breaks: END starts after any \n.
    const std::size_t at = in.find("\nEND\r\n", eol);
    return at == std::string_view::npos ? 0 : at + 6;
}

META_MEMCACHE_DECL Exchanged exchange(Connection& c,
                                      std::string_view request,
                                      AnswerEnd end,
                                      Clock::time_point deadline,
                                      std::chrono::milliseconds budget,
                                      std::size_t max_size,
                                      unsigned fences,
                                      const ParserLimits& limits) {
    using exchange_impl::failed;
    using exchange_impl::lost;
    const std::string_view what = request.substr(0, request.find_first_of(" \r"));
    const IoResult w = c.write_all(request, deadline);
    if (w.status != IoStatus::ok)
        return lost(w, std::string(what) + ": write failed", budget);
    // What the read buffer still holds (answers of earlier quiet writes), then the socket.
    std::string in(c.rbuf.data() + c.rpos, c.rend - c.rpos);
    c.rpos = c.rend = 0;
    std::size_t pos = 0;
    for (;;) {
        const std::string_view avail = std::string_view(in).substr(pos);
        if (fences > 0) {  // an earlier quiet write's answer, or its MN fence
            ResponseHeader h;
            std::string_view value;
            const ParseResult pr = parse_response(avail, h, value, limits);
            if (pr.status == ParseStatus::invalid)
                return failed(errc::protocol_error, std::string(what) + ": " + pr.error);
            if (pr.status == ParseStatus::complete) {
                pos += pr.length;
                if (h.code == ResponseCode::noop)
                    --fences;
                continue;
            }
        } else if (const std::size_t n = answer_length(avail, end); n != 0) {
            // Alone on the connection, the answer is all that can come.
            if (n != avail.size()) {
                return failed(errc::protocol_error,
                              std::string(what) + ": unexpected bytes after the answer");
            }
            Exchanged out;
            out.ok = true;
            out.answer = std::string(avail);
            return out;
        }
        if (in.size() - pos > max_size) {
            return failed(errc::protocol_error, std::string(what) + ": answer over " +
                                                    std::to_string(max_size) + " bytes");
        }
        in.erase(0, pos);
        pos = 0;
        const IoResult r = c.read_more(in, deadline);
        if (r.status != IoStatus::ok)
            return lost(r, what, budget);
    }
}

}  // namespace meta_memcache::detail
