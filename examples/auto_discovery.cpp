// auto_discovery: a client built from an ElastiCache configuration endpoint.
//
// cache_client_from_elasticache() asks the endpoint `config get cluster`, builds a ring of
// the nodes it lists, and polls again every 60 s in the background (applying a new list
// only when its version grows; nodes that stay keep their connections). Stock memcached
// does not know the command and answers ERROR: the client then uses the endpoint itself as
// the only node, which is what this example shows against a local memcached. The answer
// format an ElastiCache endpoint sends is parsed below from AWS's documented example.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace mm = meta_memcache;
using namespace std::chrono_literals;

int main() try {
    const mm::ServerAddress endpoint = example::servers_from_env(1)[0];

    // 1. What an ElastiCache configuration endpoint answers, and what the client makes of it.
    const std::string answer =
        "CONFIG cluster 0 147\r\n"
        "12\n"
        "myCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 "
        "myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n"
        "\r\n"
        "END\r\n";
    const mm::ClusterConfig config = mm::parse_cluster_config(answer);
    example::expect(config.version == 12 && config.nodes.size() == 2,
                    "an ElastiCache answer lists version 12 and two nodes");
    for (const mm::ServerAddress& a : config.addresses())
        std::printf("  node %s\n", a.name().c_str());

    // 2. A client from an endpoint that is plain memcached: it falls back to the endpoint.
    mm::AutoDiscoveryOptions options;
    options.poll_interval = 60s;  // the AWS clients' interval
    options.pool_options.recv_timeout = 500ms;
    auto cache = mm::cache_client_from_elasticache(endpoint, options);
    const std::string key = example::unique_key("discovered");
    example::expect(cache.set(key, "hello", 60) && cache.get(key) == "hello",
                    "set and get work through the discovered ring");
    const auto servers = cache.get_counters().servers;
    example::expect(servers.size() == 1 && servers[0].server == endpoint.name(),
                    "the endpoint is the only node: it does not speak `config get cluster`");
    return example::exit_code();
} catch (const std::exception& e) {
    std::fprintf(stderr, "auto_discovery: %s\n", e.what());
    return 2;
}
