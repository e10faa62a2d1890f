#pragma once

// Plays a driver for the batch codec without a socket: the server's bytes arrive in pieces
// ending at chosen cut points, are read into a buffer of a chosen size (a large value
// straight into its string, as the real driver does), and fed to a BatchDecoder. Shared by
// the codec's unit tests and its fuzzer, so both drive it the way the driver does.

#include <meta_memcache/detail/batch_codec.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mmtest {

inline std::string code_name(meta_memcache::detail::ResponseCode c) {
    using meta_memcache::detail::ResponseCode;
    switch (c) {
        case ResponseCode::value:
            return "VA";
        case ResponseCode::header:
            return "HD";
        case ResponseCode::miss:
            return "EN";
        case ResponseCode::not_found:
            return "NF";
        case ResponseCode::not_stored:
            return "NS";
        case ResponseCode::exists:
            return "EX";
        case ResponseCode::noop:
            return "MN";
        default:
            return "??";
    }
}

/// Records what the codec hands out, one line per event, and what it got wrong.
class CodecRecorder final : public meta_memcache::detail::ResultSink {
public:
    explicit CodecRecorder(std::size_t requests) : outcomes_(requests, 0) {}

    void answer(std::size_t i,
                const meta_memcache::detail::ResponseHeader& h,
                std::string_view value) override {
        note(i, false);
        std::string e = std::to_string(i) + " " + code_name(h.code);
        if (h.flags.client_flag)
            e += " f" + std::to_string(*h.flags.client_flag);
        if (h.flags.cas_token)
            e += " c" + std::to_string(*h.flags.cas_token);
        if (h.code == meta_memcache::detail::ResponseCode::value) {
            e += " '" + std::string(value) + "'";
            if (value.size() != h.value_size)
                problems.push_back("a value of another size than its VA says");
        } else if (!value.empty()) {
            problems.push_back("a value with an answer that is not VA");
        }
        events.push_back(e);
    }
    std::string& large_value(std::size_t i,
                             const meta_memcache::detail::ResponseHeader& h) override {
        note(i, false);
        large.emplace_back();
        large_index.push_back(i);
        large_flag.push_back(h.flags.client_flag.value_or(0));
        large_failed.push_back(false);
        return large.back();
    }
    void fail(std::size_t i, const meta_memcache::detail::Failure& f) override {
        // A failure may follow a large value whose reading broke off; it then stands.
        bool after_large = false;
        for (std::size_t k = 0; k < large_index.size(); ++k) {
            if (large_index[k] == i && !large_failed[k]) {
                large_failed[k] = true;
                after_large = true;
            }
        }
        if (!after_large)
            note(i, true);
        events.push_back(std::to_string(i) + " fail " + std::string(f.message) + " @" +
                         std::string(f.server));
    }

    /// Every event, large values (complete only once the exchange is over) last.
    [[nodiscard]] std::vector<std::string> all() const {
        std::vector<std::string> out = events;
        for (std::size_t k = 0; k < large.size(); ++k) {
            if (large_failed[k])
                continue;
            out.push_back(std::to_string(large_index[k]) + " large f" +
                          std::to_string(large_flag[k]) + " '" + large[k] + "'");
        }
        return out;
    }
    /// Requests that got no outcome.
    [[nodiscard]] std::size_t unanswered() const {
        return static_cast<std::size_t>(std::count(outcomes_.begin(), outcomes_.end(), 0));
    }

    std::vector<std::string> events;
    std::vector<std::string> problems;  ///< broken invariants, if any

private:
    void note(std::size_t i, bool failure) {
        if (i >= outcomes_.size()) {
            problems.push_back("an outcome for a request that is not in the batch");
            return;
        }
        if (outcomes_[i] != 0)
            problems.push_back(failure ? "a failure for a request answered already"
                                       : "a second answer to one request");
        ++outcomes_[i];
    }

    std::vector<int> outcomes_;
    std::deque<std::string> large;  ///< a deque: a string being filled keeps its place
    std::vector<std::size_t> large_index;
    std::vector<std::uint32_t> large_flag;
    std::vector<bool> large_failed;
};

/// How an exchange ended.
struct CodecOutcome {
    std::vector<std::string> events;
    std::string end;  ///< "done", "desync: why" or "incomplete"
    std::size_t left = 0;
    unsigned deferred = 0;
    std::vector<std::string> problems;

    friend bool operator==(const CodecOutcome& a, const CodecOutcome& b) {
        return a.events == b.events && a.end == b.end && a.left == b.left &&
               a.deferred == b.deferred;
    }
};

inline std::ostream& operator<<(std::ostream& os, const CodecOutcome& o) {
    os << o.end << " left=" << o.left << " deferred=" << o.deferred << " [";
    for (const auto& e : o.events)
        os << e << "; ";
    return os << "]";
}

/// Feeds `stream` (the server's answers to `reqs`) arriving in pieces ending at `cuts`
/// (then the rest), read into a buffer of `capacity` bytes.
inline CodecOutcome feed_exchange(const meta_memcache::detail::CallRequests& reqs,
                                  std::string_view stream,
                                  std::size_t capacity,
                                  const std::vector<std::size_t>& cuts,
                                  unsigned fences = 0,
                                  meta_memcache::detail::ParserLimits limits = {},
                                  std::size_t max_value = 1 << 20) {
    using meta_memcache::detail::BatchDecoder;
    BatchDecoder d;
    CodecRecorder sink(reqs.size());
    limits.max_line = std::min<std::size_t>(limits.max_line, capacity);  // as pools set it
    d.start(reqs, nullptr, reqs.size(), fences, max_value, limits, "srv");
    std::string buf;
    std::size_t sock = 0;     // next stream byte the socket hands out
    std::size_t arrived = 0;  // stream bytes that have arrived
    std::size_t next_cut = 0;
    const auto arrive = [&] {
        if (arrived == stream.size())
            return false;
        arrived = next_cut < cuts.size() ? std::max(arrived, cuts[next_cut++]) : stream.size();
        arrived = std::min(arrived, stream.size());
        return true;
    };
    CodecOutcome out;
    for (;;) {
        const auto fed = d.feed(buf, capacity, sink);
        buf.erase(0, fed.consumed);
        if (fed.status == BatchDecoder::Status::done) {
            out.end = "done";
            out.deferred = d.finish_deferred(sink);
            break;
        }
        if (fed.status == BatchDecoder::Status::desync) {
            out.end = "desync: " + std::string(d.error());
            d.fail_rest(sink, meta_memcache::detail::Failure{meta_memcache::errc::protocol_error,
                                                             "desync", "srv"});
            break;
        }
        if (fed.status == BatchDecoder::Status::large) {
            if (!buf.empty())
                out.problems.push_back("a large value left bytes in the read buffer");
            while (d.reading_large() && out.end.empty()) {
                const auto target = d.large_target();
                const std::size_t n = std::min(target.size(), arrived - sock);
                if (n == 0) {
                    if (!arrive())
                        out.end = "incomplete";
                    continue;
                }
                std::memcpy(target.data(), stream.data() + sock, n);
                sock += n;
                d.large_filled(n);
            }
            if (!out.end.empty())
                break;
            continue;
        }
        if (buf.size() >= capacity) {
            out.problems.push_back("the decoder wants more with a full read buffer");
            out.end = "stuck";
            break;
        }
        std::size_t n = std::min(capacity - buf.size(), arrived - sock);
        while (n == 0) {
            if (!arrive()) {
                out.end = "incomplete";
                break;
            }
            n = std::min(capacity - buf.size(), arrived - sock);
        }
        if (n == 0)
            break;
        buf.append(stream.substr(sock, n));
        sock += n;
    }
    if (out.end == "incomplete") {
        // The stream ended first: the driver fails what is unanswered (a large value being
        // read among it), as it does when a connection closes.
        d.fail_rest(sink, meta_memcache::detail::Failure{meta_memcache::errc::connection_closed,
                                                         "closed", "srv"});
    }
    out.events = sink.all();
    // (After a desync the connection is dropped: what was left unread does not matter.)
    out.left = out.end == "done" ? buf.size() + (stream.size() - sock) : 0;
    out.problems.insert(out.problems.end(), sink.problems.begin(), sink.problems.end());
    if (sink.unanswered() != 0 && out.end != "stuck")
        out.problems.push_back("a request got no outcome");
    return out;
}

}  // namespace mmtest
