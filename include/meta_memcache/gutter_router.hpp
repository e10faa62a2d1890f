#pragma once

#include <meta_memcache/router.hpp>

#include <cstdint>
#include <memory>

namespace meta_memcache {

/// Facebook's gutter pool ("Scaling Memcache at Facebook"): a request whose primary server
/// is down or fails on the wire (timeout, connection lost, marked down) is sent again to a
/// small gutter pool, with its TTLs capped at `gutter_ttl` (cap_ttls), so a dead server
/// does not turn into a stampede on the backing store and nothing written to the gutter
/// outlives the cap. Server-reported errors (SERVER_ERROR, CLIENT_ERROR) are not failed
/// over. The primary's failed writes are still reported to on_write_failure (when the
/// call tracks them), so they can be invalidated there once it is back; the gutter's are
/// not.
class GutterRouter final : public Router {
public:
    /// @throws InvalidInputError when gutter_ttl is not positive or a router is null.
    GutterRouter(std::shared_ptr<Router> primary,
                 std::shared_ptr<Router> gutter,
                 std::int64_t gutter_ttl);

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    /// The primary's servers (role "primary") and the gutter's (role "gutter").
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    [[nodiscard]] Router& primary() noexcept { return *primary_; }
    [[nodiscard]] Router& gutter() noexcept { return *gutter_; }

private:
    std::shared_ptr<Router> primary_;
    std::shared_ptr<Router> gutter_;
    std::int64_t gutter_ttl_;
};

/// True when `r` stands for a failure on the wire (TransportError), not a server-reported
/// error: the failures a router may fail over.
[[nodiscard]] bool is_transport_failure(const Response& r) noexcept;

}  // namespace meta_memcache
