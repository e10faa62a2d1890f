// ShardedRouter: keys over a HashRing of pools; server-list changes while requests run
// (each request routes on one topology, each thread keeps its own copy of it).

#include <meta_memcache/config.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/io/driver.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/sharded_router.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>
#include <utility>

namespace meta_memcache {

namespace detail::sharded_router_impl {

/// Same server, connection-wise: everything but the weight.
inline bool same_endpoint(const ServerAddress& a, const ServerAddress& b) noexcept {
    return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path && a.alias == b.alias;
}

/// Sends each request to the pool of its key's node on `topo`'s ring.
inline void run(const ShardedRouter::Topology& topo,
                const CallRequests& requests,
                ResultSink& sink,
                const ExecContext& ctx) {
    if (requests.size() == 1) {
        ConnectionPool& pool = *topo.pools[topo.ring.node_for(requests.key(0).route())];
        run_on_pool(pool, requests, sink, ctx);
        return;
    }
    // The keys' servers, all at once (eight MD5s at a time on the uhashring ring).
    constexpr std::size_t on_stack = 128;
    std::array<std::uint32_t, on_stack> fixed_nodes;  // (assigned below, not zero-filled)
    std::vector<std::uint32_t> more_nodes;
    std::uint32_t* nodes = fixed_nodes.data();
    if (requests.size() > on_stack) {
        more_nodes.resize(requests.size());
        nodes = more_nodes.data();
    }
    if (const KeyView* keys = requests.keys()) {
        topo.ring.nodes_for(
            requests.size(), [keys](std::size_t i) { return keys[i].route(); }, nodes);
    } else {
        topo.ring.nodes_for(
            requests.size(), [&](std::size_t i) { return requests.key(i).route(); }, nodes);
    }
    run_on_nodes(requests, nodes, topo.pools, sink, ctx);
}

}  // namespace detail::sharded_router_impl

META_MEMCACHE_DECL ShardedRouter::ShardedRouter(const std::vector<ServerAddress>& servers,
                                                PoolOptions options,
                                                HashMode mode)
    : options_(std::move(options)), mode_(mode) {
    install(servers);
}

META_MEMCACHE_DECL ShardedRouter::ShardedRouter(ShareTopology /*tag*/,
                                                std::shared_ptr<const Topology> topology,
                                                PoolOptions options,
                                                HashMode mode)
    : options_(std::move(options)), mode_(mode), topology_(std::move(topology)) {
    version_.store(1, std::memory_order_relaxed);
}

META_MEMCACHE_DECL ShardedRouter::~ShardedRouter() = default;

META_MEMCACHE_DECL ShardedRouter::View::~View() {
    if (slot_ != nullptr)
        --slot_->depth;
}

META_MEMCACHE_DECL ShardedRouter::View ShardedRouter::view() const {
    View::Slot* slot = slots_.mine();
    if (slot == nullptr) {  // a thread beyond the slots: the locked copy
        auto held = topology();
        const Topology* t = held.get();
        return View(t, nullptr, std::move(held));
    }
    // Refreshed only by the outermost View of this thread, so a View never sees its
    // topology freed under it.
    if (slot->depth == 0)
        refresh(*slot);
    ++slot->depth;
    return View(slot->topology.get(), slot, nullptr);
}

META_MEMCACHE_DECL void ShardedRouter::reload(View::Slot& slot) const {
    std::lock_guard lk(snapshot_mutex_);
    slot.topology = topology_;
    slot.version = version_.load(std::memory_order_relaxed);
}

META_MEMCACHE_DECL ConnectionPool* ShardedRouter::direct_pool(const KeyView& key,
                                                              bool /*plain_read*/) const {
    // This thread's copy of the topology, as view() keeps it: it changes only when this
    // thread next routes with no View alive, so the pool outlives the caller's request.
    View::Slot* slot = slots_.mine();
    if (slot == nullptr)
        return nullptr;  // a thread beyond the slots: execute() holds a copy instead
    if (slot->depth == 0)
        refresh(*slot);
    const Topology& t = *slot->topology;
    return t.pools[t.ring.node_for(key.route())].get();
}

META_MEMCACHE_DECL std::shared_ptr<const ShardedRouter::Topology> ShardedRouter::topology() const {
    std::lock_guard lk(snapshot_mutex_);
    return topology_;
}

META_MEMCACHE_DECL void ShardedRouter::install(std::vector<ServerAddress> servers) {
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
                if (detail::sharded_router_impl::same_endpoint(old->servers[i], s)) {
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
        version_.fetch_add(1, std::memory_order_release);
    }
    // Pools of servers that left close their idle connections now (a thread that still
    // holds the old topology finishes its request there, and that connection closes when
    // it is released); `retired` itself is freed by the last thread to move on from it.
    if (retired) {
        for (const auto& pool : retired->pools) {
            const auto& now = topology_->pools;
            if (std::find(now.begin(), now.end(), pool) == now.end())
                pool->impl().retire();
        }
    }
}

META_MEMCACHE_DECL void ShardedRouter::add_server(ServerAddress server) {
    std::lock_guard lk(update_mutex_);
    auto servers = topology()->servers;
    servers.push_back(std::move(server));
    install(std::move(servers));
}

META_MEMCACHE_DECL bool ShardedRouter::remove_server(std::string_view name) {
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

META_MEMCACHE_DECL std::shared_ptr<ShardedRouter> ShardedRouter::without_server(
    std::string_view name) const {
    const auto topo = topology();
    std::vector<ServerAddress> servers;
    std::vector<std::shared_ptr<ConnectionPool>> pools;
    for (std::size_t i = 0; i < topo->servers.size(); ++i) {
        if (topo->servers[i].name() != name) {
            servers.push_back(topo->servers[i]);
            pools.push_back(topo->pools[i]);
        }
    }
    if (servers.size() == topo->servers.size()) {
        throw InvalidInputError("no server named \"" + std::string(name) + "\" in the ring");
    }
    if (servers.empty()) {
        throw InvalidInputError("cannot leave out \"" + std::string(name) +
                                "\": a sharded router needs at least one server");
    }
    HashRing ring(servers, mode_);
    auto next = std::make_shared<const Topology>(
        Topology{std::move(servers), std::move(pools), std::move(ring)});
    return std::make_shared<ShardedRouter>(ShareTopology{}, std::move(next), options_, mode_);
}

META_MEMCACHE_DECL void ShardedRouter::set_servers(std::vector<ServerAddress> servers) {
    std::lock_guard lk(update_mutex_);
    install(std::move(servers));
}

META_MEMCACHE_DECL std::vector<ServerAddress> ShardedRouter::servers() const {
    return topology()->servers;
}

META_MEMCACHE_DECL std::shared_ptr<const HashRing> ShardedRouter::ring() const {
    auto topo = topology();
    const HashRing* ring = &topo->ring;
    return {std::move(topo), ring};
}

META_MEMCACHE_DECL std::shared_ptr<ConnectionPool> ShardedRouter::pool_named(
    std::string_view name) const {
    const auto topo = topology();
    for (const auto& pool : topo->pools) {
        if (pool->name() == name)
            return pool;
    }
    return nullptr;
}

META_MEMCACHE_DECL std::shared_ptr<ConnectionPool> ShardedRouter::pool_for(KeyView key) const {
    const auto topo = topology();
    return topo->pools[topo->ring.node_for(key.route())];
}

META_MEMCACHE_DECL void ShardedRouter::execute(std::span<const Request> requests,
                                               detail::ResultSink& sink,
                                               const ExecContext& ctx) {
    // Held until the requests are done: the pools stay alive whatever changes meanwhile.
    const View topo = view();
    detail::sharded_router_impl::run(*topo, requests, sink, ctx);
}

META_MEMCACHE_DECL void ShardedRouter::execute_keys(const Request& shape,
                                                    std::span<const KeyView> keys,
                                                    detail::ResultSink& sink,
                                                    const ExecContext& ctx) {
    const View topo = view();
    detail::sharded_router_impl::run(*topo, detail::CallRequests(shape, keys), sink, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> ShardedRouter::get_counters() const {
    const auto topo = topology();
    std::vector<ServerCounters> out;
    out.reserve(topo->pools.size());
    for (const auto& p : topo->pools)
        out.push_back({p->name(), "primary", p->counters()});
    return out;
}

}  // namespace meta_memcache
