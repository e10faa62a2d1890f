#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace meta_memcache {

/// The probabilistic hot-key cache: an in-process copy of the few keys every reader asks
/// for, found without coordination from what memcached says about each hit (meta-memcache-py's
/// ProbabilisticHotCache, with bounded memory and invalidation). A hit whose `h` flag says
/// it was fetched before and whose `l` flag says it was last read at most
/// `max_last_access_age` ago is a candidate, kept with probability 1 / probability_factor.
/// A kept key is served from memory for `cache_ttl`; then one caller reads it from the
/// server again while the others keep the local copy for at most
/// `max_stale_while_revalidate`. A server miss, a lease placeholder, a won recache or a
/// stale item drops the local copy; so does any write, delete, invalidate, touch or
/// counter change of the key through the same client. CAS reads (get_cas,
/// get_or_lease_cas, get_typed) and get_or_lease's lease winners never use it; a
/// get_or_lease of a kept key is served from memory like a get.
///
/// Writes by other clients are not seen: a key's local copy can be up to
/// cache_ttl + max_stale_while_revalidate older than the server's.
struct HotCacheOptions {
    /// How long a kept key is served from memory before one caller revalidates it.
    std::chrono::milliseconds cache_ttl{std::chrono::seconds(10)};
    /// A hit is a candidate when memcached last served the key at most this long ago.
    std::chrono::seconds max_last_access_age{std::chrono::seconds(1)};
    /// A candidate is kept with probability 1 / probability_factor (1: always).
    std::uint32_t probability_factor = 100;
    /// After cache_ttl, how long the other callers keep serving the local copy while one
    /// revalidates it; 0: the copy is dropped at cache_ttl.
    std::chrono::milliseconds max_stale_while_revalidate{std::chrono::seconds(10)};
    /// Only keys starting with one of these are kept; empty: every key.
    std::vector<std::string> allowed_prefixes{};
    /// At most this many keys are kept (least recently used out first).
    std::size_t max_entries = 10000;
    /// At most this many bytes of keys and values (plus 64 per entry) are kept.
    std::size_t max_bytes = 64 * 1024 * 1024;

    /// @throws InvalidInputError naming the field that is out of range.
    void validate() const;
};

/// What the hot cache did, as CacheClient::get_counters() reports it.
struct HotCacheCounters {
    std::uint64_t hits = 0;           ///< reads served from memory
    std::uint64_t misses = 0;         ///< reads of keys not kept (sent to the server)
    std::uint64_t promotions = 0;     ///< keys newly kept
    std::uint64_t revalidations = 0;  ///< reads sent to the server to refresh a kept key
    std::uint64_t evictions = 0;      ///< keys dropped for the entry or byte bound
    std::uint64_t invalidations = 0;  ///< kept keys dropped by a write, a miss or a
                                      ///< placeholder
    std::uint64_t entries = 0;        ///< keys kept now
    std::uint64_t bytes = 0;          ///< bytes kept now (keys, values, 64 per entry)

    friend bool operator==(const HotCacheCounters&, const HotCacheCounters&) = default;
};

}  // namespace meta_memcache
