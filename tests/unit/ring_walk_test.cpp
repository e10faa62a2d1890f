// HashRing::find_node_for: the clockwise walk FailoverRouter uses to pick a down server's
// substitute.
#include <meta_memcache/hash_ring.hpp>

#include "catch.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using meta_memcache::HashMode;
using meta_memcache::HashRing;
using meta_memcache::ServerAddress;

namespace {

std::vector<ServerAddress> five_servers() {
    std::vector<ServerAddress> out;
    for (int i = 1; i <= 5; ++i)
        out.push_back(ServerAddress::parse("10.0.0." + std::to_string(i) + ":11211"));
    return out;
}

}  // namespace

TEST_CASE("the ring walk starts at the key's own server and meets every server",
          "[ring][failover]") {
    const auto mode = GENERATE(HashMode::uhashring, HashMode::ketama, HashMode::libmc_md5,
                               HashMode::libmemcached_ketama, HashMode::xxhash);
    INFO(to_string(mode));
    const HashRing ring(five_servers(), mode);
    for (int k = 0; k < 500; ++k) {
        const std::string key = "walk:" + std::to_string(k);
        CHECK(ring.find_node_for(key, [](std::size_t) { return true; }) == ring.node_for(key));
        std::vector<std::size_t> order;  // distinct nodes in the order they are offered
        const auto none = ring.find_node_for(key, [&](std::size_t node) {
            if (std::find(order.begin(), order.end(), node) == order.end())
                order.push_back(node);
            return false;
        });
        CHECK_FALSE(none.has_value());
        REQUIRE(order.size() == 5);
        CHECK(order.front() == ring.node_for(key));
    }
}

TEST_CASE("skipping a server on the walk places its keys where a ring without it would",
          "[ring][failover]") {
    // Consistent hashing: without server X the others keep their points, so X's keys go to
    // the owner of the next point that is not X's, which is what the walk finds. (With equal
    // weights every mode qualifies; ketama's share arithmetic gives 160 points each.)
    const auto mode = GENERATE(HashMode::uhashring, HashMode::ketama, HashMode::libmc_crc32,
                               HashMode::libmemcached_ketama, HashMode::xxhash);
    INFO(to_string(mode));
    const auto all = five_servers();
    const HashRing ring(all, mode);
    for (std::size_t skipped = 0; skipped < all.size(); ++skipped) {
        auto rest = all;
        rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(skipped));
        const HashRing without(rest, mode);
        int moved = 0;
        for (int k = 0; k < 2000; ++k) {
            const std::string key = "skip:" + std::to_string(k);
            const auto node = ring.find_node_for(key, [&](std::size_t n) { return n != skipped; });
            REQUIRE(node.has_value());
            INFO(key);
            CHECK(all[*node] == rest[without.node_for(key)]);
            if (ring.node_for(key) == skipped)
                ++moved;
            else
                CHECK(*node == ring.node_for(key));  // other keys do not move
        }
        CHECK(moved > 200);  // about a fifth of the keys were the skipped server's
    }
}

TEST_CASE("the ring walk skips several servers and finds none when all are rejected",
          "[ring][failover]") {
    const HashRing ring(five_servers(), HashMode::uhashring);
    const std::set<std::size_t> down{0, 2, 3};
    std::set<std::size_t> substitutes;
    for (int k = 0; k < 300; ++k) {
        const std::string key = "multi:" + std::to_string(k);
        const auto node = ring.find_node_for(key, [&](std::size_t n) { return !down.count(n); });
        REQUIRE(node.has_value());
        CHECK_FALSE(down.count(*node));
        substitutes.insert(*node);
    }
    CHECK(substitutes == std::set<std::size_t>{1, 4});
    CHECK_FALSE(ring.find_node_for("k", [](std::size_t) { return false; }).has_value());
    const HashRing single({"only:11211"});
    CHECK(single.find_node_for("k", [](std::size_t) { return true; }) == std::size_t{0});
    CHECK_FALSE(single.find_node_for("k", [](std::size_t n) { return n != 0; }).has_value());
}
