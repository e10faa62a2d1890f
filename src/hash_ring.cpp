#include <meta_memcache/error.hpp>
#include <meta_memcache/hash_ring.hpp>

#define OPENSSL_SUPPRESS_DEPRECATED  // MD5_*: allocation-free, unlike EVP_Digest
#include <openssl/md5.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <set>

namespace meta_memcache {

namespace {

constexpr std::uint32_t points_per_node = 160;

std::uint64_t load_be64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | p[i];
    return v;
}

}  // namespace

void HashRing::hash(std::string_view data, std::uint64_t& hi, std::uint64_t& lo) const noexcept {
    switch (mode_) {
        case HashMode::uhashring: {
            // int(md5(x).hexdigest(), 16): the digest as one big-endian 128-bit number.
            unsigned char d[MD5_DIGEST_LENGTH];
            MD5(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
            hi = load_be64(d);
            lo = load_be64(d + 8);
            return;
        }
        case HashMode::xxhash:
            hi = XXH3_64bits(data.data(), data.size());
            lo = 0;
            return;
    }
    hi = lo = 0;
}

HashRing::HashRing(std::vector<std::string> nodes, HashMode mode)
    : nodes_(std::move(nodes)), mode_(mode) {
    if (nodes_.empty()) {
        throw InvalidInputError("a hash ring needs at least one server");
    }
    std::set<std::string_view> seen;
    for (const auto& n : nodes_) {
        if (!seen.insert(n).second) {
            throw InvalidInputError("server \"" + n + "\" is listed twice");
        }
    }
    points_.reserve(nodes_.size() * points_per_node);
    std::string label;
    for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
        for (std::uint32_t i = 0; i < points_per_node; ++i) {
            label = nodes_[n];
            label += '-';
            label += std::to_string(i);
            Point p{0, 0, n};
            hash(label, p.hi, p.lo);
            points_.push_back(p);
        }
    }
    // Sort by position; on a collision the node listed later wins, as in uhashring.
    std::stable_sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
        return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
    });
    std::vector<Point> unique;
    unique.reserve(points_.size());
    for (const Point& p : points_) {
        if (!unique.empty() && unique.back().hi == p.hi && unique.back().lo == p.lo) {
            unique.back() = p;
        } else {
            unique.push_back(p);
        }
    }
    points_ = std::move(unique);
}

std::size_t HashRing::node_for(std::string_view routing_key) const noexcept {
    if (nodes_.size() == 1)
        return 0;
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    hash(routing_key, hi, lo);
    // The first point strictly after the key's hash, wrapping around (bisect_right).
    auto it =
        std::upper_bound(points_.begin(), points_.end(), std::pair{hi, lo},
                         [](const std::pair<std::uint64_t, std::uint64_t>& k, const Point& p) {
                             return k.first != p.hi ? k.first < p.hi : k.second < p.lo;
                         });
    if (it == points_.end())
        it = points_.begin();
    return it->node;
}

}  // namespace meta_memcache
