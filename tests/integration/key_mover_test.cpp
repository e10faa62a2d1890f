// KeyMover and dump_keys: a server's keys listed and copied to their new owners.

#include <meta_memcache/meta_memcache.hpp>

#include "catch.hpp"
#include "memcached_server.hpp"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <thread>

using namespace meta_memcache;

namespace {

/// `n` keys (with `base` in them) that `ring` places on the server named `name`.
std::vector<std::string> keys_on(const ShardedRouter& ring,
                                 const std::string& name,
                                 std::size_t n,
                                 std::string_view base) {
    std::vector<std::string> keys;
    const std::string prefix = mmtest::unique_key(base);
    for (std::size_t i = 0; keys.size() < n; ++i) {
        std::string k = prefix + ":" + std::to_string(i);
        if (ring.pool_for(k)->name() == name)
            keys.push_back(std::move(k));
    }
    return keys;
}

/// ms of every key in one fan-out: `value(i)`, TTL `ttl(i)`, client flags `flags(i)`.
void store_all(Router& router,
               const std::vector<std::string>& keys,
               const std::vector<std::string>& values,
               const std::function<std::int64_t(std::size_t)>& ttl,
               const std::function<std::uint32_t(std::size_t)>& flags) {
    std::vector<Request> writes(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        writes[i].command = MetaCommand::set;
        writes[i].key = keys[i];
        writes[i].value = values[i];
        writes[i].flags.cache_ttl = ttl(i);
        writes[i].flags.client_flag = flags(i);
    }
    std::vector<Response> out(keys.size());
    router.execute(writes, out, ExecContext{});
    for (const Response& r : out)
        REQUIRE(std::holds_alternative<Success>(r));
}

/// mg v t f of every key, in one fan-out.
std::vector<Response> read_all(
    const std::function<void(std::span<const Request>, std::span<Response>)>& execute,
    const std::vector<std::string>& keys) {
    std::vector<Request> reads(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        reads[i].key = keys[i];
        reads[i].flags = {.return_client_flag = true, .return_value = true, .return_ttl = true};
    }
    std::vector<Response> out(keys.size());
    execute(reads, out);
    return out;
}

}  // namespace

TEST_CASE("dump_keys lists a server's keys as bytes, with expiry and size",
          "[mover][integration]") {
    mmtest::MemcachedServer server;
    auto pool = std::make_shared<ConnectionPool>(server.address(), PoolOptions{});
    CacheClient cache(std::make_shared<ShardedRouter>(std::vector{server.address()}));
    const std::string plain = mmtest::unique_key("plain");
    const std::string spaced = mmtest::unique_key("with space");  // sent base64
    const std::string binary = std::string("\xff\x01", 2) + mmtest::unique_key("bin");
    REQUIRE(cache.set(plain, "v", 0));
    REQUIRE(cache.set(spaced, "v", 600));
    REQUIRE(cache.set(binary, "v", 600));
    std::map<std::string, DumpedKey> listed;
    dump_keys(*pool, [&](DumpedKey&& k) { listed[k.key] = k; });
    REQUIRE(listed.size() == 3);
    CHECK(listed.at(plain).expiry == -1);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    CHECK(std::abs(listed.at(spaced).expiry - (now + 600)) <= 2);
    CHECK(listed.at(binary).size > binary.size());
    // The connection is in step afterwards: the next request on it works.
    CHECK(cache.get(plain) == "v");
    CHECK(pool->counters().total_errors == 0);
}

TEST_CASE(
    "a mover copies every key of a drained server with its TTL and flags, skipping "
    "placeholders, stale and unplaceable items, and a second run copies nothing",
    "[mover][drain][integration]") {
    mmtest::MemcachedCluster cluster(3);
    auto ring = std::make_shared<ShardedRouter>(std::vector{
        cluster[0].address("mc-0"), cluster[1].address("mc-1"), cluster[2].address("mc-2")});
    const std::vector<std::string> keys = keys_on(*ring, "mc-1", 10000, "mv");
    std::vector<std::string> values(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
        values[i] = "value of " + keys[i] + std::string(i % 50, 'x');
    store_all(
        *ring, keys, values, [](std::size_t i) { return i % 3 == 0 ? 0 : 1000 + i % 500; },
        [](std::size_t i) { return static_cast<std::uint32_t>(i % 1000); });
    // Items not worth copying: lease placeholders, stale values, a key placed by a routing
    // key (its owner cannot be told from the listing).
    const std::vector<std::string> odd = keys_on(*ring, "mc-1", 10, "odd");
    for (std::size_t i = 0; i < 5; ++i)
        cluster[1].raw("mg " + odd[i] + " N30\r\n");
    for (std::size_t i = 5; i < 10; ++i) {
        REQUIRE(cluster[1].raw("set " + odd[i] + " 0 300 3\r\nold\r\n") == "STORED\r\n");
        REQUIRE(cluster[1].raw("md " + odd[i] + " I T30\r\n") == "HD\r\n");
    }
    std::string routed;
    for (int i = 0; routed.empty(); ++i) {
        const std::string k = mmtest::unique_key("routed" + std::to_string(i));
        if (ring->pool_for(k)->name() != "mc-1")
            routed = k;
    }
    CacheClient before(ring);
    REQUIRE(before.set(Key(routed, keys[0]), "routed", 600));

    auto drain = std::make_shared<DrainingRouter>(ring, "mc-1");
    // Reads during the drain still pull keys on demand.
    CacheClient cache(drain);
    for (std::size_t i = 0; i < 100; ++i)
        REQUIRE(std::holds_alternative<Value>(cache.meta_get(keys[i], {.return_value = true})));
    REQUIRE(drain->counters().pulled == 100);

    KeyMover mover(drain->ring());
    mover.move_drained(*drain);
    const KeyMoverCounters c = mover.counters();
    CHECK(c.listed == 10000 + 10 + 1);
    CHECK(c.copied == 9900);
    CHECK(c.present == 100);
    CHECK(c.skipped_lease == 5);
    CHECK(c.skipped_stale == 5);
    CHECK(c.skipped_unplaced == 1);
    CHECK(c.failed == 0);
    CHECK(c.gone == 0);
    CHECK(c.share_moved() == 1.0);

    // Every key at its new owner: the same bytes and flags, the TTL within a second (plus
    // the seconds between reading the source and reading the target, which a slow machine
    // can make more than one).
    const auto read_started = std::chrono::steady_clock::now();
    const auto source = read_all(
        [&](auto r, auto out) { execute_on_pool(*drain->drained_pool(), r, out, {}); }, keys);
    const auto target =
        read_all([&](auto r, auto out) { drain->ring()->execute(r, out, ExecContext{}); }, keys);
    const auto between =
        std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - read_started)
            .count();
    std::size_t same = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto* s = std::get_if<Value>(&source[i]);
        const auto* t = std::get_if<Value>(&target[i]);
        if (s == nullptr || t == nullptr || s->data != t->data ||
            s->flags.client_flag != t->flags.client_flag || (*s->flags.ttl == -1) != (i % 3 == 0) ||
            (*t->flags.ttl == -1) != (i % 3 == 0))
            continue;
        const std::int64_t drift = *s->flags.ttl - *t->flags.ttl;  // the target is read later
        if (*s->flags.ttl == -1 || (drift >= -1 && drift <= 1 + between))
            ++same;
    }
    CHECK(same == keys.size());
    for (const Response& r :
         read_all([&](auto r, auto out) { drain->ring()->execute(r, out, ExecContext{}); }, odd))
        CHECK(std::holds_alternative<Miss>(r));  // no placeholder or stale value copied

    KeyMover again(drain->ring());
    again.move_drained(*drain);
    CHECK(again.counters().copied == 0);
    CHECK(again.counters().present == 10000);
}

TEST_CASE(
    "a mover keeps to its key and byte rates, its counters readable while it runs, and "
    "never overwrites a key rewritten at the new owner meanwhile",
    "[mover][integration]") {
    mmtest::MemcachedCluster cluster(2);
    auto from = std::make_shared<ShardedRouter>(std::vector{cluster[0].address()});
    auto to = std::make_shared<ShardedRouter>(std::vector{cluster[1].address()});
    const std::vector<std::string> keys = keys_on(*from, cluster[0].address().name(), 1500, "r");
    const std::vector<std::string> values(keys.size(), std::string(1000, 'v'));
    store_all(
        *from, keys, values, [](std::size_t) { return 600; }, [](std::size_t) { return 0U; });

    SECTION("keys per second") {
        const std::vector<KeyView> all(keys.begin(), keys.end());
        KeyMover mover(to, {.keys_per_second = 1000});
        const auto start = std::chrono::steady_clock::now();
        std::thread copier([&] { mover.copy_keys(*from, all); });
        // Mid-way: some keys done, not all; then rewrite some at the new owner.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        const KeyMoverCounters mid = mover.counters();
        CacheClient target(to);
        for (std::size_t i = 0; i < keys.size(); i += 30)
            REQUIRE(target.set(keys[i], "newer", 600));
        copier.join();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        CHECK(mid.done() > 0);
        CHECK(mid.done() < keys.size());
        const KeyMoverCounters c = mover.counters();
        CHECK(c.copied + c.present == keys.size());
        const double rate = static_cast<double>(keys.size()) / secs;
        CHECK(rate > 900);
        CHECK(rate < 1100);
        for (std::size_t i = 0; i < keys.size(); i += 30)
            CHECK(target.get(keys[i]) == "newer");
    }
    SECTION("bytes per second") {
        const std::vector<KeyView> some(keys.begin(), keys.begin() + 600);
        KeyMover mover(to, {.bytes_per_second = 500'000});
        const auto start = std::chrono::steady_clock::now();
        mover.copy_keys(*from, some);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const KeyMoverCounters c = mover.counters();
        CHECK(c.copied == 600);
        CHECK(c.bytes == 600'000);
        const double rate = static_cast<double>(c.bytes) / secs;
        CHECK(rate > 450'000);
        CHECK(rate < 550'000);
    }
    SECTION("listing and copying a server's keys, stopped mid-way") {
        KeyMover mover(to, {.keys_per_second = 200});
        std::thread copier([&] { mover.move_server(*from->pool_for(keys[0])); });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        mover.stop();
        copier.join();
        CHECK(mover.counters().listed == keys.size());
        CHECK(mover.counters().copied > 0);
        CHECK(mover.counters().copied < 200);
    }
}

TEST_CASE("a mover refuses bad options before copying anything", "[mover][integration]") {
    mmtest::MemcachedServer server;
    auto to = std::make_shared<ShardedRouter>(std::vector{server.address()});
    CHECK_THROWS_AS(KeyMover(nullptr), InvalidInputError);
    CHECK_THROWS_AS(KeyMover(to, {.keys_per_second = -1}), InvalidInputError);
    CHECK_THROWS_AS(KeyMover(to, {.batch_size = 0}), InvalidInputError);
    CHECK_THROWS_AS(KeyMover(to, {.batch_size = 10001}), InvalidInputError);
    CHECK_THROWS_AS(KeyMover(to, {.max_item_size = 10}), InvalidInputError);
    CHECK_THROWS_AS(KeyMover(to, {.dump_timeout = std::chrono::milliseconds(0)}),
                    InvalidInputError);
}
