// ConnectionPool::stats: the server's own `stats` over a pooled connection, under the
// pool's deadline and mark-down rules.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "io_test_helpers.hpp"
#include "memcached_server.hpp"

#include <array>
#include <string>

using namespace meta_memcache;
using namespace std::chrono_literals;
using iotest::Ms;
using iotest::thrown_by;

namespace {

Request quiet_set(const std::string& key, std::string_view value, std::optional<Mode> mode = {}) {
    Request r;
    r.command = MetaCommand::set;
    r.key = KeyView(key);
    r.value = value;
    r.flags.no_reply = true;
    r.flags.cache_ttl = 0;
    r.flags.mode = mode;
    return r;
}

}  // namespace

TEST_CASE("a pool reports the server's own stats over one of its connections",
          "[stats][integration]") {
    mmtest::MemcachedServer server;
    ConnectionPool pool(server.address(), iotest::quick_options());
    for (int i = 0; i < 3; ++i) {
        server.raw("set " + mmtest::unique_key("stats-item-" + std::to_string(i)) +
                   " 0 0 1\r\nx\r\n");
    }

    const ServerStats stats = pool.stats();
    REQUIRE_FALSE(stats.entries.empty());
    CHECK(stats.entries.front().first == "pid");  // in the server's order
    const std::string version = server.stat("version");
    CHECK(stats.get("version") == std::optional<std::string_view>(version));
    CHECK(stats.get("curr_items") == std::optional<std::string_view>("3"));
    CHECK_FALSE(stats.get("no_such_stat").has_value());

    const ServerStats settings = pool.stats("settings");
    const std::string port = std::to_string(server.port());
    CHECK(settings.get("tcpport") == std::optional<std::string_view>(port));

    const PoolCounters c = pool.counters();
    CHECK(c.total_created == 1);  // both on the pool's one connection, returned after use
    CHECK(c.available == 1);
    CHECK(c.total_errors == 0);
}

TEST_CASE("a stats group the server rejects is a server error and the connection stays usable",
          "[stats][integration]") {
    mmtest::MemcachedServer server;
    ConnectionPool pool(server.address(), iotest::quick_options());

    const auto unknown = thrown_by([&] { (void)pool.stats("bogus"); });
    REQUIRE(unknown.code.has_value());
    CHECK(*unknown.code == errc::client_error);
    CHECK_THAT(unknown.message, Catch::Contains("ERROR"));
    const auto usage = thrown_by([&] { (void)pool.stats("detail"); });
    REQUIRE(usage.code.has_value());
    CHECK(*usage.code == errc::client_error);
    CHECK_THAT(usage.message, Catch::Contains("usage"));

    CHECK(pool.stats().get("curr_items").has_value());
    const PoolCounters c = pool.counters();
    CHECK(c.total_created == 1);
    CHECK(c.total_errors == 0);
}

TEST_CASE("a bad stats group is rejected before anything is sent", "[stats][integration]") {
    mmtest::MemcachedServer server;
    ConnectionPool pool(server.address(), iotest::quick_options());
    CHECK_THROWS_WITH(pool.stats("reset"), Catch::Contains("not a read"));
    CHECK_THROWS_AS(pool.stats("detail dump"), InvalidInputError);
    CHECK_THROWS_AS(pool.stats("items\r\nflush_all"), InvalidInputError);
    CHECK_THROWS_AS(pool.stats("Items"), InvalidInputError);
    CHECK_THROWS_AS(pool.stats(std::string(33, 'a')), InvalidInputError);
    CHECK(pool.counters().total_created == 0);
}

TEST_CASE("stats after no_reply writes drops their pending answers first", "[stats][integration]") {
    mmtest::MemcachedServer server;
    ConnectionPool pool(server.address(), iotest::quick_options());
    const std::string a = mmtest::unique_key("quiet-a");
    const std::string b = mmtest::unique_key("quiet-b");
    // The second add fails: under q memcached still answers NS before the MN fence.
    std::array<Request, 3> reqs{quiet_set(a, "1"), quiet_set(b, "2"), quiet_set(a, "3", Mode::add)};
    std::array<Response, 3> resps;
    execute_on_pool(pool, reqs, resps, ExecContext{});

    const ServerStats stats = pool.stats();
    CHECK(stats.get("curr_items") == std::optional<std::string_view>("2"));
    CHECK(stats.get("cmd_set") == std::optional<std::string_view>("3"));

    // The connection is still in step: a get on it answers its own key.
    Request get;
    get.key = KeyView(a);
    get.flags.return_value = true;
    std::array<Request, 1> greq{get};
    std::array<Response, 1> gresp;
    execute_on_pool(pool, greq, gresp, ExecContext{});
    REQUIRE(std::holds_alternative<Value>(gresp[0]));
    CHECK(std::get<Value>(gresp[0]).data == "1");
    const PoolCounters c = pool.counters();
    CHECK(c.total_created == 1);
    CHECK(c.total_errors == 0);
}

TEST_CASE("stats of a paused server times out at recv_timeout and discards the connection",
          "[stats][integration]") {
    mmtest::MemcachedServer server;
    PoolOptions opts = iotest::quick_options();
    opts.recv_timeout = 300ms;
    ConnectionPool pool(server.address(), opts);
    REQUIRE(pool.stats().get("pid").has_value());

    server.pause();
    const auto r = thrown_by([&] { (void)pool.stats(); });
    server.resume();
    CHECK(r.timeout);
    CHECK_THAT(r.message, Catch::Contains("within 300 ms"));
    CHECK(r.took >= 240ms);
    CHECK(r.took <= 450ms);  // the deadline, not two of it (slack for a loaded machine)
    const PoolCounters c = pool.counters();
    CHECK(c.timeouts == 1);
    CHECK(c.established == 0);
    CHECK(pool.stats().get("pid").has_value());  // a fresh connection
    CHECK(pool.counters().total_created == 2);
}

TEST_CASE("stats of a stopped server fails, then fails fast while it is marked down",
          "[stats][integration]") {
    mmtest::MemcachedServer server;
    ConnectionPool pool(server.address(), iotest::quick_options());
    server.stop();
    const auto first = thrown_by([&] { (void)pool.stats(); });
    REQUIRE(first.code.has_value());
    CHECK(*first.code == errc::connection_failed);
    CHECK_THAT(first.message, Catch::Contains(server.address().name()));
    const auto second = thrown_by([&] { (void)pool.stats(); });
    CHECK(second.marked_down);
    CHECK(pool.counters().fast_failures == 1);
}
