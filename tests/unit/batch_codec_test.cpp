// The batch codec without a socket: every canned exchange is fed whole, at every split
// point into two reads, one byte at a time, and with a read buffer too small for its
// values; every way must give the same results, in request order.

#include <meta_memcache/detail/batch_codec.hpp>

#include "catch.hpp"

#include <string>
#include <string_view>
#include <vector>

using namespace meta_memcache;
using detail::BatchDecoder;
using detail::ResponseCode;

namespace {

std::string code_name(ResponseCode c) {
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

/// Records what the codec hands out, one line per event.
class Recorder final : public detail::ResultSink {
public:
    void answer(std::size_t i, const detail::ResponseHeader& h, std::string_view value) override {
        std::string e = std::to_string(i) + " " + code_name(h.code);
        if (h.flags.client_flag)
            e += " f" + std::to_string(*h.flags.client_flag);
        if (h.flags.cas_token)
            e += " c" + std::to_string(*h.flags.cas_token);
        if (h.code == ResponseCode::value)
            e += " '" + std::string(value) + "'";
        events.push_back(e);
    }
    std::string& large_value(std::size_t i, const detail::ResponseHeader& h) override {
        large.emplace_back();
        large_index.push_back(i);
        large_flag.push_back(h.flags.client_flag.value_or(0));
        return large.back();
    }
    void fail(std::size_t i, const detail::Failure& f) override {
        events.push_back(std::to_string(i) + " fail " + std::string(f.message) + " @" +
                         std::string(f.server));
    }

    /// Large values become events once the exchange is over (their bytes are read after
    /// large_value() returns).
    std::vector<std::string> all() const {
        std::vector<std::string> out = events;
        for (std::size_t k = 0; k < large.size(); ++k) {
            out.push_back(std::to_string(large_index[k]) + " large f" +
                          std::to_string(large_flag[k]) + " '" + large[k] + "'");
        }
        return out;
    }

    std::vector<std::string> events;
    std::vector<std::string> large;  // deque-like: strings are not moved after a reference
    std::vector<std::size_t> large_index;
    std::vector<std::uint32_t> large_flag;
};

struct Outcome {
    std::vector<std::string> events;
    std::string end;  ///< "done", "desync: why" or "incomplete"
    std::size_t left = 0;
    unsigned deferred = 0;

    friend bool operator==(const Outcome&, const Outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    os << o.end << " left=" << o.left << " deferred=" << o.deferred << " [";
    for (const auto& e : o.events)
        os << e << "; ";
    return os << "]";
}

/// Plays a driver: the server's `stream` arrives in pieces ending at `cuts` (then the
/// rest), is read into a buffer of `capacity` bytes (large values straight into their
/// string), and fed to the decoder.
Outcome exchange(const std::vector<Request>& reqs,
                 std::string_view stream,
                 std::size_t capacity,
                 const std::vector<std::size_t>& cuts,
                 unsigned fences = 0) {
    BatchDecoder d;
    Recorder sink;
    // Large-value strings must not move while being filled.
    sink.large.reserve(reqs.size());
    detail::ParserLimits limits;
    limits.max_line = std::min<std::size_t>(limits.max_line, capacity);  // as pools set it
    d.start(reqs, nullptr, reqs.size(), fences, 1 << 20, limits, "srv");
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
    Outcome out;
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
            d.fail_rest(sink, detail::Failure{errc::protocol_error, "desync", "srv"});
            break;
        }
        if (fed.status == BatchDecoder::Status::large) {
            REQUIRE(buf.empty());
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
        REQUIRE(buf.size() < capacity);  // "more" always leaves room to read into
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
    out.events = sink.all();
    // (After a desync the connection is dropped: what was left unread does not matter.)
    out.left = out.end == "done" ? buf.size() + (stream.size() - sock) : 0;
    return out;
}

/// Every way of feeding `stream` gives `expected`.
void check_every_split(const std::vector<Request>& reqs,
                       std::string_view stream,
                       const Outcome& expected,
                       unsigned fences = 0) {
    for (std::size_t capacity : {std::size_t{4096}, std::size_t{80}, std::size_t{64}}) {
        INFO("capacity " << capacity);
        CHECK(exchange(reqs, stream, capacity, {}, fences) == expected);  // whole
        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            INFO("split at " << cut);
            CHECK(exchange(reqs, stream, capacity, {cut}, fences) == expected);
        }
        std::vector<std::size_t> bytes;  // one byte at a time
        for (std::size_t k = 1; k <= stream.size(); ++k)
            bytes.push_back(k);
        INFO("one byte at a time");
        CHECK(exchange(reqs, stream, capacity, bytes, fences) == expected);
    }
}

Request mg(std::string_view key, bool quiet = false) {
    Request r{MetaCommand::get, KeyView(key), {}, {}};
    r.flags.return_value = true;
    r.flags.return_client_flag = true;
    r.flags.no_reply = quiet;
    return r;
}

Request ms(std::string_view key, std::string_view value, bool quiet = false) {
    Request r{MetaCommand::set, KeyView(key), value, {}};
    r.flags.no_reply = quiet;
    return r;
}

Outcome done(std::vector<std::string> events, std::size_t left = 0, unsigned deferred = 0) {
    return Outcome{std::move(events), "done", left, deferred};
}

}  // namespace

TEST_CASE("a hit, a miss and a stored set come back in request order at every split", "[codec]") {
    check_every_split({mg("a"), mg("b"), ms("c", "xyz")}, "VA 5 f16\r\nhello\r\nEN\r\nHD c77\r\n",
                      done({"0 VA f16 'hello'", "1 EN", "2 HD c77"}));
}

TEST_CASE("a value larger than the read buffer is read straight into the caller's string",
          "[codec]") {
    const std::string big(300, 'q');
    const std::string stream = "VA 300 f2\r\n" + big + "\r\nVA 2\r\nhi\r\n";
    // capacity 80 and 64 make the first value large; 4096 holds it in the buffer.
    for (std::size_t capacity : {std::size_t{80}, std::size_t{64}}) {
        const Outcome whole = exchange({mg("a"), mg("b")}, stream, capacity, {});
        CHECK(whole == done({"1 VA '" + std::string("hi") + "'", "0 large f2 '" + big + "'"}));
        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            INFO("capacity " << capacity << " split at " << cut);
            CHECK(exchange({mg("a"), mg("b")}, stream, capacity, {cut}) == whole);
        }
    }
    CHECK(exchange({mg("a"), mg("b")}, stream, 4096, {}) ==
          done({"0 VA f2 '" + big + "'", "1 VA 'hi'"}));
}

TEST_CASE("quiet requests: silence is the nominal result, an answer comes before its fence",
          "[codec]") {
    // mg q miss (MN only), mg q hit (VA then MN), ms q not stored (NS then MN), then a
    // normal mg.
    check_every_split({mg("a", true), mg("b", true), ms("c", "v", true), mg("d")},
                      "MN\r\nVA 1 f0\r\nx\r\nMN\r\nNS\r\nMN\r\nEN\r\n",
                      done({"0 EN", "1 VA f0 'x'", "2 NS", "3 EN"}));
}

TEST_CASE("trailing quiet writes are not waited for: their fences go to the next batch",
          "[codec]") {
    const Outcome o =
        exchange({mg("a"), ms("b", "v", true), ms("c", "w", true)}, "EN\r\n", 4096, {});
    CHECK(o == done({"0 EN", "1 HD", "2 HD"}, 0, 2));
    // The next batch on the connection drains those two fences (and what came before them)
    // before its own answer.
    check_every_split({mg("d")}, "NS\r\nMN\r\nMN\r\nVA 2\r\nok\r\n", done({"0 VA 'ok'"}), 2);
}

TEST_CASE("SERVER_ERROR fails its request only; the connection stays in step", "[codec]") {
    check_every_split({ms("a", "v"), mg("b")},
                      "SERVER_ERROR out of memory storing object\r\nEN\r\n",
                      done({"0 fail SERVER_ERROR out of memory storing object @srv", "1 EN"}));
    // A quiet write's SERVER_ERROR comes before its fence.
    check_every_split({ms("a", "v", true), mg("b")},
                      "SERVER_ERROR object too large for cache\r\nMN\r\nEN\r\n",
                      done({"0 fail SERVER_ERROR object too large for cache @srv", "1 EN"}));
}

TEST_CASE("CLIENT_ERROR fails its request and desyncs the rest", "[codec]") {
    check_every_split(
        {mg("a"), mg("b")}, "CLIENT_ERROR bad command line format\r\n",
        Outcome{{"0 fail CLIENT_ERROR bad command line format @srv", "1 fail desync @srv"},
                "desync: connection out of step after \"CLIENT_ERROR bad command line format\"",
                0,
                0});
    // The one CLIENT_ERROR memcached answers in step: incr of a non-number.
    Request ma{MetaCommand::arithmetic, KeyView("n"), {}, {}};
    check_every_split(
        {ma, mg("b")}, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nEN\r\n",
        done({"0 fail CLIENT_ERROR cannot increment or decrement non-numeric value @srv", "1 EN"}));
}

TEST_CASE("protocol errors desync the batch and fail every unanswered request", "[codec]") {
    const auto desync = [](std::string why, std::vector<std::string> events) {
        return Outcome{std::move(events), "desync: " + why, 0, 0};
    };
    check_every_split({mg("a"), mg("b")}, "VA 3\r\nhello\r\n",
                      desync("value block not followed by \\r\\n (lying length)",
                             {"0 fail desync @srv", "1 fail desync @srv"}));
    check_every_split({mg("a")}, "XX\r\n", desync("unknown response code", {"0 fail desync @srv"}));
    check_every_split({ms("a", "v"), mg("b")}, "HD\r\nNS\r\n",
                      desync("unexpected answer to mg", {"0 HD", "1 fail desync @srv"}));
    check_every_split({mg("a", true)}, "VA 1\r\nx\r\nHD\r\n",
                      desync("expected MN after a quiet request's answer", {"0 VA 'x'"}));
    check_every_split({ms("a", "v")}, "EN\r\n",
                      desync("unexpected answer to ms", {"0 fail desync @srv"}));
}

TEST_CASE("bytes after the last answer are left for the driver to judge", "[codec]") {
    check_every_split({mg("a")}, "EN\r\nHD\r\n", done({"0 EN"}, 4));
}

TEST_CASE("a value over max_item_size is a desync, before any of it is buffered", "[codec]") {
    BatchDecoder d;
    Recorder sink;
    std::vector<Request> reqs{mg("a")};
    d.start(reqs, nullptr, 1, 0, 100, detail::ParserLimits{}, "srv");
    const auto fed = d.feed("VA 101\r\n", 4096, sink);
    CHECK(fed.status == BatchDecoder::Status::desync);
    CHECK(d.error() == "VA of 101 bytes is over the item size limit (max_item_size 100)");
}

TEST_CASE("a counter, a delete and an mn answer their commands", "[codec]") {
    Request ma{MetaCommand::arithmetic, KeyView("n"), {}, {}};
    ma.flags.return_value = true;
    Request md{MetaCommand::del, KeyView("k"), {}, {}};
    Request mn{MetaCommand::noop, {}, {}, {}};
    check_every_split({ma, md, mn}, "VA 2\r\n42\r\nNF\r\nMN\r\n",
                      done({"0 VA '42'", "1 NF", "2 MN"}));
}

TEST_CASE("a batch routed from a call's slots reports the call's indices", "[codec]") {
    std::vector<Request> call{mg("x"), mg("a"), mg("y"), mg("b")};
    const std::uint32_t slots[] = {1, 3};
    BatchDecoder d;
    Recorder sink;
    d.start(call, slots, 2, 0, 1 << 20, detail::ParserLimits{}, "srv");
    const auto fed = d.feed("VA 1\r\n1\r\nEN\r\n", 4096, sink);
    CHECK(fed.status == BatchDecoder::Status::done);
    CHECK(sink.all() == std::vector<std::string>{"1 VA '1'", "3 EN"});
}

TEST_CASE("encoding writes lines, values and fences; large values stay in place", "[codec]") {
    detail::WriteBuffer wb;
    Request get = mg("k");
    Request set = ms("k", "abc", true);
    detail::encode(get, "p:", wb);
    detail::encode(set, "", wb);
    wb.finish();
    REQUIRE(wb.contiguous());
    CHECK(std::string_view(wb.data(), wb.total()) == "mg p:k f v\r\nms k 3 q\r\nabc\r\nmn\r\n");

    wb.clear();
    const std::string big(detail::copy_value_threshold + 1, 'z');
    detail::encode(ms("big", big), "", wb);
    detail::encode(mg("k"), "", wb);
    wb.finish();
    const auto segs = wb.segments();
    REQUIRE(segs.size() == 3);
    CHECK(std::string_view(wb.data() + segs[0].offset, segs[0].size) == "ms big 16385\r\n");
    CHECK(segs[1].ext == big.data());
    CHECK(segs[1].size == big.size());
    CHECK(std::string_view(wb.data() + segs[2].offset, segs[2].size) == "\r\nmg k f v\r\n");
}

TEST_CASE("validation names the problem before anything is encoded", "[codec]") {
    CHECK_THROWS_WITH(detail::validate(mg(""), "", 1 << 20), Catch::StartsWith("mg: key is empty"));
    Request bad = mg("k");
    bad.flags.cache_ttl = -1;
    CHECK_THROWS_WITH(detail::validate(bad, "", 1 << 20),
                      Catch::StartsWith("mg: TTL flag T is -1, outside 0..2147483647 seconds"));
    const std::string value(2000, 'v');
    CHECK_THROWS_WITH(detail::validate(ms("k", value), "", 1024),
                      Catch::Contains("ms: value of 2000 bytes is over the item size limit"));
    Request carries = mg("k");
    carries.value = "x";
    CHECK_THROWS_WITH(detail::validate(carries, "", 1 << 20),
                      Catch::StartsWith("mg: only ms carries a value"));
    CHECK_NOTHROW(detail::validate(ms("k", "v"), "", 1 << 20));
}
