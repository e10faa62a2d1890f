#pragma once

#include <meta_memcache/router.hpp>
#include <meta_memcache/sharded_router.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace meta_memcache {

/// Options of FailoverRouter.
struct FailoverOptions {
    /// TTL cap (see cap_ttls) for requests sent to a substitute server, so what is written
    /// there during an outage expires soon after it; a T, R or N of 0 (never) or above the
    /// cap becomes the cap. 0: no cap (libmc's behaviour; not recommended, see the class).
    std::chrono::seconds failover_ttl{60};
};

/// libmc's auto failover, off unless you choose this router: while a server is down
/// (ConnectionPool::is_marked_down(), or a request to it failed on the wire), its keys go
/// to the next live server on the ring: the walk goes clockwise from the key's position to
/// the first point owned by another server that is not marked down (HashRing::
/// find_node_for). A dead server's keys are thus still cached somewhere, without a gutter
/// pool. Server-reported errors (SERVER_ERROR, CLIENT_ERROR) are not failed over. Every
/// command fails over (mg, ms, md, ma) with its TTLs capped at `failover_ttl`. Once the
/// mark-down period is over, the next request for the server's keys goes to it again
/// (and probes it): when it answers, its keys are back home.
///
/// **Consistency warning.** While a server is failed over, two servers can hold different
/// values for one key: a write during the outage lands on the substitute, and when the
/// server comes back (after a network partition, or a restart that kept nothing, or a
/// server that was only slow), reads go to it again and may see the value it held before
/// the outage, or a miss, while the substitute keeps the newer one until it expires. A
/// delete during the outage reaches only the substitute. Use failover only for data that
/// tolerates reading an older value for a while, keep `failover_ttl` short, and subscribe
/// to on_write_failure: every tracked write that missed its own server (failed there, or
/// was sent straight to the substitute because the server was marked down) is reported
/// there, so it can be invalidated once the server is back. A gutter pool
/// (GutterRouter) gives the same availability with no overlap between the two copies.
///
/// Thread-safe; the ring may change (ShardedRouter::add_server, set_servers, ...) while
/// requests run. A single-key request to a live server costs what ShardedRouter's does
/// (one lock-free mark-down check more) and allocates nothing more.
class FailoverRouter final : public Router {
public:
    /// Fails over on `ring`'s servers; `ring` keeps taking server-list changes.
    /// @throws InvalidInputError when `ring` is null or failover_ttl is negative.
    explicit FailoverRouter(std::shared_ptr<ShardedRouter> ring, FailoverOptions options = {});
    /// A FailoverRouter over a new ShardedRouter(servers, pool_options, mode).
    /// @throws InvalidInputError as ShardedRouter's constructor and the one above do.
    explicit FailoverRouter(const std::vector<ServerAddress>& servers,
                            FailoverOptions options = {},
                            PoolOptions pool_options = {},
                            HashMode mode = HashMode::uhashring);

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The ring's servers (role "primary").
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;

    /// The pool `key` goes to now: its own server's, or while that one is marked down the
    /// substitute's (libmc's get_realtime_host_by_key). Its own pool when every server is
    /// down.
    [[nodiscard]] std::shared_ptr<ConnectionPool> pool_for(KeyView key) const;
    /// The ring this router fails over on (to change its servers).
    [[nodiscard]] const std::shared_ptr<ShardedRouter>& sharded() const noexcept { return ring_; }
    [[nodiscard]] const FailoverOptions& options() const noexcept { return options_; }
    /// Requests sent to a substitute server so far.
    [[nodiscard]] std::uint64_t failed_over_requests() const noexcept {
        return failed_over_.load(std::memory_order_relaxed);
    }

private:
    void execute_many(const ShardedRouter::Topology& topo,
                      std::span<const Request> requests,
                      std::span<Response> responses,
                      const ExecContext& ctx);
    /// Sends `requests[i]` to `nodes[i]` with TTLs capped; answers replace `responses`.
    void send_to_substitutes(const ShardedRouter::Topology& topo,
                             std::span<const Request> requests,
                             std::span<const std::size_t> indexes,
                             std::span<const std::size_t> nodes,
                             std::span<Response> responses,
                             const ExecContext& ctx);

    std::shared_ptr<ShardedRouter> ring_;
    FailoverOptions options_;
    std::atomic<std::uint64_t> failed_over_{0};
};

}  // namespace meta_memcache
