// What every router builds on: the Router base's two execute() forms (each the other's
// default), execute_on_pool(s) for routers that pick pools themselves, and the helpers
// composite routers share (append_counters, is_error_response).

#include <meta_memcache/config.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/response_sink.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/io/driver.hpp>
#include <meta_memcache/router.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace meta_memcache {

META_MEMCACHE_DECL void append_counters(std::vector<ServerCounters>& out,
                                        const Router& router,
                                        std::string_view role) {
    for (ServerCounters& c : router.get_counters()) {
        c.role = std::string(role);
        out.push_back(std::move(c));
    }
}

namespace detail::router_impl {

/// The router whose default execute() is running on this thread: reaching the other
/// default of the same router means it overrides neither.
inline thread_local const Router* defaulting = nullptr;

struct DefaultGuard {
    explicit DefaultGuard(const Router* r) {
        if (defaulting == r)
            throw std::logic_error("a Router must override one of its execute() forms");
        previous = std::exchange(defaulting, r);
    }
    DefaultGuard(const DefaultGuard&) = delete;
    DefaultGuard& operator=(const DefaultGuard&) = delete;
    DefaultGuard(DefaultGuard&&) = delete;
    DefaultGuard& operator=(DefaultGuard&&) = delete;
    ~DefaultGuard() { defaulting = previous; }
    const Router* previous = nullptr;
};

}  // namespace detail::router_impl

META_MEMCACHE_DECL void Router::execute(std::span<const Request> requests,
                                        std::span<Response> responses,
                                        const ExecContext& ctx) {
    if (requests.size() != responses.size())
        throw InvalidInputError("Router::execute: requests and responses differ in size");
    const detail::router_impl::DefaultGuard guard(this);
    detail::ResponseSink sink(requests, responses);
    execute(requests, sink, ctx);
}

META_MEMCACHE_DECL void Router::execute(std::span<const Request> requests,
                                        detail::ResultSink& sink,
                                        const ExecContext& ctx) {
    const detail::router_impl::DefaultGuard guard(this);
    std::vector<Response> responses(requests.size());
    execute(requests, std::span<Response>(responses), ctx);
    detail::replay(requests, responses, sink);
}

META_MEMCACHE_DECL void Router::execute_keys(const Request& shape,
                                             std::span<const KeyView> keys,
                                             detail::ResultSink& sink,
                                             const ExecContext& ctx) {
    std::vector<Request> requests(keys.size(), shape);
    for (std::size_t i = 0; i < keys.size(); ++i)
        requests[i].key = keys[i];
    execute(requests, sink, ctx);
}

META_MEMCACHE_DECL void execute_on_pools(std::span<const Request> requests,
                                         std::span<ConnectionPool* const> pools,
                                         std::span<Response> responses,
                                         const ExecContext& ctx) {
    if (requests.size() != pools.size() || requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pools: requests, pools and responses differ in size");
    }
    detail::ResponseSink sink(requests, responses);
    detail::run_on_pools(requests, pools, sink, ctx);
}

META_MEMCACHE_DECL void execute_on_pool(ConnectionPool& pool,
                                        std::span<const Request> requests,
                                        std::span<Response> responses,
                                        const ExecContext& ctx) {
    if (requests.size() != responses.size()) {
        throw InvalidInputError("execute_on_pool: requests and responses differ in size");
    }
    detail::ResponseSink sink(requests, responses);
    detail::run_on_pool(pool, requests, sink, ctx);
}

META_MEMCACHE_DECL bool is_error_response(const Response& r) noexcept {
    if (const auto* m = std::get_if<Miss>(&r))
        return m->is_error();
    if (const auto* n = std::get_if<NotStored>(&r))
        return n->is_error();
    return false;
}

}  // namespace meta_memcache
