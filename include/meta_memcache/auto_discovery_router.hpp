#pragma once

#include <meta_memcache/failover_router.hpp>
#include <meta_memcache/hash_ring.hpp>
#include <meta_memcache/pool_options.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/server_address.hpp>
#include <meta_memcache/sharded_router.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meta_memcache {

/// One node of an ElastiCache cluster, as `config get cluster` lists it (`host|ip|port`).
struct ClusterNode {
    std::string host{};          ///< the node's DNS name (may be empty)
    std::string ip{};            ///< its private IP (may be empty)
    std::uint16_t port = 11211;  ///< its port

    /// Where to connect: the ip when listed and `use_ip`, else the host name.
    [[nodiscard]] ServerAddress address(bool use_ip = true) const;

    friend bool operator==(const ClusterNode&, const ClusterNode&) = default;
};

/// A cluster's node list and its version (which grows by one at each change).
struct ClusterConfig {
    std::uint64_t version = 0;
    std::vector<ClusterNode> nodes{};

    /// The nodes' addresses (see ClusterNode::address), in the order listed.
    [[nodiscard]] std::vector<ServerAddress> addresses(bool use_ip = true) const;

    friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;
};

/// Parses a configuration endpoint's answer to `config get cluster`:
///
///     CONFIG cluster 0 <len>\r\n<version>\n<host>|<ip>|<port> <host>|<ip>|<port> ...\n\r\nEND\r\n
///
/// or to `get AmazonElastiCache:cluster` (engines before 1.4.14: the same payload after
/// `VALUE AmazonElastiCache:cluster 0 <len>`). `<len>` is not trusted (AWS's own example
/// gives 147 for a 136-byte payload): the payload is everything up to the `END` line.
/// Lines may end in LF or CRLF; nodes are separated by spaces; the ip or the host (not
/// both) may be empty; IPv6 addresses may be bracketed.
/// @throws ServerError when the answer is ERROR, CLIENT_ERROR or SERVER_ERROR (the server
///         does not know the command); ProtocolError naming what is wrong otherwise (no
///         END line, a header, version, node or port that does not parse, no nodes, a node
///         listed twice, bytes after END).
[[nodiscard]] ClusterConfig parse_cluster_config(std::string_view answer);

/// Options of AutoDiscoveryRouter.
struct AutoDiscoveryOptions {
    /// How often the background poller asks the endpoint for the node list (the AWS
    /// clients ask every 60 s). 0: no poller thread; call refresh_now() yourself.
    std::chrono::milliseconds poll_interval{60000};
    /// When the endpoint does not know `config get cluster` (it answers ERROR, as stock
    /// memcached and ElastiCache Serverless do), use the endpoint itself as the only node
    /// (django-elasticache's IGNORE_CLUSTER_ERRORS). Off: the constructor throws a
    /// ServerError instead, for deployments where that means a wrong address.
    bool fall_back_to_endpoint = true;
    /// Connect to each node's IP when the configuration lists one (what the AWS clients
    /// and django-elasticache do), else to its host name. Set false for TLS with
    /// certificate verification (certificates name hosts, not IPs). The ring hashes what
    /// is connected to, so changing this re-shards.
    bool use_ip = true;
    /// Every node's pool options; also the configuration requests' deadlines
    /// (connection_timeout, then recv_timeout per request), TLS and authentication.
    PoolOptions pool_options{};
    /// Key placement. ketama (libmemcached's weighted ketama: MD5, 160 points per node):
    /// ElastiCache's guidance is ketama-style consistent hashing; php-memcached with
    /// OPT_LIBKETAMA_COMPATIBLE places keys exactly so, and the AWS Java client's
    /// KetamaConnectionFactory builds the same MD5 continuum under its own point names. No
    /// one placement is shared by every ElastiCache client: to share a cluster with
    /// another client, use that client's mode (docs/routers.md).
    HashMode mode = HashMode::ketama;
    /// Send a down node's keys to the next live node (FailoverRouter, with its consistency
    /// caveats); empty: off.
    std::optional<FailoverOptions> failover{};
    /// Called with one line for every node list applied, stale version ignored and poll
    /// failed, from the poller thread (or the thread calling refresh_now()); must not
    /// block or call refresh_now(). Empty: silent.
    std::function<void(std::string_view)> log{};
};

/// What the discovery has done so far.
struct AutoDiscoveryStatus {
    /// Version of the node list in use; empty while the endpoint serves as the only node.
    std::optional<std::uint64_t> config_version{};
    bool endpoint_fallback = false;  ///< the endpoint is the only node (it answered ERROR)
    std::uint64_t polls = 0;         ///< configuration requests, the first one included
    std::uint64_t failed_polls = 0;  ///< polls that failed; the node list was kept
    std::uint64_t updates = 0;       ///< node lists applied after the first one
    std::uint64_t stale = 0;         ///< answers ignored for a version below the current one
    std::string last_error{};        ///< why the last poll failed; empty when it worked
};

/// ElastiCache auto-discovery: a ShardedRouter whose node list comes from a cluster's
/// configuration endpoint. The constructor asks the endpoint (`config get cluster`,
/// falling back to `get AmazonElastiCache:cluster` when the command is unknown) and starts
/// with the nodes it lists; a background thread then asks again every poll_interval and
/// applies a new list only when its version is higher than the current one (ShardedRouter::
/// set_servers: nodes that stay keep their pools, connections and keys; requests keep
/// running during the swap). Each poll opens one connection to the endpoint (resolving
/// its name again, as the AWS clients do) under connection_timeout, and each request on
/// it has recv_timeout. A failed poll (endpoint down, timeout, malformed answer) keeps
/// the current list and is reported in status() and to `log`; the next poll tries again.
///
/// Thread-safe. The destructor stops the poller (waiting for a poll under way, bounded
/// by its deadlines). After fork() the child has no poller: call refresh_now() there.
class AutoDiscoveryRouter final : public Router {
public:
    /// Asks `config_endpoint` for the nodes and starts the poller.
    /// @throws InvalidInputError for bad options; TransportError when the endpoint cannot
    ///         be reached or does not answer in time; ProtocolError for a malformed
    ///         answer; ServerError when it does not know the command and
    ///         fall_back_to_endpoint is off.
    explicit AutoDiscoveryRouter(ServerAddress config_endpoint, AutoDiscoveryOptions options = {});
    ~AutoDiscoveryRouter() override;
    AutoDiscoveryRouter(const AutoDiscoveryRouter&) = delete;
    AutoDiscoveryRouter& operator=(const AutoDiscoveryRouter&) = delete;
    AutoDiscoveryRouter(AutoDiscoveryRouter&&) = delete;
    AutoDiscoveryRouter& operator=(AutoDiscoveryRouter&&) = delete;

    using Router::execute;
    void execute(std::span<const Request> requests,
                 std::span<Response> responses,
                 const ExecContext& ctx) override;
    [[nodiscard]] std::vector<ServerCounters> get_counters() const override;
    [[nodiscard]] bool default_raise_on_server_error() const override;

    /// Asks the endpoint now, on this thread (serialised with the poller).
    /// @return true when a new node list was applied.
    /// @throws what the constructor throws (a ServerError when the endpoint stopped
    ///         knowing the command); the node list is then kept.
    bool refresh_now();
    /// Version of the node list in use; empty while the endpoint is the only node.
    [[nodiscard]] std::optional<std::uint64_t> config_version() const;
    /// The nodes in use.
    [[nodiscard]] std::vector<ServerAddress> servers() const;
    /// The ring the node lists are applied to.
    [[nodiscard]] const std::shared_ptr<ShardedRouter>& sharded() const noexcept;
    [[nodiscard]] AutoDiscoveryStatus status() const;
    [[nodiscard]] const ServerAddress& config_endpoint() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace meta_memcache

// cache_client_from_elasticache is declared with the other factories; included here so that
// code calling it with this header alone compiles.
#include <meta_memcache/factories.hpp>
