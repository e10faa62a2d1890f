// The client observer and the per-server latency histograms against real memcached: one
// request event per server batch, a killed server's mark-down and recovery, hot-cache
// promotions, and nothing measured without an observer.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <map>
#include <mutex>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

/// Records every event.
class Recorder final : public ClientObserver {
public:
    void on_request_end(const RequestEvent& e) override {
        const std::lock_guard lk(mu);
        ends.push_back(Copy{std::string(e.server), std::string(e.host), e.port, e.command,
                            e.requests, e.error, e.duration, e.bytes_sent, e.bytes_received});
    }
    void on_mark_down(std::string_view server, std::string_view reason) override {
        const std::lock_guard lk(mu);
        downs.emplace_back(server, reason);
    }
    void on_recovery(std::string_view server) override {
        const std::lock_guard lk(mu);
        recoveries.emplace_back(server);
    }
    void on_hot_promotion(KeyView key, std::size_t bytes) override {
        const std::lock_guard lk(mu);
        promotions.emplace_back(key.key);
        promoted_bytes += bytes;
    }

    struct Copy {
        std::string server;
        std::string host;
        std::uint16_t port;
        MetaCommand command;
        std::size_t requests;
        std::optional<errc> error;
        std::chrono::nanoseconds duration;
        std::size_t sent;
        std::size_t received;
    };
    std::mutex mu;
    std::vector<Copy> ends;
    std::vector<std::pair<std::string, std::string>> downs;
    std::vector<std::string> recoveries;
    std::vector<std::string> promotions;
    std::size_t promoted_bytes = 0;
};

}  // namespace

TEST_CASE("the observer hears of every server batch's end, with its size and latency",
          "[observer][integration]") {
    mmtest::MemcachedCluster servers(2);
    auto rec = std::make_shared<Recorder>();
    ClientOptions co;
    co.observer = rec;
    auto cache = cache_client_from_servers(servers.addresses(), {}, co);
    const std::string key = mmtest::unique_key("observed");
    REQUIRE(cache.set(key, "value", 60));
    CHECK(cache.get(key) == "value");
    CHECK(cache.del(key));
    CHECK_FALSE(cache.get(key).has_value());
    REQUIRE(rec->ends.size() == 4);
    CHECK(rec->ends[0].command == MetaCommand::set);
    CHECK(rec->ends[1].command == MetaCommand::get);
    CHECK(rec->ends[2].command == MetaCommand::del);
    for (const auto& e : rec->ends) {
        CHECK_FALSE(e.error.has_value());
        CHECK(e.requests == 1);
        CHECK(e.duration > 0ns);
        CHECK(e.sent > 0);
        CHECK(e.received > 0);
        CHECK(e.host == "127.0.0.1");
        CHECK(e.port != 0);
    }
    CHECK(rec->ends[0].sent > std::string_view("value").size());
    CHECK(rec->ends[1].received >= std::string_view("VA 5 f16\r\nvalue\r\n").size());

    // A multi_get over both servers: one event per server, the keys split between them.
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i)
        keys.push_back(mmtest::unique_key("spread" + std::to_string(i)));
    const std::vector<KeyView> views(keys.begin(), keys.end());
    rec->ends.clear();
    static_cast<void>(cache.multi_get(views));
    REQUIRE(rec->ends.size() == 2);
    CHECK(rec->ends[0].server != rec->ends[1].server);
    CHECK(rec->ends[0].requests + rec->ends[1].requests == keys.size());

    // The histograms count the same requests, per server.
    const auto counters = cache.get_counters();
    std::uint64_t counted = 0;
    for (const auto& s : counters.servers) {
        counted += s.latency.count;
        CHECK(s.latency.p50() <= s.latency.p99());
        CHECK(s.latency.p99() <= s.latency.p999());
        if (s.latency.count > 0)
            CHECK(s.latency.p50() > 0us);
    }
    CHECK(counted == 6);
}

TEST_CASE("without an observer nothing is measured", "[observer][integration]") {
    mmtest::MemcachedServer server;
    auto cache = cache_client_from_servers({server.address()});
    CHECK(cache.set("k", "v", 60));
    CHECK(cache.get_counters().servers.at(0).latency.count == 0);

    ClientOptions co;
    co.latency_histograms = true;
    auto measured = cache_client_from_servers({server.address()}, {}, co);
    for (int i = 0; i < 10; ++i)
        static_cast<void>(measured.get("k"));
    CHECK(measured.get_counters().servers.at(0).latency.count == 10);
}

TEST_CASE("the observer hears of a killed server's mark-down and of its recovery",
          "[observer][integration]") {
    mmtest::MemcachedServer server;
    auto rec = std::make_shared<Recorder>();
    PoolOptions po;
    po.mark_down_period = 300ms;
    po.connection_timeout = 300ms;
    po.recv_timeout = 500ms;
    ClientOptions co;
    co.observer = rec;
    co.raise_on_server_error = false;
    auto cache = cache_client_from_servers({server.address()}, po, co);
    const std::string key = mmtest::unique_key("killed");
    REQUIRE(cache.set(key, "v", 60));
    server.stop();
    CHECK_FALSE(cache.get(key).has_value());  // fails, and the reconnect marks it down
    CHECK_FALSE(cache.get(key).has_value());  // fails fast
    {
        const std::lock_guard lk(rec->mu);
        REQUIRE(rec->downs.size() == 1);
        CHECK(rec->downs[0].first == server.address().name());
        CHECK_FALSE(rec->downs[0].second.empty());
        CHECK(rec->recoveries.empty());
        REQUIRE(rec->ends.size() == 3);
        CHECK_FALSE(rec->ends[0].error);
        CHECK(rec->ends[1].error.has_value());
        CHECK(rec->ends[2].error == errc::marked_down);
        CHECK(rec->ends[2].duration == 0ns);
    }
    server.start();
    std::this_thread::sleep_for(400ms);
    CHECK_FALSE(cache.get(key).has_value());  // the probe: answered (a miss, the server is new)
    const std::lock_guard lk(rec->mu);
    CHECK(rec->downs.size() == 1);
    REQUIRE(rec->recoveries.size() == 1);
    CHECK(rec->recoveries[0] == server.address().name());
    REQUIRE(rec->ends.size() == 4);
    CHECK_FALSE(rec->ends[3].error);
    const auto c = cache.get_counters().servers.at(0).counters;
    CHECK(c.mark_downs == 1);
    // Only the calls that reached the server are in its histogram.
    CHECK(cache.get_counters().servers.at(0).latency.count >= 2);
}

TEST_CASE("the observer hears of every hot-cache promotion", "[observer][hot_cache][integration]") {
    mmtest::MemcachedServer server;
    auto rec = std::make_shared<Recorder>();
    ClientOptions co;
    co.observer = rec;
    HotCacheOptions hot;
    hot.probability_factor = 1;
    co.hot_cache = hot;
    auto cache = cache_client_from_servers({server.address()}, {}, co);
    for (int i = 0; i < 3; ++i) {
        const std::string key = mmtest::unique_key("promoted" + std::to_string(i));
        REQUIRE(cache.set(key, "12345", 60));
        for (int r = 0; r < 4; ++r)
            CHECK(cache.get(key) == "12345");
    }
    const auto counters = cache.get_counters();
    CHECK(counters.hot_cache.promotions == 3);
    CHECK(counters.hot_cache.hits == 6);
    const std::lock_guard lk(rec->mu);
    CHECK(rec->promotions.size() == 3);
    CHECK(rec->promoted_bytes == 15);
    // Served from memory: no request event for those reads (3 sets, 2 reads per key).
    CHECK(rec->ends.size() == 9);
}
