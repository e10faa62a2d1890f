#include <meta_memcache/detail/request_encoder.hpp>

#include "catch.hpp"

#include <cstdint>
#include <iterator>
#include <limits>
#include <string>

using namespace meta_memcache;
using detail::MetaCommand;

namespace {

std::string encode(MetaCommand cmd,
                   std::string_view key,
                   const RequestFlags& f,
                   std::size_t value_size = 0) {
    detail::WireKey w;
    detail::encode_key(key, w);
    char buf[detail::max_request_line];
    const std::size_t n = detail::encode_request(buf, cmd, w, f, value_size);
    return std::string(buf, n);
}

RequestFlags every_get_flag() {
    RequestFlags f;
    f.no_reply = true;
    f.return_client_flag = true;
    f.return_cas_token = true;
    f.return_value = true;
    f.return_ttl = true;
    f.return_size = true;
    f.return_last_access = true;
    f.return_fetched = true;
    f.return_key = true;
    f.no_update_lru = true;
    f.cache_ttl = 300;
    f.recache_ttl = 30;
    f.vivify_on_miss_ttl = 60;
    f.opaque = Opaque("op1");
    return f;
}

}  // namespace

TEST_CASE("mg carries every flag in the reference client's order", "[encoder]") {
    CHECK(encode(MetaCommand::get, "foo", every_get_flag()) ==
          "mg foo q f c v t s l h k u T300 R30 N60 Oop1\r\n");
    // With a binary key, b comes first, right after the key.
    CHECK(encode(MetaCommand::get, "f o", every_get_flag()) ==
          "mg ZiBv b q f c v t s l h k u T300 R30 N60 Oop1\r\n");
}

TEST_CASE("ms carries every flag it takes, b first after the datalen", "[encoder]") {
    RequestFlags f;
    f.no_reply = true;
    f.return_cas_token = true;
    f.return_key = true;
    f.mark_stale = true;
    f.cache_ttl = 0;
    f.client_flag = 16;
    f.cas_token = 0;
    f.opaque = Opaque("o");
    f.mode = Mode::replace;
    CHECK(encode(MetaCommand::set, "\xff", f, 0) == "ms /w== 0 b q c k I T0 F16 C0 Oo MR\r\n");
}

TEST_CASE("md carries every flag it takes", "[encoder]") {
    RequestFlags f;
    f.no_reply = true;
    f.return_key = true;
    f.mark_stale = true;
    f.cache_ttl = 30;
    f.cas_token = 7;
    f.opaque = Opaque("abc");
    CHECK(encode(MetaCommand::del, "a\tb", f) == "md YQli b q k I T30 C7 Oabc\r\n");
    CHECK(encode(MetaCommand::del, "key", f) == "md key q k I T30 C7 Oabc\r\n");
}

TEST_CASE("ma carries every flag it takes", "[encoder]") {
    RequestFlags f;
    f.no_reply = true;
    f.return_cas_token = true;
    f.return_value = true;
    f.return_ttl = true;
    f.return_key = true;
    f.cache_ttl = 100;
    f.vivify_on_miss_ttl = 0;
    f.ma_initial_value = 18446744073709551615ull;
    f.ma_delta_value = 0;
    f.cas_token = 1;
    f.opaque = Opaque("9");
    f.mode = Mode::decrement;
    CHECK(encode(MetaCommand::arithmetic, "\xe2\x82\xac", f) ==
          "ma 4oKs b q c v t k T100 N0 J18446744073709551615 D0 C1 O9 M-\r\n");
}

TEST_CASE("an empty opaque is sent as a bare O", "[encoder]") {
    RequestFlags f;
    f.opaque = Opaque("");
    CHECK(encode(MetaCommand::get, "k", f) == "mg k O\r\n");
}

TEST_CASE("mg with the reference client's default get flags", "[encoder]") {
    RequestFlags f;
    f.return_value = true;
    f.return_ttl = true;
    f.return_client_flag = true;
    f.return_last_access = true;
    f.return_fetched = true;
    f.cache_ttl = 300;
    f.recache_ttl = 30;
    std::string large;
    for (int i = 0; i < 50; ++i)
        large += "large_key";
    CHECK(encode(MetaCommand::get, large, f) ==
          "mg 4gCNJuSyOJPGW8kRddioRlPx b f v t l h T300 R30\r\n");
    CHECK(encode(MetaCommand::get, "\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7", f) ==
          "mg w7puw63Dp29k4o23 b f v t l h T300 R30\r\n");
}

TEST_CASE("mg with no flags is just the key", "[encoder]") {
    CHECK(encode(MetaCommand::get, "foo", {}) == "mg foo\r\n");
}

TEST_CASE("ms puts the datalen after the key and b after the datalen", "[encoder]") {
    RequestFlags f;
    f.cache_ttl = 300;
    f.client_flag = 0;
    CHECK(encode(MetaCommand::set, "foo", f, 3) == "ms foo 3 T300 F0\r\n");
    CHECK(encode(MetaCommand::set, "foo bar", f, 3) == "ms Zm9vIGJhcg== 3 b T300 F0\r\n");
}

TEST_CASE("ms carries q c k I T F C O and the mode", "[encoder]") {
    RequestFlags f;
    f.no_reply = true;
    f.return_cas_token = true;
    f.return_key = true;
    f.mark_stale = true;
    f.cache_ttl = 300;
    f.client_flag = 4294967295u;
    f.cas_token = 18446744073709551615ull;  // 64-bit CAS end to end
    f.opaque = Opaque("x");
    f.mode = Mode::replace;
    CHECK(encode(MetaCommand::set, "foo", f, 10) ==
          "ms foo 10 q c k I T300 F4294967295 C18446744073709551615 Ox MR\r\n");
}

TEST_CASE("each ms mode has its letter and set is not sent", "[encoder]") {
    RequestFlags f;
    f.mode = Mode::set;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1\r\n");
    f.mode = Mode::add;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1 ME\r\n");
    f.mode = Mode::append;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1 MA\r\n");
    f.mode = Mode::prepend;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1 MP\r\n");
    f.mode = Mode::replace;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1 MR\r\n");
}

TEST_CASE("md with cas, quiet, and invalidation with a TTL", "[encoder]") {
    RequestFlags f;
    CHECK(encode(MetaCommand::del, "foo", f) == "md foo\r\n");
    f.cas_token = 666;
    CHECK(encode(MetaCommand::del, "foo", f) == "md foo C666\r\n");
    RequestFlags q;
    q.no_reply = true;
    CHECK(encode(MetaCommand::del, "foo", q) == "md foo q\r\n");
    RequestFlags stale;
    stale.mark_stale = true;
    stale.cache_ttl = 30;
    CHECK(encode(MetaCommand::del, "foo", stale) == "md foo I T30\r\n");
}

TEST_CASE("ma with delta, vivify, initial value, cas and decrement", "[encoder]") {
    RequestFlags f;
    f.ma_delta_value = 1;
    CHECK(encode(MetaCommand::arithmetic, "foo", f) == "ma foo D1\r\n");
    RequestFlags g;
    g.no_reply = true;
    g.vivify_on_miss_ttl = 60;
    g.ma_initial_value = 10;
    g.ma_delta_value = 1;
    g.cas_token = 123;
    CHECK(encode(MetaCommand::arithmetic, "foo", g) == "ma foo q N60 J10 D1 C123\r\n");
    RequestFlags d;
    d.no_reply = true;
    d.ma_delta_value = 2;
    d.mode = Mode::decrement;
    CHECK(encode(MetaCommand::arithmetic, "foo", d) == "ma foo q D2 M-\r\n");
    RequestFlags v;
    v.return_value = true;
    v.return_ttl = true;
    v.return_cas_token = true;
    v.cache_ttl = 60;
    v.ma_delta_value = 1;
    v.mode = Mode::increment;
    CHECK(encode(MetaCommand::arithmetic, "foo", v) == "ma foo c v t T60 D1\r\n");
}

TEST_CASE("mn is two letters", "[encoder]") {
    detail::WireKey w;
    char buf[detail::max_request_line];
    CHECK(std::string(buf, detail::encode_request(buf, MetaCommand::noop, w, {})) == "mn\r\n");
}

TEST_CASE("flags a command does not take are rejected, naming the flag", "[encoder][validation]") {
    RequestFlags f;
    f.client_flag = 1;
    CHECK_THROWS_WITH(encode(MetaCommand::get, "k", f), Catch::Contains("client_flag (F)"));
    RequestFlags s;
    s.return_value = true;
    CHECK_THROWS_AS(encode(MetaCommand::set, "k", s, 1), InvalidInputError);
    RequestFlags m;
    m.mode = Mode::decrement;
    CHECK_THROWS_WITH(encode(MetaCommand::set, "k", m, 1), Catch::Contains("mode (M)"));
    RequestFlags a;
    a.mode = Mode::add;
    CHECK_THROWS_WITH(encode(MetaCommand::arithmetic, "k", a),
                      Catch::Contains("increment or decrement"));
    RequestFlags i;
    i.mark_stale = true;
    CHECK_THROWS_WITH(encode(MetaCommand::set, "k", i, 1), Catch::Contains("needs a cas_token"));
    RequestFlags t;
    t.cache_ttl = 30;
    CHECK_THROWS_WITH(encode(MetaCommand::del, "k", t),
                      Catch::Contains("only applies with mark_stale"));
    RequestFlags j;
    j.ma_initial_value = 5;
    CHECK_THROWS_WITH(encode(MetaCommand::arithmetic, "k", j),
                      Catch::Contains("vivify_on_miss_ttl"));
}

TEST_CASE("negative and out-of-range TTLs are rejected", "[encoder][validation]") {
    RequestFlags f;
    f.cache_ttl = -1;
    CHECK_THROWS_WITH(encode(MetaCommand::get, "k", f), Catch::Contains("TTL flag T is -1"));
    RequestFlags r;
    r.recache_ttl = 2147483648LL;
    CHECK_THROWS_WITH(encode(MetaCommand::get, "k", r), Catch::Contains("TTL flag R"));
    RequestFlags n;
    n.vivify_on_miss_ttl = std::numeric_limits<std::int64_t>::min();
    CHECK_THROWS_WITH(encode(MetaCommand::get, "k", n),
                      Catch::Contains("TTL flag N is -9223372036854775808"));
    n.vivify_on_miss_ttl = std::numeric_limits<std::int64_t>::max();
    CHECK_THROWS_WITH(encode(MetaCommand::arithmetic, "k", n), Catch::Contains("TTL flag N"));
    RequestFlags s;
    s.cache_ttl = -30;
    CHECK_THROWS_WITH(encode(MetaCommand::set, "k", s, 1), Catch::Contains("ms: TTL flag T"));
    RequestFlags ok;
    ok.cache_ttl = 2147483647LL;
    CHECK(encode(MetaCommand::get, "k", ok) == "mg k T2147483647\r\n");
    ok.cache_ttl = 0;
    CHECK(encode(MetaCommand::get, "k", ok) == "mg k T0\r\n");
}

namespace {

struct Misfit {
    const char* what;  // the flag's name in the error message
    void (*apply)(RequestFlags&);
};

// Every flag, one at a time, with the commands memcached 1.6.18 would reject or ignore it on.
const Misfit misfits[] = {
    {"return flags", [](RequestFlags& f) { f.return_client_flag = true; }},
    {"return flags", [](RequestFlags& f) { f.return_value = true; }},
    {"return flags", [](RequestFlags& f) { f.return_ttl = true; }},
    {"return flags", [](RequestFlags& f) { f.return_size = true; }},
    {"return flags", [](RequestFlags& f) { f.return_last_access = true; }},
    {"return flags", [](RequestFlags& f) { f.return_fetched = true; }},
    {"return_cas_token (c)", [](RequestFlags& f) { f.return_cas_token = true; }},
    {"no_update_lru (u)", [](RequestFlags& f) { f.no_update_lru = true; }},
    {"mark_stale (I)", [](RequestFlags& f) { f.mark_stale = true; }},
    {"recache_ttl (R)", [](RequestFlags& f) { f.recache_ttl = 5; }},
    {"vivify_on_miss_ttl (N)", [](RequestFlags& f) { f.vivify_on_miss_ttl = 5; }},
    {"client_flag (F)", [](RequestFlags& f) { f.client_flag = 1; }},
    {"ma_initial_value (J)", [](RequestFlags& f) { f.ma_initial_value = 1; }},
    {"ma_delta_value (D)", [](RequestFlags& f) { f.ma_delta_value = 1; }},
    {"cas_token (C)", [](RequestFlags& f) { f.cas_token = 1; }},
    {"mode (M)", [](RequestFlags& f) { f.mode = Mode::add; }},
};

// Which of the misfits above each command accepts (by index), as memcached 1.6.18 reads them.
bool accepted(MetaCommand cmd, std::size_t i) {
    static const bool table[][16] = {
        //  f  v  t  s  l  h  c  u  I  R  N  F  J  D  C  M
        {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0},  // mg
        {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1},  // ms (I needs C, see below)
        {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0},  // md
        {0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0},  // ma (J needs N; M add is not ma's)
    };
    return table[static_cast<int>(cmd)][i];
}

}  // namespace

TEST_CASE("each flag is rejected on every command that would reject or ignore it",
          "[encoder][validation]") {
    for (MetaCommand cmd :
         {MetaCommand::get, MetaCommand::set, MetaCommand::del, MetaCommand::arithmetic}) {
        for (std::size_t i = 0; i < std::size(misfits); ++i) {
            RequestFlags f;
            misfits[i].apply(f);
            INFO(detail::command_name(cmd) << " with " << misfits[i].what);
            if (accepted(cmd, i)) {
                CHECK_NOTHROW(encode(cmd, "k", f, 1));
            } else {
                CHECK_THROWS_AS(encode(cmd, "k", f, 1), InvalidInputError);
                CHECK_THROWS_WITH(encode(cmd, "k", f, 1),
                                  Catch::Contains(std::string(detail::command_name(cmd)) + ": "));
            }
        }
    }
}

TEST_CASE("mn takes no flag at all", "[encoder][validation]") {
    detail::WireKey w;
    char buf[detail::max_request_line];
    for (const Misfit& m : misfits) {
        RequestFlags f;
        m.apply(f);
        CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::noop, w, f),
                          Catch::Contains("mn takes no flags"));
    }
    RequestFlags q;
    q.no_reply = true;
    CHECK_THROWS_AS(detail::encode_request(buf, MetaCommand::noop, w, q), InvalidInputError);
}

TEST_CASE("flags that conflict with each other are rejected", "[encoder][validation]") {
    RequestFlags add_cas;
    add_cas.mode = Mode::add;
    add_cas.cas_token = 5;
    CHECK_THROWS_WITH(encode(MetaCommand::set, "k", add_cas, 1),
                      Catch::Contains("ignored by memcached in add mode"));
    add_cas.mode = Mode::replace;
    CHECK(encode(MetaCommand::set, "k", add_cas, 1) == "ms k 1 C5 MR\r\n");

    RequestFlags ma_mode;
    for (Mode m : {Mode::set, Mode::add, Mode::append, Mode::prepend, Mode::replace}) {
        ma_mode.mode = m;
        CHECK_THROWS_WITH(encode(MetaCommand::arithmetic, "k", ma_mode),
                          Catch::Contains("increment or decrement"));
    }
    RequestFlags ms_mode;
    ms_mode.mode = Mode::increment;
    CHECK_THROWS_WITH(encode(MetaCommand::set, "k", ms_mode, 1), Catch::Contains("mode (M)"));

    RequestFlags stale_ttl;  // md T without I: memcached ignores it
    stale_ttl.cache_ttl = 30;
    CHECK_THROWS_AS(encode(MetaCommand::del, "k", stale_ttl), InvalidInputError);
    stale_ttl.mark_stale = true;
    CHECK(encode(MetaCommand::del, "k", stale_ttl) == "md k I T30\r\n");

    RequestFlags stale_set;  // ms I without C: memcached does nothing with it
    stale_set.mark_stale = true;
    CHECK_THROWS_AS(encode(MetaCommand::set, "k", stale_set, 1), InvalidInputError);
    stale_set.cas_token = 3;
    CHECK(encode(MetaCommand::set, "k", stale_set, 1) == "ms k 1 I C3\r\n");

    RequestFlags seed;  // ma J without N: the seed is never used
    seed.ma_initial_value = 3;
    CHECK_THROWS_AS(encode(MetaCommand::arithmetic, "k", seed), InvalidInputError);
    seed.vivify_on_miss_ttl = 0;
    CHECK(encode(MetaCommand::arithmetic, "k", seed) == "ma k N0 J3\r\n");
}

TEST_CASE("no valid request carries more flags than memcached accepts", "[encoder][validation]") {
    // The largest flag set each command takes, with a base64 key: the flag-count check in
    // encode_request is a guard that validation already makes unreachable.
    detail::WireKey b64;
    b64.base64 = true;
    RequestFlags mg = every_get_flag();
    CHECK(detail::count_flag_tokens(b64, mg) == 15);
    RequestFlags ms;
    ms.no_reply = ms.return_cas_token = ms.return_key = ms.mark_stale = true;
    ms.cache_ttl = 1;
    ms.client_flag = 1;
    ms.cas_token = 1;
    ms.opaque = Opaque("o");
    ms.mode = Mode::append;
    CHECK_NOTHROW(detail::validate_request(MetaCommand::set, ms));
    CHECK(detail::count_flag_tokens(b64, ms) == 10);
    CHECK(detail::count_flag_tokens(b64, ms) <= detail::max_flag_tokens_set);
    // Everything at once counts b and M too, and would be over the limit.
    RequestFlags all = mg;
    all.mark_stale = true;
    all.client_flag = 1;
    all.ma_initial_value = all.ma_delta_value = all.cas_token = 1;
    all.mode = Mode::decrement;
    CHECK(detail::count_flag_tokens(b64, all) == 21);
    all.mode = Mode::increment;  // not sent, not counted
    CHECK(detail::count_flag_tokens(b64, all) == 20);
}

TEST_CASE("an opaque that could split the request line is rejected", "[encoder][validation]") {
    for (std::string_view bad : {"a b", "x\r\nflush_all", "\x7f", "\xc3\xa9"}) {
        RequestFlags f;
        f.opaque = Opaque::unchecked(bad);  // bypasses Opaque's own check
        CHECK_THROWS_WITH(encode(MetaCommand::get, "k", f), Catch::Contains("opaque (O)"));
    }
}

TEST_CASE("the encoder rejects a hand-made wire key that is empty, too long or unsafe",
          "[encoder][validation]") {
    // encode_key cannot produce these (checked below), but encode_request does not trust it.
    char buf[detail::max_request_line];
    detail::WireKey empty;
    CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::get, empty, {}),
                      Catch::Contains("mg: key is empty"));
    detail::WireKey longer;
    longer.data.fill('a');
    longer.size = detail::max_wire_key_size + 1;
    CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::del, longer, {}),
                      Catch::Contains("251 bytes on the wire is over"));
    CHECK(longer.view().size() == detail::max_wire_key_size);  // never past the array
    longer.size = detail::max_wire_key_size;
    CHECK(detail::encode_request(buf, MetaCommand::del, longer, {}) == 3 + 250 + 2);
    detail::WireKey injected;
    const std::string_view evil = "a\r\nflush_all";
    evil.copy(injected.data.data(), evil.size());
    injected.size = evil.size();
    CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::get, injected, {}),
                      Catch::Contains("raw key has a space"));
    injected.base64 = true;
    CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::get, injected, {}),
                      Catch::Contains("outside base64"));
}

TEST_CASE("no key encodes to more than 250 bytes on the wire", "[encoder][key]") {
    // The worst cases: 186 binary bytes (base64, 248) and 187+ bytes of anything (hashed, 24).
    for (std::size_t n : {1u, 185u, 186u, 187u, 250u, 251u, 4096u}) {
        for (char c : {'a', ' ', '\xff'}) {
            detail::WireKey w;
            detail::encode_key(std::string(n, c), w);
            INFO(n << " bytes of " << static_cast<int>(c));
            CHECK(w.size <= detail::max_wire_key_size);
            CHECK(w.size > 0);
            char buf[detail::max_request_line];
            CHECK_NOTHROW(detail::encode_request(buf, MetaCommand::get, w, {}));
        }
    }
}

TEST_CASE("an opaque over 31 bytes or with a space is rejected", "[encoder][validation]") {
    CHECK_THROWS_WITH(Opaque(std::string(32, 'o')), Catch::Contains("31-byte limit"));
    CHECK_THROWS_AS(Opaque("a b"), InvalidInputError);
    CHECK(Opaque(std::string(31, 'o')).size() == 31);
}

TEST_CASE("a value over the item size limit is rejected before encoding", "[encoder][validation]") {
    detail::WireKey w;
    detail::encode_key("k", w);
    char buf[detail::max_request_line];
    CHECK_THROWS_WITH(detail::encode_request(buf, MetaCommand::set, w, {}, 2000, 1000),
                      Catch::Contains("over the item size limit"));
    CHECK_NOTHROW(detail::encode_request(buf, MetaCommand::set, w, {}, 1000, 1000));
}

TEST_CASE("the longest possible request line fits the encoder's bound", "[encoder]") {
    RequestFlags f = every_get_flag();
    f.cache_ttl = 2147483647;
    f.recache_ttl = 2147483647;
    f.vivify_on_miss_ttl = 2147483647;
    f.opaque = Opaque(std::string(31, 'o'));
    const std::string line = encode(MetaCommand::get, std::string(186, '\x01'), f);
    CHECK(line.size() < detail::max_request_line);
}
