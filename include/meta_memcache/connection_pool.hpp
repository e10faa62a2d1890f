#pragma once

#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/responses.hpp>
#include <meta_memcache/server_address.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meta_memcache {

class WriteFailureEvent;
class ClientObserver;

/// A server's own statistics, as the classic `stats` command reports them.
struct ServerStats {
    /// (name, value) pairs in the order the server sent them ("pid", "uptime", "version",
    /// "curr_items", "get_hits", ...).
    std::vector<std::pair<std::string, std::string>> entries{};

    /// The value of statistic `name`, or nothing when the server did not report it.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept {
        for (const auto& [n, v] : entries) {
            if (n == name)
                return v;
        }
        return std::nullopt;
    }
};

/// Per-call settings routers pass down to the pools.
struct ExecContext {
    /// Report failed writes (see is_tracked_write) to `on_write_failure`.
    bool track_write_failures = true;
    /// Where failed writes are reported; null: nowhere.
    const WriteFailureEvent* on_write_failure = nullptr;
    /// Prepended to every key on the wire (not to routing keys).
    std::string_view key_prefix{};
    /// The servers' item size limit (memcached -I, 1 MiB by default). A value that would
    /// not fit beside its key and item header (value + key + 63 bytes) is rejected before
    /// anything is sent.
    std::size_t max_item_size = 1024 * 1024;
    /// Told of every server batch's end, mark-down and recovery; null: nothing is measured.
    ClientObserver* observer = nullptr;
};

/// The connections to one memcached server: lazy connect, a cap on open connections,
/// mark-down after failures with single-flight probing, counters.
/// Thread-safe: any number of threads share a pool; each connection serves one request
/// at a time.
class ConnectionPool {
public:
    /// @throws InvalidInputError when `options` are out of range.
    ConnectionPool(ServerAddress server, PoolOptions options);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;
    ConnectionPool(ConnectionPool&&) = delete;
    ConnectionPool& operator=(ConnectionPool&&) = delete;

    /// The server this pool talks to.
    [[nodiscard]] const ServerAddress& server() const noexcept;
    /// The server's name (alias or host:port), as errors and counters report it.
    [[nodiscard]] const std::string& name() const noexcept;
    /// The options the pool was built with.
    [[nodiscard]] const PoolOptions& options() const noexcept;
    /// A snapshot of the counters.
    [[nodiscard]] PoolCounters counters() const;
    /// True while the server is marked down and calls fail fast (false again once the
    /// mark-down period is over, so the next call can probe). No lock while it is up.
    [[nodiscard]] bool is_marked_down() const;
    /// The server's own statistics: `stats`, or `stats <group>` for a group such as
    /// "settings", "items", "slabs" or "conns". Sent over a pooled connection, under the
    /// pool's deadline (recv_timeout) and mark-down rules, like any request; for
    /// monitoring and tools, not for the request path.
    /// @throws InvalidInputError for a group that is not one word of [a-z0-9_], or "reset"
    /// (not a read); ServerError when the server rejects the group; TransportError as
    /// requests do.
    [[nodiscard]] ServerStats stats(std::string_view group = {});
    /// Erases every item on the server (`flush_all`), over a pooled connection like stats():
    /// for tools and tests, not for the request path.
    /// @throws ServerError when the server refuses (memcached -F); TransportError as
    /// requests do.
    void flush_all();

    struct Impl;
    /// Internal (used by the driver and the classic requests).
    [[nodiscard]] Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_{};
};

/// Sends `requests[i]` to `pools[i]` and stores its answer in `responses[i]`. All pools'
/// batches are written first and the answers read as they arrive, in one poll loop, so a
/// call over N servers costs about one round trip. Every request is validated before any
/// byte is sent (InvalidInputError). A server failure never throws here: that server's
/// slots get Miss (mg) or NotStored (ms, md, ma) with `error` set, and tracked writes are
/// reported to ctx.on_write_failure when ctx.track_write_failures is on.
void execute_on_pools(std::span<const Request> requests,
                      std::span<ConnectionPool* const> pools,
                      std::span<Response> responses,
                      const ExecContext& ctx);

/// The same for requests that all go to one pool.
void execute_on_pool(ConnectionPool& pool,
                     std::span<const Request> requests,
                     std::span<Response> responses,
                     const ExecContext& ctx);

/// True when `r` is a Miss or NotStored standing for a failure.
[[nodiscard]] bool is_error_response(const Response& r) noexcept;

}  // namespace meta_memcache
