#include <meta_memcache/error.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <algorithm>
#include <set>
#include <utility>

namespace meta_memcache {

// ---- WriteFailureEvent ---------------------------------------------------------------

WriteFailureEvent::Subscription WriteFailureEvent::subscribe(Handler handler) {
    std::lock_guard lk(mutex_);
    const Subscription id = next_++;
    handlers_.emplace_back(id, std::make_shared<const Handler>(std::move(handler)));
    return id;
}

bool WriteFailureEvent::unsubscribe(Subscription id) {
    std::lock_guard lk(mutex_);
    const auto it = std::find_if(handlers_.begin(), handlers_.end(),
                                 [id](const auto& h) { return h.first == id; });
    if (it == handlers_.end())
        return false;
    handlers_.erase(it);
    return true;
}

std::size_t WriteFailureEvent::size() const {
    std::lock_guard lk(mutex_);
    return handlers_.size();
}

bool WriteFailureEvent::empty() const noexcept {
    std::lock_guard lk(mutex_);
    return handlers_.empty();
}

void WriteFailureEvent::notify(const Key& key) const noexcept {
    std::vector<std::shared_ptr<const Handler>> copy;
    try {
        std::lock_guard lk(mutex_);
        copy.reserve(handlers_.size());
        for (const auto& h : handlers_)
            copy.push_back(h.second);
    } catch (...) {
        return;
    }
    for (const auto& h : copy) {
        try {
            (*h)(key);
        } catch (...) {
            // A subscriber's failure must not break the failure path.
        }
    }
}

void append_counters(std::vector<ServerCounters>& out,
                     const Router& router,
                     std::string_view role) {
    for (ServerCounters& c : router.get_counters()) {
        c.role = std::string(role);
        out.push_back(std::move(c));
    }
}

// ---- SingleServerRouter ----------------------------------------------------------------

SingleServerRouter::SingleServerRouter(ServerAddress server, PoolOptions options)
    : pool_(std::make_shared<ConnectionPool>(std::move(server), std::move(options))) {}

std::shared_ptr<ConnectionPool> SingleServerRouter::pool_for_key(KeyView) const {
    return pool_;
}

void SingleServerRouter::execute(std::span<const Request> requests,
                                 std::span<Response> responses,
                                 const ExecContext& ctx) {
    execute_on_pool(*pool_, requests, responses, ctx);
}

std::vector<ServerCounters> SingleServerRouter::get_counters() const {
    return {ServerCounters{pool_->name(), "primary", pool_->counters()}};
}

// ---- ShardedRouter ---------------------------------------------------------------------

namespace {

/// Same server, connection-wise: everything but the weight.
bool same_endpoint(const ServerAddress& a, const ServerAddress& b) noexcept {
    return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path && a.alias == b.alias;
}

}  // namespace

ShardedRouter::ShardedRouter(const std::vector<ServerAddress>& servers,
                             PoolOptions options,
                             HashMode mode)
    : options_(std::move(options)), mode_(mode) {
    install(servers);
}

std::shared_ptr<const ShardedRouter::Topology> ShardedRouter::topology() const {
    std::lock_guard lk(snapshot_mutex_);
    return topology_;
}

void ShardedRouter::install(std::vector<ServerAddress> servers) {
    // Callers hold update_mutex_ (or are the constructor), so `old` is the latest view.
    const auto old = topology();
    std::set<std::string> names;
    for (const auto& s : servers) {
        if (!names.insert(s.name()).second) {
            throw InvalidInputError("server \"" + s.name() + "\" is listed twice");
        }
    }
    HashRing ring(servers, mode_);  // validates weights and identities before any change
    std::vector<std::shared_ptr<ConnectionPool>> pools;
    pools.reserve(servers.size());
    for (const auto& s : servers) {
        std::shared_ptr<ConnectionPool> pool;
        if (old) {
            for (std::size_t i = 0; i < old->servers.size(); ++i) {
                if (same_endpoint(old->servers[i], s)) {
                    pool = old->pools[i];
                    break;
                }
            }
        }
        if (!pool)
            pool = std::make_shared<ConnectionPool>(s, options_);
        pools.push_back(std::move(pool));
    }
    auto next = std::make_shared<const Topology>(
        Topology{std::move(servers), std::move(pools), std::move(ring)});
    std::shared_ptr<const Topology> retired;
    {
        std::lock_guard lk(snapshot_mutex_);
        retired = std::exchange(topology_, std::move(next));
    }
    // `retired` (and any pool only it held) is released here, outside the lock, or later by
    // the last request still using it.
}

void ShardedRouter::add_server(ServerAddress server) {
    std::lock_guard lk(update_mutex_);
    auto servers = topology()->servers;
    servers.push_back(std::move(server));
    install(std::move(servers));
}

bool ShardedRouter::remove_server(std::string_view name) {
    std::lock_guard lk(update_mutex_);
    auto servers = topology()->servers;
    const auto it = std::find_if(servers.begin(), servers.end(),
                                 [name](const ServerAddress& s) { return s.name() == name; });
    if (it == servers.end())
        return false;
    if (servers.size() == 1) {
        throw InvalidInputError("cannot remove \"" + std::string(name) +
                                "\": a sharded router needs at least one server");
    }
    servers.erase(it);
    install(std::move(servers));
    return true;
}

void ShardedRouter::set_servers(std::vector<ServerAddress> servers) {
    std::lock_guard lk(update_mutex_);
    install(std::move(servers));
}

std::vector<ServerAddress> ShardedRouter::servers() const {
    return topology()->servers;
}

std::shared_ptr<const HashRing> ShardedRouter::ring() const {
    auto topo = topology();
    const HashRing* ring = &topo->ring;
    return {std::move(topo), ring};
}

std::shared_ptr<ConnectionPool> ShardedRouter::pool_named(std::string_view name) const {
    const auto topo = topology();
    for (const auto& pool : topo->pools) {
        if (pool->name() == name)
            return pool;
    }
    return nullptr;
}

std::shared_ptr<ConnectionPool> ShardedRouter::pool_for(KeyView key) const {
    const auto topo = topology();
    return topo->pools[topo->ring.node_for(key.route())];
}

void ShardedRouter::execute(std::span<const Request> requests,
                            std::span<Response> responses,
                            const ExecContext& ctx) {
    // Held until the requests are done: the pools stay alive whatever changes meanwhile.
    const auto topo = topology();
    if (requests.size() == 1) {
        ConnectionPool& pool = *topo->pools[topo->ring.node_for(requests[0].key.route())];
        execute_on_pool(pool, requests, responses, ctx);
        return;
    }
    std::vector<ConnectionPool*> pools(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        pools[i] = topo->pools[topo->ring.node_for(requests[i].key.route())].get();
    }
    execute_on_pools(requests, pools, responses, ctx);
}

std::vector<ServerCounters> ShardedRouter::get_counters() const {
    const auto topo = topology();
    std::vector<ServerCounters> out;
    out.reserve(topo->pools.size());
    for (const auto& p : topo->pools)
        out.push_back({p->name(), "primary", p->counters()});
    return out;
}

}  // namespace meta_memcache
