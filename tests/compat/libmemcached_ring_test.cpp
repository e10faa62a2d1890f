// Placement checked against libmemcached itself (built only when pkg-config finds
// libmemcached; it links this test executable only, never the library).
#include <meta_memcache/hash_ring.hpp>

#include "catch.hpp"
#include <libmemcached/memcached.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

using meta_memcache::HashMode;
using meta_memcache::HashRing;
using meta_memcache::ServerAddress;

namespace {

struct MemcachedDeleter {
    void operator()(memcached_st* m) const noexcept { memcached_free(m); }
};
using Memc = std::unique_ptr<memcached_st, MemcachedDeleter>;

/// The five servers both sides get: default and other ports, a host name, a unix socket.
std::vector<ServerAddress> five_servers(const std::vector<std::uint32_t>& weights) {
    std::vector<ServerAddress> servers{
        ServerAddress::parse("10.0.0.1:11211"), ServerAddress::parse("10.0.0.2:11211"),
        ServerAddress::parse("10.0.0.3:11300"), ServerAddress::parse("cache-4.example:11211"),
        ServerAddress::parse("/run/memcached/mc5.sock")};
    for (std::size_t i = 0; i < servers.size(); ++i)
        servers[i].weight = weights[i];
    return servers;
}

/// libmemcached with `behavior` set first, then the servers added in order.
Memc libmemcached_with(
    const std::vector<ServerAddress>& servers,
    const std::vector<std::pair<memcached_behavior_t, std::uint64_t>>& behaviors) {
    Memc memc(memcached_create(nullptr));
    REQUIRE(memc);
    for (const auto& [behavior, value] : behaviors)
        REQUIRE(memcached_behavior_set(memc.get(), behavior, value) == MEMCACHED_SUCCESS);
    for (const auto& s : servers) {
        const memcached_return_t rc =
            s.unix_path.empty()
                ? memcached_server_add_with_weight(memc.get(), s.host.c_str(), s.port, s.weight)
                : memcached_server_add_unix_socket_with_weight(memc.get(), s.unix_path.c_str(),
                                                               s.weight);
        REQUIRE(rc == MEMCACHED_SUCCESS);
    }
    REQUIRE(memcached_server_count(memc.get()) == servers.size());
    return memc;
}

/// 10,000 keys: plain ASCII ones and random bytes (bytes >= 0x80 exercise libhashkit's
/// signed-char reads), from a fixed seed.
std::vector<std::string> test_keys() {
    std::vector<std::string> keys;
    keys.reserve(10000);
    for (int i = 0; i < 5000; ++i)
        keys.push_back("user:" + std::to_string(i));
    std::mt19937 rng(20240601);
    std::uniform_int_distribution<int> length(1, 64);
    std::uniform_int_distribution<int> byte(1, 255);
    while (keys.size() < 10000) {
        std::string k(static_cast<std::size_t>(length(rng)), ' ');
        for (auto& c : k)
            c = static_cast<char>(byte(rng));
        keys.push_back(std::move(k));
    }
    return keys;
}

/// How many keys libmemcached and the ring place differently.
std::size_t mismatches(const Memc& memc, const HashRing& ring) {
    std::size_t differ = 0;
    for (const auto& k : test_keys()) {
        const std::uint32_t theirs = memcached_generate_hash(memc.get(), k.data(), k.size());
        if (theirs != ring.node_for(k))
            ++differ;
    }
    return differ;
}

}  // namespace

TEST_CASE("ketama places 10,000 keys as libmemcached's KETAMA_WEIGHTED, weights equal",
          "[ring][ketama][libmemcached]") {
    const auto servers = five_servers({1, 1, 1, 1, 1});
    const auto memc = libmemcached_with(servers, {{MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1}});
    CHECK(memcached_behavior_get(memc.get(), MEMCACHED_BEHAVIOR_HASH) == MEMCACHED_HASH_MD5);
    CHECK(mismatches(memc, HashRing(servers, HashMode::ketama)) == 0);
}

TEST_CASE("ketama places 10,000 keys as libmemcached's KETAMA_WEIGHTED with weights",
          "[ring][ketama][libmemcached]") {
    for (const auto& weights : std::vector<std::vector<std::uint32_t>>{
             {1, 2, 3, 1, 5}, {600, 300, 200, 350, 1000}, {1, 1, 1, 1, 7}}) {
        const auto servers = five_servers(weights);
        const auto memc = libmemcached_with(servers, {{MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1}});
        const HashRing ring(servers, HashMode::ketama);
        INFO("weights " << weights[0] << "," << weights[1] << "," << weights[2] << "," << weights[3]
                        << "," << weights[4]);
        CHECK(mismatches(memc, ring) == 0);
    }
}

TEST_CASE("libmemcached_ketama places 10,000 keys as libmemcached's KETAMA behaviour alone",
          "[ring][ketama][libmemcached]") {
    const auto servers = five_servers({1, 1, 1, 1, 1});
    const auto memc = libmemcached_with(servers, {{MEMCACHED_BEHAVIOR_KETAMA, 1}});
    // KETAMA alone keeps the default key hash (one-at-a-time), not MD5.
    CHECK(memcached_behavior_get(memc.get(), MEMCACHED_BEHAVIOR_HASH) == MEMCACHED_HASH_DEFAULT);
    CHECK(mismatches(memc, HashRing(servers, HashMode::libmemcached_ketama)) == 0);
}

TEST_CASE("libmc_md5 places 10,000 keys as libmemcached's KETAMA with the MD5 hash",
          "[ring][ketama][libmemcached]") {
    // libmc's ring is libmemcached's unweighted continuum with MD5 everywhere, except that a
    // unix socket is named without libmemcached's ":0": compare over TCP servers.
    std::vector<ServerAddress> servers = five_servers({1, 1, 1, 1, 1});
    servers.back() = ServerAddress::parse("10.0.0.5:11211");
    const auto memc = libmemcached_with(
        servers, {{MEMCACHED_BEHAVIOR_KETAMA, 1}, {MEMCACHED_BEHAVIOR_HASH, MEMCACHED_HASH_MD5}});
    CHECK(mismatches(memc, HashRing(servers, HashMode::libmc_md5)) == 0);
}
