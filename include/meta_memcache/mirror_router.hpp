#pragma once

#include <meta_memcache/router.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace meta_memcache {

/// When a mirrored write counts as done.
enum class MirrorPolicy : std::uint8_t {
    all,       ///< every replica stored it (mcrouter's AllSync: the worst answer wins)
    majority,  ///< more than half did (AllMajority)
    first,     ///< the first replica answered (AllInitial); the others are written too
};

/// Options of MirrorRouter.
struct MirrorOptions {
    MirrorPolicy write_policy = MirrorPolicy::majority;
    /// A read served by a later replica copies the value back into the replicas that
    /// missed it (with add, keeping its TTL and flags).
    bool repair_on_read = true;
};

/// Replication for a hot standby: every write goes to every replica, all at once (one
/// round trip when the replicas are plain rings); a read goes to the first replica and,
/// when it misses or fails, to the next. A replica that was down catches up on the keys
/// written after it came back (and, with repair_on_read, on the keys read).
///
/// Writes whose effect depends on the replica's state (a CAS, mark-stale, add, replace,
/// append, prepend) run on the first replica; when it stores, the others get the result as
/// a plain set (or lose the key, for append/prepend), so no CAS token of one replica is
/// sent to another. Counters (ma) run on every replica.
class MirrorRouter final : public Router {
public:
    /// @throws InvalidInputError for fewer than two replicas or a null one.
    MirrorRouter(std::vector<std::shared_ptr<Router>> replicas, MirrorOptions options = {});

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// Every replica's servers, with roles "replica-0", "replica-1", ...
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

private:
    void write(std::span<const Request> requests,
               std::span<const std::size_t> which,
               std::span<Response> responses,
               const ExecContext& ctx);

    std::vector<std::shared_ptr<Router>> replicas_;
    MirrorOptions options_;
    std::shared_ptr<Router> reads_;  ///< replica 0 falling back to 1, 2, ...
};

}  // namespace meta_memcache
