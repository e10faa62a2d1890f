// The sans-io protocol core against a real memcached 1.6.18: requests are the bytes our
// encoder produces, sent on a plain socket; answers are read and parsed by our parser.
// No CacheClient, no pool: this checks the wire format itself.

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

using namespace meta_memcache;
using detail::MetaCommand;
using detail::ResponseCode;

namespace {

/// One parsed answer, copied out of the read buffer.
struct Answer {
    ResponseCode code = ResponseCode::error;
    ResponseFlags flags;
    std::string key;  ///< the k flag, raw
    bool key_base64 = false;
    std::string value;
    std::string message;
};

/// A raw TCP connection to a test server: sends bytes, parses answers one at a time.
class RawConnection {
public:
    explicit RawConnection(const mmtest::MemcachedServer& server)
        : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(server.port());
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            throw std::runtime_error("cannot connect to the test server");
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawConnection() { ::close(fd_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0)
                throw std::runtime_error("send failed");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// Reads until one whole answer is parsed (2 s at most).
    Answer read() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (;;) {
            detail::ResponseHeader h;
            std::string_view v;
            const auto r = detail::parse_response(buf_, h, v);
            if (r.status == detail::ParseStatus::invalid) {
                throw std::runtime_error(std::string("protocol error: ") + r.error);
            }
            if (r.status == detail::ParseStatus::complete) {
                Answer a{h.code,       h.flags,        std::string(h.key),
                         h.key_base64, std::string(v), std::string(h.message)};
                buf_.erase(0, r.length);
                return a;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                throw std::runtime_error("no answer within 2 s; buffered: " + buf_);
            }
            char chunk[65536];
            const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0)
                throw std::runtime_error("connection closed");
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    Answer call(std::string_view request) {
        send(request);
        return read();
    }

    /// Bytes received but not yet parsed.
    [[nodiscard]] const std::string& pending() const noexcept { return buf_; }

private:
    int fd_;
    std::string buf_;
};

/// The bytes our encoder produces for `cmd` on `key` (and, for ms, the value block).
std::string request(MetaCommand cmd,
                    const detail::WireKey& key,
                    const RequestFlags& f = {},
                    std::string_view value = {},
                    std::size_t max_value_size = detail::max_datalen) {
    char line[detail::max_request_line];
    const std::size_t n = detail::encode_request(line, cmd, key, f, value.size(), max_value_size);
    std::string out(line, n);
    if (cmd == MetaCommand::set) {
        out.append(value);
        out.append("\r\n");
    }
    return out;
}

detail::WireKey wire(std::string_view key) {
    detail::WireKey w;
    detail::encode_key(key, w);
    return w;
}

std::string mg(std::string_view key, const RequestFlags& f = {}) {
    return request(MetaCommand::get, wire(key), f);
}
std::string ms(std::string_view key, std::string_view value, const RequestFlags& f = {}) {
    return request(MetaCommand::set, wire(key), f, value);
}
std::string md(std::string_view key, const RequestFlags& f = {}) {
    return request(MetaCommand::del, wire(key), f);
}
std::string ma(std::string_view key, const RequestFlags& f = {}) {
    return request(MetaCommand::arithmetic, wire(key), f);
}
std::string mn() {
    return request(MetaCommand::noop, detail::WireKey{});
}

RequestFlags value_cas_ttl() {
    RequestFlags f;
    f.return_value = true;
    f.return_cas_token = true;
    f.return_ttl = true;
    return f;
}

std::string decoded(std::string_view base64) {
    std::string out;
    REQUIRE(detail::base64_decode(base64, out));
    return out;
}

}  // namespace

TEST_CASE("mg answers with every flag it takes from memcached", "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("mg");
    RequestFlags set;
    set.client_flag = 42;
    set.cache_ttl = 100;
    REQUIRE(c.call(ms(key, "hello", set)).code == ResponseCode::header);

    RequestFlags all;
    all.return_client_flag = all.return_cas_token = all.return_value = all.return_ttl = true;
    all.return_size = all.return_last_access = all.return_fetched = all.return_key = true;
    all.opaque = Opaque(std::string(31, 'o'));
    const Answer hit = c.call(mg(key, all));
    CHECK(hit.code == ResponseCode::value);
    CHECK(hit.value == "hello");
    CHECK(hit.flags.client_flag == 42u);
    REQUIRE(hit.flags.cas_token.has_value());
    CHECK(*hit.flags.cas_token > 0);
    REQUIRE(hit.flags.ttl.has_value());
    CHECK(*hit.flags.ttl > 90);
    CHECK(*hit.flags.ttl <= 100);
    CHECK(hit.flags.real_size == 5u);
    CHECK(hit.flags.last_access.has_value());
    CHECK(hit.flags.fetched == false);
    CHECK(hit.key == key);
    CHECK_FALSE(hit.key_base64);
    REQUIRE(hit.flags.opaque.has_value());
    CHECK(hit.flags.opaque->view() == std::string(31, 'o'));
    CHECK_FALSE(hit.flags.win.has_value());

    // No flags: a bare HD on a hit (1.6.18). q does not hide a hit.
    const Answer bare = c.call(mg(key));
    CHECK(bare.code == ResponseCode::header);
    CHECK(bare.flags == ResponseFlags{});
    RequestFlags quiet;
    quiet.no_reply = true;
    quiet.return_value = true;
    CHECK(c.call(mg(key, quiet)).value == "hello");

    // t comes before T on our wire, so it reports the TTL before the touch.
    RequestFlags touch;
    touch.return_ttl = true;
    touch.cache_ttl = 500;
    const Answer touched = c.call(mg(key, touch));
    CHECK(touched.code == ResponseCode::header);
    REQUIRE(touched.flags.ttl.has_value());
    CHECK(*touched.flags.ttl <= 100);
    RequestFlags ttl;
    ttl.return_ttl = true;
    const Answer after = c.call(mg(key, ttl));
    REQUIRE(after.flags.ttl.has_value());
    CHECK(*after.flags.ttl > 490);

    // A miss echoes k and O; with q it is silent until the mn fence.
    RequestFlags miss;
    miss.return_value = true;
    miss.return_key = true;
    miss.opaque = Opaque("xyz");
    const std::string missing = mmtest::unique_key("nokey");
    const Answer en = c.call(mg(missing, miss));
    CHECK(en.code == ResponseCode::miss);
    CHECK(en.key == missing);
    CHECK(en.flags.opaque->view() == "xyz");
    miss.no_reply = true;
    c.send(mg(missing, miss) + mn());
    CHECK(c.read().code == ResponseCode::noop);
}

TEST_CASE("mg u leaves the fetched state alone and R hands out one recache win",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("h");
    REQUIRE(c.call(ms(key, "x")).code == ResponseCode::header);
    RequestFlags hl;
    hl.return_fetched = hl.return_last_access = true;
    RequestFlags hlu = hl;
    hlu.no_update_lru = true;
    CHECK(c.call(mg(key, hlu)).flags.fetched == false);
    CHECK(c.call(mg(key, hl)).flags.fetched == false);
    CHECK(c.call(mg(key, hl)).flags.fetched == true);

    const std::string soon = mmtest::unique_key("recache");
    RequestFlags ten;
    ten.cache_ttl = 10;
    REQUIRE(c.call(ms(soon, "x", ten)).code == ResponseCode::header);
    RequestFlags recache;
    recache.return_value = true;
    recache.recache_ttl = 30;
    CHECK(c.call(mg(soon, recache)).flags.win == true);
    CHECK(c.call(mg(soon, recache)).flags.win == false);
    // An item with more TTL left than R, or none at all, hands out nothing.
    REQUIRE(c.call(ms(key, "x")).code == ResponseCode::header);
    CHECK_FALSE(c.call(mg(key, recache)).flags.win.has_value());
}

TEST_CASE("ms stores in each mode and answers NS, EX and NF as memcached does",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("ms");
    const std::string missing = mmtest::unique_key("ms-missing");

    RequestFlags back;  // c k O T F
    back.return_cas_token = back.return_key = true;
    back.opaque = Opaque("op1");
    back.cache_ttl = 0;
    back.client_flag = 7;
    const Answer stored = c.call(ms(key, "x", back));
    CHECK(stored.code == ResponseCode::header);
    CHECK(stored.key == key);
    CHECK(stored.flags.opaque->view() == "op1");
    REQUIRE(stored.flags.cas_token.has_value());
    const std::uint64_t cas = *stored.flags.cas_token;
    RequestFlags f;
    f.return_client_flag = true;
    CHECK(c.call(mg(key, f)).flags.client_flag == 7u);

    auto mode = [](Mode m) {
        RequestFlags r;
        r.mode = m;
        return r;
    };
    CHECK(c.call(ms(key, "y", mode(Mode::add))).code == ResponseCode::not_stored);
    CHECK(c.call(ms(missing, "y", mode(Mode::replace))).code == ResponseCode::not_stored);
    CHECK(c.call(ms(missing, "y", mode(Mode::append))).code == ResponseCode::not_stored);
    CHECK(c.call(ms(missing, "y", mode(Mode::prepend))).code == ResponseCode::not_stored);
    RequestFlags cas_append = mode(Mode::append);
    cas_append.cas_token = cas;
    CHECK(c.call(ms(key, "zz", cas_append)).code == ResponseCode::header);
    CHECK(c.call(ms(key, "PP", mode(Mode::prepend))).code == ResponseCode::header);
    RequestFlags v;
    v.return_value = true;
    CHECK(c.call(mg(key, v)).value == "PPxzz");
    CHECK(c.call(ms(missing, "n", mode(Mode::add))).code == ResponseCode::header);
    CHECK(c.call(ms(missing, "r", mode(Mode::replace))).code == ResponseCode::header);
    CHECK(server.raw_get(missing) == std::optional<std::string>("r"));

    // Compare-and-swap: EX on a mismatch (c0 comes back), NF on a missing key.
    RequestFlags wrong;
    wrong.cas_token = 999999;
    wrong.return_cas_token = true;
    const Answer ex = c.call(ms(key, "w", wrong));
    CHECK(ex.code == ResponseCode::exists);
    CHECK(ex.flags.cas_token == 0u);
    CHECK(c.call(ms(mmtest::unique_key("nocas"), "w", wrong)).code == ResponseCode::not_found);
    const auto current = c.call(mg(key, value_cas_ttl())).flags.cas_token;
    REQUIRE(current.has_value());
    RequestFlags right;
    right.cas_token = current;
    CHECK(c.call(ms(key, "right", right)).code == ResponseCode::header);

    // q hides HD only.
    RequestFlags quiet;
    quiet.no_reply = true;
    RequestFlags quiet_add = mode(Mode::add);
    quiet_add.no_reply = true;
    c.send(ms(key, "q1", quiet) + ms(key, "q2", quiet_add) + mn());
    CHECK(c.read().code == ResponseCode::not_stored);
    CHECK(c.read().code == ResponseCode::noop);
    CHECK(server.raw_get(key) == std::optional<std::string>("q1"));
}

TEST_CASE("ms with I and an older CAS stores the value but leaves it stale",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("ms-I");
    RequestFlags cas;
    cas.return_cas_token = true;
    const auto first = c.call(ms(key, "v1", cas)).flags.cas_token;
    REQUIRE(first.has_value());
    REQUIRE(c.call(ms(key, "v2")).code == ResponseCode::header);
    RequestFlags late;
    late.mark_stale = true;
    late.cas_token = first;
    CHECK(c.call(ms(key, "late", late)).code == ResponseCode::header);
    const Answer a = c.call(mg(key, value_cas_ttl()));
    CHECK(a.value == "late");
    CHECK(a.flags.stale);
    CHECK(a.flags.win == true);
}

TEST_CASE("md deletes, invalidates, and answers NF and EX even when quiet",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("md");
    REQUIRE(c.call(ms(key, "x")).code == ResponseCode::header);
    RequestFlags ko;
    ko.return_key = true;
    ko.opaque = Opaque("9");
    RequestFlags wrong = ko;
    wrong.cas_token = 999999;  // a fresh server has handed out a few CAS values only
    const Answer ex = c.call(md(key, wrong));
    CHECK(ex.code == ResponseCode::exists);
    CHECK(ex.key == key);
    CHECK(ex.flags.opaque->view() == "9");
    CHECK(c.call(md(key, ko)).code == ResponseCode::header);
    const Answer nf = c.call(md(key, ko));
    CHECK(nf.code == ResponseCode::not_found);
    CHECK(nf.key == key);
    CHECK_FALSE(server.raw_get(key).has_value());

    RequestFlags quiet;
    quiet.no_reply = true;
    REQUIRE(c.call(ms(key, "x")).code == ResponseCode::header);
    c.send(md(key, quiet) + md(key, quiet) + mn());
    CHECK(c.read().code == ResponseCode::not_found);  // the second one: NF is still sent
    CHECK(c.read().code == ResponseCode::noop);

    RequestFlags invalidate;
    invalidate.mark_stale = true;
    invalidate.cache_ttl = 30;
    CHECK(c.call(md(key, invalidate)).code == ResponseCode::not_found);

    // A matching CAS deletes.
    REQUIRE(c.call(ms(key, "x")).code == ResponseCode::header);
    RequestFlags cas;
    cas.cas_token = c.call(mg(key, value_cas_ttl())).flags.cas_token;
    CHECK(c.call(md(key, cas)).code == ResponseCode::header);
    CHECK_FALSE(server.raw_get(key).has_value());
}

TEST_CASE("ma increments, decrements, vivifies and answers NF and EX", "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("ma");
    CHECK(c.call(ma(key)).code == ResponseCode::not_found);

    RequestFlags vivify;
    vivify.vivify_on_miss_ttl = 0;
    vivify.ma_initial_value = 10;
    vivify.return_value = true;
    const Answer created = c.call(ma(key, vivify));
    CHECK(created.code == ResponseCode::value);
    CHECK(created.value == "10");  // the seed; the delta is not applied on creation

    RequestFlags plus;
    plus.return_value = true;
    CHECK(c.call(ma(key, plus)).value == "11");
    RequestFlags minus;
    minus.return_value = minus.return_ttl = minus.return_cas_token = minus.return_key = true;
    minus.ma_delta_value = 5;
    minus.mode = Mode::decrement;
    minus.opaque = Opaque("m");
    const Answer six = c.call(ma(key, minus));
    CHECK(six.value == "6");
    CHECK(six.flags.ttl == -1);
    CHECK(six.flags.cas_token.has_value());
    CHECK(six.key == key);
    CHECK(six.flags.opaque->view() == "m");
    minus.ma_delta_value = 100;
    CHECK(c.call(ma(key, minus)).value == "0");  // floors at 0

    RequestFlags big;  // (1.6.18 can fail at random on counters >= 2^63: stay below)
    big.ma_delta_value = 1000;
    big.return_value = true;
    CHECK(c.call(ma(key, big)).value == "1000");

    RequestFlags wrong;
    wrong.cas_token = 999999;  // a fresh server has handed out a few CAS values only
    CHECK(c.call(ma(key, wrong)).code == ResponseCode::exists);
    RequestFlags touch;
    touch.cache_ttl = 100;
    CHECK(c.call(ma(key, touch)).code == ResponseCode::header);
    RequestFlags ttl;
    ttl.return_ttl = true;
    CHECK(c.call(mg(key, ttl)).flags.ttl > 90);

    RequestFlags quiet;
    quiet.no_reply = true;
    quiet.return_value = true;
    c.send(ma(key, quiet) + ma(mmtest::unique_key("ma-missing"), quiet) + mn());
    CHECK(c.read().code == ResponseCode::not_found);  // the success is silent, NF is not
    CHECK(c.read().code == ResponseCode::noop);
    CHECK(server.raw_get(key) == std::optional<std::string>("1002"));  // T100 added 1, q 1

    const std::string text = mmtest::unique_key("ma-text");
    REQUIRE(c.call(ms(text, "abc")).code == ResponseCode::header);
    const Answer err = c.call(ma(text));
    CHECK(err.code == ResponseCode::client_error);
    CHECK(err.message == "cannot increment or decrement non-numeric value");
    CHECK(c.call(mn()).code == ResponseCode::noop);  // still in step
}

TEST_CASE("mn answers MN", "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    CHECK(mn() == "mn\r\n");
    CHECK(c.call(mn()).code == ResponseCode::noop);
}

TEST_CASE("a lease: the first miss with N wins, the next caller sees Z, a CAS-guarded fill",
          "[protocol][integration][lease]") {
    mmtest::MemcachedServer server;
    RawConnection a(server);
    RawConnection b(server);
    const std::string key = mmtest::unique_key("lease");
    RequestFlags lease = value_cas_ttl();
    lease.vivify_on_miss_ttl = 30;

    const Answer won = a.call(mg(key, lease));
    CHECK(won.code == ResponseCode::value);  // a placeholder, not EN
    CHECK(won.value.empty());
    CHECK(won.flags.win == true);
    CHECK_FALSE(won.flags.stale);
    REQUIRE(won.flags.ttl.has_value());
    CHECK(*won.flags.ttl <= 30);
    REQUIRE(won.flags.cas_token.has_value());

    const Answer lost = b.call(mg(key, lease));
    CHECK(lost.code == ResponseCode::value);
    CHECK(lost.value.empty());
    CHECK(lost.flags.win == false);

    RequestFlags fill;
    fill.cache_ttl = 60;
    fill.return_cas_token = true;
    fill.cas_token = *won.flags.cas_token + 1000;  // someone else's token: refused
    CHECK(b.call(ms(key, "stale fill", fill)).code == ResponseCode::exists);
    fill.cas_token = won.flags.cas_token;
    const Answer filled = a.call(ms(key, "fresh", fill));
    CHECK(filled.code == ResponseCode::header);
    REQUIRE(filled.flags.cas_token.has_value());
    CHECK(*filled.flags.cas_token != *won.flags.cas_token);

    const Answer after = b.call(mg(key, lease));
    CHECK(after.value == "fresh");
    CHECK_FALSE(after.flags.win.has_value());
    CHECK_FALSE(after.flags.stale);
    CHECK(after.flags.ttl > 50);
}

TEST_CASE("stale while revalidate: md I, then X W, then Z X, and a CAS fill clears it",
          "[protocol][integration][stale]") {
    mmtest::MemcachedServer server;
    RawConnection a(server);
    RawConnection b(server);
    const std::string key = mmtest::unique_key("stale");
    RequestFlags t100;
    t100.cache_ttl = 100;
    REQUIRE(a.call(ms(key, "old", t100)).code == ResponseCode::header);
    const auto before = a.call(mg(key, value_cas_ttl())).flags.cas_token;

    RequestFlags invalidate;
    invalidate.mark_stale = true;
    invalidate.cache_ttl = 30;
    CHECK(a.call(md(key, invalidate)).code == ResponseCode::header);

    const Answer first = a.call(mg(key, value_cas_ttl()));
    CHECK(first.value == "old");
    CHECK(first.flags.stale);
    CHECK(first.flags.win == true);
    REQUIRE(first.flags.ttl.has_value());
    CHECK(*first.flags.ttl <= 30);
    REQUIRE(before.has_value());
    REQUIRE(first.flags.cas_token.has_value());
    CHECK(*first.flags.cas_token != *before);  // md I gave the item a new CAS
    const Answer second = b.call(mg(key, value_cas_ttl()));
    CHECK(second.value == "old");
    CHECK(second.flags.stale);
    CHECK(second.flags.win == false);

    RequestFlags fill;
    fill.cache_ttl = 100;
    fill.cas_token = before;  // the CAS from before the invalidation no longer matches
    CHECK(b.call(ms(key, "late", fill)).code == ResponseCode::exists);
    fill.cas_token = first.flags.cas_token;
    CHECK(a.call(ms(key, "new", fill)).code == ResponseCode::header);
    const Answer clean = b.call(mg(key, value_cas_ttl()));
    CHECK(clean.value == "new");
    CHECK_FALSE(clean.flags.stale);
    CHECK_FALSE(clean.flags.win.has_value());
}

TEST_CASE("a quiet batch closed by mn: hits answer, misses are silent, NS EX NF still sent",
          "[protocol][integration][quiet]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string hit = mmtest::unique_key("q-hit");
    const std::string other = mmtest::unique_key("q-other");
    REQUIRE(c.call(ms(hit, "hello")).code == ResponseCode::header);
    REQUIRE(c.call(ms(other, "x")).code == ResponseCode::header);

    auto quiet = [](const char* opaque) {
        RequestFlags f;
        f.no_reply = true;
        f.opaque = Opaque(opaque);
        return f;
    };
    RequestFlags get_value = quiet("1");
    get_value.return_value = true;
    RequestFlags add = quiet("5");
    add.mode = Mode::add;
    RequestFlags bad_cas = quiet("8");
    bad_cas.cas_token = 999999;
    std::string batch;
    batch += mg(hit, get_value);                                // VA O1
    batch += mg(mmtest::unique_key("q-miss"), quiet("2"));      // silent
    batch += mg(hit, quiet("3"));                               // HD O3
    batch += ms(mmtest::unique_key("q-new"), "n", quiet("4"));  // silent
    batch += ms(hit, "dup", add);                               // NS O5
    batch += md(mmtest::unique_key("q-none"), quiet("6"));      // NF O6
    batch += ma(mmtest::unique_key("q-none"), quiet("7"));      // NF O7
    batch += ms(other, "y", bad_cas);                           // EX O8
    batch += md(other, quiet("9"));                             // silent
    batch += mn();
    c.send(batch);

    // Exactly these answers, in request order, then the fence.
    const std::pair<ResponseCode, std::string_view> expected[] = {
        {ResponseCode::value, "1"},      {ResponseCode::header, "3"},
        {ResponseCode::not_stored, "5"}, {ResponseCode::not_found, "6"},
        {ResponseCode::not_found, "7"},  {ResponseCode::exists, "8"},
    };
    for (const auto& [code, opaque] : expected) {
        const Answer a = c.read();
        CHECK(a.code == code);
        REQUIRE(a.flags.opaque.has_value());
        CHECK(a.flags.opaque->view() == opaque);
        CHECK(a.value == (code == ResponseCode::value ? "hello" : ""));
    }
    CHECK(c.read().code == ResponseCode::noop);
    CHECK(c.pending().empty());
    // The silent ones did their work.
    CHECK_FALSE(server.raw_get(other).has_value());
    CHECK(server.raw_get(hit) == std::optional<std::string>("hello"));
    CHECK(c.call(mn()).code == ResponseCode::noop);  // nothing left over
}

TEST_CASE("binary keys go base64 and the server stores the raw bytes",
          "[protocol][integration][key]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    // Non-ASCII UTF-8: sent base64 with b; the classic get with the raw bytes reads it.
    const std::string unicode = mmtest::unique_key("\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7");
    REQUIRE(wire(unicode).base64);
    CHECK(c.call(ms(unicode, "u")).code == ResponseCode::header);
    CHECK(server.raw_get(unicode) == std::optional<std::string>("u"));
    RequestFlags kv;
    kv.return_key = kv.return_value = true;
    const Answer a = c.call(mg(unicode, kv));
    CHECK(a.value == "u");
    CHECK(a.key_base64);
    CHECK(decoded(a.key) == unicode);

    // A key that would inject a command if sent raw: stored, and flush_all never ran.
    const std::string keep = mmtest::unique_key("keep");
    REQUIRE(c.call(ms(keep, "k")).code == ResponseCode::header);
    const std::string evil = "a\r\nflush_all\r\nmg " + keep;
    CHECK(c.call(ms(evil, "e")).code == ResponseCode::header);
    CHECK(c.call(mg(evil, kv)).value == "e");
    CHECK(c.call(md(evil)).code == ResponseCode::header);
    CHECK(server.raw_get(keep) == std::optional<std::string>("k"));
    CHECK(c.call(mn()).code == ResponseCode::noop);
    CHECK(c.pending().empty());
}

TEST_CASE("a key of 187 bytes or more is stored under its hashed wire key",
          "[protocol][integration][key]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    // 200 printable bytes: memcached would take them raw, the reference client hashes them.
    const std::string long_key = mmtest::unique_key(std::string(200, 'L'));
    const detail::WireKey w = wire(long_key);
    REQUIRE(w.size == 24);
    CHECK(c.call(ms(long_key, "long")).code == ResponseCode::header);
    RequestFlags kv;
    kv.return_key = kv.return_value = true;
    const Answer a = c.call(mg(long_key, kv));
    CHECK(a.value == "long");
    CHECK(a.key_base64);
    CHECK(a.key == w.view());
    CHECK(decoded(a.key).size() == detail::key_digest_size);
    CHECK_FALSE(server.raw_get(long_key).has_value());  // not under the raw key
    CHECK(c.call(md(long_key)).code == ResponseCode::header);
    CHECK(c.call(mg(long_key)).code == ResponseCode::miss);

    // Far over 250 bytes: the same.
    const std::string huge = mmtest::unique_key(std::string(5000, 'H'));
    CHECK(c.call(ms(huge, "huge")).code == ResponseCode::header);
    CHECK(c.call(mg(huge, kv)).value == "huge");
}

TEST_CASE("a key stored with b comes back base64 with a bare b, even to a plain fetch",
          "[protocol][integration][key]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("foo");
    // The same key, sent base64 by hand: ms <base64(key)> 3 b
    std::string b64;
    detail::base64_encode(key, b64);
    detail::WireKey as_base64;
    b64.copy(as_base64.data.data(), b64.size());
    as_base64.size = b64.size();
    as_base64.base64 = true;
    CHECK(request(MetaCommand::set, as_base64, {}, "abc").rfind("ms " + b64 + " 3 b\r\n", 0) == 0);
    CHECK(c.call(request(MetaCommand::set, as_base64, {}, "abc")).code == ResponseCode::header);
    CHECK(server.raw_get(key) == std::optional<std::string>("abc"));

    RequestFlags kv;
    kv.return_key = kv.return_value = true;
    REQUIRE_FALSE(wire(key).base64);
    const Answer a = c.call(mg(key, kv));  // mg <key> k v, no b
    CHECK(a.value == "abc");
    CHECK(a.key == b64);
    CHECK(a.key_base64);
    CHECK(decoded(a.key) == key);
}

TEST_CASE("a value of 0 bytes is stored and read back as an empty value",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("empty");
    RequestFlags f;
    f.client_flag = 3;
    CHECK(ms(key, "", f) == "ms " + key + " 0 F3\r\n\r\n");
    CHECK(c.call(ms(key, "", f)).code == ResponseCode::header);
    RequestFlags v;
    v.return_value = v.return_size = v.return_client_flag = true;
    const Answer a = c.call(mg(key, v));
    CHECK(a.code == ResponseCode::value);
    CHECK(a.value.empty());
    CHECK(a.flags.real_size == 0u);
    CHECK(a.flags.client_flag == 3u);
    CHECK_FALSE(a.flags.win.has_value());  // a real empty value, not a placeholder
    CHECK(server.raw_get(key) == std::optional<std::string>(""));
}

TEST_CASE("a counter shrunk by a decrement reads back space-padded and parses",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("pad");
    REQUIRE(c.call(ms(key, "100")).code == ResponseCode::header);
    RequestFlags down;
    down.mode = Mode::decrement;
    down.ma_delta_value = 95;
    down.return_value = true;
    CHECK(c.call(ma(key, down)).value == "5");  // ma v answers clean
    RequestFlags vs;
    vs.return_value = vs.return_size = true;
    const Answer a = c.call(mg(key, vs));
    CHECK(a.value == "5  ");  // mg v sees the padding
    CHECK(a.flags.real_size == 3u);
    std::uint64_t n = 0;
    CHECK(detail::parse_counter(a.value, n));
    CHECK(n == 5);
}

TEST_CASE("a value over the server's item size gets SERVER_ERROR and the connection stays in step",
          "[protocol][integration]") {
    mmtest::MemcachedServer server;
    RawConnection c(server);
    const std::string key = mmtest::unique_key("big");
    REQUIRE(c.call(ms(key, "small")).code == ResponseCode::header);
    // The encoder lets it through when told the limit is memcached's datalen limit.
    const Answer err = c.call(ms(key, std::string(2 * 1024 * 1024, 'b')));
    CHECK(err.code == ResponseCode::server_error);
    CHECK(err.message == "object too large for cache");
    CHECK(c.call(mn()).code == ResponseCode::noop);
    CHECK(c.call(mg(key)).code == ResponseCode::miss);  // the failed set deleted it
    // With the server's limit, the encoder refuses before sending.
    CHECK_THROWS_AS(request(MetaCommand::set, wire(key), {}, std::string(2000, 'b'), 1000),
                    InvalidInputError);
}
