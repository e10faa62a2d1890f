// ElastiCache auto-discovery against real memcached nodes. Real memcached does not speak
// `config get cluster`, so a small in-process configuration endpoint (on FaultServer)
// answers it in the documented format; the nodes it lists are real memcached servers.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "churn_load.hpp"
#include "fault_server.hpp"
#include "memcached_server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace meta_memcache;
using namespace std::chrono_literals;

namespace {

/// An ElastiCache configuration endpoint: answers `config get cluster` with the
/// configuration last published, in the documented format (LF-terminated payload lines,
/// a <len> that is wrong on purpose, as in AWS's own example).
class ConfigEndpoint {
public:
    enum class Mode { serve, hang_up, garbage, legacy };

    ConfigEndpoint()
        : server_([this](const std::string& input, bool& close) { return answer(input, close); }) {}

    /// Publishes version `version` listing `nodes` (each as "node-<port>|127.0.0.1|<port>";
    /// with `without_ip`, as "127.0.0.1||<port>").
    void publish(std::uint64_t version,
                 const std::vector<ServerAddress>& nodes,
                 bool without_ip = false) {
        std::string list;
        for (const auto& n : nodes) {
            if (!list.empty())
                list += ' ';
            const std::string port = std::to_string(n.port);
            list += without_ip ? n.host + "||" + port : "node-" + port + "|" + n.host + "|" + port;
        }
        std::lock_guard lk(mu_);
        payload_ = std::to_string(version) + "\n" + list + "\n";
    }
    void set_mode(Mode mode) {
        std::lock_guard lk(mu_);
        mode_ = mode;
    }
    [[nodiscard]] ServerAddress address() const { return server_.address(); }
    [[nodiscard]] unsigned requests() const { return requests_.load(); }

private:
    std::string answer(const std::string& input, bool& close) {
        // The client sends one request line and waits: answer the line that just arrived.
        if (input.size() < 2 || input.compare(input.size() - 2, 2, "\r\n") != 0)
            return {};
        const auto start = input.rfind("\r\n", input.size() - 3);
        const std::string line =
            input.substr(start == std::string::npos ? 0 : start + 2,
                         input.size() - 2 - (start == std::string::npos ? 0 : start + 2));
        std::lock_guard lk(mu_);
        if (line == "config get cluster") {
            ++requests_;
            switch (mode_) {
                case Mode::serve:
                    return "CONFIG cluster 0 147\r\n" + payload_ + "\r\nEND\r\n";
                case Mode::hang_up:
                    close = true;
                    return {};
                case Mode::garbage:
                    return "CONFIG cluster 0 147\r\nnot-a-version\na|10.0.0.1|11211\n\r\nEND\r\n";
                case Mode::legacy:
                    return "ERROR\r\n";
            }
        }
        if (line == "get AmazonElastiCache:cluster" && mode_ == Mode::legacy) {
            return "VALUE AmazonElastiCache:cluster 0 " + std::to_string(payload_.size()) + "\r\n" +
                   payload_ + "\r\nEND\r\n";
        }
        return "ERROR\r\n";
    }

    std::mutex mu_;
    std::string payload_;
    Mode mode_ = Mode::serve;
    std::atomic<unsigned> requests_{0};
    mmtest::FaultServer server_;  // last: its thread calls answer()
};

/// Waits (up to 5 s) until `router` uses configuration `version`.
bool wait_for_version(const AutoDiscoveryRouter& router, std::uint64_t version) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (router.config_version() != version) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

AutoDiscoveryOptions fast_polls() {
    AutoDiscoveryOptions o;
    o.poll_interval = 50ms;
    o.pool_options.connection_timeout = 1000ms;
    o.pool_options.recv_timeout = 1000ms;
    return o;
}

}  // namespace

TEST_CASE("a client built from a configuration endpoint starts with the nodes it lists",
          "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    ConfigEndpoint endpoint;
    endpoint.publish(7, mmtest::pick(all, {0, 1, 2}));
    std::vector<std::string> log;
    std::mutex log_mu;
    auto options = fast_polls();
    options.poll_interval = 0ms;  // no poller: this test looks at the first answer only
    options.log = [&](std::string_view line) {
        std::lock_guard lk(log_mu);
        log.emplace_back(line);
    };
    auto cache = cache_client_from_elasticache(endpoint.address(), options);
    auto& router = dynamic_cast<AutoDiscoveryRouter&>(cache.router());
    CHECK(router.config_version() == 7u);
    CHECK(router.servers() == all);
    CHECK(router.sharded()->mode() == HashMode::ketama);
    CHECK(router.config_endpoint() == endpoint.address());
    CHECK(endpoint.requests() == 1);
    REQUIRE(log.size() == 1);
    CHECK_THAT(log[0], Catch::Contains("version 7"));

    // Keys land where a ketama ring over the listed nodes puts them.
    const HashRing ring(all, HashMode::ketama);
    std::vector<int> per_node(3, 0);
    for (int i = 0; i < 30; ++i) {
        const auto k = mmtest::unique_key("ad" + std::to_string(i));
        REQUIRE(cache.set(k, "v" + std::to_string(i), 300));
        const std::size_t owner = ring.node_for(k);
        CHECK(cluster[owner].raw_get(k) == "v" + std::to_string(i));
        ++per_node[owner];
    }
    CHECK(std::count(per_node.begin(), per_node.end(), 0) == 0);
    const auto status = router.status();
    CHECK(status.polls == 1);
    CHECK(status.failed_polls == 0);
    CHECK_FALSE(status.endpoint_fallback);
}

TEST_CASE("a node listed without an ip is reached by its host name", "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(2);
    ConfigEndpoint endpoint;
    endpoint.publish(1, cluster.addresses(), /*without_ip=*/true);
    auto options = fast_polls();
    options.poll_interval = 0ms;
    auto router = std::make_shared<AutoDiscoveryRouter>(endpoint.address(), options);
    CHECK(router->servers() == cluster.addresses());  // the host field: "127.0.0.1"
    CacheClient cache(router);
    const auto k = mmtest::unique_key("noip");
    REQUIRE(cache.set(k, "x", 60));
    CHECK(cache.get(k) == "x");
}

TEST_CASE(
    "nodes are added and removed while 4 threads run requests, and keys whose node "
    "stays never fail",
    "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(5);
    const auto all = cluster.addresses();
    // The node lists the endpoint goes through, by version (index + 1).
    const std::vector<std::vector<std::size_t>> versions{{0, 1, 2},    {0, 1, 2, 3},    {0, 2, 3},
                                                         {0, 2, 3, 4}, {0, 1, 2, 3, 4}, {0, 1, 2}};
    ConfigEndpoint endpoint;
    endpoint.publish(1, mmtest::pick(all, versions[0]));
    auto router = std::make_shared<AutoDiscoveryRouter>(endpoint.address(), fast_polls());
    CacheClient cache(router);

    // Keys on the same node in every list: none of their requests may fail.
    const auto churn = mmtest::churn_keys("disc:", 400, all, versions, HashMode::ketama);
    REQUIRE(churn.stable_count() > 50);
    REQUIRE(churn.stable_count() < 400);

    mmtest::ChurnLoad load(cache, churn, 4);
    for (std::size_t v = 1; v < versions.size(); ++v) {
        load.wait_for_progress(300);
        endpoint.publish(v + 1, mmtest::pick(all, versions[v]));
        INFO("version " << v + 1);
        REQUIRE(wait_for_version(*router, v + 1));
        CHECK(router->servers() == mmtest::pick(all, versions[v]));
    }
    load.wait_for_progress(300);
    load.stop();

    CHECK(load.stable_failures() == 0);
    CHECK(load.errors() == 0);
    CHECK(load.moving_ops() > 0);
    CHECK(load.ops() > 6 * 300);
    const auto status = router->status();
    CHECK(status.updates == versions.size() - 1);
    CHECK(status.failed_polls == 0);
    // Every stable key's last value is on its own node (read around the client).
    for (std::size_t i = 0; i < churn.keys.size(); ++i) {
        if (!churn.stable[i])
            continue;
        INFO(churn.keys[i]);
        const auto raw = cluster[churn.home[i]].raw_get(churn.keys[i]);
        REQUIRE(raw.has_value());
        CHECK(raw->ends_with(":" + churn.keys[i]));
    }
}

TEST_CASE("a lower or equal configuration version is ignored", "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    ConfigEndpoint endpoint;
    endpoint.publish(5, mmtest::pick(all, {0, 1}));
    auto options = fast_polls();
    options.poll_interval = 0ms;  // polls only through refresh_now()
    std::vector<std::string> log;
    options.log = [&](std::string_view line) { log.emplace_back(line); };
    AutoDiscoveryRouter router(endpoint.address(), options);
    const auto pool = router.sharded()->pool_for("k");

    endpoint.publish(5, mmtest::pick(all, {0, 1, 2}));  // same version, other nodes: ignored
    CHECK_FALSE(router.refresh_now());
    CHECK(router.servers() == mmtest::pick(all, {0, 1}));
    endpoint.publish(4, mmtest::pick(all, {2}));  // older: ignored, and logged
    CHECK_FALSE(router.refresh_now());
    CHECK(router.servers() == mmtest::pick(all, {0, 1}));
    CHECK(router.config_version() == 5u);
    CHECK_THAT(log.back(), Catch::Contains("ignored") && Catch::Contains("version 4"));
    CHECK(router.status().stale == 1);

    endpoint.publish(6,
                     mmtest::pick(all, {0, 1, 2}));  // newer: applied, pools of staying nodes kept
    CHECK(router.refresh_now());
    CHECK(router.config_version() == 6u);
    CHECK(router.servers() == all);
    bool same_pool_kept = false;
    for (const auto& p : router.sharded()->topology()->pools)
        same_pool_kept = same_pool_kept || p == pool;
    CHECK(same_pool_kept);
    CHECK(endpoint.requests() == 4);
}

TEST_CASE("an endpoint answering ERROR gives a single-node client on the endpoint",
          "[discovery][integration]") {
    mmtest::MemcachedServer memcached;  // stock memcached: `config get cluster` -> ERROR
    auto options = fast_polls();
    std::vector<std::string> log;
    std::mutex log_mu;
    options.log = [&](std::string_view line) {
        std::lock_guard lk(log_mu);
        log.emplace_back(line);
    };
    {
        auto cache = cache_client_from_elasticache(memcached.address(), options);
        auto& router = dynamic_cast<AutoDiscoveryRouter&>(cache.router());
        CHECK(router.servers() == std::vector<ServerAddress>{memcached.address()});
        CHECK_FALSE(router.config_version().has_value());
        CHECK(router.status().endpoint_fallback);
        const auto k = mmtest::unique_key("single");
        REQUIRE(cache.set(k, "on-the-endpoint", 60));
        CHECK(memcached.raw_get(k) == "on-the-endpoint");
        // Polls go on quietly (still ERROR, still one node).
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (router.status().polls < 3 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        const auto status = router.status();
        CHECK(status.polls >= 3);
        CHECK(status.failed_polls == 0);
        CHECK(router.servers() == std::vector<ServerAddress>{memcached.address()});
    }
    {
        std::lock_guard lk(log_mu);
        REQUIRE_FALSE(log.empty());
        CHECK_THAT(log.front(), Catch::Contains("only node"));
    }

    options.fall_back_to_endpoint = false;
    CHECK_THROWS_AS(AutoDiscoveryRouter(memcached.address(), options), ServerError);
    CHECK_THROWS_WITH(AutoDiscoveryRouter(memcached.address(), options),
                      Catch::Contains("fall_back_to_endpoint"));
}

TEST_CASE("an old engine's AmazonElastiCache:cluster key is read when config is unknown",
          "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(2);
    ConfigEndpoint endpoint;
    endpoint.set_mode(ConfigEndpoint::Mode::legacy);
    endpoint.publish(3, cluster.addresses());
    auto options = fast_polls();
    options.poll_interval = 0ms;
    AutoDiscoveryRouter router(endpoint.address(), options);
    CHECK(router.config_version() == 3u);
    CHECK(router.servers() == cluster.addresses());
}

TEST_CASE("the poller keeps the last good node list while the endpoint is down or garbled",
          "[discovery][integration]") {
    mmtest::MemcachedCluster cluster(3);
    const auto all = cluster.addresses();
    auto endpoint = std::make_unique<ConfigEndpoint>();
    endpoint->publish(1, mmtest::pick(all, {0, 1}));
    const auto address = endpoint->address();
    auto router = std::make_shared<AutoDiscoveryRouter>(address, fast_polls());
    CacheClient cache(router);
    const auto wait_failed_polls = [&](std::uint64_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (router->status().failed_polls < n && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(5ms);
        return router->status();
    };

    // Hangs up without answering.
    endpoint->set_mode(ConfigEndpoint::Mode::hang_up);
    auto status = wait_failed_polls(2);
    CHECK(status.failed_polls >= 2);
    CHECK_THAT(status.last_error, Catch::Contains("closed the connection"));
    CHECK(router->servers() == mmtest::pick(all, {0, 1}));
    // Answers garbage: same, with the parser's reason.
    endpoint->set_mode(ConfigEndpoint::Mode::garbage);
    status = wait_failed_polls(status.failed_polls + 2);
    CHECK_THAT(status.last_error, Catch::Contains("not a number"));
    CHECK(router->servers() == mmtest::pick(all, {0, 1}));
    // Back, with a new list: applied.
    endpoint->set_mode(ConfigEndpoint::Mode::serve);
    endpoint->publish(2, all);
    REQUIRE(wait_for_version(*router, 2));
    CHECK(router->status().last_error.empty());
    // Gone (connection refused): the list stays and requests keep working.
    endpoint.reset();
    status = wait_failed_polls(router->status().failed_polls + 2);
    CHECK_FALSE(status.last_error.empty());
    CHECK(router->servers() == all);
    CHECK(router->config_version() == 2u);
    const auto k = mmtest::unique_key("kept");
    CHECK(cache.set(k, "v", 60));
    CHECK(cache.get(k) == "v");
    CHECK_THROWS_AS(router->refresh_now(), TransportError);
    CHECK(router->servers() == all);
}

TEST_CASE("an unreachable configuration endpoint fails construction within the deadline",
          "[discovery][integration]") {
    ServerAddress nowhere;
    nowhere.host = "127.0.0.1";
    nowhere.port = mmtest::free_port();
    CHECK_THROWS_AS(AutoDiscoveryRouter(nowhere, fast_polls()), TransportError);
    // An endpoint that accepts and never answers: a timeout after recv_timeout.
    mmtest::FaultServer silent(mmtest::FaultServer::stall());
    auto options = fast_polls();
    options.pool_options.recv_timeout = 200ms;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(AutoDiscoveryRouter(silent.address(), options), TimeoutError);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took >= 180ms);
    CHECK(took < 2s);
    options.poll_interval = -1ms;
    CHECK_THROWS_AS(AutoDiscoveryRouter(silent.address(), options), InvalidInputError);
}

TEST_CASE("auto-discovery with failover serves a dead node's keys from its successor",
          "[discovery][failover][integration]") {
    mmtest::MemcachedCluster cluster(3);
    ConfigEndpoint endpoint;
    endpoint.publish(1, cluster.addresses());
    auto options = fast_polls();
    options.failover = FailoverOptions{.failover_ttl = 30s};
    options.pool_options.mark_down_period = 2s;
    auto router = std::make_shared<AutoDiscoveryRouter>(endpoint.address(), options);
    CacheClient cache(router);
    const auto topo = router->sharded()->topology();
    std::string k;
    for (int i = 0; k.empty(); ++i) {
        const auto candidate = mmtest::unique_key("adf" + std::to_string(i));
        if (topo->ring.node_for(candidate) == 2)
            k = candidate;
    }
    cluster[2].stop();
    REQUIRE(cache.set(k, "elsewhere", 1000));
    CHECK(cache.get(k) == "elsewhere");
    const auto ttl = (cluster[0].raw_get(k) ? cluster[0] : cluster[1]).raw_ttl(k);
    REQUIRE(ttl);
    CHECK(*ttl <= 30);
}

TEST_CASE("the destructor stops the poller without waiting for the next poll",
          "[discovery][integration]") {
    mmtest::MemcachedServer node;
    ConfigEndpoint endpoint;
    endpoint.publish(1, {node.address()});
    auto options = fast_polls();
    options.poll_interval = 60s;  // the default: the next poll is a minute away
    auto router = std::make_unique<AutoDiscoveryRouter>(endpoint.address(), options);
    const auto start = std::chrono::steady_clock::now();
    router.reset();
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(endpoint.requests() == 1);
}
