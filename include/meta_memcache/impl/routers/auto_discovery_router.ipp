// AutoDiscoveryRouter: ElastiCache auto-discovery. The node list from the configuration
// endpoint, the poller, and the node-list swaps on the ShardedRouter.

#include <meta_memcache/auto_discovery_router.hpp>
#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/failover_router.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/impl/routers/cluster_config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace meta_memcache {

// ---- talking to the endpoint -----------------------------------------------------------

namespace detail::auto_discovery_router_impl {

inline constexpr std::string_view config_request = "config get cluster\r\n";
inline constexpr std::string_view legacy_request = "get AmazonElastiCache:cluster\r\n";
/// Far above any real configuration (a node is under 100 bytes; clusters have at most a
/// few hundred): a bound on what a broken endpoint can make us buffer.
inline constexpr std::size_t max_answer_size = 1024 * 1024;

/// What the endpoint said: a configuration, or that it does not know the command.
struct Fetched {
    std::optional<ClusterConfig> config{};  ///< empty: the endpoint answered ERROR
    std::string refusal{};                  ///< its answer then
};

/// Asks the endpoint, over its pool (mark-down, TLS, authentication and timeouts as for
/// any server), for the cluster's configuration.
inline Fetched fetch(ConnectionPool& endpoint) {
    ConnectionPool::Impl& pool = endpoint.impl();
    std::string answer = pool.classic(config_request, AnswerEnd::end_line, max_answer_size);
    if (answer.starts_with("ERROR")) {
        // Engines before 1.4.14 keep the configuration under a key; stock memcached has
        // nothing there (END).
        Fetched refused{std::nullopt, answer.substr(0, answer.find("\r\n"))};
        std::string legacy;
        try {
            legacy = pool.classic(legacy_request, AnswerEnd::end_line, max_answer_size);
        } catch (const TransportError&) {
            return refused;  // it said ERROR already; hanging up on the key is no worse
        }
        if (!legacy.starts_with("VALUE "))
            return refused;
        answer = std::move(legacy);
    }
    return Fetched{detail::parse_cluster_answer(answer, endpoint.name()), {}};
}

inline std::string describe(const std::vector<ServerAddress>& servers) {
    std::string out;
    for (const auto& s : servers) {
        if (!out.empty())
            out += ", ";
        out += s.name();
    }
    return out;
}

}  // namespace detail::auto_discovery_router_impl

// ---- the router -------------------------------------------------------------------------

struct AutoDiscoveryRouter::Impl {
    using Fetched = detail::auto_discovery_router_impl::Fetched;

    Impl(ServerAddress endpoint_, AutoDiscoveryOptions options_)
        : endpoint(std::move(endpoint_)), name(endpoint.name()), options(std::move(options_)) {}

    void log(const std::string& line) const noexcept {
        if (!options.log)
            return;
        try {
            options.log(line);
        } catch (...) {
            // A logger's failure must not stop the discovery.
        }
    }

    /// One poll: asks the endpoint, applies a newer list. Callers hold refresh_mutex.
    bool poll() {
        {
            std::lock_guard lk(state_mutex);
            ++status.polls;
        }
        try {
            const bool applied = apply(detail::auto_discovery_router_impl::fetch(*endpoint_pool));
            std::lock_guard lk(state_mutex);
            status.last_error.clear();
            return applied;
        } catch (const std::exception& e) {
            {
                std::lock_guard lk(state_mutex);
                ++status.failed_polls;
                status.last_error = e.what();
            }
            log(std::string("cluster configuration poll failed, keeping the node list: ") +
                e.what());
            throw;
        }
    }

    bool apply(Fetched fetched) {
        if (!fetched.config) {
            std::lock_guard lk(state_mutex);
            if (status.endpoint_fallback)
                return false;  // still stock memcached: nothing changes
            throw ServerError(errc::client_error,
                              "the configuration endpoint now answers " +
                                  detail::quoted_excerpt(fetched.refusal) +
                                  " to `config get cluster`",
                              name);
        }
        const ClusterConfig& config = *fetched.config;
        std::optional<std::uint64_t> current;  // set when this version is not newer
        {
            std::lock_guard lk(state_mutex);
            if (status.config_version && config.version <= *status.config_version) {
                current = status.config_version;
                if (config.version < *current)
                    ++status.stale;
            }
        }
        if (current) {
            if (config.version < *current) {
                log("ignored cluster configuration version " + std::to_string(config.version) +
                    " (older than " + std::to_string(*current) + ")");
            }
            return false;
        }
        auto servers = config.addresses(options.use_ip);
        const std::string nodes = detail::auto_discovery_router_impl::describe(servers);
        sharded->set_servers(std::move(servers));
        {
            std::lock_guard lk(state_mutex);
            status.config_version = config.version;
            status.endpoint_fallback = false;
            ++status.updates;
            // With the version, in one step: a reader never sees the new version beside
            // the error of a poll before it.
            status.last_error.clear();
        }
        log("applied cluster configuration version " + std::to_string(config.version) + ": " +
            nodes);
        return true;
    }

    void run_poller() {
        std::unique_lock lk(stop_mutex);
        while (!stop_cv.wait_for(lk, options.poll_interval, [this] { return stopping; })) {
            lk.unlock();
            try {
                std::lock_guard refresh(refresh_mutex);
                (void)poll();
            } catch (const std::exception&) {
                // Recorded in status and logged; the next poll tries again.
            }
            lk.lock();
        }
    }

    ServerAddress endpoint;
    std::string name;
    AutoDiscoveryOptions options;
    /// The configuration endpoint's connections, as any server's.
    std::unique_ptr<ConnectionPool> endpoint_pool{};
    std::shared_ptr<ShardedRouter> sharded{};
    std::shared_ptr<Router> front{};  ///< sharded, or a FailoverRouter over it

    std::mutex refresh_mutex;  ///< one poll at a time
    mutable std::mutex state_mutex;
    AutoDiscoveryStatus status{};

    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;
    std::thread poller{};
};

META_MEMCACHE_DECL AutoDiscoveryRouter::AutoDiscoveryRouter(ServerAddress config_endpoint,
                                                            AutoDiscoveryOptions options)
    : impl_(std::make_unique<Impl>(std::move(config_endpoint), std::move(options))) {
    using namespace detail::auto_discovery_router_impl;
    Impl& s = *impl_;
    if (s.options.poll_interval.count() < 0)
        throw InvalidInputError("AutoDiscoveryOptions: poll_interval cannot be negative");
    if (s.options.failover && s.options.failover->failover_ttl.count() < 0)
        throw InvalidInputError("AutoDiscoveryOptions: failover_ttl cannot be negative");
    s.options.pool_options.validate();
    // A new connection for every poll (none kept idle): the endpoint's DNS name, which
    // follows the cluster, is resolved again each time.
    PoolOptions endpoint_options = s.options.pool_options;
    endpoint_options.max_pool_size = 0;
    s.endpoint_pool = std::make_unique<ConnectionPool>(s.endpoint, std::move(endpoint_options));

    // The first list: the endpoint's, or the endpoint itself when it is stock memcached.
    s.status.polls = 1;
    Fetched first = fetch(*s.endpoint_pool);
    std::vector<ServerAddress> servers;
    if (first.config) {
        servers = first.config->addresses(s.options.use_ip);
        s.status.config_version = first.config->version;
        s.log("applied cluster configuration version " + std::to_string(first.config->version) +
              ": " + describe(servers));
    } else if (s.options.fall_back_to_endpoint) {
        servers = {s.endpoint};
        s.status.endpoint_fallback = true;
        s.log("the configuration endpoint answered " + detail::quoted_excerpt(first.refusal) +
              " to `config get cluster`: using it as the only node");
    } else {
        throw ServerError(errc::client_error,
                          "the configuration endpoint answered " +
                              detail::quoted_excerpt(first.refusal) +
                              " to `config get cluster` (not ElastiCache?); set "
                              "fall_back_to_endpoint to use it as the only node",
                          s.name);
    }
    s.sharded = std::make_shared<ShardedRouter>(servers, s.options.pool_options, s.options.mode);
    if (s.options.failover)
        s.front = std::make_shared<FailoverRouter>(s.sharded, *s.options.failover);
    else
        s.front = s.sharded;
    if (s.options.poll_interval.count() > 0)
        s.poller = std::thread([&s] { s.run_poller(); });
}

META_MEMCACHE_DECL AutoDiscoveryRouter::~AutoDiscoveryRouter() {
    {
        std::lock_guard lk(impl_->stop_mutex);
        impl_->stopping = true;
    }
    impl_->stop_cv.notify_all();
    if (impl_->poller.joinable())
        impl_->poller.join();
}

META_MEMCACHE_DECL void AutoDiscoveryRouter::execute(std::span<const Request> requests,
                                                     std::span<Response> responses,
                                                     const ExecContext& ctx) {
    impl_->front->execute(requests, responses, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> AutoDiscoveryRouter::get_counters() const {
    return impl_->front->get_counters();
}

META_MEMCACHE_DECL bool AutoDiscoveryRouter::default_raise_on_server_error() const {
    return impl_->front->default_raise_on_server_error();
}

META_MEMCACHE_DECL bool AutoDiscoveryRouter::refresh_now() {
    std::lock_guard lk(impl_->refresh_mutex);
    return impl_->poll();
}

META_MEMCACHE_DECL std::optional<std::uint64_t> AutoDiscoveryRouter::config_version() const {
    std::lock_guard lk(impl_->state_mutex);
    return impl_->status.config_version;
}

META_MEMCACHE_DECL std::vector<ServerAddress> AutoDiscoveryRouter::servers() const {
    return impl_->sharded->servers();
}

META_MEMCACHE_DECL const std::shared_ptr<ShardedRouter>& AutoDiscoveryRouter::sharded()
    const noexcept {
    return impl_->sharded;
}

META_MEMCACHE_DECL AutoDiscoveryStatus AutoDiscoveryRouter::status() const {
    std::lock_guard lk(impl_->state_mutex);
    return impl_->status;
}

META_MEMCACHE_DECL const ServerAddress& AutoDiscoveryRouter::config_endpoint() const noexcept {
    return impl_->endpoint;
}

}  // namespace meta_memcache
