// aliases: naming servers so that a server can move to a new address and keep its keys.
//
// A ring places keys by each server's name: its alias when it has one, else "host:port".
// Name servers by role ("mc-1", "mc-2", ...) and a server that moves to a new machine
// keeps every one of its keys; no other server's keys move either. Without aliases the
// new address is a new name, and a share of the keys of every server moves.
//
// Needs four servers: mc-1, mc-2 and mc-3, and a spare machine mc-2 moves to.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm = meta_memcache;

int main() try {
    const auto addresses = example::servers_from_env(4);
    std::vector<mm::ServerAddress> servers;
    for (std::size_t i = 0; i < 3; ++i) {
        // The text form takes the alias after a space: "10.0.0.2:11211 mc-2".
        servers.push_back(
            mm::ServerAddress::parse(addresses[i].endpoint() + " mc-" + std::to_string(i + 1)));
    }
    const mm::ServerAddress spare = addresses[3];
    auto ring = std::make_shared<mm::ShardedRouter>(servers);
    mm::CacheClient cache(ring);

    std::printf("1. which server a key maps to\n");
    std::vector<std::string> keys;
    for (int i = 0; i < 90; ++i)
        keys.push_back(example::unique_key("user:" + std::to_string(i)));
    for (std::size_t i = 0; i < 4; ++i) {
        const mm::ServerAddress& s = ring->pool_for(keys[i])->server();
        std::printf("  %s -> %s (%s)\n", keys[i].c_str(), s.name().c_str(), s.endpoint().c_str());
    }
    // The ring alone answers the same question, without connecting (as `mmc where` does).
    const mm::HashRing placement(servers, mm::HashMode::uhashring);
    example::expect(placement.identity_for(keys[0]) == ring->pool_for(keys[0])->name(),
                    "HashRing::identity_for names the same server as the client uses");
    for (const auto& k : keys)
        cache.set(k, "value of " + k, 600);

    std::printf("2. mc-2 moves to %s\n", spare.endpoint().c_str());
    std::vector<mm::ServerAddress> moved = servers;
    moved[1] = mm::ServerAddress::parse(spare.endpoint() + " mc-2");
    std::size_t changed = 0;
    const mm::HashRing after(moved, mm::HashMode::uhashring);
    for (const auto& k : keys)
        if (after.identity_for(k) != placement.identity_for(k))
            ++changed;
    example::expect(changed == 0, "with aliases, no key changes server");

    // Without aliases the same move renames the server: count what would move.
    std::vector<mm::ServerAddress> bare_before, bare_after;
    for (std::size_t i = 0; i < 3; ++i) {
        bare_before.push_back(addresses[i]);
        bare_after.push_back(i == 1 ? spare : addresses[i]);
    }
    const mm::HashRing bare_ring(bare_before, mm::HashMode::uhashring);
    const mm::HashRing bare_moved(bare_after, mm::HashMode::uhashring);
    std::size_t would_move = 0, of_others = 0;
    for (const auto& k : keys) {
        const std::string& was = bare_ring.identity_for(k);
        const std::string& now = bare_moved.identity_for(k);
        if (was != now)
            ++would_move;
        if (was != now && was != addresses[1].endpoint())
            ++of_others;
    }
    std::printf(
        "  without aliases %zu of %zu keys would change server, %zu of them from servers "
        "that did not move\n",
        would_move, keys.size(), of_others);
    example::expect(would_move > 0, "without aliases, keys would move");

    // The new machine starts empty: copy mc-2's entries over, keeping TTLs and client flags
    // (what `mmc warm --from OLD --to NEW` does), then point the ring at the new address.
    mm::CacheClient old_mc2(std::make_shared<mm::SingleServerRouter>(servers[1]));
    mm::CacheClient new_mc2(std::make_shared<mm::SingleServerRouter>(moved[1]));
    std::size_t copied = 0;
    for (const auto& k : keys) {
        if (placement.identity_for(k) != "mc-2")
            continue;
        const mm::ReadResponse r = old_mc2.meta_get(
            k, {.return_client_flag = true, .return_value = true, .return_ttl = true});
        if (const auto* v = std::get_if<mm::Value>(&r)) {
            const std::int64_t ttl = v->flags.ttl.value_or(-1);
            new_mc2.meta_set(k, v->data, ttl < 0 ? 0 : ttl,
                             {.client_flag = v->flags.client_flag, .mode = mm::Mode::add});
            ++copied;
        }
    }
    std::printf("  copied %zu entries of mc-2 to its new address\n", copied);
    ring->set_servers(moved);
    example::expect(ring->pool_named("mc-2")->server().endpoint() == spare.endpoint(),
                    "the ring now sends mc-2's keys to the new address");

    std::size_t found = 0;
    for (const auto& k : keys)
        if (cache.get(k) == std::optional<std::string>("value of " + k))
            ++found;
    example::expect(found == keys.size(), "all 90 keys are hits after the move");

    for (const auto& k : keys)
        cache.del(k);
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "aliases: %s\n", e.what());
    return 2;
}
