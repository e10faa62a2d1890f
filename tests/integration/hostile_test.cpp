// Hostile input from either side. From the caller: keys with spaces, line breaks, NUL and
// 10 KiB of bytes, values that look like protocol, keys that try to inject commands; all
// are stored under exactly their bytes and nothing else happens on the server. From the
// server: lying lengths, endless lines, endless flags, extra answers; each is a clear
// error, the connection is discarded, memory stays bounded and no other key is touched.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "fault_server.hpp"
#include "io_test_helpers.hpp"
#include "memcached_server.hpp"

#include <unistd.h>

#include <fstream>
#include <thread>

using namespace meta_memcache;
using namespace std::chrono_literals;
using iotest::counters_of;
using iotest::Ms;
using iotest::thrown_by;

namespace {

/// Resident memory of this process, in bytes (/proc/self/statm).
std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0;
    std::size_t resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// How much resident memory may grow while a hostile server is read from. Sanitizers
/// keep freed memory in quarantine, so they get more; an unbounded buffer would still
/// grow by the gigabyte.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t rss_slack = 256 * 1024 * 1024;
#else
constexpr std::size_t rss_slack = 4 * 1024 * 1024;
#endif

/// A memcached counter from `stats`, as a number.
long long stat_of(const mmtest::MemcachedServer& server, const char* name) {
    return std::stoll(server.stat(name));
}

/// A memcached server and a fault server side by side, and a client over both whose keys
/// are chosen per server: what the fault server does must never reach the other's keys.
struct BesideFault {
    mmtest::MemcachedServer good;
    mmtest::FaultServer bad;
    std::vector<ServerAddress> servers{good.address(), bad.address()};
    CacheClient cache = cache_client_from_servers(servers, iotest::quick_options());
    HashRing ring{servers, HashMode::uhashring};

    explicit BesideFault(mmtest::FaultServer::Script script) : bad(std::move(script)) {}

    /// A fresh key that lives on server `s` (0: memcached, 1: the fault server).
    [[nodiscard]] std::string key_on(std::size_t s, const std::string& base) const {
        for (int i = 0;; ++i) {
            std::string k = mmtest::unique_key(base + std::to_string(i));
            if (ring.node_for(k) == s)
                return k;
        }
    }
    [[nodiscard]] PoolCounters bad_counters() const {
        return cache.get_counters().servers.at(1).counters;
    }
    [[nodiscard]] PoolCounters good_counters() const {
        return cache.get_counters().servers.at(0).counters;
    }
};

}  // namespace

// ---- from the caller ------------------------------------------------------------------------

TEST_CASE("keys with spaces, line breaks, NUL and 10 KiB of bytes are each their own key",
          "[hostile][client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const std::string base = mmtest::unique_key("hostile");
    std::string ten_kib;
    for (std::size_t i = 0; i < 10 * 1024; ++i)
        ten_kib.push_back(static_cast<char>(i * 131 % 256));
    const std::vector<std::string> keys{
        base + " with spaces",
        base + "\r\nline\r\nbreaks",
        base + std::string("\0nul", 4),
        base + std::string("\0", 1),
        base,  // the plain prefix of all of the above: must stay distinct
        base + ten_kib,
        base + ten_kib + "x",  // differs only in its last byte
        base + "\t\v\f\x7f\xff",
    };
    const auto items_before = stat_of(server, "curr_items");
    for (std::size_t i = 0; i < keys.size(); ++i) {
        INFO("key " << i);
        REQUIRE(cache.set(keys[i], "value " + std::to_string(i), 0));
    }
    // One item per key: none overwrote another.
    CHECK(stat_of(server, "curr_items") == items_before + static_cast<long long>(keys.size()));
    std::vector<KeyView> views(keys.begin(), keys.end());
    const auto got = cache.multi_get(views);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        INFO("key " << i);
        CHECK(cache.get(keys[i]) == "value " + std::to_string(i));
        CHECK(got[i] == "value " + std::to_string(i));
    }
    // The plain key went as it is; the others never reached the server in the raw.
    CHECK(server.raw_get(base) == std::optional<std::string>("value 4"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created == 1);  // no answer ever put the connection out of step
    CHECK(c.total_errors == 0);
    for (std::size_t i = 0; i < keys.size(); ++i)
        CHECK(cache.del(keys[i]));
    CHECK(stat_of(server, "curr_items") == items_before);
}

TEST_CASE("a key cannot inject a command: nothing is flushed and no other key is written",
          "[hostile][client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const std::string sentinel = mmtest::unique_key("sentinel");
    const std::string other = mmtest::unique_key("other");
    REQUIRE(cache.set(sentinel, "still here", 0));
    const std::vector<std::string> evil{
        "x\r\nflush_all\r\nmg " + sentinel,
        "x\r\nflush_all\r\n",
        "x\r\nflush_all 0\r\n",
        "x\r\nmn\r\n",
        "x\r\nms " + other + " 1\r\nx",
        "x\r\nms " + other + " 1 T0\r\nx\r\n",
        "x\r\nmd " + sentinel + "\r\n",
        "x\nflush_all\n",
        "x flush_all",
        "x\r\nverbosity 1\r\nquit\r\n",
    };
    const auto items_before = stat_of(server, "curr_items");
    for (const std::string& k : evil) {
        INFO("key: " << k);
        CHECK(cache.set(k, "payload", 60));
        CHECK(cache.get(k) == "payload");
        CHECK(cache.touch(k, 120));
        CHECK(cache.delta_initialize(k + ":n", 1, 5, 60));
    }
    CHECK(stat_of(server, "cmd_flush") == 0);
    CHECK(server.raw_get(sentinel) == std::optional<std::string>("still here"));
    CHECK_FALSE(server.raw_get(other).has_value());
    // Exactly the keys set (and their counters), nothing more.
    CHECK(stat_of(server, "curr_items") == items_before + 2 * static_cast<long long>(evil.size()));
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created == 1);  // "quit" never reached the server either
    CHECK(c.total_errors == 0);
}

TEST_CASE("values that look like protocol are stored and read back byte for byte",
          "[hostile][client][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()}, iotest::quick_options());
    const std::vector<std::string> values{
        "\r\nEND\r\n",
        "a\r\nmn\r\n",
        "EN\r\n",
        "VA 5\r\nfalse\r\nEN\r\n",
        "HD\r\nMN\r\n",
        "\r\n",
        std::string("\0\r\n\0", 4),
        "END\r\n" + std::string(30000, 'E') + "\r\nEND\r\n",  // read straight into the value
        "SERVER_ERROR out of memory\r\n",
    };
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < values.size(); ++i) {
        keys.push_back(mmtest::unique_key("pv" + std::to_string(i)));
        INFO("value " << i);
        REQUIRE(cache.set(keys.back(), values[i], 0));
    }
    const std::string neighbour = mmtest::unique_key("neighbour");
    REQUIRE(cache.set(neighbour, "untouched", 0));
    std::vector<KeyView> views(keys.begin(), keys.end());
    views.emplace_back(neighbour);
    const auto got = cache.multi_get(views);
    for (std::size_t i = 0; i < values.size(); ++i) {
        INFO("value " << i);
        CHECK(cache.get(keys[i]) == values[i]);
        CHECK(got[i] == values[i]);
    }
    CHECK(got.back() == "untouched");
    CHECK(server.raw_get(keys[0]) == std::optional<std::string>("\r\nEND\r\n"));
    const PoolCounters c = counters_of(cache);
    CHECK(c.total_created == 1);
    CHECK(c.total_errors == 0);
}

// ---- from the server -------------------------------------------------------------------------

TEST_CASE("a value block longer than its stated length is a ProtocolError; other keys unaffected",
          "[hostile][connection][integration]") {
    BesideFault f(mmtest::FaultServer::answer("VA 3 f16\r\n0123456789\r\n"));
    const std::string good = f.key_on(0, "good");
    const std::string bad = f.key_on(1, "bad");
    REQUIRE(f.cache.set(good, "fine", 0));
    const auto r = thrown_by([&] { f.cache.get(bad); });
    CHECK(r.protocol);
    CHECK_THAT(r.message, Catch::Contains("lying length"));
    CHECK(f.bad_counters().established == 0);  // discarded
    CHECK(f.bad_counters().total_errors == 1);
    // Both servers in one call: the lie costs only its own key.
    const auto got = f.cache.multi_get({KeyView(good), KeyView(bad)},
                                       {.failure = {.raise_on_server_error = false}});
    CHECK(got[0] == "fine");
    CHECK_FALSE(got[1].has_value());
    CHECK(f.cache.get(good) == "fine");
    CHECK(f.good_counters().total_errors == 0);
}

TEST_CASE("a value block shorter than its stated length times out and is discarded",
          "[hostile][connection][integration]") {
    // 20 bytes promised, 12 sent (the next answer's bytes would be taken as the value).
    BesideFault f(mmtest::FaultServer::answer("VA 20 f16\r\n0123456789\r\n"));
    const std::string bad = f.key_on(1, "short");
    const auto r = thrown_by([&] { f.cache.get(bad); });
    CHECK(r.timeout);
    CHECK(r.took <= iotest::quick_options().recv_timeout + 300ms);
    const PoolCounters c = f.bad_counters();
    CHECK(c.timeouts == 1);
    CHECK(c.established == 0);
}

TEST_CASE("an extra answer after the last one discards the connection instead of crossing",
          "[hostile][connection][integration]") {
    // Every request gets its answer and then another one: a server out of step. Without
    // care the second would be read as the answer to the next request.
    BesideFault f(mmtest::FaultServer::answer("VA 5 f16\r\nfirst\r\nVA 6 f16\r\nsecond\r\n"));
    const std::string bad = f.key_on(1, "twice");
    CHECK(f.cache.get(bad) == "first");
    CHECK(f.cache.get(bad) == "first");  // a fresh connection: never "second"
    const PoolCounters c = f.bad_counters();
    CHECK(c.total_created == 2);
    CHECK(c.total_errors == 2);  // each connection discarded after its call
    CHECK(c.established == 0);
}

TEST_CASE("an endless line or endless flags are a ProtocolError with bounded memory",
          "[hostile][connection][integration]") {
    struct Case {
        const char* what;
        std::string unit;
        const char* message;
    };
    const Case cases[] = {
        {"an endless status line", "x", "longer than the limit"},
        {"endless flags", " f1", "longer than the limit"},
        {"an endless value", "VA 1000000 f16\r\n", "not followed by"},
    };
    for (const Case& c : cases) {
        SECTION(c.what) {
            BesideFault f(mmtest::FaultServer::endless(c.unit));
            const std::string good = f.key_on(0, "good");
            const std::string bad = f.key_on(1, "endless");
            REQUIRE(f.cache.set(good, "fine", 0));
            // Warm up (first connections, exception machinery), then measure.
            CHECK(thrown_by([&] { f.cache.get(bad); }).protocol);
            const std::size_t before = resident_bytes();
            for (int i = 0; i < 100; ++i) {
                const auto r = thrown_by([&] { f.cache.get(bad); });
                REQUIRE(r.protocol);
                CHECK_THAT(r.message, Catch::Contains(c.message));
            }
            const std::size_t after = resident_bytes();
            INFO("resident before " << before << ", after " << after);
            CHECK(after < before + rss_slack);
            const PoolCounters bc = f.bad_counters();
            CHECK(bc.total_errors == 101);
            CHECK(bc.established == 0);
            CHECK(f.cache.get(good) == "fine");
            CHECK(f.good_counters().total_errors == 0);
        }
    }
}
