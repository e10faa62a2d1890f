#include <meta_memcache/detail/response_sink.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/io/driver.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/router.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>
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

// ---- Router: the two forms of execute ---------------------------------------------------

namespace {

/// The router whose default execute() is running on this thread: reaching the other
/// default of the same router means it overrides neither.
thread_local const Router* defaulting = nullptr;

struct DefaultGuard {
    explicit DefaultGuard(const Router* r) {
        if (defaulting == r)
            throw std::logic_error("a Router must override one of its execute() forms");
        previous = std::exchange(defaulting, r);
    }
    DefaultGuard(const DefaultGuard&) = delete;
    DefaultGuard& operator=(const DefaultGuard&) = delete;
    ~DefaultGuard() { defaulting = previous; }
    const Router* previous = nullptr;
};

}  // namespace

void Router::execute(std::span<const Request> requests,
                     std::span<Response> responses,
                     const ExecContext& ctx) {
    if (requests.size() != responses.size())
        throw InvalidInputError("Router::execute: requests and responses differ in size");
    const DefaultGuard guard(this);
    detail::ResponseSink sink(requests, responses);
    execute(requests, sink, ctx);
}

void Router::execute(std::span<const Request> requests,
                     detail::ResultSink& sink,
                     const ExecContext& ctx) {
    const DefaultGuard guard(this);
    std::vector<Response> responses(requests.size());
    execute(requests, std::span<Response>(responses), ctx);
    detail::replay(requests, responses, sink);
}

void execute_on_pools(std::span<const Request> requests,
                      std::span<ConnectionPool* const> pools,
                      std::span<Response> responses,
                      const ExecContext& ctx) {
    if (requests.size() != pools.size() || requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pools: requests, pools and responses differ in size");
    }
    detail::ResponseSink sink(requests, responses);
    detail::run_on_pools(requests, pools, sink, ctx);
}

void execute_on_pool(ConnectionPool& pool,
                     std::span<const Request> requests,
                     std::span<Response> responses,
                     const ExecContext& ctx) {
    if (requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pool: requests and responses differ in size");
    }
    detail::ResponseSink sink(requests, responses);
    detail::run_on_pool(pool, requests, sink, ctx);
}

bool is_error_response(const Response& r) noexcept {
    if (const auto* m = std::get_if<Miss>(&r))
        return m->is_error();
    if (const auto* n = std::get_if<NotStored>(&r))
        return n->is_error();
    return false;
}

// ---- SingleServerRouter ----------------------------------------------------------------

SingleServerRouter::SingleServerRouter(ServerAddress server, PoolOptions options)
    : pool_(std::make_shared<ConnectionPool>(std::move(server), std::move(options))) {}

std::shared_ptr<ConnectionPool> SingleServerRouter::pool_for_key(KeyView) const {
    return pool_;
}

void SingleServerRouter::execute(std::span<const Request> requests,
                                 detail::ResultSink& sink,
                                 const ExecContext& ctx) {
    detail::run_on_pool(*pool_, requests, sink, ctx);
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

ShardedRouter::~ShardedRouter() = default;

ShardedRouter::View::~View() {
    if (slot_ != nullptr)
        --slot_->depth;
}

ShardedRouter::View ShardedRouter::view() const {
    View::Slot* slot = slots_.mine();
    if (slot == nullptr) {  // a thread beyond the slots: the locked copy
        auto held = topology();
        const Topology* t = held.get();
        return View(t, nullptr, std::move(held));
    }
    // Refreshed only by the outermost View of this thread, so a View never sees its
    // topology freed under it.
    if (slot->depth == 0 && slot->version != version_.load(std::memory_order_acquire)) {
        std::lock_guard lk(snapshot_mutex_);
        slot->topology = topology_;
        slot->version = version_.load(std::memory_order_relaxed);
    }
    ++slot->depth;
    return View(slot->topology.get(), slot, nullptr);
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
                            detail::ResultSink& sink,
                            const ExecContext& ctx) {
    // Held until the requests are done: the pools stay alive whatever changes meanwhile.
    const View topo = view();
    if (requests.size() == 1) {
        ConnectionPool& pool = *topo->pools[topo->ring.node_for(requests[0].key.route())];
        detail::run_on_pool(pool, requests, sink, ctx);
        return;
    }
    // The keys' servers, all at once (eight MD5s at a time on the uhashring ring).
    constexpr std::size_t on_stack = 128;
    std::array<std::uint32_t, on_stack> fixed_nodes;  // (assigned below, not zero-filled)
    std::array<ConnectionPool*, on_stack> fixed_pools;
    std::vector<std::uint32_t> more_nodes;
    std::vector<ConnectionPool*> more_pools;
    std::uint32_t* nodes = fixed_nodes.data();
    ConnectionPool** pools = fixed_pools.data();
    if (requests.size() > on_stack) {
        more_nodes.resize(requests.size());
        more_pools.resize(requests.size());
        nodes = more_nodes.data();
        pools = more_pools.data();
    }
    topo->ring.nodes_for(
        requests.size(), [&](std::size_t i) { return requests[i].key.route(); }, nodes);
    for (std::size_t i = 0; i < requests.size(); ++i)
        pools[i] = topo->pools[nodes[i]].get();
    detail::run_on_pools(requests, std::span<ConnectionPool* const>(pools, requests.size()), sink,
                         ctx);
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
