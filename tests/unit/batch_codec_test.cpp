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

/// `shape` with each of `keys`, as Requests.
std::vector<Request> each_key(const Request& shape, const std::vector<KeyView>& keys) {
    std::vector<Request> out(keys.size(), shape);
    for (std::size_t i = 0; i < keys.size(); ++i)
        out[i].key = keys[i];
    return out;
}

/// Shapes a multi-key request can take: plain, quiet, with valued flags (a line end longer
/// than the short copy), another command, and the most flags memcached takes.
std::vector<Request> shapes() {
    std::vector<Request> out;
    out.push_back(mg("-"));
    out.push_back(mg("-", true));
    Request touch = mg("-");
    touch.flags.cache_ttl = 30;
    touch.flags.recache_ttl = 2147483647;
    touch.flags.vivify_on_miss_ttl = 30;
    touch.flags.return_cas_token = true;
    touch.flags.opaque = Opaque("opaque-token-of-thirty-one-byte");
    out.push_back(touch);
    Request del{MetaCommand::del, KeyView("-"), {}, {}};
    del.flags.no_reply = true;
    out.push_back(del);
    Request all = mg("-");  // 17 flag tokens: a key sent in base64 would make 18
    for (bool* b : {&all.flags.return_cas_token, &all.flags.return_ttl, &all.flags.return_size,
                    &all.flags.return_last_access, &all.flags.return_fetched, &all.flags.return_key,
                    &all.flags.no_update_lru, &all.flags.no_reply})
        *b = true;
    all.flags.cache_ttl = 1;
    all.flags.recache_ttl = 1;
    all.flags.vivify_on_miss_ttl = 1;
    all.flags.opaque = Opaque("o");
    out.push_back(all);
    return out;
}

std::vector<KeyView> keys_of(const std::vector<std::string>& keys) {
    return {keys.begin(), keys.end()};
}

/// Keys of every length class the encoder treats apart, raw and binary, short and hashed.
std::vector<std::string> sample_keys() {
    std::vector<std::string> out = {"k", "ab", "key:7", "binary\x01", "with space", "caf\xc3\xa9"};
    for (std::size_t n :
         {7U, 8U, 9U, 15U, 16U, 17U, 28U, 31U, 32U, 33U, 64U, 186U, 187U, 200U, 250U})
        out.push_back(std::string(n, 'x') + std::to_string(n));
    out.push_back(std::string(40, 'y') + "\x7f");
    return out;
}

}  // namespace

TEST_CASE("a request shared by many keys encodes as each of its requests would", "[codec]") {
    const std::vector<std::string> owned = sample_keys();
    const std::vector<KeyView> keys = keys_of(owned);
    // A batch of some of the call's keys, out of order.
    std::vector<std::uint32_t> slots;
    for (std::size_t i = keys.size(); i-- > 0;) {
        if (i % 3 != 1)
            slots.push_back(static_cast<std::uint32_t>(i));
    }
    for (const Request& shape : shapes()) {
        for (std::string_view prefix : {std::string_view{}, std::string_view{"p:"}}) {
            INFO("flags of " << command_name(shape.command) << ", prefix '" << prefix << "'");
            const detail::SharedLine line = detail::validate_shape(shape);
            for (const std::uint32_t* batch : {static_cast<const std::uint32_t*>(nullptr),
                                               static_cast<const std::uint32_t*>(slots.data())}) {
                const std::size_t count = batch == nullptr ? keys.size() : slots.size();
                detail::WriteBuffer one_by_one;
                for (std::size_t s = 0; s < count; ++s) {
                    Request r = shape;
                    r.key = keys[batch == nullptr ? s : batch[s]];
                    detail::encode(r, prefix, one_by_one);
                }
                one_by_one.finish();
                detail::WriteBuffer shared;
                detail::encode_keys(shape, keys.data(), batch, count, prefix, shared, line);
                shared.finish();
                REQUIRE(shared.contiguous());
                CHECK(std::string_view(shared.data(), shared.total()) ==
                      std::string_view(one_by_one.data(), one_by_one.total()));
            }
        }
    }
}

TEST_CASE("a request shared by many keys is validated as each of its requests would be",
          "[codec]") {
    const std::vector<std::string> owned = sample_keys();
    for (const Request& shape : shapes()) {
        const detail::SharedLine line = detail::validate_shape(shape);
        CHECK(line.mask == detail::flag_mask(shape.flags));
        for (std::string_view prefix : {std::string_view{}, std::string_view{"p:"}}) {
            for (std::string_view key : owned) {
                Request r = shape;
                r.key = KeyView(key);
                INFO("key '" << key << "', prefix '" << prefix << "'");
                bool whole_ok = true;
                try {
                    (void)detail::validate(r, prefix, 1 << 20);
                } catch (const InvalidInputError&) {
                    whole_ok = false;
                }
                bool key_ok = true;
                try {
                    detail::validate_key(shape.command, key, prefix, line.mask);
                } catch (const InvalidInputError&) {
                    key_ok = false;
                }
                CHECK(key_ok == whole_ok);
                if (!line.check_tokens)
                    CHECK(key_ok);  // only the key's emptiness is left to check
            }
        }
    }
    CHECK_THROWS_WITH(detail::validate_key(MetaCommand::get, "", "", 0),
                      Catch::StartsWith("mg: key is empty"));
    Request bad = mg("-");
    bad.flags.cache_ttl = -1;
    CHECK_THROWS_WITH(detail::validate_shape(bad),
                      Catch::StartsWith("mg: TTL flag T is -1, outside 0..2147483647 seconds"));
    CHECK_THROWS_WITH(detail::validate_shape(ms("-", "v")),
                      Catch::StartsWith("ms: a request shared by many keys carries no value"));
}

TEST_CASE("answers to a request shared by many keys decode as answers to its requests", "[codec]") {
    const std::vector<std::string> owned = {"a", "b", "c", "d"};
    const std::vector<KeyView> keys = keys_of(owned);
    const std::string_view plain = "VA 5 f16\r\nhello\r\nEN\r\nVA 2 f0 c9\r\nhi\r\nEN\r\n";
    const std::string_view quiet = "VA 5 f16\r\nhello\r\nMN\r\nMN\r\nVA 1\r\nx\r\nMN\r\nMN\r\n";
    for (const auto& [shape, stream] :
         {std::pair{mg("-"), plain}, std::pair{mg("-", true), quiet}}) {
        const std::vector<Request> list = each_key(shape, keys);
        const detail::CallRequests shared(shape, keys);
        for (std::size_t capacity : {std::size_t{4096}, std::size_t{16}}) {
            const Outcome expected = exchange(list, stream, capacity, {});
            CHECK(expected.end == "done");
            for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
                INFO("split at " << cut);
                check_feed(mmtest::feed_exchange(shared, stream, capacity, {cut}), expected);
            }
        }
    }
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

TEST_CASE(
    "the one-key path and the pipelined client write the general encoder's bytes for a plain get "
    "and set",
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
            // With an opaque, as the pipelined client sends its plain reads.
            for (const std::string_view opaque :
                 {std::string_view("1"), std::string_view("4294967295"),
                  std::string_view("1234567890123456789012345678901")}) {
                std::array<char, detail::max_request_line + detail::plain_read_opaque_room> with{};
                char* e = detail::put_plain_read(with.data(), prefix, key, tail, opaque);
                Request tagged = get;
                tagged.flags.opaque = Opaque(opaque);
                CHECK(std::string(with.data(), static_cast<std::size_t>(e - with.data())) ==
                      general_bytes(tagged, prefix));
            }
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

TEST_CASE("a plain read's key is judged as the general validation judges it", "[codec]") {
    // validate_plain_read checks the key alone (a plain read's flags are checked once):
    // whatever validate() rejects for such a read, it rejects too, with the same error.
    const std::string binary("k\x01y\xff", 4);
    for (const std::string_view prefix : {std::string_view(), std::string_view("app:")}) {
        for (const std::string& key :
             {std::string(), std::string("k"), binary, std::string(186, 'c'), std::string(187, 'd'),
              std::string(1000, 'e'), std::string("with space")}) {
            CAPTURE(prefix, key.size());
            const Request get{
                detail::MetaCommand::get, KeyView(key), {}, detail::plain_read_flags()};
            std::string general;
            std::string plain;
            try {
                detail::validate(get, prefix, 1024 * 1024);
            } catch (const InvalidInputError& e) {
                general = e.what();
            }
            try {
                detail::validate_plain_read(get, prefix);
            } catch (const InvalidInputError& e) {
                plain = e.what();
            }
            CHECK(plain == general);
        }
    }
    CHECK_THROWS_AS(
        detail::validate_plain_read(
            Request{detail::MetaCommand::get, KeyView(""), {}, detail::plain_read_flags()}, ""),
        InvalidInputError);
}
