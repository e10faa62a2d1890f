#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace meta_memcache {

/// How `set` stores: the ms M flag.
enum class SetMode : std::uint8_t { set, add, replace, append, prepend };

/// Early recache: when an item's remaining TTL drops below `ttl` seconds, exactly one
/// reader is told it won (gets nothing and should recompute and `set`), while everyone
/// else keeps getting the current value. All readers of a key should use the same policy.
struct RecachePolicy {
    std::int64_t ttl = 30;  ///< seconds of remaining TTL under which a reader wins
};

/// Leases: a miss hands exactly one caller the right to fill the key (a placeholder is
/// created with `ttl`); the others wait and retry, backing off, for up to `miss_retries`
/// attempts.
struct LeasePolicy {
    std::int64_t ttl = 30;                                ///< placeholder TTL, seconds
    unsigned miss_retries = 3;                            ///< attempts before giving up
    std::chrono::milliseconds miss_retry_wait{1000};      ///< first wait
    double wait_backoff_factor = 1.2;                     ///< each wait grows by this
    std::chrono::milliseconds miss_max_retry_wait{5000};  ///< cap of a single wait
};

/// Serve-stale: deletes mark the item stale for `mark_stale_on_deletion_ttl` seconds
/// instead of removing it (one reader recomputes, the rest get the stale value), and a
/// set whose CAS no longer matches stores its value marked stale instead of failing.
struct StalePolicy {
    /// > 0: `del` invalidates (md I T<ttl>); 0: it deletes; negative: InvalidInputError.
    std::int64_t mark_stale_on_deletion_ttl = 0;
    bool mark_stale_on_cas_mismatch = false;  ///< `set` with a CAS adds I
};

/// What a call does when its server fails (timeout, connection lost, marked down,
/// SERVER_ERROR). Invalid input always throws.
struct FailureHandling {
    /// true: throw; false: the failure reads as a miss / false; empty: the router's default.
    std::optional<bool> raise_on_server_error{};
    /// Report the key of a failed write to `on_write_failure` subscribers.
    bool track_write_failures = true;
};

}  // namespace meta_memcache
