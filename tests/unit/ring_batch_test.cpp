// HashRing::nodes_for: the batch lookup a multi-key request uses.
#include <meta_memcache/hash_ring.hpp>

#include "catch.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using meta_memcache::HashMode;
using meta_memcache::HashRing;

namespace {

constexpr HashMode all_modes[] = {
    HashMode::uhashring,      HashMode::ketama,      HashMode::libmemcached_ketama,
    HashMode::libmc_md5,      HashMode::libmc_crc32, HashMode::libmc_fnv1_32,
    HashMode::libmc_fnv1a_32, HashMode::xxhash,
};

std::vector<std::string> servers(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":11211");
    return out;
}

/// Seeded random keys of 0..120 bytes of any value (one and two MD5 blocks).
std::vector<std::string> random_keys(std::size_t count) {
    std::uint64_t state = 7;
    const auto next = [&state] {
        state = state * 6364136223846793005U + 1442695040888963407U;
        return static_cast<std::uint32_t>(state >> 33);
    };
    std::vector<std::string> keys(count);
    for (auto& k : keys) {
        k.resize(next() % 121);
        for (char& c : k)
            c = static_cast<char>(next());
    }
    return keys;
}

}  // namespace

TEST_CASE("nodes_for places every key where node_for does, in every mode and ring size",
          "[ring][hash]") {
    const std::vector<std::string> keys = random_keys(100'000);
    std::vector<std::uint32_t> got(keys.size());
    for (const HashMode mode : all_modes) {
        for (const std::size_t size :
             {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{37}}) {
            INFO(to_string(mode) << ", " << size << " servers");
            const HashRing ring(servers(size), mode);
            std::fill(got.begin(), got.end(), std::uint32_t{99});
            ring.nodes_for(
                keys.size(), [&](std::size_t i) -> const std::string& { return keys[i]; },
                got.data());
            std::size_t differ = 0;
            for (std::size_t i = 0; i < keys.size(); ++i) {
                if (got[i] != ring.node_for(keys[i]))
                    ++differ;
            }
            CHECK(differ == 0);
        }
    }
}

TEST_CASE("nodes_for asks for each key once, in order, for any count", "[ring][hash]") {
    const std::vector<std::string> keys = random_keys(40);
    for (const HashMode mode : {HashMode::uhashring, HashMode::libmc_md5, HashMode::xxhash}) {
        const HashRing ring(servers(4), mode);
        for (std::size_t n = 0; n <= keys.size(); ++n) {
            INFO(to_string(mode) << ", " << n << " keys");
            std::vector<std::size_t> asked;
            std::vector<std::uint32_t> got(n + 1, 99);
            ring.nodes_for(
                n,
                [&](std::size_t i) -> std::string_view {
                    asked.push_back(i);
                    return keys[i];
                },
                got.data());
            REQUIRE(asked.size() == n);
            for (std::size_t i = 0; i < n; ++i) {
                CHECK(asked[i] == i);
                CHECK(got[i] == ring.node_for(keys[i]));
            }
            CHECK(got[n] == 99);  // nothing written past n
        }
    }
}

TEST_CASE("nodes_for on a one-server ring writes 0 without looking at the keys", "[ring][hash]") {
    const HashRing ring(servers(1), HashMode::uhashring);
    std::vector<std::uint32_t> got(20, 99);
    std::size_t asked = 0;
    ring.nodes_for(
        19,
        [&](std::size_t) -> std::string_view {
            ++asked;
            return "k";
        },
        got.data());
    CHECK(asked == 0);
    CHECK(std::count(got.begin(), got.end() - 1, 0U) == 19);
    CHECK(got.back() == 99);
}
