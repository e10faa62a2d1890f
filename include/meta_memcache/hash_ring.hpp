#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache {

/// How a HashRing places keys. Each mode is bit-compatible with the client named, so a
/// fleet shared with it sees every key on the same server. Switching modes re-shards
/// every key: choose explicitly.
enum class HashMode : std::uint8_t {
    /// meta-memcache-py's default (uhashring): MD5, 160 points per server named
    /// "<name>-<i>", the full 128-bit digest compared.
    uhashring,
    /// A fast ring for new fleets: XXH3-64, 160 points per server.
    xxhash,
};

/// A consistent-hash ring over server names (ServerAddress::name(): alias or host:port).
/// Immutable and thread-safe once built.
class HashRing {
public:
    /// @throws InvalidInputError when `nodes` is empty or has duplicates.
    HashRing(std::vector<std::string> nodes, HashMode mode = HashMode::uhashring);

    /// Index (into nodes()) of the server that owns `routing_key`.
    [[nodiscard]] std::size_t node_for(std::string_view routing_key) const noexcept;
    /// The server names, in the order given.
    [[nodiscard]] const std::vector<std::string>& nodes() const noexcept { return nodes_; }
    [[nodiscard]] HashMode mode() const noexcept { return mode_; }

private:
    struct Point {
        std::uint64_t hi;
        std::uint64_t lo;
        std::uint32_t node;
    };
    void hash(std::string_view data, std::uint64_t& hi, std::uint64_t& lo) const noexcept;

    std::vector<std::string> nodes_;
    HashMode mode_;
    std::vector<Point> points_;
};

}  // namespace meta_memcache
