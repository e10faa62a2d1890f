#pragma once

#include <meta_memcache/fallback_router.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/sharded_router.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace meta_memcache {

/// How a drain is going.
struct DrainCounters {
    std::uint64_t reads = 0;    ///< reads that went to the drained server
    std::uint64_t pulled = 0;   ///< of those, hits copied to the key's new server
    std::uint64_t misses = 0;   ///< reads the drained server did not have either
    std::uint64_t deletes = 0;  ///< deletes and invalidations repeated on it
};

/// Decommissions or replaces one server of a ShardedRouter without a burst of misses: the
/// drain routes on a ring of its own, the given ring's servers without the drained one
/// (sharing their pools), so keys of the drained server belong to their next server for
/// the drain's users at once, while the given ring is left unchanged (its other users keep
/// their placement; switch them over with CacheClient::set_router). A read
/// that misses at a key's new server reads the drained server and copies the value over
/// (a FallbackRouter from the ring without the server to the ring with it, where the old
/// ring is consulted only for keys the drained server owned: every other key costs
/// nothing extra). Writes go to the new owners; deletes and invalidations also reach the
/// drained server, so no stale value comes back from it. Keys nobody reads are copied by a
/// KeyMover (move_drained), at a bounded rate. When the mover's share_moved() is high
/// enough, or `counters().reads` stops growing (or after the longest TTL), call finish()
/// and stop the server.
///
/// @code
/// auto ring = std::make_shared<mm::ShardedRouter>(servers);
/// mm::CacheClient cache(ring);
/// auto drain = std::make_shared<mm::DrainingRouter>(ring, "mc-3");
/// cache.set_router(drain);   // a live client over `ring` switches over while mc-3 drains
/// @endcode
class DrainingRouter final : public Router {
public:
    /// Routes on a copy of `ring` without `server_name` (see ring(); `ring` itself is not
    /// changed) and keeps the drained server's pool for reads.
    /// @throws InvalidInputError when the ring has no such server, or it is the last one.
    DrainingRouter(const std::shared_ptr<ShardedRouter>& ring,
                   std::string_view server_name,
                   FallbackOptions options = {});
    ~DrainingRouter() override;
    DrainingRouter(const DrainingRouter&) = delete;
    DrainingRouter& operator=(const DrainingRouter&) = delete;
    DrainingRouter(DrainingRouter&&) = delete;
    DrainingRouter& operator=(DrainingRouter&&) = delete;

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The ring's servers, and the drained server with role "draining" until finish().
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    /// How the drain is going.
    [[nodiscard]] DrainCounters counters() const;
    /// Stops reading the drained server and closes its connections; requests then go to
    /// the ring alone.
    void finish();
    [[nodiscard]] bool finished() const noexcept;

    /// The drain's own ring, the keys now go to: the given ring's servers without the
    /// drained one, on the same pools (a KeyMover for the drain copies to it).
    [[nodiscard]] const std::shared_ptr<ShardedRouter>& ring() const noexcept { return ring_; }
    /// The drained server's pool, or null after finish(): what a KeyMover copies from.
    [[nodiscard]] std::shared_ptr<ConnectionPool> drained_pool() const;
    /// The ring as it was before the drain; the keys it placed on drained_node() are the
    /// drained server's.
    [[nodiscard]] std::shared_ptr<const HashRing> old_ring() const noexcept;
    /// The drained server's node in old_ring().
    [[nodiscard]] std::size_t drained_node() const noexcept;

    struct Source;

private:
    std::shared_ptr<ShardedRouter> ring_;
    std::shared_ptr<Source> source_;
    std::shared_ptr<FallbackRouter> fallback_;
};

}  // namespace meta_memcache
