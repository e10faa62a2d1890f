#include <meta_memcache/detail/response_parser.hpp>

#include "catch.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace meta_memcache;
using detail::ParseStatus;
using detail::ResponseCode;
using detail::ResponseHeader;

namespace {

struct Parsed {
    ResponseHeader h;
    std::string value;
    std::size_t length = 0;
};

Parsed parse_all(std::string_view in, const detail::ParserLimits& limits = {}) {
    Parsed p;
    std::string_view v;
    const auto r = detail::parse_response(in, p.h, v, limits);
    REQUIRE(r.status == ParseStatus::complete);
    p.value = std::string(v);
    p.length = r.length;
    return p;
}

/// Feeds `stream` one byte at a time, as a socket might deliver it, and returns every
/// response parsed (incomplete until the last byte of each).
std::vector<Parsed> parse_split(std::string_view stream, std::size_t chunk) {
    std::vector<Parsed> out;
    std::string buf;
    std::size_t fed = 0;
    while (fed < stream.size() || !buf.empty()) {
        if (fed < stream.size()) {
            const std::size_t n = std::min(chunk, stream.size() - fed);
            buf.append(stream.substr(fed, n));
            fed += n;
        }
        for (;;) {
            Parsed p;
            std::string_view v;
            const auto r = detail::parse_response(buf, p.h, v);
            REQUIRE(r.status != ParseStatus::invalid);
            if (r.status == ParseStatus::incomplete)
                break;
            p.value = std::string(v);
            p.length = r.length;
            out.push_back(p);
            buf.erase(0, r.length);
        }
        if (fed == stream.size() && !buf.empty()) {
            FAIL("bytes left over: " << buf);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("every response code parses", "[parser]") {
    CHECK(parse_all("HD\r\n").h.code == ResponseCode::header);
    CHECK(parse_all("EN\r\n").h.code == ResponseCode::miss);
    CHECK(parse_all("NF\r\n").h.code == ResponseCode::not_found);
    CHECK(parse_all("NS\r\n").h.code == ResponseCode::not_stored);
    CHECK(parse_all("EX\r\n").h.code == ResponseCode::exists);
    CHECK(parse_all("MN\r\n").h.code == ResponseCode::noop);
    const auto me = parse_all("ME mekey exp=-100 la=0 cas=87 fetch=no cls=1 size=71\r\n");
    CHECK(me.h.code == ResponseCode::debug);
    CHECK(me.h.message == "mekey exp=-100 la=0 cas=87 fetch=no cls=1 size=71");
    const auto va = parse_all("VA 5 f42 t100 s5 c2 kk1 h0 l0 Oabc\r\nhello\r\n");
    CHECK(va.h.code == ResponseCode::value);
    CHECK(va.value == "hello");
    CHECK(va.length == 43);
}

TEST_CASE("error lines carry their message", "[parser]") {
    const auto ce = parse_all("CLIENT_ERROR bad command line format\r\n");
    CHECK(ce.h.code == ResponseCode::client_error);
    CHECK(ce.h.message == "bad command line format");
    const auto se = parse_all("SERVER_ERROR object too large for cache\r\n");
    CHECK(se.h.code == ResponseCode::server_error);
    CHECK(se.h.message == "object too large for cache");
    CHECK(parse_all("ERROR\r\n").h.code == ResponseCode::error);
}

TEST_CASE("every response flag lands in ResponseFlags", "[parser]") {
    const auto p =
        parse_all("VA 5 f42 t100 s5 c18446744073709551615 kk1 h1 l7 Oabc Z X W\r\nhello\r\n");
    const ResponseFlags& f = p.h.flags;
    CHECK(f.client_flag == 42u);
    CHECK(f.ttl == 100);
    CHECK(f.real_size == 5u);
    CHECK(f.cas_token == 18446744073709551615ull);
    CHECK(p.h.key == "k1");
    CHECK(f.fetched == true);
    CHECK(f.last_access == 7u);
    REQUIRE(f.opaque);
    CHECK(f.opaque->view() == "abc");
    CHECK(f.stale);
    CHECK(f.win == true);  // W after Z: memcached never sends both, the last one wins
}

TEST_CASE("ttl -1 means never expires, and any negative TTL reads as -1", "[parser]") {
    CHECK(parse_all("HD t-1\r\n").h.flags.ttl == -1);
    CHECK(parse_all("HD t-100\r\n").h.flags.ttl == -1);
    CHECK(parse_all("HD t4294967177\r\n").h.flags.ttl == 4294967177LL);
}

TEST_CASE("win, lost-win and stale flags", "[parser]") {
    CHECK(parse_all("VA 0 c11 t30 W\r\n\r\n").h.flags.win == true);
    const auto z = parse_all("VA 3 c14 t30 Z X\r\nold\r\n");
    CHECK(z.h.flags.win == false);
    CHECK(z.h.flags.stale);
    CHECK_FALSE(parse_all("HD\r\n").h.flags.win.has_value());
}

TEST_CASE("a key returned with b is marked base64", "[parser]") {
    const auto p = parse_all("VA 3 kZm9v b\r\nabc\r\n");
    CHECK(p.h.key == "Zm9v");
    CHECK(p.h.key_base64);
    CHECK_FALSE(parse_all("EN knokey Oxyz\r\n").h.key_base64);
}

TEST_CASE("a value of 0 bytes is a value", "[parser]") {
    const auto p = parse_all("VA 0\r\n\r\n");
    CHECK(p.h.code == ResponseCode::value);
    CHECK(p.value.empty());
    CHECK(p.length == 8);
}

TEST_CASE("extra and trailing spaces are tolerated", "[parser]") {
    CHECK(parse_all("HD \r\n").h.code == ResponseCode::header);
    CHECK(parse_all("HD  Oxx  c5 \r\n").h.flags.cas_token == 5u);
    CHECK(parse_all("EN O1\r\n").h.flags.opaque->view() == "1");
}

TEST_CASE("unknown flags are skipped for forward compatibility", "[parser]") {
    const auto p = parse_all("HD Q7 c5 Yzz\r\n");
    CHECK(p.h.flags.cas_token == 5u);
}

TEST_CASE("counter values with trailing space padding parse", "[parser]") {
    std::uint64_t v = 0;
    CHECK(detail::parse_counter("5  ", v));
    CHECK(v == 5);
    CHECK(detail::parse_counter("18446744073709551615", v));
    CHECK(v == 18446744073709551615ull);
    CHECK_FALSE(detail::parse_counter("abc", v));
    CHECK_FALSE(detail::parse_counter("", v));
    CHECK_FALSE(detail::parse_counter(" 5", v));
    CHECK_FALSE(detail::parse_counter("18446744073709551616", v));
}

TEST_CASE("every canned response parses identically when split at every byte", "[parser]") {
    const std::string stream =
        "HD\r\n"
        "VA 5 f42 t100 s5 c2 kk1 h0 l0 Oabc\r\nhello\r\n"
        "EN knokey Oxyz\r\n"
        "VA 0 c11 t30 W\r\n\r\n"
        "VA 3 c14 t30 Z X\r\nold\r\n"
        "NS\r\nEX c0\r\nNF kd1 O9\r\nMN\r\n"
        "VA 7\r\na\r\nb\r\nc\r\n"  // a value containing \r\n
        "CLIENT_ERROR bad data chunk\r\n"
        "SERVER_ERROR out of memory\r\n"
        "ERROR\r\n"
        "VA 3 s3\r\n5  \r\n";
    const auto whole = parse_split(stream, stream.size());
    REQUIRE(whole.size() == 14);
    CHECK(whole[9].value == "a\r\nb\r\nc");
    CHECK(whole[13].value == "5  ");
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 13u}) {
        const auto split = parse_split(stream, chunk);
        REQUIRE(split.size() == whole.size());
        for (std::size_t i = 0; i < whole.size(); ++i) {
            CHECK(split[i].h.code == whole[i].h.code);
            CHECK(split[i].value == whole[i].value);
            CHECK(split[i].h.flags == whole[i].h.flags);
            CHECK(split[i].length == whole[i].length);
        }
    }
    // And every single split point of the whole stream into two reads.
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        std::string buf(stream.substr(0, cut));
        std::size_t got = 0;
        std::size_t fed = cut;
        for (int round = 0; round < 2; ++round) {
            for (;;) {
                ResponseHeader h;
                std::string_view v;
                const auto r = detail::parse_response(buf, h, v);
                REQUIRE(r.status != ParseStatus::invalid);
                if (r.status == ParseStatus::incomplete)
                    break;
                REQUIRE(got < whole.size());
                CHECK(h.code == whole[got].h.code);
                CHECK(std::string(v) == whole[got].value);
                ++got;
                buf.erase(0, r.length);
            }
            buf += stream.substr(fed);
            fed = stream.size();
        }
        CHECK(got == whole.size());
    }
}

TEST_CASE("each canned response is incomplete at every byte boundary until its last byte",
          "[parser]") {
    // Real answers of memcached 1.6.18 (reference transcripts), one response each.
    const char* const canned[] = {
        "HD\r\n",
        "HD c4 kk3 Oop1\r\n",
        "HD t-1\r\n",
        "HD h0 l0\r\n",
        "HD c11 t29 s0 Z\r\n",
        "VA 3\r\nbar\r\n",
        "VA 5 f42 t100 s5 c2 kk1 h0 l0 Oabc\r\nhello\r\n",
        "VA 0 c11 t30 W\r\n\r\n",
        "VA 3 c14 t30 X W\r\nold\r\n",
        "VA 3 c14 t30 Z X\r\nold\r\n",
        "VA 3 kZm9v b\r\nabc\r\n",
        "VA 1 t-1 c20\r\n6\r\n",
        "VA 3 s3\r\n5  \r\n",
        "VA 5 O1\r\nhello\r\n",
        "EN\r\n",
        "EN knokey Oxyz\r\n",
        "EN kYmluAGtlef8=\r\n",
        "NF\r\n",
        "NF kd1 O9\r\n",
        "NS\r\n",
        "EX c0\r\n",
        "EX kd1 O9\r\n",
        "MN\r\n",
        "ME mekey exp=-100 la=0 cas=87 fetch=no cls=1 size=71\r\n",
        "ERROR\r\n",
        "CLIENT_ERROR bad data chunk\r\n",
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        "SERVER_ERROR object too large for cache\r\n",
    };
    for (std::string_view full : canned) {
        INFO(full);
        const auto whole = parse_all(full);
        CHECK(whole.length == full.size());
        for (std::size_t cut = 0; cut < full.size(); ++cut) {
            // An exact-size copy, so a read past the prefix would be caught by ASan.
            const std::unique_ptr<char[]> prefix(new char[cut + 1]);
            full.copy(prefix.get(), cut);
            ResponseHeader h;
            std::string_view v;
            const auto r = detail::parse_response({prefix.get(), cut}, h, v);
            CHECK(r.status == ParseStatus::incomplete);
            CHECK(r.length == 0);
        }
        // And followed by the start of another response, it still ends where it ends.
        const std::string two = std::string(full) + "HD";
        ResponseHeader h;
        std::string_view v;
        const auto r = detail::parse_response(two, h, v);
        REQUIRE(r.status == ParseStatus::complete);
        CHECK(r.length == full.size());
        CHECK(h.code == whole.h.code);
        CHECK(h.flags == whole.h.flags);
        CHECK(std::string(v) == whole.value);
    }
}

TEST_CASE("a value block not ending in CRLF is a lying length", "[parser][malformed]") {
    ResponseHeader h;
    std::string_view v;
    auto r = detail::parse_response("VA 3\r\nhello\r\n", h, v);
    CHECK(r.status == ParseStatus::invalid);
    CHECK(std::string(r.error).find("lying length") != std::string::npos);
    r = detail::parse_response("VA 10\r\nhello\r\n", h, v);
    CHECK(r.status == ParseStatus::incomplete);  // waits: never reads past the input
    r = detail::parse_response("VA 3\r\nabc\rX", h, v);
    CHECK(r.status == ParseStatus::invalid);
    r = detail::parse_response("VA 3\r\nabc\n\r", h, v);
    CHECK(r.status == ParseStatus::invalid);
    CHECK(v.empty());
}

TEST_CASE("a huge VA size under loose limits waits for data instead of overflowing",
          "[parser][malformed]") {
    detail::ParserLimits loose;
    loose.max_value_size = std::numeric_limits<std::uint64_t>::max();
    ResponseHeader h;
    std::string_view v;
    for (const char* in :
         {"VA 18446744073709551615\r\nabc\r\n", "VA 18446744073709551614\r\nabc\r\n",
          "VA 18446744073709551613\r\n\r\n"}) {
        const auto r = detail::parse_response(in, h, v, loose);
        CHECK(r.status == ParseStatus::incomplete);
        CHECK(v.empty());
    }
}

TEST_CASE("a line without CRLF is incomplete until the limit, then an error",
          "[parser][malformed]") {
    ResponseHeader h;
    detail::ParserLimits limits;
    limits.max_line = 64;
    CHECK(detail::parse_header(std::string(63, 'H'), h, limits).status == ParseStatus::incomplete);
    const auto r = detail::parse_header(std::string(64, 'H'), h, limits);
    CHECK(r.status == ParseStatus::invalid);
    CHECK(std::string(r.error).find("longer than the limit") != std::string::npos);
    CHECK(detail::parse_header("HD\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD\r", h).status == ParseStatus::incomplete);
    CHECK(detail::parse_header("HD\r\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD c1\rc2\r\n", h).status == ParseStatus::invalid);
    // A newline past the limit is not looked for.
    CHECK(detail::parse_header(std::string(64, ' ') + "\r\n", h, limits).status ==
          ParseStatus::invalid);
    CHECK(detail::parse_header(std::string(62, ' ') + "\r\n", h, limits).status ==
          ParseStatus::invalid);  // found, but not a known code
    CHECK(detail::parse_header("HD" + std::string(60, ' ') + "\r\n", h, limits).status ==
          ParseStatus::complete);
}

TEST_CASE("unknown codes and malformed lines are protocol errors", "[parser][malformed]") {
    ResponseHeader h;
    CHECK(detail::parse_header("ZZ\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("STORED\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA abc\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA -1\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD c\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD c99999999999999999999\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD h2\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD Wx\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD f4294967296\r\n", h).status == ParseStatus::invalid);
    const std::string long_opaque = "HD O" + std::string(32, 'o') + "\r\n";      // GCC 12 -O2:
    CHECK(detail::parse_header(long_opaque, h).status == ParseStatus::invalid);  // no temporaries
    CHECK(detail::parse_header("\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("H\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("hd\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HDX\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VALUE foo 0 3\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("END\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("CLIENT_ERRORX\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("SERVER_ERRORS\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("ERRORS\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD t-\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD t-x\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD t9223372036854775808\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD l-1\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD s+5\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("HD bx\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA 5x\r\n", h).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA +5\r\n", h).status == ParseStatus::invalid);
}

TEST_CASE("error words alone or followed by a message are error lines", "[parser]") {
    ResponseHeader h;
    REQUIRE(detail::parse_header("CLIENT_ERROR\r\n", h).status == ParseStatus::complete);
    CHECK(h.code == ResponseCode::client_error);
    CHECK(h.message.empty());
    REQUIRE(detail::parse_header("SERVER_ERROR \r\n", h).status == ParseStatus::complete);
    CHECK(h.code == ResponseCode::server_error);
    CHECK(h.message.empty());
    REQUIRE(detail::parse_header("ERROR unknown\r\n", h).status == ParseStatus::complete);
    CHECK(h.code == ResponseCode::error);
    CHECK(h.message == "unknown");
}

TEST_CASE("a parse resets what the previous one left in the header", "[parser]") {
    ResponseHeader h;
    REQUIRE(detail::parse_header("VA 5 c9 kfoo b Oz W X\r\n", h).status == ParseStatus::complete);
    REQUIRE(detail::parse_header("HD\r\n", h).status == ParseStatus::complete);
    CHECK(h.code == ResponseCode::header);
    CHECK(h.value_size == 0);
    CHECK(h.flags == ResponseFlags{});
    CHECK(h.key.empty());
    CHECK_FALSE(h.key_base64);
}

TEST_CASE("a value over the configured size limit is a protocol error", "[parser][malformed]") {
    ResponseHeader h;
    detail::ParserLimits limits;
    limits.max_value_size = 100;
    CHECK(detail::parse_header("VA 100\r\n", h, limits).status == ParseStatus::complete);
    CHECK(detail::parse_header("VA 101\r\n", h, limits).status == ParseStatus::invalid);
    CHECK(detail::parse_header("VA 99999999999999999999999\r\n", h, limits).status ==
          ParseStatus::invalid);
}

TEST_CASE("too many flags on one line is a protocol error", "[parser][malformed]") {
    ResponseHeader h;
    std::string line = "HD";
    for (int i = 0; i < 32; ++i)
        line += " W";
    CHECK(detail::parse_header(line + "\r\n", h).status == ParseStatus::complete);
    CHECK(detail::parse_header(line + " W\r\n", h).status == ParseStatus::invalid);
}

namespace {

/// What parse_hit_or_miss read.
struct HitOrMiss {
    detail::ResponseCode code{};
    std::uint64_t size = 0;
    std::uint32_t flag = 0;
    std::size_t length = 0;
};

/// For every cut of each line, alone and with a 100-byte value after it, that
/// parse_hit_or_miss takes (with a place for an opaque when given one): the general parser
/// reads the same line, code, size and client flag, and check(h, read) looks further.
template <class Check>
void for_each_hit_or_miss(const std::vector<std::string>& lines,
                          std::string_view* opaque,
                          Check&& check) {
    for (const std::string& line : lines) {
        for (const std::string& tail : {std::string(), std::string(100, 'v') + "\r\n"}) {
            const std::string in = line + tail;
            for (std::size_t cut = 0; cut <= in.size(); ++cut) {
                const std::string_view part(in.data(), cut);
                CAPTURE(line, cut);
                HitOrMiss read;
                if (!detail::parser_impl::parse_hit_or_miss(part, {}, read.code, read.size,
                                                            read.flag, read.length, opaque))
                    continue;
                ResponseHeader h;
                const auto r = detail::parser_impl::parse_header_general(part, h, {});
                REQUIRE(r.status == ParseStatus::complete);
                CHECK(r.length == read.length);
                CHECK(h.code == read.code);
                if (read.code == ResponseCode::value) {
                    CHECK(h.value_size == read.size);
                    CHECK(h.flags.client_flag == read.flag);
                }
                check(h, read);
            }
        }
    }
}

}  // namespace

TEST_CASE("the hit-or-miss fast path reads EN, HD and VA <size> f<flag> as the general parser does",
          "[parser]") {
    // Lines the fast path takes, and near misses it must leave to the general parser; each
    // padded so eight bytes are readable past every number, and cut short as well.
    const std::vector<std::string> lines = {"EN\r\n",
                                            "VA 100 f0\r\n",
                                            "VA 0 f0\r\n",
                                            "VA 1234567 f9999999\r\n",
                                            "VA 12345678 f0\r\n",
                                            "VA 1 f12345678\r\n",
                                            "VA 100 f4294967295\r\n",
                                            "VA 100 f0 t-1\r\n",
                                            "VA 100 c5 f0\r\n",
                                            "VA 100\r\n",
                                            "VA  100 f0\r\n",
                                            "VA 100 f\r\n",
                                            "VA f0\r\n",
                                            "VA 1x f0\r\n",
                                            "VA 100 f0\n\r",
                                            "VA 100 f0 \r\n",
                                            "VA 1\x80 f0\r\n",
                                            "VA 1/ f0\r\n",
                                            "VA 1: f0\r\n",
                                            "HD f0\r\n",
                                            "HD\r\n",
                                            "EN \r\n",
                                            "VA 100 g0\r\n",
                                            "VA 07 f007\r\n"};
    for_each_hit_or_miss(lines, nullptr, [](const ResponseHeader& h, const HitOrMiss& read) {
        ResponseFlags only_f;
        if (read.code == ResponseCode::value)
            only_f.client_flag = read.flag;
        CHECK(h.flags == only_f);
    });
    // And the fast path does take the common lines, when eight bytes follow each number.
    detail::ResponseCode code{};
    std::uint64_t size = 0;
    std::uint32_t flag = 0;
    std::size_t length = 0;
    const std::string hit = "VA 100 f16\r\n" + std::string(100, 'v') + "\r\n";
    REQUIRE(detail::parser_impl::parse_hit_or_miss(hit, {}, code, size, flag, length));
    CHECK((code == ResponseCode::value && size == 100 && flag == 16 && length == 12));
    REQUIRE(detail::parser_impl::parse_hit_or_miss("EN\r\n", {}, code, size, flag, length));
    CHECK((code == ResponseCode::miss && length == 4));
}

TEST_CASE("the common-answer fast path reads O opaque tokens as the general parser does",
          "[parser]") {
    // The asynchronous client's answers carry an O token; near misses are left to the
    // general parser. Every line is tried whole and cut at every byte.
    const std::vector<std::string> lines = {"VA 100 f0 O1\r\n",
                                            "VA 100 O123 f7\r\n",
                                            "HD O42\r\n",
                                            "EN O9\r\n",
                                            "HD c5 O77 t10\r\n",
                                            "VA 3 O\r\n",
                                            "VA 3 O1 O2\r\n",
                                            "VA 3 Oabc\rd\r\n",
                                            "VA 3 O1\nabc\r\n",
                                            "VA 3 O1234567890123456789012345678901\r\n",
                                            "VA 3 O12345678901234567890123456789012\r\n",
                                            "VA 3 O1 \r\n",
                                            "VA 3 O1 k\r\n"};
    for (const std::string& line : lines) {
        for (std::size_t cut = 0; cut <= line.size(); ++cut) {
            const std::string_view part(line.data(), cut);
            CAPTURE(line, cut);
            ResponseHeader fast;
            std::size_t length = 0;
            if (!detail::parser_impl::parse_common(part, fast, {}, length))
                continue;
            ResponseHeader slow;
            const auto r = detail::parser_impl::parse_header_general(part, slow, {});
            REQUIRE(r.status == ParseStatus::complete);
            CHECK(r.length == length);
            CHECK(slow.code == fast.code);
            CHECK(slow.value_size == fast.value_size);
            CHECK(slow.flags == fast.flags);
        }
    }
    // The usual answer of the asynchronous client's get takes the fast path.
    ResponseHeader h;
    std::size_t length = 0;
    REQUIRE(detail::parser_impl::parse_common("VA 100 f0 O17\r\n", h, {}, length));
    REQUIRE(h.flags.opaque.has_value());
    CHECK(h.flags.opaque->view() == "17");
}

TEST_CASE(
    "the hit-or-miss fast path, given a place for an opaque, reads the O token of the "
    "pipelined client's answers as the general parser does",
    "[parser]") {
    // Only "VA <size> f<flag> O<token>", "EN O<token>" and "HD O<token>" (and the lines
    // without a token) are taken; near misses are left to the general parser. Every line
    // is tried whole and cut at every byte, with and without a value after it.
    const std::vector<std::string> lines = {"VA 100 f0 O1\r\n",
                                            "VA 100 f16 O123\r\n",
                                            "VA 5 f1234 O9\r\n",
                                            "VA 100 O123 f7\r\n",
                                            "HD O42\r\n",
                                            "EN O9\r\n",
                                            "EN\r\n",
                                            "VA 100 f0\r\n",
                                            "HD c5 O77 t10\r\n",
                                            "VA 3 f0 O\r\n",
                                            "VA 3 f0 O1 O2\r\n",
                                            "VA 3 f0 Oabc\rd\r\n",
                                            "VA 3 f0 O1\nabc\r\n",
                                            "VA 3 f0 O1234567890123456789012345678901\r\n",
                                            "VA 3 f0 O12345678901234567890123456789012\r\n",
                                            "VA 3 f0 O1 \r\n",
                                            "VA 3 f0 O1 k\r\n",
                                            "VA 3 f0 O\x7f\r\n",
                                            "EN O\r\n",
                                            "EN O1 \r\n",
                                            "HD O1 O2\r\n"};
    std::string_view opaque;
    for_each_hit_or_miss(lines, &opaque, [&](const ResponseHeader& h, const HitOrMiss&) {
        if (opaque.empty()) {
            CHECK_FALSE(h.flags.opaque.has_value());
        } else {
            REQUIRE(h.flags.opaque.has_value());
            CHECK(h.flags.opaque->view() == opaque);
        }
    });
    // The pipelined client's usual answers take it; without a place for the token, a line
    // with one does not.
    detail::ResponseCode code{};
    std::uint64_t size = 0;
    std::uint32_t flag = 0;
    std::size_t length = 0;
    const std::string hit = "VA 100 f0 O17\r\n" + std::string(100, 'v') + "\r\n";
    REQUIRE(detail::parser_impl::parse_hit_or_miss(hit, {}, code, size, flag, length, &opaque));
    CHECK((code == ResponseCode::value && size == 100 && flag == 0 && length == 15));
    CHECK(opaque == "17");
    CHECK_FALSE(detail::parser_impl::parse_hit_or_miss(hit, {}, code, size, flag, length));
    REQUIRE(
        detail::parser_impl::parse_hit_or_miss("EN O9\r\n", {}, code, size, flag, length, &opaque));
    CHECK((code == ResponseCode::miss && length == 7 && opaque == "9"));
    REQUIRE(detail::parser_impl::parse_hit_or_miss("HD O42\r\n", {}, code, size, flag, length,
                                                   &opaque));
    CHECK((code == ResponseCode::header && length == 8 && opaque == "42"));
    REQUIRE(
        detail::parser_impl::parse_hit_or_miss("HD\r\n", {}, code, size, flag, length, &opaque));
    CHECK(opaque.empty());
}
