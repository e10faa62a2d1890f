#pragma once

#include <meta_memcache/router.hpp>

#include <cstdint>
#include <memory>

namespace meta_memcache {

/// Options of FallbackRouter.
struct FallbackOptions {
    /// Copy a value found in the old cluster into the new one (with `add`, keeping its
    /// remaining TTL and client flags).
    bool copy_on_hit = true;
    /// Delete a key in the old cluster whenever it is written in the new one, so a value
    /// that later falls out of the new cluster cannot be read back stale from the old one.
    /// Costs one more round trip per write.
    bool invalidate_old_on_write = true;
};

/// Moving to a new cluster without a cold cache (pymemcache's FallbackClient, done right):
/// writes go to the new cluster; a read that misses (or fails) there reads the old one and,
/// on a hit, copies the value into the new cluster with `add`, keeping its remaining TTL
/// and client flags. Lease placeholders, stale values and recache wins are never copied,
/// and no CAS token crosses clusters (a value read from the old cluster comes back without
/// one). Deletes and invalidations go to both clusters, so no stale value survives the
/// migration (a delete finds the key if either cluster had it); a failed delete in the old
/// cluster is reported to on_write_failure. A read
/// that asks for a lease (N) only takes the lease in the new cluster when the old one has
/// no value either. Counters (ma) live in the new cluster only.
class FallbackRouter final : public Router {
public:
    /// @throws InvalidInputError when a router is null.
    FallbackRouter(std::shared_ptr<Router> new_cluster,
                   std::shared_ptr<Router> old_cluster,
                   FallbackOptions options = {});

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The new cluster's servers (role "new") and the old one's (role "old").
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    [[nodiscard]] Router& new_cluster() noexcept { return *new_; }
    [[nodiscard]] Router& old_cluster() noexcept { return *old_; }

private:
    std::shared_ptr<Router> new_;
    std::shared_ptr<Router> old_;
    FallbackOptions options_;
};

}  // namespace meta_memcache
