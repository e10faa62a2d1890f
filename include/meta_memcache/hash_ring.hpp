#pragma once

#include <meta_memcache/server_address.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace meta_memcache {

/// How a HashRing places keys. Each mode is bit-compatible with the client named, so a
/// fleet shared with it sees every key on the same server. Switching modes re-shards
/// almost every key: choose one explicitly and keep it. docs/routers.md has the full table
/// (what is hashed, points per server, weights).
enum class HashMode : std::uint8_t {
    /// meta-memcache-py's placement (uhashring's default ring): 160 x weight points per
    /// server, point i at MD5("<name>-<i>") as a 128-bit number, the key at MD5(key),
    /// first point strictly after the key. `name` is ServerAddress::name(). Honours weights
    /// as uhashring does (weight w gives 160 x w points).
    uhashring,
    /// libmemcached with MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (also php-memcached's
    /// OPT_LIBKETAMA_COMPATIBLE): MD5, 160 points per server scaled by its share of the
    /// total weight, 4 points per digest of "<host>-<i>" ("<host>:<port>-<i>" when the port
    /// is not 11211), key hash = the digest's first 4 bytes little-endian. Honours weights.
    ketama,
    /// libmemcached with MEMCACHED_BEHAVIOR_KETAMA alone (the default hash kept):
    /// 100 points per server, one-at-a-time hash for points and keys, same point names as
    /// `ketama`. No weights.
    libmemcached_ketama,
    /// douban/libmc with hash_fn=MD5 (its default): 100 points per server, point i at
    /// MD5("<alias or host[:port]>-<i>") (first 4 bytes little-endian), key hash the same.
    /// Also libmemcached's MEMCACHED_BEHAVIOR_KETAMA with MEMCACHED_BEHAVIOR_HASH=MD5.
    /// No weights.
    libmc_md5,
    /// douban/libmc with hash_fn=CRC_32: libmc's MD5 points, key hash CRC-32 (zlib's, all
    /// 32 bits; not libmemcached's 15-bit "crc"). No weights.
    libmc_crc32,
    /// douban/libmc with hash_fn=FNV1_32: libmc's MD5 points, key hash FNV-1 32-bit.
    libmc_fnv1_32,
    /// douban/libmc with hash_fn=FNV1A_32: libmc's MD5 points, key hash FNV-1a 32-bit.
    libmc_fnv1a_32,
    /// A fast ring for new fleets, compatible with no other client: 160 x weight points
    /// per server at XXH3-64("<name>-<i>"), key at XXH3-64(key), first point strictly after.
    /// Honours weights.
    xxhash,
};

/// The mode's name as written in code and docs ("uhashring", "ketama", "libmc_md5", ...).
[[nodiscard]] std::string_view to_string(HashMode mode) noexcept;

/// True for the modes that honour ServerAddress::weight (uhashring, ketama, xxhash); the
/// others reject a weight other than 1, as the clients they match have no weights.
[[nodiscard]] bool honours_weights(HashMode mode) noexcept;

/// The text `mode` hashes (with "-<i>" appended) for `server`'s points:
/// - uhashring, xxhash: server.name() (the alias, else "host:port", "[v6]:port", the path);
/// - ketama, libmemcached_ketama: the alias, else "host" when the port is 11211, else
///   "host:port" (IPv6 hosts without brackets, as libmemcached stores them); a unix socket
///   is "<path>:0" (libmemcached gives sockets port 0);
/// - libmc_*: the alias, else "host" when the port is 11211, else "host:port"; a unix
///   socket is its path (libmc gives sockets the default port).
/// An alias therefore lets a server move to a new address and keep its keys in every mode.
[[nodiscard]] std::string ring_identity(const ServerAddress& server, HashMode mode);

/// One server on a ring: the text its points are named after, and its weight.
struct RingNode {
    std::string identity;      ///< hashed as "<identity>-<i>" (see ring_identity())
    std::uint32_t weight = 1;  ///< share of the keys, relative to the other nodes
};

/// A consistent-hash ring. Immutable and thread-safe once built; node_for() does not
/// allocate.
class HashRing {
public:
    /// A ring over `identities`, each of weight 1 (hashed exactly as given).
    /// @throws InvalidInputError when `identities` is empty or has duplicates.
    HashRing(std::vector<std::string> identities, HashMode mode = HashMode::uhashring);
    /// A ring over weighted nodes.
    /// @throws InvalidInputError when `nodes` is empty, has duplicates, a weight is 0, or a
    /// weight other than 1 is given to a mode that does not honour weights.
    HashRing(std::vector<RingNode> nodes, HashMode mode);
    /// A ring over servers: ring_identity(server, mode) and server.weight.
    /// @throws InvalidInputError as above.
    HashRing(const std::vector<ServerAddress>& servers, HashMode mode);

    /// Index (into nodes()) of the server that owns `routing_key`.
    [[nodiscard]] std::size_t node_for(std::string_view routing_key) const noexcept;
    /// node_for() of `n` keys at once: out[i] = node_for(routing_key_of(i)) for i in
    /// [0, n). The MD5 modes (uhashring, ketama, libmc_md5) hash the keys 8 at a time in
    /// vector lanes, several times cheaper than one at a time; the other modes hash each
    /// key as node_for() does. A one-server ring writes 0 everywhere without calling
    /// `routing_key_of`; otherwise it is called once for each i, in order. Does not
    /// allocate.
    /// @param routing_key_of returns key i as a std::string_view, or a reference to a key
    ///        that lives until the call returns (a temporary std::string would dangle).
    /// @code
    /// std::vector<std::uint32_t> node(keys.size());
    /// ring.nodes_for(keys.size(), [&](std::size_t i) -> std::string_view { return keys[i]; },
    ///                node.data());
    /// @endcode
    template <class KeyOf>
    void nodes_for(std::size_t n, KeyOf&& routing_key_of, std::uint32_t* out) const;
    /// The nodes, in the order given.
    [[nodiscard]] const std::vector<RingNode>& nodes() const noexcept { return nodes_; }
    /// The identity of node `i`.
    [[nodiscard]] const std::string& identity(std::size_t i) const { return nodes_.at(i).identity; }
    /// The identity of the node that owns `routing_key`.
    [[nodiscard]] const std::string& identity_for(std::string_view routing_key) const noexcept {
        return nodes_[node_for(routing_key)].identity;
    }
    /// Walks the ring clockwise from `routing_key`'s position (the point node_for() picks,
    /// then the next points, wrapping around once) and returns the first node that
    /// `accept(node)` takes; nothing when it takes none. Each node is offered again at each
    /// of its points that is not right after one of its own, so make `accept` cheap or
    /// remember its answers. Offering order = the order of distinct nodes a key meets on
    /// the ring: node_for(key) first, then its successor, and so on (FailoverRouter sends
    /// a down server's keys to the first live node of that order). Does not allocate.
    template <class Accept>
    [[nodiscard]] std::optional<std::size_t> find_node_for(std::string_view routing_key,
                                                           Accept&& accept) const;
    /// How many points each node has on the ring (after weights), in nodes() order.
    [[nodiscard]] std::vector<std::size_t> points_per_node() const;
    [[nodiscard]] HashMode mode() const noexcept { return mode_; }

private:
    struct Point {
        std::uint64_t hi;
        std::uint64_t lo;
        std::uint32_t node;
    };
    /// Keys nodes_for() hashes together (the MD5 lanes).
    static constexpr std::size_t batch_size = 8;
    /// Fewer keys than this are hashed one at a time, as that is cheaper than 8 lanes.
    static constexpr std::size_t min_md5x8_keys = 3;

    void build();
    /// Whether nodes_for() hashes its keys eight at a time (the MD5 modes).
    [[nodiscard]] bool batches_md5() const noexcept {
        return mode_ == HashMode::uhashring || mode_ == HashMode::ketama ||
               mode_ == HashMode::libmc_md5;
    }
    /// nodes_for() of `count` <= batch_size keys.
    void nodes_for_batch(const std::array<std::string_view, batch_size>& keys,
                         std::size_t count,
                         std::uint32_t* out) const noexcept;
    /// Index into points_ of the point that owns `routing_key`.
    [[nodiscard]] std::size_t point_for(std::string_view routing_key) const noexcept;
    /// Index into points_ of the point that owns a key at ring position (hi, lo).
    [[nodiscard]] std::size_t point_at(std::uint64_t hi, std::uint64_t lo) const noexcept;

    std::vector<RingNode> nodes_;
    HashMode mode_;
    std::vector<Point> points_;
    /// Where to start looking: first_[b] is the first point whose top bits (hi >> shift_)
    /// are at least b, so a lookup searches a handful of points instead of all of them.
    std::vector<std::uint32_t> first_;
    unsigned shift_ = 0;
};

template <class KeyOf>
void HashRing::nodes_for(std::size_t n, KeyOf&& routing_key_of, std::uint32_t* out) const {
    using Given = std::invoke_result_t<KeyOf&, std::size_t>;
    static_assert(std::is_convertible_v<Given, std::string_view>,
                  "routing_key_of(i) must give something a std::string_view can view");
    static_assert(std::is_lvalue_reference_v<Given> ||
                      (!std::is_reference_v<Given> &&
                       (!std::is_class_v<Given> ||
                        std::is_same_v<std::remove_cv_t<Given>, std::string_view>)),
                  "routing_key_of(i) returns a temporary object: the view of it would dangle; "
                  "return a std::string_view or a reference");
    if (nodes_.size() == 1) {
        std::fill_n(out, n, std::uint32_t{0});
        return;
    }
    if (!batches_md5()) {  // one hash at a time is all a non-MD5 mode can do
        for (std::size_t i = 0; i < n; ++i)
            out[i] = points_[point_for(routing_key_of(i))].node;
        return;
    }
    std::array<std::string_view, batch_size> keys{};  // lanes past a short batch: ignored
    for (std::size_t first = 0; first < n; first += batch_size) {
        const std::size_t count = std::min(batch_size, n - first);
        for (std::size_t j = 0; j < count; ++j)
            keys[j] = routing_key_of(first + j);
        nodes_for_batch(keys, count, out + first);
    }
}

template <class Accept>
std::optional<std::size_t> HashRing::find_node_for(std::string_view routing_key,
                                                   Accept&& accept) const {
    const std::size_t n = points_.size();
    std::size_t p = point_for(routing_key);
    std::size_t rejected = nodes_.size();  // no node yet
    for (std::size_t step = 0; step < n; ++step) {
        const std::size_t node = points_[p].node;
        if (node != rejected) {
            if (accept(node))
                return node;
            rejected = node;
        }
        p = p + 1 == n ? 0 : p + 1;
    }
    return std::nullopt;
}

}  // namespace meta_memcache
