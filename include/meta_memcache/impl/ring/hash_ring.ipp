// HashRing: the points of every placement mode, and the lookup of a key's point.

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/md5.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/impl/ring/hash_functions.hpp>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // NOLINT(readability-identifier-naming): xxHash's switch
#endif
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

namespace meta_memcache {

namespace detail::hash_ring_impl {

/// Bytes [0, 8) of an MD5 digest as a big-endian number, from its state words A and B
/// (or bytes [8, 16) from C and D): the digest stores each word little-endian.
inline std::uint64_t md5_be64(std::uint32_t first, std::uint32_t second) noexcept {
    return static_cast<std::uint64_t>(__builtin_bswap32(first)) << 32 | __builtin_bswap32(second);
}

/// Points per unit of weight in uhashring and xxhash (uhashring's default vnodes).
inline constexpr std::uint32_t meta_ring_points = 160;
/// libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA (weighted ketama).
inline constexpr std::uint32_t ketama_points = 160;
/// libmemcached's MEMCACHED_POINTS_PER_SERVER and libmc's s_pointerPerServer.
inline constexpr std::uint32_t unweighted_ketama_points = 100;
/// Bound on the points of a weighted uhashring/xxhash ring (160 per unit of weight).
inline constexpr std::uint64_t max_points = std::uint64_t{1} << 22;

/// Whether the key goes to the first point strictly after its hash (uhashring's
/// bisect_right) rather than the first point at or after it (libmemcached, libmc).
inline bool strictly_after(HashMode mode) noexcept {
    return mode == HashMode::uhashring || mode == HashMode::xxhash;
}

/// The hash of a key, as a ring position (hi, lo); 32-bit hashes sit in `hi`.
[[gnu::always_inline]] inline void key_position(HashMode mode,
                                                std::string_view key,
                                                std::uint64_t& hi,
                                                std::uint64_t& lo) noexcept {
    lo = 0;
    switch (mode) {
        case HashMode::uhashring: {
            // int(md5(x).hexdigest(), 16): the digest as one big-endian 128-bit number.
            const auto w = detail::md5_words(key);
            hi = md5_be64(w[0], w[1]);
            lo = md5_be64(w[2], w[3]);
            return;
        }
        case HashMode::xxhash:
            hi = XXH3_64bits(key.data(), key.size());
            return;
        case HashMode::ketama:
        case HashMode::libmc_md5:
            hi = detail::hash_md5_le32(key);
            return;
        case HashMode::libmemcached_ketama:
            hi = detail::hash_one_at_a_time(key);
            return;
        case HashMode::libmc_crc32:
            hi = detail::hash_crc32(key);
            return;
        case HashMode::libmc_fnv1_32:
            hi = detail::hash_fnv1_32(key);
            return;
        case HashMode::libmc_fnv1a_32:
            hi = detail::hash_fnv1a_32(key);
            return;
    }
    hi = 0;
}

inline std::vector<RingNode> unit_weights(std::vector<std::string> identities) {
    std::vector<RingNode> nodes;
    nodes.reserve(identities.size());
    for (auto& id : identities)
        nodes.push_back(RingNode{std::move(id), 1});
    return nodes;
}

inline std::vector<RingNode> nodes_of(const std::vector<ServerAddress>& servers, HashMode mode) {
    std::vector<RingNode> nodes;
    nodes.reserve(servers.size());
    for (const auto& s : servers)
        nodes.push_back(RingNode{ring_identity(s, mode), s.weight});
    return nodes;
}

/// libmemcached's point count for one server of a weighted ketama ring, in its float
/// arithmetic (hosts.cc, update_continuum), so rounding matches to the last bit.
inline std::uint32_t weighted_ketama_points(std::uint32_t weight,
                                            std::uint64_t total_weight,
                                            std::size_t servers) noexcept {
    const float pct = static_cast<float>(weight) / static_cast<float>(total_weight);
    float share = pct * static_cast<float>(ketama_points);
    share = share / 4.0F;
    share = share * static_cast<float>(servers);
    share = share + 0.0000000001F;
    return static_cast<std::uint32_t>(std::floor(static_cast<double>(share)) * 4.0);
}

}  // namespace detail::hash_ring_impl

META_MEMCACHE_DECL HashRing::HashRing(std::vector<std::string> identities, HashMode mode)
    : nodes_(detail::hash_ring_impl::unit_weights(std::move(identities))), mode_(mode) {
    build();
}

META_MEMCACHE_DECL HashRing::HashRing(std::vector<RingNode> nodes, HashMode mode)
    : nodes_(std::move(nodes)), mode_(mode) {
    build();
}

META_MEMCACHE_DECL HashRing::HashRing(const std::vector<ServerAddress>& servers, HashMode mode)
    : nodes_(detail::hash_ring_impl::nodes_of(servers, mode)), mode_(mode) {
    build();
}

META_MEMCACHE_DECL void HashRing::build() {
    using namespace detail::hash_ring_impl;
    if (nodes_.empty()) {
        throw InvalidInputError("a hash ring needs at least one server");
    }
    std::set<std::string_view> seen;
    std::uint64_t total_weight = 0;
    for (const auto& n : nodes_) {
        if (n.identity.empty()) {
            throw InvalidInputError("a hash ring node needs a non-empty name");
        }
        if (!seen.insert(n.identity).second) {
            throw InvalidInputError("server \"" + n.identity + "\" is listed twice");
        }
        if (n.weight == 0) {
            throw InvalidInputError("server \"" + n.identity +
                                    "\" has weight 0; weights start at 1");
        }
        if (n.weight != 1 && !honours_weights(mode_)) {
            throw InvalidInputError("server \"" + n.identity + "\" has weight " +
                                    std::to_string(n.weight) +
                                    ", but HashMode::" + std::string(to_string(mode_)) +
                                    " has no weights (only uhashring, ketama and xxhash do)");
        }
        total_weight += n.weight;
    }
    if ((mode_ == HashMode::uhashring || mode_ == HashMode::xxhash) &&
        total_weight * meta_ring_points > max_points) {
        throw InvalidInputError("weights too large: " + std::to_string(total_weight) +
                                " units x 160 points is more than a ring holds (" +
                                std::to_string(max_points) + " points)");
    }

    points_.clear();
    std::string label;
    const auto name_point = [&label](const std::string& identity, std::uint32_t i) {
        label = identity;
        label += '-';
        label += std::to_string(i);
    };
    for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
        const RingNode& node = nodes_[n];
        switch (mode_) {
            case HashMode::uhashring:
            case HashMode::xxhash:
                for (std::uint32_t i = 0; i < meta_ring_points * node.weight; ++i) {
                    name_point(node.identity, i);
                    Point p{0, 0, n};
                    key_position(mode_, label, p.hi, p.lo);
                    points_.push_back(p);
                }
                break;
            case HashMode::ketama: {
                // 4 points per digest of "<identity>-<j>", j counting digests from 0.
                const std::uint32_t count =
                    weighted_ketama_points(node.weight, total_weight, nodes_.size());
                for (std::uint32_t j = 0; j < count / 4; ++j) {
                    name_point(node.identity, j);
                    const auto w = detail::md5_words(label);
                    for (std::size_t k = 0; k < 4; ++k)
                        points_.push_back(Point{w[k], 0, n});
                }
                break;
            }
            case HashMode::libmemcached_ketama:
                for (std::uint32_t i = 0; i < unweighted_ketama_points; ++i) {
                    name_point(node.identity, i);
                    points_.push_back(Point{detail::hash_one_at_a_time(label), 0, n});
                }
                break;
            case HashMode::libmc_md5:
            case HashMode::libmc_crc32:
            case HashMode::libmc_fnv1_32:
            case HashMode::libmc_fnv1a_32:
                // libmc names its points with MD5 whatever the key hash.
                for (std::uint32_t i = 0; i < unweighted_ketama_points; ++i) {
                    name_point(node.identity, i);
                    points_.push_back(Point{detail::hash_md5_le32(label), 0, n});
                }
                break;
        }
    }
    // Points are in node order, so a stable sort leaves equal positions in node order.
    std::stable_sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
        return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
    });
    // On equal positions uhashring keeps the node listed last (a dict overwritten in
    // order); libmemcached sorts by (position, server index) and takes the first, so the
    // node listed first wins (libmc's unstable sort leaves it unspecified; we do the same).
    const bool keep_last = strictly_after(mode_);
    std::vector<Point> unique;
    unique.reserve(points_.size());
    for (const Point& p : points_) {
        if (!unique.empty() && unique.back().hi == p.hi && unique.back().lo == p.lo) {
            if (keep_last)
                unique.back() = p;
        } else {
            unique.push_back(p);
        }
    }
    points_ = std::move(unique);
    points_.shrink_to_fit();

    // 4096 buckets by the top 12 bits of the position (64-bit hi for uhashring and xxhash,
    // 32-bit for the others).
    constexpr unsigned bucket_bits = 12;
    shift_ = (strictly_after(mode_) ? 64U : 32U) - bucket_bits;
    first_.assign((std::size_t{1} << bucket_bits) + 1, 0);
    std::size_t p = 0;
    for (std::size_t b = 0; b < first_.size(); ++b) {
        while (p < points_.size() && (points_[p].hi >> shift_) < b)
            ++p;
        first_[b] = static_cast<std::uint32_t>(p);
    }
}

META_MEMCACHE_DECL std::vector<std::size_t> HashRing::points_per_node() const {
    std::vector<std::size_t> counts(nodes_.size(), 0);
    for (const Point& p : points_)
        ++counts[p.node];
    return counts;
}

META_MEMCACHE_DECL std::size_t HashRing::node_for(std::string_view routing_key) const noexcept {
    if (nodes_.size() == 1)
        return 0;
    return points_[point_for(routing_key)].node;
}

META_MEMCACHE_DECL void HashRing::nodes_for_batch(
    const std::array<std::string_view, batch_size>& keys,
    std::size_t count,
    std::uint32_t* out) const noexcept {
    if (!batches_md5() || count < min_md5x8_keys) {
        for (std::size_t i = 0; i < count; ++i)
            out[i] = points_[point_for(keys[i])].node;
        return;
    }
    const detail::Md5x8Words w = detail::md5x8_words(keys);
    if (mode_ == HashMode::uhashring) {
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t p = point_at(detail::hash_ring_impl::md5_be64(w[0][i], w[1][i]),
                                           detail::hash_ring_impl::md5_be64(w[2][i], w[3][i]));
            out[i] = points_[p].node;
        }
    } else {
        for (std::size_t i = 0; i < count; ++i)
            out[i] = points_[point_at(w[0][i], 0)].node;
    }
}

META_MEMCACHE_DECL std::size_t HashRing::point_for(std::string_view routing_key) const noexcept {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    detail::hash_ring_impl::key_position(mode_, routing_key, hi, lo);
    return point_at(hi, lo);
}

inline std::size_t HashRing::point_at(std::uint64_t hi, std::uint64_t lo) const noexcept {
    // Whether the key goes after point q: after the points below it, and after an equal one
    // when keys go strictly after (uhashring's bisect_right), not when at or after.
    const bool after_equal = detail::hash_ring_impl::strictly_after(mode_);
    const auto after = [&](const Point& q) {
        return q.hi != hi ? q.hi < hi : (after_equal ? q.lo <= lo : q.lo < lo);
    };
    // The answer lies in [first_[b], first_[b + 1]]: points before the bucket are below the
    // key, points after it above. Most buckets hold a point or two, so the search ends in a
    // short scan.
    const std::size_t b = static_cast<std::size_t>(hi >> shift_);
    std::size_t p = first_[b];
    std::size_t end = first_[b + 1];
    while (end - p > 8) {
        const std::size_t mid = p + (end - p) / 2;
        if (after(points_[mid])) {
            p = mid + 1;
        } else {
            end = mid;
        }
    }
    while (p < end && after(points_[p]))
        ++p;
    return p == points_.size() ? 0 : p;
}

}  // namespace meta_memcache
