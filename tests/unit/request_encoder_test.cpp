#include <meta_memcache/detail/request_encoder.hpp>

#include "catch.hpp"

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
    f.mode = Mode::add;
    CHECK(encode(MetaCommand::set, "foo", f, 10) ==
          "ms foo 10 q c k I T300 F4294967295 C18446744073709551615 Ox ME\r\n");
}

TEST_CASE("each ms mode has its letter and set is not sent", "[encoder]") {
    RequestFlags f;
    f.mode = Mode::set;
    CHECK(encode(MetaCommand::set, "k", f, 1) == "ms k 1\r\n");
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
    RequestFlags ok;
    ok.cache_ttl = 2147483647LL;
    CHECK(encode(MetaCommand::get, "k", ok) == "mg k T2147483647\r\n");
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
