// FailoverRouter: a down server's keys sent to the next live server on the ring, with the
// missed writes reported.

#include <meta_memcache/config.hpp>
#include <meta_memcache/ephemeral_router.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/failover_router.hpp>
#include <meta_memcache/gutter_router.hpp>
#include <meta_memcache/write_failure_event.hpp>

#include <optional>
#include <utility>

namespace meta_memcache {

namespace detail::failover_router_impl {

/// Which servers of one topology are up, each asked at most once per call.
class Liveness {
public:
    explicit Liveness(const ShardedRouter::Topology& topo) : topo_(topo) {}

    bool up(std::size_t node) {
        if (state_.empty())
            state_.assign(topo_.pools.size(), unknown);
        if (state_[node] == unknown)
            state_[node] = topo_.pools[node]->is_marked_down() ? down : live;
        return state_[node] == live;
    }
    /// Treats `node` as down for the rest of the call (it just failed on the wire).
    void fail(std::size_t node) {
        if (state_.empty())
            state_.assign(topo_.pools.size(), unknown);
        state_[node] = down;
    }

private:
    enum State : unsigned char { unknown, live, down };
    const ShardedRouter::Topology& topo_;
    std::vector<State> state_;
};

/// The first live server after `home` on the ring for `key`, if any.
inline std::optional<std::size_t> substitute(const ShardedRouter::Topology& topo,
                                             std::string_view routing_key,
                                             std::size_t home,
                                             Liveness& live) {
    return topo.ring.find_node_for(routing_key,
                                   [&](std::size_t node) { return node != home && live.up(node); });
}

/// Reports a tracked write that missed its own server, as the executor does for failures.
inline void report_missed_write(const Request& request, const ExecContext& ctx) noexcept {
    if (ctx.track_write_failures && ctx.on_write_failure != nullptr && is_tracked_write(request)) {
        ctx.on_write_failure->notify(request.key.to_key());
    }
}

}  // namespace detail::failover_router_impl

META_MEMCACHE_DECL FailoverRouter::FailoverRouter(std::shared_ptr<ShardedRouter> ring,
                                                  FailoverOptions options)
    : ring_(std::move(ring)), options_(options) {
    if (!ring_)
        throw InvalidInputError("FailoverRouter needs a ShardedRouter");
    if (options_.failover_ttl.count() < 0)
        throw InvalidInputError("FailoverRouter: failover_ttl cannot be negative");
}

META_MEMCACHE_DECL FailoverRouter::FailoverRouter(const std::vector<ServerAddress>& servers,
                                                  FailoverOptions options,
                                                  PoolOptions pool_options,
                                                  HashMode mode)
    : FailoverRouter(std::make_shared<ShardedRouter>(servers, std::move(pool_options), mode),
                     options) {}

META_MEMCACHE_DECL void FailoverRouter::send_to_substitutes(const ShardedRouter::Topology& topo,
                                                            std::span<const Request> requests,
                                                            std::span<const std::size_t> indexes,
                                                            std::span<const std::size_t> nodes,
                                                            std::span<Response> responses,
                                                            const ExecContext& ctx) {
    std::vector<Request> again;
    std::vector<ConnectionPool*> pools;
    again.reserve(indexes.size());
    pools.reserve(indexes.size());
    for (std::size_t k = 0; k < indexes.size(); ++k) {
        again.push_back(requests[indexes[k]]);
        if (options_.failover_ttl.count() > 0)
            cap_ttls(again.back().flags, options_.failover_ttl.count());
        pools.push_back(topo.pools[nodes[k]].get());
    }
    std::vector<Response> out(indexes.size());
    ExecContext sctx = ctx;
    sctx.track_write_failures = false;  // the miss on the own server was reported already
    execute_on_pools(again, pools, out, sctx);
    for (std::size_t k = 0; k < indexes.size(); ++k)
        responses[indexes[k]] = std::move(out[k]);
    failed_over_.fetch_add(indexes.size(), std::memory_order_relaxed);
}

META_MEMCACHE_DECL void FailoverRouter::execute(std::span<const Request> requests,
                                                std::span<Response> responses,
                                                const ExecContext& ctx) {
    using namespace detail::failover_router_impl;
    // Held until the requests are done: the pools stay alive whatever changes meanwhile.
    const auto topo = ring_->topology();
    if (requests.size() != 1) {
        execute_many(*topo, requests, responses, ctx);
        return;
    }
    // One key, the common case: no allocation unless its server is down.
    const Request& request = requests[0];
    const std::size_t home = topo->ring.node_for(request.key.route());
    ConnectionPool& pool = *topo->pools[home];
    Liveness live(*topo);
    if (!pool.is_marked_down()) {
        execute_on_pool(pool, requests, responses, ctx);  // reports its own write failures
        if (!is_transport_failure(responses[0]))
            return;
        live.fail(home);
    } else {
        live.fail(home);
        const auto other = substitute(*topo, request.key.route(), home, live);
        if (!other) {
            // Every server is down: the request fails fast on its own.
            execute_on_pool(pool, requests, responses, ctx);
            return;
        }
        report_missed_write(request, ctx);
        const std::size_t index = 0;
        send_to_substitutes(*topo, requests, {&index, 1}, {&*other, 1}, responses, ctx);
        return;
    }
    if (const auto other = substitute(*topo, request.key.route(), home, live)) {
        const std::size_t index = 0;
        send_to_substitutes(*topo, requests, {&index, 1}, {&*other, 1}, responses, ctx);
    }
}

META_MEMCACHE_DECL void FailoverRouter::execute_many(const ShardedRouter::Topology& topo,
                                                     std::span<const Request> requests,
                                                     std::span<Response> responses,
                                                     const ExecContext& ctx) {
    using namespace detail::failover_router_impl;
    const std::size_t n = requests.size();
    Liveness live(topo);
    // 1. Each request goes to its own server, or to a substitute when that one is down;
    //    all at once (one round trip).
    std::vector<std::size_t> home(n);
    std::vector<std::size_t> target(n);
    for (std::size_t i = 0; i < n; ++i) {
        home[i] = topo.ring.node_for(requests[i].key.route());
        target[i] = home[i];
        if (!live.up(home[i])) {
            if (const auto other = substitute(topo, requests[i].key.route(), home[i], live))
                target[i] = *other;
        }
    }
    std::vector<Request> capped;  // only when some requests go to a substitute
    std::size_t moved = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (target[i] == home[i])
            continue;
        if (capped.empty())
            capped.assign(requests.begin(), requests.end());
        if (options_.failover_ttl.count() > 0)
            cap_ttls(capped[i].flags, options_.failover_ttl.count());
        ++moved;
    }
    std::vector<ConnectionPool*> pools(n);
    for (std::size_t i = 0; i < n; ++i)
        pools[i] = topo.pools[target[i]].get();
    ExecContext first = ctx;
    first.track_write_failures = false;  // reported below, once per key
    execute_on_pools(capped.empty() ? requests : std::span<const Request>(capped), pools, responses,
                     first);
    failed_over_.fetch_add(moved, std::memory_order_relaxed);

    // 2. Writes that missed their own server: failed there, or sent elsewhere.
    for (std::size_t i = 0; i < n; ++i) {
        if (target[i] != home[i] || is_error_response(responses[i]))
            report_missed_write(requests[i], ctx);
    }

    // 3. Requests that failed on the wire on their own server try its substitute, avoiding
    //    every server that failed in this call.
    std::vector<std::size_t> again;
    for (std::size_t i = 0; i < n; ++i) {
        if (is_transport_failure(responses[i])) {
            live.fail(target[i]);
            if (target[i] == home[i])
                again.push_back(i);
        }
    }
    if (again.empty())
        return;
    std::vector<std::size_t> indexes;
    std::vector<std::size_t> nodes;
    for (std::size_t i : again) {
        if (const auto other = substitute(topo, requests[i].key.route(), home[i], live)) {
            indexes.push_back(i);
            nodes.push_back(*other);
        }
    }
    if (!indexes.empty())
        send_to_substitutes(topo, requests, indexes, nodes, responses, ctx);
}

META_MEMCACHE_DECL std::vector<ServerCounters> FailoverRouter::get_counters() const {
    return ring_->get_counters();
}

META_MEMCACHE_DECL std::shared_ptr<ConnectionPool> FailoverRouter::pool_for(KeyView key) const {
    using namespace detail::failover_router_impl;
    const auto topo = ring_->topology();
    const std::size_t home = topo->ring.node_for(key.route());
    if (!topo->pools[home]->is_marked_down())
        return topo->pools[home];
    Liveness live(*topo);
    return topo->pools[substitute(*topo, key.route(), home, live).value_or(home)];
}

}  // namespace meta_memcache
