#pragma once

#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/router.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace meta_memcache {

/// The steps of moving a cache from an origin fleet to a destination fleet, in order
/// (meta-memcache-py's MigrationMode).
enum class MigrationMode : std::uint8_t {
    only_origin = 1,                      ///< everything on the origin
    populate_writes = 2,                  ///< writes to both; reads from the origin
    populate_writes_and_reads_1pct = 3,   ///< ... and 1 % of read calls copy their hits over
    populate_writes_and_reads_10pct = 4,  ///< ... 10 %
    use_destination_update_origin = 5,    ///< reads from the destination; writes to both
    only_destination = 6,                 ///< everything on the destination
};

/// When each mode starts. The active mode is the one with the latest start not in the
/// future; before the first start it is only_origin. Configure the whole rollout once.
struct MigrationSchedule {
    std::vector<std::pair<MigrationMode, std::chrono::system_clock::time_point>> steps{};

    /// One mode from now on.
    static MigrationSchedule fixed(MigrationMode mode) {
        return {{{mode, std::chrono::system_clock::time_point{}}}};
    }
    /// The mode active at `now`.
    [[nodiscard]] MigrationMode mode_at(std::chrono::system_clock::time_point now) const noexcept;
};

/// Options of MigrationRouter.
struct MigrationOptions {
    /// TTL of a copied hit whose remaining TTL is unknown (the reference's 3600 s).
    std::int64_t default_read_backfill_ttl = 3600;
    /// The clock the schedule is read with (system_clock::now by default).
    std::function<std::chrono::system_clock::time_point()> clock{};
    /// A number in [0, 1) per read call, for the 1 % / 10 % sampling (uniform by default).
    std::function<double()> random{};
};

/// Routes by migration mode. Writes in the dual modes go to the primary side (origin in
/// modes 2-4, destination in 5) and then to the other; the caller gets the primary's
/// answer. Unlike meta-memcache-py, no CAS token is forwarded across fleets: a plain set
/// is repeated on the secondary, a conditional one (CAS, stale, add/replace/append/
/// prepend) invalidates the key there instead, and a delete is repeated without its CAS.
/// Copied hits skip lease placeholders, wins and stale values. Failures on the secondary
/// never change the answer; failed writes there are reported to on_write_failure.
/// Counters (ma) are not mirrored: they live on the primary side.
class MigrationRouter final : public Router {
public:
    MigrationRouter(std::shared_ptr<Router> origin,
                    std::shared_ptr<Router> destination,
                    MigrationSchedule schedule,
                    MigrationOptions options = {});

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The origin's servers (role "origin") and the destination's ("destination").
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    /// The mode in force now.
    [[nodiscard]] MigrationMode current_mode() const;

private:
    std::shared_ptr<Router> origin_;
    std::shared_ptr<Router> destination_;
    MigrationSchedule schedule_;
    MigrationOptions options_;
};

/// A CacheClient over a MigrationRouter: the reference's MigratingCacheClient.
class MigratingCacheClient : public CacheClient {
public:
    MigratingCacheClient(std::shared_ptr<Router> origin,
                         std::shared_ptr<Router> destination,
                         MigrationSchedule schedule,
                         ClientOptions client_options = {},
                         MigrationOptions migration_options = {});

    /// The mode in force now.
    [[nodiscard]] MigrationMode current_mode() const;
};

}  // namespace meta_memcache
