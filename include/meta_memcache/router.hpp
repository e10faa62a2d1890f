#pragma once

#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/observer.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/responses.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache {

/// The counters of one pool a router holds.
struct ServerCounters {
    std::string server{};  ///< the server's name (alias or host:port)
    std::string role{};    ///< which of the router's groups: "primary", "gutter", ...
    PoolCounters counters{};
    /// Request latencies to this server through the client (ClientOptions::observer or
    /// latency_histograms on; empty otherwise).
    LatencyHistogram latency{};
};

class Router;

/// Appends `router`'s counters to `out`, each with role `role`: how a composite router
/// reports the routers it wraps.
void append_counters(std::vector<ServerCounters>& out, const Router& router, std::string_view role);

/// Decides which pool(s) each request goes to and what happens when a server fails.
/// Routers compose (a gutter router wraps two rings, a fallback router wraps two
/// routers). To shard your own way, derive from Router and implement execute(), usually
/// by picking a pool per request and calling execute_on_pools().
/// Implementations must be thread-safe.
///
/// There are two forms of execute(): one fills Response values, the other hands each
/// answer to a result sink as it is read (the library's own commands use that one, so a
/// value goes from the read buffer straight to what the caller gets). Each has a default
/// that calls the other: override at least one (the Response form is the simple one; the
/// library's routers override the sink form).
class Router {
public:
    Router() = default;
    virtual ~Router() = default;
    /// Routers own pools and threads: shared (std::shared_ptr), never copied or moved.
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;
    Router(Router&&) = delete;
    Router& operator=(Router&&) = delete;

    /// Executes `requests` and stores each answer in the matching slot of `responses`
    /// (same size). Server failures do not throw: the slot gets Miss / NotStored with
    /// `error` set. Invalid input throws InvalidInputError before anything is sent.
    virtual void execute(std::span<const Request> requests,
                         std::span<Response> responses,
                         const ExecContext& ctx);
    /// The same, handing each request's result to `sink` (by its index in `requests`).
    virtual void execute(std::span<const Request> requests,
                         detail::ResultSink& sink,
                         const ExecContext& ctx);

    /// The same request for many keys, as a multi-key read (CacheClient::multi_get) sends
    /// it: `shape`'s command and flags (its key is not used; it carries no value) with each
    /// of `keys`, each result handed to `sink` by the key's index in `keys`. The default
    /// builds a Request per key and calls execute(); a router that places requests by key
    /// can override it to send the keys as they are, the shared flags validated and encoded
    /// once (ShardedRouter and SingleServerRouter do).
    virtual void execute_keys(const Request& shape,
                              std::span<const KeyView> keys,
                              detail::ResultSink& sink,
                              const ExecContext& ctx);

    /// Counters of every pool the router holds.
    [[nodiscard]] virtual std::vector<ServerCounters> get_counters() const = 0;

    /// Whether calls that do not say otherwise raise on server failures.
    [[nodiscard]] virtual bool default_raise_on_server_error() const { return true; }

    /// The one pool this router sends `key` to, when that is decided by the key alone (a
    /// plain ring); null for composite routers. Lets a composite router (a mirror) send to
    /// several child routers in one fan-out instead of one after another.
    [[nodiscard]] virtual std::shared_ptr<ConnectionPool> pool_for_key(KeyView key) const {
        (void)key;
        return nullptr;
    }
    /// For the client's one-key path (a lone plain read, `mg <key> f v`, when `plain_read`,
    /// else a lone plain set, straight to its socket): the pool this router sends that
    /// request for `key` to when it adds nothing to it (a plain ring: no failover, mirror,
    /// gutter in between; a hot cache that keeps nothing, for a read); null otherwise, the
    /// default, and then the request goes through execute(). The pool stays valid until the
    /// calling thread next calls into this router.
    [[nodiscard]] virtual ConnectionPool* direct_pool(const KeyView& key, bool plain_read) const {
        (void)key;
        (void)plain_read;
        return nullptr;
    }
};

}  // namespace meta_memcache

// The routers of a single server and of a ring, which this header used to hold; included
// here so that code using them with this header compiles.
#include <meta_memcache/sharded_router.hpp>
#include <meta_memcache/single_server_router.hpp>
