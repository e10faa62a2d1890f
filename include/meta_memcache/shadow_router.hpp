#pragma once

#include <meta_memcache/router.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace meta_memcache {

/// Options of ShadowRouter.
struct ShadowOptions {
    /// Fraction of keys (0..1) also sent to the shadow. Chosen by a hash of the routing key,
    /// so the same keys are shadowed every time.
    double fraction = 0.0;
    /// Send writes (ms, md) of shadowed keys too, not only reads.
    bool shadow_writes = true;
    /// Shadow requests waiting for the worker; beyond this they are dropped (and counted).
    std::size_t queue_limit = 10000;
    /// How long destroying the router waits for the worker. Queued shadow requests are
    /// dropped at once; a batch the shadow is still answering (a stalled shadow can take
    /// its recv_timeout) is left to finish on its own thread, which then exits.
    std::chrono::milliseconds shutdown_timeout{100};
};

/// What the shadow saw.
struct ShadowCounters {
    std::uint64_t requests = 0;  ///< shadow requests executed
    std::uint64_t hits = 0;      ///< reads that found a value in the shadow
    std::uint64_t misses = 0;    ///< reads that did not
    std::uint64_t failures = 0;  ///< requests the shadow failed (never seen by callers)
    std::uint64_t dropped = 0;   ///< requests dropped because the queue was full
    std::chrono::microseconds total_latency{0};  ///< time the shadow spent on them
    /// hits / (hits + misses), or 0.
    [[nodiscard]] double hit_rate() const noexcept {
        return hits + misses == 0 ? 0.0
                                  : static_cast<double>(hits) / static_cast<double>(hits + misses);
    }
};

/// Mirrors a sample of traffic to a shadow router (mcrouter's shadowing): a new pool, a
/// new memcached version or configuration, tried under real load. The caller only ever
/// sees the primary: shadow requests are copied to a queue and run by a background
/// thread, so the shadow's answers, latency and failures never reach the caller. CAS
/// tokens and lease flags are not sent to the shadow (they belong to the primary).
class ShadowRouter final : public Router {
public:
    /// @throws InvalidInputError for a fraction outside 0..1 or a null router.
    ShadowRouter(std::shared_ptr<Router> primary,
                 std::shared_ptr<Router> shadow,
                 ShadowOptions options = {});
    /// Returns within options.shutdown_timeout, whatever the shadow does.
    ~ShadowRouter() override;
    ShadowRouter(const ShadowRouter&) = delete;
    ShadowRouter& operator=(const ShadowRouter&) = delete;
    ShadowRouter(ShadowRouter&&) = delete;
    ShadowRouter& operator=(ShadowRouter&&) = delete;

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The primary's servers; the shadow's with role "shadow".
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    /// Whether requests for `key` are shadowed.
    [[nodiscard]] bool is_shadowed(KeyView key) const noexcept;
    /// What the shadow saw so far.
    [[nodiscard]] ShadowCounters shadow_counters() const;
    /// Blocks until the queue is empty (for tests and orderly shutdowns).
    void flush();

    struct Impl;

private:
    std::shared_ptr<Router> primary_;
    std::shared_ptr<Impl> impl_;  ///< shared with the worker, which may outlive the router
};

}  // namespace meta_memcache
