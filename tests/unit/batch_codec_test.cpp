// The batch codec without a socket: every canned exchange is fed whole, at every split
// point into two reads, one byte at a time, and with a read buffer too small for its
// values; every way must give the same results, in request order.

#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/impl/io/one_key.hpp>

#include "catch.hpp"
#include "codec_harness.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace meta_memcache;
using detail::BatchDecoder;
using detail::ResponseCode;

namespace {

using Outcome = mmtest::CodecOutcome;

/// The exchange played by the harness; its broken invariants (none expected) come back in
/// `problems` and are checked by the caller.
Outcome exchange(const std::vector<Request>& reqs,
                 std::string_view stream,
                 std::size_t capacity,
                 const std::vector<std::size_t>& cuts,
                 unsigned fences = 0) {
    return mmtest::feed_exchange(reqs, stream, capacity, cuts, fences);
}

/// Checks one way of feeding: no broken invariant, and the outcome expected.
void check_feed(const Outcome& got, const Outcome& expected) {
    CHECK(got.problems == std::vector<std::string>{});
    CHECK(got == expected);
}

/// Every way of feeding `stream` gives `expected`.
void check_every_split(const std::vector<Request>& reqs,
                       std::string_view stream,
                       const Outcome& expected,
                       unsigned fences = 0) {
    for (std::size_t capacity : {std::size_t{4096}, std::size_t{80}, std::size_t{64}}) {
        INFO("capacity " << capacity);
        check_feed(exchange(reqs, stream, capacity, {}, fences), expected);  // whole
        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            INFO("split at " << cut);
            check_feed(exchange(reqs, stream, capacity, {cut}, fences), expected);
        }
        std::vector<std::size_t> bytes;  // one byte at a time
        for (std::size_t k = 1; k <= stream.size(); ++k)
            bytes.push_back(k);
        INFO("one byte at a time");
        check_feed(exchange(reqs, stream, capacity, bytes, fences), expected);
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
    return Outcome{std::move(events), "done", left, deferred, {}};
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
            check_feed(exchange({mg("a"), mg("b")}, stream, capacity, {cut}), whole);
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
                0,
                {}});
    // The one CLIENT_ERROR memcached answers in step: incr of a non-number.
    Request ma{MetaCommand::arithmetic, KeyView("n"), {}, {}};
    check_every_split(
        {ma, mg("b")}, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nEN\r\n",
        done({"0 fail CLIENT_ERROR cannot increment or decrement non-numeric value @srv", "1 EN"}));
}

TEST_CASE("protocol errors desync the batch and fail every unanswered request", "[codec]") {
    const auto desync = [](std::string why, std::vector<std::string> events) {
        return Outcome{std::move(events), "desync: " + why, 0, 0, {}};
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
    mmtest::CodecRecorder sink(1);
    std::vector<Request> reqs{mg("a")};
    d.start(reqs, nullptr, 1, 0, 100, detail::ParserLimits{}, "srv");
    const auto fed = d.feed("VA 101\r\n", 4096, sink);
    CHECK(fed.status == BatchDecoder::Status::desync);
    CHECK(d.error() == "VA of 101 bytes is over the item size limit (max_item_size 100)");
}

TEST_CASE("a trailing tracked quiet write is awaited when asked, and its error reported",
          "[codec]") {
    std::vector<Request> reqs{ms("a", "v", true)};
    for (const bool await : {false, true}) {
        BatchDecoder d;
        mmtest::CodecRecorder sink(1);
        d.start(reqs, nullptr, 1, 0, 1 << 20, detail::ParserLimits{}, "srv", await);
        CHECK(d.done() == !await);  // deferred: nothing to read now
        if (!await)
            continue;
        const auto fed = d.feed("SERVER_ERROR object too large for cache\r\nMN\r\n", 4096, sink);
        CHECK(fed.status == BatchDecoder::Status::done);
        CHECK(d.finish_deferred(sink) == 0);  // no fence left for the next batch
        CHECK(sink.all() ==
              std::vector<std::string>{"0 fail SERVER_ERROR object too large for cache @srv"});
    }
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
    mmtest::CodecRecorder sink(4);
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

namespace {

/// What the batch encoder writes for `r` (the general path's bytes).
std::string general_bytes(const Request& r, std::string_view prefix) {
    detail::WriteBuffer wb;
    detail::encode(r, prefix, wb, detail::validate(r, prefix, 1024 * 1024));
    wb.finish();
    return std::string(wb.data(), wb.total());
}

}  // namespace

TEST_CASE("the one-key path writes the general encoder's bytes for a plain get and set",
          "[codec][one-key]") {
    const std::string binary("k\x01y\xff", 4);
    const std::vector<std::string> keys = {"k",
                                           "seven77",
                                           "eight888",
                                           "sixteen-bytes-16",
                                           "seventeen-bytes-1",
                                           std::string(32, 'a'),
                                           std::string(33, 'b'),
                                           "with space",
                                           binary,
                                           std::string(186, 'c'),
                                           std::string(187, 'd'),
                                           std::string(250, 'e')};
    const detail::LineTail tail = detail::LineTail::of_read(detail::plain_read_flags());
    for (const std::string_view prefix : {std::string_view(), std::string_view("app:")}) {
        for (const std::string& key : keys) {
            CAPTURE(prefix, key);
            std::array<char, detail::max_request_line> line{};
            char* end = detail::put_plain_read(line.data(), prefix, key, tail);
            const Request get{
                detail::MetaCommand::get, KeyView(key), {}, detail::plain_read_flags()};
            CHECK(std::string(line.data(), static_cast<std::size_t>(end - line.data())) ==
                  general_bytes(get, prefix));
            for (const std::int64_t ttl : {std::int64_t{0}, std::int64_t{1}, detail::max_ttl}) {
                for (const std::uint32_t flag : {0U, 16U, 4294967295U}) {
                    for (const std::string& value : {std::string(), std::string(100, 'v')}) {
                        CAPTURE(ttl, flag, value.size());
                        std::string out(detail::max_request_line + value.size() + 2, '\0');
                        char* e = detail::put_plain_set(out.data(), prefix, key, value, flag, ttl);
                        RequestFlags f;
                        f.cache_ttl = ttl;
                        f.client_flag = flag;
                        const Request set{detail::MetaCommand::set, KeyView(key), value, f};
                        CHECK(std::string(out.data(), static_cast<std::size_t>(e - out.data())) ==
                              general_bytes(set, prefix));
                    }
                }
            }
        }
    }
}
