#pragma once

#include <meta_memcache/router.hpp>

#include <cstdint>
#include <memory>

namespace meta_memcache {

/// Caps the TTLs of `flags` at `max_ttl` seconds, the reference client's rule: a T, R or N
/// of 0 (never expires) or above the cap becomes the cap; absent ones stay absent.
void cap_ttls(RequestFlags& flags, std::int64_t max_ttl) noexcept;

/// Sends everything through another router with every TTL capped at `max_ttl` (see
/// cap_ttls): for caches whose invalidation is not trusted yet (a read-path trial, a
/// partial rollout), so nothing written lives longer than the cap.
class EphemeralRouter final : public Router {
public:
    /// @throws InvalidInputError when max_ttl is not positive or inner is null.
    EphemeralRouter(std::shared_ptr<Router> inner, std::int64_t max_ttl);

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    [[nodiscard]] std::int64_t max_ttl() const noexcept { return max_ttl_; }

private:
    std::shared_ptr<Router> inner_;
    std::int64_t max_ttl_;
};

}  // namespace meta_memcache
