// ShardedRouter placement and server-list changes, without a network: pools connect lazily,
// so routing never touches a socket here.
#include <meta_memcache/error.hpp>
#include <meta_memcache/router.hpp>

#include "catch.hpp"

#include <array>
#include <memory>
#include <string>
#include <vector>

using meta_memcache::HashMode;
using meta_memcache::Key;
using meta_memcache::ServerAddress;
using meta_memcache::ShardedRouter;

namespace {

std::vector<ServerAddress> addresses(std::initializer_list<const char*> texts) {
    std::vector<ServerAddress> out;
    for (const char* t : texts)
        out.push_back(ServerAddress::parse(t));
    return out;
}

std::string key(int i) {
    return "key:" + std::to_string(i);
}

constexpr int key_count = 20000;

/// Which pool each of the test keys goes to.
std::vector<std::shared_ptr<meta_memcache::ConnectionPool>> placement(const ShardedRouter& r) {
    std::vector<std::shared_ptr<meta_memcache::ConnectionPool>> out;
    out.reserve(key_count);
    for (int i = 0; i < key_count; ++i)
        out.push_back(r.pool_for(key(i)));
    return out;
}

/// Keys that changed pool between two placements, and how many of those did not move
/// from or to `server` (the one added or removed).
struct Moves {
    int moved = 0;
    int elsewhere = 0;
};

Moves moves(const std::vector<std::shared_ptr<meta_memcache::ConnectionPool>>& before,
            const std::vector<std::shared_ptr<meta_memcache::ConnectionPool>>& after,
            const std::string& server) {
    Moves m;
    for (std::size_t k = 0; k < before.size(); ++k) {
        if (before[k] == after[k])
            continue;  // the same pool object: same server, connections kept
        ++m.moved;
        if (before[k]->name() != server && after[k]->name() != server)
            ++m.elsewhere;
    }
    return m;
}

constexpr std::array<HashMode, 8> all_modes{
    HashMode::uhashring,      HashMode::ketama,      HashMode::libmemcached_ketama,
    HashMode::libmc_md5,      HashMode::libmc_crc32, HashMode::libmc_fnv1_32,
    HashMode::libmc_fnv1a_32, HashMode::xxhash,
};

}  // namespace

TEST_CASE("the sharded router routes by the routing key when a key has one", "[router][ring]") {
    // meta-memcache-py's upstream vectors: "foo" on 2.2.2.2, "bar" on 1.1.1.1, and
    // Key("bar", routing_key="foo") where "foo" is.
    ShardedRouter router(addresses({"1.1.1.1:11211", "2.2.2.2:11211", "3.3.3.3:11211"}), {},
                         HashMode::uhashring);
    CHECK(router.pool_for("foo")->name() == "2.2.2.2:11211");
    CHECK(router.pool_for("bar")->name() == "1.1.1.1:11211");
    CHECK(router.pool_for(Key("bar", "foo"))->name() == "2.2.2.2:11211");
    CHECK(router.pool_for(Key("foo", "bar"))->name() == "1.1.1.1:11211");
}

TEST_CASE("the sharded router hashes the alias, not the address", "[router][ring]") {
    ShardedRouter a(addresses({"10.0.0.1:11211 mc-1", "10.0.0.2:11211 mc-2"}), {},
                    HashMode::ketama);
    ShardedRouter b(addresses({"10.9.9.9:11300 mc-1", "10.0.0.2:11211 mc-2"}), {},
                    HashMode::ketama);
    for (int i = 0; i < 200; ++i)
        CHECK(a.pool_for(key(i))->name() == b.pool_for(key(i))->name());
}

TEST_CASE("adding a fifth server moves about a fifth of the keys, all onto it", "[router][ring]") {
    for (HashMode mode : all_modes) {
        INFO(to_string(mode));
        ShardedRouter router(
            addresses({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211"}), {},
            mode);
        const auto before = placement(router);
        router.add_server(ServerAddress::parse("10.0.0.5:11211"));
        const auto after = placement(router);
        const Moves m = moves(before, after, "10.0.0.5:11211");
        CHECK(m.elsewhere == 0);
        // 1/5 of the keys is 4000; 160 or 100 points per server spread it by a few %.
        CHECK(m.moved > key_count / 8);
        CHECK(m.moved < key_count * 3 / 10);
    }
}

TEST_CASE("removing a server moves only its keys", "[router][ring]") {
    for (HashMode mode : all_modes) {
        INFO(to_string(mode));
        ShardedRouter router(addresses({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211",
                                        "10.0.0.4:11211", "10.0.0.5:11211"}),
                             {}, mode);
        const auto before = placement(router);
        REQUIRE(router.remove_server("10.0.0.3:11211"));
        const auto after = placement(router);
        const Moves m = moves(before, after, "10.0.0.3:11211");
        CHECK(m.elsewhere == 0);
        CHECK(m.moved > key_count / 8);
        CHECK(m.moved < key_count * 3 / 10);
        CHECK(router.servers().size() == 4);
    }
}

TEST_CASE("set_servers keeps the pools of servers that stay", "[router]") {
    ShardedRouter router(addresses({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}), {},
                         HashMode::uhashring);
    const auto pool_named = [&](const std::string& name) {
        for (int i = 0; i < 1000; ++i) {
            auto p = router.pool_for(key(i));
            if (p->name() == name)
                return p;
        }
        return std::shared_ptr<meta_memcache::ConnectionPool>();
    };
    const auto p1 = pool_named("10.0.0.1:11211");
    const auto p2 = pool_named("10.0.0.2:11211");
    const auto p3 = pool_named("10.0.0.3:11211");
    REQUIRE(p1);
    REQUIRE(p2);
    REQUIRE(p3);
    auto next = addresses({"10.0.0.3:11211", "10.0.0.4:11211", "10.0.0.1:11211"});
    next[2].weight = 2;  // a weight change keeps the pool
    router.set_servers(next);
    CHECK(router.servers() == next);
    CHECK(pool_named("10.0.0.1:11211") == p1);
    CHECK(pool_named("10.0.0.3:11211") == p3);
    CHECK(pool_named("10.0.0.2:11211") == nullptr);
    CHECK(pool_named("10.0.0.4:11211") != nullptr);
    CHECK(router.ring()->points_per_node() == std::vector<std::size_t>{160, 160, 320});
    const auto counters = router.get_counters();
    REQUIRE(counters.size() == 3);
    CHECK(counters[0].server == "10.0.0.3:11211");
    CHECK(counters[1].server == "10.0.0.4:11211");
    // A pool handed out before the change stays usable after its server left.
    CHECK(p2->name() == "10.0.0.2:11211");
    CHECK(p2->counters().total_created == 0);
}

TEST_CASE("a bad server-list change throws and leaves the router as it was", "[router]") {
    using meta_memcache::InvalidInputError;
    ShardedRouter router(addresses({"10.0.0.1:11211", "10.0.0.2:11211"}), {}, HashMode::libmc_md5);
    const auto servers = router.servers();
    const auto ring = router.ring();
    CHECK_THROWS_WITH(router.add_server(ServerAddress::parse("10.0.0.2:11211")),
                      Catch::Contains("listed twice"));
    auto weighted = ServerAddress::parse("10.0.0.3:11211");
    weighted.weight = 3;
    CHECK_THROWS_WITH(router.add_server(weighted), Catch::Contains("no weights"));
    CHECK_THROWS_AS(router.set_servers({}), InvalidInputError);
    CHECK_FALSE(router.remove_server("10.0.0.9:11211"));
    REQUIRE(router.remove_server("10.0.0.1:11211"));
    CHECK_THROWS_WITH(router.remove_server("10.0.0.2:11211"),
                      Catch::Contains("at least one server"));
    CHECK(router.servers() == addresses({"10.0.0.2:11211"}));
    // The snapshot taken before the changes is unaffected by them.
    CHECK(ring->nodes().size() == 2);
    CHECK(servers.size() == 2);
}
