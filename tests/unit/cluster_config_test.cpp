// parse_cluster_config: ElastiCache's `config get cluster` answer, as documented and as
// servers and other clients' fixtures really write it.
#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/error.hpp>

#include "catch.hpp"

#include <string>

using meta_memcache::ClusterConfig;
using meta_memcache::ClusterNode;
using meta_memcache::parse_cluster_config;
using meta_memcache::ProtocolError;
using meta_memcache::ServerAddress;
using meta_memcache::ServerError;

namespace {

/// The payload of AWS's documented two-node example: 136 bytes.
const std::string aws_payload =
    "12\n"
    "myCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 "
    "myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n";

const ClusterConfig aws_config{
    12,
    {{"myCluster.pc4ldq.0001.use1.cache.amazonaws.com", "10.82.235.120", 11211},
     {"myCluster.pc4ldq.0002.use1.cache.amazonaws.com", "10.80.249.27", 11211}}};

std::string answer(std::string_view len, std::string_view payload) {
    return "CONFIG cluster 0 " + std::string(len) + "\r\n" + std::string(payload) + "\r\nEND\r\n";
}

}  // namespace

TEST_CASE("AWS's example parses with the right length and with the 147 AWS prints", "[discovery]") {
    REQUIRE(aws_payload.size() == 136);
    CHECK(parse_cluster_config(answer("136", aws_payload)) == aws_config);
    CHECK(parse_cluster_config(answer("147", aws_payload)) == aws_config);
    CHECK(parse_cluster_config(answer("5", aws_payload)) == aws_config);  // <len> not trusted
    const auto servers = aws_config.addresses();
    REQUIRE(servers.size() == 2);
    CHECK(servers[0].host == "10.82.235.120");
    CHECK(servers[0].port == 11211);
    CHECK(aws_config.addresses(false)[1].host == "myCluster.pc4ldq.0002.use1.cache.amazonaws.com");
}

TEST_CASE("cluster configurations written with CRLF or without the blank line parse too",
          "[discovery]") {
    // Fixtures from other clients: CRLF after the version, END right after the node list,
    // "\r\n\n" before END, two spaces between nodes.
    CHECK(parse_cluster_config(
              "CONFIG cluster 0 147\r\n12\r\n"
              "myCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 "
              "myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n\r\nEND\r\n") ==
          aws_config);
    CHECK(parse_cluster_config("CONFIG cluster 0 147\r\n1\r\nlocalhost|127.0.0.1|11211\r\nEND\r\n")
              .nodes.size() == 1);
    CHECK(
        parse_cluster_config("CONFIG cluster 0 147\r\n1\r\nlocalhost|127.0.0.1|11211\r\n\nEND\r\n")
            .version == 1);
    const auto two = parse_cluster_config(answer("0", "3\na|10.0.0.1|11211  b|10.0.0.2|11212\n"));
    REQUIRE(two.nodes.size() == 2);
    CHECK(two.nodes[1] == ClusterNode{"b", "10.0.0.2", 11212});
}

TEST_CASE("the legacy AmazonElastiCache:cluster value carries the same payload", "[discovery]") {
    const std::string legacy =
        "VALUE AmazonElastiCache:cluster 0 136\r\n" + aws_payload + "\r\nEND\r\n";
    CHECK(parse_cluster_config(legacy) == aws_config);
}

TEST_CASE("a node without an ip connects by host name, and IPv6 ips lose their brackets",
          "[discovery]") {
    const auto config = parse_cluster_config(
        answer("0", "7\nnode-1.example||11211 |10.0.0.2|11300 node-3|[2600:1f18::5]|11211\n"));
    REQUIRE(config.nodes.size() == 3);
    CHECK(config.nodes[0] == ClusterNode{"node-1.example", "", 11211});
    CHECK(config.nodes[1] == ClusterNode{"", "10.0.0.2", 11300});
    CHECK(config.nodes[2].ip == "2600:1f18::5");
    const auto servers = config.addresses();
    CHECK(servers[0].host == "node-1.example");
    CHECK(servers[1].host == "10.0.0.2");
    CHECK(servers[1].port == 11300);
    CHECK(servers[2].endpoint() == "[2600:1f18::5]:11211");
    // Without ips, a node listed only by ip still has an address.
    CHECK(config.addresses(false)[1].host == "10.0.0.2");
    CHECK(config.addresses(false)[2].host == "node-3");
}

TEST_CASE("a server that does not know the command is a ServerError, not a malformed answer",
          "[discovery]") {
    CHECK_THROWS_AS(parse_cluster_config("ERROR\r\n"), ServerError);
    CHECK_THROWS_WITH(parse_cluster_config("ERROR\r\n"), Catch::Contains("config get cluster"));
    CHECK_THROWS_AS(parse_cluster_config("CLIENT_ERROR bad command line format\r\n"), ServerError);
    CHECK_THROWS_AS(parse_cluster_config("SERVER_ERROR out of memory\r\n"), ServerError);
}

TEST_CASE("malformed cluster configurations are rejected with the reason", "[discovery]") {
    const auto rejects = [](const std::string& text, const std::string& why) {
        INFO(text);
        CHECK_THROWS_AS(parse_cluster_config(text), ProtocolError);
        CHECK_THROWS_WITH(parse_cluster_config(text), Catch::Contains(why));
    };
    rejects("", "no complete first line");
    rejects("CONFIG cluster 0 136", "no complete first line");
    rejects("END\r\n", "END alone");
    rejects("VERSION 1.6.18\r\n", "unexpected first line");
    rejects("CONFIG cluster 0\r\n1\na|1.2.3.4|11211\n\r\nEND\r\n", "unexpected first line");
    rejects("CONFIG other 0 10\r\n1\na|1.2.3.4|11211\n\r\nEND\r\n", "unexpected first line");
    rejects("CONFIG cluster 0 x\r\n1\na|1.2.3.4|11211\n\r\nEND\r\n", "unexpected first line");
    rejects("CONFIG cluster 0 136\r\n" + aws_payload, "no END line");
    rejects("CONFIG cluster 0 136\r\n" + aws_payload + "\r\nEND\r\nEXTRA", "bytes after END");
    rejects(answer("0", ""), "no version line");
    rejects(answer("0", "12\n"), "no node list");
    rejects(answer("0", "12\n  \n"), "empty node list");
    rejects(answer("0", "twelve\na|1.2.3.4|11211\n"), "version \"twelve\" is not a number");
    rejects(answer("0", "-1\na|1.2.3.4|11211\n"), "is not a number");
    rejects(answer("0", "99999999999999999999\na|1.2.3.4|11211\n"), "is not a number");
    rejects(answer("0", "1\na|1.2.3.4|11211\nextra line\n"), "unexpected line");
    rejects(answer("0", "1\na|1.2.3.4\n"), "is not host|ip|port");
    rejects(answer("0", "1\na|1.2.3.4|11211|x\n"), "is not host|ip|port");
    rejects(answer("0", "1\n||11211\n"), "neither a host name nor an ip");
    rejects(answer("0", "1\na|1.2.3.4|0\n"), "bad port");
    rejects(answer("0", "1\na|1.2.3.4|65536\n"), "bad port");
    rejects(answer("0", "1\na|1.2.3.4|\n"), "bad port");
    rejects(answer("0", "1\na|1.2.3.4|11211x\n"), "bad port");
    rejects(answer("0", "1\na\t|1.2.3.4|11211\n"), "control characters");
    rejects(answer("0", "1\na|1.2.3.4|11211 b|1.2.3.4|11211\n"), "listed twice");
}
