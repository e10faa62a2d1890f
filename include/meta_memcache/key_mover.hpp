#pragma once

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/router.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

namespace meta_memcache {

class DrainingRouter;

/// One item of a server's key listing (`lru_crawler metadump all`).
struct DumpedKey {
    std::string key{};         ///< the key as the server stores it (URL-decoded to its bytes)
    std::int64_t expiry = -1;  ///< when it expires, as a Unix time; -1: never
    std::uint64_t size = 0;    ///< the item's size in the server (key, header and value)
};

/// Lists every key `server` holds, with `lru_crawler metadump all` over one of the pool's
/// connections, handing each to `on_key` as the listing arrives. The listing is the keys as
/// stored: a key the client sent base64 comes back as its bytes; a key of 187 bytes or more
/// as the digest it travelled as. `timeout` bounds the wait for each piece of the listing,
/// and the retries while the server's LRU crawler is busy with another crawl.
/// @throws ServerError when the server refuses (LRU crawler disabled, dumps not allowed, a
/// crawl still busy after `timeout`); TransportError as requests do.
void dump_keys(ConnectionPool& server,
               const std::function<void(DumpedKey&&)>& on_key,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// How a KeyMover copies.
struct KeyMoverOptions {
    /// At most this many keys read per second; 0: no limit. A run keeps to it on average:
    /// time lost to a slow round trip is made up, up to a second's worth.
    double keys_per_second = 0;
    /// At most this many value bytes written per second, as keys_per_second; 0: no limit.
    double bytes_per_second = 0;
    /// Keys per round trip, 1 to 10000 (fewer when keys_per_second is low: a batch is at
    /// most a tenth of a second's keys, so the rate holds over short spans too).
    std::size_t batch_size = 100;
    /// Replace values already at the new owner. Off (the default): `add`, so a value
    /// written there meanwhile (newer than the copy) is never overwritten.
    bool overwrite = false;
    /// The target servers' item size limit (memcached -I), 1024 or more: larger values are
    /// skipped.
    std::size_t max_item_size = std::size_t{1024} * 1024;
    /// Bounds the key listing (dump_keys' timeout).
    std::chrono::milliseconds dump_timeout{30000};
};

/// What a KeyMover has done so far. Each key listed ends in exactly one of the other
/// counts (bytes aside).
struct KeyMoverCounters {
    std::uint64_t listed = 0;            ///< keys listed by the source server (or given)
    std::uint64_t copied = 0;            ///< stored at their new owner
    std::uint64_t present = 0;           ///< already at their new owner: left as they were
    std::uint64_t gone = 0;              ///< no longer at the source (deleted, expired or evicted)
    std::uint64_t skipped_lease = 0;     ///< lease placeholders (someone is filling them)
    std::uint64_t skipped_stale = 0;     ///< stale (invalidated) values
    std::uint64_t skipped_expiring = 0;  ///< expiring within the second
    /// On the server, but not placed there by their own bytes (a routing key, a long key's
    /// digest, another ring): their owner cannot be computed, so they are not copied.
    std::uint64_t skipped_unplaced = 0;
    std::uint64_t skipped_too_large = 0;  ///< over max_item_size
    std::uint64_t failed = 0;             ///< a server failed on either side
    std::uint64_t bytes = 0;              ///< value bytes copied

    /// Keys skipped, for any reason.
    [[nodiscard]] std::uint64_t skipped() const noexcept {
        return skipped_lease + skipped_stale + skipped_expiring + skipped_unplaced +
               skipped_too_large;
    }
    /// Keys dealt with (copied, present, gone, skipped or failed).
    [[nodiscard]] std::uint64_t done() const noexcept {
        return copied + present + gone + skipped() + failed;
    }
    /// The share of the keys worth moving (listed, less gone and skipped) that are now at
    /// their new owner (copied or present), 0 to 1: what to watch before removing a
    /// drained server. 1 when there is nothing to move.
    [[nodiscard]] double share_moved() const noexcept {
        const std::uint64_t not_worth = gone + skipped();
        if (listed <= not_worth)
            return 1.0;
        const double share =
            static_cast<double>(copied + present) / static_cast<double>(listed - not_worth);
        return share < 1.0 ? share : 1.0;
    }
};

/// Copies keys to their new owner in the background of a migration: the keys a server
/// holds (listed with `lru_crawler metadump all`) or a given list, read from the source with
/// `mg` (value, remaining TTL, client flags) and written to the target router with `add`
/// (the same bytes, remaining TTL and client flags), at a bounded rate. Lease placeholders,
/// stale values and items about to expire are not copied; a value already at the new
/// owner is never overwritten (unless options.overwrite), so a second run copies nothing.
///
/// One copy runs at a time; counters() and stop() may be called from any thread while it
/// runs.
///
/// @code
/// auto ring = std::make_shared<mm::ShardedRouter>(servers);
/// auto drain = std::make_shared<mm::DrainingRouter>(ring, "mc-3");
/// mm::KeyMover mover(ring, {.keys_per_second = 5000});
/// std::thread copier([&] { mover.move_drained(*drain); });   // serve traffic meanwhile
/// // ... watch mover.counters().share_moved(), then drain->finish()
/// @endcode
class KeyMover {
public:
    /// Copies into `to` (the ring without the drained server, or a new cluster).
    /// @throws InvalidInputError when `to` is null or `options` are out of range.
    explicit KeyMover(std::shared_ptr<Router> to, KeyMoverOptions options = {});
    KeyMover(const KeyMover&) = delete;
    KeyMover& operator=(const KeyMover&) = delete;
    KeyMover(KeyMover&&) = delete;
    KeyMover& operator=(KeyMover&&) = delete;
    ~KeyMover() = default;

    /// Lists `server`'s keys and copies them. With `placement`, only keys that ring places
    /// on its node `node` are copied (the others count as skipped_unplaced).
    /// @throws as dump_keys() does for the listing; failures while copying are counted.
    void move_server(ConnectionPool& server,
                     const HashRing* placement = nullptr,
                     std::size_t node = 0);
    /// Copies the keys the server `drain` drains owned in the ring before the drain. Reads
    /// through `drain` meanwhile still copy the keys they read.
    /// @throws InvalidInputError once the drain is finished.
    void move_drained(const DrainingRouter& drain);
    /// Copies `keys`, read through `from`.
    void copy_keys(Router& from, std::span<const KeyView> keys);

    /// Makes a copy under way return after its current batch (from any thread); later
    /// calls return at once.
    void stop() noexcept;
    [[nodiscard]] bool stopped() const noexcept { return stop_.load(); }
    /// A snapshot of the counters (from any thread).
    [[nodiscard]] KeyMoverCounters counters() const noexcept;

private:
    /// Executes source reads.
    using ReadFn = std::function<void(std::span<const Request>, std::span<Response>)>;
    /// Copies `keys` batch by batch until done or stopped (counting them as listed when
    /// `count_listed`).
    void copy_all(std::span<const KeyView> keys, const ReadFn& read, bool count_listed);
    /// Copies one batch; `read` executes the source reads.
    void copy_batch(std::span<const KeyView> keys, const ReadFn& read);
    /// The context of every request (no write-failure reports, the target's item size).
    [[nodiscard]] ExecContext request_context() const noexcept {
        return ExecContext{.track_write_failures = false, .max_item_size = options_.max_item_size};
    }
    /// Waits until `amount` more of `rate` per second is allowed (false: stopped).
    bool pace(double rate, double amount, std::chrono::steady_clock::time_point& next);
    /// The batch size that suits the key rate.
    [[nodiscard]] std::size_t batch_size() const noexcept;

    std::shared_ptr<Router> to_;
    KeyMoverOptions options_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;  ///< for the stop wake-up
    std::condition_variable wake_;
    std::chrono::steady_clock::time_point next_keys_{};
    std::chrono::steady_clock::time_point next_bytes_{};

    std::atomic<std::uint64_t> listed_{0};
    std::atomic<std::uint64_t> copied_{0};
    std::atomic<std::uint64_t> present_{0};
    std::atomic<std::uint64_t> gone_{0};
    std::atomic<std::uint64_t> lease_{0};
    std::atomic<std::uint64_t> stale_{0};
    std::atomic<std::uint64_t> expiring_{0};
    std::atomic<std::uint64_t> unplaced_{0};
    std::atomic<std::uint64_t> too_large_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::uint64_t> bytes_{0};
};

}  // namespace meta_memcache
