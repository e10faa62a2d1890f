#pragma once

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/responses.hpp>

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace meta_memcache {

/// The counters of one pool a router holds.
struct ServerCounters {
    std::string server{};  ///< the server's name (alias or host:port)
    std::string role{};    ///< which of the router's groups: "primary", "gutter", ...
    PoolCounters counters{};
};

/// Decides which pool(s) each request goes to and what happens when a server fails.
/// Routers compose (a gutter router wraps two rings, a fallback router wraps two
/// routers). To shard your own way, derive from Router and implement execute(), usually
/// by picking a pool per request and calling execute_on_pools().
/// Implementations must be thread-safe.
class Router {
public:
    virtual ~Router() = default;

    /// Executes `requests` and stores each answer in the matching slot of `responses`
    /// (same size). Server failures do not throw: the slot gets Miss / NotStored with
    /// `error` set. Invalid input throws InvalidInputError before anything is sent.
    virtual void execute(std::span<const Request> requests,
                         std::span<Response> responses,
                         const ExecContext& ctx) = 0;

    /// Counters of every pool the router holds.
    [[nodiscard]] virtual std::vector<ServerCounters> get_counters() const = 0;

    /// Whether calls that do not say otherwise raise on server failures.
    [[nodiscard]] virtual bool default_raise_on_server_error() const { return true; }
};

/// The simplest router: every request goes to one server.
class SingleServerRouter final : public Router {
public:
    SingleServerRouter(ServerAddress server, PoolOptions options = {});

    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;

    [[nodiscard]] ConnectionPool& pool() noexcept { return pool_; }

private:
    ConnectionPool pool_;
};

}  // namespace meta_memcache

#include <meta_memcache/hash_ring.hpp>

namespace meta_memcache {

/// Shards keys over servers with a HashRing (by the key's routing key when set).
class ShardedRouter final : public Router {
public:
    /// @throws InvalidInputError for no servers, duplicate names or bad options.
    ShardedRouter(const std::vector<ServerAddress>& servers,
                  PoolOptions options = {},
                  HashMode mode = HashMode::uhashring);

    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;

    /// The pool that owns `routing_key`.
    [[nodiscard]] ConnectionPool& pool_for(std::string_view routing_key) const noexcept;
    [[nodiscard]] const HashRing& ring() const noexcept { return ring_; }

private:
    std::vector<std::unique_ptr<ConnectionPool>> pools_{};
    HashRing ring_;
};

}  // namespace meta_memcache
